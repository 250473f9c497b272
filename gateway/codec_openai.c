/* OpenAI dialect codec. Decoding is strict about types (a wrong type is a 400
 * naming the field) and lenient about fields it does not use. */
#include "codec_openai.h"
#include "codec_json.h"
#include "sl_err.h"
#include "sl_json.h"
#include "sl_str.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MESSAGES 4096
#define MAX_STOP 16

static char *dup_json(const cJSON *v) { return sl_json_print(v); }

/* An assistant turn's tool calls, each call's arguments (JSON text in a string)
 * re-printed when they parse: a client that wrote them with \u escapes
 * (Python's json.dumps does, for every non-ASCII letter) would otherwise hide
 * "Zoë" as "Zo\u00eb" from the classifier and from redaction, and the escaped
 * value would go out where the policy replaces it. */
static char *dup_tool_calls(const cJSON *calls) {
  cJSON *c = cJSON_Duplicate(calls, true);
  if (!c) return NULL;
  for (cJSON *tc = c->child; tc; tc = tc->next) {
    cJSON *fn = cJSON_GetObjectItemCaseSensitive(tc, "function");
    cJSON *args = cJSON_GetObjectItemCaseSensitive(fn, "arguments");
    if (!cJSON_IsString(args) || !strchr(args->valuestring, '\\')) continue;
    /* a lone surrogate (JSON.stringify writes one) is U+FFFD, not arguments
     * that no longer parse */
    sl_json_mend_surrogates(args->valuestring, strlen(args->valuestring));
    cJSON *parsed = sl_json_parse(args->valuestring, strlen(args->valuestring));
    char *plain = sl_json_print(parsed);
    cJSON_Delete(parsed);
    if (plain && !cJSON_ReplaceItemInObjectCaseSensitive(fn, "arguments", cJSON_CreateString(plain))) {
      free(plain);
      cJSON_Delete(c);
      return NULL;
    }
    free(plain);
  }
  char *out = sl_json_print(c);
  cJSON_Delete(c);
  return out;
}

/* content: a string, null, or an array of parts of which only text is accepted
 * (an assistant's refusal part, as the SDK echoes a refused turn back, is its
 * text too). */
static int content_text(const cJSON *c, const char *path, char **out, char *err, size_t n) {
  if (!c || cJSON_IsNull(c)) return (*out = strdup("")) ? 0 : SL_ENOMEM;
  if (cJSON_IsString(c)) return (*out = strdup(c->valuestring)) ? 0 : SL_ENOMEM;
  if (!cJSON_IsArray(c)) return sl_codec_bad(err, n, "%s must be a string or an array of content parts", path);
  sl_buf_t b;
  sl_buf_init(&b, (size_t)1 << 30);
  int rc = sl_buf_append(&b, "", 0), i = 0;
  for (const cJSON *p = c->child; p && !rc; p = p->next, i++) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(p, "type");
    bool refusal = cJSON_IsString(t) && !strcmp(t->valuestring, "refusal");
    const cJSON *tx = cJSON_GetObjectItemCaseSensitive(p, refusal ? "refusal" : "text");
    if (!cJSON_IsString(t) ||
        (strcmp(t->valuestring, "text") && strcmp(t->valuestring, "input_text") && !refusal)) {
      rc = sl_codec_bad(err, n, "%s[%d]: only text content parts are supported (the classifier cannot "
                                "inspect other kinds)", path, i);
      break;
    }
    if (!cJSON_IsString(tx)) {
      rc = sl_codec_bad(err, n, "%s[%d].%s must be a string", path, i, refusal ? "refusal" : "text");
      break;
    }
    if (b.len) rc = sl_buf_append(&b, "\n", 1);
    if (!rc) rc = sl_buf_puts(&b, tx->valuestring);
  }
  if (rc) {
    sl_buf_free(&b);
    return rc;
  }
  *out = sl_buf_steal(&b, NULL);
  return 0;
}

