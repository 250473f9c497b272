/* The address rules' own word table (router/address.c, addr_flags) against the
 * gazetteer: for every word the rules could meet — every list word in several
 * cases, its possessive, hyphenated and longer forms, gazetteer names with and
 * without "'s", non-ASCII and ALL-CAPS forms, words of every length — the flags
 * the address rules test must be those sl__tok_flags gives. */
#include "router_test_util.h"
#include "common/sl_str.h"

#include <stdint.h>
#include <string.h>

#include "router/address.c"

/* a word token as the tokenizer makes it: caps bit 8 when joined over ' or - */
static sl__tok_t word_tok(const char *w) {
  sl__tok_t t = {0, (uint32_t)strlen(w), SL_TK_WORD, 0, 0, 0, 0, 0, 0};
  if (strpbrk(w, "'-")) t.caps = 8;
  return t;
}

static unsigned via_gazetteer(const char *w) {
  sl__tok_t t = word_tok(w);
  return sl__tok_flags(g_router->gaz, w, &t) & ADDR_FLAGS;
}

static unsigned via_small(const char *w) {
  sl__tok_t t = word_tok(w);
  return addr_flags(g_router->gaz, g_router->gaz_addr, w, &t);
}

static int check(const char *w, unsigned *mism) {
  unsigned a = via_gazetteer(w), b = via_small(w);
  if (a != b && (*mism)++ < 5) fprintf(stderr, "\"%s\": gazetteer %#x, address table %#x\n", w, a, b);
  return a == b;
}

/* w in a few spellings: as is, capitalised, upper-case, with "'s", "-x", "x-" */
static void forms(const char *w, unsigned *mism, size_t *n) {
  char buf[96];
  size_t len = strlen(w);
  if (len > 60) return;
  const char *suffix[] = {"", "'s", "-street", "s", "'", "'ss"};
  for (int cs = 0; cs < 3; cs++)
    for (size_t k = 0; k < sizeof suffix / sizeof suffix[0]; k++) {
      snprintf(buf, sizeof buf, "%s%s", w, suffix[k]);
      for (size_t i = 0; buf[i]; i++) {
        if (cs == 1 && i == 0 && buf[i] >= 'a' && buf[i] <= 'z') buf[i] -= 32;
        if (cs == 2 && buf[i] >= 'a' && buf[i] <= 'z') buf[i] -= 32;
      }
      check(buf, mism);
      (*n)++;
    }
  snprintf(buf, sizeof buf, "x-%s", w);
  check(buf, mism);
  (*n)++;
}

static void same_flags(void **state) {
  (void)state;
  unsigned mism = 0;
  size_t n = 0;
  const char *const *lists[] = {type_after, type_before, unit_words};
  for (size_t l = 0; l < 3; l++)
    for (const char *const *w = lists[l]; *w; w++) forms(*w, &mism, &n);
  static const char *const others[] = {
      "the", "this", "what", "however", "street", "john", "mary", "smith", "jennifer", "paris",
      "london", "bank", "day", "thomas", "james", "will", "mark", "rose", "main", "high", "baker",
      "park", "hill", "ville", "city", "unit", "no", "nr", "lot", "apt", "flat", "floor", "p", "o",
      "po", "box", "psc", "apo", "rua", "via", "út", "körút", "ÚT", "KÖRÚT", "tér", "náměstí",
      "vägen", "straße", "a", "i", "zz", "qwertyuiopasdfgh", "qwertyuiopasdfghj",
      "averyveryverylongwordthatisnotaname", "o'brien", "mayo-walters", "d'angelo", NULL};
  for (const char *const *w = others; *w; w++) forms(*w, &mism, &n);
  /* every length around the 16-byte AVX path and the 40-byte token limit */
  char buf[64];
  for (size_t len = 1; len < 46; len++) {
    for (size_t i = 0; i < len; i++) buf[i] = "streetavenueroadlane"[i % 20];
    buf[len] = 0;
    check(buf, &mism);
    n++;
  }
  assert_true(n > 2000);
  assert_int_equal(mism, 0);
}

/* A possessive that is itself in the gazetteer keeps its own flags there (none
 * of the address ones), not its stem's: the address table must ask. */
static void possessive_in_gazetteer(void **state) {
  (void)state;
  sl__gaz_t *g = sl__gaz_create();
  assert_non_null(g);
  sl__names_register(g);
  sl__address_register(g);
  static const char *const extra[] = {"park's", "rua's", NULL};
  assert_int_equal(sl__gaz_add(g, extra, SL_GZ_FIRST), 0);
  const char *words[] = {"park's", "Park's", "rua's", "street's", "hill's"};
  for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
    sl__tok_t a = word_tok(words[i]), b = a;
    assert_int_equal(sl__tok_flags(g, words[i], &a) & ADDR_FLAGS,
                     addr_flags(g, g_router->gaz_addr, words[i], &b));
  }
  sl__gaz_free(g);
}

/* Every entry of the generated gazetteer data is whole UTF-8 and found again
 * by a lookup, in lower case and capitalised: the generator once cut its
 * front-coded suffixes inside a UTF-8 sequence, which turned the rest of it
 * into U+FFFD and lost every name with a Latin-1 letter after such a cut
 * (józef, müller, søren, ömer) and the names coded after them. */
static void every_entry_found(void **state) {
  (void)state;
  sl__gaz_t *g = sl__gaz_create();
  assert_non_null(g);
  char prev[64] = "", word[64];
  size_t prev_len = 0, n = 0;
  for (const char *p = sl__gazetteer_data; *p;) {
    size_t k = (size_t)(*p++ - 'a'), len = k;
    assert_true(k <= prev_len);
    memcpy(word, prev, k);
    while (*p && !(*p >= 'A' && *p <= 'Z')) {
      assert_true(len + 1 < sizeof word);
      word[len++] = *p++;
    }
    assert_true(*p);
    p++;
    word[len] = 0;
    if (sl_utf8_invalid(word, len) != SIZE_MAX || strstr(word, "\xef\xbf\xbd"))
      fail_msg("entry %zu is not whole UTF-8: %s", n, word);
    if (!sl__gaz_lookup(g, word, len)) fail_msg("entry %zu not found: %s", n, word);
    memcpy(prev, word, len + 1);
    prev_len = len;
    n++;
  }
  assert_int_equal(n, sl__gazetteer_count);
  static const char *const names[] = {"józef", "Müller", "Søren", "ömer", "Émile", "zoë", "Łukasz"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (!(sl__gaz_lookup(g, names[i], strlen(names[i])) & (SL_GZ_FIRST | SL_GZ_LAST)))
      fail_msg("%s is no name in the gazetteer", names[i]);
  sl__gaz_free(g);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(same_flags), cmocka_unit_test(possessive_in_gazetteer),
                                     cmocka_unit_test(every_entry_found)};
  return cmocka_run_group_tests(tests, setup_router, teardown_router);
}
