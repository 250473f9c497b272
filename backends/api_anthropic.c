/* Backend kind `anthropic`: the Anthropic Messages API. Encodes the internal
 * request (system messages folded into `system`, tool calls and results as
 * tool_use / tool_result blocks, OpenAI-shaped tools as Anthropic tools), and
 * relays the answer — the Messages event stream as it arrives, or one JSON
 * message — as the same callbacks every backend uses, in OpenAI vocabulary
 * (finish reasons, tool-call deltas by index). */
#include "backend_int.h"
#include "sl_err.h"
#include "sl_json.h"
#include "sl_log.h"
#include "sl_stop.h"
#include "sse.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_TOKENS 4096   /* the API requires max_tokens; OpenAI clients may omit it */
#define API_VERSION "2023-06-01"
/* The tool a JSON response_format is asked through (see json_format) */
#define JSON_TOOL "json_answer"

typedef struct {
  sl_call_t base;
  sl_hc_req_t *hr;
  char url[1200];
  char auth[600];
  char beta[300];      /* "anthropic-beta: ..." or "" */
  bool stream, saw_stop, fresh_connect;
  sl__upstream_t up;   /* status, JSON/error body or SSE stream */
  sl_result_t res;
  char finish[32];
  char stop_seq[256];
  bool has_stop_seq;
  char model[SL_CHAT_MAX_MODEL + 1]; /* what the upstream said it ran */
  size_t out_bytes;    /* text + tool bytes delivered (for the token estimate) */
  /* streaming: the open content block */
  int block_tool;      /* tool index of the open tool_use block, -1 none */
  bool json_tool;      /* the answer is JSON_TOOL's input (response_format) */
  bool block_json;     /* the open block is JSON_TOOL's: its input is the text */
  bool json_seen;      /* JSON_TOOL's block came */
  sl_buf_t json_else;  /* json_tool: the answer's text blocks, delivered only if no
                          JSON_TOOL block comes (a refusal explains itself in text) */
  size_t block_args;   /* argument bytes delivered for it */
  int n_tools;
  int in_tokens, out_tokens, cache_read, cache_write; /* in_tokens counts all three */
  bool in_seen, out_seen, cache_seen;
  sl_stopper_t lstop; /* stop strings the API refuses (only whitespace), applied here */
  sl__surr_t surr;    /* a surrogate pair's half across events */
} an_call_t;

/* ---- encoding ---- */

/* The message being built: consecutive turns of the same Anthropic role are
 * merged into one (tool results and the user text after them share a turn). */
typedef struct {
  cJSON *msgs;
  cJSON *cur;          /* content array of the last message */
  const char *cur_role;
} enc_t;

static cJSON *turn(enc_t *e, const char *role) {
  if (e->cur && !strcmp(e->cur_role, role)) return e->cur;
  cJSON *m = cJSON_CreateObject();
  if (!m || !cJSON_AddItemToArray(e->msgs, m)) {
    cJSON_Delete(m);
    return NULL;
  }
  cJSON_AddStringToObject(m, "role", role);
  e->cur = cJSON_AddArrayToObject(m, "content");
  e->cur_role = role;
  return e->cur;
}

/* The API refuses text blocks and stop sequences that are empty or only
 * whitespace. */
static bool blank(const char *s) { return !s || !s[strspn(s, " \t\r\n\v\f")]; }

static int add_text(cJSON *content, const char *s) {
  if (blank(s)) return 0;
  cJSON *b = cJSON_CreateObject();
  if (!b || !cJSON_AddItemToArray(content, b)) {
    cJSON_Delete(b);
    return SL_ENOMEM;
  }
  cJSON_AddStringToObject(b, "type", "text");
  cJSON_AddStringToObject(b, "text", s);
  return 0;
}

/* A tool call's id as the Messages API takes it (^[a-zA-Z0-9_-]+$). Ids made
 * by other providers ("functions.add:0", "call 1") would be refused with a 400
 * when a conversation moves to this backend: each other byte becomes '_', and
 * an FNV-1a hash of the whole id is added, so that two ids stay two. The same
 * id always maps alike: a tool_use and its tool_result still pair up. */
#define TOOL_ID_MAX 96
static const char *tool_id(const char *id, char out[TOOL_ID_MAX]) {
  static const char valid[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-";
  size_t n = strlen(id);
  if (n && strspn(id, valid) == n) return id;
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)id[i]) * 16777619u;
  size_t k = 0;
  for (size_t i = 0; i < n && k < TOOL_ID_MAX - 10; i++)
    out[k++] = strchr(valid, id[i]) ? id[i] : '_';
  snprintf(out + k, TOOL_ID_MAX - k, "_%08x", h);
  return out;
}

/* OpenAI tool calls (JSON array) -> tool_use blocks. Arguments that are not a
 * JSON object become an empty input: the API accepts nothing else. */
static int add_tool_uses(cJSON *content, const char *calls_json) {
  cJSON *calls = sl_json_parse(calls_json, strlen(calls_json));
  if (!cJSON_IsArray(calls)) {
    cJSON_Delete(calls);
    return 0;
  }
  int rc = 0;
  for (const cJSON *tc = calls->child; tc && !rc; tc = tc->next) {
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(tc, "id");
    const cJSON *fn = cJSON_GetObjectItemCaseSensitive(tc, "function");
    const cJSON *name = fn ? cJSON_GetObjectItemCaseSensitive(fn, "name") : NULL;
    const cJSON *args = fn ? cJSON_GetObjectItemCaseSensitive(fn, "arguments") : NULL;
    cJSON *input = cJSON_IsString(args) ? sl_json_parse(args->valuestring, strlen(args->valuestring)) : NULL;
    if (!cJSON_IsObject(input)) {
      cJSON_Delete(input);
      input = cJSON_CreateObject();
    }
    cJSON *b = cJSON_CreateObject();
    if (!b || !input || !cJSON_AddItemToArray(content, b)) {
      cJSON_Delete(b);
      cJSON_Delete(input);
      rc = SL_ENOMEM;
      break;
    }
    cJSON_AddStringToObject(b, "type", "tool_use");
    char idb[TOOL_ID_MAX];
    cJSON_AddStringToObject(b, "id", tool_id(cJSON_IsString(id) ? id->valuestring : "", idb));
    cJSON_AddStringToObject(b, "name", cJSON_IsString(name) ? name->valuestring : "");
    cJSON_AddItemToObject(b, "input", input);
  }
  cJSON_Delete(calls);
  return rc;
}

