/* A chat request's life: decode -> classify -> decide -> try the route chain ->
 * respond (JSON or SSE) -> record. State moves only through set_state(), which
 * logs every transition at debug level.
 *
 * The promises kept here:
 * - A request the policy keeps inside never reaches an external backend: the
 *   decision's chain has those steps removed, and try_step() checks the location
 *   again before anything is sent, under the request's policy and the one in force
 *   now (a reload may have learned that an address is outside).
 * - Where a rule redacts, an external step is sent the redacted copy only; if
 *   redaction fails that step is skipped. Placeholders in the answer are put back
 *   (streamed chunks included) when the rule says restore.
 * - With a ledger, nothing goes to an external backend before its egress row is
 *   recorded durably (ledger.on_failure "reject": no unrecorded egress), and the
 *   final bytes of an answer go out only after the request's row is, so an
 *   acknowledged request is always in the ledger. "Durably" is the ledger's
 *   durability: written to its pending journal ("journal", the default) or
 *   committed to SQLite ("commit"); either survives a crash of the process.
 * - Failover happens only before the first byte of the answer reached the
 *   client; after that an upstream failure ends the stream with an error event. */
#include "codec_responses.h"
#include "dialect.h"
#include "gateway.h"
#include "ledger.h"
#include "redact.h"
#include "sl_err.h"
#include "sl_held.h"
#include "sl_log.h"
#include "sl_str.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_ANSWER (64u << 20)

typedef enum { ST_NEW, ST_CLASSIFIED, ST_ROUTED, ST_LEDGER, ST_CALLING, ST_STREAMING, ST_RECORDING, ST_DONE } state_t;
static const char *state_names[] = {"new",       "classified", "routed",    "ledger",
                                    "calling",   "streaming",  "recording", "done"};

typedef struct {
  sl_gw_t *gw;
  sl_conn_t *conn;
  sl_http_req_t *hreq;
  const sl_dialect_ops_t *dia;
  state_t state;
  char req_id[SL_GW_REQ_ID_MAX];
  char cmpl_id[48];
  char *echo;       /* the Responses options the answer repeats (resp.echo) */
  bool keep_items;  /* a Responses answer's items are kept (items.h): "store" not false */
  sl_resp_t resp;
  sl_policy_t *pol;
  const sl_key_cfg_t *key;
  const char *tenant;
  sl_chat_req_t req;
  sl_chat_req_t red_req;     /* the redacted copy, made once, for external steps */
  bool red_set;
  sl_redact_map_t *map;
  char fingerprint[72], service_tier[32]; /* the upstream's, copied from the call */
  sl_restorer_t *restorer;   /* per step, when the step's answer needs restoring */
  sl_restorer_t **tool_rst;  /* the same for streamed tool arguments, by index */
  sl_restorer_t *reason_rst; /* ... and for streamed reasoning */
  int tool_last;             /* index of the last streamed tool delta, or -1 */
  sl_class_t cls;
  bool cls_set;
  sl_decision_t dec;
  size_t step;
  int step_retries;          /* retries of the current step so far */
  unsigned attempts;         /* calls made, for the backoff */
  unsigned egress_rows;      /* egress rows appended to the ledger */
  sl_call_t *call;
  uv_timer_t backoff;
  uv_timer_t keepalive;      /* a streamed answer not begun yet: see on_keepalive */
  uint64_t ka_since;         /* loop time of the last keep-alive, or of the call's start */
  int open_handles;          /* the two timers: the job is freed once both closed */
  bool http_head_sent;       /* the stream's HTTP head is out (headers_sent: its first
                                event too; a keep-alive sends the head alone) */
  bool paused; /* the call is held back until the client takes its backlog */
  bool in_cb, client_gone, headers_sent, stream, saw_unsupported, saw_too_long, saw_unredactable,
      waiting_ledger, redacted_step, want_lp;
  bool spent; /* a call that failed after its output began: what it used is charged */
  bool fresh; /* the next call goes on a new upstream connection (after SL_ESTALE) */
  bool held;  /* the answer waits for its ledger row (record(j, true)) */
  const sl_backend_cfg_t *bcfg; /* backend of the current step */
  const char *backend;
  const char *busy_backend; /* the last backend of the route that was at capacity */
  const sl_backend_cfg_t *keyless_backend; /* the last one skipped: its API key is not set */
  const char *model_out;
  char model_buf[SL_CHAT_MAX_MODEL + 1]; /* a model name is at most SL_CHAT_MAX_MODEL bytes */
  char egress_dest[256];    /* where the last bytes that left went (the REQUEST row names it) */
  char egress_sha[65];      /* SHA-256 of them (the REQUEST row carries it when sent once) */
  char prev_dest[256];      /* the two above before the call in flight: back if it */
  char prev_sha[65];        /* sends nothing (see unsent) */
  unsigned transmissions;   /* calls to external backends that started */
  sl_buf_t text;             /* non-stream: the answer */
  sl_buf_t refusal;          /* non-stream: the model's refusal, if it declined */
  sl_buf_t reasoning;        /* non-stream: the model's reasoning, if relayed */
  sl_tool_acc_t *tools;      /* non-stream tool calls, grown as they come (most
                                answers have none: no 15 KB array per request) */
  size_t n_tools;
  sl_buf_t out;              /* encoded bytes to send */
  sl_buf_t tmp;              /* restored text */
  sl_buf_t lp;               /* logprobs entries not yet sent (OpenAI JSON) */
  int status;
  sl_result_t res;
  char finish[32];
  int64_t egress_bytes;
  size_t tx_len;            /* bytes of the call in flight, counted in egress_bytes and,
                               once it is known that they left, in the metrics */
  int64_t retry_after_s;     /* > 0: Retry-After for this refusal (a spent budget) */
  int64_t retry_after_ms;    /* > 0: the upstream's own wait, also sent as retry-after-ms */
  double reserved_usd;       /* held against the key's budget until the request settles */
  bool no_retry;             /* an error that waiting does not cure (fail_request_param):
                                x-should-retry: false, which the SDKs obey */
  bool upstream_no_retry;    /* the upstream whose error is relayed said so itself */
} job_t;

