/* Reading the ledger back: recomputing the hash chain (tamper evidence) and
 * summing a key's spend (budgets at start-up). Each call opens its own
 * read-only connection, so it can run beside a live writer (WAL). */
#include "ledger_int.h"

#include "sl_err.h"
#include "sl_str.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static int broken(sl_ledger_verify_t *out, int64_t id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int broken(sl_ledger_verify_t *out, int64_t id, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  out->broken_id = id;
  vsnprintf(out->reason, sizeof out->reason, fmt, ap);
  va_end(ap);
  return SL_EPARSE;
}

static const char *type_name(int t) {
  switch (t) {
  case SQLITE_INTEGER: return "INTEGER";
  case SQLITE_FLOAT: return "REAL";
  case SQLITE_TEXT: return "TEXT";
  case SQLITE_BLOB: return "BLOB";
  default: return "NULL";
  }
}

/* The database file holds whole pages: one cut short (or added to) is
 * damaged, whatever its remaining rows still read (a row cut in its last page
 * would otherwise read as an edited row). SL_EPARSE with why filled, else 0. */
static int whole_pages(sqlite3 *db, char *why, size_t n) {
  const char *f = sqlite3_db_filename(db, "main");
  sqlite3_stmt *ps = NULL;
  int page = 0;
  if (sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &ps, NULL) == SQLITE_OK && sqlite3_step(ps) == SQLITE_ROW)
    page = sqlite3_column_int(ps, 0);
  sqlite3_finalize(ps);
  struct stat st;
  if (!f || !*f || page <= 0 || stat(f, &st) || st.st_size % page == 0) return 0;
  snprintf(why, n, "the file is damaged: its %lld bytes are no whole number of its %d-byte pages "
                   "(it was cut short, or bytes were added to it)", (long long)st.st_size, page);
  return SL_EPARSE;
}

/* SQLite's own check of the file: the chain covers the rows, not the indexes
 * that queries read (an index rebuilt to skip a tenant's rows hides them from
 * every report while each row still hashes). */
int sl__ledger_integrity(sqlite3 *db, char *why, size_t n) {
  if (whole_pages(db, why, n)) return SL_EPARSE;
  sqlite3_stmt *st = NULL;
  int rc = SL_EIO;
  if (sqlite3_prepare_v2(db, "PRAGMA integrity_check(1)", -1, &st, NULL) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW) {
    const char *m = (const char *)sqlite3_column_text(st, 0);
    rc = 0;
    if (!m || strcmp(m, "ok")) {
      snprintf(why, n, "the file fails SQLite's integrity check (%s): an index or page no longer "
                       "matches the rows, so reports would not see them all", m ? m : "no answer");
      rc = SL_EPARSE;
    }
  } else {
    snprintf(why, n, "%s", sqlite3_errmsg(db));
  }
  sqlite3_finalize(st);
  return rc;
}

static int check_integrity(sqlite3 *db, sl_ledger_verify_t *out) {
  int rc = sl__ledger_integrity(db, out->reason, sizeof out->reason);
  if (rc == SL_EPARSE) out->broken_id = 0;
  return rc;
}

int sl__ledger_shape(sqlite3 *db, char *why, size_t n) {
  /* the ledger's own description: which schema and which hash rule the rows
   * follow (a ledger whose ledger_meta was dropped or says another rule cannot
   * be read as this one) */
  static const struct {
    const char *key, *prefix;
  } want[] = {{"schema_version", "1"}, {"hash_rule", "sluice-ledger-v1:"}};
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, "SELECT value FROM ledger_meta WHERE key = ?1", -1, &st, NULL) != SQLITE_OK) {
    snprintf(why, n, "the ledger_meta table is gone (%s): the file no longer says which schema and hash "
                     "rule its rows follow", sqlite3_errmsg(db));
    return 1;
  }
  int rc = 0;
  for (size_t i = 0; !rc && i < sizeof want / sizeof want[0]; i++) {
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, want[i].key, -1, SQLITE_STATIC);
    const char *v = sqlite3_step(st) == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
    size_t len = strlen(want[i].prefix);
    if (!(v && !strncmp(v, want[i].prefix, len) && (i || !v[len]))) {
      snprintf(why, n, "ledger_meta %s is %s%s%s, expected %s%s", want[i].key, v ? "'" : "",
               v ? v : "missing", v ? "'" : "", want[i].prefix, i ? "…" : "");
      rc = 1;
    }
  }
  sqlite3_finalize(st);
  /* and its tables and triggers, which the chain does not cover */
  return rc ? rc : sl__ledger_schema_altered(db, why, n);
}