/* sys_extra: an instruction appended to the system prompt, or NULL. Blank
 * turns are left out (the API refuses empty text); when the conversation ends
 * in one, or nothing is left, the request is one this backend cannot serve as
 * asked (SL_EUNSUPPORTED: the route's next backend, or a 400): leaving the last
 * turn out would make the one before it an assistant prefill to continue. */
static int add_msgs(cJSON *root, const sl_chat_req_t *r, const char *sys_extra) {
  sl_buf_t sys;
  sl_buf_init(&sys, (size_t)1 << 30);
  enc_t e = {cJSON_CreateArray(), NULL, NULL};
  int rc = e.msgs ? 0 : SL_ENOMEM;
  for (size_t i = 0; i < r->n_msgs && !rc; i++) {
    const sl_msg_t *m = &r->msgs[i];
    if (!strcmp(m->role, "system") || !strcmp(m->role, "developer")) {
      /* wherever they stand, system messages fold into the one system prompt */
      if (!m->content[0]) continue;
      if (sys.len) rc = sl_buf_append(&sys, "\n\n", 2);
      if (!rc) rc = sl_buf_puts(&sys, m->content);
      continue;
    }
    if (!strcmp(m->role, "tool")) {
      /* the turn's tool results come before its text, as the API wants them
       * (a user message between two results: the text goes after both) */
      cJSON *c = turn(&e, "user"), *b = c ? cJSON_CreateObject() : NULL;
      int at = 0;
      for (const cJSON *x = c ? c->child : NULL; x; x = x->next, at++) {
        const cJSON *xt = cJSON_GetObjectItemCaseSensitive(x, "type");
        if (!cJSON_IsString(xt) || strcmp(xt->valuestring, "tool_result")) break;
      }
      if (!b || !cJSON_AddItemToArray(c, b)) {
        cJSON_Delete(b);
        rc = SL_ENOMEM;
        break;
      }
      /* the text after position `at` moves behind it (cJSON_InsertItemInArray
       * of Debian's cJSON 1.7.15 inserts nothing) */
      for (int k = cJSON_GetArraySize(c) - 1 - at; k > 0; k--)
        cJSON_AddItemToArray(c, cJSON_DetachItemFromArray(c, at));
      cJSON_AddStringToObject(b, "type", "tool_result");
      char idb[TOOL_ID_MAX];
      cJSON_AddStringToObject(b, "tool_use_id", tool_id(m->tool_call_id ? m->tool_call_id : "", idb));
      cJSON_AddStringToObject(b, "content", m->content);
      if (m->is_error) cJSON_AddTrueToObject(b, "is_error");
      continue;
    }
    bool asst = !strcmp(m->role, "assistant");
    if (blank(m->content) && !(asst && m->tool_calls)) continue; /* nothing to say */
    cJSON *c = turn(&e, asst ? "assistant" : "user");
    if (!c) rc = SL_ENOMEM;
    if (!rc) rc = add_text(c, m->content);
    if (!rc && asst && m->tool_calls) rc = add_tool_uses(c, m->tool_calls);
  }
  const sl_msg_t *last = NULL;
  for (size_t i = r->n_msgs; i-- > 0 && !last;)
    if (strcmp(r->msgs[i].role, "system") && strcmp(r->msgs[i].role, "developer")) last = &r->msgs[i];
  if (!rc && (!cJSON_GetArraySize(e.msgs) ||
              (last && !strcmp(last->role, "user") && blank(last->content))))
    rc = SL_EUNSUPPORTED;
  if (!rc && sys_extra) {
    if (sys.len) rc = sl_buf_append(&sys, "\n\n", 2);
    if (!rc) rc = sl_buf_puts(&sys, sys_extra);
  }
  if (!rc && sys.len) cJSON_AddStringToObject(root, "system", sys.data);
  if (!rc) cJSON_AddItemToObject(root, "messages", e.msgs);
  else cJSON_Delete(e.msgs);
  sl_buf_free(&sys);
  return rc;
}

/* OpenAI-shaped tools -> {name, description, input_schema}. */
static void add_tools(cJSON *root, const char *tools_json) {
  cJSON *tools = tools_json ? sl_json_parse(tools_json, strlen(tools_json)) : NULL;
  if (!cJSON_IsArray(tools) || !cJSON_GetArraySize(tools)) {
    cJSON_Delete(tools);
    return;
  }
  cJSON *out = cJSON_AddArrayToObject(root, "tools");
  for (const cJSON *t = tools->child; out && t; t = t->next) {
    const cJSON *fn = cJSON_GetObjectItemCaseSensitive(t, "function");
    const cJSON *name = fn ? cJSON_GetObjectItemCaseSensitive(fn, "name") : NULL;
    if (!cJSON_IsString(name)) continue;
    const cJSON *desc = cJSON_GetObjectItemCaseSensitive(fn, "description");
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(fn, "parameters");
    cJSON *o = cJSON_CreateObject();
    if (!o) break;
    cJSON_AddItemToArray(out, o);
    cJSON_AddStringToObject(o, "name", name->valuestring);
    if (cJSON_IsString(desc)) cJSON_AddStringToObject(o, "description", desc->valuestring);
    /* the API requires the input schema's type, which OpenAI's parameters may
     * leave out ({} or {"properties": ...}: an object either way) */
    cJSON *schema = cJSON_IsObject(params) ? cJSON_Duplicate(params, 1) : cJSON_CreateObject();
    if (schema && !cJSON_GetObjectItemCaseSensitive(schema, "type")) {
      cJSON_AddStringToObject(schema, "type", "object");
      if (!cJSON_GetObjectItemCaseSensitive(schema, "properties")) cJSON_AddObjectToObject(schema, "properties");
    }
    if (schema) cJSON_AddItemToObject(o, "input_schema", schema);
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(fn, "strict"))) cJSON_AddTrueToObject(o, "strict");
  }
  cJSON_Delete(tools);
}

