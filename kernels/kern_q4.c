/* One-row products straight from Q4_0 weights, 4 bits a weight: a decode step
 * streams every weight once per token, and the s8 copy the other products use
 * (kern_matmul.c) is twice the bytes. Prefill and batches of rows keep the s8
 * copy, where oneDNN's AMX and the few-row VNNI loop (kern_avx2.c's without
 * VNNI) are faster.
 *
 * Layout, per output row, per group of 128 inputs (four Q4_0 blocks): 64 bytes
 * whose low nibbles are the group's inputs 0..63 and high nibbles inputs
 * 64..127 (the q of Q4_0, 0..15), then the four blocks' f16 scales d: 72 bytes
 * for 128 weights, the same bytes per weight as Q4_0. Rows follow each other,
 * so a product streams one contiguous array.
 *
 * Sums: with s8 activations x (per-row scale xs, as every s8 product here) and
 * w = d · (q − 8), y = xs · Σ_blocks d · Σ (q − 8) · x. vpdpbusd multiplies the
 * unsigned nibbles by x, four products per 32-bit lane, onto a lane that starts
 * at −8 · (the lane's four x): the block sums are exact integers; the scales are
 * applied in f32. Without VNNI (AVX2), vpmaddubsw and vpmaddwd make the same
 * exact block sums of q · x, and −8 · Σ x is added per block in f32. */
#include "kern_int.h"

#include "sl_err.h"

#include <stdlib.h>
#include <string.h>

#if defined(__AVX512VNNI__) && defined(__AVX512BW__)
#define Q4_VNNI 1
#elif SL__KERN_AVX2_S8 && defined(__F16C__) && defined(__FMA__)
#define Q4_AVX2 1 /* the same sums with vpmaddubsw (a pair of products ≤ 2 · 15 · 127) */
#endif

#if Q4_VNNI || Q4_AVX2
#include <immintrin.h>

#define Q4_GROUP 128
#define Q4_REC 72

struct sl__q4 {
  int n_out, n_in;
  uint8_t *w; /* n_out × (n_in / 128) records of Q4_REC bytes */
};

int sl__kern_q4_new(const void *src, int n_out, int n_in, sl__q4_t **out) {
  *out = NULL;
  if (n_in % Q4_GROUP) return SL_EUNSUPPORTED;
  size_t groups = (size_t)n_in / Q4_GROUP, row_src = (size_t)n_in / 32 * SL_KERN_Q4_0_BYTES;
  sl__q4_t *q = calloc(1, sizeof *q);
  if (!q || !(q->w = aligned_alloc(64, ((size_t)n_out * groups * Q4_REC + 63) / 64 * 64))) {
    free(q);
    return SL_ENOMEM;
  }
  q->n_out = n_out;
  q->n_in = n_in;
  const uint8_t *s = src;
  uint8_t nib[Q4_GROUP];
  for (int n = 0; n < n_out; n++)
    for (size_t g = 0; g < groups; g++) {
      const uint8_t *blk = s + (size_t)n * row_src + g * 4 * SL_KERN_Q4_0_BYTES;
      uint8_t *rec = q->w + ((size_t)n * groups + g) * Q4_REC;
      for (int b = 0; b < 4; b++, blk += SL_KERN_Q4_0_BYTES) {
        /* ggml's block: d (f16), then byte j holds input j (low) and j + 16 (high) */
        for (int j = 0; j < 16; j++) {
          nib[b * 32 + j] = blk[2 + j] & 15;
          nib[b * 32 + j + 16] = blk[2 + j] >> 4;
        }
        memcpy(rec + 64 + 2 * b, blk, 2);
      }
      for (int j = 0; j < 64; j++) rec[j] = (uint8_t)(nib[j] | nib[j + 64] << 4);
    }
  *out = q;
  return 0;
}

void sl__kern_q4_free(sl__q4_t *q) {
  if (!q) return;
  free(q->w);
  free(q);
}

size_t sl__kern_q4_bytes(const sl__q4_t *q) { return (size_t)q->n_out * (q->n_in / Q4_GROUP) * Q4_REC; }

