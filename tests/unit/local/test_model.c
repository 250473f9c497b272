/* The model against a naive scalar forward pass written here from the GGUF file
 * alone (double accumulation, one token at a time, no kernels/ code except the
 * storage conversions), on small random models our own writer makes: llama with
 * GQA, qwen2 with biases and NeoX RoPE and a tied F16 embedding, Q8_0 weights, and
 * Q4_0 / Q4_K weights (converted from F32 by gguf_requant.h).
 * Also: batched prefill, interleaved slots, the same logits on 1 and 2 threads,
 * and refusals with clear errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backends/local/model.h"
#include "common/sl_err.h"
#include "tests/tools/gguf_writer.h"
#include "gguf_requant.h"

typedef struct {
  const sl_gguf_t *g;
  int dim, nl, nh, nkv, hd, ff, V;
  bool neox;
  float eps, base;
  double *kc, *vc; /* (layer, pos, kv) */
} naive_t;

static double *mat(const sl_gguf_t *g, const char *name, size_t *n) {
  const sl_gguf_tensor_t *t = sl_gguf_find_tensor(g, name);
  if (!t) return NULL;
  float *f = malloc(t->n_elems * 4);
  sl_kern_dtype_t dt;
  assert_int_equal(sl_model_dtype(t->type, &dt), 0);
  sl_kern_to_f32(dt, t->data, f, t->n_elems);
  double *d = malloc(t->n_elems * 8);
  for (size_t i = 0; i < t->n_elems; i++) d[i] = f[i];
  free(f);
  if (n) *n = t->n_elems;
  return d;
}

static void mv(double *y, const double *w, const double *x, int n_out, int n_in) {
  for (int o = 0; o < n_out; o++) {
    double s = 0;
    for (int i = 0; i < n_in; i++) s += w[(size_t)o * n_in + i] * x[i];
    y[o] = s;
  }
}

static void rms(double *o, const double *x, const double *w, int n, double eps) {
  double ss = 0;
  for (int i = 0; i < n; i++) ss += x[i] * x[i];
  double s = 1 / sqrt(ss / n + eps);
  for (int i = 0; i < n; i++) o[i] = x[i] * s * w[i];
}

static void rope(double *v, int nh, int hd, int pos, double base, bool neox) {
  for (int h = 0; h < nh; h++)
    for (int i = 0; i < hd / 2; i++) {
      double th = pos * pow(base, -2.0 * i / hd);
      int a = neox ? i : 2 * i, b = neox ? i + hd / 2 : 2 * i + 1;
      double x0 = v[h * hd + a], x1 = v[h * hd + b];
      v[h * hd + a] = x0 * cos(th) - x1 * sin(th);
      v[h * hd + b] = x0 * sin(th) + x1 * cos(th);
    }
}

