/* The ledger's chain: rows appended synchronously verify, the stored hash is the
 * documented rule recomputed here independently, a reopened ledger continues the
 * chain, and bad rows are refused before they reach the queue. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gateway/ledger_int.h"
#include "ledger_test_util.h"
#include "sl_err.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <openssl/sha.h>
#include <sqlite3.h>

static void append_n(sl_ledger_t *l, int from, int n) {
  for (int i = from; i < from + n; i++) {
    sl_ledger_row_t r = sample_row(i);
    assert_int_equal(sl_ledger_append_sync(l, &r), 0);
  }
}

/* A database of something else is not written into: not its journal mode, not
 * the ledger's tables; and no pending-rows journal is left beside it. */
static void test_other_database_refused(void **state) {
  (void)state;
  char path[600];
  tmp_ledger(path, sizeof path);
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, "CREATE TABLE users (id INTEGER, name TEXT)", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
  sl_ledger_t *l = NULL;
  assert_int_equal(sl_ledger_open(path, NULL, NULL, &l), SL_EINVAL);
  assert_null(l);
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master", -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int(st, 0), 1);
  sqlite3_finalize(st);
  assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_string_equal((const char *)sqlite3_column_text(st, 0), "delete");
  sqlite3_finalize(st);
  sqlite3_close(db);
  char pending[640];
  snprintf(pending, sizeof pending, "%s-pending", path);
  assert_int_equal(access(pending, F_OK), -1);
}

static void test_append_verify_reopen(void **state) {
  char path[600];
  tmp_ledger(path, sizeof path);
  sl_ledger_t *l;
  assert_int_equal(sl_ledger_open(path, NULL, NULL, &l), 0);
  append_n(l, 0, 50);
  /* fire-and-forget appends without a loop, then flush */
  for (int i = 50; i < 100; i++) {
    sl_ledger_row_t r = sample_row(i);
    assert_int_equal(sl_ledger_append(l, &r, NULL, NULL), 0);
  }
  sl_ledger_flush(l);
  sl_ledger_stats_t st;
  sl_ledger_stats(l, &st);
  assert_int_equal(st.committed, 100);
  assert_int_equal(st.queue_depth, 0);
  sl_ledger_close(l);

  sl_ledger_verify_t v;
  assert_int_equal(sl_ledger_verify(path, 0, NULL, &v), 0);
  assert_int_equal(v.rows, 100);
  assert_int_equal(v.head_id, 100);
  char head[65];
  memcpy(head, v.head_hash, 65);

  assert_int_equal(sl_ledger_open(path, NULL, NULL, &l), 0);
  append_n(l, 100, 10);
  sl_ledger_close(l);
  assert_int_equal(sl_ledger_verify(path, 100, head, &v), 0);
  assert_int_equal(v.rows, 110);
  rm_ledger(path);
}

