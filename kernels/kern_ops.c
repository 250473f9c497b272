/* Elementwise and small kernels: conversions, RMSNorm, softmax, SiLU, RoPE and
 * attention. Plain C with AVX2/AVX-512 paths for the dot products and axpys that
 * attention spends its time in; the tests hold them to a scalar reference. */
#include "kernels.h"

#include <math.h>
#include <string.h>
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

size_t sl_kern_row_bytes(sl_kern_dtype_t dt, size_t n) {
  switch (dt) {
  case SL_KDT_F32: return n * 4;
  case SL_KDT_F16:
  case SL_KDT_BF16: return n * 2;
  case SL_KDT_Q8_0: return n / SL_KERN_Q8_0_BLOCK * SL_KERN_Q8_0_BYTES;
  case SL_KDT_Q4_0: return n / SL_KERN_Q4_0_BLOCK * SL_KERN_Q4_0_BYTES;
  case SL_KDT_Q4_K: return n / SL_KERN_Q4_K_BLOCK * SL_KERN_Q4_K_BYTES;
  case SL_KDT_Q4_1: return n / 32 * SL_KERN_Q4_1_BYTES;
  case SL_KDT_Q5_0: return n / 32 * SL_KERN_Q5_0_BYTES;
  case SL_KDT_Q5_1: return n / 32 * SL_KERN_Q5_1_BYTES;
  case SL_KDT_Q5_K: return n / 256 * SL_KERN_Q5_K_BYTES;
  case SL_KDT_Q6_K: return n / 256 * SL_KERN_Q6_K_BYTES;
  }
  return 0;
}

size_t sl_kern_block(sl_kern_dtype_t dt) {
  switch (dt) {
  case SL_KDT_Q8_0: return SL_KERN_Q8_0_BLOCK;
  case SL_KDT_Q4_0: return SL_KERN_Q4_0_BLOCK;
  case SL_KDT_Q4_1:
  case SL_KDT_Q5_0:
  case SL_KDT_Q5_1: return 32;
  case SL_KDT_Q4_K:
  case SL_KDT_Q5_K:
  case SL_KDT_Q6_K: return SL_KERN_Q4_K_BLOCK;
  default: return 1;
  }
}

static float f16_at(const uint8_t *p) {
  uint16_t h;
  memcpy(&h, p, 2);
  return sl_kern_f16_to_f32(h);
}

/* Sub-block j's 6-bit scale and min of a Q4_K super-block (ggml get_scale_min_k4):
 * sub-blocks 0-3 keep theirs in the low 6 bits of bytes j and j + 4; 4-7 take 4 low
 * bits from byte j + 4 (scale: low nibble, min: high nibble) and 2 high bits from
 * the top of bytes j − 4 (scale) and j (min). */
