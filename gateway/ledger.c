/* The ledger writer: callers copy rows into a bounded queue; one thread owns the
 * SQLite connection, takes whatever is queued (up to batch_max) as one
 * transaction, chains each row's hash onto the previous one, commits, and hands
 * the rows back through a uv_async_t so their done callbacks run on the loop
 * thread that appended them (the ledger's own loop, or a port's). Group commit keeps up with bursts: the busier it is, the
 * bigger the batches. With opts.journal each row is first copied into the
 * pending-rows journal (ledger_journal.c, a ring mapped into the process) — the
 * rows appended during one turn of a loop together, at the end of that turn —
 * and its callback follows at once; the writer then batches for throughput, not
 * latency. */
#include "ledger_int.h"

#include "sl_err.h"
#include "sl_log.h"
#include "sl_str.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define LINGER_NS 1000000L /* up to 1 ms to fill a batch ... */
#define LINGER_ROWS 256     /* ... of this many rows */
#define JOURNAL_LINGER_NS 100000000L /* journaled rows wait for nobody: 100 ms */
#define RETRY_MS 200        /* journaled batch that failed: try again after */
#define JOURNAL_CAP (32u << 20)   /* the journal's ring: 32 MiB by default ... */
#define JOURNAL_CAP_MIN (1u << 20) /* ... at least twice a loop turn's records and one more */
#define JOURNAL_SLACK (128u << 10) /* kept free: a skip at the ring's end, another loop's turn */
#define MAX_LOST (1ull << 32) /* rows a replay may count as lost at once */
#define DAMAGED_SEQ_WINDOW 4096 /* a damaged record's number: at most this far past the last */

/* The string fields of a row, in the order they are copied. */
enum {
  F_REQUEST_ID, F_TENANT, F_KEY_ID, F_RULE, F_POLICY_VERSION, F_BACKEND, F_MODEL,
  F_LOCATION, F_DESTINATION, F_SHA256_OUT, F_LEVEL, F_ENTITY_TYPES, F_REDACTIONS,
  F_CLASSIFICATION, F_STATUS, F__N
};

typedef struct entry {
  struct entry *next;
  sl_ledger_port_t *port; /* NULL: the ledger's own loop */
  uint64_t jseq;          /* journal sequence number (journal mode) */
  uint64_t jend;          /* where its journal record ends (logical offset) */
  sl_ledger_done_cb cb;
  void *data;
  int status;
  bool sync;          /* a sl_ledger_append_sync() caller waits on it */
  bool pooled;        /* store[] is POOL_STORE bytes and goes back to the pool */
  bool finished;      /* guarded by the ledger's mutex */
  bool merged;        /* writer: an egress row its request's row stands for */
  unsigned egress_rows; /* sl_ledger_row_t's (not journaled: replayed rows have 0) */
  sl_ledger_kind_t kind;
  bool egress;
  int http_status;
  int64_t ts_ms, bytes_out, tokens_in, tokens_out, latency_ms;
  double difficulty, cost_usd, avoided_cost_usd;
  const char *s[F__N]; /* point into store[] */
  size_t n[F__N];
  char store[];
} entry_t;

/* Entries whose strings fit in POOL_STORE bytes (nearly all: a few names and
 * short JSON) are recycled instead of freed: a malloc/free pair per request
 * across two threads made glibc return and re-fault heap pages on every burst,
 * which cost the loop thread several microseconds per append. */
#define POOL_STORE 1024
#define POOL_MAX 8192 /* entries kept (about 10 MB at most) */

/* Journal mode, per loop (loop thread only). An append made on a loop is
 * encoded and framed at once, but goes to the journal with the others of the
 * same turn: the loop's idle phase copies them into the journal and queues
 * them under one lock, then runs their callbacks — a callback still comes only
 * once its row is in the journal, and an append takes no lock of its own. Rows
 * appended without a loop are in the journal before the append returns. */
#define STAGE_ROWS 256          /* written at once when this many are gathered ... */
#define STAGE_BYTES (256u << 10) /* ... or this many bytes of records */

typedef struct {
  sl_ledger_done_cb cb;
  void *data;
  int status;
} call_t;

typedef struct {
  call_t *v;
  size_t n, cap;
} calls_t;

typedef struct {
  uv_idle_t idle;
  struct sl_ledger *l;
  entry_t *head, *tail; /* rows framed, not yet written */
  size_t rows;
  bool egress;          /* one of them is an EGRESS row */
  bool special;         /* one of them is not pooled */
  unsigned char *rec;   /* their records, back to back */
  size_t rec_len, rec_cap;
  calls_t due;          /* callbacks for the next turn */
  size_t flushed;       /* due[0, flushed) have their rows written (or failed) */
  calls_t running;      /* the ones being run (a callback may append again) */
} soon_t;

/* Rows that never reached the ledger, for the gap row that records them. */
typedef struct {
  int64_t rows, egress_rows, bytes_out, from_ms, to_ms;
  int64_t damaged; /* of rows: in damaged journal records (kind and bytes unknown) */
} gap_t;

struct sl_ledger {
  uv_loop_t *loop;
  soon_t soon;               /* journal mode: rows and callbacks of `loop` */
  uv_async_t async;          /* owned; freed in its close callback */
  sqlite3 *db;               /* writer thread only, after open */
  sqlite3_stmt *insert;
  sqlite3_stmt *last;
  pthread_t thread;
  bool thread_started;
  const char *open_path;     /* during sl_ledger_open() only */
  /* the files the connection writes (file_moved), writer thread only */
  dev_t dev, wal_dev;
  ino_t ino, wal_ino;
  bool moved; /* they were gone at the last batch (logged once) */
  /* batches that failed since the last that committed, and when a failure was
   * last logged (once a minute: a full disk fails every batch), writer only */
  unsigned long failing;
  int64_t fail_logged_ms;
  bool batch_failing;      /* under mu: the last batch with rows failed */
  bool journal_gone;       /* (atomic) the journal file left its path: appends are refused */
  uint64_t health_busy;    /* under mu: st.busy at the last sl_ledger_failing() ... */
  int64_t health_busy_ms;  /* ... and when it was last seen growing */
  bool ready;                /* the writer has opened the database (or failed) */
  int open_rc;
  int handles_closed;        /* of the loop's two: idle and async */
  sl_ledger_opts_t opts;

  pthread_mutex_t jmu;       /* journal mode: one appender at a time writes the journal
                                and queues (taken before mu, never the reverse) */
  pthread_mutex_t mu;
  pthread_cond_t cv_work;    /* writer waits for rows */
  bool writer_waiting;       /* only then does an append need to signal */
  bool lingering;            /* gathering a batch: signal only once it is full */
  pthread_cond_t cv_done;    /* sync appenders and flush wait for commits */
  entry_t *q_head, *q_tail;  /* queued, not yet taken by the writer */
  size_t q_len;
  bool q_egress;             /* the queue may hold an EGRESS row (else no merge pass) */
  bool q_special;            /* ... or a row with a callback, a waiter or its own memory
                                (else a committed batch goes back to the pool at once) */
  size_t writing;            /* rows in the transaction being written */
  entry_t *done_head, *done_tail; /* written, callbacks not yet run on the loop */
  bool stopping;
  bool paused;               /* test hook */
  int fail_batches;          /* test hook */
  int flushing;              /* sl_ledger_flush() callers waiting: no lingering */
  sl_ledger_stats_t st;

  sl_ledger_hasher_t hasher; /* writer only */
  char ts_text[40];          /* writer only: the last row's ts as text ... */
  int64_t ts_sec;            /* ... and its second (-1: none) */
  gap_t gap;                 /* writer only: rows lost to failed batches */
  gap_t refused;             /* under mu: rows refused at their append (full queue or
                                journal), moved to gap by the writer */

  pthread_mutex_t pool_mu;   /* may be taken while holding mu, never the reverse */
  entry_t *pool;
  size_t pool_n;
  sl_ledger_port_t *ports;   /* every port opened; freed with the ledger */

  sl_ljournal_t *journal;    /* journal mode (opts.journal) */
  uint64_t jseq_next;        /* guarded by jmu */
  sqlite3_stmt *meta_set;    /* writer: records the last journal seq committed */
  size_t journal_cap;        /* the journal ring's size */
  int64_t replayed;          /* rows committed from the journal at open */
};

/* Another loop's way back: its own async handle and list of finished rows. */
struct sl_ledger_port {
  uv_async_t async;
  soon_t soon;
  sl_ledger_t *l;
  entry_t *done_head, *done_tail; /* guarded by l->mu */
  bool post;                      /* guarded by l->mu: rows for it in this batch */
  bool closed;                    /* guarded by l->mu: its loop is gone */
  sl_ledger_port_t *next;
};

static entry_t *entry_alloc(sl_ledger_t *l, size_t store) {
  entry_t *e = NULL;
  if (store <= POOL_STORE) {
    pthread_mutex_lock(&l->pool_mu);
    if ((e = l->pool)) {
      l->pool = e->next;
      l->pool_n--;
    }
    pthread_mutex_unlock(&l->pool_mu);
    if (!e) e = malloc(sizeof *e + POOL_STORE);
    if (e) {
      memset(e, 0, sizeof *e);
      e->pooled = true;
    }
    return e;
  }
  if ((e = malloc(sizeof *e + store))) memset(e, 0, sizeof *e);
  return e;
}