/* One token at position pos; writes V logits. */
static void naive_step(naive_t *m, int tok, int pos, double *logits) {
  char nm[96];
  int dim = m->dim, kvd = m->nkv * m->hd;
  double *x = calloc(dim, 8), *xb = calloc(dim, 8), *q = calloc(dim, 8), *k = calloc(kvd, 8),
         *v = calloc(kvd, 8), *att = calloc(dim, 8), *o = calloc(dim, 8), *g = calloc(m->ff, 8),
         *u = calloc(m->ff, 8), *sc = calloc(pos + 1, 8);
  double *emb = mat(m->g, "token_embd.weight", NULL);
  memcpy(x, emb + (size_t)tok * dim, dim * 8);
  free(emb);
  for (int l = 0; l < m->nl; l++) {
#define W(s) (snprintf(nm, sizeof nm, "blk.%d.%s", l, s), mat(m->g, nm, NULL))
    double *an = W("attn_norm.weight"), *wq = W("attn_q.weight"), *wk = W("attn_k.weight"),
           *wv = W("attn_v.weight"), *wo = W("attn_output.weight"), *fn = W("ffn_norm.weight"),
           *wg = W("ffn_gate.weight"), *wu = W("ffn_up.weight"), *wd = W("ffn_down.weight"),
           *bq = W("attn_q.bias"), *bk = W("attn_k.bias"), *bv = W("attn_v.bias");
#undef W
    rms(xb, x, an, dim, m->eps);
    mv(q, wq, xb, dim, dim);
    mv(k, wk, xb, kvd, dim);
    mv(v, wv, xb, kvd, dim);
    if (bq) for (int i = 0; i < dim; i++) q[i] += bq[i];
    if (bk) for (int i = 0; i < kvd; i++) k[i] += bk[i];
    if (bv) for (int i = 0; i < kvd; i++) v[i] += bv[i];
    rope(q, m->nh, m->hd, pos, m->base, m->neox);
    rope(k, m->nkv, m->hd, pos, m->base, m->neox);
    memcpy(m->kc + ((size_t)l * 64 + pos) * kvd, k, kvd * 8);
    memcpy(m->vc + ((size_t)l * 64 + pos) * kvd, v, kvd * 8);
    for (int h = 0; h < m->nh; h++) {
      int kh = h / (m->nh / m->nkv);
      double mx = -1e300, sum = 0;
      for (int t = 0; t <= pos; t++) {
        double s = 0;
        for (int i = 0; i < m->hd; i++) s += q[h * m->hd + i] * m->kc[((size_t)l * 64 + t) * kvd + kh * m->hd + i];
        sc[t] = s / sqrt(m->hd);
        if (sc[t] > mx) mx = sc[t];
      }
      for (int t = 0; t <= pos; t++) sum += (sc[t] = exp(sc[t] - mx));
      for (int i = 0; i < m->hd; i++) {
        double a = 0;
        for (int t = 0; t <= pos; t++) a += sc[t] / sum * m->vc[((size_t)l * 64 + t) * kvd + kh * m->hd + i];
        att[h * m->hd + i] = a;
      }
    }
    mv(o, wo, att, dim, dim);
    for (int i = 0; i < dim; i++) x[i] += o[i];
    rms(xb, x, fn, dim, m->eps);
    mv(g, wg, xb, m->ff, dim);
    mv(u, wu, xb, m->ff, dim);
    for (int i = 0; i < m->ff; i++) g[i] = g[i] / (1 + exp(-g[i])) * u[i];
    mv(o, wd, g, dim, m->ff);
    for (int i = 0; i < dim; i++) x[i] += o[i];
    free(an), free(wq), free(wk), free(wv), free(wo), free(fn), free(wg), free(wu), free(wd);
    free(bq), free(bk), free(bv);
  }
  double *on = mat(m->g, "output_norm.weight", NULL), *wout = mat(m->g, "output.weight", NULL);
  if (!wout) wout = mat(m->g, "token_embd.weight", NULL);
  rms(xb, x, on, dim, m->eps);
  mv(logits, wout, xb, m->V, dim);
  free(on), free(wout);
  free(x), free(xb), free(q), free(k), free(v), free(att), free(o), free(g), free(u), free(sc);
}

static char path[256];
static uint32_t requant_to; /* 0, or a 4-bit type the written model is converted to */

static void write_model(gw_llama_t *c) {
  const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
  snprintf(path, sizeof path, "%s/sl_test_model_%d.gguf", tmp, (int)getpid());
  if (!requant_to) {
    assert_int_equal(gw_random_llama(path, c), 0);
    return;
  }
  char f32[256];
  snprintf(f32, sizeof f32, "%s/sl_test_model_%d_f32.gguf", tmp, (int)getpid());
  assert_int_equal(gw_random_llama(f32, c), 0);
  assert_int_equal(gw_requant(f32, path, requant_to), 0);
  unlink(f32);
}

/* Runs a 12-token prompt three ways and compares every logits row to the naive
 * pass: one prefill call, token by token in slot 1, and two interleaved copies. */
