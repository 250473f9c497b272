/* The router's contract: fail closed, declared class raises never lowers,
 * custom detectors and per-type levels, option errors naming the JSON path,
 * offsets into sl_chat_text(), difficulty weights, concurrent use. */
#include "router_test_util.h"

#include <math.h>
#include <time.h>

#include <pthread.h>
#include <stdlib.h>

static void fail_closed(void **s) {
  (void)s;
  sl_class_t c;
  sl__router_fail_inject(g_router, 1);
  int rc = sl_router_classify_text(g_router, "hello world", 11, NULL, &c);
  sl__router_fail_inject(g_router, 0);
  assert_true(rc < 0);
  assert_int_equal(c.level, SL_LEVEL_RESTRICTED);
  assert_true(c.error != 0);
  assert_string_equal(c.difficulty_label, "hard");
  sl_class_free(&c);
  /* no router, no request: still a result that says restricted */
  rc = sl_router_classify_text(NULL, "x", 1, NULL, &c);
  assert_true(rc < 0);
  assert_int_equal(c.level, SL_LEVEL_RESTRICTED);
  sl_class_free(&c);
  rc = sl_router_classify(g_router, NULL, NULL, &c);
  assert_true(rc < 0);
  assert_int_equal(c.level, SL_LEVEL_RESTRICTED);
  sl_class_free(&c);
  rc = sl_router_classify_text(g_router, NULL, 5, NULL, &c);
  assert_int_equal(c.level, SL_LEVEL_RESTRICTED);
  sl_class_free(&c);
  /* a clean success after the failures */
  rc = sl_router_classify_text(g_router, "hello world", 11, NULL, &c);
  assert_int_equal(rc, 0);
  assert_int_equal(c.error, 0);
  assert_int_equal(c.level, SL_LEVEL_PUBLIC);
  sl_class_free(&c);
}

static void declared_class(void **s) {
  (void)s;
  sl_class_t c;
  const char *ssn = "Here's my SSN: 536-22-1234";
  sl_router_classify_text(g_router, "hello", 5, "confidential", &c);
  assert_int_equal(c.level, SL_LEVEL_CONFIDENTIAL); /* raises */
  sl_class_free(&c);
  sl_router_classify_text(g_router, ssn, strlen(ssn), "public", &c);
  assert_int_equal(c.level, SL_LEVEL_RESTRICTED); /* never lowers */
  sl_class_free(&c);
  sl_router_classify_text(g_router, "hello", 5, "Internal", &c);
  assert_int_equal(c.level, SL_LEVEL_INTERNAL);
  sl_class_free(&c);
  sl_router_classify_text(g_router, "hello", 5, "no-such-class", &c);
  assert_int_equal(c.level, SL_LEVEL_RESTRICTED); /* unreadable: fail closed */
  sl_class_free(&c);
  sl_router_classify_text(g_router, "hello", 5, NULL, &c);
  assert_int_equal(c.level, SL_LEVEL_PUBLIC); /* none declared */
  sl_class_free(&c);
  sl_router_classify_text(g_router, "hello", 5, "", &c);
  assert_int_equal(c.level, SL_LEVEL_RESTRICTED); /* declared empty: names no level */
  sl_class_free(&c);
  sl_router_classify_text(g_router, "hello", 5, " , ", &c);
  assert_int_equal(c.level, SL_LEVEL_RESTRICTED);
  sl_class_free(&c);
  /* an empty part beside a level (a second header line sent empty, a stray
   * comma) names no level for that part: restricted, not the other part's */
  static const char *const empty_part[] = {"public, ", "public,", ",public", "public,,internal",
                                           "internal;", "public, \t"};
  for (size_t i = 0; i < sizeof empty_part / sizeof *empty_part; i++) {
    sl_router_classify_text(g_router, "hello", 5, empty_part[i], &c);
    assert_int_equal(c.level, SL_LEVEL_RESTRICTED);
    sl_class_free(&c);
  }
  sl_router_classify_text(g_router, "hello", 5, "public, internal", &c);
  assert_int_equal(c.level, SL_LEVEL_INTERNAL); /* the highest of two lines */
  sl_class_free(&c);
  sl_router_classify_text(g_router, "hello", 5, "public internal", &c);
  assert_int_equal(c.level, SL_LEVEL_INTERNAL);
  sl_class_free(&c);
}