static void q4_k_scale_min(int j, const uint8_t *q, int *sc, int *mn) {
  if (j < 4) {
    *sc = q[j] & 63;
    *mn = q[j + 4] & 63;
  } else {
    *sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *mn = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

float sl_kern_f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
  if (exp == 0) {
    if (man == 0) {
      bits = sign;
    } else { /* subnormal: normalise */
      exp = 127 - 15 + 1;
      while (!(man & 0x400)) {
        man <<= 1;
        exp--;
      }
      man &= 0x3ff;
      bits = sign | (exp << 23) | (man << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (man << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
  }
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

uint16_t sl_kern_f32_to_f16(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000;
  int32_t exp = (int32_t)((x >> 23) & 0xff) - 127 + 15;
  uint32_t man = x & 0x7fffff;
  if (((x >> 23) & 0xff) == 0xff) return (uint16_t)(sign | 0x7c00 | (man ? 0x200 : 0));
  if (exp >= 31) return (uint16_t)(sign | 0x7c00);
  if (exp <= 0) {
    if (exp < -10) return (uint16_t)sign;
    man |= 0x800000;
    uint32_t shift = (uint32_t)(14 - exp);
    uint32_t half = man >> shift, rem = man & ((1u << shift) - 1), mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1))) half++;
    return (uint16_t)(sign | half);
  }
  uint32_t h = sign | ((uint32_t)exp << 10) | (man >> 13);
  uint32_t rem = man & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++; /* carries into the exponent correctly */
  return (uint16_t)h;
}

float sl_kern_bf16_to_f32(uint16_t h) {
  uint32_t bits = (uint32_t)h << 16;
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

uint16_t sl_kern_f32_to_bf16(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  if ((x & 0x7fffffff) > 0x7f800000) return (uint16_t)((x >> 16) | 64); /* quiet NaN */
  x += 0x7fff + ((x >> 16) & 1);
  return (uint16_t)(x >> 16);
}

void sl_kern_to_f32(sl_kern_dtype_t dt, const void *src, float *dst, size_t n) {
  const uint8_t *p = src;
  switch (dt) {
  case SL_KDT_F32: memcpy(dst, src, n * 4); return;
  case SL_KDT_F16:
    for (size_t i = 0; i < n; i++) {
      uint16_t h;
      memcpy(&h, p + 2 * i, 2);
      dst[i] = sl_kern_f16_to_f32(h);
    }
    return;
  case SL_KDT_BF16:
    for (size_t i = 0; i < n; i++) {
      uint16_t h;
      memcpy(&h, p + 2 * i, 2);
      dst[i] = sl_kern_bf16_to_f32(h);
    }
    return;
  case SL_KDT_Q8_0:
    for (size_t b = 0; b < n / SL_KERN_Q8_0_BLOCK; b++) {
      const uint8_t *blk = p + b * SL_KERN_Q8_0_BYTES;
      uint16_t h;
      memcpy(&h, blk, 2);
      float d = sl_kern_f16_to_f32(h);
      const int8_t *q = (const int8_t *)(blk + 2);
      for (int j = 0; j < SL_KERN_Q8_0_BLOCK; j++) dst[b * SL_KERN_Q8_0_BLOCK + j] = d * q[j];
    }
    return;
  case SL_KDT_Q4_0:
    for (size_t b = 0; b < n / SL_KERN_Q4_0_BLOCK; b++) {
      const uint8_t *blk = p + b * SL_KERN_Q4_0_BYTES, *q = blk + 2;
      float d = f16_at(blk), *y = dst + b * SL_KERN_Q4_0_BLOCK;
      for (int j = 0; j < 16; j++) {
        y[j] = d * ((q[j] & 0xF) - 8);
        y[j + 16] = d * ((q[j] >> 4) - 8);
      }
    }
    return;
  case SL_KDT_Q4_1:
    for (size_t b = 0; b < n / 32; b++) {
      const uint8_t *blk = p + b * SL_KERN_Q4_1_BYTES, *q = blk + 4;
      float d = f16_at(blk), m = f16_at(blk + 2), *y = dst + b * 32;
      for (int j = 0; j < 16; j++) {
        y[j] = d * (q[j] & 0xF) + m;
        y[j + 16] = d * (q[j] >> 4) + m;
      }
    }
    return;
  case SL_KDT_Q5_0:
  case SL_KDT_Q5_1: {
    /* the fifth bit of element j is bit j of the little-endian word after the scales */
    bool one = dt == SL_KDT_Q5_1;
    size_t bytes = one ? SL_KERN_Q5_1_BYTES : SL_KERN_Q5_0_BYTES, head = one ? 4 : 2;
    for (size_t b = 0; b < n / 32; b++) {
      const uint8_t *blk = p + b * bytes, *hb = blk + head, *q = hb + 4;
      float d = f16_at(blk), m = one ? f16_at(blk + 2) : 0.f, *y = dst + b * 32;
      uint32_t qh = (uint32_t)hb[0] | (uint32_t)hb[1] << 8 | (uint32_t)hb[2] << 16 | (uint32_t)hb[3] << 24;
      int off = one ? 0 : 16;
      for (int j = 0; j < 16; j++) {
        int lo = (q[j] & 0xF) | (int)((qh >> j) & 1) << 4;
        int hi = (q[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
        y[j] = d * (lo - off) + m;
        y[j + 16] = d * (hi - off) + m;
      }
    }
    return;
  }
  case SL_KDT_Q4_K:
  case SL_KDT_Q5_K: {
    /* Each 64 elements use 32 bytes of q: the low nibbles are sub-block 2i, the
     * high nibbles sub-block 2i + 1 (ggml dequantize_row_q4_K). Q5_K adds 32
     * bytes of fifth bits before them: group i reads bit 2i of qh[l] for
     * element l (low nibble) and bit 2i + 1 for element l + 32. */
    bool five = dt == SL_KDT_Q5_K;
    size_t bytes = five ? SL_KERN_Q5_K_BYTES : SL_KERN_Q4_K_BYTES;
    for (size_t b = 0; b < n / 256; b++) {
      const uint8_t *blk = p + b * bytes, *scales = blk + 4, *qh = five ? blk + 16 : NULL,
                    *q = blk + (five ? 48 : 16);
      float d = f16_at(blk), dmin = f16_at(blk + 2), *y = dst + b * 256;
      for (int i = 0; i < 4; i++, q += 32, y += 64) {
        int sc0, m0, sc1, m1;
        q4_k_scale_min(2 * i, scales, &sc0, &m0);
        q4_k_scale_min(2 * i + 1, scales, &sc1, &m1);
        float d0 = d * sc0, n0 = dmin * m0, d1 = d * sc1, n1 = dmin * m1;
        for (int l = 0; l < 32; l++) {
          int h0 = qh ? ((qh[l] >> (2 * i)) & 1) << 4 : 0, h1 = qh ? ((qh[l] >> (2 * i + 1)) & 1) << 4 : 0;
          y[l] = d0 * ((q[l] & 0xF) | h0) - n0;
          y[l + 32] = d1 * ((q[l] >> 4) | h1) - n1;
        }
      }
    }
    return;
  }
  case SL_KDT_Q6_K:
    /* Each half of 128 elements uses 64 bytes of low nibbles and 32 of high
     * pairs: element l + 32k (k = 0..3, l < 32) takes the low (k < 2) or high
     * (k >= 2) nibble of ql[l + 32 (k & 1)] and bits 2k, 2k + 1 of qh[l]; its
     * scale is scales[8h + 2k + l / 16]. */
    for (size_t b = 0; b < n / 256; b++) {
      const uint8_t *blk = p + b * SL_KERN_Q6_K_BYTES, *ql = blk, *qh = blk + 128;
      const int8_t *sc = (const int8_t *)(blk + 192);
      float d = f16_at(blk + 208), *y = dst + b * 256;
      for (int h = 0; h < 2; h++, ql += 64, qh += 32, sc += 8, y += 128)
        for (int l = 0; l < 32; l++)
          for (int k = 0; k < 4; k++) {
            int lo = k < 2 ? ql[l + 32 * (k & 1)] & 0xF : ql[l + 32 * (k & 1)] >> 4;
            int q = (lo | ((qh[l] >> (2 * k)) & 3) << 4) - 32;
            y[l + 32 * k] = d * sc[2 * k + l / 16] * q;
          }
    }
    return;
  }
}

void sl_kern_quantize_q4_0(const float *src, void *dst, size_t n) {
  uint8_t *p = dst;
  for (size_t b = 0; b < n / SL_KERN_Q4_0_BLOCK; b++) {
    const float *x = src + b * SL_KERN_Q4_0_BLOCK;
    float amax = 0, max = 0;
    for (int j = 0; j < SL_KERN_Q4_0_BLOCK; j++)
      if (fabsf(x[j]) > amax) amax = fabsf(x[j]), max = x[j];
    float d = max / -8.f, id = d ? 1.f / d : 0.f;
    uint16_t h = sl_kern_f32_to_f16(d);
    uint8_t *blk = p + b * SL_KERN_Q4_0_BYTES;
    memcpy(blk, &h, 2);
    for (int j = 0; j < 16; j++) {
      int q0 = (int)(x[j] * id + 8.5f), q1 = (int)(x[j + 16] * id + 8.5f);
      q0 = q0 > 15 ? 15 : q0, q1 = q1 > 15 ? 15 : q1;
      blk[2 + j] = (uint8_t)(q0 | q1 << 4);
    }
  }
}

void sl_kern_quantize_q8_0(const float *src, void *dst, size_t n) {
  uint8_t *p = dst;
  for (size_t b = 0; b < n / SL_KERN_Q8_0_BLOCK; b++) {
    const float *x = src + b * SL_KERN_Q8_0_BLOCK;
    float amax = 0;
    for (int j = 0; j < SL_KERN_Q8_0_BLOCK; j++) { float a_ = fabsf(x[j]); amax = a_ > amax ? a_ : amax; };
    float d = amax / 127.f, id = d ? 1.f / d : 0.f;
    uint16_t h = sl_kern_f32_to_f16(d);
    uint8_t *blk = p + b * SL_KERN_Q8_0_BYTES;
    memcpy(blk, &h, 2);
    for (int j = 0; j < SL_KERN_Q8_0_BLOCK; j++) blk[2 + j] = (uint8_t)(int8_t)roundf(x[j] * id);
  }
}

#if defined(__AVX512F__)
/* e^x for 16 floats: range reduction by ln 2 (Cody-Waite, two constants) and a
 * degree-6 polynomial on [-ln2/2, ln2/2]; ~1 ulp over the range softmax and SiLU
 * use, where libm's scalar expf was the largest cost outside the matmuls. */
static inline __m512 exp512(__m512 x) {
  x = _mm512_max_ps(_mm512_min_ps(x, _mm512_set1_ps(88.3762626647949f)), _mm512_set1_ps(-87.3365478515625f));
  __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                  _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500E-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507E-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073E-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894E-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459E-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201E-1f));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.f)));
  return _mm512_scalef_ps(p, n);
}
#elif defined(__AVX2__) && defined(__FMA__)
/* exp512's arithmetic on 8 floats (CPUs without AVX-512). No scalef: 2^n is
 * built in the exponent field, so x stops at 88 (n ≤ 127; e^88 is 1.7e38). */
