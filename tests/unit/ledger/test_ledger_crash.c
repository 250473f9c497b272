/* Crash safety of the ledger itself: a child process appends rows from a libuv
 * loop as fast as it can and reports each done callback (the moment the gateway
 * may acknowledge a request or send bytes out) through a pipe; the parent kills
 * it with SIGKILL mid-stream. Afterwards the chain verifies, every acknowledged
 * row is there, and the ledger reopens and carries on. Both durabilities:
 * "commit" (callbacks after the SQLite commit) and "journal" (callbacks once
 * the row is in the pending journal; the next open commits what is pending).
 * Also: a record whose append never finished is not there, an earlier
 * version's torn last record (the process died inside write) is ignored, and a
 * damaged record is refused, not committed: the records after it are, and a gap
 * row records the loss. */
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

/* The same with the smallest journal ring (1 MiB), so that appends go round it
 * many times, reusing the space of committed rows, before the kill. */
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

static long long query_int(const char *path, const char *sql) {
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  sqlite3_stmt *q;
  assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  long long n = sqlite3_column_int64(q, 0);
  sqlite3_finalize(q);
  sqlite3_close(db);
  return n;
}

static long long count_rows(const char *path) {
  return query_int(path, "SELECT count(*) FROM requests");
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

/* The records of a journal its writer left: where each starts and how long
 * it is (a fresh ring holds them after its header page, 8-byte aligned). */
static int journal_records(const char *jpath, off_t *at, size_t *len, int max) {
  int fd = open(jpath, O_RDONLY);
  assert_true(fd >= 0);
  unsigned char h[8];
  int n = 0;
  assert_int_equal(pread(fd, h, 8, 0), 8);
  assert_memory_equal(h, "SLJRING1", 8);
  for (off_t off = 4096; n < max && pread(fd, h, 8, off) == 8 && !memcmp(h, "SLJ3", 4); n++) {
    uint32_t plen = h[4] | h[5] << 8 | h[6] << 16 | (uint32_t)h[7] << 24;
    at[n] = off;
    len[n] = 24 + plen;
    off += (off_t)((len[n] + 7) & ~(size_t)7);
  }
  close(fd);
  return n;
}

static void flip_byte(const char *jpath, off_t at) {
  int fd = open(jpath, O_RDWR);
  assert_true(fd >= 0);
  unsigned char b;
  assert_int_equal(pread(fd, &b, 1, at), 1);
  b ^= 0x55;
  assert_int_equal(pwrite(fd, &b, 1, at), 1);
  close(fd);
}

static void test_journal_torn_and_damaged_records(void **state) {
  char path[600], jpath[700];
  tmp_ledger(path, sizeof path);
  snprintf(jpath, sizeof jpath, "%s-pending", path);
  off_t at[8];
  size_t len[8];

  /* 5 pending rows, the last one's magic never stored (the append's final
   * store: the process died just before it, and before the header counted
   * it): 4 come back, and no gap row */
  pending_rows(path, 5);
  assert_int_equal(journal_records(jpath, at, len, 8), 5);
  int fd = open(jpath, O_RDWR);
  assert_true(fd >= 0);
  static const unsigned char zero[8];
  assert_int_equal(pwrite(fd, zero, 8, at[4]), 8);
  unsigned char seq4[8]; /* the header's last sequence number: the fourth's */
  assert_int_equal(pread(fd, seq4, 8, at[3] + 8), 8);
  assert_int_equal(pwrite(fd, seq4, 8, 16), 8);
  close(fd);
  uint64_t replayed = 0;
  reopen(path, &replayed);
  assert_int_equal(replayed, 4);
  assert_int_equal(count_rows(path), 4);
  struct stat sb;
  assert_int_equal(stat(jpath, &sb), 0);
  assert_int_equal(sb.st_size, 0); /* emptied once committed */

  /* the same after the header counted it (the magic destroyed later): the
   * header's count says a row is missing, and a gap row records it */
  pending_rows(path, 3);
  assert_int_equal(journal_records(jpath, at, len, 8), 3);
  fd = open(jpath, O_RDWR);
  assert_true(fd >= 0);
  assert_int_equal(pwrite(fd, zero, 8, at[2]), 8);
  close(fd);
  reopen(path, &replayed);
  assert_int_equal(replayed, 2);
  assert_int_equal(count_rows(path), 4 + 2 + 1);
  assert_int_equal(query_int(path, "SELECT count(*) FROM requests WHERE kind = 'gap'"), 1);

  /* a ring cut short: the rows after the cut are counted as lost */
  pending_rows(path, 4);
  assert_int_equal(journal_records(jpath, at, len, 8), 4);
  assert_int_equal(truncate(jpath, at[2] + 10), 0);
  reopen(path, &replayed);
  assert_int_equal(replayed, 2);
  assert_int_equal(count_rows(path), 7 + 2 + 1);
  assert_int_equal(query_int(path, "SELECT json_extract(classification, '$.unrecorded_rows') "
                                   "FROM requests WHERE kind = 'gap' ORDER BY id DESC LIMIT 1"),
                   2);

  /* an earlier version's journal (records back to back, appended with
   * write(2)) whose last record was cut short: the others come back */
  pending_rows(path, 3);
  assert_int_equal(journal_records(jpath, at, len, 8), 3);
  fd = open(jpath, O_RDWR);
  assert_true(fd >= 0);
  unsigned char *lin = malloc(3 * 2048);
  size_t lin_len = 0;
  for (int i = 0; i < 3; i++) {
    assert_true(len[i] <= 2048);
    assert_int_equal(pread(fd, lin + lin_len, len[i], at[i]), (ssize_t)len[i]);
    lin_len += len[i];
  }
  assert_int_equal(ftruncate(fd, 0), 0);
  assert_int_equal(pwrite(fd, lin, lin_len - 20, 0), (ssize_t)(lin_len - 20));
  close(fd);
  free(lin);
  reopen(path, &replayed);
  assert_int_equal(replayed, 2);
  assert_int_equal(count_rows(path), 12);

  /* opening again commits nothing twice */
  reopen(path, &replayed);
  assert_int_equal(replayed, 0);
  assert_int_equal(count_rows(path), 12);

  /* a flipped byte inside the second record: its checksum fails, so it is
   * not trusted; the third comes back, and a gap row records the lost one */
  pending_rows(path, 3);
  assert_int_equal(journal_records(jpath, at, len, 8), 3);
  flip_byte(jpath, at[1] + 40);
  reopen(path, &replayed);
  assert_int_equal(replayed, 2);
  assert_int_equal(count_rows(path), 15);
  {
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT id, classification FROM requests "
                                        "WHERE kind = 'gap' AND id > 12",
                                        -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int64(q, 0), 13); /* before the rows of that replay */
    const char *g = (const char *)sqlite3_column_text(q, 1);
    assert_non_null(strstr(g, "\"unrecorded_rows\":1,"));
    assert_non_null(strstr(g, "\"damaged_journal_rows\":1"));
    assert_int_equal(sqlite3_step(q), SQLITE_DONE);
    sqlite3_finalize(q);
    sqlite3_close(db);
  }

  /* damage in the middle of a longer run: only the damaged records are lost */
  pending_rows(path, 6);
  assert_int_equal(journal_records(jpath, at, len, 8), 6);
  fd = open(jpath, O_RDWR);
  assert_true(fd >= 0);
  unsigned char junk[40];
  memset(junk, 0xA5, sizeof junk);
  assert_int_equal(pwrite(fd, junk, sizeof junk, at[3] - 20), (ssize_t)sizeof junk);
  close(fd);
  reopen(path, &replayed);
  assert_true(replayed >= 4 && replayed <= 5);
  assert_int_equal(count_rows(path), 15 + (long long)replayed + 1);

  /* the LAST record whole but failing its checksum is damage, not an append
   * that never finished (that leaves no magic): a gap row records its row */
  long long gaps_before = count_rows(path);
  pending_rows(path, 3);
  assert_int_equal(journal_records(jpath, at, len, 8), 3);
  flip_byte(jpath, at[2] + (off_t)len[2] - 20);
  reopen(path, &replayed);
  assert_int_equal(replayed, 2);
  assert_int_equal(count_rows(path), gaps_before + 2 + 1); /* two rows and a gap row */

  /* header-like bytes in an older record's remains (a text field ending in
   * "SLJ3" before the next field's length, partly overwritten): not a record,
   * so no gap row for it */
  long long before_stray = count_rows(path);
  pending_rows(path, 2);
  assert_int_equal(journal_records(jpath, at, len, 8), 2);
  unsigned char stray[64];
  memset(stray, 'x', sizeof stray);
  memcpy(stray, "SLJ3\x10\0\0\0aaaaaaaa", 16); /* length 16, "sequence" from text */
  fd = open(jpath, O_RDWR);
  assert_true(fd >= 0);
  off_t after = at[1] + (off_t)((len[1] + 7) & ~(size_t)7) + 64;
  assert_int_equal(pwrite(fd, stray, sizeof stray, after), (ssize_t)sizeof stray);
  close(fd);
  reopen(path, &replayed);
  assert_int_equal(replayed, 2);
  assert_int_equal(count_rows(path), before_stray + 2);

  /* a flipped bit in the last record's sequence number: one row lost, and the
   * gap row says one, not the distance to the flipped number */
  long long before_seq = count_rows(path);
  pending_rows(path, 3);
  assert_int_equal(journal_records(jpath, at, len, 8), 3);
  fd = open(jpath, O_RDWR);
  assert_true(fd >= 0);
  unsigned char sb1;
  assert_int_equal(pread(fd, &sb1, 1, at[2] + 9), 1);
  sb1 ^= 0x08; /* bit 11 of the number */
  assert_int_equal(pwrite(fd, &sb1, 1, at[2] + 9), 1);
  close(fd);
  reopen(path, &replayed);
  assert_int_equal(replayed, 2);
  assert_int_equal(count_rows(path), before_seq + 3);
  assert_int_equal(query_int(path, "SELECT json_extract(classification, '$.unrecorded_rows') "
                                   "FROM requests WHERE kind = 'gap' ORDER BY id DESC LIMIT 1"),
                   1);

  /* a damaged byte in the ring header's count (it has no checksum): the rows
   * come back, and the gap row counts one unknown row, not the 2^40 rows the
   * damaged count claims */
  long long before_hdr = count_rows(path);
  pending_rows(path, 2);
  assert_int_equal(journal_records(jpath, at, len, 8), 2);
  fd = open(jpath, O_RDWR);
  assert_true(fd >= 0);
  unsigned char hb = 0x1d;
  assert_int_equal(pwrite(fd, &hb, 1, 21), 1); /* byte 5 of the count at offset 16 */
  close(fd);
  reopen(path, &replayed);
  assert_int_equal(replayed, 2);
  assert_int_equal(count_rows(path), before_hdr + 2 + 1);
  assert_int_equal(query_int(path, "SELECT json_extract(classification, '$.unrecorded_rows') "
                                   "FROM requests WHERE kind = 'gap' ORDER BY id DESC LIMIT 1"),
                   1);

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
  /* the same database through a symlink: the same journal, held */
  char alias[700];
  snprintf(alias, sizeof alias, "%s", path);
  strcpy(strrchr(alias, '/') + 1, "alias.db");
  assert_int_equal(symlink("ledger.db", alias), 0);
  assert_int_equal(sl_ledger_commit_pending(alias, &rows), SL_EBUSY);
  unlink(alias);
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
  off_t at[4];
  size_t len[4];
  assert_int_equal(journal_records(jpath, at, len, 4), 3);
  int fd = open(jpath, O_RDWR);
  assert_true(fd >= 0);
  /* back to back, as those versions appended them */
  unsigned char *buf = malloc(3 * 2048);
  size_t size = 0;
  const uint64_t basis = 1469598103934665603ULL;
  for (int i = 0; i < 3; i++) {
    assert_true(len[i] <= 2048);
    unsigned char *r = buf + size;
    assert_int_equal(pread(fd, r, len[i], at[i]), (ssize_t)len[i]);
    size_t plen = len[i] - 24;
    memcpy(r, magic, 4);
    uint64_t sum = !strcmp(magic, "SLJ1") ? fnv1a(fnv1a(basis, r + 8, 8), r + 16, plen)
                                          : fnv1a(fnv1a(basis, r + 16, plen), r + 8, 8);
    for (int k = 0; k < 8; k++) r[16 + plen + k] = (unsigned char)(sum >> (8 * k));
    size += len[i];
  }
  assert_int_equal(ftruncate(fd, 0), 0);
  assert_int_equal(pwrite(fd, buf, size, 0), (ssize_t)size);
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

/* Rows offered without pause for a while into the smallest journal ring: the
 * file stays the ring's size, appends wait (SL_EBUSY) while it is full of rows
 * not committed yet, and every row is committed. */
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
  o.journal_max_bytes = 64 << 10; /* below the least: a ring of 1 MiB */
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
  print_message("journal: largest %lld bytes, %llu releases, %llu rows, %llu refused\n",
                (long long)f.max_size, (unsigned long long)st.journal_cuts,
                (unsigned long long)st.committed, (unsigned long long)st.busy);
  assert_true(st.journal_cuts > 0);
  /* 40,000 rows of ~480 bytes are ~19 MB: the ring went round many times */
  assert_int_equal(f.max_size, 1 << 20);
  assert_int_equal(query_int(path, "SELECT count(*) FROM requests WHERE kind <> 'gap'"), 40000);
  /* every refused append is counted by a gap row (here each was tried again) */
  assert_true(st.busy > 0);
  assert_int_equal(query_int(path, "SELECT coalesce(sum(json_extract(classification, "
                                   "'$.unrecorded_rows')), 0) FROM requests WHERE kind = 'gap'"),
                   (long long)st.busy);
  sl_ledger_verify_t v;
  assert_int_equal(sl_ledger_verify(path, 0, NULL, &v), 0);
  rm_ledger(path);
}

