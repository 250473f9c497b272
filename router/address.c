/* Street addresses on the word tokens: a house number next to a street-type word
 * in many languages (type after the name: "22 Talga Court"; before it: "Rua Ana
 * Caciola 1159"; fused into the name: "Nybyvägen 65", "Harjukuja 54"), with unit
 * designators ("Apt. 331", "Suite 721"); post-office and military boxes ("P.O. Box
 * 149", "PSC 9009, Box 9725", "APO AA 33274"); and the line after an "Address:"
 * label. Limits are in docs/router.md. */
#include "router_int.h"
#include "sl_err.h"

#include <ctype.h>
#include <pthread.h>
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
    "caddesi", "cd", "sk", "bulvarı", 
    /* English street suffixes of @faker-js/faker (MIT) en* locales */
    "approach", "bank", "brae", "branch", "bridge", "brook", "brooks", "brow", "burg", "burgs",
    "bypass", "camp", "canyon", "cape", "causeway", "center", "centers", "chase", "circles",
    "circuit", "cliff", "cliffs", "club", "common", "copse", "corner", "corners", "course",
    "courts", "cove", "coves", "creek", "crest", "croft", "crossroad", "curve", "dale", "dam",
    "divide", "drives", "drove", "end", "extension", "extensions", "fall", "falls", "ferry",
    "field", "fields", "flat", "flats", "fold", "ford", "fords", "forest", "forge", "forges",
    "fork", "forks", "fort", "garden", "garth", "gate", "gateway", "glade", "glen", "glens",
    "grange", "greens", "groves", "harbor", "harbors", "haven", "heights", "hills", "hollow",
    "inlet", "island", "islands", "isle", "junction", "junctions", "key", "keys", "knoll",
    "knolls", "lake", "lakes", "land", "landing", "lea", "light", "lights", "loaf", "lock",
    "locks", "lodge", "mall", "manor", "manors", "mead", "meadow", "meadows", "mill", "mills",
    "mission", "motorway", "mount", "mountain", "mountains", "neck", "orchard", "oval",
    "overpass", "paddock", "parks", "parkways", "passage", "pine", "pines", "plain", "plains",
    "points", "port", "ports", "prairie", "radial", "ramp", "ranch", "rapid", "rapids", "rest",
    "ridges", "rise", "river", "roads", "route", "rue", "shoal", "shoals", "shore", "shores",
    "side", "skyway", "spring", "springs", "spur", "spurs", "squares", "station", "stravenue",
    "stream", "streets", "summit", "throughway", "trace", "track", "trafficway", "tunnel",
    "underpass", "union", "unions", "vale", "valley", "valleys", "via", "viaduct", "views",
    "village", "villages", "ville", "vista", "walks", "wall", "ways", "well", "wells", "wood",
    "yard", NULL};
/* Street types written before the name (Romance, Slavic, Greek transliterations). */
static const char *const type_before[] = {
    "rua", "via", "viale", "vicolo", "piazza", "piazzale", "corso", "largo", "calle", "avenida",
    "av", "avda", "carrera", "camino", "paseo", "plaza", "rue", "boulevard", "bd", "chemin",
    "allée", "impasse", "place", "quai", "cours", "route", "travessa", "praça", "estrada",
    "rodovia", "alameda", "ulica", "ul", "trg", "aleja", "al", "strada", "bulevardul", "str",
    "calea", "splaiul", "odos", "leoforos", "ulitsa", "prospekt", "jalan", "jl", "soi",
    "thanon", "avenue", "rambla", "ronda", "plac", "osiedle", "os", NULL};
/* Endings of one-word street names ("Nybyvägen", "Bundesstrasse", "Harjukuja"). */
static const struct {
  const char *s;
  size_t n;
} fused[] = {
    {"vägen", sizeof "vägen" - 1}, {"gatan", sizeof "gatan" - 1},
    {"gränd", sizeof "gränd" - 1}, {"stigen", sizeof "stigen" - 1},
    {"backen", sizeof "backen" - 1}, {"torget", sizeof "torget" - 1},
    {"vej", sizeof "vej" - 1}, {"gade", sizeof "gade" - 1}, {"veien", sizeof "veien" - 1},
    {"vegen", sizeof "vegen" - 1}, {"gaten", sizeof "gaten" - 1}, {"gata", sizeof "gata" - 1},
    {"straße", sizeof "straße" - 1}, {"strasse", sizeof "strasse" - 1},
    {"str.", sizeof "str." - 1}, {"weg", sizeof "weg" - 1}, {"gasse", sizeof "gasse" - 1},
    {"allee", sizeof "allee" - 1}, {"platz", sizeof "platz" - 1}, {"ring", sizeof "ring" - 1},
    {"damm", sizeof "damm" - 1}, {"ufer", sizeof "ufer" - 1},
    {"chaussee", sizeof "chaussee" - 1}, {"kuja", sizeof "kuja" - 1},
    {"katu", sizeof "katu" - 1}, {"tie", sizeof "tie" - 1}, {"polku", sizeof "polku" - 1},
    {"kaari", sizeof "kaari" - 1}, {"rinne", sizeof "rinne" - 1},
    {"braut", sizeof "braut" - 1}, {"stræti", sizeof "stræti" - 1},
    {"straat", sizeof "straat" - 1}, {"laan", sizeof "laan" - 1},
    {"steeg", sizeof "steeg" - 1}, {"plein", sizeof "plein" - 1},
    {"gracht", sizeof "gracht" - 1}, {"kade", sizeof "kade" - 1},
    {"singel", sizeof "singel" - 1}, {"dreef", sizeof "dreef" - 1},
    {"utca", sizeof "utca" - 1}, {"ulica", sizeof "ulica" - 1},
    {"street", sizeof "street" - 1}, {"road", sizeof "road" - 1}, {"stra", sizeof "stra" - 1},
    /* Finnish, Dutch and Norwegian; Czech, Slovak and Croatian streets named by
     * an adjective ("Dehtínská", "Ivanovačka") */
    {"linja", sizeof "linja" - 1}, {"ranta", sizeof "ranta" - 1}, {"väylä", sizeof "väylä" - 1},
    {"dijk", sizeof "dijk" - 1}, {"vei", sizeof "vei" - 1}, /* (not "gate": Westgate, Northgate) */
    {"ská", sizeof "ská" - 1}, {"cká", sizeof "cká" - 1}, {"ačka", sizeof "ačka" - 1},
    {"ička", sizeof "ička" - 1},
};
/* The routes of a box: military post ("PSC 9009, Box 9725"), rural routes
 * and highway contracts ("RR 2 Box 147", "HC 61 Box 20", "Rural Route 3 Box 12"). */
static const char *const box_routes[] = {"psc", "unit", "cmr", "rr", "hc", "route", NULL};
static const char *const unit_words[] = {"apt", "apartment", "suite", "ste", "unit", "flat",
                                         "floor", "fl", "room", "rm", "bldg", "building", "no",
                                         "nr", "lot", "door", "dept", "apto", "apartamento", "depto", "dpto",
                                         "departamento", "piso", "daire", NULL};

/* Could a fused ending end in this (lower-cased) byte? The ASCII last bytes of
 * fused[] (keep in step with it); the non-ASCII endings end in any byte >= 0x80. */
/* The endings whose last byte (| 32) is b, one bit per fused[] entry, for the
 * ASCII bytes; a word ending in a non-ASCII byte is compared with every ending. */
static uint64_t fused_by_last[128];
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static void words_init(void); /* the word sets' filters, below */
/* The module's tables, once: the fused endings by last byte and the word sets. */
static void address_init(void) {
  words_init();
  _Static_assert(sizeof fused / sizeof fused[0] <= 64, "fused_by_last is a 64-bit mask");
  for (size_t i = 0; i < sizeof fused / sizeof fused[0]; i++) {
    unsigned char last = (unsigned char)(fused[i].s[fused[i].n - 1] | 32);
    if (last < 128) fused_by_last[last] |= 1ull << i;
  }
}

static bool fused_name(const char *text, const sl__tok_t *t) {
  size_t n = t->e - t->s;
  if (n < 5) return false;
  unsigned char last = (unsigned char)(text[t->e - 1] | 32);
  /* most words end in a byte no ending ends in */
  uint64_t cand = last < 0x80 ? fused_by_last[last] : ~0ull >> (64 - sizeof fused / sizeof fused[0]);
  for (; cand; cand &= cand - 1) {
    size_t i = (size_t)__builtin_ctzll(cand), m = fused[i].n;
    /* (an English word is no fused street name: "Engineering 184", "Catering 12") */
    if (n > m + 2 && !strncasecmp(text + t->e - m, fused[i].s, m))
      return !sl__lexicon_has(text + t->s, n);
  }
  return false;
}

void sl__address_register(sl__gaz_t *g) {
  pthread_once(&init_once, address_init);
  sl__gaz_add(g, type_after, SL_GZ_ST_AFTER);
  sl__gaz_add(g, type_before, SL_GZ_ST_BEFORE);
  sl__gaz_add(g, unit_words, SL_GZ_UNIT);
}

int sl__address_register_small(sl__gaz_t *g) {
  return sl__gaz_add(g, type_after, SL_GZ_ST_AFTER) | sl__gaz_add(g, type_before, SL_GZ_ST_BEFORE) |
         sl__gaz_add(g, unit_words, SL_GZ_UNIT);
}

/* The flags the rules below test (ADDR_FLAGS) of a token, as sl__tok_flags
 * would give them, from the small table of the words that have them: a word
 * in the gazetteer has them there or nowhere; a word not in it takes the flags
 * of its possessive's stem ("Street's"; its hyphenated parts give none of
 * these). Only a possessive missing from the small table needs the full
 * gazetteer, to tell "in it without these flags" from "not in it". */
#define ADDR_FLAGS (SL_GZ_ST_AFTER | SL_GZ_ST_BEFORE | SL_GZ_UNIT | SL_GZ_STARTER)
static unsigned addr_flags(const sl__gaz_t *g, const sl__gaz_t *ga, const char *text, sl__tok_t *t) {
  if (t->looked) return t->gz & ADDR_FLAGS;
  unsigned f = 0;
  size_t n = t->e - t->s;
  if (t->kind == SL_TK_WORD && n >= 1 && n <= 40) {
    const char *w = text + t->s;
    f = sl__gaz_lookup(ga, w, n);
    if (!f && n > 3 && w[n - 2] == '\'' && w[n - 1] == 's' && !sl__gaz_lookup(g, w, n))
      f = sl__gaz_lookup(ga, w, n - 2);
  }
  t->looked = 2;
  t->gz = (uint16_t)f;
  return f;
}

