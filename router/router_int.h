/* The router's internals, shared by its own files only: entity types, the
 * candidate list the detectors fill, the compiled router, and the helpers each
 * detector file exports. Nothing here is for the gateway (see router.h). */
#ifndef SL_ROUTER_INT_H
#define SL_ROUTER_INT_H

#include "router.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__SSE2__)
#include <immintrin.h>
#endif

/* 32 bytes of text as a vector (GCC vector extensions; any alignment), and the
 * top bit of each byte of a comparison's result as a 32-bit mask. */
typedef unsigned char u8x32 __attribute__((vector_size(32), aligned(1)));
typedef signed char s8x32 __attribute__((vector_size(32)));

static inline uint32_t sl__movemask32(s8x32 x) {
#if defined(__AVX2__)
  return (uint32_t)_mm256_movemask_epi8((__m256i)x);
#elif defined(__SSE2__)
  __m128i lo, hi;
  memcpy(&lo, &x, 16);
  memcpy(&hi, (const char *)&x + 16, 16);
  return (uint32_t)_mm_movemask_epi8(lo) | ((uint32_t)_mm_movemask_epi8(hi) << 16);
#else
  uint32_t m = 0;
  for (int i = 0; i < 32; i++) m |= (uint32_t)(x[i] < 0) << i;
  return m;
#endif
}

/* Built-in entity types. Names follow INTERFACE.md (Presidio's where one exists). */
#define SL_ETYPE_MAP(X)                                  \
  X(EMAIL_ADDRESS, SL_LEVEL_CONFIDENTIAL)                \
  X(PHONE_NUMBER, SL_LEVEL_CONFIDENTIAL)                 \
  X(CREDIT_CARD, SL_LEVEL_RESTRICTED)                    \
  X(IBAN_CODE, SL_LEVEL_RESTRICTED)                      \
  X(BANK_ACCOUNT, SL_LEVEL_RESTRICTED)                   \
  X(US_SSN, SL_LEVEL_RESTRICTED)                         \
  X(US_PASSPORT, SL_LEVEL_RESTRICTED)                    \
  X(US_DRIVER_LICENSE, SL_LEVEL_RESTRICTED)              \
  X(NATIONAL_ID, SL_LEVEL_RESTRICTED)                    \
  X(MEDICAL_LICENSE, SL_LEVEL_CONFIDENTIAL)              \
  X(MEDICAL_RECORD, SL_LEVEL_CONFIDENTIAL)               \
  X(IP_ADDRESS, SL_LEVEL_CONFIDENTIAL)                   \
  X(PERSON, SL_LEVEL_CONFIDENTIAL)                       \
  X(STREET_ADDRESS, SL_LEVEL_CONFIDENTIAL)               \
  X(LOCATION, SL_LEVEL_INTERNAL)                         \
  X(DATE_OF_BIRTH, SL_LEVEL_CONFIDENTIAL)                \
  X(DATE_TIME, SL_LEVEL_INTERNAL)                        \
  X(URL, SL_LEVEL_INTERNAL)                              \
  X(CRYPTO, SL_LEVEL_RESTRICTED)                         \
  X(API_KEY, SL_LEVEL_RESTRICTED)                        \
  X(PRIVATE_KEY, SL_LEVEL_RESTRICTED)                    \
  X(PASSWORD, SL_LEVEL_RESTRICTED)                       \
  X(JWT, SL_LEVEL_RESTRICTED)                            \
  X(CLOUD_CREDENTIAL, SL_LEVEL_RESTRICTED)

typedef enum {
#define SL_ET_ENUM(name, lvl) SL_ET_##name,
  SL_ETYPE_MAP(SL_ET_ENUM)
#undef SL_ET_ENUM
  SL_ET__COUNT,
  SL_ET_CUSTOM = 1000 /* custom detectors: SL_ET_CUSTOM + index */
} sl_etype_t;

const char *sl__etype_name(int t);
sl_level_t sl__etype_default_level(int t);

/* Limits: every input and growable list has a ceiling; hitting one is an error,
 * and an error classifies the request as restricted (fail closed). */
#define SL_ROUTER_MAX_TEXT ((size_t)64 << 20)
#define SL_ROUTER_MAX_CANDS 200000u
#define SL_ROUTER_MAX_CUSTOM 256u

