/* The name gazetteer: decodes the front-coded word list compiled into the binary
 * (gazetteer_data.c) into an open-addressing hash set of lower-cased words with
 * flags (first name, last name, place, common English word). Built once at
 * router creation; lookups lower-case the word into a stack buffer. */
#include "router_int.h"

#include <stdlib.h>
#include <string.h>
#if defined(__AVX512BW__) && defined(__AVX512VL__)
#include <immintrin.h>
#endif

/* One 8-byte slot: a probe reads one cache line, and the word itself is only
 * compared when length and an 8-bit hash tag already agree. */
typedef struct {
  uint32_t off; /* offset+1 into words, 0 empty */
  uint16_t flags;
  uint8_t len, tag;
} slot_t;

/* A one-bit-per-hash filter in front of the table: most capitalised words looked
 * up are not in it ("The", "What", product names), and the filter (32 KB, stays
 * in cache) answers those without touching the 512 KB table. */
#define FILTER_BITS 18
struct sl__gaz {
  char *words;      /* NUL-separated decoded words */
  uint64_t *filter; /* bit (hash >> 8) & fmask of every word in the table */
  slot_t *slots;
  uint32_t mask, fmask;
  size_t entries;   /* slots in use */
  size_t used, cap; /* bytes of words */
};

static inline uint8_t tag_of(uint32_t h) { return (uint8_t)(h >> 24); }
static inline uint32_t filter_bit(const sl__gaz_t *g, uint32_t h) { return (h >> 8) & g->fmask; }
static inline void filter_set(sl__gaz_t *g, uint32_t h) {
  g->filter[filter_bit(g, h) >> 6] |= 1ull << (filter_bit(g, h) & 63);
}

/* The hash of a lower-cased word: its bytes eight at a time (the last group
 * padded with zeros), one multiply per group. A word of up to 16 bytes (nearly
 * every one) is lower-cased, checked for non-ASCII bytes and hashed without a
 * loop over its bytes (gaz_lookup); the serial multiply per byte of FNV-1a was
 * most of a lookup's time. */
#define HASH_K 0x9E3779B97F4A7C15ull
static inline uint32_t hash_fin(uint64_t h) { return (uint32_t)(h >> 32); }
static uint32_t word_hash(const char *s, size_t n) {
  uint64_t h = (uint64_t)n * HASH_K;
  for (size_t i = 0; i < n; i += 8) {
    uint64_t c = 0;
    memcpy(&c, s + i, n - i < 8 ? n - i : 8);
    h = (h ^ c) * HASH_K;
  }
  return hash_fin(h);
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

/* An empty table for about `words` words (`cap` bytes of them). */
static sl__gaz_t *gaz_alloc(size_t words, size_t cap, unsigned filter_bits) {
  sl__gaz_t *g = calloc(1, sizeof *g);
  if (!g) return NULL;
  g->words = malloc(cap);
  g->cap = cap;
  uint32_t nslots = 1; /* load factor at most about 2/3 */
  while (nslots < words * 3 / 2) nslots <<= 1;
  g->slots = calloc(nslots, sizeof *g->slots);
  g->filter = calloc(((size_t)1 << filter_bits) / 64, sizeof *g->filter);
  if (!g->words || !g->slots || !g->filter) {
    sl__gaz_free(g);
    return NULL;
  }
  g->mask = nslots - 1;
  g->fmask = (1u << filter_bits) - 1;
  return g;
}

sl__gaz_t *sl__gaz_create_small(void) { return gaz_alloc(1024, 16384, 12); }

sl__gaz_t *sl__gaz_create(void) {
  size_t raw = strlen(sl__gazetteer_data);
  /* decoded size: each entry at most 26 shared bytes + its suffix + NUL */
  size_t cap = raw + (size_t)sl__gazetteer_count * 28 + 1 + 131072; /* + list words, places */
  sl__gaz_t *g = gaz_alloc(sl__gazetteer_count + 8192, cap, FILTER_BITS);
  if (!g) return NULL;
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
    uint32_t hv = word_hash(g->words + start, len), h = hv & g->mask;
    if (len < 64) { /* longer words are never looked up */
      while (g->slots[h].off) h = (h + 1) & g->mask;
      g->slots[h] = (slot_t){(uint32_t)start + 1, fl, (uint8_t)len, tag_of(hv)};
      filter_set(g, hv);
      g->entries++;
    }
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
    uint32_t hv = word_hash(buf, n), h = hv & g->mask;
    while (g->slots[h].off) {
      const slot_t *sl = &g->slots[h];
      if (sl->len == n && !memcmp(g->words + sl->off - 1, buf, n)) break;
      h = (h + 1) & g->mask;
    }
    if (!g->slots[h].off) {
      /* the table stays at most 3/4 full (probes end at an empty slot) */
      if (g->used + n + 1 > g->cap || (g->entries + 1) * 4 > ((size_t)g->mask + 1) * 3) return -1;
      g->entries++;
      memcpy(g->words + g->used, buf, n);
      g->words[g->used + n] = 0;
      g->slots[h] = (slot_t){(uint32_t)g->used + 1, 0, (uint8_t)n, tag_of(hv)};
      filter_set(g, hv);
      g->used += n + 1;
    }
    g->slots[h].flags |= (uint16_t)flag;
  }
  return 0;
}

