/* `sluice train-router DATA.jsonl... [--out WEIGHTS.json] [--folds K] [--header FILE]`:
 * fits the router's difficulty model (L2-regularised logistic regression over
 * the router's surface features) from labelled JSONL and prints held-out AUC
 * from k-fold cross-validation, then writes the weights JSON the router loads
 * (`difficulty_weights` in the config). Input lines: {"messages": [...], "label":
 * "easy|medium|hard"} (or {"text": ...}; optional max_tokens, tools,
 * response_format). easy = 0, hard = 1, medium is a soft 0.5 target. */
#include "sl_file.h"
#include "cli.h"
#include "cli_input.h"
#include "router.h"
#include "sl_chat.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXF 64
#define MAX_ITEMS 1000000
#define MAX_LINE (16u << 20)

typedef struct {
  double f[MAXF];
  double y;  /* 0, 0.5, 1 */
  int label; /* 0 easy, 1 medium, 2 hard */
} item_t;

static int parse_label(const cJSON *l) {
  if (cJSON_IsString(l)) {
    if (!strcmp(l->valuestring, "easy")) return 0;
    if (!strcmp(l->valuestring, "medium")) return 1;
    if (!strcmp(l->valuestring, "hard")) return 2;
  } else if (cJSON_IsNumber(l) && l->valuedouble >= 0 && l->valuedouble <= 1) { /* a score */
    return l->valuedouble >= 0.75 ? 2 : l->valuedouble >= 0.25 ? 1 : 0;
  }
  return -1;
}

static int to_req(const cJSON *j, sl_chat_req_t *r) {
  sl_chat_req_init(r);
  const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(j, "messages");
  const cJSON *text = cJSON_GetObjectItemCaseSensitive(j, "text");
  if (cJSON_IsArray(msgs)) {
    int n = cJSON_GetArraySize(msgs);
    if (n <= 0 || n > 10000) return -1;
    r->msgs = calloc((size_t)n, sizeof *r->msgs);
    if (!r->msgs) return -1;
    for (const cJSON *m = msgs->child; m; m = m->next) {
      const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
      const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
      sl_msg_t *dst = &r->msgs[r->n_msgs++];
      dst->role = strdup(cJSON_IsString(role) ? role->valuestring : "user");
      dst->content = strdup(cJSON_IsString(content) ? content->valuestring : "");
      if (!dst->role || !dst->content) return -1;
    }
  } else if (cJSON_IsString(text)) {
    r->msgs = calloc(1, sizeof *r->msgs);
    if (!r->msgs) return -1;
    r->n_msgs = 1;
    r->msgs[0].role = strdup("user");
    r->msgs[0].content = strdup(text->valuestring);
    if (!r->msgs[0].role || !r->msgs[0].content) return -1;
  } else {
    return -1;
  }
  const cJSON *mt = cJSON_GetObjectItemCaseSensitive(j, "max_tokens");
  if (cJSON_IsNumber(mt)) r->max_tokens = (int)mt->valuedouble;
  const cJSON *tools = cJSON_GetObjectItemCaseSensitive(j, "tools");
  if (tools) r->tools = cJSON_PrintUnformatted(tools);
  const cJSON *rf = cJSON_GetObjectItemCaseSensitive(j, "response_format");
  if (rf) r->response_format = cJSON_PrintUnformatted(rf);
  return 0;
}

static double sigmoid(double z) {
  if (z > 40) z = 40;
  if (z < -40) z = -40;
  return 1.0 / (1.0 + exp(-z));
}

static double dot(const double *w, const double *f, size_t nf) {
  double z = 0;
  for (size_t k = 0; k < nf; k++) z += w[k] * f[k];
  return z;
}

/* Full-batch gradient descent with momentum; features are scaled to ~0..1 by
 * the router, so one step size fits all. The bias (feature 0) is not penalised. */
static void fit(const item_t *it, const size_t *idx, size_t n, size_t nf, double l2, double *w) {
  double v[MAXF] = {0}, g[MAXF];
  double step = l2 > 2 ? 1.0 / l2 : 0.5; /* a strong penalty's curvature needs a shorter step */
  for (size_t k = 0; k < nf; k++) w[k] = 0;
  for (int iter = 0; iter < 4000; iter++) {
    for (size_t k = 0; k < nf; k++) g[k] = k ? l2 * w[k] : 0;
    for (size_t i = 0; i < n; i++) {
      const item_t *x = &it[idx[i]];
      double e = sigmoid(dot(w, x->f, nf)) - x->y;
      for (size_t k = 0; k < nf; k++) g[k] += e * x->f[k] / (double)n;
    }
    for (size_t k = 0; k < nf; k++) {
      v[k] = 0.9 * v[k] - step * g[k];
      w[k] += v[k];
    }
  }
}

