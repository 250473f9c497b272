/* The one place that picks a backend implementation by kind, and what all API
 * backends share (destination names, upstream error bodies). */
#include "backend_int.h"
#include "sl_err.h"
#include "sl_held.h"
#include "sl_json.h"
#include "sl_str.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Defined by backends/local_backend.c once the engine is linked in; weak so that
 * the gateway builds and reports the local backend unavailable without it. */
extern const sl_backend_ops_t sl__local_ops __attribute__((weak));
int sl__local_prepare_all(sl_backends_t *b, const sl_config_t *cfg, char *err, size_t errlen)
    __attribute__((weak));
bool sl__local_load(const sl_backends_t *b, const sl_backend_cfg_t *cfg, int *running,
                    int *queued, int *queue_max) __attribute__((weak));
void sl__local_free_all(sl_backends_t *b) __attribute__((weak));
int sl__local_init(sl_backends_t *b, const sl_backends_t *first) __attribute__((weak));

static const sl_backend_ops_t *ops_for(sl_backend_kind_t k) {
  switch (k) {
  case SL_BK_OPENAI: return &sl__openai_ops;
  case SL_BK_ANTHROPIC: return &sl__anthropic_ops != NULL ? &sl__anthropic_ops : NULL;
  case SL_BK_LOCAL: return &sl__local_ops != NULL ? &sl__local_ops : NULL;
  }
  return NULL;
}

int sl_backends_create(uv_loop_t *loop, const sl_backends_t *first, sl_backends_t **out) {
  sl_backends_t *b = calloc(1, sizeof *b);
  if (!b) return SL_ENOMEM;
  b->loop = loop;
  int rc = sl_hc_create(loop, &b->hc);
  if (!rc && sl__local_init) rc = sl__local_init(b, first);
  if (rc) {
    sl_backends_free(b);
    return rc;
  }
  *out = b;
  return 0;
}

void sl_backends_free(sl_backends_t *b) {
  if (!b) return;
  if (sl__local_free_all) sl__local_free_all(b);
  if (b->hc) sl_hc_free(b->hc);
  free(b);
}

int sl_backends_prepare(sl_backends_t *b, const sl_config_t *cfg, char *err, size_t errlen) {
  sl_held_set_max(cfg->limits.max_buffered_bytes);
  for (size_t i = 0; i < cfg->n_backends; i++) {
    if (cfg->backends[i].kind == SL_BK_LOCAL && !sl__local_prepare_all) {
      snprintf(err, errlen, "backend \"%s\": this build has no local engine",
               cfg->backends[i].name);
      return SL_EUNSUPPORTED;
    }
  }
  return sl__local_prepare_all ? sl__local_prepare_all(b, cfg, err, errlen) : 0;
}

bool sl_backends_load(const sl_backends_t *b, const sl_backend_cfg_t *cfg, int *running,
                      int *queued) {
  int qmax;
  return cfg->kind == SL_BK_LOCAL && sl__local_load && sl__local_load(b, cfg, running, queued, &qmax);
}

bool sl_backend_key_missing(const sl_backend_cfg_t *cfg) {
  if (cfg->kind == SL_BK_LOCAL || !cfg->api_key_env) return false;
  const char *k = getenv(cfg->api_key_env);
  return !k || !*k;
}

bool sl_backends_ready(const sl_backends_t *b, const sl_backend_cfg_t *cfg) {
  if (cfg->kind != SL_BK_LOCAL) return true;
  int running, queued, qmax;
  return sl__local_load && sl__local_load(b, cfg, &running, &queued, &qmax) && queued < qmax;
}

int sl_call_prepare(sl_backends_t *b, const sl_backend_cfg_t *cfg, const sl_call_opts_t *o,
                    const sl_call_cbs_t *cbs, void *data, sl_call_t **out) {
  const sl_backend_ops_t *ops = ops_for(cfg->kind);
  if (!ops) return SL_EUNAVAILABLE;
  sl_call_t *c = NULL;
  int rc = ops->prepare(b, cfg, o, cbs, data, &c);
  if (rc) return rc;
  c->ops = ops;
  c->owner = b;
  c->cfg = cfg;
  c->cbs = *cbs;
  c->data = data;
  *out = c;
  return 0;
}