static int decode_msgs(const cJSON *ms, sl_chat_req_t *r, char *err, size_t n) {
  if (!cJSON_IsArray(ms)) return sl_codec_bad(err, n, "messages must be an array");
  int cnt = cJSON_GetArraySize(ms);
  if (cnt < 1) return sl_codec_bad(err, n, "messages must not be empty");
  if (cnt > MAX_MESSAGES) return sl_codec_bad(err, n, "messages: at most %d", MAX_MESSAGES);
  r->msgs = calloc((size_t)cnt, sizeof *r->msgs);
  if (!r->msgs) return SL_ENOMEM;
  int i = 0;
  for (const cJSON *m = ms->child; m; m = m->next, i++) {
    char path[64];
    snprintf(path, sizeof path, "messages[%d]", i);
    if (!cJSON_IsObject(m)) return sl_codec_bad(err, n, "%s must be an object", path);
    sl_msg_t *o = &r->msgs[r->n_msgs++];
    const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
    if (!cJSON_IsString(role)) return sl_codec_bad(err, n, "%s.role must be a string", path);
    const char *rs = role->valuestring;
    /* null members are absent: an SDK's message echoed back (model_dump()) has
     * "function_call": null, "tool_calls": null, "name": null */
    const cJSON *fc = cJSON_GetObjectItemCaseSensitive(m, "function_call");
    if (!strcmp(rs, "function") || (fc && !cJSON_IsNull(fc)))
      return sl_codec_bad(err, n, "%s: legacy function calling (role \"function\", function_call) is not "
                                  "supported; use tools and tool_calls", path);
    if (strcmp(rs, "system") && strcmp(rs, "developer") && strcmp(rs, "user") &&
        strcmp(rs, "assistant") && strcmp(rs, "tool"))
      return sl_codec_bad(err, n, "%s.role: unknown role \"%.40s\"", path, rs);
    if (!(o->role = strdup(!strcmp(rs, "developer") ? "system" : rs))) return SL_ENOMEM;
    char cpath[80];
    snprintf(cpath, sizeof cpath, "%s.content", path);
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
    /* only an assistant's turn may come without content (its tool calls instead) */
    if ((!content || cJSON_IsNull(content)) && strcmp(rs, "assistant"))
      return sl_codec_bad(err, n, "%s is required for role \"%s\"", cpath, rs);
    int rc = content_text(content, cpath, &o->content, err, n);
    if (rc) return rc;
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(m, "name");
    if (cJSON_IsNull(name)) name = NULL;
    if (name && !cJSON_IsString(name)) return sl_codec_bad(err, n, "%s.name must be a string", path);
    if (name && !(o->name = strdup(name->valuestring))) return SL_ENOMEM;
    const cJSON *tcid = cJSON_GetObjectItemCaseSensitive(m, "tool_call_id");
    if (cJSON_IsNull(tcid)) tcid = NULL;
    if (tcid && !cJSON_IsString(tcid)) return sl_codec_bad(err, n, "%s.tool_call_id must be a string", path);
    if (!strcmp(rs, "tool") && (!tcid || !*tcid->valuestring)) /* which call it answers */
      return sl_codec_bad(err, n, "%s.tool_call_id is required for role \"tool\"", path);
    if (tcid && !(o->tool_call_id = strdup(tcid->valuestring))) return SL_ENOMEM;
    const cJSON *tcs = cJSON_GetObjectItemCaseSensitive(m, "tool_calls");
    if (tcs && !cJSON_IsNull(tcs)) {
      if (!cJSON_IsArray(tcs)) return sl_codec_bad(err, n, "%s.tool_calls must be an array", path);
      /* arguments with a member twice: the classifier and the upstream might
       * read different values (as for the body itself) */
      int k = 0;
      for (const cJSON *tc = tcs->child; tc; tc = tc->next, k++) {
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive(tc, "function");
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(fn, "arguments");
        cJSON *pa = cJSON_IsString(a) && strchr(a->valuestring, '{')
                        ? sl_json_parse(a->valuestring, strlen(a->valuestring))
                        : NULL;
        const char *dk = pa ? sl_json_dup_key(pa, NULL, 0) : NULL;
        if (dk) {
          rc = sl_codec_bad(err, n, "%s.tool_calls[%d].function.arguments has the member \"%.60s\" twice", path, k, dk);
          cJSON_Delete(pa);
          return rc;
        }
        cJSON_Delete(pa);
      }
      if (!(o->tool_calls = dup_tool_calls(tcs))) return SL_ENOMEM;
    }
  }
  return 0;
}

/* response_format: {"type": "text" | "json_object"} or {"type": "json_schema",
 * "json_schema": {...}}, as the API takes it (it refuses any other type);
 * whether it asks for JSON in *json. */
static int check_response_format(const cJSON *rf, bool *json, char *err, size_t n) {
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(rf, "type");
  if (!cJSON_IsObject(rf) || !cJSON_IsString(t))
    return sl_codec_bad(err, n, "response_format must be an object with a string \"type\"");
  const char *ty = t->valuestring;
  if (!strcmp(ty, "json_schema") &&
      !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(rf, "json_schema")))
    return sl_codec_bad(err, n, "response_format.json_schema must be an object");
  if (strcmp(ty, "text") && strcmp(ty, "json_object") && strcmp(ty, "json_schema"))
    return sl_codec_bad(err, n, "response_format.type must be \"text\", \"json_object\" or \"json_schema\"");
  *json = strcmp(ty, "text") != 0;
  return 0;
}

static int num(const cJSON *root, const char *key, double lo, double hi, double *out, char *err,
               size_t n) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
  if (!v || cJSON_IsNull(v)) return 0;
  if (!cJSON_IsNumber(v) || isnan(v->valuedouble)) return sl_codec_bad(err, n, "%s must be a number", key);
  if (v->valuedouble < lo || v->valuedouble > hi)
    return sl_codec_bad(err, n, "%s must be between %s and %s", key, sl_fmt_bound(lo, (char[32]){0}),
                        sl_fmt_bound(hi, (char[32]){0}));
  *out = v->valuedouble;
  return 0;
}

/* The same for a count: a whole number ("max_tokens": 1.5 is refused, as OpenAI does). */
static int int_num(const cJSON *root, const char *key, double lo, double hi, double *out, char *err,
                   size_t n) {
  double d = *out;
  int rc = num(root, key, lo, hi, &d, err, n);
  if (rc) return rc;
  if (d != *out && d != floor(d)) return sl_codec_bad(err, n, "%s must be an integer", key);
  *out = d;
  return 0;
}

static bool is_bool(const cJSON *v) { return cJSON_IsBool(v); }

