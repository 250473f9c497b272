/* Loading and running a Llama-family model. Model code only: every product goes
 * through kernels/ (sl_kern_matmul and friends). Q, K and V are fused into one
 * weight matrix and so are the FFN gate and up projections: fewer, wider products
 * keep oneDNN's threads busy at one row per sequence. */
#include "model.h"

#include "sl_err.h"
#include "sl_log.h"

#include <math.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  float *attn_norm, *ffn_norm;       /* (dim) each, one allocation (attn_norm's) */
  float *bq_kv;                      /* (q_dim + 2 kv_dim) biases or NULL */
  sl_kern_mat_t *wqkv;               /* (q_dim + 2 kv_dim) × dim */
  sl_kern_mat_t *wo;                 /* dim × q_dim */
  sl_kern_mat_t *wgu;                /* 2 n_ff × dim: gate rows, then up rows */
  sl_kern_mat_t *wdown;              /* dim × n_ff */
} layer_t;

/* Everything the model computes with is its own memory: the file is read at
 * load and closed then. A mapping kept open would read what the file holds
 * now, and an operator copying another model over it in place ("cp new.gguf
 * model.gguf") would change the weights under a running engine, or truncate
 * them (SIGBUS: the whole gateway down). */
struct sl_model {
  sl_model_info_t info;
  sl_gguf_t *g;        /* the file, while loading */
  sl_kern_t *kern;
  int max_rows, max_logits;
  int q_dim, kv_dim, qkv_dim;
  sl_kern_dtype_t embd_dt;
  uint8_t *embd;       /* token_embd rows as the file stores them (n_vocab × dim) */
  size_t embd_row_bytes;
  float *out_norm;
  sl_kern_mat_t *wout; /* n_vocab × dim */
  layer_t *layers;
  float *inv_freq;     /* (n_rot / 2) */
  /* (layer, slot, kv head, ...) in the layout of sl_kern_kv_store: each head's keys
   * and values are contiguous, so attention streams them. */
  void *k_cache, *v_cache; /* f32, or f16 (uint16_t) for s8 models: kv_elt bytes each */
  size_t kv_elt;
  size_t k_head_stride, v_head_stride; /* floats */
  /* scratch, sized at load for max_rows */
  float *x, *xb, *qkv, *att, *tmp, *gu, *h, *xl, *logits, *scores;
  float *rope_cs; /* (row, n_rot): cos/sin pairs of each row's position */
  size_t scores_stride; /* floats: scores holds one attention scratch per thread */
  int n_logits;
};

static int errf(char *err, size_t errlen, int code, const char *fmt, ...) {
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return code;
}

/* An optional number of the metadata: 1 with *f when the key is there, 0 when
 * it is not, -1 (err filled) when it holds something else — a file that gives
 * its epsilon as a string is broken, not one to run on the default. */
static int opt_f32(const sl_gguf_t *g, const char *key, float *f, char *err, size_t errlen) {
  int rc = sl_gguf_get_f32(g, key, f);
  if (rc == SL_ENOTFOUND) return 0;
  return rc ? errf(err, errlen, -1, "model: %s is not a number", key) : 1;
}

void sl_model_opts_init(sl_model_opts_t *o) {
  memset(o, 0, sizeof *o);
  o->impl = SL_KIMPL_DNNL;
  o->prec = -1;
  o->max_rows = 128;
  o->n_slots = 1;
}

int sl_model_dtype(uint32_t t, sl_kern_dtype_t *out) {
  switch (t) {
  case SL_GGML_F32: *out = SL_KDT_F32; return 0;
  case SL_GGML_F16: *out = SL_KDT_F16; return 0;
  case SL_GGML_BF16: *out = SL_KDT_BF16; return 0;
  case SL_GGML_Q8_0: *out = SL_KDT_Q8_0; return 0;
  case SL_GGML_Q4_0: *out = SL_KDT_Q4_0; return 0;
  case SL_GGML_Q4_1: *out = SL_KDT_Q4_1; return 0;
  case SL_GGML_Q5_0: *out = SL_KDT_Q5_0; return 0;
  case SL_GGML_Q5_1: *out = SL_KDT_Q5_1; return 0;
  case SL_GGML_Q4_K: *out = SL_KDT_Q4_K; return 0;
  case SL_GGML_Q5_K: *out = SL_KDT_Q5_K; return 0;
  case SL_GGML_Q6_K: *out = SL_KDT_Q6_K; return 0;
  default: return SL_EUNSUPPORTED;
  }
}

/* A block-quantised type (everything but the float ones). */
static bool is_quant(uint32_t t) {
  sl_kern_dtype_t dt;
  return !sl_model_dtype(t, &dt) && sl_kern_block(dt) > 1;
}

/* Looks a tensor up and checks its shape (ne0 = inner). ne1 = 0 means a vector. */
static int get_tensor(sl_model_t *m, const char *name, uint64_t ne0, uint64_t ne1, bool required,
                      const sl_gguf_tensor_t **out, char *err, size_t errlen) {
  const sl_gguf_tensor_t *t = sl_gguf_find_tensor(m->g, name);
  *out = t;
  if (!t) return required ? errf(err, errlen, SL_EPARSE, "model: missing tensor '%s'", name) : 0;
  bool ok = ne1 ? (t->n_dims == 2 && t->ne[0] == ne0 && t->ne[1] == ne1)
                : (t->n_dims == 1 && t->ne[0] == ne0);
  if (!ok)
    return errf(err, errlen, SL_EPARSE,
                "model: tensor '%s' has shape [%llu, %llu] (%u dims), expected [%llu, %llu]", name,
                (unsigned long long)t->ne[0], (unsigned long long)t->ne[1], t->n_dims,
                (unsigned long long)ne0, (unsigned long long)(ne1 ? ne1 : 1));
  sl_kern_dtype_t dt;
  if (sl_model_dtype(t->type, &dt))
    return errf(err, errlen, SL_EUNSUPPORTED, "model: tensor '%s' has unsupported type %s", name,
                sl_ggml_type_name(t->type));
  if (!ne1 && t->type != SL_GGML_F32)
    return errf(err, errlen, SL_EUNSUPPORTED, "model: vector '%s' must be F32, is %s", name,
                sl_ggml_type_name(t->type));
  if (t->type == SL_GGML_F32 && ((uintptr_t)t->data & 3))
    return errf(err, errlen, SL_EPARSE, "model: tensor '%s' is misaligned", name);
  return 0;
}