static void set_state(job_t *j, state_t s) {
  SL_DEBUG("req %s: %s -> %s", j->req_id, state_names[j->state], state_names[s]);
  j->state = s;
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The owner of the items a request produces or refers to: its key, or "". */
static const char *items_owner(const job_t *j) { return j->key && j->key->id ? j->key->id : ""; }

static char *find_item(void *data, const char *id) {
  job_t *j = data;
  return sl_items_get(j->gw->sh->items, items_owner(j), id);
}

static void job_free_cb(uv_handle_t *h) {
  job_t *j = h->data;
  if (--j->open_handles == 0) free(j);
}

static void drop_restorers(job_t *j) {
  sl_restorer_free(j->restorer);
  j->restorer = NULL;
  for (size_t i = 0; j->tool_rst && i < SL_MAX_TOOL_CALLS; i++) sl_restorer_free(j->tool_rst[i]);
  free(j->tool_rst);
  j->tool_rst = NULL;
  j->tool_last = -1;
  sl_restorer_free(j->reason_rst);
  j->reason_rst = NULL;
}

/* Releases the request's budget reservation and adds what it cost (once). */
static void settle_budget(job_t *j, double cost) {
  if (j->key && j->gw->budgets) sl_ledger_budgets_settle(j->gw->budgets, j->key->id, j->reserved_usd, cost, now_ms());
  j->reserved_usd = 0;
}

/* A whole answer's tool calls, gathered so far. */
static void free_tools(job_t *j) {
  for (size_t i = 0; i < j->n_tools; i++) sl_buf_free(&j->tools[i].args);
  free(j->tools);
  j->tools = NULL;
  j->n_tools = 0;
}

static void job_free(job_t *j) {
  set_state(j, ST_DONE);
  if (j->reserved_usd > 0) settle_budget(j, 0); /* a path that wrote no row */
  j->gw->inflight--;
  sl_chat_req_free(&j->req);
  if (j->red_set) sl_chat_req_free(&j->red_req);
  drop_restorers(j);
  sl_redact_map_free(j->map);
  if (j->cls_set) sl_class_free(&j->cls);
  sl_policy_unref(j->pol);
  sl_buf_free(&j->text);
  sl_buf_free(&j->refusal);
  sl_buf_free(&j->reasoning);
  sl_buf_free(&j->out);
  sl_buf_free(&j->tmp);
  sl_buf_free(&j->lp);
  sl_buf_free(&j->resp.item_text);
  sl_buf_free(&j->resp.item_parts);
  sl_buf_free(&j->resp.item_head);
  sl_buf_free(&j->resp.items);
  free(j->echo);
  free_tools(j);
  uv_close((uv_handle_t *)&j->backoff, job_free_cb);
  uv_close((uv_handle_t *)&j->keepalive, job_free_cb);
}

/* The answer gathered so far from a call that failed before any of it reached
 * the client (a whole answer's, a stream's that a restorer still holds): gone,
 * for the next backend's answer from its start. The restorers are the next
 * step's (try_step). */
static void reset_answer(job_t *j) {
  sl_buf_reset(&j->text);
  sl_buf_reset(&j->refusal);
  sl_buf_reset(&j->reasoning);
  sl_buf_reset(&j->lp);
  free_tools(j);
  j->resp.refused = j->resp.opens_with_tool = false;
}

/* ---- cost, metrics, ledger ---- */

/* The most a routed request can cost on its chain, for its budget
 * reservation: each priced step's input at the prompt's estimated tokens and
 * its output at max_tokens (RESERVE_OUT when the client set none). Local
 * backends are priced by the hour, unknown in advance: nothing. */
#define RESERVE_OUT 4096
static double worst_cost(const job_t *j) {
  int out = j->req.max_tokens > 0 ? j->req.max_tokens : RESERVE_OUT;
  double worst = 0;
  for (size_t i = 0; i < j->dec.n_steps; i++) {
    const sl_route_step_t *s = &j->dec.steps[i];
    if (s->backend->kind == SL_BK_LOCAL) continue;
    const char *m = s->model ? s->model : s->backend->default_model;
    const sl_model_price_t *p = m ? sl_config_model(s->backend, m) : NULL;
    double c = p ? sl_ledger_api_cost_usd(p->usd_per_mtok_in, p->usd_per_mtok_out, j->dec.prompt_tokens, out) : 0;
    if (c > worst) worst = c;
  }
  return worst;
}

static double job_cost(job_t *j, double *avoided) {
  *avoided = 0;
  /* answered, abandoned by its client part way or broken off after output began
   * (what was generated is spent) */
  if (!j->bcfg || (j->status != 200 && j->status != 499 && !j->spent)) return 0;
  const sl_result_t *r = &j->res;
  if (j->bcfg->kind == SL_BK_LOCAL) {
    *avoided = sl_ledger_avoided_cost_usd(sl_policy_config(j->pol), &j->dec, r->prompt_tokens,
                                          r->completion_tokens);
    return j->bcfg->usd_per_hour * r->busy_seconds / 3600.0;
  }
  const char *m = j->dec.steps[j->step].model ? j->dec.steps[j->step].model : j->bcfg->default_model;
  const sl_model_price_t *p = m ? sl_config_model(j->bcfg, m) : NULL;
  double cost = p ? sl_ledger_api_cost_usd(p->usd_per_mtok_in, p->usd_per_mtok_out,
                                           r->prompt_tokens, r->completion_tokens)
                  : 0;
  if (j->bcfg->location == SL_LOC_INTERNAL)
    *avoided = sl_ledger_avoided_cost_usd(sl_policy_config(j->pol), &j->dec, r->prompt_tokens,
                                          r->completion_tokens);
  return cost;
}

/* A request's metric labels: the backend's alone (b), and backend, rule and
 * key together (lab). */
static void route_labels(const job_t *j, const char *backend, char b[140], char lab[512]) {
  char r[140], k[140];
  sl_metrics_label(b, 140, "backend", backend ? backend : "none");
  sl_metrics_label(r, sizeof r, "rule", j->dec.rule ? j->dec.rule : "none");
  sl_metrics_label(k, sizeof k, "key", j->key ? j->key->id : "none");
  sl_cat(lab, 512, b, ",", r, ",", k, (char *)NULL);
}

static void count_usage(job_t *j, double cost, double avoided) {
  char lab[512], in[540], out[540], b[140];
  route_labels(j, j->backend, b, lab);
  sl_cat(in, sizeof in, lab, ",direction=\"in\"", (char *)NULL);
  sl_cat(out, sizeof out, lab, ",direction=\"out\"", (char *)NULL);
  const sl_metric_inc_t inc[] = {
      {"sluice_tokens_total", in, j->res.prompt_tokens},
      {"sluice_tokens_total", out, j->res.completion_tokens},
      {"sluice_cost_usd_total", lab, cost},
      {"sluice_avoided_cost_usd_total", lab, avoided}};
  sl_metrics_add_many(j->gw->metrics, inc, 4);
}

/* The call in flight's bytes left for an external backend: counted under that
 * backend (not the one that answers in the end: an internal one may after this
 * one fails), once the call has answered or failed after its connect (a
 * connect that failed sent nothing: unsent()). */
static void count_egress(job_t *j) {
  if (!j->tx_len) return;
  char lab[512], b[140];
  route_labels(j, j->backend, b, lab);
  const sl_metric_inc_t inc[] = {{"sluice_egress_bytes_total", b, (double)j->tx_len},
                                 {"sluice_egress_bytes_by_route_total", lab, (double)j->tx_len}};
  sl_metrics_add_many(j->gw->metrics, inc, 2);
  j->tx_len = 0;
}

/* A row's JSON columns, built into buffers that live as long as the row. */
typedef struct {
  sl_buf_t ents, reds, cls;
} row_json_t;

static void row_json_free(row_json_t *b) {
  sl_buf_free(&b->ents);
  sl_buf_free(&b->reds);
  sl_buf_free(&b->cls);
}

/* Fills the parts of a row every kind shares; free `b` after the append. */
static void row_common(job_t *j, sl_ledger_row_t *row, row_json_t *b) {
  sl_buf_init(&b->ents, SL_LEDGER_MAX_JSON);
  sl_buf_init(&b->reds, SL_LEDGER_MAX_JSON);
  sl_buf_init(&b->cls, SL_LEDGER_MAX_JSON);
  memset(row, 0, sizeof *row);
  row->request_id = j->req_id;
  row->tenant = j->tenant;
  row->key_id = j->key ? j->key->id : NULL;
  row->rule = j->dec.rule;
  row->policy_version = sl_policy_version(j->pol);
  row->backend = j->backend;
  row->model = j->model_out;
  row->location = j->bcfg ? sl_location_name(j->bcfg->location) : "";
  row->egress = j->bcfg && j->bcfg->location == SL_LOC_EXTERNAL;
  /* refused before it was read (401, a spent budget, a bad body): no level, so
   * that counts of restricted requests count only requests found so */
  row->level = j->cls_set ? sl_level_name(j->cls.level) : "unclassified";
  row->difficulty = j->cls_set ? j->cls.difficulty : 0;
  if (j->cls_set) {
    if (sl_ledger_json_entities(j->cls.entities, j->cls.n_entities, &b->ents)) {
      sl_buf_reset(&b->ents); /* never JSON cut off in the middle */
      sl_buf_puts(&b->ents, "{\"_unrecorded\":true}");
    }
    /* the replacements made, per type ("Laila Hansen … LAILA HANSEN" is one
     * entity found and two replaced); the entities found if the map is gone */
    char *made = j->redacted_step && j->map ? sl_redact_map_summary_json(j->map) : NULL;
    if (made) sl_buf_puts(&b->reds, made);
    else if (j->redacted_step)
      sl_ledger_json_redactions(j->cls.entities, j->cls.n_entities, j->dec.redact, j->dec.n_redact,
                                &b->reds);
    free(made);
    sl_ledger_json_classification(&j->cls, &b->cls);
  }
  row->entity_types = b->ents.data;
  row->redactions = b->reds.data;
  row->classification = b->cls.data;
}

static void on_recorded(void *data, int status);

/* Appends the request's row; `then` runs when it is committed (or at once
 * without a ledger or when the append is refused). */
static void record(job_t *j, bool wait) {
  sl_gw_t *gw = j->gw;
  count_egress(j); /* a call cut short by the client or a shutdown: it may have left */
  double avoided = 0, cost = job_cost(j, &avoided);
  cost = sl_ledger_usd(cost); /* as the row keeps it: counters and budgets add the same */
  avoided = sl_ledger_usd(avoided);
  count_usage(j, cost, avoided);
  settle_budget(j, cost);
  if (!gw->ledger) {
    on_recorded(j, 0);
    return;
  }
  row_json_t json;
  sl_ledger_row_t row;
  row_common(j, &row, &json);
  row.kind = SL_LEDGER_REQUEST;
  row.bytes_out = j->egress_bytes;
  /* egress is what left, not where the route pointed: a request the ledger
   * refused, or whose connects all failed, sent nothing; and bytes left even
   * if an internal backend answered in the end (an external one failed
   * first) */
  row.egress = j->egress_bytes > 0;
  if (row.egress) row.destination = j->egress_dest;
  /* sent once: the exact bytes' digest too (the ledger may then write this row
   * in place of the egress row, see merge_egress) */
  if (j->transmissions == 1) row.sha256_out = j->egress_sha;
  row.egress_rows = j->egress_rows;
  row.tokens_in = j->res.prompt_tokens;
  row.tokens_out = j->res.completion_tokens;
  row.cost_usd = cost;
  row.avoided_cost_usd = avoided;
  row.latency_ms = (int64_t)((uv_hrtime() - j->hreq->t_start_ns) / 1000000);
  row.http_status = j->status;
  /* rejected: refused by sluice itself, no backend answered (bad input, key,
   * budget, policy, a full queue); error: a backend or the gateway failed */
  row.status = j->status == 200   ? "ok"
               : j->status == 499 ? "client_gone"
               : !j->bcfg && j->status >= 400 && j->status < 500 ? "rejected"
                                                                  : "error";
  set_state(j, ST_RECORDING);
  j->held = wait;
  int rc = sl_gw_ledger_append(gw, &row, wait ? on_recorded : NULL, j);
  row_json_free(&json);
  if (rc) SL_ERROR("req %s: ledger row refused: %s", j->req_id, sl_strerror(rc));
  if (rc || !wait) on_recorded(j, rc);
}

/* The row is in (or could not be): send what was held back, end the response.
 * With ledger.on_failure "reject", an answer whose row the ledger refused is
 * not sent: an error takes its place (an error event if the stream began). */
static void on_recorded(void *data, int status) {
  job_t *j = data;
  if (status && j->held && sl_ledger_rejects_on_failure(j->gw->ledger)) {
    static const char msg[] = "the ledger could not record this request, so its answer is "
                              "withheld (ledger.on_failure is reject)";
    sl_buf_reset(&j->out);
    if (j->http_head_sent)
      j->dia->stream_error(&j->out, &j->resp, 503, "ledger_unavailable", "ledger_write_failed", msg);
    else j->dia->error(&j->out, 503, "ledger_unavailable", "ledger_write_failed", NULL, msg);
    j->status = 503;
  }
  if (!j->client_gone && j->out.len) {
    if (j->http_head_sent) {
      sl_http_stream_write(j->conn, j->out.data, j->out.len);
    } else {
      char h[768], ra[96] = "";
      if ((j->status == 429 || j->status == 503 || j->status == 529) &&
          (!j->no_retry || j->retry_after_s > 0)) {
        char s[24];
        int64_t secs = j->retry_after_s > 0 ? j->retry_after_s : 1;
        sl_itoa(secs, s);
        sl_cat(ra, sizeof ra, "Retry-After: ", s, "\r\n", (char *)NULL);
        /* the SDKs read the millisecond form first: an upstream's 50 ms is not a
         * 1 s wait for every retry */
        if (j->retry_after_ms > 0 && j->retry_after_ms < 1000 * secs) {
          sl_itoa(j->retry_after_ms, s);
          sl_cat(ra + strlen(ra), sizeof ra - strlen(ra), "retry-after-ms: ", s, "\r\n", (char *)NULL);
        }
      }
      if (j->no_retry) sl_cat(ra + strlen(ra), sizeof ra - strlen(ra), "x-should-retry: false\r\n", (char *)NULL);
      sl_gw_route_headers(h, sizeof h, j->req_id, j->backend, j->dec.rule, ra);
      sl_http_respond(j->conn, j->status, "application/json", h, j->out.data, j->out.len);
    }
  }
  sl_gw_count(j->gw, j->hreq, j->req_id, j->status, j->backend ? j->backend : "none", j->dec.rule,
              j->tenant);
  sl_http_end(j->conn);
  job_free(j);
}

/* An upstream's error message as the client gets it: an upstream that quotes
 * the redacted copy it was sent ("... for [PERSON_1]") has the client's own
 * values put back (the log keeps the placeholders). In j->tmp. */
static const char *client_message(job_t *j, const char *msg) {
  if (!j->map || !strchr(msg, '[')) return msg;
  sl_buf_reset(&j->tmp);
  if (sl_redact_restore(j->map, msg, strlen(msg), false, &j->tmp) || !j->tmp.data ||
      sl_buf_append(&j->tmp, "", 1))
    return msg;
  return j->tmp.data;
}

/* An error answer: encoded now, recorded without waiting (nothing succeeded). */
/* param: the request field the error is about (OpenAI's "param"), or NULL. */
static void fail_request_param(job_t *j, int status, const char *type, const char *code,
                               const char *param, const char *msg) {
  char m[1400];
  snprintf(m, sizeof m, "%s", msg);
  sl_utf8_trim(m); /* messages are cut to fit, perhaps inside a character */
  j->status = status;
  /* what a retry cannot cure: a spent quota or budget; the upstream refusing
   * the gateway's credential or not having the route's model (a 502, which the
   * SDKs would otherwise retry twice) */
  static const struct {
    int status;
    const char *code;
  } permanent[] = {{429, "insufficient_quota"},
                   {429, "monthly_budget_exceeded"},
                   {502, "upstream_auth_failed"},
                   {502, "upstream_payment_required"},
                   {502, "upstream_model_not_found"}};
  j->no_retry = j->upstream_no_retry;
  for (size_t i = 0; code && i < sizeof permanent / sizeof *permanent; i++)
    j->no_retry |= status == permanent[i].status && !strcmp(code, permanent[i].code);
  sl_buf_reset(&j->out);
  if (j->http_head_sent) /* (a keep-alive sent the head: the status is out) */
    j->dia->stream_error(&j->out, &j->resp, status, type, code, m);
  else
    j->dia->error(&j->out, status, type, code, param, m);
  record(j, false);
}

static void fail_request(job_t *j, int status, const char *type, const char *code,
                         const char *msg) {
  fail_request_param(j, status, type, code, NULL, msg);
}

const char *sl_gw_error_param(const char *msg, char *buf, size_t cap) {
  static const char *const members[] = {
      "model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "top_k",
      "min_p", "n", "stop", "stop_sequences", "stream", "stream_options", "tools", "tool_choice",
      "response_format", "user", "seed", "logprobs", "top_logprobs", "presence_penalty",
      "frequency_penalty", "repetition_penalty", "metadata", "system", "thinking", "functions",
      "function_call", "parallel_tool_calls", "reasoning_effort", "service_tier", "logit_bias",
      "output_config", "prediction", "modalities", "audio", "verbosity", "prompt_cache_key",
      "safety_identifier",
      /* the Responses API's */
      "input", "instructions", "text", "reasoning", "max_output_tokens", "previous_response_id",
      "conversation", "background", "prompt", "include"};
  size_t n = strcspn(msg, " :,");
  size_t root = strcspn(msg, " :,[.");
  if (!n || n >= cap) return NULL;
  for (size_t i = 0; i < sizeof members / sizeof *members; i++)
    if (strlen(members[i]) == root && !strncmp(msg, members[i], root)) {
      memcpy(buf, msg, n);
      buf[n] = '\0';
      return buf;
    }
  return NULL;
}

/* 429 for a key whose month's spend, with what its requests in flight hold,
 * reached its budget; reset_ms: when the month ends. */
static void fail_budget(job_t *j, int64_t reset_ms) {
  char when[40], msg[300];
  sl_ledger_format_ts(reset_ms, when, sizeof when);
  bool held = sl_ledger_budgets_spent(j->gw->budgets, j->key->id, now_ms()) < j->key->monthly_budget_usd;
  snprintf(msg, sizeof msg, "the monthly budget of key \"%s\" (%g USD) is spent%s; it resets at %s",
           j->key->id, j->key->monthly_budget_usd,
           held ? " or held by its requests in flight (retry when they finish)" : "", when);
  /* not "retry in a second": clients that honour Retry-After would just spin */
  int64_t wait_ms = reset_ms - now_ms();
  j->retry_after_s = held ? 1 : wait_ms > 0 ? (wait_ms + 999) / 1000 : 1;
  fail_request(j, 429, "budget_exceeded", held ? "budget_held_in_flight" : "monthly_budget_exceeded", msg);
}

/* ---- the answer, streamed or whole ---- */

/* A client that reads slower than the upstream sends holds the upstream back:
 * past BACKLOG_HIGH bytes queued for it, the call pauses (TCP then pushes back
 * on the upstream) until the client has taken all but BACKLOG_LOW. Without
 * this, one client that stops reading made sluice keep whatever the upstream
 * streamed, hundreds of MB for an endless stream. While the process holds
 * more than limits.max_buffered_bytes (sl_held), BACKLOG_TIGHT bytes queued
 * are enough to pause: many stalled streams cannot add up past the bound by
 * a megabyte each. */
#define BACKLOG_HIGH (1u << 20)
#define BACKLOG_LOW (256u << 10)
#define BACKLOG_TIGHT (64u << 10)

static void on_drained(sl_conn_t *c, void *data) {
  job_t *j = data;
  j->paused = false;
  if (j->call) sl_call_pause(j->call, false); /* may deliver, and so pause, again */
}

/* Writes the chunk encoded in j->out. */
static void stream_out(job_t *j) {
  sl_http_stream_write(j->conn, j->out.data, j->out.len);
  size_t queued = sl_http_pending_out(j->conn);
  if (j->call && !j->paused &&
      (queued > BACKLOG_HIGH || (queued > BACKLOG_TIGHT && sl_held_over()))) {
    j->paused = true;
    char lab[140];
    sl_metrics_label(lab, sizeof lab, "backend", j->backend ? j->backend : "none");
    sl_metrics_add(j->gw->metrics, "sluice_stream_pauses_total", lab, 1);
    sl_call_pause(j->call, true);
    sl_http_on_drain(j->conn, queued > BACKLOG_HIGH ? BACKLOG_LOW : BACKLOG_TIGHT / 2, on_drained, j);
  }
}

/* The HTTP head of a streamed answer, once. */
static void send_http_head(job_t *j) {
  if (j->http_head_sent) return;
  j->http_head_sent = true;
  char h[768];
  sl_gw_route_headers(h, sizeof h, j->req_id, j->backend, j->dec.rule, NULL);
  sl_http_stream_begin(j->conn, 200, "text/event-stream; charset=utf-8", h);
}

/* A streamed answer whose backend has taken the request (an upstream's 2xx,
 * the local engine) but has nothing to send yet — a reasoning model thinks, a
 * queue waits: KEEPALIVE_FIRST_MS after the call began, the head goes out with an SSE comment,
 * then another comment every KEEPALIVE_EVERY_MS until the first event. The
 * SDKs' timeouts run until the head arrives, and proxies with idle limits cut
 * a silent connection. Until the first event the route may still move on to
 * its next backend; an error then is an error event (the status is sent). */
#define KEEPALIVE_TICK_MS 500
#define KEEPALIVE_FIRST_MS 2000
#define KEEPALIVE_EVERY_MS 15000

static void on_keepalive(uv_timer_t *t) {
  job_t *j = t->data;
  if (j->headers_sent || j->client_gone || j->state == ST_RECORDING || j->state == ST_DONE) {
    uv_timer_stop(t);
    return;
  }
  uint64_t now = uv_now(j->gw->loop);
  if (!sl_call_answering(j->call)) return;
  if (now - j->ka_since < (j->http_head_sent ? KEEPALIVE_EVERY_MS : KEEPALIVE_FIRST_MS)) return;
  send_http_head(j);
  static const char ping[] = ": keep-alive\n\n";
  sl_http_stream_write(j->conn, ping, sizeof ping - 1);
  j->ka_since = now;
}

static void send_stream_head(job_t *j) {
  if (j->headers_sent) return;
  j->headers_sent = true;
  j->status = 200;
  set_state(j, ST_STREAMING);
  send_http_head(j);
  j->resp.model = j->model_out;
  /* the local engine has counted the prompt by its first output, and an
   * Anthropic upstream said it in its own message_start: the stream's start
   * (Anthropic's message_start) carries that count and the prompt cache's,
   * not an estimate; an answer with no text opens its stream once the call is
   * done (on_done), with the call's result in j->res */
  sl_result_t u = {0};
  if (j->bcfg && j->bcfg->kind != SL_BK_OPENAI) {
    if (j->call) sl_call_usage(j->call, &u);
    else u = j->res;
  }
  if (u.prompt_tokens > 0) j->resp.prompt_tokens = u.prompt_tokens;
  j->resp.cache_read_tokens = u.cache_read_tokens;
  j->resp.cache_write_tokens = u.cache_write_tokens;
  j->resp.cache_reported = u.cache_reported;
  sl_buf_reset(&j->out);
  if (!j->dia->stream_start(&j->out, &j->resp)) stream_out(j);
}

/* The logprobs for the text about to be encoded: the engine always has them
 * (an empty list is an answer); an upstream that sent none gives null. */
static void set_logprobs(job_t *j) {
  j->resp.logprobs = j->want_lp && (j->lp.len || j->bcfg->kind == SL_BK_LOCAL);
  j->resp.lp = j->lp.data;
  j->resp.lp_len = j->lp.len;
}

/* What the upstream said of itself (system_fingerprint, service_tier), kept
 * for the answer's head while the call is there to ask. */
static void note_upstream(job_t *j) {
  const char *fp, *tier;
  sl_call_upstream_meta(j->call, &fp, &tier);
  if (fp) snprintf(j->fingerprint, sizeof j->fingerprint, "%s", fp);
  if (tier) snprintf(j->service_tier, sizeof j->service_tier, "%s", tier);
  j->resp.fingerprint = j->fingerprint[0] ? j->fingerprint : NULL;
  j->resp.service_tier = j->service_tier[0] ? j->service_tier : NULL;
}

/* One streamed event from inside a backend callback: event_begin() opens the
 * stream if need be and empties j->out for the dialect to encode into;
 * event_end() sends what it encoded (rc 0) and says whether to go on. */
static void event_begin(job_t *j) {
  if (j->call) note_upstream(j);
  j->in_cb = true;
  send_stream_head(j);
  sl_buf_reset(&j->out);
}

static int event_end(job_t *j, int rc) {
  if (!rc) stream_out(j);
  j->in_cb = false;
  return j->client_gone ? 1 : 0;
}

/* Text the client may see (placeholders already restored). */
static int deliver_text(job_t *j, const char *s, size_t n) {
  if (!n) return 0;
  if (!j->stream) return sl_buf_append(&j->text, s, n) ? 1 : 0;
  event_begin(j);
  set_logprobs(j);
  int rc = j->dia->stream_text(&j->out, &j->resp, s, n);
  sl_buf_reset(&j->lp); /* sent with this chunk */
  return event_end(j, rc);
}

/* Tokens behind the next text: kept until that text is encoded. */
static int on_logprobs(void *data, const sl_token_logprob_t *t, size_t n) {
  job_t *j = data;
  if (j->client_gone) return 1;
  for (size_t i = 0; i < n; i++)
    if ((j->lp.len && sl_buf_puts(&j->lp, ",")) || sl_openai_encode_logprob(&j->lp, &t[i]))
      return 1;
  return 0;
}

/* Reasoning the client may see: a streamed piece goes out at once, a whole
 * answer's is kept (and restored at the end, with the rest). */
static int deliver_reasoning(job_t *j, const char *s, size_t n) {
  if (!n) return 0;
  if (!j->stream) return sl_buf_append(&j->reasoning, s, n) ? 1 : 0;
  event_begin(j);
  return event_end(j, j->dia->stream_reasoning(&j->out, &j->resp, s, n));
}

/* The model's reasoning (an upstream's reasoning_content), when the client's
 * dialect has a place for it; a stream's placeholders are restored as they
 * come, by a restorer of its own. */
static int on_reasoning(void *data, const char *s, size_t n) {
  job_t *j = data;
  if (j->client_gone) return 1;
  if (!j->dia->stream_reasoning) return 0;
  if (!j->restorer || !j->stream) return deliver_reasoning(j, s, n);
  if (!j->reason_rst && !(j->reason_rst = sl_restorer_create(j->map, false))) return 1;
  sl_buf_reset(&j->tmp);
  if (sl_restorer_feed(j->reason_rst, s, n, &j->tmp)) return 1;
  return deliver_reasoning(j, j->tmp.data, j->tmp.len);
}

/* The answer proper begins (text, a tool call, a refusal, or the end): what
 * the reasoning's restorer still holds goes out before it. */
static int end_reasoning(job_t *j) {
  if (!j->reason_rst) return 0;
  sl_buf_reset(&j->tmp);
  int rc = sl_restorer_finish(j->reason_rst, &j->tmp);
  sl_restorer_free(j->reason_rst);
  j->reason_rst = NULL;
  return rc ? 1 : deliver_reasoning(j, j->tmp.data, j->tmp.len);
}

static int on_text(void *data, const char *s, size_t n) {
  job_t *j = data;
  if (j->client_gone || end_reasoning(j)) return 1;
  if (!j->restorer) return deliver_text(j, s, n);
  sl_buf_reset(&j->tmp);
  if (sl_restorer_feed(j->restorer, s, n, &j->tmp)) return 1;
  return deliver_text(j, j->tmp.data, j->tmp.len);
}

/* The model declined (an OpenAI upstream's refusal): relayed as such, not as
 * text, and never restored (a refusal quotes no placeholder worth restoring). */
static int on_refusal(void *data, const char *s, size_t n) {
  job_t *j = data;
  if (j->client_gone || end_reasoning(j)) return 1;
  j->resp.refused = true;
  if (!j->stream) return sl_buf_append(&j->refusal, s, n) ? 1 : 0;
  event_begin(j);
  return event_end(j, j->dia->stream_refusal(&j->out, &j->resp, s, n));
}

/* Tool calls of a streamed answer that are sent whole at its end: an OpenAI
 * upstream may interleave the deltas of parallel calls, which a dialect that
 * sends one call after another cannot relay as they come. */
static bool gather_tools(const job_t *j) {
  return j->dia->tools_one_by_one && j->bcfg && j->bcfg->kind == SL_BK_OPENAI;
}

/* Sends what the restorer of tool call `index` still holds (the end of its
 * arguments). */
static int flush_tool_args(job_t *j, int index) {
  sl_restorer_t *r = j->tool_rst[index];
  if (!r) return 0;
  sl_buf_reset(&j->tmp);
  if (sl_restorer_finish(r, &j->tmp)) return 1;
  if (!j->tmp.len) return 0;
  event_begin(j);
  return event_end(j, j->dia->stream_tool(&j->out, &j->resp, index, NULL, NULL, j->tmp.data,
                                          j->tmp.len));
}

/* A streamed tool delta with its placeholders restored: the arguments are
 * JSON, so values go back escaped. Each call has its own restorer (OpenAI
 * upstreams may interleave parallel calls); a dialect that sends one call after
 * another gets the end of the last call before the next one opens. */
static int stream_tool_restored(job_t *j, int index, const char *id, const char *name,
                                const char *args, size_t args_len) {
  if (!j->tool_rst && !(j->tool_rst = calloc(SL_MAX_TOOL_CALLS, sizeof *j->tool_rst))) return 1;
  if (j->dia->tools_one_by_one && j->tool_last >= 0 && j->tool_last != index &&
      flush_tool_args(j, j->tool_last))
    return 1;
  j->tool_last = index;
  sl_restorer_t **r = &j->tool_rst[index];
  if (!*r && !(*r = sl_restorer_create(j->map, true))) return 1;
  sl_buf_reset(&j->tmp);
  if (sl_restorer_feed(*r, args, args_len, &j->tmp)) return 1;
  event_begin(j);
  return event_end(j, j->dia->stream_tool(&j->out, &j->resp, index, id, name,
                                          j->tmp.data ? j->tmp.data : "", j->tmp.len));
}

/* A kept piece of the answer restored in place (json: values go back escaped). */
static int restore_whole(job_t *j, sl_buf_t *a, bool json) {
  sl_buf_reset(&j->tmp);
  if (!a->len) return 0;
  if (sl_redact_restore(j->map, a->data, a->len, json, &j->tmp)) return 1;
  sl_buf_reset(a);
  return sl_buf_append(a, j->tmp.data, j->tmp.len) ? 1 : 0;
}

/* Gathered or non-streamed tool calls: their arguments restored whole. */
static int restore_tools(job_t *j) {
  for (size_t i = 0; i < j->n_tools; i++)
    if (restore_whole(j, &j->tools[i].args, true)) return 1;
  return 0;
}

/* A streamed tool call begins: what the text's restorer still holds (a text
 * that ended in "[PERS", which might have begun a placeholder) goes out first,
 * in the text it ends, not after the call as text of its own. */
static int end_text(job_t *j) {
  if (!j->restorer) return 0;
  sl_buf_reset(&j->tmp);
  if (sl_restorer_finish(j->restorer, &j->tmp)) return 1;
  return j->tmp.len ? deliver_text(j, j->tmp.data, j->tmp.len) : 0;
}

static int on_tool_call(void *data, int index, const char *id, const char *name,
                        const char *args, size_t args_len) {
  job_t *j = data;
  if (j->client_gone || end_reasoning(j)) return 1;
  if (index < 0 || index >= SL_MAX_TOOL_CALLS) return 0;
  if (j->stream && !gather_tools(j)) {
    if (end_text(j)) return 1;
    if (!j->headers_sent) j->resp.opens_with_tool = true;
    if (j->restorer) return stream_tool_restored(j, index, id, name, args, args_len);
    event_begin(j);
    return event_end(j, j->dia->stream_tool(&j->out, &j->resp, index, id, name, args, args_len));
  }
  if ((size_t)index >= j->n_tools) {
    sl_tool_acc_t *nt = realloc(j->tools, ((size_t)index + 1) * sizeof *nt);
    if (!nt) return 1;
    j->tools = nt;
    while (j->n_tools <= (size_t)index) {
      memset(&nt[j->n_tools], 0, sizeof *nt);
      sl_buf_init(&nt[j->n_tools++].args, MAX_ANSWER);
    }
  }
  sl_tool_acc_t *t = &j->tools[index];
  if (id) snprintf(t->id, sizeof t->id, "%s", id);
  if (name) snprintf(t->name, sizeof t->name, "%s", name);
  return sl_buf_append(&t->args, args, args_len) ? 1 : 0;
}

static void on_done(void *data, const sl_result_t *res) {
  job_t *j = data;
  note_upstream(j);
  j->call = NULL;
  count_egress(j);
  j->res = *res;
  snprintf(j->finish, sizeof j->finish, "%s", res->finish_reason ? res->finish_reason : "stop");
  j->res.finish_reason = j->finish;
  j->res.model = NULL;
  if (j->client_gone) {
    j->status = 499;
    record(j, false);
    return;
  }
  if (j->restorer) { /* whatever the restorers still hold; tool arguments */
    int rc = end_reasoning(j) || restore_whole(j, &j->reasoning, false) || end_text(j);
    for (int i = 0; !rc && j->tool_rst && i < SL_MAX_TOOL_CALLS; i++) rc = flush_tool_args(j, i);
    if (!rc) rc = restore_tools(j);
    if (rc) {
      j->status = 499;
      record(j, false);
      return;
    }
  }
  j->resp.model = j->model_out;
  /* an answer with no text opens its stream only now: that event is sent
   * here, not held with the closing ones (it was, and went out twice) */
  if (j->stream) send_stream_head(j);
  sl_buf_reset(&j->out);
  int rc = 0;
  if (j->stream) {
    for (size_t i = 0; i < j->n_tools && !rc; i++) { /* gathered: see gather_tools() */
      const sl_tool_acc_t *t = &j->tools[i];
      if (!t->name[0] && !t->args.len) continue;
      const char *args = t->args.data ? t->args.data : "";
      size_t n = t->args.len;
      if (j->dia->tool_input) {
        sl_buf_reset(&j->tmp);
        rc = j->dia->tool_input(&j->tmp, args, n);
        args = j->tmp.data ? j->tmp.data : "";
        n = j->tmp.len;
      }
      if (!rc) rc = j->dia->stream_tool(&j->out, &j->resp, (int)i, t->id, t->name, args, n);
    }
    if (!rc) rc = j->dia->stream_end(&j->out, &j->resp, &j->res, j->req.include_usage);
  } else {
    j->status = 200;
    set_logprobs(j);
    j->resp.refusal = j->refusal.len ? j->refusal.data : NULL;
    j->resp.refusal_len = j->refusal.len;
    j->resp.reasoning = j->reasoning.len ? j->reasoning.data : NULL;
    j->resp.reasoning_len = j->reasoning.len;
    rc = j->dia->complete(&j->out, &j->resp, j->text.data, j->text.len, j->tools, j->n_tools, &j->res);
  }
  if (rc && !j->stream) {
    fail_request(j, 500, "server_error", "encode_failed", "could not encode the answer");
    return;
  }
  /* the answer's Responses items, for a later request of the same key to refer
   * to (not when the client asked that nothing be stored) */
  if (!rc && j->keep_items && j->gw->sh->items && j->resp.items.len) {
    sl_buf_t a;
    sl_buf_init(&a, MAX_ANSWER + 2);
    if (!sl_buf_puts(&a, "[") && !sl_buf_append(&a, j->resp.items.data, j->resp.items.len) && !sl_buf_puts(&a, "]"))
      sl_items_put(j->gw->sh->items, items_owner(j), a.data, a.len);
    sl_buf_free(&a);
  }
  record(j, true); /* the final bytes go out once the row is committed */
}

static void try_step(job_t *j);

static void on_backoff(uv_timer_t *t) { try_step(t->data); }

/* The longest an upstream's Retry-After may hold a retry of the same backend;
 * asked to wait longer, the route moves on instead. */
#define MAX_RETRY_WAIT_MS 10000

/* The next attempt, delay_ms from now (the step it takes is set already). */
static void attempt_in(job_t *j, unsigned delay_ms) {
  j->attempts++;
  uv_update_time(j->gw->loop);
  uv_timer_start(&j->backoff, on_backoff, delay_ms, 0);
}

/* Jittered exponential backoff, then the same backend again (its max_retries)
 * or the next entry of the chain. */
static void retry_after_backoff(job_t *j, bool same_step, long wait_ms) {
  unsigned n = j->attempts < 5 ? j->attempts : 5;
  unsigned base = 25u << n;
  unsigned delay = base / 2 + (unsigned)(rand() % (int)(base + 1));
  if (same_step && wait_ms > (long)delay) delay = (unsigned)wait_ms; /* as the upstream asked */
  if (same_step) {
    j->step_retries++;
  } else {
    j->step++;
    j->step_retries = 0;
  }
  attempt_in(j, delay);
}

/* Where the last bytes went and their digest, as before the call whose egress
 * row was just written: that call did not start, or sent nothing. */
static void egress_back(job_t *j) {
  memcpy(j->egress_dest, j->prev_dest, sizeof j->egress_dest);
  memcpy(j->egress_sha, j->prev_sha, sizeof j->egress_sha);
}

/* The call just started sent nothing after all (its connect failed): the
 * request's egress is what it was before. */
static void unsent(job_t *j) {
  j->egress_bytes -= (int64_t)j->tx_len;
  j->transmissions--;
  j->tx_len = 0;
  egress_back(j);
}

static void on_error(void *data, const sl_call_error_t *e) {
  job_t *j = data;
  sl_call_t *call = j->call; /* still valid inside its callback */
  j->call = NULL;
  if (e->unsent && j->tx_len) unsent(j); /* the connect failed: no byte of it left */
  count_egress(j);                       /* no call in flight now */
  char lab[200];
  sl_metrics_label(lab, sizeof lab, "backend", j->backend);
  sl_metrics_add(j->gw->metrics, "sluice_upstream_errors_total", lab, 1);
  SL_WARN("req %s: backend %s failed (%s, HTTP %d): %s", j->req_id, j->backend,
          sl_errname(e->code), e->http_status, e->message);
  if (j->client_gone) {
    j->status = 499;
    record(j, false);
    return;
  }
  if (j->headers_sent) {
    /* Output already reached the client: end the stream with an error event.
     * The prompt went out and the answer so far was generated: both are spent. */
    if (call) sl_call_usage(call, &j->res);
    j->spent = true;
    sl_buf_reset(&j->out);
    j->status = e->code == SL_ETIMEOUT ? 504 : 502; /* as a whole answer's would be */
    j->dia->stream_error(&j->out, &j->resp, j->status, e->type[0] ? e->type : "upstream_error",
                         e->upstream_code[0] ? e->upstream_code : "upstream_failed", e->message);
    record(j, true);
    return;
  }
  if (e->code == SL_ESTALE && !j->fresh) {
    /* The upstream closed a pooled connection as the request went out: sent
     * once more, at once, on a new connection — a call of its own, so the
     * ledger has its egress row — whatever max_retries says. */
    j->fresh = true;
    attempt_in(j, 0);
    return;
  }
  if (e->retryable && j->bcfg && j->bcfg->kind != SL_BK_LOCAL &&
      !e->no_retry && j->step_retries < j->bcfg->max_retries && e->retry_after_ms <= MAX_RETRY_WAIT_MS) {
    retry_after_backoff(j, true, e->retry_after_ms);
    return;
  }
  /* the longest wait an upstream asked for, passed on with a 429 or 503 (the
   * steps the route moved on from count too: an earlier one may have asked for
   * longer than the last) */
  int64_t wait_s = (e->retry_after_ms + 999) / 1000;
  if (wait_s > j->retry_after_s) j->retry_after_s = wait_s;
  if (e->retry_after_ms > j->retry_after_ms) j->retry_after_ms = e->retry_after_ms;
  /* Another backend may serve what this one refused for its own sake: sluice's
   * credential (401, 403), its account's balance (402) or a model or path it
   * does not have (404). */
  int hs = e->http_status;
  bool elsewhere = e->retryable || (!e->started && (hs == 401 || hs == 402 || hs == 403 || hs == 404));
  /* (output the backend delivered that never reached the client — a whole
   * answer gathered, a stream's text a restorer held — does not stop it) */
  elsewhere |= e->started && e->retryable_fresh;
  if (elsewhere && j->step + 1 < j->dec.n_steps) {
    if (e->started) reset_answer(j);
    retry_after_backoff(j, false, 0);
    return;
  }
  /* A local engine that worked on the request before it failed for good (it
   * ran out of time): what it used is spent, as for a stream broken off */
  if (call && j->bcfg && j->bcfg->kind == SL_BK_LOCAL) {
    sl_call_usage(call, &j->res);
    j->spent = j->res.prompt_tokens > 0 || j->res.completion_tokens > 0;
  }
  int st = e->http_status;
  if (e->retryable && e->code != SL_ETIMEOUT && e->code != SL_EBUSY && st != 429 &&
      (j->dec.keep_inside || j->dec.reject_on_unavailable)) {
    /* The in-network chain is exhausted (its external steps were removed): say so,
     * as try_step() does, rather than relaying a transport error. */
    char msg[400];
    snprintf(msg, sizeof msg,
             "no in-network backend can serve this request now (backend \"%s\" is unavailable), "
             "and the policy keeps it inside the network; retry later",
             j->backend ? j->backend : "none");
    fail_request(j, 503, "backend_unavailable", "kept_inside_unavailable", msg);
    return;
  }
  if (st == 401 || st == 402 || st == 403) {
    /* the upstream refused sluice's own credential, or its account there is
     * out of funds (402): the client's key (if any) was fine, so this is the
     * gateway's failure, not an authentication error */
    char msg[1400];
    bool funds = st == 402;
    snprintf(msg, sizeof msg, "backend \"%s\" refused the gateway's %s (HTTP %d%s): %s",
             j->backend ? j->backend : "none", funds ? "account" : "credential", st,
             funds ? ", payment required" : "", e->message);
    fail_request(j, 502, "upstream_error", funds ? "upstream_payment_required" : "upstream_auth_failed", msg);
    return;
  }
  /* a model sluice chose (the client asked "auto") that the upstream does not
   * have is the gateway's configuration at fault, not a path the client got wrong */
  if (st == 404 && !strcmp(j->req.model, "auto")) {
    char msg[1400];
    snprintf(msg, sizeof msg, "backend \"%s\" does not have the model the route names (HTTP 404): %s",
             j->backend ? j->backend : "none", e->message);
    fail_request(j, 502, "upstream_error", "upstream_model_not_found", msg);
    return;
  }
  if (e->code == SL_ETIMEOUT || st == 408 || st == 504) st = 504; /* the upstream timed out */
  else if (e->code == SL_EBUSY || st == 429) st = 429;
  else if (st == 503 || st == 529) /* overloaded: retry later; an Anthropic client keeps Anthropic's 529 */
    st = st == 529 && j->dia == &sl_dialect_anthropic ? 529 : 503;
  else if (st >= 500 || st < 400) st = 502;
  j->upstream_no_retry = e->no_retry; /* the upstream knows best what asking again would do */
  /* (an upstream that names no code — Anthropic's errors have a type only —
   * gets OpenAI's for a rate limit, as an OpenAI upstream's 429 has it) */
  const char *code = e->upstream_code[0] ? e->upstream_code
                     : st == 429           ? "rate_limit_exceeded"
                                           : "upstream_failed";
  fail_request_param(j, st, e->type[0] ? e->type : "upstream_error", code, e->param[0] ? e->param : NULL,
                     client_message(j, e->message));
}

static void start_call(job_t *j) {
  set_state(j, ST_CALLING);
  if (j->stream && !j->headers_sent) {
    if (!j->http_head_sent) j->ka_since = uv_now(j->gw->loop);
    if (!uv_is_active((uv_handle_t *)&j->keepalive))
      uv_timer_start(&j->keepalive, on_keepalive, KEEPALIVE_TICK_MS, KEEPALIVE_TICK_MS);
  }
  j->fingerprint[0] = j->service_tier[0] = '\0'; /* (a backend tried before said its own) */
  j->resp.fingerprint = j->resp.service_tier = NULL;
  bool external = j->bcfg->location == SL_LOC_EXTERNAL;
  const char *body, *dest;
  size_t len = 0;
  if (external) sl_call_egress(j->call, &body, &len, &dest); /* the call is gone if start fails */
  int rc = sl_call_start(j->call);
  if (!rc && external) {
    /* counted once the bytes are on their way, not when they were meant to
     * be: a request the ledger refused sent nothing (the metrics wait for
     * the connect: count_egress) */
    j->egress_bytes += (int64_t)len;
    j->transmissions++;
    j->tx_len = len;
  }
  if (!rc) return;
  if (external) egress_back(j);
  j->call = NULL;
  if (rc == SL_EBUSY) j->busy_backend = j->backend;
  SL_WARN("req %s: backend %s did not start: %s", j->req_id, j->backend, sl_strerror(rc));
  j->step++;
  try_step(j);
}

static void on_egress_logged(void *data, int status) {
  job_t *j = data;
  j->waiting_ledger = false;
  if (j->client_gone || (status && sl_ledger_rejects_on_failure(j->gw->ledger)))
    egress_back(j); /* not sent */
  if (j->client_gone) {
    sl_call_cancel(j->call);
    j->call = NULL;
    j->status = 499;
    record(j, false);
    return;
  }
  if (status && sl_ledger_rejects_on_failure(j->gw->ledger)) {
    sl_call_cancel(j->call);
    j->call = NULL;
    fail_request(j, 503, "ledger_unavailable", "ledger_write_failed",
                 "the egress ledger could not record this request, so it was not sent "
                 "(ledger.on_failure is reject)");
    return;
  }
  if (status) SL_ERROR("req %s: egress not recorded (%s); sending anyway (ledger.on_failure is continue)",
                       j->req_id, sl_strerror(status));
  start_call(j);
}

/* Writes the egress row before an external call; the call starts in its callback. */
static bool record_egress(job_t *j, const char *body, size_t len, const char *dest) {
  row_json_t json;
  sl_ledger_row_t row;
  row_common(j, &row, &json);
  memcpy(j->prev_dest, j->egress_dest, sizeof j->prev_dest);
  memcpy(j->prev_sha, j->egress_sha, sizeof j->prev_sha);
  sl_ledger_sha256_hex(body, len, j->egress_sha);
  row.kind = SL_LEDGER_EGRESS;
  row.destination = dest;
  snprintf(j->egress_dest, sizeof j->egress_dest, "%s", dest ? dest : "");
  row.bytes_out = (int64_t)len;
  row.sha256_out = j->egress_sha;
  row.status = "in_flight";
  set_state(j, ST_LEDGER);
  j->waiting_ledger = true;
  int rc = sl_gw_ledger_append(j->gw, &row, on_egress_logged, j);
  row_json_free(&json);
  if (!rc) j->egress_rows++;
  if (rc) {
    j->waiting_ledger = false;
    if (sl_ledger_rejects_on_failure(j->gw->ledger)) {
      egress_back(j);
      return false;
    }
    SL_ERROR("req %s: egress not recorded (%s); sending anyway", j->req_id, sl_strerror(rc));
    start_call(j);
  }
  return true;
}

/* A backend the policy in force now places outside the network: by its name, or
 * by its base_url under any name. A request keeps the policy it started with, but
 * a reload that says a destination is outside holds for the request's remaining
 * steps too: the operator has just learned where that address leads. */
static bool now_external(sl_gw_t *gw, const sl_backend_cfg_t *b) {
  if (b->kind == SL_BK_LOCAL) return false;
  sl_policy_t *p = sl_gw_policy(gw);
  const sl_config_t *cfg = sl_policy_config(p);
  bool ext = false;
  for (size_t i = 0; i < cfg->n_backends && !ext; i++) {
    const sl_backend_cfg_t *o = &cfg->backends[i];
    ext = o->location == SL_LOC_EXTERNAL &&
          (!strcmp(o->name, b->name) || sl_config_same_address(o->base_url, b->base_url));
  }
  sl_policy_unref(p);
  return ext;
}

/* A request in flight keeps the policy it started with, but a reload that now
 * keeps it inside stops its retries and failover from going out (the first
 * attempt follows its decision at once). */
static bool now_kept_inside(job_t *j) {
  sl_policy_t *p = sl_gw_policy(j->gw);
  bool keep = p != j->pol && sl_policy_keeps_inside(p, j->cls_set ? &j->cls : NULL);
  sl_policy_unref(p);
  return keep;
}

static void try_step(job_t *j) {
  if (j->client_gone) {
    j->status = 499;
    record(j, false);
    return;
  }
  sl_gw_t *gw = j->gw;
  for (; j->step < j->dec.n_steps; j->step++) {
    const sl_route_step_t *s = &j->dec.steps[j->step];
    /* Second guard for the first promise: whatever the decision says. */
    if (j->dec.keep_inside && (s->backend->location == SL_LOC_EXTERNAL || now_external(gw, s->backend))) {
      SL_ERROR("req %s: refusing external step %s for a keep-inside request", j->req_id,
               s->backend->name);
      continue;
    }
    if (j->attempts && s->backend->location == SL_LOC_EXTERNAL && now_kept_inside(j)) {
      SL_WARN("req %s: not retrying on external step %s: the policy reloaded since the request began "
              "keeps it inside", j->req_id, s->backend->name);
      j->dec.keep_inside = true; /* (its error says so) */
      continue;
    }
    if (sl_backend_key_missing(s->backend)) {
      j->keyless_backend = s->backend;
      continue;
    }
    if (!sl_backends_ready(gw->backends, s->backend)) {
      j->busy_backend = s->backend->name;
      continue;
    }
    /* Redacted copy for steps that need it; never the original if that fails. */
    const sl_chat_req_t *send = &j->req;
    j->redacted_step = sl_policy_step_needs_redaction(&j->dec, s);
    if (j->redacted_step) {
      if (!j->red_set) {
        int rrc = sl_redact_request(&j->req, &j->cls, j->dec.redact, j->dec.n_redact, &j->red_req, &j->map);
        if (rrc) {
          /* a value in a field redaction cannot rewrite, or too many values:
           * the same every time, so a refusal, not a retry-later */
          if (rrc == SL_EUNSUPPORTED || rrc == SL_ETOOBIG) j->saw_unredactable = true;
          SL_WARN("req %s: cannot redact (%s); skipping external step %s", j->req_id, sl_strerror(rrc),
                  s->backend->name);
          continue;
        }
        j->red_set = true;
      }
      send = &j->red_req;
    }
    drop_restorers(j);
    /* an answer asked for as JSON gets its values back escaped, as string
     * content (a value with a quote or a line break still parses) */
    if (j->redacted_step && j->dec.restore && j->map && sl_redact_map_size(j->map))
      j->restorer = sl_restorer_create(j->map, j->req.json_output);
    j->bcfg = s->backend;
    j->backend = s->backend->name;
    /* the model name the client sees: the model the upstream is asked for (a
     * backend with no model list gets the client's), else the backend's name */
    const char *asked = s->backend->kind != SL_BK_LOCAL && strcmp(j->req.model, "auto") ? j->req.model : NULL;
    snprintf(j->model_buf, sizeof j->model_buf, "%s",
             s->model                   ? s->model
             : s->backend->default_model ? s->backend->default_model
             : asked                     ? asked
                                         : s->backend->name);
    j->model_out = j->model_buf;
    sl_call_opts_t o = {.req = send, .model = s->model, .stream = j->stream, .fresh_connect = j->fresh,
                        .anthropic_beta = send->beta};
    /* logprobs: the local engine's, or an OpenAI-compatible upstream's relayed
     * (Anthropic has none) */
    j->want_lp = j->req.logprobs && j->bcfg->kind != SL_BK_ANTHROPIC;
    sl_call_cbs_t cbs = {.on_text = on_text,
                         .on_tool_call = on_tool_call,
                         .on_logprobs = j->want_lp ? on_logprobs : NULL,
                         .on_refusal = on_refusal,
                         .on_reasoning = on_reasoning,
                         .on_done = on_done,
                         .on_error = on_error};
    int rc = sl_call_prepare(gw->backends, s->backend, &o, &cbs, j, &j->call);
    if (rc) {
      SL_WARN("req %s: backend %s: %s", j->req_id, s->backend->name, sl_strerror(rc));
      if (rc == SL_EUNSUPPORTED) j->saw_unsupported = true;
      if (rc == SL_ETOOBIG) j->saw_too_long = true;
      continue;
    }
    const char *body, *dest;
    size_t len;
    sl_call_egress(j->call, &body, &len, &dest);
    if (s->backend->location == SL_LOC_EXTERNAL) {
      if (gw->ledger) {
        if (!record_egress(j, body, len, dest)) {
          sl_call_cancel(j->call);
          j->call = NULL;
          fail_request(j, 503, "ledger_unavailable", "ledger_write_failed",
                       "the egress ledger is not accepting records, so nothing was sent");
        }
        return;
      }
    }
    start_call(j);
    return;
  }
  j->bcfg = NULL;
  /* a full queue is counted under the backend that was full, for the operator */
  j->backend = j->busy_backend;
  if (j->busy_backend)
    fail_request(j, 429, "rate_limit_error", "queue_full",
                 j->dec.keep_inside ? "the in-network backend is at capacity and the policy keeps "
                                      "this request inside the network; retry later"
                                    : "every backend of the route is at capacity; retry later");
  else if (j->saw_unredactable)
    fail_request(j, 451, "policy_error", "redaction_impossible",
                 "the policy redacts a value this request holds where sluice cannot rewrite it "
                 "(a stop string, user, a message name, a tool definition or a response_format "
                 "schema), or written another way where its detector did not find it (joined by "
                 "_ or other letters, spaced out), or more values than it can map; nothing was "
                 "sent. Write the value as plainly as elsewhere, in a message's text, or leave it out");
  else if (j->saw_too_long)
    fail_request(j, 400, "invalid_request_error", "context_length_exceeded",
                 "the messages are longer than the context window of the route's local model; "
                 "shorten them");
  else if (j->saw_unsupported)
    fail_request(j, 400, "invalid_request_error", "unsupported_by_backend",
                 "no backend of the route can serve this request as asked (for example tools "
                 "or a JSON response_format on the local engine, or a conversation ending in an "
                 "empty user message on an anthropic backend)");
  else if (j->keyless_backend) {
    char msg[400];
    snprintf(msg, sizeof msg,
             "no backend of the route could serve this request: backend \"%s\" needs an API key in "
             "$%s, which is not set in sluice's environment; nothing was sent",
             j->keyless_backend->name, j->keyless_backend->api_key_env);
    fail_request(j, 503, "backend_unavailable", "upstream_key_missing", msg);
  } else if (j->dec.keep_inside || j->dec.reject_on_unavailable)
    fail_request(j, 503, "backend_unavailable", "kept_inside_unavailable",
                 "no in-network backend can serve this request now, and the policy keeps it "
                 "inside the network; retry later");
  else
    fail_request(j, 503, "backend_unavailable", "no_backend_available",
                 "no backend of the route could serve this request");
}

static void on_gone_after_cb(uv_timer_t *t) {
  job_t *j = t->data;
  j->status = 499;
  record(j, false);
}

/* Shutdown's grace period is over and the client still waits: its upstream call
 * is cancelled and it gets an error it can read (an error event if the stream
 * began), recorded as such. A request waiting on the ledger, or inside a backend
 * callback, finishes by itself; the server closes what is left soon after. */
static void end_at_shutdown(job_t *j) {
  if (j->waiting_ledger || j->state == ST_RECORDING || j->in_cb) return;
  if (j->call) {
    sl_call_usage(j->call, &j->res); /* spent, as for a client that leaves */
    sl_call_cancel(j->call);
    j->call = NULL;
  } else if (uv_is_active((uv_handle_t *)&j->backoff)) {
    uv_timer_stop(&j->backoff);
  } else {
    return;
  }
  static const char msg[] = "sluice is shutting down and its grace period for unfinished "
                            "requests is over; retry";
  if (j->headers_sent) {
    j->spent = true;
    sl_buf_reset(&j->out);
    j->dia->stream_error(&j->out, &j->resp, 503, "server_error", "server_shutting_down", msg);
    j->status = 503;
    record(j, true);
  } else {
    fail_request(j, 503, "server_error", "server_shutting_down", msg);
  }
}

static void on_abort(sl_conn_t *c, sl_http_abort_why_t why, void *data) {
  (void)c;
  job_t *j = data;
  if (why == SL_ABORT_SHUTDOWN) {
    end_at_shutdown(j);
    return;
  }
  j->client_gone = true;
  if (j->waiting_ledger || j->state == ST_RECORDING) return; /* its callback finishes */
  /* what the abandoned call used is still spent: tokens and cost are recorded */
  if (j->call) sl_call_usage(j->call, &j->res);
  /* a whole answer an API upstream was generating: nothing of it arrived, so
   * what it generated is unknown, and billed all the same; charged at its
   * bound (max_tokens, or what a budget reserves without one), or hanging up
   * would be a way round a budget */
  if (j->call && !j->stream && j->bcfg && j->bcfg->kind != SL_BK_LOCAL) {
    int bound = j->req.max_tokens > 0 ? j->req.max_tokens : RESERVE_OUT;
    if (j->res.completion_tokens < bound) j->res.completion_tokens = bound;
  }
  if (j->call && !j->in_cb) {
    /* Not inside a backend callback: cancel now, which closes the upstream transfer. */
    sl_call_cancel(j->call);
    j->call = NULL;
    j->status = 499;
    record(j, false);
  } else if (j->call) {
    /* Inside a backend callback (a write to the client failed): the callback
     * returns non-zero, so the backend lets go of the call and calls back no
     * more; finish the request on the next turn of the loop. */
    j->call = NULL;
    uv_timer_start(&j->backoff, on_gone_after_cb, 0, 0);
  } else if (uv_is_active((uv_handle_t *)&j->backoff)) {
    uv_timer_stop(&j->backoff);
    j->status = 499;
    record(j, false);
  }
}

/* One beta feature name as Anthropic writes them: lower-case words and digits
 * joined by '-', ending in the feature's date (output-128k-2025-02-19,
 * claude-code-20250219); n bytes at s. */
static bool beta_name(const char *s, size_t n) {
  if (n < 10 || n > 64 || !islower((unsigned char)s[0])) return false;
  for (size_t i = 0; i < n; i++)
    if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) &&
        !(s[i] == '-' && i + 1 < n && s[i + 1] != '-'))
      return false;
  return sl_chat_beta_undated(s, n) < n; /* it ends in its date */
}