#if Q4_VNNI
/* −8 · the sum of each four consecutive inputs: the lanes vpdpbusd starts from. */
static void lane_bias(const int8_t *x, int n_in, int32_t *c) {
  for (int i = 0; i < n_in; i += 64) {
    __m512i v = _mm512_loadu_si512(x + i);
    /* 1 · x summed in fours, as a u8 × s8 product of ones and x */
    __m512i s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(1), v);
    _mm512_storeu_si512(c + i / 4, _mm512_mullo_epi32(s, _mm512_set1_epi32(-8)));
  }
}

#else
/* −8 · the sum of each block's 32 inputs: added once per block below, in f32. */
static void lane_bias(const int8_t *x, int n_in, int32_t *c) {
  const __m256i ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);
  for (int i = 0; i < n_in; i += 32) {
    __m256i s = _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, _mm256_loadu_si256((const __m256i *)(x + i))), ones16);
    __m128i h = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    h = _mm_hadd_epi32(h, h);
    c[i / 32] = -8 * (_mm_cvtsi128_si32(h) + _mm_extract_epi32(h, 1));
  }
}
#endif

typedef struct {
  const sl__q4_t *q;
  const int8_t *x;
  const int32_t *c;
  float xs;
  float *y;
} q4_job_t;

#if Q4_VNNI

/* Rows n0..n1-1 of y, four rows at a time so that x and its lane bias are read
 * once for four rows' weights. */
static void rows(const q4_job_t *j, int n0, int n1) {
  const int groups = j->q->n_in / Q4_GROUP;
  const __m512i lo4 = _mm512_set1_epi8(15);
  const __m512i pick01 = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
  const __m512i pick23 = _mm512_add_epi32(pick01, _mm512_set1_epi32(2));
  const size_t row_bytes = (size_t)groups * Q4_REC;
  const uint8_t *end = j->q->w + (size_t)j->q->n_out * row_bytes;
  for (int n = n0; n < n1; n += 4) {
    int R = n1 - n < 4 ? n1 - n : 4;
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    const uint8_t *base = j->q->w + (size_t)n * row_bytes;
    for (int g = 0; g < groups; g++) {
      __m512i x0 = _mm512_loadu_si512(j->x + g * Q4_GROUP), x1 = _mm512_loadu_si512(j->x + g * Q4_GROUP + 64);
      __m512i c0 = _mm512_loadu_si512(j->c + g * 32), c1 = _mm512_loadu_si512(j->c + g * 32 + 16);
      for (int r = 0; r < R; r++) {
        const uint8_t *rec = base + (size_t)r * row_bytes + (size_t)g * Q4_REC;
        /* the streamer stops at 4 KB pages: fetch 8 KB ahead (harmless past the end) */
        if (rec + 8192 < end) _mm_prefetch((const char *)(rec + 8192), _MM_HINT_T0);
        __m512i w = _mm512_loadu_si512(rec);
        __m512i p0 = _mm512_dpbusd_epi32(c0, _mm512_and_si512(w, lo4), x0);
        __m512i p1 = _mm512_dpbusd_epi32(c1, _mm512_and_si512(_mm512_srli_epi16(w, 4), lo4), x1);
        /* d of blocks 0..3 (f16) to lanes: 0 and 1 for p0's halves, 2 and 3 for p1's */
        __m512 d = _mm512_castps128_ps512(_mm_cvtph_ps(_mm_loadl_epi64((const __m128i *)(rec + 64))));
        acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p0), _mm512_permutexvar_ps(pick01, d), acc[r]);
        acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p1), _mm512_permutexvar_ps(pick23, d), acc[r]);
      }
    }
    for (int r = 0; r < R; r++) j->y[n + r] = j->xs * _mm512_reduce_add_ps(acc[r]);
  }
}
#else
/* rows() in 32-byte vectors, one row at a time (four at once spilled the
 * accumulators): the low nibbles of a record's first 32 bytes are block 0, of
 * its last 32 block 1; the high nibbles blocks 2 and 3. Each block's exact sum
 * of q · x lands in 8 lanes, multiplied by its scale in f32; its −8 · Σ x (from
 * lane_bias) is multiplied by the scale once, four blocks in one vector. */
