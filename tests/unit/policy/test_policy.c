/* Policy compile and decide: validation errors name their JSON path, every
 * `when` key, rule order, and the fail-closed keep-inside filter (never an
 * external step for a keep-inside request: not first, not by fallback, not
 * through a later rule, not when the client pins a model). Classifications are
 * built by hand so that these tests do not depend on the detectors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "policy/policy.h"
#include "sl_err.h"

#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define BACKENDS                                                                            \
  "\"backends\": ["                                                                         \
  "{\"name\": \"local\", \"kind\": \"local\"},"                                             \
  "{\"name\": \"vllm\", \"kind\": \"openai\", \"base_url\": \"http://10.0.0.5:8000/v1\","  \
  " \"location\": \"internal\", \"models\": [\"llama-70b\"]},"                              \
  "{\"name\": \"openai\", \"kind\": \"openai\", \"base_url\": \"https://api.openai.com/v1\"," \
  " \"location\": \"external\", \"models\": [{\"name\": \"gpt-4o\"}, \"gpt-4o-mini\"]},"    \
  "{\"name\": \"anthropic\", \"kind\": \"anthropic\", \"base_url\": \"https://api.anthropic.com\"," \
  " \"models\": [\"claude-sonnet-4-5\"]}]"

static sl_policy_t *compile(const char *rules_and_more, sl_jerr_t *err, int *rc_out) {
  char json[8192];
  snprintf(json, sizeof json, "{" BACKENDS ", %s}", rules_and_more);
  sl_config_t *cfg = NULL;
  sl_jerr_t e = {{0}};
  if (!err) err = &e;
  int rc = sl_config_parse(json, strlen(json), NULL, &cfg, err);
  sl_policy_t *p = NULL;
  if (!rc) rc = sl_policy_compile(cfg, &p, err);
  if (rc_out) *rc_out = rc;
  return p;
}

static sl_policy_t *must_compile(const char *rules) {
  sl_jerr_t e = {{0}};
  int rc;
  sl_policy_t *p = compile(rules, &e, &rc);
  if (rc) fprintf(stderr, "compile: %s\n", e.msg);
  assert_int_equal(rc, 0);
  assert_non_null(p);
  return p;
}

/* Expects a compile error whose message starts with `path`. */
static void expect_error(const char *rules, const char *path, const char *fragment) {
  sl_jerr_t e = {{0}};
  int rc;
  sl_policy_t *p = compile(rules, &e, &rc);
  if (!rc || strncmp(e.msg, path, strlen(path)) || (fragment && !strstr(e.msg, fragment)))
    fprintf(stderr, "want \"%s ... %s\", got rc %d \"%s\"\n", path, fragment ? fragment : "",
            rc, e.msg);
  assert_int_not_equal(rc, 0);
  assert_null(p);
  assert_memory_equal(e.msg, path, strlen(path));
  if (fragment) assert_non_null(strstr(e.msg, fragment));
}

typedef struct {
  const char *names[4], *values[4];
} headers_t;

static const char *hdr_lookup(void *ctx, const char *name, size_t nth) {
  headers_t *h = ctx;
  for (int i = 0; i < 4 && h->names[i]; i++)
    if (!strcasecmp(h->names[i], name) && !nth--) return h->values[i];
  return NULL;
}

typedef struct {
  sl_class_t cls;
  sl_entity_t ents[4];
  sl_chat_req_t req;
  sl_req_meta_t meta;
  headers_t hdrs;
  sl_decision_t d;
} fx_t;

static void fx_init(fx_t *f, sl_level_t level, double difficulty) {
  memset(f, 0, sizeof *f);
  f->cls.level = level;
  f->cls.difficulty = difficulty;
  f->cls.difficulty_label = difficulty >= 0.7 ? "hard" : difficulty >= 0.4 ? "medium" : "easy";
  f->cls.entities = f->ents;
  sl_chat_req_init(&f->req);
  f->req.model = strdup("auto");
  f->req.msgs = calloc(1, sizeof *f->req.msgs);
  f->req.n_msgs = 1;
  f->req.msgs[0].role = strdup("user");
  f->req.msgs[0].content = strdup("hello there");
  f->meta.header = hdr_lookup;
  f->meta.header_ctx = &f->hdrs;
}

static void fx_entity(fx_t *f, const char *type, sl_level_t level) {
  sl_entity_t *e = &f->ents[f->cls.n_entities++];
  snprintf(e->type, sizeof e->type, "%s", type);
  e->detector = "test";
  e->start = 0;
  e->end = 5;
  e->level = level;
  if (level > f->cls.level) f->cls.level = level;
}

static void fx_model(fx_t *f, const char *m) {
  free(f->req.model);
  f->req.model = strdup(m);
}

static void fx_free(fx_t *f) { sl_chat_req_free(&f->req); }

static int decide(sl_policy_t *p, fx_t *f) {
  return sl_policy_decide(p, &f->req, &f->cls, &f->meta, &f->d);
}

static const char *first_step(fx_t *f) {
  static char name[300];
  if (!f->d.n_steps) return "";
  sl_policy_step_name(&f->d.steps[0], name, sizeof name);
  return name;
}

static void assert_no_external(const sl_decision_t *d) {
  for (size_t i = 0; i < d->n_steps; i++)
    assert_int_not_equal(d->steps[i].backend->location, SL_LOC_EXTERNAL);
}

/* ---- validation ---- */

