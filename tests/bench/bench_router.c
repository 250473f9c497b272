/* Router benchmark (`make bench-router`): classification throughput and latency on
 * 1 KB and 16 KB prompts built from the eval texts, per-entity-type and
 * request-level sensitivity precision/recall on sensitivity.dev.jsonl, and
 * difficulty AUC / mean scores on difficulty.dev.jsonl.
 * Usage: bench_router [--eval-only] [--verbose] [--sens FILE] [--diff FILE] [--weights FILE] */
#include "router/router.h"
#include "sl_chat.h"
#include "tests/tools/test_file.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU time of this thread: throughput "per core" should not count the time other
 * processes on a shared machine held the core. */
static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct {
  cJSON **v;
  size_t n;
} items_t;

static items_t load_jsonl(const char *path) {
  items_t it = {0};
  size_t len;
  char *b = sl_test_slurp(path, &len);
  if (!b) return it;
  size_t cap = 0;
  for (char *line = strtok(b, "\n"); line; line = strtok(NULL, "\n")) {
    cJSON *j = cJSON_Parse(line);
    if (!j) continue;
    if (it.n == cap) {
      cap = cap ? cap * 2 : 256;
      it.v = realloc(it.v, cap * sizeof *it.v);
    }
    it.v[it.n++] = j;
  }
  free(b);
  return it;
}

/* The router's types as the eval's gateway types. */
static const char *gw_type(const char *t) {
  static const char *const map[][2] = {
      {"EMAIL_ADDRESS", "EMAIL"},        {"PHONE_NUMBER", "PHONE_NUMBER"},
      {"CREDIT_CARD", "CREDIT_CARD"},    {"IBAN_CODE", "IBAN"},
      {"BANK_ACCOUNT", "BANK_ACCOUNT"},  {"US_SSN", "NATIONAL_ID"},
      {"US_PASSPORT", "NATIONAL_ID"},    {"US_DRIVER_LICENSE", "NATIONAL_ID"},
      {"NATIONAL_ID", "NATIONAL_ID"},    {"MEDICAL_LICENSE", "MEDICAL_RECORD"},
      {"MEDICAL_RECORD", "MEDICAL_RECORD"}, {"IP_ADDRESS", "IP_ADDRESS"},
      {"PERSON", "PERSON"},              {"STREET_ADDRESS", "STREET_ADDRESS"},
      {"DATE_OF_BIRTH", "DATE_OF_BIRTH"}, {"API_KEY", "API_KEY"},
      {"JWT", "API_KEY"},                {"CLOUD_CREDENTIAL", "API_KEY"},
      {"PRIVATE_KEY", "PRIVATE_KEY"},    {"PASSWORD", "PASSWORD"},
      {"CRYPTO", "CRYPTO"}};
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
    if (!strcmp(map[i][0], t)) return map[i][1];
  return NULL;
}

static const char *const gw_types[] = {"PERSON", "EMAIL", "PHONE_NUMBER", "STREET_ADDRESS",
                                       "NATIONAL_ID", "CREDIT_CARD", "IBAN", "BANK_ACCOUNT",
                                       "IP_ADDRESS", "DATE_OF_BIRTH", "MEDICAL_RECORD", "API_KEY",
                                       "PRIVATE_KEY", "PASSWORD"};
#define NGW (sizeof gw_types / sizeof gw_types[0])

