/* Bounded growable buffer. */
#include "sl_buf.h"
#include "sl_str.h"
#include "sl_err.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

void sl_buf_init(sl_buf_t *b, size_t max) {
  b->data = NULL;
  b->len = b->cap = 0;
  b->max = max;
}

void sl_buf_free(sl_buf_t *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

void sl_buf_reset(sl_buf_t *b) {
  b->len = 0;
  if (b->data) b->data[0] = '\0';
}

int sl_buf_reserve(sl_buf_t *b, size_t extra) {
  if (extra > b->max || b->len > b->max - extra) return SL_ETOOBIG;
  size_t need = b->len + extra + 1;
  if (need <= b->cap) return 0;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < need) cap *= 2;
  if (cap > b->max + 1) cap = b->max + 1;
  char *p = realloc(b->data, cap);
  if (!p) return SL_ENOMEM;
  b->data = p;
  b->cap = cap;
  return 0;
}

int sl_buf_append(sl_buf_t *b, const void *p, size_t n) {
  int rc = sl_buf_reserve(b, n);
  if (rc) return rc;
  if (n) memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}

int sl_buf_puts(sl_buf_t *b, const char *s) { return sl_buf_append(b, s, strlen(s)); }

int sl_buf_vprintf(sl_buf_t *b, const char *fmt, va_list ap) {
  va_list cp;
  va_copy(cp, ap);
  int n = vsnprintf(NULL, 0, fmt, cp);
  va_end(cp);
  if (n < 0) return SL_EINVAL;
  int rc = sl_buf_reserve(b, (size_t)n);
  if (rc) return rc;
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  b->len += (size_t)n;
  return 0;
}

int sl_buf_printf(sl_buf_t *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = sl_buf_vprintf(b, fmt, ap);
  va_end(ap);
  return rc;
}

void sl_buf_consume(sl_buf_t *b, size_t n) {
  if (n >= b->len) {
    sl_buf_reset(b);
    return;
  }
  memmove(b->data, b->data + n, b->len - n);
  b->len -= n;
  b->data[b->len] = '\0';
}

char *sl_buf_steal(sl_buf_t *b, size_t *len) {
  char *p = b->data;
  if (len) *len = b->len;
  b->data = NULL;
  b->len = b->cap = 0;
  return p;
}

/* Whether any of the 8 bytes in w needs a look in a JSON string: a control byte
 * (< 0x20), '"', '\\', or a byte of a multi-byte character (checked as UTF-8).
 * Exact as a yes/no (the classic zero-byte tests). */
static int word_needs_escape(uint64_t w) {
  const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
  uint64_t q = w ^ (ones * '"'), bs = w ^ (ones * '\\');
  uint64_t hit = ((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((bs - ones) & ~bs) | w;
  return (hit & highs) != 0;
}

int sl_buf_json_chars(sl_buf_t *b, const char *s, size_t len) {
  static const char hex[] = "0123456789abcdef";
  int rc = sl_buf_reserve(b, len);
  size_t run = 0; /* bytes copied as they are, appended in one go */
  for (size_t i = 0; i < len && !rc; i++) {
    /* Plain text goes 8 bytes at a time. */
    while (i + 8 <= len) {
      uint64_t w;
      memcpy(&w, s + i, 8);
      if (word_needs_escape(w)) break;
      i += 8, run += 8;
    }
    if (i >= len) break;
    unsigned char ch = (unsigned char)s[i];
    const char *esc = NULL;
    char u[7];
    size_t skip = 0; /* bytes after s[i] that the escape stands for too */
    if (ch == '"') esc = "\\\"";
    else if (ch == '\\') esc = "\\\\";
    else if (ch == '\n') esc = "\\n";
    else if (ch == '\r') esc = "\\r";
    else if (ch == '\t') esc = "\\t";
    else if (ch < 0x20) {
      u[0] = '\\', u[1] = 'u', u[2] = '0', u[3] = '0', u[4] = hex[ch >> 4], u[5] = hex[ch & 15], u[6] = 0;
      esc = u;
    }
    else if (ch >= 0x80) {
      /* A whole UTF-8 character goes as it is; bytes that start none (an
       * upstream's broken text) become one U+FFFD, so that what sluice writes is
       * always valid JSON for strict parsers. */
      size_t broken, k = sl_utf8_char((const unsigned char *)s + i, len - i, &broken);
      if (k) {
        run += k;
        i += k - 1;
        continue;
      }
      skip = broken - 1;
      esc = "\xef\xbf\xbd";
    }
    if (!esc) {
      run++;
      continue;
    }
    if (run) rc = sl_buf_append(b, s + i - run, run);
    run = 0;
    if (!rc) rc = sl_buf_puts(b, esc);
    i += skip;
  }
  if (!rc && run) rc = sl_buf_append(b, s + len - run, run);
  return rc;
}

int sl_buf_json_str(sl_buf_t *b, const char *s, size_t len) {
  int rc = sl_buf_reserve(b, len + 2);
  if (!rc) rc = sl_buf_append(b, "\"", 1);
  if (!rc) rc = sl_buf_json_chars(b, s, len);
  if (!rc) rc = sl_buf_append(b, "\"", 1);
  return rc;
}

int sl_buf_json_cstr(sl_buf_t *b, const char *s) {
  return sl_buf_json_str(b, s ? s : "", s ? strlen(s) : 0);
}

int sl_buf_json_num(sl_buf_t *b, double v) {
  if (!isfinite(v)) return sl_buf_puts(b, "null");
  char t[32];
  snprintf(t, sizeof t, "%.15g", v);
  if (strtod(t, NULL) != v) snprintf(t, sizeof t, "%.17g", v);
  return sl_buf_puts(b, t);
}