static void test_validation_paths(void **state) {
  (void)state;
  expect_error("\"rules\": []", "$.rules:", "at least one");
  expect_error("\"rules\": [{\"route\": [\"local\"]}]", "$.rules[0].name:", "required");
  expect_error("\"rules\": [{\"name\": \"a\", \"route\": [\"local\"]}, {\"name\": \"a\", \"route\": [\"local\"]}]",
               "$.rules[1].name:", "duplicate");
  expect_error("\"rules\": [{\"name\": \"a\", \"route\": [\"local\"], \"colour\": 1}]", "$.rules[0]:",
               "unknown key \"colour\"");
  expect_error("\"rules\": [{\"name\": \"a\", \"route\": [\"local\"]}, {\"name\": \"b\","
               " \"when\": {\"sensitivity_at_least\": \"secret\"}, \"route\": [\"local\"]}]",
               "$.rules[1].when.sensitivity_at_least:", "confidential");
  expect_error("\"rules\": [{\"name\": \"a\", \"when\": {\"difficulty_at_least\": 1.5}, \"route\": [\"local\"]}]",
               "$.rules[0].when.difficulty_at_least:", "between 0 and 1");
  expect_error("\"rules\": [{\"name\": \"a\", \"when\": {\"difficulty_below\": \"x\"}, \"route\": [\"local\"]}]",
               "$.rules[0].when.difficulty_below:", NULL);
  expect_error("\"rules\": [{\"name\": \"a\", \"when\": {\"sensitivity\": \"public\"}, \"route\": [\"local\"]}]",
               "$.rules[0].when:", "unknown key \"sensitivity\"");
  expect_error("\"rules\": [{\"name\": \"a\", \"when\": {\"entity_types_any\": [\"PERSN\"]}, \"route\": [\"local\"]}]",
               "$.rules[0].when.entity_types_any[0]:", "unknown entity type");
  expect_error("\"rules\": [{\"name\": \"a\", \"when\": {\"tenant\": []}, \"route\": [\"local\"]}]",
               "$.rules[0].when.tenant:", "empty");
  expect_error("\"rules\": [{\"name\": \"a\", \"when\": {\"header\": {\"x-team\": 3}}, \"route\": [\"local\"]}]",
               "$.rules[0].when.header.x-team:", NULL);
  /* one header twice in two cases: both could never hold */
  expect_error("\"rules\": [{\"name\": \"a\", \"when\": {\"header\": {\"X-Route\": \"a\", \"x-route\": \"b\"}}, \"route\": [\"local\"]}]",
               "$.rules[0].when.header.x-route:", "named twice");
  /* a name a dot would misread is quoted in the path */
  expect_error("\"rules\": [{\"name\": \"a\", \"when\": {\"header\": {\"x.w[0] \\\"q\\\"\": 3}}, \"route\": [\"local\"]}]",
               "$.rules[0].when.header[\"x.w[0] \\\"q\\\"\"]:", NULL);
  expect_error("\"rules\": [{\"name\": \"a\", \"when\": {\"prompt_tokens_at_least\": 1.5}, \"route\": [\"local\"]}]",
               "$.rules[0].when.prompt_tokens_at_least:", "whole");
  expect_error("\"rules\": [{\"name\": \"a\", \"when\": {\"tenant_rpm_at_least\": -1}, \"route\": [\"local\"]}]",
               "$.rules[0].when.tenant_rpm_at_least:", NULL);
  /* chains */
  expect_error("\"rules\": [{\"name\": \"a\"}]", "$.rules[0].route:", "required");
  expect_error("\"rules\": [{\"name\": \"a\", \"route\": []}]", "$.rules[0].route:", "at least one");
  expect_error("\"rules\": [{\"name\": \"a\", \"route\": [\"local\", \"gemini\"]}]", "$.rules[0].route[1]:",
               "no backend named \"gemini\"");
  expect_error("\"rules\": [{\"name\": \"a\", \"route\": [\"openai/gpt-5\"]}]", "$.rules[0].route[0]:",
               "not listed");
  expect_error("\"rules\": [{\"name\": \"a\", \"route\": [\"local/foo\"]}]", "$.rules[0].route[0]:",
               "lists no models");
  expect_error("\"rules\": [{\"name\": \"a\", \"route\": [\"openai/\"]}]", "$.rules[0].route[0]:", "empty");
  expect_error("\"rules\": [{\"name\": \"a\", \"route\": [\"local\", \"local\"]}]", "$.rules[0].route[1]:",
               "already");
  /* a bare step is its backend's default (first-listed) model */
  expect_error("\"rules\": [{\"name\": \"a\", \"route\": [\"openai\", \"openai/gpt-4o\"]}]",
               "$.rules[0].route[1]:", "already");
  expect_error("\"rules\": [{\"name\": \"a\", \"route\": [\"openai/gpt-4o\", \"openai\"]}]",
               "$.rules[0].route[1]:", "already");
  sl_policy_unref(must_compile("\"rules\": [{\"name\": \"a\", \"route\": [\"openai\", \"openai/gpt-4o-mini\"]}]"));
  expect_error("\"rules\": [{\"name\": \"a\", \"route\": [\"local\"], \"on_unavailable\": \"retry\"}]",
               "$.rules[0].on_unavailable:", "reject");
  expect_error("\"rules\": [{\"name\": \"a\", \"route\": [\"local\"], \"redact\": [\"NAME\"]}]",
               "$.rules[0].redact[0]:", "unknown entity type");
  /* a Presidio name no detector reports would match nothing */
  expect_error("\"rules\": [{\"name\": \"a\", \"route\": [\"local\"], \"redact\": [\"US_BANK_NUMBER\"]}]",
               "$.rules[0].redact[0]:", "unknown entity type");
  /* every type a detector reports can be named */
  {
    char rules[4096] = "\"rules\": [{\"name\": \"a\", \"route\": [\"local\"], \"redact\": [";
    for (const char *const *t = sl_router_entity_types(); *t; t++)
      snprintf(rules + strlen(rules), sizeof rules - strlen(rules), "%s\"%s\"",
               t == sl_router_entity_types() ? "" : ", ", *t);
    strcat(rules, "]}]");
    assert_non_null(strstr(rules, "\"BANK_ACCOUNT\", \"US_SSN\""));
    sl_policy_unref(must_compile(rules));
  }
  expect_error("\"rules\": [{\"name\": \"a\", \"route\": [\"local\"], \"restore\": \"yes\"}]",
               "$.rules[0].restore:", NULL);
  expect_error("\"rules\": [{\"name\": \"a\", \"when\": {\"sensitivity_at_least\": \"internal\"},"
               " \"route\": [\"openai\"], \"on_unavailable\": \"reject\"}]",
               "$.rules[0].route:", "external");
  /* detectors */
  expect_error("\"detectors\": {\"custom\": [{\"type\": \"X\"}]}, \"rules\": [{\"name\": \"a\", \"route\": [\"local\"]}]",
               "$.detectors.custom[0].pattern:", "required");
  /* a pattern that gives up on ordinary text is named, with PCRE2's reason */
  expect_error("\"detectors\": {\"custom\": [{\"type\": \"A\", \"pattern\": \"\\\\bfoo\\\\b\"}, "
               "{\"type\": \"B\", \"pattern\": \"(?R)?x\"}]}, \"rules\": [{\"name\": \"a\", \"route\": [\"local\"]}]",
               "$.detectors.custom[1].pattern:", "backtracks without bound");
  expect_error("\"detectors\": {\"levels\": {\"US_SSN\": \"top\"}}, \"rules\": [{\"name\": \"a\", \"route\": [\"local\"]}]",
               "$.detectors.levels.US_SSN:", NULL);
  expect_error("\"detectors\": {\"extra\": 1}, \"rules\": [{\"name\": \"a\", \"route\": [\"local\"]}]",
               "$.detectors:", "unknown key");
  expect_error("\"router\": {\"difficulty_weights\": 3}, \"rules\": [{\"name\": \"a\", \"route\": [\"local\"]}]",
               "$.router.difficulty_weights:", NULL);
}

