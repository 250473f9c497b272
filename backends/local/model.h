/* A Llama-family transformer loaded from GGUF: architectures `llama` (Llama 2/3,
 * Mistral, TinyLlama, SmolLM: GQA, RoPE on adjacent pairs with base and linear
 * scaling from the metadata, RMSNorm, SwiGLU) and `qwen2` (the same plus Q/K/V
 * biases and NeoX RoPE). Weights are converted once at load into the matmul
 * precision and oneDNN's packed layout; the KV cache (F32) is a fixed set of slots,
 * one per concurrently running sequence. The forward pass runs a batch of rows —
 * tokens of any slots at any positions — through every layer as one matrix per
 * layer weight, which is what continuous batching needs. It never allocates. */
#ifndef SL_MODEL_H
#define SL_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gguf.h"
#include "kernels.h"

typedef struct sl_model sl_model_t;

typedef struct {
  sl_kern_impl_t impl; /* SL_KIMPL_DNNL (default) or SL_KIMPL_REF */
  int prec;            /* -1: automatic (quantised weights → s8, others → f32),
                          or a sl_kern_prec_t to force one */
  int max_rows;        /* rows (tokens) per forward call; default 128 */
  int max_logits;      /* rows that can ask for logits per call; default n_slots */
  int n_slots;         /* KV cache slots (concurrent sequences); default 1 */
  int n_ctx;           /* positions per slot; 0: the model's context length */
  size_t kv_max_bytes; /* cap on the whole KV cache; 0: no cap. n_ctx is lowered to
                          fit (error if fewer than 16 positions would remain) */
} sl_model_opts_t;

/* Defaults for every field. */
void sl_model_opts_init(sl_model_opts_t *o);

typedef struct {
  char arch[16];
  char name[64];
  int n_vocab, dim, n_layers, n_heads, n_kv_heads, head_dim, n_ff, n_rot;
  int n_ctx_train;
  float rms_eps, rope_base, rope_freq_scale;
  bool neox_rope, qkv_bias, tied_output;
  int n_slots, n_ctx; /* as allocated */
  sl_kern_prec_t prec;
  bool kv_f16; /* KV cache in F16 (s8 models) rather than F32 */
  size_t weight_bytes, kv_bytes;
} sl_model_info_t;

/* The kernels' storage type for tensors of GGUF type `ggml_type` (enum
 * sl_ggml_type_t): 0, or SL_EUNSUPPORTED for a type the engine does not load
 * (Q2_K, Q3_K, Q8_1, the IQ types, integers). */
int sl_model_dtype(uint32_t ggml_type, sl_kern_dtype_t *out);

/* Loads `path`. On failure returns NULL with a message in err (e.g. "unsupported
 * architecture 'gemma'"). */
sl_model_t *sl_model_load(const char *path, const sl_model_opts_t *opts, char *err, size_t errlen);
void sl_model_free(sl_model_t *m);

const sl_model_info_t *sl_model_info(const sl_model_t *m);

/* One forward call. Row i feeds token tok[i] at position pos[i] of KV slot
 * slot[i]; positions 0..pos[i]-1 of that slot must already be cached (by earlier
 * calls or by earlier rows of this call). Rows with logits[i] set produce one
 * logits row each, in row order, readable with sl_model_logits(). */
typedef struct {
  int n;
  const int32_t *tok;
  const int32_t *pos;
  const int32_t *slot;
  const bool *logits;
} sl_model_batch_t;

int sl_model_forward(sl_model_t *m, const sl_model_batch_t *b);
/* Logits row j (0-based among rows that asked) of the last forward call. */
const float *sl_model_logits(const sl_model_t *m, int j);

#endif
