/* The word-level pass shared by the name, address and random-token detectors and
 * by the difficulty features. Two loops over the text:
 *
 * - a vectorised byte-class pass (32 bytes per step, no per-byte branches) that
 *   finds the runs of key-material bytes (>= 24 of [A-Za-z0-9_+/=.!~-]) for the
 *   random-token detector and counts what the difficulty features need (words,
 *   lines, digits, non-ASCII bytes, operators, list items, code fences);
 * - a scalar tokenizer (words, numbers, capitalisation, line and punctuation
 *   context) whose inner loop runs over lower-case letters without branching
 *   on anything else.
 *
 * Neither allocates unless its output array has to grow (the arrays are reused
 * across requests, see router.c). */
#include "router_int.h"

#include <string.h>

#if defined(__SSE2__)
#include <immintrin.h>
#endif

/* ---- byte classes, 32 bytes at a time ---------------------------------- */

typedef unsigned char u8x32 __attribute__((vector_size(32), aligned(1)));
typedef signed char s8x32 __attribute__((vector_size(32)));

static inline uint32_t movemask32(s8x32 x) {
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

/* Masks of one 32-byte block (bit i: byte i). */
typedef struct {
  uint32_t word; /* [A-Za-z0-9] or >= 0x80: the difficulty features' word bytes */
  uint32_t tok;  /* key-material bytes [A-Za-z0-9_+/=.!~-] */
  uint32_t digit, high, ops, nl, tick;
} blk_t;

static inline void classify32(const unsigned char *p, blk_t *b) {
  u8x32 v;
  memcpy(&v, p, 32);
  s8x32 up = (s8x32)((v >= 'A') & (v <= 'Z'));
  s8x32 lo = (s8x32)((v >= 'a') & (v <= 'z'));
  s8x32 dg = (s8x32)((v >= '0') & (v <= '9'));
  s8x32 hi = (s8x32)(v >= 0x80);
  s8x32 alnum = up | lo | dg;
  s8x32 tokp = (s8x32)((v == '_') | (v == '+') | (v == '/') | (v == '=') | (v == '.') |
                       (v == '!') | (v == '~') | (v == '-'));
  s8x32 ops = (s8x32)((v == '=') | (v == '+') | (v == '*') | (v == '^') | (v == '/') |
                      (v == '<') | (v == '>'));
  b->word = movemask32(alnum | hi);
  b->tok = movemask32(alnum | tokp);
  b->digit = movemask32(dg);
  b->high = movemask32(hi);
  b->ops = movemask32(ops);
  b->nl = movemask32((s8x32)(v == '\n'));
  b->tick = movemask32((s8x32)(v == '`'));
}

static void run_add(sl__toks_t *t, size_t s, size_t e) {
  if (e - s < 24 || t->err) return;
  if (t->n_runs == t->cap_runs) {
    size_t nc = t->cap_runs ? t->cap_runs * 2 : 16;
    uint32_t *nv = nc <= SL_ROUTER_MAX_CANDS ? realloc(t->runs, nc * 2 * sizeof *nv) : NULL;
    if (!nv) {
      t->err = -1;
      return;
    }
    t->runs = nv;
    t->cap_runs = nc;
  }
  t->runs[2 * t->n_runs] = (uint32_t)s;
  t->runs[2 * t->n_runs + 1] = (uint32_t)e;
  t->n_runs++;
}

static inline bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

/* Per-event checks of the difficulty counts, on the bounded prefix `scan`. */
static void on_newline(const unsigned char *t, size_t i, size_t scan, sl__bytestats_t *st) {
  if (i + 5 < scan && !memcmp(t + i + 1, "    ", 4)) st->fence = true; /* indented code */
  if (i + 2 < scan && (t[i + 1] == '-' || t[i + 1] == '*' ||
                       (is_digit(t[i + 1]) && (t[i + 2] == '.' || t[i + 2] == ')'))))
    st->listing++;
}

void sl__byte_pass(const char *text, size_t len, sl__toks_t *runs, sl__bytestats_t *st) {
  const unsigned char *s = (const unsigned char *)text;
  size_t scan = len < SL_DIFF_SCAN ? len : SL_DIFF_SCAN;
  memset(st, 0, sizeof *st);
  st->scanned = scan;
  st->lines = 1;
  uint32_t prev_word = 0; /* bit 31 of the previous block's word mask */
  size_t run_start = 0;
  bool in_run = false;
  size_t limit = runs ? len : scan;
  for (size_t o = 0; o < limit; o += 32) {
    blk_t b;
    size_t n = limit - o;
    if (n >= 32) {
      classify32(s + o, &b);
    } else {
      unsigned char pad[32] = {0}; /* NUL is in no class */
      memcpy(pad, s + o, n);
      classify32(pad, &b);
    }
    if (runs) {
      /* boundaries of key-material runs: each 0->1 or 1->0 step of the mask */
      uint32_t m = b.tok;
      uint32_t edges = m ^ ((m << 1) | (in_run ? 1u : 0u));
      while (edges) {
        unsigned k = (unsigned)__builtin_ctz(edges);
        edges &= edges - 1;
        if (!in_run) {
          run_start = o + k;
          in_run = true;
        } else {
          run_add(runs, run_start, o + k);
          in_run = false;
        }
      }
    }
    if (o >= scan) continue;
    uint32_t keep = scan - o >= 32 ? 0xffffffffu : ((1u << (scan - o)) - 1);
    uint32_t w = b.word & keep;
    st->words += (uint32_t)__builtin_popcount(w & ~((w << 1) | prev_word));
    prev_word = w >> 31;
    st->digits += (uint32_t)__builtin_popcount(b.digit & keep);
    st->nonascii += (uint32_t)__builtin_popcount(b.high & keep);
    st->ops += (uint32_t)__builtin_popcount(b.ops & keep);
    for (uint32_t m = b.nl & keep; m; m &= m - 1) {
      st->lines++;
      on_newline(s, o + (unsigned)__builtin_ctz(m), scan, st);
    }
    for (uint32_t m = b.tick & keep; m && !st->fence; m &= m - 1) {
      size_t i = o + (unsigned)__builtin_ctz(m);
      if (i + 2 < scan && s[i + 1] == '`' && s[i + 2] == '`') st->fence = true;
    }
  }
  if (runs && in_run) run_add(runs, run_start, len);
}

/* ---- word tokens --------------------------------------------------------- */

static bool utf8_upper_at(const unsigned char *p, size_t n) {
  if (n >= 2 && p[0] == 0xC3 && p[1] >= 0x80 && p[1] <= 0x9E && p[1] != 0x97) return true;
  if (n >= 2 && (p[0] == 0xC4 || p[0] == 0xC5)) {
    unsigned cp = ((p[0] & 0x1Fu) << 6) | (p[1] & 0x3Fu);
    bool odd_upper = (cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E);
    return odd_upper ? (cp & 1) : !(cp & 1);
  }
  return false;
}

static void tok_push(sl__toks_t *t, sl__tok_t tk) {
  if (t->err) return;
  if (t->n == t->cap) {
    size_t nc = t->cap ? t->cap * 2 : 256;
    if (nc > SL_ROUTER_MAX_TEXT / 2) {
      t->err = -1;
      return;
    }
    sl__tok_t *nv = realloc(t->v, nc * sizeof *nv);
    if (!nv) {
      t->err = -1;
      return;
    }
    t->v = nv;
    t->cap = nc;
  }
  t->v[t->n++] = tk;
}

/* Byte classes for the tokenizer: one table lookup per byte (a constant table,
 * so nothing is initialised lazily on the first request). */
enum { C_AL = 1, C_DG = 2, C_UP = 4, C_LO = 8, C_SP = 16 };
#define R4(x) x, x, x, x
#define R8(x) R4(x), R4(x)
#define R16(x) R8(x), R8(x)
#define UPC (C_AL | C_UP)
#define LOC (C_AL | C_LO)
static const uint8_t K[256] = {
    /* 0x00 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, C_SP, C_SP, C_SP, C_SP, C_SP, 0, 0,
    /* 0x10 */ R16(0),
    /* 0x20 */ C_SP, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* 0x30 */ R8(C_DG), C_DG, C_DG, 0, 0, 0, 0, 0, 0,
    /* 0x40 */ 0, UPC, UPC, UPC, UPC, UPC, UPC, UPC, UPC, UPC, UPC, UPC, UPC, UPC, UPC, UPC,
    /* 0x50 */ UPC, UPC, UPC, UPC, UPC, UPC, UPC, UPC, UPC, UPC, UPC, 0, 0, 0, 0, 0,
    /* 0x60 */ 0, LOC, LOC, LOC, LOC, LOC, LOC, LOC, LOC, LOC, LOC, LOC, LOC, LOC, LOC, LOC,
    /* 0x70 */ LOC, LOC, LOC, LOC, LOC, LOC, LOC, LOC, LOC, LOC, LOC, 0, 0, 0, 0, 0,
    /* 0x80 */ R16(C_AL), R16(C_AL), R16(C_AL), R16(C_AL),
    R16(C_AL), R16(C_AL), R16(C_AL), R16(C_AL)};
#undef R4
#undef R8
#undef R16
#undef UPC
#undef LOC

void sl__tokenize(const char *text, size_t len, sl__toks_t *t) {
  const unsigned char *s = (const unsigned char *)text;
  size_t i = 0;
  uint8_t nl = 0, punct = 0;
  while (i < len) {
    unsigned char c = s[i];
    uint8_t k = K[c];
    if (!(k & (C_AL | C_DG))) {
      if (c == '\n') nl = nl < 255 ? nl + 1 : nl;
      else if (!(k & C_SP))
        punct = c;
      i++;
      continue;
    }
    if (c == 0xE2 && i + 2 < len && s[i + 1] == 0x80) { /* ’ “ – …: punctuation */
      punct = s[i + 2];
      i += 3;
      continue;
    }
    size_t st = i;
    bool has_alpha = false, has_digit = false, bad = false, all_up = true, inner_up = false;
    for (;;) {
      size_t i0 = i;
      while (i < len && (K[s[i]] & C_LO)) i++; /* the common case */
      if (i > i0) has_alpha = true, all_up = false;
      if (i >= len) break;
      unsigned char d = s[i];
      uint8_t kd = K[d];
      if (kd & C_AL) {
        has_alpha = true;
        if ((kd & C_UP) && i > st && s[i - 1] != '\'' && s[i - 1] != '-') inner_up = true;
        if (d == 0xE2 && i + 2 < len && s[i + 1] == 0x80)
          break; /* typographic punctuation ends the word (i > st: see above) */
      } else if (kd & C_DG)
        has_digit = true;
      else if ((d == '\'' || d == '-') && i + 1 < len && (K[s[i + 1]] & C_AL) && has_alpha && !has_digit)
        ; /* O'Brien, Mayo-Walters */
      else if (d == '_')
        bad = true;
      else
        break;
      i++;
    }
    sl__tok_t tk = {(uint32_t)st, (uint32_t)i, 0, 0, nl, punct, 0, 0, 0};
    tk.kind = bad ? SL_TK_ALNUM : has_alpha && has_digit ? SL_TK_ALNUM : has_alpha ? SL_TK_WORD : SL_TK_NUM;
    if (tk.kind == SL_TK_WORD) {
      if (K[s[st]] & C_UP) t->has_upper = true;
      bool first_up = (K[s[st]] & C_UP) || utf8_upper_at(s + st, len - st);
      if (!first_up || i - st == 1) all_up = false;
      tk.caps = (uint8_t)((first_up ? 1 : 0) | (all_up ? 2 : 0) | (inner_up ? 4 : 0));
    }
    tok_push(t, tk);
    nl = 0;
    punct = 0;
  }
}