static void test_valid_policy_compiles(void **state) {
  (void)state;
  sl_policy_t *p = must_compile(
      "\"detectors\": {\"custom\": [{\"type\": \"PROJECT_CODENAME\", \"pattern\": \"\\\\bProject (Falcon|Osprey)\\\\b\","
      " \"level\": \"restricted\"}], \"levels\": {\"US_SSN\": \"confidential\"}},"
      "\"rules\": ["
      "{\"name\": \"codename\", \"when\": {\"entity_types_any\": [\"PROJECT_CODENAME\", \"US_SSN\"]}, \"route\": [\"local\"]},"
      "{\"name\": \"default\", \"description\": \"everything else\", \"route\": [\"openai/gpt-4o\", \"vllm/llama-70b\", \"local\"],"
      " \"redact\": [\"PERSON\", \"PROJECT_CODENAME\"], \"restore\": false}]");
  assert_int_equal(sl_policy_n_rules(p), 2);
  assert_string_equal(sl_policy_rule_name(p, 1), "default");
  assert_int_equal(strlen(sl_policy_version(p)), 64);
  sl_policy_t *q = sl_policy_ref(p);
  sl_policy_unref(q);
  sl_policy_unref(p);
}

/* Policies with the same detector settings share one compiled router (a
 * reload that only changes rules does not recompile the detectors). */
static void test_router_shared_between_policies(void **state) {
  (void)state;
  sl_policy_t *a = must_compile("\"rules\": [{\"name\": \"a\", \"route\": [\"local\"]}]");
  sl_policy_t *b = must_compile("\"rules\": [{\"name\": \"b\", \"route\": [\"vllm\"]}]");
  assert_ptr_equal(sl_policy_router(a), sl_policy_router(b));
  sl_policy_t *c = must_compile("\"detectors\": {\"levels\": {\"EMAIL_ADDRESS\": \"restricted\"}},"
                                "\"rules\": [{\"name\": \"c\", \"route\": [\"local\"]}]");
  assert_ptr_not_equal(sl_policy_router(a), sl_policy_router(c));
  sl_policy_unref(a);
  sl_policy_unref(c);
  assert_non_null(sl_policy_router(b)); /* still alive for b */
  sl_policy_unref(b);
}

/* ---- `when` keys ---- */

static void test_when_sensitivity_and_order(void **state) {
  (void)state;
  sl_policy_t *p = must_compile("\"rules\": ["
                                "{\"name\": \"conf\", \"when\": {\"sensitivity_at_least\": \"confidential\"}, \"route\": [\"local\"]},"
                                "{\"name\": \"internal\", \"when\": {\"sensitivity_at_least\": \"internal\"}, \"route\": [\"vllm\"]},"
                                "{\"name\": \"default\", \"route\": [\"openai\"]}]");
  fx_t f;
  const char *want[] = {"default", "internal", "conf", "conf"};
  for (int lv = 0; lv < 4; lv++) {
    fx_init(&f, (sl_level_t)lv, 0.1);
    assert_int_equal(decide(p, &f), 0);
    assert_string_equal(f.d.rule, want[lv]);
    assert_int_equal(f.d.level, lv);
    fx_free(&f);
  }
  /* first match wins even when a later rule also holds */
  fx_init(&f, SL_LEVEL_RESTRICTED, 0.1);
  assert_int_equal(decide(p, &f), 0);
  assert_int_equal(f.d.rule_index, 0);
  assert_string_equal(sl_policy_why_not(&f.d, 1), "not tried");
  fx_free(&f);
  fx_init(&f, SL_LEVEL_PUBLIC, 0.1);
  decide(p, &f);
  assert_string_equal(sl_policy_why_not(&f.d, 0), "sensitivity_at_least");
  fx_free(&f);
  sl_policy_unref(p);
}

static void test_when_entity_types(void **state) {
  (void)state;
  sl_policy_t *p = must_compile("\"rules\": ["
                                "{\"name\": \"pii\", \"when\": {\"entity_types_any\": [\"US_SSN\", \"EMAIL_ADDRESS\"]}, \"route\": [\"local\"]},"
                                "{\"name\": \"default\", \"route\": [\"openai\"]}]");
  fx_t f;
  fx_init(&f, SL_LEVEL_PUBLIC, 0.1);
  fx_entity(&f, "PERSON", SL_LEVEL_CONFIDENTIAL);
  decide(p, &f);
  assert_string_equal(f.d.rule, "default");
  assert_string_equal(sl_policy_why_not(&f.d, 0), "entity_types_any");
  fx_entity(&f, "EMAIL_ADDRESS", SL_LEVEL_CONFIDENTIAL);
  decide(p, &f);
  assert_string_equal(f.d.rule, "pii");
  fx_free(&f);
  sl_policy_unref(p);
}

