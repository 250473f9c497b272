/* Rewrites a GGUF file with its 2-D F32 weight matrices in a 4-bit type (Q4_0 or
 * Q4_K), everything else (metadata, vectors, other types) copied as is. The test
 * GGUF writer (tests/tools/gguf_writer.h) writes F32, F16 and Q8_0 only; this lets
 * test_model and bench_engine make Q4 versions of the models it writes. Header-only
 * (static functions), like the writer it builds on.
 *
 * The Q4_K encoder here is a plain min/max one (per 32-element sub-block: scale =
 * (max − min) / 15, both then rounded to 6 bits of the super-block's d and dmin),
 * not ggml's search for the best scales: it produces valid blocks whose decoding
 * the engine must get right, which is what the tests need. */
#ifndef SL_TEST_GGUF_REQUANT_H
#define SL_TEST_GGUF_REQUANT_H

#include "tests/tools/gguf_writer.h"

static inline int rq_round(float x, int lo, int hi) {
  int v = (int)lrintf(x);
  return v < lo ? lo : v > hi ? hi : v;
}

/* n floats (n multiple of 256) into Q4_K super-blocks. */
static inline void rq_quantize_q4_k(const float *src, void *dst, size_t n) {
  for (size_t b = 0; b < n / 256; b++) {
    const float *x = src + b * 256;
    uint8_t *blk = (uint8_t *)dst + b * 144, *sc12 = blk + 4, *qs = blk + 16;
    float scale[8], mins[8], dmax = 0, mmax = 0;
    for (int s = 0; s < 8; s++) {
      float lo = 0, hi = 0;
      for (int l = 0; l < 32; l++) {
        float v = x[s * 32 + l];
        lo = v < lo ? v : lo, hi = v > hi ? v : hi;
      }
      scale[s] = (hi - lo) / 15.f, mins[s] = -lo;
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
    for (int i = 0; i < 4; i++)
      for (int l = 0; l < 32; l++) {
        int q[2];
        for (int h = 0; h < 2; h++) {
          int s = 2 * i + h;
          float ds = d * sc[s];
          q[h] = ds ? rq_round((x[s * 32 + l] + dmin * mn[s]) / ds, 0, 15) : 0;
        }
        qs[32 * i + l] = (uint8_t)(q[0] | q[1] << 4);
      }
  }
}

/* Copies src to dst with 2-D F32 tensors (rows a multiple of the block) in wtype
 * (SL_GGML_Q4_0 or SL_GGML_Q4_K). Returns 0 or -1. */
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
      gw_u32(w, key, wtype == SL_GGML_Q4_0 ? 2 : 15); /* MOSTLY_Q4_0, MOSTLY_Q4_K_M */
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
  size_t bs = sl_ggml_blck_size(wtype);
  for (size_t i = 0; i < sl_gguf_n_tensors(g); i++) {
    const sl_gguf_tensor_t *t = sl_gguf_tensor(g, i);
    bool q = t->type == SL_GGML_F32 && t->n_dims == 2 && t->ne[0] % bs == 0;
    gw_tensor(w, t->name, q ? wtype : t->type, t->ne[0], t->n_dims == 2 ? t->ne[1] : 0);
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
    if (wtype == SL_GGML_Q4_0) sl_kern_quantize_q4_0(t->data, buf, t->n_elems);
    else rq_quantize_q4_k(t->data, buf, t->n_elems);
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
