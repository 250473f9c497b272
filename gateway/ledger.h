/* The ledger: one tamper-evident SQLite record per request (what it cost, where
 * it went, which entity types left the network — never the values). Rows are
 * copied into a bounded queue by the caller and written, hash-chained and
 * committed in batches by a writer thread that owns the SQLite connection; the
 * event loop never touches SQLite. Commit notifications come back on the loop
 * through a uv_async_t. Schema, hash rule and auditor queries: docs/ledger.md.
 *
 * Kinds of row sharing one table and one chain (docs/ledger.md, "rows"):
 *   SL_LEDGER_EGRESS   written and committed BEFORE bytes go to an external
 *                      backend (one per transmission, status "in_flight");
 *   SL_LEDGER_REQUEST  the completion record, exactly one per request, written
 *                      after the response; it carries tokens, cost, latency;
 *   SL_LEDGER_GAP      written by the ledger after failed writes: how many rows
 *                      were lost (the gateway never appends it).
 * `sluice audit costs` and budgets count only REQUEST rows; `sluice audit egress`
 * counts every EGRESS row (falling back to a REQUEST row with egress=1 when a
 * request has no EGRESS row), and each request once in its summaries. */
#ifndef SL_LEDGER_H
#define SL_LEDGER_H

#include "policy.h"
#include "router.h"
#include "sl_buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* Ceilings on one row's fields (bytes, without the NUL). A longer field makes
 * sl_ledger_append() fail with SL_ETOOBIG; nothing is silently truncated. */
#define SL_LEDGER_MAX_NAME 255   /* request_id, tenant, key_id, rule, backend, ... */
#define SL_LEDGER_MAX_JSON 16384 /* entity_types, redactions, classification */
#define SL_LEDGER_ZERO_HASH \
  "0000000000000000000000000000000000000000000000000000000000000000"

typedef enum {
  SL_LEDGER_REQUEST = 0,
  SL_LEDGER_EGRESS = 1,
  SL_LEDGER_GAP = 2 /* written by the ledger itself, never appended: after writes
                       failed, the first successful batch records how many rows
                       were lost, when, and how many bytes of egress they held */
} sl_ledger_kind_t;

/* One row as the caller fills it. Every pointer may be NULL (stored as "" or, for
 * the JSON fields, "{}"); sl_ledger_append() copies everything, so the caller's
 * storage may go away as soon as it returns. */
typedef struct {
  sl_ledger_kind_t kind;
  int64_t ts_ms;              /* wall clock, ms since the epoch; 0: now */
  const char *request_id;     /* x-sluice-request-id: links EGRESS and REQUEST rows */
  const char *tenant;
  const char *key_id;         /* auth.keys[].id; budgets are per key */
  const char *rule;           /* the policy rule that decided */
  const char *policy_version; /* sl_policy_version(): hex digest of the policy file */
  const char *backend;        /* backend name, e.g. "openai", "local" */
  const char *model;          /* upstream model */
  const char *location;       /* "in-process" | "internal" | "external" */
  bool egress;                /* bytes left the network (location external) */
  const char *destination;    /* host[:port] the bytes went to; "" when none */
  int64_t bytes_out;          /* exact bytes of the upstream request body sent */
  const char *sha256_out;     /* lowercase hex sha256 of those bytes (64), or NULL */
  const char *level;          /* sensitivity level name */
  const char *entity_types;   /* JSON, see sl_ledger_json_entities() */
  const char *redactions;     /* JSON, see sl_ledger_json_redactions() */
  const char *classification; /* JSON, see sl_ledger_json_classification() */
  double difficulty;          /* 0..1 */
  int64_t tokens_in;
  int64_t tokens_out;
  double cost_usd;            /* what this request cost (API or local share) */
  double avoided_cost_usd;    /* local requests: the API-equivalent cost avoided */
  int64_t latency_ms;
  int http_status;            /* status sent to the client; 0 for EGRESS rows */
  const char *status;         /* "ok", "in_flight", "error", "rejected", ... */
  unsigned egress_rows;       /* REQUEST rows: the EGRESS rows this request appended
                                 (not stored; 1 lets the writer fold that row into
                                 this one, see merge_egress; 0: unknown, never) */
} sl_ledger_row_t;

/* Called on the loop thread once the row's transaction committed (status 0) or
 * failed (SL_EIO: nothing of that transaction was written). */