/* A copy of n bytes at p (NULL when out of memory). */
static void *copy_of(const void *p, size_t n) {
  void *c = malloc(n ? n : 1);
  if (c) memcpy(c, p, n);
  return c;
}

/* Q4_0 tensors also keep their 4 bits for one-row products (decode), where the
 * kernels can (sl_kern_mat_add_q4_0); 0 when they cannot, or the tensors are of
 * another type. */
static int add_q4_0(sl_kern_mat_t *mat, const sl_gguf_tensor_t **ts, int nt, int n_in) {
  size_t bytes = 0;
  for (int i = 0; i < nt; i++) {
    if (ts[i]->type != SL_GGML_Q4_0) return 0;
    bytes += ts[i]->ne[1] * sl_kern_row_bytes(SL_KDT_Q4_0, (size_t)n_in);
  }
  uint8_t *cat = NULL;
  const void *src = ts[0]->data;
  if (nt > 1) { /* q, k and v (or gate and up) are one matrix here */
    if (!(cat = malloc(bytes))) return SL_ENOMEM;
    size_t o = 0;
    for (int i = 0; i < nt; i++) {
      size_t n = ts[i]->ne[1] * sl_kern_row_bytes(SL_KDT_Q4_0, (size_t)n_in);
      memcpy(cat + o, ts[i]->data, n);
      o += n;
    }
    src = cat;
  }
  int rc = sl_kern_mat_add_q4_0(mat, src);
  free(cat);
  return rc == SL_EUNSUPPORTED ? 0 : rc;
}

/* Dequantises tensors (all with n_in columns) one after another into a single
 * f32 matrix and prepares it for the matmul kernel. */
static int make_mat(sl_model_t *m, const sl_gguf_tensor_t **ts, int nt, int n_in, sl_kern_prec_t prec,
                    sl_kern_mat_t **out, char *err, size_t errlen) {
  size_t rows = 0;
  for (int i = 0; i < nt; i++) rows += ts[i]->ne[1];
  float *w = malloc(rows * (size_t)n_in * sizeof(float));
  if (!w) return errf(err, errlen, SL_ENOMEM, "model: out of memory for weights");
  size_t r0 = 0;
  for (int i = 0; i < nt; i++) {
    sl_kern_dtype_t dt = SL_KDT_F32;
    sl_model_dtype(ts[i]->type, &dt);
    sl_kern_to_f32(dt, ts[i]->data, w + r0 * n_in, ts[i]->ne[1] * (size_t)n_in);
    r0 += ts[i]->ne[1];
  }
  int rc = sl_kern_mat_new(m->kern, SL_KDT_F32, w, (int)rows, n_in, prec, out);
  free(w);
  if (!rc) rc = add_q4_0(*out, ts, nt, n_in);
  if (rc) return errf(err, errlen, rc, "model: cannot prepare '%s' for %s matmul: %s", ts[0]->name,
                      sl_kern_prec_name(prec), sl_strerror(rc));
  m->info.weight_bytes += sl_kern_mat_bytes(*out);
  return 0;
}

