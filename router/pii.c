/* Personal-data detectors over the hits of the multi-pattern pass: email, phone,
 * credit card (Luhn), IBAN (mod 97), US SSN, IP addresses, dates and dates of
 * birth, crypto wallets, and identifiers that only context words reveal
 * (passport, driver licence, medical/insurance, bank account, tax/national IDs). */
#include "router_int.h"
#include "sl_str.h"

#include <ctype.h>
#include <pthread.h>
#include <string.h>
#include <stdlib.h>
#include <strings.h>
#include "sl_err.h"

/* Is there a hit of pattern `id` ending within `win` bytes before `pos` (or
 * starting within `after` bytes after it)? */
/* Sorted spans of the DOB and SSN cue hits, for binary search (built per call:
 * a linear scan per date would be quadratic on hostile input). */
typedef struct cue_index {
  uint32_t *start, *end;
  size_t n;
} cue_index_t;


static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static bool cue_near_idx(const cue_index_t *ix, uint32_t pos, uint32_t win, uint32_t after) {
  /* a cue ending in [pos - win, pos], or starting in [pos, pos + after] */
  size_t lo = 0, hi = ix->n;
  uint32_t from = pos > win ? pos - win : 0;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (ix->end[mid] < from) lo = mid + 1;
    else
      hi = mid;
  }
  if (lo < ix->n && ix->end[lo] <= pos) return true;
  if (!after) return false;
  lo = 0, hi = ix->n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (ix->start[mid] < pos) lo = mid + 1;
    else
      hi = mid;
  }
  return lo < ix->n && ix->start[lo] - pos <= after;
}

/* Does one of ws's words (lower-case) start at a word start within `win` bytes
 * before pos? One pass over the window, comparing only the words that begin
 * with the byte at hand (this runs for every phone-, card- and digit-shaped hit);
 * the sets' first bytes are filled once, when a router is created (sl__pii_init). */
static const char *ci_word_at_before(const char *t, uint32_t pos, uint32_t win, const sl__wordset_t *ws) {
  uint32_t lo = pos > win ? pos - win : 0;
  const char *const *words = ws->words;
  const uint64_t *first = ws->first;
  char low[128];
  size_t n = sl__lower_copy(t + lo, pos - lo, low, sizeof low);
  for (size_t k = 0; k < n; k++) {
    size_t i = k + lo;
    unsigned char b = (unsigned char)low[k];
    if (!(first[b >> 6] >> (b & 63) & 1)) continue;
    if (i > 0 && sl__alpha((unsigned char)t[i - 1])) continue;
    for (const char *const *w = words; *w; w++) {
      if ((*w)[0] != low[k]) continue;
      size_t m = strlen(*w);
      if (k + m <= n && !memcmp(low + k, *w, m)) return *w;
    }
  }
  return NULL;
}

static bool ci_word_before(const char *t, uint32_t pos, uint32_t win, const sl__wordset_t *ws) {
  return ci_word_at_before(t, pos, win, ws) != NULL;
}

static const char *const phone_words[] = {"phone", "tel", "mobile", "cell", "call", "fax",
                                          "whatsapp", "sms", "text me", "reach me",
                                          "contact", "dial", "ring", "answering", "messages to",
                                          /* the word for a number (see is_number_word) */
                                          "number ", "number:", "number,", "numéro ", "numéro:",
                                          "numero ", "numero:", "número ", "número:", "nummer ",
                                          "nummer:",
                                          /* other languages */
                                          "telefon",
                                          "teléfono", "telefone", "telefono", "tél", "handy",
                                          "portable", "móvil", "celular", "cellulare",
                                          /* Arabic, CJK, Hindi, Vietnamese, Indonesian */
                                          "جوال", "هاتف", "موبايل", "電話", "携帯", "电话",
                                          "手机", "전화", "휴대폰", "फ़ोन", "फोन", "मोबाइल",
                                          "điện thoại", "sđt", "telepon", "ponsel", NULL};
/* A phone word that is only the word for a number, a phone's when nothing
 * else names it ("my number is …"); matched whole ("sort these numbers" has
 * none). No other phone word starts with 'n'. */
static bool is_number_word(const char *w) { return w[0] == 'n'; }
/* Words that name a number as something other than a phone (right before it;
 * matched as word starts, so none is short). */
static const char *const id_words[] = {"order", "invoice", "ticket", "reference", "tracking",
                                       "document", "case", "docket", "article", "artikel",
                                       "sku", "serial", "booking", "confirmation", "receipt",
                                       "batch", "version", "model", "parcel", "package",
                                       "shipment", "consignment", "waybill", "awb", "isbn",
                                       "issn", "tariff", "hts", "hs", "commodity", "customs",
                                       /* in other languages */
                                       "bestellung", "rechnung", "auftrag", "sendung",
                                       "commande", "facture", "pedido", "factura", "ordine",
                                       "fattura", "bestelling", "factuur", "zamówienie", NULL};
static const char *const card_words[] = {"card", "visa", "mastercard", "amex", "credit", "debit",
                                         "cc", NULL};
/* Words for a product's or a parcel's number, which may pass Luhn too
 * ("EAN 5901234123457"). */
static const char *const code_words[] = {"ean", "gtin", "upc", "barcode", "isbn", "issn", "sku",
                                         "tracking", "waybill", "awb", NULL};

/* Words before a 0x + 64 hex value that make it a private key, not a hash. */
static const char *const eth_key_words[] = {"private", "priv", "secret", "account", "signer",
                                            "wallet", "deployer", "mnemonic", "key", NULL};

/* Words of arithmetic around a bare digit run: a number, not a phone. */
static const char *const math_words[] = {"decimal", "hexadecimal", "binary", "octal", "convert",
                                         "prime", "divisible", "digit", "factor", "compute",
                                         "calculate", "luhn", "modulo", "square", "integer",
                                         "sum", "multiply", "divide", NULL};

static sl__wordset_t phone_set = {.words = phone_words}, card_set = {.words = card_words},
                 code_set = {.words = code_words},
                 id_set = {.words = id_words}, eth_key_set = {.words = eth_key_words},
                 math_set = {.words = math_words};
static pthread_once_t wordsets_once = PTHREAD_ONCE_INIT;

static void wordsets_init(void);
void sl__pii_init(void) { pthread_once(&wordsets_once, wordsets_init); }

static void wordsets_init(void) {
  sl__wordset_t *sets[] = {&phone_set, &card_set, &code_set, &id_set, &eth_key_set, &math_set};
  for (size_t k = 0; k < sizeof sets / sizeof sets[0]; k++) sl__wordset_init(sets[k]);
}

/* Major-issuer prefixes: a Luhn-valid run that starts like a real card number. */
static bool iin_plausible(const char *d, size_t nd) {
  int p2 = (d[0] - '0') * 10 + (d[1] - '0');
  int p4 = p2 * 100 + (d[2] - '0') * 10 + (d[3] - '0');
  if (d[0] == '4') return nd == 13 || nd == 16 || nd == 19;       /* Visa */
  if (p2 >= 51 && p2 <= 55) return nd == 16;                       /* Mastercard */
  if (p4 >= 2221 && p4 <= 2720) return nd == 16;                   /* Mastercard 2-series */
  if (p2 == 34 || p2 == 37) return nd == 15;                       /* Amex */
  if (p2 == 36 || p2 == 38 || p2 == 30) return nd >= 14 && nd <= 19; /* Diners */
  if (p4 >= 3528 && p4 <= 3589) return nd >= 16 && nd <= 19;       /* JCB */
  if (p4 == 2131 || p4 == 1800) return nd == 15;                   /* JCB 15 */
  if (p2 == 60 || p2 == 64 || p2 == 65 || p2 == 62) return nd >= 16 && nd <= 19;
  if (p2 == 50 || (p2 >= 56 && p2 <= 69)) return nd >= 12 && nd <= 19; /* Maestro */
  if (p4 == 9792) return nd == 16;                                 /* Troy (Türkiye) */
  if (p4 >= 2200 && p4 <= 2204) return nd >= 16 && nd <= 19;       /* Mir (Russia) */
  return false;
}

static void card_at(sl__ctx_t *c, uint32_t s, uint32_t e);

/* The hit may start with digits that belong to something else ("no. 12 4111 ..."):
 * try each group start from the left. Or it may end with a short group that
 * does not ("4111-1111-1111-1111 12/26", "… 1111-09/26": the expiry's month,
 * a CVV): then the groups before it, from the first. */
static void card(sl__ctx_t *c, const sl__hit_t *h) {
  size_t before = c->out->n;
  const char *t = c->text;
  for (uint32_t s = h->start; s < h->end && c->out->n == before; s++) {
    if (!isdigit((unsigned char)t[s])) continue;
    if (s > h->start && isdigit((unsigned char)t[s - 1])) continue;
    card_at(c, s, h->end);
  }
  uint32_t e = h->end, s = h->start;
  while (e > s && isdigit((unsigned char)t[e - 1])) e--;
  if (c->out->n != before || h->end - e > 3 || e == h->end) return;
  while (e > s && !isdigit((unsigned char)t[e - 1])) e--;
  while (s < e && !isdigit((unsigned char)t[s])) s++;
  if (e > s) card_at(c, s, e);
}

static void card_at(sl__ctx_t *c, uint32_t s, uint32_t e) {
  const sl__hit_t hh = {s, e, 0}, *h = &hh;
  char d[24];
  size_t nd = 0;
  for (uint32_t i = h->start; i < h->end; i++)
    if (isdigit((unsigned char)c->text[i])) {
      if (nd == sizeof d) return;
      d[nd++] = c->text[i];
    }
  if (nd < 12 || nd > 19) return;
  if (!sl__luhn(c->text + h->start, h->end - h->start)) return;
  bool cue = ci_word_before(c->text, h->start, 48, &card_set);
  if (!iin_plausible(d, nd) && !cue) return;
  /* a product's or a parcel's number, on its line */
  uint32_t ls = h->start;
  while (ls > 0 && c->text[ls - 1] != '\n' && h->start - ls < 24) ls--;
  if (!cue && ls < h->start && ci_word_before(c->text, h->start, h->start - ls, &code_set)) return;
  /* every digit apart ("4 5 5 6 7 3 …", "4-5-5-6-…"): a card only where the text says so
   * (a run of small numbers finds some Luhn-valid stretch too often) */
  if (!cue && h->end - h->start == 2 * nd - 1 && (c->text[h->start + 1] == ' ' || c->text[h->start + 1] == '-'))
    return;
  sl__cands_add(c->out, h->start, h->end, SL_ET_CREDIT_CARD, "credit_card", 60);
}

