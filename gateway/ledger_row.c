/* Helpers for filling a ledger row: digests, timestamps, budget periods and the
 * JSON of entity types, redactions and classification (types, counts, offsets —
 * never the matched text). */
#include "ledger.h"
#include "ledger_int.h"

#include "sl_err.h"
#include "sl_str.h"

#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

void sl_ledger_sha256_hex(const void *p, size_t n, char out[65]) {
  unsigned char md[32];
  unsigned int mdlen = 0;
  static const char hex[] = "0123456789abcdef";
  if (!EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL)) memset(md, 0, sizeof md);
  for (int i = 0; i < 32; i++) {
    out[2 * i] = hex[md[i] >> 4];
    out[2 * i + 1] = hex[md[i] & 15];
  }
  out[64] = '\0';
}

void sl_ledger_format_ts(int64_t ts_ms, char *out, size_t cap) {
  time_t s = (time_t)(ts_ms / 1000);
  int ms = (int)(ts_ms % 1000);
  if (ms < 0) {
    ms += 1000;
    s -= 1;
  }
  struct tm tm;
  gmtime_r(&s, &tm);
  snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

static int digits(const char **p, int n, int *out) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    char c = (*p)[i];
    if (c < '0' || c > '9') return SL_EPARSE;
    v = v * 10 + (c - '0');
  }
  *p += n;
  *out = v;
  return 0;
}

int sl_ledger_parse_ts(const char *s, int64_t *ts_ms) {
  if (!s) return SL_EINVAL;
  const char *p = s;
  int y, mo, d, h = 0, mi = 0, sec = 0, ms = 0;
  if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' ||
      digits(&p, 2, &d))
    return SL_EPARSE;
  if (*p == 'T' || *p == 't' || *p == ' ') { /* RFC 3339 allows lower case */
    p++;
    if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi)) return SL_EPARSE;
    if (*p == ':') {
      p++;
      if (digits(&p, 2, &sec)) return SL_EPARSE;
      if (*p == '.') {
        p++;
        int scale = 100, n = 0;
        bool finer = false; /* a digit past the millisecond that is not 0 */
        while (*p >= '0' && *p <= '9') {
          ms += (*p - '0') * scale;
          finer |= !scale && *p != '0';
          scale /= 10;
          p++;
          if (++n > 9) return SL_EPARSE;
        }
        if (!n) return SL_EPARSE;
        /* rounded up: the stored times have milliseconds, and an instant
         * between two of them is after the earlier (an inclusive --since
         * must not take it in, an exclusive --until must) */
        ms += finer;
      }
    }
  }
  int off = 0;
  if (*p == 'Z' || *p == 'z') {
    p++;
  } else if (*p == '+' || *p == '-') {
    int sign = *p++ == '-' ? -1 : 1, oh, om;
    if (digits(&p, 2, &oh)) return SL_EPARSE;
    if (*p == ':') p++;
    if (digits(&p, 2, &om)) return SL_EPARSE;
    if (oh > 23 || om > 59) return SL_ERANGE;
    off = sign * (oh * 60 + om);
  }
  if (*p) return SL_EPARSE;
  if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
      mi > 59 || sec > 60)
    return SL_ERANGE;
  static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (d > mdays[mo - 1] + (mo == 2 && leap)) return SL_ERANGE;
  struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
                  .tm_hour = h, .tm_min = mi, .tm_sec = sec};
  int64_t t = (int64_t)timegm(&tm);
  *ts_ms = (t - (int64_t)off * 60) * 1000 + ms;
  return 0;
}

static int64_t month_start(int64_t ts_ms, int add) {
  time_t s = (time_t)(ts_ms / 1000);
  struct tm tm;
  gmtime_r(&s, &tm);
  struct tm m = {.tm_year = tm.tm_year, .tm_mon = tm.tm_mon + add, .tm_mday = 1};
  return (int64_t)timegm(&m) * 1000;
}

int64_t sl_ledger_month_start(int64_t ts_ms) { return month_start(ts_ms, 0); }
int64_t sl_ledger_month_next(int64_t ts_ms) { return month_start(ts_ms, 1); }

/* Numbers in the row's JSON without printf: this runs for every request. */
static int put_int(sl_buf_t *b, int64_t v) {
  char t[24];
  return sl_buf_append(b, t, sl_itoa(v, t));
}

/* Entity type names come from the policy (custom detectors): escape them. */
static int put_json_str(sl_buf_t *b, const char *s) {
  int rc = sl_buf_append(b, "\"", 1);
  for (; !rc && *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      rc = sl_buf_printf(b, "\\%c", c);
    else if (c < 0x20)
      rc = sl_buf_printf(b, "\\u%04x", c);
    else
      rc = sl_buf_append(b, s, 1);
  }
  return rc ? rc : sl_buf_append(b, "\"", 1);
}

#define MAX_OFFSETS_PER_TYPE 64

