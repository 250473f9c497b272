/* Backend kind `openai`: any OpenAI-compatible Chat Completions server (OpenAI,
 * vLLM, llama.cpp server, Ollama). Encodes the internal request, relays the
 * answer — SSE deltas as they arrive, or one JSON body — as callbacks. */
#include "backend_int.h"
#include "sl_err.h"
#include "sl_log.h"
#include "sl_stop.h"
#include "sl_str.h"
#include "sse.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


/* api.openai.com refuses more than four stop strings with a 400; the others are
 * applied here (clients of both dialects may send up to 16). */
#define UPSTREAM_MAX_STOP 4

typedef struct {
  sl_call_t base;
  sl_hc_req_t *hr;
  char url[1200];
  char auth[600];
  bool stream, saw_done, fresh_connect;
  bool end_armed; /* the finish_reason came: the rest (usage, [DONE]) is waited for briefly */
  sl__surr_t surr; /* a surrogate pair's half across events */
  sl__upstream_t up;   /* status, JSON/error body or SSE stream */
  sl_result_t res;
  char finish[32];
  char model[SL_CHAT_MAX_MODEL + 1]; /* what the upstream said it ran */
  size_t out_bytes;    /* text + tool bytes delivered (for the token estimate) */
  /* streamed tool calls: the last one's index and id, and the number of calls,
   * for deltas without an index (Gemini's endpoint sends none) */
  int tool_last, n_tools;
  char tool_id[128];
  bool tool_named[SL_MAX_TOOL_CALLS]; /* calls (by dense index) whose id reached the client */
  int seen[SL_MAX_TOOL_CALLS]; /* the upstream's call indices, in order of appearance */
  int n_seen;
  sl_stopper_t lstop;  /* the stop strings past UPSTREAM_MAX_STOP, applied here */
} oa_call_t;

/* ---- encoding ---- */

/* Written straight into the call's body: no JSON tree, no copies of the
 * message texts. The JSON-valued fields (tool calls, tools, tool_choice,
 * response_format) hold JSON text printed by the dialect decoders. */
static int put_key(sl_buf_t *o, const char *key) {
  int rc = sl_buf_puts(o, ",\"");
  if (!rc) rc = sl_buf_puts(o, key);
  return rc ? rc : sl_buf_puts(o, "\":");
}

static int put_str(sl_buf_t *o, const char *key, const char *v) {
  int rc = put_key(o, key);
  return rc ? rc : sl_buf_json_cstr(o, v);
}

static int put_num(sl_buf_t *o, const char *key, double v) {
  int rc = put_key(o, key);
  return rc ? rc : sl_buf_json_num(o, v);
}

/* A field that holds JSON text: checked (redaction rewrites tool calls as
 * text), and left out, as before, if it does not parse. Rare: tools only. */
static int put_raw(sl_buf_t *o, const char *key, const char *json) {
  cJSON *v = cJSON_Parse(json);
  if (!v) return 0;
  cJSON_Delete(v);
  int rc = put_key(o, key);
  return rc ? rc : sl_buf_puts(o, json);
}

static int add_msgs(sl_buf_t *o, const sl_chat_req_t *r) {
  int rc = sl_buf_puts(o, ",\"messages\":[");
  for (size_t i = 0; i < r->n_msgs && !rc; i++) {
    const sl_msg_t *m = &r->msgs[i];
    rc = sl_buf_puts(o, i ? ",{\"role\":" : "{\"role\":");
    if (!rc) rc = sl_buf_json_cstr(o, m->role);
    /* a failed tool's result says so in its text: the API has no flag for it */
    if (!rc && m->is_error) {
      rc = put_key(o, "content");
      if (!rc) rc = sl_buf_puts(o, "\"Error: ");
      if (!rc) rc = sl_buf_json_chars(o, m->content, strlen(m->content));
      if (!rc) rc = sl_buf_puts(o, "\"");
    } else if (!rc) {
      rc = m->tool_calls && !m->content[0] ? sl_buf_puts(o, ",\"content\":null")
                                           : put_str(o, "content", m->content);
    }
    if (!rc && m->name) rc = put_str(o, "name", m->name);
    if (!rc && m->tool_call_id) rc = put_str(o, "tool_call_id", m->tool_call_id);
    if (!rc && m->tool_calls) rc = put_raw(o, "tool_calls", m->tool_calls);
    if (!rc) rc = sl_buf_puts(o, "}");
  }
  return rc ? rc : sl_buf_puts(o, "]");
}