/* A house number: 1-6 digits, maybe with one letter ("12b") */
static bool housenum(const char *text, const sl__tok_t *t) {
  size_t n = t->e - t->s;
  /* the tail of a time or a decimal: "11:22:53.110Z INFO circuit breaker" */
  if (t->s >= 2 && (text[t->s - 1] == '.' || text[t->s - 1] == ':') && isdigit((unsigned char)text[t->s - 2]))
    return false;
  if (t->kind == SL_TK_NUM) return n <= 6;
  if (t->kind == SL_TK_ALNUM && n <= 6) {
    size_t d = sl__count_digits(text + t->s, n);
    return d >= 1 && d + 1 == n && isalpha((unsigned char)text[t->e - 1]); /* "12b" */
  }
  return false;
}

#define GZ(k) addr_flags(g, ga, text, &T->v[k])

/* Written as a name: capitalised, or any word in a text with no capitals. */
static inline bool proper_word(const sl__toks_t *T, size_t k) {
  return (T->v[k].caps & 1) || !T->has_upper;
}

/* A street type that stands, as a word of its own, between the street's name
 * and the house number ("Berliner Straße 12", "Lange Gasse 5", "Hoge Laan 3"). */
static const char *const types[] = {
      "straße", "strasse", "allee", "gasse", "weg", "platz", "damm", "ufer", "chaussee",
      "steig", "pfad", "laan", "straat", "gracht", "plein", "kade", "singel", "dreef", "vej",
      "gade", "gata", "gatan", "vägen", "veien", "ulica", "utca", "iela", "katu", "kuja",
      "tänav", "cesta", "ulice", "třída", "trg", "út", "útja", "körút", "tér", "köz", "sétány",
      "rakpart", "põik", "maantee", "puiestee", "aleja", "plac", "náměstí", "nábřeží",
      "caddesi", "sokak", "sokağı", "bulvarı", "yolu", NULL};
static sl__wordset_t types_set = {.words = types};
/* Short forms of those that need a number sign after them: "Bağdat Cad. No:12"
 * ("Audio CD 2" is no street) */
static const char *const short_types[] = {"cad", "cd", "sok", "sk", "blv", "str", NULL};
static bool type_before_number(const char *text, const sl__tok_t *t) {
  return sl__tok_in_set(text, t, &types_set);
}

/* An ordinal, as numbered streets are named: "1st", "22nd", "3rd", "104th". */
static bool ordinal(const char *text, const sl__tok_t *t) {
  size_t n = t->e - t->s;
  if (t->kind != SL_TK_ALNUM || n < 3 || n > 5) return false;
  const char *w = text + t->s;
  size_t d = sl__count_digits(w, n);
  if (d + 2 != n) return false;
  char a = (char)tolower((unsigned char)w[d]), b = (char)tolower((unsigned char)w[d + 1]);
  return (a == 's' && b == 't') || (a == 'n' && b == 'd') || (a == 'r' && b == 'd') || (a == 't' && b == 'h');
}

/* A compass direction written short and in capitals before a street's name:
 * "N", "SW" ("701 W. 7th Ave"). */
static bool direction(const char *text, const sl__tok_t *t) {
  static const char *const dirs[] = {"n", "s", "e", "w", "ne", "nw", "se", "sw", NULL};
  return t->kind == SL_TK_WORD && (t->caps & 1) && t->e - t->s <= 2 && sl__tok_in(text, t, dirs);
}

/* Token j (a number) follows a number sign written as a word: "No 7", "No.
 * 71", "No: 142", "Nr. 5". */
static bool number_sign(const char *text, const sl__toks_t *T, size_t j) {
  static const char *const signs[] = {"no", "nr", "nro", NULL};
  if (j < 1) return false;
  const sl__tok_t *t = &T->v[j], *p = &T->v[j - 1];
  return !t->nl_before && (!t->punct_before || t->punct_before == '.' || t->punct_before == ':') &&
         p->kind == SL_TK_WORD && !p->nl_before && (p->caps & 1) && sl__tok_in(text, p, signs);
}

/* Where a Colombian address ("Carrera 7 # 71-21") starts whose cross street's
 * number is token j, or SIZE_MAX. */
static size_t placa(const char *text, const sl__toks_t *T, size_t j) {
  static const char *const vias[] = {"calle", "cl", "cll", "carrera", "cra", "cr", "kr", "kra",
                                     "avenida", "av", "ak", "ac", "diagonal", "dg", "transversal",
                                     "tv", "tr", NULL};
  const sl__tok_t *t = &T->v[j];
  if (j < 2 || t->kind != SL_TK_NUM || t->e - t->s > 3 || t->nl_before || j + 1 >= T->n ||
      T->v[j + 1].kind != SL_TK_NUM || T->v[j + 1].punct_before != '-' || T->v[j + 1].nl_before ||
      T->v[j + 1].s != t->e + 1 || T->v[j + 1].e - T->v[j + 1].s > 3)
    return SIZE_MAX;
  size_t k = j - 1;
  if (t->punct_before != '#') {
    if (j < 3 || !number_sign(text, T, j)) return SIZE_MAX;
    k = j - 2;
  }
  if (k >= 2 && T->v[k].kind == SL_TK_WORD && T->v[k].e - T->v[k].s <= 4 && !T->v[k].nl_before) k--; /* "Bis", "Sur", "A" */
  if (k < 1 || T->v[k].nl_before || !housenum(text, &T->v[k]) || T->v[k].e - T->v[k].s > 4) return SIZE_MAX;
  const sl__tok_t *v = &T->v[k - 1];
  return v->kind == SL_TK_WORD && (v->caps & 1) && sl__tok_in(text, v, vias) ? k - 1 : SIZE_MAX;
}

/* The finding of this type that token u overlaps, or NULL. */
static const sl__cand_t *found_at(const sl__ctx_t *c, const sl__tok_t *u, int type) {
  for (size_t i = c->out->n; i-- > 0;) {
    const sl__cand_t *d = &c->out->v[i];
    if (d->type == type && d->start < u->e && u->s < d->end) return d;
  }
  return NULL;
}

/* Where an address ends at a postcode after its town starts, or SIZE_MAX:
 * comma-separated parts in capitals, numbers and house designators, on one
 * line, then the town and the code, as India writes them without a street
 * number first ("Flat No. 203, Sai Apartments, MG Road, Bengaluru 560001",
 * "D-45, Lajpat Nagar, New Delhi 110024") and elsewhere for a numberless street
 * ("Baker Street, London 10115"). Token j is the code: six digits, or five
 * where a street type is among the parts. The parts stop at a person's name
 * ("Sender: Ananya Krishnan, 12/3 Lake View Road, ...") and at an address
 * found before, from whose start it then runs ("4417 Larkspur Lane, Apt 2B,
 * Decatur, GA 30030"). */
static size_t coded_town(const sl__ctx_t *c, const sl__gaz_t *g, const sl__gaz_t *ga, sl__toks_t *T,
                         size_t j, size_t done) {
  const char *text = c->text;
  static const char *const locality[] = {
      "nagar", "marg", "cross", "main", "sector", "colony", "layout", "apartments", "apartment",
      "apts", "society", "block", "phase", "puram", "vihar", "enclave", "extension", "chowk",
      "bazar", "bazaar", "gali", "peth", "wadi", "nivas", "bhavan", "residency", "taluk",
      "tehsil", "district", "dist", "mandal", "halli", "pura", "palya", NULL};
  const sl__tok_t *t = &T->v[j];
  size_t n = t->e - t->s;
  if (!T->has_upper || j < 3 || t->kind != SL_TK_NUM || (n != 6 && n != 5) || text[t->s] == '0' ||
      t->nl_before || (t->punct_before && t->punct_before != '-' && t->punct_before != ',') ||
      T->v[j - 1].kind != SL_TK_WORD || !(T->v[j - 1].caps & 1) || (j + 1 < T->n && !T->v[j + 1].nl_before &&
      T->v[j + 1].kind == SL_TK_NUM && !T->v[j + 1].punct_before))
    return SIZE_MAX;
  size_t a = j - 1, commas = 0;
  bool anchor = false, street = false;
  for (size_t k = j - 1;; k--) {
    const sl__tok_t *u = &T->v[k];
    if (k < done) {
      const sl__cand_t *d = found_at(c, u, SL_ET_STREET_ADDRESS);
      if (d) {
        for (a = k; a > 0 && T->v[a - 1].s >= d->start; a--) {}
        anchor = street = true;
      }
      break;
    }
    bool ok = (u->kind == SL_TK_WORD && (u->caps & 1)) || u->kind == SL_TK_NUM ||
              (u->kind == SL_TK_ALNUM && u->e - u->s <= 8);
    if (!ok || j - k > 20 || (u->kind == SL_TK_WORD && found_at(c, u, SL_ET_PERSON))) break;
    a = k;
    if (u->kind == SL_TK_WORD) {
      unsigned f = GZ(k);
      if (f & (SL_GZ_ST_AFTER | SL_GZ_ST_BEFORE)) street = anchor = true;
      if (f & SL_GZ_UNIT) anchor = true; /* "Flat No. 203" */
      if (sl__tok_in(text, u, locality)) anchor = true;
    } else if (u->punct_before == '#') {
      anchor = true; /* "#12, 3rd Cross" */
    }
    if (k == 0 || u->nl_before) break;
    uint8_t p = u->punct_before;
    if (p == ',') commas++;
    /* a label or a sentence's end before it ("H.No." is neither) */
    if (p == ':' || p == ';' || p == '!' || p == '?' || p == '(' || p == '"' ||
        (p == '.' && T->v[k - 1].kind == SL_TK_WORD && T->v[k - 1].e - T->v[k - 1].s > 3))
      break;
  }
  /* the part that opens it is no sentence's first word ("Thanks, Priya ...") */
  while (a < j - 1 && (GZ(a) & SL_GZ_STARTER)) a++;
  if (!commas || !anchor || (n == 5 && !street) || j - a < 3) return SIZE_MAX;
  return a;
}

/* The value of a number token (the text is not NUL-terminated: no atoi). */
static int num_value(const char *text, const sl__tok_t *t) {
  int v = 0;
  for (uint32_t k = t->s; k < t->e; k++) v = v * 10 + (text[k] - '0');
  return v;
}

/* A number of at most two digits that starts a line or a "|" segment. */
static bool item_number(const sl__tok_t *t, bool first) {
  return t->kind == SL_TK_NUM && t->e - t->s <= 2 && (first || t->nl_before || t->punct_before == '|');
}

/* Token j opens an item of a numbered list: the next item number is one more
 * ("1 Hollybrook Orchard (apples) | 2 Green Acre Dairy | ..."). */
