/* The ledger's on-disk contract: the table, the column order and the canonical
 * row encoding that the hash chain covers. The writer and the verifier both go
 * through sl__ledger_hash(), and docs/ledger.md restates it for auditors. */
#include "ledger_int.h"

#include "sl_err.h"
#include "sl_log.h"
#include "sl_str.h"

#include <math.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

const char *const sl__ledger_col_name[SL_LCOL__N] = {
#define SL_LEDGER_COL_NAME(name, type) #name,
    SL_LEDGER_COLUMNS(SL_LEDGER_COL_NAME)
#undef SL_LEDGER_COL_NAME
};

const sl_ltype_t sl__ledger_col_type[SL_LCOL__N] = {
#define SL_LEDGER_COL_TYPE(name, type) SL_LTYPE_##type,
    SL_LEDGER_COLUMNS(SL_LEDGER_COL_TYPE)
#undef SL_LEDGER_COL_TYPE
};

const char sl__ledger_col_list[] =
#define SL_LEDGER_COL_LIST(name, type) #name ","
    SL_LEDGER_COLUMNS(SL_LEDGER_COL_LIST)
#undef SL_LEDGER_COL_LIST
    ;

size_t sl__ledger_fmt_real(double v, sl_ltype_t t, char *buf, size_t cap, double *value) {
  /* Most values on the writer's path take the short way: v scaled to an integer
   * count of 1e-6 (1e-9) units, rounded, printed. That is exactly what printf
   * prints unless v is negative (or -0) or the scaled value lies within 1e-3 of
   * a rounding tie, where the product's own rounding error (< 2^-13 below 1e12)
   * could matter; those, and large values, go through snprintf and strtod. The
   * value read back is r / 10^k: one correctly rounded division of exact
   * operands, which is the double nearest to the decimal, as strtod's is. */
  int k = t == SL_LTYPE_R6 ? 6 : 9;
  double scale = k == 6 ? 1e6 : 1e9, x = v * scale;
  if (!signbit(v) && x < 1e12 && cap >= 32) {
    double r = nearbyint(x);
    if (fabs(fabs(x - r) - 0.5) > 1e-3) {
      uint64_t u = (uint64_t)r, ip = u / (uint64_t)scale, fp = u % (uint64_t)scale;
      size_t n = sl_utoa(ip, buf);
      buf[n++] = '.';
      for (int i = k - 1; i >= 0; i--, fp /= 10) buf[n + (size_t)i] = (char)('0' + fp % 10);
      n += (size_t)k;
      buf[n] = '\0';
      if (value) *value = r / scale;
      return n;
    }
  }
  int n = snprintf(buf, cap, k == 6 ? "%.6f" : "%.9f", v);
  if (value) *value = strtod(buf, NULL);
  return n < 0 ? 0 : (size_t)n;
}

int sl__ledger_hasher_init(sl_ledger_hasher_t *h) {
  /* A canonical row: 27 names and lengths, 3 JSON fields, 12 short ones. */
  sl_buf_init(&h->buf, 3 * SL_LEDGER_MAX_JSON + 64 * 1024);
  h->ctx = EVP_MD_CTX_new();
  h->md = EVP_MD_fetch(NULL, "SHA256", NULL);
  return h->ctx && h->md ? 0 : SL_ENOMEM;
}

void sl__ledger_hasher_free(sl_ledger_hasher_t *h) {
  sl_buf_free(&h->buf);
  EVP_MD_CTX_free(h->ctx);
  EVP_MD_free(h->md);
  h->ctx = NULL;
  h->md = NULL;
}

