/* `sluice audit`: what an auditor runs against a ledger file.
 *   verify  recomputes the hash chain; exit 0 intact, 1 broken (names the first
 *           broken row), 2 cannot read;
 *   egress  what left the network, to where, with which entity types, by tenant
 *           and time range;
 *   costs   cost per route, backend, model, key or tenant, with what local
 *           routing saved (the API-equivalent cost avoided).
 * Output as an aligned table, JSON or CSV. Read-only: works beside a live
 * gateway. Queries follow docs/ledger.md, so an auditor can redo them in sqlite3. */
#include "cli.h"
#include "config.h"
#include "ledger_int.h"
#include "sl_err.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_LEDGER "sluice-ledger.db"

typedef enum { FMT_TABLE, FMT_JSON, FMT_CSV } fmt_t;

typedef struct {
  const char *ledger;
  const char *config;
  const char *since, *until; /* as given */
  char since_ts[40], until_ts[40]; /* normalised to the stored ts format */
  const char *tenant;
  const char *by;
  const char *anchor;
  fmt_t fmt;
  bool summary_only;
  char *ledger_from_config; /* owned */
} args_t;

/* The column `audit costs --by` groups by, or NULL for a grouping it lacks. */
static const char *by_column(const char *by) {
  if (!strcmp(by, "route") || !strcmp(by, "rule")) return "rule";
  if (!strcmp(by, "backend")) return "backend";
  if (!strcmp(by, "model")) return "CASE WHEN backend = '' THEN '' ELSE backend || '/' || model END";
  if (!strcmp(by, "key")) return "key_id";
  if (!strcmp(by, "tenant")) return "tenant";
  return NULL;
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: sluice audit verify [--ledger FILE] [--anchor ID:HASH] [--format table|json]\n"
          "       sluice audit egress [--ledger FILE] [--since ISO8601] [--until ISO8601]\n"
          "                           [--tenant T] [--summary] [--format table|json|csv]\n"
          "       sluice audit costs  [--ledger FILE] [--since ISO8601] [--until ISO8601]\n"
          "                           [--tenant T] [--by route|backend|model|key|tenant]\n"
          "                           [--format table|json|csv]\n"
          "costs groups by route unless --by says otherwise; requests refused before routing\n"
          "(a bad key, a spent budget, a bad body) are the group (none).\n"
          "The ledger is --ledger, else --config FILE's ledger.path, else " DEFAULT_LEDGER
          ".\n--since is inclusive, --until exclusive; times are UTC unless they carry an "
          "offset.\n");
}

static int parse_args(int argc, char **argv, args_t *a) {
  memset(a, 0, sizeof *a);
  bool fmt_given = false;
  for (int i = 0; i < argc; i++) {
    const char *o = argv[i];
    const char **dst = NULL;
    if (!strcmp(o, "--ledger")) dst = &a->ledger;
    else if (!strcmp(o, "--config")) dst = &a->config;
    else if (!strcmp(o, "--since")) dst = &a->since;
    else if (!strcmp(o, "--until")) dst = &a->until;
    else if (!strcmp(o, "--tenant")) dst = &a->tenant;
    else if (!strcmp(o, "--by")) dst = &a->by;
    else if (!strcmp(o, "--anchor")) dst = &a->anchor;
    else if (!strcmp(o, "--summary")) {
      if (a->summary_only) goto twice;
      a->summary_only = true;
      continue;
    } else if (!strcmp(o, "--format")) {
      if (fmt_given) goto twice;
      fmt_given = true;
      if (++i >= argc) goto missing;
      if (!strcmp(argv[i], "table")) a->fmt = FMT_TABLE;
      else if (!strcmp(argv[i], "json")) a->fmt = FMT_JSON;
      else if (!strcmp(argv[i], "csv")) a->fmt = FMT_CSV;
      else {
        fprintf(stderr, "sluice audit: --format must be table, json or csv\n");
        return 2;
      }
      continue;
    } else if (sl_cli_is_help(o)) {
      usage(stdout);
      return -1; /* answered: exit 0 */
    } else {
      fprintf(stderr, "sluice audit: unknown option '%s'\n", o);
      usage(stderr);
      return 2;
    }
    if (++i >= argc || !strncmp(argv[i], "--", 2)) goto missing; /* "--by --format": no value */
    if (*dst) goto twice; /* two anchors would check only the last */
    *dst = argv[i];
    continue;
  twice:
    fprintf(stderr, "sluice audit: %s given twice\n", o);
    return 2;
  missing:
    fprintf(stderr, "sluice audit: %s needs a value\n", o);
    return 2;
  }
  const char *const *when[] = {&a->since, &a->until};
  char *out[] = {a->since_ts, a->until_ts};
  for (int k = 0; k < 2; k++) {
    if (!*when[k]) continue;
    int64_t ms;
    int rc = sl_ledger_parse_ts(*when[k], &ms);
    if (rc) {
      fprintf(stderr, "sluice audit: %s '%s': not an ISO 8601 date/time (%s)\n",
              k ? "--until" : "--since", *when[k], sl_strerror(rc));
      return 2;
    }
    sl_ledger_format_ts(ms, out[k], 40);
  }
  if (!a->ledger && a->config) {
    sl_config_t *cfg = NULL;
    sl_jerr_t err;
    memset(&err, 0, sizeof err);
    if (sl_config_load(a->config, &cfg, &err)) {
      fprintf(stderr, "sluice audit: cannot load %s: %s\n", a->config,
              err.msg[0] ? err.msg : "unreadable");
      return 2;
    }
    if (cfg->ledger_path) a->ledger = a->ledger_from_config = strdup(cfg->ledger_path);
    sl_config_free(cfg);
  }
  if (!a->ledger) a->ledger = DEFAULT_LEDGER;
  return 0;
}