void sl__gaz_free(sl__gaz_t *g) {
  if (!g) return;
  free(g->words);
  free(g->filter);
  free(g->slots);
  free(g);
}

/* The slot of lower-cased word buf (n bytes, hash hv), or NULL. */
static inline const slot_t *probe(const sl__gaz_t *g, const char *buf, size_t n, uint32_t hv) {
  if (!(g->filter[filter_bit(g, hv) >> 6] & (1ull << (filter_bit(g, hv) & 63)))) return NULL;
  uint32_t h = hv & g->mask;
  uint8_t tag = tag_of(hv);
  for (;;) {
    const slot_t *sl = &g->slots[h];
    if (!sl->off) return NULL;
    if (sl->tag == tag && sl->len == n && !memcmp(g->words + sl->off - 1, buf, n)) return sl;
    h = (h + 1) & g->mask;
  }
}

unsigned sl__gaz_lookup(const sl__gaz_t *g, const char *w, size_t n) {
  char buf[64];
  if (!n || n >= sizeof buf) return 0;
#if defined(__AVX512BW__) && defined(__AVX512VL__)
  if (n <= 16) {
    /* ASCII words of up to 16 bytes: lower-cased, hashed and compared in registers */
    __mmask16 m = (__mmask16)((1u << n) - 1);
    __m128i v = _mm_maskz_loadu_epi8(m, w);
    if (!_mm_movepi8_mask(v)) {
      __mmask16 up = _mm_cmple_epu8_mask(_mm_sub_epi8(v, _mm_set1_epi8('A')), _mm_set1_epi8(25));
      v = _mm_mask_add_epi8(v, up, v, _mm_set1_epi8(32));
      uint64_t h = (uint64_t)n * HASH_K;
      h = (h ^ (uint64_t)_mm_cvtsi128_si64(v)) * HASH_K;
      if (n > 8) h = (h ^ (uint64_t)_mm_extract_epi64(v, 1)) * HASH_K;
      uint32_t hv = hash_fin(h);
      if (!(g->filter[filter_bit(g, hv) >> 6] & (1ull << (filter_bit(g, hv) & 63)))) return 0;
      uint32_t k = hv & g->mask;
      uint8_t tag = tag_of(hv);
      for (;;) {
        const slot_t *sl = &g->slots[k];
        if (!sl->off) return 0;
        /* masked loads do not fault past the stored word */
        if (sl->tag == tag && sl->len == n &&
            !_mm_mask_cmpneq_epi8_mask(m, _mm_maskz_loadu_epi8(m, g->words + sl->off - 1), v))
          return sl->flags;
        k = (k + 1) & g->mask;
      }
    }
  }
#endif
  bool high = false;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)w[i];
    high |= c >= 0x80;
    buf[i] = (char)(c + ((unsigned)(c - 'A') < 26u ? 32 : 0));
  }
  if (high && !lower(w, n, buf, sizeof buf)) return 0;
  const slot_t *sl = probe(g, buf, n, word_hash(buf, n));
  return sl ? sl->flags : 0;
}
