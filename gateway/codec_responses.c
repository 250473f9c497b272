/* OpenAI Responses dialect codec. A request is rewritten into the Chat
 * Completions body it stands for (input items -> messages, flat function tools
 * -> nested ones, text.format -> response_format) and read by the OpenAI
 * decoder, so both OpenAI dialects get the same validation and limits. The
 * answer is written by hand: one `response` object, or the event sequence
 * response.created, response.in_progress, per output item
 * output_item.added / content_part.added / output_text.delta ... / done, and
 * response.completed (or response.incomplete) repeating the whole answer. */
#include "codec_responses.h"
#include "codec_json.h"
#include "codec_openai.h"
#include "dialect.h"
#include "sl_err.h"
#include "sl_json.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ITEMS 4096 /* messages, as the OpenAI decoder takes them */
#define MAX_TOOLS 256
#define MAX_TEXT ((size_t)1 << 30)

static const char *str_of(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool present(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return v && !cJSON_IsNull(v);
}

/* ---- decoding: Responses body -> Chat Completions body ---- */

typedef struct {
  cJSON *msgs; /* the chat messages being built */
  cJSON *last; /* the last of them (cJSON finds it by walking the list) */
  int n_msgs;
  char *err;
  size_t n;
} dec_t;

/* A message's content: a string, or an array of text parts (input_text,
 * output_text; a refusal part's refusal) joined with "\n". Images, files and
 * audio are refused: the classifier cannot inspect them. */
static int content_text(const cJSON *c, const char *path, sl_buf_t *b, char *err, size_t n) {
  if (cJSON_IsString(c)) return sl_buf_puts(b, c->valuestring);
  if (!cJSON_IsArray(c)) return sl_codec_bad(err, n, "%s must be a string or an array of content parts", path);
  int i = 0;
  for (const cJSON *p = c->child; p; p = p->next, i++) {
    const char *t = cJSON_IsObject(p) ? str_of(p, "type") : NULL;
    if (!t) return sl_codec_bad(err, n, "%s[%d] must be a content part with a string type", path, i);
    const char *key = !strcmp(t, "input_text") || !strcmp(t, "output_text") ? "text"
                      : !strcmp(t, "refusal")                                 ? "refusal"
                                                                              : NULL;
    if (!key)
      return sl_codec_bad(err, n, "%s[%d]: %.40s parts are not supported (the classifier cannot inspect them); send text",
                          path, i, t);
    const char *s = str_of(p, key);
    if (!s) return sl_codec_bad(err, n, "%s[%d].%s must be a string", path, i, key);
    int rc = (b->len ? sl_buf_puts(b, "\n") : 0) || sl_buf_puts(b, s);
    if (rc) return SL_ENOMEM;
  }
  return 0;
}

static int add_msg(dec_t *d, const char *role, const char *content) {
  if (d->n_msgs >= MAX_ITEMS)
    return sl_codec_bad(d->err, d->n, "input: too many items (at most %d)", MAX_ITEMS);
  cJSON *m = cJSON_CreateObject();
  if (!m || !cJSON_AddStringToObject(m, "role", role) ||
      !(content ? cJSON_AddStringToObject(m, "content", content) : cJSON_AddNullToObject(m, "content"))) {
    cJSON_Delete(m);
    return SL_ENOMEM;
  }
  cJSON_AddItemToArray(d->msgs, m);
  d->last = m;
  d->n_msgs++;
  return 0;
}

static int message_item(dec_t *d, const cJSON *it, const char *path) {
  const char *role = str_of(it, "role");
  if (!role) return sl_codec_bad(d->err, d->n, "%s.role must be a string", path);
  if (strcmp(role, "user") && strcmp(role, "assistant") && strcmp(role, "system") && strcmp(role, "developer"))
    return sl_codec_bad(d->err, d->n, "%s.role: unknown role \"%.40s\"", path, role);
  char p[96];
  snprintf(p, sizeof p, "%s.content", path);
  sl_buf_t b;
  sl_buf_init(&b, MAX_TEXT);
  int rc = content_text(cJSON_GetObjectItemCaseSensitive(it, "content"), p, &b, d->err, d->n);
  /* the assistant's text after its calls in the same turn ("function_call,
   * message"): the calls' message takes it, so that their outputs still
   * follow it (Chat Completions wants a call's tool message right after) */
  cJSON *last = d->last, *lc;
  const char *lr = last ? str_of(last, "role") : NULL;
  if (!rc && !strcmp(role, "assistant") && lr && !strcmp(lr, "assistant") &&
      cJSON_GetObjectItemCaseSensitive(last, "tool_calls") && (lc = cJSON_GetObjectItemCaseSensitive(last, "content"))) {
    sl_buf_t m;
    sl_buf_init(&m, MAX_TEXT);
    rc = (cJSON_IsString(lc) && lc->valuestring[0] && (sl_buf_puts(&m, lc->valuestring) || sl_buf_puts(&m, "\n"))) ||
                 sl_buf_puts(&m, b.data ? b.data : "")
             ? SL_ENOMEM
             : 0;
    cJSON *nc = rc ? NULL : cJSON_CreateString(m.data ? m.data : "");
    if (!rc && !nc) rc = SL_ENOMEM;
    if (!rc) cJSON_ReplaceItemInObjectCaseSensitive(last, "content", nc);
    sl_buf_free(&m);
  } else if (!rc) {
    rc = add_msg(d, role, b.data ? b.data : "");
  }
  sl_buf_free(&b);
  return rc;
}

/* A function_call item: a tool call of the assistant's turn (appended to the
 * assistant message just before it, as Chat Completions carries them). */
static int call_item(dec_t *d, const cJSON *it, const char *path) {
  const char *call_id = str_of(it, "call_id"), *name = str_of(it, "name"), *args = str_of(it, "arguments");
  if (!call_id || !call_id[0]) return sl_codec_bad(d->err, d->n, "%s.call_id must be a non-empty string", path);
  if (!name || !name[0]) return sl_codec_bad(d->err, d->n, "%s.name must be a non-empty string", path);
  if (!args) return sl_codec_bad(d->err, d->n, "%s.arguments must be a string", path);
  cJSON *m = d->last;
  const char *role = m ? str_of(m, "role") : NULL;
  if (!role || strcmp(role, "assistant")) {
    int rc = add_msg(d, "assistant", NULL);
    if (rc) return rc;
    m = d->last;
  }
  cJSON *calls = cJSON_GetObjectItemCaseSensitive(m, "tool_calls");
  if (!calls && !(calls = cJSON_AddArrayToObject(m, "tool_calls"))) return SL_ENOMEM;
  cJSON *c = cJSON_CreateObject(), *f = cJSON_CreateObject();
  if (!c || !f || !cJSON_AddStringToObject(c, "id", call_id) || !cJSON_AddStringToObject(c, "type", "function") ||
      !cJSON_AddStringToObject(f, "name", name) || !cJSON_AddStringToObject(f, "arguments", args)) {
    cJSON_Delete(c);
    cJSON_Delete(f);
    return SL_ENOMEM;
  }
  cJSON_AddItemToObject(c, "function", f);
  cJSON_AddItemToArray(calls, c);
  return 0;
}

static int output_item(dec_t *d, const cJSON *it, const char *path) {
  const char *call_id = str_of(it, "call_id");
  if (!call_id || !call_id[0]) return sl_codec_bad(d->err, d->n, "%s.call_id must be a non-empty string", path);
  char p[96];
  snprintf(p, sizeof p, "%s.output", path);
  sl_buf_t b;
  sl_buf_init(&b, MAX_TEXT);
  int rc = content_text(cJSON_GetObjectItemCaseSensitive(it, "output"), p, &b, d->err, d->n);
  if (!rc) rc = add_msg(d, "tool", b.data ? b.data : "");
  sl_buf_free(&b);
  if (!rc && !cJSON_AddStringToObject(d->last, "tool_call_id", call_id)) rc = SL_ENOMEM;
  return rc;
}

static int input_items(dec_t *d, const cJSON *input) {
  if (cJSON_IsString(input)) return add_msg(d, "user", input->valuestring);
  if (!cJSON_IsArray(input)) return sl_codec_bad(d->err, d->n, "input must be a string or an array of input items");
  int i = 0;
  for (const cJSON *it = input->child; it; it = it->next, i++) {
    char path[48];
    snprintf(path, sizeof path, "input[%d]", i);
    if (!cJSON_IsObject(it)) return sl_codec_bad(d->err, d->n, "%s must be an object", path);
    const char *t = str_of(it, "type");
    if (present(it, "type") && !t) return sl_codec_bad(d->err, d->n, "%s.type must be a string", path);
    int rc;
    if (!t || !strcmp(t, "message")) rc = message_item(d, it, path);
    else if (!strcmp(t, "function_call")) rc = call_item(d, it, path);
    else if (!strcmp(t, "function_call_output")) rc = output_item(d, it, path);
    else if (!strcmp(t, "reasoning")) rc = 0; /* a model's earlier reasoning: not sent on */
    else if (!strcmp(t, "item_reference")) {
      snprintf(d->err, d->n,
               "%s: no item with this id: sluice keeps the items it produced for a while, for the key that "
               "asked; send the items themselves (store: false; the AI SDK: providerOptions.openai.store = false)",
               path);
      return SL_EUNSUPPORTED;
    } else
      rc = sl_codec_bad(d->err, d->n, "%s: %.40s items are not supported (function tools only)", path, t);
    if (rc) return rc;
  }
  return 0;
}

/* Flat function tools ({"type":"function","name":...}) -> nested ones. */
static int tools_of(const cJSON *tools, cJSON *chat, char *err, size_t n) {
  if (!cJSON_IsArray(tools)) return sl_codec_bad(err, n, "tools must be an array");
  if (cJSON_GetArraySize(tools) > MAX_TOOLS) return sl_codec_bad(err, n, "tools: at most %d tools", MAX_TOOLS);
  cJSON *out = cJSON_AddArrayToObject(chat, "tools");
  if (!out) return SL_ENOMEM;
  int i = 0;
  for (const cJSON *t = tools->child; t; t = t->next, i++) {
    const char *ty = cJSON_IsObject(t) ? str_of(t, "type") : NULL;
    if (!ty) return sl_codec_bad(err, n, "tools[%d] must be an object with a string type", i);
    if (strcmp(ty, "function"))
      return sl_codec_bad(err, n, "tools[%d]: type '%.40s' is not supported; use function tools", i, ty);
    const char *name = str_of(t, "name");
    if (!name) return sl_codec_bad(err, n, "tools[%d].name must be a string", i);
    cJSON *f = cJSON_CreateObject(), *w = cJSON_CreateObject();
    if (!f || !w || !cJSON_AddStringToObject(w, "type", "function") || !cJSON_AddStringToObject(f, "name", name)) {
      cJSON_Delete(f);
      cJSON_Delete(w);
      return SL_ENOMEM;
    }
    static const char *const keep[] = {"description", "parameters", "strict"};
    for (size_t k = 0; k < sizeof keep / sizeof *keep; k++) {
      const cJSON *v = cJSON_GetObjectItemCaseSensitive(t, keep[k]);
      if (v && !cJSON_IsNull(v)) cJSON_AddItemToObject(f, keep[k], cJSON_Duplicate(v, true));
    }
    cJSON_AddItemToObject(w, "function", f);
    cJSON_AddItemToArray(out, w);
  }
  return 0;
}

static int tool_choice_of(const cJSON *tc, cJSON *chat, char *err, size_t n) {
  if (cJSON_IsString(tc)) return cJSON_AddStringToObject(chat, "tool_choice", tc->valuestring) ? 0 : SL_ENOMEM;
  const char *ty = cJSON_IsObject(tc) ? str_of(tc, "type") : NULL;
  const char *name = ty && !strcmp(ty, "function") ? str_of(tc, "name") : NULL;
  if (!name) return sl_codec_bad(err, n, "tool_choice must be \"none\", \"auto\", \"required\" or {\"type\":\"function\",\"name\":...}");
  cJSON *o = cJSON_AddObjectToObject(chat, "tool_choice"), *f;
  if (!o || !cJSON_AddStringToObject(o, "type", "function") || !(f = cJSON_AddObjectToObject(o, "function")) ||
      !cJSON_AddStringToObject(f, "name", name))
    return SL_ENOMEM;
  return 0;
}

/* text.format -> response_format; text.verbosity -> verbosity. */
static int text_of(const cJSON *text, cJSON *chat, char *err, size_t n) {
  if (!cJSON_IsObject(text)) return sl_codec_bad(err, n, "text must be an object");
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(text, "verbosity");
  if (v && !cJSON_IsNull(v)) cJSON_AddItemToObject(chat, "verbosity", cJSON_Duplicate(v, true));
  const cJSON *f = cJSON_GetObjectItemCaseSensitive(text, "format");
  if (!f || cJSON_IsNull(f)) return 0;
  const char *ty = cJSON_IsObject(f) ? str_of(f, "type") : NULL;
  if (!ty) return sl_codec_bad(err, n, "text.format must be an object with a string type");
  if (!strcmp(ty, "text")) return 0;
  cJSON *rf = cJSON_AddObjectToObject(chat, "response_format");
  if (!rf || !cJSON_AddStringToObject(rf, "type", ty)) return SL_ENOMEM;
  if (strcmp(ty, "json_schema")) return 0; /* json_object; the OpenAI decoder judges the rest */
  cJSON *js = cJSON_AddObjectToObject(rf, "json_schema");
  if (!js) return SL_ENOMEM;
  static const char *const keep[] = {"name", "schema", "strict", "description"};
  for (size_t k = 0; k < sizeof keep / sizeof *keep; k++) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(f, keep[k]);
    if (x && !cJSON_IsNull(x)) cJSON_AddItemToObject(js, keep[k], cJSON_Duplicate(x, true));
  }
  return 0;
}