static bool decimal_context(const sl__ctx_t *c, uint32_t s, uint32_t e) {
  const char *t = c->text;
  if (t[s] == '+') return false; /* "+353871449203" after a CSV comma: no decimal */
  /* (a comma after a word separates CSV fields: "Catalina,417-29-6630,1985-03-12";
   * so does one after an amount with cents: "T-9912,49.90,5364664645025505") */
  bool field = s > 1 && (isalpha((unsigned char)t[s - 2]) || t[s - 2] == '"');
  if (!field && s > 3 && t[s - 1] == ',' && isdigit((unsigned char)t[s - 2]))
    field = t[s - 3] == '.' || (isdigit((unsigned char)t[s - 3]) && t[s - 4] == '.');
  if (s > 0 && (t[s - 1] == '.' || t[s - 1] == '$' || t[s - 1] == '^' || t[s - 1] == '_' ||
                (t[s - 1] == ',' && !field) || isalpha((unsigned char)t[s - 1])))
    return true;
  if (s > 1 && t[s - 1] == '-' && isdigit((unsigned char)t[s - 2])) return true;
  bool dashed = memchr(t + s, '-', e - s) != NULL;
  if (e < c->len && (t[e] == '%' || t[e] == '$' || t[e] == '^' || isalpha((unsigned char)t[e]) ||
                     (t[e] == '.' && e + 1 < c->len && isdigit((unsigned char)t[e + 1])) ||
                     (t[e] == ',' && !dashed && e + 1 < c->len && isdigit((unsigned char)t[e + 1]))))
    return true;
  return false;
}

/* A version's word right before ("version 2.14.0.118", "firmware 4.19.0.2",
 * "v1.2.3.4"): four numbers joined by dots are a release, not an address. */
static bool version_before(const sl__ctx_t *c, uint32_t s) {
  static const char *const words[] = {"version", "ver", "firmware", "release", "build", "versión",
                                      "versione", "revision", "rev", "kernel", NULL};
  const char *t = c->text;
  if (s > 0 && (t[s - 1] == 'v' || t[s - 1] == 'V') && (s == 1 || !isalnum((unsigned char)t[s - 2])))
    return true;
  uint32_t e = s;
  while (e > 0 && (t[e - 1] == ' ' || t[e - 1] == ':')) e--;
  uint32_t b = e;
  while (b > 0 && isalpha((unsigned char)t[b - 1])) b--;
  return e > b && sl__word_in(t + b, e - b, words);
}

/* Groups of exactly two digits only. */
static bool all_pairs(const char *p, size_t n) {
  size_t run = 0;
  for (size_t i = 0; i <= n; i++) {
    if (i < n && isdigit((unsigned char)p[i])) {
      run++;
      continue;
    }
    if (run != 2) return false;
    run = 0;
  }
  return true;
}

/* The French national format, which needs no cue: "06 12 48 73 95" (0, a
 * non-zero digit, then four pairs, split by spaces or dots alike). */
static bool french_phone(const char *p, size_t n) {
  if (n != 14 || p[0] != '0' || p[1] < '1' || p[1] > '9') return false;
  for (size_t g = 1; g < 5; g++) {
    const char *q = p + 3 * g;
    if (q[-1] != p[2] || !isdigit((unsigned char)q[0]) || !isdigit((unsigned char)q[1])) return false;
  }
  return p[2] == ' ' || p[2] == '.';
}

/* The line holding pos is a hex dump's ("00000010: 0000 0200 …", xxd and od
 * style: an offset of 7+ hex digits, a colon or two spaces, then hex groups). */
static bool hexdump_line(const char *t, size_t len, uint32_t pos) {
  uint32_t b = pos;
  while (b > 0 && t[b - 1] != '\n' && pos - b < 200) b--;
  uint32_t k = b;
  while (k < len && isxdigit((unsigned char)t[k]) && k - b < 16) k++;
  return k - b >= 7 && k + 1 < len && (t[k] == ':' || (t[k] == ' ' && t[k + 1] == ' '));
}

/* An ISBN-13 at s: 978 or 979, thirteen digits joined by '-' or ' ', the
 * check digit right (weights 1 and 3). */
static bool isbn13_at(const sl__ctx_t *c, uint32_t s) {
  const char *t = c->text;
  int d[13], n = 0;
  uint32_t i = s;
  for (; i < c->len && n < 13; i++) {
    if (isdigit((unsigned char)t[i])) d[n++] = t[i] - '0';
    else if (!((t[i] == '-' || t[i] == ' ') && i + 1 < c->len && isdigit((unsigned char)t[i + 1])))
      break;
  }
  if (i < c->len && isdigit((unsigned char)t[i])) return false; /* longer than an ISBN */
  if (n != 13 || d[0] != 9 || d[1] != 7 || (d[2] != 8 && d[2] != 9)) return false;
  int sum = 0;
  for (int i = 0; i < 13; i++) sum += d[i] * (i % 2 ? 3 : 1);
  return sum % 10 == 0;
}

/* A word for what is counted right after a number at e: "15 388 000 people". */
static bool quantity_after(const sl__ctx_t *c, uint32_t e) {
  static const char *const counted[] = {"people", "persons", "inhabitants", "residents", "users",
                                        "visitors", "customers", "employees", "copies", "units",
                                        "downloads", "views", "subscribers", "followers", "votes",
                                        "tonnes", "tons", "barrels", "euros", "dollars", NULL};
  const char *t = c->text;
  if (e >= c->len || t[e] != ' ') return false;
  uint32_t s = e + 1, k = s;
  while (k < c->len && isalpha((unsigned char)t[k])) k++;
  return sl__word_in(t + s, k - s, counted);
}

/* A postcode in a country's shape (see the caller); *ward: a Japanese one
 * after a ward ("Setagaya-ku, Tokyo 154-0002"), the end of an address. */
static bool postcode_shape(const sl__ctx_t *c, uint32_t s, uint32_t e, bool *ward) {
  const char *t = c->text;
  bool jp = e - s == 8 && t[s + 3] == '-', br = e - s == 9 && t[s + 5] == '-';
  uint32_t from = s > 48 ? s - 48 : 0;
  *ward = jp && sl__find(t + from, s - from, "-ku,", 4);
  if (!jp && !br) return false;
  for (uint32_t k = s; k < e; k++)
    if (!isdigit((unsigned char)t[k]) && t[k] != '-') return false;
  uint32_t p = s;
  while (p > 0 && t[p - 1] == ' ') p--;
  if (jp && p >= 3 && !memcmp(t + p - 3, "\xe3\x80\x92", 3)) return true; /* 〒 */
  static const char *const words[] = {"cep", "zip", "postcode", "postal", "plz", "cp", NULL};
  uint32_t b = p;
  while (b > 0 && (isalpha((unsigned char)t[b - 1]) || t[b - 1] == ':')) b--;
  uint32_t we = p;
  while (we > b && t[we - 1] == ':') we--;
  return (we > b && sl__word_in(t + b, we - b, words)) || *ward;
}

/* A Japanese address written in Latin letters ends at the postcode at s..e:
 * from the block numbers on its line ("5-12-3 Shimouma, Setagaya-ku, Tokyo
 * 154-0002"), or from the line's start, at most 96 bytes back. */
static void romaji_address(sl__ctx_t *c, uint32_t s, uint32_t e) {
  const char *t = c->text;
  uint32_t a = s, lim = s > 96 ? s - 96 : 0;
  while (a > lim && t[a - 1] != '\n') a--;
  /* the block numbers: digits and dashes opening a word ("5-12-3") */
  for (uint32_t k = a; k + 3 < s; k++)
    if (isdigit((unsigned char)t[k]) && (k == a || t[k - 1] == ' ') && t[k + 1] == '-') {
      a = k;
      break;
    }
  sl__cands_add(c->out, a, e, SL_ET_STREET_ADDRESS, "street_address", 40);
}

static void phone(sl__ctx_t *c, const sl__hit_t *h, bool intl) {
  uint32_t s = h->start, e = h->end;
  /* the walk back over the byte class may start on a separator, or before the '+' */
  if (intl) {
    const char *plus = memchr(c->text + s, '+', e - s);
    if (!plus) return;
    s = (uint32_t)(plus - c->text);
  }
  while (s < e && !isdigit((unsigned char)c->text[s]) && c->text[s] != '(' && c->text[s] != '+') s++;
  if (c->text[s] == '(' && !memchr(c->text + s, ')', e - s)) s++;
  if (s >= e) return;
  /* a number, then a bracket that does not close in it: "70130 (2017-2021)";
   * a phone's closes inside ("(555) 123-4567", "+44 (0) 20 7946 0958") */
  for (uint32_t i = s + 1; i < e; i++)
    if (c->text[i] == '(' && !memchr(c->text + i, ')', e - i)) return;
  size_t nd = sl__count_digits(c->text + s, e - s);
  if (nd < 7 || nd > 15) return;
  if (decimal_context(c, s, e)) return;
  /* the tail of an identifier: "#A-55192-7781", "INV-2024-00871" */
  if (s >= 2 && c->text[s - 1] == '-' && isalnum((unsigned char)c->text[s - 2])) return;
  /* ... or the head of an ISBN: "978-0-201-63361-0" */
  if (e + 1 < c->len && c->text[e] == '-' && isdigit((unsigned char)c->text[e + 1]) && isbn13_at(c, s))
    return;
  /* "+" inside arithmetic ("49.8+1.02") is an operator, not a country code */
  if (intl && s > 0 && (isalnum((unsigned char)c->text[s - 1]) || c->text[s - 1] == ')' ||
                        c->text[s - 1] == '.' || c->text[s - 1] == '}'))
    return;
  if (intl && nd < 8) return;
  /* 3-2-4 with dashes is an SSN shape; the SSN detector owns it. */
  int groups = 1;
  for (uint32_t i = s; i < e; i++)
    if ((c->text[i] == ' ' || c->text[i] == '-' || c->text[i] == '.') && i + 1 < e &&
        isdigit((unsigned char)c->text[i + 1]))
      groups++;
  bool dots = memchr(c->text + s, '.', e - s) != NULL;
  if (dots && groups == 2) return; /* 504.6739: a decimal */
  if (dots && !intl && groups == 4 && nd <= 12) return; /* IPv4-like */
  if (!intl && groups < 2 && c->text[s] != '(') return;
  /* "2019 2020": a list of years */
  if (!intl) {
    bool years = true;
    for (uint32_t i = s; i < e && years;) {
      while (i < e && !isdigit((unsigned char)c->text[i])) i++;
      uint32_t k = i;
      while (k < e && isdigit((unsigned char)c->text[k])) k++;
      if (k - i != 4 || !(c->text[i] == '1' || c->text[i] == '2')) years = false;
      i = k;
    }
    if (years) return;
  }
  /* Long space-separated runs of short numbers are lists, not phones, unless a
   * phone word is close. */
  const char *pw = ci_word_at_before(c->text, s, 40, &phone_set);
  bool word = (pw && !is_number_word(pw)) || french_phone(c->text + s, e - s);
  bool cue = word || pw;
  /* "document number 5100004711", "Case number 03-90823-CV": the word for a
   * number after what it numbers, and no word for a phone */
  if (!intl && !word && cue && ci_word_before(c->text, s, 24, &id_set)) return;
  /* dotted and short, with nothing saying phone: a version ("driver
   * 535.154.05"), not a number to call */
  if (!intl && !cue && dots && nd < 10) return;
  /* a postcode in its country's shape after its mark or word: Japan's
   * "〒154-0002" (3-4) or one after a ward ("Setagaya-ku, Tokyo 154-0002"),
   * Brazil's "CEP 01304-001" (5-3) */
  bool ward;
  if (!intl && postcode_shape(c, s, e, &ward)) {
    if (ward) romaji_address(c, s, e);
    return;
  }
  if (!intl && !cue) {
    /* what names the number: "Order 7730-1193", "ticket 4411-2093" */
    if (ci_word_before(c->text, s, 20, &id_set)) return;
    /* the shape of an ISO date: "2024-13-40" */
    if (e - s == 10 && c->text[s + 4] == '-' && c->text[s + 7] == '-') return;
    /* byte pairs, as in a hex dump ("49 48 44 52"): no phone is written so */
    if (all_pairs(c->text + s, e - s)) return;
    if (hexdump_line(c->text, c->len, s)) return;
    if (groups > 4) return;
    /* a tariff code's shape, 4.2.4 with dots ("8471.30.0100"); no dotted phone
     * number groups so */
    if (dots && groups == 3 && e - s == 12 && c->text[s + 4] == '.' && c->text[s + 7] == '.') return;
    if (nd < 8 && groups > 2) return;
    /* a count in thousands' groups: "15 388 000 people", "2 400 000 users" */
    if (quantity_after(c, e)) return;
    /* math: numbers with operators right around them */
    if (s >= 2 && strchr("+*/=<>", c->text[s - 2]) && c->text[s - 1] == ' ') return;
    /* an access log's status and size after the request line: "GET /metrics
     * HTTP/1.1" 200 18342 */
    if (s >= 4 && c->text[s - 1] == ' ' && c->text[s - 2] == '"' && isdigit((unsigned char)c->text[s - 3])) {
      uint32_t a = s - 2;
      while (a > 0 && s - a < 12 && c->text[a - 1] != ' ' && c->text[a - 1] != '\n') a--;
      if (!strncmp(c->text + a, "HTTP/", 5)) return;
    }
  }
  sl__cands_add(c->out, s, e, SL_ET_PHONE_NUMBER, "phone", intl ? 32 : 30);
}

