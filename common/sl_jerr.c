/* JSON-path error messages. */
#include "sl_jerr.h"
#include "sl_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int sl_jerr_set(sl_jerr_t *e, const char *path, const char *fmt, ...) {
  if (!e) return SL_EPARSE;
  int n = snprintf(e->msg, sizeof e->msg, "%s: ", path);
  if (n < 0 || (size_t)n >= sizeof e->msg) return SL_EPARSE;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->msg + n, sizeof e->msg - (size_t)n, fmt, ap);
  va_end(ap);
  return SL_EPARSE;
}

void sl_jpath_key(char *out, size_t n, const char *parent, const char *key) {
  if (!n) return;
  if (key[0] && strspn(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") ==
                    strlen(key)) {
    snprintf(out, n, "%s.%s", parent, key);
    return;
  }
  /* a name a dot would misread ("x.weird[0]", "", one with a space): quoted */
  int k = snprintf(out, n, "%s[\"", parent);
  size_t o = k < 0 ? 0 : (size_t)k < n ? (size_t)k : n - 1;
  for (const unsigned char *p = (const unsigned char *)key; *p && o + 8 < n; p++) {
    if (*p == '"' || *p == '\\') out[o++] = '\\', out[o++] = (char)*p;
    else if (*p < 0x20) o += (size_t)snprintf(out + o, n - o, "\\u%04x", *p);
    else out[o++] = (char)*p;
  }
  snprintf(out + o, n - o, "\"]");
}

void sl_jpath_idx(char *out, size_t n, const char *parent, int idx) {
  snprintf(out, n, "%s[%d]", parent, idx);
}