static int encode(const sl_call_opts_t *o, const sl_backend_cfg_t *cfg, bool stream,
                  sl_buf_t *out) {
  const sl_chat_req_t *r = o->req;
  const char *model = o->model ? o->model : cfg->default_model ? cfg->default_model : r->model;
  int rc = sl_buf_puts(out, "{\"model\":");
  if (!rc) rc = sl_buf_json_cstr(out, model ? model : "");
  if (!rc) rc = add_msgs(out, r);
  bool completion = cfg->max_tokens_param ? cfg->max_tokens_param == 2 : r->max_completion;
  if (!rc && r->max_tokens >= 0)
    rc = put_num(out, completion ? "max_completion_tokens" : "max_tokens", r->max_tokens);
  if (!rc && r->temperature >= 0) rc = put_num(out, "temperature", r->temperature);
  if (!rc && r->top_p >= 0) rc = put_num(out, "top_p", r->top_p);
  if (!rc && r->presence_penalty) rc = put_num(out, "presence_penalty", r->presence_penalty);
  if (!rc && r->frequency_penalty) rc = put_num(out, "frequency_penalty", r->frequency_penalty);
  /* vLLM's, llama.cpp's and Ollama's sampling members: sent when an OpenAI
   * client set them (an Anthropic client's top_k is a Messages API member that
   * api.openai.com refuses with a 400, which no route moves on from) */
  if (!rc && r->top_k >= 0 && r->dialect == SL_DIALECT_OPENAI) rc = put_num(out, "top_k", r->top_k);
  if (!rc && r->min_p >= 0) rc = put_num(out, "min_p", r->min_p);
  if (!rc && r->repetition_penalty != 1) rc = put_num(out, "repetition_penalty", r->repetition_penalty);
  /* a signed 64-bit integer, as the client wrote it (-1 stays -1) */
  if (!rc && r->has_seed) rc = sl_buf_printf(out, ",\"seed\":%lld", (long long)(int64_t)r->seed);
  if (!rc && r->n_stop) {
    rc = sl_buf_puts(out, ",\"stop\":[");
    for (size_t i = 0; i < r->n_stop && i < UPSTREAM_MAX_STOP && !rc; i++) {
      if (i) rc = sl_buf_puts(out, ",");
      if (!rc) rc = sl_buf_json_cstr(out, r->stop[i]);
    }
    if (!rc) rc = sl_buf_puts(out, "]");
  }
  if (!rc && r->logprobs) {
    rc = sl_buf_puts(out, ",\"logprobs\":true");
    if (!rc && r->top_logprobs > 0) rc = put_num(out, "top_logprobs", r->top_logprobs);
  }
  if (!rc && r->tools) rc = put_raw(out, "tools", r->tools);
  if (!rc && r->tool_choice) rc = put_raw(out, "tool_choice", r->tool_choice);
  if (!rc && r->response_format) rc = put_raw(out, "response_format", r->response_format);
  if (!rc && r->user) rc = put_str(out, "user", r->user);
  /* an Anthropic client's disable_parallel_tool_use (an OpenAI client's own
   * parallel_tool_calls is in the passthrough; the API refuses it without tools) */
  if (!rc && r->one_tool_call && r->tools && r->dialect != SL_DIALECT_OPENAI)
    rc = sl_buf_puts(out, ",\"parallel_tool_calls\":false");
  if (!rc && r->passthrough) rc = sl_buf_puts(out, ",");
  if (!rc && r->passthrough) rc = sl_buf_puts(out, r->passthrough);
  /* Always ask for usage when streaming: streamed spend must never be recorded as zero. */
  if (!rc) rc = sl_buf_puts(out, stream ? ",\"stream\":true,\"stream_options\":{\"include_usage\":true}}"
                                        : ",\"stream\":false}");
  return rc;
}

/* ---- decoding ---- */

static void set_finish(oa_call_t *c, const cJSON *fr) {
  if (cJSON_IsString(fr) && !sl_stopper_cut(&c->lstop)) snprintf(c->finish, sizeof c->finish, "%s", fr->valuestring);
}

