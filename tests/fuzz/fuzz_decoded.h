/* What the dialect decoders' fuzz targets check of a request they accepted:
 * every message has a known role and content, a tool message names its call,
 * and tool calls and tools are JSON arrays (abort() otherwise). */
#ifndef SL_FUZZ_DECODED_H
#define SL_FUZZ_DECODED_H

#include "sl_chat.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

static void fuzz_json_array(const char *s) {
  if (!s) return;
  cJSON *j = cJSON_Parse(s);
  if (!cJSON_IsArray(j)) abort();
  cJSON_Delete(j);
}

static void fuzz_check_decoded(const sl_chat_req_t *r) {
  for (size_t i = 0; i < r->n_msgs; i++) {
    const sl_msg_t *m = &r->msgs[i];
    if (!m->content || !m->role) abort();
    if (strcmp(m->role, "system") && strcmp(m->role, "user") && strcmp(m->role, "assistant") &&
        strcmp(m->role, "tool"))
      abort();
    if (!strcmp(m->role, "tool") && !m->tool_call_id) abort();
    fuzz_json_array(m->tool_calls);
  }
  fuzz_json_array(r->tools);
}

#endif
