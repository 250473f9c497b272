/* The word-level pass shared by the name, address and random-token detectors and
 * by the difficulty features: one loop over 64-byte blocks of the text, each
 * classified once into bit masks (one AVX-512 compare per class where the build
 * has it, two 32-byte halves otherwise), from which
 *
 * - the byte pass finds the runs of key-material bytes (>= 24 of
 *   [A-Za-z0-9_+/=.!~-]) for the random-token detector and counts what the
 *   difficulty features need (words, lines, digits, non-ASCII bytes, operators,
 *   list items, code fences);
 * - the tokenizer finds the words and numbers, their capitalisation and the
 *   line and punctuation context before them: per token a few bit scans, no
 *   branch per byte.
 *
 * Nothing is allocated unless an output array has to grow (the arrays are
 * reused across requests, see router.c). */
#include "router_int.h"
#include "sl_str.h"

#include <stdlib.h>
#include <string.h>

/* ---- byte classes, 64 bytes at a time ---------------------------------- */

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

/* Has a lower-case letter of Latin-1 or Latin Extended-A (ß-ÿ, ā-ž): such a
 * word is not all capitals, though no ASCII letter in it is lower case ("Ní",
 * "Ó"). */
static bool utf8_lower_in(const unsigned char *p, size_t n) {
  for (size_t i = 0; i + 1 < n; i++) {
    if (p[i] == 0xC3 && p[i + 1] >= 0x9F && p[i + 1] <= 0xBF && p[i + 1] != 0xB7) return true;
    if ((p[i] == 0xC4 || p[i] == 0xC5) && !utf8_upper_at(p + i, 2) && (p[i + 1] & 0xC0) == 0x80)
      return true;
  }
  return false;
}