/* P(score of class b > score of class a), ties count half. */
static double auc(const double *s, const int *lab, size_t n, int a, int b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < n; i++) {
    if (lab[i] != a) continue;
    for (size_t k = 0; k < n; k++) {
      if (lab[k] != b) continue;
      num += s[k] > s[i] ? 1 : s[k] == s[i] ? 0.5 : 0;
      den += 1;
    }
  }
  return den ? num / den : NAN;
}

static void usage(void) {
  fprintf(stderr,
          "usage: sluice train-router DATA.jsonl... [--out WEIGHTS.json] [--folds K] [--l2 X (0..1000)]\n"
          "                           [--header FILE]\n");
}

typedef struct {
  item_t *v;
  size_t n, cap, skipped;
} items_t;

/* Appends the labelled lines of one JSONL file to `it`; 0, or 1 after saying why. */
static int read_items(const char *in, items_t *it, size_t nf) {
  const char *why;
  FILE *f = sl_fopen_regular(in, &why);
  if (!f) {
    fprintf(stderr, "train-router: %s: %s\n", in, why);
    return 1;
  }
  char *line = NULL;
  size_t lcap = 0, lineno = 0;
  ssize_t got;
  int rc = 1;
  bool too_long;
  while ((got = sl_cli_read_line(f, &line, &lcap, MAX_LINE, &too_long)) > 0) {
    lineno++;
    if (too_long) {
      fprintf(stderr, "train-router: %s:%zu: line longer than %u bytes\n", in, lineno, MAX_LINE);
      goto done;
    }
    if (got == 1 && line[0] == '\n') continue;
    cJSON *j = cJSON_ParseWithLength(line, (size_t)got);
    int lab = j ? parse_label(cJSON_GetObjectItemCaseSensitive(j, "label")) : -1;
    sl_chat_req_t req;
    if (lab < 0 || to_req(j, &req)) {
      if (j) sl_chat_req_free(&req);
      cJSON_Delete(j);
      it->skipped++;
      fprintf(stderr, "train-router: %s:%zu: skipped (needs messages or text, and label)\n", in,
              lineno);
      continue;
    }
    if (it->n == it->cap) {
      size_t cap = it->cap ? it->cap * 2 : 256;
      item_t *ni = cap > MAX_ITEMS ? NULL : realloc(it->v, cap * sizeof *ni);
      if (!ni) {
        fprintf(stderr, "train-router: more than %d items or out of memory\n", MAX_ITEMS);
        sl_chat_req_free(&req);
        cJSON_Delete(j);
        goto done;
      }
      it->v = ni;
      it->cap = cap;
    }
    item_t *d = &it->v[it->n++];
    memset(d, 0, sizeof *d);
    sl_router_difficulty_features(&req, d->f, nf);
    d->label = lab;
    d->y = lab * 0.5;
    sl_chat_req_free(&req);
    cJSON_Delete(j);
  }
  if (got == -2) {
    fprintf(stderr, "train-router: %s: cannot read past line %zu: %s\n", in, lineno, strerror(errno));
    goto done;
  }
  rc = 0;
done:
  free(line);
  fclose(f);
  return rc;
}

