/* Tenant rate window: counts within 60 s, slides second by second, bounded
 * tenants with least-recently-seen eviction, safe under concurrent use. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "policy/rate.h"

#include <pthread.h>
#include <stdio.h>

static void test_window_slides(void **state) {
  (void)state;
  sl_rate_t *r = sl_rate_create(16);
  assert_non_null(r);
  uint64_t t0 = 1000000; /* ms */
  for (int i = 1; i <= 30; i++) assert_int_equal(sl_rate_hit(r, "a", t0), i);
  /* 30 more spread over the next 30 seconds */
  for (int s = 1; s <= 30; s++) assert_int_equal(sl_rate_hit(r, "a", t0 + s * 1000u), 30 + s);
  assert_int_equal(sl_rate_count(r, "a", t0 + 59999), 60); /* t0's second still inside */
  assert_int_equal(sl_rate_count(r, "a", t0 + 60000), 30); /* the first 30 left */
  assert_int_equal(sl_rate_count(r, "a", t0 + 75000), 15);
  assert_int_equal(sl_rate_count(r, "a", t0 + 90000), 0);
  assert_int_equal(sl_rate_count(r, "a", t0 + 10000000), 0);
  assert_int_equal(sl_rate_hit(r, "a", t0 + 10000000), 1);
  /* other tenants are separate; NULL is the anonymous tenant */
  assert_int_equal(sl_rate_count(r, "b", t0), 0);
  assert_int_equal(sl_rate_hit(r, "b", t0 + 10000000), 1);
  assert_int_equal(sl_rate_hit(r, NULL, t0), 1);
  assert_int_equal(sl_rate_hit(r, "", t0), 2);
  /* a clock that steps back does not corrupt the counts */
  assert_int_equal(sl_rate_hit(r, "a", t0), 2);
  sl_rate_free(r);
}

static void test_bounded_lru(void **state) {
  (void)state;
  sl_rate_t *r = sl_rate_create(4);
  uint64_t t = 5000;
  char name[32];
  for (int i = 0; i < 4; i++) {
    snprintf(name, sizeof name, "t%d", i);
    sl_rate_hit(r, name, t);
    sl_rate_hit(r, name, t);
  }
  sl_rate_hit(r, "t0", t); /* t0 is now the most recent: t1 is the oldest */
  for (int i = 4; i < 100; i++) {
    snprintf(name, sizeof name, "x%d", i);
    sl_rate_hit(r, name, t);
    assert_true(sl_rate_tenants(r) <= 4);
    sl_rate_hit(r, "t0", t); /* keep t0 warm */
  }
  assert_int_equal(sl_rate_tenants(r), 4);
  assert_true(sl_rate_count(r, "t0", t) >= 99);
  assert_int_equal(sl_rate_count(r, "t1", t), 0); /* forgotten */
  sl_rate_free(r);
}

typedef struct {
  sl_rate_t *r;
  int id;
} worker_t;

static void *worker(void *arg) {
  worker_t *w = arg;
  char name[16];
  for (int i = 0; i < 20000; i++) {
    snprintf(name, sizeof name, "t%d", i % 8);
    sl_rate_hit(w->r, name, 42000);
  }
  return NULL;
}

static void test_threads(void **state) {
  (void)state;
  sl_rate_t *r = sl_rate_create(64);
  pthread_t th[4];
  worker_t w[4];
  for (int i = 0; i < 4; i++) {
    w[i] = (worker_t){r, i};
    pthread_create(&th[i], NULL, worker, &w[i]);
  }
  for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
  for (int i = 0; i < 8; i++) {
    char name[16];
    snprintf(name, sizeof name, "t%d", i);
    assert_int_equal(sl_rate_count(r, name, 42000), 4 * 20000 / 8);
  }
  assert_true(sl_rate_now_ms() > 0);
  sl_rate_free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_window_slides),
      cmocka_unit_test(test_bounded_lru),
      cmocka_unit_test(test_threads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