static void check_model(gw_llama_t *c, sl_kern_impl_t impl, int prec, double tol) {
  write_model(c);
  char err[256] = "";
  if (prec == SL_KPREC_BF16 && impl == SL_KIMPL_DNNL && !sl_kern_dnnl_supports(SL_KPREC_BF16)) return;
  sl_model_opts_t o;
  sl_model_opts_init(&o);
  o.impl = impl;
  o.prec = prec;
  o.n_slots = 3;
  o.max_rows = 32;
  o.max_logits = 32;
  o.n_ctx = 64;
  sl_model_t *m = sl_model_load(path, &o, err, sizeof err);
  if (!m) fail_msg("load: %s", err);
  /* int8 tolerances are for 8-bit weights: 7 bits (no VNNI) round twice as coarsely */
  if (sl_model_info(m)->prec == SL_KPREC_S8) tol *= 127.0 / sl_kern_s8_qmax();
  sl_gguf_t *g = sl_gguf_open(path, err, sizeof err);
  assert_non_null(g);
  naive_t nv = {g, c->dim, c->n_layers, c->n_heads, c->n_kv_heads, c->dim / c->n_heads, c->n_ff, c->n_vocab,
                !strcmp(c->arch, "qwen2"), c->eps, c->rope_base, NULL, NULL};
  nv.kc = calloc((size_t)c->n_layers * 64 * nv.nkv * nv.hd, 8);
  nv.vc = calloc((size_t)c->n_layers * 64 * nv.nkv * nv.hd, 8);
  enum { NP = 12 };
  int32_t tok[2 * NP], pos[2 * NP], slot[2 * NP];
  bool want[2 * NP];
  double *ref = malloc(sizeof(double) * NP * c->n_vocab);
  for (int i = 0; i < NP; i++) {
    tok[i] = (i * 37 + 5) % c->n_vocab;
    naive_step(&nv, tok[i], i, ref + (size_t)i * c->n_vocab);
  }
  /* (a) one call, logits for every row */
  for (int i = 0; i < NP; i++) pos[i] = i, slot[i] = 0, want[i] = true;
  sl_model_batch_t b = {NP, tok, pos, slot, want};
  assert_int_equal(sl_model_forward(m, &b), 0);
  double maxd = 0;
  for (int i = 0; i < NP; i++) {
    const float *l = sl_model_logits(m, i);
    for (int v = 0; v < c->n_vocab; v++) maxd = fmax(maxd, fabs(l[v] - ref[(size_t)i * c->n_vocab + v]));
  }
  double scale = 0;
  for (size_t i = 0; i < (size_t)NP * c->n_vocab; i++) scale = fmax(scale, fabs(ref[i]));
  /* Tolerances are relative to the largest logit (the model's own scale). */
  tol *= fmax(1.0, scale);
  if (maxd > tol) fail_msg("batched prefill: max |logit diff| %g > %g (max |logit| %g)", maxd, tol, scale);
  /* (b) token by token in slot 1 */
  for (int i = 0; i < NP; i++) {
    int32_t p = i, s = 1;
    bool w = true;
    sl_model_batch_t b1 = {1, &tok[i], &p, &s, &w};
    assert_int_equal(sl_model_forward(m, &b1), 0);
    const float *l = sl_model_logits(m, 0);
    for (int v = 0; v < c->n_vocab; v++)
      if (fabs(l[v] - ref[(size_t)i * c->n_vocab + v]) > tol) fail_msg("step %d vocab %d", i, v);
  }
  /* (c) slots 0 and 2 interleaved row by row in two calls of 6 + 6 positions */
  int32_t prompt[NP];
  memcpy(prompt, tok, sizeof prompt);
  for (int half = 0; half < 2; half++) {
    int n = 0;
    for (int i = half * 6; i < half * 6 + 6; i++)
      for (int s = 0; s < 2; s++) {
        tok[n] = prompt[i], pos[n] = i, slot[n] = s * 2, want[n] = (i % 6 == 5);
        n++;
      }
    sl_model_batch_t b2 = {n, tok, pos, slot, want};
    assert_int_equal(sl_model_forward(m, &b2), 0);
    for (int j = 0; j < 2; j++) {
      const float *l = sl_model_logits(m, j);
      int i = half * 6 + 5;
      for (int v = 0; v < c->n_vocab; v++)
        if (fabs(l[v] - ref[(size_t)i * c->n_vocab + v]) > tol) fail_msg("interleaved half %d slot %d", half, j);
    }
  }
  /* Bad rows are refused. */
  int32_t bad = c->n_vocab, p0 = 0, s0 = 0;
  bool w0 = true;
  sl_model_batch_t bb = {1, &bad, &p0, &s0, &w0};
  assert_int_equal(sl_model_forward(m, &bb), SL_ERANGE);
  free(ref), free(nv.kc), free(nv.vc);
  sl_gguf_close(g);
  sl_model_free(m);
  unlink(path);
}

