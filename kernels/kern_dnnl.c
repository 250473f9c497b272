/* The oneDNN matmul implementation. Weights are reordered once, at load, into
 * the blocked layout oneDNN picks for them (format_tag any): that layout does not
 * depend on the row count here (checked on oneDNN 2.6 / AVX-512), so one packed
 * copy serves every m. Primitives need an exact m (a runtime m falls back to the
 * reference kernel), so they are cached per (shape, m): created on first use,
 * reused for every later call — the hot path then only swaps data pointers. */
#include "kern_int.h"

#include "sl_err.h"
#include "sl_log.h"

#include <dnnl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  dnnl_primitive_t prim;
  dnnl_memory_t src, dst;
} entry_t;

typedef struct {
  int n_out, n_in;
  sl_kern_prec_t prec;
  dnnl_memory_desc_t wmd; /* packed weights layout */
  entry_t *by_m;          /* max_m + 1 entries, index m */
} shape_t;

typedef struct {
  dnnl_engine_t eng;
  dnnl_stream_t stream;
  shape_t *shapes;
  size_t n_shapes, cap_shapes;
  uint8_t *xu;  /* s8 activations shifted to u8 for gemm_s8: (max_m, xu_in), 64-byte aligned */
  size_t xu_in;
} dctx_t;

typedef struct {
  size_t shape;       /* index into dctx_t.shapes */
  dnnl_memory_t wmem; /* packed weights, owned */
  const float *w;     /* f32 weights in BA16a64b layout (see gemv below), else NULL */
  const int8_t *w8;   /* s8 weights in BA16a64b4a layout (see gemm_s8 below), else NULL */
  int32_t *comp;      /* with w8: 128 · Σ_k w[n][k] per output n (u8 shift, see gemm_s8) */
  size_t kb_stride, nb_stride; /* element strides of K blocks (16 or 64 rows), 64-column N blocks */
  sl__s8p_t *s8p;     /* s8 weights for kern_avx2.c (no VNNI), else NULL: no oneDNN copy then */
  const float *wab;   /* a small f32 matrix's plain K × N weights (no AVX-512), for kern_avx2.c */
} dmat_t;

static dnnl_data_type_t dtype_of(sl_kern_prec_t p) {
  return p == SL_KPREC_F32 ? dnnl_f32 : p == SL_KPREC_BF16 ? dnnl_bf16 : dnnl_s8;
}

static int d_init(sl_kern_t *k) {
  dctx_t *d = calloc(1, sizeof *d);
  if (!d) return SL_ENOMEM;
  if (dnnl_engine_create(&d->eng, dnnl_cpu, 0) != dnnl_success) {
    free(d);
    return SL_EUNAVAILABLE;
  }
  if (dnnl_stream_create(&d->stream, d->eng, dnnl_stream_default_flags) != dnnl_success) {
    dnnl_engine_destroy(d->eng);
    free(d);
    return SL_EUNAVAILABLE;
  }
  k->impl_data = d;
  return 0;
}

static void d_fini(sl_kern_t *k) {
  dctx_t *d = k->impl_data;
  if (!d) return;
  for (size_t s = 0; s < d->n_shapes; s++) {
    for (int m = 0; m <= k->max_m; m++) {
      entry_t *e = &d->shapes[s].by_m[m];
      if (e->prim) dnnl_primitive_destroy(e->prim);
      if (e->src) dnnl_memory_destroy(e->src);
      if (e->dst) dnnl_memory_destroy(e->dst);
    }
    free(d->shapes[s].by_m);
  }
  free(d->shapes);
  free(d->xu);
  dnnl_stream_destroy(d->stream);
  dnnl_engine_destroy(d->eng);
  free(d);
}

int sl_kern_s8_qmax(void) {
  static atomic_int q; /* (the same answer from any thread) */
  int v = atomic_load_explicit(&q, memory_order_relaxed);
  if (!v) {
    unsigned isa = (unsigned)dnnl_get_effective_cpu_isa();
    bool vnni = (isa & dnnl_cpu_isa_avx512_core_vnni) == dnnl_cpu_isa_avx512_core_vnni ||
                (isa & dnnl_cpu_isa_avx2_vnni) == dnnl_cpu_isa_avx2_vnni;
    v = vnni || SL__KERN_AVX2_S8 ? 127 : 63; /* kern_avx2.c's sums do not saturate */
    atomic_store_explicit(&q, v, memory_order_relaxed);
  }
  return v;
}

static dnnl_status_t make_pd(dctx_t *d, int m, int n_out, int n_in, sl_kern_prec_t prec,
                             const dnnl_memory_desc_t *wmd, dnnl_primitive_desc_t *pd) {
  dnnl_memory_desc_t a, b, c;
  dnnl_dims_t da = {m, n_in}, db = {n_in, n_out}, dc = {m, n_out};
  dnnl_data_type_t dt = dtype_of(prec);
  dnnl_memory_desc_init_by_tag(&a, 2, da, dt, dnnl_ab);
  if (wmd)
    b = *wmd;
  else
    dnnl_memory_desc_init_by_tag(&b, 2, db, dt, dnnl_format_tag_any);
  dnnl_memory_desc_init_by_tag(&c, 2, dc, dnnl_f32, dnnl_ab);
  dnnl_matmul_desc_t md;
  dnnl_status_t st = dnnl_matmul_desc_init(&md, &a, &b, NULL, &c);
  if (st != dnnl_success) return st;
  /* No attributes: runtime output scales would push oneDNN 2.6 off its brgemm
   * kernels onto gemm:jit, 4-5× slower at one row (measured). The s8 scales are
   * applied by the front end in one pass over the output instead. */
  return dnnl_primitive_desc_create(pd, &md, NULL, d->eng, NULL);
}