static inline __m256 exp256(__m256 x) {
  x = _mm256_max_ps(_mm256_min_ps(x, _mm256_set1_ps(88.f)), _mm256_set1_ps(-87.3365478515625f));
  __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                             _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500E-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507E-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073E-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894E-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459E-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201E-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.f)));
  __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

/* lanes 0..n-1 of 8 set (n ≤ 8), for maskload / maskstore */
static inline __m256i lanes256(int n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

static inline float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

static inline float hmax256(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_max_ss(s, _mm_movehdup_ps(s)));
}
#endif

void sl_kern_prefetch(const void *p, size_t n) {
  for (size_t o = 0; o < n; o += 64) __builtin_prefetch((const char *)p + o, 0, 3);
}

float sl_kern_dot(const float *a, const float *b, int n) {
  int i = 0;
  float s = 0;
#if defined(__AVX512F__)
  __m512 acc = _mm512_setzero_ps();
  for (; i + 16 <= n; i += 16) acc = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc);
  s = _mm512_reduce_add_ps(acc);
#elif defined(__AVX2__) && defined(__FMA__)
  __m256 acc = _mm256_setzero_ps();
  for (; i + 8 <= n; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc);
  float t[8];
  _mm256_storeu_ps(t, acc);
  for (int j = 0; j < 8; j++) s += t[j];
#endif
  for (; i < n; i++) s += a[i] * b[i];
  return s;
}

/* y += a * x */
static void axpy(float *y, float a, const float *x, int n) {
  int i = 0;
#if defined(__AVX512F__)
  __m512 va = _mm512_set1_ps(a);
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
#elif defined(__AVX2__) && defined(__FMA__)
  __m256 va = _mm256_set1_ps(a);
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
#endif
  for (; i < n; i++) y[i] += a * x[i];
}

void sl_kern_rmsnorm(float *out, const float *x, const float *w, int n, float eps) {
  /* Sum of squares in double: a cheap way to keep large dims from drifting. In
   * four vector chains: one scalar chain of dependent adds took ~1 µs per row at
   * dim 768 (a tenth of an 8-row step's non-product time). Squares of floats are
   * exact in double, so only the order of the additions differs. */
  double ss = 0;
  int i = 0;
#if defined(__AVX512F__) && defined(__AVX512DQ__)
  __m512d a0 = _mm512_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
  for (; i + 32 <= n; i += 32) {
    __m512 u = _mm512_loadu_ps(x + i), v = _mm512_loadu_ps(x + i + 16);
    __m512d u0 = _mm512_cvtps_pd(_mm512_castps512_ps256(u)), u1 = _mm512_cvtps_pd(_mm512_extractf32x8_ps(u, 1));
    __m512d v0 = _mm512_cvtps_pd(_mm512_castps512_ps256(v)), v1 = _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1));
    a0 = _mm512_fmadd_pd(u0, u0, a0), a1 = _mm512_fmadd_pd(u1, u1, a1);
    a2 = _mm512_fmadd_pd(v0, v0, a2), a3 = _mm512_fmadd_pd(v1, v1, a3);
  }
  ss = _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(a0, a1), _mm512_add_pd(a2, a3)));
#elif defined(__AVX2__) && defined(__FMA__)
  __m256d a0 = _mm256_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
  for (; i + 16 <= n; i += 16) {
    __m256d u0 = _mm256_cvtps_pd(_mm_loadu_ps(x + i)), u1 = _mm256_cvtps_pd(_mm_loadu_ps(x + i + 4));
    __m256d v0 = _mm256_cvtps_pd(_mm_loadu_ps(x + i + 8)), v1 = _mm256_cvtps_pd(_mm_loadu_ps(x + i + 12));
    a0 = _mm256_fmadd_pd(u0, u0, a0), a1 = _mm256_fmadd_pd(u1, u1, a1);
    a2 = _mm256_fmadd_pd(v0, v0, a2), a3 = _mm256_fmadd_pd(v1, v1, a3);
  }
  double t[4];
  _mm256_storeu_pd(t, _mm256_add_pd(_mm256_add_pd(a0, a1), _mm256_add_pd(a2, a3)));
  ss = (t[0] + t[1]) + (t[2] + t[3]);
