/* bench_ledger: how many rows per second the ledger writer sustains, measured
 * the way the gateway uses it — appends from a libuv loop, commit callbacks back
 * on the loop — from the first append to the last commit callback.
 * Also: the loop thread's CPU per row, and the commit latency of a lone row
 * (what a request waits before its bytes may leave).
 * With --journal (durability "journal", what `sluice serve` uses): callbacks
 * come once a row is in the pending journal, so the latency printed is the
 * callback's, and rows/s counts until the last row is committed (the close).
 * With --rate R the rows are offered at R per second, a few per loop turn, as
 * the gateway appends them under steady load: the CPU per row printed then is
 * what the ledger adds to each request (the figure behind the ledger's share
 * of bench-gateway), not the cost of a queue that never empties.
 *   bench_ledger [ROWS] [--full | --journal] [--rate R] [--keep FILE]
 *   (target: >= 20,000 rows/s) */
#include "gateway/ledger.h"
#include "sl_err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

typedef struct {
  sl_ledger_t *l;
  long total, sent, done, failed, busy_retries;
  double rate, t0; /* --rate: rows offered per second, from t0 */
  bool idle_on;
  uv_idle_t idle;
  uv_timer_t retry; /* journal mode: no callback will say the queue has room */
  uv_timer_t tick;  /* --rate: every millisecond, the rows due by then */
} bench_t;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CPU seconds of the whole process (loop and writer threads), or of the calling
 * thread: unlike wall time, not inflated when other work shares the machine. */
static double cpu_s(int who) {
  struct rusage u;
  getrusage(who, &u);
  return u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 + u.ru_stime.tv_sec +
         u.ru_stime.tv_usec / 1e6;
}

static void on_idle(uv_idle_t *h);

static void on_retry(uv_timer_t *t) {
  bench_t *b = t->data;
  if (!b->idle_on && b->sent < b->total && b->rate <= 0) {
    b->idle_on = true;
    uv_idle_start(&b->idle, on_idle);
  }
}

static void on_done(void *data, int status) {
  bench_t *b = data;
  b->done++;
  if (status) b->failed++;
  if (!b->idle_on && b->sent < b->total && b->rate <= 0) { /* the queue has room again */
    b->idle_on = true;
    uv_idle_start(&b->idle, on_idle);
  }
}

/* A typical request: a few entity types with offsets, a classification. */
static void fill(sl_ledger_row_t *r, long i, char *rid, char *sha) {
  memset(r, 0, sizeof *r);
  snprintf(rid, 32, "r-%ld", i);
  bool ext = i % 3 == 0;
  r->kind = ext && i % 2 ? SL_LEDGER_EGRESS : SL_LEDGER_REQUEST;
  r->request_id = rid;
  r->tenant = i % 2 ? "team-a" : "team-b";
  r->key_id = i % 2 ? "key-a" : "key-b";
  r->rule = ext ? "hard-to-frontier" : "keep-sensitive-inside";
  r->policy_version = "9c56cc51b374c3ba189210d5b6d4bf57790d351c96c47c02190ecf1e430635ab";
  r->backend = ext ? "openai" : "local";
  r->model = ext ? "gpt-4o" : "qwen2.5-0.5b-instruct";
  r->location = ext ? "external" : "in-process";
  r->egress = ext;
  r->destination = ext ? "api.openai.com:443" : NULL;
  r->bytes_out = ext ? 1834 : 0;
  r->sha256_out = ext ? sha : NULL;
  r->level = ext ? "internal" : "confidential";
  r->entity_types = "{\"EMAIL_ADDRESS\":{\"count\":2,\"offsets\":[[10,27],[88,107]]},"
                    "\"PERSON\":{\"count\":1,\"offsets\":[[0,9]]},\"DATE_TIME\":{\"count\":1,"
                    "\"offsets\":[[140,150]]}}";
  r->redactions = ext ? "{\"PERSON\":1}" : "{}";
  r->classification = "{\"level\":\"confidential\",\"difficulty\":0.412000,\"label\":"
                      "\"medium\",\"entities\":4,\"error\":false}";
  r->difficulty = 0.412;
  r->tokens_in = 412;
  r->tokens_out = 96;
  r->cost_usd = ext ? 0.00199 : 0.0000813;
  r->avoided_cost_usd = ext ? 0 : 0.00199;
  r->latency_ms = 830;
  r->http_status = 200;
  r->status = r->kind == SL_LEDGER_EGRESS ? "in_flight" : "ok";
}

/* Offer rows as fast as the queue takes them, a chunk per loop iteration, as a
 * busy gateway would; on a full queue, wait for commits (a gateway would answer
 * 429/503 meanwhile) rather than spin and steal the writer's CPU. */
static void on_idle(uv_idle_t *h) {
  bench_t *b = h->data;
  static char sha[65];
  if (!sha[0]) sl_ledger_sha256_hex("body", 4, sha);
  long due = b->total;
  if (b->rate > 0) { /* paced: what is due by now, a loop turn at a time */
    due = (long)((now_s() - b->t0) * b->rate) + 1;
    if (due > b->total) due = b->total;
  }
  for (int k = 0; k < 1024 && b->sent < due; k++) {
    sl_ledger_row_t r;
    char rid[32];
    fill(&r, b->sent, rid, sha);
    int rc = sl_ledger_append(b->l, &r, on_done, b);
    if (rc == SL_EBUSY) {
      b->busy_retries++;
      b->idle_on = false;
      uv_idle_stop(h);
      uv_timer_start(&b->retry, on_retry, 1, 0);
      return;
    }
    if (rc) {
      fprintf(stderr, "append: %s\n", sl_strerror(rc));
      exit(1);
    }
    b->sent++;
  }
  if (b->sent == b->total) {
    b->idle_on = false;
    uv_idle_stop(h);
  }
}

