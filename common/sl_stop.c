#include "sl_stop.h"

#include <string.h>

int sl_stop_find(char *const *stop, size_t n_stop, const char *s, size_t n, size_t *at) {
  int hit = -1;
  for (size_t i = 0; i < n_stop && n; i++) {
    size_t len = strlen(stop[i]);
    const char *p = len ? memmem(s, n, stop[i], len) : NULL;
    if (p && (hit < 0 || (size_t)(p - s) < *at)) {
      *at = (size_t)(p - s);
      hit = (int)i;
    }
  }
  return hit;
}

size_t sl_stop_holdback(char *const *stop, size_t n_stop, const char *s, size_t n) {
  size_t keep = 0;
  for (size_t i = 0; i < n_stop; i++) {
    size_t len = strlen(stop[i]);
    for (size_t k = len > 1 ? len - 1 : 0; k > keep; k--)
      if (k <= n && !memcmp(s + n - k, stop[i], k)) {
        keep = k;
        break;
      }
  }
  return keep;
}
