/* Fuzz target for the classifier: arbitrary bytes through sl_router_classify_text
 * (first byte picks a declared class), checking the result's invariants: entities
 * sorted, non-overlapping, inside the text, level at least every entity's. */
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
  uint32_t prev_end = 0;
  for (size_t i = 0; i < c.n_entities; i++) {
    const sl_entity_t *e = &c.entities[i];
    if (e->start >= e->end || e->end > size || e->start < prev_end) abort();
    if (e->level > c.level) abort();
    prev_end = e->end;
  }
  if (c.difficulty < 0 || c.difficulty > 1) abort();
  sl_class_free(&c);
  return 0;
}