/* OpenAI's allowed_tools choice ({"type":"allowed_tools","allowed_tools":
 * {"mode":"auto"|"required","tools":[{"type":"function","function":{"name":…}}]}}):
 * the tools sent are cut to the allowed ones, and the mode is the choice. */
static const char *allowed_tools(cJSON *root, const cJSON *tc) {
  const cJSON *at = cJSON_GetObjectItemCaseSensitive(tc, "allowed_tools");
  const cJSON *mode = cJSON_GetObjectItemCaseSensitive(at, "mode");
  const cJSON *list = cJSON_GetObjectItemCaseSensitive(at, "tools");
  cJSON *tools = cJSON_GetObjectItemCaseSensitive(root, "tools");
  for (cJSON *t = tools ? tools->child : NULL, *next; t; t = next) {
    next = t->next;
    const cJSON *tn = cJSON_GetObjectItemCaseSensitive(t, "name");
    bool allowed = false;
    for (const cJSON *a = cJSON_IsArray(list) ? list->child : NULL; a && !allowed; a = a->next) {
      const cJSON *fn = cJSON_GetObjectItemCaseSensitive(a, "function");
      const cJSON *an = cJSON_GetObjectItemCaseSensitive(fn ? fn : a, "name");
      allowed = cJSON_IsString(an) && cJSON_IsString(tn) && !strcmp(an->valuestring, tn->valuestring);
    }
    if (!allowed) cJSON_Delete(cJSON_DetachItemViaPointer(tools, t));
  }
  if (tools && !tools->child) { /* none allowed: no tool may be called */
    cJSON_DeleteItemFromObjectCaseSensitive(root, "tools");
    return NULL;
  }
  return cJSON_IsString(mode) && !strcmp(mode->valuestring, "required") ? "any" : "auto";
}

/* OpenAI tool_choice ("auto", "required", "none", {"type":"function",...},
 * {"type":"allowed_tools",...}); one: at most one tool call (parallel_tool_calls
 * false), which the API takes in the choice (none has no calls to limit). */
static void add_tool_choice(cJSON *root, const char *tc_json, bool one) {
  cJSON *tc = tc_json ? cJSON_Parse(tc_json) : NULL;
  const char *type = NULL, *name = NULL;
  const cJSON *tct = cJSON_GetObjectItemCaseSensitive(tc, "type");
  if (cJSON_IsString(tc)) {
    const char *s = tc->valuestring;
    type = !strcmp(s, "required") ? "any" : !strcmp(s, "none") ? "none" : !strcmp(s, "auto") ? "auto" : NULL;
  } else if (cJSON_IsString(tct) && !strcmp(tct->valuestring, "allowed_tools")) {
    type = allowed_tools(root, tc);
  } else if (cJSON_IsObject(tc)) {
    const cJSON *fn = cJSON_GetObjectItemCaseSensitive(tc, "function");
    const cJSON *n = fn ? cJSON_GetObjectItemCaseSensitive(fn, "name") : NULL;
    if (cJSON_IsString(n)) type = "tool", name = n->valuestring;
  }
  if (!tc_json && one) type = "auto";
  if (!cJSON_GetObjectItemCaseSensitive(root, "tools")) type = NULL; /* (allowed_tools may cut them all) */
  cJSON *o = type ? cJSON_AddObjectToObject(root, "tool_choice") : NULL;
  if (o) {
    cJSON_AddStringToObject(o, "type", type);
    if (name) cJSON_AddStringToObject(o, "name", name);
    if (one && strcmp(type, "none")) cJSON_AddTrueToObject(o, "disable_parallel_tool_use");
  }
  cJSON_Delete(tc);
}

/* response_format json_object / json_schema, which the Messages API lacks. The
 * answer is asked for as the input of one tool the model must call, whose
 * schema is the client's (any object for json_object); that input comes back
 * as the answer's text, so the client gets JSON that fits its schema. With the
 * client's own tools, or a schema whose root is not an object (a tool's input
 * is one), the system prompt asks for JSON instead: *instr is then that text
 * (to free). Returns whether the tool carries the answer. */
