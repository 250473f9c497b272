/* Tamper evidence: each way of changing history with plain SQL — edit, delete,
 * reorder, insert (even with a correctly chained forged row), truncate against an
 * anchor — makes `sluice audit verify` exit 1 and name the first broken row. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gateway/cli.h"
#include "gateway/ledger_int.h"
#include "ledger_test_util.h"
#include "sl_err.h"

#include <sys/stat.h>
#include <unistd.h>

#define N 10
#define UNLOCK "DROP TRIGGER requests_no_update; DROP TRIGGER requests_no_delete;"
/* the append-only triggers put back as sluice writes them (a careful editor) */
#define RELOCK                                                                                  \
  "CREATE TRIGGER requests_no_update BEFORE UPDATE ON requests"                               \
  " BEGIN SELECT RAISE(ABORT, 'the sluice ledger is append-only'); END;"                      \
  "CREATE TRIGGER requests_no_delete BEFORE DELETE ON requests"                               \
  " BEGIN SELECT RAISE(ABORT, 'the sluice ledger is append-only'); END;"

typedef struct {
  char path[600];
} fx_t;

static int setup(void **state) {
  fx_t *fx = calloc(1, sizeof *fx);
  tmp_ledger(fx->path, sizeof fx->path);
  sl_ledger_t *l;
  if (sl_ledger_open(fx->path, NULL, NULL, &l)) return -1;
  for (int i = 1; i <= N; i++) {
    sl_ledger_row_t r = sample_row(i);
    if (sl_ledger_append_sync(l, &r)) return -1;
  }
  sl_ledger_close(l);
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  fx_t *fx = *state;
  rm_ledger(fx->path);
  free(fx);
  return 0;
}

static int cli_verify(const char *path) {
  char *argv[] = {"verify", "--ledger", (char *)path, NULL};
  char *out;
  int rc = capture(sl_cli_audit, 3, argv, &out);
  free(out);
  return rc;
}

/* verify must fail at `id`, and the CLI must exit 1. */
static void expect_broken(const char *path, int64_t id) {
  sl_ledger_verify_t v;
  int rc = sl_ledger_verify(path, 0, NULL, &v);
  if (rc != SL_EPARSE || v.broken_id != id)
    print_error("verify: rc %d broken_id %lld (%s), wanted %lld\n", rc, (long long)v.broken_id,
                v.reason, (long long)id);
  assert_int_equal(rc, SL_EPARSE);
  assert_int_equal(v.broken_id, id);
  assert_int_equal(cli_verify(path), 1);
}

static void test_intact(void **state) {
  fx_t *fx = *state;
  assert_int_equal(cli_verify(fx->path), 0);
  char *argv[] = {"verify", "--ledger", fx->path, "--format", "json", NULL};
  char *out;
  assert_int_equal(capture(sl_cli_audit, 5, argv, &out), 0);
  assert_non_null(strstr(out, "\"intact\":true"));
  assert_non_null(strstr(out, "\"rows_verified\":10"));
  free(out);
}

static void test_append_only_triggers(void **state) {
  fx_t *fx = *state;
  assert_int_not_equal(run_sql(fx->path, "UPDATE requests SET cost_usd = 0 WHERE id = 3"),
                       SQLITE_OK);
  assert_int_not_equal(run_sql(fx->path, "DELETE FROM requests WHERE id = 3"), SQLITE_OK);
  assert_int_equal(cli_verify(fx->path), 0);
}

static void test_edit(void **state) {
  fx_t *fx = *state;
  assert_int_equal(run_sql(fx->path, UNLOCK "UPDATE requests SET cost_usd = 0 WHERE id = 5"),
                   SQLITE_OK);
  expect_broken(fx->path, 5);
}

/* An edit below the hashed precision (cost_usd has 9 decimals) still changes
 * the stored double, which is no longer the one nearest to the hashed text. */
static void test_edit_below_precision(void **state) {
  fx_t *fx = *state;
  assert_int_equal(run_sql(fx->path, UNLOCK "UPDATE requests SET cost_usd = cost_usd + 4.9e-10 "
                                            "WHERE id = 4"),
                   SQLITE_OK);
  expect_broken(fx->path, 4);
}