/* One finding before overlap resolution. `prio` decides overlaps: higher wins. */
typedef struct {
  uint32_t start, end;
  int type;             /* sl_etype_t or SL_ET_CUSTOM + i */
  const char *detector; /* static */
  int16_t prio;
  bool demoted;         /* a vendor's documented example value (same level, own detector name) */
} sl__cand_t;

typedef struct {
  sl__cand_t *v;
  size_t n, cap;
  int err; /* sticky: first failure (SL_ENOMEM / SL_ETOOBIG) */
} sl__cands_t;

void sl__cands_add(sl__cands_t *c, uint32_t s, uint32_t e, int type, const char *det, int prio);

/* Raw matches of the multi-pattern pass, kept per pattern id (leftmost-longest). */
typedef struct {
  uint32_t start, end;
  uint16_t id;
} sl__hit_t;

#define SL_DIFF_GROUPS 16
typedef struct {
  sl__hit_t *v;
  size_t n, cap;
  int err;
  uint32_t last_idx[128]; /* per pattern: index+1 of its last hit, for merging */
  int cue_cnt[SL_DIFF_GROUPS]; /* difficulty cue words per group, counted in the same pass */
} sl__hits_t;

/* The compiled Hyperscan databases (the whole-text literal pass and the small
 * windowed ones: numeric shapes, textual dates, IPv6) and their scratch pool (scan.c). */
typedef struct sl__scan sl__scan_t;
sl__scan_t *sl__scan_create(char *err, size_t errlen);
void sl__scan_free(sl__scan_t *s);
/* Runs the multi-pattern passes over text into hits (and the difficulty cue
 * counts). 0 or SL_E*. */
int sl__scan_run(const sl__scan_t *s, const char *text, size_t len, sl__hits_t *hits);

/* Pattern ids of the multi-pattern pass (scan.c's table is indexed by these). */
enum {
  SL_P_EMAIL, SL_P_URL_CRED, SL_P_URL, SL_P_PHONE, SL_P_PHONE_INTL, SL_P_DIGITS, SL_P_CARD_GROUPED,
  SL_P_CARD_SLASH, SL_P_CARD_SPACED, SL_P_SSN, SL_P_IBAN, SL_P_IPV4, SL_P_IPV6, SL_P_DATE_NUM,
  SL_P_DATE_ISO, SL_P_DATE_TEXT,
  SL_P_DATE_TEXT2,
  SL_P_CUE_DOB, SL_P_CUE_PASSPORT, SL_P_CUE_DL, SL_P_CUE_MEDICAL, SL_P_CUE_BANK,
  SL_P_CUE_NATID, SL_P_CUE_SSN,
  SL_P_AWS_AKID, SL_P_GCP_SA, SL_P_GOOGLE_KEY, SL_P_GOOGLE_OAUTH, SL_P_AZURE_KEY,
  SL_P_AZURE_SECRET, SL_P_GITHUB, SL_P_GITLAB, SL_P_SLACK, SL_P_SLACK_HOOK, SL_P_STRIPE,
  SL_P_OPENAI, SL_P_ANTHROPIC, SL_P_VENDOR, SL_P_PRIVKEY, SL_P_PRIVKEY_B64, SL_P_JWT,
  SL_P_BASIC_AUTH, SL_P_BEARER, SL_P_PWHASH, SL_P_PW_CUE, SL_P_KEY_CUE,
  SL_P_CRYPTO_BTC, SL_P_CRYPTO_ETH, SL_P_NETRC, SL_P_CLI_PW, SL_P_CLIENT_KEY, SL_P_PEM_PUBLIC, SL_P_CUE_NAME2, SL_P_CUE_NAME1,
  SL_P_CUE_ADDR, SL_P_CONNECT, SL_P_LOWER_CUE, SL_P_LOWER_SEND, SL_P_LOWER_VERB,
  SL_P_OTP_CUE,
  SL_P__COUNT
};

/* <ctype.h>'s classes in the C locale (the router never sets another), without
 * the call to __ctype_b_loc that isalnum() and friends make per byte. */
