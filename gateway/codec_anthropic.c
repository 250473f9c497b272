/* Anthropic Messages dialect codec. Decoding is strict about types (a wrong type
 * is a 400 naming the field), refuses content the classifier cannot inspect
 * (images, documents) and server tools, and ignores fields it does not use.
 * Tool use is carried inside sluice in OpenAI's shape (sl_chat.h), so both
 * dialects reach every backend the same way. */
#include "codec_anthropic.h"
#include "codec_json.h"
#include "dialect.h"
#include "sl_err.h"
#include "sl_json.h"
#include "sl_str.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MESSAGES 4096
#define MAX_INTERNAL_MSGS 16384 /* system + messages split at tool_result blocks */
#define MAX_STOP 16
#define MAX_TOOLS 256
#define MAX_TEXT ((size_t)1 << 30)

static const char *type_of(const cJSON *block) {
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(block, "type");
  return cJSON_IsString(t) ? t->valuestring : NULL;
}

/* ---- decoding ---- */

typedef struct {
  sl_chat_req_t *r;
  size_t cap;
  char *err;
  size_t n;
} dec_t;

/* Appends a message with `role` and `content` (taken over; NULL means ""). */
static int push_msg(dec_t *d, const char *role, char *content, sl_msg_t **out) {
  sl_chat_req_t *r = d->r;
  if (r->n_msgs >= MAX_INTERNAL_MSGS) {
    free(content);
    return sl_codec_bad(d->err, d->n, "messages: too many messages and tool results (at most %d)",
                        MAX_INTERNAL_MSGS);
  }
  if (r->n_msgs == d->cap) {
    size_t cap = d->cap ? d->cap * 2 : 8;
    sl_msg_t *m = realloc(r->msgs, cap * sizeof *m);
    if (!m) {
      free(content);
      return SL_ENOMEM;
    }
    r->msgs = m;
    d->cap = cap;
  }
  sl_msg_t *m = &r->msgs[r->n_msgs];
  memset(m, 0, sizeof *m);
  m->role = strdup(role);
  m->content = content ? content : strdup("");
  if (!m->role || !m->content) {
    free(m->role);
    free(m->content);
    return SL_ENOMEM;
  }
  r->n_msgs++;
  if (out) *out = m;
  return 0;
}

static int append_text(sl_buf_t *b, const char *s) {
  int rc = 0;
  if (b->len) rc = sl_buf_append(b, "\n", 1);
  if (!rc) rc = sl_buf_puts(b, s);
  return rc;
}

static char *take_text(sl_buf_t *b) {
  if (!b->data) return strdup("");
  return sl_buf_steal(b, NULL);
}

/* A string, or an array of text blocks (system prompts, tool_result content);
 * texts joined with "\n". Anything else is a 400 naming `path`. */
static int text_blocks(const cJSON *c, const char *path, char **out, char *err, size_t n) {
  if (!c || cJSON_IsNull(c)) return (*out = strdup("")) ? 0 : SL_ENOMEM;
  if (cJSON_IsString(c)) return (*out = strdup(c->valuestring)) ? 0 : SL_ENOMEM;
  if (!cJSON_IsArray(c)) return sl_codec_bad(err, n, "%s must be a string or an array of text blocks", path);
  sl_buf_t b;
  sl_buf_init(&b, MAX_TEXT);
  int rc = 0, i = 0;
  for (const cJSON *p = c->child; p && !rc; p = p->next, i++) {
    const char *t = cJSON_IsObject(p) ? type_of(p) : NULL;
    const cJSON *tx = cJSON_GetObjectItemCaseSensitive(p, "text");
    if (!t) rc = sl_codec_bad(err, n, "%s[%d] must be a content block with a string type", path, i);
    else if (strcmp(t, "text"))
      rc = sl_codec_bad(err, n, "%s[%d]: %.40s blocks are not supported here (the classifier cannot "
                                "inspect them); send text", path, i, t);
    else if (!cJSON_IsString(tx)) rc = sl_codec_bad(err, n, "%s[%d].text must be a string", path, i);
    else rc = append_text(&b, tx->valuestring);
  }
  if (rc) {
    sl_buf_free(&b);
    return rc;
  }
  return (*out = take_text(&b)) ? 0 : SL_ENOMEM;
}

