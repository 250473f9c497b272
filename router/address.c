/* Street addresses on the word tokens: a house number next to a street-type word
 * in many languages (type after the name: "22 Talga Court"; before it: "Rua Ana
 * Caciola 1159"; fused into the name: "Nybyvägen 65", "Harjukuja 54"), with unit
 * designators ("Apt. 331", "Suite 721"); post-office and military boxes ("P.O. Box
 * 149", "PSC 9009, Box 9725", "APO AA 33274"); and the line after an "Address:"
 * label. Limits are in docs/router.md. */
#include "router_int.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/* Street types written after the street name (English and a few others). */
static const char *const type_after[] = {
    "street", "st", "avenue", "ave", "av", "road", "rd", "lane", "ln", "drive", "dr",
    "court", "ct", "boulevard", "blvd", "way", "place", "pl", "square", "sq", "terrace", "ter",
    "circle", "cir", "highway", "hwy", "parkway", "pkwy", "trail", "trl", "crescent", "cres",
    "close", "gardens", "grove", "row", "mews", "hill", "walk", "path", "pike", "alley", "plaza",
    "loop", "run", "pass", "crossing", "xing", "point", "pt", "estate", "estates", "green",
    "view", "ridge", "park", "expressway", "freeway", "turnpike", "wynd", "quay", "parade",
    "esplanade", "promenade", "utca", "út", "útja", "körút", "tér", "sor", "köz", "straat",
    "laan", "weg", "gasse", "allee", "ring", "platz", "ulica", "ul", "trg", "cesta", "ulice",
    "náměstí", "třída", "iela", "gatvė", "tänav", "tee", "katu", "tie", "kuja", "polku",
    "vägen", "gatan", "vej", "gade", "veien", "gata", "braut", "stræti", "sokak", "sokağı",
    "caddesi", "cd", "sk", "bulvarı", NULL};
/* Street types written before the name (Romance, Slavic, Greek transliterations). */
static const char *const type_before[] = {
    "rua", "via", "viale", "vicolo", "piazza", "piazzale", "corso", "largo", "calle", "avenida",
    "av", "avda", "carrera", "camino", "paseo", "plaza", "rue", "boulevard", "bd", "chemin",
    "allée", "impasse", "place", "quai", "cours", "route", "travessa", "praça", "estrada",
    "rodovia", "alameda", "ulica", "ul", "trg", "aleja", "al", "strada", "bulevardul", "str",
    "calea", "splaiul", "odos", "leoforos", "ulitsa", "prospekt", "jalan", "jl", "soi",
    "thanon", "avenue", "rambla", "ronda", "plac", "osiedle", "os", NULL};
/* Endings of one-word street names ("Nybyvägen", "Bundesstrasse", "Harjukuja"). */
static const char *const fused[] = {
    "vägen", "gatan", "gränd", "stigen", "backen", "torget", "vej", "gade", "veien", "vegen",
    "gaten", "gata", "straße", "strasse", "str.", "weg", "gasse", "allee", "platz", "ring",
    "damm", "ufer", "chaussee", "kuja", "katu", "tie", "polku", "kaari", "rinne", "braut",
    "stræti", "straat", "laan", "steeg", "plein", "gracht", "kade", "singel", "dreef", "utca",
    "ulica", "street", "road", "stra", NULL};
static const char *const unit_words[] = {"apt", "apartment", "suite", "ste", "unit", "flat",
                                         "floor", "fl", "room", "rm", "bldg", "building", "no",
                                         "nr", "lot", "door", "dept", NULL};

static bool eq_word(const char *text, const sl__tok_t *t, const char *w) {
  size_t n = strlen(w);
  return t->e - t->s == n && !strncasecmp(text + t->s, w, n);
}

static bool in(const char *text, const sl__tok_t *t, const char *const *l) {
  for (; *l; l++)
    if (eq_word(text, t, *l)) return true;
  return false;
}

static bool ends_with(const char *text, const sl__tok_t *t, const char *const *l) {
  size_t n = t->e - t->s;
  for (; *l; l++) {
    size_t m = strlen(*l);
    if (n > m + 2 && !strncasecmp(text + t->e - m, *l, m)) return true;
  }
  return false;
}