static bool list_number(const char *text, const sl__toks_t *T, size_t j) {
  if (!item_number(&T->v[j], j == 0)) return false;
  for (size_t k = j + 1; k < T->n && k < j + 40; k++)
    if (item_number(&T->v[k], false)) return num_value(text, &T->v[k]) == num_value(text, &T->v[j]) + 1;
  return false;
}

/* Token j is a year (1800-2099) right after a word that comes before years
 * ("the 1929 Wall Street Crash", "In 1999 Main Street ...") rather than before
 * a house number. */
static bool year_after_word(const char *text, const sl__toks_t *T, size_t j) {
  static const char *const before_year[] = {"the", "in", "since", "of", "by", "from", "until",
                                            "after", "before", "during", "around", NULL};
  const sl__tok_t *t = &T->v[j];
  if (j == 0 || t->kind != SL_TK_NUM || t->e - t->s != 4 || t->punct_before || t->nl_before)
    return false;
  int y = num_value(text, t);
  if (y < 1800 || y > 2099) return false;
  return sl__tok_in(text, &T->v[j - 1], before_year);
}

/* Token j is part of a time, not a house number: the hours ("Tuesday 06:00",
 * "(24 h)") or the minutes ("18:30 Strength Circuit 55"). */
static bool clock_number(const sl__ctx_t *c, const sl__toks_t *T, size_t j) {
  const sl__tok_t *t = &T->v[j];
  const char *text = c->text;
  if (t->punct_before == '(') return true;
  if (t->e + 1 < c->len && text[t->e] == ':' && isdigit((unsigned char)text[t->e + 1])) return true;
  return t->punct_before == ':' && j > 0 && T->v[j - 1].kind == SL_TK_NUM && T->v[j - 1].e + 1 == t->s;
}

/* A unit word that says "address" by itself (not "Unit 4" of a course, "Room 2"). */
static bool strong_unit(const char *text, const sl__tok_t *t) {
  static const char *const strong[] = {"apt", "apartment", "suite", "ste", NULL};
  return sl__tok_in(text, t, strong);
}

/* The words before token a say a place follows: "corner of", "is on", "is at",
 * "located at", "lives on", "moved to", "situated on". */
static bool place_said(const char *text, const sl__toks_t *T, size_t a) {
  if (a < 2 || T->v[a].nl_before || T->v[a - 1].nl_before) return false;
  const sl__tok_t *p = &T->v[a - 1], *q = &T->v[a - 2];
  if (sl__tok_is(text, p, "of")) return sl__tok_is(text, q, "corner");
  static const char *const preps[] = {"on", "at", "to", NULL};
  static const char *const verbs[] = {"is", "located", "situated", "lives", "live", "moved", "based", NULL};
  if (!sl__tok_in(text, p, preps)) return false;
  return sl__tok_in(text, q, verbs) || (sl__tok_is(text, q, "off") && sl__tok_is(text, p, "at"));
}

/* A month's or a weekday's name, full or short: "15–18 August 2024" is a date,
 * "Tuesday 9" a day, not a street. */
static const char *const months[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep",
                                     "sept", "oct", "nov", "dec", "january", "february", "march",
                                     "april", "june", "july", "august", "september", "october",
                                     "november", "december", NULL};
static const char *const weekdays[] = {"monday", "tuesday", "wednesday", "thursday", "friday",
                                       "saturday", "sunday", "mon", "tue", "tues", "wed", "thu",
                                       "thur", "thurs", "fri", "sat", "sun", NULL};
static sl__wordset_t months_set = {.words = months}, weekdays_set = {.words = weekdays};

static void words_init(void) {
  sl__wordset_init(&types_set);
  sl__wordset_init(&months_set);
  sl__wordset_init(&weekdays_set);
}

/* A word among tokens [k, j) is no English word ("Floriánem", "kapu"): "Room 5",
 * "Page 12", "Gate 22" are no streets. */
static bool foreign_among(const char *text, const sl__toks_t *T, size_t k, size_t j) {
  bool foreign = false;
  for (; k < j; k++) {
    if (sl__tok_in_set(text, &T->v[k], &months_set) || sl__tok_in_set(text, &T->v[k], &weekdays_set))
      return false;
    if (T->v[k].e - T->v[k].s >= 3 && !sl__lexicon_has(text + T->v[k].s, T->v[k].e - T->v[k].s))
      foreign = true;
  }
  return foreign;
}

/* After the street's number at j: the next line opens with a capitalised word (a
 * city), and within three lines comes a postcode (4-6 digits ending a line) or a
 * two-letter region after a comma (", GU"). */
static bool place_lines_after(const char *text, const sl__toks_t *T, size_t j) {
  if (j + 1 >= T->n || !T->v[j + 1].nl_before || T->v[j + 1].kind != SL_TK_WORD || !(T->v[j + 1].caps & 1))
    return false;
  unsigned lines = 0;
  for (size_t k = j + 1; k < T->n && lines <= 3; k++) {
    const sl__tok_t *u = &T->v[k];
    lines += u->nl_before ? 1 : 0;
    bool line_end = k + 1 == T->n || T->v[k + 1].nl_before;
    size_t n = u->e - u->s;
    if (u->kind == SL_TK_NUM && n >= 4 && n <= 6 && line_end) return true;
    if (u->kind == SL_TK_WORD && n == 2 && (u->caps & 2) && u->punct_before == ',') return true;
  }
  return false;
}

/* After the house number j: one to three capitalised words ending their line
 * (or before a comma), then an apartment, suite, unit, flat or floor and its
 * number on the next line or after the comma. Returns the unit number's token,
 * or 0. */
static size_t unit_after_street(const sl__gaz_t *g, const sl__gaz_t *ga, const char *text, sl__toks_t *T,
                                size_t j) {
  static const char *const units[] = {"unit", "flat", "floor", "fl", NULL}; /* and strong_unit()'s */
  static const char *const lead_in[] = {"at", "to", "is", "on", "from", "in", NULL};
  /* the number opens its line, follows punctuation or a word that leads to a
   * place ("Chapter 3 Introduction\nUnit 4", "I have 3 Kids, Apt 4" are none) */
  const sl__tok_t *t = &T->v[j];
  if (j > 0 && !t->nl_before && !t->punct_before && !sl__tok_in(text, &T->v[j - 1], lead_in)) return 0;
  size_t k = j + 1;
  bool long_word = false;
  while (k < T->n && k <= j + 3 && !T->v[k].nl_before && T->v[k].kind == SL_TK_WORD &&
         (k == j + 1 ? !T->v[k].punct_before : (!T->v[k].punct_before || T->v[k].punct_before == '-')) &&
         proper_word(T, k) && !(GZ(k) & (SL_GZ_STARTER | SL_GZ_HONOR)) &&
         !(k > j + 1 && strong_unit(text, &T->v[k])) &&
         !sl__tok_in_set(text, &T->v[k], &months_set) && !sl__tok_in_set(text, &T->v[k], &weekdays_set)) {
    long_word |= T->v[k].e - T->v[k].s >= 3;
    k++;
  }
  /* the unit on the next line, after a comma, or right after the name when it
   * says "address" by itself ("31 Passage Joubert Apt. 408") */
  if (k == j + 1 || !long_word || k + 1 >= T->n ||
      !(strong_unit(text, &T->v[k]) || sl__tok_in(text, &T->v[k], units)) ||
      !(T->v[k].nl_before == 1 || (!T->v[k].nl_before && T->v[k].punct_before == ',') ||
        (!T->v[k].nl_before && !T->v[k].punct_before && strong_unit(text, &T->v[k]))) ||
      T->v[k + 1].nl_before || (T->v[k + 1].punct_before && T->v[k + 1].punct_before != '.') ||
      !(housenum(text, &T->v[k + 1]) || (T->v[k + 1].kind == SL_TK_ALNUM && T->v[k + 1].e - T->v[k + 1].s <= 5)))
    return 0;
  /* (a course's "Unit 4" only with a letter in its number: "Unit 4B") */
  if (sl__tok_is(text, &T->v[k], "unit") && T->v[k + 1].kind == SL_TK_NUM) return 0;
  return k + 1;
}

/* A word between tokens a and j is written as a name ("13 and 29" is none). */
static bool named_between(const sl__toks_t *T, size_t a, size_t j) {
  for (size_t k = a; k < j; k++)
    if (T->v[k].kind == SL_TK_WORD && proper_word(T, k)) return true;
  return false;
}

/* Extends an address over a unit designator and its number: "Apt. 331". */
static size_t extend_unit(const sl__gaz_t *g, const sl__gaz_t *ga, const char *text, sl__toks_t *T,
                          size_t k) {
  for (int rounds = 0; rounds < 2; rounds++) {
    if (k + 2 < T->n && T->v[k + 1].nl_before <= 1 && (GZ(k + 1) & SL_GZ_UNIT) &&
        (housenum(text, &T->v[k + 2]) || T->v[k + 2].kind == SL_TK_ALNUM))
      k += 2;
    else if (k + 1 < T->n && T->v[k + 1].nl_before == 0 && T->v[k + 1].punct_before == '#' &&
             housenum(text, &T->v[k + 1]))
      k += 1;
    else
      break;
  }
  return k;
}

static void add(sl__ctx_t *c, const sl__gaz_t *g, const sl__gaz_t *ga, sl__toks_t *T, size_t a, size_t b) {
  const char *text = c->text;
  /* a unit written first: "Unit 5, 12 High St", "Flat 3 22 Baker Street" */
  if (a >= 2 && T->v[a].nl_before == 0 && T->v[a - 1].nl_before == 0 &&
      (T->v[a - 1].kind == SL_TK_NUM || T->v[a - 1].kind == SL_TK_ALNUM) && (GZ(a - 2) & SL_GZ_UNIT))
    a -= 2;
  sl__cands_add(c->out, T->v[a].s, T->v[b].e, SL_ET_STREET_ADDRESS, "street_address", 36);
}

/* Is the three-digit number token j the status of an HTTP status line ("HTTP/1.1
 * 502 Bad Gateway", "HTTP/2 404"), or one with its reason ("failed with 502 Bad
 * Gateway", "504 Gateway Timeout")? */
static bool http_status_line(const char *text, const sl__toks_t *T, size_t j) {
  if (j + 2 < T->n && !T->v[j + 1].nl_before && !T->v[j + 2].nl_before &&
      ((sl__tok_is(text, &T->v[j + 1], "bad") && sl__tok_is(text, &T->v[j + 2], "gateway")) ||
       (sl__tok_is(text, &T->v[j + 1], "gateway") && sl__tok_is(text, &T->v[j + 2], "timeout"))))
    return true;
  for (size_t k = j - 1; k + 4 > j && k < j; k--) {
    if (T->v[k + 1].nl_before) return false;
    if (T->v[k].e - T->v[k].s == 4 && !strncmp(text + T->v[k].s, "HTTP", 4)) return true;
    if (k == 0) break;
  }
  return false;
}

