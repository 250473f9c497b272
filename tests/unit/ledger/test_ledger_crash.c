/* Crash safety of the ledger itself: a child process appends rows from a libuv
 * loop as fast as it can and reports each done callback (the moment the gateway
 * may acknowledge a request or send bytes out) through a pipe; the parent kills
 * it with SIGKILL mid-stream. Afterwards the chain verifies, every acknowledged
 * row is there, and the ledger reopens and carries on. Both durabilities:
 * "commit" (callbacks after the SQLite commit) and "journal" (callbacks once
 * the row is in the pending journal; the next open commits what is pending).
 * Also: a torn last journal record (the process died inside write) is ignored,
 * and a damaged record is refused, not committed: the records after it are, and
 * a gap row records the loss. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ledger_test_util.h"
#include "sl_err.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
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

static size_t journal_max; /* 0: the default */

static sl_ledger_opts_t opts_for(bool journal) {
  sl_ledger_opts_t o = {.reject_on_failure = true, .journal = journal,
                        .journal_max_bytes = journal_max};
  return o;
}

static void child_main(const char *path, int fd, int base, bool journal) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  child_t c = {.fd = fd, .base = base};
  sl_ledger_opts_t o = opts_for(journal);
  if (sl_ledger_open(path, &o, &loop, &c.l)) _exit(2);
  uv_idle_init(&loop, &c.idle);
  c.idle.data = &c;
  uv_idle_start(&c.idle, on_idle);
  uv_run(&loop, UV_RUN_DEFAULT);
  _exit(0);
}