int sl__ledger_hash(sl_ledger_hasher_t *h, const char prev_hash[65], const char *const *val,
                    const size_t *len, char out[65]) {
  /* The canonical text, written straight into one reserved buffer: this runs
   * once per row on the writer (name "=" length ":" value "\n" per column). */
  static const size_t name_len[SL_LCOL__N] = {
#define SL_LEDGER_COL_LEN(name, type) sizeof #name - 1,
      SL_LEDGER_COLUMNS(SL_LEDGER_COL_LEN)
#undef SL_LEDGER_COL_LEN
  };
  size_t need = 64;
  for (int i = 0; i < SL_LCOL__N; i++) need += name_len[i] + len[i] + 24;
  sl_buf_t *b = &h->buf;
  sl_buf_reset(b);
  int rc = sl_buf_reserve(b, need);
  if (rc) return rc;
  char *p = b->data;
  memcpy(p, prev_hash, 64);
  p += 64;
  for (int i = 0; i < SL_LCOL__N; i++) {
    memcpy(p, sl__ledger_col_name[i], name_len[i]);
    p += name_len[i];
    *p++ = '=';
    p += sl_utoa(len[i], p); /* its NUL is overwritten next */
    *p++ = ':';
    memcpy(p, val[i], len[i]);
    p += len[i];
    *p++ = '\n';
  }
  b->len = (size_t)(p - b->data);
  unsigned char md[32];
  unsigned int mdlen = 0;
  if (!EVP_DigestInit_ex(h->ctx, h->md, NULL) ||
      !EVP_DigestUpdate(h->ctx, b->data, b->len) || !EVP_DigestFinal_ex(h->ctx, md, &mdlen))
    return SL_EINTERNAL;
  static const char hex[] = "0123456789abcdef";
  for (int i = 0; i < 32; i++) {
    out[2 * i] = hex[md[i] >> 4];
    out[2 * i + 1] = hex[md[i] & 15];
  }
  out[64] = '\0';
  return 0;
}

/* An egress row e whose bytes left: it was written before they went out, and
 * the request's row n says whether any did (a connect that failed sent none)
 * and, when they left in one transmission, which: its destination, digest and
 * bytes_out are that egress row's. Then the request's other egress rows are
 * connects that failed, and of rows alike (a connect that failed, then the
 * same call again) the last counts. */
#define EGRESS_SENT                                                                              \
  " NOT EXISTS (SELECT 1 FROM requests n WHERE n.kind = 'request'"                               \
  "   AND n.request_id = e.request_id AND (n.egress = 0 OR (n.sha256_out <> '' AND EXISTS"       \
  "   (SELECT 1 FROM requests x WHERE x.kind = 'egress' AND x.request_id = e.request_id"         \
  "   AND x.id <> e.id AND x.destination = n.destination AND x.sha256_out = n.sha256_out"        \
  "   AND x.bytes_out = n.bytes_out AND (x.id > e.id OR e.destination <> n.destination"          \
  "   OR e.sha256_out <> n.sha256_out OR e.bytes_out <> n.bytes_out)))))"
const char sl__ledger_egress_sent[] = EGRESS_SENT;

const char sl__ledger_egress_sql[] =
    "SELECT e.id, e.ts, e.request_id, e.tenant, e.key_id, e.rule, e.backend, e.model,"
    " e.destination, e.bytes_out, e.sha256_out, e.level, e.entity_types, e.redactions,"
    " e.policy_version,"
    " COALESCE((SELECT r.status FROM requests r WHERE r.kind = 'request'"
    "   AND r.request_id = e.request_id ORDER BY r.id DESC LIMIT 1), 'in_flight')"
    "   AS final_status"
    " FROM requests e WHERE e.kind = 'egress' AND" EGRESS_SENT
    " UNION ALL"
    " SELECT r.id, r.ts, r.request_id, r.tenant, r.key_id, r.rule, r.backend, r.model,"
    " r.destination, r.bytes_out, r.sha256_out, r.level, r.entity_types, r.redactions,"
    " r.policy_version, r.status"
    " FROM requests r WHERE r.kind = 'request' AND r.egress = 1 AND NOT EXISTS"
    " (SELECT 1 FROM requests x WHERE x.kind = 'egress' AND r.request_id <> ''"
    "   AND x.request_id = r.request_id)";

/* Column types: hashed values are stored exactly as hashed, and STRICT keeps a
 * later edit from slipping text into a number column unnoticed. */