/* Puts the pooled entries first..last (n of them, linked in order) back in the
 * pool in one step, if it has room for them all. */
static bool pool_put(sl_ledger_t *l, entry_t *first, entry_t *last, size_t n) {
  pthread_mutex_lock(&l->pool_mu);
  bool room = l->pool_n + n <= POOL_MAX;
  if (room) {
    last->next = l->pool;
    l->pool = first;
    l->pool_n += n;
  }
  pthread_mutex_unlock(&l->pool_mu);
  return room;
}

/* Frees a list of entries, taking the pool's lock once: the list is sorted
 * out before (each entry may be a cache miss), and the pool's part spliced in. */
static void entries_free(sl_ledger_t *l, entry_t *e) {
  entry_t *keep = NULL, *keep_tail = NULL, *spill = NULL;
  size_t n = 0;
  while (e) {
    entry_t *next = e->next;
    __builtin_prefetch(next);
    if (e->pooled) {
      e->next = keep;
      if (!keep) keep_tail = e;
      keep = e;
      n++;
    } else {
      e->next = spill;
      spill = e;
    }
    e = next;
  }
  if (keep && !pool_put(l, keep, keep_tail, n)) { /* full enough: to the allocator */
    keep_tail->next = spill;
    spill = keep;
  }
  while (spill) {
    entry_t *next = spill->next;
    free(spill);
    spill = next;
  }
}

