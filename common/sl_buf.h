/* A growable byte buffer with a ceiling: appending past `max` is SL_ETOOBIG,
 * never an unbounded allocation (after curl's curlx_dyn_*). */
#ifndef SL_BUF_H
#define SL_BUF_H

#include <stddef.h>
#include <stdarg.h>

typedef struct {
  char *data;   /* always NUL-terminated when non-NULL */
  size_t len;
  size_t cap;
  size_t max;   /* ceiling on len */
} sl_buf_t;

void sl_buf_init(sl_buf_t *b, size_t max);
void sl_buf_free(sl_buf_t *b);
void sl_buf_reset(sl_buf_t *b);
int sl_buf_reserve(sl_buf_t *b, size_t extra);
int sl_buf_append(sl_buf_t *b, const void *p, size_t n);
int sl_buf_puts(sl_buf_t *b, const char *s);
int sl_buf_printf(sl_buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int sl_buf_vprintf(sl_buf_t *b, const char *fmt, va_list ap);
/* Appends s (len bytes, may hold NULs) as a JSON string literal, quotes included. */
int sl_buf_json_str(sl_buf_t *b, const char *s, size_t len);
/* The same without the quotes: s as the content of a JSON string. */
int sl_buf_json_chars(sl_buf_t *b, const char *s, size_t len);
/* The same for a C string; NULL is written as "". */
int sl_buf_json_cstr(sl_buf_t *b, const char *s);
/* Appends a finite number as JSON: the shortest of %.15g / %.17g that reads back
 * as the same double (as cJSON prints it). */
int sl_buf_json_num(sl_buf_t *b, double v);
/* Drops the first n bytes. */
void sl_buf_consume(sl_buf_t *b, size_t n);
/* Hands the storage to the caller (who frees it) and resets the buffer. */
char *sl_buf_steal(sl_buf_t *b, size_t *len);

#endif
