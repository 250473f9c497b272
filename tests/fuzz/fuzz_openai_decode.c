/* Fuzz target: OpenAI request bodies. Whatever the bytes, decoding returns a
 * request or an error; an accepted request re-encodes for an upstream. */
#include "gateway/codec_openai.h"
#include "sl_chat.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sl_chat_req_t r;
  char err[300];
  if (sl_openai_decode_request((const char *)data, size, &r, err, sizeof err)) return 0;
  char *text;
  size_t len;
  if (!sl_chat_text(&r, &text, &len)) free(text);
  sl_buf_t b;
  sl_buf_init(&b, 1 << 24);
  sl_openai_meta_t m = {.id = "id", .created = 1, .model = r.model};
  sl_openai_encode_completion(&b, &m, r.msgs[0].content, 0, NULL, 0, "stop", 1, 1);
  sl_buf_free(&b);
  sl_chat_req_free(&r);
  return 0;
}