typedef void (*sl_ledger_done_cb)(void *data, int status);

typedef enum {
  SL_LEDGER_SYNC_NORMAL = 0, /* commit survives a process crash (SIGKILL); WAL
                                fsynced on the writer's schedule (sync_interval_ms) */
  SL_LEDGER_SYNC_FULL        /* also fsync every batch commit (power-loss safe) */
} sl_ledger_sync_t;

typedef struct {
  size_t queue_max;          /* rows waiting for the writer; 0: 32768 */
  size_t batch_max;          /* rows per transaction; 0: 4096 */
  unsigned sync_interval_ms; /* NORMAL: checkpoint+fsync at most this often; 0: 1000 */
  sl_ledger_sync_t sync;
  bool reject_on_failure;    /* config ledger.on_failure == "reject" (the default) */
  /* Rows are durable before their callbacks run: an append on a loop is copied
   * into PATH-pending (a ring mapped into the process; survives a crash of the
   * process) with the other rows of the same loop turn, in its idle phase, then
   * its callback runs; an append without a loop is copied before it returns. The writer
   * commits to SQLite on its own schedule; rows still pending are committed at
   * the next open. Config
   * ledger.durability "journal" (the default of `sluice serve`). Off: callbacks
   * wait for the SQLite commit ("commit"). Ignored with SL_LEDGER_SYNC_FULL. */
  bool journal;
  size_t journal_max_bytes;  /* journal mode: the ring's size (rows not committed yet
                                fit in it, or appends are refused); 0: 32 MiB,
                                at least 1 MiB */
} sl_ledger_opts_t;

typedef struct sl_ledger sl_ledger_t;

/* Opens (creating if needed) the ledger at `path` and starts its writer thread.
 * Blocking (the writer thread opens the file and creates the schema while this
 * waits): call it at start-up, before uv_run(). On failure with a loop, the
 * ledger's async handle is closed and freed when the loop next runs. `loop` may
 * be NULL for CLIs and tests: then only
 * sl_ledger_append_sync() and sl_ledger_append() without a callback are allowed.
 * With a loop, the ledger owns a uv_async_t on it, and sl_ledger_open() and
 * sl_ledger_close() belong on the loop thread. opts may be NULL (defaults,
 * reject_on_failure = true). Returns 0, SL_EIO (cannot open/create), SL_ENOMEM. */
int sl_ledger_open(const char *path, const sl_ledger_opts_t *opts, uv_loop_t *loop,
                   sl_ledger_t **out);

/* Blocks until every queued row is written, stops the writer, runs the
 * callbacks still pending (so each accepted append gets its callback), and frees
 * the ledger (with a loop: in the uv_async_t's close callback, so let the loop
 * run once more). NULL is a no-op. */
void sl_ledger_close(sl_ledger_t *l);

/* Non-blocking (a few microseconds: a copy, and a mutex or, in journal mode on a
 * loop, framing the record for the next turn's journal write): validates and
 * copies `row` into the queue. Returns 0 (done_cb will run exactly once, on the loop
 * thread), SL_EBUSY (queue full), SL_ETOOBIG (a field over its ceiling),
 * SL_ERANGE (negative count, money outside [0, 1e6), difficulty outside 0..1),
 * SL_EINVAL (invalid UTF-8, sha256_out not 64 lowercase hex, an EGRESS row
 * without request_id, a done_cb without a loop), SL_ECANCELED (closing) or
 * SL_ENOMEM; on error done_cb never runs. done_cb may be NULL. */
int sl_ledger_append(sl_ledger_t *l, const sl_ledger_row_t *row, sl_ledger_done_cb done_cb,
                     void *data);

/* A ledger shared by several event-loop threads: each other loop opens a port
 * (on its own thread) and appends through it, so its done callbacks run on that
 * loop. sl_ledger_port_close(), on the port's thread before its loop closes,
 * delivers what is back and drops later callbacks; the memory goes with the
 * ledger. */
typedef struct sl_ledger_port sl_ledger_port_t;
int sl_ledger_port_open(sl_ledger_t *l, uv_loop_t *loop, sl_ledger_port_t **out);
void sl_ledger_port_close(sl_ledger_port_t *p);
int sl_ledger_append_on(sl_ledger_port_t *p, const sl_ledger_row_t *row,
                        sl_ledger_done_cb done_cb, void *data);