#endif
  for (; i < n; i++) ss += (double)x[i] * x[i];
  float scale = (float)(1.0 / sqrt(ss / n + eps));
  for (int i = 0; i < n; i++) out[i] = x[i] * scale * w[i];
}

void sl_kern_softmax(float *x, int n) {
  if (n <= 0) return;
  int i = 0;
#if defined(__AVX512F__)
  /* All of it in vectors, the tail under a mask: with small heads (stories260K:
   * 8 dims) a row's scores are a few dozen values, and the scalar tail (a libm
   * expf per value) and scalar max and scale loops were half of softmax. */
  __m512 vm = _mm512_set1_ps(-INFINITY);
  for (; i + 16 <= n; i += 16) vm = _mm512_max_ps(vm, _mm512_loadu_ps(x + i));
  __mmask16 tail = (__mmask16)((1u << (n - i)) - 1);
  vm = _mm512_mask_max_ps(vm, tail, vm, _mm512_maskz_loadu_ps(tail, x + i));
  vm = _mm512_set1_ps(_mm512_reduce_max_ps(vm));
  __m512 vs = _mm512_setzero_ps();
  for (i = 0; i + 16 <= n; i += 16) {
    __m512 e = exp512(_mm512_sub_ps(_mm512_loadu_ps(x + i), vm));
    _mm512_storeu_ps(x + i, e);
    vs = _mm512_add_ps(vs, e);
  }
  if (tail) {
    __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(tail, x + i), vm));
    _mm512_mask_storeu_ps(x + i, tail, e);
    vs = _mm512_mask_add_ps(vs, tail, vs, e);
  }
  __m512 inv = _mm512_set1_ps((float)(1.0 / _mm512_reduce_add_ps(vs)));
  for (i = 0; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, _mm512_mul_ps(_mm512_loadu_ps(x + i), inv));
  if (tail) _mm512_mask_storeu_ps(x + i, tail, _mm512_mul_ps(_mm512_maskz_loadu_ps(tail, x + i), inv));
#elif defined(__AVX2__) && defined(__FMA__)
  /* the AVX-512 loop's arithmetic, 8 lanes at a time */
  __m256 vm = _mm256_set1_ps(-INFINITY);
  for (; i + 8 <= n; i += 8) vm = _mm256_max_ps(vm, _mm256_loadu_ps(x + i));
  __m256i tail = lanes256(n - i);
  __m256 xt = _mm256_blendv_ps(vm, _mm256_maskload_ps(x + i, tail), _mm256_castsi256_ps(tail));
  vm = _mm256_set1_ps(hmax256(_mm256_max_ps(vm, xt)));
  __m256 vs = _mm256_setzero_ps();
  for (i = 0; i + 8 <= n; i += 8) {
    __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
    _mm256_storeu_ps(x + i, e);
    vs = _mm256_add_ps(vs, e);
  }
  if (i < n) {
    __m256 e = _mm256_and_ps(exp256(_mm256_sub_ps(_mm256_maskload_ps(x + i, tail), vm)), _mm256_castsi256_ps(tail));
    _mm256_maskstore_ps(x + i, tail, e);
    vs = _mm256_add_ps(vs, e);
  }
  __m256 inv = _mm256_set1_ps((float)(1.0 / hsum256(vs)));
  for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), inv));
  if (i < n) _mm256_maskstore_ps(x + i, tail, _mm256_mul_ps(_mm256_maskload_ps(x + i, tail), inv));
#else
  float mx = x[0];
  for (i = 1; i < n; i++) mx = x[i] > mx ? x[i] : mx;
  double sum = 0;
  for (i = 0; i < n; i++) {
    x[i] = expf(x[i] - mx);
    sum += x[i];
  }
  float inv = (float)(1.0 / sum);
  for (i = 0; i < n; i++) x[i] *= inv;
#endif
}

float sl_kern_silu(float x) { return x / (1.f + expf(-x)); }

void sl_kern_silu_mul(float *out, const float *a, const float *b, int n) {
  int i = 0;
#if defined(__AVX512F__)
  /* The tail under a mask too: stories260K's 172 left 12 values per row for
   * libm's expf, a call each (~1 µs of an 8-row step). */
  const __m512 one = _mm512_set1_ps(1.f);
  for (; i < n; i += 16) {
    __mmask16 k = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
    __m512 x = _mm512_maskz_loadu_ps(k, a + i);
    __m512 e = exp512(_mm512_sub_ps(_mm512_setzero_ps(), x));
    _mm512_mask_storeu_ps(out + i, k, _mm512_mul_ps(_mm512_div_ps(x, _mm512_add_ps(one, e)), _mm512_maskz_loadu_ps(k, b + i)));
  }
#elif defined(__AVX2__) && defined(__FMA__)
  const __m256 one = _mm256_set1_ps(1.f);
  for (; i < n; i += 8) {
    __m256i k = lanes256(n - i);
    __m256 x = _mm256_maskload_ps(a + i, k);
    __m256 e = exp256(_mm256_sub_ps(_mm256_setzero_ps(), x));
    _mm256_maskstore_ps(out + i, k, _mm256_mul_ps(_mm256_div_ps(x, _mm256_add_ps(one, e)), _mm256_maskload_ps(b + i, k)));
  }
#endif
  for (; i < n; i++) out[i] = sl_kern_silu(a[i]) * b[i];
}

void sl_kern_add(float *y, const float *x, int n) {
  for (int i = 0; i < n; i++) y[i] += x[i];
}