static void crash_after(const char *path, int base, int acks_wanted, bool journal) {
  int p[2];
  assert_int_equal(pipe(p), 0);
  fflush(NULL);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(p[0]);
    child_main(path, p[1], base, journal);
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

  if (journal) { /* what is pending is committed when the ledger next opens */
    sl_ledger_t *l;
    sl_ledger_opts_t o = opts_for(true);
    assert_int_equal(sl_ledger_open(path, &o, NULL, &l), 0);
    sl_ledger_stats_t st;
    sl_ledger_stats(l, &st);
    print_message("reopened: %llu pending rows committed from the journal\n",
                  (unsigned long long)st.replayed);
    sl_ledger_close(l);
  }
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

static void sigkill_under_load(bool journal) {
  char path[600];
  tmp_ledger(path, sizeof path);
  crash_after(path, 0, 1, journal);
  crash_after(path, 100000, 3000, journal);
  crash_after(path, 200000, 10000, journal);
  /* the ledger reopens after the crashes and keeps a valid chain */
  sl_ledger_t *l;
  sl_ledger_opts_t o = opts_for(journal);
  assert_int_equal(sl_ledger_open(path, &o, NULL, &l), 0);
  sl_ledger_row_t r = sample_row(999999);
  assert_int_equal(sl_ledger_append_sync(l, &r), 0);
  sl_ledger_close(l);
  sl_ledger_verify_t v;
  assert_int_equal(sl_ledger_verify(path, 0, NULL, &v), 0);
  rm_ledger(path);
}

static void test_sigkill_under_load(void **state) { sigkill_under_load(false); }
static void test_sigkill_under_load_journal(void **state) { sigkill_under_load(true); }

/* The same with a tiny journal limit, so that the journal is compacted (the
 * committed head cut off while rows keep coming) many times before the kill. */
static void test_sigkill_under_load_journal_compacting(void **state) {
  journal_max = 16 << 10;
  sigkill_under_load(true);
  journal_max = 0;
}

/* Journal records written by a child that then dies without committing them:
 * writer paused, rows appended, callbacks seen, _exit. */
static void pending_rows(const char *path, int n) {
  fflush(NULL);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    sl_ledger_t *l;
    sl_ledger_opts_t o = opts_for(true);
    if (sl_ledger_open(path, &o, NULL, &l)) _exit(2);
    sl__ledger_pause(l, true);
    for (int i = 0; i < n; i++) {
      sl_ledger_row_t r = sample_row(500000 + i);
      if (sl_ledger_append(l, &r, NULL, NULL)) _exit(3);
    }
    _exit(0);
  }
  int st;
  waitpid(pid, &st, 0);
  assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static long long count_rows(const char *path) {
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  sqlite3_stmt *q;
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM requests", -1, &q, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  long long n = sqlite3_column_int64(q, 0);
  sqlite3_finalize(q);
  sqlite3_close(db);
  return n;
}

static void reopen(const char *path, uint64_t *replayed) {
  sl_ledger_t *l;
  sl_ledger_opts_t o = opts_for(true);
  assert_int_equal(sl_ledger_open(path, &o, NULL, &l), 0);
  sl_ledger_stats_t st;
  sl_ledger_stats(l, &st);
  *replayed = st.replayed;
  sl_ledger_close(l);
}

static void test_journal_torn_and_damaged_records(void **state) {
  char path[600], jpath[700];
  tmp_ledger(path, sizeof path);
  snprintf(jpath, sizeof jpath, "%s-pending", path);

  /* 5 pending rows, the last one torn in half: 4 come back */
  pending_rows(path, 5);
  struct stat sb;
  assert_int_equal(stat(jpath, &sb), 0);
  assert_true(sb.st_size > 0);
  assert_int_equal(truncate(jpath, sb.st_size - 20), 0);
  uint64_t replayed = 0;
  reopen(path, &replayed);
  assert_int_equal(replayed, 4);
  assert_int_equal(count_rows(path), 4);
  assert_int_equal(stat(jpath, &sb), 0);
  assert_int_equal(sb.st_size, 0); /* emptied once committed */

  /* opening again commits nothing twice */
  reopen(path, &replayed);
  assert_int_equal(replayed, 0);
  assert_int_equal(count_rows(path), 4);

  /* a flipped byte inside the second record: its checksum fails, so it is
   * not trusted; the third comes back, and a gap row records the lost one */
  pending_rows(path, 3);
  int fd = open(jpath, O_RDWR);
  assert_true(fd >= 0);
  assert_int_equal(fstat(fd, &sb), 0);
  off_t rec = sb.st_size / 3;
  unsigned char b;
  assert_int_equal(pread(fd, &b, 1, rec + 40), 1);
  b ^= 0x55;
  assert_int_equal(pwrite(fd, &b, 1, rec + 40), 1);
  close(fd);
  reopen(path, &replayed);
  assert_int_equal(replayed, 2);
  assert_int_equal(count_rows(path), 7);
  {
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT id, classification FROM requests WHERE kind = 'gap'",
                                        -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int64(q, 0), 5); /* before the rows of that replay */
    const char *g = (const char *)sqlite3_column_text(q, 1);
    assert_non_null(strstr(g, "\"unrecorded_rows\":1,"));
    assert_non_null(strstr(g, "\"damaged_journal_rows\":1"));
    assert_int_equal(sqlite3_step(q), SQLITE_DONE);
    sqlite3_finalize(q);
    sqlite3_close(db);
  }

  /* damage in the middle of a longer run: only the damaged records are lost */
  pending_rows(path, 6);
  fd = open(jpath, O_RDWR);
  assert_true(fd >= 0);
  assert_int_equal(fstat(fd, &sb), 0);
  unsigned char junk[40];
  memset(junk, 0xA5, sizeof junk);
  assert_int_equal(pwrite(fd, junk, sizeof junk, sb.st_size / 2 - 20), (ssize_t)sizeof junk);
  close(fd);
  reopen(path, &replayed);
  assert_true(replayed >= 4 && replayed <= 5);
  assert_int_equal(count_rows(path), 7 + (long long)replayed + 1);

  /* the LAST record whole but failing its checksum is damage, not a torn
   * append (a write cut short leaves a prefix): a gap row records its row */
  long long gaps_before = count_rows(path);
  pending_rows(path, 3);
  fd = open(jpath, O_RDWR);
  assert_true(fd >= 0);
  assert_int_equal(fstat(fd, &sb), 0);
  assert_int_equal(pread(fd, &b, 1, sb.st_size - 20), 1);
  b ^= 0x55;
  assert_int_equal(pwrite(fd, &b, 1, sb.st_size - 20), 1);
  close(fd);
  reopen(path, &replayed);
  assert_int_equal(replayed, 2);
  assert_int_equal(count_rows(path), gaps_before + 2 + 1); /* two rows and a gap row */

  /* what `sluice audit` does first: commit rows a crashed process left */
  long long before = count_rows(path);
  pending_rows(path, 2);
  uint64_t rows = 0;
  assert_int_equal(sl_ledger_commit_pending(path, &rows), 0);
  assert_int_equal(rows, 2);
  assert_int_equal(count_rows(path), before + 2);
  assert_int_equal(sl_ledger_commit_pending(path, &rows), 0);
  assert_int_equal(rows, 0);
  /* while a sluice holds the journal, it is left to it */
  sl_ledger_t *held;
  sl_ledger_opts_t o = opts_for(true);
  assert_int_equal(sl_ledger_open(path, &o, NULL, &held), 0);
  sl__ledger_pause(held, true);
  sl_ledger_row_t r = sample_row(777777);
  assert_int_equal(sl_ledger_append(held, &r, NULL, NULL), 0);
  assert_int_equal(sl_ledger_commit_pending(path, &rows), SL_EBUSY);
  sl_ledger_close(held);
  assert_int_equal(count_rows(path), before + 3);

  sl_ledger_verify_t v;
  assert_int_equal(sl_ledger_verify(path, 0, NULL, &v), 0);
  rm_ledger(path);
}