static void test_when_difficulty(void **state) {
  (void)state;
  sl_policy_t *p = must_compile("\"rules\": ["
                                "{\"name\": \"hard\", \"when\": {\"difficulty_at_least\": 0.7}, \"route\": [\"openai/gpt-4o\"]},"
                                "{\"name\": \"medium\", \"when\": {\"difficulty_at_least\": 0.4, \"difficulty_below\": 0.7}, \"route\": [\"vllm\"]},"
                                "{\"name\": \"easy\", \"when\": {\"difficulty_below\": 0.4}, \"route\": [\"local\"]}]");
  struct { double d; const char *rule; } cases[] = {
      {0.0, "easy"}, {0.39, "easy"}, {0.4, "medium"}, {0.69, "medium"}, {0.7, "hard"}, {1.0, "hard"}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    fx_t f;
    fx_init(&f, SL_LEVEL_PUBLIC, cases[i].d);
    assert_int_equal(decide(p, &f), 0);
    assert_string_equal(f.d.rule, cases[i].rule);
    fx_free(&f);
  }
  expect_error("\"rules\": [{\"name\": \"a\", \"when\": {\"difficulty_at_least\": 0.5, \"difficulty_below\": 0.5}, \"route\": [\"local\"]}]",
               "$.rules[0].when.difficulty_below:", "greater");
  expect_error("\"rules\": [{\"name\": \"a\", \"when\": {\"difficulty_below\": 0}, \"route\": [\"local\"]}]",
               "$.rules[0].when.difficulty_below:", "greater than 0");
  sl_policy_unref(p);
}

static void test_when_tenant_header_model(void **state) {
  (void)state;
  sl_policy_t *p = must_compile(
      "\"rules\": ["
      "{\"name\": \"team-a\", \"when\": {\"tenant\": \"team-a\"}, \"route\": [\"vllm\"]},"
      "{\"name\": \"teams-bc\", \"when\": {\"tenant\": [\"team-b\", \"team-c\"], \"header\": {\"X-Env\": [\"prod\", \"staging\"]}}, \"route\": [\"anthropic\"]},"
      "{\"name\": \"pin-claude\", \"when\": {\"model\": \"anthropic/claude-sonnet-4-5\"}, \"route\": [\"anthropic/claude-sonnet-4-5\"]},"
      "{\"name\": \"default\", \"route\": [\"local\"]}]");
  fx_t f;
  fx_init(&f, SL_LEVEL_PUBLIC, 0.1);
  decide(p, &f);
  assert_string_equal(f.d.rule, "default"); /* no tenant: tenant rules do not hold */
  f.meta.tenant = "team-a";
  decide(p, &f);
  assert_string_equal(f.d.rule, "team-a");
  f.meta.tenant = "team-c";
  decide(p, &f);
  assert_string_equal(f.d.rule, "default");
  assert_string_equal(sl_policy_why_not(&f.d, 1), "header");
  f.hdrs.names[0] = "x-env";
  f.hdrs.values[0] = "staging";
  decide(p, &f);
  assert_string_equal(f.d.rule, "teams-bc");
  f.hdrs.values[0] = "dev";
  decide(p, &f);
  assert_string_equal(f.d.rule, "default");
  /* a second line of the header, or an element of a list, counts as much as
   * the first: which one a proxy put first is an accident */
  f.hdrs.names[1] = "X-ENV";
  f.hdrs.values[1] = "prod";
  decide(p, &f);
  assert_string_equal(f.d.rule, "teams-bc");
  f.hdrs.names[1] = NULL;
  f.hdrs.values[0] = "dev, staging";
  decide(p, &f);
  assert_string_equal(f.d.rule, "teams-bc");
  f.hdrs.values[0] = " dev ,prod\t";
  decide(p, &f);
  assert_string_equal(f.d.rule, "teams-bc");
  f.hdrs.values[0] = "dev, productio";
  decide(p, &f);
  assert_string_equal(f.d.rule, "default");
  f.hdrs.values[0] = "dev";
  /* model: a concrete name is honoured only through a rule that matches it */
  fx_model(&f, "anthropic/claude-sonnet-4-5");
  decide(p, &f);
  assert_string_equal(f.d.rule, "pin-claude");
  assert_true(f.d.model_pinned);
  assert_string_equal(first_step(&f), "anthropic/claude-sonnet-4-5");
  fx_model(&f, "openai/gpt-4o");
  assert_int_equal(decide(p, &f), 0);
  assert_string_equal(f.d.rule, "default");
  assert_false(f.d.model_pinned);
  assert_string_equal(first_step(&f), "local");
  assert_non_null(strstr(f.d.reason, "not honoured"));
  fx_model(&f, "auto");
  decide(p, &f);
  assert_string_equal(f.d.rule, "default");
  assert_null(strstr(f.d.reason, "not honoured"));
  fx_free(&f);
  sl_policy_unref(p);
}

static void test_when_prompt_tokens_and_rpm(void **state) {
  (void)state;
  sl_policy_t *p = must_compile(
      "\"rules\": ["
      "{\"name\": \"long\", \"when\": {\"prompt_tokens_at_least\": 1000}, \"route\": [\"anthropic\"]},"
      "{\"name\": \"busy\", \"when\": {\"tenant_rpm_at_least\": 100}, \"route\": [\"local\", \"openai\"]},"
      "{\"name\": \"default\", \"route\": [\"local\"]}]");
  fx_t f;
  fx_init(&f, SL_LEVEL_PUBLIC, 0.1);
  f.meta.prompt_tokens = 999;
  f.meta.tenant_rpm = 99;
  decide(p, &f);
  assert_string_equal(f.d.rule, "default");
  f.meta.prompt_tokens = 1000;
  decide(p, &f);
  assert_string_equal(f.d.rule, "long");
  f.meta.prompt_tokens = 10;
  f.meta.tenant_rpm = 100;
  decide(p, &f);
  assert_string_equal(f.d.rule, "busy");
  assert_int_equal(f.d.n_steps, 2);
  /* no estimate from the gateway: ~4 bytes a token from the text */
  f.meta.prompt_tokens = 0;
  f.meta.tenant_rpm = 0;
  free(f.req.msgs[0].content);
  f.req.msgs[0].content = malloc(4001);
  memset(f.req.msgs[0].content, 'a', 4000);
  f.req.msgs[0].content[4000] = '\0';
  decide(p, &f);
  assert_string_equal(f.d.rule, "long");
  /* no meta at all */
  assert_int_equal(sl_policy_decide(p, &f.req, &f.cls, NULL, &f.d), 0);
  assert_string_equal(f.d.rule, "long");
  fx_free(&f);
  sl_policy_unref(p);
}