/* An enum-like word: "low", "priority", "flex". */
static bool word_value(const cJSON *v) {
  if (!cJSON_IsString(v)) return false;
  size_t k = strlen(v->valuestring);
  if (!k || k > 24) return false;
  for (const char *p = v->valuestring; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || *p == '_' || *p == '-')) return false;
  return true;
}

/* An identifier the app chose (prompt_cache_key, safety_identifier): printable
 * ASCII without spaces, at most 256 bytes. It is classified with the rest of
 * the request (sl_chat_text holds the passthrough). */
static bool id_value(const cJSON *v) {
  if (!cJSON_IsString(v)) return false;
  size_t k = strlen(v->valuestring);
  if (!k || k > 256) return false;
  for (const char *p = v->valuestring; *p; p++)
    if (*p <= ' ' || *p > '~') return false;
  return true;
}

/* logit_bias: {"<token id>": bias in [-100, 100], ...}, at most 1024 entries. */
static bool logit_bias_ok(const cJSON *v) {
  if (!cJSON_IsObject(v) || cJSON_GetArraySize(v) > 1024) return false;
  for (const cJSON *e = v->child; e; e = e->next) {
    size_t k = e->string ? strlen(e->string) : 0;
    if (!k || k > 10 || strspn(e->string, "0123456789") != k) return false;
    if (!cJSON_IsNumber(e) || !(e->valuedouble >= -100 && e->valuedouble <= 100)) return false;
  }
  return true;
}

/* The members an OpenAI-compatible upstream takes as they came: none carries
 * free text (the two identifiers are classified with the request all the
 * same). Others a client may send are not forwarded. */
static int passthrough(const cJSON *root, sl_chat_req_t *r, char *err, size_t n) {
  static const struct {
    const char *name;
    bool (*ok)(const cJSON *);
    const char *want;
  } fields[] = {{"parallel_tool_calls", is_bool, "a boolean"},
                {"reasoning_effort", word_value, "a word such as \"low\""},
                {"verbosity", word_value, "a word such as \"low\""},
                {"service_tier", word_value, "a word such as \"auto\""},
                {"logit_bias", logit_bias_ok, "an object of token ids to numbers in [-100, 100]"},
                {"prompt_cache_key", id_value, "a string of up to 256 printable ASCII characters, no spaces"},
                {"safety_identifier", id_value, "a string of up to 256 printable ASCII characters, no spaces"}};
  sl_buf_t b;
  sl_buf_init(&b, 1 << 16);
  for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, fields[i].name);
    if (!v || cJSON_IsNull(v)) continue;
    if (!fields[i].ok(v)) {
      sl_buf_free(&b);
      return sl_codec_bad(err, n, "%s must be %s", fields[i].name, fields[i].want);
    }
    char *text = sl_json_print(v);
    int rc = !text ? SL_ENOMEM
                   : sl_buf_printf(&b, "%s\"%s\":%s", b.len ? "," : "", fields[i].name, text);
    cJSON_free(text);
    if (rc) {
      sl_buf_free(&b);
      snprintf(err, n, "out of memory");
      return SL_ENOMEM;
    }
  }
  if (b.len) r->passthrough = sl_buf_steal(&b, NULL);
  else sl_buf_free(&b);
  return 0;
}