static void take_usage(oa_call_t *c, const cJSON *u) {
  if (!cJSON_IsObject(u)) return;
  const cJSON *pt = cJSON_GetObjectItemCaseSensitive(u, "prompt_tokens");
  const cJSON *ct = cJSON_GetObjectItemCaseSensitive(u, "completion_tokens");
  int p, k;
  if (sl__usage_count(pt, &p) && sl__usage_count(ct, &k)) {
    c->res.prompt_tokens = p;
    c->res.completion_tokens = k;
    c->res.usage_reported = true;
  } else if (pt || ct) {
    SL_WARN("upstream usage not believed (counts must be whole numbers from 0 to %d); estimated",
            SL_MAX_USAGE_TOKENS);
  }
  const cJSON *d = cJSON_GetObjectItemCaseSensitive(u, "prompt_tokens_details");
  const cJSON *cached = d ? cJSON_GetObjectItemCaseSensitive(d, "cached_tokens") : NULL;
  if (sl__usage_count(cached, &k) && c->res.usage_reported && k <= c->res.prompt_tokens) {
    c->res.cache_read_tokens = k;
    c->res.cache_reported = true;
  }
  d = cJSON_GetObjectItemCaseSensitive(u, "completion_tokens_details");
  const cJSON *reasoning = d ? cJSON_GetObjectItemCaseSensitive(d, "reasoning_tokens") : NULL;
  if (sl__usage_count(reasoning, &k) && c->res.usage_reported && k <= c->res.completion_tokens) {
    c->res.reasoning_tokens = k;
    c->res.reasoning_reported = true;
  }
}

static void deliver(void *ud, const char *s, size_t n) {
  oa_call_t *c = ud;
  c->base.started = true;
  c->out_bytes += n;
  if (!c->base.abandoned && c->base.cbs.on_text(c->base.data, s, n)) c->base.abandoned = true;
}

/* The answer's text, through the stop strings applied here. At the first one
 * the answer ends as at one of the upstream's: what came before it is
 * delivered, nothing after it (text, tool calls, logprobs), and a stream is
 * ended without waiting for the rest (its usage is then sluice's estimate). */
static void emit_text(oa_call_t *c, const char *s, size_t n) {
  if (!n || sl_stopper_cut(&c->lstop)) return;
  if (sl_stopper_feed(&c->lstop, s, n, deliver, c)) {
    sl__call_fail(&c->base, SL_ENOMEM, 500, false, "server_error", "out of memory");
    return;
  }
  if (!sl_stopper_cut(&c->lstop)) return;
  snprintf(c->finish, sizeof c->finish, "stop");
  if (c->up.streaming) {
    c->saw_done = true;
    if (c->hr) sl_hc_expect_end(c->hr, 0);
  }
}

/* message.refusal / delta.refusal: the model declined, in words. */
static void emit_refusal(oa_call_t *c, const cJSON *v) {
  if (!cJSON_IsString(v) || !v->valuestring[0] || sl_stopper_cut(&c->lstop)) return;
  size_t n = strlen(v->valuestring);
  if (!c->base.cbs.on_refusal) {
    emit_text(c, v->valuestring, n);
    return;
  }
  c->base.started = true;
  c->out_bytes += n;
  if (!c->base.abandoned && c->base.cbs.on_refusal(c->base.data, v->valuestring, n))
    c->base.abandoned = true;
}

/* message / delta reasoning_content (vLLM, DeepSeek, llama.cpp's server) or
 * reasoning (Ollama, newer vLLM; some send both, with the same text): the
 * model's thinking before its answer. Counted as output either way. */
static void emit_reasoning_text(oa_call_t *c, const char *s) {
  size_t n = strlen(s);
  if (!n || sl_stopper_cut(&c->lstop)) return;
  c->out_bytes += n;
  if (!c->base.cbs.on_reasoning) return;
  c->base.started = true;
  if (!c->base.abandoned && c->base.cbs.on_reasoning(c->base.data, s, n)) c->base.abandoned = true;
}

static void emit_reasoning(oa_call_t *c, const cJSON *o) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "reasoning_content");
  if (!cJSON_IsString(v) || !v->valuestring[0]) v = cJSON_GetObjectItemCaseSensitive(o, "reasoning");
  if (cJSON_IsString(v)) emit_reasoning_text(c, v->valuestring);
}

/* One token of an upstream's logprobs: "bytes" when given (exact), else the
 * token string. */
static size_t lp_bytes(const cJSON *e, char *out, size_t cap, const char **tok) {
  const cJSON *b = cJSON_GetObjectItemCaseSensitive(e, "bytes");
  if (cJSON_IsArray(b)) {
    size_t n = 0;
    for (const cJSON *x = b->child; x && n < cap; x = x->next)
      if (cJSON_IsNumber(x)) out[n++] = (char)(unsigned char)x->valueint;
    *tok = out;
    return n;
  }
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(e, "token");
  *tok = cJSON_IsString(t) ? t->valuestring : "";
  return strlen(*tok);
}