/* A run of 13 digits or more that decimal_context() takes for part of a
 * number is none, but for a fraction's digits after a point ("3.14159265358979"):
 * thousands come in threes ("1,234,567"), so a run that long beside a comma is
 * a CSV field ("1001,4111111111111111,12/27,19.99"), and it is too long for an
 * amount before a decimal point or after a currency sign ("4111111111111111.00",
 * "$4111111111111111"). Letters or a sign against it still make it part of a
 * word or a formula. */
static bool long_run_alone(const sl__ctx_t *c, uint32_t s, uint32_t e) {
  const char *t = c->text;
  if (e - s < 13) return false;
  if (s > 0 && (t[s - 1] == '.' || t[s - 1] == '^' || t[s - 1] == '-' || isalnum((unsigned char)t[s - 1])))
    return false;
  return e >= c->len || !(isalnum((unsigned char)t[e]) || t[e] == '%' || t[e] == '^' || t[e] == '$');
}

static void digits_run(sl__ctx_t *c, const sl__hit_t *h) {
  uint32_t s = h->start, e = h->end, n = e - s;
  const char *pw;
  /* (after an underscore, a card still is one, Luhn and issuer say so:
   * "statement_4111111111111111.pdf") */
  bool dec = decimal_context(c, s, e);
  if (n >= 12 && (!dec || (s > 0 && c->text[s - 1] == '_') || long_run_alone(c, s, e))) card(c, h);
  if (dec) return;
  /* a bare run needs a phone word, and no arithmetic around it ("convert the
   * decimal number 4294967295 to hex", "does 79927398713 pass the Luhn check") */
  if ((n == 10 || n == 11) &&
      (pw = ci_word_at_before(c->text, s, 40, &phone_set)) &&
      (!is_number_word(pw) || !ci_word_before(c->text, s, 24, &id_set)) &&
      !ci_word_before(c->text, s, 40, &math_set) &&
      !ci_word_before(c->text, e + 40 < c->len ? e + 40 : (uint32_t)c->len, 40, &math_set))
    sl__cands_add(c->out, s, e, SL_ET_PHONE_NUMBER, "phone", 28);
}

static void ssn(sl__ctx_t *c, const sl__hit_t *h) {
  const char *t = c->text + h->start;
  bool dashed = t[3] == '-' && t[6] == '-';
  bool cue = cue_near_idx(&c->cues[1], h->start, 48, 0);
  /* a published example ("SSN: 123-45-6789") is not anyone's number, but the
   * text gives it as an SSN, and the policy goes by what the writer shares */
  if (!sl__ssn_ok(t, h->end - h->start) &&
      !(dashed && cue && sl__ssn_published(t, h->end - h->start)))
    return;
  if (!dashed && !cue) return;
  /* (a dashed one after an underscore is one: "ssn_078-05-1120"; so is one
   * after a comma, which no amount writes before "512-84-3927": a CSV field,
   * "1,512-84-3927") */
  if (decimal_context(c, h->start, h->end) &&
      !(dashed && h->start > 0 && (c->text[h->start - 1] == '_' || c->text[h->start - 1] == ',')))
    return;
  sl__cands_add(c->out, h->start, h->end, SL_ET_US_SSN, "us_ssn", cue ? 62 : 55);
}

/* Numeric dates must be real calendar dates: 60-56-85 is a phone fragment. */
static bool date_ok(const sl__ctx_t *c, const sl__hit_t *h) {
  if (h->id != SL_P_DATE_NUM && h->id != SL_P_DATE_ISO) return true;
  int v[3] = {0}, k = 0, len[3] = {0};
  for (uint32_t i = h->start; i < h->end && k < 3; i++) {
    char ch = c->text[i];
    if (isdigit((unsigned char)ch)) v[k] = v[k] * 10 + (ch - '0'), len[k]++;
    else
      k++;
  }
  if (h->id == SL_P_DATE_ISO) return v[1] >= 1 && v[1] <= 12 && v[2] >= 1 && v[2] <= 31;
  (void)len;
  bool dm = v[0] >= 1 && v[0] <= 31 && v[1] >= 1 && v[1] <= 12;  /* day/month */
  bool md = v[0] >= 1 && v[0] <= 12 && v[1] >= 1 && v[1] <= 31;  /* month/day */
  return dm || md;
}

/* A four-digit year before 1900 in the date: nobody alive was born then
 * ("Mozart (born 27 January 1756)"): a date of history, not a birth date. */
static bool historic_year(const char *t, size_t n) {
  for (size_t i = 0; i + 4 <= n; i++) {
    if (i > 0 && isdigit((unsigned char)t[i - 1])) continue;
    size_t k = i;
    while (k < n && isdigit((unsigned char)t[k])) k++;
    if (k - i == 4 && memcmp(t + i, "1000", 4) >= 0 && memcmp(t + i, "1900", 4) < 0) return true;
    i = k;
  }
  return false;
}

/* The date is said to be a birthday right after it: "1985-01-01 is my
 * birthday", "03/04/1990 was his date of birth". */
static bool birthday_after(const sl__ctx_t *c, uint32_t e) {
  static const char *const fill[] = {"is", "was", "my", "his", "her", "their", "your", "our", "the", NULL};
  static const char *const said[] = {"birthday", "birthdate", "dob", "date of birth", "birth date", NULL};
  const char *t = c->text;
  bool verb = false; /* "exp 2031-05-14   DOB 1990-08-30": the next field's label */
  for (int words = 0; words < 3; words++) {
    while (e < c->len && t[e] == ' ') e++;
    for (const char *const *w = said; verb && *w; w++) {
      size_t m = strlen(*w);
      if (e + m <= c->len && !strncasecmp(t + e, *w, m) && (e + m == c->len || !isalnum((unsigned char)t[e + m])))
        return true;
    }
    uint32_t k = e;
    while (k < c->len && isalpha((unsigned char)t[k])) k++;
    if (k == e || !sl__word_in(t + e, k - e, fill)) return false;
    verb |= (k - e == 2 && !strncasecmp(t + e, "is", 2)) || (k - e == 3 && !strncasecmp(t + e, "was", 3));
    e = k;
  }
  return false;
}

static void date(sl__ctx_t *c, const sl__hit_t *h) {
  if (!date_ok(c, h)) return;
  bool dob = (cue_near_idx(&c->cues[0], h->start, 48, 0) || birthday_after(c, h->end)) &&
             !historic_year(c->text + h->start, h->end - h->start);
  if (dob)
    sl__cands_add(c->out, h->start, h->end, SL_ET_DATE_OF_BIRTH, "date_of_birth", 45);
  else
    sl__cands_add(c->out, h->start, h->end, SL_ET_DATE_TIME, "date", 31);
}

/* After a context cue, the first identifier-shaped token within a short window:
 * letters, digits and - / . joined, with enough digits to be a number. */