/* One tool_use block -> an OpenAI-shaped tool call appended to `calls`. */
static int tool_use(const cJSON *b, const char *path, cJSON *calls, char *err, size_t n) {
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(b, "id");
  const cJSON *name = cJSON_GetObjectItemCaseSensitive(b, "name");
  const cJSON *input = cJSON_GetObjectItemCaseSensitive(b, "input");
  if (!cJSON_IsString(id)) return sl_codec_bad(err, n, "%s.id must be a string", path);
  if (!cJSON_IsString(name)) return sl_codec_bad(err, n, "%s.name must be a string", path);
  if (input && !cJSON_IsObject(input)) return sl_codec_bad(err, n, "%s.input must be an object", path);
  char *args = input ? sl_json_print(input) : strdup("{}");
  cJSON *call = cJSON_CreateObject(), *fn = cJSON_CreateObject();
  int ok = args && call && fn && cJSON_AddStringToObject(call, "id", id->valuestring) &&
           cJSON_AddStringToObject(call, "type", "function") &&
           cJSON_AddStringToObject(fn, "name", name->valuestring) &&
           cJSON_AddStringToObject(fn, "arguments", args);
  free(args);
  if (ok && cJSON_AddItemToObject(call, "function", fn)) {
    fn = NULL;
    ok = cJSON_AddItemToArray(calls, call);
    if (ok) call = NULL;
  } else {
    ok = 0;
  }
  cJSON_Delete(fn);
  cJSON_Delete(call);
  return ok ? 0 : SL_ENOMEM;
}

static int decode_message(dec_t *d, const cJSON *m, int i) {
  char *err = d->err;
  size_t n = d->n;
  char path[64];
  snprintf(path, sizeof path, "messages[%d]", i);
  if (!cJSON_IsObject(m)) return sl_codec_bad(err, n, "%s must be an object", path);
  const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
  if (!cJSON_IsString(role)) return sl_codec_bad(err, n, "%s.role must be a string", path);
  bool user = !strcmp(role->valuestring, "user");
  if (!user && strcmp(role->valuestring, "assistant"))
    return sl_codec_bad(err, n, "%s.role must be \"user\" or \"assistant\" (the system prompt goes in the "
                                "top-level system field)", path);
  const cJSON *c = cJSON_GetObjectItemCaseSensitive(m, "content");
  if (cJSON_IsString(c)) {
    char *s = strdup(c->valuestring);
    return s ? push_msg(d, role->valuestring, s, NULL) : SL_ENOMEM;
  }
  if (!cJSON_IsArray(c)) return sl_codec_bad(err, n, "%s.content must be a string or an array of content blocks", path);

  sl_buf_t text;
  sl_buf_init(&text, MAX_TEXT);
  cJSON *calls = user ? NULL : cJSON_CreateArray();
  int rc = (!user && !calls) ? SL_ENOMEM : 0, k = 0, n_results = 0;
  for (const cJSON *b = c->child; b && !rc; b = b->next, k++) {
    char bpath[96];
    snprintf(bpath, sizeof bpath, "%s.content[%d]", path, k);
    const char *t = cJSON_IsObject(b) ? type_of(b) : NULL;
    if (!t) {
      rc = sl_codec_bad(err, n, "%s must be a content block with a string type", bpath);
    } else if (!strcmp(t, "text")) {
      const cJSON *tx = cJSON_GetObjectItemCaseSensitive(b, "text");
      rc = cJSON_IsString(tx) ? append_text(&text, tx->valuestring)
                              : sl_codec_bad(err, n, "%s.text must be a string", bpath);
    } else if (!strcmp(t, "tool_use")) {
      rc = user ? sl_codec_bad(err, n, "%s: tool_use blocks belong in assistant messages", bpath)
                : tool_use(b, bpath, calls, err, n);
    } else if (!strcmp(t, "tool_result")) {
      if (!user) {
        rc = sl_codec_bad(err, n, "%s: tool_result blocks belong in user messages", bpath);
        break;
      }
      const cJSON *tid = cJSON_GetObjectItemCaseSensitive(b, "tool_use_id");
      if (!cJSON_IsString(tid)) {
        rc = sl_codec_bad(err, n, "%s.tool_use_id must be a string", bpath);
        break;
      }
      char cpath[112], *s = NULL;
      snprintf(cpath, sizeof cpath, "%s.content", bpath);
      rc = text_blocks(cJSON_GetObjectItemCaseSensitive(b, "content"), cpath, &s, err, n);
      sl_msg_t *tm = NULL;
      /* Tool results become role "tool" messages ahead of the turn's text: the
       * OpenAI shape wants them right after the assistant's tool calls. */
      if (!rc) rc = push_msg(d, "tool", s, &tm);
      n_results++;
      if (!rc && !(tm->tool_call_id = strdup(tid->valuestring))) rc = SL_ENOMEM;
      if (!rc) tm->is_error = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(b, "is_error"));
    } else if (!user && (!strcmp(t, "thinking") || !strcmp(t, "redacted_thinking"))) {
      /* the model's own reasoning from an earlier turn: not sent on */
    } else {
      rc = sl_codec_bad(err, n, "%s: %.40s blocks are not supported (the classifier cannot inspect "
                                "them); send text", bpath, t);
    }
  }
  /* A user turn made only of tool results needs no user message of its own. */
  if (!rc && (!user || text.len || !n_results)) {
    sl_msg_t *om = NULL;
    rc = push_msg(d, role->valuestring, take_text(&text), &om);
    if (!rc && calls && cJSON_GetArraySize(calls) && !(om->tool_calls = sl_json_print(calls)))
      rc = SL_ENOMEM;
  }
  sl_buf_free(&text);
  cJSON_Delete(calls);
  return rc;
}