void sl_call_egress(const sl_call_t *c, const char **body, size_t *len, const char **dest) {
  *body = c->body.data ? c->body.data : "";
  *len = c->body.len;
  *dest = c->destination;
}

int sl_call_start(sl_call_t *c) { return c->ops->start(c); }
void sl_call_cancel(sl_call_t *c) {
  if (c) c->ops->cancel(c);
}

void sl__call_note_meta(sl_call_t *c, const cJSON *j) {
  const cJSON *fp = cJSON_GetObjectItemCaseSensitive(j, "system_fingerprint");
  const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "service_tier");
  if (cJSON_IsString(fp) && strlen(fp->valuestring) < sizeof c->fingerprint)
    snprintf(c->fingerprint, sizeof c->fingerprint, "%s", fp->valuestring);
  if (cJSON_IsString(st) && strlen(st->valuestring) < sizeof c->service_tier)
    snprintf(c->service_tier, sizeof c->service_tier, "%s", st->valuestring);
}

void sl_call_upstream_meta(const sl_call_t *c, const char **fingerprint, const char **service_tier) {
  *fingerprint = c && c->fingerprint[0] ? c->fingerprint : NULL;
  *service_tier = c && c->service_tier[0] ? c->service_tier : NULL;
}

bool sl_call_answering(const sl_call_t *c) { return c && c->answering && !c->failed; }

void sl_call_usage(const sl_call_t *c, sl_result_t *out) {
  if (c && c->ops->usage) c->ops->usage(c, out);
}

void sl_call_pause(sl_call_t *c, bool pause) {
  if (c && c->ops->pause) c->ops->pause(c, pause);
}

void sl__api_url(char *out, size_t cap, const char *base, const char *strip, const char *path) {
  const char *q = strchr(base, '?');
  size_t bl = q ? (size_t)(q - base) : strlen(base);
  if (bl && base[bl - 1] == '/') bl--; /* "…/v1/" */
  size_t sl = strip ? strlen(strip) : 0;
  if (sl && bl >= sl && !memcmp(base + bl - sl, strip, sl)) bl -= sl;
  snprintf(out, cap, "%.*s%s%s", (int)bl, base, path, q ? q : "");
}

void sl__url_destination(const char *url, char *out, size_t n) {
  const char *p = strstr(url, "://");
  bool tls = !strncmp(url, "https", 5);
  p = p ? p + 3 : url;
  const char *at = strchr(p, '@'); /* never record userinfo */
  const char *slash = strchr(p, '/');
  if (at && (!slash || at < slash)) p = at + 1;
  size_t hl = slash ? (size_t)(slash - p) : strlen(p);
  /* a port is a ':' after the host; an IPv6 host is bracketed and has colons inside */
  const char *host_end = p;
  if (p[0] == '[') {
    const char *rb = memchr(p, ']', hl);
    host_end = rb ? rb : p + hl;
  }
  const char *colon = memchr(host_end, ':', hl - (size_t)(host_end - p));
  if (colon) snprintf(out, n, "%.*s", (int)hl, p);
  else snprintf(out, n, "%.*s:%d", (int)hl, p, tls ? 443 : 80);
}

/* Up to `cap` bytes of an error body that is not JSON (a proxy's text or HTML
 * page): whitespace runs as one space, other bytes outside printable ASCII as
 * '?'; empty when it holds control bytes (not text at all). */
static void text_snippet(const char *body, size_t len, char *out, size_t cap) {
  size_t k = 0;
  bool space = false;
  for (size_t i = 0; i < len && k + 2 < cap; i++) {
    unsigned char ch = (unsigned char)body[i];
    if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') {
      space = k > 0;
      continue;
    }
    if (ch < 0x20 || ch == 0x7f) {
      k = 0;
      break;
    }
    if (space) out[k++] = ' ';
    space = false;
    out[k++] = ch < 0x80 ? (char)ch : '?';
  }
  out[k] = '\0';
}

