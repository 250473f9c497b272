/* The writer thread seen from the event loop: callbacks arrive on the loop once
 * rows are committed, group commit batches a burst, a full queue says SL_EBUSY
 * (and the callback of a refused row never runs), write failures reach the
 * callback with SL_EIO and leave the chain intact, close runs what is pending. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gateway/cli.h"
#include "ledger_test_util.h"
#include "tests/tools/test_file.h"
#include "sl_err.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

typedef struct {
  int done, ok, failed, other;
  pthread_t loop_thread;
  bool wrong_thread;
  int last_status;
} counts_t;

static void on_done(void *data, int status) {
  counts_t *c = data;
  c->done++;
  c->last_status = status;
  if (status == 0) c->ok++;
  else if (status == SL_EIO) c->failed++;
  else c->other++;
  if (!pthread_equal(pthread_self(), c->loop_thread)) c->wrong_thread = true;
}

static void run_until(uv_loop_t *loop, counts_t *c, int n) {
  while (c->done < n) uv_run(loop, UV_RUN_ONCE);
}

static void test_burst_commits_in_batches(void **state) {
  char path[600];
  tmp_ledger(path, sizeof path);
  uv_loop_t loop;
  uv_loop_init(&loop);
  sl_ledger_t *l;
  assert_int_equal(sl_ledger_open(path, NULL, &loop, &l), 0);
  counts_t c = {.loop_thread = pthread_self()};
  enum { NROWS = 20000 };
  for (int i = 0; i < NROWS; i++) {
    sl_ledger_row_t r = sample_row(i);
    assert_int_equal(sl_ledger_append(l, &r, on_done, &c), 0);
  }
  run_until(&loop, &c, NROWS);
  assert_int_equal(c.ok, NROWS);
  assert_false(c.wrong_thread);
  sl_ledger_stats_t st;
  sl_ledger_stats(l, &st);
  assert_int_equal(st.committed, NROWS);
  assert_true(st.batches < NROWS / 4); /* group commit */
  assert_true(st.max_batch > 1);
  sl_ledger_close(l);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
  sl_ledger_verify_t v;
  assert_int_equal(sl_ledger_verify(path, 0, NULL, &v), 0);
  assert_int_equal(v.rows, NROWS);
  rm_ledger(path);
}

/* Rows of one request, for the egress merge below. */
static sl_ledger_row_t req_row(int i, sl_ledger_kind_t kind, const char *backend, int64_t bytes,
                               const char *sha) {
  static const char *const ids[] = {"", "req-1", "req-2", "req-3", "req-4", "req-5", "req-6", "req-7"};
  sl_ledger_row_t r = sample_row(i);
  r.request_id = ids[i]; /* sample_row's id lives in one static buffer */
  r.kind = kind;
  r.backend = backend;
  r.location = "external";
  r.egress = true;
  r.destination = "api.example.com:443";
  r.bytes_out = bytes;
  r.sha256_out = sha;
  if (kind == SL_LEDGER_EGRESS) {
    r.status = "in_flight";
    r.http_status = 0;
    r.tokens_in = r.tokens_out = 0;
    r.cost_usd = r.avoided_cost_usd = 0;
  } else {
    r.egress_rows = 1;
  }
  return r;
}

/* A request sent once whose rows meet in one batch is one row: the request
 * row, carrying the egress row's digest. Retries, failovers (also when the
 * failed attempt's row went in an earlier batch), requests whose rows straddle
 * batches, and rows without the digest keep their egress rows. */