/* Anthropic tools ({name, description, input_schema}) -> OpenAI's
 * ({"type":"function","function":{name, description, parameters}}). */
static int decode_tools(const cJSON *tools, sl_chat_req_t *r, char *err, size_t n) {
  if (!cJSON_IsArray(tools)) return sl_codec_bad(err, n, "tools must be an array");
  int cnt = cJSON_GetArraySize(tools);
  if (cnt > MAX_TOOLS) return sl_codec_bad(err, n, "tools: at most %d", MAX_TOOLS);
  if (!cnt) return 0;
  cJSON *out = cJSON_CreateArray();
  if (!out) return SL_ENOMEM;
  int rc = 0, i = 0;
  for (const cJSON *t = tools->child; t && !rc; t = t->next, i++) {
    if (!cJSON_IsObject(t)) {
      rc = sl_codec_bad(err, n, "tools[%d] must be an object", i);
      break;
    }
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(t, "type");
    if (type && !cJSON_IsNull(type) && (!cJSON_IsString(type) || strcmp(type->valuestring, "custom"))) {
      rc = sl_codec_bad(err, n, "tools[%d]: tool type \"%.40s\" is not supported (only client tools with "
                                "name, description and input_schema)", i,
                        cJSON_IsString(type) ? type->valuestring : "?");
      break;
    }
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(t, "name");
    const cJSON *desc = cJSON_GetObjectItemCaseSensitive(t, "description");
    const cJSON *schema = cJSON_GetObjectItemCaseSensitive(t, "input_schema");
    if (!cJSON_IsString(name) || !name->valuestring[0]) {
      rc = sl_codec_bad(err, n, "tools[%d].name must be a non-empty string", i);
      break;
    }
    if (desc && !cJSON_IsNull(desc) && !cJSON_IsString(desc)) {
      rc = sl_codec_bad(err, n, "tools[%d].description must be a string", i);
      break;
    }
    if (!cJSON_IsObject(schema)) {
      rc = sl_codec_bad(err, n, "tools[%d].input_schema must be an object (a JSON Schema)", i);
      break;
    }
    /* strict tool use (inputs guaranteed to fit the schema): OpenAI's
     * function.strict, which an Anthropic backend gets back as the tool's strict */
    const cJSON *strict = cJSON_GetObjectItemCaseSensitive(t, "strict");
    if (strict && !cJSON_IsNull(strict) && !cJSON_IsBool(strict)) {
      rc = sl_codec_bad(err, n, "tools[%d].strict must be a boolean", i);
      break;
    }
    cJSON *o = cJSON_CreateObject(), *fn = cJSON_CreateObject();
    cJSON *params = cJSON_Duplicate(schema, 1);
    bool ok = o && fn && params && cJSON_AddStringToObject(o, "type", "function") &&
              cJSON_AddStringToObject(fn, "name", name->valuestring) &&
              (!cJSON_IsString(desc) || cJSON_AddStringToObject(fn, "description", desc->valuestring)) &&
              (!cJSON_IsTrue(strict) || cJSON_AddTrueToObject(fn, "strict")) &&
              cJSON_AddItemToObject(fn, "parameters", params);
    if (ok) params = NULL;
    ok = ok && cJSON_AddItemToObject(o, "function", fn);
    if (ok) fn = NULL;
    ok = ok && cJSON_AddItemToArray(out, o);
    if (ok) o = NULL;
    cJSON_Delete(params);
    cJSON_Delete(fn);
    cJSON_Delete(o);
    if (!ok) rc = SL_ENOMEM;
  }
  if (!rc && !(r->tools = sl_json_print(out))) rc = SL_ENOMEM;
  cJSON_Delete(out);
  return rc;
}

/* Structured outputs: output_config.format (or the beta's output_format),
 * {"type":"json_schema","schema":{...}}, is OpenAI's json_schema
 * response_format inside: each backend kind asks for it its own way. */
static int decode_output_format(const cJSON *root, sl_chat_req_t *r, char *err, size_t n) {
  const cJSON *oc = cJSON_GetObjectItemCaseSensitive(root, "output_config");
  const char *path = "output_config.format";
  if (oc && !cJSON_IsNull(oc) && !cJSON_IsObject(oc)) return sl_codec_bad(err, n, "output_config must be an object");
  const cJSON *f = cJSON_GetObjectItemCaseSensitive(oc, "format");
  if (!f || cJSON_IsNull(f)) {
    f = cJSON_GetObjectItemCaseSensitive(root, "output_format");
    path = "output_format";
  }
  if (!f || cJSON_IsNull(f)) return 0;
  const char *t = cJSON_IsObject(f) ? type_of(f) : NULL;
  const cJSON *schema = cJSON_GetObjectItemCaseSensitive(f, "schema");
  if (!t || strcmp(t, "json_schema") || !cJSON_IsObject(schema))
    return sl_codec_bad(err, n, "%s must be {\"type\":\"json_schema\",\"schema\":{...}}", path);
  cJSON *rf = cJSON_CreateObject(), *js = NULL;
  if (rf && cJSON_AddStringToObject(rf, "type", "json_schema") && (js = cJSON_AddObjectToObject(rf, "json_schema")) &&
      cJSON_AddStringToObject(js, "name", "output") &&
      cJSON_AddItemToObject(js, "schema", cJSON_Duplicate(schema, 1)))
    r->response_format = sl_json_print(rf);
  cJSON_Delete(rf);
  r->json_output = true;
  return r->response_format ? 0 : SL_ENOMEM;
}