/* Journals of the earlier record formats are still replayed: "SLJ1" (FNV-1a,
 * a byte per multiply, of sequence then payload) and "SLJ2" (the same of
 * payload then sequence). The records of a crashed child are rewritten into
 * the old format here. */
static uint64_t fnv1a(uint64_t h, const unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ULL;
  return h;
}

static void old_format_replays(const char *magic) {
  char path[600], jpath[700];
  tmp_ledger(path, sizeof path);
  snprintf(jpath, sizeof jpath, "%s-pending", path);
  pending_rows(path, 3);
  int fd = open(jpath, O_RDWR);
  assert_true(fd >= 0);
  struct stat sb;
  assert_int_equal(fstat(fd, &sb), 0);
  unsigned char *buf = malloc((size_t)sb.st_size);
  assert_int_equal(pread(fd, buf, (size_t)sb.st_size, 0), sb.st_size);
  int records = 0;
  const uint64_t basis = 1469598103934665603ULL;
  for (size_t off = 0; off + 24 <= (size_t)sb.st_size; records++) {
    unsigned char *r = buf + off;
    assert_memory_equal(r, "SLJ3", 4);
    uint32_t len = r[4] | r[5] << 8 | r[6] << 16 | (uint32_t)r[7] << 24;
    memcpy(r, magic, 4);
    uint64_t sum = !strcmp(magic, "SLJ1") ? fnv1a(fnv1a(basis, r + 8, 8), r + 16, len)
                                          : fnv1a(fnv1a(basis, r + 16, len), r + 8, 8);
    for (int i = 0; i < 8; i++) r[16 + len + i] = (unsigned char)(sum >> (8 * i));
    off += 24 + len;
  }
  assert_int_equal(records, 3);
  assert_int_equal(pwrite(fd, buf, (size_t)sb.st_size, 0), sb.st_size);
  close(fd);
  free(buf);
  uint64_t replayed = 0;
  reopen(path, &replayed);
  assert_int_equal(replayed, 3);
  assert_int_equal(count_rows(path), 3);
  sl_ledger_verify_t v;
  assert_int_equal(sl_ledger_verify(path, 0, NULL, &v), 0);
  rm_ledger(path);
}

static void test_journal_first_format_replays(void **state) { old_format_replays("SLJ1"); }
static void test_journal_second_format_replays(void **state) { old_format_replays("SLJ2"); }

static void on_ack(void *data, int status) {
  int *acks = data;
  if (!status) (*acks)++;
}

/* The point of the journal: the callback does not wait for the SQLite commit
 * (here the writer is paused), and the row is committed later all the same. */