static int copy(const cJSON *root, cJSON *chat, const char *from, const char *to) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, from);
  if (!v || cJSON_IsNull(v)) return 0;
  /* (a number out of a double's range, 1e999, would print as null: dropped) */
  if (cJSON_IsNumber(v) && !isfinite(v->valuedouble)) return SL_ERANGE;
  cJSON *c = cJSON_Duplicate(v, true);
  if (!c) return SL_ENOMEM;
  cJSON_AddItemToObject(chat, to, c);
  return 0;
}

static int build(const cJSON *root, cJSON *chat, char *err, size_t n) {
  if (!cJSON_IsObject(root)) return sl_codec_bad(err, n, "the request body must be a JSON object");
  static const char *const state[] = {"previous_response_id", "conversation", "prompt"};
  for (size_t k = 0; k < sizeof state / sizeof *state; k++)
    if (present(root, state[k])) {
      snprintf(err, n, "%s names state kept by the server, and sluice keeps none: send the whole "
                       "conversation in input", state[k]);
      return SL_EUNSUPPORTED;
    }
  const cJSON *bg = cJSON_GetObjectItemCaseSensitive(root, "background");
  if (cJSON_IsTrue(bg)) return sl_codec_bad(err, n, "background: background responses are not supported");
  dec_t d = {cJSON_AddArrayToObject(chat, "messages"), NULL, 0, err, n};
  if (!d.msgs) return SL_ENOMEM;
  int rc = 0;
  const cJSON *ins = cJSON_GetObjectItemCaseSensitive(root, "instructions");
  if (ins && !cJSON_IsNull(ins)) {
    if (!cJSON_IsString(ins)) return sl_codec_bad(err, n, "instructions must be a string");
    if (ins->valuestring[0] && (rc = add_msg(&d, "system", ins->valuestring))) return rc; /* ("": none) */
  }
  const cJSON *input = cJSON_GetObjectItemCaseSensitive(root, "input");
  if (!input || cJSON_IsNull(input)) return sl_codec_bad(err, n, "input is required");
  if ((rc = input_items(&d, input))) return rc;
  if (!d.n_msgs) return sl_codec_bad(err, n, "input: at least one item is required");
  const cJSON *v;
  if ((v = cJSON_GetObjectItemCaseSensitive(root, "tools")) && !cJSON_IsNull(v) && (rc = tools_of(v, chat, err, n)))
    return rc;
  if ((v = cJSON_GetObjectItemCaseSensitive(root, "tool_choice")) && !cJSON_IsNull(v) &&
      (rc = tool_choice_of(v, chat, err, n)))
    return rc;
  if ((v = cJSON_GetObjectItemCaseSensitive(root, "text")) && !cJSON_IsNull(v) && (rc = text_of(v, chat, err, n)))
    return rc;
  if ((v = cJSON_GetObjectItemCaseSensitive(root, "reasoning")) && !cJSON_IsNull(v)) {
    if (!cJSON_IsObject(v)) return sl_codec_bad(err, n, "reasoning must be an object");
    if ((rc = copy(v, chat, "effort", "reasoning_effort"))) return rc == SL_ERANGE ? sl_codec_bad(err, n, "reasoning.effort must be a word") : rc;
  }
  /* the same meaning under the same or a Chat Completions name */
  static const char *const pairs[][2] = {
      {"model", "model"}, {"stream", "stream"}, {"temperature", "temperature"}, {"top_p", "top_p"},
      {"max_output_tokens", "max_completion_tokens"}, {"parallel_tool_calls", "parallel_tool_calls"},
      {"user", "user"}, {"safety_identifier", "safety_identifier"}, {"prompt_cache_key", "prompt_cache_key"},
      {"service_tier", "service_tier"}}; /* (not top_logprobs: the answer carries no logprobs) */
  for (size_t k = 0; k < sizeof pairs / sizeof *pairs && !rc; k++) {
    rc = copy(root, chat, pairs[k][0], pairs[k][1]);
    if (rc == SL_ERANGE) return sl_codec_bad(err, n, "%s must be a finite number", pairs[k][0]);
  }
  if (rc) return rc;
  static const char *const strings[] = {"user", "safety_identifier", "prompt_cache_key", "service_tier"};
  for (size_t k = 0; k < sizeof strings / sizeof *strings; k++)
    if (present(root, strings[k]) && !str_of(root, strings[k])) return sl_codec_bad(err, n, "%s must be a string", strings[k]);
  /* a stream always ends with the usage (response.completed carries it) */
  if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "stream"))) {
    cJSON *so = cJSON_AddObjectToObject(chat, "stream_options");
    if (!so || !cJSON_AddTrueToObject(so, "include_usage")) return SL_ENOMEM;
  }
  return 0;
}