void sl_kern_rope_inv_freq(float *inv_freq, int n_rot, float base, float freq_scale,
                           const float *factors) {
  for (int i = 0; i < n_rot / 2; i++) {
    double f = freq_scale * pow((double)base, -2.0 * i / n_rot);
    if (factors) f /= factors[i];
    inv_freq[i] = (float)f;
  }
}

void sl_kern_rope_cs(float *cs, int pos, const float *inv_freq, int n_rot) {
  for (int i = 0; i < n_rot / 2; i++) {
    double th = (double)pos * inv_freq[i];
    cs[2 * i] = (float)cos(th);
    cs[2 * i + 1] = (float)sin(th);
  }
}

void sl_kern_rope_apply(float *x, int n_heads, int head_dim, int n_rot, const float *cs, bool neox) {
  for (int h = 0; h < n_heads; h++) {
    float *v = x + (size_t)h * head_dim;
    for (int i = 0; i < n_rot / 2; i++) {
      float c = cs[2 * i], s = cs[2 * i + 1];
      int a = neox ? i : 2 * i, b = neox ? i + n_rot / 2 : 2 * i + 1;
      float x0 = v[a], x1 = v[b];
      v[a] = x0 * c - x1 * s;
      v[b] = x0 * s + x1 * c;
    }
  }
}

void sl_kern_rope(float *x, int n_heads, int head_dim, int n_rot, int pos, const float *inv_freq,
                  bool neox) {
  for (int i = 0; i < n_rot / 2; i++) {
    double th = (double)pos * inv_freq[i];
    float c = (float)cos(th), s = (float)sin(th);
    for (int h = 0; h < n_heads; h++) {
      float *v = x + (size_t)h * head_dim;
      int a = neox ? i : 2 * i, b = neox ? i + n_rot / 2 : 2 * i + 1;
      float x0 = v[a], x1 = v[b];
      v[a] = x0 * c - x1 * s;
      v[b] = x0 * s + x1 * c;
    }
  }
}

void sl_kern_kv_store(float *k_cache, float *v_cache, const float *k, const float *v, int pos,
                      int n_kv_heads, int head_dim, size_t k_head_stride, size_t v_head_stride) {
  const int B = SL_KERN_KV_BLOCK;
  for (int g = 0; g < n_kv_heads; g++) {
    float *kb = k_cache + g * k_head_stride + (size_t)(pos / B) * head_dim * B + pos % B;
    const float *kr = k + (size_t)g * head_dim;
    for (int i = 0; i < head_dim; i++) kb[(size_t)i * B] = kr[i];
    memcpy(v_cache + g * v_head_stride + (size_t)pos * head_dim, v + (size_t)g * head_dim,
           sizeof(float) * head_dim);
  }
}

/* s[t] = scale · q · k_t for t < round_up(n, 16): one FMA per key dim per block. */
static void scores(float *s, const float *q, const float *kh, int hd, int n, float scale) {
  const int B = SL_KERN_KV_BLOCK;
  for (int b = 0; b * B < n; b++) {
    const float *kb = kh + (size_t)b * hd * B;
#if defined(__AVX512F__)
    /* Four independent accumulators: one chain of 64 dependent FMAs would run at
     * FMA latency, not throughput. */
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int i = 0;
    for (; i + 4 <= hd; i += 4) {
      a0 = _mm512_fmadd_ps(_mm512_set1_ps(q[i]), _mm512_loadu_ps(kb + i * B), a0);
      a1 = _mm512_fmadd_ps(_mm512_set1_ps(q[i + 1]), _mm512_loadu_ps(kb + (i + 1) * B), a1);
      a2 = _mm512_fmadd_ps(_mm512_set1_ps(q[i + 2]), _mm512_loadu_ps(kb + (i + 2) * B), a2);
      a3 = _mm512_fmadd_ps(_mm512_set1_ps(q[i + 3]), _mm512_loadu_ps(kb + (i + 3) * B), a3);
    }
    for (; i < hd; i++) a0 = _mm512_fmadd_ps(_mm512_set1_ps(q[i]), _mm512_loadu_ps(kb + i * B), a0);
    __m512 acc = _mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3));
    _mm512_storeu_ps(s + b * B, _mm512_mul_ps(acc, _mm512_set1_ps(scale)));
#elif defined(__AVX2__) && defined(__FMA__)
    /* the block's 16 positions as two halves, two chains each */
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, b0 = a0, b1 = a0;
    int i = 0;
    for (; i + 2 <= hd; i += 2) {
      __m256 q0 = _mm256_set1_ps(q[i]), q1 = _mm256_set1_ps(q[i + 1]);
      a0 = _mm256_fmadd_ps(q0, _mm256_loadu_ps(kb + i * B), a0);
      b0 = _mm256_fmadd_ps(q0, _mm256_loadu_ps(kb + i * B + 8), b0);
      a1 = _mm256_fmadd_ps(q1, _mm256_loadu_ps(kb + (i + 1) * B), a1);
      b1 = _mm256_fmadd_ps(q1, _mm256_loadu_ps(kb + (i + 1) * B + 8), b1);
    }
    if (i < hd) {
      __m256 q0 = _mm256_set1_ps(q[i]);
      a0 = _mm256_fmadd_ps(q0, _mm256_loadu_ps(kb + i * B), a0);
      b0 = _mm256_fmadd_ps(q0, _mm256_loadu_ps(kb + i * B + 8), b0);
    }
    __m256 sc = _mm256_set1_ps(scale);
    _mm256_storeu_ps(s + b * B, _mm256_mul_ps(_mm256_add_ps(a0, a1), sc));
    _mm256_storeu_ps(s + b * B + 8, _mm256_mul_ps(_mm256_add_ps(b0, b1), sc));
#else
    float acc[16] = {0};
    for (int i = 0; i < hd; i++)
      for (int j = 0; j < B; j++) acc[j] += q[i] * kb[i * B + j];
    for (int j = 0; j < B; j++) s[b * B + j] = acc[j] * scale;