/* After an address label (the multi-pattern pass's SL_P_CUE_ADDR hit ending
 * at `end`: "Address:", "\"address\": \"", "Adresse actuelle :", "wohnhaft"): the
 * next tokens, on this line or the next, up to a blank line, with a number and
 * a capitalised word, no part of an e-mail, URL or host name ("Email address:
 * jane99@x.com", "Web address: www.site1.com", "IP address: 10.0.0.1" are no
 * addresses). Returns the token after the address (*first: its first), or 0. */
static size_t label_address(sl__ctx_t *c, const sl__gaz_t *g, const sl__gaz_t *ga, sl__toks_t *T,
                            uint32_t end, size_t *first) {
  const char *text = c->text;
  size_t lo = sl__tok_at(T, end), a = lo, b;
  if (a >= T->n || T->v[a].nl_before > 1 || T->v[a].s - end > 8) return 0;
  /* "wohnhaft in der Berliner Straße 12": the address starts at its first
   * capitalised word or number */
  while (a < T->n && a - lo < 3 && T->has_upper && T->v[a].kind == SL_TK_WORD &&
         !(T->v[a].caps & 1) && !T->v[a].nl_before)
    a++;
  b = a;
  bool digit = false, word = false;
  while (b < T->n && b < a + 12 && (b == a || T->v[b].nl_before <= 1)) {
    const sl__tok_t *u = &T->v[b];
    if (u->punct_before == '@' || (u->punct_before == '/' && b > a && !u->nl_before) ||
        sl__tok_is(text, u, "www") || sl__tok_is(text, u, "http") || sl__tok_is(text, u, "https"))
      return 0;
    if (b > a && u->nl_before && digit && word) break;
    /* another label on the line ends it ("…, 50674 Köln — Name: Jürgen
     * Obermeier", "… NE8 4DY   Tel: 07392 …"); a unit's is part of it
     * ("No: 214 Daire: 6") */
    if (b > a + 1 && digit && word && u->kind == SL_TK_WORD && !u->nl_before && u->e - u->s >= 3 &&
        b + 1 < T->n && T->v[b + 1].punct_before == ':' && !T->v[b + 1].nl_before &&
        !(addr_flags(g, ga, text, &T->v[b]) & SL_GZ_UNIT))
      break;
    /* a capitalised word (any word in text without capitals), a number not
     * after a dot ("127.0.0.1 port 8080", "line 1 and city" are none) */
    if (u->kind == SL_TK_WORD) word |= u->punct_before != '.' && proper_word(T, b);
    else
      digit |= u->punct_before != '.';
    b++;
  }
  if (!digit || !word || b <= a + 1) return 0;
  add(c, g, ga, T, a, b - 1);
  *first = a;
  return b;
}

/* Every rule hangs off a number (house number, box number, ZIP) or an address
 * label, so the pass costs little on text without them. */
/* 6. A street named without a house number where the text says a place
 *    follows: a capitalised name and a street type after a preposition ("enter
 *    on Kurfürstendamm St.", "the corner of Jalan Sultan Ismail St.", "lives on
 *    Oak Hollow street"); a given name or a surname and any other street type,
 *    a fused street name or a type written first after "is on", "corner of",
 *    "side of" ("is on Monika Union", "the bus station is on Mannerheimintie",
 *    "is on Calle Mayor"). Not a street that names a trade or a show ("on Wall
 *    Street", "on Sesame Street"). */
static const char *const plain_types[] = {"street", "st", "avenue", "ave", "road", "rd", "boulevard",
                                          "blvd", "lane", "ln", "straße", "strasse", NULL};
static const char *const plain_preps[] = {"on", "at", "along", "off", "onto", NULL};
static const char *const not_addresses[] = {"wall", "sesame", "easy", "fleet", "downing", NULL};
/* Street types that name land, water or a district as often ("Long Island",
 * "Capitol Hill", "Miami Beach"): not enough after a name alone. */
static const char *const land_types[] = {"island", "islands", "isle", "lake", "lakes", "river",
                                         "mountain", "mountains", "mount", "beach", "valley",
                                         "valleys", "falls", "bay", "creek", "forest", "harbor",
                                         "harbour", "heights", "hill", "hills", "park", "parks",
                                         "village", "villages", "ville", "station", "center",
                                         "centre", "mall", "springs", "spring", "field", "fields",
                                         "garden", "gardens", "lodge", "ranch", "mission", NULL};

/* A street named in driving or walking directions, not as where someone or
 * something is: "turn left onto Main Street", "head north on Elm Road" (the
 * word before the preposition). a: the street's first word. (A corner, "the
 * corner of X Street and Y Street", is a place that is meant: it stays.) */
static bool directions(const char *text, const sl__toks_t *T, size_t a) {
  static const char *const ways[] = {"left", "right", "turn", "turning", "head", "continue",
                                     "straight", "north", "south", "east", "west", "follow", NULL};
  return a >= 2 && !T->v[a - 1].nl_before && sl__tok_in(text, &T->v[a - 2], ways);
}

/* Someone lives there: a verb of living within six words before token k. */
static bool lives_before(const char *text, const sl__toks_t *T, size_t k) {
  static const char *const live[] = {"lives", "live", "living", "lived", "resides", "reside", "residing", NULL};
  for (size_t m = k; m-- > 0 && k - m <= 6 && !T->v[m + 1].nl_before;)
    if (sl__tok_in(text, &T->v[m], live)) return true;
  return false;
}

/* Lower-case words inside a street's name. */
static const char *const particles[] = {"de", "la", "del", "della", "di", "da", "do", "dos", "das", "du",
                                        "des", "le", "los", "las", "der", "den", "van", "von", NULL};

/* A street type written first and the street's name after it, on one line:
 * "Calle Mayor", "Rue de la Roquette", "Jalan Sultan Ismail" (k: the type, a
 * capitalised word of type_before that is no English word, or "Rue", "Via").
 * Returns the name's last token, or k when none follows. */
static size_t type_first_street(const sl__gaz_t *g, const sl__gaz_t *ga, const char *text,
                                const sl__toks_t *T, size_t k) {
  static const char *const english_too[] = {"rue", "via", NULL};
  const sl__tok_t *t = &T->v[k];
  if (t->e - t->s < 3 || (t->caps & 2) || !(GZ(k) & SL_GZ_ST_BEFORE) ||
      (sl__lexicon_has(text + t->s, t->e - t->s) && !sl__tok_in(text, t, english_too)))
    return k;
  size_t b = k;
  for (size_t m = k + 1; m < T->n && m <= k + 4 && !T->v[m].nl_before && !T->v[m].punct_before; m++) {
    if (T->v[m].kind != SL_TK_WORD) break;
    if (T->v[m].caps & 1) b = m;
    else if (!sl__tok_in(text, &T->v[m], particles)) break;
  }
  return b;
}

static void numberless_streets(sl__ctx_t *c, const sl__gaz_t *g, const sl__gaz_t *ga, sl__toks_t *T) {
  const char *text = c->text;
  if (!T->has_upper) return;
  for (size_t k = 2; k < T->n; k++) {
    sl__tok_t *t = &T->v[k];
    size_t n = t->e - t->s;
    if (t->kind != SL_TK_WORD || t->nl_before || n < 2) continue;
    char c0 = (char)(text[t->s] | 32); /* plain_types' initials, looked at before the list */
    bool typed = n <= 9 && !(t->caps & 2) && (c0 == 's' || c0 == 'a' || c0 == 'r' || c0 == 'b' || c0 == 'l') &&
                 sl__tok_in(text, t, plain_types);
    bool fused = !typed && (t->caps & 1) && !t->punct_before && fused_name(text, t);
    size_t b = k; /* the street's last token */
    /* (a type written first follows a word of its cue: place_said's, plain_preps', "side of") */
    const sl__tok_t *prev = &T->v[k - 1];
    if (!typed && !fused && (t->caps & 1) && !t->punct_before && !(prev->caps & 1) &&
        (sl__tok_in(text, prev, plain_preps) || sl__tok_is(text, prev, "to") || sl__tok_is(text, prev, "of")))
      b = type_first_street(g, ga, text, T, k);
    /* any other street type, capitalised, after a name: "Monika Union", "Smith Ports" */
    bool suffixed = !typed && !fused && b == k && (t->caps & 1) && !(t->caps & 2) && !t->punct_before &&
                    (prev->caps & 1) && (GZ(k) & SL_GZ_ST_AFTER);
    /* a name alone where someone lives: "He lives on the north side of Peachtree." */
    if (!typed && !fused && !suffixed && b == k && (t->caps & 1) && !(t->caps & 2) && !t->punct_before &&
        k >= 3 && sl__tok_is(text, prev, "of") && sl__tok_is(text, &T->v[k - 2], "side") &&
        lives_before(text, T, k - 2) && !sl__lexicon_has(text + t->s, n) &&
        !(sl__tok_flags(g, text, t) & (SL_GZ_PLACE | SL_GZ_VETO))) {
      if (k + 1 < T->n && !T->v[k + 1].nl_before && !T->v[k + 1].punct_before && (T->v[k + 1].caps & 1))
        b = k + 1;
      add(c, g, ga, T, k, b);
      k = b;
      continue;
    }
    if (!typed && !fused && !suffixed && b == k) continue;
    size_t a = k;
    if (typed || suffixed) {
      if (t->punct_before) continue;
      /* the name's capitalised words, and a particle between two ("An der
       * Lehmkuhle St.", "Avenue du Havre St.") */
      while (a > 0 && k - a < 4 && T->v[a - 1].kind == SL_TK_WORD && !(T->v[a - 1].caps & 2) &&
             !T->v[a].nl_before && !T->v[a].punct_before &&
             ((T->v[a - 1].caps & 1) ||
              (a >= 2 && a < k && (T->v[a - 2].caps & 1) && !T->v[a - 1].punct_before &&
               sl__tok_in(text, &T->v[a - 1], particles))))
        a--;
      if (a == k) continue;
    }
    if (a < 1 || T->v[a].nl_before || T->v[a].punct_before || (T->v[a - 1].caps & 1)) continue;
    const sl__tok_t *p = &T->v[a - 1];
    bool side_of = a >= 2 && sl__tok_is(text, p, "of") && sl__tok_is(text, &T->v[a - 2], "side");
    bool cue = place_said(text, T, a) || side_of || (!fused && !suffixed && sl__tok_in(text, p, plain_preps));
    if (!cue || sl__tok_in(text, &T->v[a], not_addresses) || directions(text, T, a)) continue;
    if (suffixed && (!(sl__tok_flags(g, text, &T->v[a]) & (SL_GZ_FIRST | SL_GZ_LAST)) ||
                     sl__tok_in(text, t, land_types)))
      continue;
    /* (a street type inside the name, or one written first, is no
     * organisation's word: "Monika Union St.", "Avenue du Havre St."; "Bridge
     * Street" stays out) */
    bool person_or_org = false;
    for (size_t m = b > k ? b + 1 : a; m < k && !person_or_org; m++)
      person_or_org = ((sl__tok_flags(g, text, &T->v[m]) & (SL_GZ_VETO | SL_GZ_HONOR | SL_GZ_STARTER)) &&
                       !(GZ(m) & (m > a ? SL_GZ_ST_AFTER : SL_GZ_ST_BEFORE))) ||
                      sl__tok_in_set(text, &T->v[m], &months_set) ||
                      sl__tok_in_set(text, &T->v[m], &weekdays_set);
    if (person_or_org) continue;
    add(c, g, ga, T, a, b);
    k = b;
  }
}