int sl_openai_decode_request(const char *json, size_t len, sl_chat_req_t *r, char *err,
                             size_t n) {
  sl_chat_req_init(r);
  r->dialect = SL_DIALECT_OPENAI;
  cJSON *root = sl_codec_parse_body(json, len, err, n);
  if (!root) return SL_EPARSE;
  int rc = 0;
  if (!cJSON_IsObject(root)) {
    rc = sl_codec_bad(err, n, "request body must be a JSON object");
    goto out;
  }
  const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
  if (model && !cJSON_IsString(model) && !cJSON_IsNull(model)) {
    rc = sl_codec_bad(err, n, "model must be a string");
    goto out;
  }
  r->model = strdup(cJSON_IsString(model) && model->valuestring[0] ? model->valuestring : "auto");
  if (!r->model) goto nomem;
  if (!sl_chat_model_name_ok(r->model)) {
    rc = sl_codec_bad(err, n, "model must be a model name: letters, digits and ._:/@+- (no spaces, at most %d bytes)",
                      SL_CHAT_MAX_MODEL);
    goto out;
  }
  if ((rc = decode_msgs(cJSON_GetObjectItemCaseSensitive(root, "messages"), r, err, n))) goto out;

  const cJSON *st = cJSON_GetObjectItemCaseSensitive(root, "stream");
  if (st && !cJSON_IsNull(st) && !cJSON_IsBool(st)) {
    rc = sl_codec_bad(err, n, "stream must be a boolean");
    goto out;
  }
  r->stream = cJSON_IsTrue(st);
  const cJSON *so = cJSON_GetObjectItemCaseSensitive(root, "stream_options");
  if (so && cJSON_IsObject(so))
    r->include_usage = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(so, "include_usage"));

  double d = -1;
  if ((rc = int_num(root, "max_completion_tokens", 1, 1e7, &d, err, n))) goto out;
  r->max_completion = d >= 0;
  if (d < 0 && (rc = int_num(root, "max_tokens", 1, 1e7, &d, err, n))) goto out;
  if (d >= 0) r->max_tokens = (int)d;
  if ((rc = num(root, "temperature", 0, 2, &r->temperature, err, n)) ||
      (rc = num(root, "top_p", 0, 1, &r->top_p, err, n)) ||
      (rc = num(root, "min_p", 0, 1, &r->min_p, err, n)) ||
      (rc = num(root, "presence_penalty", -2, 2, &r->presence_penalty, err, n)) ||
      (rc = num(root, "frequency_penalty", -2, 2, &r->frequency_penalty, err, n)) ||
      (rc = num(root, "repetition_penalty", 0.01, 10, &r->repetition_penalty, err, n)))
    goto out;
  d = -1;
  if ((rc = int_num(root, "top_k", 0, 1e6, &d, err, n))) goto out;
  if (d >= 0) r->top_k = (int)d;
  d = -1;
  /* a signed 64-bit integer: as a double, INT64_MAX reads as 2^63, so the
   * range is checked on the text */
  if ((rc = int_num(root, "seed", -0x1p63, 0x1p63, &d, err, n))) goto out;
  if (d != -1 || cJSON_GetObjectItemCaseSensitive(root, "seed")) {
    const cJSON *sv = cJSON_GetObjectItemCaseSensitive(root, "seed");
    if (cJSON_IsNumber(sv)) {
      r->has_seed = true;
      /* exact from its text: a double holds integers only up to 2^53 */
      char *e = NULL;
      errno = 0;
      long long v = sv->valuestring ? strtoll(sv->valuestring, &e, 10) : 0;
      bool whole = e && !*e; /* else written as 5e3, 9.3e18: its double */
      if (whole ? errno == ERANGE : sv->valuedouble >= 0x1p63 || sv->valuedouble < -0x1p63) {
        rc = sl_codec_bad(err, n, "seed must be a signed 64-bit integer");
        goto out;
      }
      r->seed = whole ? (uint64_t)v : (uint64_t)(int64_t)sv->valuedouble;
    }
  }
  d = 1;
  if ((rc = int_num(root, "n", 1, 1, &d, err, n))) {
    snprintf(err, n, "n: only 1 choice per request is supported");
    goto out;
  }
  const cJSON *stop = cJSON_GetObjectItemCaseSensitive(root, "stop");
  if (stop && !cJSON_IsNull(stop)) {
    /* an empty stop string would stop nothing: dropped, for every backend
     * alike (an upstream might end every answer at once on it) */
    if (cJSON_IsString(stop)) {
      if (*stop->valuestring) {
        r->stop = calloc(1, sizeof *r->stop);
        if (!r->stop || !(r->stop[0] = strdup(stop->valuestring))) goto nomem;
        r->n_stop = 1;
      }
    } else if (cJSON_IsArray(stop)) {
      int k = cJSON_GetArraySize(stop);
      if (k > MAX_STOP) {
        rc = sl_codec_bad(err, n, "stop: at most %d strings", MAX_STOP);
        goto out;
      }
      r->stop = calloc((size_t)k + 1, sizeof *r->stop);
      if (!r->stop) goto nomem;
      for (const cJSON *s = stop->child; s; s = s->next) {
        if (!cJSON_IsString(s)) {
          rc = sl_codec_bad(err, n, "stop must be a string or an array of strings");
          goto out;
        }
        if (*s->valuestring && !(r->stop[r->n_stop++] = strdup(s->valuestring))) goto nomem;
      }
    } else {
      rc = sl_codec_bad(err, n, "stop must be a string or an array of strings");
      goto out;
    }
  }
  const cJSON *lp = cJSON_GetObjectItemCaseSensitive(root, "logprobs");
  if (lp && !cJSON_IsNull(lp) && !cJSON_IsBool(lp)) { /* 1 or "yes" would answer without them */
    rc = sl_codec_bad(err, n, "logprobs must be a boolean");
    goto out;
  }
  r->logprobs = cJSON_IsTrue(lp);
  d = 0;
  if ((rc = int_num(root, "top_logprobs", 0, 20, &d, err, n))) goto out;
  r->top_logprobs = (int)d;
  const cJSON *tlp = cJSON_GetObjectItemCaseSensitive(root, "top_logprobs");
  if (tlp && !cJSON_IsNull(tlp) && !r->logprobs) { /* as OpenAI answers */
    rc = sl_codec_bad(err, n, "top_logprobs requires logprobs to be true");
    goto out;
  }
  /* the deprecated form of tools: refused rather than dropped, which would
   * answer without the functions the caller counts on */
  const cJSON *fns = cJSON_GetObjectItemCaseSensitive(root, "functions");
  const cJSON *fcall = cJSON_GetObjectItemCaseSensitive(root, "function_call");
  if ((fns && !cJSON_IsNull(fns)) || (fcall && !cJSON_IsNull(fcall))) {
    rc = sl_codec_bad(err, n, "functions and function_call (legacy function calling) are not supported; "
                              "use tools and tool_choice");
    goto out;
  }
  const cJSON *tools = cJSON_GetObjectItemCaseSensitive(root, "tools");
  if (tools && !cJSON_IsNull(tools)) {
    if (!cJSON_IsArray(tools)) {
      rc = sl_codec_bad(err, n, "tools must be an array");
      goto out;
    }
    /* function tools only: a custom tool's call (free-form input) has no form
     * in the answers sluice relays, and would reach the caller nameless */
    int k = 0;
    for (const cJSON *t = tools->child; t; t = t->next, k++) {
      const cJSON *ty = cJSON_GetObjectItemCaseSensitive(t, "type");
      if (cJSON_IsString(ty) && strcmp(ty->valuestring, "function")) {
        rc = sl_codec_bad(err, n, "tools[%d]: type '%.40s' is not supported; use function tools", k, ty->valuestring);
        goto out;
      }
      /* a nameless function cannot be called: every backend would treat it
       * its own way (sent as it came, dropped, refused) */
      const cJSON *fn = cJSON_GetObjectItemCaseSensitive(t, "function");
      const cJSON *nm = cJSON_GetObjectItemCaseSensitive(fn, "name");
      if (!cJSON_IsObject(fn)) {
        rc = sl_codec_bad(err, n, "tools[%d].function must be an object with a name", k);
        goto out;
      }
      if (!cJSON_IsString(nm) || !*nm->valuestring) {
        rc = sl_codec_bad(err, n, "tools[%d].function.name must be a non-empty string", k);
        goto out;
      }
    }
    if (cJSON_GetArraySize(tools) && !(r->tools = dup_json(tools))) goto nomem;
  }
  const cJSON *tc = cJSON_GetObjectItemCaseSensitive(root, "tool_choice");
  if (tc && !cJSON_IsNull(tc)) {
    /* "none", "auto", "required", a named function or allowed_tools: anything
     * else reached backends that each read it their own way */
    const cJSON *ty = cJSON_GetObjectItemCaseSensitive(tc, "type");
    const cJSON *fn = cJSON_GetObjectItemCaseSensitive(tc, "function");
    const cJSON *fname = cJSON_GetObjectItemCaseSensitive(fn, "name");
    bool word = cJSON_IsString(tc) && (!strcmp(tc->valuestring, "none") || !strcmp(tc->valuestring, "auto") ||
                                       !strcmp(tc->valuestring, "required"));
    bool named = cJSON_IsObject(tc) && cJSON_IsString(ty) && !strcmp(ty->valuestring, "function") &&
                 cJSON_IsString(fname) && *fname->valuestring;
    bool allowed = cJSON_IsObject(tc) && cJSON_IsString(ty) && !strcmp(ty->valuestring, "allowed_tools");
    if (!word && !named && !allowed) {
      bool fn_named = cJSON_IsObject(tc) && cJSON_IsString(ty) && !strcmp(ty->valuestring, "function");
      rc = sl_codec_bad(err, n, fn_named ? "tool_choice.function.name must be a non-empty string"
                                         : "tool_choice must be \"none\", \"auto\", \"required\" or "
                                           "{\"type\": \"function\", \"function\": {\"name\": ...}}");
      goto out;
    }
    if (!(r->tool_choice = dup_json(tc))) goto nomem;
  }
  const cJSON *rf = cJSON_GetObjectItemCaseSensitive(root, "response_format");
  if (rf && !cJSON_IsNull(rf)) {
    if ((rc = check_response_format(rf, &r->json_output, err, n))) goto out;
    if (!(r->response_format = dup_json(rf))) goto nomem;
  }
  const cJSON *user = cJSON_GetObjectItemCaseSensitive(root, "user");
  if (cJSON_IsString(user) && !(r->user = strdup(user->valuestring))) goto nomem;
  if ((rc = passthrough(root, r, err, n))) goto out;
  /* (forwarded as it came to OpenAI-compatible upstreams; said in the choice to Anthropic ones) */
  r->one_tool_call = cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(root, "parallel_tool_calls"));
