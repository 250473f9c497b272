/* The name gazetteer: decodes the front-coded word list compiled into the binary
 * (gazetteer_data.c) into an open-addressing hash set of lower-cased words with
 * flags (first name, last name, place, common English word). Built once at
 * router creation; lookups lower-case the word into a stack buffer. */
#include "router_int.h"

#include <stdlib.h>
#include <string.h>

struct sl__gaz {
  char *words;      /* NUL-separated decoded words */
  uint32_t *slots;  /* offset+1 into words, 0 empty */
  uint16_t *flags;  /* per slot */
  uint32_t mask;
  size_t used, cap; /* bytes of words */
};

static uint32_t fnv(const char *s, size_t n) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 16777619u;
  return h;
}

/* Lower-cases ASCII and the Latin-1 / Latin Extended-A capitals in UTF-8. */
static size_t lower(const char *w, size_t n, char *out, size_t cap) {
  if (n >= cap) return 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)w[i];
    if (c >= 'A' && c <= 'Z') c += 32;
    out[i] = (char)c;
  }
  for (size_t i = 0; i + 1 < n; i++) {
    unsigned char a = (unsigned char)out[i], b = (unsigned char)out[i + 1];
    if (a == 0xC3 && b >= 0x80 && b <= 0x9E && b != 0x97) {
      out[i + 1] = (char)(b + 0x20);
      i++;
    } else if ((a == 0xC4 || a == 0xC5) && b >= 0x80 && b <= 0xBF) {
      unsigned cp = ((a & 0x1Fu) << 6) | (b & 0x3Fu);
      bool odd_upper = (cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E);
      if ((odd_upper && (cp & 1)) || (!odd_upper && !(cp & 1) && cp != 0x138)) cp++;
      out[i] = (char)(0xC0 | (cp >> 6));
      out[i + 1] = (char)(0x80 | (cp & 0x3F));
      i++;
    }
  }
  return n;
}

sl__gaz_t *sl__gaz_create(void) {
  sl__gaz_t *g = calloc(1, sizeof *g);
  if (!g) return NULL;
  size_t raw = strlen(sl__gazetteer_data);
  /* decoded size: each entry at most 26 shared bytes + its suffix + NUL */
  size_t cap = raw + (size_t)sl__gazetteer_count * 28 + 1 + 65536; /* + list words */
  g->words = malloc(cap);
  g->cap = cap;
  uint32_t nslots = 1;
  while (nslots < (sl__gazetteer_count + 4096) * 2) nslots <<= 1;
  g->slots = calloc(nslots, sizeof *g->slots);
  g->flags = calloc(nslots, sizeof *g->flags);
  if (!g->words || !g->slots || !g->flags) {
    sl__gaz_free(g);
    return NULL;
  }
  g->mask = nslots - 1;
  const char *p = sl__gazetteer_data;
  size_t o = 0, prev = 0, prev_len = 0;
  while (*p) {
    size_t k = (size_t)(*p++ - 'a');
    if (k > prev_len) k = prev_len;
    size_t start = o;
    memcpy(g->words + o, g->words + prev, k);
    o += k;
    while (*p && !(*p >= 'A' && *p <= 'Z')) g->words[o++] = *p++;
    if (!*p) break;
    uint8_t fl = (uint8_t)(*p++ - 'A');
    size_t len = o - start;
    g->words[o++] = 0;
    uint32_t h = fnv(g->words + start, len) & g->mask;
    while (g->slots[h]) h = (h + 1) & g->mask;
    g->slots[h] = (uint32_t)start + 1;
    g->flags[h] = fl;
    prev = start;
    prev_len = len;
    if (o + 64 > cap) break;
  }
  g->used = o;
  return g;
}

int sl__gaz_add(sl__gaz_t *g, const char *const *words, unsigned flag) {
  for (; *words; words++) {
    size_t n = strlen(*words);
    char buf[64];
    if (!n || !lower(*words, n, buf, sizeof buf)) return -1;
    uint32_t h = fnv(buf, n) & g->mask;
    while (g->slots[h]) {
      const char *c = g->words + g->slots[h] - 1;
      if (!strncmp(c, buf, n) && c[n] == 0) break;
      h = (h + 1) & g->mask;
    }
    if (!g->slots[h]) {
      if (g->used + n + 1 > g->cap) return -1;
      memcpy(g->words + g->used, buf, n);
      g->words[g->used + n] = 0;
      g->slots[h] = (uint32_t)g->used + 1;
      g->used += n + 1;
    }
    g->flags[h] |= (uint16_t)flag;
  }
  return 0;
}

void sl__gaz_free(sl__gaz_t *g) {
  if (!g) return;
  free(g->words);
  free(g->slots);
  free(g->flags);
  free(g);
}

unsigned sl__gaz_lookup(const sl__gaz_t *g, const char *w, size_t n) {
  char buf[64];
  if (!n || !lower(w, n, buf, sizeof buf)) return 0;
  uint32_t h = fnv(buf, n) & g->mask;
  while (g->slots[h]) {
    const char *c = g->words + g->slots[h] - 1;
    if (!strncmp(c, buf, n) && c[n] == 0) return g->flags[h];
    h = (h + 1) & g->mask;
  }
  return 0;
}