/* 7. A house number and a street's name with no type, where the text says a
 *    place follows ("is at", "located at", "lives at"): the name one to three
 *    capitalised words, the last no English word, ending the clause ("The
 *    restaurant is at 47 Marszałkowska", "lives at 12 Kungsgatan"; not "is at
 *    3 PM", "is at 10 Downing"). */
static void named_after_number(sl__ctx_t *c, const sl__gaz_t *g, const sl__gaz_t *ga, sl__toks_t *T) {
  const char *text = c->text;
  for (size_t q = 0; q < T->n_addr; q++) {
    size_t k = T->sel_addr[q];
    if (T->v[k].kind != SL_TK_NUM || k < 2 || !sl__tok_is(text, &T->v[k - 1], "at") || !place_said(text, T, k))
      continue;
    size_t b = k;
    for (size_t m = k + 1; m < T->n && m <= k + 3 && !T->v[m].nl_before && !T->v[m].punct_before; m++) {
      const sl__tok_t *u = &T->v[m];
      if (u->kind != SL_TK_WORD || !(u->caps & 1) || (u->caps & 2) || (GZ(m) & (SL_GZ_STARTER | SL_GZ_UNIT)) ||
          sl__tok_in_set(text, u, &months_set) || sl__tok_in_set(text, u, &weekdays_set))
        break;
      b = m;
    }
    if (b == k || sl__lexicon_has(text + T->v[b].s, T->v[b].e - T->v[b].s) ||
        (b + 1 < T->n && !T->v[b + 1].nl_before && !T->v[b + 1].punct_before && (T->v[b + 1].caps & 1)))
      continue;
    add(c, g, ga, T, k, b);
  }
}

/* Token k is a postcode where it follows a street's number: four to six digits,
 * also with a country's letters ("LV9726", "LV-7880"), or two groups ("19-778",
 * Poland; "105 63", Greece, Sweden, Czechia, Slovakia); after a comma or
 * opening its line. Returns the code's last token, or 0. */
static size_t postcode_at(const char *text, const sl__toks_t *T, size_t k) {
  const sl__tok_t *t = &T->v[k];
  size_t n = t->e - t->s;
  if (!t->nl_before && t->punct_before != ',') return 0;
  if (t->kind == SL_TK_ALNUM && n >= 6 && n <= 8 && isupper((unsigned char)text[t->s]) &&
      isupper((unsigned char)text[t->s + 1]) && sl__count_digits(text + t->s + 2, n - 2) == n - 2)
    return k; /* LV9726 */
  if (t->kind == SL_TK_WORD && n == 2 && (t->caps & 2) && k + 1 < T->n && T->v[k + 1].punct_before == '-' &&
      T->v[k + 1].kind == SL_TK_NUM && T->v[k + 1].e - T->v[k + 1].s == 4)
    return k + 1; /* LV-7880 */
  if (t->kind != SL_TK_NUM) return 0;
  if (n == 2 && k + 1 < T->n && T->v[k + 1].punct_before == '-' && T->v[k + 1].kind == SL_TK_NUM &&
      T->v[k + 1].e - T->v[k + 1].s == 3)
    return k + 1; /* 19-778 */
  if (n == 3 && k + 1 < T->n && !T->v[k + 1].punct_before && !T->v[k + 1].nl_before &&
      T->v[k + 1].kind == SL_TK_NUM && T->v[k + 1].e - T->v[k + 1].s == 2)
    return k + 1; /* 105 63 */
  return n >= 4 && n <= 6 ? k : 0;
}

/* 8. A street's name and number, then its postcode and town, in the order of
 *    most of Europe, with no street type the lists know ("Mulderdijk 213a 3
 *    hoog, 6720 IJ Herkhoven", "Am Hagelkreuz 5 Zimmer 364, 95615 Bad
 *    Oeynhausen", "bulw. Zaborowski 68b m. 306\nBytom\n19-778", "An der Alster 45,
 *    20099 Hamburg"): the name's last
 *    word and the town no English word; up to seven tokens of floor and flat
 *    between the number and the code, over two lines at most. */
static void number_postcode_town(sl__ctx_t *c, const sl__gaz_t *g, const sl__gaz_t *ga, sl__toks_t *T) {
  const char *text = c->text;
  if (!T->has_upper) return;
  for (size_t q = 0; q < T->n_addr; q++) {
    size_t h = T->sel_addr[q];
    const sl__tok_t *t = &T->v[h];
    if (h == 0 || !housenum(text, t) || t->e - t->s > 4 || t->nl_before ||
        (t->punct_before && t->punct_before != '.') ||
        (h + 1 < T->n && T->v[h + 1].punct_before == '.' && T->v[h + 1].kind == SL_TK_NUM))
      continue; /* (a version or a decimal: "Kubernetes 1.29, 2024 …") */
    sl__tok_t *w = &T->v[h - 1];
    if (w->kind != SL_TK_WORD || w->e - w->s < 3 || (w->caps & 2)) continue;
    /* the code, and the town after it on its line or before it on the line above */
    size_t pc = 0, pe = 0, lines = 0;
    for (size_t k = h + 1; k < T->n && k <= h + 8 && !pc; k++) {
      lines += T->v[k].nl_before ? 1 : 0;
      if (lines > 2 || strchr("?!;:", T->v[k].punct_before ? T->v[k].punct_before : ' ')) break;
      if ((pe = postcode_at(text, T, k)) != 0) pc = k;
    }
    if (!pc || sl__lexicon_has(text + w->s, w->e - w->s) || (GZ(h - 1) & SL_GZ_STARTER)) continue;
    size_t town = pe + 1;
    if (town < T->n && !T->v[town].nl_before && T->v[town].kind == SL_TK_WORD && (T->v[town].caps & 2) &&
        T->v[town].e - T->v[town].s == 2)
      town++; /* the Netherlands' two letters: "6720 IJ" */
    size_t b;
    if (town < T->n && !T->v[town].nl_before && !T->v[town].punct_before && T->v[town].kind == SL_TK_WORD &&
        (T->v[town].caps & 1)) {
      b = town;
      while (b + 1 < T->n && b + 1 <= town + 2 && !T->v[b + 1].nl_before && !T->v[b + 1].punct_before &&
             (T->v[b + 1].caps & 1))
        b++;
    } else if (T->v[pc].nl_before && T->v[pc - 1].kind == SL_TK_WORD && (T->v[pc - 1].caps & 1) &&
               T->v[pc - 1].nl_before && pc - 1 > h) {
      town = pc - 1; /* "…\nBytom\n19-778" */
      b = pe;
    } else {
      continue;
    }
    sl__tok_t *tw = &T->v[town];
    if (sl__lexicon_has(text + tw->s, tw->e - tw->s) && !(sl__tok_flags(g, text, tw) & SL_GZ_PLACE)) continue;
    /* the name's first words: capitalised words or a lower-case type before them
     * ("Am Hagelkreuz", "bulw. Zaborowski") on the same line; or where an
     * address found already starts ("Calle de Alcalá 42") */
    size_t a = h - 1;
    const sl__cand_t *d = found_at(c, w, SL_ET_STREET_ADDRESS);
    if (d) {
      while (a > 0 && T->v[a - 1].s >= d->start) a--;
    } else {
      /* (and a particle between two capitalised words, which does not count:
       * "An der Alster 45") */
      size_t words = 1;
      while (a > 0 && words < 3 && !T->v[a].nl_before &&
             (!T->v[a].punct_before || T->v[a].punct_before == '.') && T->v[a - 1].kind == SL_TK_WORD &&
             T->v[a - 1].e - T->v[a - 1].s <= 12 &&
             ((T->v[a - 1].caps & 1) || (GZ(a - 1) & SL_GZ_ST_BEFORE) ||
              (a >= 2 && (T->v[a - 2].caps & 1) && !T->v[a - 1].punct_before &&
               sl__tok_in(text, &T->v[a - 1], particles))) &&
             !(GZ(a - 1) & SL_GZ_STARTER))
        words += !sl__tok_in(text, &T->v[--a], particles);
      /* a preposition that could start a sentence, before a particle: "An der
       * Alster", "In den Wiesen" */
      if (a > 0 && a < h - 1 && (T->v[a - 1].caps & 1) && !(T->v[a - 1].caps & 2) && !T->v[a].nl_before &&
          !T->v[a].punct_before && sl__tok_in(text, &T->v[a], particles))
        a--;
    }
    add(c, g, ga, T, a, b);
  }
}

/* A company's seat, in brackets after its name and legal form: "Siemens AG
 * (Werner-von-Siemens-Straße 1, 80333 Munich, Germany)", "Acme Corp. (1 Main
 * St, ...)": the company's public address, not a person's. */
static bool company_seat(const char *text, uint32_t s) {
  static const char *const forms[] = {"AG", "SE", "GmbH", "Inc", "Ltd", "LLC", "plc", "PLC", "Corp", "Co", "KG",
                                      "KGaA", "NV", "BV", "SA", "SpA", "AB", "ASA", "Oyj", "AS", "A/S", NULL};
  uint32_t p = s;
  while (p > 0 && text[p - 1] == ' ') p--;
  if (p == 0 || text[p - 1] != '(') return false;
  p--;
  while (p > 0 && text[p - 1] == ' ') p--;
  while (p > 0 && text[p - 1] == '.') p--; /* "Inc." "Corp." "S.A." */
  uint32_t e = p, b = e;
  while (b > 0 && (isalpha((unsigned char)text[b - 1]) || text[b - 1] == '.' || text[b - 1] == '/')) b--;
  char form[8];
  size_t n = 0;
  for (uint32_t k = b; k < e && n + 1 < sizeof form; k++)
    if (text[k] != '.') form[n++] = text[k];
  if (e - b > 7 || b == 0 || text[b - 1] != ' ') return false;
  for (const char *const *f = forms; *f; f++) /* (as written: "as" or "co" in prose are no forms) */
    if (strlen(*f) == n && !memcmp(form, *f, n)) return true;
  return false;
}

