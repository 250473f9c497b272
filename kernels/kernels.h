/* Math for the in-process engine, and nothing else: matrix products through oneDNN
 * (with a plain-C reference behind the same calls), norms, RoPE, softmax,
 * activations, attention over a KV cache, and conversions between the storage
 * types GGUF files use. Nothing here knows what a request or a model file is.
 *
 * Layout convention: activations are row-major (rows = tokens), weight matrices are
 * n_out × n_in row-major (GGUF's layout: ne[0] = n_in is contiguous), and
 * sl_kern_matmul computes y[m][n] = Σ_k x[m][k] · w[n][k]. */
#ifndef SL_KERNELS_H
#define SL_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- storage types and conversions ---- */

typedef enum {
  SL_KDT_F32,
  SL_KDT_F16,
  SL_KDT_BF16,
  SL_KDT_Q8_0, /* ggml block: f16 scale + 32 × int8 (34 bytes) */
  SL_KDT_Q4_0, /* ggml block: f16 scale d + 16 bytes of 4-bit q; x = d · (q − 8) (18 bytes):
                  byte j holds element j (low nibble) and element j + 16 (high) */
  SL_KDT_Q4_K, /* ggml super-block of 256: f16 d, f16 dmin, 12 bytes packing eight 6-bit
                  (scale, min) pairs, 128 bytes of 4-bit q; sub-block s of 32 elements is
                  x = d · scale_s · q − dmin · min_s (144 bytes) */
  SL_KDT_Q4_1, /* block of 32: f16 d, f16 m, 16 bytes of 4-bit q (as Q4_0); x = d · q + m
                  (20 bytes) */
  SL_KDT_Q5_0, /* block of 32: f16 d, 4 bytes of fifth bits (bit j: element j), 16 bytes of
                  low nibbles (as Q4_0); x = d · (q − 16) (22 bytes) */
  SL_KDT_Q5_1, /* block of 32: f16 d, f16 m, then as Q5_0; x = d · q + m (24 bytes) */
  SL_KDT_Q5_K, /* super-block of 256: f16 d, f16 dmin, 12 scale bytes (as Q4_K), 32 bytes of
                  fifth bits, 128 bytes of low nibbles (as Q4_K); 64-element group i takes
                  bit 2i of its qh byte for the low nibbles, 2i + 1 for the high (176 bytes) */
  SL_KDT_Q6_K, /* super-block of 256: 128 bytes of low nibbles, 64 bytes of high 2-bit
                  pairs, 16 int8 scales (one per 16 elements), f16 d; x = d · scale · (q − 32)
                  (210 bytes) */
} sl_kern_dtype_t;

#define SL_KERN_Q8_0_BLOCK 32
#define SL_KERN_Q8_0_BYTES 34
#define SL_KERN_Q4_0_BLOCK 32
#define SL_KERN_Q4_0_BYTES 18
#define SL_KERN_Q4_K_BLOCK 256
#define SL_KERN_Q4_K_BYTES 144
#define SL_KERN_Q4_1_BYTES 20
#define SL_KERN_Q5_0_BYTES 22
#define SL_KERN_Q5_1_BYTES 24
#define SL_KERN_Q5_K_BYTES 176
#define SL_KERN_Q6_K_BYTES 210

/* Elements per block of dt (1 for the float types). */
size_t sl_kern_block(sl_kern_dtype_t dt);
/* Bytes a row of n elements of dt occupies (n must be a multiple of the block). */
size_t sl_kern_row_bytes(sl_kern_dtype_t dt, size_t n);
float sl_kern_f16_to_f32(uint16_t h);
uint16_t sl_kern_f32_to_f16(float f);
float sl_kern_bf16_to_f32(uint16_t h);
uint16_t sl_kern_f32_to_bf16(float f); /* round to nearest even */
/* Converts n elements of type dt at src (may be unaligned) to f32. */
void sl_kern_to_f32(sl_kern_dtype_t dt, const void *src, float *dst, size_t n);
/* Quantizes n floats (n multiple of 32) into Q8_0 blocks, as ggml does. */
void sl_kern_quantize_q8_0(const float *src, void *dst, size_t n);
/* Quantizes n floats (n multiple of 32) into Q4_0 blocks, as ggml's reference
 * quantizer does (d = the signed value of largest magnitude / −8). */
void sl_kern_quantize_q4_0(const float *src, void *dst, size_t n);

/* ---- matrix products ---- */

typedef enum {
  SL_KIMPL_DNNL, /* oneDNN primitives, weights reordered once into its packed layout */
  SL_KIMPL_REF,  /* plain C loops: the reference the tests compare against */
} sl_kern_impl_t;

typedef enum {
  SL_KPREC_F32,  /* f32 weights and activations */
  SL_KPREC_BF16, /* bf16 weights and activations, f32 accumulation and output */
  SL_KPREC_S8,   /* s8 weights with one scale per output row; activations quantized
                    per row on the fly; s32 accumulation, f32 output */
} sl_kern_prec_t;