static gw_llama_t base_cfg(void) {
  gw_llama_t c = {.arch = "llama", .dim = 64, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2, .n_ff = 96,
                  .n_ctx = 128, .n_vocab = 97, .std = 0.2f, .rope_base = 10000.f, .eps = 1e-5f,
                  .wtype = SL_GGML_F32, .seed = 7};
  return c;
}

static void test_llama_f32(void **st) {
  gw_llama_t c = base_cfg();
  check_model(&c, SL_KIMPL_DNNL, -1, 2e-3);
  check_model(&c, SL_KIMPL_REF, -1, 2e-3);
}

static void test_qwen2_tied_f16(void **st) {
  gw_llama_t c = base_cfg();
  c.arch = "qwen2", c.biases = true, c.tied = true, c.wtype = SL_GGML_F16, c.rope_base = 1e6f, c.seed = 9;
  check_model(&c, SL_KIMPL_DNNL, -1, 2e-3);
}

static void test_llama_q8_0(void **st) {
  gw_llama_t c = base_cfg();
  c.wtype = SL_GGML_Q8_0, c.seed = 11;
  /* f32 compute over dequantised Q8_0 matches the naive pass closely; the int8
   * path (re-quantised weights, quantised activations) within its error. */
  check_model(&c, SL_KIMPL_DNNL, SL_KPREC_F32, 2e-3);
  check_model(&c, SL_KIMPL_DNNL, -1, 0.1);
  check_model(&c, SL_KIMPL_REF, SL_KPREC_S8, 0.1);
  check_model(&c, SL_KIMPL_DNNL, SL_KPREC_BF16, 0.05);
}

/* 4-bit files: the weights are dequantised at load, so f32 compute matches the
 * naive pass over the same dequantised weights; the default is s8 (and, for
 * Q4_0, the 4-bit weights in one-row products). */
static void test_llama_q4_0(void **st) {
  gw_llama_t c = base_cfg();
  c.seed = 13;
  requant_to = SL_GGML_Q4_0;
  check_model(&c, SL_KIMPL_DNNL, SL_KPREC_F32, 2e-3);
  check_model(&c, SL_KIMPL_DNNL, -1, 0.1);
  /* Widths that are multiples of 128: the one-row steps of (b) multiply the 4-bit
   * weights themselves (kern_q4.c), the prefill of (a) the s8 copy. */
  c.dim = 128, c.n_ff = 256;
  check_model(&c, SL_KIMPL_DNNL, -1, 0.1);
  requant_to = 0;
}

static void test_llama_q4_k(void **st) {
  gw_llama_t c = base_cfg();
  c.dim = 256, c.n_ff = 256, c.seed = 17; /* Q4_K rows are whole 256-element blocks */
  requant_to = SL_GGML_Q4_K;
  write_model(&c);
  char err[256];
  sl_gguf_t *g = sl_gguf_open(path, err, sizeof err);
  assert_non_null(g);
  assert_int_equal(sl_gguf_find_tensor(g, "blk.0.ffn_down.weight")->type, SL_GGML_Q4_K);
  sl_gguf_close(g);
  check_model(&c, SL_KIMPL_DNNL, SL_KPREC_F32, 2e-3);
  /* The int8 error grows with the width (256 here, 64 above): 0.126 of the largest
   * logit at most, the same with the reference kernel (exact integer sums). */
  check_model(&c, SL_KIMPL_DNNL, -1, 0.15);
  check_model(&c, SL_KIMPL_REF, SL_KPREC_S8, 0.15);
  requant_to = 0;
}