static char *echo_of(const cJSON *root, bool *stores);

/* sl_responses_to_chat, with the options the answer repeats from the same
 * parse when echo is not NULL (sl_responses_echo: *echo and *stores). */
static int to_chat(const char *json, size_t len, sl_buf_t *out, char **echo, bool *stores, char *err,
                   size_t n) {
  cJSON *root = sl_codec_parse_body(json, len, err, n);
  if (!root) return SL_EPARSE;
  cJSON *chat = cJSON_CreateObject();
  int rc = chat ? build(root, chat, err, n) : SL_ENOMEM;
  if (!rc && echo) *echo = echo_of(root, stores);
  cJSON_Delete(root);
  char *s = rc ? NULL : cJSON_PrintUnformatted(chat);
  cJSON_Delete(chat);
  if (!rc && !s) rc = SL_ENOMEM;
  if (!rc) rc = sl_buf_puts(out, s);
  free(s);
  if (rc == SL_ENOMEM) snprintf(err, n, "out of memory");
  return rc;
}

int sl_responses_to_chat(const char *json, size_t len, sl_buf_t *out, char *err, size_t n) {
  return to_chat(json, len, out, NULL, NULL, err, n);
}

int sl_responses_resolve(const char *json, size_t len, char *(*lookup)(void *ctx, const char *id), void *ctx,
                         sl_buf_t *out) {
  char err[200];
  cJSON *root = sl_codec_parse_body(json, len, err, sizeof err); /* (as strict as the decoder) */
  if (!root) return SL_EPARSE;
  cJSON *input = cJSON_GetObjectItemCaseSensitive(root, "input");
  int i = 0;
  for (cJSON *it = cJSON_IsArray(input) ? input->child : NULL, *next; it; it = next, i++) {
    next = it->next;
    const char *t = str_of(it, "type"), *id = str_of(it, "id");
    if (!t || strcmp(t, "item_reference") || !id) continue;
    char *found = lookup(ctx, id);
    cJSON *item = found ? cJSON_Parse(found) : NULL;
    free(found);
    if (item) cJSON_ReplaceItemInArray(input, i, item);
  }
  char *s = cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  int rc = s ? sl_buf_puts(out, s) : SL_ENOMEM;
  free(s);
  return rc;
}

