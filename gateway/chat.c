/* A chat request's life: decode -> classify -> decide -> try the route chain ->
 * respond (JSON or SSE). State moves only through set_state(), which logs every
 * transition at debug level. Failover happens only before the first byte of the
 * answer reached the client; after that an upstream failure ends the stream with
 * an error event. A request the policy keeps inside never reaches an external
 * backend: the decision's chain has those steps removed, and try_step() checks
 * the location again before anything is sent. */
#include "dialect.h"
#include "gateway.h"
#include "sl_err.h"
#include "sl_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_TOOL_CALLS 64
#define MAX_ANSWER (64u << 20)

typedef enum { ST_NEW, ST_CLASSIFIED, ST_ROUTED, ST_CALLING, ST_STREAMING, ST_DONE } state_t;
static const char *state_names[] = {"new", "classified", "routed", "calling", "streaming", "done"};

typedef struct {
  sl_gw_t *gw;
  sl_conn_t *conn;
  sl_http_req_t *hreq;
  state_t state;
  const sl_dialect_ops_t *dia;
  char req_id[40];
  char cmpl_id[48];
  sl_resp_t resp;
  sl_policy_t *pol;
  sl_chat_req_t req;
  sl_class_t cls;
  bool cls_set;
  sl_decision_t dec;
  size_t step;
  sl_call_t *call;
  uv_timer_t backoff;
  bool in_cb, client_gone, headers_sent, stream, saw_busy, saw_unsupported;
  const char *backend;      /* backend of the current step */
  const char *model_out;    /* model name reported to the client */
  sl_buf_t text;            /* non-stream: the answer */
  sl_tool_acc_t tools[MAX_TOOL_CALLS];
  size_t n_tools;
  sl_buf_t out;             /* scratch for encoding */
  int status;
} job_t;

static void set_state(job_t *j, state_t s) {
  SL_DEBUG("req %s: %s -> %s", j->req_id, state_names[j->state], state_names[s]);
  j->state = s;
}

static void job_free_cb(uv_handle_t *h) {
  job_t *j = h->data;
  free(j);
}

static void job_finish(job_t *j) {
  set_state(j, ST_DONE);
  sl_gw_count(j->gw, j->status, j->backend ? j->backend : "none", j->dec.rule,
              j->hreq->t_start_ns, j->hreq->bytes_in);
  j->gw->inflight--;
  sl_http_end(j->conn);
  sl_chat_req_free(&j->req);
  if (j->cls_set) sl_class_free(&j->cls);
  sl_policy_unref(j->pol);
  sl_buf_free(&j->text);
  sl_buf_free(&j->out);
  for (size_t i = 0; i < j->n_tools; i++) sl_buf_free(&j->tools[i].args);
  uv_close((uv_handle_t *)&j->backoff, job_free_cb);
}

static void sluice_headers(job_t *j, char *h, size_t n) {
  snprintf(h, n, "x-sluice-request-id: %s\r\nx-sluice-backend: %s\r\nx-sluice-rule: %s\r\n",
           j->req_id, j->backend ? j->backend : "none", j->dec.rule ? j->dec.rule : "none");
}

static void fail_request(job_t *j, int status, const char *type, const char *code,
                         const char *msg) {
  j->status = status;
  sl_gw_error_dialect(j->conn, j->dia, status, type, code, msg, j->req_id, j->backend, j->dec.rule);
  job_finish(j);
}

/* ---- streaming to the client ---- */

static void send_stream_head(job_t *j) {
  if (j->headers_sent) return;
  j->headers_sent = true;
  j->status = 200;
  set_state(j, ST_STREAMING);
  char h[512];
  sluice_headers(j, h, sizeof h);
  sl_http_stream_begin(j->conn, 200, "text/event-stream; charset=utf-8", h);
  j->resp.model = j->model_out;
  sl_buf_reset(&j->out);
  if (!j->dia->stream_start(&j->out, &j->resp)) sl_http_stream_write(j->conn, j->out.data, j->out.len);
}