/* ---- fail closed ---- */

#define KEEP_INSIDE_POLICY                                                                    \
  "\"rules\": ["                                                                              \
  "{\"name\": \"pin-gpt\", \"when\": {\"model\": [\"openai/gpt-4o\"]}, \"route\": [\"openai/gpt-4o\"]}," \
  "{\"name\": \"keep-inside\", \"when\": {\"sensitivity_at_least\": \"confidential\", \"tenant\": \"bank\"}," \
  " \"route\": [\"local\", \"vllm\"], \"on_unavailable\": \"reject\"},"                       \
  "{\"name\": \"hard\", \"when\": {\"difficulty_at_least\": 0.7}, \"route\": [\"openai/gpt-4o\", \"anthropic\", \"vllm\", \"local\"]}," \
  "{\"name\": \"spill\", \"when\": {\"tenant_rpm_at_least\": 50}, \"route\": [\"local\", \"openai/gpt-4o-mini\"]}," \
  "{\"name\": \"frontier\", \"when\": {\"sensitivity_at_least\": \"internal\"}, \"route\": [\"anthropic\"]}," \
  "{\"name\": \"default\", \"route\": [\"local\", \"openai\"]}]"

static void test_keep_inside_never_external(void **state) {
  (void)state;
  sl_policy_t *p = must_compile(KEEP_INSIDE_POLICY);
  const char *tenants[] = {NULL, "bank", "shop"};
  const char *models[] = {"auto", "openai/gpt-4o", "anthropic/claude-sonnet-4-5"};
  for (int lv = 0; lv < 4; lv++)
    for (int t = 0; t < 3; t++)
      for (int m = 0; m < 3; m++)
        for (int hard = 0; hard < 2; hard++)
          for (int busy = 0; busy < 2; busy++) {
            fx_t f;
            fx_init(&f, (sl_level_t)lv, hard ? 0.9 : 0.1);
            f.meta.tenant = tenants[t];
            f.meta.tenant_rpm = busy ? 80 : 1;
            fx_model(&f, models[m]);
            int rc = decide(p, &f);
            bool keep = lv >= SL_LEVEL_CONFIDENTIAL;
            assert_int_equal(f.d.keep_inside, keep);
            if (keep) {
              assert_no_external(&f.d);
              if (rc) {
                assert_int_equal(rc, SL_EPOLICY);
                assert_int_equal(f.d.block_status, 451);
                assert_int_equal(f.d.n_steps, 0);
                assert_true(f.d.n_removed > 0);
                assert_non_null(strstr(f.d.reason, "inside"));
              }
            } else {
              assert_int_equal(rc, 0);
              assert_int_equal(f.d.n_removed, 0);
            }
            fx_free(&f);
          }
  sl_policy_unref(p);
}

static void test_keep_inside_fallback_and_pinned(void **state) {
  (void)state;
  sl_policy_t *p = must_compile(KEEP_INSIDE_POLICY);
  fx_t f;
  /* fallback: internal steps survive in order, external ones are removed */
  fx_init(&f, SL_LEVEL_CONFIDENTIAL, 0.9);
  f.meta.tenant = "shop"; /* not the reject rule's tenant: still keep-inside by level */
  assert_int_equal(decide(p, &f), 0);
  assert_string_equal(f.d.rule, "hard");
  assert_int_equal(f.d.n_steps, 2);
  assert_string_equal(f.d.steps[0].backend->name, "vllm");
  assert_string_equal(f.d.steps[1].backend->name, "local");
  assert_int_equal(f.d.n_removed, 2);
  assert_string_equal(f.d.removed[0].backend->name, "openai");
  fx_free(&f);
  /* the client pins an external model: blocked, not sent */
  fx_init(&f, SL_LEVEL_RESTRICTED, 0.1);
  fx_model(&f, "openai/gpt-4o");
  assert_int_equal(decide(p, &f), SL_EPOLICY);
  assert_string_equal(f.d.rule, "pin-gpt");
  assert_int_equal(f.d.block_status, 451);
  assert_int_equal(f.d.n_steps, 0);
  assert_int_equal(f.d.n_removed, 1);
  fx_free(&f);
  /* a later rule that only goes outside: blocked */
  fx_init(&f, SL_LEVEL_CONFIDENTIAL, 0.1);
  assert_int_equal(decide(p, &f), SL_EPOLICY);
  assert_string_equal(f.d.rule, "frontier");
  fx_free(&f);
  /* spill to an API under load, but not for keep-inside data */
  fx_init(&f, SL_LEVEL_PUBLIC, 0.1);
  f.meta.tenant_rpm = 60;
  assert_int_equal(decide(p, &f), 0);
  assert_string_equal(f.d.rule, "spill");
  assert_int_equal(f.d.n_steps, 2);
  fx_free(&f);
  fx_init(&f, SL_LEVEL_CONFIDENTIAL, 0.1);
  f.meta.tenant_rpm = 60;
  assert_int_equal(decide(p, &f), 0);
  assert_string_equal(f.d.rule, "spill");
  assert_int_equal(f.d.n_steps, 1);
  assert_string_equal(f.d.steps[0].backend->name, "local");
  fx_free(&f);
  sl_policy_unref(p);
}