#endif
  }
}

/* o = Σ_t p[t] · v[t] over n rows of hd floats, accumulating in registers. */
static void pv(float *o, const float *p, const float *vh, int n, int hd) {
#if defined(__AVX512F__)
  if (hd % 16 == 0) {
    for (int c = 0; c < hd; c += 64) {
      int w = hd - c < 64 ? hd - c : 64;
      /* Two positions per iteration into separate accumulators (b*), for 8
       * independent FMA chains at head_dim 64. */
      __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
      const float *vr = vh + c;
      int t = 0;
      for (; t + 2 <= n; t += 2, vr += 2 * hd) {
        __m512 pt = _mm512_set1_ps(p[t]), pu = _mm512_set1_ps(p[t + 1]);
        const float *vs = vr + hd;
        a0 = _mm512_fmadd_ps(pt, _mm512_loadu_ps(vr), a0);
        b0 = _mm512_fmadd_ps(pu, _mm512_loadu_ps(vs), b0);
        if (w > 16) a1 = _mm512_fmadd_ps(pt, _mm512_loadu_ps(vr + 16), a1), b1 = _mm512_fmadd_ps(pu, _mm512_loadu_ps(vs + 16), b1);
        if (w > 32) a2 = _mm512_fmadd_ps(pt, _mm512_loadu_ps(vr + 32), a2), b2 = _mm512_fmadd_ps(pu, _mm512_loadu_ps(vs + 32), b2);
        if (w > 48) a3 = _mm512_fmadd_ps(pt, _mm512_loadu_ps(vr + 48), a3), b3 = _mm512_fmadd_ps(pu, _mm512_loadu_ps(vs + 48), b3);
      }
      for (; t < n; t++, vr += hd) {
        __m512 pt = _mm512_set1_ps(p[t]);
        a0 = _mm512_fmadd_ps(pt, _mm512_loadu_ps(vr), a0);
        if (w > 16) a1 = _mm512_fmadd_ps(pt, _mm512_loadu_ps(vr + 16), a1);
        if (w > 32) a2 = _mm512_fmadd_ps(pt, _mm512_loadu_ps(vr + 32), a2);
        if (w > 48) a3 = _mm512_fmadd_ps(pt, _mm512_loadu_ps(vr + 48), a3);
      }
      a0 = _mm512_add_ps(a0, b0), a1 = _mm512_add_ps(a1, b1), a2 = _mm512_add_ps(a2, b2), a3 = _mm512_add_ps(a3, b3);
      _mm512_storeu_ps(o + c, a0);
      if (w > 16) _mm512_storeu_ps(o + c + 16, a1);
      if (w > 32) _mm512_storeu_ps(o + c + 32, a2);
      if (w > 48) _mm512_storeu_ps(o + c + 48, a3);
    }
    return;
  }
#endif
#if defined(__AVX2__) && defined(__FMA__)
  if (hd % 8 == 0) {
    /* Small heads (stories260K: 8 dims): 8 columns at a time, four positions per
     * iteration into separate accumulators. The axpy below would load and store
     * o for every position, one store-to-load chain through memory. */
    for (int c = 0; c < hd; c += 8) {
      __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
      const float *vr = vh + c;
      int t = 0;
      for (; t + 4 <= n; t += 4, vr += 4 * hd) {
        a0 = _mm256_fmadd_ps(_mm256_set1_ps(p[t]), _mm256_loadu_ps(vr), a0);
        a1 = _mm256_fmadd_ps(_mm256_set1_ps(p[t + 1]), _mm256_loadu_ps(vr + hd), a1);
        a2 = _mm256_fmadd_ps(_mm256_set1_ps(p[t + 2]), _mm256_loadu_ps(vr + 2 * hd), a2);
        a3 = _mm256_fmadd_ps(_mm256_set1_ps(p[t + 3]), _mm256_loadu_ps(vr + 3 * hd), a3);
      }
      for (; t < n; t++, vr += hd) a0 = _mm256_fmadd_ps(_mm256_set1_ps(p[t]), _mm256_loadu_ps(vr), a0);
      _mm256_storeu_ps(o + c, _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    }
    return;
  }
#endif
  memset(o, 0, sizeof(float) * hd);
  for (int t = 0; t < n; t++) axpy(o, p[t], vh + (size_t)t * hd, hd);
}

void sl_kern_attention_head(float *out, const float *q, const float *k_head, const float *v_head,
                            int n_pos, int head_dim, float *scratch) {
  scores(scratch, q, k_head, head_dim, n_pos, 1.f / sqrtf((float)head_dim));
  sl_kern_softmax(scratch, n_pos);
  pv(out, scratch, v_head, n_pos, head_dim);
}

#if defined(__AVX512F__)
/* One 8-dim head over n ≤ 64 positions with every intermediate in registers:
 * the same operations in the same order as scores(), sl_kern_softmax() and pv()
 * above (so the same bits), without their passes through memory, calls and
 * loops. Only the probabilities go through p (64 floats), for pv's broadcasts. */
static inline __attribute__((always_inline)) void head8_short(float *out, const float *q, const float *kh,
                                                              const float *vh, int n, float *p) {
  const int B = SL_KERN_KV_BLOCK;
  const __m512 zero = _mm512_setzero_ps(), scale = _mm512_set1_ps(1.f / sqrtf(8.f));
  __m512 qv[8], sc[4];
  for (int i = 0; i < 8; i++) qv[i] = _mm512_set1_ps(q[i]);
  int nb = (n + B - 1) / B, nf = n / B;
  for (int b = 0; b < nb; b++) {
    const float *kb = kh + (size_t)b * 8 * B;
    __m512 a0 = _mm512_fmadd_ps(qv[0], _mm512_loadu_ps(kb), zero);
    __m512 a1 = _mm512_fmadd_ps(qv[1], _mm512_loadu_ps(kb + B), zero);
    __m512 a2 = _mm512_fmadd_ps(qv[2], _mm512_loadu_ps(kb + 2 * B), zero);
    __m512 a3 = _mm512_fmadd_ps(qv[3], _mm512_loadu_ps(kb + 3 * B), zero);
    a0 = _mm512_fmadd_ps(qv[4], _mm512_loadu_ps(kb + 4 * B), a0);
    a1 = _mm512_fmadd_ps(qv[5], _mm512_loadu_ps(kb + 5 * B), a1);
    a2 = _mm512_fmadd_ps(qv[6], _mm512_loadu_ps(kb + 6 * B), a2);
    a3 = _mm512_fmadd_ps(qv[7], _mm512_loadu_ps(kb + 7 * B), a3);
    sc[b] = _mm512_mul_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)), scale);
  }
  __mmask16 tail = (__mmask16)((1u << (n - nf * B)) - 1);
  __m512 vm = _mm512_set1_ps(-INFINITY);
  for (int b = 0; b < nf; b++) vm = _mm512_max_ps(vm, sc[b]);
  if (tail) vm = _mm512_mask_max_ps(vm, tail, vm, sc[nf]);
  vm = _mm512_set1_ps(_mm512_reduce_max_ps(vm));
  __m512 vs = zero;
  for (int b = 0; b < nf; b++) {
    sc[b] = exp512(_mm512_sub_ps(sc[b], vm));
    vs = _mm512_add_ps(vs, sc[b]);
  }
  if (tail) {
    sc[nf] = exp512(_mm512_sub_ps(_mm512_maskz_mov_ps(tail, sc[nf]), vm));
    vs = _mm512_mask_add_ps(vs, tail, vs, sc[nf]);
  }
  __m512 inv = _mm512_set1_ps((float)(1.0 / _mm512_reduce_add_ps(vs)));
  for (int b = 0; b < nb; b++) _mm512_storeu_ps(p + b * B, _mm512_mul_ps(sc[b], inv));
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  const float *vr = vh;
  int t = 0;
  for (; t + 4 <= n; t += 4, vr += 32) {
    a0 = _mm256_fmadd_ps(_mm256_set1_ps(p[t]), _mm256_loadu_ps(vr), a0);
    a1 = _mm256_fmadd_ps(_mm256_set1_ps(p[t + 1]), _mm256_loadu_ps(vr + 8), a1);
    a2 = _mm256_fmadd_ps(_mm256_set1_ps(p[t + 2]), _mm256_loadu_ps(vr + 16), a2);
    a3 = _mm256_fmadd_ps(_mm256_set1_ps(p[t + 3]), _mm256_loadu_ps(vr + 24), a3);
  }
  for (; t < n; t++, vr += 8) a0 = _mm256_fmadd_ps(_mm256_set1_ps(p[t]), _mm256_loadu_ps(vr), a0);
  _mm256_storeu_ps(out, _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
}
#endif