/* A file that mixes block types as llama.cpp's Q4_K_M and friends do: Q4_K,
 * Q4_1, Q5_0, Q5_1, Q5_K (also the token embeddings, dequantised a row at a time)
 * and Q6_K (ffn_down, the output head) side by side (gguf_requant.h RQ_MIXED). */
static void test_llama_mixed_quants(void **st) {
  gw_llama_t c = base_cfg();
  c.dim = 256, c.n_ff = 256, c.seed = 19;
  requant_to = RQ_MIXED;
  write_model(&c);
  char err[256];
  sl_gguf_t *g = sl_gguf_open(path, err, sizeof err);
  assert_non_null(g);
  static const struct {
    const char *name;
    uint32_t type;
  } want[] = {{"blk.0.attn_q.weight", SL_GGML_Q4_K},   {"blk.0.attn_k.weight", SL_GGML_Q4_1},
              {"blk.0.attn_v.weight", SL_GGML_Q5_0},   {"blk.0.attn_output.weight", SL_GGML_Q5_1},
              {"blk.0.ffn_up.weight", SL_GGML_Q5_K},   {"blk.0.ffn_down.weight", SL_GGML_Q6_K},
              {"token_embd.weight", SL_GGML_Q5_K}};
  for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
    const sl_gguf_tensor_t *t = sl_gguf_find_tensor(g, want[i].name);
    assert_non_null(t);
    if (t->type != want[i].type)
      fail_msg("%s is %s", want[i].name, sl_ggml_type_name(t->type));
  }
  sl_gguf_close(g);
  check_model(&c, SL_KIMPL_DNNL, SL_KPREC_F32, 2e-3);
  /* int8 re-quantisation of these random weights: 0.167 of the largest logit,
   * identical with the reference kernel (exact integer sums) */
  check_model(&c, SL_KIMPL_DNNL, -1, 0.2);
  check_model(&c, SL_KIMPL_REF, SL_KPREC_S8, 0.2);
  requant_to = 0;
}

/* The same batches on 1 and 2 threads give bit-identical logits: on 2 threads,
 * when the products run on the helper thread (s8, up to 12 rows, large enough),
 * a layer's attention (biases, RoPE, cache stores, Q·K and P·V) is split by KV
 * head (1 of 2 and, below, 1 of 3 heads on one thread); a small F32 model's
 * batch is split by rows, each thread taking whole sequences through the whole
 * pass (row_split in model.c). Prompt chunks of two rows for six slots in one
 * call, then a decode row per slot, and at the end batches of 2 and 3 decode
 * rows (a share of one row). */
static void check_threads(gw_llama_t *c, int prec) {
  write_model(c);
  char err[256] = "";
  sl_model_opts_t o;
  sl_model_opts_init(&o);
  o.prec = prec;
  o.n_slots = 6;
  o.max_rows = 12;
  o.max_logits = 12;
  o.n_ctx = 64;
  sl_model_t *m[2];
  for (int t = 0; t < 2; t++)
    if (!(m[t] = sl_model_load(path, &o, err, sizeof err))) fail_msg("load: %s", err);
  int32_t tok[12], pos[12], slot[12];
  bool want[12];
  int len[6] = {0};
  for (int step = 0; step < 40; step++) {
    int n = 0, ns = step < 34 ? 6 : 2 + step % 2;
    for (int s = 0; s < ns; s++)
      for (int r = 0; r < (step < 3 ? 2 : 1); r++, n++) {
        tok[n] = (step * 31 + s * 7 + r * 13) % c->n_vocab, pos[n] = len[s]++, slot[n] = s;
        want[n] = true;
      }
    sl_model_batch_t b = {n, tok, pos, slot, want};
    for (int t = 0; t < 2; t++) {
      sl_kern_set_threads(t + 1);
      assert_int_equal(sl_model_forward(m[t], &b), 0);
    }
    for (int i = 0; i < n; i++)
      if (memcmp(sl_model_logits(m[0], i), sl_model_logits(m[1], i), sizeof(float) * c->n_vocab))
        fail_msg("step %d row %d: logits differ between 1 and 2 threads", step, i);
  }
  sl_kern_set_threads(1);
  sl_model_free(m[0]);
  sl_model_free(m[1]);
  unlink(path);
}