/* {"type":"auto"|"any"|"none"|"tool","name","disable_parallel_tool_use"} ->
 * OpenAI's tool_choice JSON (and one_tool_call). */
static int decode_tool_choice(const cJSON *tc, sl_chat_req_t *r, char *err, size_t n) {
  const char *t = cJSON_IsObject(tc) ? type_of(tc) : NULL;
  if (!t) return sl_codec_bad(err, n, "tool_choice must be an object with a type");
  const cJSON *one = cJSON_GetObjectItemCaseSensitive(tc, "disable_parallel_tool_use");
  if (one && !cJSON_IsNull(one) && !cJSON_IsBool(one))
    return sl_codec_bad(err, n, "tool_choice.disable_parallel_tool_use must be a boolean");
  r->one_tool_call = cJSON_IsTrue(one);
  const char *s = NULL;
  if (!strcmp(t, "auto")) s = "\"auto\"";
  else if (!strcmp(t, "any")) s = "\"required\"";
  else if (!strcmp(t, "none")) s = "\"none\"";
  if (s) return (r->tool_choice = strdup(s)) ? 0 : SL_ENOMEM;
  if (strcmp(t, "tool"))
    return sl_codec_bad(err, n, "tool_choice.type must be auto, any, tool or none");
  const cJSON *name = cJSON_GetObjectItemCaseSensitive(tc, "name");
  if (!cJSON_IsString(name)) return sl_codec_bad(err, n, "tool_choice.name must be a string");
  cJSON *o = cJSON_CreateObject(), *fn = NULL;
  if (o && cJSON_AddStringToObject(o, "type", "function") && (fn = cJSON_AddObjectToObject(o, "function")) &&
      cJSON_AddStringToObject(fn, "name", name->valuestring))
    r->tool_choice = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  return r->tool_choice ? 0 : SL_ENOMEM;
}

static int num(const cJSON *root, const char *key, double lo, double hi, bool integer,
               double *out, char *err, size_t n) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
  if (!v || cJSON_IsNull(v)) return 0;
  if (!cJSON_IsNumber(v) || isnan(v->valuedouble))
    return sl_codec_bad(err, n, "%s must be %s", key, integer ? "an integer" : "a number");
  if (integer && v->valuedouble != floor(v->valuedouble)) return sl_codec_bad(err, n, "%s must be an integer", key);
  if (v->valuedouble < lo || v->valuedouble > hi)
    return sl_codec_bad(err, n, "%s must be between %s and %s", key, sl_fmt_bound(lo, (char[32]){0}),
                        sl_fmt_bound(hi, (char[32]){0}));
  *out = v->valuedouble;
  return 0;
}