static int read_hparams(sl_model_t *m, char *err, size_t errlen) {
  sl_model_info_t *in = &m->info;
  const char *arch;
  size_t alen;
  if (sl_gguf_get_str(m->g, "general.architecture", &arch, &alen))
    return errf(err, errlen, SL_EPARSE, "model: general.architecture is missing");
  if (alen >= sizeof in->arch) alen = sizeof in->arch - 1;
  memcpy(in->arch, arch, alen);
  in->arch[alen] = 0;
  if (strcmp(in->arch, "llama") && strcmp(in->arch, "qwen2"))
    return errf(err, errlen, SL_EUNSUPPORTED,
                "model: unsupported architecture '%s' (supported: llama, qwen2)", in->arch);
  in->neox_rope = !strcmp(in->arch, "qwen2");
  const char *nm;
  size_t nlen;
  if (!sl_gguf_get_str(m->g, "general.name", &nm, &nlen)) {
    if (nlen >= sizeof in->name) nlen = sizeof in->name - 1;
    memcpy(in->name, nm, nlen);
  }
  char key[128];
#define KEY(suffix) (snprintf(key, sizeof key, "%s." suffix, in->arch), key)
  uint32_t u;
  struct {
    const char *k;
    int *dst;
    bool required;
    uint32_t max;
  } ints[] = {
      {"block_count", &in->n_layers, true, 1024},
      {"embedding_length", &in->dim, true, 1 << 16},
      {"feed_forward_length", &in->n_ff, true, 1 << 18},
      {"attention.head_count", &in->n_heads, true, 1024},
      {"attention.head_count_kv", &in->n_kv_heads, false, 1024},
      {"context_length", &in->n_ctx_train, false, 1 << 24},
      {"rope.dimension_count", &in->n_rot, false, 1 << 16},
      {"attention.key_length", &in->head_dim, false, 1 << 16},
  };
  for (size_t i = 0; i < sizeof ints / sizeof *ints; i++) {
    snprintf(key, sizeof key, "%s.%s", in->arch, ints[i].k);
    int rc = sl_gguf_get_u32(m->g, key, &u);
    if (rc == SL_ENOTFOUND && !ints[i].required) continue;
    if (rc) return errf(err, errlen, SL_EPARSE, "model: %s is missing or not an integer", key);
    if (u == 0 || u > ints[i].max)
      return errf(err, errlen, SL_ERANGE, "model: %s = %u is out of range", key, u);
    *ints[i].dst = (int)u;
  }
  if (!in->n_kv_heads) in->n_kv_heads = in->n_heads;
  if (!in->n_ctx_train) in->n_ctx_train = 2048;
  if (!in->head_dim) {
    if (in->dim % in->n_heads)
      return errf(err, errlen, SL_ERANGE, "model: dim %d is not a multiple of %d heads", in->dim, in->n_heads);
    in->head_dim = in->dim / in->n_heads;
  }
  if (!in->n_rot) in->n_rot = in->head_dim;
  if (in->n_heads % in->n_kv_heads)
    return errf(err, errlen, SL_ERANGE, "model: %d heads is not a multiple of %d KV heads", in->n_heads,
                in->n_kv_heads);
  if (in->n_rot > in->head_dim || in->n_rot % 2)
    return errf(err, errlen, SL_ERANGE, "model: rope dimension %d does not fit head dim %d", in->n_rot,
                in->head_dim);
  in->rms_eps = 1e-5f;
  in->rope_base = 10000.f;
  in->rope_freq_scale = 1.f;
  float f;
  int got;
  if ((got = opt_f32(m->g, KEY("attention.layer_norm_rms_epsilon"), &f, err, errlen)) < 0) return SL_EPARSE;
  if (got) in->rms_eps = f;
  if ((got = opt_f32(m->g, KEY("rope.freq_base"), &f, err, errlen)) < 0) return SL_EPARSE;
  if (got) in->rope_base = f;
  if (!(in->rms_eps > 0 && in->rms_eps < 1) || !(in->rope_base > 1 && in->rope_base < 1e12f))
    return errf(err, errlen, SL_ERANGE, "model: rms epsilon %g or rope base %g out of range",
                in->rms_eps, in->rope_base);
  /* RoPE scaling: "linear" divides positions by the factor; older files give
   * rope.scale_linear. Other schemes (YaRN) change attention too: refuse them. */
  const char *st;
  size_t stl;
  int trc = sl_gguf_get_str(m->g, KEY("rope.scaling.type"), &st, &stl);
  if (trc && trc != SL_ENOTFOUND) return errf(err, errlen, SL_EPARSE, "model: %s is not a string", key);
  if (!trc) {
    if (stl == 6 && !memcmp(st, "linear", 6)) {
      if ((got = opt_f32(m->g, KEY("rope.scaling.factor"), &f, err, errlen)) < 0) return SL_EPARSE;
      if (got && f > 0) in->rope_freq_scale = 1.f / f;
    } else if (!(stl == 4 && !memcmp(st, "none", 4))) {
      return errf(err, errlen, SL_EUNSUPPORTED, "model: rope scaling '%.*s' is not supported", (int)stl, st);
    }
  } else {
    if ((got = opt_f32(m->g, KEY("rope.scale_linear"), &f, err, errlen)) < 0) return SL_EPARSE;
    if (got && f > 0) in->rope_freq_scale = 1.f / f;
  }
#undef KEY
  return 0;
}