/* ---------------- output helpers ---------------- */

/* An aligned table on stdout. The first TABLE_BUFFER rows are kept to size the
 * columns; after that rows are printed as they come with those widths (a wider
 * cell just pushes its line), so a long listing needs no memory per row. */
#define TABLE_BUFFER 1000

typedef struct {
  size_t ncol;
  char **cells; /* row-major, until streaming */
  size_t nrows, cap;
  size_t *w;    /* column widths, once streaming */
} table_t;

static void table_init(table_t *t, size_t ncol) {
  memset(t, 0, sizeof *t);
  t->ncol = ncol;
}

static bool control(unsigned char ch) { return ch < 0x20 || ch == 0x7f; }

/* The UTF-8 length of a character a terminal acts on or hides at s, or 0:
 * C1 controls (U+0080-009F: U+009B starts an escape sequence on many
 * terminals), and the format characters that reorder or hide text (U+200B-200F,
 * U+2028-202E, U+2066-2069: "U+202E" reverses what follows on screen). */
static size_t hidden(const unsigned char *s) {
  if (s[0] == 0xC2 && s[1] >= 0x80 && s[1] <= 0x9F) return 2;
  if (s[0] == 0xE2 && s[1] == 0x80 && s[2] && ((s[2] >= 0x8B && s[2] <= 0x8F) || (s[2] >= 0xA8 && s[2] <= 0xAE)))
    return 3;
  if (s[0] == 0xE2 && s[1] == 0x81 && s[2] >= 0xA6 && s[2] <= 0xA9) return 3;
  return 0;
}

/* Columns a cell takes as shown: a UTF-8 character one, an escaped control
 * character four, an escaped hidden one six ("\u202e"). */
static size_t text_width(const char *s) {
  size_t n = 0;
  for (const unsigned char *p = (const unsigned char *)s; *p;) {
    size_t h = hidden(p);
    if (h) n += 6, p += h;
    else n += control(*p) ? 4 : (*p & 0xC0) != 0x80, p++;
  }
  return n;
}

/* Prints a cell with control characters as \xNN (a tenant named "a\nb" would
 * otherwise print a line of its own, one that looks like a row) and the
 * characters hidden() names as \uXXXX. */
static void put_text(const char *s) {
  for (const unsigned char *p = (const unsigned char *)s; *p;) {
    size_t h = hidden(p);
    if (h == 2) printf("\\u%04x", p[1]);
    else if (h == 3) printf("\\u%04x", ((p[0] & 0x0F) << 12) | ((p[1] & 0x3F) << 6) | (p[2] & 0x3F));
    else if (control(*p)) printf("\\x%02x", *p);
    else putchar(*p);
    p += h ? h : 1;
  }
}

static void print_cells(const table_t *t, char *const *cells) {
  for (size_t c = 0; c < t->ncol; c++) {
    const char *s = cells[c] ? cells[c] : "";
    put_text(s);
    if (c + 1 < t->ncol)
      for (size_t k = text_width(s); k < t->w[c] + 2; k++) putchar(' ');
  }
  putchar('\n');
}

/* Sizes the columns from the buffered rows, prints them and frees them. */
static void table_flush(table_t *t) {
  if (!t->w && !(t->w = calloc(t->ncol, sizeof *t->w))) return;
  for (size_t r = 0; r < t->nrows; r++)
    for (size_t c = 0; c < t->ncol; c++) {
      const char *x = t->cells[r * t->ncol + c];
      size_t n = x ? text_width(x) : 0;
      if (n > t->w[c]) t->w[c] = n;
    }
  for (size_t r = 0; r < t->nrows; r++) {
    print_cells(t, t->cells + r * t->ncol);
    if (r == 0) {
      for (size_t c = 0; c < t->ncol; c++) {
        for (size_t k = 0; k < t->w[c]; k++) putchar('-');
        if (c + 1 < t->ncol) fputs("  ", stdout);
      }
      putchar('\n');
    }
  }
  for (size_t i = 0; i < t->nrows * t->ncol; i++) free(t->cells[i]);
  free(t->cells);
  t->cells = NULL;
  t->nrows = t->cap = 0;
}

static void table_row(table_t *t, const char *const *cells) {
  if (t->w) { /* streaming */
    print_cells(t, (char *const *)cells);
    return;
  }
  if (t->nrows == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 16;
    char **p = realloc(t->cells, cap * t->ncol * sizeof *p);
    if (!p) return;
    t->cells = p;
    t->cap = cap;
  }
  for (size_t c = 0; c < t->ncol; c++) /* NULL (no memory) prints as empty */
    t->cells[t->nrows * t->ncol + c] = strdup(cells[c] ? cells[c] : "");
  t->nrows++;
  if (t->nrows >= TABLE_BUFFER) table_flush(t);
}

/* Prints what is still buffered. */
static void table_print(table_t *t) {
  if (t->nrows) table_flush(t);
}

static void table_free(table_t *t) {
  for (size_t i = 0; i < t->nrows * t->ncol; i++) free(t->cells[i]);
  free(t->cells);
  free(t->w);
}

/* A text cell a spreadsheet would run as a formula ("=HYPERLINK(...)" as a
 * tenant's name) gets a leading ' (OWASP's advice for CSV); numbers stay. */
static bool formula_like(const char *s) {
  if (!*s || !strchr("=+-@\t\r", *s)) return false;
  char *end;
  strtod(s, &end);
  return end == s || *end;
}

static void csv_cell(FILE *f, const char *s) {
  bool formula = formula_like(s);
  if (!formula && !strpbrk(s, ",\"\r\n")) {
    fputs(s, f);
    return;
  }
  fputc('"', f);
  if (formula) fputc('\'', f);
  for (; *s; s++) {
    if (*s == '"') fputc('"', f);
    fputc(*s, f);
  }
  fputc('"', f);
}

