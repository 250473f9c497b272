/* The matmul front end: converts weights once at load into the precision asked
 * for, converts activations per call (bf16 rounding, per-row s8 quantisation), and
 * hands the product to the implementation chosen at sl_kern_new(). */
#include "kern_int.h"

#include "sl_err.h"

#include <dlfcn.h>
#if defined(__AVX2__)
#include <immintrin.h>
#endif
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *sl_kern_prec_name(sl_kern_prec_t p) {
  switch (p) {
  case SL_KPREC_F32: return "f32";
  case SL_KPREC_BF16: return "bf16";
  case SL_KPREC_S8: return "s8";
  }
  return "?";
}

static _Thread_local int tls_threads = 1;
/* Set on a helper thread for good, and on a calling thread while it runs a share
 * of sl__kern_parallel: products issued from inside a share run on the thread
 * that issues them, alone. */
static _Thread_local int tls_share;

/* oneDNN here runs on OpenMP, whose thread count is a per-thread setting. We look
 * omp_set_num_threads up at run time because libgomp is only an indirect
 * dependency (through libdnnl), which the linker will not resolve for us. */
void sl__kern_omp_threads(int n) {
  static void (*set)(int);
  static int looked;
  if (!looked) {
    set = (void (*)(int))dlsym(RTLD_DEFAULT, "omp_set_num_threads");
    looked = 1;
  }
  if (set && n > 0) set(n);
}

void sl_kern_set_threads(int n) {
  if (n < 1) n = 1;
  tls_threads = n;
  sl__kern_omp_threads(n);
}

int sl__kern_threads(void) { return tls_share ? 1 : tls_threads; }

bool sl__kern_in_share(void) { return tls_share; }

/* Two-way fork/join for the few-row products (gemm_s8, gemm_f32 in kern_dnnl.c): each
 * calling thread gets one helper thread, created on first use and stopped when
 * the caller exits. The helper spins for a while after each job before it sleeps:
 * a decode step issues ~50 products with tens of microseconds of other work
 * between them, and waking a sleeping thread costs about as much on this VM.
 * libgomp's own team was tried first (through GOMP_parallel): ~20 % of a
 * 2-thread 8-stream decode went to futex wake-ups of its worker, which is likely
 * libgomp spinning only ~100 times before it sleeps once it manages more threads
 * than there are CPUs (the loading thread's team and the engine thread's team
 * together would); the helper more than doubled the gain (docs/engine.md). */
#define HELPER_SPIN_NS 200000

/* One step of a spin-wait, i counting from 1: a pause (~20 ns here), and every
 * 64th step from step `from` on a sched_yield (~1.5 µs in this VM). When the
 * other VM load leaves the caller and its helper one core between them, the
 * thread being waited for may be the one that needs this CPU, and a plain spin
 * holds it until the scheduler's time slice ends. Both wait ~50-80 µs first,
 * longer than the gaps between the products of a forward pass and than a
 * helper's share normally takes: a helper yielding from the start spent ~17 %
 * of an 8-row step in the syscall and picked jobs up late. */
static inline void spin_step(int i, int from) {
#if defined(__AVX2__) /* where <immintrin.h> is included, above */
  _mm_pause();
#endif
  if (i >= from && i % 64 == 0) sched_yield();
}

typedef struct {
  pthread_t th;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  atomic_uint gen;   /* bumped by the caller for each job (and to stop) */
  atomic_uint taken; /* the last gen claimed: by the helper to run its share, or
                        by the caller to run that share itself */
  atomic_uint done;  /* the gen the helper last finished */
  atomic_int sleeping, stop;
  void (*fn)(void *arg, int ith, int nth);
  void *arg;
} helper_t;

static pthread_key_t helper_key;
static pthread_once_t helper_once = PTHREAD_ONCE_INIT;
static _Thread_local helper_t *tls_helper;

static double mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void *helper_main(void *p) {
  helper_t *h = p;
  unsigned seen = 0;
  tls_share = 1;
  for (;;) {
    unsigned g = atomic_load_explicit(&h->gen, memory_order_acquire);
    if (g == seen) {
      double t0 = mono_ns();
      for (int i = 1; (g = atomic_load_explicit(&h->gen, memory_order_acquire)) == seen; i++) {
        spin_step(i, 2560);
        if (i % 256 == 0 && mono_ns() - t0 > HELPER_SPIN_NS) {
          pthread_mutex_lock(&h->mu);
          atomic_store(&h->sleeping, 1);
          while ((g = atomic_load(&h->gen)) == seen) pthread_cond_wait(&h->cv, &h->mu);
          atomic_store(&h->sleeping, 0);
          pthread_mutex_unlock(&h->mu);
          break;
        }
      }
    }
    seen = g;
    if (atomic_load(&h->stop)) return NULL;
    unsigned prev = g - 1;
    if (!atomic_compare_exchange_strong(&h->taken, &prev, g)) continue; /* the caller ran it */
    h->fn(h->arg, 1, 2);
    atomic_store_explicit(&h->done, g, memory_order_release);
  }
}

