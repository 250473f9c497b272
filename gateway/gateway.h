/* The running gateway: one or more event-loop threads ("workers"), each with
 * its own loop, HTTP server (all listening on the same address with
 * SO_REUSEPORT) and backends (its own libcurl multi; the local engines are
 * shared). What they share: the policy in force (swapped under a mutex on
 * reload; each request holds a reference to the policy it started with), and
 * the rate window, ledger and budgets, each safe to use from any thread; each
 * worker updates a metric store of its own, merged when /metrics renders. A
 * request lives on the worker that accepted its connection. */
#ifndef SL_GATEWAY_H
#define SL_GATEWAY_H

#include "backend.h"
#include "ledger.h"
#include "dialect.h"
#include "items.h"
#include "metrics.h"
#include "policy.h"
#include "rate.h"
#include "server.h"

#include <pthread.h>
#include <stdatomic.h>
#include <uv.h>

typedef struct sl_gw sl_gw_t;

typedef struct {
  pthread_mutex_t mu;        /* guards policy */
  pthread_mutex_t reload_mu; /* one reload at a time */
  sl_policy_t *policy;
  char *config_path;
  struct cJSON *start_only; /* the config's keys read at start only, as they were */
  sl_gw_t *workers;
  unsigned n_workers;
  uint32_t boot; /* random per process: request ids differ across restarts */
  _Atomic bool access_log; /* the config's access_log, as of the last (re)load */
  sl_items_t *items;        /* Responses output items lately produced (items.h) */
} sl_gw_shared_t;

struct sl_gw {
  sl_gw_shared_t *sh;
  unsigned index;               /* 0: the main thread's loop */
  uv_loop_t *loop;
  sl_server_t *srv;
  sl_backends_t *backends;
  sl_ledger_port_t *ledger_port; /* workers other than 0 append through it */
  sl_metrics_t *metrics;        /* this worker's store (sl_metrics_child) */
  /* shared, fixed after start: */
  sl_rate_t *rate;
  sl_ledger_t *ledger;          /* NULL: no ledger configured */
  sl_ledger_budgets_t *budgets; /* per-key monthly spend (with a ledger) */
  /* this loop's own: */
  uint64_t seq;
  _Atomic unsigned inflight;
  bool draining;
  uv_async_t wake;              /* other threads ask this loop to drain or stop */
  _Atomic int command;
  uv_thread_t thread;
  bool thread_started;
};

/* A reference to the policy in force now (release with sl_policy_unref). */
sl_policy_t *sl_gw_policy(sl_gw_t *gw);
/* Appends a ledger row from this worker's loop (its callback runs there). */
int sl_gw_ledger_append(sl_gw_t *gw, const sl_ledger_row_t *row, sl_ledger_done_cb cb,
                        void *data);

/* The server's request handler: routes by method and path. */
void sl_gw_handle(sl_conn_t *c, sl_http_req_t *req, void *gw);
/* The caller's key as sent ("Authorization: Bearer ..." or x-api-key), or NULL. */
const char *sl_gw_client_token(const sl_http_req_t *r);
/* The server's own answers (malformed HTTP, 408, 413, 431) in the dialect of
 * the path, with the x-sluice-* headers (an sl_http_error_cb). */
void sl_gw_protocol_error(int status, const char *message, const char *path, char *headers, size_t cap,
                          sl_buf_t *body, void *gw);

/* Re-reads the config file and swaps the policy for every worker; on error the
 * old one stays and the reason is written to why (logged and counted as a
 * refused reload unless quiet). Any worker's thread may call it. Returns 0 or
 * SL_E*. */
int sl_gw_reload(sl_gw_t *gw, bool quiet, char *why, size_t n);

/* POST /v1/chat/completions (OpenAI) and POST /v1/messages (Anthropic) */
void sl_gw_chat(sl_gw_t *gw, sl_conn_t *c, sl_http_req_t *req, const sl_dialect_ops_t *dia);

/* A complete JSON error response in the OpenAI shape, with the sluice headers. */
void sl_gw_error(sl_conn_t *c, int status, const char *type, const char *code,
                 const char *message, const char *request_id, const char *backend,
                 const char *rule);
/* The same in a client dialect's error shape. */
/* The request member a decoder's message is about, for the error's "param"
 * (what the SDKs show as err.param): its first word when that is a member's
 * path ("tools[0].function.name must be ..."), written to buf; else NULL. */
const char *sl_gw_error_param(const char *msg, char *buf, size_t cap);
void sl_gw_error_dialect(sl_conn_t *c, const sl_dialect_ops_t *dia, int status, const char *type,
                         const char *code, const char *message, const char *request_id,
                         const char *backend, const char *rule);
/* x-sluice-data-class as the classifier reads it: every line of it, joined;
 * "restricted" when they are too long for buf; NULL when it was not sent. */
const char *sl_gw_data_class(const sl_http_req_t *r, char *buf, size_t cap);
/* The x-sluice-request-id (also as x-request-id and request-id, which the
 * OpenAI and Anthropic SDKs read), -backend and -rule header lines (NULL:
 * "none"), then `extra` (more header lines, or NULL), into out[cap]. */
void sl_gw_route_headers(char *out, size_t cap, const char *request_id, const char *backend,
                         const char *rule, const char *extra);

/* A new request id, unique across workers and processes: "req_" + the time
 * (8 hex digits) + the process's random boot number (8) + a sequence number. */
#define SL_GW_REQ_ID_MAX 40
void sl_gw_request_id(sl_gw_t *gw, char out[SL_GW_REQ_ID_MAX]);

/* Counts a finished request in the metrics, and logs its access line when
 * the config's access_log is on. */
void sl_gw_count(sl_gw_t *gw, const sl_http_req_t *r, const char *req_id, int status,
                 const char *backend, const char *rule, const char *tenant);

#endif
