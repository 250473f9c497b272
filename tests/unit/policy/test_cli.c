/* The policy CLIs through their entry points: `policy check` (exit codes, the
 * JSON path in errors), `policy test` (a cases file with a mismatch gives a
 * readable diff and a non-zero exit; cases use `assume` so that they test rule
 * logic, not the detectors), `classify` (one INTERFACE.md line per input line)
 * and `explain`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gateway/cli.h"

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *policy_json =
    "{\"backends\": ["
    "  {\"name\": \"local\", \"kind\": \"local\"},"
    "  {\"name\": \"openai\", \"kind\": \"openai\", \"base_url\": \"https://api.openai.com/v1\","
    "   \"models\": [\"gpt-4o\", \"gpt-4o-mini\"]}],"
    " \"rules\": ["
    "  {\"name\": \"keep-inside\", \"when\": {\"sensitivity_at_least\": \"confidential\"},"
    "   \"route\": [\"local\"], \"on_unavailable\": \"reject\"},"
    "  {\"name\": \"hard\", \"when\": {\"difficulty_at_least\": 0.7}, \"route\": [\"openai/gpt-4o\", \"local\"],"
    "   \"redact\": [\"PERSON\"]},"
    "  {\"name\": \"team-x\", \"when\": {\"tenant\": \"x\", \"header\": {\"X-Env\": \"prod\"}}, \"route\": [\"openai\"]},"
    "  {\"name\": \"default\", \"route\": [\"local\"]}]}";

static char dir[64];

static char *write_file(const char *name, const char *content) {
  static char paths[8][128];
  static int k;
  char *p = paths[k++ % 8];
  snprintf(p, 128, "%s/%s", dir, name);
  FILE *f = fopen(p, "w");
  assert_non_null(f);
  fputs(content, f);
  fclose(f);
  return p;
}

/* Runs `sluice <cmd> ARGS` (stdin from `in` if given) with stdout/stderr
 * captured into *out. */
