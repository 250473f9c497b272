/* Shared helpers for the router's unit tests: one router per test binary, and
 * "did the classifier report TYPE over exactly SPAN" checks. */
#ifndef ROUTER_TEST_UTIL_H
#define ROUTER_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "router/router_int.h"

static sl_router_t *g_router;

static int setup_router(void **state) {
  (void)state;
  sl_jerr_t err = {{0}};
  g_router = sl_router_create(NULL, &err);
  if (!g_router) fprintf(stderr, "router: %s\n", err.msg);
  return g_router ? 0 : -1;
}

static int teardown_router(void **state) {
  (void)state;
  sl_router_free(g_router);
  return 0;
}

/* 1 if `text` yields an entity of `type` whose bytes are exactly `span`
 * (or any entity of that type when span is NULL). */
__attribute__((unused)) static int found(const char *text, const char *type, const char *span) {
  sl_class_t c;
  int rc = sl_router_classify_text(g_router, text, strlen(text), NULL, &c);
  int hit = 0;
  for (size_t i = 0; !rc && i < c.n_entities; i++) {
    const sl_entity_t *e = &c.entities[i];
    if (strcmp(e->type, type)) continue;
    if (!span) hit = 1;
    else if (e->end - e->start == strlen(span) && !memcmp(text + e->start, span, strlen(span)))
      hit = 1;
  }
  if (!hit && getenv("ROUTER_TEST_VERBOSE")) {
    fprintf(stderr, "  no %s [%s] in: %s\n", type, span ? span : "*", text);
    for (size_t i = 0; i < c.n_entities; i++)
      fprintf(stderr, "    got %s/%s [%.*s]\n", c.entities[i].type, c.entities[i].detector,
              (int)(c.entities[i].end - c.entities[i].start), text + c.entities[i].start);
  }
  sl_class_free(&c);
  return hit;
}

__attribute__((unused)) static sl_level_t level_of(const char *text) {
  sl_class_t c;
  sl_router_classify_text(g_router, text, strlen(text), NULL, &c);
  sl_level_t l = c.level;
  sl_class_free(&c);
  return l;
}

#define EXPECT(text, type, span) assert_true(found(text, type, span))
#define REJECT(text, type) assert_false(found(text, type, NULL))

#endif