int sl_ledger_verify(const char *path, int64_t anchor_id, const char *anchor_hash,
                     sl_ledger_verify_t *out) {
  memset(out, 0, sizeof *out);
  sqlite3 *db;
  int rc = sl__ledger_open_ro(path, &db);
  if (rc && rc != SL_ENOTFOUND) snprintf(out->reason, sizeof out->reason, "%s", sl__ledger_open_error(rc));
  if (rc) return rc;
  if (whole_pages(db, out->reason, sizeof out->reason)) { /* before its rows mislead */
    sqlite3_close(db);
    return SL_EPARSE;
  }
  char sql[1024];
  snprintf(sql, sizeof sql, "SELECT %sprev_hash, hash FROM requests ORDER BY id",
           sl__ledger_col_list);
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
    /* a table or column of the rows dropped: broken, as sl__ledger_shape says */
    char why[400];
    snprintf(out->reason, sizeof out->reason, "%s", sqlite3_errmsg(db));
    rc = sl__ledger_shape(db, why, sizeof why) ? broken(out, 0, "%s", why) : SL_EIO;
    sqlite3_close(db);
    return rc;
  }
  sl_ledger_hasher_t hasher;
  if (sl__ledger_hasher_init(&hasher)) {
    sl__ledger_hasher_free(&hasher);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return SL_ENOMEM;
  }
  char prev[65] = SL_LEDGER_ZERO_HASH;
  int64_t prev_id = 0;
  bool anchor_seen = false;
  int step;
  rc = 0;
  while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
    int64_t id = sqlite3_column_int64(st, SL_LCOL_id);
    char num[SL_LCOL__N][48];
    const char *val[SL_LCOL__N];
    size_t len[SL_LCOL__N];
    /* Types first: the hash covers the text of each value, so a value of the
     * wrong storage class could otherwise read back as the hashed one. */
    for (int c = 0; !rc && c < SL_LCOL__N; c++) {
      int t = sqlite3_column_type(st, c);
      sl_ltype_t want = sl__ledger_col_type[c];
      int want_t = want == SL_LTYPE_I ? SQLITE_INTEGER
                   : want == SL_LTYPE_T ? SQLITE_TEXT
                                        : SQLITE_FLOAT;
      if (t != want_t) {
        rc = broken(out, id, "column %s holds %s, expected %s", sl__ledger_col_name[c],
                    type_name(t), type_name(want_t));
        break;
      }
      if (want == SL_LTYPE_I) {
        len[c] = sl_itoa(sqlite3_column_int64(st, c), num[c]);
        val[c] = num[c];
      } else if (want == SL_LTYPE_T) {
        val[c] = (const char *)sqlite3_column_text(st, c);
        len[c] = (size_t)sqlite3_column_bytes(st, c);
        if (!val[c]) val[c] = "";
      } else {
        /* the writer stores the double nearest to the decimal it hashed: a
         * value off it by less than the last decimal was edited all the same */
        double v = sqlite3_column_double(st, c), back = 0;
        len[c] = sl__ledger_fmt_real(v, want, num[c], sizeof num[c], &back);
        val[c] = num[c];
        if (back != v) {
          rc = broken(out, id, "column %s holds %.17g, not the value hashed (%s): the row "
                      "was edited", sl__ledger_col_name[c], v, num[c]);
          break;
        }
      }
    }
    if (rc) break;
    const char *ph = (const char *)sqlite3_column_text(st, SL_LCOL__N);
    const char *h = (const char *)sqlite3_column_text(st, SL_LCOL__N + 1);
    if (id != prev_id + 1) {
      rc = prev_id ? broken(out, id,
                            "id %lld follows id %lld: a row is missing or was inserted "
                            "(expected id %lld)",
                            (long long)id, (long long)prev_id, (long long)prev_id + 1)
                   : broken(out, id, "first row has id %lld, expected 1: rows before it "
                                     "are missing", (long long)id);
      break;
    }
    if (!ph || strcmp(ph, prev)) {
      rc = prev_id ? broken(out, id,
                            "prev_hash does not match the hash of row %lld: a row was "
                            "deleted, inserted or reordered before it",
                            (long long)prev_id)
                   : broken(out, id, "prev_hash of the first row is not 64 zeros");
      break;
    }
    char want[65];
    if ((rc = sl__ledger_hash(&hasher, prev, val, len, want))) {
      rc = broken(out, id, "row too large to hash (%s)", sl_strerror(rc));
      break;
    }
    if (!h || strcmp(h, want)) {
      rc = broken(out, id, "hash does not match the row's contents: the row was edited");
      break;
    }
    if (anchor_id > 0 && id == anchor_id) {
      anchor_seen = true;
      if (!anchor_hash || strcmp(anchor_hash, h)) {
        rc = broken(out, id, "row %lld does not have the anchored hash %.64s",
                    (long long)id, anchor_hash ? anchor_hash : "");
        break;
      }
    }
    memcpy(prev, want, 65);
    prev_id = id;
    out->rows++;
    out->head_id = id;
    memcpy(out->head_hash, want, 65);
  }
  if (!rc && step != SQLITE_DONE) {
    snprintf(out->reason, sizeof out->reason, "%s", sqlite3_errmsg(db));
    rc = SL_EIO;
  }
  if (!rc && anchor_id > 0 && !anchor_seen)
    rc = broken(out, anchor_id,
                "anchored row %lld is missing: the ledger was truncated after it",
                (long long)anchor_id);
  if (!rc) rc = check_integrity(db, out);
  char why[400];
  if (!rc && sl__ledger_shape(db, why, sizeof why)) rc = broken(out, 0, "%s", why);
  sl__ledger_hasher_free(&hasher);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return rc;
}

int sl_ledger_spent(const char *path, const char *key_id, int64_t since_ms, double *usd) {
  *usd = 0;
  char since_ts[40];
  sl_ledger_format_ts(since_ms, since_ts, sizeof since_ts);
  sqlite3 *db;
  int rc = sl__ledger_open_ro(path, &db);
  if (rc == SL_ENOTFOUND) return 0; /* no ledger yet: nothing spent */
  if (rc) return rc;
  sqlite3_stmt *st = NULL;
  rc = SL_EIO;
  if (sqlite3_prepare_v2(db,
                         "SELECT COALESCE(SUM(cost_usd), 0) FROM requests WHERE kind = "
                         "'request' AND (?1 IS NULL OR key_id = ?1) AND (?2 IS NULL OR ts "
                         ">= ?2)",
                         -1, &st, NULL) == SQLITE_OK) {
    if (key_id) sqlite3_bind_text(st, 1, key_id, -1, SQLITE_STATIC);
    if (since_ms > 0) sqlite3_bind_text(st, 2, since_ts, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
      *usd = sqlite3_column_double(st, 0);
      rc = 0;
    }
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return rc;
}
