/* The word tokenizer and the byte-class pass (router/tokenize.c) against plain
 * byte loops with the same rules: random texts over the bytes that matter
 * (letters, digits, '_', ' and -, the E2 80 xx punctuation and its parts,
 * spaces, newlines, key-material and operator bytes) at every length around the
 * 64-byte blocks, and longer mixed texts. Tokens, their flags and the gap
 * context, the key-material runs and the difficulty byte counts must be
 * identical. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "router/tokenize.c"

static bool ref_word(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c >= 0x80;
}
static bool ref_al(unsigned char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c >= 0x80; }
static bool ref_space(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }
/* Byte i is in a word: ASCII by ref_word; a byte >= 0x80 unless it is one of a
 * whole character that sl_utf8_nonword calls punctuation, a symbol or a space
 * (its lead byte at most 3 back; a stray continuation byte stays a word byte). */
static bool ref_word_at(const unsigned char *s, size_t len, size_t i) {
  if (s[i] < 0x80) return ref_word(s[i]);
  size_t q = i;
  while (q > 0 && i - q < 3 && (s[q] & 0xC0) == 0x80) q--;
  size_t k = sl_utf8_seq_len(s[q]);
  if (k < 2 || q + k <= i) return true;
  return !sl_utf8_nonword(s + q, len - q);
}
static bool ref_al_at(const unsigned char *s, size_t len, size_t i) {
  return s[i] >= 0x80 ? ref_word_at(s, len, i) : ref_al(s[i]);
}
static bool ref_e2(const unsigned char *s, size_t len, size_t i) {
  return s[i] == 0xE2 && i + 2 < len && s[i + 1] == 0x80;
}

/* The rules one byte at a time (what the mask tokenizer must reproduce). */
static void ref_tokenize(const unsigned char *s, size_t len, sl__toks_t *t) {
  size_t pos = 0;
  uint8_t nl = 0, punct = 0;
  while (pos < len) {
    unsigned char c = s[pos];
    if (!ref_word_at(s, len, pos)) {
      if (c == '\n' && nl < 255) nl++;
      if (!ref_space(c)) punct = c;
      pos++;
      continue;
    }
    if (ref_e2(s, len, pos)) {
      punct = s[pos + 2];
      pos += 3;
      continue;
    }
    size_t st = pos, i = pos;
    bool has_alpha = false, has_digit = false, bad = false, any_lo = false, inner_up = false, joined = false;
    while (i < len) {
      unsigned char d = s[i];
      if (i > st && ref_e2(s, len, i) && ref_word_at(s, len, i)) { /* (U+200B: not punctuation) */
        has_alpha = true;
        break;
      }
      if (ref_word_at(s, len, i) || d == '_') {
        has_alpha |= ref_al(d);
        has_digit |= d >= '0' && d <= '9';
        bad |= d == '_';
        any_lo |= d >= 'a' && d <= 'z';
        if (d >= 'A' && d <= 'Z' && i > st && s[i - 1] != '\'' && s[i - 1] != '-') inner_up = true;
        i++;
        continue;
      }
      if ((d == '\'' || d == '-') && i + 1 < len && ref_al_at(s, len, i + 1) && has_alpha && !has_digit) {
        i++;
        joined = true;
        continue;
      }
      break;
    }
    sl__tok_t tk = {(uint32_t)st, (uint32_t)i, 0, 0, nl, punct, 0, 0, 0};
    tk.kind = bad || (has_alpha && has_digit) ? SL_TK_ALNUM : has_alpha ? SL_TK_WORD : SL_TK_NUM;
    if (tk.kind == SL_TK_WORD) {
      bool up = s[st] >= 'A' && s[st] <= 'Z';
      if (up) t->has_upper = true;
      bool first_up = up || utf8_upper_at(s + st, len - st);
      tk.caps = (uint8_t)((first_up ? 1 : 0) | (!any_lo && first_up && i - st != 1 ? 2 : 0) |
                          (inner_up ? 4 : 0) | (joined ? 8 : 0));
    }
    tok_push(t, tk);
    nl = 0;
    punct = 0;
    pos = i;
  }
}

/* The byte pass one byte at a time: runs of >= 24 key-material bytes over the
 * whole text, the difficulty counts over the first SL_DIFF_SCAN bytes. */
static bool ref_tokbyte(unsigned char c) {
  return ref_word(c) ? c < 0x80 : c && strchr("_+/=.!~-", c);
}

