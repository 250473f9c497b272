/* Fuzz target for the OpenAI Responses dialect: any bytes through
 * sl_responses_decode_request. A refusal leaves the request empty and says
 * why; an accepted request is well formed (known roles, a tool message names
 * its call, tool calls and tools are JSON arrays), and its text, written back
 * as a whole response and as the event stream (text, a refusal, a tool call
 * with the text as its arguments), is valid JSON in every event. Must never
 * crash or leak. */
#include "gateway/codec_openai.h"
#include "gateway/codec_responses.h"
#include "gateway/dialect.h"
#include "sl_err.h"
#include "tests/fuzz/fuzz_decoded.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Every "data: " line of an SSE text, and a whole JSON text, parse. */
static void must_parse(const char *s, size_t n, bool sse) {
  if (!sse) {
    cJSON *j = cJSON_ParseWithLength(s, n);
    if (!cJSON_IsObject(j)) abort();
    cJSON_Delete(j);
    return;
  }
  for (const char *p = s, *end = s + n; p < end && (p = strstr(p, "data: "));) {
    const char *nl = strchr(p, '\n');
    if (!nl) abort();
    cJSON *j = cJSON_ParseWithLength(p + 6, (size_t)(nl - p - 6));
    if (!cJSON_IsObject(j)) abort();
    cJSON_Delete(j);
    p = nl;
  }
}

static void encode(const char *text) {
  sl_resp_t r;
  memset(&r, 0, sizeof r);
  r.id = "resp_fuzz";
  r.model = text;
  sl_buf_init(&r.item_text, 1 << 26);
  sl_buf_init(&r.item_parts, 1 << 26);
  sl_buf_init(&r.item_head, 1 << 26);
  sl_buf_init(&r.items, 1 << 26);
  sl_buf_t o;
  sl_buf_init(&o, 1 << 26);
  size_t n = strlen(text);
  sl_result_t res = {.prompt_tokens = 1, .completion_tokens = 1, .finish_reason = n % 2 ? "length" : "stop"};
  const sl_dialect_ops_t *d = &sl_dialect_responses;
  int rc = d->stream_start(&o, &r);
  if (!rc) rc = d->stream_text(&o, &r, text, n);
  if (!rc) rc = d->stream_refusal(&o, &r, text, n);
  if (!rc) rc = d->stream_tool(&o, &r, 0, text, text, text, n);
  if (!rc) rc = d->stream_end(&o, &r, &res, true);
  if (!rc) must_parse(o.data, o.len, true);
  sl_buf_reset(&o);
  sl_tool_acc_t t;
  memset(&t, 0, sizeof t);
  sl_buf_init(&t.args, 1 << 26);
  if (!sl_buf_append(&t.args, text, n) && !d->complete(&o, &r, text, n, &t, 1, &res)) must_parse(o.data, o.len, false);
  sl_buf_free(&t.args);
  sl_buf_free(&o);
  sl_buf_free(&r.item_text);
  sl_buf_free(&r.item_parts);
  sl_buf_free(&r.item_head);
  sl_buf_free(&r.items);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sl_chat_req_t r;
  char err[300];
  int rc = sl_responses_decode_request((const char *)data, size, &r, err, sizeof err);
  if (rc) {
    if (r.msgs || r.n_msgs || r.model || r.tools) abort(); /* freed on error */
    if (!err[0]) abort();                                   /* and said why */
    return 0;
  }
  if (!r.model || !r.n_msgs) abort();
  fuzz_check_decoded(&r);
  encode(r.msgs[r.n_msgs - 1].content);
  sl_chat_req_free(&r);
  return 0;
}
