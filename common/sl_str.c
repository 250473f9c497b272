#include "sl_str.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

size_t sl_cat(char *out, size_t cap, ...) {
  va_list ap;
  va_start(ap, cap);
  size_t n = 0;
  for (const char *s; (s = va_arg(ap, const char *));) {
    size_t k = strlen(s);
    if (n + k >= cap) {
      if (cap) {
        memcpy(out + n, s, cap - 1 - n);
        out[cap - 1] = '\0';
      }
      va_end(ap);
      return cap;
    }
    memcpy(out + n, s, k);
    n += k;
  }
  va_end(ap);
  if (cap) out[n] = '\0';
  return n;
}

size_t sl_utoa(uint64_t v, char *buf) {
  /* Two digits per division, written straight into place from the end: the
   * ledger writer formats ~40 numbers per row (its hashed lengths). */
  static const char pairs[201] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                                 "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                                 "8081828384858687888990919293949596979899";
  size_t n = 1;
  for (uint64_t t = v; t >= 10; t /= 10) n++;
  char *p = buf + n;
  *p = '\0';
  while (v >= 100) {
    unsigned r = (unsigned)(v % 100);
    v /= 100;
    p -= 2;
    memcpy(p, pairs + 2 * r, 2);
  }
  if (v >= 10) {
    p -= 2;
    memcpy(p, pairs + 2 * v, 2);
  } else {
    *--p = (char)('0' + v);
  }
  return n;
}

size_t sl_itoa(int64_t v, char *buf) {
  if (v >= 0) return sl_utoa((uint64_t)v, buf);
  buf[0] = '-';
  return 1 + sl_utoa((uint64_t)0 - (uint64_t)v, buf + 1);
}

void sl_trim_blanks(char *s) {
  char *b = s + strspn(s, " \t"), *e = b + strlen(b);
  while (e > b && (e[-1] == ' ' || e[-1] == '\t')) e--;
  memmove(s, b, (size_t)(e - b));
  s[e - b] = '\0';
}

const char *sl_fmt_bound(double v, char *buf) {
  if (v <= -0x1p63) snprintf(buf, 32, "%lld", (long long)INT64_MIN);
  else if (v >= 0x1p63) snprintf(buf, 32, "%lld", (long long)INT64_MAX);
  else if (v == floor(v)) sl_itoa((int64_t)v, buf);
  else snprintf(buf, 32, "%g", v);
  return buf;
}

size_t sl_hex(uint64_t v, int width, char *buf) {
  static const char digits[] = "0123456789abcdef";
  char t[16];
  size_t k = sizeof t;
  do t[--k] = digits[v & 15]; while (v >>= 4);
  while (k > 0 && (int)(sizeof t - k) < width) t[--k] = '0';
  size_t n = sizeof t - k;
  memcpy(buf, t + k, n);
  buf[n] = '\0';
  return n;
}

int sl_hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

size_t sl_utf8_invalid(const char *str, size_t n) {
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0;
  while (i < n) {
    uint64_t w;
    while (i + 8 <= n && (memcpy(&w, s + i, 8), !(w & 0x8080808080808080ull))) i += 8;
    if (i >= n) break;
    size_t broken, k = sl_utf8_char(s + i, n - i, &broken);
    if (!k) return i;
    i += k;
  }
  return SIZE_MAX;
}

const char *sl_json_skip_space(const char *p, const char *end) {
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) p++;
  return p;
}

void sl_utf8_trim(char *s) {
  size_t bad = sl_utf8_invalid(s, strlen(s));
  if (bad != SIZE_MAX) s[bad] = '\0';
}

/* The code point of a \uXXXX escape at p (n bytes left) behind any number of
 * backslashes, or -1; its length in *used. */