static void entry_free(sl_ledger_t *l, entry_t *e) {
  e->next = NULL;
  entries_free(l, e);
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------------- validation and copy (caller's thread) ---------------- */

static bool hex64(const char *s, size_t n) {
  if (n != 64) return false;
  for (size_t i = 0; i < 64; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
  return true;
}

static bool money_ok(double v) { return isfinite(v) && v >= 0 && v < 1e6; }

static int make_entry(sl_ledger_t *l, const sl_ledger_row_t *r, entry_t **out) {
  const char *src[F__N] = {
      r->request_id, r->tenant, r->key_id, r->rule, r->policy_version, r->backend,
      r->model, r->location, r->destination, r->sha256_out, r->level, r->entity_types,
      r->redactions, r->classification, r->status};
  size_t n[F__N], total = 0;
  for (int i = 0; i < F__N; i++) {
    bool json = i == F_ENTITY_TYPES || i == F_REDACTIONS || i == F_CLASSIFICATION;
    if (!src[i] || !*src[i]) src[i] = json ? "{}" : "";
    n[i] = strlen(src[i]);
    if (n[i] > (json ? SL_LEDGER_MAX_JSON : SL_LEDGER_MAX_NAME)) return SL_ETOOBIG;
    if (sl_utf8_invalid(src[i], n[i]) != SIZE_MAX) return SL_EINVAL;
    total += n[i] + 1;
  }
  if (n[F_SHA256_OUT] && !hex64(src[F_SHA256_OUT], n[F_SHA256_OUT])) return SL_EINVAL;
  if (r->kind != SL_LEDGER_REQUEST && r->kind != SL_LEDGER_EGRESS) return SL_EINVAL;
  if (r->kind == SL_LEDGER_EGRESS && !n[F_REQUEST_ID]) return SL_EINVAL;
  if (r->bytes_out < 0 || r->tokens_in < 0 || r->tokens_out < 0 || r->latency_ms < 0 ||
      r->ts_ms < 0 || r->http_status < 0 || r->http_status > 999)
    return SL_ERANGE;
  if (!money_ok(r->cost_usd) || !money_ok(r->avoided_cost_usd) || !isfinite(r->difficulty) ||
      r->difficulty < 0 || r->difficulty > 1)
    return SL_ERANGE;

  entry_t *e = entry_alloc(l, total);
  if (!e) return SL_ENOMEM;
  char *p = e->store;
  for (int i = 0; i < F__N; i++) {
    memcpy(p, src[i], n[i] + 1);
    e->s[i] = p;
    e->n[i] = n[i];
    p += n[i] + 1;
  }
  e->kind = r->kind;
  e->egress = r->egress;
  e->http_status = r->http_status;
  e->ts_ms = r->ts_ms ? r->ts_ms : now_ms();
  e->bytes_out = r->bytes_out;
  e->tokens_in = r->tokens_in;
  e->tokens_out = r->tokens_out;
  e->latency_ms = r->latency_ms;
  e->difficulty = r->difficulty;
  e->cost_usd = r->cost_usd;
  e->avoided_cost_usd = r->avoided_cost_usd;
  e->egress_rows = r->egress_rows;
  *out = e;
  return 0;
}

/* ---------------- journal records ---------------- */

/* A row as a journal payload: kind, egress, http_status, the integers, the
 * reals (IEEE bits), then each string as u32 length + bytes; little-endian. */
#define JREC_FIXED (1 + 1 + 4 + 5 * 8 + 3 * 8)

static unsigned char *put_le(unsigned char *p, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; i++) *p++ = (unsigned char)(v >> (8 * i));
  return p;
}

static uint64_t get_le(const unsigned char **p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; i--) v = (v << 8) | (*p)[i];
  *p += bytes;
  return v;
}

static uint64_t dbits(double d) {
  uint64_t u;
  memcpy(&u, &d, 8);
  return u;
}

static double bitsd(uint64_t u) {
  double d;
  memcpy(&d, &u, 8);
  return d;
}

static size_t jrec_size(const entry_t *e) {
  size_t n = JREC_FIXED;
  for (int i = 0; i < F__N; i++) n += 4 + e->n[i];
  return n;
}

static void jrec_encode(const entry_t *e, unsigned char *p) {
  *p++ = (unsigned char)e->kind;
  *p++ = e->egress ? 1 : 0;
  p = put_le(p, (uint32_t)e->http_status, 4);
  p = put_le(p, (uint64_t)e->ts_ms, 8);
  p = put_le(p, (uint64_t)e->bytes_out, 8);
  p = put_le(p, (uint64_t)e->tokens_in, 8);
  p = put_le(p, (uint64_t)e->tokens_out, 8);
  p = put_le(p, (uint64_t)e->latency_ms, 8);
  p = put_le(p, dbits(e->difficulty), 8);
  p = put_le(p, dbits(e->cost_usd), 8);
  p = put_le(p, dbits(e->avoided_cost_usd), 8);
  for (int i = 0; i < F__N; i++) {
    p = put_le(p, (uint32_t)e->n[i], 4);
    memcpy(p, e->s[i], e->n[i]);
    p += e->n[i];
  }
}

/* Back to an entry through make_entry(), so a record is validated exactly like
 * an append (a damaged but well-framed record is refused, not committed). */
static int jrec_decode(sl_ledger_t *l, const unsigned char *p, size_t len, entry_t **out) {
  if (len < JREC_FIXED) return SL_EPARSE;
  const unsigned char *end = p + len;
  sl_ledger_row_t r = {0};
  r.kind = (sl_ledger_kind_t)*p++;
  r.egress = *p++ != 0;
  r.http_status = (int)(int32_t)get_le(&p, 4);
  r.ts_ms = (int64_t)get_le(&p, 8);
  r.bytes_out = (int64_t)get_le(&p, 8);
  r.tokens_in = (int64_t)get_le(&p, 8);
  r.tokens_out = (int64_t)get_le(&p, 8);
  r.latency_ms = (int64_t)get_le(&p, 8);
  r.difficulty = bitsd(get_le(&p, 8));
  r.cost_usd = bitsd(get_le(&p, 8));
  r.avoided_cost_usd = bitsd(get_le(&p, 8));
  char *str[F__N] = {0};
  int rc = 0;
  for (int i = 0; i < F__N && !rc; i++) {
    if (end - p < 4) {
      rc = SL_EPARSE;
      break;
    }
    size_t n = (size_t)get_le(&p, 4);
    if ((size_t)(end - p) < n || !(str[i] = malloc(n + 1))) {
      rc = (size_t)(end - p) < n ? SL_EPARSE : SL_ENOMEM;
      break;
    }
    memcpy(str[i], p, n);
    str[i][n] = '\0';
    if (strlen(str[i]) != n) rc = SL_EPARSE; /* no NUL inside a field */
    p += n;
  }
  if (!rc && p != end) rc = SL_EPARSE;
  if (!rc) {
    r.request_id = str[F_REQUEST_ID], r.tenant = str[F_TENANT], r.key_id = str[F_KEY_ID];
    r.rule = str[F_RULE], r.policy_version = str[F_POLICY_VERSION], r.backend = str[F_BACKEND];
    r.model = str[F_MODEL], r.location = str[F_LOCATION], r.destination = str[F_DESTINATION];
    r.sha256_out = str[F_SHA256_OUT], r.level = str[F_LEVEL];
    r.entity_types = str[F_ENTITY_TYPES], r.redactions = str[F_REDACTIONS];
    r.classification = str[F_CLASSIFICATION], r.status = str[F_STATUS];
    if (!r.ts_ms) rc = SL_EPARSE; /* make_entry would stamp it "now" */
    else rc = make_entry(l, &r, out);
  }
  for (int i = 0; i < F__N; i++) free(str[i]);
  return rc;
}

/* ---------------- the writer thread ---------------- */

/* Binds one row and computes its hash. `cv` holds each hashed column as text
 * exactly as it is stored (numbers formatted per the canonical rule). */
static int write_row(sl_ledger_t *l, entry_t *e, int64_t id, char prev[65]) {
  char ibuf[SL_LCOL__N][48];
  const char *val[SL_LCOL__N];
  size_t len[SL_LCOL__N];
  int64_t ints[SL_LCOL__N] = {0};
  double reals[SL_LCOL__N] = {0};
  /* Rows come in time order: the date and time up to the second are formatted
   * once per second, only the milliseconds per row. */
  char *ts = l->ts_text;
  int64_t sec = e->ts_ms >= 0 ? e->ts_ms / 1000 : -1;
  if (sec < 0 || sec != l->ts_sec) {
    sl_ledger_format_ts(e->ts_ms, ts, sizeof l->ts_text);
    l->ts_sec = sec < 0 || strlen(ts) != 24 ? -1 : sec;
  } else {
    int ms = (int)(e->ts_ms % 1000);
    ts[20] = (char)('0' + ms / 100);
    ts[21] = (char)('0' + ms / 10 % 10);
    ts[22] = (char)('0' + ms % 10);
  }

  ints[SL_LCOL_id] = id;
  ints[SL_LCOL_egress] = e->egress ? 1 : 0;
  ints[SL_LCOL_bytes_out] = e->bytes_out;
  ints[SL_LCOL_tokens_in] = e->tokens_in;
  ints[SL_LCOL_tokens_out] = e->tokens_out;
  ints[SL_LCOL_latency_ms] = e->latency_ms;
  ints[SL_LCOL_http_status] = e->http_status;
  reals[SL_LCOL_difficulty] = e->difficulty;
  reals[SL_LCOL_cost_usd] = e->cost_usd;
  reals[SL_LCOL_avoided_cost_usd] = e->avoided_cost_usd;

  static const int text_field[SL_LCOL__N] = {
      [SL_LCOL_request_id] = F_REQUEST_ID + 1, [SL_LCOL_tenant] = F_TENANT + 1,
      [SL_LCOL_key_id] = F_KEY_ID + 1, [SL_LCOL_rule] = F_RULE + 1,
      [SL_LCOL_policy_version] = F_POLICY_VERSION + 1, [SL_LCOL_backend] = F_BACKEND + 1,
      [SL_LCOL_model] = F_MODEL + 1, [SL_LCOL_location] = F_LOCATION + 1,
      [SL_LCOL_destination] = F_DESTINATION + 1, [SL_LCOL_sha256_out] = F_SHA256_OUT + 1,
      [SL_LCOL_level] = F_LEVEL + 1, [SL_LCOL_entity_types] = F_ENTITY_TYPES + 1,
      [SL_LCOL_redactions] = F_REDACTIONS + 1,
      [SL_LCOL_classification] = F_CLASSIFICATION + 1, [SL_LCOL_status] = F_STATUS + 1};

  sqlite3_stmt *st = l->insert;
  for (int c = 0; c < SL_LCOL__N; c++) {
    int b = c + 1;
    switch (sl__ledger_col_type[c]) {
    case SL_LTYPE_I:
      len[c] = sl_itoa(ints[c], ibuf[c]);
      val[c] = ibuf[c];
      sqlite3_bind_int64(st, b, ints[c]);
      break;
    case SL_LTYPE_R6:
    case SL_LTYPE_R9: {
      /* Store the double nearest to the canonical decimal text, so that an
       * auditor formatting the stored value the same way gets the same text. */
      double stored;
      len[c] = sl__ledger_fmt_real(reals[c], sl__ledger_col_type[c], ibuf[c], sizeof ibuf[c],
                                   &stored);
      val[c] = ibuf[c];
      sqlite3_bind_double(st, b, stored);
      break;
    }
    case SL_LTYPE_T:
      if (c == SL_LCOL_ts) {
        val[c] = ts;
        len[c] = strlen(ts);
      } else if (c == SL_LCOL_kind) {
        val[c] = e->kind == SL_LEDGER_EGRESS ? "egress"
                 : e->kind == SL_LEDGER_GAP  ? "gap"
                                             : "request";
        len[c] = strlen(val[c]);
      } else {
        int f = text_field[c] - 1;
        val[c] = e->s[f];
        len[c] = e->n[f];
      }
      sqlite3_bind_text(st, b, val[c], (int)len[c], SQLITE_STATIC);
      break;
    }
  }
  char hash[65];
  int rc = sl__ledger_hash(&l->hasher, prev, val, len, hash);
  if (rc) return rc;
  sqlite3_bind_text(st, SL_LCOL__N + 1, prev, 64, SQLITE_STATIC);
  sqlite3_bind_text(st, SL_LCOL__N + 2, hash, 64, SQLITE_STATIC);
  int src = sqlite3_step(st); /* every parameter is bound again for the next row */
  sqlite3_reset(st);
  if (src != SQLITE_DONE) return SL_EIO;
  memcpy(prev, hash, 65);
  return 0;
}

static int exec(sqlite3 *db, const char *sql) {
  return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : SL_EIO;
}

/* The gap row that records rows lost since the last successful batch. */
static entry_t *gap_entry(sl_ledger_t *l) {
  char from[40], to[40], json[360], damaged[64] = "";
  sl_ledger_format_ts(l->gap.from_ms, from, sizeof from);
  sl_ledger_format_ts(l->gap.to_ms, to, sizeof to);
  if (l->gap.damaged)
    snprintf(damaged, sizeof damaged, ",\"damaged_journal_rows\":%lld", (long long)l->gap.damaged);
  snprintf(json, sizeof json,
           "{\"unrecorded_rows\":%lld,\"egress_rows\":%lld,\"bytes_out\":%lld,"
           "\"from\":\"%s\",\"to\":\"%s\"%s}",
           (long long)l->gap.rows, (long long)l->gap.egress_rows, (long long)l->gap.bytes_out,
           from, to, damaged);
  sl_ledger_row_t r = {.kind = SL_LEDGER_REQUEST,
                       .egress = l->gap.egress_rows > 0,
                       .bytes_out = l->gap.bytes_out,
                       .classification = json,
                       .status = "unrecorded"};
  entry_t *e;
  if (make_entry(l, &r, &e)) return NULL;
  e->kind = SL_LEDGER_GAP;
  return e;
}

/* Widens g's time range to take in [from, to] (before its rows are added). */
static void gap_widen(gap_t *g, int64_t from, int64_t to) {
  if (!g->rows || from < g->from_ms) g->from_ms = from;
  if (!g->rows || to > g->to_ms) g->to_ms = to;
}

static void gap_count(gap_t *g, const entry_t *e) {
  if (e->kind == SL_LEDGER_GAP) return;
  gap_widen(g, e->ts_ms, e->ts_ms);
  g->rows++;
  if (e->kind == SL_LEDGER_EGRESS) {
    g->egress_rows++;
    g->bytes_out += e->bytes_out;
  }
}

static void gap_add(sl_ledger_t *l, const entry_t *batch) {
  for (const entry_t *e = batch; e; e = e->next) gap_count(&l->gap, e);
}

/* The writer takes the rows refused at append into its gap (mu held). */
static bool take_refused(sl_ledger_t *l) {
  gap_t *g = &l->gap, *r = &l->refused;
  if (!r->rows) return false;
  gap_widen(g, r->from_ms, r->to_ms);
  g->rows += r->rows;
  g->egress_rows += r->egress_rows;
  g->bytes_out += r->bytes_out;
  memset(r, 0, sizeof *r);
  return true;
}

static bool same_field(const entry_t *a, const entry_t *b, int f) {
  return a->n[f] == b->n[f] && !memcmp(a->s[f], b->s[f], a->n[f]);
}

/* One row per request where the batch allows it: a request that appended one
 * egress row (its row says so: egress_rows), found in the same batch, sent
 * once to the backend that answered (its row carries the same bytes_out and
 * sha256_out), is written as its request row alone, which holds everything the
 * egress row did. The egress row was in the journal before the bytes left; it
 * is only not copied to SQLite. Rows of a request that was retried or failed
 * over stay as they are, also when an earlier attempt's row (a connect that
 * failed) went in an earlier batch; so do rows replayed from the journal. */
static void merge_egress(entry_t *batch) {
  size_t n = 0, m = 16;
  for (entry_t *e = batch; e; e = e->next) n += e->kind == SL_LEDGER_EGRESS;
  if (!n) return;
  while (m < 2 * n) m *= 2;
  struct {
    entry_t *egress; /* a request's egress row in this batch */
    bool twice;      /* and it has more than one */
  } *slot = calloc(m, sizeof *slot);
  for (entry_t *e = batch; slot && e; e = e->next) {
    if (!e->n[F_REQUEST_ID] || (e->kind != SL_LEDGER_EGRESS && e->kind != SL_LEDGER_REQUEST))
      continue;
    uint32_t h = 2166136261u; /* FNV-1a of the request id */
    for (size_t i = 0; i < e->n[F_REQUEST_ID]; i++)
      h = (h ^ (unsigned char)e->s[F_REQUEST_ID][i]) * 16777619u;
    size_t i = h & (m - 1);
    while (slot[i].egress && !same_field(slot[i].egress, e, F_REQUEST_ID)) i = (i + 1) & (m - 1);
    entry_t *g = slot[i].egress;
    if (e->kind == SL_LEDGER_EGRESS) {
      if (g) slot[i].twice = true;
      else slot[i].egress = e;
    } else if (g && !slot[i].twice && e->egress_rows == 1 && e->n[F_SHA256_OUT] == 64 &&
               same_field(g, e, F_SHA256_OUT) &&
               g->bytes_out == e->bytes_out && same_field(g, e, F_BACKEND)) {
      g->merged = true;
    }
  }
  free(slot);
}

/* One transaction for the whole batch; on any error nothing of it is kept. */
/* Whether the ledger's file or its WAL is no longer the one the connection
 * writes: deleted, renamed away, or replaced (by an older copy, say). Rows
 * committed then would go to a file nobody can open once sluice exits, and
 * the chain left at the path would still verify. NULL when all is well; one
 * stat(2) a batch, two once the WAL exists. */
static const char *file_moved(sl_ledger_t *l) {
  const char *db = sqlite3_db_filename(l->db, "main");
  struct stat st;
  if (!db || !*db) return NULL; /* (an in-memory database: tests) */
  if (stat(db, &st))
    return errno == EACCES ? "cannot be reached (permission denied on its directory)" : "was deleted or renamed";
  if (st.st_dev != l->dev || st.st_ino != l->ino) return "was replaced by another file";
  const char *wal = sqlite3_filename_wal(db);
  if (!wal || stat(wal, &st)) return wal && l->wal_ino ? "lost its -wal file" : NULL;
  if (!l->wal_ino) { /* created by the first write */
    l->wal_dev = st.st_dev;
    l->wal_ino = st.st_ino;
  } else if (st.st_dev != l->wal_dev || st.st_ino != l->wal_ino) {
    return "had its -wal file replaced";
  }
  return NULL;
}

/* Counts a failed batch; whether to log it (the first, then once a minute). */
static bool batch_failed(sl_ledger_t *l) {
  l->failing++;
  int64_t now = now_ms();
  if (l->fail_logged_ms && now - l->fail_logged_ms < 60000) return false;
  l->fail_logged_ms = now;
  return true;
}

static int write_batch(sl_ledger_t *l, entry_t *batch, bool egress, bool inject_fault, size_t *rows) {
  *rows = 0;
  if (l->journal) { /* (its rows are in memory still: they commit; new ones are refused) */
    bool gone = sl__ljournal_gone(l->journal);
    if (gone && !__atomic_load_n(&l->journal_gone, __ATOMIC_RELAXED))
      SL_ERROR("ledger: the journal %s-pending was deleted or replaced while sluice runs: rows are "
               "refused until a restart creates it again (acknowledged rows would not survive a crash)",
               sqlite3_db_filename(l->db, "main"));
    __atomic_store_n(&l->journal_gone, gone, __ATOMIC_RELAXED);
  }
  const char *moved = file_moved(l);
  if (moved && !l->moved)
    SL_ERROR("ledger: %s %s while sluice runs: no row is written to it until it is back (a restart "
             "opens what is at that path then); %s",
             sqlite3_db_filename(l->db, "main"), moved,
             l->journal ? "rows wait in the journal, and requests are refused once it is full"
                        : "requests that must be recorded are refused");
  else if (!moved && l->moved)
    SL_WARN("ledger: %s is back; writing again", sqlite3_db_filename(l->db, "main"));
  l->moved = moved != NULL;
  if (moved) {
    if (!l->journal) gap_add(l, batch); /* journaled rows are retried instead */
    return SL_EIO;
  }
  if (egress) merge_egress(batch);
  if (inject_fault) exec(l->db, "PRAGMA query_only = 1");
  int rc = exec(l->db, "BEGIN IMMEDIATE");
  if (!rc) {
    /* Read the chain head inside the transaction: correct even if another
     * process appended since our last batch. */
    char prev[65] = SL_LEDGER_ZERO_HASH;
    int64_t id = 0;
    if (sqlite3_step(l->last) == SQLITE_ROW) {
      id = sqlite3_column_int64(l->last, 0);
      const unsigned char *h = sqlite3_column_text(l->last, 1);
      if (h && strlen((const char *)h) == 64) memcpy(prev, h, 65);
    }
    sqlite3_reset(l->last);
    entry_t *gap = l->gap.rows ? gap_entry(l) : NULL;
    size_t n_rows = 0;
    if (gap && !(rc = write_row(l, gap, ++id, prev))) n_rows++;
    uint64_t jseq = 0;
    for (entry_t *e = batch; !rc && e; e = e->next) {
      __builtin_prefetch(e->next); /* rows come from the loops' caches */
      if (!e->merged && !(rc = write_row(l, e, ++id, prev))) n_rows++;
      if (e->jseq > jseq) jseq = e->jseq;
    }
    if (!rc && jseq) { /* journaled rows up to here are in: not to be replayed */
      sqlite3_bind_int64(l->meta_set, 1, (sqlite3_int64)jseq);
      rc = sqlite3_step(l->meta_set) == SQLITE_DONE ? 0 : SL_EIO;
      sqlite3_reset(l->meta_set);
    }
    if (!rc) rc = exec(l->db, "COMMIT");
    if (!rc) *rows = n_rows;
    if (rc) {
      if (batch_failed(l))
        SL_ERROR("ledger: write of a batch failed: %s (%lu batch%s so far; rows wait or are counted as "
                 "a gap, as durability says)", sqlite3_errmsg(l->db), l->failing, l->failing == 1 ? "" : "es");
      exec(l->db, "ROLLBACK");
    } else if (gap) {
      SL_WARN("ledger: recorded a gap of %lld row%s that could not be written",
              (long long)l->gap.rows, l->gap.rows == 1 ? "" : "s");
      memset(&l->gap, 0, sizeof l->gap);
    }
    if (gap) entry_free(l, gap);
  } else if (batch_failed(l)) {
    SL_ERROR("ledger: cannot begin a transaction: %s (%lu batch%s so far)", sqlite3_errmsg(l->db), l->failing,
             l->failing == 1 ? "" : "es");
  }
  if (!rc && l->failing) {
    SL_WARN("ledger: writing again after %lu failed batch%s", l->failing, l->failing == 1 ? "" : "es");
    l->failing = 0;
    l->fail_logged_ms = 0;
  }
  if (inject_fault) exec(l->db, "PRAGMA query_only = 0");
  if (rc && !l->journal) gap_add(l, batch); /* journaled rows are retried instead */
  return rc ? SL_EIO : 0;
}

static void close_db(sl_ledger_t *l) {
  sqlite3_finalize(l->insert);
  sqlite3_finalize(l->last);
  sqlite3_finalize(l->meta_set);
  sqlite3_close(l->db);
  l->insert = l->last = l->meta_set = NULL;
  l->db = NULL;
}

/* ---- replay of the journal at open (writer thread, before serving) ---- */

typedef struct {
  sl_ledger_t *l;
  uint64_t committed; /* ledger_meta journal_seq */
  uint64_t max_seq;
  entry_t *head, **tail;
  size_t n;
  uint64_t lost;      /* uncommitted rows no intact record gives back (a missing
                         sequence number, or a record that does not decode) */
  int64_t last_ts_ms; /* of the last row read, for the gap's time range */
} replay_t;

/* Rows the journal held but cannot give back (damaged records): counted into
 * the gap row that the replay's batch starts with, so the chain says so. */
static void replay_lost(replay_t *r, uint64_t rows, int64_t to_ms) {
  sl_ledger_t *l = r->l;
  if (!rows) return;
  if (rows > MAX_LOST) rows = MAX_LOST; /* a forged number, not rows that existed */
  gap_widen(&l->gap, r->last_ts_ms ? r->last_ts_ms : to_ms, to_ms);
  l->gap.rows += (int64_t)rows;
  l->gap.damaged += (int64_t)rows;
  r->lost += rows;
}

static int replay_record(void *ud, uint64_t seq, const void *payload, size_t len) {
  replay_t *r = ud;
  /* Sequence numbers are consecutive: any that an intact record does not
   * hold, after the last committed one, was in a damaged record. */
  uint64_t expect = (r->max_seq > r->committed ? r->max_seq : r->committed) + 1;
  /* A damaged frame far past every number before it is no record of ours: a
   * header-like run of bytes inside an older record's remains (text fields
   * hold no NUL, so the "number" after such bytes is enormous). */
  if (!payload && seq > expect && seq - expect > DAMAGED_SEQ_WINDOW) return 0;
  if (seq > r->max_seq) r->max_seq = seq;
  if (seq <= r->committed) return 0;
  entry_t *e = NULL;
  int rc = payload ? jrec_decode(r->l, payload, len, &e) : SL_EINVAL;
  if (rc == SL_ENOMEM) return rc;
  int64_t ts = rc ? now_ms() : e->ts_ms;
  /* the numbers missing before an intact record were lost; a damaged record's
   * own number is not to be trusted for that (it counts as one row, below) */
  if (seq > expect && payload) replay_lost(r, seq - expect, ts);
  if (rc) {
    replay_lost(r, 1, ts);
    return 0;
  }
  r->last_ts_ms = e->ts_ms;
  e->jseq = seq;
  *r->tail = e;
  r->tail = &e->next;
  r->n++;
  return 0;
}

static int replay_journal(sl_ledger_t *l) {
  replay_t r = {.l = l, .tail = &r.head};
  sqlite3_stmt *st = NULL;
  /* the last journal sequence number committed: written by the writer as
   * decimal digits; anything else is an edit, and replaying by it would commit
   * rows twice ('abc' reads as 0) */
  bool bad_seq = false;
  if (sqlite3_prepare_v2(l->db, "SELECT value FROM ledger_meta WHERE key = 'journal_seq'", -1,
                         &st, NULL) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW) {
    const char *v = (const char *)sqlite3_column_text(st, 0);
    size_t n = v ? strlen(v) : 0;
    bad_seq = !n || n > 19 || strspn(v, "0123456789") != n || (n > 1 && v[0] == '0');
    r.committed = bad_seq ? 0 : strtoull(v, NULL, 10);
  }
  sqlite3_finalize(st);
  sl_ljournal_found_t f;
  if (bad_seq) {
    SL_ERROR("ledger: ledger_meta's journal_seq is not what the writer left (the file was edited); "
             "the journal is not replayed by it: move the ledger aside for the auditors");
    return SL_EPARSE;
  }
  int rc = sl__ljournal_replay(l->journal, replay_record, &r, &f);
  /* Records the header counts but nobody found (the file was cut short, or
   * its last records damaged past recognition) were lost; so was at least one
   * row of a journal that is neither a ring nor records. */
  uint64_t seen = r.max_seq > r.committed ? r.max_seq : r.committed;
  /* more missing records than the file has room for: the header's count is
   * what was damaged (it has no checksum), not billions of rows; one at least */
  bool bad_count = f.appended > seen && f.appended - seen > f.bytes / (SL_LJ_HEAD + SL_LJ_TAIL);
  if (!rc && bad_count) {
    SL_ERROR("ledger: the journal's header is damaged (it counts %llu rows more than the file "
             "could hold)", (unsigned long long)(f.appended - seen));
    replay_lost(&r, 1, now_ms());
    f.appended = seen;
  }
  if (!rc && f.appended > seen) replay_lost(&r, f.appended - seen, now_ms());
  if (!rc && f.unknown) replay_lost(&r, 1, now_ms());
  if (!rc && (f.cut || f.unknown))
    SL_ERROR("ledger: the journal %s", f.cut ? "was cut short" : "holds bytes that are no records");
  if (!rc && f.appended > r.max_seq) r.max_seq = f.appended;
  if (r.lost)
    SL_ERROR("ledger: the journal was damaged; %llu of its rows cannot be recovered and a gap "
             "row in the ledger records %s", (unsigned long long)r.lost,
             r.lost == 1 ? "it" : "them");
  size_t rows = 0;
  if (!rc && (r.head || l->gap.rows)) rc = write_batch(l, r.head, true, false, &rows);
  l->st.rows += rows;
  for (entry_t *e = r.head, *next; e; e = next) {
    next = e->next;
    entry_free(l, e);
  }
  if (rc) {
    SL_ERROR("ledger: cannot commit the %zu pending rows of the journal", r.n);
    return SL_EIO;
  }
  if (r.n || r.lost || f.torn)
    SL_WARN("ledger: committed %zu pending row%s from the journal%s%s", r.n, r.n == 1 ? "" : "s",
            r.lost ? " (and a gap row for the damaged ones)" : "",
            f.torn ? " (ignored a torn record at its end: an append that never returned)" : "");
  l->replayed = (int64_t)r.n;
  l->jseq_next = (r.max_seq > r.committed ? r.max_seq : r.committed) + 1;
  return sl__ljournal_reset(l->journal, l->journal_cap);
}

/* Opens the database on the writer thread, so that no SQLite call is ever made
 * on the caller's (the loop's) thread and the connection has one owner. */
static int setup_db(sl_ledger_t *l, const char *path) {
  sl__ledger_sqlite_setup();
  /* NOMUTEX: the connection is only ever used by this thread. */
  if (sqlite3_open_v2(path, &l->db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      NULL) != SQLITE_OK) {
    SL_ERROR("ledger: cannot open %s: %s", path, l->db ? sqlite3_errmsg(l->db) : "no memory");
    return SL_EIO;
  }
  sqlite3_busy_timeout(l->db, 5000);
  /* 16 KiB pages (a new file only: an existing one keeps its size): the rows
   * are appended, and per byte written the WAL frames, the checkpoint's copies
   * and their system calls cost a quarter of what 4 KiB pages do; measured
   * with bench_ledger --rate, about 25 % less CPU per row on the writer. The
   * writer touches little more than the right edge of each b-tree: 4 MiB of
   * cache is plenty. */
  /* a database of something else (an app's, another tool's) is left as it is;
   * another process setting up the same new file at the same moment holds it
   * locked for a moment, beyond the busy timeout's reach when it changes the
   * journal mode: the set-up is tried again (it is idempotent) for 10 s */
  for (int tries = 0;; tries++) {
    int own = sl__ledger_check_ours(l->db, path);
    if (own && own != SL_EIO) return own;
    if (!own && !exec(l->db, "PRAGMA page_size = 16384") && !exec(l->db, "PRAGMA journal_mode = WAL") &&
        !exec(l->db, "PRAGMA cache_size = -4096") &&
        !exec(l->db, l->opts.sync == SL_LEDGER_SYNC_FULL ? "PRAGMA synchronous = FULL"
                                                         : "PRAGMA synchronous = NORMAL") &&
        !sl__ledger_schema(l->db))
      break;
    int code = sqlite3_errcode(l->db);
    if ((code != SQLITE_BUSY && code != SQLITE_LOCKED) || tries >= 200) {
      SL_ERROR("ledger: cannot set up %s: %s", path, sqlite3_errmsg(l->db));
      return SL_EIO;
    }
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  struct stat st;
  if (stat(path, &st)) {
    SL_ERROR("ledger: %s: %s", path, strerror(errno));
    return SL_EIO;
  }
  l->dev = st.st_dev, l->ino = st.st_ino;
  /* rows written into a table someone altered could be dropped or hidden by
   * it (a trigger that deletes each new row) while every hash still holds */
  char why[400];
  if (sl__ledger_schema_altered(l->db, why, sizeof why)) {
    SL_ERROR("ledger: %s: %s; not writing to it (move it aside for the auditors and start a new one)",
             path, why);
    return SL_EINVAL;
  }
  char sql[1024];
  snprintf(sql, sizeof sql,
           "INSERT INTO requests (%sprev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
           "?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, "
           "?24, ?25, ?26, ?27, ?28, ?29)",
           sl__ledger_col_list);
  if (sqlite3_prepare_v3(l->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &l->insert, NULL) ||
      sqlite3_prepare_v3(l->db, "SELECT id, hash FROM requests ORDER BY id DESC LIMIT 1",
                         -1, SQLITE_PREPARE_PERSISTENT, &l->last, NULL) ||
      sqlite3_prepare_v3(l->db, "INSERT OR REPLACE INTO ledger_meta VALUES ('journal_seq', ?1)",
                         -1, SQLITE_PREPARE_PERSISTENT, &l->meta_set, NULL)) {
    SL_ERROR("ledger: %s", sqlite3_errmsg(l->db));
    return SL_EIO;
  }
  return l->journal ? replay_journal(l) : 0;
}

/* Journal mode: half the journal's ring holds rows not committed yet, so a
 * lingering writer should not wait for a full batch (appends would soon be
 * refused). */
static bool journal_filling(const sl_ledger_t *l) {
  return l->journal && sl__ljournal_room(l->journal) < l->journal_cap / 2;
}

/* A lingering writer has gathered enough (called with mu held). */
static bool linger_over(const sl_ledger_t *l) {
  return l->q_len >= l->opts.batch_max || journal_filling(l);
}

static void *writer_main(void *arg) {
  sl_ledger_t *l = arg;
  pthread_setname_np(pthread_self(), "sluice-ledger");
  int rc0 = setup_db(l, l->open_path);
  pthread_mutex_lock(&l->mu);
  l->open_rc = rc0;
  l->ready = true;
  pthread_cond_broadcast(&l->cv_done);
  pthread_mutex_unlock(&l->mu);
  if (rc0) {
    close_db(l);
    return NULL;
  }

  unsigned interval = l->opts.sync_interval_ms;
  bool dirty = false; /* committed since the last checkpoint */
  struct timespec last_sync;
  clock_gettime(CLOCK_MONOTONIC, &last_sync);

  pthread_mutex_lock(&l->mu);
  for (;;) {
    while ((!l->q_head || l->paused) && !l->stopping) {
      if (dirty && l->opts.sync == SL_LEDGER_SYNC_NORMAL) {
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_sec += interval / 1000;
        dl.tv_nsec += (long)(interval % 1000) * 1000000;
        if (dl.tv_nsec >= 1000000000) dl.tv_sec++, dl.tv_nsec -= 1000000000;
        l->writer_waiting = true;
        int timed_out = pthread_cond_timedwait(&l->cv_work, &l->mu, &dl);
        l->writer_waiting = false;
        if (timed_out) break;
      } else {
        l->writer_waiting = true;
        pthread_cond_wait(&l->cv_work, &l->mu);
        l->writer_waiting = false;
      }
    }
    if (!l->q_head && l->stopping) break;

    /* Group commit: a short wait gathers more rows into one transaction. Each
     * commit costs WAL writes and lock round trips however few rows it holds,
     * and at a few thousand requests a second that cost, not the rows, is what
     * the writer would spend its CPU on. */
    size_t linger_rows = l->journal ? l->opts.batch_max : LINGER_ROWS;
    if (l->q_head && !l->stopping && !l->paused && l->q_len < linger_rows && !l->q_tail->sync &&
        !l->flushing) {
      struct timespec dl;
      clock_gettime(CLOCK_REALTIME, &dl);
      dl.tv_nsec += l->journal ? JOURNAL_LINGER_NS : LINGER_NS;
      while (dl.tv_nsec >= 1000000000) dl.tv_sec++, dl.tv_nsec -= 1000000000;
      l->writer_waiting = l->lingering = true;
      while (l->q_len < linger_rows && !l->stopping && !l->q_tail->sync && !l->flushing &&
             !journal_filling(l))
        if (pthread_cond_timedwait(&l->cv_work, &l->mu, &dl)) break;
      l->writer_waiting = l->lingering = false;
    }

    entry_t *batch = NULL, **tail = &batch, *last = NULL;
    size_t n = 0;
    bool egress = l->q_egress, special = true;
    if ((!l->paused || l->stopping) && l->q_head && l->q_len <= l->opts.batch_max) {
      /* the whole queue: taken in one step, not walked under the lock (each
       * entry is a cache miss here, its lines last written by a loop thread) */
      batch = l->q_head;
      last = l->q_tail;
      n = l->q_len;
      l->q_head = l->q_tail = NULL;
      l->q_len = 0;
      special = l->q_special;
      l->q_egress = l->q_special = false;
    } else if (!l->paused || l->stopping) {
      while (l->q_head && n < l->opts.batch_max) {
        entry_t *e = l->q_head;
        l->q_head = e->next;
        e->next = NULL;
        *tail = e;
        tail = &e->next;
        last = e;
        n++;
      }
      if (!l->q_head) l->q_tail = NULL;
      l->q_len -= n;
    }
    bool gap_due = take_refused(l); /* written with this batch, or alone */
    l->writing = n;
    bool fault = n && l->fail_batches > 0;
    if (fault) l->fail_batches--;
    pthread_mutex_unlock(&l->mu);

    size_t rows = 0;
    int rc = n || gap_due ? write_batch(l, batch, egress, fault, &rows) : 0;
    if (n && !rc) dirty = true;

    pthread_mutex_lock(&l->mu);
    l->writing = 0;
    if (n || gap_due) l->batch_failing = rc != 0;
    if (rc && l->journal && !l->stopping) {
      /* Journaled rows are durable and their callbacks have run: keep them, in
       * order, and try again (the journal keeps them across a restart too). */
      l->st.retries++;
      last->next = l->q_head;
      if (!l->q_head) l->q_tail = last;
      l->q_head = batch;
      l->q_len += n;
      l->q_egress |= egress;
      l->q_special |= special;
      struct timespec dl;
      clock_gettime(CLOCK_REALTIME, &dl);
      dl.tv_sec += RETRY_MS / 1000;
      dl.tv_nsec += (long)(RETRY_MS % 1000) * 1000000;
      if (dl.tv_nsec >= 1000000000) dl.tv_sec++, dl.tv_nsec -= 1000000000;
      while (!l->stopping && !pthread_cond_timedwait(&l->cv_work, &l->mu, &dl)) {}
      continue;
    }
    if (!rc && n && l->journal) {
      /* committed: their space in the journal's ring may be reused */
      sl__ljournal_release(l->journal, last->jend);
      l->st.journal_cuts++;
    }
    if (n) {
      if (rc) {
        l->st.failed += n;
      } else {
        l->st.committed += n;
        l->st.rows += rows;
        l->st.batches++;
        if (n > l->st.max_batch) l->st.max_batch = n;
      }
    }
    bool post = false;
    entry_t *done = NULL; /* no callback: back to the pool together */
    if (!special && n) { /* nothing to call back or wake: no walk over the batch */
      if (!pool_put(l, batch, last, n)) entries_free(l, batch);
      batch = NULL;
    }
    for (entry_t *e = batch, *next; e; e = next) {
      next = e->next;
      __builtin_prefetch(next);
      e->next = NULL;
      e->status = rc;
      if (e->sync) {
        e->finished = true; /* the waiter frees it */
      } else if (!e->cb || (e->port && e->port->closed)) {
        e->next = done; /* nobody (left) to call back */
        done = e;
      } else {
        sl_ledger_port_t *p = e->port;
        entry_t **head = p ? &p->done_head : &l->done_head;
        entry_t **tl = p ? &p->done_tail : &l->done_tail;
        if (*tl) (*tl)->next = e;
        else *head = e;
        *tl = e;
        if (p) p->post = true;
        else post = true;
      }
    }
    entries_free(l, done);
    pthread_cond_broadcast(&l->cv_done);
    if (post) uv_async_send(&l->async);
    for (sl_ledger_port_t *p = l->ports; p; p = p->next)
      if (p->post) {
        p->post = false;
        uv_async_send(&p->async);
      }

    /* Durability on our own schedule, after the callbacks are on their way so
     * that a slow fsync never delays them: a passive checkpoint syncs the WAL. */
    if (dirty && l->opts.sync == SL_LEDGER_SYNC_NORMAL) {
      struct timespec now;
      clock_gettime(CLOCK_MONOTONIC, &now);
      long elapsed = (now.tv_sec - last_sync.tv_sec) * 1000 +
                     (now.tv_nsec - last_sync.tv_nsec) / 1000000;
      if (elapsed >= (long)interval) {
        pthread_mutex_unlock(&l->mu);
        sqlite3_wal_checkpoint_v2(l->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        pthread_mutex_lock(&l->mu);
        dirty = false;
        last_sync = now;
      }
    }
  }
  bool gap_due = take_refused(l); /* refused after the last batch */
  pthread_mutex_unlock(&l->mu);
  size_t rows = 0;
  if (gap_due && !write_batch(l, NULL, false, false, &rows)) dirty = true;
  pthread_mutex_lock(&l->mu);
  l->st.rows += rows;
  pthread_mutex_unlock(&l->mu);
  if (dirty) sqlite3_wal_checkpoint_v2(l->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
  close_db(l);
  return NULL;
}

/* ---------------- the loop side ---------------- */

static void run_list(sl_ledger_t *l, entry_t **head, entry_t **tail) {
  pthread_mutex_lock(&l->mu);
  entry_t *e = *head;
  *head = *tail = NULL;
  pthread_mutex_unlock(&l->mu);
  while (e) {
    entry_t *next = e->next;
    e->cb(e->data, e->status);
    entry_free(l, e);
    e = next;
  }
}

static void run_done(sl_ledger_t *l) { run_list(l, &l->done_head, &l->done_tail); }

/* The journal placed the next entry's record: it ends at `end`. */
static void placed(void *ud, uint64_t end) {
  entry_t **e = ud;
  (*e)->jend = end;
  *e = (*e)->next;
}

/* Journal mode: copies the rows gathered on q into the journal and queues them
 * with one lock; their callbacks, already in q->due, get the outcome. Journal
 * order, sequence numbers and queue order agree because jmu covers all three. */
static int stage_flush(sl_ledger_t *l, soon_t *q) {
  if (!q->rows) return 0;
  entry_t *head = q->head, *tail = q->tail;
  size_t n = q->rows, len = q->rec_len;
  bool egress = q->egress, special = q->special;
  q->head = q->tail = NULL;
  q->rows = q->rec_len = 0;
  q->egress = q->special = false;
  uint64_t seq = 0;
  pthread_mutex_lock(&l->jmu);
  pthread_mutex_lock(&l->mu);
  int rc = l->stopping ? SL_ECANCELED : 0;
  pthread_mutex_unlock(&l->mu);
  if (!rc) {
    seq = l->jseq_next;
    entry_t *next = head;
    rc = sl__ljournal_write(l->journal, seq, q->rec, len, placed, &next);
  }
  pthread_mutex_lock(&l->mu);
  if (!rc) {
    l->jseq_next = seq + n;
    for (entry_t *e = head; e; e = e->next) e->jseq = seq++;
    if (l->q_tail) l->q_tail->next = head;
    else l->q_head = head;
    l->q_tail = tail;
    l->q_len += n;
    l->q_egress |= egress;
    l->q_special |= special;
    l->st.appended += n;
    if (l->writer_waiting && (!l->lingering || linger_over(l)))
      pthread_cond_signal(&l->cv_work); /* else it loops back anyway */
  } else if (rc == SL_EBUSY) {
    l->st.busy += n; /* the journal's ring is full */
    for (entry_t *e = head; e; e = e->next) gap_count(&l->refused, e);
  } else if (rc != SL_ECANCELED) {
    l->st.failed += n;
  }
  pthread_mutex_unlock(&l->mu);
  pthread_mutex_unlock(&l->jmu);
  if (rc) entries_free(l, head);
  for (size_t i = q->flushed; i < q->due.n; i++) q->due.v[i].status = rc;
  q->flushed = q->due.n;
  return rc;
}

static void on_soon(uv_idle_t *h) {
  soon_t *q = h->data;
  uv_idle_stop(h);
  stage_flush(q->l, q);
  calls_t run = q->due; /* a callback may append again: that goes to the other list */
  q->due = q->running;
  q->due.n = q->flushed = 0;
  for (size_t i = 0; i < run.n; i++) run.v[i].cb(run.v[i].data, run.v[i].status);
  run.n = 0;
  q->running = run;
}

static void soon_init(soon_t *q, uv_loop_t *loop, sl_ledger_t *l) {
  uv_idle_init(loop, &q->idle);
  q->idle.data = q;
  q->l = l;
}

/* Writes and runs what is due now and closes the handle; `closed` (or nobody)
 * is called with the handle's data set to the ledger. */
static void soon_close(soon_t *q, uv_close_cb closed) {
  if (q->rows || q->due.n) on_soon(&q->idle);
  free(q->rec);
  free(q->due.v);
  free(q->running.v);
  q->rec = NULL;
  q->due = q->running = (calls_t){0};
  q->idle.data = q->l;
  uv_close((uv_handle_t *)&q->idle, closed);
}

static bool grow(void **v, size_t *cap, size_t need, size_t size, size_t min) {
  if (need <= *cap) return true;
  size_t c = *cap ? *cap : min;
  while (c < need) c *= 2;
  void *nv = realloc(*v, c * size);
  if (!nv) return false;
  *v = nv;
  *cap = c;
  return true;
}

/* Journal mode on a loop: frames e's record into q (written at the next turn,
 * or now if q is full) and books its callback. */
static int stage(sl_ledger_t *l, soon_t *q, entry_t *e, sl_ledger_done_cb cb, void *data) {
  if (__atomic_load_n(&l->stopping, __ATOMIC_RELAXED)) return SL_ECANCELED;
  size_t plen = jrec_size(e), flen = SL_LJ_FRAME(plen);
  /* A full queue, or a full journal, refuses the row now (the journal's slack
   * covers the skip at the ring's end and another loop's turn; past it, the
   * rows of a turn that do not fit are refused when they are written). */
  if (__atomic_load_n(&l->q_len, __ATOMIC_RELAXED) + q->rows >= l->opts.queue_max ||
      sl__ljournal_room(l->journal) < q->rec_len + flen + JOURNAL_SLACK ||
      __atomic_load_n(&l->journal_gone, __ATOMIC_RELAXED)) {
    pthread_mutex_lock(&l->mu);
    l->st.busy++;
    gap_count(&l->refused, e);
    pthread_mutex_unlock(&l->mu);
    return SL_EBUSY;
  }
  if (q->rows >= STAGE_ROWS || (q->rows && q->rec_len + flen > STAGE_BYTES))
    stage_flush(l, q); /* its rows' callbacks learn how that went */
  if (!grow((void **)&q->rec, &q->rec_cap, q->rec_len + flen, 1, 16384) ||
      (cb && !grow((void **)&q->due.v, &q->due.cap, q->due.n + 1, sizeof(call_t), 64)))
    return SL_ENOMEM;
  unsigned char *frame = q->rec + q->rec_len;
  jrec_encode(e, frame + SL_LJ_HEAD);
  sl__ljournal_seal(frame, plen);
  q->rec_len += flen;
  if (q->tail) q->tail->next = e;
  else q->head = e;
  q->tail = e;
  q->rows++;
  q->egress |= e->kind == SL_LEDGER_EGRESS;
  q->special |= !e->pooled;
  if (cb) q->due.v[q->due.n++] = (call_t){cb, data, 0};
  if (!uv_is_active((uv_handle_t *)&q->idle)) uv_idle_start(&q->idle, on_soon);
  return 0;
}

static void on_port_async(uv_async_t *h) {
  sl_ledger_port_t *p = h->data;
  run_list(p->l, &p->done_head, &p->done_tail);
}

int sl_ledger_port_open(sl_ledger_t *l, uv_loop_t *loop, sl_ledger_port_t **out) {
  sl_ledger_port_t *p = calloc(1, sizeof *p);
  if (!p) return SL_ENOMEM;
  if (uv_async_init(loop, &p->async, on_port_async)) {
    free(p);
    return SL_EINTERNAL;
  }
  p->async.data = p;
  p->l = l;
  soon_init(&p->soon, loop, l);
  pthread_mutex_lock(&l->mu);
  p->next = l->ports;
  l->ports = p;
  pthread_mutex_unlock(&l->mu);
  *out = p;
  return 0;
}

void sl_ledger_port_close(sl_ledger_port_t *p) {
  if (!p) return;
  /* From here rows for this loop are dropped without a callback; what is
   * already back is delivered now. */
  pthread_mutex_lock(&p->l->mu);
  p->closed = true;
  pthread_mutex_unlock(&p->l->mu);
  run_list(p->l, &p->done_head, &p->done_tail);
  soon_close(&p->soon, NULL);
  uv_close((uv_handle_t *)&p->async, NULL); /* the memory goes with the ledger */
}

static void on_async(uv_async_t *h) { run_done(h->data); }

static void free_ledger(sl_ledger_t *l) {
  sl__ljournal_close(l->journal);
  while (l->ports) {
    sl_ledger_port_t *p = l->ports;
    l->ports = p->next;
    free(p);
  }
  while (l->pool) {
    entry_t *e = l->pool;
    l->pool = e->next;
    free(e);
  }
  pthread_mutex_destroy(&l->pool_mu);
  pthread_mutex_destroy(&l->mu);
  pthread_mutex_destroy(&l->jmu);
  pthread_cond_destroy(&l->cv_work);
  pthread_cond_destroy(&l->cv_done);
  sl__ledger_hasher_free(&l->hasher);
  free(l);
}

/* libuv runs close callbacks in no promised order (newest first, in fact): the
 * ledger, which holds both handles, goes once both are closed. */
static void on_closed(uv_handle_t *h) {
  sl_ledger_t *l = h->data;
  if (++l->handles_closed == 2) free_ledger(l);
}

int sl_ledger_open(const char *path, const sl_ledger_opts_t *opts, uv_loop_t *loop,
                   sl_ledger_t **out) {
  *out = NULL;
  if (!path || !*path) return SL_EINVAL;
  /* a device or a directory is no ledger: refused before SQLite (or the
   * journal) creates files beside it (a /dev/null-journal) */
  struct stat pst;
  if (!stat(path, &pst) && !S_ISREG(pst.st_mode)) {
    SL_ERROR("ledger: %s is not a regular file", path);
    return SL_EIO;
  }
  sl_ledger_t *l = calloc(1, sizeof *l);
  if (!l) return SL_ENOMEM;
  if (opts) l->opts = *opts;
  else l->opts.reject_on_failure = true;
  if (!l->opts.queue_max) l->opts.queue_max = 32768;
  if (!l->opts.batch_max) l->opts.batch_max = 4096;
  if (!l->opts.sync_interval_ms) l->opts.sync_interval_ms = 1000;
  l->journal_cap = !l->opts.journal_max_bytes       ? JOURNAL_CAP
                   : l->opts.journal_max_bytes < JOURNAL_CAP_MIN ? JOURNAL_CAP_MIN
                                                                 : l->opts.journal_max_bytes;
  l->loop = loop;
  l->ts_sec = -1;
  pthread_mutex_init(&l->jmu, NULL);
  pthread_mutex_init(&l->mu, NULL);
  pthread_mutex_init(&l->pool_mu, NULL);
  pthread_cond_init(&l->cv_work, NULL);
  pthread_cond_init(&l->cv_done, NULL);
  if (sl__ledger_hasher_init(&l->hasher)) {
    free_ledger(l);
    return SL_ENOMEM;
  }

  if (l->opts.journal && l->opts.sync != SL_LEDGER_SYNC_FULL) {
    int jrc = sl__ljournal_open(path, &l->journal);
    if (jrc == SL_EBUSY) {
      SL_WARN("ledger: %s-pending is in use by another process; rows will wait for their "
              "commit instead", path);
    } else if (jrc) {
      free_ledger(l);
      return jrc;
    }
  }
  if (loop) {
    if (uv_async_init(loop, &l->async, on_async)) {
      free_ledger(l);
      return SL_EINTERNAL;
    }
    l->async.data = l;
    soon_init(&l->soon, loop, l);
  }
  int rc = SL_EINTERNAL;
  l->open_path = path;
  if (!pthread_create(&l->thread, NULL, writer_main, l)) {
    l->thread_started = true;
    pthread_mutex_lock(&l->mu);
    while (!l->ready) pthread_cond_wait(&l->cv_done, &l->mu);
    rc = l->open_rc;
    pthread_mutex_unlock(&l->mu);
    l->open_path = NULL;
    if (!rc) {
      *out = l;
      return 0;
    }
    pthread_join(l->thread, NULL);
  }
  /* Failed: free now, or with a loop once the async handle is closed; a journal
   * file made for it is removed (a foreign database is left as it was) */
  sl__ljournal_discard(l->journal);
  l->journal = NULL;
  if (loop) {
    l->soon.idle.data = l;
    uv_close((uv_handle_t *)&l->soon.idle, on_closed);
    uv_close((uv_handle_t *)&l->async, on_closed);
  }
  else free_ledger(l);
  return rc;
}

int sl_ledger_commit_pending(const char *path, uint64_t *rows) {
  *rows = 0;
  char *jp = sl__ljournal_path(path);
  if (!jp) return SL_ENOMEM;
  struct stat st;
  bool none = stat(jp, &st) || !st.st_size;
  free(jp);
  if (none) return 0;
  sl_ljournal_t *j;
  int rc = sl__ljournal_open(path, &j);
  if (rc) return rc; /* SL_EBUSY: the sluice that owns it is running */
  sl__ljournal_close(j);
  sl_ledger_t *l;
  sl_ledger_opts_t o = {.journal = true, .reject_on_failure = true};
  if ((rc = sl_ledger_open(path, &o, NULL, &l))) return rc;
  *rows = (uint64_t)l->replayed;
  sl_ledger_close(l);
  return 0;
}

void sl_ledger_close(sl_ledger_t *l) {
  if (!l) return;
  /* Rows still gathered on a loop go to the journal first (no loop runs now);
   * their callbacks run when that loop's port, or the ledger's loop, closes. */
  if (l->journal) {
    if (l->loop) stage_flush(l, &l->soon);
    for (sl_ledger_port_t *p = l->ports; p; p = p->next) stage_flush(l, &p->soon);
  }
  pthread_mutex_lock(&l->mu);
  l->stopping = true;
  l->paused = false;
  pthread_cond_signal(&l->cv_work);
  pthread_mutex_unlock(&l->mu);
  if (l->thread_started) pthread_join(l->thread, NULL); /* it closes the database */
  if (l->loop) {
    run_done(l); /* the callbacks the async had not delivered yet */
    soon_close(&l->soon, on_closed);
    uv_close((uv_handle_t *)&l->async, on_closed);
  } else {
    free_ledger(l);
  }
}

/* Queues e for the writer. In journal mode it is written to the journal first,
 * under the same lock, so that journal order, sequence numbers and chain order
 * agree; the payload is encoded before taking the lock. */
static int enqueue(sl_ledger_t *l, entry_t *e) {
  unsigned char stack[1536], *rec = NULL;
  size_t rlen = 0;
  if (l->journal) {
    size_t plen = jrec_size(e);
    rlen = SL_LJ_FRAME(plen);
    rec = rlen <= sizeof stack ? stack : malloc(rlen);
    if (!rec) return SL_ENOMEM;
    jrec_encode(e, rec + SL_LJ_HEAD);
    sl__ljournal_seal(rec, plen);
  }
  int rc = 0;
  if (rec) pthread_mutex_lock(&l->jmu); /* the journal write stays outside mu */
  pthread_mutex_lock(&l->mu);
  if (l->stopping) {
    rc = SL_ECANCELED;
  } else if (l->q_len >= l->opts.queue_max || (rec && __atomic_load_n(&l->journal_gone, __ATOMIC_RELAXED))) {
    rc = SL_EBUSY;
  } else if (rec) {
    e->jseq = l->jseq_next;
    pthread_mutex_unlock(&l->mu);
    entry_t *next = e;
    rc = sl__ljournal_write(l->journal, e->jseq, rec, rlen, placed, &next);
    pthread_mutex_lock(&l->mu);
    if (!rc) l->jseq_next++;
    else if (rc != SL_EBUSY) l->st.failed++;
  }
  if (rc == SL_EBUSY) { /* a full queue or journal: the gap row will count it */
    l->st.busy++;
    gap_count(&l->refused, e);
  }
  if (!rc) {
    if (l->q_tail) l->q_tail->next = e;
    else l->q_head = e;
    l->q_tail = e;
    l->q_len++;
    l->q_egress |= e->kind == SL_LEDGER_EGRESS;
    l->q_special |= e->cb || e->sync || !e->pooled;
    l->st.appended++;
    size_t rows = l->journal ? l->opts.batch_max : LINGER_ROWS;
    if (l->writer_waiting && (!l->lingering || l->q_len >= rows || e->sync || journal_filling(l)))
      pthread_cond_signal(&l->cv_work); /* else it loops back anyway */
  }
  pthread_mutex_unlock(&l->mu);
  if (rec) pthread_mutex_unlock(&l->jmu);
  if (rec && rec != stack) free(rec);
  return rc;
}

static int append(sl_ledger_t *l, sl_ledger_port_t *port, const sl_ledger_row_t *row,
                  sl_ledger_done_cb done_cb, void *data) {
  entry_t *e;
  int rc = make_entry(l, row, &e);
  if (rc) return rc;
  soon_t *q = port ? &port->soon : l->loop ? &l->soon : NULL;
  if (l->journal && q) {
    rc = stage(l, q, e, done_cb, data);
  } else {
    e->port = port;
    e->cb = done_cb;
    e->data = data;
    rc = enqueue(l, e);
  }
  if (rc) entry_free(l, e);
  return rc;
}

int sl_ledger_append(sl_ledger_t *l, const sl_ledger_row_t *row, sl_ledger_done_cb done_cb,
                     void *data) {
  if (!l || !row || (done_cb && !l->loop)) return SL_EINVAL;
  return append(l, NULL, row, done_cb, data);
}

int sl_ledger_append_on(sl_ledger_port_t *p, const sl_ledger_row_t *row,
                        sl_ledger_done_cb done_cb, void *data) {
  if (!p || !row) return SL_EINVAL;
  return append(p->l, p, row, done_cb, data);
}

int sl_ledger_append_sync(sl_ledger_t *l, const sl_ledger_row_t *row) {
  if (!l || !row) return SL_EINVAL;
  entry_t *e;
  int rc = make_entry(l, row, &e);
  if (rc) return rc;
  e->sync = true;
  rc = enqueue(l, e);
  if (rc) {
    entry_free(l, e);
    return rc;
  }
  pthread_mutex_lock(&l->mu);
  while (!e->finished) pthread_cond_wait(&l->cv_done, &l->mu);
  pthread_mutex_unlock(&l->mu);
  rc = e->status;
  entry_free(l, e);
  return rc;
}

void sl_ledger_flush(sl_ledger_t *l) {
  if (!l) return;
  pthread_mutex_lock(&l->mu);
  l->flushing++;
  pthread_cond_signal(&l->cv_work);
  while ((l->q_len && !l->paused) || l->writing) pthread_cond_wait(&l->cv_done, &l->mu);
  l->flushing--;
  pthread_mutex_unlock(&l->mu);
}

bool sl_ledger_rejects_on_failure(const sl_ledger_t *l) {
  return !l || l->opts.reject_on_failure;
}

void sl_ledger_stats(sl_ledger_t *l, sl_ledger_stats_t *st) {
  memset(st, 0, sizeof *st);
  if (!l) return;
  pthread_mutex_lock(&l->mu);
  *st = l->st;
  st->queue_depth = l->q_len;
  st->replayed = (uint64_t)l->replayed;
  pthread_mutex_unlock(&l->mu);
}

bool sl_ledger_failing(sl_ledger_t *l) {
  if (!l) return false;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
  pthread_mutex_lock(&l->mu);
  if (l->st.busy != l->health_busy) {
    l->health_busy = l->st.busy;
    l->health_busy_ms = now;
  }
  bool failing = l->batch_failing || (l->health_busy_ms && now - l->health_busy_ms < 5000);
  pthread_mutex_unlock(&l->mu);
  return failing;
}

void sl__ledger_fail_batches(sl_ledger_t *l, int n) {
  pthread_mutex_lock(&l->mu);
  l->fail_batches = n;
  pthread_mutex_unlock(&l->mu);
}

void sl__ledger_pause(sl_ledger_t *l, bool paused) {
  pthread_mutex_lock(&l->mu);
  l->paused = paused;
  pthread_cond_signal(&l->cv_work);
  pthread_mutex_unlock(&l->mu);
}