/* choices[0].logprobs.content, relayed entry by entry before the text they
 * belong to (only asked for when the client asked: on_logprobs is set). */
static void emit_logprobs(oa_call_t *c, const cJSON *lp) {
  const cJSON *content = lp ? cJSON_GetObjectItemCaseSensitive(lp, "content") : NULL;
  if (!c->base.cbs.on_logprobs || !cJSON_IsArray(content) || sl_stopper_cut(&c->lstop)) return;
  char bytes[1 + SL_MAX_TOP_LOGPROBS][256];
  for (const cJSON *e = content->child; e && !c->base.abandoned; e = e->next) {
    sl_token_logprob_t t = {0};
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, "logprob");
    t.logprob = cJSON_IsNumber(v) ? v->valuedouble : 0.0;
    t.len = lp_bytes(e, bytes[0], sizeof bytes[0], &t.token);
    const cJSON *tops = cJSON_GetObjectItemCaseSensitive(e, "top_logprobs");
    for (const cJSON *a = cJSON_IsArray(tops) ? tops->child : NULL;
         a && t.n_top < SL_MAX_TOP_LOGPROBS; a = a->next) {
      sl_logprob_alt_t *alt = &t.top[t.n_top];
      const cJSON *av = cJSON_GetObjectItemCaseSensitive(a, "logprob");
      alt->logprob = cJSON_IsNumber(av) ? av->valuedouble : 0.0;
      alt->len = lp_bytes(a, bytes[1 + t.n_top], sizeof bytes[0], &alt->token);
      t.n_top++;
    }
    if (c->base.cbs.on_logprobs(c->base.data, &t, 1)) c->base.abandoned = true;
  }
}

/* The index of a streamed tool-call delta: its own, or, without one, the last
 * call's, unless the delta names another id (a new call). */
static int delta_index(oa_call_t *c, const cJSON *idx, const cJSON *id) {
  int i;
  if (cJSON_IsNumber(idx)) i = idx->valueint;
  else if (c->n_tools && (!cJSON_IsString(id) || !strcmp(id->valuestring, c->tool_id))) i = c->tool_last;
  else i = c->n_tools;
  if (i >= 0 && i < 1 << 20 && i >= c->n_tools) c->n_tools = i + 1;
  if (cJSON_IsString(id) && (i != c->tool_last || !c->tool_id[0]))
    snprintf(c->tool_id, sizeof c->tool_id, "%s", id->valuestring);
  c->tool_last = i;
  return i;
}

/* The upstream's index of a call (any number: 2000000000, -1, 5 before 0) as
 * the client's: 0, 1, 2 ... in the order the calls first appear, so that no
 * empty calls fill a gap. -1 past SL_MAX_TOOL_CALLS different calls. */
static int dense_index(oa_call_t *c, int upstream) {
  for (int k = 0; k < c->n_seen; k++)
    if (c->seen[k] == upstream) return k;
  if (c->n_seen == SL_MAX_TOOL_CALLS) return -1;
  c->seen[c->n_seen] = upstream;
  return c->n_seen++;
}