static long u_escape(const unsigned char *p, size_t n, size_t *used) {
  size_t r = 0;
  while (r < n && p[r] == '\\') r++;
  if (!r || n - r < 5 || p[r] != 'u') return -1;
  long v = 0;
  for (size_t i = r + 1; i < r + 5; i++) {
    int d = sl_hexval((char)p[i]);
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  *used = r + 5;
  return v;
}

size_t sl_json_escape_at(const unsigned char *t, size_t n, size_t i, unsigned char out[4],
                         size_t *used) {
  size_t r = i;
  while (r < n && t[r] == '\\') r++;
  *used = r - i;
  if (r == i || r >= n) return 0;
  unsigned char c = t[r];
  if (c == '"' || c == '/' || c == 'n' || c == 'r' || c == 't') {
    *used = r + 1 - i;
    out[0] = c == 'n' ? '\n' : c == 'r' ? '\r' : c == 't' ? '\t' : c;
    return 1;
  }
  size_t u = 0;
  long cp = c == 'u' ? u_escape(t + i, n - i, &u) : -1;
  if (cp <= 0) return 0; /* not four hex digits, or \u0000 (kept: it ends C strings) */
  if (cp >= 0xD800 && cp <= 0xDFFF) {
    size_t u2 = 0;
    long lo = cp <= 0xDBFF ? u_escape(t + i + u, n - i - u, &u2) : -1;
    if (lo < 0xDC00 || lo > 0xDFFF) return 0; /* a lone half */
    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    u += u2;
  }
  *used = u;
  if (cp < 0x80) {
    out[0] = (unsigned char)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (unsigned char)(0xC0 | cp >> 6), out[1] = (unsigned char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (unsigned char)(0xE0 | cp >> 12), out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (unsigned char)(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = (unsigned char)(0xF0 | cp >> 18), out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
  out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F)), out[3] = (unsigned char)(0x80 | (cp & 0x3F));
  return 4;
}

uint8_t sl_utf8_seq_len(uint8_t c) {
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return 2;
  if (c >= 0xE0 && c <= 0xEF) return 3;
  if (c >= 0xF0 && c <= 0xF4) return 4;
  return 0;
}

uint32_t sl_utf8_cp(const unsigned char *s, size_t k) {
  if (k < 2) return s[0];
  uint32_t cp = s[0] & (0x7Fu >> k);
  for (size_t i = 1; i < k; i++) cp = cp << 6 | (s[i] & 0x3Fu);
  return cp;
}

bool sl_utf8_nonword(const unsigned char *s, size_t n) {
  size_t broken;
  size_t k = sl_utf8_char(s, n, &broken);
  if (k < 2) return false;
  uint32_t cp = sl_utf8_cp(s, k);
  if (cp <= 0xBF) return cp != 0xAA && cp != 0xAD && cp != 0xB5 && cp != 0xBA; /* ª soft-hyphen µ º */
  if (cp == 0xD7 || cp == 0xF7) return true;                               /* × ÷ */
  if (cp >= 0x2000 && cp <= 0x2BFF) /* spaces, punctuation, currency, arrows, symbols */
    return !(cp >= 0x200B && cp <= 0x200D) && !(cp >= 0x202A && cp <= 0x202E) && cp != 0x2060 &&
           !(cp >= 0x2070 && cp <= 0x209F); /* (super- and subscripts: ⁿ, ₂) */
  if (cp >= 0x2E00 && cp <= 0x2E7F) return true; /* supplemental punctuation */
  if (cp >= 0x3000 && cp <= 0x303F) /* CJK punctuation: 、。「」【】〜 (not 々 〆 〇) */
    return cp <= 0x3004 || (cp >= 0x3008 && cp <= 0x3020) || cp == 0x3030 || cp >= 0x303D;
  if (cp >= 0xFE00 && cp <= 0xFE6F) return !(cp >= 0xFE20 && cp <= 0xFE2F); /* selectors, forms */
  if (cp >= 0xFF01 && cp <= 0xFF65) /* fullwidth punctuation (not its letters and digits) */
    return !(cp >= 0xFF10 && cp <= 0xFF19) && !(cp >= 0xFF21 && cp <= 0xFF3A) &&
           !(cp >= 0xFF41 && cp <= 0xFF5A);
  return cp >= 0x1F000 && cp <= 0x1FAFF; /* emoji, pictographs, playing cards */
}

size_t sl_utf8_char(const unsigned char *s, size_t n, size_t *broken) {
  uint8_t k = sl_utf8_seq_len(s[0]);
  size_t m = 1;
  while (k > 1 && m < k && m < n && sl_utf8_cont_ok(s[0], (uint8_t)m, s[m])) m++;
  if (k && m == k) return k;
  *broken = m;
  return 0;
}

bool sl_utf8_cont_ok(uint8_t lead, uint8_t pos, uint8_t c) {
  if ((c & 0xC0) != 0x80) return false;
  if (pos != 1) return true;
  if (lead == 0xE0) return c >= 0xA0;
  if (lead == 0xED) return c <= 0x9F;
  if (lead == 0xF0) return c >= 0x90;
  if (lead == 0xF4) return c <= 0x8F;
  return true;
}
