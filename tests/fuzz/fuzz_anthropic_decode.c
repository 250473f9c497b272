/* Fuzz target for the Anthropic Messages decoder: any bytes through
 * sl_anthropic_decode_request; an accepted request must be well formed (every
 * message has a known role and content, tool calls and tools are JSON arrays),
 * and must encode for both API backend kinds into valid JSON. Must never crash
 * or leak. */
#include "backends/backend.h"
#include "gateway/codec_anthropic.h"
#include "sl_err.h"
#include "tests/fuzz/fuzz_decoded.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int cb_text(void *d, const char *s, size_t n) { return 0; }
static int cb_tool(void *d, int i, const char *id, const char *name, const char *a, size_t n) { return 0; }
static void cb_done(void *d, const sl_result_t *r) {}
static void cb_error(void *d, const sl_call_error_t *e) {}

/* Builds (never starts) a call of `kind` and checks the bytes that would leave. */
static void encode_for(sl_backend_kind_t kind, const sl_chat_req_t *req) {
  sl_backend_cfg_t cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.name = "fuzz";
  cfg.kind = kind;
  cfg.location = SL_LOC_EXTERNAL;
  cfg.base_url = "http://127.0.0.1:9/v1";
  sl_call_opts_t o = {.req = req, .model = "m", .stream = req->stream};
  sl_call_cbs_t cbs = {.on_text = cb_text, .on_tool_call = cb_tool, .on_done = cb_done, .on_error = cb_error};
  sl_call_t *c = NULL;
  /* API backends do not touch the shared state in prepare */
  if (sl_call_prepare(NULL, &cfg, &o, &cbs, NULL, &c)) return;
  const char *body, *dest;
  size_t len;
  sl_call_egress(c, &body, &len, &dest);
  cJSON *j = cJSON_ParseWithLength(body, len);
  if (!cJSON_IsObject(j)) abort();
  cJSON_Delete(j);
  sl_call_cancel(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sl_chat_req_t r;
  char err[300];
  int rc = sl_anthropic_decode_request((const char *)data, size, &r, err, sizeof err);
  if (rc) {
    if (r.msgs || r.n_msgs || r.model || r.tools) abort(); /* freed on error */
    if (!err[0]) abort();                                   /* and said why */
    return 0;
  }
  if (!r.model || !r.n_msgs || r.max_tokens < 1) abort();
  fuzz_check_decoded(&r);
  char *text;
  size_t len;
  if (!sl_chat_text(&r, &text, &len)) free(text);
  encode_for(SL_BK_ANTHROPIC, &r);
  encode_for(SL_BK_OPENAI, &r);
  sl_chat_req_free(&r);
  return 0;
}
