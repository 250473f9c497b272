/* `sluice audit egress` and `sluice audit costs` on a ledger written here, in
 * JSON, CSV and table form; each request counted once even when it has egress
 * rows and a completion row; budgets restored with sl_ledger_spent(). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gateway/cli.h"
#include "ledger_test_util.h"
#include "sl_err.h"

#include <cjson/cJSON.h>
#include <math.h>

static char g_path[600];
static int64_t g_day0; /* 2026-11-10T00:00:00Z */

static int64_t day(int d) { return g_day0 + (int64_t)(d - 10) * 86400000 + 3600000; }

static void add(sl_ledger_t *l, sl_ledger_kind_t kind, int d, const char *rid,
                const char *tenant, const char *key, const char *rule, const char *backend,
                const char *dest, int64_t bytes, const char *ents, const char *red,
                double cost, double avoided, const char *status) {
  sl_ledger_row_t r;
  memset(&r, 0, sizeof r);
  r.kind = kind;
  r.ts_ms = day(d);
  r.request_id = rid;
  r.tenant = tenant;
  r.key_id = key;
  r.rule = rule;
  r.backend = backend;
  r.model = !strcmp(backend, "local") ? "qwen" : "m1";
  bool ext = dest != NULL;
  r.location = ext ? "external" : "in-process";
  r.egress = ext;
  r.destination = dest;
  r.bytes_out = bytes;
  char sha[65];
  sl_ledger_sha256_hex(rid, strlen(rid), sha);
  r.sha256_out = ext ? sha : NULL;
  r.entity_types = ents;
  r.redactions = red;
  r.cost_usd = cost;
  r.avoided_cost_usd = avoided;
  r.tokens_in = kind == SL_LEDGER_REQUEST ? 100 : 0;
  r.tokens_out = kind == SL_LEDGER_REQUEST ? 10 : 0;
  r.http_status = kind == SL_LEDGER_REQUEST ? 200 : 0;
  r.status = status;
  assert_int_equal(sl_ledger_append_sync(l, &r), 0);
}

#define REQ SL_LEDGER_REQUEST
#define EGR SL_LEDGER_EGRESS
#define OAI "api.openai.com:443"
#define ANT "api.anthropic.com:443"
#define E_PE "{\"PERSON\":{\"count\":2,\"offsets\":[[0,4],[9,13]]},\"EMAIL_ADDRESS\":{\"count\":1,\"offsets\":[[20,31]]}}"
#define E_E "{\"EMAIL_ADDRESS\":{\"count\":1,\"offsets\":[[3,14]]}}"

static int setup(void **state) {
  tmp_ledger(g_path, sizeof g_path);
  if (sl_ledger_parse_ts("2026-11-10", &g_day0)) return -1;
  sl_ledger_t *l;
  if (sl_ledger_open(g_path, NULL, NULL, &l)) return -1;
  /* A1: local */
  add(l, REQ, 10, "A1", "team-a", "key-a", "keep-inside", "local", NULL, 0, E_PE, NULL,
      0.0001, 0.02, "ok");
  /* A2: egress row (PERSON redacted) then completion */
  add(l, EGR, 11, "A2", "team-a", "key-a", "hard", "openai", OAI, 1000, E_PE,
      "{\"PERSON\":2}", 0, 0, "in_flight");
  add(l, REQ, 11, "A2", "team-a", "key-a", "hard", "openai", OAI, 1000, E_PE,
      "{\"PERSON\":2}", 0.0125, 0, "ok");
  /* B1: openai attempt failed, anthropic served it */
  add(l, EGR, 12, "B1", "team-b", "key-b", "hard", "openai", OAI, 500, E_E, NULL, 0, 0,
      "in_flight");
  add(l, EGR, 12, "B1", "team-b", "key-b", "hard", "anthropic", ANT, 600, E_E, NULL, 0, 0,
      "in_flight");
  add(l, REQ, 12, "B1", "team-b", "key-b", "hard", "anthropic", ANT, 1100, E_E, NULL, 0.01,
      0, "ok");
  /* B2: sent, never completed (the process died) */
  add(l, EGR, 13, "B2", "team-b", "key-b", "hard", "openai", OAI, 700, NULL, NULL, 0, 0,
      "in_flight");
  /* B3: completion only (a gateway that writes no egress rows) */
  add(l, REQ, 14, "B3", "team-b", "key-b", "hard", "openai", OAI, 300, NULL, NULL, 0.002, 0,
      "ok");
  /* A3: local */
  add(l, REQ, 14, "A3", "team-a", "key-a", "default", "local", NULL, 0, NULL, NULL, 0.0002,
      0.01, "ok");
  sl_ledger_close(l);
  return 0;
}