static void test_egress_merged_into_request_row(void **state) {
  (void)state;
  char path[600];
  tmp_ledger(path, sizeof path);
  sl_ledger_t *l;
  sl_ledger_opts_t o = {.reject_on_failure = true, .journal = true};
  assert_int_equal(sl_ledger_open(path, &o, NULL, &l), 0);
  const char *A = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
  const char *B = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
  sl_ledger_row_t r3 = req_row(3, SL_LEDGER_REQUEST, "ext", 200, NULL);
  r3.egress_rows = 2;
  sl_ledger_row_t rows[] = {
      /* 1: sent once, answered: merged */
      req_row(1, SL_LEDGER_EGRESS, "ext", 100, A), req_row(1, SL_LEDGER_REQUEST, "ext", 100, A),
      /* 2: failed over to another backend: both kept */
      req_row(2, SL_LEDGER_EGRESS, "ext", 100, A), req_row(2, SL_LEDGER_REQUEST, "local", 100, A),
      /* 3: sent twice: three rows */
      req_row(3, SL_LEDGER_EGRESS, "ext", 100, A), req_row(3, SL_LEDGER_EGRESS, "ext", 100, B),
      r3,
      /* 4: the request row without the digest: both kept */
      req_row(4, SL_LEDGER_EGRESS, "ext", 100, A), req_row(4, SL_LEDGER_REQUEST, "ext", 100, NULL),
      /* 5: in flight (no request row yet) */
      req_row(5, SL_LEDGER_EGRESS, "ext", 100, B),
  };
  sl__ledger_pause(l, true); /* all in one batch */
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
    assert_int_equal(sl_ledger_append(l, &rows[i], NULL, NULL), 0);
  sl__ledger_pause(l, false);
  sl_ledger_flush(l);
  /* 6: its egress row committed before its request row came: both kept */
  sl_ledger_row_t e6 = req_row(6, SL_LEDGER_EGRESS, "ext", 100, A);
  assert_int_equal(sl_ledger_append_sync(l, &e6), 0);
  sl_ledger_row_t r6 = req_row(6, SL_LEDGER_REQUEST, "ext", 100, A);
  assert_int_equal(sl_ledger_append_sync(l, &r6), 0);
  /* 7: a connect that failed (its row committed, nothing sent), then the
   * request sent once to another backend, whose rows meet in one batch: the
   * second egress row is kept too, or the egress list would show only the
   * attempt that sent nothing */
  sl_ledger_row_t e7 = req_row(7, SL_LEDGER_EGRESS, "dead", 100, B);
  assert_int_equal(sl_ledger_append_sync(l, &e7), 0);
  sl_ledger_row_t b7[] = {req_row(7, SL_LEDGER_EGRESS, "ext", 100, A),
                          req_row(7, SL_LEDGER_REQUEST, "ext", 100, A)};
  b7[1].egress_rows = 2;
  sl__ledger_pause(l, true);
  for (size_t i = 0; i < 2; i++) assert_int_equal(sl_ledger_append(l, &b7[i], NULL, NULL), 0);
  sl__ledger_pause(l, false);
  sl_ledger_flush(l);
  /* the rows counted as inserted are the rows in the table: 14, not the 15 appended */
  sl_ledger_stats_t st;
  sl_ledger_stats(l, &st);
  assert_int_equal(st.committed, 15);
  assert_int_equal(st.rows, 14);
  sl_ledger_close(l);

  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  sqlite3_stmt *q;
  assert_int_equal(sqlite3_prepare_v2(db,
                                      "SELECT group_concat(kind || ':' || sha256_out, ' ') FROM "
                                      "(SELECT * FROM requests ORDER BY id) GROUP BY request_id "
                                      "ORDER BY min(id)",
                                      -1, &q, NULL),
                   SQLITE_OK);
  const char *want[] = {"request:a", "egress:a request:a", "egress:a egress:b request:",
                        "egress:a request:", "egress:b", "egress:a request:a",
                        "egress:b egress:a request:a"};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    char got[400];
    snprintf(got, sizeof got, "%s", (const char *)sqlite3_column_text(q, 0));
    /* digests shortened to their first letter */
    for (char *p = got; (p = strchr(p, ':'));)
      if (p[1] && p[1] != ' ') memmove(p + 2, p + 65, strlen(p + 65) + 1), p += 2;
      else p++;
    assert_string_equal(got, want[i]);
  }
  assert_int_equal(sqlite3_step(q), SQLITE_DONE);
  sqlite3_finalize(q);
  sqlite3_close(db);
  char *argv[] = {"verify", "--ledger", path, NULL};
  char *out;
  assert_int_equal(capture(sl_cli_audit, 3, argv, &out), 0);
  free(out);
  unlink(path);
}