static void rows(const q4_job_t *j, int n0, int n1) {
  const int groups = j->q->n_in / Q4_GROUP;
  const __m256i lo4 = _mm256_set1_epi8(15), ones = _mm256_set1_epi16(1);
  const size_t row_bytes = (size_t)groups * Q4_REC;
  const uint8_t *end = j->q->w + (size_t)j->q->n_out * row_bytes;
  for (int n = n0; n < n1; n++) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0;
    __m128 bias = _mm_setzero_ps();
    const uint8_t *rec = j->q->w + (size_t)n * row_bytes;
    for (int g = 0; g < groups; g++, rec += Q4_REC) {
      const int8_t *xg = j->x + g * Q4_GROUP;
      if (rec + 4096 < end) _mm_prefetch((const char *)(rec + 4096), _MM_HINT_T0); /* as above */
      __m256i wa = _mm256_loadu_si256((const __m256i *)rec), wb = _mm256_loadu_si256((const __m256i *)(rec + 32));
      __m128 d4 = _mm_cvtph_ps(_mm_loadl_epi64((const __m128i *)(rec + 64)));
      bias = _mm_fmadd_ps(d4, _mm_cvtepi32_ps(_mm_loadu_si128((const __m128i *)(j->c + 4 * g))), bias);
      __m256 d = _mm256_insertf128_ps(_mm256_castps128_ps256(d4), d4, 1);
#define Q4_BLOCK(acc, qv, b, imm)                                                                       \
  acc = _mm256_fmadd_ps(                                                                                 \
      _mm256_cvtepi32_ps(_mm256_madd_epi16(                                                              \
          _mm256_maddubs_epi16(qv, _mm256_loadu_si256((const __m256i *)(xg + 32 * (b)))), ones)),        \
      _mm256_shuffle_ps(d, d, imm), acc)
      Q4_BLOCK(a0, _mm256_and_si256(wa, lo4), 0, 0x00);
      Q4_BLOCK(a1, _mm256_and_si256(wb, lo4), 1, 0x55);
      Q4_BLOCK(a0, _mm256_and_si256(_mm256_srli_epi16(wa, 4), lo4), 2, 0xaa);
      Q4_BLOCK(a1, _mm256_and_si256(_mm256_srli_epi16(wb, 4), lo4), 3, 0xff);
#undef Q4_BLOCK
    }
    __m256 a = _mm256_add_ps(a0, a1);
    __m128 s = _mm_add_ps(_mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1)), bias);
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    j->y[n] = j->xs * _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
  }
}
#endif

static void q4_part(void *arg, int ith, int nth) {
  const q4_job_t *j = arg;
  /* halves on a multiple of 4 rows: each row's sum is the same on either thread */
  int n = j->q->n_out, half = (n / 2 + 3) / 4 * 4;
  if (nth == 1) rows(j, 0, n);
  else if (ith == 0) rows(j, 0, half < n ? half : n);
  else if (half < n) rows(j, half, n);
}

int sl__kern_q4_matmul(sl_kern_t *k, const sl__q4_t *q, const int8_t *x, float xs, float *y) {
  if (!k->q4_bias) return SL_EINVAL;
  lane_bias(x, q->n_in, k->q4_bias);
  q4_job_t j = {q, x, k->q4_bias, xs, y};
  int nt = sl__kern_threads();
  if (nt > 1 && (size_t)q->n_out * q->n_in >= SL__KERN_HELPER_MACS) sl__kern_parallel(q4_part, &j, nt);
  else q4_part(&j, 0, 1);
  return 0;
}

#else /* neither VNNI nor AVX2 in this build: the s8 copy serves every product */

int sl__kern_q4_new(const void *src, int n_out, int n_in, sl__q4_t **out) {
  (void)src, (void)n_out, (void)n_in;
  *out = NULL;
  return SL_EUNSUPPORTED;
}
void sl__kern_q4_free(sl__q4_t *q) { (void)q; }
size_t sl__kern_q4_bytes(const sl__q4_t *q) {
  (void)q;
  return 0;
}
int sl__kern_q4_matmul(sl_kern_t *k, const sl__q4_t *q, const int8_t *x, float xs, float *y) {
  (void)k, (void)q, (void)x, (void)xs, (void)y;
  return SL_EUNSUPPORTED;
}
#endif
