/* Products the oneDNN implementation (kern_dnnl.c) runs itself on CPUs without
 * AVX-512 or VNNI: every s8 product (below), and one or two f32 rows of a small
 * matrix (further below).
 *
 * s8 products on CPUs with AVX2 but no VNNI (AMD Zen 1-3, Intel before Ice Lake):
 * there oneDNN 2.6 multiplies s8 by s8 with vpmaddubsw on plain weights, which
 * saturates (255 · 127 · 2 > 32767) and, at a few rows, runs 20× slower than a
 * decode step can afford (86M Q8_0: 5 tokens/s against llama.cpp's 100). This
 * loop serves every s8 product there instead, at full 8-bit precision.
 *
 * Layout: panels of 16 output columns; in a panel, for each group of 4 inputs,
 * 64 bytes — the 4 weights of column 0, then of column 1, ... — so one 32-byte
 * load holds 4 inputs of 8 columns, one per 32-bit lane, and a panel is one
 * contiguous stream (K rounded up to 4, missing weights 0).
 *
 * Sums: the sign trick. vpmaddubsw wants an unsigned operand; |x| is one, and
 * sign(w, x) carries x's sign onto w: |x| · sign(w, x) = x · w, and a pair of
 * products is at most 2 · 127 · 127 < 32768, so nothing saturates. vpmaddwd by
 * ones adds the pairs into the 32-bit lanes. The sums are exact integers: the
 * result equals the reference (kern_ref.c) bit for bit, whatever the row count,
 * the split across threads or the panel order. */
#include "kern_int.h"

#include "sl_err.h"

#include <stdlib.h>
#include <string.h>

#if SL__KERN_AVX2_S8
#include <immintrin.h>

#define PANEL 16
/* prefetch 1 KB ahead in the panel stream (a little faster at one row than the
 * hardware streamer alone, on this VM's noise) */
#define PF_AHEAD 1024

struct sl__s8p {
  int n_out, n_in, k4; /* k4: groups of 4 inputs */
  int8_t *w;           /* panels × k4 × 64 bytes */
};

int sl__s8p_new(const int8_t *w, int n_out, int n_in, sl__s8p_t **out) {
  *out = NULL;
  sl__s8p_t *p = calloc(1, sizeof *p);
  if (!p) return SL_ENOMEM;
  p->n_out = n_out;
  p->n_in = n_in;
  p->k4 = (n_in + 3) / 4;
  size_t panels = (size_t)(n_out + PANEL - 1) / PANEL, bytes = panels * (size_t)p->k4 * 64;
  if (!(p->w = aligned_alloc(64, bytes))) {
    free(p);
    return SL_ENOMEM;
  }
  memset(p->w, 0, bytes);
  for (int n = 0; n < n_out; n++) {
    int8_t *dst = p->w + (size_t)(n / PANEL) * p->k4 * 64 + (n % PANEL) * 4;
    const int8_t *src = w + (size_t)n * n_in;
    for (int i = 0; i < n_in; i++) dst[(size_t)(i / 4) * 64 + i % 4] = src[i];
  }
  *out = p;
  return 0;
}

void sl__s8p_free(sl__s8p_t *p) {
  if (!p) return;
  free(p->w);
  free(p);
}

size_t sl__s8p_bytes(const sl__s8p_t *p) { return (size_t)(p->n_out + PANEL - 1) / PANEL * p->k4 * 64; }

int sl__s8p_panels(const sl__s8p_t *p) { return (p->n_out + PANEL - 1) / PANEL; }

/* The 4 activations of row x from group g on, as one 32-bit value (zeros past n). */
static inline int32_t x4_at(const int8_t *x, int g, int n) {
  int32_t v = 0;
  memcpy(&v, x + 4 * g, (size_t)(n - 4 * g < 4 ? n - 4 * g : 4));
  return v;
}

/* The 4 bytes at p in every 32-bit lane: one broadcast load. */
static inline __m256i bcast4(const int8_t *p) { return _mm256_castps_si256(_mm256_broadcast_ss((const float *)p)); }

/* acc += x · w over one 32-byte weight vector: 8 columns, 4 inputs each. */
static inline __m256i dot4(__m256i acc, __m256i xa, __m256i xb, __m256i w, __m256i ones) {
  return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(xa, _mm256_sign_epi8(w, xb)), ones));
}

/* R (1..4) rows of x (ldx apart) times one panel, scaled and stored into y
 * (ldy apart, cols valid columns). The groups whose 4 inputs are all in the row
 * go through the main loop, the activations broadcast straight from memory; the
 * last, part-filled group (K not a multiple of 4) after it, its activations
 * with zeros past the row's end. */