static int eval_sensitivity(const sl_router_t *r, const char *path, int verbose) {
  items_t it = load_jsonl(path);
  if (!it.n) {
    fprintf(stderr, "bench_router: cannot read %s\n", path);
    return 1;
  }
  int tp = 0, fp = 0, fn = 0, tn = 0;
  int ttp[NGW] = {0}, tfp[NGW] = {0}, tfn[NGW] = {0};
  for (size_t i = 0; i < it.n; i++) {
    const cJSON *j = it.v[i];
    const char *text = cJSON_GetObjectItem(j, "text")->valuestring;
    bool gold = cJSON_IsTrue(cJSON_GetObjectItem(j, "sensitive"));
    const cJSON *types = cJSON_GetObjectItem(j, "types");
    sl_class_t c;
    sl_router_classify_text(r, text, strlen(text), NULL, &c);
    bool pred = c.level >= SL_LEVEL_CONFIDENTIAL;
    if (pred && gold) tp++;
    else if (pred && !gold)
      fp++;
    else if (!pred && gold)
      fn++;
    else
      tn++;
    for (size_t k = 0; k < NGW; k++) {
      bool g = false, p = false;
      for (const cJSON *t = types ? types->child : NULL; t; t = t->next)
        g |= !strcmp(t->valuestring, gw_types[k]);
      for (size_t e = 0; e < c.n_entities; e++) {
        const char *m = gw_type(c.entities[e].type);
        p |= m && !strcmp(m, gw_types[k]) && c.entities[e].level >= SL_LEVEL_CONFIDENTIAL;
      }
      ttp[k] += p && g;
      tfp[k] += p && !g;
      tfn[k] += !p && g;
    }
    if (verbose && (pred != gold || verbose > 1)) {
      printf("%s %s [%s] level=%s :", pred == gold ? "OK" : pred ? "FP" : "FN",
             cJSON_GetObjectItem(j, "id")->valuestring,
             cJSON_GetObjectItem(j, "subset")->valuestring, sl_level_name(c.level));
      for (const cJSON *t = types ? types->child : NULL; t; t = t->next) printf(" %s", t->valuestring);
      printf("\n    text: %.300s\n", text);
      for (size_t e = 0; e < c.n_entities; e++)
        printf("    -> %s/%s [%.*s]\n", c.entities[e].type, c.entities[e].detector,
               (int)(c.entities[e].end - c.entities[e].start), text + c.entities[e].start);
    }
    sl_class_free(&c);
  }
  printf("\n== sensitivity (%s, %zu items)\n", path, it.n);
  printf("request-level sensitive: precision %.3f recall %.3f (tp %d fp %d fn %d tn %d)\n",
         tp + fp ? (double)tp / (tp + fp) : 0, tp + fn ? (double)tp / (tp + fn) : 0, tp, fp, fn, tn);
  printf("per entity type (item level: type predicted vs. type annotated)\n");
  printf("  %-16s %9s %9s %5s %5s %5s\n", "type", "precision", "recall", "tp", "fp", "fn");
  for (size_t k = 0; k < NGW; k++) {
    if (!ttp[k] && !tfp[k] && !tfn[k]) continue;
    printf("  %-16s %9.3f %9.3f %5d %5d %5d\n", gw_types[k],
           ttp[k] + tfp[k] ? (double)ttp[k] / (ttp[k] + tfp[k]) : 0,
           ttp[k] + tfn[k] ? (double)ttp[k] / (ttp[k] + tfn[k]) : 0, ttp[k], tfp[k], tfn[k]);
  }
  for (size_t i = 0; i < it.n; i++) cJSON_Delete(it.v[i]);
  free(it.v);
  return 0;
}

static int lab_index(const char *l) {
  return !strcmp(l, "easy") ? 0 : !strcmp(l, "medium") ? 1 : !strcmp(l, "hard") ? 2 : -1;
}

/* AUC of scores a (negatives) vs b (positives): P(b > a) + 0.5 P(tie). */
static double auc(const double *a, size_t na, const double *b, size_t nb) {
  double s = 0;
  for (size_t i = 0; i < na; i++)
    for (size_t k = 0; k < nb; k++) s += b[k] > a[i] ? 1 : b[k] == a[i] ? 0.5 : 0;
  return na && nb ? s / ((double)na * (double)nb) : 0;
}