static bool json_format(cJSON *root, const sl_chat_req_t *r, char **instr) {
  *instr = NULL;
  cJSON *rf = r->response_format ? sl_json_parse(r->response_format, strlen(r->response_format)) : NULL;
  const cJSON *type = cJSON_GetObjectItemCaseSensitive(rf, "type");
  bool schema_kind = cJSON_IsString(type) && !strcmp(type->valuestring, "json_schema");
  if (!cJSON_IsString(type) || (!schema_kind && strcmp(type->valuestring, "json_object"))) {
    cJSON_Delete(rf);
    return false;
  }
  const cJSON *js = cJSON_GetObjectItemCaseSensitive(rf, "json_schema");
  const cJSON *schema = schema_kind ? cJSON_GetObjectItemCaseSensitive(js, "schema") : NULL;
  const cJSON *st = cJSON_GetObjectItemCaseSensitive(schema, "type");
  bool object_root = !schema || (cJSON_IsString(st) && !strcmp(st->valuestring, "object"));
  bool has_tools = cJSON_GetObjectItemCaseSensitive(root, "tools") != NULL;
  if (has_tools || !object_root) {
    char *text = sl_json_print(schema);
    sl_buf_t b;
    sl_buf_init(&b, (size_t)1 << 30);
    int rc = sl_buf_puts(&b, "Answer with JSON only: one JSON value and nothing else, no code fence");
    if (!rc && text) rc = sl_buf_puts(&b, ", valid against this JSON Schema: ");
    if (!rc) rc = sl_buf_puts(&b, text ? text : " (an object).");
    if (!rc) *instr = sl_buf_steal(&b, NULL);
    sl_buf_free(&b);
    free(text);
    cJSON_Delete(rf);
    return false;
  }
  cJSON *tools = cJSON_AddArrayToObject(root, "tools"), *t = cJSON_CreateObject();
  cJSON *in = schema ? cJSON_Duplicate(schema, 1) : cJSON_CreateObject();
  if (in && !schema) cJSON_AddStringToObject(in, "type", "object");
  cJSON_AddStringToObject(t, "name", JSON_TOOL);
  const cJSON *desc = cJSON_GetObjectItemCaseSensitive(js, "description");
  cJSON_AddStringToObject(t, "description", cJSON_IsString(desc) ? desc->valuestring
                                              : "Give the answer as this tool's input.");
  cJSON_AddItemToObject(t, "input_schema", in);
  cJSON_AddItemToArray(tools, t);
  cJSON_DeleteItemFromObjectCaseSensitive(root, "tool_choice");
  cJSON *tc = cJSON_AddObjectToObject(root, "tool_choice");
  cJSON_AddStringToObject(tc, "type", "tool");
  cJSON_AddStringToObject(tc, "name", JSON_TOOL);
  cJSON_Delete(rf);
  return true;
}

static int encode(const sl_call_opts_t *o, const sl_backend_cfg_t *cfg, bool stream, bool *json_tool,
                  sl_buf_t *out) {
  const sl_chat_req_t *r = o->req;
  cJSON *root = cJSON_CreateObject();
  if (!root) return SL_ENOMEM;
  const char *model = o->model ? o->model : cfg->default_model ? cfg->default_model : r->model;
  cJSON_AddStringToObject(root, "model", model ? model : "");
  add_tools(root, r->tools);
  char *instr = NULL;
  *json_tool = json_format(root, r, &instr);
  int rc = add_msgs(root, r, instr);
  free(instr);
  cJSON_AddNumberToObject(root, "max_tokens", r->max_tokens > 0 ? r->max_tokens : DEFAULT_MAX_TOKENS);
  /* the API's range is 0..1 where OpenAI's is 0..2 */
  if (r->temperature >= 0) cJSON_AddNumberToObject(root, "temperature", r->temperature > 1 ? 1.0 : r->temperature);
  if (r->top_p >= 0) cJSON_AddNumberToObject(root, "top_p", r->top_p);
  if (r->top_k >= 0) cJSON_AddNumberToObject(root, "top_k", r->top_k);
  cJSON *st = NULL;
  for (size_t i = 0; i < r->n_stop; i++) /* blank ones are applied here (an_prepare) */
    if (!blank(r->stop[i]) && (st || (st = cJSON_AddArrayToObject(root, "stop_sequences"))))
      cJSON_AddItemToArray(st, cJSON_CreateString(r->stop[i]));
  if (!*json_tool) add_tool_choice(root, r->tool_choice, r->one_tool_call);
  if (r->user) {
    cJSON *md = cJSON_AddObjectToObject(root, "metadata");
    if (md) cJSON_AddStringToObject(md, "user_id", r->user);
  }
  if (stream) cJSON_AddBoolToObject(root, "stream", 1);
  char *s = rc ? NULL : sl_json_print(root);
  cJSON_Delete(root);
  if (!s) return rc ? rc : SL_ENOMEM;
  rc = sl_buf_puts(out, s);
  free(s);
  return rc;
}

/* ---- decoding ---- */

static void set_stop(an_call_t *c, const cJSON *sr, const cJSON *ss) {
  if (sl_stopper_cut(&c->lstop)) return; /* a stop string applied here ended it */
  if (cJSON_IsString(sr)) {
    const char *s = sr->valuestring;
    const char *f = !strcmp(s, "max_tokens") ? "length"
                    : !strcmp(s, "tool_use") ? (c->json_tool ? "stop" : "tool_calls")
                    : !strcmp(s, "refusal") ? "content_filter"
                    : !strcmp(s, "model_context_window_exceeded") ? "length"
                    : !strcmp(s, "pause_turn") ? "pause_turn" /* an Anthropic client must continue */
                    : "stop"; /* end_turn, stop_sequence */
    snprintf(c->finish, sizeof c->finish, "%s", f);
  }
  if (cJSON_IsString(ss)) {
    snprintf(c->stop_seq, sizeof c->stop_seq, "%s", ss->valuestring);
    c->has_stop_seq = true;
  }
}

/* Usage counts may come in pieces (message_start, message_delta); input is the
 * sum of uncached and cached prompt tokens. */
static void take_usage(an_call_t *c, const cJSON *u) {
  if (!cJSON_IsObject(u)) return;
  const cJSON *in = cJSON_GetObjectItemCaseSensitive(u, "input_tokens");
  const cJSON *cc = cJSON_GetObjectItemCaseSensitive(u, "cache_creation_input_tokens");
  const cJSON *cr = cJSON_GetObjectItemCaseSensitive(u, "cache_read_input_tokens");
  const cJSON *out = cJSON_GetObjectItemCaseSensitive(u, "output_tokens");
  int n_in, w = 0, r = 0, n_out;
  bool ok_w = !cc || cJSON_IsNull(cc) || sl__usage_count(cc, &w);
  bool ok_r = !cr || cJSON_IsNull(cr) || sl__usage_count(cr, &r);
  bool ok_in = sl__usage_count(in, &n_in) && ok_w && ok_r, ok_out = sl__usage_count(out, &n_out);
  if (ok_in) {
    c->cache_write = w;
    c->cache_read = r;
    c->cache_seen = cJSON_IsNumber(cc) || cJSON_IsNumber(cr);
    c->in_tokens = n_in + w + r; /* each at most SL_MAX_USAGE_TOKENS: no overflow */
    c->in_seen = true;
  }
  if (ok_out) {
    c->out_tokens = n_out;
    c->out_seen = true;
  }
  if ((in && !ok_in) || (out && !ok_out))
    SL_WARN("upstream usage not believed (counts must be whole numbers from 0 to %d); estimated",
            SL_MAX_USAGE_TOKENS);
}