static inline bool sl__alnum(unsigned char c) {
  return (unsigned)(c - '0') < 10u || (unsigned)((c | 32) - 'a') < 26u;
}
static inline bool sl__alpha(unsigned char c) { return (unsigned)((c | 32) - 'a') < 26u; }
static inline bool sl__space(unsigned char c) { return c == ' ' || (unsigned)(c - '\t') < 5u; }

/* Validators (validate.c): pure functions over bytes. */
bool sl__luhn(const char *s, size_t n);
bool sl__iban_ok(const char *s, size_t n);
bool sl__codice_fiscale_ok(const char *s, size_t n); /* 16 capitals and digits, check letter */
int sl__iban_len(const char *cc); /* registry length for a country code, 0 if unknown */
bool sl__ssn_ok(const char *s, size_t n);
/* One of the widely published example numbers (078-05-1120, 219-09-9999, 123-45-6789). */
bool sl__ssn_published(const char *s, size_t n);
bool sl__aba_ok(const char *s, size_t n); /* US bank routing number: 9 digits, 3-7-1 check */
/* The characters after a GitHub token's prefix (ghp_ …; 36 today) end in the
 * CRC-32 of the others, in 6 base62 digits: a token GitHub could have issued. */
bool sl__github_checksum_ok(const char *s, size_t n);
bool sl__ipv4_ok(const char *s, size_t n);
bool sl__ipv6_ok(const char *s, size_t n);
double sl__entropy(const char *s, size_t n);
/* memmem for the short haystacks of the validators (identifiers, values): the
 * first byte by memchr, then memcmp; glibc's memmem spends a few hundred
 * instructions setting up per call. Long haystacks still go to memmem. */
const char *sl__find(const char *hay, size_t n, const char *needle, size_t m);
/* ASCII lower-case copy of at most cap bytes; returns the length copied. */
size_t sl__lower_copy(const char *s, size_t n, char *out, size_t cap);
/* Is w[0..n) the lower-case word `word` (ASCII letters compared without case,
 * other bytes as they are, so the word lists may hold UTF-8: "são", "út")? */
static inline bool sl__word_is(const char *w, size_t n, const char *word) {
  size_t k = 0;
  while (k < n && word[k] &&
         ((unsigned)((unsigned char)w[k] - 'A') < 26u ? (unsigned char)w[k] | 32 : (unsigned char)w[k]) ==
             (unsigned char)word[k])
    k++;
  return k == n && !word[k];
}
/* Is w[0..n) one of the words of the NULL-terminated `list`? */
static inline bool sl__word_in(const char *w, size_t n, const char *const *list) {
  unsigned char c = n ? (unsigned char)w[0] : 0; /* (0: only "" can match) */
  c = (unsigned)(c - 'A') < 26u ? c | 32 : c;
  for (; *list; list++) /* most words differ at their first byte */
    if ((unsigned char)**list == c && sl__word_is(w, n, *list)) return true;
  return false;
}
/* A word list with a filter in front of sl__word_in: the bytes its words start
 * with and their lengths, so that most words are told apart without a walk
 * over the list. sl__wordset_init fills the filter; a module calls it once,
 * from a pthread_once, before any classification reads the set. */
typedef struct {
  const char *const *words; /* NULL-terminated lower-case words, as for sl__word_in */
  uint64_t first[4];        /* bit c: a word starts with byte c */
  uint64_t lens;            /* bit n: a word of n bytes (bit 63: 63 bytes or more) */
} sl__wordset_t;
void sl__wordset_init(sl__wordset_t *s);
static inline bool sl__wordset_has(const sl__wordset_t *s, const char *w, size_t n) {
  unsigned char c = n ? (unsigned char)w[0] : 0;
  c = (unsigned)(c - 'A') < 26u ? c | 32 : c;
  return ((s->first[c >> 6] >> (c & 63)) & 1) && ((s->lens >> (n < 63 ? n : 63)) & 1) &&
         sl__word_in(w, n, s->words);
}
size_t sl__count_digits(const char *s, size_t n);
/* A value that only stands for a secret: <YOUR_KEY>, ${VAR}, $password, xxxx, ****,
 * "your-api-key-here", changeme, ... (see docs/router.md, placeholder policy). */
bool sl__is_placeholder(const char *s, size_t n);
/* A vendor's documented example value (AKIAIOSFODNN7EXAMPLE, ...). */
bool sl__is_known_example(const char *s, size_t n);
/* Token that looks random: long enough, mixed classes, entropy. `strict` for
 * tokens without a key-like name beside them. */
