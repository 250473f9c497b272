/* SSE parsing per the WHATWG event-stream rules: lines end in LF, CR or CRLF;
 * "data:" lines join with "\n"; a blank line dispatches; ':' lines are comments. */
#include "sse.h"
#include "sl_err.h"

#include <string.h>

void sl_sse_init(sl_sse_t *s, size_t max_event, sl_sse_event_cb cb, void *data) {
  sl_buf_init(&s->line, max_event);
  sl_buf_init(&s->event, 256);
  sl_buf_init(&s->payload, max_event);
  s->cb = cb;
  s->data = data;
  s->skip_lf = 0;
  s->bom = 0;
}

void sl_sse_free(sl_sse_t *s) {
  sl_buf_free(&s->line);
  sl_buf_free(&s->event);
  sl_buf_free(&s->payload);
}

static int dispatch(sl_sse_t *s) {
  int rc = 0;
  if (s->payload.len || s->event.len) {
    /* the last data line's "\n" is not part of the data */
    size_t n = s->payload.len;
    if (n && s->payload.data[n - 1] == '\n') s->payload.data[--n] = '\0';
    rc = s->cb(s->data, s->event.len ? s->event.data : "message", s->payload.data ? s->payload.data : "", n);
  }
  sl_buf_reset(&s->payload);
  sl_buf_reset(&s->event);
  return rc;
}

static int line(sl_sse_t *s) {
  const char *l = s->line.data ? s->line.data : "";
  size_t n = s->line.len;
  if (n == 0) return dispatch(s);
  if (l[0] == ':') return 0;
  const char *colon = memchr(l, ':', n);
  size_t fl = colon ? (size_t)(colon - l) : n;
  const char *v = colon ? colon + 1 : l + n;
  size_t vl = colon ? n - fl - 1 : 0;
  if (vl && *v == ' ') v++, vl--;
  int rc = 0;
  if (fl == 4 && !memcmp(l, "data", 4)) {
    if (!(rc = sl_buf_append(&s->payload, v, vl))) rc = sl_buf_append(&s->payload, "\n", 1);
  } else if (fl == 5 && !memcmp(l, "event", 5)) {
    sl_buf_reset(&s->event);
    rc = sl_buf_append(&s->event, v, vl);
  }
  return rc;
}

int sl_sse_feed(sl_sse_t *s, const char *p, size_t n) {
  /* a UTF-8 byte order mark before the first event is dropped, as the SSE
   * standard says (else it would spoil the first field's name) */
  static const char bom[] = "\xEF\xBB\xBF";
  while (s->bom >= 0 && n) {
    if (*p != bom[s->bom]) {
      int rc = s->bom ? sl_buf_append(&s->line, bom, (size_t)s->bom) : 0; /* not one after all */
      s->bom = -1;
      if (rc) return rc;
      break;
    }
    p++, n--;
    if (++s->bom == 3) s->bom = -1;
  }
  for (size_t i = 0; i < n; i++) {
    char ch = p[i];
    if (s->skip_lf) {
      s->skip_lf = 0;
      if (ch == '\n') continue;
    }
    if (ch == '\r' || ch == '\n') {
      s->skip_lf = ch == '\r';
      int rc = line(s);
      sl_buf_reset(&s->line);
      if (rc) return rc;
      continue;
    }
    /* append the run up to the next line end in one go */
    size_t j = i;
    while (j < n && p[j] != '\r' && p[j] != '\n') j++;
    int rc = sl_buf_append(&s->line, p + i, j - i);
    if (rc) return rc;
    i = j - 1;
  }
  return 0;
}