static void helper_post(helper_t *h, unsigned g) {
  atomic_store(&h->gen, g);
  if (atomic_load(&h->sleeping)) {
    pthread_mutex_lock(&h->mu);
    pthread_cond_signal(&h->cv);
    pthread_mutex_unlock(&h->mu);
  }
}

/* Thread-exit destructor of the calling thread: stops and joins its helper. */
static void helper_stop(void *p) {
  helper_t *h = p;
  atomic_store(&h->stop, 1);
  helper_post(h, atomic_load(&h->gen) + 1);
  pthread_join(h->th, NULL);
  pthread_cond_destroy(&h->cv);
  pthread_mutex_destroy(&h->mu);
  free(h);
}

static void helper_key_init(void) { pthread_key_create(&helper_key, helper_stop); }

static helper_t *helper_get(void) {
  if (tls_helper) return tls_helper;
  pthread_once(&helper_once, helper_key_init);
  helper_t *h = calloc(1, sizeof *h);
  if (!h) return NULL;
  pthread_mutex_init(&h->mu, NULL);
  pthread_cond_init(&h->cv, NULL);
  if (pthread_create(&h->th, NULL, helper_main, h)) {
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    free(h);
    return NULL;
  }
  pthread_setspecific(helper_key, h);
  return tls_helper = h;
}

void sl__kern_parallel(void (*fn)(void *arg, int ith, int nth), void *arg, int n) {
  helper_t *h = n > 1 ? helper_get() : NULL;
  if (!h) { /* one thread asked for, or no helper could be started */
    fn(arg, 0, 1);
    return;
  }
  h->fn = fn;
  h->arg = arg;
  unsigned g = atomic_load(&h->gen) + 1;
  helper_post(h, g);
  tls_share = 1;
  fn(arg, 0, 2);
  /* A helper that has not started yet (asleep, or its core taken by other
   * load) is not waited for: its share runs here, as on one thread. */
  unsigned prev = g - 1;
  if (atomic_compare_exchange_strong(&h->taken, &prev, g))
    fn(arg, 1, 2);
  else
    for (int i = 1; atomic_load_explicit(&h->done, memory_order_acquire) != g; i++) spin_step(i, 4096);
  tls_share = 0;
}

void sl_kern_parallel(void (*fn)(void *arg, int ith, int nth), void *arg) {
  sl__kern_parallel(fn, arg, sl__kern_threads());
}

bool sl_kern_on_helper(const sl_kern_mat_t *w, int m) {
  return sl__kern_threads() > 1 && w->k->ops->on_helper && w->k->ops->on_helper(w, m);
}

bool sl_kern_rows_on_helper(const sl_kern_mat_t *w, int m) {
  return sl__kern_threads() > 1 && m >= 2 && w->k->ops->rows_apart && w->k->ops->rows_apart(w, m);
}

int sl_kern_new(sl_kern_impl_t impl, int max_m, sl_kern_t **out) {
  *out = NULL;
  if (max_m < 1) return SL_EINVAL;
  sl_kern_t *k = calloc(1, sizeof *k);
  if (!k) return SL_ENOMEM;
  k->impl = impl;
  k->ops = impl == SL_KIMPL_DNNL ? &sl__kern_dnnl_ops : &sl__kern_ref_ops;
  k->max_m = max_m;
  k->act_scale = calloc((size_t)max_m, sizeof(float));
  if (!k->act_scale) {
    free(k);
    return SL_ENOMEM;
  }
  int rc = k->ops->init(k);
  if (rc) {
    free(k->act_scale);
    free(k);
    return rc;
  }
  *out = k;
  return 0;
}

void sl_kern_free(sl_kern_t *k) {
  if (!k) return;
  k->ops->fini(k);
  free(k->act);
  free(k->act_scale);
  free(k->q4_bias);
  free(k);
}

sl_kern_impl_t sl_kern_impl(const sl_kern_t *k) { return k->impl; }