static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS requests ("
    " id INTEGER PRIMARY KEY,"
    " ts TEXT NOT NULL,"
    " kind TEXT NOT NULL,"
    " request_id TEXT NOT NULL,"
    " tenant TEXT NOT NULL,"
    " key_id TEXT NOT NULL,"
    " rule TEXT NOT NULL,"
    " policy_version TEXT NOT NULL,"
    " backend TEXT NOT NULL,"
    " model TEXT NOT NULL,"
    " location TEXT NOT NULL,"
    " egress INTEGER NOT NULL,"
    " destination TEXT NOT NULL,"
    " bytes_out INTEGER NOT NULL,"
    " sha256_out TEXT NOT NULL,"
    " level TEXT NOT NULL,"
    " entity_types TEXT NOT NULL,"
    " redactions TEXT NOT NULL,"
    " classification TEXT NOT NULL,"
    " difficulty REAL NOT NULL,"
    " tokens_in INTEGER NOT NULL,"
    " tokens_out INTEGER NOT NULL,"
    " cost_usd REAL NOT NULL,"
    " avoided_cost_usd REAL NOT NULL,"
    " latency_ms INTEGER NOT NULL,"
    " http_status INTEGER NOT NULL,"
    " status TEXT NOT NULL,"
    " prev_hash TEXT NOT NULL,"
    " hash TEXT NOT NULL"
    ") STRICT;"
    "CREATE INDEX IF NOT EXISTS requests_ts ON requests(ts);"
    "CREATE INDEX IF NOT EXISTS requests_request_id ON requests(request_id);"
    /* Budgets are restored once at start from the ts index (this month's rows);
     * an index on (key_id, ts) cost every insert about 5 % of the writer's CPU. */
    "DROP INDEX IF EXISTS requests_key_ts;"
    "CREATE TRIGGER IF NOT EXISTS requests_no_update BEFORE UPDATE ON requests"
    " BEGIN SELECT RAISE(ABORT, 'the sluice ledger is append-only'); END;"
    "CREATE TRIGGER IF NOT EXISTS requests_no_delete BEFORE DELETE ON requests"
    " BEGIN SELECT RAISE(ABORT, 'the sluice ledger is append-only'); END;"
    "CREATE TABLE IF NOT EXISTS ledger_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
    " STRICT;"
    "INSERT OR IGNORE INTO ledger_meta VALUES ('schema_version', '1'),"
    " ('hash_rule', 'sluice-ledger-v1: hash = hex(sha256(prev_hash || canonical row)),"
    " see docs/ledger.md'),"
    " ('created', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));"
    /* One row per request for auditors: completion rows, plus the last EGRESS row
     * of a request that never completed (in flight when the process died). */
    "CREATE VIEW IF NOT EXISTS request_log AS"
    " SELECT * FROM requests WHERE kind = 'request'"
    " UNION ALL SELECT * FROM requests e WHERE e.kind = 'egress'"
    " AND e.id = (SELECT max(x.id) FROM requests x WHERE x.kind = 'egress'"
    "   AND x.request_id = e.request_id)"
    " AND NOT EXISTS (SELECT 1 FROM requests r WHERE r.kind = 'request'"
    "   AND r.request_id = e.request_id);";

/* The number of tables of db, and whether one is the ledger's. */
static int tables(sqlite3 *db, int *n, bool *ours) {
  sqlite3_stmt *st = NULL;
  *n = 0, *ours = false;
  if (sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type = 'table'", -1, &st, NULL) != SQLITE_OK)
    return SL_EIO;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    (*n)++;
    const unsigned char *name = sqlite3_column_text(st, 0);
    /* (ledgers before ledger_meta existed have their requests table) */
    if (name && (!strcmp((const char *)name, "ledger_meta") || !strcmp((const char *)name, "requests")))
      *ours = true;
  }
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? 0 : SL_EIO;
}

int sl__ledger_check_ours(sqlite3 *db, const char *path) {
  int n;
  bool ours;
  if (tables(db, &n, &ours)) {
    SL_ERROR("ledger: cannot read %s: %s", path, sqlite3_errmsg(db));
    return SL_EIO;
  }
  if (n && !ours) {
    SL_ERROR("ledger: %s holds %d tables of something else and no sluice ledger; name a new "
             "file in ledger.path", path, n);
    return SL_EINVAL;
  }
  return 0;
}

/* Whether db's egress_events view is missing or is not today's
 * sl__ledger_egress_sql (a ledger made by an earlier version). */
static bool egress_view_stale(sqlite3 *db) {
  sqlite3_stmt *st = NULL;
  bool stale = true;
  if (sqlite3_prepare_v2(db, "SELECT sql FROM sqlite_master WHERE type = 'view' AND name = 'egress_events'",
                         -1, &st, NULL) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW) {
    const char *sql = (const char *)sqlite3_column_text(st, 0);
    size_t n = sql ? strlen(sql) : 0, m = strlen(sl__ledger_egress_sql);
    stale = n < m || strcmp(sql + n - m, sl__ledger_egress_sql);
  }
  sqlite3_finalize(st);
  return stale;
}

int sl__ledger_schema(sqlite3 *db) {
  char *msg = NULL;
  if (sqlite3_exec(db, schema_sql, NULL, NULL, &msg) != SQLITE_OK) goto fail;
  if (egress_view_stale(db)) { /* views hold no rows: replaced, not migrated */
    static const char prefix[] = "BEGIN IMMEDIATE; DROP VIEW IF EXISTS egress_events; "
                                 "CREATE VIEW egress_events AS ";
    char view[sizeof prefix + sizeof sl__ledger_egress_sql + 16];
    snprintf(view, sizeof view, "%s%s; COMMIT", prefix, sl__ledger_egress_sql);
    if (sqlite3_exec(db, view, NULL, NULL, &msg) != SQLITE_OK) {
      /* (a BEGIN that met another process's lock leaves its SQLITE_BUSY for
       * the caller, which tries the set-up again) */
      if (!sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
      goto fail;
    }
  }
  return 0;
fail:
  SL_ERROR("ledger: schema: %s", msg ? msg : sqlite3_errmsg(db));
  sqlite3_free(msg);
  return SL_EIO;
}

/* The tables and triggers of db as (type, name, sql) lines, sorted, into b.
 * (Not ANALYZE's sqlite_stat tables: routine upkeep with the sqlite3 tool,
 * they steer the query planner and change no row, and the reports run only
 * over indexes that pass the integrity check.) */
static int objects(sqlite3 *db, sl_buf_t *b) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db,
                         "SELECT type, name, coalesce(sql, '') FROM sqlite_master WHERE type IN "
                         "('table', 'trigger') AND name NOT LIKE 'sqlite\\_stat%' ESCAPE '\\' "
                         "ORDER BY type, name",
                         -1, &st, NULL) != SQLITE_OK)
    return SL_EIO;
  int rc, brc = 0;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW && !brc)
    for (int i = 0; i < 3 && !brc; i++) {
      brc = sl_buf_puts(b, (const char *)sqlite3_column_text(st, i));
      if (!brc) brc = sl_buf_append(b, i < 2 ? "\t" : "\n", 1);
    }
  sqlite3_finalize(st);
  return brc ? brc : rc == SQLITE_DONE ? 0 : SL_EIO;
}