static void levels(void **s) {
  (void)s;
  assert_string_equal(sl_level_name(SL_LEVEL_CONFIDENTIAL), "confidential");
  sl_level_t l;
  assert_int_equal(sl_level_parse("restricted", &l), 0);
  assert_int_equal(l, SL_LEVEL_RESTRICTED);
  assert_true(sl_level_parse("bogus", &l) < 0);
  assert_int_equal(sl_router_default_level("US_SSN", &l), 0);
  assert_int_equal(l, SL_LEVEL_RESTRICTED);
  assert_int_equal(sl_router_default_level("PERSON", &l), 0);
  assert_int_equal(l, SL_LEVEL_CONFIDENTIAL);
  assert_int_equal(sl_router_default_level("DATE_TIME", &l), 0);
  assert_int_equal(l, SL_LEVEL_INTERNAL);
  assert_true(sl_router_default_level("NOPE", &l) < 0);
  size_t n = 0;
  for (const char *const *t = sl_router_entity_types(); *t; t++) n++;
  assert_true(n >= 20);
}

static void custom_and_overrides(void **s) {
  (void)s;
  sl_custom_detector_t cd[] = {{"PROJECT_CODENAME", "\\bProject (Falcon|Osprey)\\b", SL_LEVEL_RESTRICTED},
                               {"TICKET", "TCK-\\d{4}", SL_LEVEL_INTERNAL}};
  const char *types[] = {"EMAIL_ADDRESS", "TICKET"};
  sl_level_t vals[] = {SL_LEVEL_INTERNAL, SL_LEVEL_CONFIDENTIAL};
  sl_router_opts_t o = {.custom = cd, .n_custom = 2, .level_types = types, .level_values = vals,
                        .n_levels = 2};
  sl_jerr_t err = {{0}};
  sl_router_t *r = sl_router_create(&o, &err);
  assert_non_null(r);
  const char *t = "Status of Project Falcon? mail bob@example.com re TCK-1234";
  sl_class_t c;
  assert_int_equal(sl_router_classify_text(r, t, strlen(t), NULL, &c), 0);
  int seen = 0;
  for (size_t i = 0; i < c.n_entities; i++) {
    const sl_entity_t *e = &c.entities[i];
    if (!strcmp(e->type, "PROJECT_CODENAME")) {
      assert_int_equal(e->level, SL_LEVEL_RESTRICTED);
      assert_memory_equal(t + e->start, "Project Falcon", 14);
      seen |= 1;
    } else if (!strcmp(e->type, "EMAIL_ADDRESS")) {
      assert_int_equal(e->level, SL_LEVEL_INTERNAL); /* lowered by detectors.levels */
      seen |= 2;
    } else if (!strcmp(e->type, "TICKET")) {
      assert_int_equal(e->level, SL_LEVEL_CONFIDENTIAL); /* custom type overridden */
      seen |= 4;
    }
  }
  assert_int_equal(seen, 7);
  assert_int_equal(c.level, SL_LEVEL_RESTRICTED);
  sl_class_free(&c);
  sl_router_free(r);

  /* a public custom finding inside a built-in one hides nothing: the SSN and
   * the address keep their types and the request its level */
  sl_custom_detector_t low[] = {{"AREA", "\\b512\\b", SL_LEVEL_PUBLIC},
                                {"QUEUE", "\\bcorp\\b", SL_LEVEL_PUBLIC}};
  sl_router_opts_t ol = {.custom = low, .n_custom = 2};
  sl_router_t *rl = sl_router_create(&ol, &err);
  assert_non_null(rl);
  const char *u = "My SSN is 512-84-3927, write to alice@corp.com now";
  assert_int_equal(sl_router_classify_text(rl, u, strlen(u), NULL, &c), 0);
  seen = 0;
  for (size_t i = 0; i < c.n_entities; i++) {
    const sl_entity_t *e = &c.entities[i];
    if (i) assert_true(c.entities[i - 1].start <= e->start); /* in order of start */
    seen |= !strcmp(e->type, "US_SSN") ? 1 : !strcmp(e->type, "EMAIL_ADDRESS") ? 2
           : !strcmp(e->type, "AREA") ? 4 : !strcmp(e->type, "QUEUE") ? 8 : 16;
  }
  assert_int_equal(seen, 15);
  assert_int_equal(c.level, SL_LEVEL_RESTRICTED);
  sl_class_free(&c);
  sl_router_free(rl);

  /* errors name the JSON path */
  sl_custom_detector_t bad = {"X", "(unclosed", SL_LEVEL_RESTRICTED};
  sl_router_opts_t ob = {.custom = &bad, .n_custom = 1};
  assert_null(sl_router_create(&ob, &err));
  assert_non_null(strstr(err.msg, "$.detectors.custom[0]"));
  const char *unknown[] = {"NO_SUCH_TYPE"};
  sl_level_t one[] = {SL_LEVEL_PUBLIC};
  sl_router_opts_t ou = {.level_types = unknown, .level_values = one, .n_levels = 1};
  assert_null(sl_router_create(&ou, &err));
  assert_non_null(strstr(err.msg, "$.detectors.levels.NO_SUCH_TYPE"));
}