/* The echo of a parsed body (sl_responses_echo). */
static char *echo_of(const cJSON *root, bool *stores) {
  /* (name, default) in the order OpenAI's response objects list them */
  static const char *const members[][2] = {
      {"instructions", "null"},       {"max_output_tokens", "null"},    {"metadata", "{}"},
      {"parallel_tool_calls", "true"}, {"previous_response_id", "null"}, {"reasoning", "{\"effort\":null,\"summary\":null}"},
      {"store", "true"},              {"temperature", "null"},          {"text", "{\"format\":{\"type\":\"text\"}}"},
      {"tool_choice", "\"auto\""},   {"tools", "[]"},                  {"top_p", "null"},
      {"truncation", "\"disabled\""}, {"user", "null"}};
  *stores = cJSON_IsObject(root) && !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(root, "store"));
  if (!cJSON_IsObject(root)) return NULL;
  sl_buf_t b;
  sl_buf_init(&b, MAX_TEXT);
  int rc = 0;
  for (size_t k = 0; k < sizeof members / sizeof *members && !rc; k++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, members[k][0]);
    char *given = v && !cJSON_IsNull(v) ? cJSON_PrintUnformatted(v) : NULL;
    rc = sl_buf_printf(&b, "%s\"%s\":%s", k ? "," : "", members[k][0], given ? given : members[k][1]);
    free(given);
  }
  if (rc) {
    sl_buf_free(&b);
    return NULL;
  }
  return sl_buf_steal(&b, NULL);
}