static bool next_id(const sl__ctx_t *c, uint32_t from, uint32_t win, int min_digits,
                    bool digits_only, uint32_t *os, uint32_t *oe) {
  const char *t = c->text;
  uint32_t end = from + win < c->len ? from + win : (uint32_t)c->len;
  uint32_t i = from;
  int words = 0;
  while (i < end) {
    while (i < end && !sl__alnum((unsigned char)t[i])) {
      if (t[i] == '\n' && i + 1 < end && t[i + 1] == '\n') return false;
      if (t[i] == '.' && i + 1 < end && t[i + 1] == ' ') return false; /* sentence end */
      i++;
    }
    uint32_t s = i;
    while (i < end && (sl__alnum((unsigned char)t[i]) ||
                       ((t[i] == '-' || t[i] == '/' || t[i] == '.') && i + 1 < c->len &&
                        sl__alnum((unsigned char)t[i + 1]))))
      i++;
    if (i == s) break;
    size_t nd = sl__count_digits(t + s, i - s);
    size_t alnum = 0;
    for (uint32_t k = s; k < i; k++) alnum += sl__alnum((unsigned char)t[k]);
    bool only_digits = nd == alnum;
    /* digit groups written with single spaces ("2345 6789 0123", "046 454 286",
     * France's "1 79 09 25 143 008 77") */
    if (only_digits && nd >= 1 && nd <= 6) {
      uint32_t k = i;
      int groups = 1;
      while (groups < 8 && k + 1 < end && t[k] == ' ' && isdigit((unsigned char)t[k + 1])) {
        uint32_t g = k + 1;
        while (g < end && isdigit((unsigned char)t[g])) g++;
        if (g - k - 1 < 2 || g - k - 1 > 6) break;
        k = g, groups++;
      }
      if (groups > 1) {
        size_t total = sl__count_digits(t + s, k - s);
        if ((int)total >= min_digits && total >= 6 && total <= 20) {
          *os = s;
          *oe = k;
          return true;
        }
      }
    }
    if ((int)nd >= min_digits && alnum >= 5 && alnum <= 24 && (!digits_only || only_digits)) {
      *os = s;
      *oe = i;
      return true;
    }
    /* "passport no. X123": the abbreviation's dot ends no sentence */
    if (i < end && t[i] == '.' && !nd &&
        ((i - s == 1 && (t[s] == 'n' || t[s] == 'N')) || /* Italian, French, Portuguese "n. 2024/00731" */
         (i - s == 2 && !strncasecmp(t + s, "no", 2)) || (i - s == 2 && !strncasecmp(t + s, "nr", 2)) ||
         (i - s == 3 && (!strncasecmp(t + s, "num", 3) || !strncasecmp(t + s, "nbr", 3)))))
      i++;
    if (++words > 6) return false;
  }
  return false;
}

/* Digits nobody is issued: one digit repeated ("000000000", "1111111"). (A
 * counting run is not enough: "driver license number 123-456789" in a form is
 * someone's, as the dev split labels it.) */
static bool dummy_digits(const char *t, size_t n) {
  int prev = -1, same = 1, nd = 0;
  for (size_t i = 0; i < n; i++) {
    if (isalpha((unsigned char)t[i])) return false;
    if (!isdigit((unsigned char)t[i])) continue;
    same &= prev < 0 || t[i] - '0' == prev;
    prev = t[i] - '0', nd++;
  }
  return nd >= 6 && same;
}

/* A lower-case IBAN at i ("gb42nawi04454264788619"), reported when its check
 * digits hold (upper-case ones come from the multi-pattern pass). */
static void iban_lower(sl__ctx_t *c, uint32_t i) {
  const char *t = c->text + i;
  if (i + 15 > c->len || !islower((unsigned char)t[0]) || !islower((unsigned char)t[1]) ||
      !isdigit((unsigned char)t[2]) || !isdigit((unsigned char)t[3]))
    return;
  char b[35];
  uint32_t k = 0;
  while (k < 34 && i + k < c->len && isalnum((unsigned char)t[k])) {
    b[k] = (char)toupper((unsigned char)t[k]);
    k++;
  }
  if ((i + k == c->len || !isalnum((unsigned char)t[k])) && sl__iban_ok(b, k))
    sl__cands_add(c->out, i, i + k, SL_ET_IBAN_CODE, "iban", 61);
}

/* A UK National Insurance number written in its printed groups, "QQ 12 34 56
 * C": next_id finds the digit groups; the two letters before them and the
 * letter after belong to the number (a redaction must not leave them). */
static void nino_span(const sl__ctx_t *c, uint32_t *s, uint32_t *e) {
  const char *t = c->text;
  if (*e - *s != 8 || *s < 3 || t[*s - 1] != ' ' || !isupper((unsigned char)t[*s - 3]) ||
      !isupper((unsigned char)t[*s - 2]) || (*s > 3 && isalnum((unsigned char)t[*s - 4])) ||
      t[*s + 2] != ' ' || t[*s + 5] != ' ')
    return;
  *s -= 3;
  if (*e + 2 <= c->len && t[*e] == ' ' && t[*e + 1] >= 'A' && t[*e + 1] <= 'D' &&
      (*e + 2 == c->len || !isalnum((unsigned char)t[*e + 2])))
    *e += 2;
}

static void cue_id(sl__ctx_t *c, const sl__hit_t *h) {
  int type, prio = 58, mind = 3;
  bool dig_only = false;
  const char *det;
  switch (h->id) {
    case SL_P_CUE_PASSPORT: type = SL_ET_US_PASSPORT, det = "passport"; break;
    case SL_P_CUE_DL: type = SL_ET_US_DRIVER_LICENSE, det = "driver_license"; break;
    case SL_P_CUE_MEDICAL: type = SL_ET_MEDICAL_RECORD, det = "medical_id"; break;
    case SL_P_CUE_BANK:
      type = SL_ET_BANK_ACCOUNT, det = "bank_account", mind = 6;
      if (h->end - h->start == 4 && !strncasecmp(c->text + h->start, "iban", 4))
        type = SL_ET_IBAN_CODE, det = "iban", mind = 4;
      break;
    case SL_P_CUE_NATID: type = SL_ET_NATIONAL_ID, det = "national_id"; break;
    case SL_P_CUE_SSN: type = SL_ET_US_SSN, det = "us_ssn", mind = 9, dig_only = true; break;
    default: return;
  }
  uint32_t s, e;
  if (type == SL_ET_IBAN_CODE) {
    /* "IBAN 'IN60 ITDB 0000 ...'": the country code, check digits and the groups */
    uint32_t i = h->end, lim = h->end + 24 < c->len ? h->end + 24 : (uint32_t)c->len;
    while (i < lim && !isalnum((unsigned char)c->text[i])) i++;
    /* "my iban is gb42nawi04454264788619": a verb, then a code in lower case
     * that the check digits prove */
    /* (and in other languages: "mi iban es es70…", "mein IBAN ist de89…", "mon
     * iban est fr76…": the check digits decide) */
    static const char *const verbs[] = {"is ", "no ", "es ", "è ", "ist ", "est "};
    for (size_t v = 0; v < sizeof verbs / sizeof *verbs; v++) {
      size_t k = strlen(verbs[v]);
      if (i + k < c->len && !strncasecmp(c->text + i, verbs[v], k)) {
        i += (uint32_t)k;
        break;
      }
    }
    iban_lower(c, i);
    const char *t = c->text + i;
    if (i + 4 < c->len && isupper((unsigned char)t[0]) && isupper((unsigned char)t[1]) &&
        isdigit((unsigned char)t[2]) && isdigit((unsigned char)t[3])) {
      uint32_t k = i, alnum = 0;
      while (k < c->len && alnum < 34 &&
             (isupper((unsigned char)c->text[k]) || isdigit((unsigned char)c->text[k]) ||
              (c->text[k] == ' ' && k + 1 < c->len && isalnum((unsigned char)c->text[k + 1]))))
        alnum += c->text[k++] != ' ';
      while (c->text[k - 1] == ' ') k--; /* "DE89… bitte": the space is not the code's */
      if (alnum >= 12) sl__cands_add(c->out, i, k, SL_ET_IBAN_CODE, "iban", 61);
    }
    return;
  }
  uint32_t win = 64;
  bool aba = false;
  size_t hl = h->end - h->start;
  const char *ht = c->text + h->start;
  if (type == SL_ET_BANK_ACCOUNT &&
      ((hl == 7 && (!strncasecmp(ht, "account", 7) || !strncasecmp(ht, "routing", 7))) ||
       (hl == 4 && !strncasecmp(ht, "acct", 4)))) {
    /* a bare "account"/"acct"/"routing": only a digit run close behind counts
     * ("take into account 3 factors" has none) */
    win = 16, mind = 8, dig_only = true;
    aba = !strncasecmp(c->text + h->start, "routing", 7);
  }
  /* "my social is": the number right behind it ("my social is great, 356094109
   * followers" is no SSN) */
  if (type == SL_ET_US_SSN && (ht[0] | 32) != 's') {
    uint32_t d = h->end;
    while (d < c->len && d < h->end + 3 && c->text[d] == ' ') d++;
    if (d >= c->len || !isdigit((unsigned char)c->text[d])) return;
  }
  uint32_t from = h->end; /* a cue ending in "No." ("license No. D123") */
  if (from < c->len && c->text[from] == '.' && hl >= 2 && !strncasecmp(c->text + from - 2, "no", 2))
    from++;
  if (!next_id(c, from, win, mind, dig_only, &s, &e) || dummy_digits(c->text + s, e - s)) return;
  if (type == SL_ET_US_SSN && !sl__ssn_ok(c->text + s, e - s)) return;
  if (type == SL_ET_NATIONAL_ID) nino_span(c, &s, &e);
  if (aba && !sl__aba_ok(c->text + s, e - s)) return;
  /* A date right after "DOB"-like words belongs to the date detector. */
  sl__cands_add(c->out, s, e, type, det, prio);
}

static void crypto(sl__ctx_t *c, const sl__hit_t *h) {
  const char *t = c->text + h->start;
  size_t n = h->end - h->start;
  if (h->id == SL_P_CRYPTO_ETH && sl__entropy(t + 2, n - 2) < 2.5)
    return; /* a pattern, not a key or an address: "0x0b0b0b…" (RFC 4231's HMAC test key) */
  if (h->id == SL_P_CRYPTO_ETH && n == 66) {
    /* an Ethereum private key ("accounts: ['0x...']", "PRIVATE_KEY=0x..."); a
     * transaction hash has the same shape and no such word before it */
    uint32_t ls = h->start;
    while (ls > 0 && h->start - ls < 64 && c->text[ls - 1] != '\n') ls--;
    if (ci_word_before(c->text, h->start, h->start - ls, &eth_key_set))
      sl__cands_add(c->out, h->start, h->end, SL_ET_PRIVATE_KEY, "eth_private_key", 90);
    return;
  }
  if (h->id == SL_P_CRYPTO_BTC && !(t[0] == '1' || t[0] == '3' || !strncmp(t, "bc1", 3))) return;
  if (h->id == SL_P_CRYPTO_BTC && (n < 26 || n > 74)) return;
  if (h->id == SL_P_CRYPTO_BTC && t[0] != 'b') {
    size_t up = 0, lo = 0, dg = 0;
    for (size_t i = 0; i < n; i++) {
      up += isupper((unsigned char)t[i]) != 0;
      lo += islower((unsigned char)t[i]) != 0;
      dg += isdigit((unsigned char)t[i]) != 0;
    }
    if (!up || !lo || dg < 2 || sl__entropy(t, n) < 4.0) return;
  }
  if (sl__in_public_block(c, h->start)) return; /* base64 of a public key */
  sl__cands_add(c->out, h->start, h->end, SL_ET_CRYPTO, "crypto_wallet", 50);
}

static bool email_local(char ch) {
  return isalnum((unsigned char)ch) || ch == '.' || ch == '_' || ch == '%' || ch == '+' || ch == '-';
}