static void csv_row(FILE *f, const char *const *cells, size_t n) {
  for (size_t c = 0; c < n; c++) {
    if (c) fputc(',', f);
    csv_cell(f, cells[c] ? cells[c] : "");
  }
  fputc('\n', f);
}

static double round9(double v) { return round(v * 1e9) / 1e9; }

static void print_json(cJSON *root) {
  char *s = cJSON_PrintUnformatted(root);
  if (s) puts(s);
  free(s);
}

/* Gap rows (writes that failed, recorded once the ledger recovered) in the time
 * range, as a JSON array; *rows gets the number of unrecorded rows. */
static cJSON *gaps_in_range(const args_t *a, sqlite3 *db, int64_t *rows) {
  cJSON *arr = cJSON_CreateArray();
  *rows = 0;
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db,
                         "SELECT id, ts, classification FROM requests WHERE kind = 'gap' "
                         "AND ts >= ?1 AND (?2 IS NULL OR ts < ?2) ORDER BY id",
                         -1, &st, NULL) != SQLITE_OK)
    return arr;
  sqlite3_bind_text(st, 1, a->since ? a->since_ts : "", -1, SQLITE_STATIC);
  if (a->until) sqlite3_bind_text(st, 2, a->until_ts, -1, SQLITE_STATIC);
  while (sqlite3_step(st) == SQLITE_ROW) {
    cJSON *g = cJSON_Parse((const char *)sqlite3_column_text(st, 2));
    if (!cJSON_IsObject(g)) {
      cJSON_Delete(g);
      g = cJSON_CreateObject();
    }
    cJSON_AddNumberToObject(g, "id", (double)sqlite3_column_int64(st, 0));
    cJSON_AddStringToObject(g, "recorded_at", (const char *)sqlite3_column_text(st, 1));
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(g, "unrecorded_rows");
    if (cJSON_IsNumber(n)) *rows += (int64_t)n->valuedouble;
    cJSON_AddItemToArray(arr, g);
  }
  sqlite3_finalize(st);
  return arr;
}

/* One warning line per gap (table: stdout after the tables; CSV: stderr). */
static void warn_gaps(FILE *f, const cJSON *gaps) {
  const cJSON *g;
  cJSON_ArrayForEach(g, gaps) {
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(g, "unrecorded_rows");
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(g, "egress_rows");
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(g, "bytes_out");
    const cJSON *from = cJSON_GetObjectItemCaseSensitive(g, "from");
    const cJSON *to = cJSON_GetObjectItemCaseSensitive(g, "to");
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(g, "damaged_journal_rows");
    char dmg[120] = "";
    if (cJSON_IsNumber(d) && d->valuedouble > 0)
      snprintf(dmg, sizeof dmg, "; %.0f of them in damaged journal records, whose kind and bytes are unknown",
               d->valuedouble);
    /* counts in full (1234567, not 1.23457e+06): they are exact */
    fprintf(f,
            "WARNING: %.0f rows could not be written to the ledger between %s and %s "
            "(%.0f of them egress records, %.0f bytes%s); see row %.0f\n",
            cJSON_IsNumber(n) ? n->valuedouble : 0,
            cJSON_IsString(from) ? from->valuestring : "?",
            cJSON_IsString(to) ? to->valuestring : "?", cJSON_IsNumber(e) ? e->valuedouble : 0,
            cJSON_IsNumber(b) ? b->valuedouble : 0, dmg,
            cJSON_GetObjectItemCaseSensitive(g, "id")->valuedouble);
  }
}

/* ---------------- verify ---------------- */

static int cmd_verify(const args_t *a) {
  int64_t anchor_id = 0;
  const char *anchor_hash = NULL;
  char hash[65];
  if (a->anchor) {
    char *end;
    errno = 0;
    anchor_id = strtoll(a->anchor, &end, 10);
    bool hex = *end == ':' && strlen(end + 1) == 64;
    for (int i = 0; hex && i < 64; i++) { /* the hash as printed: lower case */
      char ch = end[1 + i];
      hex = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
      hash[i] = (char)(ch >= 'A' && ch <= 'F' ? ch - 'A' + 'a' : ch);
    }
    if (anchor_id <= 0 || errno == ERANGE || !hex) {
      fprintf(stderr, "sluice audit verify: --anchor must be ID:HASH (64 hex digits)\n");
      return 2;
    }
    hash[64] = 0;
    anchor_hash = hash;
  }
  sl_ledger_verify_t v;
  int rc = sl_ledger_verify(a->ledger, anchor_id, anchor_hash, &v);
  if (rc && rc != SL_EPARSE) {
    fprintf(stderr, "sluice audit verify: cannot read ledger %s: %s\n", a->ledger,
            v.reason[0] ? v.reason : sl__ledger_open_error(rc));
    return 2;
  }
  cJSON *gaps = NULL;
  int64_t lost = 0;
  sqlite3 *db;
  if (!sl__ledger_open_ro(a->ledger, &db)) {
    gaps = gaps_in_range(a, db, &lost);
    sqlite3_close(db);
  }
  if (!gaps) gaps = cJSON_CreateArray();
  if (a->fmt == FMT_JSON) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "ledger", a->ledger);
    cJSON_AddBoolToObject(o, "intact", rc == 0);
    cJSON_AddNumberToObject(o, "unrecorded_rows", (double)lost);
    cJSON_AddItemToObject(o, "gaps", gaps);
    gaps = NULL;
    cJSON_AddNumberToObject(o, "rows_verified", (double)v.rows);
    cJSON_AddNumberToObject(o, "head_id", (double)v.head_id);
    cJSON_AddStringToObject(o, "head_hash", v.head_hash);
    if (rc) {
      cJSON_AddNumberToObject(o, "broken_id", (double)v.broken_id);
      cJSON_AddStringToObject(o, "reason", v.reason);
    }
    print_json(o);
    cJSON_Delete(o);
  } else if (rc && !v.broken_id) { /* the file, not a row */
    printf("ledger %s: BROKEN: %s\n", a->ledger, v.reason);
  } else if (rc) {
    printf("ledger %s: BROKEN at row id %lld: %s\n", a->ledger, (long long)v.broken_id,
           v.reason);
    printf("%lld %s before it verif%s (last good id %lld)\n", (long long)v.rows,
           v.rows == 1 ? "row" : "rows", v.rows == 1 ? "ies" : "y", (long long)v.head_id);
  } else {
    printf("ledger %s: intact, %lld rows\n", a->ledger, (long long)v.rows);
    if (v.rows)
      printf("head: id %lld hash %s\n(record this anchor elsewhere; later: --anchor "
             "%lld:%s)\n",
             (long long)v.head_id, v.head_hash, (long long)v.head_id, v.head_hash);
  }
  if (gaps) warn_gaps(stdout, gaps);
  cJSON_Delete(gaps);
  return rc ? 1 : 0;
}

