/* Small string building for the request path, where snprintf's format parsing
 * was a few per cent of the gateway's CPU: concatenation into a fixed buffer,
 * integers in decimal or hex, hex digits, a UTF-8 check and JSON escapes read
 * as text. */
#ifndef SL_STR_H
#define SL_STR_H

#include <stdbool.h>
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
/* A range's bound as a person writes it (at least 32 bytes): a whole number in
 * full (10000000, not 1e+07; ±2^63 as int64's ends), else %g. */
const char *sl_fmt_bound(double v, char *buf);
/* Lower-case hex of v, zero-padded to at least `width` digits (buf of at least
 * 17 bytes); returns its length. */
size_t sl_hex(uint64_t v, int width, char *buf);
/* The value of one hex digit (either case), or -1. */
int sl_hexval(char c);
/* The first byte of [p, end) that is not JSON whitespace (space, tab, CR, LF),
 * or end: what follows a parsed JSON value. */
const char *sl_json_skip_space(const char *p, const char *end);
/* The JSON string escape at t[i] (\" \/ \n \r \t, \uXXXX with a surrogate
 * pair as one character, behind a run of one or more backslashes): the UTF-8
 * bytes it stands for in out (their count returned) and its length in *used;
 * 0 when t[i] starts none, with the run of backslashes there in *used. A run
 * counts as one backslash: JSON text inside a JSON string (a tool call's
 * arguments as a request carries them) escapes its escapes, and "\\n" there is
 * a line break. For reading text as a person would (classification,
 * redaction), not for parsing JSON: \u0000, a lone surrogate, \b and \f
 * start none. */
size_t sl_json_escape_at(const unsigned char *t, size_t n, size_t i, unsigned char out[4],
                         size_t *used);
/* The offset of the first byte of s[0..n) that is not well-formed UTF-8
 * (overlong forms, surrogates and values past U+10FFFF are not), or SIZE_MAX
 * when all of it is. ASCII runs go 8 bytes at a time. */
size_t sl_utf8_invalid(const char *s, size_t n);
/* Cuts the C string s at its first byte that is not well-formed UTF-8 (a
 * character a fixed-size copy cut in two, say), so that it can be sent as JSON. */
void sl_utf8_trim(char *s);
/* Drops the spaces and tabs around s, in place (an HTTP field value as the
 * server reads it). */
void sl_trim_blanks(char *s);
/* UTF-8 as Unicode's Table 3-7 has it: the bytes a lead byte announces (0 for
 * one that cannot start a character), and whether c may stand at position pos
 * (1..3) of a character that `lead` starts (no overlong forms, surrogates or
 * values past U+10FFFF). A character cut short is one U+FFFD where text is
 * mended (the detokenizer, a token's text in logprobs). */
uint8_t sl_utf8_seq_len(uint8_t c);
bool sl_utf8_cont_ok(uint8_t lead, uint8_t pos, uint8_t c);
/* Whether the whole UTF-8 character at s[0..n) (s[0] >= 0x80) is no letter
 * or digit but a space, punctuation, a symbol or an emoji (U+00A0, « » · × ‘
 * → ✅ 。 「 」 ， 🎉): such a character ends a word, as ASCII punctuation does.
 * The invisible ones that may sit inside a word (U+00AD, U+200B–U+200D,
 * U+202A–U+202E, U+2060, U+FEFF) are not. A broken sequence is not either. */
bool sl_utf8_nonword(const unsigned char *s, size_t n);
/* The code point of the whole character of k bytes at s (k from sl_utf8_char). */
uint32_t sl_utf8_cp(const unsigned char *s, size_t k);
/* The character at s[0..n) (n >= 1): its length when it is whole (1 for
 * ASCII), else 0 with *broken = the bytes one U+FFFD stands for (its lead and
 * the continuation bytes that fit, at least 1). */
size_t sl_utf8_char(const unsigned char *s, size_t n, size_t *broken);

#endif