/* Commits the rows a crashed process left in PATH-pending (journal mode), for
 * tools that read the ledger while no sluice runs on it. *rows: how many.
 * SL_EBUSY: a running sluice owns the journal (it commits them itself). */
int sl_ledger_commit_pending(const char *path, uint64_t *rows);

/* Blocking: appends and waits for the commit. Never call it on the loop thread.
 * Returns 0 or the error (SL_EBUSY, SL_EIO, ...). */
int sl_ledger_append_sync(sl_ledger_t *l, const sl_ledger_row_t *row);

/* Blocking: waits until every row queued so far is written. Not on the loop. */
void sl_ledger_flush(sl_ledger_t *l);

/* true when config ledger.on_failure is "reject": a failed append (sync return or
 * done_cb status) means the request must be refused, not sent unrecorded. */
bool sl_ledger_rejects_on_failure(const sl_ledger_t *l);

typedef struct {
  uint64_t appended;  /* accepted into the queue */
  uint64_t committed; /* written (an egress row its request's row stands for included) */
  uint64_t rows;      /* rows inserted into SQLite (merged egress rows not; gap rows too) */
  uint64_t failed;    /* write failed (done_cb got SL_EIO) */
  uint64_t busy;      /* refused with SL_EBUSY */
  uint64_t batches;   /* transactions committed */
  uint64_t retries;   /* journal mode: batches that failed and were tried again */
  uint64_t replayed;  /* journal mode: pending rows committed at open */
  uint64_t journal_cuts; /* journal mode: committed batches whose ring space was released */
  size_t queue_depth; /* rows waiting now */
  size_t max_batch;   /* largest transaction so far */
} sl_ledger_stats_t;

/* A snapshot for /metrics (all zero for a NULL ledger). Thread-safe, cheap. */
void sl_ledger_stats(sl_ledger_t *l, sl_ledger_stats_t *st);
/* Whether the ledger cannot record rows now: its last batch failed (a full
 * disk, a file gone), or it refused rows (a full queue or journal) since the
 * previous call or within 5 s of it. For readiness. Thread-safe. */
bool sl_ledger_failing(sl_ledger_t *l);

/* ---- reading (synchronous; each opens its own read-only connection) ---- */

/* Sum of cost_usd of REQUEST rows with this key_id (NULL: every key) at or
 * after since_ms (ms since the epoch, e.g. sl_ledger_month_start(now); 0: all
 * time). For restoring budgets at start-up, before the loop runs; a missing
 * file gives 0. */
int sl_ledger_spent(const char *path, const char *key_id, int64_t since_ms, double *usd);

/* Per-key spend of the current UTC month, for budgets (config
 * auth.keys[].monthly_budget_usd). Open once at start-up, before the loop runs:
 * it restores every key's spend this month from the ledger at `path` (NULL or a
 * missing file: all zero). Then, on the loop: check before routing, reserve a
 * routed request's worst case, settle it (release the reservation, add the
 * request's cost_usd) when its REQUEST row is appended. Reservations count as
 * spent, so requests in flight together overshoot a budget no more than one
 * request alone can. A new month starts every key's spend at zero.
 * Thread-safe. */
typedef struct sl_ledger_budgets sl_ledger_budgets_t;

int sl_ledger_budgets_open(const char *path, int64_t now_ms, sl_ledger_budgets_t **out);
void sl_ledger_budgets_free(sl_ledger_budgets_t *b);
void sl_ledger_budgets_add(sl_ledger_budgets_t *b, const char *key_id, double usd,
                           int64_t now_ms);
/* What key_id has spent this month (its reservations not included). */
double sl_ledger_budgets_spent(sl_ledger_budgets_t *b, const char *key_id, int64_t now_ms);
/* true when key_id's spend this month plus its reservations reach budget_usd
 * (> 0): answer 429; *reset_ms (may be NULL) is when the budget resets (start
 * of next month, ms since epoch). */
bool sl_ledger_budgets_exceeded(sl_ledger_budgets_t *b, const char *key_id, double budget_usd,
                                int64_t now_ms, int64_t *reset_ms);
/* The same check, and when it passes, reserves usd for a request in flight
 * (true). false: answer 429, nothing reserved. No budget (budget_usd <= 0):
 * true, nothing reserved. */
