/* Bytes of answers the process holds in memory on clients' behalf, all
 * requests and event loops together: non-streamed upstream answers being
 * received, and answer bytes queued for clients that have not taken them yet.
 * limits.max_buffered_bytes bounds the total: a new answer that would cross it
 * is refused (sl_held_take), while bytes already made (an answer written to a
 * slow client) are counted as they are (sl_held_add). */
#ifndef SL_HELD_H
#define SL_HELD_H

#include <stdbool.h>
#include <stddef.h>

void sl_held_set_max(size_t max);
/* Counts n more bytes unless that would cross the bound: false, nothing counted. */
bool sl_held_take(size_t n);
/* Counts n more bytes, even past the bound. */
void sl_held_add(size_t n);
void sl_held_give(size_t n);
size_t sl_held_now(void);
/* The total is past the bound (bytes already made took it there). */
bool sl_held_over(void);

#endif
