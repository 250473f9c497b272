/* Fuzz target: upstream SSE streams, fed in pieces whose sizes come from the
 * input itself, must parse identically to one whole feed (or fail the same way). */
#include "backends/sse.h"

#include <stdint.h>
#include <string.h>

typedef struct {
  uint64_t h;
  int n;
} acc_t;

static int on_ev(void *d, const char *event, const char *p, size_t n) {
  acc_t *a = d;
  for (const char *s = event; *s; s++) a->h = a->h * 131 + (uint8_t)*s;
  for (size_t i = 0; i < n; i++) a->h = a->h * 131 + (uint8_t)p[i];
  a->n++;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  acc_t whole = {0, 0}, parts = {0, 0};
  sl_sse_t s;
  sl_sse_init(&s, 4096, on_ev, &whole);
  int rc1 = sl_sse_feed(&s, (const char *)data, size);
  sl_sse_free(&s);
  sl_sse_init(&s, 4096, on_ev, &parts);
  int rc2 = 0;
  size_t off = 0;
  while (off < size && !rc2) {
    size_t step = 1 + data[off] % 17;
    if (step > size - off) step = size - off;
    rc2 = sl_sse_feed(&s, (const char *)data + off, step);
    off += step;
  }
  sl_sse_free(&s);
  if (!rc1 && !rc2 && (whole.h != parts.h || whole.n != parts.n)) __builtin_trap();
  return 0;
}
