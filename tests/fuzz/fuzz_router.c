/* Fuzz target for the classifier: arbitrary bytes through sl_router_classify_text
 * (first byte picks a declared class), checking the result's invariants: entities
 * sorted, inside the text, non-overlapping among the built-in ones and among the
 * custom ones, level at least every entity's. The same bytes cut at each 0x1E
 * into the messages of a conversation (roles in turn: system, user, assistant,
 * tool) go through sl_router_classify, whose difficulty (the last user
 * message's, its paste set apart) must be the logistic function of the terms
 * explain shows. */
#include "router/router.h"
#include "sl_chat.h"

#include <math.h>
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
  if (!memchr(data, 0x1E, size)) return 0;

  static const char *const roles[] = {"system", "user", "assistant", "tool"};
  sl_chat_req_t req;
  sl_chat_req_init(&req);
  size_t n = 1;
  for (size_t i = 0; i < size; i++) n += data[i] == 0x1E;
  req.msgs = calloc(n, sizeof *req.msgs);
  if (!req.msgs) abort();
  for (const uint8_t *p = data, *end = data + size; req.n_msgs < n; req.n_msgs++) {
    const uint8_t *cut = memchr(p, 0x1E, (size_t)(end - p));
    size_t len = (size_t)((cut ? cut : end) - p);
    sl_msg_t *m = &req.msgs[req.n_msgs];
    m->role = strdup(roles[req.n_msgs % 4]);
    m->content = strndup((const char *)p, len); /* (stops at a NUL, as a decoded string would) */
    if (!m->role || !m->content) abort();
    p = cut ? cut + 1 : end;
  }
  rc = sl_router_classify(router, &req, decl, &c);
  if (rc && c.level != SL_LEVEL_RESTRICTED) abort();
  if (c.difficulty < 0 || c.difficulty > 1) abort();
  double t[64], z = 0;
  size_t k = sl_router_difficulty_terms(router, &req, t, 64);
  if (!rc && (k == 0 || k > 64)) abort();
  for (size_t i = 0; !rc && i < k; i++) z += t[i];
  z = z > 40 ? 40 : z < -40 ? -40 : z;
  if (!rc && fabs(1.0 / (1.0 + exp(-z)) - c.difficulty) > 1e-9) abort();
  sl_class_free(&c);
  sl_chat_req_free(&req);
  return 0;
}