out:
  cJSON_Delete(root);
  if (rc) sl_chat_req_free(r);
  return rc;
nomem:
  rc = SL_ENOMEM;
  snprintf(err, n, "out of memory");
  goto out;
}

/* ---- encoding: written by hand into the buffer (sl_buf_json_str escapes) ---- */


static int put_tools(sl_buf_t *o, const sl_tool_acc_t *t, size_t n) {
  int rc = sl_buf_puts(o, "[");
  for (size_t i = 0; i < n && !rc; i++) {
    rc = sl_buf_puts(o, i ? ",{\"id\":" : "{\"id\":");
    if (!rc) rc = sl_buf_json_cstr(o, t[i].id);
    if (!rc) rc = sl_buf_puts(o, ",\"type\":\"function\",\"function\":{\"name\":");
    if (!rc) rc = sl_buf_json_cstr(o, t[i].name);
    if (!rc) rc = sl_buf_puts(o, ",\"arguments\":");
    if (!rc) rc = sl_buf_json_str(o, t[i].args.data ? t[i].args.data : "", t[i].args.len);
    if (!rc) rc = sl_buf_puts(o, "}}");
  }
  if (!rc) rc = sl_buf_puts(o, "]");
  return rc;
}

static int put_head(sl_buf_t *o, const sl_openai_meta_t *m, const char *object) {
  int rc = sl_buf_puts(o, "{\"id\":");
  if (!rc) rc = sl_buf_json_cstr(o, m->id);
  char created[24];
  sl_itoa(m->created, created);
  if (!rc) rc = sl_buf_puts(o, ",\"object\":\"");
  if (!rc) rc = sl_buf_puts(o, object);
  if (!rc) rc = sl_buf_puts(o, "\",\"created\":");
  if (!rc) rc = sl_buf_puts(o, created);
  if (!rc) rc = sl_buf_puts(o, ",\"model\":");
  if (!rc) rc = sl_buf_json_cstr(o, m->model);
  if (!rc) rc = sl_buf_puts(o, ",\"system_fingerprint\":");
  if (!rc) rc = m->fingerprint ? sl_buf_json_cstr(o, m->fingerprint) : sl_buf_puts(o, "null");
  if (!rc && m->service_tier) rc = sl_buf_puts(o, ",\"service_tier\":");
  if (!rc && m->service_tier) rc = sl_buf_json_cstr(o, m->service_tier);
  return rc;
}