bool sl__looks_random(const char *s, size_t n, bool strict);
/* Only hex digits (and n > 0). */
bool sl__hex_only(const char *s, size_t n);

/* Detector stages over the hits (pii.c, secrets.c) and the word-level pass for
 * names and addresses (names.c, address.c). */
typedef struct {
  const char *text;
  size_t len;
  const sl__hits_t *hits;
  sl__cands_t *out;
  const struct cue_index *cues; /* pii.c: sorted DOB / SSN cue spans */
  uint32_t pk_searched;          /* secrets.c: no "-----END" between here and pk_noend */
  uint32_t pk_noend;
  unsigned scripts;              /* SL_SCRIPT_* the text has letters of (router.c, once) */
} sl__ctx_t;

/* Scripts told by their UTF-8 lead bytes, for the rules of names and addresses
 * written in them (most text has none: ASCII, Latin accents, dashes, quotes). */
enum {
  SL_SCRIPT_CYRILLIC = 1,   /* D0-D1 */
  SL_SCRIPT_ARABIC = 2,     /* D8-DB */
  SL_SCRIPT_DEVANAGARI = 4, /* E0 */
  SL_SCRIPT_CJK = 8,        /* E3-E9: kana and ideographs */
  SL_SCRIPT_HANGUL = 16,    /* EA-ED */
  SL_SCRIPT_GREEK_HEBREW = 32 /* CE-CF, D7 */
};

/* Any of the n bytes (at most 64) is in [lo, hi] (vectorisable: the script
 * rules skip 64-byte blocks without their lead bytes). */
static inline bool sl__block_has(const unsigned char *t, size_t n, unsigned char lo, unsigned char hi) {
  unsigned char any = 0;
  for (size_t k = 0; k < n; k++) any |= (unsigned char)(t[k] - lo) <= (unsigned char)(hi - lo);
  return any;
}

/* The scans over a text's bytes for one script: at each 64-byte boundary, a
 * block without a byte in [lo, hi] is passed over whole (*p moved to its last
 * byte, true: the caller continues its loop). */
static inline bool sl__block_skip(const unsigned char *t, size_t n, size_t *p, unsigned char lo,
                                  unsigned char hi) {
  if ((*p & 63) || sl__block_has(t + *p, n - *p < 64 ? n - *p : 64, lo, hi)) return false;
  *p += 63;
  return true;
}

/* The UTF-8 character at u opens with the lead byte of a CJK ideograph
 * (U+4E00-U+9FFF: E4-E9). */
static inline bool sl__han(const unsigned char *u) { return u[0] >= 0xE4 && u[0] <= 0xE9; }

/* The three UTF-8 bytes at u are a Hangul syllable (U+AC00-U+D7A3). */
static inline bool sl__hangul(const unsigned char *u) {
  if ((u[0] & 0xF0) != 0xE0) return false;
  unsigned cp = ((unsigned)(u[0] & 0x0F) << 12) | ((unsigned)(u[1] & 0x3F) << 6) | (u[2] & 0x3F);
  return cp >= 0xAC00 && cp <= 0xD7A3;
}

/* Is the word (any case, [A-Za-z] only) an English word? See lexicon.c. The
 * filter is decoded once, by sl__lexicon_init() (router create) or the first call. */
bool sl__lexicon_has(const char *w, size_t n);
void sl__lexicon_init(void);

/* One-time set-up of pii.c's word lists; sl_router_create() calls it. */
void sl__pii_init(void);
void sl__detect_pii(sl__ctx_t *c);
/* HL7 v2 patient (PID) and next-of-kin (NK1) segments, field by field. */
void sl__detect_hl7(sl__ctx_t *c);
/* SQL INSERT values under a person's name, birth date or address columns. */
void sl__detect_sql_values(sl__ctx_t *c);
/* Japanese and Korean street addresses, by their parts' suffixes (address.c). */
void sl__detect_cjk_addresses(sl__ctx_t *c);
/* Is `at` inside a PEM block that holds no secret (certificate, public key,
 * PGP public key or signature): is the nearest block opened before it, within
 * 16 KB, one of those (from the multi-pattern pass's hits)? */