/* The start of the character of two to four UTF-8 bytes that ends at p when it
 * is a letter (not U+0080–U+00BF, general punctuation U+2000–U+2FFF, CJK
 * punctuation U+3000–U+303F, the forms of U+F000–U+FFFF, or an emoji or other
 * symbol: "📧maria@"), else p. */
static uint32_t utf8_letter_before(const char *t, uint32_t p) {
  uint32_t q = p;
  while (q > 0 && p - q < 3 && ((unsigned char)t[q - 1] & 0xC0) == 0x80) q--;
  if (q == 0 || q == p) return p;
  unsigned char l = (unsigned char)t[q - 1];
  uint32_t tail = p - q;
  if (l < 0xC3 || l == 0xE2 || l == 0xEF || (l == 0xE3 && (unsigned char)t[q] == 0x80)) return p;
  if (tail != (l < 0xE0 ? 1u : l < 0xF0 ? 2u : 3u) || l > 0xF4) return p;
  if (sl_utf8_nonword((const unsigned char *)t + q - 1, tail + 1)) return p;
  return q - 1;
}

/* The start of the local part's character that ends at s (the '@' at a), or
 * s when none does: ASCII's characters of one, letters of other scripts
 * ("jürgen.müller@", "zoë@") and an apostrophe inside a name ("O'Brien@"). */
static uint32_t local_char_before(const char *t, uint32_t s, uint32_t a) {
  if (email_local(t[s - 1])) return s - 1;
  if ((unsigned char)t[s - 1] >= 0x80) return utf8_letter_before(t, s);
  bool apostrophe = t[s - 1] == '\'' && s >= 2 && s < a && isalnum((unsigned char)t[s - 2]) &&
                    isalnum((unsigned char)t[s]);
  return apostrophe ? s - 1 : s;
}

static bool dom_char(char ch) {
  return isalnum((unsigned char)ch) || ch == '-' || (unsigned char)ch >= 0x80;
}

/* A "[dot]" / "(dot)" / "{dot}" at p (spaces around it), or a plain '.': the
 * bytes it takes, else 0. */
static uint32_t dot_sep(const char *t, uint32_t p, uint32_t n) {
  if (p < n && t[p] == '.') return 1;
  uint32_t q = p;
  while (q < n && q - p < 2 && t[q] == ' ') q++;
  if (n - q < 5 || !strchr("[({", t[q]) || strncasecmp(t + q + 1, "dot", 3) ||
      !strchr("])}", t[q + 4]))
    return 0;
  q += 5;
  while (q < n && q - p < 9 && t[q] == ' ') q++;
  return q - p;
}

/* "name [at] example [dot] com": the address written out. */
static void email_spelled(sl__ctx_t *c, const sl__hit_t *h) {
  const char *t = c->text;
  uint32_t n = (uint32_t)c->len, s = h->start, e = h->end, dots = 0, tld = 0;
  while (s > 0 && h->start - s < 2 && t[s - 1] == ' ') s--;
  uint32_t local_end = s;
  while (s > 0 && email_local(t[s - 1]) && local_end - s < 64) s--;
  while (s < local_end && !isalnum((unsigned char)t[s])) s++;
  if (s == local_end) return;
  while (e < n && e - h->end < 2 && t[e] == ' ') e++;
  for (uint32_t lim = e + 255 < n ? e + 255 : n;;) {
    uint32_t l = e, alpha = 1;
    for (; e < lim && (isalnum((unsigned char)t[e]) || t[e] == '-'); e++)
      alpha &= isalpha((unsigned char)t[e]) != 0;
    if (e == l) return;
    tld = alpha ? e - l : 0;
    uint32_t d = dot_sep(t, e, lim);
    if (!d || e + d >= lim || !isalnum((unsigned char)t[e + d])) break;
    e += d;
    dots++;
  }
  if (!dots || tld < 2 || tld > 24) return;
  sl__cands_add(c->out, s, e, SL_ET_EMAIL_ADDRESS, "email", 50);
}

/* Top-level domains an address written in words may end in (the word forms
 * below need one: "at" and "dot" are everyday words). */
static const char *const word_tlds[] = {
    "com", "net", "org", "edu", "gov", "mil", "int", "io", "co", "uk", "us", "de", "fr", "es",
    "it", "nl", "be", "ch", "at", "se", "no", "dk", "fi", "pl", "cz", "ru", "ua", "cn", "jp",
    "kr", "in", "au", "nz", "ca", "br", "mx", "ar", "za", "ng", "ke", "eg", "tr", "ie", "pt",
    "gr", "ro", "hu", "il", "ae", "sg", "hk", "tw", "vn", "ph", "id", "my", "info", "biz",
    "me", "ai", "app", "dev", "xyz", "email", "mail", NULL};

/* A join inside an address written in words at p: '.', " . " or " dot "
 * (any case): the bytes it takes, else 0; *word set for " dot ". */
static uint32_t word_join(const char *t, uint32_t p, uint32_t n, bool *word) {
  if (p < n && t[p] == '.') return 1;
  if (p + 3 <= n && !memcmp(t + p, " . ", 3)) return 3;
  if (p + 5 <= n && t[p] == ' ' && !strncasecmp(t + p + 1, "dot", 3) && t[p + 4] == ' ') {
    *word = true;
    return 5;
  }
  return 0;
}

/* The same join ending at p (for walking back over the local part). */
static uint32_t word_join_back(const char *t, uint32_t p, bool *word) {
  if (p >= 1 && t[p - 1] == '.') return 1;
  if (p >= 3 && !memcmp(t + p - 3, " . ", 3)) return 3;
  if (p >= 5 && t[p - 5] == ' ' && !strncasecmp(t + p - 4, "dot", 3) && t[p - 1] == ' ') {
    *word = true;
    return 5;
  }
  return 0;
}

static bool local_char(char ch) {
  return isalnum((unsigned char)ch) || ch == '_' || ch == '%' || ch == '+' || ch == '-';
}

/* "k dot nowak at outlook dot com", "jane.doe at gmail.com", "jane_doe AT gmail
 * DOT com", "jane.doe @ gmail . com": an address written with words or spaced
 * out. The hit is " at " or " @ ". Plain "at" is everyday English ("look at
 * google.com"), so it takes a sign of an address: a "dot" word, an upper-case
 * "AT", or a local part with '.', '_', '+' or a digit; the domain ends in a
 * known top-level domain. */
static void email_words(sl__ctx_t *c, const sl__hit_t *h) {
  const char *t = c->text;
  uint32_t n = (uint32_t)c->len;
  bool at_sign = t[h->start + 1] == '@', upper = t[h->start + 1] == 'A' && t[h->start + 2] == 'T';
  bool dotword = false, marked = false;
  /* the local part, back from the separator: tokens and joins */
  uint32_t s = h->start, tokens = 0;
  for (;;) {
    uint32_t e = s;
    while (s > 0 && e - s < 64 && local_char(t[s - 1])) s--;
    if (s == e) break;
    for (uint32_t k = s; k < e; k++) marked |= isdigit((unsigned char)t[k]) || t[k] == '_' || t[k] == '+';
    tokens++;
    bool w = false;
    uint32_t j = word_join_back(t, s, &w);
    if (!j || s - j == 0 || !local_char(t[s - j - 1]) || tokens >= 8) break;
    s -= j;
    dotword |= w;
    marked |= !w; /* a '.' inside the local part */
  }
  if (!tokens) return;
  /* the domain: labels and joins, a known TLD last */
  uint32_t e = h->end, labels = 0, last = e;
  for (uint32_t lim = n - e > 255 ? e + 255 : n;;) {
    uint32_t l = e;
    while (e < lim && (isalnum((unsigned char)t[e]) || t[e] == '-')) e++;
    if (e == l) {
      if (labels) e = last; /* a join with nothing after it: not part of the address */
      break;
    }
    labels++;
    last = e;
    bool w = false;
    uint32_t j = word_join(t, e, lim, &w);
    if (!j || e + j >= lim || !isalnum((unsigned char)t[e + j]) || labels >= 8) break;
    /* the last label must be the TLD: look ahead before taking "dot" as a join */
    dotword |= w;
    e += j;
  }
  if (labels < 2) return;
  uint32_t ts = e;
  while (ts > h->end && (isalnum((unsigned char)t[ts - 1]) || t[ts - 1] == '-')) ts--;
  if (!sl__word_in(t + ts, e - ts, word_tlds)) return;
  if (e < n && (isalnum((unsigned char)t[e]) || t[e] == '@')) return;
  if (!at_sign && !upper && !dotword && !marked) return;
  sl__cands_add(c->out, s, e, SL_ET_EMAIL_ADDRESS, "email_words", 50);
}