static void test_classification_error_is_restricted(void **state) {
  (void)state;
  sl_policy_t *p = must_compile(
      "\"rules\": ["
      "{\"name\": \"secret\", \"when\": {\"sensitivity_at_least\": \"restricted\"}, \"route\": [\"local\"], \"on_unavailable\": \"reject\"},"
      "{\"name\": \"default\", \"route\": [\"openai\", \"local\"]}]");
  fx_t f;
  fx_init(&f, SL_LEVEL_PUBLIC, 0.1);
  f.cls.error = SL_ETIMEOUT;
  assert_int_equal(decide(p, &f), 0);
  assert_int_equal(f.d.level, SL_LEVEL_RESTRICTED);
  assert_true(f.d.class_error);
  assert_true(f.d.keep_inside);
  assert_string_equal(f.d.rule, "secret");
  assert_no_external(&f.d);
  /* no classification at all is the same */
  assert_int_equal(sl_policy_decide(p, &f.req, NULL, &f.meta, &f.d), 0);
  assert_int_equal(f.d.level, SL_LEVEL_RESTRICTED);
  assert_string_equal(f.d.rule, "secret");
  fx_free(&f);
  sl_policy_unref(p);

  /* Without a keep-inside rule a redacting rule still cannot send a request
   * whose entities are unknown. */
  p = must_compile("\"rules\": [{\"name\": \"redacting\", \"route\": [\"openai\", \"local\"], \"redact\": [\"PERSON\"]}]");
  fx_init(&f, SL_LEVEL_PUBLIC, 0.1);
  f.cls.error = SL_EINTERNAL;
  assert_int_equal(decide(p, &f), 0);
  assert_int_equal(f.d.n_steps, 1);
  assert_string_equal(f.d.steps[0].backend->name, "local");
  assert_int_equal(f.d.n_removed, 1);
  fx_free(&f);
  sl_policy_unref(p);
}

/* A reject rule on entity types keeps those types inside even when an earlier
 * rule matches (here: the client pins an external model). */
static void test_keep_inside_by_entity_type(void **state) {
  (void)state;
  sl_policy_t *p = must_compile(
      "\"rules\": ["
      "{\"name\": \"pin\", \"when\": {\"model\": \"openai/gpt-4o\"}, \"route\": [\"openai/gpt-4o\"]},"
      "{\"name\": \"ssn-local\", \"when\": {\"entity_types_any\": [\"US_SSN\"]}, \"route\": [\"local\"], \"on_unavailable\": \"reject\"},"
      "{\"name\": \"default\", \"route\": [\"openai\", \"local\"]}]");
  fx_t f;
  fx_init(&f, SL_LEVEL_PUBLIC, 0.1);
  fx_model(&f, "openai/gpt-4o");
  assert_int_equal(decide(p, &f), 0);
  assert_false(f.d.keep_inside);
  assert_string_equal(f.d.rule, "pin");
  fx_entity(&f, "US_SSN", SL_LEVEL_INTERNAL); /* even at a low level */
  assert_int_equal(decide(p, &f), SL_EPOLICY);
  assert_true(f.d.keep_inside);
  assert_int_equal(f.d.block_status, 451);
  assert_non_null(strstr(f.d.reason, "US_SSN"));
  fx_model(&f, "auto");
  assert_int_equal(decide(p, &f), 0);
  assert_string_equal(f.d.rule, "ssn-local");
  fx_free(&f);
  /* unknown entities (failed classification) are kept inside too */
  fx_init(&f, SL_LEVEL_PUBLIC, 0.1);
  f.cls.error = SL_EINTERNAL;
  assert_int_equal(decide(p, &f), 0);
  assert_true(f.d.keep_inside);
  assert_string_equal(f.d.rule, "default");
  assert_int_equal(f.d.n_steps, 1);
  assert_string_equal(f.d.steps[0].backend->name, "local");
  fx_free(&f);
  expect_error("\"rules\": [{\"name\": \"a\", \"when\": {\"entity_types_any\": [\"US_SSN\"]},"
               " \"route\": [\"openai\"], \"on_unavailable\": \"reject\"}]",
               "$.rules[0].route:", "external");
  sl_policy_unref(p);
}

static void test_no_rule_matches(void **state) {
  (void)state;
  sl_policy_t *p = must_compile("\"rules\": [{\"name\": \"only-a\", \"when\": {\"tenant\": \"a\"}, \"route\": [\"local\"]}]");
  fx_t f;
  fx_init(&f, SL_LEVEL_PUBLIC, 0.1);
  assert_int_equal(decide(p, &f), SL_EPOLICY);
  assert_null(f.d.rule);
  assert_int_equal(f.d.rule_index, -1);
  assert_int_equal(f.d.block_status, 451);
  fx_free(&f);
  sl_policy_unref(p);
}

static void test_redact_fields_in_decision(void **state) {
  (void)state;
  sl_policy_t *p = must_compile("\"redaction\": {\"restore\": false}, \"rules\": ["
                                "{\"name\": \"a\", \"when\": {\"tenant\": \"a\"}, \"route\": [\"openai\"], \"redact\": [\"PERSON\", \"EMAIL_ADDRESS\"], \"restore\": true},"
                                "{\"name\": \"b\", \"route\": [\"openai\"], \"redact\": [\"PERSON\"]}]");
  fx_t f;
  fx_init(&f, SL_LEVEL_PUBLIC, 0.1);
  f.meta.tenant = "a";
  decide(p, &f);
  assert_int_equal(f.d.n_redact, 2);
  assert_string_equal(f.d.redact[1], "EMAIL_ADDRESS");
  assert_true(sl_policy_step_needs_redaction(&f.d, &f.d.steps[0]));
  assert_true(f.d.restore);
  f.meta.tenant = "b";
  decide(p, &f);
  assert_int_equal(f.d.n_redact, 1);
  assert_false(f.d.restore); /* the file-wide default */
  fx_free(&f);
  sl_policy_unref(p);
}

