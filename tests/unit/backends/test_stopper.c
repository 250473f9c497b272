/* Stop strings applied by sluice to an answer that arrives in pieces
 * (common/sl_stop.c): whatever the split, the same text goes out, ending before
 * the first stop string; text that only looks like one's start goes out at the end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sl_stop.h"

#include <string.h>

typedef struct {
  char text[256];
  int calls;
} out_t;

static void collect(void *ud, const char *s, size_t n) {
  out_t *o = ud;
  assert_true(n > 0); /* no empty pieces */
  size_t l = strlen(o->text);
  assert_true(l + n < sizeof o->text);
  memcpy(o->text + l, s, n);
  o->text[l + n] = 0;
  o->calls++;
}

/* The text fed in pieces cut at a and b; what went out, and which stop string hit. */
static int run(const char *const *stops, size_t n_stops, const char *text, size_t a, size_t b, out_t *o) {
  sl_stopper_t st;
  sl_stopper_init(&st);
  for (size_t i = 0; i < n_stops; i++) assert_int_equal(sl_stopper_add(&st, stops[i]), 0);
  memset(o, 0, sizeof *o);
  size_t n = strlen(text);
  assert_int_equal(sl_stopper_feed(&st, text, a, collect, o), 0);
  assert_int_equal(sl_stopper_feed(&st, text + a, b - a, collect, o), 0);
  assert_int_equal(sl_stopper_feed(&st, text + b, n - b, collect, o), 0);
  sl_stopper_flush(&st, collect, o);
  int hit = st.hit;
  sl_stopper_free(&st);
  return hit;
}

static void test_every_split(void **state) {
  (void)state;
  static const char *const stops[] = {"</s>", "\n\n", "stop here"};
  static const struct {
    const char *text, *want;
    int hit;
  } cases[] = {
      {"one\ntwo\n\nthree </s>", "one\ntwo", 1},
      {"a </s b </s> c\n\n", "a </s b ", 0},
      {"no stop at all, stop her", "no stop at all, stop her", -1}, /* held, then flushed */
      {"ends in a partial <", "ends in a partial <", -1},
      {"stop here", "", 2},
  };
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
    size_t n = strlen(cases[c].text);
    for (size_t a = 0; a <= n; a++)
      for (size_t b = a; b <= n; b++) {
        out_t o;
        int hit = run(stops, 3, cases[c].text, a, b, &o);
        assert_string_equal(o.text, cases[c].want);
        assert_int_equal(hit, cases[c].hit);
      }
  }
}

static void test_no_stops_passes_through(void **state) {
  (void)state;
  out_t o;
  assert_int_equal(run(NULL, 0, "plain text", 3, 5, &o), -1);
  assert_string_equal(o.text, "plain text");
  assert_int_equal(o.calls, 3); /* piece by piece, nothing held */
}

static void test_nothing_after_the_cut(void **state) {
  (void)state;
  sl_stopper_t st;
  sl_stopper_init(&st);
  assert_int_equal(sl_stopper_add(&st, "##"), 0);
  out_t o = {{0}, 0};
  sl_stopper_feed(&st, "x ## y", 6, collect, &o);
  assert_true(sl_stopper_cut(&st));
  sl_stopper_feed(&st, "more", 4, collect, &o);
  sl_stopper_flush(&st, collect, &o);
  assert_string_equal(o.text, "x ");
  sl_stopper_free(&st);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_split),
      cmocka_unit_test(test_no_stops_passes_through),
      cmocka_unit_test(test_nothing_after_the_cut),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