bool sl__in_public_block(const sl__ctx_t *c, uint32_t at);
void sl__detect_secrets(sl__ctx_t *c);

/* Gazetteer (names.c). Flags per lower-cased word. */
enum {
  SL_GZ_FIRST = 1, SL_GZ_LAST = 2, SL_GZ_PLACE = 4, SL_GZ_COMMON = 8, /* from the data */
  SL_GZ_VETO = 16,      /* organisation / place / event / title word */
  SL_GZ_HONOR = 32,     /* Mr, Dr, Dear, ... */
  SL_GZ_STARTER = 64,   /* sentence opener that is never a name */
  SL_GZ_ST_AFTER = 128, /* street type after the name: Street, utca, vej */
  SL_GZ_ST_BEFORE = 256,/* street type before the name: Rua, Via, Calle */
  SL_GZ_UNIT = 512      /* Apt, Suite, Unit, Floor */
};

typedef struct sl__gaz sl__gaz_t;
sl__gaz_t *sl__gaz_create(void);
/* An empty table for the few hundred list words the address rules test
 * (sl__address_register_small): a few KB that stay in cache, where the full
 * gazetteer's lookups go to a 32 KB filter and a 512 KB table. */
sl__gaz_t *sl__gaz_create_small(void);
void sl__gaz_free(sl__gaz_t *g);
unsigned sl__gaz_lookup(const sl__gaz_t *g, const char *w, size_t n); /* lower-cases itself */
/* Adds list words with a flag; at creation only. */
int sl__gaz_add(sl__gaz_t *g, const char *const *words, unsigned flag);
void sl__names_register(sl__gaz_t *g);
/* Flags the single-word place names of router/data/places.txt (figures.c) as
 * places. 0 or -1. */
int sl__names_register_places(sl__gaz_t *g);
/* Is the name s[0..n) a well-known one: a public figure's or a thing's named
 * like a person (router/data/public_figures.txt, named_things.txt; compared
 * folded: case, diacritics, dots, spaces)? figures.c; the set is built once,
 * by sl__figures_init() (router create) or the first call. */
bool sl__figure_has(const char *s, size_t n);
void sl__figures_init(void);
void sl__address_register(sl__gaz_t *g);
/* The words with the flags the address rules test (street types, unit words,
 * sentence starters), for sl__gaz_create_small. 0 or -1. */
int sl__address_register_small(sl__gaz_t *g);
int sl__names_register_starters(sl__gaz_t *g);

/* Name cues found by the multi-pattern pass ("my name is", "Mr.", "Dear"): the
 * strength the next word gets (2 strong, 1 weak). */

/* Word tokens of the text, shared by the name and address detectors. */
typedef struct {
  uint32_t s, e;   /* byte span */
  uint8_t kind;    /* SL_TK_* */
  uint8_t caps;    /* words: 1 first letter upper-case; 2 all upper-case; 4 an inner
                      capital; 8 joined over ' or - (O'Brien, Mayo-Walters) */
  uint8_t nl_before; /* newline(s) between previous token and this one */
  uint8_t punct_before; /* last non-space byte before it ('.', ':', ',' ...), 0 if none */
  uint8_t cue;     /* name cue strength before this word (set from SL_P_CUE_NAME* hits) */
  uint8_t looked;  /* 1: gz holds the gazetteer flags; 2: only the address rules' (address.c) */
  uint16_t gz;     /* gazetteer flags, looked up lazily */
} sl__tok_t;
/* The token is `word`, or one of `list`'s words (sl__word_is). */
static inline bool sl__tok_is(const char *text, const sl__tok_t *t, const char *word) {
  return sl__word_is(text + t->s, t->e - t->s, word);
}
static inline bool sl__tok_in(const char *text, const sl__tok_t *t, const char *const *list) {
  return sl__word_in(text + t->s, t->e - t->s, list);
}
static inline bool sl__tok_in_set(const char *text, const sl__tok_t *t, const sl__wordset_t *s) {
  return sl__wordset_has(s, text + t->s, t->e - t->s);
}
enum { SL_TK_WORD = 1, SL_TK_NUM = 2, SL_TK_ALNUM = 3 };

