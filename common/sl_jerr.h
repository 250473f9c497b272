/* Validation errors that name the JSON path of the bad value, e.g.
 * "$.backends[1].base_url: must be a string". Shared by the config, policy and
 * request validators. */
#ifndef SL_JERR_H
#define SL_JERR_H

#include <stddef.h>

typedef struct {
  char msg[512]; /* "<path>: <problem>" of the first error found */
} sl_jerr_t;

/* Formats "<path>: <problem>" into e and returns SL_EPARSE. */
int sl_jerr_set(sl_jerr_t *e, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Builds "parent.key" (or parent["key"] for a name a dot would misread: one
 * with a dot, a bracket, a space, or empty) or "parent[i]" into out (truncated
 * safely). */
void sl_jpath_key(char *out, size_t n, const char *parent, const char *key);
void sl_jpath_idx(char *out, size_t n, const char *parent, int idx);

#endif
