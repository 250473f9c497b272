/* Stop strings over text that arrives in pieces: where one first appears, and
 * how much of the text's end must wait because the next piece may complete
 * one. Used where sluice applies stop strings itself: the local engine, and an
 * upstream that refuses some stop strings (Anthropic: whitespace-only ones). */
#ifndef SL_STOP_H
#define SL_STOP_H

#include <stddef.h>

/* The stop string (index) that appears first in s[0..n), its offset in *at;
 * -1 when none does. */
int sl_stop_find(char *const *stop, size_t n_stop, const char *s, size_t n, size_t *at);
/* The longest end of s[0..n) that is a proper prefix of some stop string: that
 * much must be held back until more text comes (or the text ends). */
size_t sl_stop_holdback(char *const *stop, size_t n_stop, const char *s, size_t n);

#endif