/* ---------------- egress ---------------- */

/* entity_types {"T":{"count":N,...}} (also {"T":N} or ["T",...]) minus the
 * redacted counts {"T":N} (or ["T",...]: all of that type): what left. */
static cJSON *types_sent(const char *entities, const char *redactions, cJSON **redacted_out) {
  cJSON *ent = cJSON_Parse(entities ? entities : "{}");
  cJSON *red = cJSON_Parse(redactions ? redactions : "{}");
  cJSON *sent = cJSON_CreateObject();
  cJSON *redacted = cJSON_CreateObject();
  const cJSON *it;
  cJSON_ArrayForEach(it, red) {
    const char *t = cJSON_IsString(it) ? it->valuestring : it->string;
    if (!t) continue;
    double n = cJSON_IsNumber(it) ? it->valuedouble : -1; /* -1: all */
    cJSON_AddNumberToObject(redacted, t, n);
  }
  cJSON_ArrayForEach(it, ent) {
    const char *t = cJSON_IsString(it) ? it->valuestring : it->string;
    if (!t) continue;
    double n = 1;
    if (cJSON_IsNumber(it)) n = it->valuedouble;
    else if (cJSON_IsObject(it)) {
      const cJSON *c = cJSON_GetObjectItemCaseSensitive(it, "count");
      if (cJSON_IsNumber(c)) n = c->valuedouble;
    }
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(redacted, t);
    if (r) n = r->valuedouble < 0 ? 0 : n - r->valuedouble;
    if (n > 0) cJSON_AddNumberToObject(sent, t, n);
  }
  /* Report "all" redactions with the count that was removed. */
  cJSON *r;
  cJSON_ArrayForEach(r, redacted) {
    if (r->valuedouble >= 0) continue;
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(ent, r->string);
    double n = 1;
    if (cJSON_IsNumber(e)) n = e->valuedouble;
    else if (cJSON_IsObject(e)) {
      const cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "count");
      if (cJSON_IsNumber(c)) n = c->valuedouble;
    }
    cJSON_SetNumberValue(r, n);
  }
  cJSON_Delete(ent);
  cJSON_Delete(red);
  *redacted_out = redacted;
  return sent;
}

/* "EMAIL_ADDRESS:2;PERSON:1" for the table and CSV. */
static void types_text(const cJSON *o, char *buf, size_t cap) {
  size_t len = 0;
  buf[0] = '\0';
  const cJSON *it;
  cJSON_ArrayForEach(it, o) {
    int n = snprintf(buf + len, cap - len, "%s%s:%g", len ? ";" : "", it->string,
                     it->valuedouble);
    if (n < 0 || (size_t)n >= cap - len) break;
    len += (size_t)n;
  }
}

static void types_add(cJSON *acc, const cJSON *add) {
  const cJSON *it;
  cJSON_ArrayForEach(it, add) {
    cJSON *have = cJSON_GetObjectItemCaseSensitive(acc, it->string);
    if (have) cJSON_SetNumberValue(have, have->valuedouble + it->valuedouble);
    else cJSON_AddNumberToObject(acc, it->string, it->valuedouble);
  }
}

static int bind_range(sqlite3_stmt *st, const args_t *a) {
  sqlite3_bind_text(st, 1, a->since ? a->since_ts : "", -1, SQLITE_STATIC);
  if (a->until) sqlite3_bind_text(st, 2, a->until_ts, -1, SQLITE_STATIC);
  if (a->tenant) sqlite3_bind_text(st, 3, a->tenant, -1, SQLITE_STATIC);
  return 0;
}

enum { E_ID, E_TS, E_RID, E_TENANT, E_KEY, E_RULE, E_BACKEND, E_MODEL, E_DEST, E_BYTES,
       E_SHA, E_LEVEL, E_ENT, E_RED, E_PV, E_STATUS };

static const char *col(sqlite3_stmt *st, int c) {
  const char *s = (const char *)sqlite3_column_text(st, c);
  return s ? s : "";
}