static int load_weights(sl_model_t *m, int prec_opt, char *err, size_t errlen) {
  sl_model_info_t *in = &m->info;
  int rc;
  const sl_gguf_tensor_t *te, *tout, *tnorm, *tff;
  const sl_gguf_tensor_t *embd_probe = sl_gguf_find_tensor(m->g, "token_embd.weight");
  if (!embd_probe || embd_probe->n_dims != 2)
    return errf(err, errlen, SL_EPARSE, "model: missing or malformed tensor 'token_embd.weight'");
  if (embd_probe->ne[1] > (1u << 22))
    return errf(err, errlen, SL_ERANGE, "model: vocabulary of %llu is too large",
                (unsigned long long)embd_probe->ne[1]);
  in->n_vocab = (int)embd_probe->ne[1];
  /* the file's tokenizer has as many tokens as the embedding has rows (as
   * llama.cpp holds it): fewer, and sampled ids would have no text; more, and
   * prompts would hold ids the model has no row for */
  int64_t kt = sl_gguf_find_key(m->g, "tokenizer.ggml.tokens");
  if (kt >= 0 && (sl_gguf_kv_type(m->g, kt) != SL_GGUF_ARRAY || sl_gguf_arr_type(m->g, kt) != SL_GGUF_STRING))
    return errf(err, errlen, SL_EPARSE, "model: tokenizer.ggml.tokens is not an array of strings");
  if (kt >= 0 && sl_gguf_arr_len(m->g, kt) != (size_t)in->n_vocab)
    return errf(err, errlen, SL_EPARSE, "model: the tokenizer has %zu tokens, token_embd.weight %d rows",
                sl_gguf_arr_len(m->g, kt), in->n_vocab);
  /* and no layer's tensors lie past block_count (a smaller count would drop them) */
  for (size_t i = 0; i < sl_gguf_n_tensors(m->g); i++) {
    const char *nm = sl_gguf_tensor(m->g, i)->name;
    long b = strncmp(nm, "blk.", 4) ? -1 : strtol(nm + 4, NULL, 10);
    if (b >= in->n_layers)
      return errf(err, errlen, SL_EPARSE, "model: tensor '%s' lies past block_count %d", nm, in->n_layers);
  }
  if ((rc = get_tensor(m, "token_embd.weight", in->dim, in->n_vocab, true, &te, err, errlen))) return rc;
  if ((rc = get_tensor(m, "output_norm.weight", in->dim, 0, true, &tnorm, err, errlen))) return rc;
  if ((rc = get_tensor(m, "output.weight", in->dim, in->n_vocab, false, &tout, err, errlen))) return rc;
  if ((rc = get_tensor(m, "rope_freqs.weight", in->n_rot / 2, 0, false, &tff, err, errlen))) return rc;
  in->tied_output = !tout;
  sl_model_dtype(te->type, &m->embd_dt);
  m->embd_row_bytes = sl_kern_row_bytes(m->embd_dt, (size_t)in->dim);
  if (!(m->embd = copy_of(te->data, m->embd_row_bytes * (size_t)in->n_vocab)) ||
      !(m->out_norm = copy_of(tnorm->data, sizeof(float) * (size_t)in->dim)))
    return errf(err, errlen, SL_ENOMEM, "model: out of memory for the embeddings");

  /* Precision: quantised weights (Q8_0, the 4-, 5- and 6-bit types) run int8 (s8
   * weights, per-row scales), float files run f32 so that they reproduce an F32
   * reference exactly. 4- to 6-bit blocks are dequantised at load and
   * re-quantised to s8 like Q8_0: the same VNNI product serves them, at more than
   * the file's weight bytes in memory. */
  const sl_gguf_tensor_t *probe = sl_gguf_find_tensor(m->g, "blk.0.attn_q.weight");
  if (prec_opt >= 0)
    in->prec = (sl_kern_prec_t)prec_opt;
  else
    in->prec = probe && is_quant(probe->type) ? SL_KPREC_S8 : SL_KPREC_F32;
  if (in->prec == SL_KPREC_S8 && sl_kern_s8_qmax() < 127)
    SL_INFO("model: this CPU has no VNNI: int8 weights are kept to 7 bits (oneDNN's int8 product "
            "would saturate at 8)");

  m->q_dim = in->n_heads * in->head_dim;
  m->kv_dim = in->n_kv_heads * in->head_dim;
  m->qkv_dim = m->q_dim + 2 * m->kv_dim;
  m->layers = calloc((size_t)in->n_layers, sizeof *m->layers);
  if (!m->layers) return errf(err, errlen, SL_ENOMEM, "model: out of memory");
  for (int l = 0; l < in->n_layers; l++) {
    layer_t *L = &m->layers[l];
    char nm[5][96];
    const sl_gguf_tensor_t *t[3], *bias[3], *an, *fn, *wo, *wd;
    snprintf(nm[0], sizeof nm[0], "blk.%d.attn_q.weight", l);
    snprintf(nm[1], sizeof nm[1], "blk.%d.attn_k.weight", l);
    snprintf(nm[2], sizeof nm[2], "blk.%d.attn_v.weight", l);
    if ((rc = get_tensor(m, nm[0], in->dim, m->q_dim, true, &t[0], err, errlen))) return rc;
    if ((rc = get_tensor(m, nm[1], in->dim, m->kv_dim, true, &t[1], err, errlen))) return rc;
    if ((rc = get_tensor(m, nm[2], in->dim, m->kv_dim, true, &t[2], err, errlen))) return rc;
    snprintf(nm[0], sizeof nm[0], "blk.%d.attn_q.bias", l);
    snprintf(nm[1], sizeof nm[1], "blk.%d.attn_k.bias", l);
    snprintf(nm[2], sizeof nm[2], "blk.%d.attn_v.bias", l);
    /* qwen2 has them by definition (llama.cpp refuses a file without); llama may */
    bool need_bias = !strcmp(in->arch, "qwen2");
    if ((rc = get_tensor(m, nm[0], m->q_dim, 0, need_bias, &bias[0], err, errlen))) return rc;
    if ((rc = get_tensor(m, nm[1], m->kv_dim, 0, need_bias, &bias[1], err, errlen))) return rc;
    if ((rc = get_tensor(m, nm[2], m->kv_dim, 0, need_bias, &bias[2], err, errlen))) return rc;
    if (bias[0] || bias[1] || bias[2]) {
      in->qkv_bias = true;
      if (!(L->bq_kv = calloc((size_t)m->qkv_dim, sizeof(float))))
        return errf(err, errlen, SL_ENOMEM, "model: out of memory");
      if (bias[0]) memcpy(L->bq_kv, bias[0]->data, (size_t)m->q_dim * 4);
      if (bias[1]) memcpy(L->bq_kv + m->q_dim, bias[1]->data, (size_t)m->kv_dim * 4);
      if (bias[2]) memcpy(L->bq_kv + m->q_dim + m->kv_dim, bias[2]->data, (size_t)m->kv_dim * 4);
    }
    if ((rc = make_mat(m, t, 3, in->dim, in->prec, &L->wqkv, err, errlen))) return rc;
    snprintf(nm[3], sizeof nm[3], "blk.%d.attn_output.weight", l);
    if ((rc = get_tensor(m, nm[3], m->q_dim, in->dim, true, &wo, err, errlen))) return rc;
    if ((rc = make_mat(m, &wo, 1, m->q_dim, in->prec, &L->wo, err, errlen))) return rc;
    snprintf(nm[0], sizeof nm[0], "blk.%d.ffn_gate.weight", l);
    snprintf(nm[1], sizeof nm[1], "blk.%d.ffn_up.weight", l);
    if ((rc = get_tensor(m, nm[0], in->dim, in->n_ff, true, &t[0], err, errlen))) return rc;
    if ((rc = get_tensor(m, nm[1], in->dim, in->n_ff, true, &t[1], err, errlen))) return rc;
    if ((rc = make_mat(m, t, 2, in->dim, in->prec, &L->wgu, err, errlen))) return rc;
    snprintf(nm[4], sizeof nm[4], "blk.%d.ffn_down.weight", l);
    if ((rc = get_tensor(m, nm[4], in->n_ff, in->dim, true, &wd, err, errlen))) return rc;
    if ((rc = make_mat(m, &wd, 1, in->n_ff, in->prec, &L->wdown, err, errlen))) return rc;
    snprintf(nm[0], sizeof nm[0], "blk.%d.attn_norm.weight", l);
    snprintf(nm[1], sizeof nm[1], "blk.%d.ffn_norm.weight", l);
    if ((rc = get_tensor(m, nm[0], in->dim, 0, true, &an, err, errlen))) return rc;
    if ((rc = get_tensor(m, nm[1], in->dim, 0, true, &fn, err, errlen))) return rc;
    if (!(L->attn_norm = malloc(2 * sizeof(float) * (size_t)in->dim)))
      return errf(err, errlen, SL_ENOMEM, "model: out of memory");
    L->ffn_norm = L->attn_norm + in->dim;
    memcpy(L->attn_norm, an->data, sizeof(float) * (size_t)in->dim);
    memcpy(L->ffn_norm, fn->data, sizeof(float) * (size_t)in->dim);
  }
  /* The output head runs once per sequence per step; tied models reuse the
   * embedding table. It follows the model's precision unless the table is a float
   * type, where f32 keeps the reference logits. */
  const sl_gguf_tensor_t *head = tout ? tout : te;
  sl_kern_prec_t hp = is_quant(head->type) ? in->prec : (prec_opt >= 0 ? in->prec : SL_KPREC_F32);
  if ((rc = make_mat(m, &head, 1, in->dim, hp, &m->wout, err, errlen))) return rc;
  m->inv_freq = malloc(sizeof(float) * (size_t)(in->n_rot / 2 + 1));
  if (!m->inv_freq) return errf(err, errlen, SL_ENOMEM, "model: out of memory");
  sl_kern_rope_inv_freq(m->inv_freq, in->n_rot, in->rope_base, in->rope_freq_scale,
                        tff ? (const float *)tff->data : NULL);
  return 0;
}

