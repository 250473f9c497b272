/* The Responses output items sluice produced lately, in memory, so that a
 * client that stores responses (the AI SDK's default) may refer to them by id
 * in its next request ({"type":"item_reference","id":"msg_…"}). Bounded by
 * bytes (the oldest go first), never on disk, lost at restart; an item is
 * found only by the API key whose request produced it (no keys configured:
 * by anyone). Safe to use from any thread. */
#ifndef SL_ITEMS_H
#define SL_ITEMS_H

#include <stddef.h>

typedef struct sl_items sl_items_t;

/* A store holding at most max_bytes of items; NULL when out of memory. */
sl_items_t *sl_items_new(size_t max_bytes);
void sl_items_free(sl_items_t *s);

/* Keeps every item of `json` (an array of output items, each an object with a
 * string "id") under (owner, id); an item larger than a sixteenth of the store
 * is not kept. owner: the key's id, or "" without keys. */
void sl_items_put(sl_items_t *s, const char *owner, const char *json, size_t len);

/* The item kept under (owner, id) as JSON (the caller frees it), or NULL. */
char *sl_items_get(sl_items_t *s, const char *owner, const char *id);

#endif