bool sl_kern_dnnl_supports(sl_kern_prec_t prec) {
  dctx_t d = {0};
  if (dnnl_engine_create(&d.eng, dnnl_cpu, 0) != dnnl_success) return false;
  dnnl_primitive_desc_t pd;
  bool ok = make_pd(&d, 1, 16, 16, prec, NULL, &pd) == dnnl_success;
  if (ok) dnnl_primitive_desc_destroy(pd);
  dnnl_engine_destroy(d.eng);
  return ok;
}

static int find_shape(sl_kern_t *k, dctx_t *d, sl_kern_mat_t *m, size_t *out) {
  for (size_t s = 0; s < d->n_shapes; s++)
    if (d->shapes[s].n_out == m->n_out && d->shapes[s].n_in == m->n_in && d->shapes[s].prec == m->prec) {
      *out = s;
      return 0;
    }
  dnnl_primitive_desc_t pd;
  if (make_pd(d, 1, m->n_out, m->n_in, m->prec, NULL, &pd) != dnnl_success) return SL_EUNSUPPORTED;
  dnnl_memory_desc_t wmd = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
  dnnl_primitive_desc_destroy(pd);
  if (d->n_shapes == d->cap_shapes) {
    size_t nc = d->cap_shapes ? d->cap_shapes * 2 : 8;
    shape_t *ns = realloc(d->shapes, nc * sizeof *ns);
    if (!ns) return SL_ENOMEM;
    d->shapes = ns;
    d->cap_shapes = nc;
  }
  shape_t *sh = &d->shapes[d->n_shapes];
  memset(sh, 0, sizeof *sh);
  sh->by_m = calloc((size_t)k->max_m + 1, sizeof(entry_t));
  if (!sh->by_m) return SL_ENOMEM;
  sh->n_out = m->n_out;
  sh->n_in = m->n_in;
  sh->prec = m->prec;
  sh->wmd = wmd;
  *out = d->n_shapes++;
  return 0;
}

static int d_mat_init(sl_kern_t *k, sl_kern_mat_t *m) {
  dctx_t *d = k->impl_data;
  dmat_t *dm = calloc(1, sizeof *dm);
  if (!dm) return SL_ENOMEM;
  m->impl_data = dm;
  if (SL__KERN_AVX2_S8 && m->prec == SL_KPREC_S8) { /* oneDNN's s8 product would saturate */
    int rc = sl__s8p_new(m->w, m->n_out, m->n_in, &dm->s8p);
    if (rc) return rc;
    m->bytes = sl__s8p_bytes(dm->s8p) + (size_t)m->n_out * 4;
    free(m->w);
    m->w = NULL;
    return 0;
  }
  int rc = find_shape(k, d, m, &dm->shape);
  if (rc) return rc;
  const dnnl_memory_desc_t *wmd = &d->shapes[dm->shape].wmd;
  /* The plain weights are n_out × n_in row-major, i.e. the (n_in, n_out) matrix
   * oneDNN wants, in "ba" order. */
  dnnl_memory_desc_t plain;
  dnnl_dims_t db = {m->n_in, m->n_out};
  dnnl_memory_desc_init_by_tag(&plain, 2, db, dtype_of(m->prec), dnnl_ba);
  dnnl_memory_t pm = NULL;
  dnnl_primitive_desc_t rpd = NULL;
  dnnl_primitive_t r = NULL;
  rc = SL_EINTERNAL;
  if (dnnl_memory_create(&dm->wmem, wmd, d->eng, DNNL_MEMORY_ALLOCATE) != dnnl_success) goto out;
  if (dnnl_memory_create(&pm, &plain, d->eng, m->w) != dnnl_success) goto out;
  if (dnnl_reorder_primitive_desc_create(&rpd, &plain, d->eng, wmd, d->eng, NULL) != dnnl_success) goto out;
  if (dnnl_primitive_create(&r, rpd) != dnnl_success) goto out;
  dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, pm}, {DNNL_ARG_TO, dm->wmem}};
  if (dnnl_primitive_execute(r, d->stream, 2, args) != dnnl_success) goto out;
  dnnl_stream_wait(d->stream);
  /* f32 weights packed as BA16a64b (16 K-rows × 64 N-columns per tile, the tiles
   * of one N block consecutive) are also read directly by the one-row gemv below. */
  const dnnl_blocking_desc_t *bd = &wmd->format_desc.blocking;
  if (m->prec == SL_KPREC_F32 && wmd->format_kind == dnnl_blocked && bd->inner_nblks == 2 &&
      bd->inner_blks[0] == 16 && bd->inner_idxs[0] == 0 && bd->inner_blks[1] == 64 && bd->inner_idxs[1] == 1) {
    /* A K that is not a multiple of 16 (stories260K's FFN down: 172) leaves the
     * last tile part-filled; the loops read only its first K % 16 rows. */
    void *h = NULL;
    dnnl_memory_get_data_handle(dm->wmem, &h);
    dm->w = h;
    dm->kb_stride = (size_t)bd->strides[0];
    dm->nb_stride = (size_t)bd->strides[1];
  }
#if SL__KERN_AVX2_F32
  if (m->prec == SL_KPREC_F32 && wmd->format_kind == dnnl_blocked && bd->inner_nblks == 0 &&
      bd->strides[0] == m->n_out && bd->strides[1] == 1 &&
      (size_t)m->n_out * m->n_in * sizeof(float) <= SL__F32AB_MAX_BYTES) {
    void *h = NULL;
    dnnl_memory_get_data_handle(dm->wmem, &h);
    dm->wab = h;
  }