/* Scratch of n floats, 64-byte aligned, with one cache line to spare: when two
 * threads take a batch's rows apart (row_split), the second range starts on the
 * next cache line (share_rows), so the threads never write the same line. */
static float *scratch_alloc(size_t n) { return aligned_alloc(64, (n * 4 + 64 + 63) / 64 * 64); }

static int alloc_state(sl_model_t *m, const sl_model_opts_t *o, char *err, size_t errlen) {
  sl_model_info_t *in = &m->info;
  in->n_slots = o->n_slots > 0 ? o->n_slots : 1;
  if (in->n_slots > 4096) return errf(err, errlen, SL_ERANGE, "model: %d slots is too many", in->n_slots);
  in->n_ctx = o->n_ctx > 0 ? o->n_ctx : in->n_ctx_train;
  /* Keys are padded to whole blocks of SL_KERN_KV_BLOCK positions. */
  /* s8 models keep the cache in F16 (llama.cpp's default): they are not exact
   * anyway, and with several sequences attention is bound by reading the cache.
   * Float models keep F32, which reproduces the references. */
  in->kv_f16 = in->prec == SL_KPREC_S8;
  m->kv_elt = in->kv_f16 ? 2 : 4;
  size_t per_pos = (size_t)in->n_layers * in->n_slots * m->kv_dim * 2 * m->kv_elt;
  if (o->kv_max_bytes && (size_t)in->n_ctx * per_pos > o->kv_max_bytes) {
    size_t fit = o->kv_max_bytes / per_pos;
    if (fit < 16)
      return errf(err, errlen, SL_ERANGE,
                  "model: a KV cache cap of %zu bytes leaves %zu positions per slot for %d slots",
                  o->kv_max_bytes, fit, in->n_slots);
    in->n_ctx = (int)(fit / SL_KERN_KV_BLOCK * SL_KERN_KV_BLOCK); /* whole key blocks stay under the cap */
  }
  const size_t B = SL_KERN_KV_BLOCK;
  size_t ctx_pad = ((size_t)in->n_ctx + B - 1) / B * B;
  m->k_head_stride = ctx_pad * in->head_dim;
  m->v_head_stride = (size_t)in->n_ctx * in->head_dim;
  in->kv_bytes = (size_t)in->n_layers * in->n_slots * in->n_kv_heads *
                 (m->k_head_stride + m->v_head_stride) * m->kv_elt;
  m->max_rows = o->max_rows > 0 ? o->max_rows : 128;
  m->max_logits = o->max_logits > 0 ? o->max_logits : in->n_slots;
  if (m->max_logits > m->max_rows) m->max_logits = m->max_rows;
  size_t R = (size_t)m->max_rows, L = (size_t)m->max_logits;
  size_t nk = (size_t)in->n_layers * in->n_slots * in->n_kv_heads * m->k_head_stride;
  size_t nv = (size_t)in->n_layers * in->n_slots * in->n_kv_heads * m->v_head_stride;
  m->k_cache = calloc(nk, m->kv_elt); /* zeros: padded key slots stay finite */
  m->v_cache = calloc(nv, m->kv_elt);
  m->x = scratch_alloc(R * in->dim);
  m->xb = scratch_alloc(R * in->dim);
  m->tmp = scratch_alloc(R * in->dim);
  m->qkv = scratch_alloc(R * m->qkv_dim);
  m->att = scratch_alloc(R * m->q_dim);
  m->gu = scratch_alloc(R * in->n_ff * 2);
  m->h = scratch_alloc(R * in->n_ff);
  m->xl = scratch_alloc(L * in->dim);
  m->logits = scratch_alloc(L * in->n_vocab);
  m->scores_stride = ctx_pad;
  m->scores = scratch_alloc(2 * ctx_pad); /* one per thread of sl_kern_parallel */
  m->rope_cs = scratch_alloc(R * in->n_rot);
  if (!m->k_cache || !m->v_cache || !m->x || !m->xb || !m->tmp || !m->qkv || !m->att || !m->gu ||
      !m->h || !m->xl || !m->logits || !m->scores || !m->rope_cs)
    return errf(err, errlen, SL_ENOMEM, "model: out of memory for a %zu-byte KV cache and scratch",
                in->kv_bytes);
  return 0;
}

sl_model_t *sl_model_load(const char *path, const sl_model_opts_t *opts, char *err, size_t errlen) {
  sl_model_opts_t defaults;
  if (!opts) {
    sl_model_opts_init(&defaults);
    opts = &defaults;
  }
  sl_model_t *m = calloc(1, sizeof *m);
  if (!m) {
    errf(err, errlen, SL_ENOMEM, "model: out of memory");
    return NULL;
  }
  if (!(m->g = sl_gguf_open(path, err, errlen))) goto fail;
  if (read_hparams(m, err, errlen)) goto fail;
  int max_rows = opts->max_rows > 0 ? opts->max_rows : 128;
  int rc = sl_kern_new(opts->impl, max_rows, &m->kern);
  if (rc) {
    errf(err, errlen, rc, "model: cannot start the matmul kernels: %s", sl_strerror(rc));
    goto fail;
  }
  if (load_weights(m, opts->prec, err, errlen)) goto fail;
  if (alloc_state(m, opts, err, errlen)) goto fail;
  sl_gguf_close(m->g);
  m->g = NULL;
  return m;
fail:
  sl_model_free(m);
  return NULL;
}