/* The reason an upstream gave, from the shapes servers use: OpenAI's (and
 * llama.cpp's, Ollama's) {"error": {"message", "type", "code"}}; vLLM's
 * top-level {"message", "type", "code"}; TGI's {"error": "..."}; FastAPI's
 * {"detail": ...}; or a text body. Its code (e.g. context_length_exceeded)
 * is kept for the client. */
void sl__upstream_error(sl_call_error_t *e, int status, const char *body, size_t len) {
  char head[48]; /* status 0: an error event inside a stream the upstream answered 200 */
  if (status) snprintf(head, sizeof head, "upstream answered HTTP %d", status);
  else snprintf(head, sizeof head, "upstream sent an error event");
  if (!status) status = 502;
  e->http_status = status;
  snprintf(e->type, sizeof e->type, "%s",
           status == 429                  ? "rate_limit_error"
           : status >= 500 || status < 400 ? "upstream_error" /* 3xx: a backend misconfigured */
                                          : "invalid_request_error");
  snprintf(e->message, sizeof e->message, "%s", head);
  e->upstream_code[0] = e->param[0] = '\0';
  /* (a \u0000 in the message is U+FFFD, as in answers: it would end it here) */
  cJSON *j = sl__parse_json(body, len, false);
  if (!j) j = cJSON_ParseWithLength(body, len);
  if (!j) {
    char text[240];
    text_snippet(body, len, text, sizeof text);
    if (text[0])
      snprintf(e->message, sizeof e->message, "%s: %s", head, text);
    return;
  }
  const cJSON *er = cJSON_GetObjectItemCaseSensitive(j, "error");
  const cJSON *obj = cJSON_IsObject(er) ? er : cJSON_IsObject(j) ? j : NULL;
  const cJSON *m = obj ? cJSON_GetObjectItemCaseSensitive(obj, "message") : NULL;
  const cJSON *t = obj ? cJSON_GetObjectItemCaseSensitive(obj, "type") : NULL;
  const cJSON *c = obj ? cJSON_GetObjectItemCaseSensitive(obj, "code") : NULL;
  const cJSON *detail = cJSON_GetObjectItemCaseSensitive(j, "detail");
  char *printed = NULL;
  const char *why = cJSON_IsString(m)        ? m->valuestring
                    : cJSON_IsString(er)     ? er->valuestring
                    : cJSON_IsString(detail) ? detail->valuestring
                    : detail                 ? (printed = cJSON_PrintUnformatted(detail))
                                             : NULL;
  if (why && why[0])
    snprintf(e->message, sizeof e->message, "%s: %s", head, why);
  free(printed);
  /* a type only from an error object of OpenAI's shape (vLLM's top-level
   * "type" is a Python class name) */
  if (cJSON_IsObject(er) && cJSON_IsString(t) && t->valuestring[0])
    snprintf(e->type, sizeof e->type, "%s", t->valuestring);
  if (cJSON_IsString(c) && c->valuestring[0])
    snprintf(e->upstream_code, sizeof e->upstream_code, "%s", c->valuestring);
  const cJSON *param = obj ? cJSON_GetObjectItemCaseSensitive(obj, "param") : NULL;
  if (cJSON_IsString(param) && param->valuestring[0] && strlen(param->valuestring) < sizeof e->param)
    memcpy(e->param, param->valuestring, strlen(param->valuestring) + 1);
  cJSON_Delete(j);
}

#define UPSTREAM_MAX_BODY (32u << 20)  /* a non-streamed answer */
#define UPSTREAM_MAX_EVENT (4u << 20)  /* one SSE event */
#define UPSTREAM_MAX_ERROR (64u << 10) /* an error body */

void sl__upstream_init(sl__upstream_t *u, sl_sse_event_cb on_event, void *data) {
  u->status = 0;
  u->want_stream = u->sniff = u->streaming = false;
  u->held = 0;
  sl_buf_init(&u->body, UPSTREAM_MAX_BODY);
  sl_sse_init(&u->sse, UPSTREAM_MAX_EVENT, on_event, data);
}

static void unhold(sl__upstream_t *u) {
  sl_held_give(u->held);
  u->held = 0;
}

void sl__upstream_free(sl__upstream_t *u) {
  unhold(u);
  sl_buf_free(&u->body);
  sl_sse_free(&u->sse);
}

