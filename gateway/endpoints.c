/* Request routing by method and path, the small endpoints (health, readiness,
 * models, metrics, explain, reload), and the error/metrics helpers every
 * endpoint shares. */
#include "codec_anthropic.h"
#include "codec_responses.h"
#include "dialect.h"
#include "gateway.h"
#include "sl_err.h"
#include "sl_held.h"
#include "sl_log.h"
#include "sl_str.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void sl_gw_error(sl_conn_t *c, int status, const char *type, const char *code,
                 const char *message, const char *request_id, const char *backend,
                 const char *rule) {
  sl_gw_error_dialect(c, &sl_dialect_openai, status, type, code, message, request_id, backend,
                      rule);
}

/* A name as a header value: bytes past ASCII, DEL and '%' percent-encoded
 * ("défaut" → "d%C3%A9faut"; clients read header bytes as Latin-1). */
static const char *header_name(const char *s, char *buf, size_t cap) {
  if (!s) return "none";
  const unsigned char *u = (const unsigned char *)s;
  size_t i = 0;
  while (u[i] && u[i] < 0x7F && u[i] != '%') i++;
  if (!u[i]) return s;
  size_t o = 0;
  for (i = 0; u[i] && o + 4 <= cap; i++) {
    if (u[i] < 0x7F && u[i] != '%') buf[o++] = (char)u[i];
    else {
      buf[o++] = '%';
      buf[o++] = "0123456789ABCDEF"[u[i] >> 4];
      buf[o++] = "0123456789ABCDEF"[u[i] & 15];
    }
  }
  buf[o] = '\0';
  return buf;
}

void sl_gw_route_headers(char *out, size_t cap, const char *request_id, const char *backend,
                         const char *rule, const char *extra) {
  /* the id again under the names the SDKs read into _request_id (OpenAI's
   * x-request-id, Anthropic's request-id): what a user quotes is the ledger's */
  const char *id = request_id ? request_id : "none";
  char b[3 * 256 + 1], r[3 * 256 + 1]; /* names are at most 256 bytes */
  sl_cat(out, cap, "x-sluice-request-id: ", id, "\r\nx-request-id: ", id, "\r\nrequest-id: ", id,
         "\r\nx-sluice-backend: ", header_name(backend, b, sizeof b), "\r\nx-sluice-rule: ",
         header_name(rule, r, sizeof r), "\r\n", extra ? extra : "", (char *)NULL);
}

const char *sl_gw_data_class(const sl_http_req_t *r, char *buf, size_t cap) {
  if (!sl_http_header(r, "x-sluice-data-class")) return NULL; /* not sent */
  const char *v = sl_http_header_all(r, "x-sluice-data-class", buf, cap);
  return v ? v : "restricted"; /* too long to read: fail closed */
}

/* An error in the dialect's shape, with the route headers and `extra` ones. */
static void respond_error(sl_conn_t *c, const sl_dialect_ops_t *dia, int status, const char *type,
                          const char *code, const char *param, const char *message,
                          const char *request_id, const char *backend, const char *rule,
                          const char *extra) {
  sl_buf_t b;
  sl_buf_init(&b, 1 << 16);
  dia->error(&b, status, type, code, param, message);
  char h[768];
  sl_gw_route_headers(h, sizeof h, request_id, backend, rule, extra);
  sl_http_respond(c, status, "application/json", h, b.data ? b.data : "", b.len);
  sl_buf_free(&b);
}

void sl_gw_error_dialect(sl_conn_t *c, const sl_dialect_ops_t *dia, int status, const char *type,
                         const char *code, const char *message, const char *request_id,
                         const char *backend, const char *rule) {
  respond_error(c, dia, status, type, code, NULL, message, request_id, backend, rule,
                status == 429 || status == 503 ? "Retry-After: 1\r\n" : NULL);
}