static inline __attribute__((always_inline)) void panel_rows(const int8_t *pw, int k4, int n_in, const int8_t *x,
                                                             size_t ldx, int R, const float *xs, const float *ws,
                                                             float *y, size_t ldy, int cols) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i a[4][2];
#pragma GCC unroll 4
  for (int r = 0; r < R; r++) a[r][0] = a[r][1] = _mm256_setzero_si256();
  int full = n_in / 4;
  const int8_t *wg = pw;
  for (int g = 0; g < full; g++, wg += 64) {
    _mm_prefetch((const char *)(wg + PF_AHEAD), _MM_HINT_T0); /* harmless past the end */
    __m256i w0 = _mm256_load_si256((const __m256i *)wg), w1 = _mm256_load_si256((const __m256i *)(wg + 32));
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
      __m256i xb = bcast4(x + (size_t)r * ldx + 4 * g), xa = _mm256_abs_epi8(xb);
      a[r][0] = dot4(a[r][0], xa, xb, w0, ones);
      a[r][1] = dot4(a[r][1], xa, xb, w1, ones);
    }
  }
  if (full < k4) {
    __m256i w0 = _mm256_load_si256((const __m256i *)wg), w1 = _mm256_load_si256((const __m256i *)(wg + 32));
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
      __m256i xb = _mm256_set1_epi32(x4_at(x + (size_t)r * ldx, full, n_in)), xa = _mm256_abs_epi8(xb);
      a[r][0] = dot4(a[r][0], xa, xb, w0, ones);
      a[r][1] = dot4(a[r][1], xa, xb, w1, ones);
    }
  }
  /* y = Σ · (xs · ws), rounded as sl__kern_scale_rows rounds */
#pragma GCC unroll 4
  for (int r = 0; r < R; r++) {
    __m256 s = _mm256_set1_ps(xs[r]);
    float out[PANEL];
    _mm256_storeu_ps(out, _mm256_mul_ps(_mm256_cvtepi32_ps(a[r][0]), _mm256_mul_ps(s, _mm256_loadu_ps(ws))));
    _mm256_storeu_ps(out + 8, _mm256_mul_ps(_mm256_cvtepi32_ps(a[r][1]), _mm256_mul_ps(s, _mm256_loadu_ps(ws + 8))));
    memcpy(y + (size_t)r * ldy, out, sizeof(float) * (size_t)cols);
  }
}

void sl__s8p_matmul(const sl__s8p_t *p, const int8_t *x, int m, const float *xs, const float *ws, float *y,
                    int pb0, int pb1) {
  int n = p->n_out, k = p->n_in;
  for (int pb = pb0; pb < pb1; pb++) {
    const int8_t *pw = p->w + (size_t)pb * p->k4 * 64;
    int c0 = pb * PANEL, cols = n - c0 < PANEL ? n - c0 : PANEL;
    /* the column scales of a part-filled panel, padded so full vectors load */
    float wsp[PANEL] = {0};
    memcpy(wsp, ws + c0, sizeof(float) * (size_t)cols);
    for (int r0 = 0; r0 < m; r0 += 4) {
      const int8_t *xr = x + (size_t)r0 * k;
      float *yr = y + (size_t)r0 * n + c0;
      switch (m - r0 < 4 ? m - r0 : 4) {
      case 1: panel_rows(pw, p->k4, k, xr, (size_t)k, 1, xs + r0, wsp, yr, (size_t)n, cols); break;
      case 2: panel_rows(pw, p->k4, k, xr, (size_t)k, 2, xs + r0, wsp, yr, (size_t)n, cols); break;
      case 3: panel_rows(pw, p->k4, k, xr, (size_t)k, 3, xs + r0, wsp, yr, (size_t)n, cols); break;
      default: panel_rows(pw, p->k4, k, xr, (size_t)k, 4, xs + r0, wsp, yr, (size_t)n, cols); break;
      }
    }
  }
}

#endif

#if SL__KERN_AVX2_F32
#include <immintrin.h>