static void on_tick(uv_timer_t *t) {
  bench_t *b = t->data;
  on_idle(&b->idle); /* appends what is due; never starts the idle handle */
  if (b->sent == b->total) uv_timer_stop(t);
}

/* Commit latency of a lone row on an idle ledger: what a request waits before
 * its bytes may go to an external backend. */
typedef struct {
  bool done;
} one_t;

static void on_one(void *data, int status) { ((one_t *)data)->done = true; }

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void latency(uv_loop_t *loop, sl_ledger_t *l, double *p50, double *p99) {
  enum { N = 200 };
  double lat[N];
  char rid[32], sha[65];
  sl_ledger_sha256_hex("body", 4, sha);
  for (int i = 0; i < N; i++) {
    sl_ledger_row_t r;
    fill(&r, i, rid, sha);
    one_t one = {false};
    double t = now_s();
    if (sl_ledger_append(l, &r, on_one, &one)) exit(1);
    while (!one.done) uv_run(loop, UV_RUN_ONCE);
    lat[i] = (now_s() - t) * 1e3;
  }
  qsort(lat, N, sizeof lat[0], cmp_double);
  *p50 = lat[N / 2];
  *p99 = lat[N * 99 / 100];
}

int main(int argc, char **argv) {
  long rows = 200000;
  bool full = false, journal = false;
  double rate = 0;
  const char *keep = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--full")) full = true;
    else if (!strcmp(argv[i], "--journal")) journal = true;
    else if (!strcmp(argv[i], "--keep") && i + 1 < argc) keep = argv[++i];
    else if (!strcmp(argv[i], "--rate") && i + 1 < argc) rate = atof(argv[++i]);
    else if (argv[i][0] != '-' && atol(argv[i]) > 0) rows = atol(argv[i]);
    else {
      fprintf(stderr, "usage: bench_ledger [ROWS] [--journal] [--full] [--rate ROWS_PER_S] [--keep PATH]\n");
      return strcmp(argv[i], "--help") ? 2 : 0;
    }
  }
  if (rows <= 0) rows = 200000;
  char path[512];
  if (keep) {
    snprintf(path, sizeof path, "%s", keep);
  } else {
    const char *tmp = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/bench_ledger_%d.db", tmp && *tmp ? tmp : "/tmp",
             (int)getpid());
  }
  uv_loop_t loop;
  uv_loop_init(&loop);
  bench_t b = {.total = rows, .rate = rate};
  sl_ledger_opts_t o = {.sync = full ? SL_LEDGER_SYNC_FULL : SL_LEDGER_SYNC_NORMAL,
                        .reject_on_failure = true, .journal = journal};
  int rc = sl_ledger_open(path, &o, &loop, &b.l);
  if (rc) {
    fprintf(stderr, "open %s: %s\n", path, sl_strerror(rc));
    return 1;
  }
  double p50, p99;
  latency(&loop, b.l, &p50, &p99);
  uv_idle_init(&loop, &b.idle);
  b.idle.data = &b;
  uv_timer_init(&loop, &b.retry);
  b.retry.data = &b;
  double t0 = now_s(), c0 = cpu_s(RUSAGE_SELF), l0 = cpu_s(RUSAGE_THREAD);
  b.t0 = t0;
  uv_timer_init(&loop, &b.tick);
  b.tick.data = &b;
  if (rate > 0) {
    uv_timer_start(&b.tick, on_tick, 1, 1);
  } else {
    b.idle_on = true;
    uv_idle_start(&b.idle, on_idle);
  }
  while (b.done < b.total) uv_run(&loop, UV_RUN_ONCE);
  double dl = cpu_s(RUSAGE_THREAD) - l0;
  sl_ledger_flush(b.l); /* every row committed */
  double dt = now_s() - t0, dc = cpu_s(RUSAGE_SELF) - c0;
  sl_ledger_stats_t st;
  sl_ledger_stats(b.l, &st);
  uv_close((uv_handle_t *)&b.idle, NULL);
  uv_close((uv_handle_t *)&b.retry, NULL);
  uv_close((uv_handle_t *)&b.tick, NULL);
  sl_ledger_close(b.l);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);

  sl_ledger_verify_t v;
  double tv = now_s();
  rc = sl_ledger_verify(path, 0, NULL, &v);
  double dv = now_s() - tv;
  char paced[48] = "";
  if (rate > 0) snprintf(paced, sizeof paced, ", offered at %.0f rows/s", rate);
  printf("bench_ledger: %ld rows in %.3f s: %.0f rows/s (%s, sync %s%s, %llu batches, largest "
         "%zu, %ld failed, %ld queue-full pauses); verify %s in %.3f s (%.0f rows/s)\n",
         rows, dt, rows / dt, journal ? "journal" : "commit", full ? "full" : "normal", paced,
         (unsigned long long)st.batches,
         st.max_batch, b.failed, b.busy_retries, rc ? "FAILED" : "ok", dv, v.rows / dv);
  printf("bench_ledger: CPU %.2f us per row (%.0f rows per CPU-second, both threads); "
         "loop-thread CPU %.2f us per row (appends, journal writes, callbacks and making the "
         "rows); idle %s latency p50 "
         "%.2f ms, p99 %.2f ms\n",
         dc * 1e6 / rows, rows / dc, dl * 1e6 / rows, journal ? "callback" : "commit",
         p50, p99);
  if (!keep) {
    char p[600];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-pending", path);
    unlink(p);
  }
  return rc || b.failed || (rate <= 0 && rows / dt < 20000) ? 1 : 0;
}