static void ref_byte_pass(const unsigned char *s, size_t len, sl__toks_t *runs, sl__bytestats_t *st) {
  size_t scan = len < SL_DIFF_SCAN ? len : SL_DIFF_SCAN;
  memset(st, 0, sizeof *st);
  st->scanned = scan;
  st->lines = 1;
  for (size_t i = 0; i < len;) {
    if (!ref_tokbyte(s[i])) {
      i++;
      continue;
    }
    size_t j = i;
    while (j < len && ref_tokbyte(s[j])) j++;
    run_add(runs, i, j);
    i = j;
  }
  for (size_t i = 0; i < scan; i++) {
    unsigned char c = s[i];
    st->words += ref_word_at(s, len, i) && (i == 0 || !ref_word_at(s, len, i - 1));
    st->digits += c >= '0' && c <= '9';
    st->nonascii += c >= 0x80;
    st->ops += c && strchr("=+*^/<>", c) != NULL;
    if (c == '\n') {
      st->lines++;
      if (i + 5 < scan && !memcmp(s + i + 1, "    ", 4)) st->fence = true;
      if (i + 2 < scan && (s[i + 1] == '-' || s[i + 1] == '*' ||
                           (s[i + 1] >= '0' && s[i + 1] <= '9' && (s[i + 2] == '.' || s[i + 2] == ')'))))
        st->listing++;
    }
    if (c == '`' && i + 2 < scan && s[i + 1] == '`' && s[i + 2] == '`') st->fence = true;
    /* the punctuation cue words, every occurrence inside the prefix */
    st->cue_latex += c == '$';
    static const char *const code[] = {"=>", "->", "();", "){", ") {"};
    for (size_t w = 0; w < sizeof code / sizeof code[0]; w++)
      st->cue_code += i + strlen(code[w]) <= scan && !memcmp(s + i, code[w], strlen(code[w]));
  }
}

static uint64_t rng = 88172645463325252ull;
static unsigned rnd(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (unsigned)rng;
}

/* 1 if both tokenizers agree on s; prints the first difference otherwise. */
static int same(const unsigned char *s, size_t len) {
  sl__toks_t a = {0}, b = {0};
  sl__bytestats_t x, y;
  sl__tokenize((const char *)s, len, &a, &x);
  ref_tokenize(s, len, &b);
  ref_byte_pass(s, len, &b, &y); /* the tokenizer's pass gives the byte pass's results too */
  int ok = !a.err && !b.err && a.n == b.n && a.has_upper == b.has_upper && !memcmp(&x, &y, sizeof x) &&
           a.n_runs == b.n_runs && (!a.n_runs || !memcmp(a.runs, b.runs, a.n_runs * 2 * sizeof *a.runs));
  for (size_t k = 0; ok && k < a.n; k++) ok = !memcmp(&a.v[k], &b.v[k], sizeof a.v[k]);
  /* the tokens the address and name rules can start at, as listed on the way */
  size_t na = 0, nn = 0, nc = 0;
  for (size_t k = 0; ok && k < b.n; k++) {
    const sl__tok_t *t = &b.v[k];
    bool word = t->kind == SL_TK_WORD, line = k == 0 || t->nl_before;
    if (!word && t->e - t->s <= 6) ok = na < a.n_addr && a.sel_addr[na++] == k;
    bool caps_label = (t->caps & 3) == 3 && t->punct_before == ':' && !t->nl_before;
    if (ok && word && (((t->caps & 3) != 3 && ((t->caps & 1) || line)) || caps_label))
      ok = nn < a.n_name && a.sel_name[nn++] == k;
    if (ok && ((word && (t->caps & 3) == 3 && t->e - t->s >= 2) || (t->kind == SL_TK_ALNUM && t->e - t->s >= 9)))
      ok = nc < a.n_caps && a.sel_caps[nc++] == k;
  }
  ok = ok && na == a.n_addr && nn == a.n_name && nc == a.n_caps;
  if (!ok) {
    fprintf(stderr, "tokens differ (len %zu, %zu vs %zu tokens):", len, a.n, b.n);
    for (size_t k = 0; k < a.n && k < b.n; k++)
      if (memcmp(&a.v[k], &b.v[k], sizeof a.v[k])) {
        fprintf(stderr, " [token %zu: %u-%u kind %d caps %d punct %02x vs %u-%u kind %d caps %d punct %02x]", k,
                a.v[k].s, a.v[k].e, a.v[k].kind, a.v[k].caps, a.v[k].punct_before, b.v[k].s, b.v[k].e,
                b.v[k].kind, b.v[k].caps, b.v[k].punct_before);
        break;
      }
    if (memcmp(&x, &y, sizeof x)) fprintf(stderr, " [byte stats differ: words %u vs %u]", x.words, y.words);
    for (size_t i = 0; i < len; i++) fprintf(stderr, " %02x", s[i]);
    fprintf(stderr, "\n");
  }
  free(a.v);
  free(b.v);
  free(a.runs);
  free(b.runs);
  free(a.sel_addr);
  free(a.sel_name);
  free(a.sel_caps);
  free(b.sel_addr);
  free(b.sel_name);
  free(b.sel_caps);
  return ok;
}