/* ---- f32: one or two rows of a small matrix over oneDNN's plain weights ----
 *
 * Without AVX-512, oneDNN 2.6 keeps f32 weights plain, K × N ("ab": the N
 * weights of input k contiguous) for its gemm:jit. A call of it costs a few
 * microseconds however small the product, which at stories260K's sizes (64 × 64
 * to 64 × 512) is most of a decode step's time. One or two rows of a small
 * matrix (SL__F32AB_MAX_BYTES) take this loop instead, which reads the same
 * weights along the rows: four inputs at a time it adds their four rows into y,
 * with the rows' broadcast activations in registers. Over 48 such matrices one
 * row takes about half oneDNN's time; from 3 rows on oneDNN's one call is as fast
 * or faster (a loop holding 4 rows × 16 columns in registers over all of K was
 * tried: slower at 8 rows of 64 × 512), and it keeps them. For large matrices
 * see docs/engine.md.
 *
 * Each output is one chain of FMAs over k in order: a row's result does not
 * depend on the other row. */

/* y[r][0 .. n) = the fma chain continued over inputs i0 .. i0+kn-1 (kn ≤ 4) */
static inline __attribute__((always_inline)) void ab_step(const float *w, int n, int k, const float *x, int R,
                                                          float *y, int i0, int kn) {
  __m256 xb[2][4];
#pragma GCC unroll 2
  for (int r = 0; r < R; r++)
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) xb[r][j] = _mm256_set1_ps(j < kn ? x[(size_t)r * k + i0 + j] : 0.f);
  const float *w0 = w + (size_t)i0 * n;
  int v = 0;
  for (; v + 8 <= n; v += 8) {
    __m256 wv[4];
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) wv[j] = j < kn ? _mm256_loadu_ps(w0 + (size_t)j * n + v) : _mm256_setzero_ps();
#pragma GCC unroll 2
    for (int r = 0; r < R; r++) {
      float *yr = y + (size_t)r * n + v;
      __m256 a = i0 ? _mm256_loadu_ps(yr) : _mm256_setzero_ps();
#pragma GCC unroll 4
      for (int j = 0; j < 4; j++)
        if (j < kn) a = _mm256_fmadd_ps(xb[r][j], wv[j], a);
      _mm256_storeu_ps(yr, a);
    }
  }
  if (v < n) { /* the last columns: masked, no load past the matrix */
    __m256i mk = _mm256_cmpgt_epi32(_mm256_set1_epi32(n - v), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    __m256 wv[4];
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) wv[j] = j < kn ? _mm256_maskload_ps(w0 + (size_t)j * n + v, mk) : _mm256_setzero_ps();
#pragma GCC unroll 2
    for (int r = 0; r < R; r++) {
      float *yr = y + (size_t)r * n + v;
      __m256 a = i0 ? _mm256_maskload_ps(yr, mk) : _mm256_setzero_ps();
#pragma GCC unroll 4
      for (int j = 0; j < 4; j++)
        if (j < kn) a = _mm256_fmadd_ps(xb[r][j], wv[j], a);
      _mm256_maskstore_ps(yr, mk, a);
    }
  }
}

void sl__f32ab_matmul(const float *w, int n, int k, const float *x, int m, float *y) {
  for (int r = 0; r < m; r += 2) {
    const float *xr = x + (size_t)r * k;
    float *yr = y + (size_t)r * n;
    for (int i0 = 0; i0 < k; i0 += 4) {
      int kn = k - i0 < 4 ? k - i0 : 4;
      if (m - r >= 2) {
        if (kn == 4) ab_step(w, n, k, xr, 2, yr, i0, 4);
        else ab_step(w, n, k, xr, 2, yr, i0, kn);
      } else {
        if (kn == 4) ab_step(w, n, k, xr, 1, yr, i0, 4);
        else ab_step(w, n, k, xr, 1, yr, i0, kn);
      }
    }
  }
}
#endif

#if !SL__KERN_AVX2_S8 /* VNNI (oneDNN's s8 products and the VNNI loops serve) or no AVX2 */

int sl__s8p_new(const int8_t *w, int n_out, int n_in, sl__s8p_t **out) {
  (void)w, (void)n_out, (void)n_in;
  *out = NULL;
  return SL_EUNSUPPORTED;
}
void sl__s8p_free(sl__s8p_t *p) { (void)p; }
size_t sl__s8p_bytes(const sl__s8p_t *p) {
  (void)p;
  return 0;
}
int sl__s8p_panels(const sl__s8p_t *p) {
  (void)p;
  return 0;
}
void sl__s8p_matmul(const sl__s8p_t *p, const int8_t *x, int m, const float *xs, const float *ws, float *y,
                    int pb0, int pb1) {
  (void)p, (void)x, (void)m, (void)xs, (void)ws, (void)y, (void)pb0, (void)pb1;
}
#endif