/* Tool calls of a whole message (index: the position), or of a stream delta. */
static void emit_tool_calls(oa_call_t *c, const cJSON *tcs, bool delta) {
  if (!tcs || sl_stopper_cut(&c->lstop)) return;
  sl_stopper_flush(&c->lstop, deliver, c); /* text held for a stop string goes before the call */
  int i = 0;
  for (const cJSON *tc = tcs ? tcs->child : NULL; tc; tc = tc->next, i++) {
    const cJSON *idx = cJSON_GetObjectItemCaseSensitive(tc, "index");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(tc, "id");
    int index = dense_index(c, delta ? delta_index(c, idx, id) : cJSON_IsNumber(idx) ? idx->valueint : i);
    if (index < 0) { /* past SL_MAX_TOOL_CALLS different calls */
      sl__call_fail(&c->base, SL_EUPSTREAM, 502, true, "upstream_error", SL_TOO_MANY_TOOL_CALLS);
      return;
    }
    const cJSON *fn = cJSON_GetObjectItemCaseSensitive(tc, "function");
    const cJSON *name = fn ? cJSON_GetObjectItemCaseSensitive(fn, "name") : NULL;
    const cJSON *args = fn ? cJSON_GetObjectItemCaseSensitive(fn, "arguments") : NULL;
    /* arguments given as a JSON value, not as its text (some OpenAI-compatible
     * servers do): its text, not nothing */
    char *printed = args && !cJSON_IsString(args) && !cJSON_IsNull(args) ? cJSON_PrintUnformatted(args) : NULL;
    const char *a = printed ? printed : cJSON_IsString(args) ? args->valuestring : "";
    /* A call must have an id (clients send it back with the result; the
     * OpenAI SDK's stream helpers want it and its type on the first delta):
     * one of sluice's own when the upstream named none. */
    const char *ids = cJSON_IsString(id) && id->valuestring[0] ? id->valuestring : NULL;
    char made[48];
    bool first = !c->tool_named[index];
    if (first && !(cJSON_IsString(name) && name->valuestring[0])) {
      /* a call's first piece names its function: without it, a piece of no
       * call (an index the upstream never opened) or a broken one; relayed, the
       * client would be asked to run a function named "" */
      cJSON_free(printed);
      sl__call_fail(&c->base, SL_EUPSTREAM, 502, true, "upstream_error",
                    "upstream sent a tool call without a function name");
      return;
    }
    if (!ids && first) {
      static _Atomic uint64_t seq;
      snprintf(made, sizeof made, "call_sl%08llx%04x%02x", (unsigned long long)time(NULL) & 0xffffffffull,
               (unsigned)(++seq & 0xffff), (unsigned)index & 0xff);
      ids = made;
    }
    c->tool_named[index] = true;
    c->base.started = true;
    c->out_bytes += strlen(a);
    if (!c->base.abandoned && c->base.cbs.on_tool_call &&
        c->base.cbs.on_tool_call(c->base.data, index, ids,
                               cJSON_IsString(name) ? name->valuestring : NULL, a, strlen(a)))
      c->base.abandoned = true;
    cJSON_free(printed);
  }
}

/* o's key, when there, is a string or null: an answer with "content": 42 is
 * broken, and relaying it as an empty answer would hide that. */
static bool wire_text(const cJSON *o, const char *key) {
  const cJSON *v = o ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
  if (cJSON_IsArray(v)) /* parts (Mistral's): objects with a type */
    for (const cJSON *p = v->child; p; p = p->next)
      if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(p, "type"))) return false;
  return !v || cJSON_IsString(v) || cJSON_IsNull(v) || cJSON_IsArray(v);
}

/* content as a string, or as parts (Mistral's Magistral answers with
 * [{"type": "thinking", "thinking": [{"type": "text", "text": …}]},
 * {"type": "text", "text": …}]): text parts are the answer, thinking parts
 * its reasoning; other parts carry no text. */
static void emit_content(oa_call_t *c, const cJSON *v) {
  if (cJSON_IsString(v)) emit_text(c, v->valuestring, strlen(v->valuestring));
  for (const cJSON *p = cJSON_IsArray(v) ? v->child : NULL; p; p = p->next) {
    const cJSON *ty = cJSON_GetObjectItemCaseSensitive(p, "type");
    const char *t = cJSON_IsString(ty) ? ty->valuestring : ""; /* (wire_text checked) */
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(p, "text");
    const cJSON *th = cJSON_GetObjectItemCaseSensitive(p, "thinking");
    if (!strcmp(t, "text") && cJSON_IsString(x)) emit_text(c, x->valuestring, strlen(x->valuestring));
    if (strcmp(t, "thinking")) continue;
    if (cJSON_IsString(th)) emit_reasoning_text(c, th->valuestring);
    for (const cJSON *q = cJSON_IsArray(th) ? th->child : NULL; q; q = q->next)
      if (cJSON_IsString(x = cJSON_GetObjectItemCaseSensitive(q, "text"))) emit_reasoning_text(c, x->valuestring);
  }
}

/* The HTTP status an error sent inside a stream (answered 200) stands for: its
 * numeric code when it has one (vLLM and others send {"code": 429}), else what
 * its code or type names; 502 when it says nothing known. A rate limit then
 * reaches the client as a 429 and an overloaded upstream fails over. */