void sl_kern_attention_group(float *out, const float *q, const float *k_head, const float *v_head, int n_pos,
                             int head_dim, int n_q, float *scratch) {
#if defined(__AVX512F__)
  /* stories260K: 8-dim heads, two per KV head, a few dozen positions. Head by
   * head through sl_kern_attention_head an 8-row step spent ~20 µs in attention
   * (320 heads at ~60 ns), mostly latency: each head's scores, softmax and
   * value sum went through memory one after another. Here a head's work is one
   * block of straight-line code, and the group's heads (independent) overlap. */
  if (head_dim == 8 && n_pos <= 4 * SL_KERN_KV_BLOCK) {
    float p[2][4 * SL_KERN_KV_BLOCK];
    int j = 0;
    for (; j + 2 <= n_q; j += 2) {
      head8_short(out + j * 8, q + j * 8, k_head, v_head, n_pos, p[0]);
      head8_short(out + j * 8 + 8, q + j * 8 + 8, k_head, v_head, n_pos, p[1]);
    }
    if (j < n_q) head8_short(out + j * 8, q + j * 8, k_head, v_head, n_pos, p[0]);
    return;
  }
#endif
  for (int j = 0; j < n_q; j++)
    sl_kern_attention_head(out + (size_t)j * head_dim, q + (size_t)j * head_dim, k_head, v_head, n_pos, head_dim,
                           scratch);
}

/* ---- F16 KV cache: the same layout and arithmetic, half the bytes ---- */

static inline uint16_t kv_f16(float x) {
#if defined(__F16C__)
  return (uint16_t)_cvtss_sh(x, _MM_FROUND_TO_NEAREST_INT);
#else
  return sl_kern_f32_to_f16(x);
#endif
}

void sl_kern_kv_store_f16(uint16_t *k_cache, uint16_t *v_cache, const float *k, const float *v, int pos,
                          int n_kv_heads, int head_dim, size_t k_head_stride, size_t v_head_stride) {
  const int B = SL_KERN_KV_BLOCK;
  for (int g = 0; g < n_kv_heads; g++) {
    uint16_t *kb = k_cache + g * k_head_stride + (size_t)(pos / B) * head_dim * B + pos % B;
    uint16_t *vr = v_cache + g * v_head_stride + (size_t)pos * head_dim;
    const float *kr = k + (size_t)g * head_dim, *vs = v + (size_t)g * head_dim;
    int i = 0;
#if defined(__AVX512F__)
    for (; i + 16 <= head_dim; i += 16) {
      uint16_t h[16];
      _mm256_storeu_si256((__m256i *)h, _mm512_cvtps_ph(_mm512_loadu_ps(kr + i), _MM_FROUND_TO_NEAREST_INT));
      for (int j = 0; j < 16; j++) kb[(size_t)(i + j) * B] = h[j];
      _mm256_storeu_si256((__m256i *)(vr + i), _mm512_cvtps_ph(_mm512_loadu_ps(vs + i), _MM_FROUND_TO_NEAREST_INT));
    }
#elif defined(__AVX2__) && defined(__FMA__) && defined(__F16C__) /* where <immintrin.h> is included */
    for (; i + 8 <= head_dim; i += 8) {
      uint16_t h[8];
      _mm_storeu_si128((__m128i *)h, _mm256_cvtps_ph(_mm256_loadu_ps(kr + i), _MM_FROUND_TO_NEAREST_INT));
      for (int j = 0; j < 8; j++) kb[(size_t)(i + j) * B] = h[j];
      _mm_storeu_si128((__m128i *)(vr + i), _mm256_cvtps_ph(_mm256_loadu_ps(vs + i), _MM_FROUND_TO_NEAREST_INT));
    }
#endif
    for (; i < head_dim; i++) kb[(size_t)i * B] = kv_f16(kr[i]), vr[i] = kv_f16(vs[i]);
  }
}

