/* Per-key monthly spend for budgets: restored from the ledger once at start-up
 * (one grouped query), then kept in memory as the gateway adds each request's
 * cost. The period is the UTC calendar month; a new month starts every key at
 * zero. Requests in flight hold a reservation (their worst case) that counts
 * as spent until they settle, so concurrent requests cannot pass a budget
 * together. A small open-addressing table keyed by key_id, guarded by a mutex
 * so that several loop threads may share it. */
#include "ledger_int.h"

#include "sl_err.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KEYS 65536 /* distinct key ids tracked; config keys are far fewer */

/* Spend in nano-USD, the ledger's precision (cost_usd has 9 decimals): a sum
 * of doubles drifts, and eight requests of 0.1 against a budget of 0.8 made
 * 0.7999999999999999, under it, so a ninth was served. */
typedef struct {
  char *key_id; /* NULL: empty slot */
  int64_t spent_nusd;
  int64_t reserved_nusd; /* requests in flight; not reset by a new month */
} slot_t;

static int64_t nusd(double usd) {
  if (!(usd > 0)) return 0;
  /* int64 holds 9·10⁹ USD in nano-USD; a budget above that is beyond any spend */
  return usd < 9e9 ? llround(usd * 1e9) : INT64_MAX / 4;
}

struct sl_ledger_budgets {
  pthread_mutex_t mu;
  slot_t *slots;
  size_t cap, n; /* cap: power of two */
  int64_t period_start, period_next;
};

static uint64_t fnv(const char *s) {
  uint64_t h = 1469598103934665603ULL;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
  return h;
}

static slot_t *find(sl_ledger_budgets_t *b, const char *key, bool insert) {
  size_t mask = b->cap - 1;
  for (size_t i = fnv(key) & mask;; i = (i + 1) & mask) {
    slot_t *s = &b->slots[i];
    if (s->key_id && !strcmp(s->key_id, key)) return s;
    if (!s->key_id) {
      if (!insert || b->n >= MAX_KEYS) return NULL;
      if ((b->n + 1) * 2 > b->cap) break; /* grow first */
      if (!(s->key_id = strdup(key))) return NULL;
      b->n++;
      return s;
    }
  }
  /* Grow to keep the load under one half, then insert. */
  size_t cap = b->cap * 2;
  slot_t *ns = calloc(cap, sizeof *ns);
  if (!ns) return NULL;
  for (size_t i = 0; i < b->cap; i++) {
    if (!b->slots[i].key_id) continue;
    size_t j = fnv(b->slots[i].key_id) & (cap - 1);
    while (ns[j].key_id) j = (j + 1) & (cap - 1);
    ns[j] = b->slots[i];
  }
  free(b->slots);
  b->slots = ns;
  b->cap = cap;
  return find(b, key, true);
}

static void reset_period(sl_ledger_budgets_t *b, int64_t now_ms) {
  b->period_start = sl_ledger_month_start(now_ms);
  b->period_next = sl_ledger_month_next(now_ms);
  for (size_t i = 0; i < b->cap; i++) b->slots[i].spent_nusd = 0;
}

/* Caller holds mu. */
static void roll(sl_ledger_budgets_t *b, int64_t now_ms) {
  if (now_ms >= b->period_next || now_ms < b->period_start) reset_period(b, now_ms);
}

