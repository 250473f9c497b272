/* Helpers shared by the tokenizer unit tests: a tiny in-memory GGUF writer (so
 * hostile and hand-made vocabularies need no files) and file/env helpers. */
#ifndef TEST_TOK_UTIL_H
#define TEST_TOK_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/tools/test_file.h"

typedef struct {
  uint8_t *p;
  size_t n, cap;
  uint64_t n_kv;
} gw_t;

static inline void gw_put(gw_t *w, const void *d, size_t n) {
  if (w->n + n > w->cap) {
    w->cap = (w->n + n) * 2 + 256;
    w->p = realloc(w->p, w->cap);
  }
  memcpy(w->p + w->n, d, n);
  w->n += n;
}
static inline void gw_u32(gw_t *w, uint32_t v) { gw_put(w, &v, 4); }
static inline void gw_u64(gw_t *w, uint64_t v) { gw_put(w, &v, 8); }
static inline void gw_str(gw_t *w, const char *s) {
  gw_u64(w, strlen(s));
  gw_put(w, s, strlen(s));
}
/* Header with a placeholder kv count, patched by gw_finish. */
static inline void gw_begin(gw_t *w) {
  memset(w, 0, sizeof *w);
  gw_put(w, "GGUF", 4);
  gw_u32(w, 3);
  gw_u64(w, 0); /* tensors */
  gw_u64(w, 0); /* kv count, patched */
}
static inline void gw_finish(gw_t *w) { memcpy(w->p + 16, &w->n_kv, 8); }
static inline void gw_kv_str(gw_t *w, const char *k, const char *v) {
  gw_str(w, k);
  gw_u32(w, 8);
  gw_str(w, v);
  w->n_kv++;
}
static inline void gw_kv_u32(gw_t *w, const char *k, uint32_t v) {
  gw_str(w, k);
  gw_u32(w, 4);
  gw_u32(w, v);
  w->n_kv++;
}
static inline void gw_kv_bool(gw_t *w, const char *k, int v) {
  uint8_t b = (uint8_t)v;
  gw_str(w, k);
  gw_u32(w, 7);
  gw_put(w, &b, 1);
  w->n_kv++;
}
static inline void gw_kv_strs(gw_t *w, const char *k, const char **v, size_t n) {
  gw_str(w, k);
  gw_u32(w, 9);
  gw_u32(w, 8);
  gw_u64(w, n);
  for (size_t i = 0; i < n; i++) gw_str(w, v[i]);
  w->n_kv++;
}
static inline void gw_kv_f32s(gw_t *w, const char *k, const float *v, size_t n) {
  gw_str(w, k);
  gw_u32(w, 9);
  gw_u32(w, 6);
  gw_u64(w, n);
  gw_put(w, v, n * 4);
  w->n_kv++;
}
static inline void gw_kv_i32s(gw_t *w, const char *k, const int32_t *v, size_t n) {
  gw_str(w, k);
  gw_u32(w, 9);
  gw_u32(w, 5);
  gw_u64(w, n);
  gw_put(w, v, n * 4);
  w->n_kv++;
}

/* $SLUICE_SHARED/models/<name> or $SLUICE_SRC/tests/e2e/node_modules/<pkg path>. */
static inline void shared_path(char *out, size_t n, const char *name) {
  const char *s = getenv("SLUICE_SHARED");
  snprintf(out, n, "%s/models/%s", s ? s : "../shared", name);
}
static inline void npm_path(char *out, size_t n, const char *rel) {
  const char *s = getenv("SLUICE_SRC");
  snprintf(out, n, "%s/tests/e2e/node_modules/%s", s ? s : ".", rel);
}

#endif