static void test_queue_full_is_busy(void **state) {
  char path[600];
  tmp_ledger(path, sizeof path);
  uv_loop_t loop;
  uv_loop_init(&loop);
  sl_ledger_opts_t o = {.queue_max = 64, .reject_on_failure = true};
  sl_ledger_t *l;
  assert_int_equal(sl_ledger_open(path, &o, &loop, &l), 0);
  counts_t c = {.loop_thread = pthread_self()};
  counts_t refused = {.loop_thread = pthread_self()};
  sl__ledger_pause(l, true);
  for (int i = 0; i < 64; i++) {
    sl_ledger_row_t r = sample_row(i);
    assert_int_equal(sl_ledger_append(l, &r, on_done, &c), 0);
  }
  sl_ledger_row_t r = sample_row(64);
  assert_int_equal(sl_ledger_append(l, &r, on_done, &refused), SL_EBUSY);
  sl_ledger_stats_t st;
  sl_ledger_stats(l, &st);
  assert_int_equal(st.busy, 1);
  assert_int_equal(st.queue_depth, 64);
  sl__ledger_pause(l, false);
  run_until(&loop, &c, 64);
  assert_int_equal(c.ok, 64);
  /* room again */
  assert_int_equal(sl_ledger_append(l, &r, on_done, &c), 0);
  run_until(&loop, &c, 65);
  sl_ledger_close(l);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(refused.done, 0);
  assert_int_equal(uv_loop_close(&loop), 0);
  rm_ledger(path);
}