/* A house number: 1-6 digits, maybe with one letter ("12b") */
static bool housenum(const char *text, const sl__tok_t *t) {
  size_t n = t->e - t->s;
  if (t->kind == SL_TK_NUM) return n <= 6;
  if (t->kind == SL_TK_ALNUM && n <= 6) {
    size_t d = sl__count_digits(text + t->s, n);
    return d >= 1 && d + 1 == n && isalpha((unsigned char)text[t->e - 1]); /* "12b" */
  }
  return false;
}

/* Extends an address over a unit designator and its number: "Apt. 331". */
static size_t extend_unit(const char *text, const sl__toks_t *T, size_t k) {
  for (int rounds = 0; rounds < 2; rounds++) {
    if (k + 1 < T->n && T->v[k + 1].nl_before <= 1 && in(text, &T->v[k + 1], unit_words) &&
        k + 2 < T->n && (housenum(text, &T->v[k + 2]) || T->v[k + 2].kind == SL_TK_ALNUM))
      k += 2;
    else if (k + 1 < T->n && T->v[k + 1].nl_before == 0 && T->v[k + 1].punct_before == '#' &&
             housenum(text, &T->v[k + 1]))
      k += 1;
    else
      break;
  }
  return k;
}

static void add(sl__ctx_t *c, const sl__toks_t *T, size_t a, size_t b) {
  uint32_t e = T->v[b].e;
  /* a unit written first: "Unit 5, 12 High St", "Flat 3 22 Baker Street" */
  if (a >= 2 && T->v[a].nl_before == 0 && T->v[a - 1].nl_before == 0 &&
      (T->v[a - 1].kind == SL_TK_NUM || T->v[a - 1].kind == SL_TK_ALNUM) &&
      in(c->text, &T->v[a - 2], unit_words))
    a -= 2;
  sl__cands_add(c->out, T->v[a].s, e, SL_ET_STREET_ADDRESS, "street_address", 36);
}

static bool same_line(const sl__toks_t *T, size_t a, size_t b) {
  for (size_t k = a + 1; k <= b; k++)
    if (T->v[k].nl_before) return false;
  return true;
}

