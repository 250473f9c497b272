/* Well-known names and single-word place names, compiled in from the lists in
 * router/data (router/lists_data.c, made by router/tools/gen_lists.js).
 *
 * - Well-known names: public figures ("Marie Curie", "Nelson Mandela", "Sherlock
 *   Holmes") and things named like people ("Mona Lisa", "Machu Picchu", "Pinot
 *   Noir", "Morgan Stanley"). A name the name rules found without any cue ("Who
 *   was Marie Curie?") that is one of these is a general-knowledge mention, not
 *   a private person's data. With a cue ("Name: Marie Curie", "Dear Marie
 *   Curie") it stays a person.
 * - Places ("Vienna", "Adelaide", "Lagos"): words that are also given names; the
 *   gazetteer flags them as places (sl__names_register_places), which the name
 *   rules already weigh.
 *
 * Names are compared folded: ASCII lower-case, Latin letters with diacritics
 * to their base letter (é → e, ł → l), dots dropped, runs of spaces as one. The
 * figures set holds 64-bit hashes of the folded names, built once. */
#include "router_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

extern const char sl__figures_data[];
extern const char sl__places_data[];

/* Base letters of U+00C0..U+017F (Latin-1 Supplement letters and Latin
 * Extended-A), lower-case; 0 where there is none (×, ÷). */
static const char fold_tab[192] =
    "aaaaaaaceeeeiiii" "dnooooo\0ouuuuyts" /* C0-DF */
    "aaaaaaaceeeeiiii" "dnooooo\0ouuuuyty" /* E0-FF */
    "aaaaaaccccccccdd" "ddeeeeeeeeeegggg" /* 100-11F */
    "gggghhhhiiiiiiii" "iijjjjkkklllllll" /* 120-13F */
    "lllnnnnnnnnnoooo" "oooorrrrrrssssss" /* 140-15F */
    "ssttttttuuuuuuuu" "uuuuwwyyyzzzzzzs"; /* 160-17F */

/* Folds s[0..n) into out (cap bytes); returns the folded length, or 0 if it
 * does not fit. */
static size_t fold(const char *s, size_t n, char *out, size_t cap) {
  const unsigned char *p = (const unsigned char *)s;
  size_t o = 0;
  bool space = true; /* no leading space */
  for (size_t i = 0; i < n; i++) {
    unsigned char c = p[i];
    char f;
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      if (!space && o < cap) out[o++] = ' ';
      space = true;
      continue;
    }
    if (c == '.') continue;
    if (c >= 'A' && c <= 'Z') f = (char)(c | 32);
    else if (c < 0x80) f = (char)c;
    else if (c >= 0xC3 && c <= 0xC5 && i + 1 < n && (p[i + 1] & 0xC0) == 0x80) {
      unsigned cp = ((c & 0x1Fu) << 6) | (p[i + 1] & 0x3Fu);
      f = cp >= 0xC0 && cp < 0x180 ? fold_tab[cp - 0xC0] : 0;
      if (!f) f = '?';
      i++;
    } else if (c == 0xE2 && i + 2 < n && p[i + 1] == 0x80 && (p[i + 2] == 0x98 || p[i + 2] == 0x99)) {
      f = '\''; /* ’ */
      i += 2;
    } else {
      f = (char)c; /* other scripts: as they are */
    }
    if (o >= cap) return 0;
    out[o++] = f;
    space = false;
  }
  while (o > 0 && out[o - 1] == ' ') o--;
  return o;
}

static uint64_t hash64(const char *s, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
  return h ? h : 1; /* 0 marks an empty slot */
}

static uint64_t *fig_tab;
static size_t fig_mask;
static pthread_once_t fig_once = PTHREAD_ONCE_INIT;

static void fig_add(uint64_t h) {
  size_t i = (size_t)(h ^ (h >> 29)) & fig_mask;
  while (fig_tab[i] && fig_tab[i] != h) i = (i + 1) & fig_mask;
  fig_tab[i] = h;
}

static void figures_init(void) {
  size_t lines = 0;
  for (const char *p = sl__figures_data; *p; p++) lines += *p == '\n';
  size_t cap = 64;
  while (cap < 2 * lines + 2) cap *= 2;
  fig_tab = calloc(cap, sizeof *fig_tab);
  if (!fig_tab) return; /* then nobody is famous: names stay persons (fail closed) */
  fig_mask = cap - 1;
  char buf[128];
  for (const char *p = sl__figures_data; *p;) {
    const char *e = strchr(p, '\n');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    size_t k = fold(p, n, buf, sizeof buf);
    if (k) fig_add(hash64(buf, k));
    p += n + (e != NULL);
  }
}

void sl__figures_init(void) { pthread_once(&fig_once, figures_init); }

bool sl__figure_has(const char *s, size_t n) {
  sl__figures_init();
  char buf[128];
  size_t k = fold(s, n, buf, sizeof buf);
  if (!k || !fig_tab) return false;
  uint64_t h = hash64(buf, k);
  for (size_t i = (size_t)(h ^ (h >> 29)) & fig_mask; fig_tab[i]; i = (i + 1) & fig_mask)
    if (fig_tab[i] == h) return true;
  return false;
}

int sl__names_register_places(sl__gaz_t *g) {
  char word[64];
  const char *list[2] = {word, NULL};
  for (const char *p = sl__places_data; *p;) {
    const char *e = strchr(p, '\n');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    if (n && n < sizeof word) {
      memcpy(word, p, n);
      word[n] = '\0';
      if (sl__gaz_add(g, list, SL_GZ_PLACE)) return -1; /* the table is full */
    }
    p += n + (e != NULL);
  }
  return 0;
}