static void email(sl__ctx_t *c, const sl__hit_t *h) {
  const char *t = c->text;
  if (t[h->start] == ' ') {
    email_words(c, h);
    return;
  }
  if (t[h->start] != '@') {
    email_spelled(c, h);
    return;
  }
  uint32_t a = h->start, s = a; /* the '@' */
  for (uint32_t p; s > 0 && a - s < 64 && (p = local_char_before(t, s, a)) != s;) s = p;
  while (s < a && !isalnum((unsigned char)t[s]) && (unsigned char)t[s] < 0x80) s++;
  if (s == a) return;
  /* the user part of a URL: a key when it is one (a Sentry DSN,
   * "https://7c5bdeec...@o878167.ingest.sentry.io/5086240"); a person's
   * mailbox when it reads as one ("http://maria.keller@acme-corp.com/x": a
   * name's parts joined by a dot, a hyphen or an underscore); a service's
   * account ("ssh://git@github.com") or anything else is nothing here */
  if (s >= 3 && !memcmp(t + s - 3, "://", 3)) {
    size_t m = a - s;
    if (m >= 20 && !memchr(t + s, ':', m) &&
        (sl__hex_only(t + s, m) || sl__looks_random(t + s, m, false)) &&
        !sl__is_placeholder(t + s, m)) {
      sl__cands_add(c->out, s, a, SL_ET_API_KEY, "url_key", 80);
      return;
    }
    bool joined = false, plain = m >= 3;
    for (size_t i = 0; i < m && plain; i++) {
      unsigned char ch = (unsigned char)t[s + i];
      bool sep = ch == '.' || ch == '-' || ch == '_';
      joined |= sep && i > 0 && i + 1 < m && isalpha((unsigned char)t[s + i - 1]) &&
                isalpha((unsigned char)t[s + i + 1]);
      plain = isalpha(ch) || sep;
    }
    char low[64];
    size_t ln = sl__lower_copy(t + s, m, low, sizeof low);
    if (!joined || !plain || sl__find(low, ln, "token", 5)) return; /* "x-access-token@" */
  }
  /* the password of a URL's user part ("https://user:secret@host": the URL
   * rules report it), a mask or a template's slot ("xxxx@", "1111@",
   * "YOUR_PASSWORD@") */
  if (s >= 1 && t[s - 1] == ':') {
    uint32_t k = s - 1;
    while (k > 0 && s - k < 128 && !isspace((unsigned char)t[k - 1]) && t[k - 1] != '"' && t[k - 1] != '\'') k--;
    if (sl__find(t + k, s - k, "://", 3)) return;
  }
  {
    size_t m = a - s, same = 0, lower = 0;
    for (size_t i = 0; i < m; i++) same += t[s + i] == t[s], lower += islower((unsigned char)t[s + i]) != 0;
    /* (a slot is written in capitals; "james.fake@" is someone's) */
    if ((m >= 4 && same == m) || (!lower && sl__is_placeholder(t + s, m))) return;
  }
  /* domain: labels of letters, digits and '-' (UTF-8 letters too: an
   * internationalised domain, "bücher.de") joined by dots, ending in an
   * alphabetic ASCII TLD; non-ASCII bytes at its end are punctuation after
   * the address ("。", "”"), not part of it */
  uint32_t e = a + 1, last_dot = 0, lim = c->len - e > 255 ? e + 255 : (uint32_t)c->len;
  while (e < lim && (dom_char(t[e]) || (t[e] == '.' && e + 1 < c->len && dom_char(t[e + 1]))))
    e++;
  while (e > a + 1 && (unsigned char)t[e - 1] >= 0x80) e--;
  for (uint32_t k = e; k > a + 1 && !last_dot; k--)
    if (t[k - 1] == '.') last_dot = k - 1;
  if (!last_dot || last_dot == a + 1 || t[last_dot - 1] == '.') return;
  uint32_t tld = e - last_dot - 1;
  if (tld < 2 || tld > 24) return;
  for (uint32_t k = last_dot + 1; k < e; k++)
    if (!isalpha((unsigned char)t[k])) return;
  /* a repository's SSH address, "git@github.com:torvalds/linux.git": the
   * forges' shared account, no one's mailbox */
  if (a - s == 3 && !memcmp(t + s, "git", 3) && e + 1 < c->len && t[e] == ':' &&
      (isalnum((unsigned char)t[e + 1]) || t[e + 1] == '/' || t[e + 1] == '~'))
    return;
  sl__cands_add(c->out, s, e, SL_ET_EMAIL_ADDRESS, "email", 50);
}

/* A network, not a host: an address followed by a CIDR prefix shorter than a
 * single host's ("10.20.0.0/16", "2001:db8::/48"). */
static bool cidr_block(const sl__ctx_t *c, uint32_t end, unsigned host_bits) {
  const char *t = c->text;
  if (end + 1 >= c->len || t[end] != '/' || !isdigit((unsigned char)t[end + 1])) return false;
  unsigned bits = 0, k = end + 1;
  while (k < c->len && k - end <= 3 && isdigit((unsigned char)t[k])) bits = bits * 10 + (unsigned)(t[k++] - '0');
  return (k == c->len || !isalnum((unsigned char)t[k])) && bits < host_bits;
}

/* Addresses that name no one: the wildcard, loopback and broadcast addresses,
 * netmasks (255.255.255.240) and the public DNS resolvers everyone types
 * ("ping 8.8.8.8", "DNS is set to 1.1.1.1"). (The documentation ranges of RFC
 * 5737 stay addresses: log excerpts and tickets use them in place of real
 * ones.) */
static bool ipv4_nobody(const char *t, size_t n) {
  static const uint32_t resolvers[] = {
      0x08080808, 0x08080404, /* Google */ 0x01010101, 0x01000001, /* Cloudflare */
      0x09090909, 0x95707070, /* Quad9 */ 0xD043DEDE, 0xD043DCDC, /* OpenDNS */
  };
  unsigned o[4] = {0}, k = 0;
  for (size_t i = 0; i < n && k < 4; i++)
    if (t[i] == '.') k++;
    else o[k] = o[k] * 10 + (unsigned)(t[i] - '0');
  uint32_t v = o[0] << 24 | o[1] << 16 | o[2] << 8 | o[3];
  if (v == 0 || o[0] == 127 || v == 0xFFFFFFFFu) return true;
  for (size_t i = 0; i < sizeof resolvers / sizeof *resolvers; i++)
    if (v == resolvers[i]) return true;
  return o[0] == 255 && (~v & (~v + 1)) == 0; /* ones, then zeros: a netmask */
}

static void url(sl__ctx_t *c, const sl__hit_t *h) {
  const char *t = c->text;
  uint32_t s = h->start, e = h->end; /* "://" */
  while (s > 0 && isalpha((unsigned char)t[s - 1]) && h->start - s < 10) s--;
  if (s == h->start) return;
  if (strncasecmp(t + s, "http", 4) && strncasecmp(t + s, "ftp", 3)) return;
  while (e < c->len && !isspace((unsigned char)t[e]) && !strchr("'\"<>()`", t[e]) && e - s < 2048) e++;
  while (e > h->end && strchr(".,;:!?", t[e - 1])) e--;
  if (e - h->end < 3) return;
  /* Webhook URLs carry their secret in the path (Discord, Teams, Zapier, …): the
   * whole URL is the credential when a path segment looks like key material. */
  char low[512];
  size_t ln = sl__lower_copy(t + s, e - s, low, sizeof low);
  if (sl__find(low, ln, "webhook", 7) || sl__find(low, ln, "hooks.", 6) || sl__find(low, ln, "/hooks/", 7)) {
    uint32_t seg = h->end;
    for (uint32_t k = h->end; k <= e; k++) {
      if (k == e || t[k] == '/' || t[k] == '?' || t[k] == '&' || t[k] == '=') {
        if (k - seg >= 16 && sl__looks_random(t + seg, k - seg, false) && sl__count_digits(t + seg, k - seg)) {
          sl__cands_add(c->out, s, e, SL_ET_API_KEY, "webhook_url", 70);
          return;
        }
        seg = k + 1;
      }
    }
  }
  /* A device's access token in a telemetry API's path (ThingsBoard:
   * /api/v1/<token>/telemetry, .../attributes, .../rpc, .../claim). */
  const char *api = sl__find(low, ln, "/api/v1/", 8);
  if (api) {
    size_t a = (size_t)(api - low) + 8, b = a;
    while (b < ln && low[b] != '/' && low[b] != '?') b++;
    static const char *const tails[] = {"/telemetry", "/attributes", "/rpc", "/claim", NULL};
    bool tail = false;
    for (const char *const *x = tails; *x && !tail; x++)
      tail = ln - b >= strlen(*x) && !memcmp(low + b, *x, strlen(*x));
    if (tail && b - a >= 16 && b - a <= 64 && sl__looks_random(t + s + a, b - a, false) &&
        sl__count_digits(t + s + a, b - a)) {
      sl__cands_add(c->out, s, e, SL_ET_API_KEY, "device_token_url", 70);
      return;
    }
  }
  sl__cands_add(c->out, s, e, SL_ET_URL, "url", 5);
}

/* Reads `n` ASCII digits (1..max) at *p; false if there are none. */
static bool digits_at(const char *t, uint32_t len, uint32_t *p, unsigned max) {
  uint32_t s = *p;
  while (*p < len && *p - s < max && isdigit((unsigned char)t[*p])) (*p)++;
  return *p > s;
}

/* Is one of the UTF-8 strings in `alts` (NULL-terminated) at *p? Steps over it. */
static bool utf8_at(const char *t, uint32_t len, uint32_t *p, const char *const *alts) {
  for (const char *const *a = alts; *a; a++) {
    size_t m = strlen(*a);
    if (*p + m <= len && !memcmp(t + *p, *a, m)) {
      *p += (uint32_t)m;
      return true;
    }
  }
  return false;
}

/* A date of birth written the CJK way after its label: "生年月日：1990年4月12日",
 * "생년월일: 1990년 4월 12일". */
static void cjk_birth_date(sl__ctx_t *c, const sl__hit_t *h) {
  static const char *const year[] = {"\xe5\xb9\xb4", "\xeb\x85\x84", NULL}; /* 年 년 */
  static const char *const month[] = {"\xe6\x9c\x88", "\xec\x9b\x94", NULL}; /* 月 월 */
  static const char *const day[] = {"\xe6\x97\xa5", "\xec\x9d\xbc", NULL}; /* 日 일 */
  const char *t = c->text;
  uint32_t len = (uint32_t)c->len, p = h->end, lim = h->end + 12 < len ? h->end + 12 : len;
  while (p < lim && !isdigit((unsigned char)t[p])) p++;
  uint32_t s = p;
  if (!digits_at(t, len, &p, 4) || p - s != 4 || !utf8_at(t, len, &p, year)) return;
  if (p < len && t[p] == ' ') p++;
  if (!digits_at(t, len, &p, 2) || !utf8_at(t, len, &p, month)) return;
  if (p < len && t[p] == ' ') p++;
  if (!digits_at(t, len, &p, 2) || !utf8_at(t, len, &p, day)) return;
  sl__cands_add(c->out, s, p, SL_ET_DATE_OF_BIRTH, "date_of_birth", 45);
}