static int cmd_egress(const args_t *a, sqlite3 *db) {
  char sql[4096];
  static const char where[] =
      " WHERE ts >= ?1 AND (?2 IS NULL OR ts < ?2) AND (?3 IS NULL OR tenant = ?3)";
  /* Listing in chain order; summary grouped, each request counted once per
   * (tenant, destination) and its entity types taken from its first transmission. */
  snprintf(sql, sizeof sql, "SELECT * FROM (%s)%s ORDER BY id", sl__ledger_egress_sql, where);
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
    fprintf(stderr, "sluice audit egress: %s\n", sqlite3_errmsg(db));
    return 2;
  }
  bind_range(st, a);

  /* Summary groups: (tenant, destination) -> requests, transmissions, bytes, types. */
  typedef struct {
    char *tenant, *dest;
    int64_t requests, transmissions, bytes;
    cJSON *types;
  } group_t;
  group_t *groups = NULL;
  size_t n_groups = 0;
  int64_t total_tx = 0, total_bytes = 0;

  cJSON *root = cJSON_CreateObject();
  cJSON_AddStringToObject(root, "ledger", a->ledger);
  if (a->since) cJSON_AddStringToObject(root, "since", a->since_ts);
  else cJSON_AddNullToObject(root, "since");
  if (a->until) cJSON_AddStringToObject(root, "until", a->until_ts);
  else cJSON_AddNullToObject(root, "until");
  if (a->tenant) cJSON_AddStringToObject(root, "tenant", a->tenant);
  else cJSON_AddNullToObject(root, "tenant");
  /* JSON streams the transmissions (a ledger can hold millions): the scalar
   * members first, then one object per row, then summary and totals. */
  bool first_tx = true;
  if (a->fmt == FMT_JSON) {
    char *h = cJSON_PrintUnformatted(root);
    if (h && *h) {
      h[strlen(h) - 1] = '\0'; /* drop the closing brace */
      fputs(h, stdout);
    }
    free(h);
    if (!a->summary_only) fputs(",\"transmissions\":[", stdout);
  }

  static const char *const head[] = {"id", "ts", "request_id", "tenant", "key_id", "rule",
                                     "backend", "model", "destination", "bytes_out",
                                     "sha256_out", "level", "entity_types", "redacted",
                                     "policy_version", "status"};
  enum { NH = sizeof head / sizeof head[0] };
  table_t tab;
  table_init(&tab, NH);
  if (!a->summary_only) {
    if (a->fmt == FMT_CSV) csv_row(stdout, head, NH);
    else if (a->fmt == FMT_TABLE) table_row(&tab, head);
  }

  /* A request's transmissions can be spread over the listing (chain order), so
   * distinct requests per group come from a second, grouped pass below. */
  int step;
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    cJSON *redacted;
    cJSON *sent = types_sent(col(st, E_ENT), col(st, E_RED), &redacted);
    int64_t bytes = sqlite3_column_int64(st, E_BYTES);
    total_tx++;
    total_bytes += bytes;
    if (!a->summary_only) {
      char sent_s[1024], red_s[1024], id_s[24], bytes_s[24];
      types_text(sent, sent_s, sizeof sent_s);
      types_text(redacted, red_s, sizeof red_s);
      snprintf(id_s, sizeof id_s, "%lld", (long long)sqlite3_column_int64(st, E_ID));
      snprintf(bytes_s, sizeof bytes_s, "%lld", (long long)bytes);
      const char *cells[NH] = {id_s, col(st, E_TS), col(st, E_RID), col(st, E_TENANT),
                               col(st, E_KEY), col(st, E_RULE), col(st, E_BACKEND),
                               col(st, E_MODEL), col(st, E_DEST), bytes_s, col(st, E_SHA),
                               col(st, E_LEVEL), sent_s, red_s, col(st, E_PV),
                               col(st, E_STATUS)};
      if (a->fmt == FMT_CSV) {
        csv_row(stdout, cells, NH);
      } else if (a->fmt == FMT_TABLE) {
        table_row(&tab, cells);
      } else {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "id", (double)sqlite3_column_int64(st, E_ID));
        for (int c = E_TS; c <= E_STATUS; c++) {
          if (c == E_BYTES) cJSON_AddNumberToObject(o, head[c], (double)bytes);
          else if (c == E_ENT) cJSON_AddItemToObject(o, head[c], sent), sent = NULL;
          else if (c == E_RED) cJSON_AddItemToObject(o, head[c], redacted), redacted = NULL;
          else cJSON_AddStringToObject(o, head[c], col(st, c));
        }
        char *js = cJSON_PrintUnformatted(o);
        if (js) printf("%s%s", first_tx ? "" : ",", js);
        first_tx = false;
        free(js);
        cJSON_Delete(o);
      }
    }
    cJSON_Delete(sent);
    cJSON_Delete(redacted);
  }
  sqlite3_finalize(st);
  if (step != SQLITE_DONE) {
    fprintf(stderr, "sluice audit egress: %s\n", sqlite3_errmsg(db));
    table_free(&tab);
    cJSON_Delete(root);
    return 2;
  }

  /* Grouped pass: each request counted once per (tenant, destination). */
  snprintf(sql, sizeof sql,
           "SELECT tenant, destination, CASE WHEN request_id = '' THEN 'row:' || id ELSE "
           "request_id END AS rq, count(*), sum(bytes_out), min(id) FROM (%s)%s "
           "GROUP BY tenant, destination, rq ORDER BY tenant, destination, min(id)",
           sl__ledger_egress_sql, where);
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
    fprintf(stderr, "sluice audit egress: %s\n", sqlite3_errmsg(db));
    table_free(&tab);
    cJSON_Delete(root);
    return 2;
  }
  bind_range(st, a);
  sqlite3_stmt *first = NULL;
  sqlite3_prepare_v2(db, "SELECT entity_types, redactions FROM requests WHERE id = ?1", -1,
                     &first, NULL);
  int64_t total_requests = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    const char *tenant = col(st, 0), *dest = col(st, 1);
    group_t *g = n_groups ? &groups[n_groups - 1] : NULL;
    if (!g || strcmp(g->tenant, tenant) || strcmp(g->dest, dest)) {
      group_t *p = realloc(groups, (n_groups + 1) * sizeof *groups);
      if (!p) break;
      groups = p;
      g = &groups[n_groups++];
      memset(g, 0, sizeof *g);
      g->tenant = strdup(tenant);
      g->dest = strdup(dest);
      g->types = cJSON_CreateObject();
    }
    g->requests++;
    g->transmissions += sqlite3_column_int64(st, 3);
    g->bytes += sqlite3_column_int64(st, 4);
    if (first) {
      sqlite3_bind_int64(first, 1, sqlite3_column_int64(st, 5));
      if (sqlite3_step(first) == SQLITE_ROW) {
        cJSON *red;
        cJSON *sent = types_sent(col(first, 0), col(first, 1), &red);
        types_add(g->types, sent);
        cJSON_Delete(sent);
        cJSON_Delete(red);
      }
      sqlite3_reset(first);
    }
  }
  sqlite3_finalize(first);
  sqlite3_finalize(st);
  /* A request sent to two destinations is in two groups but one total. */
  snprintf(sql, sizeof sql,
           "SELECT count(DISTINCT CASE WHEN request_id = '' THEN 'row:' || id ELSE "
           "request_id END) FROM (%s)%s",
           sl__ledger_egress_sql, where);
  total_requests = 0;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
    bind_range(st, a);
    if (sqlite3_step(st) == SQLITE_ROW) total_requests = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
  }

  static const char *const shead[] = {"tenant", "destination", "requests", "transmissions",
                                      "bytes_out", "entity_types"};
  enum { NS = sizeof shead / sizeof shead[0] };
  if (a->fmt == FMT_JSON) {
    if (!a->summary_only) fputs("]", stdout);
    cJSON *sum = cJSON_CreateArray();
    for (size_t i = 0; i < n_groups; i++) {
      cJSON *o = cJSON_CreateObject();
      cJSON_AddStringToObject(o, "tenant", groups[i].tenant);
      cJSON_AddStringToObject(o, "destination", groups[i].dest);
      cJSON_AddNumberToObject(o, "requests", (double)groups[i].requests);
      cJSON_AddNumberToObject(o, "transmissions", (double)groups[i].transmissions);
      cJSON_AddNumberToObject(o, "bytes_out", (double)groups[i].bytes);
      cJSON_AddItemToObject(o, "entity_types", groups[i].types);
      groups[i].types = NULL;
      cJSON_AddItemToArray(sum, o);
    }
    cJSON *t = cJSON_CreateObject();
    cJSON_AddNumberToObject(t, "requests", (double)total_requests);
    cJSON_AddNumberToObject(t, "transmissions", (double)total_tx);
    cJSON_AddNumberToObject(t, "bytes_out", (double)total_bytes);
    char *js = cJSON_PrintUnformatted(sum), *jt = cJSON_PrintUnformatted(t);
    int64_t lost;
    cJSON *gaps = gaps_in_range(a, db, &lost);
    char *jg = cJSON_PrintUnformatted(gaps);
    cJSON_Delete(gaps);
    printf(",\"summary\":%s,\"totals\":%s,\"gaps\":%s}\n", js ? js : "[]", jt ? jt : "{}",
           jg ? jg : "[]");
    free(jg);
    free(js);
    free(jt);
    cJSON_Delete(sum);
    cJSON_Delete(t);
  } else {
    table_t s;
    table_init(&s, NS);
    if (a->fmt == FMT_CSV) {
      if (a->summary_only) csv_row(stdout, shead, NS);
    } else {
      if (!a->summary_only) {
        table_print(&tab);
        putchar('\n');
      }
      table_row(&s, shead);
    }
    for (size_t i = 0; i < n_groups; i++) {
      char rq[24], tx[24], by[24], ty[2048];
      snprintf(rq, sizeof rq, "%lld", (long long)groups[i].requests);
      snprintf(tx, sizeof tx, "%lld", (long long)groups[i].transmissions);
      snprintf(by, sizeof by, "%lld", (long long)groups[i].bytes);
      types_text(groups[i].types, ty, sizeof ty);
      const char *cells[NS] = {groups[i].tenant, groups[i].dest, rq, tx, by, ty};
      if (a->fmt == FMT_CSV) {
        if (a->summary_only) csv_row(stdout, cells, NS);
      } else {
        table_row(&s, cells);
      }
    }
    if (a->fmt == FMT_TABLE) {
      table_print(&s);
      printf("\n%lld requests, %lld transmissions, %lld bytes out\n",
             (long long)total_requests, (long long)total_tx, (long long)total_bytes);
    }
    int64_t lost;
    cJSON *gaps = gaps_in_range(a, db, &lost);
    warn_gaps(a->fmt == FMT_CSV ? stderr : stdout, gaps);
    cJSON_Delete(gaps);
    table_free(&s);
  }
  for (size_t i = 0; i < n_groups; i++) {
    free(groups[i].tenant);
    free(groups[i].dest);
    cJSON_Delete(groups[i].types);
  }
  free(groups);
  table_free(&tab);
  cJSON_Delete(root);
  return 0;
}