static void deliver(an_call_t *c, const char *s, size_t n) {
  if (!n) return;
  c->base.started = true;
  c->out_bytes += n;
  if (!c->base.abandoned && c->base.cbs.on_text(c->base.data, s, n)) c->base.abandoned = true;
}

/* The answer's text, through the stop strings applied here. At the first one
 * the answer ends as at a stop sequence of the API's: what came before it is
 * delivered, nothing after it, and a stream is ended without waiting for the
 * rest (its usage is then sluice's estimate). */
static void deliver_out(void *ud, const char *s, size_t n) { deliver(ud, s, n); }

static void emit_text(an_call_t *c, const char *s, size_t n) {
  if (sl_stopper_cut(&c->lstop)) return;
  if (sl_stopper_feed(&c->lstop, s, n, deliver_out, c)) {
    sl__call_fail(&c->base, SL_ENOMEM, 500, false, "server_error", "out of memory");
    return;
  }
  if (!sl_stopper_cut(&c->lstop)) return;
  snprintf(c->finish, sizeof c->finish, "stop");
  snprintf(c->stop_seq, sizeof c->stop_seq, "%s", c->lstop.stop[c->lstop.hit]);
  c->has_stop_seq = true;
  if (c->up.streaming) {
    c->saw_stop = true;
    if (c->hr) sl_hc_expect_end(c->hr, 0);
  }
}

/* Text held for a stop string that did not come: the text goes on with a tool
 * call, or the answer is over. */
static void release_held(an_call_t *c) { sl_stopper_flush(&c->lstop, deliver_out, c); }

static void emit_tool(an_call_t *c, int index, const char *id, const char *name, const char *args,
                      size_t n) {
  if (c->base.failed) return;
  if (index >= SL_MAX_TOOL_CALLS) {
    sl__call_fail(&c->base, SL_EUPSTREAM, 502, true, "upstream_error", SL_TOO_MANY_TOOL_CALLS);
    return;
  }
  c->base.started = true;
  c->out_bytes += n;
  if (!c->base.abandoned && c->base.cbs.on_tool_call &&
      c->base.cbs.on_tool_call(c->base.data, index, id, name, args, n))
    c->base.abandoned = true;
}

/* Anthropic's API starts a tool call with "input": {} and streams the input as
 * deltas; some compatible servers give the whole input in content_block_start
 * (block b) instead: delivered as the JSON tool's text or as the call's arguments. */
/* Text beside the JSON answer, kept (up to the buffer's cap) for the end. */
static void keep_json_else(an_call_t *c, const char *s) {
  if (!c->json_seen) (void)sl_buf_puts(&c->json_else, s);
}

static void emit_start_input(an_call_t *c, const cJSON *b) {
  const cJSON *input = cJSON_GetObjectItemCaseSensitive(b, "input");
  char *args = cJSON_IsObject(input) && input->child ? sl_json_print(input) : NULL;
  if (!args) return;
  size_t n = strlen(args);
  c->block_args += n;
  if (c->block_json) deliver(c, args, n);
  else emit_tool(c, c->block_tool, NULL, NULL, args, n);
  free(args);
}

static bool retryable_type(const char *t) {
  return !strcmp(t, "overloaded_error") || !strcmp(t, "api_error") || !strcmp(t, "rate_limit_error") ||
         !strcmp(t, "timeout_error");
}

/* The HTTP status the Messages API gives an error of this type: an error event
 * inside a stream (answered 200) fails as its HTTP form would, so that an
 * overloaded upstream fails over and a rate limit reaches the client as a 429. */
static int type_status(const char *t) {
  static const struct {
    const char *type;
    int status;
  } map[] = {{"invalid_request_error", 400}, {"authentication_error", 401}, {"billing_error", 402},
             {"permission_error", 403},      {"not_found_error", 404},      {"request_too_large", 413},
             {"rate_limit_error", 429},      {"api_error", 500},            {"timeout_error", 504},
             {"overloaded_error", 529}};
  for (size_t i = 0; i < sizeof map / sizeof *map; i++)
    if (!strcmp(t, map[i].type)) return map[i].status;
  return 502;
}

/* An upstream error body (HTTP error or `event: error`), Anthropic's shape
 * {"type":"error","error":{"type","message"}}; OpenAI's shape is read too. */
static void upstream_error(sl_call_error_t *e, int status, const char *body, size_t len) {
  sl__upstream_error(e, status, body, len);
  if (status == 529) snprintf(e->type, sizeof e->type, "overloaded_error");
}

static void close_tool_block(an_call_t *c) {
  if (c->block_json && !c->block_args) emit_text(c, "{}", 2);
  c->block_json = false;
  /* a tool called without arguments streams no input_json_delta: "{}" keeps
   * OpenAI clients' JSON.parse(arguments) working */
  if (c->block_tool >= 0 && !c->block_args) emit_tool(c, c->block_tool, NULL, NULL, "{}", 2);
  c->block_tool = -1;
}

/* An error object where the answer was due (an event of the stream, or a
 * 200 body): the call fails at the status its type names. */
static void fail_with_error(an_call_t *c, const char *p, size_t n) {
  sl_call_error_t e = {0};
  upstream_error(&e, 0, p, n);
  sl__call_fail(&c->base, SL_EUPSTREAM, type_status(e.type), retryable_type(e.type), e.type, e.message);
}