static void test_edit_entity_types(void **state) {
  fx_t *fx = *state;
  assert_int_equal(run_sql(fx->path, UNLOCK "UPDATE requests SET entity_types = '{}', "
                                            "destination = 'x' WHERE id = 8"),
                   SQLITE_OK);
  expect_broken(fx->path, 8);
}

static void test_delete(void **state) {
  fx_t *fx = *state;
  assert_int_equal(run_sql(fx->path, UNLOCK "DELETE FROM requests WHERE id = 5"), SQLITE_OK);
  expect_broken(fx->path, 6);
}

static void test_delete_first(void **state) {
  fx_t *fx = *state;
  assert_int_equal(run_sql(fx->path, UNLOCK "DELETE FROM requests WHERE id = 1"), SQLITE_OK);
  expect_broken(fx->path, 2);
}

static void test_delete_and_renumber(void **state) {
  fx_t *fx = *state;
  assert_int_equal(run_sql(fx->path, UNLOCK "DELETE FROM requests WHERE id = 5;"
                                            "UPDATE requests SET id = -(id - 1) WHERE id > 5;"
                                            "UPDATE requests SET id = -id WHERE id < 0;"),
                   SQLITE_OK);
  expect_broken(fx->path, 5);
}

static void test_reorder(void **state) {
  fx_t *fx = *state;
  assert_int_equal(run_sql(fx->path, UNLOCK "UPDATE requests SET id = -1 WHERE id = 4;"
                                            "UPDATE requests SET id = 4 WHERE id = 5;"
                                            "UPDATE requests SET id = 5 WHERE id = -1;"),
                   SQLITE_OK);
  expect_broken(fx->path, 4);
}

/* Insert a row with naive values: broken at the inserted row. */
static void test_insert(void **state) {
  fx_t *fx = *state;
  assert_int_equal(run_sql(fx->path, UNLOCK
                           "UPDATE requests SET id = -(id + 1) WHERE id >= 5;"
                           "UPDATE requests SET id = -id WHERE id < 0;"
                           "INSERT INTO requests SELECT 5, ts, kind, 'forged', tenant, key_id,"
                           " rule, policy_version, backend, model, location, egress,"
                           " destination, bytes_out, sha256_out, level, entity_types,"
                           " redactions, classification, difficulty, tokens_in, tokens_out,"
                           " cost_usd, avoided_cost_usd, latency_ms, http_status, status,"
                           " hash, hash FROM requests WHERE id = 4;"),
                   SQLITE_OK);
  expect_broken(fx->path, 5);
}

/* The strongest attacker short of rewriting every later row: the forged row is
 * correctly chained onto row 4; the row after it still gives it away. */