void sl_model_free(sl_model_t *m) {
  if (!m) return;
  if (m->layers)
    for (int l = 0; l < m->info.n_layers; l++) {
      layer_t *L = &m->layers[l];
      free(L->attn_norm);
      free(L->bq_kv);
      sl_kern_mat_free(L->wqkv);
      sl_kern_mat_free(L->wo);
      sl_kern_mat_free(L->wgu);
      sl_kern_mat_free(L->wdown);
    }
  free(m->layers);
  free(m->embd);
  free(m->out_norm);
  sl_kern_mat_free(m->wout);
  sl_kern_free(m->kern);
  free(m->inv_freq);
  free(m->k_cache), free(m->v_cache), free(m->x), free(m->xb), free(m->tmp), free(m->qkv);
  free(m->att), free(m->gu), free(m->h), free(m->xl), free(m->logits), free(m->scores), free(m->rope_cs);
  sl_gguf_close(m->g);
  free(m);
}

const sl_model_info_t *sl_model_info(const sl_model_t *m) { return &m->info; }

const float *sl_model_logits(const sl_model_t *m, int j) {
  if (j < 0 || j >= m->n_logits) return NULL;
  return m->logits + (size_t)j * m->info.n_vocab;
}

/* Element `off` of a KV cache region (f32 or f16). */
#define KV_AT(m, base, off) ((char *)(base) + (size_t)(off) * (m)->kv_elt)

/* Asks for one KV head's first n_pos keys and values to be brought into cache. */
static void prefetch_kv(const sl_model_t *m, const void *k_head, const void *v_head, int n_pos) {
  const size_t B = SL_KERN_KV_BLOCK, hd = (size_t)m->info.head_dim;
  sl_kern_prefetch(k_head, ((size_t)n_pos + B - 1) / B * B * hd * m->kv_elt);
  sl_kern_prefetch(v_head, (size_t)n_pos * hd * m->kv_elt);
}

/* One layer's attention for a batch, over KV heads [g0, g1) and their query heads:
 * Q/K/V biases, RoPE, storing K and V, and attention. Every step is per head, so
 * a range of KV heads is independent of the others (the threads of
 * sl_kern_parallel take different ones) and gives the same values as the whole. */
typedef struct {
  sl_model_t *m;
  const sl_model_batch_t *b;
  const layer_t *L;
  char *kc, *vc;   /* this layer's caches */
  float *qkv, *att; /* the batch's rows of m->qkv and m->att */
  const float *rope_cs; /* the batch's rows of m->rope_cs */
  float *scores;   /* the calling share's scratch, when not split by heads */
  atomic_int next; /* on 2 threads: the next KV head of the second half not yet taken */
} att_job_t;

/* Below this many multiply-adds per layer (Q·K, P·V, RoPE and stores of all rows)
 * attention stays on one thread: the fork/join would cost about as much (~1 µs). */
#define ATT_PARALLEL_MACS (1 << 14)

static void attend(const att_job_t *j, int g0, int g1, float *scores) {
  sl_model_t *m = j->m;
  const sl_model_batch_t *b = j->b;
  const layer_t *L = j->L;
  char *kc = j->kc, *vc = j->vc;
  const sl_model_info_t *in = &m->info;
  int n = b->n, hd = in->head_dim, group = in->n_heads / in->n_kv_heads, h0 = g0 * group, h1 = g1 * group;
  size_t ks = m->k_head_stride * in->n_kv_heads, vs = m->v_head_stride * in->n_kv_heads; /* one slot */
  /* First every row's K and V go into the cache, so that a row attends to the
   * earlier rows of its own sequence in this same call (chunked prefill). */
  for (int i = 0; i < n; i++) {
    float *q = j->qkv + (size_t)i * m->qkv_dim, *k = q + m->q_dim, *v = k + m->kv_dim;
    if (L->bq_kv) {
      sl_kern_add(q + (size_t)h0 * hd, L->bq_kv + (size_t)h0 * hd, (h1 - h0) * hd);
      sl_kern_add(k + (size_t)g0 * hd, L->bq_kv + m->q_dim + (size_t)g0 * hd, (g1 - g0) * hd);
      sl_kern_add(v + (size_t)g0 * hd, L->bq_kv + m->q_dim + m->kv_dim + (size_t)g0 * hd, (g1 - g0) * hd);
    }
    const float *cs = j->rope_cs + (size_t)i * in->n_rot;
    sl_kern_rope_apply(q + (size_t)h0 * hd, h1 - h0, hd, in->n_rot, cs, in->neox_rope);
    sl_kern_rope_apply(k + (size_t)g0 * hd, g1 - g0, hd, in->n_rot, cs, in->neox_rope);
    void *kd = KV_AT(m, kc, (size_t)b->slot[i] * ks + (size_t)g0 * m->k_head_stride);
    void *vd = KV_AT(m, vc, (size_t)b->slot[i] * vs + (size_t)g0 * m->v_head_stride);
    if (in->kv_f16)
      sl_kern_kv_store_f16(kd, vd, k + (size_t)g0 * hd, v + (size_t)g0 * hd, b->pos[i], g1 - g0, hd,
                           m->k_head_stride, m->v_head_stride);
    else
      sl_kern_kv_store(kd, vd, k + (size_t)g0 * hd, v + (size_t)g0 * hd, b->pos[i], g1 - g0, hd,
                       m->k_head_stride, m->v_head_stride);
  }
  /* Rows of one sequence are adjacent (a prompt chunk): loop heads outside those
   * rows so each head's keys and values are read from cache, not memory. */
  for (int i0 = 0, i1; i0 < n; i0 = i1) {
    for (i1 = i0 + 1; i1 < n && b->slot[i1] == b->slot[i0]; i1++) {
    }
    const char *ks0 = KV_AT(m, kc, (size_t)b->slot[i0] * ks), *vs0 = KV_AT(m, vc, (size_t)b->slot[i0] * vs);
    /* Each head reads a few KB of keys and values from its own region: too short
     * a stream for the hardware prefetcher, and with several sequences the cache
     * no longer holds them (8 decode rows were stalled on these loads). So the
     * next KV head's positions (or the next sequence's first) are requested
     * while this one computes. */
    for (int g = g0; g < g1; g++) {
      const char *kh = KV_AT(m, ks0, (size_t)g * m->k_head_stride);
      const char *vh = KV_AT(m, vs0, (size_t)g * m->v_head_stride);
      if (g + 1 < g1)
        prefetch_kv(m, KV_AT(m, kh, m->k_head_stride), KV_AT(m, vh, m->v_head_stride), b->pos[i1 - 1] + 1);
      else if (i1 < n)
        prefetch_kv(m, KV_AT(m, kc, (size_t)b->slot[i1] * ks + (size_t)g0 * m->k_head_stride),
                    KV_AT(m, vc, (size_t)b->slot[i1] * vs + (size_t)g0 * m->v_head_stride), b->pos[i1] + 1);
      /* The group's query heads together: they read the same keys and values. */
      for (int i = i0; i < i1; i++) {
        float *out = j->att + (size_t)i * m->q_dim + (size_t)g * group * hd;
        const float *q = j->qkv + (size_t)i * m->qkv_dim + (size_t)g * group * hd;
        if (in->kv_f16)
          for (int jq = 0; jq < group; jq++)
            sl_kern_attention_head_f16(out + jq * hd, q + jq * hd, (const uint16_t *)kh, (const uint16_t *)vh,
                                       b->pos[i] + 1, hd, scores);
        else
          sl_kern_attention_group(out, q, (const float *)kh, (const float *)vh, b->pos[i] + 1, hd, group, scores);
      }
    }
  }
}

