/* The upstream SSE parser (any split of the byte stream gives the same events;
 * bounded) and the Prometheus renderer (format, label escaping). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "backends/sse.h"
#include "gateway/metrics.h"
#include "sl_err.h"

#include <stdio.h>
#include <string.h>

typedef struct {
  char log[4096];
  int n;
} events_t;

static int on_ev(void *data, const char *event, const char *p, size_t n) {
  events_t *e = data;
  size_t l = strlen(e->log);
  snprintf(e->log + l, sizeof e->log - l, "[%s|%.*s]", event, (int)n, p);
  e->n++;
  return 0;
}

static const char stream[] =
    ": comment\r\n"
    "data: {\"a\":1}\r\n\r\n"
    "event: message_start\ndata: line1\ndata: line2\n\n"
    "data:nospace\r\r"
    "id: 5\nretry: 10\ndata: [DONE]\n\n";
static const char expected[] = "[message|{\"a\":1}][message_start|line1\nline2][message|nospace][message|[DONE]]";

static void test_sse_every_split(void **st) {
  size_t n = sizeof stream - 1;
  for (size_t cut = 0; cut <= n; cut++) {
    events_t e = {{0}, 0};
    sl_sse_t s;
    sl_sse_init(&s, 1024, on_ev, &e);
    assert_int_equal(sl_sse_feed(&s, stream, cut), 0);
    assert_int_equal(sl_sse_feed(&s, stream + cut, n - cut), 0);
    assert_string_equal(e.log, expected);
    sl_sse_free(&s);
  }
  /* one byte at a time */
  events_t e = {{0}, 0};
  sl_sse_t s;
  sl_sse_init(&s, 1024, on_ev, &e);
  for (size_t i = 0; i < n; i++) assert_int_equal(sl_sse_feed(&s, stream + i, 1), 0);
  assert_string_equal(e.log, expected);
  sl_sse_free(&s);
}

/* A UTF-8 byte order mark at the start is dropped, however the bytes are
 * split; only at the very start, and three bytes that are not one are kept. */
static void test_sse_bom(void **st) {
  static const char bommed[] = "\xEF\xBB\xBF" "data: Hello\n\n\xEF\xBB\xBF" "data: x\n\n";
  size_t n = sizeof bommed - 1;
  for (size_t cut = 0; cut <= n; cut++) {
    events_t e = {{0}, 0};
    sl_sse_t s;
    sl_sse_init(&s, 1024, on_ev, &e);
    for (size_t i = 0; i < cut; i++) assert_int_equal(sl_sse_feed(&s, bommed + i, 1), 0);
    assert_int_equal(sl_sse_feed(&s, bommed + cut, n - cut), 0);
    assert_string_equal(e.log, "[message|Hello]"); /* a BOM later spoils the field name */
    sl_sse_free(&s);
  }
  events_t e = {{0}, 0};
  sl_sse_t s;
  sl_sse_init(&s, 1024, on_ev, &e);
  const char *half = "\xEF\xBB" ": c\ndata: y\n\n";
  assert_int_equal(sl_sse_feed(&s, half, strlen(half)), 0);
  assert_string_equal(e.log, "[message|y]"); /* a half BOM is a field name of its own */
  sl_sse_free(&s);
}

static void test_sse_limit(void **st) {
  events_t e = {{0}, 0};
  sl_sse_t s;
  sl_sse_init(&s, 16, on_ev, &e);
  const char big[] = "data: 0123456789012345678901234567890\n\n";
  assert_int_equal(sl_sse_feed(&s, big, sizeof big - 1), SL_ETOOBIG);
  sl_sse_free(&s);
}

static void test_metrics_render(void **st) {
  sl_metrics_t *m = sl_metrics_create();
  sl_metrics_declare(m, "t_total", SL_M_COUNTER, "Things.");
  sl_metrics_declare(m, "t_seconds", SL_M_HISTOGRAM, "Time.");
  char lab[128];
  sl_metrics_label(lab, sizeof lab, "backend", "we\"ird\\name\n");
  sl_metrics_add(m, "t_total", lab, 2);
  sl_metrics_add(m, "t_total", lab, 3);
  sl_metrics_observe(m, "t_seconds", "b=\"x\"", 0.003);
  sl_metrics_observe(m, "t_seconds", "b=\"x\"", 7);
  sl_buf_t b;
  sl_buf_init(&b, 1 << 20);
  assert_int_equal(sl_metrics_render(m, &b), 0);
  assert_non_null(strstr(b.data, "# TYPE t_total counter\n"));
  assert_non_null(strstr(b.data, "t_total{backend=\"we\\\"ird\\\\name\\n\"} 5\n"));
  assert_non_null(strstr(b.data, "t_seconds_bucket{b=\"x\",le=\"0.005\"} 1\n"));
  assert_non_null(strstr(b.data, "t_seconds_bucket{b=\"x\",le=\"10\"} 2\n"));
  assert_non_null(strstr(b.data, "t_seconds_bucket{b=\"x\",le=\"+Inf\"} 2\n"));
  assert_non_null(strstr(b.data, "t_seconds_count{b=\"x\"} 2\n"));
  /* unknown families are ignored, not crashes */
  sl_metrics_add(m, "nope", "", 1);
  sl_buf_free(&b);
  sl_metrics_free(m);
}

