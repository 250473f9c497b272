#include "sl_stop.h"

#include "sl_err.h"

#include <stdlib.h>
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

/* Held text is bounded by the answer it belongs to (a 64 MiB cap, as bodies). */
void sl_stopper_init(sl_stopper_t *st) {
  memset(st, 0, sizeof *st);
  sl_buf_init(&st->held, 64u << 20);
  st->hit = -1;
}

void sl_stopper_free(sl_stopper_t *st) {
  for (size_t i = 0; i < st->n_stop; i++) free(st->stop[i]);
  free(st->stop);
  sl_buf_free(&st->held);
  st->stop = NULL;
  st->n_stop = 0;
}

int sl_stopper_add(sl_stopper_t *st, const char *stop) {
  char **grown = realloc(st->stop, (st->n_stop + 1) * sizeof *grown);
  if (!grown) return SL_ENOMEM;
  st->stop = grown;
  if (!(grown[st->n_stop] = strdup(stop))) return SL_ENOMEM;
  st->n_stop++;
  return 0;
}

int sl_stopper_feed(sl_stopper_t *st, const char *s, size_t n, sl_stop_out_fn out, void *ud) {
  if (!st->n_stop) {
    if (n) out(ud, s, n);
    return 0;
  }
  if (st->hit >= 0 || !n) return 0;
  if (sl_buf_append(&st->held, s, n)) return SL_ENOMEM;
  size_t at, len = st->held.len;
  int hit = sl_stop_find(st->stop, st->n_stop, st->held.data, len, &at);
  if (hit < 0) {
    size_t go = len - sl_stop_holdback(st->stop, st->n_stop, st->held.data, len);
    if (go) out(ud, st->held.data, go);
    sl_buf_consume(&st->held, go);
    return 0;
  }
  st->hit = hit;
  if (at) out(ud, st->held.data, at);
  sl_buf_reset(&st->held);
  return 0;
}

void sl_stopper_flush(sl_stopper_t *st, sl_stop_out_fn out, void *ud) {
  if (st->hit >= 0 || !st->held.len) return;
  out(ud, st->held.data, st->held.len);
  sl_buf_reset(&st->held);
}