static void chat_offsets(void **s) {
  (void)s;
  sl_chat_req_t req;
  sl_chat_req_init(&req);
  req.n_msgs = 2;
  req.msgs = calloc(2, sizeof *req.msgs);
  req.msgs[0].role = strdup("system");
  req.msgs[0].content = strdup("You are helpful.");
  req.msgs[1].role = strdup("user");
  req.msgs[1].content = strdup("Email ana@example.org please");
  sl_class_t c;
  assert_int_equal(sl_router_classify(g_router, &req, NULL, &c), 0);
  assert_int_equal(c.n_entities, 1);
  /* "You are helpful." (16) + "\n" + "Email " (6) = 23 */
  assert_int_equal(c.entities[0].start, 23);
  assert_int_equal(c.entities[0].end, 23 + 15);
  assert_string_equal(c.entities[0].type, "EMAIL_ADDRESS");
  assert_string_equal(c.entities[0].detector, "email");
  sl_class_free(&c);
  /* the requested model goes upstream as it came to a backend without a model
   * list: a number that names someone in it raises the level; a model's own
   * digits (dates, versions) do not */
  free(req.msgs[1].content);
  req.msgs[1].content = strdup("hello");
  static const struct {
    const char *model;
    sl_level_t level;
  } models[] = {{"ssn-512-84-3927", SL_LEVEL_RESTRICTED}, {"card-4111111111111111", SL_LEVEL_RESTRICTED},
                {"claude-3-5-sonnet-20240620", SL_LEVEL_PUBLIC}, {"gpt-4o-2024-08-06", SL_LEVEL_PUBLIC},
                {"TheBloke/Llama-2-13B-chat-GPTQ", SL_LEVEL_PUBLIC},
                {"Qwen/Qwen2.5-72B-Instruct-AWQ", SL_LEVEL_PUBLIC},
                {"us.anthropic.claude-3-5-sonnet-20241022-v2:0", SL_LEVEL_PUBLIC},
                {"ft:gpt-3.5-turbo-0125:personal:my-model:8Xk3m2Lq", SL_LEVEL_PUBLIC},
                /* a secret known by its form, or said to be one, is one here too */
                {"sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD", SL_LEVEL_RESTRICTED},
                {"ghp_abcdefghijklmnopqrstuvwxyz0123456789", SL_LEVEL_RESTRICTED},
                {"password:hunter2hunter2", SL_LEVEL_RESTRICTED}};
  for (size_t i = 0; i < sizeof models / sizeof *models; i++) {
    free(req.model);
    req.model = strdup(models[i].model);
    assert_int_equal(sl_router_classify(g_router, &req, NULL, &c), 0);
    assert_int_equal(c.level, models[i].level);
    sl_class_free(&c);
  }
  sl_chat_req_free(&req);
}