void sl_kern_attention_head_f16(float *out, const float *q, const uint16_t *kh, const uint16_t *vh, int n_pos,
                                int hd, float *s) {
  const int B = SL_KERN_KV_BLOCK;
  float scale = 1.f / sqrtf((float)hd);
  for (int b = 0; b * B < n_pos; b++) {
    const uint16_t *kb = kh + (size_t)b * hd * B;
#if defined(__AVX512F__)
#define KH(i) _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(kb + (i) * B)))
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int i = 0;
    for (; i + 4 <= hd; i += 4) {
      a0 = _mm512_fmadd_ps(_mm512_set1_ps(q[i]), KH(i), a0);
      a1 = _mm512_fmadd_ps(_mm512_set1_ps(q[i + 1]), KH(i + 1), a1);
      a2 = _mm512_fmadd_ps(_mm512_set1_ps(q[i + 2]), KH(i + 2), a2);
      a3 = _mm512_fmadd_ps(_mm512_set1_ps(q[i + 3]), KH(i + 3), a3);
    }
    for (; i < hd; i++) a0 = _mm512_fmadd_ps(_mm512_set1_ps(q[i]), KH(i), a0);
#undef KH
    a0 = _mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3));
    _mm512_storeu_ps(s + b * B, _mm512_mul_ps(a0, _mm512_set1_ps(scale)));
#elif defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#define KH(i, h) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(kb + (i) * B + 8 * (h))))
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, b0 = a0, b1 = a0;
    int i = 0;
    for (; i + 2 <= hd; i += 2) {
      __m256 q0 = _mm256_set1_ps(q[i]), q1 = _mm256_set1_ps(q[i + 1]);
      a0 = _mm256_fmadd_ps(q0, KH(i, 0), a0);
      b0 = _mm256_fmadd_ps(q0, KH(i, 1), b0);
      a1 = _mm256_fmadd_ps(q1, KH(i + 1, 0), a1);
      b1 = _mm256_fmadd_ps(q1, KH(i + 1, 1), b1);
    }
    if (i < hd) {
      __m256 q0 = _mm256_set1_ps(q[i]);
      a0 = _mm256_fmadd_ps(q0, KH(i, 0), a0);
      b0 = _mm256_fmadd_ps(q0, KH(i, 1), b0);
    }
#undef KH
    __m256 sc = _mm256_set1_ps(scale);
    _mm256_storeu_ps(s + b * B, _mm256_mul_ps(_mm256_add_ps(a0, a1), sc));
    _mm256_storeu_ps(s + b * B + 8, _mm256_mul_ps(_mm256_add_ps(b0, b1), sc));
#else
    float acc[16] = {0};
    for (int i = 0; i < hd; i++)
      for (int j = 0; j < B; j++) acc[j] += q[i] * sl_kern_f16_to_f32(kb[i * B + j]);
    for (int j = 0; j < B; j++) s[b * B + j] = acc[j] * scale;
#endif
  }
  sl_kern_softmax(s, n_pos);
  int c = 0;
#if defined(__AVX512F__)
  for (; c + 16 <= hd; c += 16) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0;
    const uint16_t *vr = vh + c;
    int t = 0;
    for (; t + 2 <= n_pos; t += 2, vr += 2 * hd) {
      a0 = _mm512_fmadd_ps(_mm512_set1_ps(s[t]), _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)vr)), a0);
      a1 = _mm512_fmadd_ps(_mm512_set1_ps(s[t + 1]), _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(vr + hd))), a1);
    }
    if (t < n_pos)
      a0 = _mm512_fmadd_ps(_mm512_set1_ps(s[t]), _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)vr)), a0);
    _mm512_storeu_ps(out + c, _mm512_add_ps(a0, a1));
  }
#elif defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
  for (; c + 8 <= hd; c += 8) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0;
    const uint16_t *vr = vh + c;
    int t = 0;
    for (; t + 2 <= n_pos; t += 2, vr += 2 * hd) {
      a0 = _mm256_fmadd_ps(_mm256_set1_ps(s[t]), _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)vr)), a0);
      a1 = _mm256_fmadd_ps(_mm256_set1_ps(s[t + 1]), _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(vr + hd))), a1);
    }
    if (t < n_pos)
      a0 = _mm256_fmadd_ps(_mm256_set1_ps(s[t]), _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)vr)), a0);
    _mm256_storeu_ps(out + c, _mm256_add_ps(a0, a1));
  }
#endif
  for (; c < hd; c++) {
    float o = 0;
    for (int t = 0; t < n_pos; t++) o += s[t] * sl_kern_f16_to_f32(vh[(size_t)t * hd + c]);
    out[c] = o;
  }
}

void sl_kern_attention(float *out, const float *q, const float *k_cache, const float *v_cache,
                       int n_pos, int n_heads, int n_kv_heads, int head_dim, size_t k_head_stride,
                       size_t v_head_stride, float *scratch) {
  int group = n_heads / n_kv_heads;
  for (int h = 0; h < n_heads; h++) {
    int g = h / group;
    sl_kern_attention_head(out + (size_t)h * head_dim, q + (size_t)h * head_dim, k_cache + g * k_head_stride,
                           v_cache + g * v_head_stride, n_pos, head_dim, scratch);
  }
}