/* The hash rule of docs/ledger.md, written out by hand. */
static void test_known_answer(void **state) {
  char path[600];
  tmp_ledger(path, sizeof path);
  sl_ledger_t *l;
  assert_int_equal(sl_ledger_open(path, NULL, NULL, &l), 0);
  sl_ledger_row_t r = sample_row(7);
  r.kind = SL_LEDGER_EGRESS;
  r.egress = true;
  r.backend = "openai";
  r.model = "gpt-4o";
  r.location = "external";
  r.destination = "api.openai.com:443";
  r.bytes_out = 1234;
  char sha[65];
  sl_ledger_sha256_hex("hello", 5, sha);
  assert_string_equal(sha, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
  r.sha256_out = sha;
  r.redactions = "{\"PERSON\":2}";
  r.cost_usd = 0.1 + 0.2; /* stored and hashed as 0.300000000 */
  r.status = "in_flight";
  r.http_status = 0;
  assert_int_equal(sl_ledger_append_sync(l, &r), 0);
  sl_ledger_close(l);

  char canon[4096];
  const char *fields[][2] = {
      {"id", "1"},
      {"ts", "2026-11-18T11:06:47.000Z"},
      {"kind", "egress"},
      {"request_id", "req-000007"},
      {"tenant", "team-b"},
      {"key_id", "key-b"},
      {"rule", "default"},
      {"policy_version", r.policy_version},
      {"backend", "openai"},
      {"model", "gpt-4o"},
      {"location", "external"},
      {"egress", "1"},
      {"destination", "api.openai.com:443"},
      {"bytes_out", "1234"},
      {"sha256_out", sha},
      {"level", "confidential"},
      {"entity_types", r.entity_types},
      {"redactions", "{\"PERSON\":2}"},
      {"classification", r.classification},
      {"difficulty", "0.250000"},
      {"tokens_in", "107"},
      {"tokens_out", "20"},
      {"cost_usd", "0.300000000"},
      {"avoided_cost_usd", "0.004500000"},
      {"latency_ms", "42"},
      {"http_status", "0"},
      {"status", "in_flight"},
  };
  size_t n = (size_t)snprintf(canon, sizeof canon, "%s", SL_LEDGER_ZERO_HASH);
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
    n += (size_t)snprintf(canon + n, sizeof canon - n, "%s=%zu:%s\n", fields[i][0],
                          strlen(fields[i][1]), fields[i][1]);
  unsigned char md[32];
  SHA256((const unsigned char *)canon, n, md);
  char want[65];
  for (int i = 0; i < 32; i++) sprintf(want + 2 * i, "%02x", md[i]);

  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT ts, hash, prev_hash, cost_usd FROM requests",
                                      -1, &st, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_string_equal((const char *)sqlite3_column_text(st, 0), "2026-11-18T11:06:47.000Z");
  assert_string_equal((const char *)sqlite3_column_text(st, 1), want);
  assert_string_equal((const char *)sqlite3_column_text(st, 2), SL_LEDGER_ZERO_HASH);
  assert_true(sqlite3_column_double(st, 3) == 0.3);
  sqlite3_finalize(st);
  sqlite3_close(db);
  rm_ledger(path);
}

static void test_rejects_bad_rows(void **state) {
  char path[600];
  tmp_ledger(path, sizeof path);
  sl_ledger_t *l;
  assert_int_equal(sl_ledger_open(path, NULL, NULL, &l), 0);
  sl_ledger_row_t r = sample_row(1);
  char big[SL_LEDGER_MAX_NAME + 2];
  memset(big, 'a', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  r.tenant = big;
  assert_int_equal(sl_ledger_append(l, &r, NULL, NULL), SL_ETOOBIG);
  big[SL_LEDGER_MAX_NAME] = '\0'; /* exactly at the ceiling: fine */
  assert_int_equal(sl_ledger_append_sync(l, &r), 0);

  char *json = malloc(SL_LEDGER_MAX_JSON + 2);
  memset(json, ' ', SL_LEDGER_MAX_JSON + 1);
  json[SL_LEDGER_MAX_JSON + 1] = '\0';
  r = sample_row(2);
  r.entity_types = json;
  assert_int_equal(sl_ledger_append(l, &r, NULL, NULL), SL_ETOOBIG);
  free(json);

  r = sample_row(3);
  r.sha256_out = "ABCDEF";
  assert_int_equal(sl_ledger_append(l, &r, NULL, NULL), SL_EINVAL);
  r = sample_row(3);
  r.tenant = "bad \xff utf8";
  assert_int_equal(sl_ledger_append(l, &r, NULL, NULL), SL_EINVAL);
  /* past the 8-byte ASCII steps: a stray continuation byte, a truncated
   * sequence at the end, an overlong form and a surrogate */
  const char *bad[] = {"sixteen ascii by\x80", "sixteen ascii bytes \xe2\x82",
                       "eight by\xc0\xaf", "eight by\xed\xa0\x80tes"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    r = sample_row(3);
    r.tenant = bad[i];
    assert_int_equal(sl_ledger_append(l, &r, NULL, NULL), SL_EINVAL);
  }
  r = sample_row(2); /* and valid text of every width after ASCII runs: the second row */
  r.tenant = "\xc3\xa9quipe M\xc3\xbcnchen \xe6\x9d\xb1\xe4\xba\xac team \xf0\x9f\x9a\x80 tail";
  assert_int_equal(sl_ledger_append_sync(l, &r), 0);
  r = sample_row(3);
  r.cost_usd = -1;
  assert_int_equal(sl_ledger_append(l, &r, NULL, NULL), SL_ERANGE);
  r = sample_row(3);
  r.difficulty = 2;
  assert_int_equal(sl_ledger_append(l, &r, NULL, NULL), SL_ERANGE);
  r = sample_row(3);
  r.kind = SL_LEDGER_EGRESS;
  r.request_id = NULL; /* an egress row must name its request */
  assert_int_equal(sl_ledger_append(l, &r, NULL, NULL), SL_EINVAL);
  /* a done callback needs a loop to run on */
  r = sample_row(3);
  assert_int_equal(sl_ledger_append(l, &r, (sl_ledger_done_cb)abort, NULL), SL_EINVAL);
  sl_ledger_close(l);

  sl_ledger_verify_t v;
  assert_int_equal(sl_ledger_verify(path, 0, NULL, &v), 0);
  assert_int_equal(v.rows, 2);
  rm_ledger(path);
  /* not a ledger: a file of garbage, and an SQLite file without our table */
  char junk[600];
  tmp_ledger(junk, sizeof junk);
  FILE *f = fopen(junk, "w");
  for (int i = 0; i < 4096; i++) fputc((i * 7919) & 0xff, f);
  fclose(f);
  assert_int_equal(sl_ledger_verify(junk, 0, NULL, &v), SL_EIO);
  double usd;
  assert_int_equal(sl_ledger_spent(junk, "k", 0, &usd), SL_EIO);
  rm_ledger(junk);
  tmp_ledger(junk, sizeof junk);
  assert_int_equal(run_sql(junk, "CREATE TABLE t(x)"), SQLITE_OK);
  assert_int_equal(sl_ledger_verify(junk, 0, NULL, &v), SL_EIO);
  rm_ledger(junk);
  /* missing file */
  assert_int_equal(sl_ledger_verify("/nonexistent/ledger.db", 0, NULL, &v), SL_ENOTFOUND);
  assert_int_not_equal(sl_ledger_open("/nonexistent/dir/ledger.db", NULL, NULL, &l), 0);
}

static void test_row_helpers(void **state) {
  sl_entity_t e[3] = {{.type = "EMAIL_ADDRESS", .start = 10, .end = 27},
                      {.type = "PERSON", .start = 30, .end = 35},
                      {.type = "EMAIL_ADDRESS", .start = 40, .end = 55}};
  sl_buf_t b;
  sl_buf_init(&b, 4096);
  assert_int_equal(sl_ledger_json_entities(e, 3, &b), 0);
  assert_string_equal(b.data, "{\"EMAIL_ADDRESS\":{\"count\":2,\"offsets\":[[10,27],[40,55]]},"
                              "\"PERSON\":{\"count\":1,\"offsets\":[[30,35]]}}");
  sl_buf_reset(&b);
  const char *red[] = {"PERSON", "US_SSN"};
  assert_int_equal(sl_ledger_json_redactions(e, 3, red, 2, &b), 0);
  assert_string_equal(b.data, "{\"PERSON\":1}");
  sl_buf_reset(&b);
  sl_class_t c = {.level = SL_LEVEL_CONFIDENTIAL, .entities = e, .n_entities = 3,
                  .difficulty = 0.83, .difficulty_label = "hard"};
  assert_int_equal(sl_ledger_json_classification(&c, &b), 0);
  assert_string_equal(b.data, "{\"level\":\"confidential\",\"difficulty\":0.830000,\"label\":"
                              "\"hard\",\"entities\":3,\"error\":false}");
  sl_buf_free(&b);

  /* Many types with many findings each: fewer offsets, still whole JSON with
   * every type's count, within the column's limit (it was cut off mid-JSON). */
  enum { TYPES = 15, EACH = 100 };
  static sl_entity_t many[TYPES * EACH];
  for (int t = 0; t < TYPES; t++)
    for (int k = 0; k < EACH; k++) {
      sl_entity_t *x = &many[t * EACH + k];
      snprintf(x->type, sizeof x->type, "TYPE_NUMBER_%02d", t);
      x->start = 1000000u + (unsigned)k * 100, x->end = x->start + 12;
    }
  sl_buf_init(&b, SL_LEDGER_MAX_JSON);
  assert_int_equal(sl_ledger_json_entities(many, TYPES * EACH, &b), 0);
  cJSON *j = cJSON_Parse(b.data);
  assert_non_null(j);
  assert_int_equal(cJSON_GetArraySize(j), TYPES);
  for (cJSON *t = j->child; t; t = t->next) {
    assert_int_equal(cJSON_GetObjectItem(t, "count")->valueint, EACH);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(t, "truncated")));
  }
  cJSON_Delete(j);
  sl_buf_free(&b);

  int64_t ms;
  assert_int_equal(sl_ledger_parse_ts("2026-11-24", &ms), 0);
  char ts[40];
  sl_ledger_format_ts(ms, ts, sizeof ts);
  assert_string_equal(ts, "2026-11-24T00:00:00.000Z");
  assert_int_equal(sl_ledger_parse_ts("2026-11-24T02:15:43.5+01:00", &ms), 0);
  sl_ledger_format_ts(ms, ts, sizeof ts);
  assert_string_equal(ts, "2026-11-24T01:15:43.500Z");
  assert_int_equal(sl_ledger_parse_ts("2026-11-24t01:15:43.5z", &ms), 0); /* RFC 3339's lower case */
  sl_ledger_format_ts(ms, ts, sizeof ts);
  assert_string_equal(ts, "2026-11-24T01:15:43.500Z");
  /* past the millisecond: up to the next (a row at .221 is before .2215) */
  assert_int_equal(sl_ledger_parse_ts("2026-11-24T01:15:43.2215Z", &ms), 0);
  sl_ledger_format_ts(ms, ts, sizeof ts);
  assert_string_equal(ts, "2026-11-24T01:15:43.222Z");
  assert_int_equal(sl_ledger_parse_ts("2026-11-24T01:15:43.221000Z", &ms), 0);
  sl_ledger_format_ts(ms, ts, sizeof ts);
  assert_string_equal(ts, "2026-11-24T01:15:43.221Z");
  assert_int_not_equal(sl_ledger_parse_ts("2026-02-30", &ms), 0);
  assert_int_not_equal(sl_ledger_parse_ts("yesterday", &ms), 0);
  assert_int_equal(sl_ledger_parse_ts("2026-12-31T23:59:59Z", &ms), 0);
  sl_ledger_format_ts(sl_ledger_month_start(ms), ts, sizeof ts);
  assert_string_equal(ts, "2026-12-01T00:00:00.000Z");
  sl_ledger_format_ts(sl_ledger_month_next(ms), ts, sizeof ts);
  assert_string_equal(ts, "2027-01-01T00:00:00.000Z");
  assert_true(fabs(sl_ledger_api_cost_usd(2.5, 10, 1000, 500) - 0.0075) < 1e-12);
  /* an amount as a row keeps it (nine decimals): what counters and budgets add */
  assert_true(sl_ledger_usd(0.00004214935) == strtod("0.000042149", NULL));
  assert_true(sl_ledger_usd(0.0000421495) == strtod("0.00004215", NULL));
  assert_true(sl_ledger_usd(0.0075) == 0.0075);

  /* hostile --since/--until strings: no crash, and what parses formats back */
  srand(7);
  const char alphabet[] = "0123456789-:.TZ+ x";
  for (int i = 0; i < 20000; i++) {
    char s[40];
    int n = rand() % 32;
    for (int k = 0; k < n; k++) s[k] = alphabet[rand() % (int)(sizeof alphabet - 1)];
    s[n] = '\0';
    if (i % 3 == 0 && n > 10) memcpy(s, "2026-", 5);
    if (sl_ledger_parse_ts(s, &ms) == 0) {
      sl_ledger_format_ts(ms, ts, sizeof ts);
      int64_t back;
      assert_int_equal(sl_ledger_parse_ts(ts, &back), 0);
      assert_true(back == ms);
    }
  }
}