static void offsets_are_bytes(void **s) {
  (void)s;
  /* multi-byte text before the entity: offsets count bytes, not characters */
  const char *t = "Grüße von Zoë: call +44 20 7946 0958";
  sl_class_t c;
  sl_router_classify_text(g_router, t, strlen(t), NULL, &c);
  int ok = 0;
  for (size_t i = 0; i < c.n_entities; i++)
    if (!strcmp(c.entities[i].type, "PHONE_NUMBER"))
      ok = c.entities[i].start == (uint32_t)(strstr(t, "+44") - t);
  assert_true(ok);
  sl_class_free(&c);
}

static void difficulty(void **s) {
  (void)s;
  sl_class_t a, b;
  const char *easy = "What is a bunk bed?";
  const char *hard =
      "Let $f(x) = x^3 - 3x + 1$. Prove that for all integers $n \\ge 2$ the equation "
      "$f(x) \\equiv 0 \\pmod{n}$ has at most three solutions, and determine the sum of all "
      "real roots. Express your answer as a fraction $\\frac{p}{q}$.";
  sl_router_classify_text(g_router, easy, strlen(easy), NULL, &a);
  sl_router_classify_text(g_router, hard, strlen(hard), NULL, &b);
  assert_true(a.difficulty < b.difficulty);
  assert_string_equal(a.difficulty_label, "easy");
  assert_string_equal(b.difficulty_label, "hard");
  sl_class_free(&a);
  sl_class_free(&b);
  double f[64];
  size_t n = sl_router_difficulty_features(NULL, f, 64);
  assert_true(n > 10 && n <= 64);
  assert_string_equal(sl_router_difficulty_feature_name(0), "bias");
  assert_null(sl_router_difficulty_feature_name(n));

  /* weights file: the committed one loads; a bad one is refused with a path */
  char path[1024];
  const char *src = getenv("SLUICE_SRC");
  snprintf(path, sizeof path, "%s/router/difficulty_weights.json", src ? src : ".");
  sl_router_opts_t o = {.difficulty_weights = path};
  sl_jerr_t err = {{0}};
  sl_router_t *r = sl_router_create(&o, &err);
  assert_non_null(r);
  sl_router_free(r);
  sl__diffmodel_t m;
  const char *bad = "{\"weights\": {\"bias\": 1, \"nope\": 2}, \"thresholds\": {\"medium\": 0.3, \"hard\": 0.6}}";
  assert_true(sl__diff_parse(bad, strlen(bad), &m, &err) < 0);
  assert_non_null(strstr(err.msg, "$.weights.nope"));
  const char *badt = "{\"weights\": {\"bias\": 1}, \"thresholds\": {\"medium\": 0.8, \"hard\": 0.6}}";
  assert_true(sl__diff_parse(badt, strlen(badt), &m, &err) < 0);
  assert_non_null(strstr(err.msg, "$.thresholds"));
  sl_router_opts_t om = {.difficulty_weights = "/nonexistent/w.json"};
  assert_null(sl_router_create(&om, &err));
}

/* A request of `n` messages given as role, content pairs. */
static void build_req(sl_chat_req_t *r, size_t n, const char *const *rc) {
  sl_chat_req_init(r);
  r->msgs = calloc(n, sizeof *r->msgs);
  assert_non_null(r->msgs);
  for (size_t i = 0; i < n; i++) {
    r->msgs[i].role = strdup(rc[2 * i]);
    r->msgs[i].content = strdup(rc[2 * i + 1]);
  }
  r->n_msgs = n;
}

static double feature(const sl_chat_req_t *r, const char *name) {
  double f[64];
  size_t n = sl_router_difficulty_features(r, f, 64);
  for (size_t i = 0; i < n; i++)
    if (!strcmp(sl_router_difficulty_feature_name(i), name)) return f[i];
  fail_msg("no feature %s", name);
  return 0;
}

/* The router's score, checked against the terms explain shows: their sum
 * through the logistic function is the score. */