static void latin_addresses(sl__ctx_t *c, const sl__gaz_t *g, const sl__gaz_t *ga, sl__toks_t *T);

void sl__detect_addresses(sl__ctx_t *c, const sl__gaz_t *g, const sl__gaz_t *ga, sl__toks_t *T) {
  size_t n0 = c->out->n, k = n0;
  latin_addresses(c, g, ga, T);
  for (size_t i = n0; i < c->out->n; i++)
    if (!(c->out->v[i].type == SL_ET_STREET_ADDRESS && company_seat(c->text, c->out->v[i].start)))
      c->out->v[k++] = c->out->v[i];
  c->out->n = k;
}

static void latin_addresses(sl__ctx_t *c, const sl__gaz_t *g, const sl__gaz_t *ga, sl__toks_t *T) {
  const char *text = c->text;
  size_t done = 0; /* tokens before this are inside an address already */
  /* the addresses after labels: their token ranges, in text order, for the
   * rules below to pass over (at most 16 kept; more only cost overlaps) */
  enum { LABELS = 16 };
  size_t lab[LABELS][2], nlab = 0, li = 0;
  for (size_t h = 0; h < c->hits->n; h++)
    if (c->hits->v[h].id == SL_P_CUE_ADDR) {
      size_t a = 0, e = label_address(c, g, ga, T, c->hits->v[h].end, &a);
      if (e && nlab < LABELS && (!nlab || a >= lab[nlab - 1][1])) {
        lab[nlab][0] = a, lab[nlab][1] = e;
        nlab++;
      }
    }
  /* a house number (a number of at most 6 bytes) starts the other rules: the
   * tokenizer listed those tokens */
  const uint32_t *sel = T->sel_addr;
  size_t nsel = T->n_addr;
  for (size_t q = 0; q < nsel; q++) {
    size_t j = sel[q];
    const sl__tok_t *t = &T->v[j];
    while (li < nlab && lab[li][1] <= j) li++;
    if (li < nlab && lab[li][0] <= j) continue; /* inside a label's address */
    if (!housenum(text, t) || j < done) continue;
    /* a year after "the", "in", "since" ...: "the 1929 Wall Street Crash"; a
     * list's item number; a time */
    if (year_after_word(text, T, j) || list_number(text, T, j) || clock_number(c, T, j)) continue;
    /* an HTTP status line ("HTTP/1.1 502 Bad Gateway": the word HTTP a few tokens before) */
    if (j >= 2 && t->e - t->s == 3 && http_status_line(text, T, j)) continue;
    bool nl0 = t->nl_before == 0;
    /* Post-office and military boxes: "P.O. Box 149", "PSC 9009, Box 9725", "APO AA 33274";
     * rural routes: "RR 2, Box 147", "HC 61 Box 20", "Rural Route 3 Box 12" */
    if (j >= 1 && nl0) {
      /* a box number may carry a letter code first: "P.O. Box KN 1782" (Ghana) */
      size_t jb = j;
      if (j >= 2 && T->v[j - 1].kind == SL_TK_WORD && (T->v[j - 1].caps & 2) &&
          T->v[j - 1].e - T->v[j - 1].s <= 3 && sl__tok_is(text, &T->v[j - 2], "box"))
        jb = j - 1;
      const sl__tok_t *p = &T->v[jb - 1];
      if (sl__tok_is(text, p, "box") || sl__tok_is(text, p, "postfach") || sl__tok_is(text, p, "apartado") ||
          sl__tok_is(text, p, "postbus") || sl__tok_is(text, p, "postboks") || sl__tok_is(text, p, "postilokero")) {
        size_t a = jb - 1;
        const sl__tok_t *p2 = jb >= 2 ? &T->v[jb - 2] : NULL, *p3 = jb >= 3 ? &T->v[jb - 3] : NULL;
        if (p3 && sl__tok_is(text, p3, "p") && sl__tok_is(text, p2, "o"))
          a = jb - 3;
        else if (p2 && sl__tok_is(text, p2, "po"))
          a = jb - 2;
        else if (p3 && sl__tok_is(text, p3, "post") && sl__tok_is(text, p2, "office"))
          a = jb - 3;
        else if (jb >= 3 && housenum(text, &T->v[jb - 2]) && sl__tok_in(text, &T->v[jb - 3], box_routes))
          a = jb - 3;
        else if (sl__tok_is(text, p, "box"))
          a = SIZE_MAX; /* a bare "box 12" is a box, not an address */
        if (a != SIZE_MAX) {
          add(c, g, ga, T, a, j);
          done = j + 1;
          continue;
        }
      }
      if (j >= 2 && t->kind == SL_TK_NUM && t->e - t->s == 5 && T->v[j - 1].nl_before == 0 &&
          (sl__tok_is(text, &T->v[j - 2], "apo") || sl__tok_is(text, &T->v[j - 2], "fpo") ||
           sl__tok_is(text, &T->v[j - 2], "dpo")) &&
          (sl__tok_is(text, &T->v[j - 1], "aa") || sl__tok_is(text, &T->v[j - 1], "ae") ||
           sl__tok_is(text, &T->v[j - 1], "ap"))) {
        add(c, g, ga, T, j - 2, j);
        done = j + 1;
        continue;
      }
    }
    /* 1. Number, 1-4 words, street type after: "22 Talga Court", "947 trg revolucije 17"
     *    (the type may also come first: "654 Rua Ana Caciola 1159") */
    /*    (numbered streets and directions too: "701 W 7th Ave", "12 N. Main St") */
    bool found = false;
    for (size_t k = j + 1; k < T->n && k <= j + 5 && !found; k++) {
      if (T->v[k].nl_before) break;
      if (T->v[k].kind != SL_TK_WORD) {
        if (ordinal(text, &T->v[k])) continue;
        break;
      }
      unsigned f = GZ(k);
      if ((f & SL_GZ_ST_AFTER) && k >= j + 2) {
        bool long_word = false, joined = true, proper = !T->has_upper;
        for (size_t m = j + 1; m <= k; m++) {
          bool ord = ordinal(text, &T->v[m]);
          if (m < k) long_word |= T->v[m].e - T->v[m].s >= 3;
          /* "6$ units divides a circle", "13 units. Point": not one name */
          /* (a comma only right after the number, "Plot 69, Awolowo Road"; not inside
           * the name: "2020  Software Engineer, Helix Bank"; a full stop only
           * after a direction: "12 N. Main St") */
          if (T->v[m].punct_before && T->v[m].punct_before != '\'' &&
              !(T->v[m].punct_before == ',' && m == j + 1) &&
              !(T->v[m].punct_before == '.' && m >= j + 2 && direction(text, &T->v[m - 1])))
            joined = false;
          if ((T->v[m].caps & 1) || (ord && (T->v[k].caps & 1))) proper = true; /* not "3 1st place" */
          else if (T->has_upper && m < k) joined = false; /* "3 Goals in the Park" */
        }
        if (GZ(j + 1) & SL_GZ_STARTER) break; /* "Part 3 The Way Forward" */
        if (!long_word || !joined || !proper) break;
        size_t a = j;
        while (a > 0 && housenum(text, &T->v[a - 1]) && T->v[a].nl_before == 0 &&
               T->v[a].punct_before == 0)
          a--;
        size_t b = k;
        if (b + 1 < T->n && T->v[b + 1].nl_before == 0 && housenum(text, &T->v[b + 1])) b++;
        b = extend_unit(g, ga, text, T, b);
        add(c, g, ga, T, a, b);
        done = b + 1;
        found = true;
      } else if ((f & SL_GZ_ST_BEFORE) && k == j + 1) {
        size_t m = k + 1, last_word = k;
        while (m < T->n && m <= k + 5 && T->v[m].nl_before == 0 && T->v[m].kind == SL_TK_WORD)
          last_word = m++;
        if (last_word > k) {
          size_t b = (m < T->n && T->v[m].nl_before == 0 && housenum(text, &T->v[m])) ? m : last_word;
          b = extend_unit(g, ga, text, T, b);
          add(c, g, ga, T, j, b);
          done = b + 1;
          found = true;
        }
      }
    }
    if (found) continue;
    /* 1b. Number and a street of any name, then a unit on the next line or
     *     after a comma: "14 Peachtree\nApt. 392", "3 Marszałkowska, Floor 3" */
    {
      size_t b = unit_after_street(g, ga, text, T, j);
      if (b) {
        add(c, g, ga, T, j, b);
        done = b + 1;
        continue;
      }
    }
    /* 2. Type before the name, number after: "Rua Ana Caciola 1159", "ul. Marszałkowska 10" */
    if (nl0 && j >= 2) {
      size_t k = j - 1, words = 0;
      while (k > 0 && words < 5 && T->v[k].kind == SL_TK_WORD && T->v[k + 1].nl_before == 0 &&
             !(GZ(k) & SL_GZ_ST_BEFORE))
        k--, words++;
      /* the street's name ends in a capital unless the text has none ("OS build
       * 10" is no "os." street); the type is no ALL-CAPS word ("OS", "AL") */
      /* no code's punctuation between: "str(v)).quantize(Decimal("0.01"))" */
      bool plain = true;
      for (size_t m = k + 1; m <= j && plain; m++)
        plain = !T->v[m].punct_before || !strchr("()[]{}\"'=;<>`|", T->v[m].punct_before);
      if (plain && words >= 1 && T->v[k].kind == SL_TK_WORD && (GZ(k) & SL_GZ_ST_BEFORE) &&
          T->v[k + 1].nl_before == 0 && !(T->v[k].caps & 2) &&
          ((T->v[j - 1].caps & 1) || !T->has_upper)) {
        size_t a = k;
        if (a > 0 && housenum(text, &T->v[a - 1]) && T->v[a].nl_before == 0) a--;
        size_t b = extend_unit(g, ga, text, T, j);
        add(c, g, ga, T, a, b);
        done = b + 1;
        continue;
      }
    }
    /* 4. Name, then a street type written as a word, then the number, as in
     *    Central and Northern Europe: "Berliner Straße 12", "Schönhauser Allee 88",
     *    "Andrássy út 45" (the type in lower case where the language writes it
     *    so; in text with no capitals, a name of five letters or more that is no
     *    English word), maybe with a number sign between: "Moda Sokak No 7",
     *    "Atatürk Bulvarı No: 45", "Bağdat Cad. No:12" */
    size_t ty = j >= 3 && number_sign(text, T, j) ? j - 2 : j - 1;
    bool signed_no = ty + 2 == j;
    if (nl0 && j >= 2 && (signed_no || !t->punct_before) && T->v[ty].kind == SL_TK_WORD &&
        !T->v[ty].nl_before && !T->v[ty].punct_before && !T->v[j].nl_before &&
        (type_before_number(text, &T->v[ty]) || (signed_no && sl__tok_in(text, &T->v[ty], short_types))) &&
        T->v[ty - 1].kind == SL_TK_WORD &&
        ((T->v[ty - 1].caps & 1) ||
         (!T->has_upper && T->v[ty - 1].e - T->v[ty - 1].s >= 5 &&
          !sl__lexicon_has(text + T->v[ty - 1].s, T->v[ty - 1].e - T->v[ty - 1].s))) &&
        !(GZ(ty - 1) & (SL_GZ_STARTER | SL_GZ_HONOR))) {
      size_t a = ty - 1;
      if (a > 0 && T->v[a - 1].kind == SL_TK_WORD && (T->v[a - 1].caps & 1) && !T->v[a].nl_before &&
          !T->v[a].punct_before && !(GZ(a - 1) & (SL_GZ_STARTER | SL_GZ_HONOR)))
        a--;
      size_t b = extend_unit(g, ga, text, T, j);
      add(c, g, ga, T, a, b);
      done = b + 1;
      continue;
    }
    /* 4b. Colombia's "placa": the type and the street's number, a number sign,
     *     the cross street's number and the door's: "Carrera 7 # 71-21", "Calle
     *     45 Bis #12-30", "Cra. 7A No. 71-21" */
    {
      size_t a = placa(text, T, j);
      if (a != SIZE_MAX) {
        size_t b = extend_unit(g, ga, text, T, j + 1);
        add(c, g, ga, T, a, b);
        done = b + 1;
        continue;
      }
    }
    /* 3. Fused street names beside a number: "Harjukuja 54", "Brucker Bundesstrasse 31",
     *    "34151 Nybyvägen 65" */
    /* (capitalised, unless the text has no capitals: "covering 387 km" is no "-ring") */
    if (nl0 && j >= 1 && T->v[j - 1].kind == SL_TK_WORD && proper_word(T, j - 1) &&
        fused_name(text, &T->v[j - 1])) {
      size_t a = j - 1;
      while (a > 0 && j - a < 3 && T->v[a - 1].kind == SL_TK_WORD && (T->v[a - 1].caps & 1) &&
             T->v[a].nl_before == 0 && T->v[a].punct_before == 0)
        a--;
      if (a > 0 && housenum(text, &T->v[a - 1]) && T->v[a].nl_before == 0) a--;
      size_t b = extend_unit(g, ga, text, T, j);
      add(c, g, ga, T, a, b);
      done = b + 1;
      continue;
    }
    if (j + 1 < T->n && T->v[j + 1].nl_before == 0 && T->v[j + 1].kind == SL_TK_WORD &&
        proper_word(T, j + 1) && fused_name(text, &T->v[j + 1])) {
      size_t b = j + 1;
      if (b + 1 < T->n && T->v[b + 1].nl_before == 0 && housenum(text, &T->v[b + 1])) b++;
      b = extend_unit(g, ga, text, T, b);
      add(c, g, ga, T, j, b);
      done = b + 1;
      continue;
    }
    /* 6. Parts, a town and its postcode: "MG Road, Bengaluru 560001" */
    if (nl0) {
      size_t a = coded_town(c, g, ga, T, j, done);
      if (a != SIZE_MAX) {
        add(c, g, ga, T, a, j);
        done = j + 1;
        continue;
      }
    }
    /* 5. A street of any name and language between its words and the number,
     *    told by what comes after it: a unit ("Dalmatinova 43 Apt. 678",
     *    "28030 Edeby 55\n Apt. 297"), or, after a leading building number, the
     *    lines of a city and a postcode or region ("50541 Mlýnská 1540\n
     *    Trancoso\n , GU\n Portugal 44674"). */
    if (nl0 && j >= 1) {
      size_t a = j, words = 0;
      while (a > 0 && words < 4 && T->v[a - 1].kind == SL_TK_WORD && T->v[a].nl_before == 0 &&
             (!T->v[a].punct_before || strchr(".-'", T->v[a].punct_before)) &&
             !sl__tok_in_set(text, &T->v[a - 1], &months_set))
        a--, words++;
      if (a > 0 && sl__tok_in_set(text, &T->v[a - 1], &months_set) && T->v[a].nl_before == 0) words = 0;
      bool lead = words && a > 0 && housenum(text, &T->v[a - 1]) && T->v[a].nl_before == 0 &&
                  !T->v[a].punct_before;
      size_t b = words ? extend_unit(g, ga, text, T, j) : j;
      bool unit = b > j && (lead || strong_unit(text, &T->v[j + 1]));
      /* the type after the number: "077 Příční 1429 St." */
      bool type = !unit && lead && words <= 3 && j + 1 < T->n && !T->v[j + 1].nl_before &&
                  (!T->v[j + 1].punct_before || T->v[j + 1].punct_before == '.') &&
                  T->v[j + 1].kind == SL_TK_WORD &&
                  (GZ(j + 1) & SL_GZ_ST_AFTER);
      if (type) b = j + 1;
      /* where a place is said to be: "the corner of Csabai kapu 39.", "the bus
       * station is on Pod Floriánem 1677" */
      bool said = false;
      if (!unit && !type && !lead && words && t->e - t->s <= 5)
        for (size_t k = j; k-- > a && k + 3 >= j && !said;)
          if ((T->v[k].caps & 1) && place_said(text, T, k) && foreign_among(text, T, k, j))
            said = true, a = k;
      if (unit || type || said ||
          (lead && words <= 3 && t->e - t->s <= 5 && named_between(T, a, j) && place_lines_after(text, T, j))) {
        if (lead) a--;
        add(c, g, ga, T, a, b);
        done = b + 1;
        continue;
      }
    }
  }
  numberless_streets(c, g, ga, T);
  named_after_number(c, g, ga, T);
  number_postcode_town(c, g, ga, T);
}