static void test_insert_forged_hash(void **state) {
  fx_t *fx = *state;
  sqlite3 *db;
  assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
  sqlite3_stmt *st;
  char sql[1024];
  snprintf(sql, sizeof sql, "SELECT %shash FROM requests WHERE id = 4", sl__ledger_col_list);
  assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  const char *val[SL_LCOL__N];
  size_t len[SL_LCOL__N];
  char num[SL_LCOL__N][48];
  for (int c = 0; c < SL_LCOL__N; c++) {
    sl_ltype_t t = sl__ledger_col_type[c];
    if (c == SL_LCOL_id) {
      val[c] = "5";
    } else if (c == SL_LCOL_request_id) {
      val[c] = "forged";
    } else if (t == SL_LTYPE_T) {
      val[c] = strdup((const char *)sqlite3_column_text(st, c));
    } else if (t == SL_LTYPE_I) {
      snprintf(num[c], 48, "%lld", (long long)sqlite3_column_int64(st, c));
      val[c] = num[c];
    } else {
      sl__ledger_fmt_real(sqlite3_column_double(st, c), t, num[c], 48, NULL);
      val[c] = num[c];
    }
    len[c] = strlen(val[c]);
  }
  char prev[65], hash[65];
  snprintf(prev, sizeof prev, "%s", (const char *)sqlite3_column_text(st, SL_LCOL__N));
  sqlite3_finalize(st);
  sl_ledger_hasher_t hasher;
  assert_int_equal(sl__ledger_hasher_init(&hasher), 0);
  assert_int_equal(sl__ledger_hash(&hasher, prev, val, len, hash), 0);
  sl__ledger_hasher_free(&hasher);
  for (int c = 0; c < SL_LCOL__N; c++)
    if (sl__ledger_col_type[c] == SL_LTYPE_T && c != SL_LCOL_request_id) free((void *)val[c]);
  sqlite3_close(db);

  snprintf(sql, sizeof sql,
           UNLOCK "UPDATE requests SET id = -(id + 1) WHERE id >= 5;"
                  "UPDATE requests SET id = -id WHERE id < 0;"
                  "INSERT INTO requests SELECT 5, ts, kind, 'forged', tenant, key_id,"
                  " rule, policy_version, backend, model, location, egress,"
                  " destination, bytes_out, sha256_out, level, entity_types,"
                  " redactions, classification, difficulty, tokens_in, tokens_out,"
                  " cost_usd, avoided_cost_usd, latency_ms, http_status, status,"
                  " '%s', '%s' FROM requests WHERE id = 4;",
           prev, hash);
  assert_int_equal(run_sql(fx->path, sql), SQLITE_OK);
  expect_broken(fx->path, 6);
}

static void test_truncate_with_anchor(void **state) {
  fx_t *fx = *state;
  sl_ledger_verify_t v;
  assert_int_equal(sl_ledger_verify(fx->path, 0, NULL, &v), 0);
  char anchor[128];
  snprintf(anchor, sizeof anchor, "%lld:%s", (long long)v.head_id, v.head_hash);
  char *argv[] = {"verify", "--ledger", fx->path, "--anchor", anchor, NULL};
  char *out;
  assert_int_equal(capture(sl_cli_audit, 5, argv, &out), 0);
  free(out);
  /* Dropping the tail leaves a valid chain: only the anchor notices (the
   * triggers dropped to do it are noticed until they are put back) */
  assert_int_equal(run_sql(fx->path, UNLOCK "DELETE FROM requests WHERE id >= 9"), SQLITE_OK);
  assert_int_equal(sl_ledger_verify(fx->path, 0, NULL, &v), SL_EPARSE);
  assert_non_null(strstr(v.reason, "schema is not sluice's"));
  assert_int_equal(run_sql(fx->path, RELOCK), SQLITE_OK);
  assert_int_equal(sl_ledger_verify(fx->path, 0, NULL, &v), 0);
  assert_int_equal(capture(sl_cli_audit, 5, argv, &out), 1);
  assert_non_null(strstr(out, "BROKEN at row id 10"));
  free(out);
}

/* The ledger's description dropped or changed: it no longer says which rule
 * the rows follow. */
static void test_meta_changed(void **state) {
  fx_t *fx = *state;
  assert_int_equal(run_sql(fx->path, "UPDATE ledger_meta SET value = 'none' WHERE key = 'hash_rule'"),
                   SQLITE_OK);
  sl_ledger_verify_t v;
  assert_int_equal(sl_ledger_verify(fx->path, 0, NULL, &v), SL_EPARSE);
  assert_non_null(strstr(v.reason, "hash_rule"));
  assert_int_equal(run_sql(fx->path, "DROP TABLE ledger_meta"), SQLITE_OK);
  assert_int_equal(sl_ledger_verify(fx->path, 0, NULL, &v), SL_EPARSE);
  assert_non_null(strstr(v.reason, "ledger_meta table is gone"));
  assert_int_equal(cli_verify(fx->path), 1);
}

/* An index rebuilt to skip rows, its definition text put back: every row still
 * hashes, but reports that read the index would not see the skipped rows. */