static int on_text(void *data, const char *s, size_t n) {
  job_t *j = data;
  if (j->client_gone) return 1;
  if (!j->stream) return sl_buf_append(&j->text, s, n) ? 1 : 0;
  j->in_cb = true;
  send_stream_head(j);
  sl_buf_reset(&j->out);
  if (!j->dia->stream_text(&j->out, &j->resp, s, n)) sl_http_stream_write(j->conn, j->out.data, j->out.len);
  j->in_cb = false;
  return j->client_gone ? 1 : 0;
}

static int on_tool_call(void *data, int index, const char *id, const char *name,
                        const char *args, size_t args_len) {
  job_t *j = data;
  if (j->client_gone) return 1;
  if (index < 0 || index >= MAX_TOOL_CALLS) return 0;
  if (j->stream) {
    j->in_cb = true;
    send_stream_head(j);
    sl_buf_reset(&j->out);
    if (!j->dia->stream_tool(&j->out, &j->resp, index, id, name, args, args_len))
      sl_http_stream_write(j->conn, j->out.data, j->out.len);
    j->in_cb = false;
    return j->client_gone ? 1 : 0;
  }
  while (j->n_tools <= (size_t)index) sl_buf_init(&j->tools[j->n_tools++].args, MAX_ANSWER);
  sl_tool_acc_t *t = &j->tools[index];
  if (id) snprintf(t->id, sizeof t->id, "%s", id);
  if (name) snprintf(t->name, sizeof t->name, "%s", name);
  return sl_buf_append(&t->args, args, args_len) ? 1 : 0;
}

static void on_done(void *data, const sl_result_t *res) {
  job_t *j = data;
  j->call = NULL;
  if (j->client_gone) {
    j->status = 499;
    job_finish(j);
    return;
  }
  sl_buf_reset(&j->out);
  j->resp.model = j->model_out;
  if (j->stream) {
    send_stream_head(j);
    if (!j->dia->stream_end(&j->out, &j->resp, res, j->req.include_usage))
      sl_http_stream_write(j->conn, j->out.data, j->out.len);
  } else {
    j->status = 200;
    int rc = j->dia->complete(&j->out, &j->resp, j->text.data, j->text.len, j->tools, j->n_tools, res);
    char h[512];
    sluice_headers(j, h, sizeof h);
    if (rc) {
      fail_request(j, 500, "server_error", "encode_failed", "could not encode the answer");
      return;
    }
    sl_http_respond(j->conn, 200, "application/json", h, j->out.data, j->out.len);
  }
  job_finish(j);
}

static void try_step(job_t *j);

static void on_backoff(uv_timer_t *t) { try_step(t->data); }

static void on_error(void *data, const sl_call_error_t *e) {
  job_t *j = data;
  j->call = NULL;
  char lab[200];
  sl_metrics_label(lab, sizeof lab, "backend", j->backend);
  sl_metrics_add(j->gw->metrics, "sluice_upstream_errors_total", lab, 1);
  SL_WARN("req %s: backend %s failed (%s, HTTP %d): %s", j->req_id, j->backend,
          sl_errname(e->code), e->http_status, e->message);
  if (j->client_gone) {
    j->status = 499;
    job_finish(j);
    return;
  }
  if (j->headers_sent) {
    /* Output already reached the client: end the stream with an error event. */
    sl_buf_reset(&j->out);
    if (!j->dia->stream_error(&j->out, &j->resp, e->type[0] ? e->type : "upstream_error", e->message))
      sl_http_stream_write(j->conn, j->out.data, j->out.len);
    j->status = 502;
    job_finish(j);
    return;
  }
  if (e->retryable && j->step + 1 < j->dec.n_steps) {
    /* jittered exponential backoff before the next entry of the chain */
    unsigned base = 25u << (j->step < 5 ? j->step : 5);
    unsigned delay = base / 2 + (unsigned)(rand() % (int)(base + 1));
    j->step++;
    uv_timer_start(&j->backoff, on_backoff, delay, 0);
    return;
  }
  int st = e->http_status;
  if (e->code == SL_ETIMEOUT) st = 504;
  else if (e->code == SL_EBUSY) st = 429;
  else if (st == 429) st = 429;
  else if (st >= 500 || st == 0) st = 502;
  else if (st < 400) st = 502;
  fail_request(j, st, e->type[0] ? e->type : "upstream_error", "upstream_failed", e->message);
}