#endif
#if defined(__AVX512VNNI__)
  /* s8 weights packed as BA16a64b4a (64 K-rows × 64 N-columns per 4 KB tile, each
   * group of 4 K-rows interleaved per column, the tiles of one N block consecutive)
   * are also read directly by the few-row VNNI product below. */
  if (m->prec == SL_KPREC_S8 && wmd->format_kind == dnnl_blocked && bd->inner_nblks == 3 &&
      bd->inner_blks[0] == 16 && bd->inner_idxs[0] == 0 && bd->inner_blks[1] == 64 && bd->inner_idxs[1] == 1 &&
      bd->inner_blks[2] == 4 && bd->inner_idxs[2] == 0 && m->n_in % 64 == 0) {
    if (!(dm->comp = malloc((size_t)m->n_out * sizeof(int32_t)))) {
      rc = SL_ENOMEM;
      goto out;
    }
    if (d->xu_in < (size_t)m->n_in) {
      free(d->xu);
      if (!(d->xu = aligned_alloc(64, (size_t)k->max_m * m->n_in))) {
        d->xu_in = 0;
        rc = SL_ENOMEM;
        goto out;
      }
      d->xu_in = (size_t)m->n_in;
    }
    const int8_t *pw = m->w;
    for (int n = 0; n < m->n_out; n++) {
      int32_t s = 0;
      for (int i = 0; i < m->n_in; i++) s += pw[(size_t)n * m->n_in + i];
      dm->comp[n] = 128 * s;
    }
    void *h = NULL;
    dnnl_memory_get_data_handle(dm->wmem, &h);
    dm->w8 = h;
    dm->kb_stride = (size_t)bd->strides[0];
    dm->nb_stride = (size_t)bd->strides[1];
  }
#endif
  /* The packed copy replaces the plain one. */
  m->bytes = dnnl_memory_desc_get_size(wmd) + (m->w_scale ? (size_t)m->n_out * 4 : 0);
  free(m->w);
  m->w = NULL;
  rc = 0;
out:
  if (r) dnnl_primitive_destroy(r);
  if (rpd) dnnl_primitive_desc_destroy(rpd);
  if (pm) dnnl_memory_destroy(pm);
  return rc;
}

static void d_mat_fini(sl_kern_mat_t *m) {
  dmat_t *dm = m->impl_data;
  if (!dm) return;
  if (dm->wmem) dnnl_memory_destroy(dm->wmem);
  sl__s8p_free(dm->s8p);
  free(dm->comp);
  free(dm);
  m->impl_data = NULL;
}

static int make_entry(sl_kern_t *k, dctx_t *d, shape_t *sh, int m, entry_t *e) {
  dnnl_primitive_desc_t pd;
  if (make_pd(d, m, sh->n_out, sh->n_in, sh->prec, &sh->wmd, &pd) != dnnl_success) return SL_EUNSUPPORTED;
  const char *impl = NULL;
  dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
  if (impl && !strncmp(impl, "ref", 3))
    SL_WARN("kernels: oneDNN picked its reference matmul for %d×%d×%d (%s)", m, sh->n_in, sh->n_out,
            sl_kern_prec_name(sh->prec));
  int rc = SL_EINTERNAL;
  if (dnnl_primitive_create(&e->prim, pd) != dnnl_success) goto out;
  if (dnnl_memory_create(&e->src, dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0), d->eng,
                         DNNL_MEMORY_NONE) != dnnl_success)
    goto out;
  if (dnnl_memory_create(&e->dst, dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0), d->eng,
                         DNNL_MEMORY_NONE) != dnnl_success)
    goto out;
  rc = 0;
out:
  dnnl_primitive_desc_destroy(pd);
  if (rc) { /* leave the slot empty so a later call retries cleanly */
    if (e->prim) dnnl_primitive_destroy(e->prim);
    if (e->src) dnnl_memory_destroy(e->src);
    if (e->dst) dnnl_memory_destroy(e->dst);
    memset(e, 0, sizeof *e);
  }
  return rc;
}

/* Below this many multiply-adds a product finishes faster on one thread than the
 * OpenMP fork/join costs (stories260K-sized matrices). Both the primitive's
 * creation and its runs use the same thread count, as oneDNN requires. */
#define SMALL_MACS (1u << 18)
/* Below this many multiply-adds a few-row product stays on the calling thread
 * rather than being split with its helper: a split of ~2.6 µs of work saves
 * ~1 µs at best and keeps the helper spinning between steps (stories260K, 2
 * threads: 8 rows of its output head, 2^18, were the only split product, and the
 * helper's spinning halved the tokens per CPU-second). */
#define HELPER_MACS SL__KERN_HELPER_MACS

static int run_entry(dctx_t *d, entry_t *e, const dmat_t *dm, const void *x, float *y);

/* The N blocks of a few-row product on nth threads (sl__kern_parallel): on one,
 * all in one run; on two, the caller (ith 0) streams the first half in one run,
 * and the second half is handed out a block at a time from *next (which starts
 * at the half), to the helper and, once its own run is done, to the caller too.
 * A helper that starts late or runs slower (the other VM load on its core, or
 * the activations it pulls from the caller's cache) leaves its last blocks to the
 * caller instead of making it wait. Each block is computed by the same code
 * whoever takes it, so results do not depend on the split. Handing out all the
 * blocks from one counter in shrinking runs was tried first: 1 row ~10 % slower
 * (the caller's stream broken up, and both threads contending for the counter). */