/* A journal far bigger than any sluice writes is refused with an error, not
 * read into memory. */
static void test_journal_oversized(void **state) {
  char path[600], jpath[700];
  tmp_ledger(path, sizeof path);
  snprintf(jpath, sizeof jpath, "%s-pending", path);
  int fd = open(jpath, O_RDWR | O_CREAT, 0600);
  assert_true(fd >= 0);
  assert_int_equal(ftruncate(fd, (off_t)300 << 20), 0); /* sparse */
  close(fd);
  sl_ledger_t *l = NULL;
  sl_ledger_opts_t o = opts_for(true);
  assert_int_not_equal(sl_ledger_open(path, &o, NULL, &l), 0);
  assert_null(l);
  uint64_t rows;
  assert_int_not_equal(sl_ledger_commit_pending(path, &rows), 0);
  rm_ledger(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_sigkill_under_load),
                                     cmocka_unit_test(test_sigkill_under_load_journal),
                                     cmocka_unit_test(test_journal_torn_and_damaged_records),
                                     cmocka_unit_test(test_journal_oversized),
                                     cmocka_unit_test(test_journal_first_format_replays),
      cmocka_unit_test(test_journal_second_format_replays),
                                     cmocka_unit_test(test_journal_callback_before_commit),
                                     cmocka_unit_test(test_sigkill_under_load_journal_compacting),
                                     cmocka_unit_test(test_journal_stays_small_under_load)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
