/* Accuracy guard: the request-level precision and recall of the classifier on
 * the project-written sets (tests/eval/, see its README) and on the dev split
 * (../shared/eval, when SLUICE_SHARED is set) must stay at the target,
 * recall >= 0.97 at precision >= 0.95 ("sensitive" = a level of confidential or
 * more, as bench-router counts it). A rule change that loses more than a few
 * items on any set fails here, with the set's figures printed. */
#include "router_test_util.h"

#include <cjson/cJSON.h>

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = n >= 0 ? malloc((size_t)n + 1) : NULL;
  size_t got = b ? fread(b, 1, (size_t)n, f) : 0;
  fclose(f);
  if (b) b[got] = 0;
  return b;
}

/* Scores one JSONL file; returns 0 when it is missing (the dev split outside a
 * checkout with ../shared), else 1 after asserting the target. */
static int score(const char *path) {
  char *all = slurp(path);
  if (!all) return 0;
  int tp = 0, fp = 0, fn = 0, tn = 0;
  for (char *line = strtok(all, "\n"); line; line = strtok(NULL, "\n")) {
    cJSON *j = cJSON_Parse(line);
    assert_non_null(j);
    const cJSON *text = cJSON_GetObjectItem(j, "text");
    assert_true(cJSON_IsString(text));
    bool gold = cJSON_IsTrue(cJSON_GetObjectItem(j, "sensitive"));
    bool pred = level_of(text->valuestring) >= SL_LEVEL_CONFIDENTIAL;
    tp += pred && gold, fp += pred && !gold, fn += !pred && gold, tn += !pred && !gold;
    cJSON_Delete(j);
  }
  free(all);
  double p = tp + fp ? (double)tp / (tp + fp) : 1, r = tp + fn ? (double)tp / (tp + fn) : 1;
  fprintf(stderr, "%s: precision %.3f recall %.3f (tp %d fp %d fn %d tn %d)\n", path, p, r, tp, fp, fn, tn);
  assert_true(tp + fn > 0);
  assert_true(p >= 0.95);
  assert_true(r >= 0.97);
  return 1;
}

static void project_sets(void **s) {
  (void)s;
  /* this file is tests/unit/router/test_eval.c: the sets are in tests/eval/ */
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", __FILE__);
  char *cut = strstr(dir, "/unit/router/test_eval.c");
  assert_non_null(cut);
  int n = 0;
  for (int k = 1; k <= 32; k++) {
    snprintf(cut, sizeof dir - (size_t)(cut - dir), "/eval/sensitivity.extra%d.jsonl", k);
    n += score(dir);
  }
  assert_true(n >= 7);
}

static void dev_split(void **s) {
  (void)s;
  const char *shared = getenv("SLUICE_SHARED");
  if (!shared) skip();
  char path[4096];
  snprintf(path, sizeof path, "%s/eval/sensitivity.dev.jsonl", shared);
  if (!score(path)) skip();
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(project_sets), cmocka_unit_test(dev_split)};
  return cmocka_run_group_tests(tests, setup_router, teardown_router);
}
