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
      uint32_t m = b.tok;
      /* x: starts of 24 set bits in a row inside this block */
      uint32_t x = m & (m >> 1);
      x &= x >> 2;
      x &= x >> 4;
      x &= x >> 8;
      x &= x >> 8;
      if (m == 0xffffffffu) {
        if (!in_run) run_start = o, in_run = true;
        m = 0, x = 0; /* nothing else to do */
      } else if (!x) {
        /* common case: only the run carried in and the one carried out can be long */
        if (in_run) run_add(runs, run_start, o + (unsigned)__builtin_ctz(~m));
        in_run = m >> 31;
        if (in_run) run_start = o + 32 - (unsigned)__builtin_clz(~m);
        m = 0;
      }
      /* otherwise every boundary: each 0->1 or 1->0 step of the mask */
      uint32_t edges = x ? m ^ ((m << 1) | (in_run ? 1u : 0u)) : 0;
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

/* Masks of the 64 bytes from `base` for the tokenizer (bytes past the end are
 * NUL, which is in no class). */
typedef struct {
  size_t base;
  uint64_t word; /* [A-Za-z0-9] or >= 0x80: where a token may start */
  uint64_t cont; /* word or '_': what a token runs over */
  uint64_t al, dg, up, lo, us, join, nl, sp, e2;
} win_t;

static inline void win_half(const unsigned char *p, win_t *w, int sh) {
  u8x32 v;
  memcpy(&v, p, 32);
  s8x32 up = (s8x32)((v >= 'A') & (v <= 'Z'));
  s8x32 lo = (s8x32)((v >= 'a') & (v <= 'z'));
  s8x32 dg = (s8x32)((v >= '0') & (v <= '9'));
  s8x32 hi = (s8x32)(v >= 0x80);
  s8x32 us = (s8x32)(v == '_');
  s8x32 al = up | lo | hi;
  w->word |= (uint64_t)movemask32(al | dg) << sh;
  w->cont |= (uint64_t)movemask32(al | dg | us) << sh;
  w->al |= (uint64_t)movemask32(al) << sh;
  w->dg |= (uint64_t)movemask32(dg) << sh;
  w->up |= (uint64_t)movemask32(up) << sh;
  w->lo |= (uint64_t)movemask32(lo) << sh;
  w->us |= (uint64_t)movemask32(us) << sh;
  w->join |= (uint64_t)movemask32((s8x32)((v == '\'') | (v == '-'))) << sh;
  w->nl |= (uint64_t)movemask32((s8x32)(v == '\n')) << sh;
  w->sp |= (uint64_t)movemask32((s8x32)((v == ' ') | ((v >= '\t') & (v <= '\r')))) << sh;
  w->e2 |= (uint64_t)movemask32((s8x32)(v == 0xE2)) << sh;
}

static void win_load(const unsigned char *s, size_t len, size_t base, win_t *w) {
  memset(w, 0, sizeof *w);
  w->base = base;
  if (len - base >= 64) {
    win_half(s + base, w, 0);
    win_half(s + base + 32, w, 32);
    return;
  }
  unsigned char pad[64] = {0};
  memcpy(pad, s + base, len - base);
  win_half(pad, w, 0);
  win_half(pad + 32, w, 32);
}

/* Makes w cover at least 32 bytes from p; returns p's bit offset in it. */
static inline unsigned win_at(const unsigned char *s, size_t len, size_t p, win_t *w) {
  if (p < w->base || p - w->base > 32) win_load(s, len, p, w);
  return (unsigned)(p - w->base);
}

static inline uint64_t below(unsigned k) { return k >= 64 ? ~0ull : (1ull << k) - 1; }

/* Tokens from the byte masks: one mask window per 32+ bytes, and per token a few
 * bit scans instead of a branch per byte. Same tokens as a byte loop would give:
 * a token starts at a letter, digit or non-ASCII byte and runs over those and
 * '_' (which makes it SL_TK_ALNUM), over ' and - between letters while it has
 * no digit (O'Brien, Mayo-Walters), and stops at typographic punctuation
 * (U+2018..U+2026, E2 80 xx), which counts as punctuation. */