/* Addresses in Japanese and Korean script, told by their parts' suffixes.
 * Japanese: a prefecture (a name of one to four characters ending in 都, 道,
 * 府 or 県), a city, ward, town or village (市, 区, 町, 村, 郡) within a
 * dozen characters, then the block numbers within fifteen (ASCII or
 * full-width digits, with 丁目, 番, 番地, 号, の or dashes between):
 * "大阪府富津市細野33丁目16番13号". Korean: a district (a word ending in 구
 * or 군; the city or province before it, ending in 시 or 도, joins), a road
 * (a word ending in 로, 길 or 리, "도산대016로") and a building number
 * ("104-46"): "대구광역시 도봉구 학동거리 104-46". */
static bool cp_in(const unsigned char *u, const char *const *set) {
  for (; *set; set++)
    if (!memcmp(u, *set, 3)) return true;
  return false;
}

static bool digit_at(const unsigned char *u, size_t left, size_t *w) {
  if (left >= 1 && isdigit(u[0])) return *w = 1, true;
  if (left >= 3 && u[0] == 0xEF && u[1] == 0xBC && u[2] >= 0x90 && u[2] <= 0x99) return *w = 3, true;
  return false;
}


static void japanese(sl__ctx_t *c) {
  static const char *const pref[] = {"\xe9\x83\xbd", "\xe9\x81\x93", "\xe5\xba\x9c", "\xe7\x9c\x8c", NULL};
  static const char *const city[] = {"\xe5\xb8\x82", "\xe5\x8c\xba", "\xe7\x94\xba", "\xe6\x9d\x91",
                                     "\xe9\x83\xa1", NULL};
  /* between numbers: 丁目 番 番地 号 の - ー − */
  static const char *const joins[] = {"\xe4\xb8\x81", "\xe7\x9b\xae", "\xe7\x95\xaa", "\xe5\x9c\xb0",
                                      "\xe5\x8f\xb7", "\xe3\x81\xae", "\xe3\x83\xbc", "\xe2\x88\x92",
                                      "\xef\xbc\x8d", NULL};
  const unsigned char *t = (const unsigned char *)c->text;
  size_t n = c->len;
  for (size_t p = 3; p + 3 <= n; p++) {
    if (sl__block_skip(t, n, &p, 0xE5, 0xE9)) continue; /* (no such lead byte) */
    /* (都 E9 83, 道 E9 81, 府 E5 BA, 県 E7 9C: the second byte first) */
    if (t[p] < 0xE5 || t[p] > 0xE9 || (t[p + 1] != 0x83 && t[p + 1] != 0x81 && t[p + 1] != 0xBA &&
                                       t[p + 1] != 0x9C) || !cp_in(t + p, pref))
      continue;
    size_t s = p;
    while (s >= 3 && p - s < 12 && sl__han(t + s - 3) && !cp_in(t + s - 3, pref)) s -= 3;
    if (s == p) continue;
    size_t q = p + 3, found = 0;
    while (q + 3 <= n && q - p < 40 && !found && (t[q] & 0xF0) == 0xE0) {
      if (cp_in(t + q, city)) found = q + 3;
      q += 3;
    }
    if (!found) continue;
    size_t d = found, w = 0;
    while (d < n && d - found < 45 && !digit_at(t + d, n - d, &w) && (t[d] & 0xF0) == 0xE0) d += 3;
    if (d >= n || !digit_at(t + d, n - d, &w)) continue;
    size_t e = d;
    for (;;) {
      if (e < n && digit_at(t + e, n - e, &w)) e += w;
      else if (e < n && (t[e] == '-')) e++;
      else if (e + 3 <= n && cp_in(t + e, joins)) e += 3;
      else break;
    }
    sl__cands_add(c->out, (uint32_t)s, (uint32_t)e, SL_ET_STREET_ADDRESS, "street_address", 40);
    p = e;
  }
}

/* Chinese: a road (路, 街, 道, 巷, 弄) and a number with 号 after it, behind
 * a city, district or county (市, 区, 县, 省, 镇) within twenty characters:
 * "北京市朝阳区建国路88号". The span runs from the first of those to 号 (and a
 * building, room or unit number after it: "88号院3号楼1单元502"). */