/* The client's anthropic-beta header, passed to an anthropic backend: only
 * feature names (beta_name), comma-separated, so that no free text rides along
 * to the upstream in a header (what is there is classified with the request:
 * sl_chat_text). 0 with out "" when there is none. */
static int take_beta(const sl_http_req_t *hr, char *out, size_t cap) {
  out[0] = '\0';
  if (!sl_http_header(hr, "anthropic-beta")) return 0;
  /* every line of it, as one list (a second line was dropped unchecked) */
  char all[1024];
  const char *v = sl_http_header_all(hr, "anthropic-beta", all, sizeof all);
  if (!v) return -1;
  size_t n = strlen(v);
  if (n >= cap) return -1;
  for (size_t a = 0, b; a <= n; a = b + 1) {
    for (b = a; b < n && v[b] != ','; b++) {}
    size_t s = a, e = b;
    while (s < e && v[s] == ' ') s++;
    while (e > s && v[e - 1] == ' ') e--;
    if (!beta_name(v + s, e - s)) return -1;
  }
  memcpy(out, v, n + 1);
  return 0;
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
  uv_timer_init(gw->loop, &j->keepalive);
  j->backoff.data = j->keepalive.data = j;
  j->open_handles = 2;
  sl_buf_init(&j->text, MAX_ANSWER);
  sl_buf_init(&j->refusal, MAX_ANSWER);
  sl_buf_init(&j->reasoning, MAX_ANSWER);
  sl_buf_init(&j->out, MAX_ANSWER);
  sl_buf_init(&j->tmp, MAX_ANSWER);
  sl_buf_init(&j->lp, MAX_ANSWER);
  sl_buf_init(&j->resp.item_text, MAX_ANSWER);
  sl_buf_init(&j->resp.item_parts, MAX_ANSWER);
  sl_buf_init(&j->resp.item_head, MAX_ANSWER);
  sl_buf_init(&j->resp.items, MAX_ANSWER);
  gw->inflight++;
  sl_gw_request_id(gw, j->req_id);
  sl_cat(j->cmpl_id, sizeof j->cmpl_id, dia->id_prefix, j->req_id + 4, (char *)NULL);
  j->resp.id = j->cmpl_id;
  j->resp.created = (long)time(NULL);
  j->resp.block = -1;
  j->pol = sl_gw_policy(gw);
  sl_http_set_abort(c, on_abort, j);
  const sl_config_t *cfg = sl_policy_config(j->pol);

  if (cfg->n_keys) {
    const char *tok = sl_gw_client_token(hr);
    j->key = tok ? sl_config_find_key(cfg, tok, strlen(tok)) : NULL;
    if (!j->key) {
      fail_request(j, 401, "authentication_error", "invalid_api_key",
                   "missing or unknown API key (Authorization: Bearer ... or x-api-key)");
      return;
    }
    j->tenant = j->key->tenant;
    int64_t reset;
    if (j->key->monthly_budget_usd > 0 && gw->budgets &&
        sl_ledger_budgets_exceeded(gw->budgets, j->key->id, j->key->monthly_budget_usd, now_ms(), &reset)) {
      fail_budget(j, reset);
      return;
    }
  }

  char err[300];
  /* The body must be JSON; the Content-Type is not checked (curl -d sends a form type).
   * A Responses body may refer to items sluice produced for this key lately. */
  const char *body = hr->body.data;
  size_t body_len = hr->body.len;
  sl_buf_t resolved;
  sl_buf_init(&resolved, MAX_ANSWER + hr->body.len);
  if (dia == &sl_dialect_responses && gw->sh->items && memmem(body, body_len, "item_reference", 14) &&
      !sl_responses_resolve(body, body_len, find_item, j, &resolved)) {
    body = resolved.data;
    body_len = resolved.len;
  }
  /* (a Responses answer repeats the request's options: read in the same parse) */
  int rc = dia == &sl_dialect_responses
               ? sl_responses_decode_echo(body, body_len, &j->req, &j->echo, &j->keep_items, err, sizeof err)
               : dia->decode(body, body_len, &j->req, err, sizeof err);
  sl_buf_free(&resolved);
  j->resp.echo = j->echo; /* (NULL: the response object's defaults) */
  if (rc) {
    char param[128];
    fail_request_param(j, rc == SL_ENOMEM ? 500 : 400, "invalid_request_error",
                       rc == SL_EPARSE         ? "invalid_json"
                       : rc == SL_EUNSUPPORTED ? "thread_unsupported_request" /* the only one */
                                               : "invalid_request",
                       rc == SL_EINVAL ? sl_gw_error_param(err, param, sizeof param) : NULL, err);
    return;
  }
  j->stream = j->req.stream;
  char beta[256];
  if (take_beta(hr, beta, sizeof beta)) {
    fail_request(j, 400, "invalid_request_error", "invalid_request",
                 "anthropic-beta must be a comma-separated list of beta feature names (lower-case "
                 "words joined by '-', ending in the feature's date, as output-128k-2025-02-19), at "
                 "most 255 bytes");
    return;
  }
  if (beta[0] && !(j->req.beta = strdup(beta))) {
    fail_request(j, 500, "server_error", "out_of_memory", "out of memory");
    return;
  }
  j->resp.prompt_tokens = sl_chat_estimate_prompt_tokens(&j->req);

  /* classify: any failure is treated as the highest level (fail closed) */
  char dc[512];
  sl_router_classify(sl_policy_router(j->pol), &j->req, sl_gw_data_class(hr, dc, sizeof dc), &j->cls);
  j->cls_set = true;
  set_state(j, ST_CLASSIFIED);

  sl_req_meta_t meta = {.tenant = j->tenant, .key_id = j->key ? j->key->id : NULL,
                        .header = sl_http_header_lookup, .header_ctx = hr,
                        .tenant_rpm = sl_rate_hit(gw->rate, j->tenant, sl_rate_now_ms())};
  rc = sl_policy_decide(j->pol, &j->req, &j->cls, &meta, &j->dec);
  if (rc) {
    int st = j->dec.block_status ? j->dec.block_status : 451;
    fail_request(j, st, "policy_error", "blocked_by_policy", j->dec.reason);
    return;
  }
  if (j->key && j->key->monthly_budget_usd > 0 && gw->budgets) {
    /* two loop threads may both pass the early check: this one is atomic */
    int64_t reset;
    double worst = worst_cost(j);
    if (!sl_ledger_budgets_reserve(gw->budgets, j->key->id, j->key->monthly_budget_usd, worst, now_ms(), &reset)) {
      fail_budget(j, reset);
      return;
    }
    j->reserved_usd = worst;
  }
  set_state(j, ST_ROUTED);
  try_step(j);
}