static void try_step(job_t *j) {
  if (j->client_gone) {
    j->status = 499;
    job_finish(j);
    return;
  }
  sl_gw_t *gw = j->gw;
  for (; j->step < j->dec.n_steps; j->step++) {
    const sl_route_step_t *s = &j->dec.steps[j->step];
    /* Second guard for the first promise: whatever the decision says. */
    if (j->dec.keep_inside && s->backend->location == SL_LOC_EXTERNAL) {
      SL_ERROR("req %s: refusing external step %s for a keep-inside request", j->req_id,
               s->backend->name);
      continue;
    }
    if (!sl_backends_ready(gw->backends, s->backend)) {
      j->saw_busy = true;
      continue;
    }
    j->backend = s->backend->name;
    j->model_out = s->model ? s->model : s->backend->default_model ? s->backend->default_model
                                                                   : s->backend->name;
    sl_call_opts_t o = {.req = &j->req, .model = s->model, .stream = j->stream};
    sl_call_cbs_t cbs = {on_text, on_tool_call, on_done, on_error};
    int rc = sl_call_prepare(gw->backends, s->backend, &o, &cbs, j, &j->call);
    if (rc) {
      SL_WARN("req %s: backend %s: %s", j->req_id, s->backend->name, sl_strerror(rc));
      if (rc == SL_EUNSUPPORTED) j->saw_unsupported = true;
      continue;
    }
    const char *body, *dest;
    size_t len;
    sl_call_egress(j->call, &body, &len, &dest);
    if (s->backend->location == SL_LOC_EXTERNAL) {
      char lab[200];
      sl_metrics_label(lab, sizeof lab, "backend", s->backend->name);
      sl_metrics_add(gw->metrics, "sluice_egress_bytes_total", lab, (double)len);
    }
    set_state(j, ST_CALLING);
    rc = sl_call_start(j->call);
    if (rc) {
      j->call = NULL;
      if (rc == SL_EBUSY) j->saw_busy = true;
      SL_WARN("req %s: backend %s did not start: %s", j->req_id, s->backend->name, sl_strerror(rc));
      continue;
    }
    return;
  }
  j->backend = NULL;
  if (j->saw_busy)
    fail_request(j, 429, "rate_limit_error", "queue_full",
                 j->dec.keep_inside ? "the in-network backend is at capacity and the policy keeps "
                                      "this request inside the network; retry later"
                                    : "every backend of the route is at capacity; retry later");
  else if (j->saw_unsupported)
    fail_request(j, 400, "invalid_request_error", "unsupported_by_backend",
                 "no backend of this request's route can do what it asks: tools (function "
                 "calling) are not supported by the in-process engine");
  else if (j->dec.keep_inside || j->dec.reject_on_unavailable)
    fail_request(j, 503, "backend_unavailable", "kept_inside_unavailable",
                 "no in-network backend can serve this request now, and the policy keeps it "
                 "inside the network; retry later");
  else
    fail_request(j, 503, "backend_unavailable", "no_backend_available",
                 "no backend of the route could serve this request");
}

static void on_client_gone(sl_conn_t *c, void *data) {
  job_t *j = data;
  j->client_gone = true;
  if (j->call && !j->in_cb) {
    /* Not inside a backend callback: cancel now, which closes the upstream transfer. */
    sl_call_cancel(j->call);
    j->call = NULL;
    j->status = 499;
    job_finish(j);
  } else if (!j->call && uv_is_active((uv_handle_t *)&j->backoff)) {
    uv_timer_stop(&j->backoff);
    j->status = 499;
    job_finish(j);
  }
  /* Otherwise the next backend callback returns non-zero and the call ends. */
}