/* The dialect of a chat endpoint's path; NULL for any other path. */
static const sl_dialect_ops_t *chat_dialect(const char *p) {
  if (!strcmp(p, "/v1/chat/completions") || !strcmp(p, "/chat/completions")) return &sl_dialect_openai;
  if (!strcmp(p, "/v1/responses") || !strcmp(p, "/responses")) return &sl_dialect_responses;
  if (!strcmp(p, "/v1/messages") && &sl_dialect_anthropic != NULL) return &sl_dialect_anthropic;
  return NULL;
}

/* Monitoring's endpoints: liveness, readiness, the metrics scrape. */
static bool monitoring_path(const char *p) {
  return !strcmp(p, "/healthz") || !strcmp(p, "/readyz") || !strcmp(p, "/metrics");
}

/* One answered request in sluice_requests_total; its backend label into bl. */
static void count_answer(sl_gw_t *gw, int status, const char *backend, char bl[140]) {
  char lab[300], st[24];
  sl_itoa(status, st);
  sl_metrics_label(lab, sizeof lab, "status", st);
  sl_metrics_label(bl, 140, "backend", backend);
  size_t n = strlen(lab);
  sl_cat(lab + n, sizeof lab - n, ",", bl, (char *)NULL);
  sl_metrics_add(gw->metrics, "sluice_requests_total", lab, 1);
}

/* A request to a chat endpoint refused before its body was read (malformed
 * HTTP, 408, 413, 431, a web page's Origin, a wrong method): its ledger row
 * (one per chat request), nothing read or sent. */
static void ledger_rejected(sl_gw_t *gw, const char *path, const char *id, int status) {
  if (!gw->ledger || !chat_dialect(path)) return;
  sl_policy_t *pol = sl_gw_policy(gw);
  sl_ledger_row_t row = {.kind = SL_LEDGER_REQUEST, .request_id = id,
                         .policy_version = sl_policy_version(pol), .level = "unclassified",
                         .http_status = status, .status = "rejected"};
  int rc = sl_gw_ledger_append(gw, &row, NULL, NULL);
  if (rc) SL_ERROR("req %s: ledger row refused: %s", id, sl_strerror(rc));
  sl_policy_unref(pol);
}

void sl_gw_protocol_error(int status, const char *message, const char *path, char *headers, size_t cap,
                          sl_buf_t *body, void *data) {
  sl_gw_t *gw = data;
  const sl_dialect_ops_t *dia = !strncmp(path, "/v1/messages", 12) ? &sl_dialect_anthropic : &sl_dialect_openai;
  /* a refusal at the HTTP layer (413, 431, 408, malformed HTTP) is a request
   * answered too: counted like any (no backend; not in the latency histogram) */
  char bl[140];
  count_answer(gw, status, "none", bl);
  char id[SL_GW_REQ_ID_MAX], code[16];
  sl_gw_request_id(gw, id);
  if (atomic_load_explicit(&gw->sh->access_log, memory_order_relaxed))
    SL_INFO("access %s - %.200s %d backend=none rule=none tenant=- (%s)", id, path, status, message);
  ledger_rejected(gw, path, id, status);
  sl_gw_route_headers(headers, cap, id, NULL, NULL, NULL);
  sl_cat(code, sizeof code, "http_", (char *)NULL);
  sl_itoa(status, code + 5);
  dia->error(body, status, status == 408 ? "timeout" : "invalid_request_error", code, NULL, message);
}

/* A name from the config (a backend, rule or tenant may hold spaces, '=' or
 * quotes) as one field of the access line: as it is when it is a plain word,
 * else in double quotes with '"' and '\\' escaped (cut to fit). */
static const char *log_value(char *out, size_t cap, const char *v) {
  bool plain = *v != '\0';
  for (const char *p = v; *p && plain; p++) plain = (unsigned char)*p > ' ' && *p != '=' && *p != '"' && *p != '\\';
  if (plain) return v;
  size_t n = 0;
  out[n++] = '"';
  for (const char *p = v; *p && n + 4 < cap; p++) {
    if (*p == '"' || *p == '\\') out[n++] = '\\';
    out[n++] = (unsigned char)*p < ' ' ? '?' : *p;
  }
  out[n++] = '"';
  out[n] = '\0';
  return out;
}