/* On 2 threads the engine thread takes the first half of the KV heads in one
 * range; the second half goes a head at a time to the helper and, once the first
 * half is done, to the engine thread too (as the products' N blocks do in
 * kern_dnnl.c), so a helper that starts late does not make it wait. The scores
 * scratch is per share (ith), and a share runs on one thread at a time. */
static void attention_part(void *arg, int ith, int nth) {
  att_job_t *j = arg;
  int nkv = j->m->info.n_kv_heads;
  if (nth == 1) {
    attend(j, 0, nkv, j->scores);
    return;
  }
  float *scores = j->m->scores + (size_t)ith * j->m->scores_stride;
  if (ith == 0) attend(j, 0, nkv / 2, scores);
  for (int g; (g = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed)) < nkv;) attend(j, g, g + 1, scores);
}

/* Row r0 of a scratch buffer of rows of `stride` floats, for the thread that
 * takes rows r0... : the first range starts at the buffer, a later one on the
 * cache line after row r0 - 1 ends (scratch_alloc leaves room for it). */
static float *share_rows(float *base, int r0, size_t stride) {
  float *p = base + (size_t)r0 * stride;
  return r0 ? (float *)(((uintptr_t)p + 63) & ~(uintptr_t)63) : p;
}

/* Rows [r0, r1) of a batch through every layer and, for those that ask, the
 * output head (their logits become rows j0... of m->logits). The rows' scratch
 * is theirs alone, so two row ranges can run at once (see row_split). */
static int forward_rows(sl_model_t *m, const sl_model_batch_t *all, int r0, int r1, int j0, bool par_att,
                        float *scores) {
  const sl_model_info_t *in = &m->info;
  int n = r1 - r0, dim = in->dim, rc;
  sl_model_batch_t rows = {n, all->tok + r0, all->pos + r0, all->slot + r0, all->logits ? all->logits + r0 : NULL};
  const sl_model_batch_t *b = &rows;
  float *x = share_rows(m->x, r0, dim), *xb = share_rows(m->xb, r0, dim), *tmp = share_rows(m->tmp, r0, dim);
  float *qkv = share_rows(m->qkv, r0, m->qkv_dim), *att = share_rows(m->att, r0, m->q_dim);
  float *gu = share_rows(m->gu, r0, 2 * in->n_ff), *hh = share_rows(m->h, r0, in->n_ff);
  float *rope_cs = share_rows(m->rope_cs, r0, in->n_rot);
  size_t ks = m->k_head_stride * in->n_kv_heads, vs = m->v_head_stride * in->n_kv_heads; /* one slot */
  for (int i = 0; i < n; i++)
    sl_kern_to_f32(m->embd_dt, m->embd + (size_t)b->tok[i] * m->embd_row_bytes, x + (size_t)i * dim, (size_t)dim);
  for (int i = 0; i < n; i++) sl_kern_rope_cs(rope_cs + (size_t)i * in->n_rot, b->pos[i], m->inv_freq, in->n_rot);
  for (int l = 0; l < in->n_layers; l++) {
    layer_t *L = &m->layers[l];
    for (int i = 0; i < n; i++)
      sl_kern_rmsnorm(xb + (size_t)i * dim, x + (size_t)i * dim, L->attn_norm, dim, in->rms_eps);
    if ((rc = sl_kern_matmul(m->kern, L->wqkv, xb, n, qkv))) return rc;
    char *kc = KV_AT(m, m->k_cache, (size_t)l * in->n_slots * ks), *vc = KV_AT(m, m->v_cache, (size_t)l * in->n_slots * vs);
    att_job_t job = {m, b, L, kc, vc, qkv, att, rope_cs, scores, in->n_kv_heads / 2};
    if (par_att)
      sl_kern_parallel(attention_part, &job);
    else
      attention_part(&job, 0, 1);
    if ((rc = sl_kern_matmul(m->kern, L->wo, att, n, tmp))) return rc;
    sl_kern_add(x, tmp, n * dim);
    for (int i = 0; i < n; i++)
      sl_kern_rmsnorm(xb + (size_t)i * dim, x + (size_t)i * dim, L->ffn_norm, dim, in->rms_eps);
    if ((rc = sl_kern_matmul(m->kern, L->wgu, xb, n, gu))) return rc;
    for (int i = 0; i < n; i++) {
      float *g = gu + (size_t)i * 2 * in->n_ff;
      sl_kern_silu_mul(hh + (size_t)i * in->n_ff, g, g + in->n_ff, in->n_ff);
    }
    if ((rc = sl_kern_matmul(m->kern, L->wdown, hh, n, tmp))) return rc;
    sl_kern_add(x, tmp, n * dim);
  }
  int nl = 0;
  float *xl = share_rows(m->xl, j0, dim);
  for (int i = 0; i < n; i++)
    if (b->logits && b->logits[i])
      sl_kern_rmsnorm(xl + (size_t)nl++ * dim, x + (size_t)i * dim, m->out_norm, dim, in->rms_eps);
  if (nl && (rc = sl_kern_matmul(m->kern, m->wout, xl, nl, m->logits + (size_t)j0 * in->n_vocab))) return rc;
  return 0;
}

