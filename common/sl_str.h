/* Small string building for the request path, where snprintf's format parsing
 * was a few per cent of the gateway's CPU: concatenation into a fixed buffer,
 * integers in decimal or hex, hex digits and a UTF-8 check. */
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
/* The first byte of [p, end) that is not JSON whitespace (space, tab, CR, LF),
 * or end: what follows a parsed JSON value. */
const char *sl_json_skip_space(const char *p, const char *end);
/* The offset of the first byte of s[0..n) that is not well-formed UTF-8
 * (overlong forms, surrogates and values past U+10FFFF are not), or SIZE_MAX
 * when all of it is. ASCII runs go 8 bytes at a time. */
size_t sl_utf8_invalid(const char *s, size_t n);
/* Cuts the C string s at its first byte that is not well-formed UTF-8 (a
 * character a fixed-size copy cut in two, say), so that it can be sent as JSON. */
void sl_utf8_trim(char *s);

#endif