static void test_write_failure_reported(void **state) {
  char path[600];
  tmp_ledger(path, sizeof path);
  uv_loop_t loop;
  uv_loop_init(&loop);
  sl_ledger_t *l;
  assert_int_equal(sl_ledger_open(path, NULL, &loop, &l), 0);
  assert_true(sl_ledger_rejects_on_failure(l)); /* the default */
  counts_t c = {.loop_thread = pthread_self()};
  sl_ledger_row_t r = sample_row(1);
  assert_int_equal(sl_ledger_append(l, &r, on_done, &c), 0);
  run_until(&loop, &c, 1);
  assert_int_equal(c.ok, 1);
  assert_false(sl_ledger_failing(l));

  /* The next batch fails as a read-only database would: the egress row of a
   * request is not recorded, and the gateway (reject) must refuse it. */
  sl__ledger_fail_batches(l, 1);
  r = sample_row(2);
  r.kind = SL_LEDGER_EGRESS;
  r.egress = true;
  r.destination = "api.openai.com:443";
  r.status = "in_flight";
  assert_int_equal(sl_ledger_append(l, &r, on_done, &c), 0);
  run_until(&loop, &c, 2);
  assert_int_equal(c.failed, 1);
  assert_int_equal(c.last_status, SL_EIO);
  assert_true(sl_ledger_rejects_on_failure(l));
  assert_true(sl_ledger_failing(l)); /* (/readyz says so) */

  /* The ledger recovers, records the gap first, and the chain skips nothing it
   * claimed to write. */
  r = sample_row(3);
  assert_int_equal(sl_ledger_append(l, &r, on_done, &c), 0);
  run_until(&loop, &c, 3);
  assert_int_equal(c.ok, 2);
  assert_false(sl_ledger_failing(l));
  sl_ledger_stats_t st;
  sl_ledger_stats(l, &st);
  assert_int_equal(st.failed, 1);
  assert_int_equal(st.committed, 2);
  sl_ledger_close(l);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
  sl_ledger_verify_t v;
  assert_int_equal(sl_ledger_verify(path, 0, NULL, &v), 0);
  assert_int_equal(v.rows, 3); /* row 1, the gap, row 3 */
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  sqlite3_stmt *q;
  assert_int_equal(sqlite3_prepare_v2(db,
                                      "SELECT kind, status, egress, bytes_out, "
                                      "json_extract(classification, '$.unrecorded_rows'), "
                                      "json_extract(classification, '$.egress_rows') "
                                      "FROM requests WHERE id = 2",
                                      -1, &q, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  assert_string_equal((const char *)sqlite3_column_text(q, 0), "gap");
  assert_string_equal((const char *)sqlite3_column_text(q, 1), "unrecorded");
  assert_int_equal(sqlite3_column_int(q, 2), 1);
  assert_int_equal(sqlite3_column_int(q, 3), 0);
  assert_int_equal(sqlite3_column_int(q, 4), 1);
  assert_int_equal(sqlite3_column_int(q, 5), 1);
  sqlite3_finalize(q);
  sqlite3_close(db);
  /* the auditor is told */
  char *argv[] = {"verify", "--ledger", path, NULL};
  char *out;
  assert_int_equal(capture(sl_cli_audit, 3, argv, &out), 0);
  assert_non_null(strstr(out, "WARNING: 1 rows could not be written"));
  free(out);
  char *argv2[] = {"egress", "--ledger", path, "--format", "json", NULL};
  assert_int_equal(capture(sl_cli_audit, 5, argv2, &out), 0);
  assert_non_null(strstr(out, "\"gaps\":[{\"unrecorded_rows\":1,\"egress_rows\":1"));
  free(out);
  rm_ledger(path);
}

/* The ledger's file renamed away (or deleted) or replaced by another while the
 * writer has it open: rows committed then would be in a file nobody can open
 * once sluice exits, so they fail as a write does (reject: the request is
 * refused) until the file is back, and the gap is recorded then. */
static void test_file_moved_fails_writes(void **state) {
  char path[600], aside[640], copy[640];
  tmp_ledger(path, sizeof path);
  snprintf(aside, sizeof aside, "%s.aside", path);
  snprintf(copy, sizeof copy, "%s.copy", path);
  uv_loop_t loop;
  uv_loop_init(&loop);
  sl_ledger_t *l;
  assert_int_equal(sl_ledger_open(path, NULL, &loop, &l), 0);
  counts_t c = {.loop_thread = pthread_self()};
  sl_ledger_row_t r = sample_row(1);
  assert_int_equal(sl_ledger_append(l, &r, on_done, &c), 0);
  run_until(&loop, &c, 1);
  assert_int_equal(c.ok, 1);

  assert_int_equal(rename(path, aside), 0); /* gone from its path */
  r = sample_row(2);
  assert_int_equal(sl_ledger_append(l, &r, on_done, &c), 0);
  run_until(&loop, &c, 2);
  assert_int_equal(c.failed, 1);

  /* another file in its place (an older copy) */
  char cmd[2700];
  snprintf(cmd, sizeof cmd, "cp '%s' '%s' && cp '%s' '%s'", aside, copy, copy, path);
  assert_int_equal(system(cmd), 0);
  r = sample_row(3);
  assert_int_equal(sl_ledger_append(l, &r, on_done, &c), 0);
  run_until(&loop, &c, 3);
  assert_int_equal(c.failed, 2);

  assert_int_equal(rename(aside, path), 0); /* back */
  r = sample_row(4);
  assert_int_equal(sl_ledger_append(l, &r, on_done, &c), 0);
  run_until(&loop, &c, 4);
  assert_int_equal(c.ok, 2);
  sl_ledger_close(l);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
  sl_ledger_verify_t v;
  assert_int_equal(sl_ledger_verify(path, 0, NULL, &v), 0);
  assert_int_equal(v.rows, 3); /* row 1, the gap of rows 2 and 3, row 4 */
  unlink(copy);
  rm_ledger(path);
}

/* The journal deleted while sluice runs: rows acknowledged into it would not
 * survive a crash, so once the writer sees it gone new rows are refused (the
 * rows it holds still commit). */
static void test_journal_deleted_refuses(void **state) {
  (void)state;
  char path[600], jpath[700];
  tmp_ledger(path, sizeof path);
  snprintf(jpath, sizeof jpath, "%s-pending", path);
  uv_loop_t loop;
  uv_loop_init(&loop);
  sl_ledger_t *l;
  sl_ledger_opts_t o = {.reject_on_failure = true, .journal = true};
  assert_int_equal(sl_ledger_open(path, &o, &loop, &l), 0);
  counts_t c = {.loop_thread = pthread_self()};
  sl_ledger_row_t r = sample_row(1);
  assert_int_equal(sl_ledger_append(l, &r, on_done, &c), 0);
  run_until(&loop, &c, 1);
  sl_ledger_flush(l);
  assert_int_equal(unlink(jpath), 0);
  r = sample_row(2); /* not seen yet: taken, and committed */
  assert_int_equal(sl_ledger_append(l, &r, on_done, &c), 0);
  run_until(&loop, &c, 2);
  sl_ledger_flush(l);
  r = sample_row(3);
  assert_int_equal(sl_ledger_append(l, &r, on_done, &c), SL_EBUSY);
  assert_true(sl_ledger_failing(l));
  sl_ledger_close(l);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
  sl_ledger_verify_t v;
  assert_int_equal(sl_ledger_verify(path, 0, NULL, &v), 0);
  assert_int_equal(v.rows, 3); /* rows 1 and 2, and the gap row counting the refused one */
  rm_ledger(path);
}

/* Failed batches are logged once a minute, not each (a full disk fails every
 * batch, three times a second), and the first that commits after them says so. */
static void test_on_failure_continue_and_sync(void **state) {
  char path[600], logp[640];
  tmp_ledger(path, sizeof path);
  snprintf(logp, sizeof logp, "%s.log", path);
  sl_ledger_opts_t o = {.reject_on_failure = false};
  sl_ledger_t *l;
  assert_int_equal(sl_ledger_open(path, &o, NULL, &l), 0);
  assert_false(sl_ledger_rejects_on_failure(l));
  fflush(stderr);
  int saved = dup(2), fd = open(logp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  assert_true(saved >= 0 && fd >= 0);
  dup2(fd, 2);
  sl__ledger_fail_batches(l, 3);
  sl_ledger_row_t r = sample_row(1);
  for (int i = 0; i < 3; i++) assert_int_equal(sl_ledger_append_sync(l, &r), SL_EIO);
  assert_int_equal(sl_ledger_append_sync(l, &r), 0);
  dup2(saved, 2);
  close(saved);
  close(fd);
  sl_ledger_close(l);
  char *log = sl_test_slurp(logp, NULL);
  assert_non_null(log);
  /* (the hook makes the database read-only: its transaction cannot begin) */
  const char *first = strstr(log, "ledger: cannot begin a transaction");
  if (!first) fail_msg("no failure logged: %s", log);
  assert_null(strstr(first + 1, "ledger: cannot begin a transaction"));
  assert_non_null(strstr(log, "ledger: writing again after 3 failed batches"));
  free(log);
  unlink(logp);
  sl_ledger_verify_t v;
  assert_int_equal(sl_ledger_verify(path, 0, NULL, &v), 0);
  assert_int_equal(v.rows, 2); /* the gap, then the row */
  rm_ledger(path);
}

static void test_open_failure(void **state) {
  sl_ledger_t *l = NULL;
  assert_int_equal(sl_ledger_open("/", NULL, NULL, &l), SL_EIO);
  assert_null(l);
  assert_int_equal(sl_ledger_open("", NULL, NULL, &l), SL_EINVAL);
  /* with a loop: the async handle is closed, the loop can be closed after a run */
  uv_loop_t loop;
  uv_loop_init(&loop);
  assert_int_equal(sl_ledger_open("/", NULL, &loop, &l), SL_EIO);
  assert_null(l);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* A genuine I/O error rather than the hook: a file size limit (as a full disk
 * would) makes the WAL write fail; the rows get SL_EIO, nothing half-written
 * shows up, and once there is room again the ledger carries on. */
static void test_disk_full(void **state) {
  char path[600];
  tmp_ledger(path, sizeof path);
  sl_ledger_t *l;
  assert_int_equal(sl_ledger_open(path, NULL, NULL, &l), 0);
  sl_ledger_row_t r = sample_row(1);
  assert_int_equal(sl_ledger_append_sync(l, &r), 0);

  char *json = malloc(SL_LEDGER_MAX_JSON + 1);
  memset(json, ' ', SL_LEDGER_MAX_JSON);
  json[0] = '{';
  json[SL_LEDGER_MAX_JSON - 1] = '}';
  json[SL_LEDGER_MAX_JSON] = '\0';
  struct rlimit old, lim;
  getrlimit(RLIMIT_FSIZE, &old);
  signal(SIGXFSZ, SIG_IGN);
  lim = old;
  lim.rlim_cur = 256 * 1024;
  setrlimit(RLIMIT_FSIZE, &lim);
  int failed = 0, ok = 0;
  for (int i = 0; i < 40 && !failed; i++) {
    r = sample_row(i + 2);
    r.entity_types = r.redactions = r.classification = json;
    int rc = sl_ledger_append_sync(l, &r);
    if (rc == SL_EIO) failed++;
    else if (rc == 0) ok++;
    else fail_msg("unexpected %d", rc);
  }
  setrlimit(RLIMIT_FSIZE, &old);
  free(json);
  assert_int_equal(failed, 1);
  r = sample_row(99);
  assert_int_equal(sl_ledger_append_sync(l, &r), 0);
  sl_ledger_close(l);
  sl_ledger_verify_t v;
  assert_int_equal(sl_ledger_verify(path, 0, NULL, &v), 0);
  assert_int_equal(v.rows, 2 + ok + 1); /* + the gap row */
  rm_ledger(path);
}

static void test_close_runs_pending(void **state) {
  char path[600];
  tmp_ledger(path, sizeof path);
  uv_loop_t loop;
  uv_loop_init(&loop);
  sl_ledger_t *l;
  assert_int_equal(sl_ledger_open(path, NULL, &loop, &l), 0);
  counts_t c = {.loop_thread = pthread_self()};
  for (int i = 0; i < 500; i++) {
    sl_ledger_row_t r = sample_row(i);
    assert_int_equal(sl_ledger_append(l, &r, on_done, &c), 0);
  }
  sl_ledger_close(l); /* without running the loop first */
  assert_int_equal(c.done, 500);
  assert_int_equal(c.ok, 500);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
  sl_ledger_verify_t v;
  assert_int_equal(sl_ledger_verify(path, 0, NULL, &v), 0);
  assert_int_equal(v.rows, 500);
  rm_ledger(path);
}

/* Several threads appending at once still produce one valid chain. */
typedef struct {
  sl_ledger_t *l;
  int base;
} worker_t;

static void *worker(void *arg) {
  worker_t *w = arg;
  for (int i = 0; i < 200; i++) {
    sl_ledger_row_t r = sample_row(w->base + i);
    if (sl_ledger_append_sync(w->l, &r)) abort();
  }
  return NULL;
}

static void test_concurrent_sync_appenders(void **state) {
  char path[600];
  tmp_ledger(path, sizeof path);
  sl_ledger_t *l;
  assert_int_equal(sl_ledger_open(path, NULL, NULL, &l), 0);
  pthread_t t[4];
  worker_t w[4];
  for (int i = 0; i < 4; i++) {
    w[i] = (worker_t){l, i * 1000};
    pthread_create(&t[i], NULL, worker, &w[i]);
  }
  for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
  sl_ledger_close(l);
  sl_ledger_verify_t v;
  assert_int_equal(sl_ledger_verify(path, 0, NULL, &v), 0);
  assert_int_equal(v.rows, 800);
  rm_ledger(path);
}

/* Two writers on one file (two gateway processes by mistake, or a CLI beside a
 * gateway): each batch reads the chain head inside its transaction, so the
 * chain stays single. */
static void test_two_writers_one_file(void **state) {
  char path[600];
  tmp_ledger(path, sizeof path);
  sl_ledger_t *a, *b;
  assert_int_equal(sl_ledger_open(path, NULL, NULL, &a), 0);
  assert_int_equal(sl_ledger_open(path, NULL, NULL, &b), 0);
  for (int i = 0; i < 100; i++) {
    sl_ledger_row_t r = sample_row(i);
    assert_int_equal(sl_ledger_append(i % 3 ? a : b, &r, NULL, NULL), 0);
  }
  sl_ledger_close(a);
  sl_ledger_close(b);
  sl_ledger_verify_t v;
  assert_int_equal(sl_ledger_verify(path, 0, NULL, &v), 0);
  assert_int_equal(v.rows, 100);
  rm_ledger(path);
}

/* An auditor verifying a live ledger sees a consistent snapshot (one read
 * transaction in WAL mode), never a half-written batch. */
static void test_verify_while_writing(void **state) {
  char path[600];
  tmp_ledger(path, sizeof path);
  sl_ledger_t *l;
  sl_ledger_opts_t o = {.batch_max = 256, .reject_on_failure = true};
  assert_int_equal(sl_ledger_open(path, &o, NULL, &l), 0);
  sl_ledger_row_t r = sample_row(0);
  assert_int_equal(sl_ledger_append_sync(l, &r), 0);
  int64_t last = 0;
  for (int round = 0; round < 10; round++) {
    for (int i = 0; i < 2000; i++) {
      r = sample_row(round * 2000 + i + 1);
      int rc = sl_ledger_append(l, &r, NULL, NULL);
      assert_true(rc == 0 || rc == SL_EBUSY);
    }
    sl_ledger_verify_t v;
    assert_int_equal(sl_ledger_verify(path, 0, NULL, &v), 0);
    assert_true(v.rows >= last);
    last = v.rows;
  }
  sl_ledger_close(l);
  rm_ledger(path);
}

/* A device or a directory given as the ledger is refused, and nothing is
 * created beside it (SQLite would make a /dev/null-journal). */
static void test_not_a_regular_file(void **state) {
  (void)state;
  sl_ledger_t *l = NULL;
  sl_ledger_opts_t o = {.reject_on_failure = true, .journal = true};
  assert_int_equal(sl_ledger_open("/dev/null", &o, NULL, &l), SL_EIO);
  assert_null(l);
  assert_int_equal(access("/dev/null-journal", F_OK), -1);
  assert_int_equal(access("/dev/null-pending", F_OK), -1);
  assert_int_equal(sl_ledger_open("/tmp", &o, NULL, &l), SL_EIO);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_burst_commits_in_batches),
      cmocka_unit_test(test_queue_full_is_busy),
      cmocka_unit_test(test_egress_merged_into_request_row),
      cmocka_unit_test(test_write_failure_reported),
      cmocka_unit_test(test_file_moved_fails_writes),
      cmocka_unit_test(test_not_a_regular_file),
      cmocka_unit_test(test_journal_deleted_refuses),
      cmocka_unit_test(test_on_failure_continue_and_sync),
      cmocka_unit_test(test_open_failure),
      cmocka_unit_test(test_disk_full),
      cmocka_unit_test(test_close_runs_pending),
      cmocka_unit_test(test_concurrent_sync_appenders),
      cmocka_unit_test(test_two_writers_one_file),
      cmocka_unit_test(test_verify_while_writing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