/* Whether b holds the whole line line[0..n) (its '\n' included). */
static bool has_line(const sl_buf_t *b, const char *line, size_t n) {
  for (size_t i = 0; i + n <= b->len; i++)
    if ((i == 0 || b->data[i - 1] == '\n') && !memcmp(b->data + i, line, n)) return true;
  return false;
}

int sl__ledger_schema_altered(sqlite3 *db, char *why, size_t n) {
  sqlite3 *ref = NULL;
  sl_buf_t want, have;
  sl_buf_init(&want, 1 << 20);
  sl_buf_init(&have, 1 << 20);
  int rc = sqlite3_open_v2(":memory:", &ref, SQLITE_OPEN_READWRITE | SQLITE_OPEN_MEMORY, NULL) != SQLITE_OK
               ? SL_EIO
               : sqlite3_exec(ref, schema_sql, NULL, NULL, NULL) != SQLITE_OK ? SL_EIO
                                                                               : objects(ref, &want);
  if (!rc) rc = objects(db, &have);
  if (!rc && (have.len != want.len || memcmp(have.data, want.data, have.len))) {
    /* the first line that differs names the object */
    size_t i = 0;
    while (i < have.len && i < want.len && have.data[i] == want.data[i]) i++;
    while (i > 0 && have.data[i - 1] != '\n') i--;
    /* sluice's line there missing from db (a trigger dropped), else db's
     * (a table changed, one added) */
    const sl_buf_t *in = &have;
    size_t w = i;
    while (w < want.len && want.data[w] != '\n') w++;
    if (i < want.len && !has_line(&have, want.data + i, w + 1 - i)) in = &want;
    size_t e = i;
    while (e < in->len && in->data[e] != '\t' && in->data[e] != '\n') e++;
    size_t e2 = e < in->len ? e + 1 : e;
    while (e2 < in->len && in->data[e2] != '\t' && in->data[e2] != '\n') e2++;
    snprintf(why, n, "its schema is not sluice's: %.*s %s (a table or trigger altered can drop, "
                     "hide or change rows without breaking a hash)",
             (int)(e2 - i), in->data + i, in == &have ? "changed, added or removed" : "is missing");
    rc = 1;
  } else if (rc) {
    snprintf(why, n, "cannot read its schema: %s", sqlite3_errmsg(db));
  }
  for (char *p = why; *p; p++)
    if (*p == '\t') *p = ' ';
  sl_buf_free(&want);
  sl_buf_free(&have);
  sqlite3_close(ref);
  return rc;
}