static void test_threads_identical(void **st) {
  gw_llama_t c = base_cfg();
  c.dim = 256, c.wtype = SL_GGML_Q8_0, c.seed = 19; /* wo: 256 × 256, on the helper from 4 rows */
  check_threads(&c, -1);
  c.arch = "qwen2", c.biases = true, c.dim = 288, c.n_heads = 6, c.n_kv_heads = 3, c.seed = 23;
  check_threads(&c, -1);
  c = base_cfg();
  check_threads(&c, -1);
}

static void test_refusals(void **st) {
  char err[256];
  gw_llama_t c = base_cfg();
  c.arch = "gemma";
  write_model(&c);
  assert_null(sl_model_load(path, NULL, err, sizeof err));
  assert_non_null(strstr(err, "'gemma'"));
  unlink(path);
  assert_null(sl_model_load("/nonexistent.gguf", NULL, err, sizeof err));
  assert_non_null(strstr(err, "cannot open"));
  /* a tokenizer of fewer tokens than the embedding's rows; a block_count below
   * the layers the file holds */
  c = base_cfg();
  const char **toks = calloc((size_t)c.n_vocab, sizeof *toks);
  for (int i = 0; i < c.n_vocab; i++) toks[i] = "t";
  c.tokens = toks;
  c.n_tokens = c.n_vocab - 1;
  write_model(&c);
  assert_null(sl_model_load(path, NULL, err, sizeof err));
  assert_non_null(strstr(err, "tokens, token_embd.weight"));
  c.n_tokens = 0;
  c.block_count = c.n_layers - 1;
  write_model(&c);
  assert_null(sl_model_load(path, NULL, err, sizeof err));
  assert_non_null(strstr(err, "past block_count"));
  c.block_count = 0;
  /* a known key of the wrong type: an error, not the default */
  c.eps_text = "1e-5";
  write_model(&c);
  assert_null(sl_model_load(path, NULL, err, sizeof err));
  assert_non_null(strstr(err, "layer_norm_rms_epsilon is not a number"));
  c.eps_text = NULL;
  write_model(&c);
  sl_model_t *ok = sl_model_load(path, NULL, err, sizeof err);
  assert_non_null(ok);
  sl_model_free(ok);
  free(toks);
  unlink(path);
  /* A KV cap too small for any context is refused, a moderate one lowers n_ctx. */
  c = base_cfg();
  write_model(&c);
  sl_model_opts_t o;
  sl_model_opts_init(&o);
  o.n_slots = 4;
  o.kv_max_bytes = 1000;
  assert_null(sl_model_load(path, &o, err, sizeof err));
  assert_non_null(strstr(err, "KV cache cap"));
  o.kv_max_bytes = 2 * 4 * 32 * 32 * 2 * 4; /* layers · slots · kv_dim · 32 positions · K,V · f32 */
  sl_model_t *m = sl_model_load(path, &o, err, sizeof err);
  assert_non_null(m);
  assert_int_equal(sl_model_info(m)->n_ctx, 32);
  sl_model_free(m);
  unlink(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_llama_f32),
      cmocka_unit_test(test_qwen2_tied_f16),
      cmocka_unit_test(test_llama_q8_0),
      cmocka_unit_test(test_llama_q4_0),
      cmocka_unit_test(test_llama_q4_k),
      cmocka_unit_test(test_llama_mixed_quants),
      cmocka_unit_test(test_threads_identical),
      cmocka_unit_test(test_refusals),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