int sl__upstream_response(sl__upstream_t *u, int status, const char *ctype, long retry_after_ms,
                          bool no_retry) {
  u->status = status;
  u->retry_after_ms = retry_after_ms;
  u->no_retry = no_retry;
  bool ok = status >= 200 && status < 300;
  if (ok && ctype && strstr(ctype, "text/event-stream")) u->streaming = true;
  else if (ok && u->want_stream && !(ctype && strstr(ctype, "json"))) u->sniff = true;
  if (status >= 300) u->body.max = UPSTREAM_MAX_ERROR;
  return 0;
}

/* An SSE field opens b: "data:", "event:", "id:", "retry:" or a comment. */
static bool sse_start(const char *b, size_t n) {
  static const char *const fields[] = {"data:", "event:", "id:", "retry:", ":"};
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
    size_t k = strlen(fields[i]);
    if (n >= k && !memcmp(b, fields[i], k)) return true;
  }
  return false;
}

/* The answer outgrew its bounds: said as such, not as an aborted transfer. */
static int too_big(sl_call_t *c, bool event) {
  sl__call_fail(c, SL_EUPSTREAM, 502, true, "upstream_error",
                event ? "upstream sent a stream event larger than 4 MiB"
                      : "upstream answer larger than 32 MiB");
  return 1;
}

/* Bytes of an event stream through the parser: 1 to stop the transfer. */
static int sse_feed(sl__upstream_t *u, sl_call_t *c, const char *p, size_t n) {
  int rc = sl_sse_feed(&u->sse, p, n);
  return rc == SL_ETOOBIG ? too_big(c, true) : rc ? 1 : 0;
}

int sl__upstream_data(sl__upstream_t *u, sl_call_t *c, const char *p, size_t n) {
  if (u->streaming) return sse_feed(u, c, p, n);
  if (u->status < 300) { /* an answer, not an error body (bounded at 64 KiB) */
    /* Non-streamed answers being received count in the process-wide bound
     * (limits.max_buffered_bytes): each may take 32 MiB, and a slow or
     * hostile upstream answering many requests with large bodies must not
     * take the machine's memory (each is decoded and re-encoded too, about
     * 3× its size at the peak). */
    if (!sl_held_take(n)) {
      sl__call_fail(c, SL_EUPSTREAM, 503, true, "upstream_error",
                    "the gateway holds limits.max_buffered_bytes of answers; retry");
      return 1;
    }
    u->held += n;
  }
  int rc = sl_buf_append(&u->body, p, n);
  if (!rc && u->sniff && u->body.len >= 6) {
    u->sniff = false;
    if (sse_start(u->body.data, u->body.len)) {
      u->streaming = true;
      rc = sse_feed(u, c, u->body.data, u->body.len);
      sl_buf_reset(&u->body);
      unhold(u);
      return rc;
    }
  }
  if (rc && u->status >= 300) return 0; /* an error body is cut, not fatal */
  return rc ? too_big(c, false) : 0;
}

/* Replaces len bytes at p (inside s, cap bytes) by "[redacted]", as much of it
 * and of the rest as fits; returns the bytes of the mark written. */
static size_t replace_span(char *s, size_t cap, char *p, size_t len) {
  static const char mark[] = "[redacted]";
  size_t off = (size_t)(p - s), m = sizeof mark - 1, rest = strlen(p + len);
  if (off + m >= cap) m = cap - 1 - off, rest = 0;
  else if (off + m + rest >= cap) rest = cap - 1 - off - m;
  memmove(p + m, p + len, rest);
  memcpy(p, mark, m);
  p[m + rest] = '\0';
  return m;
}

/* Every copy of the backend's API key in s (cap bytes, NUL-terminated) becomes
 * "[redacted]": an upstream (or a proxy in front of it) may echo the key it was
 * sent in an error, which would reach the client and the log. So does a masked
 * echo, a word that starts with the key's first six bytes and has '*' or an
 * ellipsis in it ("Incorrect API key provided: sk-proj-********abcd",
 * "sk-UPSTR...OPENAI"), and the key's beginning at the end of a message cut to
 * fit. */
