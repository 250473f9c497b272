/* Lifetime and text view of the internal chat request. */
#include "sl_chat.h"
#include "sl_buf.h"
#include "sl_err.h"

#include <stdlib.h>
#include <string.h>

void sl_chat_req_init(sl_chat_req_t *r) {
  memset(r, 0, sizeof *r);
  r->max_tokens = -1;
  r->temperature = -1;
  r->top_p = -1;
  r->top_k = -1;
  r->min_p = -1;
  r->repetition_penalty = 1.0;
}

void sl_chat_req_free(sl_chat_req_t *r) {
  for (size_t i = 0; i < r->n_msgs; i++) {
    sl_msg_t *m = &r->msgs[i];
    free(m->role);
    free(m->content);
    free(m->name);
    free(m->tool_call_id);
    free(m->tool_calls);
  }
  free(r->msgs);
  for (size_t i = 0; i < r->n_stop; i++) free(r->stop[i]);
  free(r->stop);
  free(r->model);
  free(r->tools);
  free(r->tool_choice);
  free(r->response_format);
  free(r->user);
  free(r->passthrough);
  free(r->beta);
  sl_chat_req_init(r);
}

/* Appends "\n" and s (if any) to b. */
static int part(sl_buf_t *b, const char *s) {
  if (!s || !*s) return 0;
  int rc = sl_buf_append(b, "\n", 1);
  return rc ? rc : sl_buf_puts(b, s);
}

size_t sl_chat_beta_undated(const char *s, size_t n) {
  size_t d = 0;
  while (d < n && d < 10 && s[n - 1 - d] >= '0' && s[n - 1 - d] <= '9') d++;
  if (d == 8 && n > 9 && s[n - 9] == '-') return n - 9;
  if (d == 2 && n > 11 && s[n - 3] == '-' && s[n - 6] == '-' && s[n - 11] == '-') {
    size_t digits = 0;
    for (size_t i = n - 10; i < n; i++) digits += s[i] >= '0' && s[i] <= '9';
    if (digits == 8) return n - 11;
  }
  return n;
}

/* Appends "\n" and the anthropic-beta feature names without their dates: a
 * feature's release date is not a value (it read as a date, raising every
 * request that named a feature to internal). */
static int beta_part(sl_buf_t *b, const char *v) {
  if (!v || !*v) return 0;
  int rc = sl_buf_append(b, "\n", 1);
  for (const char *p = v; !rc && *p;) {
    size_t n = strcspn(p, ","), e = n;
    while (e && p[e - 1] == ' ') e--;
    rc = sl_buf_append(b, p, sl_chat_beta_undated(p, e));
    p += n;
    if (*p == ',' && !rc) rc = sl_buf_append(b, ",", 1), p++;
  }
  return rc;
}

int sl_chat_text(const sl_chat_req_t *r, char **out, size_t *len) {
  sl_buf_t b;
  sl_buf_init(&b, (size_t)1 << 30);
  int rc = sl_buf_reserve(&b, sl_chat_messages_len(r) + 256);
  for (size_t i = 0; i < r->n_msgs && !rc; i++) {
    if (i) rc = sl_buf_append(&b, "\n", 1);
    if (!rc) rc = sl_buf_puts(&b, r->msgs[i].content ? r->msgs[i].content : "");
  }
  /* Everything else a backend would be sent, after the messages so that message
   * offsets do not move: a value hidden in a tool call, a tool definition, a
   * schema, the user field or a stop string is classified like message text. */
  for (size_t i = 0; i < r->n_msgs && !rc; i++) rc = part(&b, r->msgs[i].tool_calls);
  for (size_t i = 0; i < r->n_msgs && !rc; i++) rc = part(&b, r->msgs[i].name);
  for (size_t i = 0; i < r->n_msgs && !rc; i++) rc = part(&b, r->msgs[i].tool_call_id);
  if (!rc) rc = part(&b, r->tools);
  if (!rc) rc = part(&b, r->tool_choice);
  if (!rc) rc = part(&b, r->response_format);
  if (!rc) rc = part(&b, r->user);
  if (!rc) rc = part(&b, r->passthrough);
  for (size_t i = 0; i < r->n_stop && !rc; i++) rc = part(&b, r->stop[i]);
  if (!rc) rc = beta_part(&b, r->beta);
  if (rc) {
    sl_buf_free(&b);
    return rc;
  }
  *out = sl_buf_steal(&b, len);
  return 0;
}

bool sl_chat_wants_tools_or_json(const sl_chat_req_t *r) {
  return (r->tools && !(r->tool_choice && !strcmp(r->tool_choice, "\"none\""))) || r->json_output;
}

size_t sl_chat_messages_len(const sl_chat_req_t *r) {
  size_t n = 0;
  for (size_t i = 0; i < r->n_msgs; i++) n += (i ? 1 : 0) + strlen(r->msgs[i].content ? r->msgs[i].content : "");
  return n;
}

int sl_chat_estimate_prompt_tokens(const sl_chat_req_t *r) {
  size_t bytes = sl_chat_messages_len(r) + (r->tools ? strlen(r->tools) : 0);
  for (size_t i = 0; i < r->n_msgs; i++) bytes += r->msgs[i].tool_calls ? strlen(r->msgs[i].tool_calls) : 0;
  size_t t = (bytes + 3) / 4 + (r->n_msgs ? 3 * r->n_msgs + 3 : 0);
  return t > 0x7fffffff ? 0x7fffffff : (int)t;
}

/* Model names as providers and inference servers spell them: "gpt-4o-2024-08-06",
 * "claude-3-5-sonnet@20240620", "meta-llama/Llama-3.1-8B-Instruct",
 * "llama3.2:3b-instruct-q4_K_M", "ft:gpt-4o-mini:acme::9abc",
 * "accounts/fireworks/models/x". The name may be sent to the upstream as it came
 * (a backend with no model list), and it is not classified (model names read as
 * dates and keys to the detectors), so it may carry no prose and no personal
 * data: a letter, no spaces, and not an e-mail address (an '@' only before a
 * version: no '.' after it). */
bool sl_chat_model_name_ok(const char *s) {
  size_t n = strlen(s);
  if (!n || n > SL_CHAT_MAX_MODEL) return false;
  bool letter = false;
  const char *at = NULL;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    letter |= alpha;
    if (c == '@') at = s + i;
    if (!alpha && !(c >= '0' && c <= '9') && !strchr("._:/@+-", c)) return false;
  }
  return letter && !(at && strchr(at, '.'));
}

