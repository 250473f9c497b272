/* Rewrites a GGUF file with its 2-D F32 weight matrices in a block type (Q4_0,
 * Q4_K, Q5_0, Q5_K or Q6_K), or in the mix of types a llama.cpp "Q4_K_M"-style
 * file has (RQ_MIXED: a different type per tensor name, every 4- to 6-bit type
 * the engine loads in one file); everything else (metadata, vectors, other types)
 * is copied as is. The test GGUF writer (tests/tools/gguf_writer.h) writes F32,
 * F16 and Q8_0 only; this lets test_model and bench_engine make quantised
 * versions of the models it writes. Header-only (static functions), like the
 * writer it builds on.
 *
 * The encoders here are plain min/max (or absolute-max) ones per sub-block, not
 * ggml's search for the best scales: they produce valid blocks whose decoding
 * the engine must get right, which is what the tests need. The decoders
 * themselves are checked element by element on hand-made blocks in
 * tests/unit/kernels/test_kernels.c. */
#ifndef SL_TEST_GGUF_REQUANT_H
#define SL_TEST_GGUF_REQUANT_H

#include "tests/tools/gguf_writer.h"

static inline int rq_round(float x, int lo, int hi) {
  int v = (int)lrintf(x);
  return v < lo ? lo : v > hi ? hi : v;
}

/* n floats (n multiple of 32) into Q4_1 (u = false) or Q5_1 (u = true) blocks:
 * x = d · q + m with m the block's minimum. */
static inline void rq_quantize_q41_q51(const float *src, void *dst, size_t n, bool five) {
  int top = five ? 31 : 15;
  size_t bytes = five ? 24 : 20;
  for (size_t b = 0; b < n / 32; b++) {
    const float *x = src + b * 32;
    uint8_t *blk = (uint8_t *)dst + b * bytes, *q = blk + (five ? 8 : 4);
    float lo = x[0], hi = x[0];
    for (int j = 1; j < 32; j++) lo = x[j] < lo ? x[j] : lo, hi = x[j] > hi ? x[j] : hi;
    uint16_t hd = sl_kern_f32_to_f16((hi - lo) / (float)top), hm = sl_kern_f32_to_f16(lo);
    float d = sl_kern_f16_to_f32(hd), m = sl_kern_f16_to_f32(hm);
    memcpy(blk, &hd, 2), memcpy(blk + 2, &hm, 2);
    uint32_t qh = 0;
    for (int j = 0; j < 16; j++) {
      int a = d ? rq_round((x[j] - m) / d, 0, top) : 0, c = d ? rq_round((x[j + 16] - m) / d, 0, top) : 0;
      q[j] = (uint8_t)((a & 15) | (c & 15) << 4);
      qh |= (uint32_t)(a >> 4) << j | (uint32_t)(c >> 4) << (j + 16);
    }
    if (five)
      for (int i = 0; i < 4; i++) blk[4 + i] = (uint8_t)(qh >> (8 * i));
  }
}

/* n floats (n multiple of 32) into Q5_0 blocks: x = d · (q − 16), d from the
 * absolute maximum. */
static inline void rq_quantize_q5_0(const float *src, void *dst, size_t n) {
  for (size_t b = 0; b < n / 32; b++) {
    const float *x = src + b * 32;
    uint8_t *blk = (uint8_t *)dst + b * 22, *q = blk + 6;
    float amax = 0;
    for (int j = 0; j < 32; j++) amax = fabsf(x[j]) > amax ? fabsf(x[j]) : amax;
    uint16_t hd = sl_kern_f32_to_f16(amax / 15.f);
    float d = sl_kern_f16_to_f32(hd);
    memcpy(blk, &hd, 2);
    uint32_t qh = 0;
    for (int j = 0; j < 16; j++) {
      int a = d ? rq_round(x[j] / d + 16, 0, 31) : 16, c = d ? rq_round(x[j + 16] / d + 16, 0, 31) : 16;
      q[j] = (uint8_t)((a & 15) | (c & 15) << 4);
      qh |= (uint32_t)(a >> 4) << j | (uint32_t)(c >> 4) << (j + 16);
    }
    for (int i = 0; i < 4; i++) blk[2 + i] = (uint8_t)(qh >> (8 * i));
  }
}

/* n floats (n multiple of 256) into Q4_K super-blocks, or Q5_K (five): per
 * 32-element sub-block a scale (max - min) / 15 (31) and a min, both rounded to
 * 6 bits of the super-block's d and dmin; Q5_K puts the fifth bits in qh. */