static void scrub_key(char *s, size_t cap, const char *key) {
  size_t kl = strlen(key);
  char *p;
  for (char *q = s; (p = strstr(q, key));) q = p + replace_span(s, cap, p, kl);
  char head[7];
  memcpy(head, key, 6);
  head[6] = '\0';
  for (char *q = s; (p = strstr(q, head));) {
    size_t n = strcspn(p, " \t\r\n\"',;()<>");
    while (n && p[n - 1] == '.') n--;
    /* masked, or the key's beginning where a long message was cut */
    bool cut = p[n] == '\0' && !strncmp(p, key, n);
    bool masked = memchr(p, '*', n) || memmem(p, n, "...", 3) || memmem(p, n, "\xe2\x80\xa6", 3);
    q = masked || cut ? p + replace_span(s, cap, p, n) : p + 6;
  }
}

/* on_error once, with e's retryable and started set from the call. */
static void report(sl_call_t *c, sl_call_error_t *e) {
  if (c->failed || c->abandoned) return;
  c->failed = true;
  const char *key = c->cfg && c->cfg->api_key_env ? getenv(c->cfg->api_key_env) : NULL;
  if (key && strlen(key) >= 8) {
    scrub_key(e->message, sizeof e->message, key);
    scrub_key(e->param, sizeof e->param, key);
    scrub_key(e->upstream_code, sizeof e->upstream_code, key);
    scrub_key(e->type, sizeof e->type, key);
  }
  sl_utf8_trim(e->message); /* cut to fit, perhaps inside a character */
  e->retryable_fresh = e->retryable;
  e->retryable = e->retryable && !c->started;
  e->started = c->started;
  e->unsent = c->unsent;
  c->cbs.on_error(c->data, e);
}

void sl__call_fail(sl_call_t *c, int code, int http_status, bool retryable, const char *type,
                   const char *msg) {
  sl_call_error_t e = {.code = code, .http_status = http_status, .retryable = retryable};
  snprintf(e.type, sizeof e.type, "%s", type);
  snprintf(e.message, sizeof e.message, "%s", msg);
  report(c, &e);
}

bool sl__call_transfer_failed(sl_call_t *c, const sl__upstream_t *up, int err, int status,
                              const char *msg,
                              void (*parse_error)(sl_call_error_t *e, int status, const char *body,
                                                  size_t len)) {
  if (err) {
    bool timeout = err == SL_ETIMEOUT;
    sl__call_fail(c, err, timeout ? 504 : 502, true, timeout ? "timeout" : "upstream_error", msg);
    return true;
  }
  if (status < 300) return false;
  sl_call_error_t e = {0};
  parse_error(&e, status, up->body.data ? up->body.data : "", up->body.len);
  e.code = SL_EUPSTREAM;
  e.http_status = status;
  e.retryable = sl__upstream_retryable(status);
  e.retry_after_ms = up->retry_after_ms;
  e.no_retry = up->no_retry;
  report(c, &e);
  return true;
}

/* The surrogate half an escape \uXXXX at s stands for: 1 high, 2 low, 0 none. */
static int surrogate(const char *s, const char *end) {
  if (end - s < 6 || s[0] != '\\' || s[1] != 'u' || (s[2] | 0x20) != 'd') return 0;
  char c = (char)(s[3] | 0x20);
  return c >= '8' && c <= 'b' ? 1 : (c >= 'c' && c <= 'f') ? 2 : 0;
}

/* A copy of the JSON text p[0..n) with every \u0000 escape made \ufffd, and,
 * with lone_too, every surrogate escape without its other half (an upstream
 * that split a pair across two events) (NULL without memory). cJSON's strings
 * end at a NUL: an answer holding U+0000 was cut there, silently; and it
 * refuses a lone surrogate, which failed the whole stream. U+FFFD keeps the
 * rest of the text. */