typedef struct {
  sl__tok_t *v;
  size_t n, cap;
  int err;
  bool has_upper; /* any ASCII capital in the text */
  uint32_t *runs;  /* (start, end) of runs of >= 24 token bytes [A-Za-z0-9_+/=.!~-] */
  size_t n_runs, cap_runs;
  uint32_t *sel;   /* indices of the tokens a detector's rules can start at (sl__tok_sel) */
  size_t cap_sel;
  /* Filled by the tokenizer as it emits the tokens (room for cap of them): the
   * tokens an address rule can start at (a number of at most 6 bytes; address
   * labels come from the multi-pattern pass) and those a name rule can start at in text with
   * capitals, but for the cue words (a word, not ALL-CAPS, capitalised or at a
   * line start) */
  uint32_t *sel_addr, *sel_name;
  size_t n_addr, n_name;
  /* and those a rule for words in capitals can start at: a word in capitals
   * of two letters or more, or letters and digits of nine bytes or more */
  uint32_t *sel_caps;
  size_t n_caps;
} sl__toks_t;

/* Byte counts for the difficulty features, over the first SL_DIFF_SCAN bytes
 * (difficulty cues live early; this keeps the cost fixed for huge prompts). */
#define SL_DIFF_SCAN 32768u
typedef struct {
  size_t scanned; /* bytes counted: min(len, SL_DIFF_SCAN) */
  uint32_t words, lines, digits, nonascii, ops, listing;
  /* the punctuation cue words, counted here rather than in the literal pass
   * (see sl__diff_cue_main_pass): "=>" "->" "();" "){" ") {" (code) and "$" (LaTeX) */
  uint32_t cue_code, cue_latex;
  bool fence;
} sl__bytestats_t;

/* tokenize.c: one pass over 64-byte blocks of byte-class masks gives the word
 * tokens, the key-material runs (t->runs) and the difficulty byte counts (st).
 * sl__byte_pass is the same pass without tokens (runs only when `runs` is not
 * NULL), for the difficulty features alone. */
void sl__tokenize(const char *text, size_t len, sl__toks_t *t, sl__bytestats_t *st);

/* fold.c: typographic and width variants (full-width ASCII, no-break and other
 * spaces, dashes, curly quotes, zero-width and direction marks) to ASCII.
 * sl__fold writes at most len bytes to out and, for each, the offset of the
 * original character it came from to map (plus map[result] = len). */
bool sl__fold_needed(const char *text, size_t len);
size_t sl__fold(const char *text, size_t len, char *out, uint32_t *map);
void sl__byte_pass(const char *text, size_t len, sl__toks_t *runs, sl__bytestats_t *st);
void sl__detect_names(sl__ctx_t *c, const sl__gaz_t *g, sl__toks_t *t);
/* Names in Chinese, Japanese and Korean, and Korean ones in Latin letters
 * (names_cjk.c; sl__detect_names calls it). */
void sl__cjk_names(sl__ctx_t *c);
void sl__detect_token_runs(sl__ctx_t *c, const sl__toks_t *t);
/* Identifiers told by their shapes (pii.c): UK National Insurance and DVLA
 * driving licence numbers, Korean resident registration numbers, Swedish
 * personnummer, IBANs in lower case. */
void sl__detect_id_shapes(sl__ctx_t *c, const sl__toks_t *T);
/* g: the gazetteer; ga: its address words alone (sl__gaz_create_small) */
void sl__detect_addresses(sl__ctx_t *c, const sl__gaz_t *g, const sl__gaz_t *ga, sl__toks_t *t);
/* Room for T->n token indices in T->sel (kept across requests), or NULL when it
 * cannot grow. The name and address detectors first gather the few tokens their
 * rules can start at, without a branch per token, then visit only those. */
uint32_t *sl__tok_sel(sl__toks_t *T);
/* The index of the first token starting at or after byte `at` (T->n if none). */
size_t sl__tok_at(const sl__toks_t *T, uint32_t at);
/* Room for `want` tokens (and their sel_addr / sel_name entries). 0 or -1. */
int sl__toks_reserve(sl__toks_t *T, size_t want);
/* Cached gazetteer flags of token i (possessive and hyphenated forms folded). */
unsigned sl__tok_flags(const sl__gaz_t *g, const char *text, sl__tok_t *t);

