/* Shares compiled routers between policies whose detector settings are the
 * same. Compiling the detectors is the slow part of loading a policy (the
 * multi-pattern database), and most reloads change rules, not detectors: a
 * reload then reuses the router the running policy already has, and the swap
 * is cheap. A router is immutable and thread-safe, so sharing it is safe; it is
 * freed when the last policy using it goes and it is not the most recent. */
#include "policy_int.h"
#include "sl_buf.h"
#include "sl_err.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CACHE_SLOTS 4

typedef struct {
  char *key;          /* serialized detector settings; NULL: free slot */
  sl_router_t *router;
  int refs;           /* policies using it */
  unsigned long age;  /* last use, for eviction */
} slot_t;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static slot_t slots[CACHE_SLOTS];
static unsigned long clock_;

/* Everything sl_router_create depends on, as one string. The weights file is
 * identified by path, size, mtime and inode so that a retrained file is
 * picked up on reload. */
static char *spec_key(const sl__router_spec_t *s) {
  sl_buf_t b;
  sl_buf_init(&b, 1 << 22);
  int rc = sl_buf_append(&b, "", 0);
  for (size_t i = 0; !rc && i < s->opts.n_custom; i++)
    rc = sl_buf_printf(&b, "c%zu:%s\x1f%s\x1f%d\x1e", strlen(s->opts.custom[i].pattern),
                       s->opts.custom[i].type, s->opts.custom[i].pattern,
                       (int)s->opts.custom[i].level);
  for (size_t i = 0; !rc && i < s->opts.n_levels; i++)
    rc = sl_buf_printf(&b, "l:%s\x1f%d\x1e", s->opts.level_types[i], (int)s->opts.level_values[i]);
  if (!rc && s->opts.difficulty_weights) {
    struct stat st;
    memset(&st, 0, sizeof st);
    stat(s->opts.difficulty_weights, &st);
    rc = sl_buf_printf(&b, "w:%s\x1f%lld:%lld.%09ld:%llu", s->opts.difficulty_weights,
                       (long long)st.st_size, (long long)st.st_mtim.tv_sec,
                       st.st_mtim.tv_nsec, (unsigned long long)st.st_ino);
  }
  if (rc) {
    sl_buf_free(&b);
    return NULL;
  }
  return sl_buf_steal(&b, NULL);
}

/* Frees idle routers except the most recently used one. Called with mu held. */
static void trim(void) {
  int keep = -1;
  for (int i = 0; i < CACHE_SLOTS; i++)
    if (slots[i].key && slots[i].refs == 0 && (keep < 0 || slots[i].age > slots[keep].age))
      keep = i;
  for (int i = 0; i < CACHE_SLOTS; i++)
    if (slots[i].key && slots[i].refs == 0 && i != keep) {
      sl_router_free(slots[i].router);
      free(slots[i].key);
      memset(&slots[i], 0, sizeof slots[i]);
    }
}

sl_router_t *sl__router_cache_get(const sl__router_spec_t *spec, sl_jerr_t *err) {
  char *key = spec_key(spec);
  if (!key) {
    sl_jerr_set(err, "$.detectors", "out of memory");
    return NULL;
  }
  pthread_mutex_lock(&mu);
  for (int i = 0; i < CACHE_SLOTS; i++)
    if (slots[i].key && !strcmp(slots[i].key, key)) {
      slots[i].refs++;
      slots[i].age = ++clock_;
      sl_router_t *r = slots[i].router;
      pthread_mutex_unlock(&mu);
      free(key);
      return r;
    }
  pthread_mutex_unlock(&mu);

  /* Compile outside the lock: it is slow and other threads may decide meanwhile. */
  sl_router_t *r = sl_router_create(&spec->opts, err);
  if (!r) {
    free(key);
    return NULL;
  }
  pthread_mutex_lock(&mu);
  trim();
  int free_slot = -1;
  for (int i = 0; i < CACHE_SLOTS && free_slot < 0; i++)
    if (!slots[i].key) free_slot = i;
  if (free_slot < 0) { /* all busy: evict the oldest idle, else do not cache */
    for (int i = 0; i < CACHE_SLOTS; i++)
      if (slots[i].refs == 0 && (free_slot < 0 || slots[i].age < slots[free_slot].age))
        free_slot = i;
    if (free_slot >= 0) {
      sl_router_free(slots[free_slot].router);
      free(slots[free_slot].key);
    }
  }
  if (free_slot >= 0) {
    slots[free_slot] = (slot_t){key, r, 1, ++clock_};
    key = NULL;
  }
  pthread_mutex_unlock(&mu);
  free(key); /* NULL when cached; otherwise the policy owns r alone */
  return r;
}

void sl__router_cache_put(sl_router_t *r) {
  if (!r) return;
  pthread_mutex_lock(&mu);
  for (int i = 0; i < CACHE_SLOTS; i++)
    if (slots[i].key && slots[i].router == r) {
      slots[i].refs--;
      trim();
      pthread_mutex_unlock(&mu);
      return;
    }
  pthread_mutex_unlock(&mu);
  sl_router_free(r); /* was never cached */
}