/* Models whose weights take at most this many bytes (stories260K: ~1.1 MB) sit
 * in cache, where a few rows' products are bound by the FMA units rather than by
 * streaming the weights: on 2 threads each thread then takes half of the rows
 * through the whole forward pass (one fork/join per pass) instead of half of
 * every product's columns (one per product, ~26 a pass, and no parallel
 * attention below ATT_PARALLEL_MACS). Larger models stream their weights from
 * memory, and splitting rows would stream them twice. */
#define ROW_SPLIT_BYTES ((size_t)8 << 20)

/* Where a batch's rows are cut in two for the threads of sl_kern_parallel, or 0
 * to keep them together: only when every row asks for logits (a batch of decode
 * rows; otherwise a lone logits row would be a 1-row product inside a share but
 * the gemv outside one), every product computes rows independently
 * (sl_kern_rows_on_helper), and no sequence has rows on both sides (its rows
 * read the K/V its earlier rows store in the same pass). */
static int row_split(const sl_model_t *m, const sl_model_batch_t *b, int nl) {
  int n = b->n;
  if (n < 2 || nl != n || m->info.weight_bytes > ROW_SPLIT_BYTES) return 0;
  const layer_t *L = &m->layers[0]; /* every layer has the same shapes */
  if (!sl_kern_rows_on_helper(L->wqkv, n) || !sl_kern_rows_on_helper(L->wo, n) ||
      !sl_kern_rows_on_helper(L->wgu, n) || !sl_kern_rows_on_helper(L->wdown, n) ||
      !sl_kern_rows_on_helper(m->wout, n))
    return 0;
  for (int s = (n + 1) / 2; s < n; s++) {
    bool apart = true;
    for (int i = 0; i < s && apart; i++)
      for (int k = s; k < n && apart; k++) apart = b->slot[i] != b->slot[k];
    if (apart) return s;
  }
  return 0;
}

typedef struct {
  sl_model_t *m;
  const sl_model_batch_t *b;
  int split; /* rows [0, split) are share 0's, [split, n) share 1's (all ask for logits) */
  int rc[2];
} rows_job_t;

static void rows_part(void *arg, int ith, int nth) {
  rows_job_t *j = arg;
  float *scores = j->m->scores + (size_t)ith * j->m->scores_stride;
  if (nth == 1)
    j->rc[0] = forward_rows(j->m, j->b, 0, j->b->n, 0, false, scores);
  else if (ith == 0)
    j->rc[0] = forward_rows(j->m, j->b, 0, j->split, 0, false, scores);
  else
    j->rc[1] = forward_rows(j->m, j->b, j->split, j->b->n, j->split, false, scores);
}

int sl_model_forward(sl_model_t *m, const sl_model_batch_t *b) {
  const sl_model_info_t *in = &m->info;
  int n = b->n;
  if (n < 1 || n > m->max_rows) return SL_EINVAL;
  int nl = 0;
  for (int i = 0; i < n; i++) {
    if (b->tok[i] < 0 || b->tok[i] >= in->n_vocab || b->pos[i] < 0 || b->pos[i] >= in->n_ctx ||
        b->slot[i] < 0 || b->slot[i] >= in->n_slots)
      return SL_ERANGE;
    nl += b->logits && b->logits[i];
  }
  if (nl > m->max_logits) return SL_ERANGE;
  m->n_logits = 0;
  int rc, split = row_split(m, b, nl);
  if (split) {
    rows_job_t job = {m, b, split, {0, 0}};
    sl_kern_parallel(rows_part, &job);
    if ((rc = job.rc[0] ? job.rc[0] : job.rc[1])) return rc;
  } else {
    size_t att_macs = 0; /* per layer: Q·K and P·V, plus the per-row RoPE and stores */
    for (int i = 0; i < n; i++) att_macs += (size_t)(b->pos[i] + 1) * m->q_dim * 2 + m->qkv_dim;
    /* On 2 threads the KV heads are split in two (per head, so both threads run
     * the same code on every head and the result does not depend on the thread
     * count), when the products around attention run on the helper thread too (s8
     * or f32, up to 12 rows: otherwise oneDNN's OpenMP threads would share the two
     * cores with the spinning helper) and the work pays for the fork/join. */
    bool par_att = in->n_kv_heads > 1 && att_macs >= ATT_PARALLEL_MACS && sl_kern_on_helper(m->layers[0].wo, n);
    if ((rc = forward_rows(m, b, 0, n, 0, par_att, m->scores))) return rc;
  }
  m->n_logits = nl;
  return 0;
}
