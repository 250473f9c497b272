/* A small GGUF (v3) writer for tests, benchmarks and the fuzz corpus: metadata of
 * the common types, a tensor table, and tensor data streamed tensor by tensor, so
 * a 343 MB model never sits in memory twice. Header-only (static functions): a
 * test includes it. Also random_llama(), which writes a Llama-shaped model with
 * N(0, std) weights in F32, F16 or Q8_0. */
#ifndef SL_TEST_GGUF_WRITER_H
#define SL_TEST_GGUF_WRITER_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/local/gguf.h"
#include "kernels/kernels.h"

#define GW_MAX_KV 64
#define GW_MAX_T 512

typedef struct {
  char key[128];
  uint32_t type, arr_type;
  uint64_t u; /* integer / bool payload */
  double f;
  const char *s;              /* string */
  const void *arr; size_t n;  /* array: numbers (packed) or const char ** */
} gw_kv_t;

typedef struct {
  char name[96];
  uint32_t type, n_dims;
  uint64_t ne[4];
  uint64_t offset, nbytes;
} gw_t_t;

typedef struct {
  gw_kv_t kv[GW_MAX_KV];
  int n_kv;
  gw_t_t t[GW_MAX_T];
  int n_t;
  FILE *f;
  int next; /* next tensor whose data is expected */
  uint32_t version;
} gw_t;

static inline void gw_init(gw_t *w) { memset(w, 0, sizeof *w); w->version = 3; }

static inline gw_kv_t *gw_kv(gw_t *w, const char *key, uint32_t type) {
  gw_kv_t *k = &w->kv[w->n_kv++];
  snprintf(k->key, sizeof k->key, "%s", key);
  k->type = type;
  return k;
}
static inline void gw_u32(gw_t *w, const char *key, uint32_t v) { gw_kv(w, key, SL_GGUF_U32)->u = v; }
static inline void gw_i32(gw_t *w, const char *key, int32_t v) { gw_kv(w, key, SL_GGUF_I32)->u = (uint32_t)v; }
static inline void gw_u64(gw_t *w, const char *key, uint64_t v) { gw_kv(w, key, SL_GGUF_U64)->u = v; }
static inline void gw_f32(gw_t *w, const char *key, float v) { gw_kv(w, key, SL_GGUF_F32)->f = v; }
static inline void gw_bool(gw_t *w, const char *key, bool v) { gw_kv(w, key, SL_GGUF_BOOL)->u = v; }
static inline void gw_str(gw_t *w, const char *key, const char *s) { gw_kv(w, key, SL_GGUF_STRING)->s = s; }
/* arr: packed elements of arr_type, or const char *[] for strings. */
static inline void gw_arr(gw_t *w, const char *key, uint32_t arr_type, const void *arr, size_t n) {
  gw_kv_t *k = gw_kv(w, key, SL_GGUF_ARRAY);
  k->arr_type = arr_type, k->arr = arr, k->n = n;
}

static inline void gw_tensor(gw_t *w, const char *name, uint32_t type, uint64_t ne0, uint64_t ne1) {
  gw_t_t *t = &w->t[w->n_t++];
  snprintf(t->name, sizeof t->name, "%s", name);
  t->type = type;
  t->n_dims = ne1 ? 2 : 1;
  t->ne[0] = ne0, t->ne[1] = ne1 ? ne1 : 1, t->ne[2] = t->ne[3] = 1;
  t->nbytes = ne0 * t->ne[1] / sl_ggml_blck_size(type) * sl_ggml_type_size(type);
}

static inline void gw_wstr(FILE *f, const char *s, size_t n) {
  uint64_t l = n;
  fwrite(&l, 8, 1, f);
  fwrite(s, 1, n, f);
}

static inline size_t gw_scalar_size(uint32_t t) {
  switch (t) {
  case SL_GGUF_U8: case SL_GGUF_I8: case SL_GGUF_BOOL: return 1;
  case SL_GGUF_U16: case SL_GGUF_I16: return 2;
  case SL_GGUF_U32: case SL_GGUF_I32: case SL_GGUF_F32: return 4;
  default: return 8;
  }
}

static inline void gw_wscalar(FILE *f, uint32_t t, uint64_t u, double d) {
  if (t == SL_GGUF_F32) { float x = (float)d; fwrite(&x, 4, 1, f); }
  else if (t == SL_GGUF_F64) fwrite(&d, 8, 1, f);
  else fwrite(&u, gw_scalar_size(t), 1, f); /* little-endian host */
}

