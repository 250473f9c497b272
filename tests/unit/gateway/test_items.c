/* The recent Responses items: kept per owner and id, found only by their owner,
 * the newer of two with one id counting, the oldest leaving first when the
 * bytes run over, too large an item not kept, and safe from several threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gateway/items.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put(sl_items_t *s, const char *owner, const char *json) { sl_items_put(s, owner, json, strlen(json)); }

static void expect(sl_items_t *s, const char *owner, const char *id, const char *want) {
  char *got = sl_items_get(s, owner, id);
  if (!want) {
    assert_null(got);
    return;
  }
  assert_non_null(got);
  assert_string_equal(got, want);
  free(got);
}

static void test_owner_and_id(void **st) {
  sl_items_t *s = sl_items_new(1 << 20);
  put(s, "team-a", "[{\"id\":\"msg_1_0\",\"type\":\"message\",\"x\":1},{\"id\":\"fc_1_1\",\"type\":\"function_call\"},"
                   "{\"type\":\"no-id\"},7]");
  expect(s, "team-a", "msg_1_0", "{\"id\":\"msg_1_0\",\"type\":\"message\",\"x\":1}");
  expect(s, "team-a", "fc_1_1", "{\"id\":\"fc_1_1\",\"type\":\"function_call\"}");
  expect(s, "team-b", "msg_1_0", NULL); /* another key's */
  expect(s, "", "msg_1_0", NULL);
  expect(s, "team-a", "msg_2_0", NULL);
  put(s, "team-a", "[{\"id\":\"msg_1_0\",\"type\":\"message\",\"x\":2}]"); /* the same id again */
  expect(s, "team-a", "msg_1_0", "{\"id\":\"msg_1_0\",\"type\":\"message\",\"x\":2}");
  put(s, "team-a", "not json");
  sl_items_free(s);
}

static void test_bounded(void **st) {
  sl_items_t *s = sl_items_new(16384); /* an item may take 1 KB */
  char json[2048];
  for (int i = 0; i < 100; i++) {
    snprintf(json, sizeof json, "[{\"id\":\"msg_%d\",\"text\":\"%0500d\"}]", i, i);
    put(s, "", json);
  }
  expect(s, "", "msg_0", NULL); /* the oldest left */
  char *last = sl_items_get(s, "", "msg_99");
  assert_non_null(last);
  free(last);
  int kept = 0;
  for (int i = 0; i < 100; i++) {
    char id[16];
    snprintf(id, sizeof id, "msg_%d", i);
    char *g = sl_items_get(s, "", id);
    kept += g != NULL;
    free(g);
  }
  assert_true(kept > 10 && kept <= 32); /* 16 KB of ~520-byte items */
  snprintf(json, sizeof json, "[{\"id\":\"big\",\"text\":\"%01500d\"}]", 1);
  put(s, "", json);
  expect(s, "", "big", NULL); /* over a sixteenth of the store */
  sl_items_free(s);
}

static void *writer(void *arg) {
  sl_items_t *s = arg;
  char json[128];
  for (int i = 0; i < 2000; i++) {
    snprintf(json, sizeof json, "[{\"id\":\"msg_%d\"}]", i % 300);
    sl_items_put(s, "", json, strlen(json));
    free(sl_items_get(s, "", "msg_7"));
  }
  return NULL;
}

static void test_threads(void **st) {
  sl_items_t *s = sl_items_new(8192);
  pthread_t t[4];
  for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, writer, s);
  for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
  sl_items_free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_owner_and_id),
      cmocka_unit_test(test_bounded),
      cmocka_unit_test(test_threads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