static char *escapes_replaced(const char *p, size_t n, bool lone_too) {
  char *copy = malloc(n);
  if (!copy) return NULL;
  memcpy(copy, p, n);
  const char *end = copy + n;
  for (size_t i = 0; i + 1 < n; i++) {
    if (copy[i] != '\\') continue;
    if (copy[i + 1] == 'u' && i + 6 <= n && !memcmp(copy + i + 2, "0000", 4)) memcpy(copy + i + 2, "fffd", 4);
    int h = lone_too ? surrogate(copy + i, end) : 0;
    if (h == 1 && surrogate(copy + i + 6, end) == 2) {
      i += 11; /* a pair */
      continue;
    }
    if (h) memcpy(copy + i + 2, "fffd", 4);
    i++; /* the escaped character is no escape itself (JSON's \\u0000 is text) */
  }
  return copy;
}

/* Whether the backslash at i escapes (an even run of backslashes before it). */
static bool escaping(const char *p, size_t i) {
  size_t k = 0;
  while (k < i && p[i - 1 - k] == '\\') k++;
  return k % 2 == 0;
}

char *sl__surrogates_join(sl__surr_t *st, const char *p, size_t n, size_t *out_n) {
  if (!st->held[0] && !memmem(p, n, "\\u", 2)) return NULL; /* most events: no escape at all */
  /* a string of this event that opens with a low half, after the high half
   * held from the last one: the pair whole again */
  size_t low = n;
  if (st->held[0])
    for (size_t i = 0; i + 7 <= n && low == n; i++)
      if (p[i] == '"' && !(i > 0 && p[i - 1] == '\\' && escaping(p, i - 1)) &&
          surrogate(p + i + 1, p + n) == 2 && escaping(p, i + 1))
        low = i + 1;
  /* a string that closes on a high half: held for the next event */
  size_t high = n;
  for (size_t i = n; i-- > 6 && high == n;)
    if (p[i] == '"' && surrogate(p + i - 6, p + n) == 1 && escaping(p, i - 6)) high = i - 6;
  if (low == n && high == n) {
    st->held[0] = '\0'; /* a half that found no other: dropped, as it was no text */
    return NULL;
  }
  char *out = malloc(n + 6);
  if (!out) return NULL;
  size_t k = 0;
  char next[7] = "";
  if (high < n) memcpy(next, p + high, 6);
  for (size_t i = 0; i < n; i++) {
    if (i == low) {
      memcpy(out + k, st->held, 6);
      k += 6;
    }
    if (i == high) {
      i += 5; /* the held half leaves this event */
      continue;
    }
    out[k++] = p[i];
  }
  memcpy(st->held, next, sizeof st->held);
  *out_n = k;
  return out;
}

cJSON *sl__parse_json(const char *p, size_t n, bool numbers_as_written) {
  /* a raw NUL is no JSON (a string's control characters are escaped), and
   * cJSON would end the string there: the answer cut short, silently */
  if (memchr(p, '\0', n)) return NULL;
  char *fixed = memmem(p, n, "\\u0000", 6) ? escapes_replaced(p, n, false) : NULL;
  const char *src = fixed ? fixed : p;
  cJSON *j = sl_json_parse_whole(src, n, numbers_as_written);
  if (!j && (memmem(src, n, "\\ud", 3) || memmem(src, n, "\\uD", 3))) {
    char *again = escapes_replaced(src, n, true);
    free(fixed);
    src = fixed = again;
    j = again ? sl_json_parse_whole(src, n, numbers_as_written) : NULL;
  }
  free(fixed);
  return j;
}

bool sl__usage_count(const cJSON *v, int *out) {
  if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= SL_MAX_USAGE_TOKENS) ||
      v->valuedouble != floor(v->valuedouble))
    return false;
  *out = (int)v->valuedouble;
  return true;
}

bool sl__upstream_retryable(int status) {
  /* what the official SDKs retry (408, 409, 429, 5xx), and a redirect: sluice
   * follows none, so the backend's base_url is wrong and another may serve */
  return (status >= 300 && status < 400) || status == 408 || status == 409 || status == 429 ||
         status >= 500;
}

int sl__call_bad_event(sl_call_t *c, const char *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n') {
      sl__call_fail(c, SL_EUPSTREAM, 502, true, "upstream_error",
                    "upstream sent a stream event whose data is not JSON");
      return 1;
    }
  return 0; /* an empty data line: nothing to do */
}