/* Writes header, metadata and tensor table; then call gw_data() per tensor in order. */
static inline int gw_begin(gw_t *w, const char *path) {
  if (!(w->f = fopen(path, "wb"))) return -1;
  FILE *f = w->f;
  uint32_t magic = 0x46554747u;
  uint64_t nt = (uint64_t)w->n_t, nk = (uint64_t)w->n_kv;
  fwrite(&magic, 4, 1, f);
  fwrite(&w->version, 4, 1, f);
  fwrite(&nt, 8, 1, f);
  fwrite(&nk, 8, 1, f);
  for (int i = 0; i < w->n_kv; i++) {
    gw_kv_t *k = &w->kv[i];
    gw_wstr(f, k->key, strlen(k->key));
    fwrite(&k->type, 4, 1, f);
    if (k->type == SL_GGUF_STRING) gw_wstr(f, k->s, strlen(k->s));
    else if (k->type == SL_GGUF_ARRAY) {
      uint64_t n = k->n;
      fwrite(&k->arr_type, 4, 1, f);
      fwrite(&n, 8, 1, f);
      if (k->arr_type == SL_GGUF_STRING)
        for (size_t j = 0; j < k->n; j++) gw_wstr(f, ((const char *const *)k->arr)[j], strlen(((const char *const *)k->arr)[j]));
      else fwrite(k->arr, gw_scalar_size(k->arr_type), k->n, f);
    } else gw_wscalar(f, k->type, k->u, k->f);
  }
  uint64_t off = 0;
  for (int i = 0; i < w->n_t; i++) {
    gw_t_t *t = &w->t[i];
    gw_wstr(f, t->name, strlen(t->name));
    fwrite(&t->n_dims, 4, 1, f);
    fwrite(t->ne, 8, t->n_dims, f);
    fwrite(&t->type, 4, 1, f);
    t->offset = off;
    fwrite(&off, 8, 1, f);
    off += (t->nbytes + 31) / 32 * 32;
  }
  long pos = ftell(f);
  static const char zeros[32];
  fwrite(zeros, 1, (size_t)((32 - pos % 32) % 32), f);
  return 0;
}

static inline void gw_data(gw_t *w, const void *data) {
  gw_t_t *t = &w->t[w->next++];
  static const char zeros[32];
  fwrite(data, 1, t->nbytes, w->f);
  fwrite(zeros, 1, (size_t)((32 - t->nbytes % 32) % 32), w->f);
}

static inline int gw_end(gw_t *w) {
  int rc = ferror(w->f) ? -1 : 0;
  if (fclose(w->f)) rc = -1;
  w->f = NULL;
  return rc;
}

/* ---- a random Llama-family model ---- */

typedef struct {
  const char *arch; /* "llama" or "qwen2" */
  int dim, n_layers, n_heads, n_kv_heads, n_ff, n_ctx, n_vocab;
  float std, rope_base, eps;
  uint32_t wtype;   /* SL_GGML_F32, F16 or Q8_0 for the 2-D matrices */
  bool tied;        /* no output.weight */
  bool biases;      /* Q/K/V biases (qwen2) */
  uint64_t seed;
  const char *const *tokens; /* optional vocabulary (n_vocab strings) */
  int n_tokens;              /* of them written (0: n_vocab; fewer: a broken file) */
  int block_count;           /* written as block_count (0: n_layers; fewer: a broken file) */
  const char *eps_text;      /* the RMS epsilon written as this string (a broken file) */
  const float *scores;
  const int32_t *token_types;
} gw_llama_t;

static uint64_t gw_rng;
static inline double gw_normal(void) { /* Box-Muller on xorshift64* */
  double u[2];
  for (int i = 0; i < 2; i++) {
    gw_rng ^= gw_rng >> 12, gw_rng ^= gw_rng << 25, gw_rng ^= gw_rng >> 27;
    u[i] = ((gw_rng * 2685821657736338717ull) >> 11) * (1.0 / 9007199254740992.0);
  }
  return sqrt(-2 * log(u[0] + 1e-300)) * cos(6.283185307179586 * u[1]);
}

static inline void gw_fill(void *dst, uint32_t type, size_t n, float mean, float std, float *tmp) {
  for (size_t i = 0; i < n; i++) tmp[i] = mean + std * (float)gw_normal();
  if (type == SL_GGML_F32) memcpy(dst, tmp, n * 4);
  else if (type == SL_GGML_F16) for (size_t i = 0; i < n; i++) ((uint16_t *)dst)[i] = sl_kern_f32_to_f16(tmp[i]);
  else sl_kern_quantize_q8_0(tmp, dst, n);
}