static int decode_root(const cJSON *root, sl_chat_req_t *r, char *err, size_t n) {
  if (!cJSON_IsObject(root)) return sl_codec_bad(err, n, "request body must be a JSON object");
  /* A server-side message thread (the SDK's toolRunner and messages.thread()
   * send "thread" and then only the new turn): sluice has no threads, and
   * says so the way the SDK understands (error_code thread_unsupported_request
   * in the error's details), so it sends the whole conversation instead. */
  const cJSON *thread = cJSON_GetObjectItemCaseSensitive(root, "thread");
  if (thread && !cJSON_IsNull(thread)) {
    sl_codec_bad(err, n, "thread: this gateway keeps no message threads; send the whole conversation");
    return SL_EUNSUPPORTED;
  }
  dec_t d = {r, 0, err, n};
  int rc;
  const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
  if (model && !cJSON_IsString(model) && !cJSON_IsNull(model)) return sl_codec_bad(err, n, "model must be a string");
  r->model = strdup(cJSON_IsString(model) && model->valuestring[0] ? model->valuestring : "auto");
  if (!r->model) return SL_ENOMEM;
  if (!sl_chat_model_name_ok(r->model))
    return sl_codec_bad(err, n, "model must be a model name: letters, digits and ._:/@+- (no spaces, at most %d bytes)",
                        SL_CHAT_MAX_MODEL);

  const cJSON *mt = cJSON_GetObjectItemCaseSensitive(root, "max_tokens");
  if (!mt || cJSON_IsNull(mt)) return sl_codec_bad(err, n, "max_tokens: field required");
  double v = -1;
  if ((rc = num(root, "max_tokens", 1, 1e7, true, &v, err, n))) return rc;
  r->max_tokens = (int)v;

  const cJSON *sys = cJSON_GetObjectItemCaseSensitive(root, "system");
  if (sys && !cJSON_IsNull(sys)) {
    char *s = NULL;
    if ((rc = text_blocks(sys, "system", &s, err, n))) return rc;
    if (s[0]) {
      if ((rc = push_msg(&d, "system", s, NULL))) return rc;
    } else {
      free(s);
    }
  }
  const cJSON *ms = cJSON_GetObjectItemCaseSensitive(root, "messages");
  if (!cJSON_IsArray(ms)) return sl_codec_bad(err, n, "messages must be an array");
  int cnt = cJSON_GetArraySize(ms);
  if (cnt < 1) return sl_codec_bad(err, n, "messages must not be empty");
  if (cnt > MAX_MESSAGES) return sl_codec_bad(err, n, "messages: at most %d", MAX_MESSAGES);
  int i = 0;
  for (const cJSON *m = ms->child; m; m = m->next, i++)
    if ((rc = decode_message(&d, m, i))) return rc;

  const cJSON *st = cJSON_GetObjectItemCaseSensitive(root, "stream");
  if (st && !cJSON_IsNull(st) && !cJSON_IsBool(st)) return sl_codec_bad(err, n, "stream must be a boolean");
  r->stream = cJSON_IsTrue(st);

  if ((rc = num(root, "temperature", 0, 1, false, &r->temperature, err, n)) ||
      (rc = num(root, "top_p", 0, 1, false, &r->top_p, err, n)))
    return rc;
  v = -1;
  if ((rc = num(root, "top_k", 0, 1e6, true, &v, err, n))) return rc;
  if (v >= 0) r->top_k = (int)v;

  const cJSON *stop = cJSON_GetObjectItemCaseSensitive(root, "stop_sequences");
  if (stop && !cJSON_IsNull(stop)) {
    if (!cJSON_IsArray(stop)) return sl_codec_bad(err, n, "stop_sequences must be an array of strings");
    int k = cJSON_GetArraySize(stop);
    if (k > MAX_STOP) return sl_codec_bad(err, n, "stop_sequences: at most %d strings", MAX_STOP);
    if (k) {
      if (!(r->stop = calloc((size_t)k, sizeof *r->stop))) return SL_ENOMEM;
      for (const cJSON *s = stop->child; s; s = s->next) {
        if (!cJSON_IsString(s) || !s->valuestring[0])
          return sl_codec_bad(err, n, "stop_sequences must be an array of non-empty strings");
        if (!(r->stop[r->n_stop++] = strdup(s->valuestring))) return SL_ENOMEM;
      }
    }
  }
  const cJSON *tools = cJSON_GetObjectItemCaseSensitive(root, "tools");
  if (tools && !cJSON_IsNull(tools) && (rc = decode_tools(tools, r, err, n))) return rc;
  const cJSON *tc = cJSON_GetObjectItemCaseSensitive(root, "tool_choice");
  if (tc && !cJSON_IsNull(tc) && (rc = decode_tool_choice(tc, r, err, n))) return rc;
  if ((rc = decode_output_format(root, r, err, n))) return rc;
  const cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "metadata");
  if (meta && !cJSON_IsNull(meta)) {
    if (!cJSON_IsObject(meta)) return sl_codec_bad(err, n, "metadata must be an object");
    const cJSON *uid = cJSON_GetObjectItemCaseSensitive(meta, "user_id");
    if (uid && !cJSON_IsNull(uid) && !cJSON_IsString(uid)) return sl_codec_bad(err, n, "metadata.user_id must be a string");
    if (cJSON_IsString(uid) && !(r->user = strdup(uid->valuestring))) return SL_ENOMEM;
  }
  return 0;
}

bool sl_anthropic_shaped(const char *json, size_t len) {
  cJSON *j = cJSON_ParseWithLength(json ? json : "", len);
  /* (not metadata.user_id: OpenAI's metadata takes any keys) */
  const cJSON *tools = cJSON_GetObjectItemCaseSensitive(j, "tools");
  bool yes = cJSON_GetObjectItemCaseSensitive(j, "system") || cJSON_GetObjectItemCaseSensitive(j, "stop_sequences") ||
             (cJSON_IsArray(tools) && cJSON_GetObjectItemCaseSensitive(tools->child, "input_schema"));
  static const char *const blocks[] = {"tool_use", "tool_result", "image", "document", "thinking",
                                       "redacted_thinking"};
  const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(j, "messages");
  for (const cJSON *m = cJSON_IsArray(msgs) ? msgs->child : NULL; m && !yes; m = m->next) {
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
    for (const cJSON *b = cJSON_IsArray(content) ? content->child : NULL; b && !yes; b = b->next) {
      const cJSON *t = cJSON_GetObjectItemCaseSensitive(b, "type");
      for (size_t i = 0; cJSON_IsString(t) && i < sizeof blocks / sizeof *blocks; i++)
        yes |= !strcmp(t->valuestring, blocks[i]);
    }
  }
  cJSON_Delete(j);
  return yes;
}