char *sl_responses_echo(const char *json, size_t len, bool *stores) {
  cJSON *root = cJSON_ParseWithLength(json, len);
  char *e = echo_of(root, stores);
  cJSON_Delete(root);
  return e;
}

bool sl_responses_shaped(const char *json, size_t len) {
  cJSON *j = cJSON_ParseWithLength(json ? json : "", len);
  bool yes = cJSON_IsObject(j) && cJSON_GetObjectItemCaseSensitive(j, "input") &&
             !cJSON_GetObjectItemCaseSensitive(j, "messages");
  cJSON_Delete(j);
  return yes;
}

/* An error of the OpenAI decoder in the Responses request's terms: the
 * members it was given under Chat Completions names are named as the client
 * wrote them ("max_completion_tokens" is max_output_tokens). */
static void responses_terms(char *err, size_t n) {
  static const char *const names[][2] = {
      {"max_completion_tokens", "max_output_tokens"}, {"response_format.json_schema.", "text.format."},
      {"response_format.json_schema", "text.format"}, {"response_format", "text.format"},
      {"reasoning_effort", "reasoning.effort"},       {".function.", "."},
      {"messages", "input"}};
  char out[512];
  size_t o = 0;
  for (const char *p = err; *p && o + 1 < sizeof out;) {
    size_t k = 0;
    while (k < sizeof names / sizeof *names && strncmp(p, names[k][0], strlen(names[k][0]))) k++;
    if (k < sizeof names / sizeof *names) {
      o += (size_t)snprintf(out + o, sizeof out - o, "%s", names[k][1]);
      if (o >= sizeof out) o = sizeof out - 1;
      p += strlen(names[k][0]);
    } else {
      out[o++] = *p++;
    }
  }
  out[o] = '\0';
  snprintf(err, n, "%s", out);
}

int sl_responses_decode_echo(const char *json, size_t len, sl_chat_req_t *out, char **echo,
                             bool *stores, char *err, size_t n) {
  sl_chat_req_init(out);
  sl_buf_t chat;
  sl_buf_init(&chat, MAX_TEXT);
  int rc = to_chat(json, len, &chat, echo, stores, err, n);
  if (!rc && (rc = sl_openai_decode_request(chat.data, chat.len, out, err, n))) responses_terms(err, n);
  sl_buf_free(&chat);
  if (rc && echo) {
    free(*echo);
    *echo = NULL;
  }
  return rc;
}

int sl_responses_decode_request(const char *json, size_t len, sl_chat_req_t *out, char *err, size_t n) {
  return sl_responses_decode_echo(json, len, out, NULL, NULL, err, n);
}

/* ---- encoding: written by hand into the buffer ---- */

/* The answer's id without its "resp_", for the ids of its items. */
static const char *id_tail(const sl_resp_t *r) {
  const char *id = r->id ? r->id : "resp_";
  return !strncmp(id, "resp_", 5) ? id + 5 : id;
}

static int put_event(sl_buf_t *o, sl_resp_t *r, const char *type) {
  return sl_buf_printf(o, "event: %s\ndata: {\"type\":\"%s\",\"sequence_number\":%d", type, type, r->seq++);
}

static int put_item_id(sl_buf_t *o, const sl_resp_t *r, const char *kind, int index) {
  return sl_buf_printf(o, "\"%s_%s_%d\"", kind, id_tail(r), index);
}

static int put_usage(sl_buf_t *o, const sl_result_t *res) {
  return sl_buf_printf(o,
                       "\"usage\":{\"input_tokens\":%d,\"input_tokens_details\":{\"cached_tokens\":%d},"
                       "\"output_tokens\":%d,\"output_tokens_details\":{\"reasoning_tokens\":%d},"
                       "\"total_tokens\":%d}",
                       res->prompt_tokens, res->cache_reported ? res->cache_read_tokens : 0,
                       res->completion_tokens, res->reasoning_reported ? res->reasoning_tokens : 0,
                       res->prompt_tokens + res->completion_tokens);
}

/* "completed", or "incomplete" with its reason (the answer hit its token
 * limit, or a content filter stopped it). */
static const char *incomplete_reason(const sl_result_t *res) {
  const char *f = res ? res->finish_reason : NULL;
  if (f && !strcmp(f, "length")) return "max_output_tokens";
  if (f && !strcmp(f, "content_filter")) return "content_filter";
  return NULL;
}

/* The response object; output is `items` (JSON, comma-separated); res NULL:
 * still in progress (no usage yet). */
