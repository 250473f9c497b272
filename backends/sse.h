/* Server-sent events parser for upstream streams: feed bytes as they arrive, get
 * one callback per event (event name, joined data lines). Lines and events are
 * bounded; an oversize event is an error, not an allocation. */
#ifndef SL_SSE_H
#define SL_SSE_H

#include "sl_buf.h"

typedef int (*sl_sse_event_cb)(void *data, const char *event, const char *payload, size_t len);

typedef struct {
  sl_buf_t line;
  sl_buf_t event;
  sl_buf_t payload;
  sl_sse_event_cb cb;
  void *data;
  int skip_lf; /* last byte was CR */
  int bom;     /* bytes of a leading UTF-8 BOM seen so far; -1 once past the start */
} sl_sse_t;

void sl_sse_init(sl_sse_t *s, size_t max_event, sl_sse_event_cb cb, void *data);
void sl_sse_free(sl_sse_t *s);
/* Returns 0, SL_ETOOBIG, or the callback's non-zero result. */
int sl_sse_feed(sl_sse_t *s, const char *p, size_t n);

#endif