static void test_index_swapped(void **state) {
  fx_t *fx = *state;
  assert_int_equal(run_sql(fx->path, "DROP INDEX requests_ts;"
                                     "CREATE INDEX requests_ts ON requests(ts) WHERE id > 3;"
                                     "PRAGMA writable_schema = ON;"
                                     "UPDATE sqlite_master SET sql = 'CREATE INDEX requests_ts ON "
                                     "requests(ts)' WHERE name = 'requests_ts';"
                                     "PRAGMA writable_schema = OFF;"),
                   SQLITE_OK);
  sl_ledger_verify_t v;
  assert_int_equal(sl_ledger_verify(fx->path, 0, NULL, &v), SL_EPARSE);
  assert_non_null(strstr(v.reason, "integrity check"));
  char *argv[] = {"verify", "--ledger", fx->path, NULL};
  char *out;
  assert_int_equal(capture(sl_cli_audit, 3, argv, &out), 1);
  assert_non_null(strstr(out, "BROKEN: the file fails SQLite's integrity check"));
  free(out);
  /* the reports, which read through that index, refuse too */
  char *egress[] = {"egress", "--ledger", fx->path, "--summary", NULL};
  assert_int_equal(capture(sl_cli_audit, 4, egress, &out), 1);
  assert_null(strstr(out, "transmissions")); /* no report */
  free(out);
  char *costs[] = {"costs", "--ledger", fx->path, NULL};
  assert_int_equal(capture(sl_cli_audit, 3, costs, &out), 1);
  free(out);
}

/* A table or trigger that is not sluice's, with every row's hash intact: a
 * foreign trigger (here one that deletes each new row after it is written), a
 * column's collation changed (reports then merge "Acme" and "acme"). verify
 * reports it, the reports refuse to read it, and the gateway will not write
 * to it. */
static void test_schema_altered(void **state) {
  fx_t *fx = *state;
  static const char *const edits[] = {
      "DROP TRIGGER requests_no_delete;"
      "CREATE TRIGGER requests_no_delete AFTER INSERT ON requests BEGIN DELETE FROM requests WHERE id = new.id; END;",
      "CREATE TRIGGER quiet AFTER INSERT ON requests BEGIN SELECT 1; END;",
      "PRAGMA writable_schema = ON;"
      "UPDATE sqlite_master SET sql = replace(sql, ' tenant TEXT NOT NULL,', ' tenant TEXT NOT NULL COLLATE NOCASE,')"
      " WHERE name = 'requests';"
      "PRAGMA writable_schema = OFF;"};
  for (size_t i = 0; i < sizeof edits / sizeof *edits; i++) {
    char copy[640];
    snprintf(copy, sizeof copy, "%s.alt%zu", fx->path, i);
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", fx->path, copy);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(run_sql(copy, edits[i]), SQLITE_OK);
    sl_ledger_verify_t v;
    assert_int_equal(sl_ledger_verify(copy, 0, NULL, &v), SL_EPARSE);
    if (!strstr(v.reason, "schema is not sluice's")) print_error("edit %zu: %s\n", i, v.reason);
    assert_non_null(strstr(v.reason, "schema is not sluice's"));
    char *argv[] = {"costs", "--ledger", copy, NULL};
    char *out;
    assert_int_equal(capture(sl_cli_audit, 3, argv, &out), 1);
    free(out);
    sl_ledger_t *l = NULL;
    sl_ledger_opts_t o = {.reject_on_failure = true};
    assert_int_not_equal(sl_ledger_open(copy, &o, NULL, &l), 0);
    rm_ledger(copy);
  }
}

/* The anchor as verify printed it, or in upper case; twice is refused (only the
 * last would be checked). */
static void test_anchor_forms(void **state) {
  fx_t *fx = *state;
  sl_ledger_verify_t v;
  assert_int_equal(sl_ledger_verify(fx->path, 0, NULL, &v), 0);
  char anchor[128], upper[128];
  snprintf(anchor, sizeof anchor, "%lld:%s", (long long)v.head_id, v.head_hash);
  for (size_t i = 0; i <= strlen(anchor); i++)
    upper[i] = (char)(anchor[i] >= 'a' && anchor[i] <= 'f' ? anchor[i] - 'a' + 'A' : anchor[i]);
  char *out;
  char *argv[] = {"verify", "--ledger", fx->path, "--anchor", upper, NULL};
  assert_int_equal(capture(sl_cli_audit, 5, argv, &out), 0);
  free(out);
  char *twice[] = {"verify", "--ledger", fx->path, "--anchor", "1:00", "--anchor", anchor, NULL};
  assert_int_equal(capture(sl_cli_audit, 7, twice, &out), 2);
  free(out);
}