static int teardown(void **state) {
  rm_ledger(g_path);
  return 0;
}

static cJSON *run_json(int *rc, int argc, ...) {
  char *argv[32];
  va_list ap;
  va_start(ap, argc);
  for (int i = 0; i < argc; i++) argv[i] = va_arg(ap, char *);
  va_end(ap);
  argv[argc] = NULL;
  char *out;
  *rc = capture(sl_cli_audit, argc, argv, &out);
  cJSON *j = cJSON_Parse(out);
  if (!j) print_error("not JSON: %s\n", out);
  free(out);
  return j;
}

static double num(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  if (!cJSON_IsNumber(v)) fail_msg("no number %s", k);
  return v->valuedouble;
}

static const cJSON *find(const cJSON *arr, const char *k, const char *v, const char *k2,
                         const char *v2) {
  const cJSON *it;
  cJSON_ArrayForEach(it, arr) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(it, k);
    const cJSON *b = k2 ? cJSON_GetObjectItemCaseSensitive(it, k2) : NULL;
    if (cJSON_IsString(a) && !strcmp(a->valuestring, v) &&
        (!k2 || (cJSON_IsString(b) && !strcmp(b->valuestring, v2))))
      return it;
  }
  fail_msg("no row %s=%s", k, v);
  return NULL;
}

static void test_egress_json(void **state) {
  int rc;
  cJSON *j = run_json(&rc, 5, "egress", "--ledger", g_path, "--format", "json");
  assert_int_equal(rc, 0);
  assert_non_null(j);
  const cJSON *tx = cJSON_GetObjectItemCaseSensitive(j, "transmissions");
  assert_int_equal(cJSON_GetArraySize(tx), 5);
  const cJSON *tot = cJSON_GetObjectItemCaseSensitive(j, "totals");
  assert_int_equal(num(tot, "requests"), 4); /* A2, B1, B2, B3 */
  assert_int_equal(num(tot, "transmissions"), 5);
  assert_int_equal(num(tot, "bytes_out"), 3100);

  /* A2: PERSON was redacted, only the email left; status from the completion */
  const cJSON *a2 = find(tx, "request_id", "A2", NULL, NULL);
  const cJSON *ents = cJSON_GetObjectItemCaseSensitive(a2, "entity_types");
  assert_null(cJSON_GetObjectItemCaseSensitive(ents, "PERSON"));
  assert_int_equal(num(ents, "EMAIL_ADDRESS"), 1);
  assert_int_equal(num(cJSON_GetObjectItemCaseSensitive(a2, "redacted"), "PERSON"), 2);
  assert_string_equal(cJSON_GetObjectItemCaseSensitive(a2, "status")->valuestring, "ok");
  assert_string_equal(cJSON_GetObjectItemCaseSensitive(a2, "destination")->valuestring, OAI);
  assert_int_equal(strlen(cJSON_GetObjectItemCaseSensitive(a2, "sha256_out")->valuestring), 64);
  /* B2 never completed */
  const cJSON *b2 = find(tx, "request_id", "B2", NULL, NULL);
  assert_string_equal(cJSON_GetObjectItemCaseSensitive(b2, "status")->valuestring, "in_flight");

  const cJSON *sum = cJSON_GetObjectItemCaseSensitive(j, "summary");
  assert_int_equal(cJSON_GetArraySize(sum), 3);
  const cJSON *g = find(sum, "tenant", "team-b", "destination", OAI);
  assert_int_equal(num(g, "requests"), 3);
  assert_int_equal(num(g, "transmissions"), 3);
  assert_int_equal(num(g, "bytes_out"), 1500);
  assert_int_equal(num(cJSON_GetObjectItemCaseSensitive(g, "entity_types"), "EMAIL_ADDRESS"), 1);
  g = find(sum, "tenant", "team-a", "destination", OAI);
  assert_int_equal(num(g, "requests"), 1);
  assert_int_equal(num(g, "bytes_out"), 1000);
  cJSON_Delete(j);
}