void sl__detect_addresses(sl__ctx_t *c, const sl__gaz_t *g, const sl__toks_t *T) {
  (void)g;
  const char *text = c->text;
  for (size_t k = 0; k < T->n; k++) {
    const sl__tok_t *t = &T->v[k];
    if (t->kind != SL_TK_WORD && !(t->kind == SL_TK_NUM)) continue;
    /* Post-office and military boxes */
    if (t->kind == SL_TK_WORD) {
      bool box = eq_word(text, t, "box") || eq_word(text, t, "postfach") ||
                 eq_word(text, t, "apartado") || eq_word(text, t, "postbus") ||
                 eq_word(text, t, "postboks") || eq_word(text, t, "postilokero");
      if (box && k + 1 < T->n && housenum(text, &T->v[k + 1]) && T->v[k + 1].nl_before == 0) {
        size_t a = k;
        /* P.O. Box / PO Box / Post Office Box / PSC 1234, Box / Unit 1234 Box */
        if (k >= 2 && eq_word(text, &T->v[k - 2], "p") && eq_word(text, &T->v[k - 1], "o")) a = k - 2;
        else if (k >= 1 && eq_word(text, &T->v[k - 1], "po")) a = k - 1;
        else if (k >= 2 && eq_word(text, &T->v[k - 2], "post") && eq_word(text, &T->v[k - 1], "office")) a = k - 2;
        else if (k >= 2 && housenum(text, &T->v[k - 1]) &&
                 (eq_word(text, &T->v[k - 2], "psc") || eq_word(text, &T->v[k - 2], "unit") ||
                  eq_word(text, &T->v[k - 2], "cmr")))
          a = k - 2;
        else if (!eq_word(text, t, "box"))
          a = k;
        else
          continue; /* a bare "box 12" is a box, not an address */
        add(c, T, a, k + 1);
        continue;
      }
      if ((eq_word(text, t, "apo") || eq_word(text, t, "fpo") || eq_word(text, t, "dpo")) &&
          k + 2 < T->n && (eq_word(text, &T->v[k + 1], "aa") || eq_word(text, &T->v[k + 1], "ae") ||
                           eq_word(text, &T->v[k + 1], "ap")) &&
          T->v[k + 2].kind == SL_TK_NUM && T->v[k + 2].e - T->v[k + 2].s == 5) {
        add(c, T, k, k + 2);
        continue;
      }
      /* USNS / USNV / USS ship addresses: "USNS Smith, FPO AE 12345" are caught above. */
    }
    if (t->kind != SL_TK_WORD) continue;
    /* 1. Type after the name: number, 1-4 words, type ("22 Talga Court") */
    if (in(text, t, type_after) && k >= 2) {
      for (size_t j = k - 1; j + 5 >= k && j < k; j--) {
        if (housenum(text, &T->v[j]) && j + 1 < k && same_line(T, j, k)) {
          bool words_ok = true, long_word = false;
          for (size_t m = j + 1; m < k; m++) {
            if (T->v[m].kind != SL_TK_WORD) words_ok = false;
            if (T->v[m].e - T->v[m].s >= 3) long_word = true;
          }
          if (!long_word) words_ok = false;
          if (!words_ok) break;
          size_t a = j;
          while (a > 0 && housenum(text, &T->v[a - 1]) && T->v[a].nl_before == 0 &&
                 T->v[a].punct_before == 0)
            a--;
          size_t b = k;
          if (b + 1 < T->n && T->v[b + 1].nl_before == 0 && housenum(text, &T->v[b + 1])) b++;
          add(c, T, a, extend_unit(text, T, b));
          break;
        }
        if (T->v[j].kind != SL_TK_WORD || j == 0) break;
      }
    }
    /* 2. Type before the name: "Rua Ana Caciola 1159", "947 trg revolucije 17" */
    if (in(text, t, type_before) && k + 1 < T->n) {
      bool num_before = k >= 1 && housenum(text, &T->v[k - 1]) && T->v[k].nl_before == 0;
      size_t m = k + 1, last_word = k;
      while (m < T->n && m <= k + 5 && T->v[m].nl_before == 0 && T->v[m].kind == SL_TK_WORD) last_word = m++;
      bool num_after = m < T->n && T->v[m].nl_before == 0 && housenum(text, &T->v[m]) && last_word > k;
      if (last_word > k && (num_before || num_after)) {
        size_t a = num_before ? k - 1 : k;
        size_t b = num_after ? m : last_word;
        add(c, T, a, extend_unit(text, T, b));
      }
    }
    /* 3. Fused street names followed (or preceded) by a number: "Harjukuja 54" */
    if (ends_with(text, t, fused) || in(text, t, fused)) {
      size_t a = k;
      while (a > 0 && a + 3 > k && T->v[a - 1].kind == SL_TK_WORD && (T->v[a - 1].caps & 1) &&
             T->v[a].nl_before == 0 && T->v[a].punct_before == 0)
        a--;
      if (k + 1 < T->n && T->v[k + 1].nl_before == 0 && housenum(text, &T->v[k + 1])) {
        if (a > 0 && housenum(text, &T->v[a - 1]) && T->v[a].nl_before == 0) a--;
        add(c, T, a, extend_unit(text, T, k + 1));
      } else if (a > 0 && housenum(text, &T->v[a - 1]) && T->v[a].nl_before == 0) {
        add(c, T, a - 1, extend_unit(text, T, k));
      }
    }
    /* 4. "Address:" label at the start of a line: the next line(s) when they carry a
     *    number and a word ("Address:\n87645 22 Talga Court Apt. 331\nKaster") */
    if (eq_word(text, t, "address") && (k == 0 || t->nl_before) && k + 1 < T->n &&
        T->v[k + 1].punct_before == ':') {
      size_t a = k + 1, b = a;
      bool digit = false, word = false;
      while (b < T->n && b < a + 12 && (b == a || T->v[b].nl_before <= 1) &&
             T->v[b].punct_before != '@') {
        if (b > a && T->v[b].nl_before && digit && word) break;
        if (T->v[b].kind == SL_TK_WORD) word = true;
        else
          digit = true;
        b++;
      }
      if (digit && word && b > a + 1) add(c, T, a, b - 1);
    }
  }
}
