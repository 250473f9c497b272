/* Crash safety of the ledger itself: a child process appends rows from a libuv
 * loop as fast as it can and reports each commit callback (the moment the gateway
 * may acknowledge a request or send bytes out) through a pipe; the parent kills
 * it with SIGKILL mid-stream. Afterwards the chain verifies, every acknowledged
 * row is there, and the ledger reopens and carries on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ledger_test_util.h"
#include "sl_err.h"

#include <signal.h>
#include <sys/wait.h>

typedef struct {
  sl_ledger_t *l;
  int fd;
  int base; /* request ids of this run start here */
  int next;
  int inflight;
  uv_idle_t idle;
} child_t;

static void on_done(void *data, int status) {
  child_t *c = data;
  c->inflight--;
  if (status) _exit(3);
  /* done callbacks arrive in append order: report the highest committed id */
  int id = c->next - c->inflight - 1;
  if (write(c->fd, &id, sizeof id) != sizeof id) _exit(4);
}

static void on_idle(uv_idle_t *h) {
  child_t *c = h->data;
  for (int k = 0; k < 256 && c->inflight < 8192; k++) {
    sl_ledger_row_t r = sample_row(c->base + c->next);
    r.kind = c->next % 2 ? SL_LEDGER_EGRESS : SL_LEDGER_REQUEST;
    if (sl_ledger_append(c->l, &r, on_done, c)) return;
    c->next++;
    c->inflight++;
  }
}

static void child_main(const char *path, int fd, int base) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  child_t c = {.fd = fd, .base = base};
  if (sl_ledger_open(path, NULL, &loop, &c.l)) _exit(2);
  uv_idle_init(&loop, &c.idle);
  c.idle.data = &c;
  uv_idle_start(&c.idle, on_idle);
  uv_run(&loop, UV_RUN_DEFAULT);
  _exit(0);
}

static void crash_after(const char *path, int base, int acks_wanted) {
  int p[2];
  assert_int_equal(pipe(p), 0);
  fflush(NULL);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(p[0]);
    child_main(path, p[1], base);
  }
  close(p[1]);
  int id, acked = -1, n = 0;
  while (n < acks_wanted && read(p[0], &id, sizeof id) == sizeof id) {
    acked = id;
    n++;
  }
  kill(pid, SIGKILL);
  /* acknowledgements already in the pipe count too */
  while (read(p[0], &id, sizeof id) == sizeof id) acked = id;
  close(p[0]);
  int st;
  waitpid(pid, &st, 0);
  assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
  assert_true(acked >= 0);

  sl_ledger_verify_t v;
  int rc = sl_ledger_verify(path, 0, NULL, &v);
  if (rc) print_error("after SIGKILL: row %lld: %s\n", (long long)v.broken_id, v.reason);
  assert_int_equal(rc, 0);

  /* every acknowledged row (ids 0..acked of this run) is in the ledger */
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  sqlite3_stmt *q;
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM requests WHERE request_id = ?1",
                                      -1, &q, NULL),
                   SQLITE_OK);
  for (int i = 0; i <= acked; i++) {
    char rid[32];
    snprintf(rid, sizeof rid, "req-%06d", base + i);
    sqlite3_bind_text(q, 1, rid, -1, SQLITE_TRANSIENT);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    if (sqlite3_column_int(q, 0) < 1) fail_msg("acknowledged row %s missing", rid);
    sqlite3_reset(q);
  }
  sqlite3_finalize(q);
  sqlite3_close(db);
  print_message("killed after %d acks; %lld rows verify\n", acked + 1, (long long)v.rows);
}

static void test_sigkill_under_load(void **state) {
  char path[600];
  tmp_ledger(path, sizeof path);
  crash_after(path, 0, 1);
  crash_after(path, 100000, 3000);
  crash_after(path, 200000, 10000);
  /* the ledger reopens after the crashes and keeps a valid chain */
  sl_ledger_t *l;
  assert_int_equal(sl_ledger_open(path, NULL, NULL, &l), 0);
  sl_ledger_row_t r = sample_row(999999);
  assert_int_equal(sl_ledger_append_sync(l, &r), 0);
  sl_ledger_close(l);
  sl_ledger_verify_t v;
  assert_int_equal(sl_ledger_verify(path, 0, NULL, &v), 0);
  rm_ledger(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_sigkill_under_load)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
