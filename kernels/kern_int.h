/* Internals shared by the matmul front end and its implementations (oneDNN and
 * the plain-C reference), which sit behind one table of function pointers chosen
 * once in sl_kern_new(). Not for use outside kernels/. */
#ifndef SL_KERN_INT_H
#define SL_KERN_INT_H

#include "kernels.h"

typedef struct {
  int (*init)(sl_kern_t *k);
  void (*fini)(sl_kern_t *k);
  /* Takes the prepared plain weights in m->w (f32, bf16 or s8, n_out × n_in
   * row-major) and may replace them with its own layout. */
  int (*mat_init)(sl_kern_t *k, sl_kern_mat_t *m);
  void (*mat_fini)(sl_kern_mat_t *m);
  /* x is f32, bf16 or s8 (m->prec) m rows × n_in. For s8 the implementation
   * applies both scales, y = Σ x·w · (k->act_scale[r] · w->w_scale[n]) (with
   * sl__kern_scale_rows, or in its own loop with the same rounding). */
  int (*matmul)(sl_kern_t *k, const sl_kern_mat_t *w, const void *x, int m, float *y);
  /* With 2 or more threads: whether a product of m rows runs on the caller and
   * its helper thread (sl__kern_parallel). NULL: never. */
  bool (*on_helper)(const sl_kern_mat_t *w, int m);
  /* Whether a product of m rows gives every row the same outputs when its rows
   * are computed in separate products (of any count down to one) inside shares
   * of sl__kern_parallel, each on the thread that runs the share, with no
   * scratch shared between calls. NULL: never. */
  bool (*rows_apart)(const sl_kern_mat_t *w, int m);
} sl__kern_ops_t;

/* Q4_0 weights kept at 4 bits for one-row products (kern_q4.c). */
typedef struct sl__q4 sl__q4_t;

struct sl_kern {
  sl_kern_impl_t impl;
  const sl__kern_ops_t *ops;
  int max_m;
  size_t max_in;     /* scratch below holds max_m × max_in activations */
  void *act;         /* converted activations (bf16 or s8) */
  float *act_scale;  /* per-row activation scales (s8) */
  int32_t *q4_bias;  /* max_in / 4 lanes for kern_q4.c */
  void *impl_data;
};

struct sl_kern_mat {
  sl_kern_t *k;
  int n_out, n_in;
  sl_kern_prec_t prec;
  void *w;          /* plain weights (reference) — oneDNN frees them after packing */
  float *w_scale;   /* s8: one scale per output row */
  size_t bytes;     /* weight bytes held */
  sl__q4_t *q4;     /* s8 from Q4_0: the 4-bit copy for one-row products, or NULL */
  void *impl_data;
};

/* Products of at least this many multiply-adds split with the helper thread. */
#define SL__KERN_HELPER_MACS (1u << 19)

/* The 4-bit copy of n_out rows of Q4_0 blocks (n_in inputs each), its bytes, and
 * y = x · wᵀ for one row of s8 x whose scale is xs. SL_EUNSUPPORTED when this
 * build has neither VNNI nor AVX2 or n_in is not a multiple of 128. */
int sl__kern_q4_new(const void *src, int n_out, int n_in, sl__q4_t **out);
void sl__kern_q4_free(sl__q4_t *q);
size_t sl__kern_q4_bytes(const sl__q4_t *q);
int sl__kern_q4_matmul(sl_kern_t *k, const sl__q4_t *q, const int8_t *x, float xs, float *y);

/* kern_avx2.c: every s8 product on CPUs with AVX2 but no VNNI, from its own
 * packed copy of the weights (exact integer sums, full 8-bit weights). */
#if defined(__AVX2__) && !defined(__AVX512VNNI__)
#define SL__KERN_AVX2_S8 1
#else
#define SL__KERN_AVX2_S8 0
#endif
/* and the f32 products of one or two rows of a small matrix where oneDNN keeps
 * f32 weights plain (K × N) for its gemm:jit, i.e. without AVX-512 */
#if defined(__AVX2__) && defined(__FMA__) && !defined(__AVX512F__)
#define SL__KERN_AVX2_F32 1
#else
#define SL__KERN_AVX2_F32 0
#endif
typedef struct sl__s8p sl__s8p_t;
int sl__s8p_new(const int8_t *w, int n_out, int n_in, sl__s8p_t **out);
void sl__s8p_free(sl__s8p_t *p);
size_t sl__s8p_bytes(const sl__s8p_t *p);
int sl__s8p_panels(const sl__s8p_t *p);
/* y (m × n_out) = x (m × n_in, s8) · W, scaled by xs[r] · ws[n], for the output
 * panels pb0..pb1-1 (16 columns each) */
void sl__s8p_matmul(const sl__s8p_t *p, const int8_t *x, int m, const float *xs, const float *ws, float *y,
                    int pb0, int pb1);
/* y (m × n, m ≤ 2) = x (m × k) · w (k × n, row-major) */
#define SL__F32AB_MAX_BYTES (256u << 10)
void sl__f32ab_matmul(const float *w, int n, int k, const float *x, int m, float *y);

/* y[r][n] *= k->act_scale[r] · w->w_scale[n] over m rows: the s8 scales applied
 * to raw integer sums. */
void sl__kern_scale_rows(const sl_kern_t *k, const sl_kern_mat_t *w, int m, float *y);

/* The calling thread's configured thread count (1 inside a share of
 * sl__kern_parallel), and a raw setter that does not change it (for temporarily
 * running a small product on one thread). */
int sl__kern_threads(void);
/* True while the calling thread runs a share of sl__kern_parallel: there a
 * product runs on this thread alone, and one of a single row is computed as a
 * row of a multi-row product (see rows_apart). */
bool sl__kern_in_share(void);
void sl__kern_omp_threads(int n);
/* Runs fn(arg, ith, nth) on nth threads, the caller as ith 0 and a helper thread
 * of the caller's (kern_matmul.c) as 1, and returns when both are done; if the
 * helper has not picked its share up by the time the caller's is done, the caller
 * runs fn(arg, 1, 2) itself. Only nth = 2 for now: n ≥ 2 runs two; n ≤ 1, or no
 * helper, runs fn(arg, 0, 1) on the caller. Inside a share (of nth 2) the
 * thread count reads 1: nothing forks again. */
void sl__kern_parallel(void (*fn)(void *arg, int ith, int nth), void *arg, int n);

extern const sl__kern_ops_t sl__kern_ref_ops;
extern const sl__kern_ops_t sl__kern_dnnl_ops;

#endif