static double scored(const sl_chat_req_t *r) {
  sl_class_t c;
  assert_int_equal(sl_router_classify(g_router, r, NULL, &c), 0);
  double d = c.difficulty, t[64], z = 0;
  sl_class_free(&c);
  size_t n = sl_router_difficulty_terms(g_router, r, t, 64);
  assert_true(n > 10 && n <= 64);
  for (size_t i = 0; i < n; i++) z += t[i];
  z = z > 40 ? 40 : z < -40 ? -40 : z;
  assert_true(fabs(1.0 / (1.0 + exp(-z)) - d) < 1e-9);
  return d;
}

/* The difficulty of a request is that of its last user message: the system
 * prompt and the conversation before it count by their size alone, and a paste
 * inside it is told apart from the question about it. */
static void difficulty_of_the_ask(void **s) {
  (void)s;
  char hist[4096], paste[4096];
  size_t o = 0;
  while (o + 200 < sizeof hist)
    o += (size_t)snprintf(hist + o, sizeof hist - o,
                          "Prove that the algorithm is correct: for all n, the invariant holds "
                          "and the recurrence T(n) = 2T(n/2) + n solves to O(n log n). ");
  o = 0;
  o += (size_t)snprintf(paste, sizeof paste, "Here is our service:\n\n```python\n");
  for (int i = 0; o + 200 < sizeof paste - 100; i++)
    o += (size_t)snprintf(paste + o, sizeof paste - o,
                          "def handler_%d(req):\n    return lookup(req.key) or compute(req)\n", i);
  snprintf(paste + o, sizeof paste - o, "```\n\nWhich language is this written in?");

  sl_chat_req_t single, after, sys, pasted;
  const char *one[] = {"user", "thanks, good night"};
  const char *conv[] = {"user", hist, "assistant", hist, "user", "thanks, good night"};
  const char *sysm[] = {"system", hist, "user", "thanks, good night"};
  const char *pm[] = {"user", paste};
  build_req(&single, 1, one);
  build_req(&after, 3, conv);
  build_req(&sys, 2, sysm);
  build_req(&pasted, 1, pm);

  /* the ask's own features are the same however long the talk before it */
  assert_true(feature(&after, "log_chars") == feature(&single, "log_chars"));
  assert_true(feature(&sys, "proof_cues") == 0 && feature(&sys, "math_words") == 0);
  assert_true(feature(&single, "context_chars") == 0);
  /* one message whose folded text is shorter than it ("，" read as ","): no context */
  sl_chat_req_t wide1;
  const char *w1[] = {"user", "\xe8\xaf\xb7\xe6\x8a\x8a\xe5\x90\x88\xe5\x90\x8c\xef\xbc\x8c"
                              "\xe5\x8f\x91\xe7\xbb\x99\xe4\xbb\x96\xe3\x80\x82"};
  build_req(&wide1, 1, w1);
  double wt[64];
  size_t nwt = sl_router_difficulty_terms(g_router, &wide1, wt, 64);
  for (size_t i = 0; i < nwt; i++)
    if (!strcmp(sl_router_difficulty_feature_name(i), "context_chars")) assert_true(wt[i] == 0);
  assert_true(scored(&wide1) < 0.3);
  sl_chat_req_free(&wide1);
  assert_true(feature(&after, "context_chars") > 0.7);
  assert_true(feature(&sys, "context_chars") > 0.7);
  /* the paste is most of the message and code; the question asks to read it,
   * and the text features are the question's */
  assert_true(feature(&pasted, "pasted") > 0.9);
  assert_true(feature(&pasted, "paste_code") > 0.9);
  assert_true(feature(&pasted, "ask_lookup") > 0);
  assert_true(feature(&pasted, "log_chars") < 0.5);
  assert_true(feature(&pasted, "code_def") == 0);
  assert_true(feature(&single, "pasted") == 0);

  assert_true(scored(&after) < 0.5);
  assert_true(scored(&sys) < 0.5);
  assert_true(scored(&pasted) < 0.5);
  /* the same paste and talk before a hard ask */
  char *q = strstr(paste, "Which language");
  snprintf(q, sizeof paste - (size_t)(q - paste),
           "Two threads call handler_3 at once and lookup sometimes returns a stale value. "
           "Find the race condition and prove that your fix is linearizable.");
  const char *hard_ask = "Prove that every group of order 15 is cyclic.";
  const char *conv_hard[] = {"user", hist, "assistant", hist, "user", hard_ask};
  sl_chat_req_t pasted_hard, after_hard;
  build_req(&pasted_hard, 1, pm);
  build_req(&after_hard, 3, conv_hard);
  assert_true(scored(&pasted_hard) > scored(&pasted) + 0.3);
  assert_true(scored(&after_hard) > scored(&after) + 0.3);
  /* max_tokens moves nothing: Anthropic's API requires it and OpenAI's SDK
   * users mostly leave it out, and one request scores alike in both dialects */
  double without = scored(&after_hard);
  after_hard.max_tokens = 32000;
  assert_true(fabs(scored(&after_hard) - without) < 1e-12);
  /* nor do the user field, stop strings or passed-through members: sent, so
   * scanned, but no context for the ask (the user field in both dialects) */
  after_hard.user = strdup(hist);
  after_hard.passthrough = strdup("{\"metadata\":{\"k\":\"v\"}}");
  after_hard.stop = calloc(1, sizeof *after_hard.stop);
  after_hard.stop[0] = strdup("###");
  after_hard.n_stop = 1;
  assert_true(fabs(scored(&after_hard) - without) < 1e-12);
  sl_chat_req_free(&pasted_hard);
  sl_chat_req_free(&after_hard);
  /* a text the classifier folds first (full-width letters, curly quotes) */
  const char *wide[] = {"user", "\xef\xbc\xb0rove that \xe2\x80\x9c" "every\xe2\x80\x9d group of "
                                "order 15 is cyclic, and what\xe2\x80\x99s the title?"};
  sl_chat_req_t folded;
  build_req(&folded, 1, wide);
  assert_true(scored(&folded) > 0.5);
  sl_chat_req_free(&folded);
  /* a log pasted before a question: its first line (a tenth of it digits) is
   * none of the question */
  char logs[4096];
  size_t lo = 0;
  for (int i = 0; i < 20; i++)
    lo += (size_t)snprintf(logs + lo, sizeof logs - lo,
                           "2026-12-07 10:00:%02d,123 %s [main] org.apache.kafka.clients.NetworkClient"
                           " - Connection to node %d could not be established.\n",
                           i, i % 3 ? "INFO" : "ERROR", i);
  size_t lq = lo;
  snprintf(logs + lo, sizeof logs - lo, "\nHow many ERROR lines are there?");
  const char *lm[] = {"user", logs};
  sl_chat_req_t logq;
  build_req(&logq, 1, lm);
  double trivial = scored(&logq);
  sl_chat_req_free(&logq);
  snprintf(logs + lq, sizeof logs - lq,
           "\nWhy does the consumer group keep rebalancing, and how would you prove the root cause?");
  build_req(&logq, 1, lm);
  assert_true(trivial < 0.3 && scored(&logq) > trivial + 0.4);
  sl_chat_req_free(&logq);
  /* a fence left open: the question after the code is still the ask */
  char open_fence[4096];
  size_t of = (size_t)snprintf(open_fence, sizeof open_fence, "```go\n");
  while (of + 100 < sizeof open_fence - 64)
    of += (size_t)snprintf(open_fence + of, sizeof open_fence - of, "func f(x int) int { return x * 2 }\n");
  snprintf(open_fence + of, sizeof open_fence - of, "\nWhich language is this written in?");
  const char *ofm[] = {"user", open_fence};
  sl_chat_req_t unclosed;
  build_req(&unclosed, 1, ofm);
  assert_true(feature(&unclosed, "pasted") > 0.9);
  assert_true(scored(&unclosed) < 0.5);
  sl_chat_req_free(&unclosed);
  /* a last user message without text (whitespace alone) asks nothing: the one before does */
  const char *img[] = {"user", hard_ask, "assistant", "Which part?", "user", " \n"};
  sl_chat_req_t image_last;
  build_req(&image_last, 3, img);
  assert_true(feature(&image_last, "proof_cues") > 0);
  sl_chat_req_free(&image_last);
  assert_int_equal(sl_router_difficulty_terms(NULL, &single, (double[64]){0}, 64), 0);
  sl_chat_req_free(&single);
  sl_chat_req_free(&after);
  sl_chat_req_free(&sys);
  sl_chat_req_free(&pasted);
}

