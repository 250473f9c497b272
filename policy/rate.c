/* Sliding-window request counters per tenant: 60 one-second slots per tenant in
 * a fixed pool, found through a chained hash table and evicted least recently
 * used first, all under one mutex (each operation is O(1) and touches a few
 * cache lines, so a finer lock would not pay for itself). */
#include "rate.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SLOTS 60
#define NIL UINT32_MAX

typedef struct {
  char *tenant;             /* NULL: free */
  uint64_t hash;
  uint32_t next;            /* hash chain */
  uint32_t lru_prev, lru_next;
  uint64_t last_sec;        /* the second slots[last_sec % SLOTS] belongs to */
  uint32_t total;           /* sum of slots */
  uint32_t slots[SLOTS];
} entry_t;

struct sl_rate {
  pthread_mutex_t mu;
  entry_t *pool;
  size_t cap, used;
  uint32_t *buckets;        /* head entry index per bucket */
  size_t mask;
  uint32_t lru_head, lru_tail; /* head: most recent */
};

uint64_t sl_rate_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t hash_str(const char *s) { /* FNV-1a */
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

sl_rate_t *sl_rate_create(size_t max_tenants) {
  if (max_tenants < 1) max_tenants = 1;
  if (max_tenants > 1000000) max_tenants = 1000000;
  sl_rate_t *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  size_t nb = 1;
  while (nb < 2 * max_tenants) nb <<= 1;
  r->pool = calloc(max_tenants, sizeof *r->pool);
  r->buckets = malloc(nb * sizeof *r->buckets);
  if (!r->pool || !r->buckets || pthread_mutex_init(&r->mu, NULL)) {
    free(r->pool);
    free(r->buckets);
    free(r);
    return NULL;
  }
  for (size_t i = 0; i < nb; i++) r->buckets[i] = NIL;
  r->mask = nb - 1;
  r->cap = max_tenants;
  r->lru_head = r->lru_tail = NIL;
  return r;
}

void sl_rate_free(sl_rate_t *r) {
  if (!r) return;
  for (size_t i = 0; i < r->used; i++) free(r->pool[i].tenant);
  pthread_mutex_destroy(&r->mu);
  free(r->pool);
  free(r->buckets);
  free(r);
}

static void lru_unlink(sl_rate_t *r, uint32_t i) {
  entry_t *e = &r->pool[i];
  if (e->lru_prev != NIL) r->pool[e->lru_prev].lru_next = e->lru_next;
  else r->lru_head = e->lru_next;
  if (e->lru_next != NIL) r->pool[e->lru_next].lru_prev = e->lru_prev;
  else r->lru_tail = e->lru_prev;
  e->lru_prev = e->lru_next = NIL;
}

static void lru_push_front(sl_rate_t *r, uint32_t i) {
  entry_t *e = &r->pool[i];
  e->lru_prev = NIL;
  e->lru_next = r->lru_head;
  if (r->lru_head != NIL) r->pool[r->lru_head].lru_prev = i;
  r->lru_head = i;
  if (r->lru_tail == NIL) r->lru_tail = i;
}

static void chain_remove(sl_rate_t *r, uint32_t i) {
  uint32_t *pp = &r->buckets[r->pool[i].hash & r->mask];
  while (*pp != NIL && *pp != i) pp = &r->pool[*pp].next;
  if (*pp == i) *pp = r->pool[i].next;
}

/* Finds or (if `create`) makes the entry for tenant; NIL if absent or out of memory. */
static uint32_t lookup(sl_rate_t *r, const char *tenant, bool create) {
  uint64_t h = hash_str(tenant);
  for (uint32_t i = r->buckets[h & r->mask]; i != NIL; i = r->pool[i].next)
    if (r->pool[i].hash == h && !strcmp(r->pool[i].tenant, tenant)) return i;
  if (!create) return NIL;
  char *copy = strdup(tenant);
  if (!copy) return NIL;
  uint32_t i;
  if (r->used < r->cap) {
    i = (uint32_t)r->used++;
  } else { /* forget the least recently seen tenant */
    i = r->lru_tail;
    lru_unlink(r, i);
    chain_remove(r, i);
    free(r->pool[i].tenant);
  }
  entry_t *e = &r->pool[i];
  memset(e, 0, sizeof *e);
  e->tenant = copy;
  e->hash = h;
  e->next = r->buckets[h & r->mask];
  r->buckets[h & r->mask] = i;
  lru_push_front(r, i);
  return i;
}

/* Zeroes the slots of seconds that fell out of the window since last_sec. */
static void advance(entry_t *e, uint64_t now_sec) {
  if (now_sec <= e->last_sec) return; /* same second (or a clock that stepped back) */
  if (now_sec - e->last_sec >= SLOTS) {
    memset(e->slots, 0, sizeof e->slots);
    e->total = 0;
  } else {
    for (uint64_t s = e->last_sec + 1; s <= now_sec; s++) {
      e->total -= e->slots[s % SLOTS];
      e->slots[s % SLOTS] = 0;
    }
  }
  e->last_sec = now_sec;
}

static int touch(sl_rate_t *r, const char *tenant, uint64_t now_ms, bool hit) {
  if (!tenant) tenant = "";
  uint64_t sec = now_ms / 1000u;
  pthread_mutex_lock(&r->mu);
  uint32_t i = lookup(r, tenant, hit);
  int n = 0;
  if (i != NIL) {
    entry_t *e = &r->pool[i];
    if (e->total == 0 && e->last_sec == 0) e->last_sec = sec;
    advance(e, sec);
    if (hit && e->total < UINT32_MAX / 2) {
      e->slots[e->last_sec % SLOTS]++;
      e->total++;
      lru_unlink(r, i);
      lru_push_front(r, i);
    }
    n = e->total > (uint32_t)0x7fffffff ? 0x7fffffff : (int)e->total;
  }
  pthread_mutex_unlock(&r->mu);
  return n;
}

int sl_rate_hit(sl_rate_t *r, const char *tenant, uint64_t now_ms) {
  return touch(r, tenant, now_ms, true);
}

int sl_rate_count(sl_rate_t *r, const char *tenant, uint64_t now_ms) {
  return touch(r, tenant, now_ms, false);
}

size_t sl_rate_tenants(sl_rate_t *r) {
  pthread_mutex_lock(&r->mu);
  size_t n = r->used;
  pthread_mutex_unlock(&r->mu);
  return n;
}