/* The largest magnitude of an s8 weight: 127, or 63 in a build without AVX2
 * on a CPU where oneDNN has no VNNI. There its int8 products multiply with
 * vpmaddubsw, whose int16 sum of two products saturates (255 · 127 · 2 >
 * 32767: a Q8_0 model's logits came out wrong); with weights of 7 bits it
 * cannot, at twice the weights' rounding error. (Builds with AVX2 and no VNNI
 * run every s8 product in the engine's own loop, which cannot saturate.) Both
 * implementations use the same weights. */
int sl_kern_s8_qmax(void);
/* Whether oneDNN computes products in this precision on this CPU (bf16 needs
 * AVX-512); the reference implementation computes every precision. */
bool sl_kern_dnnl_supports(sl_kern_prec_t prec);

typedef struct sl_kern sl_kern_t;
typedef struct sl_kern_mat sl_kern_mat_t;

/* A matmul context: the implementation, oneDNN engine/stream, the primitive cache
 * (one primitive per (n_out, n_in, precision, m), created on first use and kept),
 * and scratch for activation conversion sized for max_m rows. */
int sl_kern_new(sl_kern_impl_t impl, int max_m, sl_kern_t **out);
void sl_kern_free(sl_kern_t *k);
sl_kern_impl_t sl_kern_impl(const sl_kern_t *k);
const char *sl_kern_prec_name(sl_kern_prec_t p);

/* Sets the number of oneDNN (OpenMP) threads used by matmuls issued from the
 * calling thread. With n ≥ 2, s8 and f32 products of 1–12 rows are split with a
 * helper thread the calling thread gets on first use (stopped when the caller
 * exits); in a build with AVX-512 (and VNNI for s8): elsewhere oneDNN runs
 * them, and its f32 sums may differ in the last bits with the thread count and
 * the number of rows. */
void sl_kern_set_threads(int n);

/* Runs fn(arg, ith, nth) for every ith < nth and returns when all are done: with
 * 2 or more threads set on the calling thread, nth = 2 (the caller is ith 0, the
 * helper thread of the few-row products ith 1, or the caller after its own share
 * when the helper has not started); otherwise nth = 1 on the caller. For the
 * model's per-row and per-head work between products, so that it does not leave
 * the second thread idle. fn must split its work so that no result depends on nth
 * or on which thread runs a share (then outputs do not depend on the thread
 * count). */
void sl_kern_parallel(void (*fn)(void *arg, int ith, int nth), void *arg);
/* Whether a product of m rows with w, issued from the calling thread, runs on the
 * caller and its helper thread. Around such products the helper is spinning, so
 * sl_kern_parallel costs no wake-up; around oneDNN's (OpenMP) products it would
 * spin on a core OpenMP's threads need (2 vCPUs: 86M F32 tg64 ~105 -> ~80). */
bool sl_kern_on_helper(const sl_kern_mat_t *w, int m);
/* With 2 or more threads on the calling thread, whether the m ≥ 2 rows of a
 * product with w may be cut into row ranges, each multiplied inside its own share
 * of sl_kern_parallel (where a product runs on the thread that calls it), with
 * every row's outputs the same as in one product of the m rows (f32 products of
 * 2-12 rows: rows are computed independently). */
bool sl_kern_rows_on_helper(const sl_kern_mat_t *w, int m);

/* Prepares an n_out × n_in weight matrix stored as dt at w (borrowed only during
 * the call) for products in precision prec: converted and, for oneDNN, reordered
 * into the packed layout once, here. */
int sl_kern_mat_new(sl_kern_t *k, sl_kern_dtype_t dt, const void *w, int n_out, int n_in,
                    sl_kern_prec_t prec, sl_kern_mat_t **out);
/* Keeps the matrix's Q4_0 weights (its n_out rows of ggml Q4_0 blocks, borrowed
 * only during the call) at 4 bits beside its s8 copy, for products of one row:
 * decode reads half the bytes. Only for an s8 matrix of the oneDNN
 * implementation in a build with AVX-512 VNNI, and n_in a multiple of 128;
 * otherwise SL_EUNSUPPORTED and the s8 copy serves every product. */
int sl_kern_mat_add_q4_0(sl_kern_mat_t *m, const void *q4);
void sl_kern_mat_free(sl_kern_mat_t *m);
int sl_kern_mat_n_out(const sl_kern_mat_t *m);
int sl_kern_mat_n_in(const sl_kern_mat_t *m);
size_t sl_kern_mat_bytes(const sl_kern_mat_t *m);

/* y (m × n_out) = x (m × n_in) · wᵀ. 1 ≤ m ≤ max_m. Returns 0 or SL_E*. Does not
 * allocate once the primitive for this m exists. */