static inline void run_blocks(int nblk, int ith, int nth, atomic_int *next, void (*run)(const void *job, int nb0, int nb1),
                       const void *job) {
  if (nth == 1) {
    run(job, 0, nblk);
    return;
  }
  if (ith == 0) run(job, 0, nblk / 2);
  for (int b; (b = atomic_fetch_add_explicit(next, 1, memory_order_relaxed)) < nblk;) run(job, b, b + 1);
}

/* fn over a product's job on the caller alone (ith 0 of 1), or on the caller
 * and its helper thread when there are threads for it and the product is large
 * enough to pay for the fork/join (HELPER_MACS). */
static void run_split(void (*fn)(void *job, int ith, int nth), void *job, size_t macs) {
  int nt = sl__kern_threads();
  if (nt > 1 && macs >= HELPER_MACS)
    sl__kern_parallel(fn, job, nt);
  else
    fn(job, 0, 1);
}

#if defined(__AVX512F__)
#include <immintrin.h>
/* y = x · W for ONE row of an f32 matrix, on one thread, reading oneDNN's packed
 * tiles in memory order: each 64-column block is one contiguous stream, and eight
 * independent accumulators keep the FMAs off their latency chain. Decode of an
 * F32 model is bound by streaming its weights; here this reaches a higher rate
 * than oneDNN 2.6's brgemm at M=1 (measured ~25-40% less time over 48 cold
 * 2048×768 matrices). Same packed copy, so no extra memory. */
static void gemv_ba16a64b(const dmat_t *dm, int n, int k, const float *x, float *y, int nb0, int nb1) {
  const float *end = dm->w + (size_t)((n + 63) / 64) * dm->nb_stride; /* prefetch no further: see gemm_f32 */
  for (int nb = nb0; nb < nb1; nb++) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    const float *blk = dm->w + (size_t)nb * dm->nb_stride;
    for (int kb = 0; kb * 16 < k; kb++) {
      const float *tile = blk + (size_t)kb * dm->kb_stride, *xk = x + kb * 16;
      int kt = k - kb * 16 < 16 ? k - kb * 16 : 16, i = 0;
      /* Software prefetch 16 KB (four tiles) ahead: the hardware streamer stops at
       * each 4 KB page, which is one tile here (measured ~30 % less time). A
       * prefetch past the end of the matrix is harmless: prefetches never fault. */
      if (tile + 4 * 16 * 64 < end)
        for (int o = 0; o < 16 * 64; o += 16) _mm_prefetch((const char *)(tile + 4 * 16 * 64 + o), _MM_HINT_T0);
      for (; i + 2 <= kt; i += 2) {
        const float *row = tile + i * 64;
        __m512 xv = _mm512_set1_ps(xk[i]), xu = _mm512_set1_ps(xk[i + 1]);
        a0 = _mm512_fmadd_ps(xv, _mm512_loadu_ps(row), a0);
        a1 = _mm512_fmadd_ps(xv, _mm512_loadu_ps(row + 16), a1);
        a2 = _mm512_fmadd_ps(xv, _mm512_loadu_ps(row + 32), a2);
        a3 = _mm512_fmadd_ps(xv, _mm512_loadu_ps(row + 48), a3);
        b0 = _mm512_fmadd_ps(xu, _mm512_loadu_ps(row + 64), b0);
        b1 = _mm512_fmadd_ps(xu, _mm512_loadu_ps(row + 80), b1);
        b2 = _mm512_fmadd_ps(xu, _mm512_loadu_ps(row + 96), b2);
        b3 = _mm512_fmadd_ps(xu, _mm512_loadu_ps(row + 112), b3);
      }
      if (i < kt) { /* an odd K tail */
        const float *row = tile + i * 64;
        __m512 xv = _mm512_set1_ps(xk[i]);
        a0 = _mm512_fmadd_ps(xv, _mm512_loadu_ps(row), a0);
        a1 = _mm512_fmadd_ps(xv, _mm512_loadu_ps(row + 16), a1);
        a2 = _mm512_fmadd_ps(xv, _mm512_loadu_ps(row + 32), a2);
        a3 = _mm512_fmadd_ps(xv, _mm512_loadu_ps(row + 48), a3);
      }
    }
    float out[64];
    _mm512_storeu_ps(out, _mm512_add_ps(a0, b0));
    _mm512_storeu_ps(out + 16, _mm512_add_ps(a1, b1));
    _mm512_storeu_ps(out + 32, _mm512_add_ps(a2, b2));
    _mm512_storeu_ps(out + 48, _mm512_add_ps(a3, b3));
    int w = n - nb * 64 < 64 ? n - nb * 64 : 64;
    memcpy(y + nb * 64, out, sizeof(float) * (size_t)w);
  }
}

/* One 4 KB tile (16 K-rows × 64 N-columns, BA16a64b; only the first kt K-rows
 * used) times R (1..4) rows of x (ldx apart, already offset to the tile's
 * K-rows), added into acc[r][c] (16 columns each): the f32 counterpart of s8_tile
 * below. */