int sl_cli_train_router(int argc, char **argv) {
  enum { MAX_IN = 32 };
  const char *ins[MAX_IN], *out = NULL, *header = NULL;
  int n_in = 0, folds = 5;
  double l2 = 1e-3;
  for (int i = 0; i < argc; i++) {
    if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
    else if (!strcmp(argv[i], "--header") && i + 1 < argc)
      header = argv[++i];
    else if (!strcmp(argv[i], "--folds") && i + 1 < argc)
      folds = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--l2") && i + 1 < argc)
      l2 = atof(argv[++i]);
    else if (sl_cli_is_help(argv[i])) {
      usage();
      return 0;
    } else if (argv[i][0] != '-' && n_in < MAX_IN)
      ins[n_in++] = argv[i];
    else {
      usage();
      return 2;
    }
  }
  if (!n_in || folds < 2 || folds > 100 || !(l2 >= 0 && l2 <= 1e3)) { /* (NaN fails too) */
    usage();
    return 2;
  }
  size_t nf = sl_router_difficulty_features(NULL, (double[MAXF]){0}, 0);
  if (nf > MAXF) {
    fprintf(stderr, "train-router: %zu features exceed %d\n", nf, MAXF);
    return 1;
  }
  items_t it = {0};
  int rc = 1;
  for (int k = 0; k < n_in; k++)
    if (read_items(ins[k], &it, MAXF)) goto done;
  item_t *items = it.v;
  size_t n = it.n, skipped = it.skipped;
  size_t per[3] = {0};
  for (size_t i = 0; i < n; i++) per[items[i].label]++;
  if (!per[0] || !per[2]) {
    fprintf(stderr, "train-router: need both easy and hard examples (got %zu easy, %zu hard)\n",
            per[0], per[2]);
    goto done;
  }
  if (n < (size_t)folds) folds = (int)n;
  /* Deterministic shuffle, stratified by label, into folds. */
  size_t *order = malloc(n * sizeof *order), *train = malloc(n * sizeof *train);
  int *fold = malloc(n * sizeof *fold), *labs = malloc(n * sizeof *labs);
  double *pred = malloc(n * sizeof *pred);
  if (!order || !train || !fold || !labs || !pred) {
    free(order), free(train), free(fold), free(labs), free(pred);
    goto done;
  }
  uint64_t seed = 0x9E3779B97F4A7C15ull;
  for (size_t i = 0; i < n; i++) order[i] = i;
  for (size_t i = n; i > 1; i--) {
    seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
    size_t k = (size_t)(seed % i), t = order[i - 1];
    order[i - 1] = order[k];
    order[k] = t;
  }
  size_t cnt[3] = {0};
  for (size_t i = 0; i < n; i++) {
    size_t id = order[i];
    fold[id] = (int)(cnt[items[id].label]++ % (size_t)folds);
    labs[id] = items[id].label;
  }
  double w[MAXF];
  for (int k = 0; k < folds; k++) {
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
      if (fold[i] != k) train[m++] = i;
    fit(items, train, m, nf, l2, w);
    for (size_t i = 0; i < n; i++)
      if (fold[i] == k) pred[i] = sigmoid(dot(w, items[i].f, nf));
  }
  double a_eh = auc(pred, labs, n, 0, 2), a_em = auc(pred, labs, n, 0, 1),
         a_mh = auc(pred, labs, n, 1, 2);
  double pairs = (double)per[0] * per[1] + (double)per[1] * per[2] + (double)per[0] * per[2];
  double a_all = (a_eh * per[0] * per[2] + (per[1] ? a_em * per[0] * per[1] + a_mh * per[1] * per[2] : 0)) / pairs;
  printf("train-router: %zu items (%zu easy, %zu medium, %zu hard), %zu skipped, %zu features\n", n,
         per[0], per[1], per[2], skipped, nf);
  printf("held-out AUC (%d-fold cross-validation): easy vs hard %.4f, overall ordering %.4f", folds,
         a_eh, a_all);
  if (per[1]) printf(" (easy/medium %.4f, medium/hard %.4f)", a_em, a_mh);
  printf("\n");

  /* Final model on all data; thresholds halfway between class means. */
  for (size_t i = 0; i < n; i++) train[i] = i;
  fit(items, train, n, nf, l2, w);
  /* A feature that never varies in the data (tools, JSON schema, turns in
   * single-turn eval sets) cannot be fitted: it keeps a small hand-set prior
   * instead of 0, so such requests still lean harder. Not max_tokens: the
   * Anthropic API requires it and OpenAI's SDK users mostly leave it out, so a
   * prior would score one request differently by its dialect. */
  static const struct {
    const char *name;
    double w;
  } prior[] = {{"turns", 0.5}, {"tools", 0.8}, {"json_schema", 0.6}};
  for (size_t k = 1; k < nf; k++) {
    bool varies = false;
    for (size_t i = 1; i < n && !varies; i++) varies = items[i].f[k] != items[0].f[k];
    if (varies) continue;
    for (size_t p = 0; p < sizeof prior / sizeof prior[0]; p++)
      if (!strcmp(prior[p].name, sl_router_difficulty_feature_name(k))) {
        w[k] = prior[p].w;
        printf("feature %s does not vary in the data: prior weight %.2f\n", prior[p].name, prior[p].w);
      }
  }
  double mean[3] = {0};
  for (size_t i = 0; i < n; i++) mean[items[i].label] += sigmoid(dot(w, items[i].f, nf));
  for (int k = 0; k < 3; k++) mean[k] = per[k] ? mean[k] / (double)per[k] : 0;
  double t_med, t_hard;
  if (per[1]) {
    t_med = (mean[0] + mean[1]) / 2;
    t_hard = (mean[1] + mean[2]) / 2;
  } else {
    t_med = t_hard = (mean[0] + mean[2]) / 2;
  }
  if (t_med > t_hard) t_med = t_hard;
  printf("training-set mean score: easy %.3f, medium %.3f, hard %.3f; thresholds medium %.3f, hard %.3f\n",
         mean[0], mean[1], mean[2], t_med, t_hard);

  /* a fit that diverged writes nothing a config would refuse later */
  bool finite = isfinite(t_med) && isfinite(t_hard);
  for (size_t k = 0; k < nf; k++) finite = finite && isfinite(w[k]);
  if (!finite) {
    fprintf(stderr, "train-router: the fit diverged (a weight or threshold is not a number); "
                    "nothing written: try a smaller --l2\n");
    goto freeall;
  }
  if (per[2] < (size_t)folds || per[0] < (size_t)folds)
    fprintf(stderr, "train-router: warning: fewer easy or hard examples (%zu, %zu) than folds (%d): "
                    "the held-out AUC says little\n", per[0], per[2], folds);
  if (!per[1])
    fprintf(stderr, "train-router: warning: no medium examples: both thresholds are one, so no "
                    "request is scored medium\n");

  cJSON *root = cJSON_CreateObject();
  cJSON_AddStringToObject(root, "model", "logistic_regression");
  cJSON_AddNumberToObject(root, "version", 1);
  cJSON *wj = cJSON_AddObjectToObject(root, "weights");
  for (size_t k = 0; k < nf; k++)
    cJSON_AddNumberToObject(wj, sl_router_difficulty_feature_name(k), round(w[k] * 1e6) / 1e6);
  cJSON *th = cJSON_AddObjectToObject(root, "thresholds");
  cJSON_AddNumberToObject(th, "medium", round(t_med * 1e4) / 1e4);
  cJSON_AddNumberToObject(th, "hard", round(t_hard * 1e4) / 1e4);
  cJSON *tr = cJSON_AddObjectToObject(root, "training");
  cJSON *data = cJSON_AddArrayToObject(tr, "data");
  for (int k = 0; k < n_in; k++) cJSON_AddItemToArray(data, cJSON_CreateString(ins[k]));
  cJSON_AddNumberToObject(tr, "items", (double)n);
  cJSON_AddNumberToObject(tr, "folds", folds);
  cJSON_AddNumberToObject(tr, "l2", l2);
  cJSON_AddNumberToObject(tr, "cv_auc_easy_hard", round(a_eh * 1e4) / 1e4);
  cJSON_AddNumberToObject(tr, "cv_auc_ordering", round(a_all * 1e4) / 1e4);
  char *js = cJSON_Print(root);
  cJSON_Delete(root);
  if (!js) goto freeall;
  if (out) {
    FILE *o = fopen(out, "wb");
    if (!o || fprintf(o, "%s\n", js) < 0 || fclose(o)) {
      perror(out);
      free(js);
      goto freeall;
    }
    printf("wrote %s\n", out);
  } else {
    printf("%s\n", js);
  }
  free(js);
  if (header) {
    FILE *h = fopen(header, "wb");
    if (!h) {
      perror(header);
      goto freeall;
    }
    fprintf(h, "/* Generated by `sluice train-router --header`: the compiled-in difficulty model,\n"
               " * identical to router/difficulty_weights.json. */\n"
               "static const double sl__diff_default_w[SL_DF__COUNT] = {\n");
    for (size_t k = 0; k < nf; k++)
      fprintf(h, "    %.6f, /* %s */\n", round(w[k] * 1e6) / 1e6, sl_router_difficulty_feature_name(k));
    fprintf(h, "};\n#define SL_DIFF_DEFAULT_T_MEDIUM %.4f\n#define SL_DIFF_DEFAULT_T_HARD %.4f\n",
            round(t_med * 1e4) / 1e4, round(t_hard * 1e4) / 1e4);
    fclose(h);
    printf("wrote %s\n", header);
  }
  rc = 0;
freeall:
  free(order), free(train), free(fold), free(labs), free(pred);
done:
  free(it.v);
  return rc;
}