static int put_response(sl_buf_t *o, const sl_resp_t *r, const sl_result_t *res, const char *items, size_t n) {
  const char *why = incomplete_reason(res);
  int rc = sl_buf_puts(o, "{\"id\":");
  if (!rc) rc = sl_buf_json_cstr(o, r->id);
  if (!rc) rc = sl_buf_printf(o, ",\"object\":\"response\",\"created_at\":%ld,\"status\":\"%s\",\"error\":null,"
                                 "\"incomplete_details\":", r->created,
                              !res ? "in_progress" : why ? "incomplete" : "completed");
  if (!rc) rc = why ? sl_buf_printf(o, "{\"reason\":\"%s\"}", why) : sl_buf_puts(o, "null");
  if (!rc) rc = sl_buf_puts(o, ",\"model\":");
  if (!rc) rc = sl_buf_json_cstr(o, r->model);
  if (!rc) rc = sl_buf_puts(o, ",\"output\":[");
  if (!rc && n) rc = sl_buf_append(o, items, n);
  if (!rc) rc = sl_buf_puts(o, "],");
  if (!rc) rc = sl_buf_puts(o, r->echo ? r->echo
                                       : "\"parallel_tool_calls\":true,\"previous_response_id\":null,\"store\":true,"
                                         "\"text\":{\"format\":{\"type\":\"text\"}},\"tool_choice\":\"auto\","
                                         "\"tools\":[],\"metadata\":{}");
  if (!rc && r->service_tier) {
    rc = sl_buf_puts(o, ",\"service_tier\":");
    if (!rc) rc = sl_buf_json_cstr(o, r->service_tier);
  }
  if (!rc) rc = sl_buf_puts(o, ",");
  if (!rc) rc = res ? put_usage(o, res) : sl_buf_puts(o, "\"usage\":null");
  if (!rc) rc = sl_buf_puts(o, "}");
  return rc;
}

/* One content part: {"type":"output_text","text":...} or a refusal. */
static int put_part(sl_buf_t *o, int kind, const char *s, size_t n) {
  int rc = sl_buf_puts(o, kind == 2 ? "{\"type\":\"refusal\",\"refusal\":" : "{\"type\":\"output_text\",\"text\":");
  if (!rc) rc = sl_buf_json_str(o, s ? s : "", n);
  if (!rc) rc = sl_buf_puts(o, kind == 2 ? "}" : ",\"annotations\":[],\"logprobs\":[]}");
  return rc;
}

static int put_message(sl_buf_t *o, const sl_resp_t *r, int index, const char *status, const char *parts,
                       size_t n) {
  int rc = sl_buf_puts(o, "{\"id\":");
  if (!rc) rc = put_item_id(o, r, "msg", index);
  if (!rc) rc = sl_buf_printf(o, ",\"type\":\"message\",\"status\":\"%s\",\"role\":\"assistant\",\"content\":[",
                              status);
  if (!rc && n) rc = sl_buf_append(o, parts, n);
  if (!rc) rc = sl_buf_puts(o, "]}");
  return rc;
}

/* Arguments that are nothing but blanks: a call without any, "{}" (as OpenAI
 * sends it; a parser reading the arguments as JSON wants an object). */
static bool no_args(const char *a, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (a[i] != ' ' && a[i] != '\t' && a[i] != '\n' && a[i] != '\r') return false;
  return true;
}

/* A function_call item: head is its id, call_id and name members. */
static int put_call(sl_buf_t *o, const char *head, const char *status, const char *args, size_t n) {
  int rc = sl_buf_printf(o, "{%s,\"type\":\"function_call\",\"status\":\"%s\",\"arguments\":", head, status);
  if (!rc) rc = sl_buf_json_str(o, args ? args : "", n);
  if (!rc) rc = sl_buf_puts(o, "}");
  return rc;
}

static int add_item(sl_resp_t *r, const sl_buf_t *item) {
  return (r->items.len ? sl_buf_puts(&r->items, ",") : 0) || sl_buf_append(&r->items, item->data, item->len)
             ? SL_ETOOBIG
             : 0;
}

/* An event about the open part of the message item, up to its member `key`:
 * the event's name, the item's id, its output index and the part's. */
static int put_part_event(sl_buf_t *o, sl_resp_t *r, const char *event, const char *key) {
  int rc = put_event(o, r, event);
  if (!rc) rc = sl_buf_puts(o, ",\"item_id\":");
  if (!rc) rc = put_item_id(o, r, "msg", r->block);
  if (!rc)
    rc = sl_buf_printf(o, ",\"output_index\":%d,\"content_index\":%d,\"%s\":", r->block, r->n_parts - 1, key);
  return rc;
}

static int close_part(sl_buf_t *o, sl_resp_t *r) {
  if (!r->part_kind) return 0;
  const char *t = r->item_text.data ? r->item_text.data : "";
  size_t n = r->item_text.len;
  bool text = r->part_kind == 1;
  int rc = put_part_event(o, r, text ? "response.output_text.done" : "response.refusal.done",
                          text ? "text" : "refusal");
  if (!rc) rc = sl_buf_json_str(o, t, n);
  if (!rc) rc = sl_buf_puts(o, text ? ",\"logprobs\":[]}\n\n" : "}\n\n");
  if (!rc) rc = put_part_event(o, r, "response.content_part.done", "part");
  if (!rc) rc = put_part(o, r->part_kind, t, n);
  if (!rc) rc = sl_buf_puts(o, "}\n\n");
  if (!rc && r->item_parts.len) rc = sl_buf_puts(&r->item_parts, ",");
  if (!rc) rc = put_part(&r->item_parts, r->part_kind, t, n);
  sl_buf_reset(&r->item_text);
  r->part_kind = 0;
  return rc;
}

/* Ends the open output item (a message's open part first); status: the
 * item's, "completed" or, for the last one of an answer cut short,
 * "incomplete". */