/* Writes the model; returns 0 or -1. */
static inline int gw_random_llama(const char *path, const gw_llama_t *c) {
  gw_t *w = calloc(1, sizeof *w);
  if (!w) return -1;
  gw_init(w);
  char key[128];
  gw_str(w, "general.architecture", c->arch);
  gw_str(w, "general.name", "sluice-random");
#define K(s) (snprintf(key, sizeof key, "%s.%s", c->arch, s), key)
  /* gw_kv copies the key, so reusing `key` is safe. */
  gw_u32(w, K("block_count"), (uint32_t)(c->block_count ? c->block_count : c->n_layers));
  gw_u32(w, K("context_length"), (uint32_t)c->n_ctx);
  gw_u32(w, K("embedding_length"), (uint32_t)c->dim);
  gw_u32(w, K("feed_forward_length"), (uint32_t)c->n_ff);
  gw_u32(w, K("attention.head_count"), (uint32_t)c->n_heads);
  gw_u32(w, K("attention.head_count_kv"), (uint32_t)c->n_kv_heads);
  gw_f32(w, K("rope.freq_base"), c->rope_base);
  if (c->eps_text) gw_str(w, K("attention.layer_norm_rms_epsilon"), c->eps_text);
  else gw_f32(w, K("attention.layer_norm_rms_epsilon"), c->eps);
#undef K
  gw_u32(w, "general.file_type", c->wtype == SL_GGML_Q8_0 ? 7 : c->wtype == SL_GGML_F16 ? 1 : 0);
  if (c->tokens) {
    gw_str(w, "tokenizer.ggml.model", "llama");
    gw_arr(w, "tokenizer.ggml.tokens", SL_GGUF_STRING, c->tokens,
           (size_t)(c->n_tokens ? c->n_tokens : c->n_vocab));
    if (c->scores) gw_arr(w, "tokenizer.ggml.scores", SL_GGUF_F32, c->scores, (size_t)c->n_vocab);
    if (c->token_types) gw_arr(w, "tokenizer.ggml.token_type", SL_GGUF_I32, c->token_types, (size_t)c->n_vocab);
    gw_u32(w, "tokenizer.ggml.bos_token_id", 1);
    gw_u32(w, "tokenizer.ggml.eos_token_id", 2);
    gw_u32(w, "tokenizer.ggml.unknown_token_id", 0);
  }
  int hd = c->dim / c->n_heads, kv = hd * c->n_kv_heads;
  char nm[96];
  gw_tensor(w, "token_embd.weight", c->wtype, c->dim, c->n_vocab);
  gw_tensor(w, "output_norm.weight", SL_GGML_F32, c->dim, 0);
  if (!c->tied) gw_tensor(w, "output.weight", c->wtype, c->dim, c->n_vocab);
  for (int l = 0; l < c->n_layers; l++) {
#define T(s, t, a, b) (snprintf(nm, sizeof nm, "blk.%d.%s", l, s), gw_tensor(w, nm, t, a, b))
    T("attn_norm.weight", SL_GGML_F32, c->dim, 0);
    T("attn_q.weight", c->wtype, c->dim, c->dim);
    T("attn_k.weight", c->wtype, c->dim, kv);
    T("attn_v.weight", c->wtype, c->dim, kv);
    if (c->biases) {
      T("attn_q.bias", SL_GGML_F32, c->dim, 0);
      T("attn_k.bias", SL_GGML_F32, kv, 0);
      T("attn_v.bias", SL_GGML_F32, kv, 0);
    }
    T("attn_output.weight", c->wtype, c->dim, c->dim);
    T("ffn_norm.weight", SL_GGML_F32, c->dim, 0);
    T("ffn_gate.weight", c->wtype, c->dim, c->n_ff);
    T("ffn_up.weight", c->wtype, c->dim, c->n_ff);
    T("ffn_down.weight", c->wtype, c->n_ff, c->dim);
#undef T
  }
  if (gw_begin(w, path)) { free(w); return -1; }
  gw_rng = c->seed ? c->seed : 1;
  size_t maxn = 0;
  for (int i = 0; i < w->n_t; i++) if (w->t[i].ne[0] * w->t[i].ne[1] > maxn) maxn = w->t[i].ne[0] * w->t[i].ne[1];
  float *tmp = malloc(maxn * 4);
  void *buf = malloc(maxn * 4);
  if (!tmp || !buf) { free(tmp); free(buf); fclose(w->f); free(w); return -1; }
  for (int i = 0; i < w->n_t; i++) {
    gw_t_t *t = &w->t[i];
    size_t n = t->ne[0] * t->ne[1];
    bool norm = strstr(t->name, "norm") != NULL, bias = strstr(t->name, "bias") != NULL;
    gw_fill(buf, t->type, n, norm ? 1.f : 0.f, norm ? 0.1f : bias ? 0.05f : c->std, tmp);
    gw_data(w, buf);
  }
  free(tmp);
  free(buf);
  int rc = gw_end(w);
  free(w);
  return rc;
}

#endif