void sl_gw_count(sl_gw_t *gw, const sl_http_req_t *r, const char *req_id, int status,
                 const char *backend, const char *rule, const char *tenant) {
  char bl[140];
  double secs = (double)(uv_hrtime() - r->t_start_ns) / 1e9;
  count_answer(gw, status, backend, bl);
  sl_metrics_observe(gw->metrics, "sluice_request_duration_seconds", bl, secs);
  if (rule) {
    char rl[140];
    sl_metrics_label(rl, sizeof rl, "rule", rule);
    sl_metrics_add(gw->metrics, "sluice_route_requests_total", rl, 1);
  }
  if (atomic_load_explicit(&gw->sh->access_log, memory_order_relaxed)) {
    char b[300], ru[300], te[300];
    SL_INFO("access %s %s %.200s %d %.1f ms backend=%s rule=%s tenant=%s bytes_in=%zu", req_id,
            r->method, r->path, status, secs * 1e3, log_value(b, sizeof b, backend),
            log_value(ru, sizeof ru, rule ? rule : "none"), log_value(te, sizeof te, tenant ? tenant : "-"),
            r->bytes_in);
  }
}

void sl_gw_request_id(sl_gw_t *gw, char out[SL_GW_REQ_ID_MAX]) {
  uint64_t n = ++gw->seq * gw->sh->n_workers + gw->index; /* unique across workers */
  memcpy(out, "req_", 4);
  size_t k = 4 + sl_hex((uint32_t)time(NULL), 8, out + 4);
  k += sl_hex(gw->sh->boot, 8, out + k);
  sl_hex(n, 4, out + k);
}

/* A short endpoint's answer in sluice_requests_total and the latency
 * histogram, unless it answers monitoring (GET /healthz, /readyz, /metrics): a
 * liveness probe or a scrape every few seconds would show as traffic and pull
 * the latency figures down. */
static void count_short(sl_gw_t *gw, const sl_http_req_t *r, const char *req_id, int status) {
  bool probe = (!strcmp(r->method, "GET") || !strcmp(r->method, "HEAD")) && monitoring_path(r->path);
  if (!probe) sl_gw_count(gw, r, req_id, status, "none", NULL, NULL);
}

static void simple(sl_gw_t *gw, sl_conn_t *c, sl_http_req_t *r, int status, const char *ctype,
                   const char *body, size_t len) {
  char h[200];
  char id[SL_GW_REQ_ID_MAX];
  sl_gw_request_id(gw, id);
  sl_gw_route_headers(h, sizeof h, id, NULL, NULL, NULL);
  sl_http_respond(c, status, ctype, h, body, len);
  count_short(gw, r, id, status);
  sl_http_end(c);
}

/* An error answer to a short endpoint, in the dialect's shape, about the
 * request member `param` (or NULL), with `extra` headers; counted, and the
 * request ended. */
static void err_end_param(sl_gw_t *gw, sl_conn_t *c, sl_http_req_t *r, const sl_dialect_ops_t *dia,
                          int status, const char *type, const char *code, const char *param,
                          const char *msg, const char *extra) {
  char id[SL_GW_REQ_ID_MAX];
  sl_gw_request_id(gw, id);
  respond_error(c, dia, status, type, code, param, msg, id, NULL, NULL, extra);
  count_short(gw, r, id, status);
  ledger_rejected(gw, r->path, id, status);
  sl_http_end(c);
}

static void err_end_as(sl_gw_t *gw, sl_conn_t *c, sl_http_req_t *r, const sl_dialect_ops_t *dia,
                       int status, const char *type, const char *code, const char *msg,
                       const char *extra) {
  err_end_param(gw, c, r, dia, status, type, code, NULL, msg, extra);
}

static void err_end(sl_gw_t *gw, sl_conn_t *c, sl_http_req_t *r, int status, const char *type,
                    const char *code, const char *msg) {
  err_end_as(gw, c, r, &sl_dialect_openai, status, type, code, msg,
             status == 429 || status == 503 ? "Retry-After: 1\r\n" : NULL);
}