static int close_item(sl_buf_t *o, sl_resp_t *r, const char *status) {
  if (r->block < 0) return 0;
  int rc = close_part(o, r);
  if (!rc && r->block_kind == 2 && no_args(r->item_text.data, r->item_text.len)) {
    /* a call without arguments: "{}", streamed too, so the deltas add up to it */
    sl_buf_reset(&r->item_text);
    rc = put_event(o, r, "response.function_call_arguments.delta");
    if (!rc) rc = sl_buf_puts(o, ",\"item_id\":");
    if (!rc) rc = put_item_id(o, r, "fc", r->block);
    if (!rc) rc = sl_buf_printf(o, ",\"output_index\":%d,\"delta\":\"{}\"}\n\n", r->block);
    if (!rc) rc = sl_buf_puts(&r->item_text, "{}");
  }
  sl_buf_t item;
  sl_buf_init(&item, MAX_TEXT);
  if (!rc)
    rc = r->block_kind == 1
             ? put_message(&item, r, r->block, status, r->item_parts.data, r->item_parts.len)
             : put_call(&item, r->item_head.data ? r->item_head.data : "", status, r->item_text.data,
                        r->item_text.len);
  if (!rc && r->block_kind == 2) {
    rc = put_event(o, r, "response.function_call_arguments.done");
    if (!rc) rc = sl_buf_puts(o, ",\"item_id\":");
    if (!rc) rc = put_item_id(o, r, "fc", r->block);
    if (!rc) rc = sl_buf_printf(o, ",\"output_index\":%d,\"arguments\":", r->block);
    if (!rc) rc = sl_buf_json_str(o, r->item_text.data ? r->item_text.data : "", r->item_text.len);
    if (!rc) rc = sl_buf_puts(o, "}\n\n");
  }
  if (!rc) rc = put_event(o, r, "response.output_item.done");
  if (!rc) rc = sl_buf_printf(o, ",\"output_index\":%d,\"item\":", r->block);
  if (!rc) rc = sl_buf_append(o, item.data, item.len);
  if (!rc) rc = sl_buf_puts(o, "}\n\n");
  if (!rc) rc = add_item(r, &item);
  sl_buf_free(&item);
  sl_buf_reset(&r->item_text);
  sl_buf_reset(&r->item_parts);
  sl_buf_reset(&r->item_head);
  r->block = -1;
  r->block_kind = 0;
  r->n_parts = 0;
  return rc;
}

static int rs_stream_start(sl_buf_t *o, sl_resp_t *r) {
  r->block = -1;
  r->block_kind = r->part_kind = r->n_parts = r->n_blocks = 0;
  r->tool_index = -1;
  int rc = 0;
  static const char *const head[] = {"response.created", "response.in_progress"};
  for (int k = 0; k < 2 && !rc; k++) {
    rc = put_event(o, r, head[k]);
    if (!rc) rc = sl_buf_puts(o, ",\"response\":");
    if (!rc) rc = put_response(o, r, NULL, NULL, 0);
    if (!rc) rc = sl_buf_puts(o, "}\n\n");
  }
  return rc;
}

/* Text (kind 1) or refusal (kind 2) into the open message, opening the
 * message and the part as needed. */
static int stream_part(sl_buf_t *o, sl_resp_t *r, int kind, const char *s, size_t n) {
  if (!n) return 0;
  int rc = 0;
  if (r->block_kind != 1) {
    rc = close_item(o, r, "completed");
    r->block = r->n_blocks++;
    r->block_kind = 1;
    if (!rc) rc = put_event(o, r, "response.output_item.added");
    if (!rc) rc = sl_buf_printf(o, ",\"output_index\":%d,\"item\":", r->block);
    if (!rc) rc = put_message(o, r, r->block, "in_progress", NULL, 0);
    if (!rc) rc = sl_buf_puts(o, "}\n\n");
  }
  if (!rc && r->part_kind != kind) {
    rc = close_part(o, r);
    r->part_kind = kind;
    r->n_parts++;
    if (!rc) rc = put_part_event(o, r, "response.content_part.added", "part");
    if (!rc) rc = put_part(o, kind, "", 0);
    if (!rc) rc = sl_buf_puts(o, "}\n\n");
  }
  if (!rc) rc = put_part_event(o, r, kind == 1 ? "response.output_text.delta" : "response.refusal.delta", "delta");
  if (!rc) rc = sl_buf_json_str(o, s, n);
  if (!rc) rc = sl_buf_puts(o, kind == 1 ? ",\"logprobs\":[]}\n\n" : "}\n\n");
  if (!rc) rc = sl_buf_append(&r->item_text, s, n);
  return rc;
}

static int rs_stream_text(sl_buf_t *o, sl_resp_t *r, const char *s, size_t n) {
  return stream_part(o, r, 1, s, n);
}

static int rs_stream_refusal(sl_buf_t *o, sl_resp_t *r, const char *s, size_t n) {
  return stream_part(o, r, 2, s, n);
}

/* The call's head: "id":"fc_...","call_id":...,"name":... */
static int put_call_head(sl_buf_t *o, const sl_resp_t *r, int block, int index, const char *id,
                         const char *name) {
  int rc = sl_buf_puts(o, "\"id\":");
  if (!rc) rc = put_item_id(o, r, "fc", block);
  if (!rc) rc = sl_buf_puts(o, ",\"call_id\":");
  if (!rc) rc = id && id[0] ? sl_buf_json_cstr(o, id) : sl_buf_printf(o, "\"call_%s_%d\"", id_tail(r), index);
  if (!rc) rc = sl_buf_puts(o, ",\"name\":");
  if (!rc) rc = sl_buf_json_cstr(o, name ? name : "");
  return rc;
}

/* Tool calls come whole, one after another (tools_one_by_one): each is one
 * function_call item. */