static void *worker(void *arg) {
  const char *t = arg;
  for (int i = 0; i < 40; i++) {
    sl_class_t c;
    if (sl_router_classify_text(g_router, t, strlen(t), NULL, &c) || c.level != SL_LEVEL_RESTRICTED)
      return (void *)1;
    sl_class_free(&c);
  }
  return NULL;
}

static void threads(void **s) {
  (void)s;
  pthread_t th[4];
  const char *t = "Jane Doe, SSN 536-22-1234, card 4111 1111 1111 1111, token ghp_16C7e42F292c69C2E7C10c838347Ae178B4aQq";
  for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, worker, (void *)t);
  for (int i = 0; i < 4; i++) {
    void *rv;
    pthread_join(th[i], &rv);
    assert_null(rv);
  }
}

static void hostile_input(void **s) {
  (void)s;
  /* NUL bytes, invalid UTF-8, long runs: no crash, a result */
  char buf[20000];
  for (size_t i = 0; i < sizeof buf; i++) buf[i] = (char)(i * 7919 % 251);
  sl_class_t c;
  assert_int_equal(sl_router_classify_text(g_router, buf, sizeof buf, NULL, &c), 0);
  sl_class_free(&c);
  memset(buf, '1', sizeof buf);
  assert_int_equal(sl_router_classify_text(g_router, buf, sizeof buf, NULL, &c), 0);
  sl_class_free(&c);
  assert_int_equal(sl_router_classify_text(g_router, "", 0, NULL, &c), 0);
  assert_int_equal(c.level, SL_LEVEL_PUBLIC);
  sl_class_free(&c);
}