static void test_egress_filters(void **state) {
  int rc;
  cJSON *j = run_json(&rc, 7, "egress", "--ledger", g_path, "--format", "json", "--tenant",
                      "team-a");
  assert_int_equal(rc, 0);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "transmissions")), 1);
  cJSON_Delete(j);
  j = run_json(&rc, 9, "egress", "--ledger", g_path, "--format", "json", "--since",
               "2026-11-12", "--until", "2026-11-14T00:00:00Z");
  assert_int_equal(rc, 0);
  const cJSON *tot = cJSON_GetObjectItemCaseSensitive(j, "totals");
  assert_int_equal(num(tot, "transmissions"), 3); /* B1 x2, B2 */
  assert_int_equal(num(tot, "requests"), 2);
  assert_int_equal(num(tot, "bytes_out"), 1800);
  cJSON_Delete(j);
  j = run_json(&rc, 7, "egress", "--ledger", g_path, "--format", "json", "--since", "never");
  assert_int_equal(rc, 2);
  cJSON_Delete(j);
}

static int count_lines(const char *s) {
  int n = 0;
  for (; *s; s++) n += *s == '\n';
  return n;
}

static void test_egress_csv_table(void **state) {
  char *argv[] = {"egress", "--ledger", g_path, "--format", "csv", NULL};
  char *out;
  assert_int_equal(capture(sl_cli_audit, 5, argv, &out), 0);
  assert_int_equal(count_lines(out), 6); /* header + 5 */
  assert_true(!strncmp(out, "id,ts,request_id,tenant,", 24));
  assert_non_null(strstr(out, ",EMAIL_ADDRESS:1,PERSON:2,"));
  free(out);
  char *argv2[] = {"egress", "--ledger", g_path, "--format", "csv", "--summary", NULL};
  assert_int_equal(capture(sl_cli_audit, 6, argv2, &out), 0);
  assert_int_equal(count_lines(out), 4);
  assert_non_null(strstr(out, "team-b,api.openai.com:443,3,3,1500,EMAIL_ADDRESS:1\n"));
  free(out);
  char *argv3[] = {"egress", "--ledger", g_path, NULL};
  assert_int_equal(capture(sl_cli_audit, 3, argv3, &out), 0);
  assert_non_null(strstr(out, "4 requests, 5 transmissions, 3100 bytes out"));
  assert_non_null(strstr(out, "destination"));
  free(out);
}

/* A tenant named like a spreadsheet formula is written as text in CSV. */
static void test_csv_formula_cells(void **state) {
  (void)state;
  char path[600];
  tmp_ledger(path, sizeof path);
  sl_ledger_t *l;
  assert_int_equal(sl_ledger_open(path, NULL, NULL, &l), 0);
  add(l, REQ, 12, "F1", "=HYPERLINK(\"http://x\")", "key-f", "hard", "openai", OAI, 10, E_E,
      NULL, 0.001, 0, "ok");
  add(l, REQ, 12, "F2", "line1\nline2", "key-f", "hard", "openai", OAI, 10, E_E, NULL, 0.001, 0,
      "ok");
  /* a C1 control (U+009B, which starts an escape sequence) and U+202E (reverses text) */
  add(l, REQ, 12, "F3", "c1\xc2\x9b" "31m\xe2\x80\xaeRTL", "key-f", "hard", "openai", OAI, 10, E_E, NULL,
      0.001, 0, "ok");
  sl_ledger_close(l);
  char *argv[] = {"egress", "--ledger", path, "--format", "csv", NULL};
  char *out;
  assert_int_equal(capture(sl_cli_audit, 5, argv, &out), 0);
  assert_non_null(strstr(out, ",\"'=HYPERLINK(\"\"http://x\"\")\","));
  free(out);
  /* the table escapes control characters: a tenant's newline prints no line of its own */
  char *argv2[] = {"egress", "--ledger", path, NULL};
  assert_int_equal(capture(sl_cli_audit, 3, argv2, &out), 0);
  assert_non_null(strstr(out, "line1\\x0aline2"));
  assert_null(strstr(out, "\nline2"));
  assert_non_null(strstr(out, "c1\\u009b31m\\u202eRTL"));
  assert_null(strstr(out, "\xc2\x9b"));
  assert_null(strstr(out, "\xe2\x80\xae"));
  free(out);
  rm_ledger(path);
}