static int run_cmd(int (*cmd)(int, char **), const char *in, char **out, int argc, va_list ap) {
  char *argv[8];
  for (int i = 0; i < argc; i++) argv[i] = va_arg(ap, char *);
  if (in) assert_non_null(freopen(in, "r", stdin));
  char cap[128];
  snprintf(cap, sizeof cap, "%s/out.txt", dir);
  fflush(stdout);
  fflush(stderr);
  int o = dup(1), e = dup(2);
  int fd = open(cap, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  dup2(fd, 1);
  dup2(fd, 2);
  close(fd);
  int rc = cmd(argc, argv);
  fflush(stdout);
  fflush(stderr);
  dup2(o, 1);
  dup2(e, 2);
  close(o);
  close(e);
  FILE *f = fopen(cap, "r");
  static char buf[16384];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  buf[n] = '\0';
  fclose(f);
  *out = buf;
  return rc;
}

static int run(char **out, int argc, ...) {
  va_list ap;
  va_start(ap, argc);
  int rc = run_cmd(sl_cli_policy, NULL, out, argc, ap);
  va_end(ap);
  return rc;
}

static int run_in(int (*cmd)(int, char **), const char *in, char **out, int argc, ...) {
  va_list ap;
  va_start(ap, argc);
  int rc = run_cmd(cmd, in, out, argc, ap);
  va_end(ap);
  return rc;
}

static int setup(void **state) {
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/sl_policy_cli_XXXXXX");
  assert_non_null(mkdtemp(dir));
  return 0;
}

static int teardown(void **state) {
  (void)state;
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : 0;
}

static void test_check(void **state) {
  (void)state;
  char *out;
  char *good = write_file("good.json", policy_json);
  assert_int_equal(run(&out, 2, "check", good), 0);
  assert_non_null(strstr(out, "ok (4 rules"));
  assert_null(strstr(out, "unencrypted"));
  /* warnings that pass the check: each file, what its warning says, and what
   * must not be warned about beside it */
  static const struct {
    const char *json, *warned, *not_warned;
  } lints[] = {
      /* an external backend over plain http:// (not a sidecar on the loopback) */
      {"{\"backends\": [{\"name\": \"ext\", \"kind\": \"openai\", \"base_url\": \"http://api.example.com/v1\"},"
       " {\"name\": \"side\", \"kind\": \"openai\", \"base_url\": \"http://127.0.0.1:9000/v1\"}],"
       " \"rules\": [{\"name\": \"a\", \"route\": [\"ext\", \"side\"]}]}",
       "$.backends[0].base_url: backend \"ext\" is external and plain http://", "\"side\" is external and plain"},
      /* a type a keep-inside rule holds by entity_types_any, redacted by a later rule */
      {"{\"backends\": [{\"name\": \"local\", \"kind\": \"local\"}, {\"name\": \"openai\", \"kind\": \"openai\","
       " \"base_url\": \"https://api.openai.com/v1\"}], \"rules\": [{\"name\": \"keep\", \"when\":"
       " {\"entity_types_any\": [\"EMAIL_ADDRESS\"]}, \"route\": [\"local\"], \"on_unavailable\": \"reject\"},"
       " {\"name\": \"out\", \"route\": [\"openai\"], \"redact\": [\"EMAIL_ADDRESS\", \"PERSON\"]}]}",
       "$.rules[1].redact[0]: EMAIL_ADDRESS is kept inside by a keep-inside rule's entity_types_any",
       "redact[1]: PERSON is kept inside"},
      /* a custom detector named like a built-in type keeps its own level */
      {"{\"backends\": [{\"name\": \"local\", \"kind\": \"local\"}], \"detectors\": {\"custom\":"
       " [{\"type\": \"EMAIL_ADDRESS\", \"pattern\": \"\\\\bcorp-mail\\\\b\"}, {\"type\": \"CODENAME\","
       " \"pattern\": \"\\\\bFalcon\\\\b\"}]}, \"rules\": [{\"name\": \"a\", \"route\": [\"local\"]}]}",
       "$.detectors.custom[0].type: EMAIL_ADDRESS is a built-in type too", "custom[1].type"},
      /* a custom pattern that matches ordinary text (any number), beside one that does not */
      {"{\"backends\": [{\"name\": \"local\", \"kind\": \"local\"}], \"detectors\": {\"custom\":"
       " [{\"type\": \"PROJECT\", \"pattern\": \"PRJ-\\\\d{4}\"}, {\"type\": \"ANYNUM\","
       " \"pattern\": \"\\\\d+\", \"level\": \"restricted\"}]}, \"rules\": [{\"name\": \"a\", \"route\": [\"local\"]}]}",
       "$.detectors.custom[1].pattern matches ordinary text (\"3\" in \"Give me 3 ideas",
       "custom[0].pattern"}};
  for (size_t i = 0; i < sizeof lints / sizeof *lints; i++) {
    char *f = write_file("lint.json", lints[i].json);
    assert_int_equal(run(&out, 2, "check", f), 0);
    assert_non_null(strstr(out, lints[i].warned));
    assert_null(strstr(out, lints[i].not_warned));
  }

  /* a FIFO (or a directory) is no config: refused at once, not waited on */
  char fifo[160];
  snprintf(fifo, sizeof fifo, "%s/fifo.json", dir);
  assert_int_equal(mkfifo(fifo, 0600), 0);
  assert_int_equal(run(&out, 2, "check", fifo), 1);
  assert_non_null(strstr(out, "not a regular file"));
  assert_int_equal(run(&out, 2, "check", dir), 1);
  assert_non_null(strstr(out, "not a regular file"));

  char *bad = write_file("bad.json",
                         "{\"backends\": [{\"name\": \"local\", \"kind\": \"local\"}],"
                         " \"rules\": [{\"name\": \"a\", \"route\": [\"local\"]},"
                         " {\"name\": \"b\", \"when\": {\"sensitivity_at_least\": \"high\"}, \"route\": [\"local\"]}]}");
  assert_int_equal(run(&out, 2, "check", bad), 1);
  assert_non_null(strstr(out, "$.rules[1].when.sensitivity_at_least:"));

  char *unreach = write_file("unreach.json",
                             "{\"backends\": [{\"name\": \"local\", \"kind\": \"local\"}],"
                             " \"rules\": [{\"name\": \"all\", \"route\": [\"local\"]},"
                             " {\"name\": \"never\", \"when\": {\"tenant\": \"t\"}, \"route\": [\"local\"]}]}");
  assert_int_equal(run(&out, 2, "check", unreach), 0);
  assert_non_null(strstr(out, "$.rules[1] (\"never\") is never reached"));
  /* its tenant is no key's either */
  assert_non_null(strstr(out, "$.rules[1].when.tenant \"t\" never matches: no key in auth.keys"));
  /* a requested model the config does not serve: a typo, most likely */
  char *model = write_file("model.json",
                           "{\"backends\": [{\"name\": \"local\", \"kind\": \"local\"}],"
                           " \"rules\": [{\"name\": \"m\", \"when\": {\"model\": [\"local\", \"auto\", \"lcoal\"]},"
                           " \"route\": [\"local\"]}, {\"name\": \"d\", \"route\": [\"local\"]}]}");
  assert_int_equal(run(&out, 2, "check", model), 0);
  assert_non_null(strstr(out, "$.rules[0].when.model \"lcoal\" names no backend or model"));
  assert_null(strstr(out, "when.model \"local\""));
  assert_null(strstr(out, "when.model \"auto\""));
  /* conditions at their floor hold for every request too */
  char *floor = write_file("floor.json",
                           "{\"backends\": [{\"name\": \"local\", \"kind\": \"local\"}],"
                           " \"rules\": [{\"name\": \"low\", \"when\": {\"sensitivity_at_least\": \"public\","
                           " \"difficulty_at_least\": 0, \"tenant_rpm_at_least\": 1}, \"route\": [\"local\"]},"
                           " {\"name\": \"ssn\", \"when\": {\"entity_types_any\": [\"US_SSN\"]}, \"route\": [\"local\"]}]}");
  assert_int_equal(run(&out, 2, "check", floor), 0);
  assert_non_null(strstr(out, "$.rules[1] (\"ssn\") is never reached: $.rules[0] always matches"));
  char *real = write_file("real.json",
                          "{\"backends\": [{\"name\": \"local\", \"kind\": \"local\"}],"
                          " \"rules\": [{\"name\": \"busy\", \"when\": {\"tenant_rpm_at_least\": 2}, \"route\": [\"local\"]},"
                          " {\"name\": \"rest\", \"route\": [\"local\"]}]}");
  assert_int_equal(run(&out, 2, "check", real), 0);
  assert_null(strstr(out, "never reached"));
  /* a keep-inside rule's external step is skipped: said, not refused */
  char *ext = write_file("ext.json",
                         "{\"backends\": [{\"name\": \"local\", \"kind\": \"local\"},"
                         " {\"name\": \"e\", \"kind\": \"openai\", \"base_url\": \"https://x.example/v1\","
                         " \"location\": \"external\", \"models\": [{\"name\": \"m\"}]}],"
                         " \"rules\": [{\"name\": \"k\", \"when\": {\"sensitivity_at_least\": \"confidential\"},"
                         " \"route\": [\"e/m\", \"local\"], \"on_unavailable\": \"reject\"},"
                         " {\"name\": \"d\", \"route\": [\"e/m\"]}]}");
  assert_int_equal(run(&out, 2, "check", ext), 0);
  assert_non_null(strstr(out, "$.rules[0].route[0] (\"e/m\") is external"));
  assert_null(strstr(out, "$.rules[1].route[0]"));

  assert_int_equal(run(&out, 2, "check", "/nonexistent/policy.json"), 1);
  assert_int_equal(run(&out, 1, "check"), 2);
}

static void test_cases_pass(void **state) {
  (void)state;
  char *out;
  char *pol = write_file("p.json", policy_json);
  char *cases = write_file(
      "ok.jsonl",
      "# comments and blank lines are skipped\n"
      "\n"
      "{\"name\": \"plain\", \"text\": \"hello\", \"assume\": {\"level\": \"public\", \"difficulty\": 0.1},"
      " \"expect\": {\"rule\": \"default\", \"backend\": \"local\", \"egress\": false}}\n"
      "{\"name\": \"ssn stays\", \"text\": \"x\", \"assume\": {\"level\": \"restricted\", \"difficulty\": 0.9},"
      " \"expect\": {\"rule\": \"keep-inside\", \"backends\": [\"local\"], \"level\": \"restricted\"}}\n"
      "{\"name\": \"hard\", \"request\": {\"model\": \"auto\", \"messages\": [{\"role\": \"user\", \"content\": \"q\"}]},"
      " \"assume\": {\"level\": \"internal\", \"difficulty\": 0.8},"
      " \"expect\": {\"backend\": \"openai/gpt-4o\", \"backends\": [\"openai/gpt-4o\", \"local\"], \"redact\": [\"PERSON\"], \"egress\": true}}\n"
      "{\"name\": \"tenant+header\", \"text\": \"q\", \"tenant\": \"x\", \"headers\": {\"x-env\": \"prod\"},"
      " \"assume\": {\"level\": \"public\", \"difficulty\": 0.1},"
      " \"expect\": {\"rule\": \"team-x\", \"backend\": \"openai/gpt-4o\", \"blocked\": false}}\n"
      /* a name to redact in a stop string: the gateway skips the external step */
      "{\"name\": \"unredactable\", \"request\": {\"stop\": [\"Hansen\"], \"messages\": [{\"role\": \"user\","
      " \"content\": \"Write to Laila Hansen\"}]}, \"assume\": {\"level\": \"internal\", \"difficulty\": 0.8},"
      " \"expect\": {\"rule\": \"hard\", \"backends\": [\"local\"], \"egress\": false}}\n"
      /* tools or a JSON response_format: the local engine cannot serve them,
       * so the gateway passes over it — the next step serves, or a 400 */
      "{\"name\": \"tools\", \"request\": {\"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"f\"}}],"
      " \"messages\": [{\"role\": \"user\", \"content\": \"q\"}]}, \"assume\": {\"level\": \"internal\", \"difficulty\": 0.8},"
      " \"expect\": {\"rule\": \"hard\", \"backends\": [\"openai/gpt-4o\"]}}\n"
      "{\"name\": \"json on local\", \"request\": {\"response_format\": {\"type\": \"json_object\"},"
      " \"messages\": [{\"role\": \"user\", \"content\": \"q\"}]}, \"assume\": {\"level\": \"public\", \"difficulty\": 0.1},"
      " \"expect\": {\"rule\": \"default\", \"backend\": null, \"blocked\": true, \"status\": 400}}\n"
      /* an assumed entity type without a level: the level is the type's */
      "{\"name\": \"assumed ssn\", \"text\": \"x\", \"assume\": {\"entity_types\": [\"US_SSN\"], \"difficulty\": 0.1},"
      " \"expect\": {\"rule\": \"keep-inside\", \"level\": \"restricted\"}}\n");
  assert_int_equal(run(&out, 3, "test", pol, cases), 0);
  assert_non_null(strstr(out, "8 passed, 0 failed"));
}

static void test_mismatch_fails_with_diff(void **state) {
  (void)state;
  char *out;
  char *pol = write_file("p.json", policy_json);
  char *cases = write_file(
      "bad.jsonl",
      "{\"name\": \"ok\", \"text\": \"hello\", \"assume\": {\"level\": \"public\", \"difficulty\": 0.1},"
      " \"expect\": {\"rule\": \"default\"}}\n"
      "{\"name\": \"wrong\", \"text\": \"x\", \"assume\": {\"level\": \"restricted\", \"difficulty\": 0.9},"
      " \"expect\": {\"rule\": \"hard\", \"backend\": \"openai\"}}\n");
  assert_int_equal(run(&out, 3, "test", pol, cases), 1);
  assert_non_null(strstr(out, "FAIL"));
  assert_non_null(strstr(out, "\"wrong\""));
  assert_non_null(strstr(out, "expected \"hard\""));
  assert_non_null(strstr(out, "got \"keep-inside\""));
  assert_non_null(strstr(out, "expected \"openai\""));
  assert_non_null(strstr(out, "1 passed, 1 failed"));

  /* never_leaves: the hard rule redacts PERSON only, so the email would leave */
  char *leak = write_file(
      "leak.jsonl",
      "{\"name\": \"email leaks\", \"text\": \"Mail jane.doe@acme-corp.com the plan\","
      " \"assume\": {\"level\": \"internal\", \"difficulty\": 0.8},"
      " \"expect\": {\"rule\": \"hard\", \"never_leaves\": [\"jane.doe@acme-corp.com\"]}}\n"
      "{\"name\": \"kept inside\", \"text\": \"Mail jane.doe@acme-corp.com the plan\","
      " \"expect\": {\"rule\": \"keep-inside\", \"never_leaves\": [\"jane.doe@acme-corp.com\"]}}\n"
      /* a name to redact in a stop string: the gateway refuses the external
       * step (451), so nothing leaves; the case passes, not "cannot redact" */
      "{\"name\": \"unredactable\", \"request\": {\"model\": \"auto\", \"stop\": [\"Jane Doe\"],"
      " \"messages\": [{\"role\": \"user\", \"content\": \"Ask Jane Doe about the plan\"}]},"
      " \"assume\": {\"level\": \"internal\", \"difficulty\": 0.8},"
      " \"expect\": {\"rule\": \"hard\", \"never_leaves\": [\"Jane Doe\"]}}\n");
  assert_int_equal(run(&out, 3, "test", pol, leak), 1);
  assert_non_null(strstr(out, "\"jane.doe@acme-corp.com\" kept inside"));
  assert_null(strstr(out, "cannot redact"));
  assert_non_null(strstr(out, "2 passed, 1 failed"));

  /* an unreadable case is a failure too, named by line */
  char *broken = write_file("broken.jsonl",
                            "{\"text\": \"x\", \"expect\": {\"rule\": \"default\", \"colour\": 1}}\n"
                            "not json\n");
  assert_int_equal(run(&out, 3, "test", pol, broken), 1);
  assert_non_null(strstr(out, "broken.jsonl:1"));
  assert_non_null(strstr(out, "colour"));
  assert_non_null(strstr(out, "broken.jsonl:2"));

  /* fields of the wrong type are unreadable, not ignored (a headers array crashed) */
  char *typed = write_file("typed.jsonl",
                           "{\"text\": \"x\", \"headers\": [\"X-Env: prod\"], \"expect\": {\"rule\": \"default\"}}\n"
                           "{\"text\": \"x\", \"headers\": {\"X-Env\": [\"prod\"]}, \"expect\": {\"rule\": \"default\"}}\n"
                           "{\"text\": \"x\", \"tenant\": [\"a\"], \"expect\": {\"rule\": \"default\"}}\n"
                           "{\"text\": \"x\", \"tenant_rpm\": \"500\", \"expect\": {\"rule\": \"default\"}}\n"
                           "{\"text\": \"x\", \"assume\": {\"entity_types\": [\"NOPE\"]}, \"expect\": {\"rule\": \"default\"}}\n");
  assert_int_equal(run(&out, 3, "test", pol, typed), 1);
  assert_non_null(strstr(out, "typed.jsonl:1"));
  assert_non_null(strstr(out, "headers: must be an object of strings"));
  assert_non_null(strstr(out, "headers.X-Env: must be a string"));
  assert_non_null(strstr(out, "tenant: must be a string"));
  assert_non_null(strstr(out, "tenant_rpm: must be a whole number"));
  assert_non_null(strstr(out, "\"NOPE\" is no entity type a detector reports"));
  assert_non_null(strstr(out, "5 unreadable"));

  /* an empty cases file proves nothing */
  char *empty = write_file("empty.jsonl", "\n");
  assert_int_equal(run(&out, 3, "test", pol, empty), 1);
}

/* Every example policy in deploy/policies passes check and its own cases
 * (these run the real detectors). */
static void test_example_policies(void **state) {
  (void)state;
  const char *src = getenv("SLUICE_SRC");
  if (!src) src = ".";
  const char *names[] = {"keep-sensitive-inside", "spill-under-load", "redact-to-frontier"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    char pol[512], cases[512];
    snprintf(pol, sizeof pol, "%s/deploy/policies/%s.json", src, names[i]);
    snprintf(cases, sizeof cases, "%s/deploy/policies/%s.cases.jsonl", src, names[i]);
    char *out;
    int rc = run(&out, 2, "check", pol);
    if (rc) fail_msg("%s", out);
    rc = run(&out, 3, "test", pol, cases);
    if (rc) fail_msg("%s", out);
    assert_non_null(strstr(out, " 0 failed"));
  }
}

static void test_classify(void **state) {
  (void)state;
  char *out;
  char *pol = write_file("p.json", policy_json);
  char *in = write_file(
      "in.jsonl",
      "{\"text\": \"Contact me at jane.doe@acme-corp.com today\"}\n"
      "\n"
      "{\"model\": \"auto\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}\n"
      "[1, 2]\n"
      /* an Anthropic body: its top-level system is read, as the gateway reads it */
      "{\"model\": \"c\", \"max_tokens\": 9, \"system\": \"Customer SSN is 512-84-3927.\","
      " \"messages\": [{\"role\": \"user\", \"content\": \"Summarise the record\"}]}\n");
  assert_int_equal(run_in(sl_cli_classify, in, &out, 2, "--config", pol), 1); /* line 4 is bad */
  char *lines[8];
  int n = 0;
  for (char *s = strtok(out, "\n"); s && n < 8; s = strtok(NULL, "\n"))
    if (s[0] == '{') lines[n++] = s;
  assert_int_equal(n, 5); /* one line per input line, the blank one too */
  assert_non_null(strstr(lines[1], "blank line"));
  assert_non_null(strstr(lines[1], "line 2"));
  for (int i = 1; i < 4; i++) lines[i] = lines[i + 1]; /* the rest: the requests' lines */
  cJSON *j = cJSON_Parse(lines[0]);
  assert_non_null(j);
  cJSON *sens = cJSON_GetObjectItem(j, "sensitivity");
  cJSON *e0 = cJSON_GetArrayItem(cJSON_GetObjectItem(sens, "entities"), 0);
  assert_non_null(e0);
  assert_string_equal(cJSON_GetObjectItem(e0, "type")->valuestring, "EMAIL_ADDRESS");
  assert_int_equal(cJSON_GetObjectItem(e0, "start")->valueint, 14);
  assert_int_equal(cJSON_GetObjectItem(e0, "end")->valueint, 36);
  assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "route"), "rule")->valuestring,
                      "keep-inside");
  assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "difficulty"), "label"));
  assert_null(strstr(lines[0], "jane.doe")); /* offsets, never values */
  cJSON_Delete(j);
  j = cJSON_Parse(lines[1]);
  assert_true(cJSON_IsBool(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "route"), "egress")));
  cJSON_Delete(j);
  assert_non_null(strstr(lines[2], "\"error\""));
  assert_non_null(strstr(lines[2], "line 4"));
  assert_non_null(strstr(lines[3], "US_SSN"));
  {
    /* (run_in's output buffer is shared: the lines above are done with) */
    /* {"text": ...} is read as a request body is: a U+0000 would have cut the
     * text there (and the SSN after it with it), one name twice is ambiguous */
    char *o2;
    char *in2 = write_file("in2.jsonl",
                           "{\"text\": \"hello\\u0000 my ssn is 512-84-3927\"}\n"
                           "{\"text\": \"hi\", \"text\": \"my ssn is 512-84-3927\"}\n");
    assert_int_equal(run_in(sl_cli_classify, in2, &o2, 2, "--config", pol), 1);
    assert_non_null(strstr(o2, "U+0000"));
    assert_non_null(strstr(o2, "appears twice"));
    assert_null(strstr(o2, "\"level\""));
  }
}