/* The entity JSON with at most `per_type` offsets for each type. */
static int json_entities(const sl_entity_t *e, size_t n, size_t per_type, sl_buf_t *out) {
  int rc = sl_buf_append(out, "{", 1);
  bool first = true;
  /* Group by type in order of first appearance; n is small (one request). */
  for (size_t i = 0; !rc && i < n; i++) {
    bool seen = false;
    for (size_t j = 0; j < i && !seen; j++) seen = !strcmp(e[j].type, e[i].type);
    if (seen) continue;
    size_t count = 0;
    for (size_t j = i; j < n; j++) count += !strcmp(e[j].type, e[i].type);
    if (!first) rc = sl_buf_append(out, ",", 1);
    first = false;
    if (!rc) rc = put_json_str(out, e[i].type);
    if (!rc) rc = sl_buf_puts(out, ":{\"count\":");
    if (!rc) rc = put_int(out, (int64_t)count);
    if (!rc) rc = sl_buf_puts(out, ",\"offsets\":[");
    size_t k = 0;
    for (size_t j = i; !rc && j < n && k < per_type; j++) {
      if (strcmp(e[j].type, e[i].type)) continue;
      rc = sl_buf_puts(out, k ? ",[" : "[");
      if (!rc) rc = put_int(out, (unsigned)e[j].start);
      if (!rc) rc = sl_buf_append(out, ",", 1);
      if (!rc) rc = put_int(out, (unsigned)e[j].end);
      if (!rc) rc = sl_buf_append(out, "]", 1);
      k++;
    }
    if (!rc) rc = sl_buf_puts(out, count > k ? "],\"truncated\":true}" : "]}");
  }
  return rc ? rc : sl_buf_append(out, "}", 1);
}

int sl_ledger_json_entities(const sl_entity_t *e, size_t n, sl_buf_t *out) {
  /* Many types with many findings can outgrow the column's limit: then fewer
   * offsets per type, down to none (counts and types always stay), rather
   * than JSON cut off in the middle. */
  size_t mark = out->len;
  int rc = SL_ETOOBIG;
  for (size_t per = MAX_OFFSETS_PER_TYPE; rc == SL_ETOOBIG; per /= 4) {
    out->len = mark;
    rc = json_entities(e, n, per, out);
    if (!per) break;
  }
  return rc;
}

int sl_ledger_json_redactions(const sl_entity_t *e, size_t n, const char *const *types,
                              size_t n_types, sl_buf_t *out) {
  int rc = sl_buf_append(out, "{", 1);
  bool first = true;
  for (size_t t = 0; !rc && t < n_types; t++) {
    bool dup = false;
    for (size_t u = 0; u < t && !dup; u++) dup = !strcmp(types[u], types[t]);
    size_t count = 0;
    for (size_t j = 0; j < n; j++) count += !strcmp(e[j].type, types[t]);
    if (dup || !count) continue;
    if (!first) rc = sl_buf_append(out, ",", 1);
    first = false;
    if (!rc) rc = put_json_str(out, types[t]);
    if (!rc) rc = sl_buf_append(out, ":", 1);
    if (!rc) rc = put_int(out, (int64_t)count);
  }
  return rc ? rc : sl_buf_append(out, "}", 1);
}

int sl_ledger_json_classification(const sl_class_t *c, sl_buf_t *out) {
  /* Our own names rather than sl_level_name(): the ledger links without the
   * router's code, and these strings are part of the stored format. */
  static const char *const levels[] = {"public", "internal", "confidential", "restricted"};
  const char *lvl = (unsigned)c->level < 4 ? levels[c->level] : "restricted";
  double d = c->difficulty;
  if (!isfinite(d)) d = 0;
  int rc = sl_buf_puts(out, "{\"level\":");
  if (!rc) rc = put_json_str(out, lvl);
  char num[48]; /* "%.6f", as the REAL columns are written */
  size_t nn = sl__ledger_fmt_real(d, SL_LTYPE_R6, num, sizeof num, NULL);
  if (!rc) rc = sl_buf_puts(out, ",\"difficulty\":");
  if (!rc) rc = sl_buf_append(out, num, nn);
  if (!rc) rc = sl_buf_puts(out, ",\"label\":");
  if (!rc) rc = put_json_str(out, c->difficulty_label ? c->difficulty_label : "");
  if (!rc) rc = sl_buf_puts(out, ",\"entities\":");
  if (!rc) rc = put_int(out, (int64_t)c->n_entities);
  if (!rc) rc = sl_buf_puts(out, c->error ? ",\"error\":true}" : ",\"error\":false}");
  return rc;
}

double sl_ledger_usd(double usd) {
  if (usd == 0) return 0; /* most requests' avoided cost: nothing to format */
  char buf[48];
  double stored = usd;
  sl__ledger_fmt_real(usd, SL_LTYPE_R9, buf, sizeof buf, &stored);
  return stored;
}

double sl_ledger_api_cost_usd(double usd_per_mtok_in, double usd_per_mtok_out,
                              int64_t tokens_in, int64_t tokens_out) {
  return ((double)tokens_in * usd_per_mtok_in + (double)tokens_out * usd_per_mtok_out) / 1e6;
}

static const sl_model_price_t *step_price(const sl_backend_cfg_t *b, const char *model) {
  if (!b || b->location != SL_LOC_EXTERNAL || !b->n_models) return NULL;
  if (!model) return &b->models[0];
  for (size_t i = 0; i < b->n_models; i++)
    if (b->models[i].name && !strcmp(b->models[i].name, model)) return &b->models[i];
  return NULL;
}

double sl_ledger_avoided_cost_usd(const sl_config_t *cfg, const sl_decision_t *d,
                                  int64_t tokens_in, int64_t tokens_out) {
  const sl_model_price_t *p = NULL;
  for (size_t i = 0; d && !p && i < d->n_steps; i++)
    p = step_price(d->steps[i].backend, d->steps[i].model);
  for (size_t i = 0; cfg && !p && i < cfg->n_backends; i++)
    p = step_price(&cfg->backends[i], NULL);
  return p ? sl_ledger_api_cost_usd(p->usd_per_mtok_in, p->usd_per_mtok_out, tokens_in,
                                    tokens_out)
           : 0;
}