static inline void rq_quantize_k(const float *src, void *dst, size_t n, bool five) {
  int top = five ? 31 : 15;
  size_t bytes = five ? 176 : 144;
  for (size_t b = 0; b < n / 256; b++) {
    const float *x = src + b * 256;
    uint8_t *blk = (uint8_t *)dst + b * bytes, *sc12 = blk + 4, *qh = blk + 16,
            *qs = blk + (five ? 48 : 16);
    float scale[8], mins[8], dmax = 0, mmax = 0;
    for (int s = 0; s < 8; s++) {
      float lo = 0, hi = 0;
      for (int l = 0; l < 32; l++) {
        float v = x[s * 32 + l];
        lo = v < lo ? v : lo, hi = v > hi ? v : hi;
      }
      scale[s] = (hi - lo) / (float)top, mins[s] = -lo;
      dmax = scale[s] > dmax ? scale[s] : dmax, mmax = mins[s] > mmax ? mins[s] : mmax;
    }
    uint16_t hd = sl_kern_f32_to_f16(dmax / 63.f), hm = sl_kern_f32_to_f16(mmax / 63.f);
    float d = sl_kern_f16_to_f32(hd), dmin = sl_kern_f16_to_f32(hm);
    memcpy(blk, &hd, 2), memcpy(blk + 2, &hm, 2);
    int sc[8], mn[8];
    for (int s = 0; s < 8; s++) {
      sc[s] = d ? rq_round(scale[s] / d, 0, 63) : 0;
      mn[s] = dmin ? rq_round(mins[s] / dmin, 0, 63) : 0;
    }
    for (int j = 0; j < 4; j++) {
      sc12[j] = (uint8_t)((sc[j] & 63) | (sc[j + 4] >> 4) << 6);
      sc12[j + 4] = (uint8_t)((mn[j] & 63) | (mn[j + 4] >> 4) << 6);
      sc12[j + 8] = (uint8_t)((sc[j + 4] & 0xF) | (mn[j + 4] & 0xF) << 4);
    }
    if (five) memset(qh, 0, 32);
    for (int i = 0; i < 4; i++)
      for (int l = 0; l < 32; l++) {
        int q[2];
        for (int h = 0; h < 2; h++) {
          int s = 2 * i + h;
          float ds = d * sc[s];
          q[h] = ds ? rq_round((x[s * 32 + l] + dmin * mn[s]) / ds, 0, top) : 0;
          if (five) qh[l] |= (uint8_t)((q[h] >> 4) << (2 * i + h));
        }
        qs[32 * i + l] = (uint8_t)((q[0] & 15) | (q[1] & 15) << 4);
      }
  }
}

/* n floats (n multiple of 256) into Q6_K super-blocks: a signed 8-bit scale per
 * 16 elements (of d), q in −32..31. */
static inline void rq_quantize_q6_k(const float *src, void *dst, size_t n) {
  for (size_t b = 0; b < n / 256; b++) {
    const float *x = src + b * 256;
    uint8_t *blk = (uint8_t *)dst + b * 210, *ql = blk, *qh = blk + 128;
    int8_t *sc = (int8_t *)(blk + 192);
    float scale[16], smax = 0;
    for (int s = 0; s < 16; s++) {
      float amax = 0;
      for (int l = 0; l < 16; l++) amax = fabsf(x[s * 16 + l]) > amax ? fabsf(x[s * 16 + l]) : amax;
      scale[s] = amax / 31.f;
      smax = scale[s] > smax ? scale[s] : smax;
    }
    uint16_t hd = sl_kern_f32_to_f16(smax / 127.f);
    float d = sl_kern_f16_to_f32(hd);
    memcpy(blk + 208, &hd, 2);
    for (int s = 0; s < 16; s++) sc[s] = (int8_t)(d ? rq_round(scale[s] / d, -128, 127) : 0);
    memset(blk, 0, 192);
    for (int e = 0; e < 256; e++) {
      int h = e / 128, k = e % 128 / 32, l = e % 32;
      float ds = d * sc[e / 16];
      int q = (ds ? rq_round(x[e] / ds, -32, 31) : 0) + 32;
      uint8_t *lb = &ql[64 * h + l + 32 * (k & 1)];
      *lb |= (uint8_t)(k < 2 ? (q & 15) : (q & 15) << 4);
      qh[32 * h + l] |= (uint8_t)((q >> 4) << (2 * k));
    }
  }
}

/* The "Q4_K_M-like" mix: a type per tensor, so that one file holds every
 * block type the engine loads beside Q8_0. */
#define RQ_MIXED 1000u

static inline uint32_t rq_type_for(const char *name, uint32_t wtype) {
  if (wtype != RQ_MIXED) return wtype;
  if (strstr(name, "attn_k.")) return SL_GGML_Q4_1;
  if (strstr(name, "attn_v.")) return SL_GGML_Q5_0;
  if (strstr(name, "attn_output.")) return SL_GGML_Q5_1;
  if (strstr(name, "ffn_down.") || !strcmp(name, "output.weight")) return SL_GGML_Q6_K;
  if (strstr(name, "ffn_up.") || strstr(name, "token_embd.")) return SL_GGML_Q5_K;
  return SL_GGML_Q4_K;
}