static void test_avoided_cost(void **state) {
  static const char cfg_json[] =
      "{\"backends\": ["
      "{\"name\": \"local\", \"kind\": \"local\", \"model\": \"m.gguf\","
      " \"usd_per_hour\": 0.35, \"location\": \"in-process\"},"
      "{\"name\": \"openai\", \"kind\": \"openai\", \"base_url\": \"https://api.openai.com/v1\","
      " \"location\": \"external\", \"models\": ["
      "  {\"name\": \"gpt-4o\", \"usd_per_mtok_in\": 2.5, \"usd_per_mtok_out\": 10},"
      "  {\"name\": \"gpt-4o-mini\", \"usd_per_mtok_in\": 0.15, \"usd_per_mtok_out\": 0.6}]}],"
      " \"rules\": [{\"name\": \"default\", \"route\": [\"local\"]}]}";
  sl_config_t *cfg = NULL;
  sl_jerr_t err;
  memset(&err, 0, sizeof err);
  int rc = sl_config_parse(cfg_json, strlen(cfg_json), NULL, &cfg, &err);
  if (rc) fail_msg("config: %s", err.msg);
  const sl_backend_cfg_t *local = sl_config_backend(cfg, "local");
  const sl_backend_cfg_t *oai = sl_config_backend(cfg, "openai");
  sl_decision_t d;
  memset(&d, 0, sizeof d);
  /* route local only: the config's first priced API model (gpt-4o) */
  d.steps[0].backend = local;
  d.n_steps = 1;
  assert_true(fabs(sl_ledger_avoided_cost_usd(cfg, &d, 1000, 500) - 0.0075) < 1e-12);
  /* route gpt-4o-mini then local: the route's own API model */
  d.steps[0].backend = oai;
  d.steps[0].model = "gpt-4o-mini";
  d.steps[1].backend = local;
  d.n_steps = 2;
  assert_true(fabs(sl_ledger_avoided_cost_usd(cfg, &d, 1000, 500) - 0.00045) < 1e-12);
  assert_true(sl_ledger_avoided_cost_usd(NULL, NULL, 1000, 500) == 0);
  sl_config_free(cfg);
}