void sl__tokenize(const char *text, size_t len, sl__toks_t *t) {
  const unsigned char *s = (const unsigned char *)text;
  win_t w = {.base = SIZE_MAX};
  size_t pos = 0;
  uint8_t nl = 0, punct = 0;
  while (pos < len) {
    /* the gap up to the next token: newlines and the last punctuation byte */
    unsigned sh = win_at(s, len, pos, &w);
    size_t avail = len - pos < 64 - sh ? len - pos : 64 - sh;
    uint64_t starts = (w.word >> sh) & below((unsigned)avail);
    unsigned k = starts ? (unsigned)__builtin_ctzll(starts) : (unsigned)avail;
    uint64_t gap = below(k);
    unsigned nls = (unsigned)__builtin_popcountll((w.nl >> sh) & gap);
    nl = nl + nls > 255 ? 255 : (uint8_t)(nl + nls);
    uint64_t marks = ~(w.sp >> sh) & gap;
    if (marks) punct = s[pos + 63 - (unsigned)__builtin_clzll(marks)];
    pos += k;
    if (!starts) continue;
    if (s[pos] == 0xE2 && pos + 2 < len && s[pos + 1] == 0x80) { /* ’ “ – …: punctuation */
      punct = s[pos + 2];
      pos += 3;
      continue;
    }
    /* the token */
    size_t st = pos, i = pos;
    bool has_alpha = false, has_digit = false, bad = false, any_lo = false, inner_up = false;
    for (;;) {
      sh = win_at(s, len, i, &w);
      avail = len - i < 64 - sh ? len - i : 64 - sh;
      uint64_t cont = (w.cont >> sh) & below((unsigned)avail);
      unsigned run = ~cont ? (unsigned)__builtin_ctzll(~cont) : 64; /* <= avail */
      bool e2_stop = false;
      uint64_t e2 = (w.e2 >> sh) & below(run);
      for (; e2; e2 &= e2 - 1) {
        unsigned q = (unsigned)__builtin_ctzll(e2);
        if (i + q > st && i + q + 2 < len && s[i + q + 1] == 0x80) {
          run = q, e2_stop = true;
          break;
        }
      }
      uint64_t in = below(run);
      has_alpha |= ((w.al >> sh) & in) != 0;
      has_digit |= ((w.dg >> sh) & in) != 0;
      bad |= ((w.us >> sh) & in) != 0;
      any_lo |= ((w.lo >> sh) & in) != 0;
      /* an inner capital: not the first letter, not right after ' or - */
      uint64_t prev_join = ((w.join >> sh) << 1) | (i > 0 && (s[i - 1] == '\'' || s[i - 1] == '-'));
      uint64_t ups = (w.up >> sh) & in & ~prev_join;
      if (i == st) ups &= ~1ull;
      inner_up |= ups != 0;
      i += run;
      if (e2_stop) {
        has_alpha = true; /* the byte loop saw the E2 byte as a letter before it stopped */
        break;
      }
      if (i >= len) break;
      if (run == avail) continue; /* the window ended inside the token */
      unsigned char d = s[i];
      if ((d == '\'' || d == '-') && i + 1 < len && (K[s[i + 1]] & C_AL) && has_alpha && !has_digit) {
        i++; /* O'Brien, Mayo-Walters */
        continue;
      }
      break;
    }
    sl__tok_t tk = {(uint32_t)st, (uint32_t)i, 0, 0, nl, punct, 0, 0, 0};
    tk.kind = bad ? SL_TK_ALNUM : has_alpha && has_digit ? SL_TK_ALNUM : has_alpha ? SL_TK_WORD : SL_TK_NUM;
    if (tk.kind == SL_TK_WORD) {
      if (K[s[st]] & C_UP) t->has_upper = true;
      bool first_up = (K[s[st]] & C_UP) || utf8_upper_at(s + st, len - st);
      bool all_up = !any_lo && first_up && i - st != 1;
      tk.caps = (uint8_t)((first_up ? 1 : 0) | (all_up ? 2 : 0) | (inner_up ? 4 : 0));
    }
    tok_push(t, tk);
    nl = 0;
    punct = 0;
    pos = i;
  }
}