static inline __attribute__((always_inline)) void f32_tile(const float *tile, const float *x, size_t ldx, int R,
                                                           int kt, bool pf, __m512 acc[4][4]) {
  __m512 a[4][4];
#pragma GCC unroll 4
  for (int r = 0; r < R; r++)
#pragma GCC unroll 4
    for (int c = 0; c < 4; c++) a[r][c] = acc[r][c];
  for (int i = 0; i < kt; i++) {
    const float *wr = tile + i * 64;
    if (pf) /* see gemm_f32 */
      for (int o = 0; o < 64; o += 16) _mm_prefetch((const char *)(wr + 4 * 1024 + o), _MM_HINT_T0);
    __m512 w0 = _mm512_loadu_ps(wr), w1 = _mm512_loadu_ps(wr + 16);
    __m512 w2 = _mm512_loadu_ps(wr + 32), w3 = _mm512_loadu_ps(wr + 48);
    __asm__("" : "+v"(w0), "+v"(w1), "+v"(w2), "+v"(w3)); /* keep them in registers, as in s8_tile */
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
      __m512 xv = _mm512_set1_ps(x[(size_t)r * ldx + i]);
      a[r][0] = _mm512_fmadd_ps(xv, w0, a[r][0]);
      a[r][1] = _mm512_fmadd_ps(xv, w1, a[r][1]);
      a[r][2] = _mm512_fmadd_ps(xv, w2, a[r][2]);
      a[r][3] = _mm512_fmadd_ps(xv, w3, a[r][3]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; r++)
#pragma GCC unroll 4
    for (int c = 0; c < 4; c++) acc[r][c] = a[r][c];
}

/* One 64-column N block (all of K) times R (1..4) rows of x, stored into y (ldy
 * apart, w valid columns): f32_tile's arithmetic, in the same order, with the
 * accumulators in registers for the whole block instead of passing through
 * memory between tiles. For blocks short enough (K ≤ F32_SHORT_K) that the
 * next group of rows finds the block's tiles still in L1. */
static inline __attribute__((always_inline)) void f32_block(const dmat_t *dm, const float *blk, const float *x,
                                                            int k, int R, bool pf, const float *end, float *y,
                                                            size_t ldy, int w) {
  __m512 a[4][4];
#pragma GCC unroll 4
  for (int r = 0; r < R; r++)
#pragma GCC unroll 4
    for (int c = 0; c < 4; c++) a[r][c] = _mm512_setzero_ps();
  for (int kb = 0; kb * 16 < k; kb++) {
    const float *tile = blk + (size_t)kb * dm->kb_stride, *xk = x + kb * 16;
    int kt = k - kb * 16 < 16 ? k - kb * 16 : 16;
    f32_tile(tile, xk, (size_t)k, R, kt, pf && tile + 4 * 1024 < end, a); /* inlined: a stays in registers */
  }
  if (w == 64) {
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
      for (int c = 0; c < 4; c++) _mm512_storeu_ps(y + (size_t)r * ldy + c * 16, a[r][c]);
    return;
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; r++)
#pragma GCC unroll 4
    for (int c = 0; c < 4; c++) {
      int cw = w - c * 16 < 0 ? 0 : w - c * 16 < 16 ? w - c * 16 : 16;
      _mm512_mask_storeu_ps(y + (size_t)r * ldy + c * 16, (__mmask16)((1u << cw) - 1), a[r][c]);
    }
}

#define F32_SHORT_K 256

/* y = x · W for 2 to F32_MAX_M rows of f32 x, reading the packed BA16a64b tiles,
 * for the N blocks nb0..nb1-1: gemm_s8's loop in f32 (each tile streamed once
 * and, while it sits in L1, multiplied by every group of 4 rows). On one thread
 * it is about as fast as oneDNN 2.6's brgemm at 4-8 rows of the 86M model and
 * faster at 2 (1.2× a 1-row gemv against 1.5×); it is here so that few-row f32
 * products split across the caller and its helper as the s8 ones do. The sums
 * run over K in order, one chain per output, so a row's result does not depend
 * on the other rows or on the thread count. */
#define F32_MAX_M 12
static void gemm_f32(const dmat_t *dm, const float *x, int n, int k, int m, float *y, int nb0, int nb1) {
  __m512 acc[F32_MAX_M / 4][4][4];
  int ng = (m + 3) / 4;
  /* Prefetches stop at the end of the matrix: past it they fetch another
   * allocation. With small matrices that was a large part of the traffic
   * (stories260K: 16 KB past a 32 KB matrix), and the prefetch instructions
   * stalled the loop waiting for miss buffers. (Not at the end of this call's
   * blocks: on 2 threads the blocks after a handed-out one are mostly taken by
   * the same thread next, and its stream would stall at every block.) */
  const float *end = dm->w + (size_t)((n + 63) / 64) * dm->nb_stride;
  if (k <= F32_SHORT_K) {
    /* Short blocks (stories260K: K 64 and 172): a group of rows at a time over
     * the whole block, its accumulators in registers (~10 % less time for its
     * 8-row products than tile by tile, which moved 16 accumulators through
     * memory per tile and group). */
    for (int nb = nb0; nb < nb1; nb++) {
      const float *blk = dm->w + (size_t)nb * dm->nb_stride;
      int w = n - nb * 64 < 64 ? n - nb * 64 : 64;
      for (int gi = 0; gi < ng; gi++) {
        const float *xr = x + (size_t)gi * 4 * k;
        float *yr = y + (size_t)gi * 4 * n + nb * 64;
        switch (m - gi * 4 < 4 ? m - gi * 4 : 4) {
        case 1: f32_block(dm, blk, xr, k, 1, gi == 0, end, yr, (size_t)n, w); break;
        case 2: f32_block(dm, blk, xr, k, 2, gi == 0, end, yr, (size_t)n, w); break;
        case 3: f32_block(dm, blk, xr, k, 3, gi == 0, end, yr, (size_t)n, w); break;
        default: f32_block(dm, blk, xr, k, 4, gi == 0, end, yr, (size_t)n, w); break;
        }
      }
    }
    return;
  }
  for (int nb = nb0; nb < nb1; nb++) {
    const float *blk = dm->w + (size_t)nb * dm->nb_stride;
    memset(acc, 0, sizeof(acc[0]) * (size_t)ng);
    for (int kb = 0; kb * 16 < k; kb++) {
      const float *tile = blk + (size_t)kb * dm->kb_stride;
      /* 16 KB ahead, spread over the first group's steps (as gemm_s8 does with
       * more than one group; with one, a burst per tile). */
      bool pf = tile + 4 * 1024 < end;
      if (ng == 1 && pf)
        for (int o = 0; o < 1024; o += 16) _mm_prefetch((const char *)(tile + 4 * 1024 + o), _MM_HINT_T0);
      int kt = k - kb * 16 < 16 ? k - kb * 16 : 16;
      for (int gi = 0; gi < ng; gi++) {
        const float *xr = x + (size_t)gi * 4 * k + kb * 16;
        bool spread = pf && ng > 1 && gi == 0;
        switch (m - gi * 4 < 4 ? m - gi * 4 : 4) {
        case 1: f32_tile(tile, xr, (size_t)k, 1, kt, spread, acc[gi]); break;
        case 2: f32_tile(tile, xr, (size_t)k, 2, kt, spread, acc[gi]); break;
        case 3: f32_tile(tile, xr, (size_t)k, 3, kt, spread, acc[gi]); break;
        default: f32_tile(tile, xr, (size_t)k, 4, kt, spread, acc[gi]); break;
        }
      }
    }
    int w = n - nb * 64 < 64 ? n - nb * 64 : 64;
    for (int r = 0; r < m; r++)
      for (int c = 0; c < 4 && c * 16 < w; c++) {
        int cw = w - c * 16 < 16 ? w - c * 16 : 16;
        _mm512_mask_storeu_ps(y + (size_t)r * n + nb * 64 + c * 16, (__mmask16)((1u << cw) - 1), acc[r / 4][r % 4][c]);
      }
  }
}

/* The f32 products of 1 to F32_MAX_M rows, split as run_blocks says. */
typedef struct {
  const dmat_t *dm;
  const float *x;
  int n, k, m;
  float *y;
  atomic_int next; /* see run_blocks */
  bool gemv;       /* one row through the gemv (else gemm_f32) */
} f32_job_t;

static void f32_blocks(const void *arg, int nb0, int nb1) {
  const f32_job_t *j = arg;
  if (j->gemv)
    gemv_ba16a64b(j->dm, j->n, j->k, j->x, j->y, nb0, nb1);
  else
    gemm_f32(j->dm, j->x, j->n, j->k, j->m, j->y, nb0, nb1);
}

static void gemm_f32_part(void *arg, int ith, int nth) {
  f32_job_t *j = arg;
  run_blocks((j->n + 63) / 64, ith, nth, &j->next, f32_blocks, j);
}
#endif

#if defined(__AVX512VNNI__)
/* a[c] += u8 x · s8 w_c (4-byte dot products per 32-bit lane), c = 0..3. Inline
 * asm because GCC 12 copies every accumulator through another register (or the
 * stack) on each loop iteration when it sees the intrinsic. */
static inline __attribute__((always_inline)) void dpbusd4(__m512i a[4], __m512i x, __m512i w0, __m512i w1,
                                                          __m512i w2, __m512i w3) {
  __asm__("vpdpbusd %4, %8, %0\n\tvpdpbusd %5, %8, %1\n\tvpdpbusd %6, %8, %2\n\tvpdpbusd %7, %8, %3"
          : "+v"(a[0]), "+v"(a[1]), "+v"(a[2]), "+v"(a[3])
          : "v"(w0), "v"(w1), "v"(w2), "v"(w3), "v"(x));
}

/* One 4 KB tile (64 K-rows × 64 N-columns, BA16a64b4a) times R (1..4) rows of u8
 * x (ldx apart, already offset to the tile's K-rows), added into acc[r][c]
 * (16 columns each). One vpdpbusd multiplies 4 K-rows of 16 columns by the 4
 * broadcast activation bytes of a row. */
static inline __attribute__((always_inline)) void s8_tile(const int8_t *tile, const uint8_t *x, size_t ldx,
                                                          int R, bool pf, __m512i acc[4][4]) {
  __m512i a[4][4];
#pragma GCC unroll 4
  for (int r = 0; r < R; r++)
#pragma GCC unroll 4
    for (int c = 0; c < 4; c++) a[r][c] = acc[r][c];
  for (int g = 0; g < 16; g++) {
    const int8_t *wr = tile + g * 256;
    if (pf) /* see gemm_s8 */
      for (int o = 0; o < 256; o += 64) _mm_prefetch((const char *)(wr + 4 * 4096 + o), _MM_HINT_T0);
    __m512i w0 = _mm512_loadu_si512(wr), w1 = _mm512_loadu_si512(wr + 64);
    __m512i w2 = _mm512_loadu_si512(wr + 128), w3 = _mm512_loadu_si512(wr + 192);
    /* Pins the four weight vectors in registers: otherwise GCC reloads them from
     * memory for every row, doubling the loads per vpdpbusd. */
    __asm__("" : "+v"(w0), "+v"(w1), "+v"(w2), "+v"(w3));
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
      int32_t x4;
      memcpy(&x4, x + (size_t)r * ldx + g * 4, 4);
      dpbusd4(a[r], _mm512_set1_epi32(x4), w0, w1, w2, w3);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; r++)
#pragma GCC unroll 4
    for (int c = 0; c < 4; c++) acc[r][c] = a[r][c];
}

/* y = x · W for up to S8_MAX_M rows of s8 x, reading oneDNN's packed s8 tiles;
 * this call computes the 64-column N blocks nb0..nb1-1 on one thread.
 * vpdpbusd wants one unsigned operand: xu = x + 128 (converted by the caller) is,
 * and Σ (x+128)·w − 128·Σ w is the exact s8·s8 sum, so y is bit-identical to
 * oneDNN's s32 → f32 output. Each tile is streamed from memory once and, while it
 * sits in L1, multiplied by every group of 4 rows (their accumulators wait in acc
 * between tiles), so weight streaming and arithmetic overlap. Measured over the 48
 * matrices of the random 86M model (cold, 1 thread), oneDNN 2.6's brgemm → this:
 * 1 row 2.16 → 2.00 ms, 4 rows 3.20 → 2.60, 8 rows 3.77 → 3.16 (docs/engine.md). */
#define S8_MAX_M 12 /* measured: at 16 rows oneDNN's brgemm is as fast */
static void gemm_s8(const dmat_t *dm, const uint8_t *xu, const float *xs, const float *ws, int n, int k, int m,
                    float *y, int nb0, int nb1) {
  __m512i acc[S8_MAX_M / 4][4][4];
  int ng = (m + 3) / 4;
  const int8_t *end = dm->w8 + (size_t)((n + 63) / 64) * dm->nb_stride; /* prefetch no further: see gemm_f32 */
  for (int nb = nb0; nb < nb1; nb++) {
    const int8_t *blk = dm->w8 + (size_t)nb * dm->nb_stride;
    memset(acc, 0, sizeof(acc[0]) * (size_t)ng);
    for (int kb = 0; kb * 64 < k; kb++) {
      const int8_t *tile = blk + (size_t)kb * dm->kb_stride;
      /* Prefetch 4 tiles (16 KB) ahead: the hardware streamer stops at page
       * boundaries (as in the f32 gemv); past the end of the matrix it is
       * harmless. With one group of rows the loop is bound by memory and one burst
       * per tile is best; with more, the arithmetic is long enough that a burst
       * stalls it, and a tile's worth spread over the first group's 16 steps is
       * (measured: 8 rows 3.5 → 3.1 ms, 1 row 2.5 → 2.7 ms if spread). */
      bool pf = tile + 4 * 4096 < end, spread = pf && ng > 1;
      if (ng == 1 && pf)
        for (int o = 0; o < 4096; o += 64) _mm_prefetch((const char *)(tile + 4 * 4096 + o), _MM_HINT_T0);
      for (int gi = 0; gi < ng; gi++) {
        const uint8_t *xr = xu + (size_t)gi * 4 * k + kb * 64;
        /* Constant R per call, so the row loop unrolls and stays in registers. */
        switch (m - gi * 4 < 4 ? m - gi * 4 : 4) {
        case 1: s8_tile(tile, xr, (size_t)k, 1, spread && gi == 0, acc[gi]); break;
        case 2: s8_tile(tile, xr, (size_t)k, 2, spread && gi == 0, acc[gi]); break;
        case 3: s8_tile(tile, xr, (size_t)k, 3, spread && gi == 0, acc[gi]); break;
        default: s8_tile(tile, xr, (size_t)k, 4, spread && gi == 0, acc[gi]); break;
        }
      }
    }
    int w = n - nb * 64 < 64 ? n - nb * 64 : 64;
    for (int r = 0; r < m; r++)
      for (int c = 0; c < 4 && c * 16 < w; c++) {
        int cw = w - c * 16 < 16 ? w - c * 16 : 16;
        __mmask16 mk = (__mmask16)((1u << cw) - 1);
        __m512i comp = _mm512_maskz_loadu_epi32(mk, dm->comp + nb * 64 + c * 16);
        /* Both scales here, on the thread that computed the sums, rounded as
         * sl__kern_scale_rows does: a pass over y on the calling thread after
         * the join read half of it from the other core's cache. */
        __m512 sc = _mm512_mul_ps(_mm512_set1_ps(xs[r]), _mm512_maskz_loadu_ps(mk, ws + nb * 64 + c * 16));
        _mm512_mask_storeu_ps(y + (size_t)r * n + nb * 64 + c * 16, mk,
                              _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r / 4][r % 4][c], comp)), sc));
      }
  }
}

