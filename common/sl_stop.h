/* Stop strings over text that arrives in pieces: where one first appears, and
 * how much of the text's end must wait because the next piece may complete
 * one. Used where sluice applies stop strings itself: the local engine, and
 * upstreams that refuse some stop strings (Anthropic: whitespace-only ones;
 * OpenAI: more than four). */
#ifndef SL_STOP_H
#define SL_STOP_H

#include "sl_buf.h"

#include <stdbool.h>
#include <stddef.h>

/* The stop string (index) that appears first in s[0..n), its offset in *at;
 * -1 when none does. */
int sl_stop_find(char *const *stop, size_t n_stop, const char *s, size_t n, size_t *at);
/* The longest end of s[0..n) that is a proper prefix of some stop string: that
 * much must be held back until more text comes (or the text ends). */
size_t sl_stop_holdback(char *const *stop, size_t n_stop, const char *s, size_t n);

/* An answer's text passed through stop strings of its own, piece by piece: what
 * cannot be the start of one goes out at once, the rest waits in `held`. At the
 * first stop string the text before it goes out and nothing more ever does. */
typedef struct {
  char **stop; /* copies */
  size_t n_stop;
  sl_buf_t held;
  int hit;     /* the stop string found, -1 while none */
} sl_stopper_t;

typedef void (*sl_stop_out_fn)(void *ud, const char *s, size_t n);

void sl_stopper_init(sl_stopper_t *st);
void sl_stopper_free(sl_stopper_t *st);
int sl_stopper_add(sl_stopper_t *st, const char *stop); /* 0 or SL_ENOMEM */
/* One piece of text: 0, or SL_ENOMEM (nothing of it went out). Once st->hit >= 0
 * pieces are dropped. */
int sl_stopper_feed(sl_stopper_t *st, const char *s, size_t n, sl_stop_out_fn out, void *ud);
/* The text ends (or a tool call follows it): what was held goes out. */
void sl_stopper_flush(sl_stopper_t *st, sl_stop_out_fn out, void *ud);
static inline bool sl_stopper_cut(const sl_stopper_t *st) { return st->hit >= 0; }

#endif