int sl_anthropic_decode_request(const char *json, size_t len, sl_chat_req_t *r, char *err,
                                size_t n) {
  sl_chat_req_init(r);
  r->dialect = SL_DIALECT_ANTHROPIC;
  cJSON *root = sl_codec_parse_body(json, len, err, n);
  if (!root) return SL_EPARSE;
  int rc = decode_root(root, r, err, n);
  cJSON_Delete(root);
  if (rc == SL_ENOMEM) snprintf(err, n, "out of memory");
  if (rc) sl_chat_req_free(r);
  return rc;
}

/* ---- mappings ---- */

const char *sl_anthropic_stop_reason(const char *finish, const char *stop_sequence,
                                     int had_tool_calls) {
  if (!finish || !strcmp(finish, "stop"))
    return stop_sequence ? "stop_sequence" : had_tool_calls ? "tool_use" : "end_turn";
  if (!strcmp(finish, "length")) return "max_tokens";
  if (!strcmp(finish, "tool_calls") || !strcmp(finish, "function_call")) return "tool_use";
  if (!strcmp(finish, "content_filter")) return "refusal";
  if (!strcmp(finish, "pause_turn")) return "pause_turn";
  return "end_turn";
}

const char *sl_anthropic_error_type(int status) {
  switch (status) {
  case 401: return "authentication_error";
  case 403:
  case 451: return "permission_error"; /* blocked by policy */
  case 404: return "not_found_error";
  case 413: return "request_too_large";
  case 429: return "rate_limit_error";
  case 503:
  case 529: return "overloaded_error";
  case 504: return "timeout_error";
  default: return status >= 500 ? "api_error" : "invalid_request_error";
  }
}

/* An error type for a mid-stream `event: error`: Anthropic's own types pass
 * (an Anthropic upstream's overloaded_error stays one), the rest are typed by
 * the status the whole answer's error would have (a timeout is timeout_error
 * either way, a shutdown overloaded_error). */
static const char *stream_error_type(int status, const char *type) {
  static const char *const known[] = {"invalid_request_error", "authentication_error",
                                      "permission_error", "not_found_error",
                                      "rate_limit_error", "api_error", "overloaded_error",
                                      "timeout_error", "billing_error", "request_too_large"};
  for (size_t i = 0; type && i < sizeof known / sizeof *known; i++)
    if (!strcmp(type, known[i])) return known[i];
  return sl_anthropic_error_type(status >= 500 ? status : 500);
}

/* ---- encoding: written by hand into the buffer ---- */


static int put_event_head(sl_buf_t *o, const char *name) {
  return sl_buf_printf(o, "event: %s\ndata: {\"type\":\"%s\"", name, name);
}

static int put_tool_id(sl_buf_t *o, const sl_resp_t *r, const char *id, int index) {
  if (id && id[0]) return sl_buf_json_cstr(o, id);
  /* an upstream that named no id: one derived from the message id, stable per call */
  const char *m = r->id ? r->id : "msg_";
  if (!strncmp(m, "msg_", 4)) m += 4;
  return sl_buf_printf(o, "\"toolu_%s_%d\"", m, index);
}

/* A tool call's arguments as the tool_use block's input object. Arguments that
 * are not a JSON object (a broken upstream) are kept, as a string, under
 * "_raw_arguments" rather than dropped. */
static int put_input(sl_buf_t *o, const char *args, size_t n) {
  size_t i = 0;
  while (i < n && (args[i] == ' ' || args[i] == '\n' || args[i] == '\t' || args[i] == '\r')) i++;
  if (i == n) return sl_buf_puts(o, "{}");
  cJSON *j = sl_json_parse_whole(args, n, true);
  int rc;
  if (cJSON_IsObject(j)) { /* one object, all of it */
    char *s = sl_json_print(j);
    rc = s ? sl_buf_puts(o, s) : SL_ENOMEM;
    free(s);
  } else {
    rc = sl_buf_puts(o, "{\"_raw_arguments\":");
    if (!rc) rc = sl_buf_json_str(o, args, n);
    if (!rc) rc = sl_buf_puts(o, "}");
  }
  cJSON_Delete(j);
  return rc;
}

static const char *stop_reason(const sl_resp_t *r, const sl_result_t *res, bool tools) {
  const char *s = sl_anthropic_stop_reason(res->finish_reason, res->stop_sequence, tools);
  return r->refused && !strcmp(s, "end_turn") ? "refusal" : s;
}

/* "usage": Anthropic's input_tokens leaves out the prompt cache's reads and
 * writes, which come as fields of their own (when the upstream said). */
static int put_usage(sl_buf_t *o, const sl_result_t *res) {
  if (!res->cache_reported)
    return sl_buf_printf(o, "\"usage\":{\"input_tokens\":%d,\"output_tokens\":%d}",
                         res->prompt_tokens, res->completion_tokens);
  int in = res->prompt_tokens - res->cache_read_tokens - res->cache_write_tokens;
  return sl_buf_printf(o,
                       "\"usage\":{\"input_tokens\":%d,\"cache_creation_input_tokens\":%d,"
                       "\"cache_read_input_tokens\":%d,\"output_tokens\":%d}",
                       in > 0 ? in : 0, res->cache_write_tokens, res->cache_read_tokens,
                       res->completion_tokens);
}