/* train-router: a penalty too strong to fit or not a number is refused; a
 * strong one still fits (a shorter step) and writes numbers only; a label
 * outside easy/medium/hard or 0..1 is skipped. */
static void test_train_router(void **state) {
  (void)state;
  char data[16384] = "";
  size_t at = 0;
  for (int i = 0; i < 12; i++)
    at += (size_t)snprintf(data + at, sizeof data - at,
                           "{\"text\": \"hi there %d\", \"label\": \"easy\"}\n"
                           "{\"text\": \"Prove that the sum of the first %d odd numbers is a square, step by "
                           "step, then write a C function that checks it and explain its complexity.\", "
                           "\"label\": \"hard\"}\n"
                           "{\"text\": \"Summarise this paragraph about item %d in two lines.\", \"label\": 0.5}\n",
                           i, i + 3, i);
  snprintf(data + at, sizeof data - at, "{\"text\": \"odd\", \"label\": 7}\n");
  char *in = write_file("train.jsonl", data);
  char w[160];
  snprintf(w, sizeof w, "%s/w.json", dir);
  char *out;
  assert_int_equal(run_in(sl_cli_train_router, NULL, &out, 5, in, "--l2", "1e300", "--out", w), 2);
  assert_int_equal(run_in(sl_cli_train_router, NULL, &out, 5, in, "--l2", "nan", "--out", w), 2);
  assert_null(fopen(w, "r")); /* nothing written */
  assert_int_equal(run_in(sl_cli_train_router, NULL, &out, 5, in, "--l2", "100", "--out", w), 0);
  assert_non_null(strstr(out, "skipped"));
  FILE *f = fopen(w, "r");
  assert_non_null(f);
  char js[8192];
  size_t n = fread(js, 1, sizeof js - 1, f);
  js[n] = '\0';
  fclose(f);
  assert_null(strstr(js, "null"));
  assert_non_null(strstr(js, "\"thresholds\""));
}