static int eval_difficulty(const sl_router_t *r, const char *path, int verbose) {
  items_t it = load_jsonl(path);
  if (!it.n) {
    fprintf(stderr, "bench_router: cannot read %s\n", path);
    return 1;
  }
  double *sc[3];
  size_t ns[3] = {0};
  int confusion[3][3] = {{0}};
  for (int k = 0; k < 3; k++) sc[k] = calloc(it.n, sizeof(double));
  for (size_t i = 0; i < it.n; i++) {
    const cJSON *j = it.v[i];
    int lab = lab_index(cJSON_GetObjectItem(j, "label")->valuestring);
    if (lab < 0) continue;
    sl_chat_req_t req;
    sl_chat_req_init(&req);
    const cJSON *msgs = cJSON_GetObjectItem(j, "messages");
    req.n_msgs = (size_t)cJSON_GetArraySize(msgs);
    req.msgs = calloc(req.n_msgs ? req.n_msgs : 1, sizeof *req.msgs);
    size_t m = 0;
    for (const cJSON *x = msgs->child; x; x = x->next, m++) {
      req.msgs[m].role = strdup(cJSON_GetObjectItem(x, "role")->valuestring);
      req.msgs[m].content = strdup(cJSON_GetObjectItem(x, "content")->valuestring);
    }
    sl_class_t c;
    sl_router_classify(r, &req, NULL, &c);
    sc[lab][ns[lab]++] = c.difficulty;
    confusion[lab][lab_index(c.difficulty_label)]++;
    if (verbose)
      printf("%-6s %.3f %-6s %s %.80s\n", cJSON_GetObjectItem(j, "label")->valuestring,
             c.difficulty, c.difficulty_label, cJSON_GetObjectItem(j, "category")->valuestring,
             req.msgs[0].content);
    sl_class_free(&c);
    sl_chat_req_free(&req);
  }
  double mean[3];
  for (int k = 0; k < 3; k++) {
    double s = 0;
    for (size_t i = 0; i < ns[k]; i++) s += sc[k][i];
    mean[k] = ns[k] ? s / (double)ns[k] : 0;
  }
  double em = auc(sc[0], ns[0], sc[1], ns[1]), mh = auc(sc[1], ns[1], sc[2], ns[2]);
  double eh = auc(sc[0], ns[0], sc[2], ns[2]);
  double pairs = (double)ns[0] * ns[1] + (double)ns[1] * ns[2] + (double)ns[0] * ns[2];
  double overall = pairs ? (em * ns[0] * ns[1] + mh * ns[1] * ns[2] + eh * ns[0] * ns[2]) / pairs : 0;
  printf("\n== difficulty (%s, %zu items)\n", path, it.n);
  printf("AUC easy vs hard: %.3f\n", eh);
  printf("AUC overall ordering (all label pairs easy<medium<hard): %.3f  [easy/medium %.3f, medium/hard %.3f]\n",
         overall, em, mh);
  printf("mean score: easy %.3f (n=%zu)  medium %.3f (n=%zu)  hard %.3f (n=%zu)  ordered: %s\n",
         mean[0], ns[0], mean[1], ns[1], mean[2], ns[2],
         mean[0] < mean[1] && mean[1] < mean[2] ? "yes" : "NO");
  printf("labels (rows gold easy/medium/hard, cols predicted): [%d %d %d] [%d %d %d] [%d %d %d]\n",
         confusion[0][0], confusion[0][1], confusion[0][2], confusion[1][0], confusion[1][1],
         confusion[1][2], confusion[2][0], confusion[2][1], confusion[2][2]);
  for (int k = 0; k < 3; k++) free(sc[k]);
  for (size_t i = 0; i < it.n; i++) cJSON_Delete(it.v[i]);
  free(it.v);
  return 0;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Prompts of `size` bytes made by concatenating eval texts (realistic mixes of
 * prose, code, PII and secrets). */
static char **make_prompts(const char *sens, const char *diff, size_t size, size_t count) {
  size_t la = 0, lb = 0;
  char *a = sl_test_slurp(sens, &la), *b = sl_test_slurp(diff, &lb);
  if (!a || !b) {
    free(a);
    free(b);
    return NULL;
  }
  /* pool of texts */
  size_t cap = la + lb + 1, pl = 0;
  char *pool = malloc(cap);
  items_t ia = load_jsonl(sens), ib = load_jsonl(diff);
  for (size_t i = 0; i < ia.n; i++) {
    const char *t = cJSON_GetObjectItem(ia.v[i], "text")->valuestring;
    size_t n = strlen(t);
    memcpy(pool + pl, t, n);
    pl += n;
    pool[pl++] = '\n';
  }
  for (size_t i = 0; i < ib.n; i++) {
    const cJSON *m = cJSON_GetObjectItem(ib.v[i], "messages")->child;
    const char *t = cJSON_GetObjectItem(m, "content")->valuestring;
    size_t n = strlen(t);
    if (pl + n + 1 > cap) break;
    memcpy(pool + pl, t, n);
    pl += n;
    pool[pl++] = '\n';
  }
  char **out = calloc(count, sizeof *out);
  unsigned seed = 12345;
  for (size_t k = 0; k < count; k++) {
    out[k] = malloc(size + 1);
    size_t o = 0;
    while (o < size) {
      seed = seed * 1103515245u + 12345u;
      size_t off = (seed >> 8) % pl;
      while (off > 0 && pool[off - 1] != '\n') off--; /* start at an item */
      size_t n = size - o;
      if (n > pl - off) n = pl - off;
      if (n > 600) n = 600;
      memcpy(out[k] + o, pool + off, n);
      o += n;
    }
    out[k][size] = 0;
  }
  for (size_t i = 0; i < ia.n; i++) cJSON_Delete(ia.v[i]);
  for (size_t i = 0; i < ib.n; i++) cJSON_Delete(ib.v[i]);
  free(ia.v);
  free(ib.v);
  free(pool);
  free(a);
  free(b);
  return out;
}

static void bench_size(const sl_router_t *r, const char *sens, const char *diff, size_t size,
                       size_t iters) {
  size_t count = 64;
  char **p = make_prompts(sens, diff, size, count);
  if (!p) return;
  double *lat = malloc(iters * sizeof *lat), *clat = malloc(iters * sizeof *clat);
  sl_class_t c;
  for (size_t i = 0; i < count; i++) { /* warm up: scratch pool, caches */
    sl_router_classify_text(r, p[i], size, NULL, &c);
    sl_class_free(&c);
  }
  /* Throughput without per-call timers: reading the thread CPU clock is a
   * system call (about 1 us in a VM), which per call would be counted as ours. */
  double t0 = now(), c0 = cpu_now();
  for (size_t i = 0; i < iters; i++) {
    sl_router_classify_text(r, p[i % count], size, NULL, &c);
    sl_class_free(&c);
  }
  double total = now() - t0, cpu = cpu_now() - c0;
  /* latencies: a second pass with a timer around each call */
  for (size_t i = 0; i < iters; i++) {
    double s = now(), cs = cpu_now();
    sl_router_classify_text(r, p[i % count], size, NULL, &c);
    lat[i] = now() - s;
    clat[i] = cpu_now() - cs;
    sl_class_free(&c);
  }
  qsort(lat, iters, sizeof *lat, cmp_d);
  qsort(clat, iters, sizeof *clat, cmp_d);
  size_t p99 = (size_t)((double)iters * 0.99);
  printf("%6zu B prompts: %7.1f MB/s per core (CPU time; %.1f MB/s wall), p50 %7.1f us, p99 %7.1f us "
         "wall (CPU time p50 %.1f us, p99 %.1f us; %zu runs, one thread)\n",
         size, (double)size * (double)iters / cpu / 1e6, (double)size * (double)iters / total / 1e6,
         lat[iters / 2] * 1e6, lat[p99] * 1e6, clat[iters / 2] * 1e6, clat[p99] * 1e6, iters);
  free(lat);
  free(clat);
  for (size_t i = 0; i < count; i++) free(p[i]);
  free(p);
}

int main(int argc, char **argv) {
  const char *shared = getenv("SLUICE_SHARED");
  char sens[1024], diff[1024];
  snprintf(sens, sizeof sens, "%s/eval/sensitivity.dev.jsonl", shared ? shared : "../shared");
  snprintf(diff, sizeof diff, "%s/eval/difficulty.dev.jsonl", shared ? shared : "../shared");
  int eval_only = 0, verbose = 0;
  long iters = 20000; /* 1 KB runs; a tenth as many 16 KB ones */
  const char *weights = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--eval-only")) eval_only = 1;
    else if (!strcmp(argv[i], "--verbose"))
      verbose++;
    else if (!strcmp(argv[i], "--sens") && i + 1 < argc)
      snprintf(sens, sizeof sens, "%s", argv[++i]);
    else if (!strcmp(argv[i], "--diff") && i + 1 < argc)
      snprintf(diff, sizeof diff, "%s", argv[++i]);
    else if (!strcmp(argv[i], "--weights") && i + 1 < argc)
      weights = argv[++i];
    else if (!strcmp(argv[i], "--iters") && i + 1 < argc && (iters = atol(argv[i + 1])) >= 10)
      i++;
    else {
      fprintf(stderr, "usage: bench_router [--eval-only] [--verbose] [--sens FILE.jsonl] "
                      "[--diff FILE.jsonl] [--weights FILE.json] [--iters N >= 10]\n");
      return strcmp(argv[i], "--help") ? 2 : 0;
    }
  }
  sl_router_opts_t o = {0};
  o.difficulty_weights = weights;
  sl_jerr_t err = {{0}};
  double t0 = now();
  sl_router_t *r = sl_router_create(&o, &err);
  if (!r) {
    fprintf(stderr, "bench_router: %s\n", err.msg);
    return 1;
  }
  printf("router compiled in %.1f ms\n", (now() - t0) * 1e3);
  {
    /* nothing should be initialised lazily on the first request */
    static const char first[] = "Call Jane Doe at +1 415 555 0100 or jane@example.com; "
                                "password=Hunter2-Hunter2. Explain step by step.";
    sl_class_t c;
    double f0 = now();
    sl_router_classify_text(r, first, sizeof first - 1, NULL, &c);
    printf("first classification after create: %.1f us\n", (now() - f0) * 1e6);
    sl_class_free(&c);
  }
  if (!eval_only) {
    printf("\n== throughput and latency\n");
    bench_size(r, sens, diff, 1024, (size_t)iters);
    bench_size(r, sens, diff, 16384, (size_t)iters / 10);
  }
  int rc = eval_sensitivity(r, sens, verbose);
  rc |= eval_difficulty(r, diff, verbose > 1);
  sl_router_free(r);
  return rc;
}