static int on_event(void *data, const char *event, const char *p, size_t n) {
  an_call_t *c = data;
  if (c->saw_stop) return 0; /* nothing follows the end: whatever does is not relayed */
  /* numbers as written: a tool's whole input in content_block_start is
   * re-printed (12345678901234567890 must not become 1.2345678901234567e+19) */
  size_t jn = 0;
  char *joined = sl__surrogates_join(&c->surr, p, n, &jn);
  cJSON *j = joined ? sl__parse_json(joined, jn, true) : sl__parse_json(p, n, true);
  free(joined);
  if (!j) return sl__call_bad_event(&c->base, p, n);
  const cJSON *tj = cJSON_GetObjectItemCaseSensitive(j, "type");
  const char *type = cJSON_IsString(tj) ? tj->valuestring : event;
  if (!strcmp(type, "error") || !strcmp(event, "error")) {
    cJSON_Delete(j);
    fail_with_error(c, p, n);
    return 1;
  }
  if (!strcmp(type, "message_start")) {
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "message");
    const cJSON *mo = m ? cJSON_GetObjectItemCaseSensitive(m, "model") : NULL;
    if (cJSON_IsString(mo)) snprintf(c->model, sizeof c->model, "%s", mo->valuestring);
    if (m) take_usage(c, cJSON_GetObjectItemCaseSensitive(m, "usage"));
  } else if (!strcmp(type, "content_block_start")) {
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(j, "content_block");
    const cJSON *bt = b ? cJSON_GetObjectItemCaseSensitive(b, "type") : NULL;
    close_tool_block(c);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(b, "name");
    if (c->json_tool) { /* the answer is the JSON tool's input; nothing else is */
      c->block_json = cJSON_IsString(bt) && !strcmp(bt->valuestring, "tool_use") &&
                      cJSON_IsString(name) && !strcmp(name->valuestring, JSON_TOOL);
      c->block_args = 0;
      c->json_seen |= c->block_json;
      const cJSON *t = cJSON_GetObjectItemCaseSensitive(b, "text");
      if (c->block_json) emit_start_input(c, b);
      else if (cJSON_IsString(t)) keep_json_else(c, t->valuestring);
    } else if (cJSON_IsString(bt) && !strcmp(bt->valuestring, "tool_use")) {
      release_held(c);
      const cJSON *id = cJSON_GetObjectItemCaseSensitive(b, "id");
      c->block_tool = c->n_tools++;
      c->block_args = 0;
      emit_tool(c, c->block_tool, cJSON_IsString(id) ? id->valuestring : NULL,
                cJSON_IsString(name) ? name->valuestring : "", "", 0);
      emit_start_input(c, b);
    } else if (cJSON_IsString(bt) && !strcmp(bt->valuestring, "text")) {
      const cJSON *t = cJSON_GetObjectItemCaseSensitive(b, "text");
      if (cJSON_IsString(t)) emit_text(c, t->valuestring, strlen(t->valuestring));
    }
  } else if (!strcmp(type, "content_block_delta")) {
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "delta");
    const cJSON *dt = d ? cJSON_GetObjectItemCaseSensitive(d, "type") : NULL;
    const char *dts = cJSON_IsString(dt) ? dt->valuestring : "";
    if (!strcmp(dts, "text_delta")) {
      const cJSON *t = cJSON_GetObjectItemCaseSensitive(d, "text");
      if (!cJSON_IsString(t)) {
        cJSON_Delete(j);
        sl__call_fail(&c->base, SL_EUPSTREAM, 502, true, "upstream_error",
                      "upstream sent a text_delta without text");
        return 1;
      }
      if (!c->json_tool) emit_text(c, t->valuestring, strlen(t->valuestring));
      else keep_json_else(c, t->valuestring);
    } else if (!strcmp(dts, "input_json_delta") && c->block_json) {
      /* JSON, not text: stop strings are the answer's, not the JSON's (the
       * API does not apply its own inside a tool's input either) */
      const cJSON *pj = cJSON_GetObjectItemCaseSensitive(d, "partial_json");
      size_t l = cJSON_IsString(pj) ? strlen(pj->valuestring) : 0;
      c->block_args += l;
      deliver(c, l ? pj->valuestring : "", l);
    } else if (!strcmp(dts, "input_json_delta") && c->block_tool >= 0) {
      const cJSON *pj = cJSON_GetObjectItemCaseSensitive(d, "partial_json");
      size_t l = cJSON_IsString(pj) ? strlen(pj->valuestring) : 0;
      if (l) {
        c->block_args += l;
        emit_tool(c, c->block_tool, NULL, NULL, pj->valuestring, l);
      }
    } /* thinking, signature and citation deltas have no place in the OpenAI shape */
  } else if (!strcmp(type, "content_block_stop")) {
    close_tool_block(c);
  } else if (!strcmp(type, "message_delta")) {
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "delta");
    if (d)
      set_stop(c, cJSON_GetObjectItemCaseSensitive(d, "stop_reason"),
               cJSON_GetObjectItemCaseSensitive(d, "stop_sequence"));
    take_usage(c, cJSON_GetObjectItemCaseSensitive(j, "usage"));
    /* the answer is over: an upstream that keeps the stream open without its
     * message_stop does not hold the client's last event until the idle timeout */
    if (c->finish[0] && !c->saw_stop) sl_hc_expect_end(c->hr, SL_STREAM_END_GRACE_MS);
  } else if (!strcmp(type, "message_stop")) {
    close_tool_block(c);
    c->saw_stop = true;
    sl_hc_expect_end(c->hr, SL_STREAM_END_GRACE_MS);
  } /* ping and unknown events are ignored, as the API asks */
  cJSON_Delete(j);
  return c->base.failed || c->base.abandoned;
}

static int on_response(void *data, int status, const char *ctype, long retry_after_ms,
                       bool no_retry) {
  an_call_t *c = data;
  c->base.answering = status >= 200 && status < 300;
  return sl__upstream_response(&c->up, status, ctype, retry_after_ms, no_retry);
}

static int on_data(void *data, const char *p, size_t n) {
  an_call_t *c = data;
  return sl__upstream_data(&c->up, &c->base, p, n);
}