const char *sl_gw_client_token(const sl_http_req_t *r) {
  const char *a = sl_http_header(r, "authorization");
  if (a && !strncasecmp(a, "Bearer", 6) && (a[6] == ' ' || a[6] == '\t')) {
    a += 6;
    while (*a == ' ' || *a == '\t') a++; /* (any run of spaces or tabs: RFC 9110, 11.4) */
    return a;
  }
  return sl_http_header(r, "x-api-key");
}

/* With client keys configured, the model list and explain answer only to one
 * of them (explain would otherwise show anyone the rules and what the
 * classifier finds in any text): false after a 401 in the caller's dialect. */
static bool authorized(sl_gw_t *gw, sl_conn_t *c, sl_http_req_t *r) {
  sl_policy_t *pol = sl_gw_policy(gw);
  const sl_config_t *cfg = sl_policy_config(pol);
  const char *tok = sl_gw_client_token(r);
  bool ok = !cfg->n_keys || (tok && sl_config_find_key(cfg, tok, strlen(tok)));
  sl_policy_unref(pol);
  if (!ok)
    err_end_as(gw, c, r, sl_http_header(r, "anthropic-version") ? &sl_dialect_anthropic : &sl_dialect_openai,
               401, "authentication_error", "invalid_api_key",
               "missing or unknown API key (Authorization: Bearer ... or x-api-key)", NULL);
  return ok;
}

/* The model objects clients may name: "auto" (the policy routes), each model of
 * a backend as "backend/model", and a backend without a model list by its
 * name. cJSON escapes the names, which the config takes as any string. The
 * Anthropic SDK (it sends anthropic-version) gets its own shape. */
static cJSON *model_object(const char *id, const char *owner, bool anth) {
  cJSON *o = cJSON_CreateObject();
  bool ok = o && (anth ? cJSON_AddStringToObject(o, "type", "model") &&
                             cJSON_AddStringToObject(o, "id", id) &&
                             cJSON_AddStringToObject(o, "display_name", id) &&
                             cJSON_AddStringToObject(o, "created_at", "1970-01-01T00:00:00Z")
                       : cJSON_AddStringToObject(o, "id", id) &&
                             cJSON_AddStringToObject(o, "object", "model") &&
                             cJSON_AddNumberToObject(o, "created", 0) &&
                             cJSON_AddStringToObject(o, "owned_by", owner));
  if (!ok) {
    cJSON_Delete(o);
    o = NULL;
  }
  return o;
}

/* Adds the model `id` unless only `want` is asked for; false when out of memory. */
static bool add_model(cJSON *into, const char *want, const char *id, const char *owner, bool anth) {
  if (want && strcmp(want, id)) return true;
  cJSON *o = model_object(id, owner, anth);
  if (o && cJSON_AddItemToArray(into, o)) return true;
  cJSON_Delete(o);
  return false;
}

/* Every model object, or only the one whose id is `want` (NULL: all); false
 * when out of memory. */
static bool list_models(const sl_config_t *cfg, const char *want, bool anth, cJSON *into) {
  if (!add_model(into, want, "auto", "sluice", anth)) return false;
  char id[1024];
  for (size_t i = 0; i < cfg->n_backends; i++) {
    const sl_backend_cfg_t *bk = &cfg->backends[i];
    if ((bk->kind == SL_BK_LOCAL || !bk->n_models) && !add_model(into, want, bk->name, bk->name, anth))
      return false;
    for (size_t m = 0; m < bk->n_models; m++) {
      sl_cat(id, sizeof id, bk->name, "/", bk->models[m].name, (char *)NULL);
      if (!add_model(into, want, id, bk->name, anth)) return false;
    }
  }
  return true;
}