static int put_usage(sl_buf_t *o, const sl_openai_meta_t *m, int pt, int ct) {
  char p[24], c[24], t[24], k[24], r[24];
  sl_itoa(pt, p);
  sl_itoa(ct, c);
  sl_itoa((int64_t)pt + ct, t);
  sl_itoa(m->cached_tokens, k);
  sl_itoa(m->reasoning_tokens, r);
  char u[240];
  size_t n = sl_cat(u, sizeof u, "\"usage\":{\"prompt_tokens\":", p, ",\"completion_tokens\":", c,
                    ",\"total_tokens\":", t,
                    m->cache_reported ? ",\"prompt_tokens_details\":{\"cached_tokens\":" : "",
                    m->cache_reported ? k : "", m->cache_reported ? "}" : "",
                    m->reasoning_reported ? ",\"completion_tokens_details\":{\"reasoning_tokens\":" : "",
                    m->reasoning_reported ? r : "", m->reasoning_reported ? "}" : "", "}", (char *)NULL);
  return sl_buf_append(o, u, n);
}

static int put_lp_item(sl_buf_t *o, const char *tok, size_t len, double lp) {
  int rc = sl_buf_puts(o, "{\"token\":");
  /* a character the token holds only part of (a byte-level token can end inside
   * one) is one U+FFFD, as the detokenizer writes it in the answer, so that the
   * tokens' texts spell the answer (sl_buf_json_str does it) */
  if (!rc) rc = sl_buf_json_str(o, tok, len);
  /* the shortest text that reads back as the same number: 9 significant
   * digits for the local engine's floats, up to 17 for an upstream's doubles
   * (-1.2345678901234567 stays itself); a probability that underflowed to 0
   * is -9999.0, as OpenAI reports it (JSON has no -Infinity) */
  char num[40] = "-9999.0";
  if (isfinite(lp)) {
    int prec = (double)(float)lp == lp ? 9 : 15;
    snprintf(num, sizeof num, "%.*g", prec, lp);
    while (prec > 9 && prec < 17 && strtod(num, NULL) != lp) snprintf(num, sizeof num, "%.*g", ++prec, lp);
  }
  if (!rc) rc = sl_buf_printf(o, ",\"logprob\":%s", num);
  if (!rc) rc = sl_buf_puts(o, ",\"bytes\":[");
  for (size_t i = 0; i < len && !rc; i++)
    rc = sl_buf_printf(o, i ? ",%u" : "%u", (unsigned char)tok[i]);
  if (!rc) rc = sl_buf_puts(o, "]");
  return rc;
}

int sl_openai_encode_logprob(sl_buf_t *o, const sl_token_logprob_t *t) {
  int rc = put_lp_item(o, t->token, t->len, t->logprob);
  if (!rc) rc = sl_buf_puts(o, ",\"top_logprobs\":[");
  for (int i = 0; i < t->n_top && !rc; i++) {
    if (i) rc = sl_buf_puts(o, ",");
    if (!rc) rc = put_lp_item(o, t->top[i].token, t->top[i].len, t->top[i].logprob);
    if (!rc) rc = sl_buf_puts(o, "}");
  }
  if (!rc) rc = sl_buf_puts(o, "]}");
  return rc;
}

static int put_logprobs(sl_buf_t *o, const sl_openai_meta_t *m, bool on) {
  if (!on || !m->logprobs) return sl_buf_puts(o, "\"logprobs\":null");
  int rc = sl_buf_puts(o, "\"logprobs\":{\"content\":[");
  if (!rc && m->lp_len) rc = sl_buf_append(o, m->lp, m->lp_len);
  if (!rc) rc = sl_buf_puts(o, "],\"refusal\":null}");
  return rc;
}

int sl_openai_encode_completion(sl_buf_t *o, const sl_openai_meta_t *m, const char *text,
                                size_t text_len, const sl_tool_acc_t *tools, size_t n_tools,
                                const char *finish, int pt, int ct) {
  int rc = put_head(o, m, "chat.completion");
  if (!rc) rc = sl_buf_puts(o, ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":");
  if (!rc)
    rc = ((n_tools || m->refusal || (finish && !strcmp(finish, "content_filter"))) && !text_len)
             ? sl_buf_puts(o, "null")
                                                : sl_buf_json_str(o, text ? text : "", text_len);
  if (!rc && m->reasoning_text) {
    rc = sl_buf_puts(o, ",\"reasoning_content\":");
    if (!rc) rc = sl_buf_json_str(o, m->reasoning_text, m->reasoning_text_len);
  }
  if (!rc && n_tools) {
    rc = sl_buf_puts(o, ",\"tool_calls\":");
    if (!rc) rc = put_tools(o, tools, n_tools);
  }
  if (!rc) rc = sl_buf_puts(o, ",\"refusal\":");
  if (!rc) rc = m->refusal ? sl_buf_json_str(o, m->refusal, m->refusal_len) : sl_buf_puts(o, "null");
  if (!rc) rc = sl_buf_puts(o, "},");
  if (!rc) rc = put_logprobs(o, m, true);
  if (!rc) rc = sl_buf_puts(o, ",\"finish_reason\":");
  if (!rc) rc = sl_buf_json_cstr(o, finish);
  if (!rc) rc = sl_buf_puts(o, "}],");
  if (!rc) rc = put_usage(o, m, pt, ct);
  if (!rc) rc = sl_buf_puts(o, "}");
  return rc;
}