extern const char sl__gazetteer_data[];
extern const unsigned sl__gazetteer_count;

/* Difficulty (difficulty.c). */
#define SL_DF_MAP(X)                                                             \
  X(bias) X(log_chars) X(log_words) X(turns) X(code_fence) X(code_tokens)        \
  X(math_latex) X(math_ops) X(math_words) X(reasoning_cues) X(constraints)       \
  X(tools) X(json_schema) X(max_tokens) X(non_ascii) X(question_short)           \
  X(task_easy_cues) X(proof_cues) X(lines) X(digits) X(code_request) X(code_def)    \
  X(context_chars) X(pasted) X(paste_chars) X(paste_code) X(ask_lookup)         \
  X(expert_terms) X(bare_math) X(long_words)

typedef enum {
#define SL_DF_ENUM(n) SL_DF_##n,
  SL_DF_MAP(SL_DF_ENUM)
#undef SL_DF_ENUM
  SL_DF__COUNT
} sl_df_t;

typedef struct {
  double w[SL_DF__COUNT];
  double t_medium, t_hard; /* score >= t_medium: medium; >= t_hard: hard */
} sl__diffmodel_t;

extern const char *const sl__df_names[SL_DF__COUNT];
/* Features; `cue_cnt` are the per-group cue counts of the main pass and `bs` the
 * byte counts of sl__byte_pass, or NULL to compute them here (training, no router). */
void sl__diff_features(const sl_chat_req_t *req, const char *text, size_t len,
                       const int *cue_cnt, const sl__bytestats_t *bs, double f[SL_DF__COUNT]);
/* Compiles the cue words' own database (the features of a task or an ask
 * that is not the whole text: a second scan); sl_router_create() calls it, so
 * that no request waits for it (a Hyperscan compile, about 0.4 s). */
void sl__diff_init(void);
/* The cue words as Hyperscan expressions, for the main database. */
size_t sl__diff_cue_count(void);
const char *sl__diff_cue_expr(size_t i);
unsigned sl__diff_cue_group(size_t i);
/* Whether the literal pass counts cue i. It leaves out the cue words the byte
 * pass counts (sl__bytestats_t cue_code, cue_latex: "$" alone was a quarter of
 * its matches) and those only the ask around a paste is searched for. */
bool sl__diff_cue_main_pass(size_t i);
double sl__diff_score(const sl__diffmodel_t *m, const double f[SL_DF__COUNT]);
void sl__diff_default(sl__diffmodel_t *m);
/* Parses a weights JSON document. 0 or SL_EPARSE with the JSON path in err. */
int sl__diff_parse(const char *json, size_t len, sl__diffmodel_t *m, sl_jerr_t *err);
int sl__diff_load(const char *path, sl__diffmodel_t *m, sl_jerr_t *err);

/* The per-request working arrays (hits, tokens, key-material runs, findings).
 * Kept in a pool on the router and reused, so a warm classification does not
 * allocate except for the result's entity array (router.c). */
typedef struct sl__work {
  sl__hits_t hits;
  sl__toks_t toks;
  sl__cands_t cands;
  struct sl__work *next;
} sl__work_t;

struct sl_router {
  uint64_t gen;            /* unique per router made in the process (model_level's memo) */
  sl__scan_t *scan;
  pthread_mutex_t work_mu; /* guards the pool below; the rest is immutable */
  sl__work_t *work_free;
  int n_work_free;
  sl__gaz_t *gaz;
  sl__gaz_t *gaz_addr; /* the address rules' words alone (sl__gaz_create_small) */
  struct {
    char type[40];
    void *code; /* pcre2_code_8 * (JIT-compiled) */
    sl_level_t level;
  } custom[SL_ROUTER_MAX_CUSTOM];
  size_t n_custom;
  sl_level_t level_of[SL_ET__COUNT];
  struct {
    char type[40];
    sl_level_t level;
  } *extra_levels; /* overrides naming custom types */
  size_t n_extra_levels;
  sl__diffmodel_t diff;
  int fail_inject; /* tests: non-zero makes every classification fail (fail-closed path) */
};

/* Tests: makes classifications of this router fail, to exercise the fail-closed path. */
void sl__router_fail_inject(sl_router_t *r, int on);

#endif
