/* JSON-path error messages. */
#include "sl_jerr.h"
#include "sl_err.h"

#include <stdarg.h>
#include <stdio.h>

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
  snprintf(out, n, "%s.%s", parent, key);
}

void sl_jpath_idx(char *out, size_t n, const char *parent, int idx) {
  snprintf(out, n, "%s[%d]", parent, idx);
}