bool sl_ledger_budgets_reserve(sl_ledger_budgets_t *b, const char *key_id, double budget_usd,
                               double usd, int64_t now_ms, int64_t *reset_ms);
/* A request done: releases its reservation (the usd it reserved; 0 if none)
 * and adds what it cost. */
void sl_ledger_budgets_settle(sl_ledger_budgets_t *b, const char *key_id, double reserved_usd,
                              double usd, int64_t now_ms);

/* Result of sl_ledger_verify(). */
typedef struct {
  int64_t rows;          /* rows checked */
  int64_t head_id;       /* last row's id (0 when empty) */
  char head_hash[65];    /* last row's hash: record it elsewhere to detect truncation */
  int64_t broken_id;     /* first broken row (0: intact) */
  char reason[256];      /* why it is broken */
} sl_ledger_verify_t;

/* Recomputes the chain. Returns 0 when intact, SL_EPARSE when broken (with
 * out->broken_id and out->reason), SL_EIO/SL_ENOTFOUND when it cannot read.
 * With anchor_id > 0, also checks that row anchor_id exists with anchor_hash. */
int sl_ledger_verify(const char *path, int64_t anchor_id, const char *anchor_hash,
                     sl_ledger_verify_t *out);

/* ---- helpers for building a row ---- */

/* Lowercase hex sha256 of the bytes (out: 65 bytes, NUL-terminated). */
void sl_ledger_sha256_hex(const void *p, size_t n, char out[65]);
/* ISO 8601 UTC with milliseconds, the ledger's ts format (out: >= 32 bytes). */
void sl_ledger_format_ts(int64_t ts_ms, char *out, size_t cap);
/* Parses "YYYY-MM-DD[THH:MM[:SS[.fff]]][Z|+HH:MM|-HH:MM]" to ms since the epoch
 * (up to 9 fraction digits; past the millisecond they round up). */
int sl_ledger_parse_ts(const char *s, int64_t *ts_ms);
/* Start of the UTC calendar month containing `ts_ms` (budget period), and start
 * of the next one (when a spent budget resets), both as ms since the epoch. */
int64_t sl_ledger_month_start(int64_t ts_ms);
int64_t sl_ledger_month_next(int64_t ts_ms);

/* entity_types JSON from classifier spans, types only with counts and offsets:
 * {"EMAIL_ADDRESS":{"count":2,"offsets":[[10,27],[40,55]]}}; at most 64 offsets
 * per type are kept ("truncated":true marks the rest), fewer (down to none:
 * counts and types only) when that is what fits `out`'s limit. Appends to `out`. */
int sl_ledger_json_entities(const sl_entity_t *e, size_t n, sl_buf_t *out);
/* redactions JSON: {"PERSON":2}, the entities of each redacted type. */
int sl_ledger_json_redactions(const sl_entity_t *e, size_t n, const char *const *types,
                              size_t n_types, sl_buf_t *out);
/* classification JSON: {"level":"confidential","difficulty":0.83,"label":"hard",
 * "entities":3,"error":false} — what decided the route, never text. */
int sl_ledger_json_classification(const sl_class_t *c, sl_buf_t *out);
/* An amount in USD as a row stores it (nine decimals: the double nearest its
 * canonical text), so that counters and budgets that add the rows' amounts
 * agree with the ledger's sums to the last digit. */
double sl_ledger_usd(double usd);
/* API cost of a request from per-million-token prices. */
double sl_ledger_api_cost_usd(double usd_per_mtok_in, double usd_per_mtok_out,
                              int64_t tokens_in, int64_t tokens_out);
/* avoided_cost_usd of a request served inside the network: what the same tokens
 * would have cost on the API model the route would otherwise have used — the
 * first external step of the decision with a price, else the first priced model
 * of the first external backend in the config; 0 when no API model is priced. */
double sl_ledger_avoided_cost_usd(const sl_config_t *cfg, const sl_decision_t *d,
                                  int64_t tokens_in, int64_t tokens_out);

/* Test hooks (fault injection): make the next `n` batches fail as a read-only
 * database would; hold the writer (rows stay queued) while `paused`. */
void sl__ledger_fail_batches(sl_ledger_t *l, int n);
void sl__ledger_pause(sl_ledger_t *l, bool paused);

#endif
