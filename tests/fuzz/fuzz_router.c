/* Fuzz target for the classifier: arbitrary bytes through sl_router_classify_text
 * (first byte picks a declared class), checking the result's invariants: entities
 * sorted, inside the text, non-overlapping among the built-in ones and among the
 * custom ones, level at least every entity's. */
#include "router/router.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static sl_router_t *router;

__attribute__((destructor)) static void release(void) { sl_router_free(router); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!router) {
    sl_custom_detector_t cd = {"CODENAME", "\\bProject (Falcon|Osprey)\\b", SL_LEVEL_RESTRICTED};
    sl_router_opts_t o = {.custom = &cd, .n_custom = 1};
    sl_jerr_t err;
    router = sl_router_create(&o, &err);
    if (!router) abort();
  }
  static const char *const declared[] = {NULL, "public", "internal", "confidential", "restricted", "x"};
  const char *decl = size ? declared[data[0] % 6] : NULL;
  sl_class_t c;
  int rc = sl_router_classify_text(router, (const char *)data, size, decl, &c);
  if (rc && c.level != SL_LEVEL_RESTRICTED) abort();
  /* built-in and custom findings are resolved apart (a custom match never
   * hides a built-in one): each kind is non-overlapping, all sorted by start */
  uint32_t prev_end[2] = {0, 0}, prev_start = 0;
  for (size_t i = 0; i < c.n_entities; i++) {
    const sl_entity_t *e = &c.entities[i];
    int custom = !strcmp(e->type, "CODENAME");
    if (e->start >= e->end || e->end > size || e->start < prev_end[custom] || e->start < prev_start) abort();
    if (e->level > c.level) abort();
    prev_end[custom] = e->end;
    prev_start = e->start;
  }
  if (c.difficulty < 0 || c.difficulty > 1) abort();
  sl_class_free(&c);
  return 0;
}