/* ---------------- costs ---------------- */

static int cmd_costs(const args_t *a, sqlite3 *db) {
  const char *key = by_column(a->by); /* known: checked with the arguments */
  /* Requests, tokens and cost from the REQUEST rows (one per request; EGRESS
   * rows carry no cost); bytes out from the EGRESS rows, each under the backend
   * the bytes went to (a request an external backend failed and a local one
   * answered sent its bytes to the first), and from a REQUEST row only when it
   * has no EGRESS rows; an EGRESS row of a connect that failed counts nothing
   * (sl__ledger_egress_sent, as sl__ledger_egress_sql reads them). */
  char sql[2400];
  snprintf(sql, sizeof sql,
           "SELECT %s AS k, sum(kind = 'request'), sum(kind = 'request' AND location = 'external'), "
           "sum(kind = 'request' AND location NOT IN ('external', '')), "
           "sum(CASE WHEN kind = 'request' THEN tokens_in ELSE 0 END), "
           "sum(CASE WHEN kind = 'request' THEN tokens_out ELSE 0 END), "
           "sum(CASE WHEN kind = 'request' THEN cost_usd ELSE 0 END), "
           "sum(CASE WHEN kind = 'request' AND location NOT IN ('external', '') THEN cost_usd ELSE 0 END), "
           "sum(CASE WHEN kind = 'request' THEN avoided_cost_usd ELSE 0 END), "
           "sum(CASE WHEN kind = 'egress' AND %s THEN bytes_out "
           "WHEN kind = 'request' AND egress = 1 AND NOT EXISTS "
           "(SELECT 1 FROM requests x WHERE x.kind = 'egress' AND e.request_id <> '' AND "
           "x.request_id = e.request_id) THEN bytes_out ELSE 0 END) "
           "FROM requests e WHERE kind IN ('request', 'egress') AND ts >= ?1 AND (?2 IS "
           "NULL OR ts < ?2) AND (?3 IS NULL OR tenant = ?3) GROUP BY k ORDER BY k",
           key, sl__ledger_egress_sent);
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
    fprintf(stderr, "sluice audit costs: %s\n", sqlite3_errmsg(db));
    return 2;
  }
  bind_range(st, a);
  const char *by = !strcmp(a->by, "rule") ? "route" : a->by;
  const char *head[] = {by,           "requests",       "external",  "local",
                        "tokens_in",  "tokens_out",     "cost_usd",  "local_cost_usd",
                        "avoided_usd", "net_savings_usd", "bytes_out"};
  enum { NH = sizeof head / sizeof head[0] };
  cJSON *root = cJSON_CreateObject();
  cJSON_AddStringToObject(root, "ledger", a->ledger);
  cJSON_AddStringToObject(root, "by", by);
  if (a->tenant) cJSON_AddStringToObject(root, "tenant", a->tenant);
  else cJSON_AddNullToObject(root, "tenant");
  if (a->since) cJSON_AddStringToObject(root, "since", a->since_ts);
  else cJSON_AddNullToObject(root, "since");
  if (a->until) cJSON_AddStringToObject(root, "until", a->until_ts);
  else cJSON_AddNullToObject(root, "until");
  cJSON *groups = cJSON_AddArrayToObject(root, "groups");
  table_t tab;
  table_init(&tab, NH);
  if (a->fmt == FMT_CSV) csv_row(stdout, head, NH);
  else table_row(&tab, head);
  int64_t ti[6] = {0};
  double td[3] = {0};
  int step;
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    int64_t iv[6];
    for (int i = 0; i < 6; i++) iv[i] = sqlite3_column_int64(st, i < 5 ? i + 1 : 9);
    double cost = round9(sqlite3_column_double(st, 6));
    double local_cost = round9(sqlite3_column_double(st, 7));
    double avoided = round9(sqlite3_column_double(st, 8));
    double net = round9(avoided - local_cost);
    for (int i = 0; i < 6; i++) ti[i] += iv[i];
    td[0] += cost, td[1] += local_cost, td[2] += avoided;
    const char *k = col(st, 0);
    if (!*k) k = "(none)"; /* refused before routing: no rule, backend or key */
    if (a->fmt == FMT_JSON) {
      cJSON *o = cJSON_CreateObject();
      cJSON_AddStringToObject(o, by, k);
      for (int i = 0; i < 5; i++) cJSON_AddNumberToObject(o, head[i + 1], (double)iv[i]);
      cJSON_AddNumberToObject(o, "cost_usd", cost);
      cJSON_AddNumberToObject(o, "local_cost_usd", local_cost);
      cJSON_AddNumberToObject(o, "avoided_usd", avoided);
      cJSON_AddNumberToObject(o, "net_savings_usd", net);
      cJSON_AddNumberToObject(o, "bytes_out", (double)iv[5]);
      cJSON_AddItemToArray(groups, o);
    } else {
      char s[NH][40];
      for (int i = 0; i < 5; i++) snprintf(s[i + 1], 40, "%lld", (long long)iv[i]);
      /* CSV keeps the ledger's 9 places (a table rounds to 6 for reading) */
      int places = a->fmt == FMT_CSV ? 9 : 6;
      snprintf(s[6], 40, "%.*f", places, cost);
      snprintf(s[7], 40, "%.*f", places, local_cost);
      snprintf(s[8], 40, "%.*f", places, avoided);
      snprintf(s[9], 40, "%.*f", places, net);
      snprintf(s[10], 40, "%lld", (long long)iv[5]);
      const char *cells[NH] = {k, s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9], s[10]};
      if (a->fmt == FMT_CSV) csv_row(stdout, cells, NH);
      else table_row(&tab, cells);
    }
  }
  sqlite3_finalize(st);
  int rc = 0;
  if (step != SQLITE_DONE) {
    fprintf(stderr, "sluice audit costs: %s\n", sqlite3_errmsg(db));
    rc = 2;
  } else if (a->fmt == FMT_JSON) {
    cJSON *t = cJSON_AddObjectToObject(root, "totals");
    for (int i = 0; i < 5; i++) cJSON_AddNumberToObject(t, head[i + 1], (double)ti[i]);
    cJSON_AddNumberToObject(t, "cost_usd", round9(td[0]));
    cJSON_AddNumberToObject(t, "local_cost_usd", round9(td[1]));
    cJSON_AddNumberToObject(t, "avoided_usd", round9(td[2]));
    cJSON_AddNumberToObject(t, "net_savings_usd", round9(td[2] - td[1]));
    cJSON_AddNumberToObject(t, "bytes_out", (double)ti[5]);
    int64_t lost;
    cJSON_AddItemToObject(root, "gaps", gaps_in_range(a, db, &lost));
    print_json(root);
  } else if (a->fmt == FMT_TABLE) {
    char s[NH][40];
    for (int i = 0; i < 5; i++) snprintf(s[i + 1], 40, "%lld", (long long)ti[i]);
    snprintf(s[6], 40, "%.6f", round9(td[0]));
    snprintf(s[7], 40, "%.6f", round9(td[1]));
    snprintf(s[8], 40, "%.6f", round9(td[2]));
    snprintf(s[9], 40, "%.6f", round9(td[2] - td[1]));
    snprintf(s[10], 40, "%lld", (long long)ti[5]);
    const char *cells[NH] = {"TOTAL", s[1], s[2], s[3], s[4], s[5],
                             s[6],    s[7], s[8], s[9], s[10]};
    table_row(&tab, cells);
    table_print(&tab);
  }
  if (!rc && a->fmt != FMT_JSON) {
    int64_t lost;
    cJSON *gaps = gaps_in_range(a, db, &lost);
    warn_gaps(a->fmt == FMT_CSV ? stderr : stdout, gaps);
    cJSON_Delete(gaps);
  }
  table_free(&tab);
  cJSON_Delete(root);
  return rc;
}

