/* Small string building for the request path, where snprintf's format parsing
 * was a few per cent of the gateway's CPU: concatenation into a fixed buffer
 * and integers in decimal or hex. */
#ifndef SL_STR_H
#define SL_STR_H

#include <stddef.h>
#include <stdint.h>

/* Concatenates the NULL-terminated list of strings (a NULL entry ends it; use
 * "" for an empty one) into out[cap], always NUL-terminated when cap > 0.
 * Returns the length written, or cap when it did not fit (out then holds a
 * truncated prefix): test with `>= cap`, as with snprintf. */
size_t sl_cat(char *out, size_t cap, ...) __attribute__((sentinel));

/* Decimal text of v in buf (at least 21 bytes); returns its length. */
size_t sl_utoa(uint64_t v, char *buf);
/* The same for a signed value (at least 21 bytes). */
size_t sl_itoa(int64_t v, char *buf);
/* Lower-case hex of v, zero-padded to at least `width` digits (buf of at least
 * 17 bytes); returns its length. */
size_t sl_hex(uint64_t v, int width, char *buf);
/* The value of one hex digit (either case), or -1. */
int sl_hexval(char c);

#endif
