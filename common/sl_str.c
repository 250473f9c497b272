#include "sl_str.h"

#include <stdarg.h>
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
  char t[20];
  size_t k = sizeof t;
  do t[--k] = (char)('0' + v % 10); while (v /= 10);
  size_t n = sizeof t - k;
  memcpy(buf, t + k, n);
  buf[n] = '\0';
  return n;
}

size_t sl_itoa(int64_t v, char *buf) {
  if (v >= 0) return sl_utoa((uint64_t)v, buf);
  buf[0] = '-';
  return 1 + sl_utoa((uint64_t)0 - (uint64_t)v, buf + 1);
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