static void test_explain_json_shape(void **state) {
  (void)state;
  sl_policy_t *p = must_compile(KEEP_INSIDE_POLICY);
  fx_t f;
  fx_init(&f, SL_LEVEL_PUBLIC, 0.9);
  fx_entity(&f, "EMAIL_ADDRESS", SL_LEVEL_CONFIDENTIAL);
  decide(p, &f);
  char *s = sl_policy_explain_json(p, &f.req, &f.cls, &f.d, false);
  assert_non_null(s);
  cJSON *j = cJSON_Parse(s);
  assert_non_null(j);
  cJSON *sens = cJSON_GetObjectItem(j, "sensitivity");
  assert_string_equal(cJSON_GetObjectItem(sens, "level")->valuestring, "confidential");
  cJSON *e0 = cJSON_GetArrayItem(cJSON_GetObjectItem(sens, "entities"), 0);
  assert_string_equal(cJSON_GetObjectItem(e0, "type")->valuestring, "EMAIL_ADDRESS");
  assert_int_equal(cJSON_GetObjectItem(e0, "start")->valueint, 0);
  assert_int_equal(cJSON_GetObjectItem(e0, "end")->valueint, 5);
  assert_string_equal(cJSON_GetObjectItem(e0, "detector")->valuestring, "test");
  cJSON *diff = cJSON_GetObjectItem(j, "difficulty");
  assert_true(cJSON_GetObjectItem(diff, "score")->valuedouble > 0.89);
  assert_string_equal(cJSON_GetObjectItem(diff, "label")->valuestring, "hard");
  cJSON *route = cJSON_GetObjectItem(j, "route");
  assert_string_equal(cJSON_GetObjectItem(route, "rule")->valuestring, "hard");
  cJSON *bk = cJSON_GetObjectItem(route, "backends");
  assert_int_equal(cJSON_GetArraySize(bk), 2);
  assert_string_equal(cJSON_GetArrayItem(bk, 0)->valuestring, "vllm");
  assert_false(cJSON_IsTrue(cJSON_GetObjectItem(route, "egress")));
  assert_null(cJSON_GetObjectItem(j, "explain"));
  assert_null(cJSON_GetObjectItem(diff, "terms"));
  cJSON_Delete(j);
  free(s);

  s = sl_policy_explain_json(p, &f.req, &f.cls, &f.d, true);
  j = cJSON_Parse(s);
  cJSON *ex = cJSON_GetObjectItem(j, "explain");
  assert_non_null(ex);
  /* the difficulty's largest terms, largest first, the bias among them */
  cJSON *terms = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "difficulty"), "terms");
  assert_true(cJSON_GetArraySize(terms) >= 2 && cJSON_GetArraySize(terms) <= 6);
  double prev = 1e9;
  bool bias = false;
  for (const cJSON *t = terms->child; t; t = t->next) {
    double c = cJSON_GetObjectItem(t, "contribution")->valuedouble;
    assert_true(fabs(c) <= prev && c != 0);
    prev = fabs(c);
    bias |= !strcmp(cJSON_GetObjectItem(t, "feature")->valuestring, "bias");
  }
  assert_true(bias);
  assert_string_equal(cJSON_GetObjectItem(ex, "rule")->valuestring, "hard");
  cJSON *rules = cJSON_GetObjectItem(ex, "rules");
  assert_int_equal(cJSON_GetArraySize(rules), 6);
  assert_non_null(strstr(cJSON_GetObjectItem(cJSON_GetArrayItem(rules, 1), "why_not")->valuestring,
                         "tenant"));
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetArrayItem(rules, 2), "matched")));
  cJSON *ki = cJSON_GetObjectItem(ex, "keep_inside");
  assert_string_equal(cJSON_GetObjectItem(ki, "level")->valuestring, "confidential");
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(ki, "applies")));
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(ex, "removed")), 2);
  cJSON_Delete(j);
  free(s);

  /* public + hard: egress true */
  fx_free(&f);
  fx_init(&f, SL_LEVEL_PUBLIC, 0.9);
  decide(p, &f);
  s = sl_policy_explain_json(p, &f.req, &f.cls, &f.d, false);
  j = cJSON_Parse(s);
  route = cJSON_GetObjectItem(j, "route");
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(route, "egress")));
  assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(route, "backends"), 0)->valuestring,
                      "openai/gpt-4o");
  cJSON_Delete(j);
  free(s);
  fx_free(&f);
  sl_policy_unref(p);
}

/* Reload semantics the gateway relies on: a request holds a reference to the
 * policy it started with and keeps deciding with it after the swap; a broken
 * file yields no policy (the caller keeps the old one). */