/* The canonical text of a REAL column takes a short way for most values: it
 * must print exactly what printf prints and read back as strtod reads, also
 * near rounding ties, for large values, -0 and tiny ones. */
static void check_real(double v) {
  for (int t = 0; t < 2; t++) {
    sl_ltype_t ty = t ? SL_LTYPE_R9 : SL_LTYPE_R6;
    char got[48], want[48];
    double back = -1;
    size_t n = sl__ledger_fmt_real(v, ty, got, sizeof got, &back);
    snprintf(want, sizeof want, t ? "%.9f" : "%.6f", v);
    if (strcmp(got, want) || n != strlen(want) || back != strtod(want, NULL))
      fail_msg("%.17g as %s: got %s (%.17g), want %s", v, t ? "%.9f" : "%.6f", got, back, want);
  }
}

static void test_real_text(void **state) {
  static const double fixed[] = {0, -0.0, 1, 0.5, 0.0000005, 0.0000015, 0.0000025, 1e-7,
                                 0.123456789, 0.9999995, 0.9999994999, 999999.9999995,
                                 0.00027, 0.53559, 1e-300, 5e-324, 123456.654321, 999.9999999995,
                                 1e6 - 1e-7, 4503599627.370496, 0.000000000500000000001};
  for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) check_real(fixed[i]);
  uint64_t x = 88172645463325252ULL;
  for (int i = 0; i < 200000; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    double u = (double)(x >> 11) / 9007199254740992.0; /* [0, 1) */
    double v;
    switch (i % 5) {
    case 0: v = u; break;                                   /* difficulty */
    case 1: v = u * 1e6; break;                             /* money up to the limit */
    case 2: v = floor(u * 1e7) / 1e7 + 5e-7 * (i % 3 - 1) * 1e-3; break; /* near ties */
    case 3: v = (floor(u * 1e9) + 0.5) / 1e9; break;        /* %.9f ties */
    default: v = u * pow(10, (int)(x % 12) - 9); break;     /* all magnitudes */
    }
    check_real(v);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_append_verify_reopen),
      cmocka_unit_test(test_other_database_refused),
      cmocka_unit_test(test_known_answer),
      cmocka_unit_test(test_rejects_bad_rows),
      cmocka_unit_test(test_row_helpers),
      cmocka_unit_test(test_avoided_cost),
      cmocka_unit_test(test_real_text),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
