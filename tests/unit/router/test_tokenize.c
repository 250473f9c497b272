/* The word tokenizer (router/tokenize.c) against a plain byte loop with the same
 * rules: random texts over the bytes that matter (letters, digits, '_', ' and -,
 * the E2 80 xx punctuation and its parts, spaces, newlines) at every length
 * around the 64-byte blocks, and longer mixed texts. Tokens, their flags and
 * the gap context must be identical. */
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
static bool ref_e2(const unsigned char *s, size_t len, size_t i) {
  return s[i] == 0xE2 && i + 2 < len && s[i + 1] == 0x80;
}

/* The rules one byte at a time (what the mask tokenizer must reproduce). */
static void ref_tokenize(const unsigned char *s, size_t len, sl__toks_t *t) {
  size_t pos = 0;
  uint8_t nl = 0, punct = 0;
  while (pos < len) {
    unsigned char c = s[pos];
    if (!ref_word(c)) {
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
    bool has_alpha = false, has_digit = false, bad = false, any_lo = false, inner_up = false;
    while (i < len) {
      unsigned char d = s[i];
      if (i > st && ref_e2(s, len, i)) {
        has_alpha = true;
        break;
      }
      if (ref_word(d) || d == '_') {
        has_alpha |= ref_al(d);
        has_digit |= d >= '0' && d <= '9';
        bad |= d == '_';
        any_lo |= d >= 'a' && d <= 'z';
        if (d >= 'A' && d <= 'Z' && i > st && s[i - 1] != '\'' && s[i - 1] != '-') inner_up = true;
        i++;
        continue;
      }
      if ((d == '\'' || d == '-') && i + 1 < len && ref_al(s[i + 1]) && has_alpha && !has_digit) {
        i++;
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
                          (inner_up ? 4 : 0));
    }
    tok_push(t, tk);
    nl = 0;
    punct = 0;
    pos = i;
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
  sl__tokenize((const char *)s, len, &a);
  ref_tokenize(s, len, &b);
  int ok = !a.err && !b.err && a.n == b.n && a.has_upper == b.has_upper;
  for (size_t k = 0; ok && k < a.n; k++) ok = !memcmp(&a.v[k], &b.v[k], sizeof a.v[k]);
  if (!ok) {
    fprintf(stderr, "tokens differ (len %zu, %zu vs %zu tokens):", len, a.n, b.n);
    for (size_t i = 0; i < len; i++) fprintf(stderr, " %02x", s[i]);
    fprintf(stderr, "\n");
  }
  free(a.v);
  free(b.v);
  return ok;
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
                                     cmocka_unit_test(prose)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