static int view_rows(sqlite3 *db) {
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM egress_events", -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  int n = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  return n;
}

/* A request sent once after a connect that failed (its request row names the
 * one transmission: destination, digest, bytes) lists that transmission only,
 * and counts only its bytes under its backend; of two rows alike (a connect
 * that failed, then the same call again) one. Also in the egress_events view
 * of a ledger made before the rule, which the next open replaces. */
static void test_egress_after_failed_connect(void **state) {
  (void)state;
  char path[600];
  tmp_ledger(path, sizeof path);
  sl_ledger_t *l;
  assert_int_equal(sl_ledger_open(path, NULL, NULL, &l), 0);
  add(l, EGR, 10, "C1", "team-c", "key-c", "hard", "openai", OAI, 400, NULL, NULL, 0, 0, "in_flight");
  add(l, EGR, 10, "C1", "team-c", "key-c", "hard", "anthropic", ANT, 400, NULL, NULL, 0, 0, "in_flight");
  add(l, REQ, 10, "C1", "team-c", "key-c", "hard", "anthropic", ANT, 400, NULL, NULL, 0.01, 0, "ok");
  add(l, EGR, 11, "D1", "team-c", "key-c", "hard", "openai", OAI, 300, NULL, NULL, 0, 0, "in_flight");
  add(l, EGR, 11, "D1", "team-c", "key-c", "hard", "openai", OAI, 300, NULL, NULL, 0, 0, "in_flight");
  add(l, REQ, 11, "D1", "team-c", "key-c", "hard", "openai", OAI, 300, NULL, NULL, 0.01, 0, "ok");
  sl_ledger_close(l);
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  for (int pass = 0; pass < 2; pass++) {
    int rc;
    cJSON *j = run_json(&rc, 5, "egress", "--ledger", path, "--format", "json");
    assert_int_equal(rc, 0);
    const cJSON *tx = cJSON_GetObjectItemCaseSensitive(j, "transmissions");
    assert_int_equal(cJSON_GetArraySize(tx), 2);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(find(tx, "request_id", "C1", NULL, NULL), "destination")
                            ->valuestring, ANT);
    assert_int_equal(num(cJSON_GetObjectItemCaseSensitive(j, "totals"), "bytes_out"), 700);
    cJSON_Delete(j);
    j = run_json(&rc, 7, "costs", "--ledger", path, "--format", "json", "--by", "backend");
    const cJSON *gr = cJSON_GetObjectItemCaseSensitive(j, "groups");
    assert_int_equal(num(find(gr, "backend", "openai", NULL, NULL), "bytes_out"), 300);
    assert_int_equal(num(find(gr, "backend", "anthropic", NULL, NULL), "bytes_out"), 400);
    cJSON_Delete(j);
    assert_int_equal(view_rows(db), 2);
    if (pass) break;
    /* the view as an earlier version made it (every egress row); the next
     * open puts today's in its place */
    assert_int_equal(sqlite3_exec(db,
                                  "DROP VIEW egress_events; CREATE VIEW egress_events AS SELECT * FROM "
                                  "requests WHERE kind = 'egress'",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(view_rows(db), 4);
    assert_int_equal(sl_ledger_open(path, NULL, NULL, &l), 0);
    sl_ledger_close(l);
  }
  sqlite3_close(db);
  rm_ledger(path);
}

static void test_costs(void **state) {
  int rc;
  cJSON *j = run_json(&rc, 5, "costs", "--ledger", g_path, "--format", "json");
  assert_int_equal(rc, 0);
  const cJSON *gr = cJSON_GetObjectItemCaseSensitive(j, "groups");
  assert_int_equal(cJSON_GetArraySize(gr), 3);
  const cJSON *h = find(gr, "route", "hard", NULL, NULL);
  assert_int_equal(num(h, "requests"), 3); /* A2, B1, B3: egress rows not counted */
  assert_int_equal(num(h, "external"), 3);
  assert_true(fabs(num(h, "cost_usd") - 0.0245) < 1e-9);
  const cJSON *k = find(gr, "route", "keep-inside", NULL, NULL);
  assert_int_equal(num(k, "local"), 1);
  assert_true(fabs(num(k, "avoided_usd") - 0.02) < 1e-9);
  assert_true(fabs(num(k, "net_savings_usd") - 0.0199) < 1e-9);
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "totals");
  assert_int_equal(num(t, "requests"), 5);
  assert_int_equal(num(t, "tokens_in"), 500);
  assert_true(fabs(num(t, "cost_usd") - 0.0248) < 1e-9);
  assert_true(fabs(num(t, "avoided_usd") - 0.03) < 1e-9);
  assert_true(fabs(num(t, "net_savings_usd") - 0.0297) < 1e-9);
  cJSON_Delete(j);

  j = run_json(&rc, 7, "costs", "--ledger", g_path, "--format", "json", "--by", "key");
  gr = cJSON_GetObjectItemCaseSensitive(j, "groups");
  assert_int_equal(num(find(gr, "key", "key-a", NULL, NULL), "requests"), 3);
  assert_int_equal(num(find(gr, "key", "key-b", NULL, NULL), "requests"), 2);
  cJSON_Delete(j);
  j = run_json(&rc, 9, "costs", "--ledger", g_path, "--format", "json", "--by", "backend",
               "--since", "2026-11-12");
  gr = cJSON_GetObjectItemCaseSensitive(j, "groups");
  assert_int_equal(cJSON_GetArraySize(gr), 3); /* anthropic, local, openai */
  assert_int_equal(num(find(gr, "backend", "anthropic", NULL, NULL), "requests"), 1);
  cJSON_Delete(j);

  char *argv[] = {"costs", "--ledger", g_path, "--format", "csv", "--by", "backend", NULL};
  char *out;
  assert_int_equal(capture(sl_cli_audit, 7, argv, &out), 0);
  assert_true(!strncmp(out, "backend,requests,external,local,", 32));
  assert_int_equal(count_lines(out), 4);
  assert_non_null(strstr(out, ".000000000,")); /* 9 places, as the ledger keeps them */
  free(out);
  char *argv2[] = {"costs", "--ledger", g_path, NULL};
  assert_int_equal(capture(sl_cli_audit, 3, argv2, &out), 0);
  assert_non_null(strstr(out, "TOTAL"));
  assert_non_null(strstr(out, "0.024800"));
  free(out);
  char *argv3[] = {"costs", "--ledger", g_path, "--by", "color", NULL};
  assert_int_equal(capture(sl_cli_audit, 5, argv3, &out), 2);
  free(out);
  char *argv4[] = {"costs", "--ledger", "/nonexistent.db", NULL};
  assert_int_equal(capture(sl_cli_audit, 3, argv4, &out), 2);
  free(out);
  /* --by is for costs: egress refuses it, and a value it does not know */
  char *argv5[] = {"egress", "--ledger", g_path, "--by", "backend", NULL};
  assert_int_equal(capture(sl_cli_audit, 5, argv5, &out), 2);
  free(out);
  char *argv6[] = {"egress", "--ledger", g_path, "--by", "nonsense", NULL};
  assert_int_equal(capture(sl_cli_audit, 5, argv6, &out), 2);
  free(out);
  /* each option once; --summary is egress's */
  char *argv7[] = {"costs", "--ledger", g_path, "--format", "csv", "--format", "json", NULL};
  assert_int_equal(capture(sl_cli_audit, 7, argv7, &out), 2);
  free(out);
  char *argv8[] = {"costs", "--ledger", g_path, "--by", "key", "--by", "tenant", NULL};
  assert_int_equal(capture(sl_cli_audit, 7, argv8, &out), 2);
  free(out);
  char *argv9[] = {"verify", "--ledger", g_path, "--summary", NULL};
  assert_int_equal(capture(sl_cli_audit, 4, argv9, &out), 2);
  free(out);
  /* verify checks the whole chain: a window or tenant would be ignored, so it is refused */
  char *argv10[] = {"verify", "--ledger", g_path, "--since", "2026-01-01", NULL};
  assert_int_equal(capture(sl_cli_audit, 5, argv10, &out), 2);
  free(out);
  /* an option is no option's value */
  char *argv11[] = {"costs", "--ledger", g_path, "--by", "--format", "json", NULL};
  assert_int_equal(capture(sl_cli_audit, 6, argv11, &out), 2);
  free(out);
}