int sl_cli_audit(int argc, char **argv) {
  if (argc < 1 || sl_cli_is_help(argv[0])) {
    usage(argc < 1 ? stderr : stdout);
    return argc < 1 ? 2 : 0;
  }
  const char *sub = argv[0];
  if (strcmp(sub, "verify") && strcmp(sub, "egress") && strcmp(sub, "costs")) {
    fprintf(stderr, "sluice audit: unknown subcommand '%s'\n", sub);
    usage(stderr);
    return 2;
  }
  args_t a;
  int rc = parse_args(argc - 1, argv + 1, &a);
  if (!rc && !strcmp(sub, "verify") && a.fmt == FMT_CSV) {
    fprintf(stderr, "sluice audit verify: --format must be table or json\n");
    rc = 2;
  }
  bool by_given = a.by != NULL;
  if (!by_given) a.by = "route";
  bool by_ok = by_column(a.by) != NULL, costs = !strcmp(sub, "costs");
  if (!rc && (!by_ok || (!costs && by_given))) {
    fprintf(stderr, costs ? "sluice audit %s: --by must be route, backend, model, key or tenant\n"
                          : "sluice audit %s: --by applies to audit costs only\n", sub);
    rc = 2;
  }
  if (!rc && !strcmp(sub, "verify") && (a.since || a.until || a.tenant)) {
    fprintf(stderr, "sluice audit verify: --since, --until and --tenant do not apply: the whole "
                    "chain is verified\n");
    rc = 2;
  }
  if (!rc && a.summary_only && strcmp(sub, "egress")) {
    fprintf(stderr, "sluice audit %s: --summary applies to audit egress only\n", sub);
    rc = 2;
  }
  if (rc) {
    free(a.ledger_from_config);
    return rc < 0 ? 0 : rc;
  }
  /* Rows a crashed sluice acknowledged but had not committed yet are part of
   * the record: commit them first (a running sluice does it itself). */
  uint64_t pending = 0;
  int prc = sl_ledger_commit_pending(a.ledger, &pending);
  if (!prc && pending)
    fprintf(stderr, "sluice audit: committed %llu pending rows left in %s-pending\n",
            (unsigned long long)pending, a.ledger);
  else if (prc == SL_EBUSY)
    fprintf(stderr, "sluice audit: a running sluice is committing the rows pending in "
                    "%s-pending; rows of the last few milliseconds may not show yet\n", a.ledger);
  else if (prc && prc != SL_ENOTFOUND)
    fprintf(stderr, "sluice audit: warning: the rows pending in %s-pending could not be "
                    "committed (%s): rows a stopped sluice acknowledged may be missing from "
                    "this report\n", a.ledger, sl_strerror(prc));
  if (!strcmp(sub, "verify")) {
    rc = cmd_verify(&a);
  } else {
    sqlite3 *db;
    rc = sl__ledger_open_ro(a.ledger, &db);
    if (rc) {
      fprintf(stderr, "sluice audit %s: cannot read ledger %s: %s\n", sub, a.ledger,
              sl__ledger_open_error(rc));
      rc = 2;
    } else {
      /* a report read through an altered table (a collation, a trigger) or
       * from a file that says another schema would mislead: refused, as
       * verify reports it BROKEN */
      char why[400];
      /* and from indexes that no longer match the rows (rebuilt to skip a
       * tenant's: each row still hashes) */
      int bad = sl__ledger_integrity(db, why, sizeof why); /* (a damaged file first: it misreads) */
      if (!bad) bad = sl__ledger_shape(db, why, sizeof why);
      if (bad == SL_EIO) {
        fprintf(stderr, "sluice audit %s: cannot read ledger %s: %s\n", sub, a.ledger, why);
        rc = 2;
      } else if (bad) {
        fprintf(stderr, "sluice audit %s: ledger %s: %s; no report (run sluice audit verify)\n", sub,
                a.ledger, why);
        rc = 1;
      } else {
        rc = !strcmp(sub, "egress") ? cmd_egress(&a, db) : cmd_costs(&a, db);
      }
      sqlite3_close(db);
    }
  }
  fflush(stdout);
  free(a.ledger_from_config);
  return rc;
}