static inline void rq_quantize(uint32_t type, const float *src, void *dst, size_t n) {
  switch (type) {
  case SL_GGML_Q4_0: sl_kern_quantize_q4_0(src, dst, n); break;
  case SL_GGML_Q4_1: rq_quantize_q41_q51(src, dst, n, false); break;
  case SL_GGML_Q5_0: rq_quantize_q5_0(src, dst, n); break;
  case SL_GGML_Q5_1: rq_quantize_q41_q51(src, dst, n, true); break;
  case SL_GGML_Q5_K: rq_quantize_k(src, dst, n, true); break;
  case SL_GGML_Q6_K: rq_quantize_q6_k(src, dst, n); break;
  default: rq_quantize_k(src, dst, n, false); break;
  }
}

/* Copies src to dst with 2-D F32 tensors (rows a multiple of the block) in wtype
 * (SL_GGML_Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K or RQ_MIXED). Returns 0 or -1. */
static inline int gw_requant(const char *src, const char *dst, uint32_t wtype) {
  char err[256];
  sl_gguf_t *g = sl_gguf_open(src, err, sizeof err);
  if (!g) return -1;
  gw_t *w = calloc(1, sizeof *w);
  char **strs = calloc(1 << 16, sizeof *strs); /* NUL-terminated copies, freed at the end */
  size_t n_strs = 0;
  int rc = -1;
  if (!w || !strs) goto out;
  gw_init(w);
  size_t nkv = sl_gguf_n_kv(g);
  if (nkv > GW_MAX_KV || sl_gguf_n_tensors(g) > GW_MAX_T) goto out;
  for (size_t i = 0; i < nkv; i++) {
    const char *key = sl_gguf_key(g, (int64_t)i);
    uint32_t t = sl_gguf_kv_type(g, (int64_t)i);
    if (!strcmp(key, "general.file_type")) {
      gw_u32(w, key, wtype == SL_GGML_Q4_0 ? 2 : 15); /* MOSTLY_Q4_0, else MOSTLY_Q4_K_M */
    } else if (t == SL_GGUF_STRING) {
      const char *s;
      size_t n;
      sl_gguf_get_str(g, key, &s, &n);
      if (!(strs[n_strs] = strndup(s, n))) goto out;
      gw_str(w, key, strs[n_strs++]);
    } else if (t == SL_GGUF_ARRAY) {
      uint32_t at = sl_gguf_arr_type(g, (int64_t)i);
      size_t n = sl_gguf_arr_len(g, (int64_t)i);
      if (at == SL_GGUF_STRING) {
        if (n_strs + n + 1 > (1 << 16)) goto out;
        const char **arr = (const char **)&strs[n_strs];
        for (size_t j = 0; j < n; j++) {
          size_t l;
          const char *s = sl_gguf_arr_str(g, (int64_t)i, j, &l);
          if (!(strs[n_strs++] = strndup(s, l))) goto out;
        }
        gw_arr(w, key, at, arr, n);
      } else {
        gw_arr(w, key, at, sl_gguf_arr_data(g, (int64_t)i), n);
      }
    } else if (t == SL_GGUF_F32 || t == SL_GGUF_F64) {
      float f;
      sl_gguf_get_f32(g, key, &f);
      gw_kv(w, key, t)->f = f;
    } else {
      uint64_t u = 0;
      bool bv;
      if (t == SL_GGUF_BOOL) sl_gguf_get_bool(g, key, &bv), u = bv;
      else if (t == SL_GGUF_I8 || t == SL_GGUF_I16 || t == SL_GGUF_I32 || t == SL_GGUF_I64) {
        int64_t v;
        sl_gguf_get_i64(g, key, &v);
        u = (uint64_t)v;
      } else sl_gguf_get_u64(g, key, &u);
      gw_kv(w, key, t)->u = u;
    }
  }
  for (size_t i = 0; i < sl_gguf_n_tensors(g); i++) {
    const sl_gguf_tensor_t *t = sl_gguf_tensor(g, i);
    uint32_t type = rq_type_for(t->name, wtype);
    bool q = t->type == SL_GGML_F32 && t->n_dims == 2 && t->ne[0] % sl_ggml_blck_size(type) == 0;
    gw_tensor(w, t->name, q ? type : t->type, t->ne[0], t->n_dims == 2 ? t->ne[1] : 0);
  }
  if (gw_begin(w, dst)) goto out;
  for (size_t i = 0; i < sl_gguf_n_tensors(g); i++) {
    const sl_gguf_tensor_t *t = sl_gguf_tensor(g, i);
    if (w->t[i].type == t->type) {
      gw_data(w, t->data);
      continue;
    }
    void *buf = malloc(w->t[i].nbytes);
    if (!buf) {
      gw_end(w);
      goto out;
    }
    rq_quantize(w->t[i].type, t->data, buf, t->n_elems);
    gw_data(w, buf);
    free(buf);
  }
  rc = gw_end(w);
out:
  if (strs)
    for (size_t i = 0; i < n_strs; i++) free(strs[i]);
  free(strs);
  free(w);
  sl_gguf_close(g);
  return rc;
}

#endif