static int an_stream_start(sl_buf_t *o, sl_resp_t *r) {
  r->block = -1;
  r->block_kind = 0;
  r->n_blocks = 0;
  r->tool_index = -1; /* stays -1 until a tool block opens: tells stream_end about tool use */
  int rc = put_event_head(o, "message_start");
  if (!rc) rc = sl_buf_puts(o, ",\"message\":{\"id\":");
  if (!rc) rc = sl_buf_json_cstr(o, r->id);
  if (!rc) rc = sl_buf_puts(o, ",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":");
  if (!rc) rc = sl_buf_json_cstr(o, r->model);
  if (!rc) rc = sl_buf_puts(o, ",\"stop_reason\":null,\"stop_sequence\":null,");
  sl_result_t u = {.prompt_tokens = r->prompt_tokens > 0 ? r->prompt_tokens : 0,
                   .cache_read_tokens = r->cache_read_tokens,
                   .cache_write_tokens = r->cache_write_tokens,
                   .cache_reported = r->cache_reported};
  if (!rc) rc = put_usage(o, &u);
  if (!rc) rc = sl_buf_puts(o, "}}\n\n");
  return rc;
}

static int close_block(sl_buf_t *o, sl_resp_t *r) {
  if (r->block < 0) return 0;
  int rc = put_event_head(o, "content_block_stop");
  if (!rc) rc = sl_buf_printf(o, ",\"index\":%d}\n\n", r->block);
  r->block = -1;
  r->block_kind = 0;
  return rc;
}

static int an_stream_text(sl_buf_t *o, sl_resp_t *r, const char *s, size_t n) {
  if (!n) return 0;
  int rc = 0;
  if (r->block_kind != 1) {
    rc = close_block(o, r);
    r->block = r->n_blocks++;
    r->block_kind = 1;
    if (!rc) rc = put_event_head(o, "content_block_start");
    if (!rc)
      rc = sl_buf_printf(o, ",\"index\":%d,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n", r->block);
  }
  if (!rc) rc = put_event_head(o, "content_block_delta");
  if (!rc) rc = sl_buf_printf(o, ",\"index\":%d,\"delta\":{\"type\":\"text_delta\",\"text\":", r->block);
  if (!rc) rc = sl_buf_json_str(o, s, n);
  if (!rc) rc = sl_buf_puts(o, "}}\n\n");
  return rc;
}

/* Upstream tool calls arrive as deltas keyed by their index; each index becomes
 * one tool_use block. Upstreams stream one call after another, so a delta for a
 * different index opens the next block. */
static int an_stream_tool(sl_buf_t *o, sl_resp_t *r, int index, const char *id, const char *name,
                          const char *args, size_t n) {
  int rc = 0;
  if (r->block_kind != 2 || r->tool_index != index) {
    rc = close_block(o, r);
    r->block = r->n_blocks++;
    r->block_kind = 2;
    r->tool_index = index;
    if (!rc) rc = put_event_head(o, "content_block_start");
    if (!rc) rc = sl_buf_printf(o, ",\"index\":%d,\"content_block\":{\"type\":\"tool_use\",\"id\":", r->block);
    if (!rc) rc = put_tool_id(o, r, id, index);
    if (!rc) rc = sl_buf_puts(o, ",\"name\":");
    if (!rc) rc = sl_buf_json_cstr(o, name);
    if (!rc) rc = sl_buf_puts(o, ",\"input\":{}}}\n\n");
  }
  if (!rc && n) {
    rc = put_event_head(o, "content_block_delta");
    if (!rc)
      rc = sl_buf_printf(o, ",\"index\":%d,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":", r->block);
    if (!rc) rc = sl_buf_json_str(o, args, n);
    if (!rc) rc = sl_buf_puts(o, "}}\n\n");
  }
  return rc;
}

static int an_stream_end(sl_buf_t *o, sl_resp_t *r, const sl_result_t *res, bool include_usage) {
  int rc = close_block(o, r);
  if (!rc) rc = put_event_head(o, "message_delta");
  if (!rc) rc = sl_buf_puts(o, ",\"delta\":{\"stop_reason\":");
  if (!rc)
    rc = sl_buf_json_cstr(o, stop_reason(r, res, r->tool_index >= 0));
  if (!rc) rc = sl_buf_puts(o, ",\"stop_sequence\":");
  if (!rc) rc = res->stop_sequence ? sl_buf_json_cstr(o, res->stop_sequence) : sl_buf_puts(o, "null");
  /* input_tokens again: message_start could only carry an estimate */
  if (!rc) rc = sl_buf_puts(o, "},");
  if (!rc) rc = put_usage(o, res);
  if (!rc) rc = sl_buf_puts(o, "}\n\n");
  if (!rc) rc = put_event_head(o, "message_stop");
  if (!rc) rc = sl_buf_puts(o, "}\n\n");
  return rc;
}

/* details: the error's "details" object as JSON, or NULL for none. */
static int put_error_body(sl_buf_t *o, const char *type, const char *msg, const char *details) {
  int rc = sl_buf_puts(o, "{\"type\":\"error\",\"error\":{\"type\":");
  if (!rc) rc = sl_buf_json_cstr(o, type);
  if (!rc) rc = sl_buf_puts(o, ",\"message\":");
  if (!rc) rc = sl_buf_json_cstr(o, msg);
  if (!rc && details) rc = sl_buf_puts(o, ",\"details\":");
  if (!rc && details) rc = sl_buf_puts(o, details);
  if (!rc) rc = sl_buf_puts(o, "}}");
  return rc;
}

static int an_stream_error(sl_buf_t *o, sl_resp_t *r, int status, const char *type,
                           const char *code, const char *msg) {
  (void)code; /* Anthropic's errors have a type only */
  int rc = sl_buf_puts(o, "event: error\ndata: ");
  if (!rc) rc = put_error_body(o, stream_error_type(status, type), msg, NULL);
  if (!rc) rc = sl_buf_puts(o, "\n\n");
  return rc;
}

static int an_complete(sl_buf_t *o, sl_resp_t *r, const char *text, size_t n,
                       const sl_tool_acc_t *tools, size_t n_tools, const sl_result_t *res) {
  int rc = sl_buf_puts(o, "{\"id\":");
  if (!rc) rc = sl_buf_json_cstr(o, r->id);
  if (!rc) rc = sl_buf_puts(o, ",\"type\":\"message\",\"role\":\"assistant\",\"model\":");
  if (!rc) rc = sl_buf_json_cstr(o, r->model);
  if (!rc) rc = sl_buf_puts(o, ",\"content\":[");
  const char *sep = "";
  if (!rc && n) { /* no text: no block (as Anthropic answers; an empty one is refused in history) */
    rc = sl_buf_puts(o, "{\"type\":\"text\",\"text\":");
    if (!rc) rc = sl_buf_json_str(o, text ? text : "", n);
    if (!rc) rc = sl_buf_puts(o, "}");
    sep = ",";
  }
  if (!rc && r->refusal) { /* a refusal is text to an Anthropic client */
    rc = sl_buf_printf(o, "%s{\"type\":\"text\",\"text\":", sep);
    if (!rc) rc = sl_buf_json_str(o, r->refusal, r->refusal_len);
    if (!rc) rc = sl_buf_puts(o, "}");
    sep = ",";
  }
  for (size_t i = 0; i < n_tools && !rc; i++) {
    rc = sl_buf_printf(o, "%s{\"type\":\"tool_use\",\"id\":", sep);
    if (!rc) rc = put_tool_id(o, r, tools[i].id, (int)i);
    if (!rc) rc = sl_buf_puts(o, ",\"name\":");
    if (!rc) rc = sl_buf_json_cstr(o, tools[i].name);
    if (!rc) rc = sl_buf_puts(o, ",\"input\":");
    if (!rc) rc = put_input(o, tools[i].args.data ? tools[i].args.data : "", tools[i].args.len);
    if (!rc) rc = sl_buf_puts(o, "}");
    sep = ",";
  }
  if (!rc) rc = sl_buf_puts(o, "],\"stop_reason\":");
  if (!rc) rc = sl_buf_json_cstr(o, stop_reason(r, res, n_tools > 0));
  if (!rc) rc = sl_buf_puts(o, ",\"stop_sequence\":");
  if (!rc) rc = res->stop_sequence ? sl_buf_json_cstr(o, res->stop_sequence) : sl_buf_puts(o, "null");
  if (!rc) rc = sl_buf_puts(o, ",");
  if (!rc) rc = put_usage(o, res);
  if (!rc) rc = sl_buf_puts(o, "}");
  return rc;
}

static int an_error(sl_buf_t *o, int status, const char *type, const char *code, const char *param,
                    const char *msg) {
  (void)param; /* Anthropic's error objects have none */
  bool thread = code && !strcmp(code, "thread_unsupported_request");
  return put_error_body(o, sl_anthropic_error_type(status), msg,
                        thread ? "{\"error_code\":\"thread_unsupported_request\",\"unsupported\":[\"thread\"]}"
                               : NULL);
}

const sl_dialect_ops_t sl_dialect_anthropic = {
    .name = "anthropic",
    .id_prefix = "msg_",
    .tools_one_by_one = true,
    .decode = sl_anthropic_decode_request,
    .stream_start = an_stream_start,
    .stream_text = an_stream_text,
    .stream_refusal = an_stream_text, /* text to an Anthropic client; stop_reason "refusal" */
    .stream_tool = an_stream_tool,
    .tool_input = put_input, /* the same object a whole answer's block gets */
    .stream_end = an_stream_end,
    .stream_error = an_stream_error,
    .complete = an_complete,
    .error = an_error};