/* 1 if both byte passes agree on s. */
static int same_bytes(const unsigned char *s, size_t len) {
  sl__toks_t a = {0}, b = {0};
  sl__bytestats_t x, y;
  sl__byte_pass((const char *)s, len, &a, &x);
  ref_byte_pass(s, len, &b, &y);
  int ok = !a.err && !b.err && !memcmp(&x, &y, sizeof x) && a.n_runs == b.n_runs &&
           (!a.n_runs || !memcmp(a.runs, b.runs, a.n_runs * 2 * sizeof *a.runs));
  if (!ok) fprintf(stderr, "byte pass differs (len %zu, %zu vs %zu runs)\n", len, a.n_runs, b.n_runs);
  free(a.runs);
  free(b.runs);
  return ok;
}

static void byte_pass(void **st) {
  (void)st;
  static const unsigned char al[] = {'a', 'Z', '0', '7', '_', '+', '/', '=', '.', '!', '~', '-', '`',
                                     ' ', '\n', '*', '^', '<', '>', 0x80, 0xC3, '#', ')', '(', ';',
                                     '{', '$', '>', ')', '='};
  static unsigned char buf[4200];
  for (int k = 0; k < 20000; k++) {
    size_t n = rnd() % (k < 19000 ? 300 : sizeof buf);
    /* mostly key-material bytes, so that long runs start and end everywhere */
    for (size_t i = 0; i < n; i++) buf[i] = rnd() % 6 ? "aB3xQ9"[rnd() % 6] : al[rnd() % sizeof al];
    assert_true(same_bytes(buf, n));
    assert_true(same(buf, n));
  }
  /* past the difficulty prefix: runs everywhere, counts only in the first 32 KiB */
  size_t n = SL_DIFF_SCAN + 5000;
  unsigned char *big = malloc(n);
  for (size_t i = 0; i < n; i++) big[i] = rnd() % 5 ? "aB3xQ9"[rnd() % 6] : al[rnd() % sizeof al];
  assert_true(same_bytes(big, n));
  assert_true(same(big, n));
  free(big);
}

static void random_bytes(void **st) {
  (void)st;
  static const unsigned char al[] = {'a', 'A', 'z', 'Q', '0', '9', '_', '\'', '-', 0xE2, 0x80,
                                     0x94, 0xC3, 0x89, ' ', '\n', '.', '\t', ':'};
  unsigned char buf[300];
  for (int k = 0; k < 60000; k++) {
    size_t n = rnd() % sizeof buf;
    for (size_t i = 0; i < n; i++) buf[i] = al[rnd() % sizeof al];
    assert_true(same(buf, n));
  }
}

/* Each piece placed so that it straddles a 64-byte block boundary. */
static void block_edges(void **st) {
  (void)st;
  static const char *const pieces[] = {"O'Brien", "Mayo-Walters", "a\xE2\x80\x94" "b", "ab\xE2\x80",
                                       "x\xE2", "AbC", "snake_case", "12-ab", "ab-12", "\xC3\x89lise",
                                       "\n\n", "a'-b", "r\xC3\xA9sum\xC3\xA9", "A-B"};
  unsigned char buf[256];
  for (size_t p = 0; p < sizeof pieces / sizeof pieces[0]; p++) {
    size_t m = strlen(pieces[p]);
    for (size_t at = 50; at <= 130; at++) {
      memset(buf, 'x', at);
      for (size_t i = 0; i < at; i += 7) buf[i] = ' ';
      memcpy(buf + at, pieces[p], m);
      for (size_t tail = 0; tail < 4; tail++) {
        if (tail) buf[at + m + tail - 1] = tail == 2 ? ' ' : 'k';
        assert_true(same(buf, at + m + tail));
      }
    }
  }
}

static void prose(void **st) {
  (void)st;
  const char *t = "Dear Mr. O'Brien, \xE2\x80\x9CHello\xE2\x80\x9D \xE2\x80\x94 call Mayo-Walters at 12b "
                  "Baker St.\n\nuser_id=AKIA1234 \xC3\x89milie Zo\xC3\xABl\xE2\x80\xA6 end";
  assert_true(same((const unsigned char *)t, strlen(t)));
  for (size_t n = 0; n <= strlen(t); n++) assert_true(same((const unsigned char *)t, n));
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(random_bytes), cmocka_unit_test(block_edges),
                                     cmocka_unit_test(prose), cmocka_unit_test(byte_pass)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