/* add_many is the same as the adds one by one; a name seen before by address
 * and the same name from another address reach the same series. */
static void test_metrics_add_many(void **st) {
  sl_metrics_t *m = sl_metrics_create();
  sl_metrics_declare(m, "a_total", SL_M_COUNTER, "A.");
  sl_metrics_declare(m, "b_total", SL_M_COUNTER, "B.");
  const sl_metric_inc_t inc[] = {{"a_total", "k=\"1\"", 1}, {"b_total", "", 2.5},
                                 {"a_total", "k=\"2\"", 4}, {"a_total", "k=\"1\"", 10},
                                 {"nope", "", 1}};
  sl_metrics_add_many(m, inc, 5);
  char name[16];
  snprintf(name, sizeof name, "%s", "b_total"); /* not the literal's address */
  sl_metrics_add(m, name, "", 0.5);
  sl_buf_t b;
  sl_buf_init(&b, 1 << 20);
  assert_int_equal(sl_metrics_render(m, &b), 0);
  assert_non_null(strstr(b.data, "a_total{k=\"1\"} 11\n"));
  assert_non_null(strstr(b.data, "a_total{k=\"2\"} 4\n"));
  assert_non_null(strstr(b.data, "b_total 3\n"));
  sl_buf_free(&b);
  sl_metrics_free(m);
}

/* Per-loop stores: rendering any of them renders the root and every child
 * merged (counters and histograms summed, a gauge as it was set last). */
static void test_metrics_children(void **st) {
  sl_metrics_t *root = sl_metrics_create();
  sl_metrics_declare(root, "req_total", SL_M_COUNTER, "R.");
  sl_metrics_declare(root, "open", SL_M_GAUGE, "O.");
  sl_metrics_declare(root, "lat_seconds", SL_M_HISTOGRAM, "L.");
  sl_metrics_t *a = sl_metrics_child(root), *b = sl_metrics_child(root);
  assert_non_null(a);
  assert_non_null(b);
  assert_null(sl_metrics_child(a)); /* no grandchildren */
  sl_metrics_add(a, "req_total", "s=\"200\"", 2);
  sl_metrics_add(b, "req_total", "s=\"200\"", 3);
  sl_metrics_add(b, "req_total", "s=\"500\"", 1);
  sl_metrics_observe(a, "lat_seconds", "", 0.002);
  sl_metrics_observe(b, "lat_seconds", "", 0.2);
  sl_metrics_set(b, "open", "", 7);
  sl_metrics_set(a, "open", "", 4); /* set last: wins */
  sl_buf_t out;
  sl_buf_init(&out, 1 << 20);
  assert_int_equal(sl_metrics_render(b, &out), 0);
  assert_non_null(strstr(out.data, "req_total{s=\"200\"} 5\n"));
  assert_non_null(strstr(out.data, "req_total{s=\"500\"} 1\n"));
  assert_non_null(strstr(out.data, "open 4\n"));
  assert_non_null(strstr(out.data, "lat_seconds_bucket{le=\"0.0025\"} 1\n"));
  assert_non_null(strstr(out.data, "lat_seconds_bucket{le=\"0.25\"} 2\n"));
  assert_non_null(strstr(out.data, "lat_seconds_count{} 2\n"));
  /* each family rendered once */
  assert_null(strstr(strstr(out.data, "# TYPE req_total") + 1, "# TYPE req_total"));
  sl_buf_reset(&out);
  assert_int_equal(sl_metrics_render(root, &out), 0); /* the same from the root */
  assert_non_null(strstr(out.data, "req_total{s=\"200\"} 5\n"));
  /* a counter set to a process-wide total by whichever loop answers: not summed */
  sl_metrics_set(a, "req_total", "s=\"all\"", 9);
  sl_metrics_set(b, "req_total", "s=\"all\"", 10);
  sl_buf_reset(&out);
  assert_int_equal(sl_metrics_render(a, &out), 0);
  assert_non_null(strstr(out.data, "req_total{s=\"all\"} 10\n"));
  sl_buf_free(&out);
  sl_metrics_free(root); /* frees the children */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sse_every_split),
      cmocka_unit_test(test_sse_limit),
      cmocka_unit_test(test_sse_bom),
      cmocka_unit_test(test_metrics_render),
      cmocka_unit_test(test_metrics_add_many),
      cmocka_unit_test(test_metrics_children),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