static void test_budget_restore(void **state) {
  double usd;
  assert_int_equal(sl_ledger_spent(g_path, "key-a", 0, &usd), 0);
  assert_true(fabs(usd - 0.0128) < 1e-12);
  assert_int_equal(sl_ledger_spent(g_path, "key-a", day(11) - 3600000, &usd), 0);
  assert_true(fabs(usd - 0.0127) < 1e-12);
  assert_int_equal(sl_ledger_spent(g_path, "key-b", sl_ledger_month_start(day(12)), &usd), 0);
  assert_true(fabs(usd - 0.012) < 1e-12);
  assert_int_equal(sl_ledger_spent(g_path, NULL, 0, &usd), 0);
  assert_true(fabs(usd - 0.0248) < 1e-12);
  assert_int_equal(sl_ledger_spent(g_path, "key-a", sl_ledger_month_next(day(12)), &usd), 0);
  assert_true(usd == 0);
  assert_int_equal(sl_ledger_spent("/nonexistent/x.db", "key-a", 0, &usd), 0);
  assert_true(usd == 0);
}

static void test_budget_tracker(void **state) {
  sl_ledger_budgets_t *b;
  int64_t now = day(14);
  assert_int_equal(sl_ledger_budgets_open(g_path, now, &b), 0);
  assert_true(fabs(sl_ledger_budgets_spent(b, "key-a", now) - 0.0128) < 1e-12);
  assert_true(fabs(sl_ledger_budgets_spent(b, "key-b", now) - 0.012) < 1e-12);
  assert_true(sl_ledger_budgets_spent(b, "key-zzz", now) == 0);
  int64_t reset;
  assert_false(sl_ledger_budgets_exceeded(b, "key-a", 0.02, now, &reset));
  char ts[40];
  sl_ledger_format_ts(reset, ts, sizeof ts);
  assert_string_equal(ts, "2026-12-01T00:00:00.000Z");
  sl_ledger_budgets_add(b, "key-a", 0.0072, now);
  assert_true(sl_ledger_budgets_exceeded(b, "key-a", 0.02, now, &reset));
  assert_false(sl_ledger_budgets_exceeded(b, "key-a", 0, now, NULL)); /* no budget */
  /* eight of 0.1 reach a budget of 0.8 exactly (a sum of doubles fell short) */
  for (int i = 0; i < 8; i++) {
    assert_false(sl_ledger_budgets_exceeded(b, "key-tenths", 0.8, now, NULL));
    sl_ledger_budgets_add(b, "key-tenths", 0.1, now);
  }
  assert_true(sl_ledger_budgets_exceeded(b, "key-tenths", 0.8, now, NULL));
  assert_false(sl_ledger_budgets_exceeded(b, "key-tenths", 1e12, now, NULL)); /* the largest allowed */
  /* many keys: the table grows */
  for (int i = 0; i < 1000; i++) {
    char k[32];
    snprintf(k, sizeof k, "k%d", i);
    sl_ledger_budgets_add(b, k, 1, now);
  }
  assert_true(sl_ledger_budgets_spent(b, "k999", now) == 1);
  assert_true(fabs(sl_ledger_budgets_spent(b, "key-a", now) - 0.02) < 1e-12);
  /* reservations count as spent until settled; a new month keeps them */
  int64_t reset2;
  assert_true(sl_ledger_budgets_reserve(b, "key-r", 1.0, 0.6, now, &reset2));
  assert_true(reset2 == reset);
  assert_true(sl_ledger_budgets_reserve(b, "key-r", 1.0, 0.6, now, NULL)); /* 0.6 < 1: admitted */
  assert_false(sl_ledger_budgets_reserve(b, "key-r", 1.0, 0.01, now, NULL)); /* 1.2 held */
  assert_true(sl_ledger_budgets_exceeded(b, "key-r", 1.0, now, NULL));
  assert_true(sl_ledger_budgets_spent(b, "key-r", now) == 0); /* nothing spent yet */
  sl_ledger_budgets_settle(b, "key-r", 0.6, 0.25, now);
  assert_true(fabs(sl_ledger_budgets_spent(b, "key-r", now) - 0.25) < 1e-12);
  assert_false(sl_ledger_budgets_exceeded(b, "key-r", 1.0, now, NULL)); /* 0.25 + 0.6 */
  assert_true(sl_ledger_budgets_reserve(b, "key-r", 0, 5, now, NULL)); /* no budget: nothing held */
  assert_false(sl_ledger_budgets_exceeded(b, "key-r", 0.86, now, NULL));
  assert_true(sl_ledger_budgets_exceeded(b, "key-r", 0.85, now, NULL));
  /* next month: everyone starts again */
  int64_t next = sl_ledger_month_next(now) + 1;
  assert_true(sl_ledger_budgets_exceeded(b, "key-r", 0.6, next, NULL)); /* still in flight */
  sl_ledger_budgets_settle(b, "key-r", 0.6, 0.1, next);
  assert_true(fabs(sl_ledger_budgets_spent(b, "key-r", next) - 0.1) < 1e-12);
  assert_false(sl_ledger_budgets_exceeded(b, "key-r", 0.11, next, NULL));
  assert_false(sl_ledger_budgets_exceeded(b, "key-a", 0.02, next, NULL));
  assert_true(sl_ledger_budgets_spent(b, "k999", next) == 0);
  sl_ledger_budgets_free(b);
  /* restored from a month with nothing spent yet; and without a ledger */
  assert_int_equal(sl_ledger_budgets_open(g_path, next, &b), 0);
  assert_true(sl_ledger_budgets_spent(b, "key-a", next) == 0);
  sl_ledger_budgets_free(b);
  assert_int_equal(sl_ledger_budgets_open("/nonexistent/l.db", now, &b), 0);
  assert_true(sl_ledger_budgets_spent(b, "key-a", now) == 0);
  sl_ledger_budgets_free(b);
}

static void test_request_log_view(void **state) {
  /* plain sqlite3: one row per request, the unfinished B2 included */
  sqlite3 *db;
  assert_int_equal(sqlite3_open(g_path, &db), SQLITE_OK);
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*), count(DISTINCT request_id) FROM "
                                          "request_log", -1, &st, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int(st, 0), 6);
  assert_int_equal(sqlite3_column_int(st, 1), 6);
  sqlite3_finalize(st);
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM egress_events", -1, &st, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int(st, 0), 5);
  sqlite3_finalize(st);
  sqlite3_close(db);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_egress_json),   cmocka_unit_test(test_egress_filters),
      cmocka_unit_test(test_egress_csv_table), cmocka_unit_test(test_csv_formula_cells),
      cmocka_unit_test(test_egress_after_failed_connect),
      cmocka_unit_test(test_costs),
      cmocka_unit_test(test_budget_restore), cmocka_unit_test(test_budget_tracker),
      cmocka_unit_test(test_request_log_view),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