static void chinese(sl__ctx_t *c) {
  static const char *const road[] = {"\xe8\xb7\xaf", "\xe8\xa1\x97", "\xe9\x81\x93", "\xe5\xb7\xb7",
                                     "\xe5\xbc\x84", NULL};
  static const char *const area[] = {"\xe5\xb8\x82", "\xe5\x8c\xba", "\xe5\x8e\xbf", "\xe7\x9c\x81",
                                     "\xe9\x95\x87", NULL};
  const unsigned char *t = (const unsigned char *)c->text;
  size_t n = c->len, w = 0;
  for (size_t p = 3; p + 3 <= n; p++) {
    if (sl__block_skip(t, n, &p, 0xE5, 0xE5)) continue; /* (no such lead byte) */
    if (t[p] != 0xE5 || t[p + 1] != 0x8F || t[p + 2] != 0xB7 || !digit_at(t + p - 1, 1, &w)) continue;
    size_t d = p;
    while (d > 0 && (isdigit(t[d - 1]) || t[d - 1] == '-')) d--;
    if (d < 3 || !cp_in(t + d - 3, road)) continue;
    /* back over the road's name and the places before it */
    size_t s = d - 3, first_area = 0;
    while (s >= 3 && d - s < 60 && sl__han(t + s - 3)) {
      s -= 3;
      if (cp_in(t + s, area)) first_area = s;
    }
    if (!first_area) continue;
    /* the place's name before its suffix: up to three characters */
    size_t a = first_area;
    while (a >= 3 && first_area - a < 9 && sl__han(t + a - 3) && a > s) a -= 3;
    size_t e = p + 3;
    while (e < n && (digit_at(t + e, n - e, &w) || (e + 3 <= n && sl__han(t + e) && e - p < 40))) {
      if (isdigit(t[e])) e++;
      else e += 3;
    }
    while (e > p + 3 && !isdigit(t[e - 1]) && memcmp(t + e - 3, "\xe5\x8f\xb7", 3)) e -= 3; /* back to a digit or 号 */
    sl__cands_add(c->out, (uint32_t)a, (uint32_t)e, SL_ET_STREET_ADDRESS, "street_address", 40);
    p = e;
  }
}

/* The Hangul word ending at byte e (exclusive) ends in one of the syllables. */
static bool ends_in(const unsigned char *t, size_t s, size_t e, const char *const *set) {
  return e >= s + 3 && cp_in(t + e - 3, set);
}

static void korean(sl__ctx_t *c) {
  static const char *const district[] = {"\xea\xb5\xac", "\xea\xb5\xb0", NULL};              /* 구 군 */
  static const char *const region[] = {"\xec\x8b\x9c", "\xeb\x8f\x84", NULL};                /* 시 도 */
  static const char *const road[] = {"\xeb\xa1\x9c", "\xea\xb8\xb8", "\xeb\xa6\xac", NULL};  /* 로 길 리 */
  const unsigned char *t = (const unsigned char *)c->text;
  size_t n = c->len;
  /* words: runs of Hangul syllables and digits between spaces */
  size_t prev_s = SIZE_MAX, prev_e = 0; /* the word before the district, if a region */
  for (size_t i = 0; i < n;) {
    if (!((t[i] & 0xF0) == 0xE0 && i + 3 <= n && sl__hangul(t + i))) {
      if (t[i] != ' ') prev_s = SIZE_MAX;
      i++;
      /* (64-byte blocks without a Hangul lead byte are skipped whole) */
      if ((i & 63) == 0 && !sl__block_has(t + i, n - i < 64 ? n - i : 64, 0xEA, 0xED)) {
        i += 64;
        prev_s = SIZE_MAX;
      }
      continue;
    }
    size_t s = i;
    while (i < n && ((i + 3 <= n && (t[i] & 0xF0) == 0xE0 && sl__hangul(t + i)) || isdigit(t[i])))
      i += isdigit(t[i]) ? 1 : 3;
    size_t e = i;
    if (ends_in(t, s, e, district) && e < n && t[e] == ' ') {
      /* the road, then the number */
      size_t r = e + 1, re = r;
      while (re < n && ((re + 3 <= n && (t[re] & 0xF0) == 0xE0 && sl__hangul(t + re)) || isdigit(t[re])))
        re += isdigit(t[re]) ? 1 : 3;
      if (re > r && ends_in(t, r, re, road) && re + 1 < n && t[re] == ' ' && isdigit(t[re + 1])) {
        size_t ne = re + 1;
        while (ne < n && (isdigit(t[ne]) || (t[ne] == '-' && ne + 1 < n && isdigit(t[ne + 1])))) ne++;
        size_t a = prev_s != SIZE_MAX && prev_e + 1 == s ? prev_s : s;
        sl__cands_add(c->out, (uint32_t)a, (uint32_t)ne, SL_ET_STREET_ADDRESS, "street_address", 40);
        i = ne;
        prev_s = SIZE_MAX;
        continue;
      }
    }
    prev_s = ends_in(t, s, e, region) ? s : SIZE_MAX;
    prev_e = e;
  }
}

/* A Cyrillic capital (А-Я, Ё, Є, І, Ї, Ґ) at t[i]: its byte length, or 0. */
static size_t cyr_upper(const unsigned char *t, size_t i, size_t n) {
  if (i + 1 >= n) return 0;
  if (t[i] == 0xD0 && ((t[i + 1] >= 0x90 && t[i + 1] <= 0xAF) || t[i + 1] == 0x81 || t[i + 1] == 0x84 ||
                       t[i + 1] == 0x86 || t[i + 1] == 0x87))
    return 2;
  return t[i] == 0xD2 && t[i + 1] == 0x90 ? 2 : 0;
}

/* A Cyrillic letter of any case at t[i] (D0 80..D1 9F, Ґ/ґ): its byte length, or 0. */
static size_t cyr_letter(const unsigned char *t, size_t i, size_t n) {
  if (i + 1 >= n) return 0;
  if ((t[i] == 0xD0 || t[i] == 0xD1) && t[i + 1] >= 0x80 && t[i + 1] <= 0xBF) return 2;
  return t[i] == 0xD2 && (t[i + 1] == 0x90 || t[i + 1] == 0x91) ? 2 : 0;
}

/* The bytes of one of words[] at t[i] (its end), or 0. */
static size_t cyr_word_at(const unsigned char *t, size_t i, size_t n, const char *const *words) {
  for (const char *const *w = words; *w; w++) {
    size_t m = strlen(*w);
    if (i + m <= n && !memcmp(t + i, *w, m)) return i + m;
  }
  return 0;
}

/* Street addresses in Russian and Ukrainian, as forms and Faker write them:
 * a street's word ("ул.", "улица", "пер.", "просп.", "наб.", "бул.", "ш.",
 * "пл.", "вул."), a name in capitals' case, then the house ("д. 5", "дом 5",
 * "буд. 22", "д. 1/3") and maybe the flat ("кв. 45", "к. 3"): "ул. Пушкина,
 * д. 17, кв. 45". The house number is what makes it one: "улица" alone in a
 * sentence is no one's address. */
static void cyrillic(sl__ctx_t *c) {
  static const char *const street[] = {
      "\xd1\x83\xd0\xbb.", "\xd1\x83\xd0\xbb\xd0\xb8\xd1\x86\xd0\xb0", "\xd0\xbf\xd0\xb5\xd1\x80.",
      "\xd0\xbf\xd1\x80\xd0\xbe\xd1\x81\xd0\xbf.", "\xd0\xbf\xd1\x80-\xd1\x82", "\xd0\xbd\xd0\xb0\xd0\xb1.",
      "\xd0\xb1\xd1\x83\xd0\xbb.", "\xd1\x88.", "\xd0\xbf\xd0\xbb.", "\xd0\xb2\xd1\x83\xd0\xbb.",
      "\xd0\xbf\xd1\x80\xd0\xbe\xd1\x81\xd0\xbf\xd0\xb5\xd0\xba\xd1\x82", "\xd0\xbf\xd0\xb5\xd1\x80\xd0\xb5\xd1\x83\xd0\xbb\xd0\xbe\xd0\xba",
      NULL}; /* ул. улица пер. просп. пр-т наб. бул. ш. пл. вул. проспект переулок */
  static const char *const house[] = {"\xd0\xb4.", "\xd0\xb4\xd0\xbe\xd0\xbc", "\xd0\xb1\xd1\x83\xd0\xb4.",
                                      NULL}; /* д. дом буд. */
  static const char *const flat[] = {"\xd0\xba\xd0\xb2.", "\xd0\xba.", "\xd0\xba\xd0\xbe\xd1\x80\xd0\xbf.",
                                     "\xd1\x81\xd1\x82\xd1\x80.", NULL}; /* кв. к. корп. стр. */
  const unsigned char *t = (const unsigned char *)c->text;
  size_t n = c->len;
  for (size_t i = 0; i + 4 < n; i++) {
    if (t[i] != 0xD0 && t[i] != 0xD1) continue;
    if (i >= 2 && cyr_letter(t, i - 2, n)) continue; /* inside a word ("стул.") */
    size_t p = cyr_word_at(t, i, n, street);
    if (!p) continue;
    size_t s = i;
    while (p < n && t[p] == ' ') p++;
    if (!cyr_upper(t, p, n)) continue;
    /* the street's name: up to four words of letters, hyphens, digits ("1-я") */
    size_t words = 0, q = p;
    while (q < n && words < 4) {
      size_t w = q;
      while (q < n && (cyr_letter(t, q, n) || t[q] == '-' || isdigit(t[q]))) q += cyr_letter(t, q, n) ? 2 : 1;
      if (q == w) break;
      words++;
      size_t r = q;
      while (r < n && t[r] == ' ') r++;
      if (!cyr_upper(t, r, n)) break;
      q = r;
    }
    if (!words) continue;
    /* the house: ", д. 17", " дом 5", ", буд. 22" */
    size_t h = q;
    if (h < n && t[h] == ',') h++;
    while (h < n && t[h] == ' ') h++;
    size_t hp = cyr_word_at(t, h, n, house);
    if (!hp) continue;
    while (hp < n && t[hp] == ' ') hp++;
    if (hp >= n || !isdigit(t[hp])) continue;
    size_t e = hp;
    while (e < n && (isdigit(t[e]) || t[e] == '/')) e++;
    if (e < n && cyr_letter(t, e, n) && !(e + 2 < n && cyr_letter(t, e + 2, n))) e += 2; /* "д. 5А" */
    /* and the flat: ", кв. 45" */
    size_t f = e;
    if (f < n && t[f] == ',') f++;
    while (f < n && t[f] == ' ') f++;
    size_t fp = cyr_word_at(t, f, n, flat);
    if (fp) {
      while (fp < n && t[fp] == ' ') fp++;
      if (fp < n && isdigit(t[fp])) {
        while (fp < n && isdigit(t[fp])) fp++;
        e = fp;
      }
    }
    sl__cands_add(c->out, (uint32_t)s, (uint32_t)e, SL_ET_STREET_ADDRESS, "street_address", 40);
    i = e;
  }
}

void sl__detect_cjk_addresses(sl__ctx_t *c) {
  if (c->scripts & SL_SCRIPT_CJK) {
    japanese(c);
    chinese(c);
  }
  if (c->scripts & SL_SCRIPT_HANGUL) korean(c);
  if (c->scripts & SL_SCRIPT_CYRILLIC) cyrillic(c);
}