static void test_reload_keeps_inflight_policy(void **state) {
  (void)state;
  sl_policy_t *current = must_compile("\"rules\": [{\"name\": \"old\", \"route\": [\"local\"]}]");
  sl_policy_t *inflight = sl_policy_ref(current);
  sl_policy_t *next = must_compile("\"rules\": [{\"name\": \"new\", \"route\": [\"openai\"]}]");
  sl_policy_unref(current); /* the swap */
  current = next;
  fx_t f;
  fx_init(&f, SL_LEVEL_PUBLIC, 0.1);
  assert_int_equal(decide(inflight, &f), 0);
  assert_string_equal(f.d.rule, "old");
  assert_string_equal(f.d.steps[0].backend->name, "local");
  assert_int_equal(decide(current, &f), 0);
  assert_string_equal(f.d.rule, "new");
  sl_policy_unref(inflight);
  fx_free(&f);

  char path[] = "/tmp/sl_policy_broken_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  const char *broken = "{\"backends\": [{\"name\": \"local\", \"kind\": \"local\"}], \"rules\": [{\"name\": 1}]}";
  assert_int_equal(write(fd, broken, strlen(broken)), (ssize_t)strlen(broken));
  close(fd);
  sl_policy_t *bad = (sl_policy_t *)1;
  sl_jerr_t err = {{0}};
  assert_int_not_equal(sl_policy_load(path, &bad, &err), 0);
  assert_null(bad);
  assert_non_null(strstr(err.msg, "$.rules[0].name"));
  unlink(path);
  assert_int_equal(sl_policy_load("/nonexistent/sluice.json", &bad, &err), SL_EIO);
  sl_policy_unref(current);
}

/* router.difficulty_weights: relative to the config file's directory; a
 * missing file is an error naming the key. */
static void test_difficulty_weights_path(void **state) {
  (void)state;
  const char *src = getenv("SLUICE_SRC");
  char weights[600];
  snprintf(weights, sizeof weights, "%s/router/difficulty_weights.json", src ? src : ".");
  if (access(weights, R_OK)) skip();
  char dir[600];
  snprintf(dir, sizeof dir, "%s/sl_policy_w_XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  assert_non_null(mkdtemp(dir));
  char cmd[1400], cfgp[700];
  snprintf(cmd, sizeof cmd, "cp '%s' '%s/w.json'", weights, dir);
  assert_int_equal(system(cmd), 0);
  snprintf(cfgp, sizeof cfgp, "%s/p.json", dir);
  FILE *f = fopen(cfgp, "w");
  fputs("{\"backends\": [{\"name\": \"local\", \"kind\": \"local\"}],"
        " \"router\": {\"difficulty_weights\": \"w.json\"},"
        " \"rules\": [{\"name\": \"a\", \"route\": [\"local\"]}]}", f);
  fclose(f);
  sl_policy_t *p;
  sl_jerr_t err = {{0}};
  int rc = sl_policy_load(cfgp, &p, &err);
  if (rc) fail_msg("%s", err.msg);
  char v1[65];
  snprintf(v1, sizeof v1, "%s", sl_policy_version(p));
  sl_policy_unref(p);
  /* other weights, the same config: another policy version (decisions differ) */
  snprintf(cmd, sizeof cmd, "sed -i 's/0\\./0.1/' '%s/w.json'", dir);
  assert_int_equal(system(cmd), 0);
  rc = sl_policy_load(cfgp, &p, &err);
  if (rc) fail_msg("%s", err.msg);
  assert_string_not_equal(sl_policy_version(p), v1);
  assert_int_equal(strlen(sl_policy_version(p)), 64);
  sl_policy_unref(p);
  f = fopen(cfgp, "w");
  fputs("{\"backends\": [{\"name\": \"local\", \"kind\": \"local\"}],"
        " \"router\": {\"difficulty_weights\": \"missing.json\"},"
        " \"rules\": [{\"name\": \"a\", \"route\": [\"local\"]}]}", f);
  fclose(f);
  assert_int_not_equal(sl_policy_load(cfgp, &p, &err), 0);
  assert_non_null(strstr(err.msg, "$.router.difficulty_weights: cannot open \"missing.json\""));
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

/* explain names the failing key of every earlier rule with the request's value. */
static void test_explain_why_not_every_key(void **state) {
  (void)state;
  sl_policy_t *p = must_compile(
      "\"rules\": ["
      "{\"name\": \"r0\", \"when\": {\"entity_types_any\": [\"US_SSN\"]}, \"route\": [\"local\"]},"
      "{\"name\": \"r1\", \"when\": {\"difficulty_at_least\": 0.9}, \"route\": [\"local\"]},"
      "{\"name\": \"r2\", \"when\": {\"difficulty_below\": 0.1}, \"route\": [\"local\"]},"
      "{\"name\": \"r3\", \"when\": {\"tenant\": \"z\"}, \"route\": [\"local\"]},"
      "{\"name\": \"r4\", \"when\": {\"model\": \"openai/gpt-4o\"}, \"route\": [\"local\"]},"
      "{\"name\": \"r5\", \"when\": {\"header\": {\"x-a\": \"b\", \"x-c\": [\"d\", \"e\"]}}, \"route\": [\"local\"]},"
      "{\"name\": \"r6\", \"when\": {\"prompt_tokens_at_least\": 500}, \"route\": [\"local\"]},"
      "{\"name\": \"r7\", \"when\": {\"tenant_rpm_at_least\": 30}, \"route\": [\"local\"]},"
      "{\"name\": \"r8\", \"route\": [\"local\"]},"
      "{\"name\": \"r9\", \"route\": [\"vllm\"]}]");
  fx_t f;
  fx_init(&f, SL_LEVEL_PUBLIC, 0.5);
  f.meta.tenant = "y";
  f.meta.prompt_tokens = 42;
  f.meta.tenant_rpm = 7;
  f.hdrs.names[0] = "x-a"; /* the rule's first header is there, its second is not */
  f.hdrs.values[0] = "b";
  assert_int_equal(decide(p, &f), 0);
  assert_string_equal(f.d.rule, "r8");
  const char *want[] = {"entity_types_any: none of the 1 listed types found (found: none)",
                        "difficulty_at_least 0.9: score 0.500",
                        "difficulty_below 0.1: score 0.500",
                        "tenant: \"y\" is not one of the rule's tenants", "model: requested \"auto\"",
                        "header: the request lacks x-c: \"d\"|\"e\"", "prompt_tokens_at_least 500: request has 42",
                        "tenant_rpm_at_least 30: tenant rate 7/min", NULL, "not tried"};
  char *s = sl_policy_explain_json(p, &f.req, &f.cls, &f.d, true);
  cJSON *j = cJSON_Parse(s);
  cJSON *rules = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "explain"), "rules");
  for (int i = 0; i < 10; i++) {
    cJSON *r = cJSON_GetArrayItem(rules, i);
    cJSON *why = cJSON_GetObjectItem(r, "why_not");
    if (!want[i]) {
      assert_null(why);
      assert_true(cJSON_IsTrue(cJSON_GetObjectItem(r, "matched")));
      continue;
    }
    if (!why || !strstr(why->valuestring, want[i]))
      fail_msg("rule %d: want \"%s\", got \"%s\"", i, want[i], why ? why->valuestring : "(none)");
  }
  cJSON_Delete(j);
  free(s);
  fx_free(&f);
  sl_policy_unref(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_validation_paths),
      cmocka_unit_test(test_valid_policy_compiles),
      cmocka_unit_test(test_router_shared_between_policies),
      cmocka_unit_test(test_when_sensitivity_and_order),
      cmocka_unit_test(test_when_entity_types),
      cmocka_unit_test(test_when_difficulty),
      cmocka_unit_test(test_when_tenant_header_model),
      cmocka_unit_test(test_when_prompt_tokens_and_rpm),
      cmocka_unit_test(test_keep_inside_never_external),
      cmocka_unit_test(test_keep_inside_fallback_and_pinned),
      cmocka_unit_test(test_classification_error_is_restricted),
      cmocka_unit_test(test_keep_inside_by_entity_type),
      cmocka_unit_test(test_no_rule_matches),
      cmocka_unit_test(test_redact_fields_in_decision),
      cmocka_unit_test(test_explain_json_shape),
      cmocka_unit_test(test_reload_keeps_inflight_policy),
      cmocka_unit_test(test_difficulty_weights_path),
      cmocka_unit_test(test_explain_why_not_every_key),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
