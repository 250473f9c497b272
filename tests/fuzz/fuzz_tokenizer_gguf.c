/* Fuzz target for the GGUF tokenizer loader: the input is a GGUF image; when the
 * reader accepts it, its tokenizer.* metadata (token lists, scores, types, merges,
 * special ids, pre-tokenizer name) goes through sl_tok_from_gguf, and a loaded
 * tokenizer encodes a fixed mixed text and decodes every id of its vocabulary (up
 * to a bound). Hostile metadata must give NULL and a message, never a crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backends/local/gguf.h"
#include "backends/local/tokenizer.h"

static const char TEXT[] = "Hello, world! 日本語 🚀 it's 12345\n\n  <s></s><|im_end|> \xff\xfe end";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[256];
  sl_gguf_t *g = sl_gguf_open_mem(data, size, err, sizeof err);
  if (!g) return 0;
  sl_tok_t *t = sl_tok_from_gguf(g, err, sizeof err);
  sl_gguf_close(g); /* the tokenizer must not keep pointers into the image */
  if (!t) return 0;
  for (int special = 0; special < 2; special++) {
    int32_t *ids;
    size_t n;
    if (sl_tok_encode(t, TEXT, sizeof TEXT - 1, special, special, &ids, &n) == 0) free(ids);
  }
  sl_buf_t b;
  sl_buf_init(&b, 1 << 20);
  sl_detok_t d;
  sl_detok_init(&d, t, true, true);
  size_t nv = sl_tok_n_vocab(t);
  for (size_t i = 0; i < nv && i < 4096; i++)
    if (sl_detok_push(&d, (int32_t)i, &b)) break;
  sl_detok_flush(&d, &b);
  sl_buf_free(&b);
  sl_tok_free(t);
  return 0;
}