static void test_journal_callback_before_commit(void **state) {
  char path[600];
  tmp_ledger(path, sizeof path);
  uv_loop_t loop;
  uv_loop_init(&loop);
  sl_ledger_t *l;
  sl_ledger_opts_t o = opts_for(true);
  assert_int_equal(sl_ledger_open(path, &o, &loop, &l), 0);
  sl__ledger_pause(l, true);
  int acks = 0;
  for (int i = 0; i < 10; i++) {
    sl_ledger_row_t r = sample_row(i);
    assert_int_equal(sl_ledger_append(l, &r, on_ack, &acks), 0);
  }
  assert_int_equal(acks, 0); /* never from inside the append */
  for (int i = 0; i < 5 && acks < 10; i++) uv_run(&loop, UV_RUN_NOWAIT);
  assert_int_equal(acks, 10);
  assert_int_equal(count_rows(path), 0);
  sl__ledger_pause(l, false);
  sl_ledger_close(l);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  assert_int_equal(count_rows(path), 10);
  rm_ledger(path);
}

/* Rows offered without pause for a while: the journal never holds more than
 * about its limit plus what is not committed yet, and every row is committed. */
typedef struct {
  sl_ledger_t *l;
  int sent, total;
  off_t max_size;
  const char *jpath;
  uv_idle_t idle;
} flood_t;

static void on_flood(uv_idle_t *h) {
  flood_t *f = h->data;
  for (int k = 0; k < 64 && f->sent < f->total; k++) {
    sl_ledger_row_t r = sample_row(f->sent);
    int rc = sl_ledger_append(f->l, &r, NULL, NULL);
    if (rc == SL_EBUSY) break;
    assert_int_equal(rc, 0);
    f->sent++;
  }
  struct stat sb;
  if (!stat(f->jpath, &sb) && sb.st_size > f->max_size) f->max_size = sb.st_size;
  if (f->sent == f->total) uv_idle_stop(h);
}

static void test_journal_stays_small_under_load(void **state) {
  char path[600], jpath[700];
  tmp_ledger(path, sizeof path);
  snprintf(jpath, sizeof jpath, "%s-pending", path);
  uv_loop_t loop;
  uv_loop_init(&loop);
  sl_ledger_opts_t o = opts_for(true);
  o.journal_max_bytes = 64 << 10;
  o.queue_max = 2048; /* what may be pending: about 1 MB of records */
  flood_t f = {.total = 40000, .jpath = jpath};
  assert_int_equal(sl_ledger_open(path, &o, &loop, &f.l), 0);
  uv_idle_init(&loop, &f.idle);
  f.idle.data = &f;
  uv_idle_start(&f.idle, on_flood);
  while (f.sent < f.total) uv_run(&loop, UV_RUN_ONCE);
  sl_ledger_flush(f.l);
  sl_ledger_stats_t st;
  sl_ledger_stats(f.l, &st);
  uv_close((uv_handle_t *)&f.idle, NULL);
  sl_ledger_close(f.l);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  print_message("journal: largest %lld bytes, %llu cuts, %llu rows\n", (long long)f.max_size,
                (unsigned long long)st.journal_cuts, (unsigned long long)st.committed);
  assert_true(st.journal_cuts > 0);
  /* 40,000 rows of ~480 bytes would be ~19 MB: the journal holds the queue's
   * worth (2048 rows, ~1 MB) plus the limit, not everything ever appended */
  assert_true(f.max_size < 3 << 20);
  assert_int_equal(count_rows(path), 40000);
  sl_ledger_verify_t v;
  assert_int_equal(sl_ledger_verify(path, 0, NULL, &v), 0);
  rm_ledger(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_sigkill_under_load),
                                     cmocka_unit_test(test_sigkill_under_load_journal),
                                     cmocka_unit_test(test_journal_torn_and_damaged_records),
                                     cmocka_unit_test(test_journal_first_format_replays),
      cmocka_unit_test(test_journal_second_format_replays),
                                     cmocka_unit_test(test_journal_callback_before_commit),
                                     cmocka_unit_test(test_sigkill_under_load_journal_compacting),
                                     cmocka_unit_test(test_journal_stays_small_under_load)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