int sl_ledger_budgets_open(const char *path, int64_t now_ms, sl_ledger_budgets_t **out) {
  *out = NULL;
  sl_ledger_budgets_t *b = calloc(1, sizeof *b);
  if (!b) return SL_ENOMEM;
  b->cap = 64;
  if (!(b->slots = calloc(b->cap, sizeof *b->slots))) {
    free(b);
    return SL_ENOMEM;
  }
  pthread_mutex_init(&b->mu, NULL);
  reset_period(b, now_ms);
  if (path) {
    sqlite3 *db;
    int rc = sl__ledger_open_ro(path, &db);
    if (rc && rc != SL_ENOTFOUND) {
      sl_ledger_budgets_free(b);
      return rc;
    }
    if (!rc) {
      char since[40];
      sl_ledger_format_ts(b->period_start, since, sizeof since);
      sqlite3_stmt *st = NULL;
      rc = SL_EIO;
      if (sqlite3_prepare_v2(db,
                             "SELECT key_id, sum(cost_usd) FROM requests WHERE kind = "
                             "'request' AND ts >= ?1 GROUP BY key_id",
                             -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, since, -1, SQLITE_STATIC);
        int step;
        while ((step = sqlite3_step(st)) == SQLITE_ROW) {
          const char *k = (const char *)sqlite3_column_text(st, 0);
          slot_t *s = find(b, k ? k : "", true);
          /* a month of doubles drifts far less than a nano-USD; rounded there */
          if (s) s->spent_nusd = nusd(sqlite3_column_double(st, 1));
        }
        if (step == SQLITE_DONE) rc = 0;
      }
      sqlite3_finalize(st);
      sqlite3_close(db);
      if (rc) {
        sl_ledger_budgets_free(b);
        return rc;
      }
    }
  }
  *out = b;
  return 0;
}

void sl_ledger_budgets_free(sl_ledger_budgets_t *b) {
  if (!b) return;
  for (size_t i = 0; i < b->cap; i++) free(b->slots[i].key_id);
  free(b->slots);
  pthread_mutex_destroy(&b->mu);
  free(b);
}

void sl_ledger_budgets_add(sl_ledger_budgets_t *b, const char *key_id, double usd,
                           int64_t now_ms) {
  sl_ledger_budgets_settle(b, key_id, 0, usd, now_ms);
}

/* Spent and reserved this month; caller holds mu. */
static int64_t held_nusd(sl_ledger_budgets_t *b, const char *key_id, int64_t now_ms) {
  roll(b, now_ms);
  slot_t *s = find(b, key_id, false);
  return s ? s->spent_nusd + s->reserved_nusd : 0;
}

double sl_ledger_budgets_spent(sl_ledger_budgets_t *b, const char *key_id, int64_t now_ms) {
  if (!b || !key_id) return 0;
  pthread_mutex_lock(&b->mu);
  roll(b, now_ms);
  slot_t *s = find(b, key_id, false);
  int64_t v = s ? s->spent_nusd : 0;
  pthread_mutex_unlock(&b->mu);
  return (double)v / 1e9;
}

bool sl_ledger_budgets_exceeded(sl_ledger_budgets_t *b, const char *key_id, double budget_usd,
                                int64_t now_ms, int64_t *reset_ms) {
  if (reset_ms) *reset_ms = sl_ledger_month_next(now_ms);
  if (!b || !key_id || !(budget_usd > 0)) return false;
  pthread_mutex_lock(&b->mu);
  bool over = held_nusd(b, key_id, now_ms) >= nusd(budget_usd);
  pthread_mutex_unlock(&b->mu);
  return over;
}

bool sl_ledger_budgets_reserve(sl_ledger_budgets_t *b, const char *key_id, double budget_usd,
                               double usd, int64_t now_ms, int64_t *reset_ms) {
  if (reset_ms) *reset_ms = sl_ledger_month_next(now_ms);
  if (!b || !key_id || !(budget_usd > 0)) return true;
  pthread_mutex_lock(&b->mu);
  bool ok = held_nusd(b, key_id, now_ms) < nusd(budget_usd);
  slot_t *s = ok ? find(b, key_id, true) : NULL;
  if (s) s->reserved_nusd += nusd(usd);
  pthread_mutex_unlock(&b->mu);
  return ok;
}

void sl_ledger_budgets_settle(sl_ledger_budgets_t *b, const char *key_id, double reserved_usd,
                              double usd, int64_t now_ms) {
  if (!b || !key_id || (!(usd > 0) && !(reserved_usd > 0))) return;
  pthread_mutex_lock(&b->mu);
  roll(b, now_ms);
  slot_t *s = find(b, key_id, true);
  if (s) {
    s->spent_nusd += nusd(usd);
    s->reserved_nusd -= nusd(reserved_usd);
    if (s->reserved_nusd < 0) s->reserved_nusd = 0;
  }
  pthread_mutex_unlock(&b->mu);
}