static int stream_error_status(const cJSON *err) {
  const cJSON *code = cJSON_GetObjectItemCaseSensitive(err, "code");
  if (cJSON_IsNumber(code) && code->valuedouble >= 400 && code->valuedouble < 600) return code->valueint;
  static const struct {
    const char *word;
    int status;
  } map[] = {{"rate_limit", 429}, {"insufficient_quota", 429}, {"overloaded", 503}, {"unavailable", 503},
             {"timeout", 504},    {"invalid_request", 400},    {"context_length", 400}, {"auth", 401},
             {"invalid_api_key", 401}, {"permission", 403}, {"not_found", 404}, {"server_error", 500}};
  const cJSON *type = cJSON_GetObjectItemCaseSensitive(err, "type");
  const char *words[2] = {cJSON_IsString(code) ? code->valuestring : NULL,
                          cJSON_IsString(type) ? type->valuestring : NULL};
  for (int w = 0; w < 2; w++)
    for (size_t i = 0; words[w] && i < sizeof map / sizeof *map; i++)
      if (strstr(words[w], map[i].word)) return map[i].status;
  return 502;
}

/* An error object where an answer was due (an event of the stream, or a 200
 * body, as OpenRouter sends them): the call fails with the upstream's reason,
 * at the status its code names. Frees j. */
static void fail_with_error(oa_call_t *c, cJSON *j) {
  sl_call_error_t e = {0};
  char *s = cJSON_PrintUnformatted(j);
  sl__upstream_error(&e, 0, s ? s : "", s ? strlen(s) : 0);
  free(s);
  int status = stream_error_status(cJSON_GetObjectItemCaseSensitive(j, "error"));
  cJSON_Delete(j);
  sl__call_fail(&c->base, SL_EUPSTREAM, status, sl__upstream_retryable(status), e.type, e.message);
}

static int on_event(void *data, const char *event, const char *p, size_t n) {
  oa_call_t *c = data;
  if (c->saw_done) return 0; /* nothing follows the end: whatever does is not relayed */
  if (n == 6 && !memcmp(p, "[DONE]", 6)) {
    c->saw_done = true;
    sl_hc_expect_end(c->hr, SL_STREAM_END_GRACE_MS);
    return 0;
  }
  size_t jn = 0;
  char *joined = sl__surrogates_join(&c->surr, p, n, &jn);
  cJSON *j = joined ? sl__parse_json(joined, jn, false) : sl__parse_json(p, n, false);
  free(joined);
  if (!j) return sl__call_bad_event(&c->base, p, n);
  if (cJSON_GetObjectItemCaseSensitive(j, "error")) {
    fail_with_error(c, j);
    return 1;
  }
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "model");
  if (cJSON_IsString(m)) snprintf(c->model, sizeof c->model, "%s", m->valuestring);
  sl__call_note_meta(&c->base, j);
  const cJSON *ch = cJSON_GetObjectItemCaseSensitive(j, "choices");
  /* the first choice's deltas only (sluice asks for one: another choice's
   * text must not be appended to it) */
  const cJSON *c0 = NULL;
  for (const cJSON *x = cJSON_IsArray(ch) ? ch->child : NULL; x && !c0; x = x->next) {
    const cJSON *ix = cJSON_GetObjectItemCaseSensitive(x, "index");
    if (!ix || (cJSON_IsNumber(ix) && ix->valuedouble == 0)) c0 = x;
  }
  const cJSON *d = c0 ? cJSON_GetObjectItemCaseSensitive(c0, "delta") : NULL;
  if ((ch && !cJSON_IsArray(ch) && !cJSON_IsNull(ch)) || !wire_text(d, "content")) {
    cJSON_Delete(j); /* not the chunk shape: a broken answer, not an empty one */
    sl__call_fail(&c->base, SL_EUPSTREAM, 502, true, "upstream_error",
                  "upstream sent a stream chunk of the wrong shape (choices or content)");
    return 1;
  }
  if (c0) {
    const cJSON *ct = d ? cJSON_GetObjectItemCaseSensitive(d, "content") : NULL;
    if (d) emit_reasoning(c, d);
    emit_logprobs(c, cJSON_GetObjectItemCaseSensitive(c0, "logprobs"));
    emit_content(c, ct);
    if (d) emit_refusal(c, cJSON_GetObjectItemCaseSensitive(d, "refusal"));
    if (d) emit_tool_calls(c, cJSON_GetObjectItemCaseSensitive(d, "tool_calls"), true);
    set_finish(c, cJSON_GetObjectItemCaseSensitive(c0, "finish_reason"));
    /* the answer is over: an upstream that keeps the stream open without its
     * [DONE] does not hold the client's last event until the idle timeout */
    if (c->finish[0] && !c->end_armed && !c->saw_done) { /* (a stop string cut it: ending now) */
      c->end_armed = true;
      sl_hc_expect_end(c->hr, SL_STREAM_END_GRACE_MS);
    }
  }
  take_usage(c, cJSON_GetObjectItemCaseSensitive(j, "usage"));
  cJSON_Delete(j);
  return c->base.failed || c->base.abandoned;
}