static void sqlite_setup(void) {
  /* No allocation statistics: they take a global mutex on every SQLite malloc
   * and free, which is most of the writer's locking. Possible only before
   * SQLite initialises; if something else started it first, it stays on. */
  sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

void sl__ledger_sqlite_setup(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, sqlite_setup);
}

int sl__ledger_open_ro(const char *path, sqlite3 **out) {
  *out = NULL;
  sl__ledger_sqlite_setup();
  struct stat st;
  if (!path || stat(path, &st) != 0) return SL_ENOTFOUND;
  if (!S_ISREG(st.st_mode)) return SL_EINVAL; /* a pipe would hang the reader, a directory is none */
  sqlite3 *db = NULL;
  /* NOMUTEX: each reader opens, reads and closes its connection on one thread
   * (verify took a mutex per column read) */
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
    sqlite3_close(db);
    return SL_EIO;
  }
  sqlite3_busy_timeout(db, 5000);
  sqlite3_stmt *st2 = NULL;
  int src = sqlite3_prepare_v2(db, "SELECT 1 FROM requests LIMIT 0", -1, &st2, NULL);
  int why = sqlite3_errcode(db) & 0xff;
  sqlite3_finalize(st2);
  if (src != SQLITE_OK && why == SQLITE_ERROR &&
      sqlite3_prepare_v2(db, "SELECT 1 FROM ledger_meta LIMIT 0", -1, &st2, NULL) == SQLITE_OK) {
    /* a sluice ledger whose requests table was dropped or renamed: one to
     * report as broken (sl__ledger_shape says what is missing), not one to
     * refuse as something else */
    sqlite3_finalize(st2);
    src = SQLITE_OK;
  }
  if (src != SQLITE_OK) {
    sqlite3_close(db);
    return why == SQLITE_BUSY || why == SQLITE_LOCKED ? SL_EBUSY
           : why == SQLITE_CORRUPT                    ? SL_EPARSE
                                                      : SL_EIO;
  }
  *out = db;
  return 0;
}

const char *sl__ledger_open_error(int rc) {
  switch (rc) {
  case SL_ENOTFOUND: return "no such file";
  case SL_EBUSY: return "another process holds it locked (busy); try again";
  case SL_EPARSE: return "the file is damaged (SQLite: database disk image is malformed)";
  default: return "not a sluice ledger";
  }
}
