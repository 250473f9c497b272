/* Fuzz target for redaction and restoration: the input is a conversation
 * (messages separated by 0x01), then 0x00, then entity spans (4 bytes each:
 * start, length, type) over the joined text, then 0x00 and a response text.
 * Redacts, restores the response in one shot and in chunks of every size the
 * input suggests, and requires both restorations to agree. */
#include "policy/redact.h"
#include "sl_err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *types[] = {"PERSON", "EMAIL_ADDRESS", "US_SSN"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 1 << 16) return 0;
  const uint8_t *z1 = memchr(data, 0, size);
  if (!z1) return 0;
  size_t conv_len = (size_t)(z1 - data);
  const uint8_t *rest = z1 + 1;
  size_t rest_len = size - conv_len - 1;
  const uint8_t *z2 = memchr(rest, 0, rest_len);
  size_t spans_len = z2 ? (size_t)(z2 - rest) : rest_len;
  const char *resp = z2 ? (const char *)z2 + 1 : "";
  size_t resp_len = z2 ? rest_len - spans_len - 1 : 0;

  sl_chat_req_t req;
  sl_chat_req_init(&req);
  size_t n_msgs = 1;
  for (size_t i = 0; i < conv_len; i++) n_msgs += data[i] == 1;
  if (n_msgs > 64) return 0;
  req.msgs = calloc(n_msgs, sizeof *req.msgs);
  size_t at = 0;
  for (size_t m = 0; m < n_msgs; m++) {
    size_t e = at;
    while (e < conv_len && data[e] != 1) e++;
    req.msgs[m].role = strdup("user");
    req.msgs[m].content = strndup((const char *)data + at, e - at);
    at = e + 1;
  }
  req.n_msgs = n_msgs;

  sl_entity_t ents[64];
  sl_class_t cls = {.entities = ents};
  for (size_t i = 0; i + 4 <= spans_len && cls.n_entities < 64; i += 4) {
    sl_entity_t *e = &ents[cls.n_entities++];
    memset(e, 0, sizeof *e);
    e->start = (uint32_t)rest[i] << 8 | rest[i + 1];
    e->end = e->start + rest[i + 2];
    strcpy(e->type, types[rest[i + 3] % 3]);
    e->detector = "fuzz";
  }

  sl_chat_req_t out;
  sl_redact_map_t *map;
  if (sl_redact_request(&req, &cls, types, 3, &out, &map) == 0) {
    sl_buf_t one, chunked;
    sl_buf_init(&one, 1 << 24);
    sl_buf_init(&chunked, 1 << 24);
    /* the first byte picks the chunk size and text or JSON (tool arguments) */
    bool json = resp_len && ((unsigned char)resp[0] & 0x80);
    sl_redact_restore(map, resp, resp_len, json, &one);
    size_t step = resp_len ? (size_t)(unsigned char)resp[0] % 7 + 1 : 1;
    sl_restorer_t *r = sl_restorer_create(map, json);
    for (size_t i = 0; i < resp_len; i += step)
      sl_restorer_feed(r, resp + i, resp_len - i < step ? resp_len - i : step, &chunked);
    sl_restorer_finish(r, &chunked);
    sl_restorer_free(r);
    if (one.len != chunked.len || (one.len && memcmp(one.data, chunked.data, one.len))) abort();
    free(sl_redact_map_summary_json(map));
    sl_buf_free(&one);
    sl_buf_free(&chunked);
    sl_chat_req_free(&out);
    sl_redact_map_free(map);
  }
  sl_chat_req_free(&req);
  return 0;
}