/* Grows the activation scratch at load time so that matmul never allocates. */
static int ensure_scratch(sl_kern_t *k, size_t n_in) {
  if (n_in <= k->max_in) return 0;
  void *p = realloc(k->act, (size_t)k->max_m * n_in * 2 + 64);
  if (!p) return SL_ENOMEM;
  k->act = p;
  int32_t *b = realloc(k->q4_bias, (n_in / 4 + 16) * sizeof *b);
  if (!b) return SL_ENOMEM;
  k->q4_bias = b;
  k->max_in = n_in;
  return 0;
}

int sl_kern_mat_new(sl_kern_t *k, sl_kern_dtype_t dt, const void *w, int n_out, int n_in,
                    sl_kern_prec_t prec, sl_kern_mat_t **out) {
  *out = NULL;
  if (n_out < 1 || n_in < 1 || n_in % sl_kern_block(dt)) return SL_EINVAL;
  int rc = ensure_scratch(k, (size_t)n_in);
  if (rc) return rc;
  sl_kern_mat_t *m = calloc(1, sizeof *m);
  size_t n = (size_t)n_out * n_in;
  float *row = malloc((size_t)n_in * sizeof(float));
  if (!m || !row) goto nomem;
  m->k = k;
  m->n_out = n_out;
  m->n_in = n_in;
  m->prec = prec;
  size_t rb = sl_kern_row_bytes(dt, (size_t)n_in);
  const uint8_t *src = w;
  if (prec == SL_KPREC_F32) {
    float *d = malloc(n * sizeof(float));
    if (!(m->w = d)) goto nomem;
    for (int r = 0; r < n_out; r++) sl_kern_to_f32(dt, src + (size_t)r * rb, d + (size_t)r * n_in, (size_t)n_in);
    m->bytes = n * 4;
  } else if (prec == SL_KPREC_BF16) {
    uint16_t *d = malloc(n * 2);
    if (!(m->w = d)) goto nomem;
    for (int r = 0; r < n_out; r++) {
      sl_kern_to_f32(dt, src + (size_t)r * rb, row, (size_t)n_in);
      for (int i = 0; i < n_in; i++) d[(size_t)r * n_in + i] = sl_kern_f32_to_bf16(row[i]);
    }
    m->bytes = n * 2;
  } else {
    /* One scale per output row: oneDNN 2.6 matmul takes per-N output scales but
     * not Q8_0's per-32 block scales, so blocks are re-quantised to the row's
     * absolute maximum (to 7 bits where oneDNN has no VNNI: sl_kern_s8_qmax). */
    int qmax = sl_kern_s8_qmax();
    int8_t *d = malloc(n);
    m->w_scale = malloc((size_t)n_out * sizeof(float));
    if (!(m->w = d) || !m->w_scale) goto nomem;
    for (int r = 0; r < n_out; r++) {
      sl_kern_to_f32(dt, src + (size_t)r * rb, row, (size_t)n_in);
      float amax = 0;
      for (int i = 0; i < n_in; i++) { float a_ = fabsf(row[i]); amax = a_ > amax ? a_ : amax; };
      float s = amax / (float)qmax, is = s ? 1.f / s : 0.f;
      m->w_scale[r] = s;
      for (int i = 0; i < n_in; i++) d[(size_t)r * n_in + i] = (int8_t)lrintf(row[i] * is);
    }
    m->bytes = n + (size_t)n_out * 4;
  }
  free(row);
  row = NULL;
  if ((rc = k->ops->mat_init(k, m))) {
    sl_kern_mat_free(m);
    return rc;
  }
  *out = m;
  return 0;
nomem:
  free(row);
  sl_kern_mat_free(m);
  return SL_ENOMEM;
}

int sl_kern_mat_add_q4_0(sl_kern_mat_t *m, const void *q4) {
  if (m->prec != SL_KPREC_S8 || m->k->impl != SL_KIMPL_DNNL || m->q4) return SL_EUNSUPPORTED;
  int rc = sl__kern_q4_new(q4, m->n_out, m->n_in, &m->q4);
  if (!rc) m->bytes += sl__kern_q4_bytes(m->q4);
  return rc;
}

void sl_kern_mat_free(sl_kern_mat_t *m) {
  if (!m) return;
  sl__kern_q4_free(m->q4);
  if (m->k) m->k->ops->mat_fini(m);
  free(m->w);
  free(m->w_scale);
  free(m);
}