static void finish_json(an_call_t *c) {
  cJSON *j = sl__parse_json(c->up.body.data ? c->up.body.data : "", c->up.body.len, true);
  const cJSON *content = j ? cJSON_GetObjectItemCaseSensitive(j, "content") : NULL;
  const cJSON *tj = j ? cJSON_GetObjectItemCaseSensitive(j, "type") : NULL;
  if (!content && cJSON_IsString(tj) && !strcmp(tj->valuestring, "error")) {
    cJSON_Delete(j); /* an error under 200, as a stream's error event carries it */
    fail_with_error(c, c->up.body.data, c->up.body.len);
    return;
  }
  if (!cJSON_IsArray(content)) {
    cJSON_Delete(j);
    sl__call_fail(&c->base, SL_EUPSTREAM, 502, true, "upstream_error",
                  c->up.body.len ? "upstream answered with a malformed message"
                                 : "upstream answered with no body (it closed before one, or sent none)");
    return;
  }
  for (const cJSON *b = content->child; b; b = b->next) {
    /* a text block without text: a broken answer, not an empty one */
    const cJSON *bt = cJSON_GetObjectItemCaseSensitive(b, "type");
    if (cJSON_IsString(bt) && !strcmp(bt->valuestring, "text") &&
        !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(b, "text"))) {
      cJSON_Delete(j);
      sl__call_fail(&c->base, SL_EUPSTREAM, 502, true, "upstream_error",
                    "upstream answered with a malformed message (a text block's text is not a string)");
      return;
    }
  }
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "model");
  if (cJSON_IsString(m)) snprintf(c->model, sizeof c->model, "%s", m->valuestring);
  for (const cJSON *b = content->child;
       b && !c->base.abandoned && !c->base.failed && !sl_stopper_cut(&c->lstop); b = b->next) {
    const cJSON *bt = cJSON_GetObjectItemCaseSensitive(b, "type");
    if (!cJSON_IsString(bt)) continue;
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(b, "name");
    if (c->json_tool) { /* the answer is the JSON tool's input; nothing else is */
      const cJSON *input = cJSON_GetObjectItemCaseSensitive(b, "input");
      const cJSON *t = cJSON_GetObjectItemCaseSensitive(b, "text");
      if (!strcmp(bt->valuestring, "tool_use") && cJSON_IsString(name) &&
          !strcmp(name->valuestring, JSON_TOOL)) {
        char *text = sl_json_print(input);
        deliver(c, text ? text : "{}", text ? strlen(text) : 2);
        c->json_seen = true;
        free(text);
      } else if (!strcmp(bt->valuestring, "text") && cJSON_IsString(t)) {
        keep_json_else(c, t->valuestring);
      }
    } else if (!strcmp(bt->valuestring, "text")) {
      const cJSON *t = cJSON_GetObjectItemCaseSensitive(b, "text");
      if (cJSON_IsString(t)) emit_text(c, t->valuestring, strlen(t->valuestring));
    } else if (!strcmp(bt->valuestring, "tool_use")) {
      release_held(c);
      const cJSON *id = cJSON_GetObjectItemCaseSensitive(b, "id");
      const cJSON *input = cJSON_GetObjectItemCaseSensitive(b, "input");
      char *args = sl_json_print(input);
      const char *a = args ? args : "{}";
      emit_tool(c, c->n_tools++, cJSON_IsString(id) ? id->valuestring : NULL,
                cJSON_IsString(name) ? name->valuestring : "", a, strlen(a));
      free(args);
    }
  }
  set_stop(c, cJSON_GetObjectItemCaseSensitive(j, "stop_reason"),
           cJSON_GetObjectItemCaseSensitive(j, "stop_sequence"));
  take_usage(c, cJSON_GetObjectItemCaseSensitive(j, "usage"));
  cJSON_Delete(j);
}

static void call_free(an_call_t *c) {
  sl_stopper_free(&c->lstop);
  sl_buf_free(&c->json_else);
  sl__upstream_free(&c->up);
  sl_buf_free(&c->base.body);
  free(c);
}

static void on_done(void *data, int err, int status, const char *msg) {
  an_call_t *c = data;
  c->base.unsent = err && c->hr && sl_hc_sent_nothing(c->hr);
  c->hr = NULL;
  if (c->base.failed || c->base.abandoned) goto out;
  if (err && c->up.streaming && c->finish[0] && c->base.started) {
    /* cut after message_delta's stop_reason (before message_stop): whole */
    SL_WARN("upstream stream cut after its stop_reason (%s); the answer is complete", msg ? msg : "");
  } else if (sl__call_transfer_failed(&c->base, &c->up, err, status, msg, upstream_error)) {
    goto out;
  } else if (c->up.streaming) {
    sl_sse_feed(&c->up.sse, "\n\n", 2); /* flush an unterminated last event */
    if (c->base.failed || c->base.abandoned) goto out;
    /* whole once message_delta gave the stop reason (message_stop may be left
     * out, as a cut after it is); message_stop without one may end a cut answer */
    if (!c->finish[0]) {
      sl__call_fail(&c->base, SL_EUPSTREAM, 502, true, "upstream_error",
                    c->saw_stop ? "upstream stream ended without a stop_reason"
                                : "upstream stream ended before message_stop");
      goto out;
    }
  } else {
    finish_json(c);
    if (c->base.failed || c->base.abandoned) goto out;
  }
  /* asked for JSON and answered in text only (a refusal): the text, not nothing */
  if (c->json_tool && !c->json_seen && c->json_else.len) emit_text(c, c->json_else.data, c->json_else.len);
  release_held(c);
  if (c->base.failed || c->base.abandoned) goto out;
  /* a stream cut here: message_start's output count is only where it began */
  if (sl_stopper_cut(&c->lstop) && c->up.streaming) c->out_seen = false;
  /* zero for a prompt (there always is one, unless all of it came from the
   * cache), or for an answer with text, is a proxy's filler, not a count: a
   * free answer would dodge budgets and costs */
  bool in_ok = c->in_seen && (c->in_tokens > 0 || (c->cache_seen && c->cache_read > 0));
  bool out_ok = c->out_seen && (c->out_tokens || !c->out_bytes);
  if (in_ok && out_ok) {
    c->res.prompt_tokens = c->in_tokens;
    c->res.completion_tokens = c->out_tokens;
    c->res.usage_reported = true;
  } else {
    /* No usage from upstream: estimate (about 4 bytes a token) rather than record zero. */
    c->res.prompt_tokens = in_ok ? c->in_tokens : c->base.prompt_estimate;
    c->res.completion_tokens = out_ok ? c->out_tokens : (int)((c->out_bytes + 3) / 4);
  }
  if (c->in_seen && c->cache_seen) {
    c->res.cache_read_tokens = c->cache_read;
    c->res.cache_write_tokens = c->cache_write;
    c->res.cache_reported = true;
  }
  c->res.finish_reason = c->finish[0] ? c->finish : c->n_tools ? "tool_calls" : "stop";
  c->res.stop_sequence = c->has_stop_seq ? c->stop_seq : NULL;
  c->res.model = c->model[0] ? c->model : NULL;
  c->base.cbs.on_done(c->base.data, &c->res);
out:
  call_free(c);
}

