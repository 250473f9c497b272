/* The recent Responses output items (items.h): a chained hash table on
 * "owner NUL id", and a FIFO list that the oldest leave first when the bytes
 * run over. One mutex; a get or a put holds it for a lookup and a copy. */
#include "items.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define N_BUCKETS 4096u

typedef struct item {
  struct item *next_hash, *next_old;
  char *key; /* owner, NUL, id, NUL */
  size_t key_len;
  char *json;
  size_t bytes; /* what it holds: key and JSON */
} item_t;

struct sl_items {
  pthread_mutex_t mu;
  item_t *buckets[N_BUCKETS];
  item_t *oldest, *newest;
  size_t bytes, max_bytes;
};

static uint32_t hash(const char *k, size_t n) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)k[i]) * 16777619u;
  return h;
}

sl_items_t *sl_items_new(size_t max_bytes) {
  sl_items_t *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  pthread_mutex_init(&s->mu, NULL);
  s->max_bytes = max_bytes;
  return s;
}

static void item_free(item_t *it) {
  free(it->key);
  free(it->json);
  free(it);
}

void sl_items_free(sl_items_t *s) {
  if (!s) return;
  for (item_t *it = s->oldest, *nx; it; it = nx) {
    nx = it->next_old;
    item_free(it);
  }
  pthread_mutex_destroy(&s->mu);
  free(s);
}

/* Where (key, n) is, or where it would be linked. */
static item_t **find(sl_items_t *s, const char *key, size_t n) {
  item_t **p = &s->buckets[hash(key, n) % N_BUCKETS];
  while (*p && !((*p)->key_len == n && !memcmp((*p)->key, key, n))) p = &(*p)->next_hash;
  return p;
}

/* Unlinks the oldest item from the table and the list, and frees it. */
static void drop_oldest(sl_items_t *s) {
  item_t *it = s->oldest;
  item_t **p = find(s, it->key, it->key_len);
  *p = it->next_hash;
  s->oldest = it->next_old;
  if (!s->oldest) s->newest = NULL;
  s->bytes -= it->bytes;
  item_free(it);
}

/* "owner NUL id NUL" into a new string; its length (with the first NUL) in *n. */
static char *make_key(const char *owner, const char *id, size_t *n) {
  size_t a = strlen(owner), b = strlen(id);
  char *k = malloc(a + b + 2);
  if (!k) return NULL;
  memcpy(k, owner, a + 1);
  memcpy(k + a + 1, id, b + 1);
  *n = a + 1 + b;
  return k;
}

static void put_one(sl_items_t *s, const char *owner, const char *id, char *json) {
  size_t n, len = strlen(json);
  char *key = make_key(owner, id, &n);
  item_t *it = key ? calloc(1, sizeof *it) : NULL;
  if (!it || n + len > s->max_bytes / 16) {
    free(key);
    free(it);
    free(json);
    return;
  }
  it->key = key;
  it->key_len = n;
  it->json = json;
  it->bytes = n + len;
  pthread_mutex_lock(&s->mu);
  item_t **p = find(s, key, n);
  if (*p) { /* the same id again (a client's retried request): the newer one counts */
    free((*p)->json);
    s->bytes -= (*p)->bytes;
    (*p)->json = json;
    (*p)->bytes = it->bytes;
    s->bytes += it->bytes;
    free(key);
    free(it);
  } else {
    *p = it;
    if (s->newest) s->newest->next_old = it;
    else s->oldest = it;
    s->newest = it;
    s->bytes += it->bytes;
  }
  while (s->bytes > s->max_bytes && s->oldest) drop_oldest(s);
  pthread_mutex_unlock(&s->mu);
}

void sl_items_put(sl_items_t *s, const char *owner, const char *json, size_t len) {
  if (!s || !json) return;
  cJSON *a = cJSON_ParseWithLength(json, len);
  for (const cJSON *it = cJSON_IsArray(a) ? a->child : NULL; it; it = it->next) {
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
    if (!cJSON_IsString(id)) continue;
    char *one = cJSON_PrintUnformatted(it);
    if (one) put_one(s, owner ? owner : "", id->valuestring, one);
  }
  cJSON_Delete(a);
}

char *sl_items_get(sl_items_t *s, const char *owner, const char *id) {
  if (!s) return NULL;
  size_t n;
  char *key = make_key(owner ? owner : "", id, &n);
  if (!key) return NULL;
  pthread_mutex_lock(&s->mu);
  item_t **p = find(s, key, n);
  char *json = *p ? strdup((*p)->json) : NULL;
  pthread_mutex_unlock(&s->mu);
  free(key);
  return json;
}