static int rs_stream_tool(sl_buf_t *o, sl_resp_t *r, int index, const char *id, const char *name, const char *args,
                          size_t n) {
  int rc = 0;
  if (r->block_kind != 2 || r->tool_index != index) {
    rc = close_item(o, r, "completed");
    r->block = r->n_blocks++;
    r->block_kind = 2;
    r->tool_index = index;
    if (!rc) rc = put_call_head(&r->item_head, r, r->block, index, id, name);
    if (!rc) rc = put_event(o, r, "response.output_item.added");
    if (!rc) rc = sl_buf_printf(o, ",\"output_index\":%d,\"item\":", r->block);
    if (!rc) rc = put_call(o, r->item_head.data, "in_progress", "", 0);
    if (!rc) rc = sl_buf_puts(o, "}\n\n");
  }
  if (!rc && n) {
    rc = put_event(o, r, "response.function_call_arguments.delta");
    if (!rc) rc = sl_buf_puts(o, ",\"item_id\":");
    if (!rc) rc = put_item_id(o, r, "fc", r->block);
    if (!rc) rc = sl_buf_printf(o, ",\"output_index\":%d,\"delta\":", r->block);
    if (!rc) rc = sl_buf_json_str(o, args, n);
    if (!rc) rc = sl_buf_puts(o, "}\n\n");
    if (!rc) rc = sl_buf_append(&r->item_text, args, n);
  }
  return rc;
}

static int rs_stream_end(sl_buf_t *o, sl_resp_t *r, const sl_result_t *res, bool include_usage) {
  (void)include_usage; /* the closing event always carries the usage */
  const char *why = incomplete_reason(res);
  int rc = close_item(o, r, why ? "incomplete" : "completed");
  if (!rc) rc = put_event(o, r, why ? "response.incomplete" : "response.completed");
  if (!rc) rc = sl_buf_puts(o, ",\"response\":");
  if (!rc) rc = put_response(o, r, res, r->items.data, r->items.len);
  if (!rc) rc = sl_buf_puts(o, "}\n\n");
  return rc;
}

/* An `error` event: the SDK raises it as an APIError. */
static int rs_stream_error(sl_buf_t *o, sl_resp_t *r, int status, const char *type, const char *code,
                           const char *msg) {
  (void)status;
  int rc = put_event(o, r, "error");
  if (!rc) rc = sl_buf_puts(o, ",\"code\":");
  if (!rc) rc = code ? sl_buf_json_cstr(o, code) : sl_buf_puts(o, "null");
  if (!rc) rc = sl_buf_puts(o, ",\"message\":");
  if (!rc) rc = sl_buf_json_cstr(o, msg);
  if (!rc) rc = sl_buf_puts(o, ",\"param\":null,\"error\":{\"type\":");
  if (!rc) rc = sl_buf_json_cstr(o, type);
  if (!rc) rc = sl_buf_puts(o, ",\"code\":");
  if (!rc) rc = code ? sl_buf_json_cstr(o, code) : sl_buf_puts(o, "null");
  if (!rc) rc = sl_buf_puts(o, ",\"message\":");
  if (!rc) rc = sl_buf_json_cstr(o, msg);
  if (!rc) rc = sl_buf_puts(o, ",\"param\":null}}\n\n");
  return rc;
}

static int rs_complete(sl_buf_t *o, sl_resp_t *r, const char *text, size_t n, const sl_tool_acc_t *tools,
                       size_t n_tools, const sl_result_t *res) {
  /* the items go into r->items, as a stream leaves them there (gateway/items.h
   * keeps them) */
  sl_buf_t *items = &r->items, parts, head;
  size_t from = items->len;
  sl_buf_init(&parts, MAX_TEXT);
  sl_buf_init(&head, 4096);
  int rc = 0, index = 0;
  if (n) rc = put_part(&parts, 1, text, n);
  if (!rc && r->refusal) rc = (parts.len ? sl_buf_puts(&parts, ",") : 0) || put_part(&parts, 2, r->refusal, r->refusal_len);
  /* (the last item of an answer cut short is "incomplete") */
  const char *cut = incomplete_reason(res) ? "incomplete" : "completed";
  if (!rc && parts.len) rc = put_message(items, r, index++, n_tools ? "completed" : cut, parts.data, parts.len);
  for (size_t i = 0; i < n_tools && !rc; i++, index++) {
    sl_buf_reset(&head);
    rc = (items->len > from ? sl_buf_puts(items, ",") : 0) ||
         put_call_head(&head, r, index, (int)i, tools[i].id, tools[i].name);
    /* (a call without arguments has "{}", as in a stream: close_item) */
    bool none = no_args(tools[i].args.data, tools[i].args.len);
    if (!rc)
      rc = put_call(items, head.data, i + 1 == n_tools ? cut : "completed", none ? "{}" : tools[i].args.data,
                    none ? 2 : tools[i].args.len);
  }
  if (!rc) rc = put_response(o, r, res, items->data ? items->data + from : NULL, items->len - from);
  sl_buf_free(&parts);
  sl_buf_free(&head);
  return rc ? SL_ENOMEM : 0;
}

const sl_dialect_ops_t sl_dialect_responses = {
    .name = "responses",
    .id_prefix = "resp_",
    .tools_one_by_one = true,
    .decode = sl_responses_decode_request,
    .stream_start = rs_stream_start,
    .stream_text = rs_stream_text,
    .stream_refusal = rs_stream_refusal,
    .stream_tool = rs_stream_tool,
    .stream_end = rs_stream_end,
    .stream_error = rs_stream_error,
    .complete = rs_complete,
    .error = sl_openai_dialect_error};