static void test_explain(void **state) {
  (void)state;
  char *out;
  char *pol = write_file("p.json", policy_json);
  char *in = write_file("req.json", "{\"model\": \"auto\", \"messages\": [{\"role\": \"user\", \"content\": \"hello\"}]}");
  assert_int_equal(run_in(sl_cli_explain, in, &out, 7, "--config", pol, "--tenant", "x", "--header",
                          "X-Env: prod", "--compact"),
                   0);
  cJSON *j = cJSON_Parse(out);
  assert_non_null(j);
  cJSON *ex = cJSON_GetObjectItem(j, "explain");
  assert_non_null(ex);
  assert_string_equal(cJSON_GetObjectItem(ex, "rule")->valuestring, "team-x");
  cJSON *r0 = cJSON_GetArrayItem(cJSON_GetObjectItem(ex, "rules"), 0);
  assert_non_null(strstr(cJSON_GetObjectItem(r0, "why_not")->valuestring, "sensitivity_at_least"));
  cJSON_Delete(j);
  char *bad = write_file("bad.json", "{\"messages\": 3}");
  assert_int_equal(run_in(sl_cli_explain, bad, &out, 2, "--config", pol), 1);
  assert_non_null(strstr(out, "bad request"));
  /* the rate counts this request by default, as the gateway does; a bad number is refused */
  assert_int_equal(run_in(sl_cli_explain, in, &out, 3, "--config", pol, "--compact"), 0);
  assert_non_null(strstr(out, "\"tenant_rpm\":1"));
  assert_int_equal(run_in(sl_cli_explain, in, &out, 4, "--config", pol, "--rpm", "abc"), 2);
  assert_int_equal(run_in(sl_cli_explain, in, &out, 4, "--config", pol, "--rpm", "-5"), 2);
  /* headers as the gateway reads them: blanks around a value dropped; a data
   * class given twice counts whole (the highest level wins) */
  assert_int_equal(run_in(sl_cli_explain, in, &out, 7, "--config", pol, "--tenant", "x", "--header",
                          "X-Env:   prod  ", "--compact"),
                   0);
  assert_non_null(strstr(out, "\"rule\":\"team-x\""));
  assert_int_equal(run_in(sl_cli_explain, in, &out, 7, "--config", pol, "--header", "x-sluice-data-class: public",
                          "--header", "x-sluice-data-class: restricted", "--compact"),
                   0);
  assert_non_null(strstr(out, "\"level\":\"restricted\""));
  /* an Anthropic body without a top-level system is read as one (stop_sequences,
   * metadata.user_id, its content blocks) */
  char *an = write_file("an.json", "{\"model\": \"auto\", \"max_tokens\": 5, \"stop_sequences\": [\"Jane Doe\"],"
                                   " \"messages\": [{\"role\": \"user\", \"content\": \"hello\"}]}");
  assert_int_equal(run_in(sl_cli_explain, an, &out, 3, "--config", pol, "--compact"), 0);
  assert_non_null(strstr(out, "\"type\":\"PERSON\"")); /* the stop sequence is read, and classified */
  char *an2 = write_file("an2.json", "{\"model\": \"auto\", \"max_tokens\": 5, \"messages\": [{\"role\": \"user\","
                                    " \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": [{\"type\": \"tool_use\","
                                    " \"id\": \"t1\", \"name\": \"f\", \"input\": {}}]}, {\"role\": \"user\", \"content\":"
                                    " [{\"type\": \"tool_result\", \"tool_use_id\": \"t1\", \"content\": \"42\"}]}]}");
  assert_int_equal(run_in(sl_cli_explain, an2, &out, 3, "--config", pol, "--compact"), 0);
  /* a local step passes over tools and JSON output: named, and with nothing
   * else on the route, the gateway's 400 foretold */
  char *lp = write_file("local.json", "{\"backends\": [{\"name\": \"local\", \"kind\": \"local\"}],"
                                     " \"rules\": [{\"name\": \"in\", \"route\": [\"local\"]}]}");
  char *tj = write_file("tools.json", "{\"model\": \"auto\", \"response_format\": {\"type\": \"json_object\"},"
                                     " \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}");
  assert_int_equal(run_in(sl_cli_explain, tj, &out, 3, "--config", lp, "--compact"), 0);
  assert_non_null(strstr(out, "\"cannot_serve\":[\"local\"]"));
  assert_non_null(strstr(out, "\"refused\":400"));
  assert_int_equal(run_in(sl_cli_explain, in, &out, 3, "--config", lp, "--compact"), 0);
  assert_null(strstr(out, "cannot_serve"));
  /* "none" is what x-sluice-rule says when no rule decided: no rule takes it */
  char *nonep = write_file("none.json", "{\"backends\": [{\"name\": \"local\", \"kind\": \"local\"}],"
                                       " \"rules\": [{\"name\": \"none\", \"route\": [\"local\"]}]}");
  assert_int_equal(run(&out, 2, "check", nonep), 1);
  assert_non_null(strstr(out, "\"none\" is reserved"));

  /* a rule that redacts: explain says whether the redaction can be made; a name
   * in a stop string cannot be rewritten, so the external step is skipped and,
   * with no other step, the request is refused (451) */
  char *rp = write_file("redact.json",
                        "{\"backends\": [{\"name\": \"local\", \"kind\": \"local\"},"
                        " {\"name\": \"openai\", \"kind\": \"openai\", \"base_url\": \"https://api.openai.com/v1\"}],"
                        " \"rules\": [{\"name\": \"out\", \"route\": [\"openai\"], \"redact\": [\"PERSON\"]}]}");
  char *rq = write_file("named.json", "{\"messages\": [{\"role\": \"user\", \"content\": \"Ask Jane Doe about the plan\"}]}");
  assert_int_equal(run_in(sl_cli_explain, rq, &out, 3, "--config", rp, "--compact"), 0);
  assert_non_null(strstr(out, "\"redaction\":\"possible\""));
  assert_null(strstr(out, "refused"));
  char *rs = write_file("stop.json", "{\"stop\": [\"Jane Doe\"], \"messages\": [{\"role\": \"user\", \"content\": "
                                     "\"Ask Jane Doe about the plan\"}]}");
  assert_int_equal(run_in(sl_cli_explain, rs, &out, 3, "--config", rp, "--compact"), 0);
  j = cJSON_Parse(out);
  cJSON *route = cJSON_GetObjectItem(j, "route");
  assert_string_equal(cJSON_GetObjectItem(route, "redaction")->valuestring, "impossible");
  assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(route, "skipped"), 0)->valuestring, "openai");
  assert_int_equal(cJSON_GetObjectItem(route, "refused")->valueint, 451);
  cJSON_Delete(j);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_check),
      cmocka_unit_test(test_cases_pass),
      cmocka_unit_test(test_mismatch_fails_with_diff),
      cmocka_unit_test(test_classify),
      cmocka_unit_test(test_train_router),
      cmocka_unit_test(test_explain),
      cmocka_unit_test(test_example_policies),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