static int on_response(void *data, int status, const char *ctype, long retry_after_ms,
                       bool no_retry) {
  oa_call_t *c = data;
  c->base.answering = status >= 200 && status < 300;
  return sl__upstream_response(&c->up, status, ctype, retry_after_ms, no_retry);
}

static int on_data(void *data, const char *p, size_t n) {
  oa_call_t *c = data;
  return sl__upstream_data(&c->up, &c->base, p, n);
}

static void finish_json(oa_call_t *c) {
  cJSON *j = sl__parse_json(c->up.body.data ? c->up.body.data : "", c->up.body.len, false);
  const cJSON *ch = j ? cJSON_GetObjectItemCaseSensitive(j, "choices") : NULL;
  const cJSON *c0 = cJSON_IsArray(ch) ? ch->child : NULL;
  const cJSON *msg = c0 ? cJSON_GetObjectItemCaseSensitive(c0, "message") : NULL;
  sl__call_note_meta(&c->base, j);
  if (!ch && cJSON_GetObjectItemCaseSensitive(j, "error")) {
    fail_with_error(c, j);
    return;
  }
  if (!cJSON_IsObject(msg) || !wire_text(msg, "content")) {
    cJSON_Delete(j);
    sl__call_fail(&c->base, SL_EUPSTREAM, 502, true, "upstream_error",
                  c->up.body.len ? "upstream answered with a malformed chat completion"
                                 : "upstream answered with no body (it closed before one, or sent none)");
    return;
  }
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "model");
  if (cJSON_IsString(m)) snprintf(c->model, sizeof c->model, "%s", m->valuestring);
  const cJSON *ct = cJSON_GetObjectItemCaseSensitive(msg, "content");
  emit_reasoning(c, msg);
  emit_logprobs(c, cJSON_GetObjectItemCaseSensitive(c0, "logprobs"));
  emit_content(c, ct);
  emit_refusal(c, cJSON_GetObjectItemCaseSensitive(msg, "refusal"));
  emit_tool_calls(c, cJSON_GetObjectItemCaseSensitive(msg, "tool_calls"), false);
  set_finish(c, cJSON_GetObjectItemCaseSensitive(c0, "finish_reason"));
  take_usage(c, cJSON_GetObjectItemCaseSensitive(j, "usage"));
  cJSON_Delete(j);
}

/* What the call used: the upstream's usage, else an estimate (about 4 bytes a
 * token) from the request body and the answer so far. */
static void oa_usage(const sl_call_t *base, sl_result_t *out) {
  const oa_call_t *c = (const oa_call_t *)base;
  bool rep = c->res.usage_reported;
  out->prompt_tokens = rep ? c->res.prompt_tokens : c->base.prompt_estimate;
  out->completion_tokens = rep ? c->res.completion_tokens : (int)((c->out_bytes + 3) / 4);
}

static void call_free(oa_call_t *c) {
  sl_stopper_free(&c->lstop);
  sl__upstream_free(&c->up);
  sl_buf_free(&c->base.body);
  free(c);
}