void sl__detect_pii(sl__ctx_t *c) {
  /* index the DOB and SSN cues first */
  size_t nc[2] = {0};
  for (size_t i = 0; i < c->hits->n; i++) {
    nc[0] += c->hits->v[i].id == SL_P_CUE_DOB;
    nc[1] += c->hits->v[i].id == SL_P_CUE_SSN;
  }
  cue_index_t cues[2] = {{0}};
  enum { SMALL = 32 }; /* typical prompts: no allocation */
  uint32_t small[2][2][SMALL];
  for (int k = 0; k < 2; k++) {
    if (!nc[k]) continue;
    if (nc[k] <= SMALL) {
      cues[k].start = small[k][0];
      cues[k].end = small[k][1];
      continue;
    }
    cues[k].start = malloc(nc[k] * sizeof(uint32_t));
    cues[k].end = malloc(nc[k] * sizeof(uint32_t));
    if (!cues[k].start || !cues[k].end) {
      free(cues[k].start);
      free(cues[k].end);
      if (k == 1 && nc[0] > SMALL) {
        free(cues[0].start);
        free(cues[0].end);
      }
      c->out->err = SL_ENOMEM; /* fail closed */
      return;
    }
  }
  for (size_t i = 0; i < c->hits->n; i++) {
    const sl__hit_t *h = &c->hits->v[i];
    int k = h->id == SL_P_CUE_DOB ? 0 : h->id == SL_P_CUE_SSN ? 1 : -1;
    if (k < 0) continue;
    cues[k].start[cues[k].n] = h->start;
    cues[k].end[cues[k].n++] = h->end;
  }
  for (int k = 0; k < 2; k++) {
    if (cues[k].n > 1) {
      qsort(cues[k].start, cues[k].n, sizeof(uint32_t), cmp_u32);
      qsort(cues[k].end, cues[k].n, sizeof(uint32_t), cmp_u32);
    }
  }
  c->cues = cues;
  for (size_t i = 0; i < c->hits->n; i++) {
    const sl__hit_t *h = &c->hits->v[i];
    const char *t = c->text + h->start;
    size_t n = h->end - h->start;
    switch (h->id) {
      case SL_P_EMAIL: email(c, h); break;
      case SL_P_CUE_DOB:
        if ((unsigned char)c->text[h->start] >= 0xE0) cjk_birth_date(c, h);
        break;
      case SL_P_URL: url(c, h); break;
      case SL_P_PHONE: phone(c, h, false); break;
      case SL_P_PHONE_INTL: phone(c, h, true); break;
      case SL_P_DIGITS: digits_run(c, h); break;
      case SL_P_CARD_GROUPED: case SL_P_CARD_SLASH: case SL_P_CARD_SPACED: card(c, h); break;
      case SL_P_SSN: ssn(c, h); break;
      case SL_P_IBAN:
        /* the class walk may take in a word before the code ("IBAN GB82 ..."):
         * try each word start */
        for (uint32_t s = h->start; s + 4 <= h->end; s++) {
          if ((s > h->start && c->text[s - 1] != ' ') || !isupper((unsigned char)c->text[s])) continue;
          /* read on: letters/digits in groups of one space, up to the country's length */
          int want = sl__iban_len(c->text + s), got = 0;
          uint32_t e = s;
          while (e < c->len && got < (want ? want : 34)) {
            char ch = c->text[e];
            if (isupper((unsigned char)ch) || isdigit((unsigned char)ch)) got++, e++;
            else if (ch == ' ' && e + 1 < c->len && isalnum((unsigned char)c->text[e + 1]) && e > s)
              e++;
            else
              break;
          }
          if (e < c->len && isalnum((unsigned char)c->text[e]) && !want) continue;
          if (sl__iban_ok(c->text + s, e - s)) {
            sl__cands_add(c->out, s, e, SL_ET_IBAN_CODE, "iban", 60);
            break;
          }
        }
        (void)t, (void)n;
        break;
      case SL_P_IPV4:
        if (n <= 15 && sl__ipv4_ok(t, n) && !decimal_context(c, h->start, h->end) &&
            !ipv4_nobody(t, n) && !cidr_block(c, h->end, 32) && !version_before(c, h->start))
          sl__cands_add(c->out, h->start, h->end, SL_ET_IP_ADDRESS, "ip_address", 40);
        break;
      case SL_P_IPV6: {
        /* trim a trailing ':' picked up from prose ("address fe80::1:") */
        uint32_t e = h->end;
        while (e > h->start && c->text[e - 1] == ':' && !(e - h->start >= 2 && c->text[e - 2] == ':'))
          e--;
        /* not the tail of a word or a path: "HmacSha256::new" */
        bool glued = h->start > 0 && (sl__alnum((unsigned char)c->text[h->start - 1]) ||
                                      c->text[h->start - 1] == '_');
        if (!glued && sl__ipv6_ok(c->text + h->start, e - h->start) && !cidr_block(c, e, 128))
          sl__cands_add(c->out, h->start, e, SL_ET_IP_ADDRESS, "ip_address", 40);
        break;
      }
      case SL_P_DATE_NUM:
      case SL_P_DATE_ISO:
      case SL_P_DATE_TEXT:
      case SL_P_DATE_TEXT2: date(c, h); break;
      case SL_P_CUE_PASSPORT:
      case SL_P_CUE_DL:
      case SL_P_CUE_MEDICAL:
      case SL_P_CUE_BANK:
      case SL_P_CUE_NATID:
      case SL_P_CUE_SSN: cue_id(c, h); break;
      case SL_P_CRYPTO_BTC:
      case SL_P_CRYPTO_ETH: crypto(c, h); break;
      default: break;
    }
  }
  for (int k = 0; k < 2; k++) {
    if (nc[k] <= SMALL) continue;
    free(cues[k].start);
    free(cues[k].end);
  }
  c->cues = NULL;
}

/* Identifiers told by their shape alone (sl__detect_id_shapes): UK ones, in one token or in groups split
 * by single spaces on one line: a National Insurance number ("QQ 12 34 56 C",
 * "AZ 123456 A", "AZ123456A": two letters of the allowed prefixes, six
 * digits, a letter A-D) and a DVLA driving licence number ("MORGA753116SM9IJ
 * 01", "MORGA 753116 SM91J 01": five letters of the surname, 9 for a short
 * one, six digits of the birth date with the month's tens 0, 1, 5 or 6, two
 * initials, a digit, two check letters, maybe the issue's two digits). */
static bool nino_ok(const char *b, size_t n) {
  if (n != 9 || !isdigit((unsigned char)b[2]) || b[8] < 'A' || b[8] > 'D') return false;
  for (int i = 2; i < 8; i++)
    if (!isdigit((unsigned char)b[i])) return false;
  static const char bad_first[] = "DFIQUV", bad_second[] = "DFIOQUV";
  if (!isupper((unsigned char)b[0]) || !isupper((unsigned char)b[1]) || strchr(bad_first, b[0]) ||
      strchr(bad_second, b[1]))
    return false;
  static const char *const unused[] = {"BG", "GB", "NK", "KN", "TN", "NT", "ZZ", NULL};
  for (const char *const *u = unused; *u; u++)
    if (b[0] == (*u)[0] && b[1] == (*u)[1]) return false;
  return true;
}

static bool dvla_ok(const char *b, size_t n) {
  if (n != 16 && n != 18) return false;
  if (!isupper((unsigned char)b[0])) return false;
  for (int i = 0; i < 5; i++)
    if (!isupper((unsigned char)b[i]) && b[i] != '9') return false;
  for (int i = 5; i < 11; i++)
    if (!isdigit((unsigned char)b[i])) return false;
  if (!strchr("0156", b[6]) || b[8] > '3') return false;
  for (int i = 11; i < 13; i++)
    if (!isupper((unsigned char)b[i]) && b[i] != '9') return false;
  if (!isdigit((unsigned char)b[13]) || !isalnum((unsigned char)b[14]) || !isalnum((unsigned char)b[15]))
    return false;
  return n == 16 || (isdigit((unsigned char)b[16]) && isdigit((unsigned char)b[17]));
}

/* A Korean resident registration number, "730428-2345678": a birth date
 * (YYMMDD), a dash, seven digits whose first says the century and sex (1-8). */
static bool korean_rrn(const sl__ctx_t *c, const sl__toks_t *T, size_t i) {
  const char *t = c->text;
  const sl__tok_t *u = &T->v[i], *v = &T->v[i + 1];
  if (u->e - u->s != 6 || v->kind != SL_TK_NUM || v->e - v->s != 7 || v->s != u->e + 1 || t[u->e] != '-' ||
      v->nl_before)
    return false;
  if ((u->s > 0 && (isalnum((unsigned char)t[u->s - 1]) || t[u->s - 1] == '-')) ||
      (v->e < c->len && (isalnum((unsigned char)t[v->e]) || t[v->e] == '-')))
    return false;
  int mm = (t[u->s + 2] - '0') * 10 + (t[u->s + 3] - '0'), dd = (t[u->s + 4] - '0') * 10 + (t[u->s + 5] - '0');
  return mm >= 1 && mm <= 12 && dd >= 1 && dd <= 31 && t[v->s] >= '1' && t[v->s] <= '8';
}

/* A Swedish personal identity number ending at token i: (YY)YYMMDD, a dash,
 * four digits, the last of them the Luhn check over the ten ("19850212-2388";
 * a coordination number adds 60 to the day). */
static bool swedish_pnr(const sl__ctx_t *c, const sl__toks_t *T, size_t i) {
  const char *t = c->text;
  const sl__tok_t *u = &T->v[i], *p = &T->v[i - 1];
  size_t pn = p->e - p->s;
  if (p->kind != SL_TK_NUM || (pn != 6 && pn != 8) || u->s != p->e + 1 || t[p->e] != '-' || u->nl_before ||
      (p->s > 0 && (isalnum((unsigned char)t[p->s - 1]) || t[p->s - 1] == '-')) ||
      (u->e < c->len && (isalnum((unsigned char)t[u->e]) || t[u->e] == '-')))
    return false;
  char d[10];
  memcpy(d, t + p->e - 6, 6);
  memcpy(d + 6, t + u->s, 4);
  int mm = (d[2] - '0') * 10 + (d[3] - '0'), dd = (d[4] - '0') * 10 + (d[5] - '0');
  if (mm < 1 || mm > 12 || !((dd >= 1 && dd <= 31) || (dd >= 61 && dd <= 91))) return false;
  if (pn == 8 && !(t[p->s] == '1' && (t[p->s + 1] == '8' || t[p->s + 1] == '9')) &&
      !(t[p->s] == '2' && t[p->s + 1] == '0'))
    return false;
  int sum = 0;
  for (int k = 0; k < 10; k++) {
    int v = (d[k] - '0') * (k % 2 ? 1 : 2);
    sum += v > 9 ? v - 9 : v;
  }
  return sum % 10 == 0;
}