/* gemm_s8 on one or two threads (the caller and its helper, sl__kern_parallel),
 * split as run_blocks says: each thread streams its own runs of the packed
 * weights and writes its own output columns. Every output is computed by the same
 * code as on one thread, so the result does not depend on the thread count. */
typedef struct {
  const dmat_t *dm;
  const uint8_t *xu;
  const float *xs, *ws; /* row and column scales */
  int n, k, m;
  float *y;
  atomic_int next; /* see run_blocks */
} s8_job_t;

static void s8_blocks(const void *arg, int nb0, int nb1) {
  const s8_job_t *j = arg;
  gemm_s8(j->dm, j->xu, j->xs, j->ws, j->n, j->k, j->m, j->y, nb0, nb1);
}

static void gemm_s8_part(void *arg, int ith, int nth) {
  s8_job_t *j = arg;
  run_blocks((j->n + 63) / 64, ith, nth, &j->next, s8_blocks, j);
}
#endif

/* kern_avx2.c's s8 product, its panels split as run_blocks says. */
typedef struct {
  const sl__s8p_t *p;
  const int8_t *x;
  const float *xs, *ws;
  int m;
  float *y;
  atomic_int next; /* see run_blocks */
} s8p_job_t;

static void s8p_blocks(const void *arg, int pb0, int pb1) {
  const s8p_job_t *j = arg;
  sl__s8p_matmul(j->p, j->x, j->m, j->xs, j->ws, j->y, pb0, pb1);
}