/* ---- ops ---- */

static int take_local_stops(an_call_t *c, const sl_chat_req_t *r) {
  int rc = 0;
  for (size_t i = 0; i < r->n_stop && !rc; i++)
    if (blank(r->stop[i]) && *r->stop[i]) rc = sl_stopper_add(&c->lstop, r->stop[i]);
  return rc;
}

static int an_prepare(sl_backends_t *b, const sl_backend_cfg_t *cfg, const sl_call_opts_t *o,
                      const sl_call_cbs_t *cbs, void *data, sl_call_t **out) {
  an_call_t *c = calloc(1, sizeof *c);
  if (!c) return SL_ENOMEM;
  c->stream = o->stream;
  c->block_tool = -1;
  sl_buf_init(&c->base.body, 64u << 20);
  sl__upstream_init(&c->up, on_event, c);
  c->up.want_stream = o->stream;
  c->fresh_connect = o->fresh_connect;
  if (o->anthropic_beta) snprintf(c->beta, sizeof c->beta, "anthropic-beta: %s", o->anthropic_beta);
  sl_stopper_init(&c->lstop);
  sl_buf_init(&c->json_else, 64u << 10);
  int rc = take_local_stops(c, o->req);
  c->base.prompt_estimate = sl_chat_estimate_prompt_tokens(o->req);
  if (!rc) rc = encode(o, cfg, o->stream, &c->json_tool, &c->base.body);
  if (rc) {
    call_free(c);
    return rc;
  }
  /* base_url is the API root (https://api.anthropic.com), with or without /v1 */
  const char *bu = cfg->base_url ? cfg->base_url : "https://api.anthropic.com";
  sl__api_url(c->url, sizeof c->url, bu, "/v1", "/v1/messages");
  sl__url_destination(c->url, c->base.destination, sizeof c->base.destination);
  *out = &c->base;
  return 0;
}

static int an_start(sl_call_t *base) {
  an_call_t *c = (an_call_t *)base;
  const sl_backend_cfg_t *cfg = base->cfg;
  const char *key = cfg->api_key_env ? getenv(cfg->api_key_env) : NULL;
  const char *hdrs[6];
  int n = 0;
  hdrs[n++] = "Content-Type: application/json";
  hdrs[n++] = c->stream ? "Accept: text/event-stream" : "Accept: application/json";
  hdrs[n++] = "anthropic-version: " API_VERSION;
  if (c->beta[0]) hdrs[n++] = c->beta;
  if (key && *key) {
    snprintf(c->auth, sizeof c->auth, "x-api-key: %s", key);
    hdrs[n++] = c->auth;
  }
  hdrs[n] = NULL;
  sl_hc_opts_t ho = {.method = "POST", .url = c->url, .headers = hdrs, .body = base->body.data,
                     .body_len = base->body.len, .connect_timeout_ms = cfg->connect_timeout_ms,
                     .ca_file = cfg->ca_file,
                     .first_byte_timeout_ms = sl_backend_first_byte_ms(cfg, c->stream),
                     .idle_timeout_ms = cfg->idle_timeout_ms,
                     .fresh_connect = c->fresh_connect,
                     .total_timeout_ms = cfg->total_timeout_ms};
  sl_hc_cbs_t hcb = {.on_response = on_response, .on_data = on_data, .on_done = on_done};
  int rc = sl_hc_start(base->owner->hc, &ho, &hcb, c, &c->hr);
  memset(c->auth, 0, sizeof c->auth); /* the key does not linger in our memory */
  if (rc) call_free(c);
  return rc;
}

static void an_cancel(sl_call_t *base) {
  an_call_t *c = (an_call_t *)base;
  if (c->hr) sl_hc_cancel(c->hr);
  call_free(c);
}

static void an_pause(sl_call_t *base, bool pause) {
  an_call_t *c = (an_call_t *)base;
  if (c->hr) sl_hc_pause(c->hr, pause);
}

static void an_usage(const sl_call_t *base, sl_result_t *out) {
  const an_call_t *c = (const an_call_t *)base;
  int est = (int)((c->out_bytes + 3) / 4); /* message_start's output count is only a start */
  out->prompt_tokens = c->in_seen ? c->in_tokens : c->base.prompt_estimate;
  out->completion_tokens = c->out_seen && c->out_tokens > est ? c->out_tokens : est;
  if (c->in_seen && c->cache_seen) {
    out->cache_read_tokens = c->cache_read;
    out->cache_write_tokens = c->cache_write;
    out->cache_reported = true;
  }
}

const sl_backend_ops_t sl__anthropic_ops = {"anthropic", an_prepare, an_start, an_cancel, an_pause,
                                            an_usage};