/* GET /v1/models, and GET /v1/models/{id} (`id` set): one model or a 404. */
static void models(sl_gw_t *gw, sl_conn_t *c, sl_http_req_t *r, const char *id) {
  bool anth = sl_http_header(r, "anthropic-version") && &sl_dialect_anthropic != NULL;
  sl_policy_t *pol = sl_gw_policy(gw);
  cJSON *list = cJSON_CreateObject(), *data = cJSON_CreateArray();
  bool ok = list && data && (anth || cJSON_AddStringToObject(list, "object", "list")) &&
            cJSON_AddItemToObject(list, "data", data);
  if (!ok) cJSON_Delete(data);
  ok = ok && list_models(sl_policy_config(pol), id, anth, data);
  int n = ok ? cJSON_GetArraySize(data) : 0;
  if (ok && anth && !id) {
    cJSON *first = cJSON_GetObjectItem(cJSON_GetArrayItem(data, 0), "id");
    cJSON *last = cJSON_GetObjectItem(cJSON_GetArrayItem(data, n - 1), "id");
    ok = cJSON_AddBoolToObject(list, "has_more", 0) &&
         cJSON_AddStringToObject(list, "first_id", first ? first->valuestring : "") &&
         cJSON_AddStringToObject(list, "last_id", last ? last->valuestring : "");
  }
  char *text = !ok || (id && !n) ? NULL : cJSON_PrintUnformatted(id ? cJSON_GetArrayItem(data, 0) : list);
  if (text)
    simple(gw, c, r, 200, "application/json", text, strlen(text));
  else if (ok)
    err_end_as(gw, c, r, anth ? &sl_dialect_anthropic : &sl_dialect_openai, 404,
               "invalid_request_error", "model_not_found",
               "no such model (GET /v1/models lists them)", NULL);
  else
    err_end_as(gw, c, r, anth ? &sl_dialect_anthropic : &sl_dialect_openai, 500, "server_error",
               "encode_failed", "could not list models", NULL);
  cJSON_free(text);
  cJSON_Delete(list);
  sl_policy_unref(pol);
}