static void s8p_part(void *arg, int ith, int nth) {
  s8p_job_t *j = arg;
  run_blocks(sl__s8p_panels(j->p), ith, nth, &j->next, s8p_blocks, j);
}

#if SL__KERN_AVX2_F32
/* one or two rows of a small f32 matrix: kern_avx2.c's loop, on the calling thread */
#define AB_MAX_M 2
#endif

static int d_matmul(sl_kern_t *k, const sl_kern_mat_t *w, const void *x, int m, float *y) {
  dctx_t *d = k->impl_data;
  const dmat_t *dm = w->impl_data;
#if SL__KERN_AVX2_F32
  if (dm->wab && m <= AB_MAX_M) {
    sl__f32ab_matmul(dm->wab, w->n_out, w->n_in, x, m, y);
    return 0;
  }
#endif
  if (dm->s8p) {
    s8p_job_t j = {dm->s8p, x, k->act_scale, w->w_scale, m, y, sl__s8p_panels(dm->s8p) / 2};
    run_split(s8p_part, &j, (size_t)m * w->n_out * w->n_in);
    return 0;
  }
  shape_t *sh = &d->shapes[dm->shape];
  entry_t *e = &sh->by_m[m];
#if defined(__AVX512F__)
  /* A few f32 rows: the gemv (1 row) or gemm_f32, split across the caller and
   * its helper thread as gemm_s8 is below (before, 2 threads sent them to
   * oneDNN's OpenMP team). */
  if (dm->w && m <= F32_MAX_M) {
    /* One row is the gemv's, except inside a share of sl__kern_parallel: there
     * it is one row of a product the model split by rows (d_rows_apart), and
     * gets gemm_f32's sums, as it would in the whole product. */
    f32_job_t j = {dm, x, sh->n_out, sh->n_in, m, y, (sh->n_out + 63) / 64 / 2, m == 1 && !sl__kern_in_share()};
    run_split(gemm_f32_part, &j, (size_t)m * sh->n_out * sh->n_in);
    return 0;
  }
#endif
#if defined(__AVX512VNNI__)
  if (dm->w8 && m <= S8_MAX_M) {
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    for (size_t i = 0; i < (size_t)m * sh->n_in; i += 64)
      _mm512_store_si512(d->xu + i, _mm512_xor_si512(_mm512_loadu_si512((const int8_t *)x + i), flip));
    /* On 2 threads oneDNN's product of a few rows was slower than this loop on one
     * (8 streams: 1.7 K tokens/s at 1 thread, 1.5 K at 2), so the loop splits its
     * N blocks across two threads instead, except for products too small to pay
     * for the fork/join (HELPER_MACS). 2 threads, 86M Q8_0: tg64 ~380 → ~780,
     * 8 streams ~1.5 K → ~2.4 K tokens/s (docs/engine.md). */
    s8_job_t j = {dm, d->xu, k->act_scale, w->w_scale, sh->n_out, sh->n_in, m, y, (sh->n_out + 63) / 64 / 2};
    run_split(gemm_s8_part, &j, (size_t)m * sh->n_out * sh->n_in);
    return 0;
  }
#endif
  bool small = (size_t)m * sh->n_out * sh->n_in < SMALL_MACS && sl__kern_threads() > 1;
  if (small) sl__kern_omp_threads(1);
  int rc = 0;
  if (!e->prim) rc = make_entry(k, d, sh, m, e);
  if (!rc) rc = run_entry(d, e, dm, x, y);
  if (small) sl__kern_omp_threads(sl__kern_threads());
  if (!rc && w->prec == SL_KPREC_S8) sl__kern_scale_rows(k, w, m, y);
  return rc;
}