/* A hostile file: an oversized value where the writer never puts one. */
static void test_oversized_value(void **state) {
  fx_t *fx = *state;
  assert_int_equal(run_sql(fx->path, UNLOCK "UPDATE requests SET entity_types = "
                                            "printf('%.200000c', 'x') WHERE id = 3"),
                   SQLITE_OK);
  expect_broken(fx->path, 3);
}

static void test_cli_reports_row(void **state) {
  fx_t *fx = *state;
  assert_int_equal(run_sql(fx->path, UNLOCK "UPDATE requests SET tokens_out = 1 WHERE id = 7"),
                   SQLITE_OK);
  char *argv[] = {"verify", "--ledger", fx->path, NULL};
  char *out;
  assert_int_equal(capture(sl_cli_audit, 3, argv, &out), 1);
  assert_non_null(strstr(out, "BROKEN at row id 7"));
  free(out);
  char *argv2[] = {"verify", "--ledger", "/nonexistent.db", NULL};
  assert_int_equal(capture(sl_cli_audit, 3, argv2, &out), 2);
  free(out);
}

/* A damaged file (its tail cut: a partial copy, a full disk) is BROKEN, and
 * says so, rather than "not a sluice ledger". */
static void test_damaged_file(void **state) {
  fx_t *fx = *state;
  struct stat st;
  assert_int_equal(stat(fx->path, &st), 0);
  /* one byte short: no whole number of pages, named so (its last row read as
   * an edited one) */
  assert_int_equal(truncate(fx->path, st.st_size - 1), 0);
  sl_ledger_verify_t v;
  int rc = sl_ledger_verify(fx->path, 0, NULL, &v);
  assert_int_equal(rc, SL_EPARSE);
  assert_non_null(strstr(v.reason, "the file is damaged"));
  assert_non_null(strstr(v.reason, "pages"));
  assert_int_equal(cli_verify(fx->path), 1);
  /* whole pages lost: SQLite finds the damage */
  assert_int_equal(truncate(fx->path, st.st_size / 2 / 4096 * 4096), 0);
  rc = sl_ledger_verify(fx->path, 0, NULL, &v);
  assert_int_equal(rc, SL_EPARSE);
  assert_true(strstr(v.reason, "malformed") || strstr(v.reason, "damaged"));
  assert_int_equal(cli_verify(fx->path), 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_intact, setup, teardown),
      cmocka_unit_test_setup_teardown(test_append_only_triggers, setup, teardown),
      cmocka_unit_test_setup_teardown(test_edit, setup, teardown),
      cmocka_unit_test_setup_teardown(test_edit_below_precision, setup, teardown),
      cmocka_unit_test_setup_teardown(test_meta_changed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_schema_altered, setup, teardown),
      cmocka_unit_test_setup_teardown(test_edit_entity_types, setup, teardown),
      cmocka_unit_test_setup_teardown(test_delete, setup, teardown),
      cmocka_unit_test_setup_teardown(test_delete_first, setup, teardown),
      cmocka_unit_test_setup_teardown(test_delete_and_renumber, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reorder, setup, teardown),
      cmocka_unit_test_setup_teardown(test_insert, setup, teardown),
      cmocka_unit_test_setup_teardown(test_insert_forged_hash, setup, teardown),
      cmocka_unit_test_setup_teardown(test_truncate_with_anchor, setup, teardown),
      cmocka_unit_test_setup_teardown(test_oversized_value, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cli_reports_row, setup, teardown),
      cmocka_unit_test_setup_teardown(test_index_swapped, setup, teardown),
      cmocka_unit_test_setup_teardown(test_anchor_forms, setup, teardown),
      cmocka_unit_test_setup_teardown(test_damaged_file, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