static void on_done(void *data, int err, int status, const char *msg) {
  oa_call_t *c = data;
  c->base.unsent = err && c->hr && sl_hc_sent_nothing(c->hr);
  c->hr = NULL;
  if (c->base.failed || c->base.abandoned) goto out;
  if (err && c->up.streaming && c->finish[0] && c->base.started) {
    /* cut after the answer's finish_reason (before its usage or [DONE]): the
     * answer is whole; what was cut is not read */
    SL_WARN("upstream stream cut after its finish_reason (%s); the answer is complete", msg ? msg : "");
  } else if (sl__call_transfer_failed(&c->base, &c->up, err, status, msg, sl__upstream_error)) {
    goto out;
  } else if (c->up.streaming) {
    sl_sse_feed(&c->up.sse, "\n\n", 2); /* flush an unterminated last event */
    if (c->base.failed || c->base.abandoned) goto out;
    /* an answer is whole once the upstream said it was over: [DONE] alone (or
     * the body's end) after no finish_reason may be a cut answer */
    if (!c->finish[0]) {
      sl__call_fail(&c->base, SL_EUPSTREAM, 502, true, "upstream_error",
                    c->saw_done ? "upstream stream ended without a finish_reason"
                                : "upstream stream ended before it was complete");
      goto out;
    }
  } else {
    finish_json(c);
    if (c->base.failed || c->base.abandoned) goto out;
  }
  /* No usage from upstream: estimate (about 4 bytes a token) rather than record
   * zero. Nor a usage of zero for a prompt (there always is one) or for an
   * answer that has text: a proxy that fills usage with zeros (a free answer
   * would dodge budgets and costs). */
  if (c->res.usage_reported &&
      (!c->res.prompt_tokens || (!c->res.completion_tokens && c->out_bytes))) {
    SL_WARN("upstream usage of %d prompt and %d answer tokens not believed; estimated",
            c->res.prompt_tokens, c->res.completion_tokens);
    c->res.usage_reported = false;
  }
  sl_stopper_flush(&c->lstop, deliver, c); /* held for a stop string that did not come */
  if (c->base.failed || c->base.abandoned) goto out;
  if (!c->res.usage_reported) oa_usage(&c->base, &c->res);
  c->res.finish_reason = c->finish[0] ? c->finish : "stop";
  if (sl_stopper_cut(&c->lstop)) c->res.stop_sequence = c->lstop.stop[c->lstop.hit];
  c->res.model = c->model[0] ? c->model : NULL;
  c->base.cbs.on_done(c->base.data, &c->res);
out:
  call_free(c);
}

/* ---- ops ---- */

static int take_local_stops(oa_call_t *c, const sl_chat_req_t *r) {
  int rc = 0;
  for (size_t i = UPSTREAM_MAX_STOP; i < r->n_stop && !rc; i++) rc = sl_stopper_add(&c->lstop, r->stop[i]);
  return rc;
}

static int oa_prepare(sl_backends_t *b, const sl_backend_cfg_t *cfg, const sl_call_opts_t *o,
                      const sl_call_cbs_t *cbs, void *data, sl_call_t **out) {
  oa_call_t *c = calloc(1, sizeof *c);
  if (!c) return SL_ENOMEM;
  c->stream = o->stream;
  sl_buf_init(&c->base.body, 64u << 20);
  sl__upstream_init(&c->up, on_event, c);
  c->up.want_stream = o->stream;
  c->fresh_connect = o->fresh_connect;
  sl_stopper_init(&c->lstop);
  /* the messages' text and room for the rest: one allocation, usually */
  int rc = sl_buf_reserve(&c->base.body, sl_chat_messages_len(o->req) * 9 / 8 + 512);
  if (!rc) rc = take_local_stops(c, o->req);
  c->base.prompt_estimate = sl_chat_estimate_prompt_tokens(o->req);
  if (!rc) rc = encode(o, cfg, o->stream, &c->base.body);
  if (rc) {
    call_free(c);
    return rc;
  }
  sl__api_url(c->url, sizeof c->url, cfg->base_url, NULL, "/chat/completions");
  sl__url_destination(c->url, c->base.destination, sizeof c->base.destination);
  *out = &c->base;
  return 0;
}

static int oa_start(sl_call_t *base) {
  oa_call_t *c = (oa_call_t *)base;
  const sl_backend_cfg_t *cfg = base->cfg;
  const char *key = cfg->api_key_env ? getenv(cfg->api_key_env) : NULL;
  const char *hdrs[5];
  int n = 0;
  hdrs[n++] = "Content-Type: application/json";
  hdrs[n++] = c->stream ? "Accept: text/event-stream" : "Accept: application/json";
  if (key && *key) {
    sl_cat(c->auth, sizeof c->auth, "Authorization: Bearer ", key, (char *)NULL);
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

static void oa_cancel(sl_call_t *base) {
  oa_call_t *c = (oa_call_t *)base;
  if (c->hr) sl_hc_cancel(c->hr);
  call_free(c);
}

static void oa_pause(sl_call_t *base, bool pause) {
  oa_call_t *c = (oa_call_t *)base;
  if (c->hr) sl_hc_pause(c->hr, pause);
}


const sl_backend_ops_t sl__openai_ops = {"openai", oa_prepare, oa_start, oa_cancel, oa_pause,
                                         oa_usage};
