/* Reading a whole file in tests and benches. */
#ifndef SL_TEST_FILE_H
#define SL_TEST_FILE_H

#include <stdio.h>
#include <stdlib.h>

/* The file's bytes, NUL-terminated (free() them), and their count in *len when
 * len is not NULL; NULL when it cannot be read whole. */
static inline char *sl_test_slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = n >= 0 ? malloc((size_t)n + 1) : NULL;
  if (!b || fread(b, 1, (size_t)n, f) != (size_t)n) {
    free(b);
    fclose(f);
    return NULL;
  }
  b[n] = 0;
  fclose(f);
  if (len) *len = (size_t)n;
  return b;
}

#endif