void sl_gw_chat(sl_gw_t *gw, sl_conn_t *c, sl_http_req_t *hr, const sl_dialect_ops_t *dia) {
  job_t *j = calloc(1, sizeof *j);
  if (!j) {
    sl_gw_error_dialect(c, dia, 500, "server_error", "out_of_memory", "out of memory", "none", NULL, NULL);
    sl_http_end(c);
    return;
  }
  j->gw = gw;
  j->dia = dia;
  j->conn = c;
  j->hreq = hr;
  j->dec.rule_index = -1;
  uv_timer_init(gw->loop, &j->backoff);
  j->backoff.data = j;
  sl_buf_init(&j->text, MAX_ANSWER);
  sl_buf_init(&j->out, MAX_ANSWER);
  gw->inflight++;
  uint64_t n = ++gw->seq;
  snprintf(j->req_id, sizeof j->req_id, "req_%08x%08llx", (unsigned)time(NULL), (unsigned long long)n);
  snprintf(j->cmpl_id, sizeof j->cmpl_id, "%s%s", dia == &sl_dialect_openai ? "chatcmpl-" : "msg_",
           j->req_id + 4);
  j->resp.id = j->cmpl_id;
  j->resp.created = (long)time(NULL);
  j->resp.block = -1;
  j->pol = sl_policy_ref(gw->policy);
  sl_http_set_abort(c, on_client_gone, j);
  const sl_config_t *cfg = sl_policy_config(j->pol);

  /* auth */
  const char *tenant = NULL, *key_id = NULL;
  if (cfg->n_keys) {
    const char *a = sl_http_header(hr, "authorization");
    const char *tok = NULL;
    if (a && !strncasecmp(a, "Bearer ", 7)) tok = a + 7;
    if (!tok) tok = sl_http_header(hr, "x-api-key");
    const sl_key_cfg_t *k = tok ? sl_config_find_key(cfg, tok, strlen(tok)) : NULL;
    if (!k) {
      fail_request(j, 401, "authentication_error", "invalid_api_key",
                   "missing or unknown API key (Authorization: Bearer ...)");
      return;
    }
    tenant = k->tenant;
    key_id = k->id;
  }

  char err[300];
  /* The body must be JSON; the Content-Type is not checked (curl -d sends a form type). */
  int rc = dia->decode(hr->body.data, hr->body.len, &j->req, err, sizeof err);
  if (rc) {
    fail_request(j, rc == SL_ENOMEM ? 500 : 400, "invalid_request_error",
                 rc == SL_EPARSE ? "invalid_json" : "invalid_request", err);
    return;
  }
  j->stream = j->req.stream;
  size_t text_bytes = 0;
  for (size_t i = 0; i < j->req.n_msgs; i++) text_bytes += strlen(j->req.msgs[i].content);
  j->resp.prompt_tokens = (int)(text_bytes / 4);

  /* classify: any failure is treated as the highest level (fail closed) */
  sl_router_classify(sl_policy_router(j->pol), &j->req, sl_http_header(hr, "x-sluice-data-class"),
                     &j->cls);
  j->cls_set = true;
  set_state(j, ST_CLASSIFIED);

  sl_req_meta_t meta = {.tenant = tenant, .key_id = key_id, .header = sl_http_header_lookup,
                        .header_ctx = hr, .prompt_tokens = (int)(text_bytes / 4),
                        .tenant_rpm = sl_rate_hit(gw->rate, tenant, sl_rate_now_ms())};
  rc = sl_policy_decide(j->pol, &j->req, &j->cls, &meta, &j->dec);
  if (rc) {
    int st = j->dec.block_status ? j->dec.block_status : 451;
    fail_request(j, st, "policy_error", "blocked_by_policy", j->dec.reason);
    return;
  }
  set_state(j, ST_ROUTED);
  try_step(j);
}