int sl_openai_encode_chunk(sl_buf_t *o, const sl_openai_meta_t *m, const char *role,
                           const char *content, size_t content_len, int tool_index,
                           const char *tool_id, const char *tool_name, const char *tool_args,
                           size_t tool_args_len, const char *finish) {
  int rc = sl_buf_puts(o, "data: ");
  if (!rc) rc = put_head(o, m, "chat.completion.chunk");
  if (!rc) rc = sl_buf_puts(o, ",\"choices\":[{\"index\":0,\"delta\":{");
  const char *sep = "";
  if (!rc && role) {
    rc = sl_buf_printf(o, "\"role\":\"%s\"", role);
    sep = ",";
  }
  if (!rc && content) {
    rc = sl_buf_printf(o, "%s\"content\":", sep);
    if (!rc) rc = sl_buf_json_str(o, content, content_len);
    sep = ",";
  }
  if (!rc && m->refusal) {
    rc = sl_buf_printf(o, "%s\"refusal\":", sep);
    if (!rc) rc = sl_buf_json_str(o, m->refusal, m->refusal_len);
    sep = ",";
  }
  if (!rc && m->reasoning_text) {
    rc = sl_buf_printf(o, "%s\"reasoning_content\":", sep);
    if (!rc) rc = sl_buf_json_str(o, m->reasoning_text, m->reasoning_text_len);
    sep = ",";
  }
  if (!rc && tool_index >= 0) {
    rc = sl_buf_printf(o, "%s\"tool_calls\":[{\"index\":%d", sep, tool_index);
    if (!rc && tool_id) {
      rc = sl_buf_puts(o, ",\"id\":");
      if (!rc) rc = sl_buf_json_cstr(o, tool_id);
      if (!rc) rc = sl_buf_puts(o, ",\"type\":\"function\"");
    }
    if (!rc) rc = sl_buf_puts(o, ",\"function\":{");
    if (!rc && tool_name) {
      rc = sl_buf_puts(o, "\"name\":");
      if (!rc) rc = sl_buf_json_cstr(o, tool_name);
      if (!rc) rc = sl_buf_puts(o, ",");
    }
    if (!rc) rc = sl_buf_puts(o, "\"arguments\":");
    if (!rc) rc = sl_buf_json_str(o, tool_args ? tool_args : "", tool_args_len);
    if (!rc) rc = sl_buf_puts(o, "}}]");
  }
  if (!rc) rc = sl_buf_puts(o, "},");
  if (!rc) rc = put_logprobs(o, m, content && !role && content_len);
  if (!rc) rc = sl_buf_puts(o, ",\"finish_reason\":");
  if (!rc) rc = finish ? sl_buf_json_cstr(o, finish) : sl_buf_puts(o, "null");
  if (!rc) rc = sl_buf_puts(o, "}]}\n\n");
  return rc;
}

int sl_openai_encode_usage_chunk(sl_buf_t *o, const sl_openai_meta_t *m, int pt, int ct) {
  int rc = sl_buf_puts(o, "data: ");
  if (!rc) rc = put_head(o, m, "chat.completion.chunk");
  if (!rc) rc = sl_buf_puts(o, ",\"choices\":[],");
  if (!rc) rc = put_usage(o, m, pt, ct);
  if (!rc) rc = sl_buf_puts(o, "}\n\n");
  return rc;
}

int sl_openai_encode_error(sl_buf_t *o, const char *message, const char *type, const char *code,
                           const char *param) {
  int rc = sl_buf_puts(o, "{\"error\":{\"message\":");
  if (!rc) rc = sl_buf_json_cstr(o, message);
  if (!rc) rc = sl_buf_puts(o, ",\"type\":");
  if (!rc) rc = sl_buf_json_cstr(o, type);
  if (!rc) rc = sl_buf_puts(o, ",\"param\":");
  if (!rc) rc = param ? sl_buf_json_cstr(o, param) : sl_buf_puts(o, "null");
  if (!rc) rc = sl_buf_puts(o, ",\"code\":");
  if (!rc) rc = code ? sl_buf_json_cstr(o, code) : sl_buf_puts(o, "null");
  if (!rc) rc = sl_buf_puts(o, "}}");
  return rc;
}

/* ---- the OpenAI entry of the dialect table ---- */

#include "dialect.h"

/* The head every answer and chunk carries, from the encoder's state. */
static sl_openai_meta_t meta_of(const sl_resp_t *r) {
  return (sl_openai_meta_t){.id = r->id, .created = r->created, .model = r->model,
                            .fingerprint = r->fingerprint, .service_tier = r->service_tier};
}