int sl_kern_matmul(sl_kern_t *k, const sl_kern_mat_t *w, const float *x, int m, float *y);

/* ---- elementwise and small ops (plain C, vectorised where it pays) ---- */

/* out = x / rms(x) * w, rms over n with eps inside the square root. */
void sl_kern_rmsnorm(float *out, const float *x, const float *w, int n, float eps);
/* In-place numerically stable softmax over n values. */
void sl_kern_softmax(float *x, int n);
/* out[i] = silu(a[i]) * b[i] (SwiGLU gate); out may be a. */
void sl_kern_silu_mul(float *out, const float *a, const float *b, int n);
float sl_kern_silu(float x);
/* y[i] += x[i]. */
void sl_kern_add(float *y, const float *x, int n);
float sl_kern_dot(const float *a, const float *b, int n);
/* Hints that the n bytes at p will be read soon (one prefetch per cache line). */
void sl_kern_prefetch(const void *p, size_t n);

/* RoPE on n_heads heads of head_dim at x (head-major), rotating the first n_rot
 * dims of each head by pos · inv_freq[i] for pair i. neox=false rotates adjacent
 * pairs (2i, 2i+1) (llama); neox=true rotates (i, i + n_rot/2) (qwen2, NeoX). */
void sl_kern_rope(float *x, int n_heads, int head_dim, int n_rot, int pos, const float *inv_freq,
                  bool neox);
/* The same in two halves, so a row's angles are computed once per forward pass
 * rather than once per layer: cs[2i], cs[2i+1] = cos, sin of pos · inv_freq[i]. */
void sl_kern_rope_cs(float *cs, int pos, const float *inv_freq, int n_rot);
void sl_kern_rope_apply(float *x, int n_heads, int head_dim, int n_rot, const float *cs, bool neox);
/* inv_freq[i] = freq_scale · base^(−2i/n_rot) / (factors ? factors[i] : 1), for
 * i < n_rot/2 (llama.cpp's linear scaling and per-dimension rope_freqs factors). */
void sl_kern_rope_inv_freq(float *inv_freq, int n_rot, float base, float freq_scale,
                           const float *factors);

/* KV cache layout for one (layer, sequence): per KV head, keys in blocks of
 * SL_KERN_KV_BLOCK positions stored (block, dim, position-in-block) and values
 * stored (position, dim). Attention then streams each head's keys and values
 * sequentially and computes a block of scores with one FMA per key dim. A head's
 * key region holds ceil(n_ctx / 16) · 16 · head_dim floats (k_head_stride ≥ that),
 * its value region n_ctx · head_dim (v_head_stride ≥ that). */
#define SL_KERN_KV_BLOCK 16

/* Stores the K and V rows (n_kv_heads × head_dim each) of position pos. */
void sl_kern_kv_store(float *k_cache, float *v_cache, const float *k, const float *v, int pos,
                      int n_kv_heads, int head_dim, size_t k_head_stride, size_t v_head_stride);

/* The same with an F16 cache (same layout, uint16_t elements; values rounded to
 * nearest even). Half the bytes: several sequences' attention is bound by
 * reading the cache. */
void sl_kern_kv_store_f16(uint16_t *k_cache, uint16_t *v_cache, const float *k, const float *v, int pos,
                          int n_kv_heads, int head_dim, size_t k_head_stride, size_t v_head_stride);
void sl_kern_attention_head_f16(float *out, const float *q, const uint16_t *k_head, const uint16_t *v_head,
                                int n_pos, int head_dim, float *scratch);

/* Causal attention for one query row over positions 0..n_pos-1 of the cache above.
 * q: n_heads × head_dim; query head h reads KV head h / (n_heads / n_kv_heads).
 * out: n_heads × head_dim. scratch: n_pos rounded up to SL_KERN_KV_BLOCK floats. */
void sl_kern_attention(float *out, const float *q, const float *k_cache, const float *v_cache,
                       int n_pos, int n_heads, int n_kv_heads, int head_dim, size_t k_head_stride,
                       size_t v_head_stride, float *scratch);
/* One head of the above: q, out are head_dim floats; k_head, v_head that KV head's
 * regions. Lets a caller loop heads outside rows, so one head's keys and values stay
 * in cache while every prompt row of a chunk reads them. */
void sl_kern_attention_head(float *out, const float *q, const float *k_head, const float *v_head,
                            int n_pos, int head_dim, float *scratch);
/* The n_q query heads (q, out: n_q × head_dim) that share one KV head, each
 * giving exactly what sl_kern_attention_head gives it; small heads (8 dims, up
 * to 64 positions) run in registers, the group's heads overlapping. */
void sl_kern_attention_group(float *out, const float *q, const float *k_head, const float *v_head, int n_pos,
                             int head_dim, int n_q, float *scratch);

#endif