/* Text with no words (punctuation only) as the first request of a fresh
 * router: public, not an error (the token list was never allocated and an
 * empty one read as out of memory, so "?" failed closed as restricted). */
static void no_words(void **s) {
  (void)s;
  sl_jerr_t err = {{0}};
  sl_router_t *r = sl_router_create(NULL, &err);
  assert_non_null(r);
  const char *texts[] = {"?", "...", "!", " ", "$", "@", "-"};
  for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
    sl_class_t c;
    assert_int_equal(sl_router_classify_text(r, texts[i], strlen(texts[i]), NULL, &c), 0);
    assert_int_equal(c.error, 0);
    assert_int_equal(c.level, SL_LEVEL_PUBLIC);
    sl_class_free(&c);
  }
  sl_router_free(r);
}

/* Colon runs with a .pgpass port in them ("5432:a:" over and over, one line)
 * take linear time: each hit looked at the whole line before. */
static void colon_runs_linear(void **s) {
  (void)s;
  const char *unit[] = {"5432:a:", "a:5432:b:c:"};
  for (size_t u = 0; u < 2; u++) {
    size_t ul = strlen(unit[u]), n = 400000 / ul * ul;
    char *buf = malloc(n + 1);
    assert_non_null(buf);
    for (size_t i = 0; i < n; i += ul) memcpy(buf + i, unit[u], ul);
    buf[n] = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    sl_class_t c;
    assert_int_equal(sl_router_classify_text(g_router, buf, n, NULL, &c), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    sl_class_free(&c);
    free(buf);
    double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
    /* quadratic, this was 9 s (Release); linear, about 5 ms (20x that under sanitizers) */
    assert_true(ms < 3000);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(fail_closed),   cmocka_unit_test(declared_class),
      cmocka_unit_test(levels),        cmocka_unit_test(custom_and_overrides),
      cmocka_unit_test(chat_offsets),  cmocka_unit_test(offsets_are_bytes),
      cmocka_unit_test(difficulty),    cmocka_unit_test(difficulty_of_the_ask),    cmocka_unit_test(threads),
      cmocka_unit_test(hostile_input), cmocka_unit_test(no_words),
      cmocka_unit_test(colon_runs_linear),
  };
  return cmocka_run_group_tests(tests, setup_router, teardown_router);
}