int sl_kern_mat_n_out(const sl_kern_mat_t *m) { return m->n_out; }
int sl_kern_mat_n_in(const sl_kern_mat_t *m) { return m->n_in; }
size_t sl_kern_mat_bytes(const sl_kern_mat_t *m) { return m->bytes; }

/* The per-call s8 passes over activations and outputs, vectorised: at 8 decode
 * rows they were 6 % of a step in scalar form (nearbyintf was a libm call). Each
 * gives the same values as its scalar loop: max is exact, cvtps rounds to nearest
 * even like nearbyintf, and y · (s · w_scale) keeps the scalar association. */
static float amax_of(const float *x, int n) {
  float amax = 0;
  int i = 0;
#if defined(__AVX512F__)
  __m512 v = _mm512_setzero_ps();
  for (; i + 16 <= n; i += 16) v = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(x + i)), v); /* a NaN lane keeps v, as the scalar loop */
  amax = _mm512_reduce_max_ps(v);
#elif defined(__AVX2__)
  const __m256 abs = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  __m256 v = _mm256_setzero_ps();
  for (; i + 8 <= n; i += 8) v = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(x + i), abs), v); /* as above */
  float t[8];
  _mm256_storeu_ps(t, v);
  for (int j = 0; j < 8; j++) amax = t[j] > amax ? t[j] : amax;
#endif
  for (; i < n; i++) amax = fabsf(x[i]) > amax ? fabsf(x[i]) : amax;
  return amax;
}

static void quantize_row(const float *x, float is, int8_t *q, int n) {
  int i = 0;
#if defined(__AVX512F__)
  __m512 vis = _mm512_set1_ps(is);
  for (; i + 16 <= n; i += 16)
    _mm_storeu_si128((__m128i *)(q + i), _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + i), vis))));
#elif defined(__AVX2__)
  __m256 vis = _mm256_set1_ps(is);
  for (; i + 16 <= n; i += 16) {
    __m256i a = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i), vis));
    __m256i b = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i + 8), vis));
    /* packs works within 128-bit lanes: a0 b0 a1 b1 as 16-bit, reordered to a b */
    __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(a, b), 0xd8);
    _mm_storeu_si128((__m128i *)(q + i),
                     _mm_packs_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1)));
  }
#endif
  /* |x·is| ≤ 127 by construction. */
  for (; i < n; i++) q[i] = (int8_t)nearbyintf(x[i] * is);
}

static void scale_row(float *y, float s, const float *w_scale, int n) {
  int i = 0;
#if defined(__AVX512F__)
  __m512 vs = _mm512_set1_ps(s);
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(y + i, _mm512_mul_ps(_mm512_loadu_ps(y + i), _mm512_mul_ps(vs, _mm512_loadu_ps(w_scale + i))));
#elif defined(__AVX2__)
  __m256 vs = _mm256_set1_ps(s);
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(y + i), _mm256_mul_ps(vs, _mm256_loadu_ps(w_scale + i))));
#endif
  for (; i < n; i++) y[i] *= s * w_scale[i];
}

int sl_kern_matmul(sl_kern_t *k, const sl_kern_mat_t *w, const float *x, int m, float *y) {
  if (m < 1 || m > k->max_m || (size_t)w->n_in > k->max_in) return SL_EINVAL;
  int n_in = w->n_in;
  if (w->prec == SL_KPREC_F32) return k->ops->matmul(k, w, x, m, y);
  if (w->prec == SL_KPREC_BF16) {
    uint16_t *a = k->act;
    for (size_t i = 0; i < (size_t)m * n_in; i++) a[i] = sl_kern_f32_to_bf16(x[i]);
    return k->ops->matmul(k, w, a, m, y);
  }
  int8_t *a = k->act;
  for (int r = 0; r < m; r++) {
    const float *xr = x + (size_t)r * n_in;
    float s = amax_of(xr, n_in) / 127.f, is = s ? 1.f / s : 0.f;
    k->act_scale[r] = s;
    quantize_row(xr, is, a + (size_t)r * n_in, n_in);
  }
  if (m == 1 && w->q4) return sl__kern_q4_matmul(k, w->q4, a, k->act_scale[0], y);
  return k->ops->matmul(k, w, a, m, y);
}

void sl__kern_scale_rows(const sl_kern_t *k, const sl_kern_mat_t *w, int m, float *y) {
  for (int r = 0; r < m; r++) scale_row(y + (size_t)r * w->n_out, k->act_scale[r], w->w_scale, w->n_out);
}