void sl__detect_id_shapes(sl__ctx_t *c, const sl__toks_t *T) {
  const char *t = c->text;
  /* the numbers of six digits, and of four after a dash (the tokenizer listed
   * the short numbers) */
  for (size_t q = 0; q < T->n_addr; q++) {
    size_t i = T->sel_addr[q];
    const sl__tok_t *u = &T->v[i];
    if (u->kind == SL_TK_NUM && u->e - u->s == 6 && i + 1 < T->n && korean_rrn(c, T, i))
      sl__cands_add(c->out, u->s, T->v[i + 1].e, SL_ET_NATIONAL_ID, "kr_rrn", 60);
    else if (u->kind == SL_TK_NUM && u->e - u->s == 4 && i > 0 && swedish_pnr(c, T, i))
      sl__cands_add(c->out, T->v[i - 1].s, u->e, SL_ET_NATIONAL_ID, "se_personnummer", 60);
  }
  /* the words in capitals and long runs of letters and digits (listed too) */
  size_t past = 0; /* tokens before this are inside an identifier found */
  for (size_t q = 0; q < T->n_caps; q++) {
    size_t i = T->sel_caps[q];
    const sl__tok_t *u = &T->v[i];
    /* an IBAN in lower case, its check digits proving it ("be89001448271935";
     * the scan for IBANs reads capitals) */
    size_t len = u->e - u->s;
    if (u->kind == SL_TK_ALNUM && len >= 15 && len <= 34 && islower((unsigned char)t[u->s]) &&
        isalpha((unsigned char)t[u->s + 1]) && isdigit((unsigned char)t[u->s + 2]) &&
        isdigit((unsigned char)t[u->s + 3])) {
      char up[35];
      for (size_t k = 0; k < len; k++) up[k] = (char)toupper((unsigned char)t[u->s + k]);
      if (sl__iban_ok(up, len)) sl__cands_add(c->out, u->s, u->e, SL_ET_IBAN_CODE, "iban", 60);
      continue;
    }
    if (i < past || !isupper((unsigned char)t[u->s]) || u->e - u->s > 18 ||
        (u->s > 0 && isalnum((unsigned char)t[u->s - 1])))
      continue;
    /* an Italian codice fiscale, its check letter proving it ("CF: SPSMRC78S23F839Z") */
    if (len == 16 && sl__codice_fiscale_ok(t + u->s, len) && (u->e == c->len || !isalnum((unsigned char)t[u->e]))) {
      sl__cands_add(c->out, u->s, u->e, SL_ET_NATIONAL_ID, "it_codice_fiscale", 60);
      continue;
    }
    char b[20];
    size_t n = 0;
    for (size_t k = i; k < T->n && k < i + 6; k++) {
      const sl__tok_t *w = &T->v[k];
      if (k > i && (w->nl_before || w->s != T->v[k - 1].e + 1 || t[w->s - 1] != ' ')) break;
      if (n + (w->e - w->s) > 18) break;
      bool upper = true;
      for (uint32_t r = w->s; r < w->e; r++)
        upper &= isupper((unsigned char)t[r]) || isdigit((unsigned char)t[r]);
      if (!upper) break;
      memcpy(b + n, t + w->s, w->e - w->s);
      n += w->e - w->s;
      if (w->e < c->len && isalnum((unsigned char)t[w->e])) break; /* glued to more */
      /* (one token alone only after a cue, which cue_id reads: "part AB123456C") */
      if (k > i && nino_ok(b, n)) {
        sl__cands_add(c->out, u->s, w->e, SL_ET_NATIONAL_ID, "uk_nino", 60);
        past = k + 1;
        break;
      }
      /* (the issue's number may follow: "MORGA753116SM9IJ 01") */
      bool issue = n == 16 && k + 1 < T->n && !T->v[k + 1].nl_before && T->v[k + 1].s == w->e + 1 &&
                   T->v[k + 1].kind == SL_TK_NUM && T->v[k + 1].e - T->v[k + 1].s == 2;
      if (dvla_ok(b, n) && !issue) {
        sl__cands_add(c->out, u->s, w->e, SL_ET_US_DRIVER_LICENSE, "uk_driving_licence", 60);
        past = k + 1;
        break;
      }
    }
  }
}

/* HL7 v2 messages, as hospital systems exchange them: in a patient's PID
 * segment (and a next of kin's NK1) the fields hold the identifiers (PID-3),
 * the name (PID-5, "FAMILY^GIVEN"), the birth date (PID-7), the address
 * (PID-11), phones (PID-13, PID-14) and the SSN (PID-19), in order, split by
 * '|' with components split by '^'. The segment starts a line ('\r' or '\n'
 * ends segments). */
static bool has_alnum(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (isalnum((unsigned char)s[i])) return true;
  return false;
}

static void hl7_segment(sl__ctx_t *c, uint32_t s, bool kin) {
  const char *t = c->text;
  uint32_t end = s;
  while (end < c->len && t[end] != '\r' && t[end] != '\n') end++;
  uint32_t f = s + 4; /* past "PID|" */
  for (int field = 1; field <= 19 && f <= end; field++) {
    uint32_t fe = f;
    while (fe < end && t[fe] != '|') fe++;
    size_t n = fe - f;
    if (n && has_alnum(t + f, n)) {
      int type = -1;
      const char *det = "hl7";
      if (kin) {
        if (field == 2) type = SL_ET_PERSON;
        else if (field == 4) type = SL_ET_STREET_ADDRESS;
        else if (field == 5 || field == 6) type = SL_ET_PHONE_NUMBER;
      } else if (field == 3 || field == 2 || field == 4) {
        /* the first identifier, up to its components */
        uint32_t ie = f;
        while (ie < fe && t[ie] != '^' && t[ie] != '~') ie++;
        if (ie > f) sl__cands_add(c->out, f, ie, SL_ET_MEDICAL_RECORD, det, 60);
      } else if (field == 5 || field == 6) {
        type = SL_ET_PERSON;
      } else if (field == 7 && n >= 8 && isdigit((unsigned char)t[f])) {
        type = SL_ET_DATE_OF_BIRTH;
        n = 8;
      } else if (field == 11) {
        type = SL_ET_STREET_ADDRESS;
      } else if (field == 13 || field == 14) {
        type = SL_ET_PHONE_NUMBER;
      } else if (field == 19) {
        type = SL_ET_US_SSN;
      }
      if (type >= 0) sl__cands_add(c->out, f, f + (uint32_t)n, type, det, 60);
    }
    f = fe + 1;
  }
}

void sl__detect_hl7(sl__ctx_t *c) {
  const char *t = c->text;
  /* at each '|' (memchr is fast; memmem per segment name was not): a segment
   * name before it, at a line's start */
  for (const char *p = t + 3; p < t + c->len && (p = memchr(p, '|', c->len - (size_t)(p - t))); p++) {
    const char *q = p - 3;
    if ((q == t || q[-1] == '\r' || q[-1] == '\n') && (!memcmp(q, "PID", 3) || !memcmp(q, "NK1", 3)))
      hl7_segment(c, (uint32_t)(q - t), *q == 'N');
  }
}

/* SQL's INSERT with a column list: a value goes with its column's name
 * ("INSERT INTO customers (first_name, last_name, birth_date) VALUES ('John',
 * 'Smith', '1990-01-01')"): quoted values under a person's name columns are
 * names, under a birth date's the date of birth, under an address's the
 * address (a value the shape rules find anyway keeps their finding). Up to 32
 * columns and 64 rows per statement. */
static int column_type(const char *w, size_t n) {
  static const char *const person[] = {"first_name", "firstname", "given_name", "fname", "last_name",
                                       "lastname", "surname", "family_name", "lname", "full_name",
                                       "fullname", "customer_name", "patient_name", "employee_name",
                                       "middle_name", "contact_name", NULL};
  static const char *const dob[] = {"birth_date", "birthdate", "dob", "date_of_birth", "birthday", NULL};
  static const char *const addr[] = {"address", "street", "address1", "address_line1", "street_address",
                                     "home_address", "addr", NULL};
  if (sl__word_in(w, n, person)) return SL_ET_PERSON;
  if (sl__word_in(w, n, dob)) return SL_ET_DATE_OF_BIRTH;
  if (sl__word_in(w, n, addr)) return SL_ET_STREET_ADDRESS;
  return -1;
}

/* Values that stand in for one: SQL's NULL and DEFAULT, a column's own name. */
static const char *const sql_stand_ins[] = {"null", "default", "address", "name", "street", "first", "last",
                                            "test", "foo", "bar", "example", "string", "value", "text", NULL};

static size_t skip_ws(const char *t, size_t i, size_t n) {
  while (i < n && isspace((unsigned char)t[i])) i++;
  return i;
}

void sl__detect_sql_values(sl__ctx_t *c) {
  const char *t = c->text;
  size_t n = c->len;
  for (const char *p = t; (p = memchr(p, '(', n - (size_t)(p - t))); p++) {
    /* "INSERT INTO name (" before the column list */
    size_t i = (size_t)(p - t);
    if (i < 12) continue;
    size_t k = i;
    while (k > 0 && isspace((unsigned char)t[k - 1])) k--;
    while (k > 0 && (isalnum((unsigned char)t[k - 1]) || strchr("_.`\"[]", t[k - 1]))) k--;
    while (k > 0 && isspace((unsigned char)t[k - 1])) k--;
    if (k < 11 || strncasecmp(t + k - 4, "into", 4) || !isspace((unsigned char)t[k - 5])) continue;
    size_t q = k - 5;
    while (q > 0 && isspace((unsigned char)t[q - 1])) q--;
    if (q < 6 || strncasecmp(t + q - 6, "insert", 6)) continue;
    /* the columns */
    int type[32];
    size_t ncol = 0;
    i++;
    bool any = false;
    while (i < n && ncol < 32) {
      i = skip_ws(t, i, n);
      if (i < n && strchr("`\"[", t[i])) i++;
      size_t s = i;
      while (i < n && (isalnum((unsigned char)t[i]) || t[i] == '_')) i++;
      if (i == s) break;
      char low[40];
      size_t m = sl__lower_copy(t + s, i - s, low, sizeof low);
      type[ncol] = column_type(low, m);
      any |= type[ncol] >= 0;
      ncol++;
      if (i < n && strchr("`\"]", t[i])) i++;
      i = skip_ws(t, i, n);
      if (i < n && t[i] == ',') {
        i++;
        continue;
      }
      break;
    }
    if (!any || i >= n || t[i] != ')') continue;
    i = skip_ws(t, i + 1, n);
    if (i + 6 > n || strncasecmp(t + i, "values", 6)) continue;
    i += 6;
    /* the rows */
    for (int row = 0; row < 64; row++) {
      i = skip_ws(t, i, n);
      if (i >= n || t[i] != '(') break;
      i++;
      for (size_t col = 0; col < ncol; col++) {
        i = skip_ws(t, i, n);
        size_t vs = i, ve = i;
        bool quoted = i < n && (t[i] == '\'' || t[i] == '"');
        if (quoted) {
          char quote = t[i++];
          vs = i;
          while (i < n && t[i] != quote && i - vs < 256) i++;
          ve = i;
          if (i < n && t[i] == quote) i++;
        } else {
          while (i < n && t[i] != ',' && t[i] != ')' && i - vs < 256) i++;
          ve = i;
        }
        /* a value of letters, or a date for a birth date; not a placeholder */
        /* (string literals only: ":name", "?", "$1" and NULL are parameters or none) */
        if (quoted && type[col] >= 0 && ve > vs && ve - vs <= 128 && has_alnum(t + vs, ve - vs) &&
            !sl__is_placeholder(t + vs, ve - vs) && !sl__word_in(t + vs, ve - vs, sql_stand_ins))
          sl__cands_add(c->out, (uint32_t)vs, (uint32_t)ve, type[col], "sql_value", 45);
        i = skip_ws(t, i, n);
        if (i < n && t[i] == ',') i++;
      }
      while (i < n && t[i] != ')') i++;
      if (i < n) i++;
      i = skip_ws(t, i, n);
      if (i < n && t[i] == ',') i++;
      else break;
    }
  }
}