static int run_entry(dctx_t *d, entry_t *e, const dmat_t *dm, const void *x, float *y) {
  dnnl_memory_set_data_handle(e->src, (void *)x);
  dnnl_memory_set_data_handle(e->dst, y);
  dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, e->src}, {DNNL_ARG_WEIGHTS, dm->wmem}, {DNNL_ARG_DST, e->dst}};
  if (dnnl_primitive_execute(e->prim, d->stream, 3, args) != dnnl_success)
    return SL_EINTERNAL;
  dnnl_stream_wait(d->stream);
  return 0;
}

static bool d_on_helper(const sl_kern_mat_t *w, int m) {
  const dmat_t *dm = w->impl_data;
  if ((size_t)m * w->n_out * w->n_in < HELPER_MACS) return false;
  if (dm->s8p) return true;
#if defined(__AVX512F__)
  if (dm->w && m <= F32_MAX_M) return true;
#if defined(__AVX512VNNI__)
  if (dm->w8 && m <= S8_MAX_M) return true;
#endif
#endif
  return false;
}

/* gemm_f32 computes each row on its own (one chain per output over K, no scratch
 * shared between calls), so a product of 2..F32_MAX_M rows may be cut into row
 * ranges computed on different threads. The s8 loop is exact too, but its
 * converted activations sit in one scratch buffer per context. */
static bool d_rows_apart(const sl_kern_mat_t *w, int m) {
#if defined(__AVX512F__)
  return ((const dmat_t *)w->impl_data)->w && m <= F32_MAX_M;
#else
  (void)w, (void)m;
  return false;
#endif
}

const sl__kern_ops_t sl__kern_dnnl_ops = {d_init, d_fini, d_mat_init, d_mat_fini, d_matmul, d_on_helper, d_rows_apart};