static void metrics(sl_gw_t *gw, sl_conn_t *c, sl_http_req_t *r) {
  /* key ids, spend and rule names: with auth.metrics_keys, for its keys (and
   * the admin keys) only */
  sl_policy_t *pol = sl_gw_policy(gw);
  const char *tok = sl_gw_client_token(r);
  if (!sl_config_may_read_metrics(sl_policy_config(pol), tok, tok ? strlen(tok) : 0)) {
    sl_policy_unref(pol);
    err_end(gw, c, r, tok ? 403 : 401, tok ? "permission_error" : "authentication_error", "metrics_key_required",
            "a metrics key (auth.metrics_keys) or an admin key is required");
    return;
  }
  /* every worker's server and requests (their counters are read racily: a
   * scrape is a moment's picture anyway) */
  double open = 0, in = 0, out = 0, inflight = 0, refused = 0, send_timeouts = 0;
  for (unsigned i = 0; i < gw->sh->n_workers; i++) {
    const sl_gw_t *w = &gw->sh->workers[i];
    if (!w->srv) continue;
    const sl_server_stats_t *st = sl_server_stats(w->srv);
    open += (double)st->connections_open;
    refused += (double)st->rejected_connections;
    send_timeouts += (double)st->send_timeouts;
    in += (double)st->bytes_in;
    out += (double)st->bytes_out;
    inflight += w->inflight;
  }
  sl_metrics_set(gw->metrics, "sluice_open_connections", "", open);
  sl_metrics_set(gw->metrics, "sluice_refused_connections_total", "", refused);
  sl_metrics_set(gw->metrics, "sluice_client_bytes_in_total", "", in);
  sl_metrics_set(gw->metrics, "sluice_client_bytes_out_total", "", out);
  sl_metrics_set(gw->metrics, "sluice_inflight_requests", "", inflight);
  sl_metrics_set(gw->metrics, "sluice_send_timeouts_total", "", send_timeouts);
  sl_metrics_set(gw->metrics, "sluice_held_answer_bytes", "", (double)sl_held_now());
  if (gw->ledger) {
    sl_ledger_stats_t ls;
    sl_ledger_stats(gw->ledger, &ls);
    sl_metrics_set(gw->metrics, "sluice_ledger_rows_total", "outcome=\"committed\"", (double)ls.rows);
    sl_metrics_set(gw->metrics, "sluice_ledger_rows_total", "outcome=\"failed\"", (double)ls.failed);
    sl_metrics_set(gw->metrics, "sluice_ledger_rows_total", "outcome=\"refused_busy\"", (double)ls.busy);
    sl_metrics_set(gw->metrics, "sluice_ledger_queue_depth", "", (double)ls.queue_depth);
  }
  const sl_config_t *cfg = sl_policy_config(pol);
  for (size_t i = 0; i < cfg->n_backends; i++) {
    int running, queued;
    if (!sl_backends_load(gw->backends, &cfg->backends[i], &running, &queued)) continue;
    char lab[200], full[240];
    sl_metrics_label(lab, sizeof lab, "backend", cfg->backends[i].name);
    sl_cat(full, sizeof full, lab, ",state=\"running\"", (char *)NULL);
    sl_metrics_set(gw->metrics, "sluice_local_sequences", full, running);
    sl_cat(full, sizeof full, lab, ",state=\"queued\"", (char *)NULL);
    sl_metrics_set(gw->metrics, "sluice_local_sequences", full, queued);
  }
  sl_policy_unref(pol);
  sl_buf_t b;
  sl_buf_init(&b, 16 << 20);
  if (sl_metrics_render(gw->metrics, &b)) err_end(gw, c, r, 500, "server_error", "metrics", "metrics too large");
  else simple(gw, c, r, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
  sl_buf_free(&b);
}

static void readyz(sl_gw_t *gw, sl_conn_t *c, sl_http_req_t *r) {
  sl_policy_t *pol = sl_gw_policy(gw);
  const sl_config_t *cfg = sl_policy_config(pol);
  char msg[200] = "";
  for (size_t i = 0; i < cfg->n_backends && !msg[0]; i++)
    if (cfg->backends[i].kind == SL_BK_LOCAL && !sl_backends_ready(gw->backends, &cfg->backends[i]))
      snprintf(msg, sizeof msg, "local backend \"%s\" is not ready", cfg->backends[i].name);
  char body[200];
  int n = snprintf(body, sizeof body, "{\"status\":\"ready\",\"policy_version\":\"%s\"}",
                   sl_policy_version(pol));
  sl_policy_unref(pol);
  /* under ledger.on_failure "reject", a ledger that cannot record refuses every
   * request that must be recorded: a balancer should send them elsewhere */
  bool ledger_down = gw->ledger && sl_ledger_rejects_on_failure(gw->ledger) && sl_ledger_failing(gw->ledger);
  if (msg[0]) err_end(gw, c, r, 503, "not_ready", "backend_not_ready", msg);
  else if (gw->draining) err_end(gw, c, r, 503, "not_ready", "shutting_down", "shutting down");
  else if (ledger_down)
    err_end(gw, c, r, 503, "not_ready", "ledger_unavailable",
            "the ledger cannot record rows now (its writes fail or it is full) and ledger.on_failure is "
            "reject: requests that must be recorded are refused");
  else simple(gw, c, r, 200, "application/json", body, (size_t)n);
}

/* An Anthropic Messages body (the SDK's anthropic-version header, or a
 * top-level "system", which OpenAI's shape has not) is read as one. */
static bool anthropic_body(const sl_http_req_t *r) {
  return sl_http_header(r, "anthropic-version") || sl_anthropic_shaped(r->body.data, r->body.len);
}

static void explain(sl_gw_t *gw, sl_conn_t *c, sl_http_req_t *r) {
  char err[300];
  sl_chat_req_t req;
  const sl_dialect_ops_t *dia = anthropic_body(r)                              ? &sl_dialect_anthropic
                                : sl_responses_shaped(r->body.data, r->body.len) ? &sl_dialect_responses
                                                                                 : &sl_dialect_openai;
  int rc = dia->decode(r->body.data, r->body.len, &req, err, sizeof err);
  if (rc) { /* (named as the chat endpoints name it: "param": "max_tokens") */
    char param[128];
    err_end_param(gw, c, r, &sl_dialect_openai, 400, "invalid_request_error", "invalid_request",
                  rc == SL_EINVAL ? sl_gw_error_param(err, param, sizeof param) : NULL, err, NULL);
    return;
  }
  sl_policy_t *pol = sl_gw_policy(gw);
  sl_class_t cls;
  char dc[512];
  sl_router_classify(sl_policy_router(pol), &req, sl_gw_data_class(r, dc, sizeof dc), &cls);
  sl_decision_t d;
  memset(&d, 0, sizeof d);
  /* The caller's key, when given, makes tenant rules explainable (nothing is sent). */
  const sl_config_t *cfg = sl_policy_config(pol);
  const char *tok = sl_gw_client_token(r);
  const sl_key_cfg_t *key = tok ? sl_config_find_key(cfg, tok, strlen(tok)) : NULL;
  const char *tenant = key ? key->tenant : NULL;
  /* the prompt tokens: the policy's own estimate, as for a real request; the
   * rate counts this request too, as a real one would be counted */
  sl_req_meta_t meta = {.tenant = tenant, .key_id = key ? key->id : NULL,
                        .header = sl_http_header_lookup, .header_ctx = r,
                        .tenant_rpm = sl_rate_count(gw->rate, tenant, sl_rate_now_ms()) + 1};
  sl_policy_decide(pol, &req, &cls, &meta, &d);
  char *json = sl_policy_explain_json(pol, &req, &cls, &d, true);
  if (json) simple(gw, c, r, 200, "application/json", json, strlen(json));
  else err_end(gw, c, r, 500, "server_error", "explain_failed", "could not explain");
  free(json);
  sl_class_free(&cls);
  sl_chat_req_free(&req);
  sl_policy_unref(pol);
}

static void admin_reload(sl_gw_t *gw, sl_conn_t *c, sl_http_req_t *r) {
  sl_policy_t *pol = sl_gw_policy(gw);
  const sl_config_t *cfg = sl_policy_config(pol);
  const char *tok = sl_gw_client_token(r);
  bool admin = cfg->n_admin_keys && tok && sl_config_is_admin(cfg, tok, strlen(tok));
  bool any_keys = cfg->n_admin_keys > 0;
  sl_policy_unref(pol);
  if (!admin) { /* no credentials at all: 401, as for the other endpoints; a wrong key: 403 */
    err_end(gw, c, r, tok ? 403 : 401, tok ? "permission_error" : "authentication_error",
            "admin_key_required", any_keys ? "an admin key is required" : "no admin keys are configured");
    return;
  }
  char why[600];
  int rc = sl_gw_reload(gw, false, why, sizeof why);
  if (rc) {
    err_end(gw, c, r, 422, "invalid_request_error", "policy_invalid", why);
    return;
  }
  char body[900];
  pol = sl_gw_policy(gw);
  /* (why: the start-only keys the new file changes, plain words) */
  int n = snprintf(body, sizeof body, "{\"status\":\"reloaded\",\"policy_version\":\"%s\"%s%s%s}",
                   sl_policy_version(pol), why[0] ? ",\"warning\":\"" : "", why, why[0] ? "\"" : "");
  sl_policy_unref(pol);
  simple(gw, c, r, 200, "application/json", body, (size_t)n);
}

/* GET /v1/models/{id}: the id may come percent-encoded ("mock%2Fbench"). */
static void model_by_id(sl_gw_t *gw, sl_conn_t *c, sl_http_req_t *r, const char *enc) {
  char id[1024];
  size_t n = 0;
  for (const char *s = enc; *s && n + 1 < sizeof id; s++) {
    int hi, lo;
    /* (%00 stays as written: a NUL would end the id early, "auto%00x" is no "auto") */
    if (*s == '%' && (hi = sl_hexval(s[1])) >= 0 && (lo = sl_hexval(s[2])) >= 0 && (hi | lo)) {
      id[n++] = (char)(hi << 4 | lo);
      s += 2;
    } else {
      id[n++] = *s;
    }
  }
  id[n] = '\0';
  models(gw, c, r, id);
}

/* 405 with the methods the path takes (RFC 9110 wants the Allow header), in
 * the shape of the endpoint's dialect (the Messages API's for /v1/messages). */
static void not_allowed(sl_gw_t *gw, sl_conn_t *c, sl_http_req_t *r, const sl_dialect_ops_t *dia,
                        const char *allow) {
  char extra[64], msg[64];
  sl_cat(extra, sizeof extra, "Allow: ", allow, "\r\n", (char *)NULL);
  sl_cat(msg, sizeof msg, "use ", allow, (char *)NULL);
  err_end_as(gw, c, r, dia, 405, "invalid_request_error", "method_not_allowed", msg, extra);
}

void sl_gw_handle(sl_conn_t *c, sl_http_req_t *r, void *data) {
  sl_gw_t *gw = data;
  /* one trailing slash is the same path ("/v1/chat/completions/", as some
   * clients build it from a base URL) */
  size_t pl = strlen(r->path);
  if (pl > 1 && r->path[pl - 1] == '/' && r->path[pl - 2] != '/') r->path[pl - 1] = '\0';
  const char *m = r->method, *p = r->path;
  /* HEAD is GET without the body (the server leaves the body out) */
  bool get = !strcmp(m, "GET") || !strcmp(m, "HEAD"), post = !strcmp(m, "POST");
  const sl_dialect_ops_t *chat = chat_dialect(p);
  /* A web page's request (browsers send Origin): sluice answers no CORS
   * preflight, so a page can only send what needs none — a POST as
   * text/plain or a form, which a gateway without auth would serve, spending
   * its owner's money on any site's behalf. Servers and SDKs send no Origin. */
  if (post && sl_http_header(r, "origin")) {
    err_end_as(gw, c, r, chat ? chat : &sl_dialect_openai, 403, "permission_error", "cross_origin_refused",
               "requests from web pages (an Origin header) are not served: sluice answers no CORS "
               "preflight; call it from a server",
               NULL);
    return;
  }
  if (chat) {
    if (post) sl_gw_chat(gw, c, r, chat);
    else not_allowed(gw, c, r, chat, "POST");
    return;
  }
  bool get_path = monitoring_path(p) || !strcmp(p, "/v1/models") || !strcmp(p, "/models") ||
                  !strncmp(p, "/v1/models/", 11) || !strncmp(p, "/models/", 8);
  bool post_path = !strcmp(p, "/v1/explain") || !strcmp(p, "/admin/reload");
  if ((get_path && !get) || (post_path && !post)) {
    not_allowed(gw, c, r, &sl_dialect_openai, get_path ? "GET, HEAD" : "POST");
    return;
  }
  if (!strcmp(p, "/healthz")) simple(gw, c, r, 200, "application/json", "{\"status\":\"ok\"}", 15);
  else if (!strcmp(p, "/readyz")) readyz(gw, c, r);
  else if (!strcmp(p, "/metrics")) metrics(gw, c, r);
  else if ((get_path || !strcmp(p, "/v1/explain")) && !authorized(gw, c, r)) return;
  else if (!strcmp(p, "/v1/models") || !strcmp(p, "/models")) models(gw, c, r, NULL);
  else if (get_path) model_by_id(gw, c, r, p + (p[1] == 'v' ? 11 : 8));
  else if (!strcmp(p, "/v1/explain")) explain(gw, c, r);
  else if (!strcmp(p, "/admin/reload")) admin_reload(gw, c, r);
  else if (!strncmp(p, "/v1/messages/", 13) || sl_http_header(r, "anthropic-version"))
    err_end_as(gw, c, r, &sl_dialect_anthropic, 404, "not_found_error", "not_found",
               "no such endpoint (sluice serves POST /v1/messages; token counting and batches "
               "are not served)", NULL);
  else if (!strncmp(p, "/v1/responses/", 14) || !strncmp(p, "/responses/", 11))
    err_end(gw, c, r, 404, "invalid_request_error", "not_found",
            "no such endpoint: sluice stores no responses (nothing to retrieve, cancel or list); "
            "POST /v1/responses with the whole conversation in input");
  else
    err_end(gw, c, r, 404, "invalid_request_error", "not_found",
            "no such endpoint: sluice serves POST /v1/chat/completions, POST /v1/responses, POST /v1/messages "
            "and GET /v1/models");
}
