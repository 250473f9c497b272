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
} dctx_t;

typedef struct {
  size_t shape;       /* index into dctx_t.shapes */
  dnnl_memory_t wmem; /* packed weights, owned */
  const float *w;     /* f32 weights in BA16a64b layout (see gemv below), else NULL */
  size_t kb_stride, nb_stride; /* element strides of 16-row K blocks, 64-column N blocks */
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
  dnnl_stream_destroy(d->stream);
  dnnl_engine_destroy(d->eng);
  free(d);
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
      bd->inner_blks[0] == 16 && bd->inner_idxs[0] == 0 && bd->inner_blks[1] == 64 && bd->inner_idxs[1] == 1 &&
      m->n_in % 16 == 0) {
    void *h = NULL;
    dnnl_memory_get_data_handle(dm->wmem, &h);
    dm->w = h;
    dm->kb_stride = (size_t)bd->strides[0];
    dm->nb_stride = (size_t)bd->strides[1];
  }
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

static int run_entry(dctx_t *d, entry_t *e, const dmat_t *dm, const void *x, float *y);

#if defined(__AVX512F__)
#include <immintrin.h>
/* y = x · W for ONE row of an f32 matrix, on one thread, reading oneDNN's packed
 * tiles in memory order: each 64-column block is one contiguous stream, and eight
 * independent accumulators keep the FMAs off their latency chain. Decode of an
 * F32 model is bound by streaming its weights; here this reaches a higher rate
 * than oneDNN 2.6's brgemm at M=1 (measured ~25-40% less time over 48 cold
 * 2048×768 matrices). Same packed copy, so no extra memory. */
static void gemv_ba16a64b(const dmat_t *dm, int n, int k, const float *x, float *y) {
  for (int nb = 0; nb * 64 < n; nb++) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    const float *blk = dm->w + (size_t)nb * dm->nb_stride;
    for (int kb = 0; kb * 16 < k; kb++) {
      const float *tile = blk + (size_t)kb * dm->kb_stride, *xk = x + kb * 16;
      /* Software prefetch 16 KB (four tiles) ahead: the hardware streamer stops at
       * each 4 KB page, which is one tile here (measured ~30 % less time). A
       * prefetch past the end of the matrix is harmless: prefetches never fault. */
      for (int o = 0; o < 16 * 64; o += 16) _mm_prefetch((const char *)(tile + 4 * 16 * 64 + o), _MM_HINT_T0);
      for (int i = 0; i < 16; i += 2) {
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
#endif

static int d_matmul(sl_kern_t *k, const sl_kern_mat_t *w, const void *x, int m, float *y) {
  dctx_t *d = k->impl_data;
  const dmat_t *dm = w->impl_data;
  shape_t *sh = &d->shapes[dm->shape];
  entry_t *e = &sh->by_m[m];
#if defined(__AVX512F__)
  /* With two or more threads oneDNN's M=1 product uses both cores' bandwidth. */
  if (dm->w && m == 1 && sl__kern_threads() == 1) {
    gemv_ba16a64b(dm, sh->n_out, sh->n_in, x, y);
    return 0;
  }
#endif
  bool small = (size_t)m * sh->n_out * sh->n_in < SMALL_MACS && sl__kern_threads() > 1;
  if (small) sl__kern_omp_threads(1);
  int rc = 0;
  if (!e->prim) rc = make_entry(k, d, sh, m, e);
  if (!rc) rc = run_entry(d, e, dm, x, y);
  if (small) sl__kern_omp_threads(sl__kern_threads());
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

const sl__kern_ops_t sl__kern_dnnl_ops = {d_init, d_fini, d_mat_init, d_mat_fini, d_matmul};