size_t sl__tok_at(const sl__toks_t *T, uint32_t at) {
  size_t lo = 0, hi = T->n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (T->v[mid].s < at) lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

uint32_t *sl__tok_sel(sl__toks_t *T) {
  if (T->cap_sel < T->n || !T->sel) { /* allocated even for no tokens: NULL means out of memory */
    size_t nc = T->n + T->n / 2 + 16;
    uint32_t *nv = realloc(T->sel, nc * sizeof *nv);
    if (!nv) return NULL;
    T->sel = nv;
    T->cap_sel = nc;
  }
  return T->sel;
}

int sl__toks_reserve(sl__toks_t *t, size_t want) {
  if (t->cap >= want) return 0;
  if (want > SL_ROUTER_MAX_TEXT / 2) return -1;
  sl__tok_t *nv = realloc(t->v, want * sizeof *nv);
  if (!nv) return -1;
  t->v = nv;
  uint32_t *na = realloc(t->sel_addr, want * sizeof *na);
  if (!na) return -1;
  t->sel_addr = na;
  uint32_t *nn = realloc(t->sel_name, want * sizeof *nn);
  if (!nn) return -1;
  t->sel_name = nn;
  uint32_t *nc = realloc(t->sel_caps, want * sizeof *nc);
  if (!nc) return -1;
  t->sel_caps = nc;
  t->cap = want;
  return 0;
}

static void tok_push(sl__toks_t *t, sl__tok_t tk) {
  if (t->err) return;
  if (t->n == t->cap && sl__toks_reserve(t, t->cap ? t->cap * 2 : 256)) {
    t->err = -1;
    return;
  }
  t->v[t->n++] = tk;
}

/* Appends a token, and its index to the address and name rules' lists when
 * they can start there (see sl__toks_t), without a branch. */
static inline __attribute__((always_inline)) void tok_add(sl__toks_t *t, sl__tok_t tk) {
  if (t->n < t->cap && !t->err) t->v[t->n++] = tk;
  else {
    tok_push(t, tk);
    if (t->err) return;
  }
  uint32_t i = (uint32_t)t->n - 1, len = tk.e - tk.s;
  bool word = tk.kind == SL_TK_WORD, first = i == 0, nl = tk.nl_before != 0;
  t->sel_addr[t->n_addr] = i;
  t->n_addr += !word & (len <= 6);
  t->sel_name[t->n_name] = i;
  t->n_name += word & ((((tk.caps & 3) != 3) & ((tk.caps & 1) | nl | first)) |
                       (((tk.caps & 3) == 3) & (tk.punct_before == ':') & !nl));
  t->sel_caps[t->n_caps] = i;
  t->n_caps += (word & ((tk.caps & 3) == 3) & (len >= 2)) | ((tk.kind == SL_TK_ALNUM) & (len >= 9));
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

/* Masks of one 64-byte block for the tokenizer (bit i: byte base+i; bytes past
 * the end are NUL, which is in no class). */
typedef struct {
  uint64_t word; /* [A-Za-z0-9] or >= 0x80: where a token may start */
  uint64_t cont; /* word or '_': what a token runs over */
  uint64_t al, dg, up, lo, us, join, nl, sp, e2, x80;
  /* the byte pass's: non-ASCII, key-material bytes [A-Za-z0-9_+/=.!~-],
   * operators [=+*^/<>], backticks */
  uint64_t hi, tok, ops, tick;
  /* starts of the punctuation cue words: "$"; "=>" "->" "){"; "();" ") {" */
  uint64_t dollar, code2, code3;
} blk64_t;

static inline uint64_t below(unsigned k) { return k >= 64 ? ~0ull : (1ull << k) - 1; }

static void blk_unletter(const unsigned char *s, size_t len, size_t base, blk64_t *w);

#if !defined(__AVX512BW__)
static inline __attribute__((always_inline)) void blk_half(const unsigned char *p, blk64_t *w, int sh) {
  u8x32 v, v1, v2; /* the bytes, and the bytes 1 and 2 ahead */
  memcpy(&v, p, 32);
  memcpy(&v1, p + 1, 32);
  memcpy(&v2, p + 2, 32);
  s8x32 up = (s8x32)((v >= 'A') & (v <= 'Z'));
  s8x32 lo = (s8x32)((v >= 'a') & (v <= 'z'));
  s8x32 dg = (s8x32)((v >= '0') & (v <= '9'));
  s8x32 hi = (s8x32)(v >= 0x80);
  s8x32 us = (s8x32)(v == '_');
  s8x32 al = up | lo | hi;
  w->word |= (uint64_t)sl__movemask32(al | dg) << sh;
  w->cont |= (uint64_t)sl__movemask32(al | dg | us) << sh;
  w->al |= (uint64_t)sl__movemask32(al) << sh;
  w->dg |= (uint64_t)sl__movemask32(dg) << sh;
  w->up |= (uint64_t)sl__movemask32(up) << sh;
  w->lo |= (uint64_t)sl__movemask32(lo) << sh;
  w->us |= (uint64_t)sl__movemask32(us) << sh;
  w->join |= (uint64_t)sl__movemask32((s8x32)((v == '\'') | (v == '-'))) << sh;
  w->nl |= (uint64_t)sl__movemask32((s8x32)(v == '\n')) << sh;
  w->sp |= (uint64_t)sl__movemask32((s8x32)((v == ' ') | ((v >= '\t') & (v <= '\r')))) << sh;
  w->e2 |= (uint64_t)sl__movemask32((s8x32)(v == 0xE2)) << sh;
  w->x80 |= (uint64_t)sl__movemask32((s8x32)(v == 0x80)) << sh;
  w->hi |= (uint64_t)sl__movemask32(hi) << sh;
  w->tok |= (uint64_t)sl__movemask32(up | lo | dg | us |
                                 (s8x32)((v == '+') | (v == '/') | (v == '=') | (v == '.') |
                                         (v == '!') | (v == '~') | (v == '-')))
            << sh;
  w->ops |= (uint64_t)sl__movemask32((s8x32)((v == '=') | (v == '+') | (v == '*') | (v == '^') |
                                         (v == '/') | (v == '<') | (v == '>')))
            << sh;
  w->tick |= (uint64_t)sl__movemask32((s8x32)(v == '`')) << sh;
  w->dollar |= (uint64_t)sl__movemask32((s8x32)(v == '$')) << sh;
  w->code2 |= (uint64_t)sl__movemask32((s8x32)((((v == '=') | (v == '-')) & (v1 == '>')) |
                                           ((v == ')') & (v1 == '{'))))
              << sh;
  w->code3 |= (uint64_t)sl__movemask32((s8x32)(((v == '(') & (v1 == ')') & (v2 == ';')) |
                                           ((v == ')') & (v1 == ' ') & (v2 == '{'))))
              << sh;
}
#endif

#if defined(__AVX512BW__)
/* One 64-byte compare per class, straight into bit masks. */
static inline __attribute__((always_inline)) void blk_classify(__m512i v, __m512i v1, __m512i v2,
                                                                blk64_t *w) {
#define IN(lo, n) _mm512_cmple_epu8_mask(_mm512_sub_epi8(v, _mm512_set1_epi8((char)(lo))), _mm512_set1_epi8((char)(n)))
#define EQ(c) _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8((char)(c)))
  uint64_t up = IN('A', 25), lo = IN('a', 25), dg = IN('0', 9), hi = _mm512_movepi8_mask(v), us = EQ('_');
  w->al = up | lo | hi;
  w->word = w->al | dg;
  w->cont = w->word | us;
  w->dg = dg, w->up = up, w->lo = lo, w->us = us;
  w->join = EQ('\'') | EQ('-');
  w->nl = EQ('\n');
  w->sp = EQ(' ') | IN('\t', 4);
  w->e2 = EQ(0xE2);
  w->x80 = EQ(0x80);
  uint64_t eq = EQ('='), plus = EQ('+'), slash = EQ('/');
  w->hi = hi;
  w->tok = up | lo | dg | us | plus | slash | eq | EQ('.') | EQ('!') | EQ('~') | EQ('-');
  w->ops = eq | plus | EQ('*') | EQ('^') | slash | EQ('<') | EQ('>');
  w->tick = EQ('`');
  uint64_t rp = EQ(')');
#define EQ1(c) _mm512_cmpeq_epi8_mask(v1, _mm512_set1_epi8((char)(c)))
#define EQ2(c) _mm512_cmpeq_epi8_mask(v2, _mm512_set1_epi8((char)(c)))
  w->dollar = EQ('$');
  w->code2 = ((eq | EQ('-')) & EQ1('>')) | (rp & EQ1('{'));
  w->code3 = (EQ('(') & EQ1(')') & EQ2(';')) | (rp & EQ1(' ') & EQ2('{'));
#undef EQ1
#undef EQ2
#undef IN
#undef EQ
}

static void blk_load(const unsigned char *s, size_t len, size_t base, blk64_t *w) {
  if (base >= len) {
    memset(w, 0, sizeof *w);
    return;
  }
  size_t n = len - base;
  /* a short last block is read with a mask: the bytes past the end are NUL */
#define LOAD(k) (n >= 64 + (k) ? _mm512_loadu_si512(s + base + (k))                                \
                               : _mm512_maskz_loadu_epi8(n > (k) ? (1ull << (n - (k))) - 1 : 0, s + base + (k)))
  blk_classify(LOAD(0), LOAD(1), LOAD(2), w);
#undef LOAD
  if (w->hi) blk_unletter(s, len, base, w);
}
#else
static void blk_load(const unsigned char *s, size_t len, size_t base, blk64_t *w) {
  memset(w, 0, sizeof *w);
  if (base >= len) return;
  if (len - base >= 66) { /* the halves read two bytes ahead */
    blk_half(s + base, w, 0);
    blk_half(s + base + 32, w, 32);
  } else {
    unsigned char pad[66] = {0};
    memcpy(pad, s + base, len - base);
    blk_half(pad, w, 0);
    blk_half(pad + 32, w, 32);
  }
  if (w->hi) blk_unletter(s, len, base, w);
}
#endif

/* The bytes of non-ASCII characters that are no letters (spaces, punctuation,
 * symbols, emoji: « » 。 「 → ✅ 🎉, sl_utf8_nonword) leave the letter masks:
 * they end a word as ASCII punctuation does, so "«Laila Hansen»" holds the
 * name "Laila Hansen" and "Hansen。" the word "Hansen". Only blocks with
 * non-ASCII bytes pay, one decode per character. */
static void blk_unletter(const unsigned char *s, size_t len, size_t base, blk64_t *w) {
  uint64_t hi = w->hi, drop = 0;
  while (hi) {
    size_t p = base + (unsigned)__builtin_ctzll(hi), q = p, broken;
    while (q > 0 && p - q < 3 && (s[q] & 0xC0) == 0x80) q--; /* its lead byte */
    size_t k = sl_utf8_char(s + q, len - q, &broken);
    bool whole = k >= 2 && q + k > p; /* else a byte of a broken sequence: one at a time */
    size_t end = whole ? q + k : p + 1;
    uint64_t bits = below((unsigned)(end - base < 64 ? end - base : 64)) & ~below((unsigned)(p - base));
    if (whole && sl_utf8_nonword(s + q, len - q)) drop |= bits;
    hi &= ~bits;
  }
  w->al &= ~drop;
  w->word &= ~drop;
  w->cont &= ~drop;
}


/* ---- the byte pass, one block at a time -------------------------------- */

typedef struct {
  uint64_t prev_word; /* bit 63 of the previous block's word mask */
  size_t run_start;   /* of the key-material run going on, if in_run */
  bool in_run;
} bpstate_t;

static void bp_start(size_t len, bpstate_t *ps, sl__bytestats_t *st) {
  memset(ps, 0, sizeof *ps);
  memset(st, 0, sizeof *st);
  st->scanned = len < SL_DIFF_SCAN ? len : SL_DIFF_SCAN;
  st->lines = 1;
}

/* The positions of a block where a cue word of m bytes starting there ends
 * within the scanned prefix (`left` bytes of it from the block's start). */
static inline uint64_t fits(size_t left, unsigned m) {
  return left < m ? 0 : left - m + 1 >= 64 ? ~0ull : (1ull << (left - m + 1)) - 1;
}

/* The block at o: key-material runs into `runs` (when not NULL) and the
 * difficulty counts over the first st->scanned bytes. */
static inline void bp_block(const unsigned char *s, size_t o, const blk64_t *b, sl__toks_t *runs,
                            bpstate_t *ps, sl__bytestats_t *st) {
  size_t scan = st->scanned;
  if (runs) {
    uint64_t m = b->tok;
    /* x: starts of 24 set bits in a row inside this block */
    uint64_t x = m & (m >> 1);
    x &= x >> 2;
    x &= x >> 4;
    x &= x >> 8;
    x &= x >> 8;
    if (m == ~0ull) {
      if (!ps->in_run) ps->run_start = o, ps->in_run = true;
      m = 0, x = 0; /* nothing else to do */
    } else if (!x) {
      /* common case: only the run carried in and the one carried out can be long */
      if (ps->in_run) run_add(runs, ps->run_start, o + (unsigned)__builtin_ctzll(~m));
      ps->in_run = m >> 63;
      if (ps->in_run) ps->run_start = o + 64 - (unsigned)__builtin_clzll(~m);
      m = 0;
    }
    /* otherwise every boundary: each 0->1 or 1->0 step of the mask */
    uint64_t edges = x ? m ^ ((m << 1) | (ps->in_run ? 1u : 0u)) : 0;
    while (edges) {
      unsigned k = (unsigned)__builtin_ctzll(edges);
      edges &= edges - 1;
      if (!ps->in_run) {
        ps->run_start = o + k;
        ps->in_run = true;
      } else {
        run_add(runs, ps->run_start, o + k);
        ps->in_run = false;
      }
    }
  }
  if (o >= scan) return;
  uint64_t keep = scan - o >= 64 ? ~0ull : ((1ull << (scan - o)) - 1);
  uint64_t w = b->word & keep;
  st->words += (uint32_t)__builtin_popcountll(w & ~((w << 1) | ps->prev_word));
  ps->prev_word = w >> 63;
  st->digits += (uint32_t)__builtin_popcountll(b->dg & keep);
  st->nonascii += (uint32_t)__builtin_popcountll(b->hi & keep);
  st->ops += (uint32_t)__builtin_popcountll(b->ops & keep);
  for (uint64_t m = b->nl & keep; m; m &= m - 1) {
    st->lines++;
    on_newline(s, o + (unsigned)__builtin_ctzll(m), scan, st);
  }
  for (uint64_t m = b->tick & keep; m && !st->fence; m &= m - 1) {
    size_t i = o + (unsigned)__builtin_ctzll(m);
    if (i + 2 < scan && s[i + 1] == '`' && s[i + 2] == '`') st->fence = true;
  }
  /* the punctuation cue words, every occurrence (as the literal pass counted
   * them): "$" for LaTeX; "=>" "->" "){" "();" ") {" for code */
  size_t left = scan - o;
  st->cue_latex += (uint32_t)__builtin_popcountll(b->dollar & fits(left, 1));
  st->cue_code += (uint32_t)(__builtin_popcountll(b->code2 & fits(left, 2)) +
                             __builtin_popcountll(b->code3 & fits(left, 3)));
}

static void bp_end(size_t len, sl__toks_t *runs, bpstate_t *ps) {
  if (runs && ps->in_run) run_add(runs, ps->run_start, len);
}

void sl__byte_pass(const char *text, size_t len, sl__toks_t *runs, sl__bytestats_t *st) {
  const unsigned char *s = (const unsigned char *)text;
  bpstate_t ps;
  bp_start(len, &ps, st);
  size_t limit = runs ? len : st->scanned;
  for (size_t o = 0; o < limit; o += 64) {
    blk64_t b;
    blk_load(s, len, o, &b);
    bp_block(s, o, &b, runs, &ps, st);
  }
  bp_end(len, runs, &ps);
}

/* The token state carried from one block to the next. */
typedef struct {
  size_t st;      /* start of the open token */
  bool open;      /* a token is open */
  bool has_alpha, has_digit, bad, any_lo, inner_up, joined;
  uint32_t nl;    /* newlines before the next token (stored clamped to 255) */
  uint8_t punct;  /* last punctuation byte before the next token */
} tokstate_t;

/* Ends the open token at `end` (the long path: joins, typographic stops, tokens
 * across blocks). */
static inline __attribute__((always_inline)) void tok_emit(sl__toks_t *t, const unsigned char *s,
                                                            size_t len, tokstate_t *ts, size_t end) {
  size_t st = ts->st;
  sl__tok_t tk = {(uint32_t)st, (uint32_t)end, 0, 0, ts->nl > 255 ? 255 : (uint8_t)ts->nl, ts->punct,
                  0, 0, 0};
  tk.kind = ts->bad || (ts->has_alpha && ts->has_digit) ? SL_TK_ALNUM
            : ts->has_alpha                              ? SL_TK_WORD
                                                         : SL_TK_NUM;
  if (tk.kind == SL_TK_WORD) {
    if (K[s[st]] & C_UP) t->has_upper = true;
    bool first_up = (K[s[st]] & C_UP) || utf8_upper_at(s + st, len - st);
    bool all_up = !ts->any_lo && first_up && end - st != 1 && !utf8_lower_in(s + st, end - st);
    tk.caps = (uint8_t)((first_up ? 1 : 0) | (all_up ? 2 : 0) | (ts->inner_up ? 4 : 0) | (ts->joined ? 8 : 0));
  }
  tok_add(t, tk);
  ts->open = false;
  ts->nl = 0;
  ts->punct = 0;
}

/* Tokens from the byte masks of 64-byte blocks, each block classified once; per
 * token a few bit scans instead of a branch per byte. A token starts at a
 * letter, digit or non-ASCII byte and runs over those and '_' (which makes it
 * SL_TK_ALNUM), over ' and - between letters while it has no digit (O'Brien,
 * Mayo-Walters), and stops at typographic punctuation (U+2018..U+2026, E2 80 xx),
 * which counts as punctuation (a token cut there counts as having a letter: the
 * byte loop this replaced saw the E2 byte first). tests/unit/router/test_tokenize.c
 * checks the tokens against that byte loop. */
void sl__tokenize(const char *text, size_t len, sl__toks_t *t, sl__bytestats_t *st) {
  const unsigned char *s = (const unsigned char *)text;
  tokstate_t ts = {0};
  bpstate_t ps;
  bp_start(len, &ps, st);
  blk64_t cur, nxt;
  size_t skip_to = 0; /* after an E2 80 xx: its bytes are passed over */
  uint64_t jcarry = 0; /* the join bit of the byte before bit 0 */
  blk_load(s, len, 0, &cur);
  for (size_t base = 0; base < len; base += 64) {
    blk_load(s, len, base + 64, &nxt);
    bp_block(s, base, &cur, t, &ps, st);
    size_t lim = len - base;
    uint64_t avail = below(lim < 64 ? (unsigned)lim : 64);
    /* typographic punctuation: E2 80 with a third byte inside the text */
    uint64_t e = cur.e2 & ((cur.x80 >> 1) | (nxt.x80 << 63));
    if (lim < 66) e &= lim >= 2 ? below((unsigned)(lim - 2)) : 0;
    unsigned b = skip_to > base ? (unsigned)(skip_to - base) : 0;
    while (b < 64) {
      if (!ts.open) {
        /* the gap up to the next token: newlines and the last punctuation byte */
        uint64_t from = ~below(b);
        uint64_t starts = cur.word & from;
        unsigned k = starts ? (unsigned)__builtin_ctzll(starts) : 64;
        uint64_t gap = from & below(k) & avail;
        if (gap) {
          unsigned nls = (unsigned)__builtin_popcountll(cur.nl & gap);
          ts.nl += nls;
          uint64_t marks = gap & ~cur.sp;
          if (marks) ts.punct = s[base + 63 - (unsigned)__builtin_clzll(marks)];
        }
        if (!starts) break;
        if ((e >> k) & 1) { /* ’ “ – …: punctuation */
          ts.punct = s[base + k + 2];
          skip_to = base + k + 3;
          b = k + 3;
          continue;
        }
        /* Fast path, nearly every token: it ends inside this block, at a byte
         * that is neither ' nor -, with no typographic punctuation inside. */
        uint64_t notc = ~cur.cont & ~below(k);
        if (notc) {
          unsigned r = (unsigned)__builtin_ctzll(notc);
          uint64_t in = below(r) & ~below(k), inner = in & ~(1ull << k);
          if (!(e & inner) && !((cur.join >> r) & 1)) {
            bool ha = (cur.al & in) != 0, hd = (cur.dg & in) != 0;
            sl__tok_t tk = {(uint32_t)(base + k), (uint32_t)(base + r), 0, 0,
                            ts.nl > 255 ? 255 : (uint8_t)ts.nl, ts.punct, 0, 0, 0};
            tk.kind = (cur.us & in) || (ha && hd) ? SL_TK_ALNUM : ha ? SL_TK_WORD : SL_TK_NUM;
            if (tk.kind == SL_TK_WORD) {
              bool up = (cur.up >> k) & 1;
              t->has_upper |= up;
              bool first_up = up || (s[base + k] >= 0xC3 && utf8_upper_at(s + base + k, len - base - k));
              bool all_up = !(cur.lo & in) && first_up && r - k != 1 &&
                            !((cur.hi & in) && utf8_lower_in(s + base + k, r - k));
              tk.caps = (uint8_t)((first_up ? 1 : 0) | (all_up ? 2 : 0) | ((cur.up & inner) ? 4 : 0));
            }
            tok_add(t, tk);
            ts.nl = 0;
            ts.punct = 0;
            b = r;
            continue;
          }
        }
        ts.open = true;
        ts.st = base + k;
        ts.has_alpha = ts.has_digit = ts.bad = ts.any_lo = ts.inner_up = ts.joined = false;
        b = k;
      }
      /* inside the token from bit b: the run of token bytes */
      uint64_t from = ~below(b);
      uint64_t notc = ~cur.cont & from;
      unsigned r = notc ? (unsigned)__builtin_ctzll(notc) : 64;
      uint64_t first = ts.st == base + b ? 1ull << b : 0; /* the token's first byte */
      uint64_t stop = e & from & below(r) & ~first;
      if (stop) r = (unsigned)__builtin_ctzll(stop);
      uint64_t in = from & below(r);
      ts.has_alpha |= (cur.al & in) != 0;
      ts.has_digit |= (cur.dg & in) != 0;
      ts.bad |= (cur.us & in) != 0;
      ts.any_lo |= (cur.lo & in) != 0;
      /* an inner capital: not the first letter, not right after ' or - */
      ts.inner_up |= (cur.up & in & ~first & ~((cur.join << 1) | jcarry)) != 0;
      if (stop) {
        ts.has_alpha = true;
        tok_emit(t, s, len, &ts, base + r);
        b = r;
        continue;
      }
      if (r == 64) break; /* the token goes on in the next block */
      bool next_al = r + 1 < 64 ? (cur.al >> (r + 1)) & 1 : nxt.al & 1;
      if (((cur.join >> r) & 1) && next_al && ts.has_alpha && !ts.has_digit) {
        b = r + 1; /* O'Brien, Mayo-Walters */
        ts.joined = true;
        continue;
      }
      tok_emit(t, s, len, &ts, base + r);
      b = r;
    }
    jcarry = cur.join >> 63;
    cur = nxt;
  }
  if (ts.open) tok_emit(t, s, len, &ts, len);
  bp_end(len, t, &ps);
}