/* ... with the usage details the upstream reported, for the answer's end. */
static sl_openai_meta_t end_meta_of(const sl_resp_t *r, const sl_result_t *res) {
  sl_openai_meta_t m = meta_of(r);
  m.cache_reported = res->cache_reported;
  m.cached_tokens = res->cache_read_tokens;
  m.reasoning_reported = res->reasoning_reported;
  m.reasoning_tokens = res->reasoning_tokens;
  return m;
}

static int oa_stream_start(sl_buf_t *o, sl_resp_t *r) {
  sl_openai_meta_t m = meta_of(r);
  return sl_openai_encode_chunk(o, &m, "assistant", r->opens_with_tool ? NULL : "", 0, -1, NULL,
                                NULL, NULL, 0, NULL);
}

static int oa_stream_text(sl_buf_t *o, sl_resp_t *r, const char *s, size_t n) {
  sl_openai_meta_t m = meta_of(r);
  m.logprobs = r->logprobs;
  m.lp = r->lp;
  m.lp_len = r->lp_len;
  return sl_openai_encode_chunk(o, &m, NULL, s, n, -1, NULL, NULL, NULL, 0, NULL);
}

static int oa_stream_refusal(sl_buf_t *o, sl_resp_t *r, const char *s, size_t n) {
  if (!n) return 0;
  sl_openai_meta_t m = meta_of(r);
  m.refusal = s;
  m.refusal_len = n;
  return sl_openai_encode_chunk(o, &m, NULL, NULL, 0, -1, NULL, NULL, NULL, 0, NULL);
}

static int oa_stream_reasoning(sl_buf_t *o, sl_resp_t *r, const char *s, size_t n) {
  if (!n) return 0;
  sl_openai_meta_t m = meta_of(r);
  m.reasoning_text = s;
  m.reasoning_text_len = n;
  return sl_openai_encode_chunk(o, &m, NULL, NULL, 0, -1, NULL, NULL, NULL, 0, NULL);
}

static int oa_stream_tool(sl_buf_t *o, sl_resp_t *r, int index, const char *id, const char *name,
                          const char *args, size_t n) {
  sl_openai_meta_t m = meta_of(r);
  return sl_openai_encode_chunk(o, &m, NULL, NULL, 0, index, id, name, args, n, NULL);
}

/* The finish reason as OpenAI names it: an Anthropic upstream's pause_turn (a
 * server tool's long turn, to be continued) is a stop to an OpenAI client; an
 * OpenAI-compatible upstream's own words pass as it sent them. */
static const char *openai_finish(const sl_result_t *res) {
  return res->finish_reason && !strcmp(res->finish_reason, "pause_turn") ? "stop" : res->finish_reason;
}

static int oa_stream_end(sl_buf_t *o, sl_resp_t *r, const sl_result_t *res, bool include_usage) {
  sl_openai_meta_t m = end_meta_of(r, res);
  int rc = sl_openai_encode_chunk(o, &m, NULL, NULL, 0, -1, NULL, NULL, NULL, 0, openai_finish(res));
  if (!rc && include_usage)
    rc = sl_openai_encode_usage_chunk(o, &m, res->prompt_tokens, res->completion_tokens);
  if (!rc) rc = sl_buf_puts(o, "data: [DONE]\n\n");
  return rc;
}

static int oa_stream_error(sl_buf_t *o, sl_resp_t *r, int status, const char *type,
                           const char *code, const char *msg) {
  (void)status; /* OpenAI's errors carry type and code */
  int rc = sl_buf_puts(o, "data: ");
  if (!rc) rc = sl_openai_encode_error(o, msg, type, code, NULL);
  if (!rc) rc = sl_buf_puts(o, "\n\n");
  return rc;
}

static int oa_complete(sl_buf_t *o, sl_resp_t *r, const char *text, size_t n,
                       const sl_tool_acc_t *tools, size_t n_tools, const sl_result_t *res) {
  sl_openai_meta_t m = end_meta_of(r, res);
  m.logprobs = r->logprobs;
  m.lp = r->lp;
  m.lp_len = r->lp_len;
  m.refusal = r->refusal;
  m.refusal_len = r->refusal_len;
  m.reasoning_text = r->reasoning;
  m.reasoning_text_len = r->reasoning_len;
  return sl_openai_encode_completion(o, &m, text, n, tools, n_tools, openai_finish(res),
                                     res->prompt_tokens, res->completion_tokens);
}

int sl_openai_dialect_error(sl_buf_t *o, int status, const char *type, const char *code,
                            const char *param, const char *msg) {
  (void)status;
  return sl_openai_encode_error(o, msg, type, code, param);
}

const sl_dialect_ops_t sl_dialect_openai = {
    .name = "openai",
    .id_prefix = "chatcmpl-",
    .decode = sl_openai_decode_request,
    .stream_start = oa_stream_start,
    .stream_text = oa_stream_text,
    .stream_refusal = oa_stream_refusal,
    .stream_reasoning = oa_stream_reasoning,
    .stream_tool = oa_stream_tool,
    .stream_end = oa_stream_end,
    .stream_error = oa_stream_error,
    .complete = oa_complete,
    .error = sl_openai_dialect_error};
