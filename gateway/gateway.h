/* The running gateway: one loop, the HTTP server, the backends, the policy in
 * force (swapped atomically on reload; each request holds a reference to the
 * policy it started with), metrics and the per-tenant rate window. */
#ifndef SL_GATEWAY_H
#define SL_GATEWAY_H

#include "backend.h"
#include "ledger.h"
#include "dialect.h"
#include "metrics.h"
#include "policy.h"
#include "rate.h"
#include "server.h"

#include <uv.h>

typedef struct sl_gw {
  uv_loop_t *loop;
  sl_server_t *srv;
  sl_backends_t *backends;
  sl_policy_t *policy;
  sl_metrics_t *metrics;
  sl_rate_t *rate;
  sl_ledger_t *ledger;          /* NULL: no ledger configured */
  sl_ledger_budgets_t *budgets; /* per-key monthly spend (with a ledger) */
  char *config_path;
  uint64_t seq;
  unsigned inflight;
  bool draining;
} sl_gw_t;

/* The server's request handler: routes by method and path. */
void sl_gw_handle(sl_conn_t *c, sl_http_req_t *req, void *gw);

/* Re-reads the config file and swaps the policy; on error the old one stays and
 * the reason is written to why. Returns 0 or SL_E*. */
int sl_gw_reload(sl_gw_t *gw, char *why, size_t n);

/* POST /v1/chat/completions (OpenAI) and POST /v1/messages (Anthropic) */
void sl_gw_chat(sl_gw_t *gw, sl_conn_t *c, sl_http_req_t *req, const sl_dialect_ops_t *dia);

/* A complete JSON error response in the OpenAI shape, with the sluice headers. */
void sl_gw_error(sl_conn_t *c, int status, const char *type, const char *code,
                 const char *message, const char *request_id, const char *backend,
                 const char *rule);
/* The same in a client dialect's error shape. */
void sl_gw_error_dialect(sl_conn_t *c, const sl_dialect_ops_t *dia, int status, const char *type,
                         const char *code, const char *message, const char *request_id,
                         const char *backend, const char *rule);
/* Counts a finished request in the metrics. */
void sl_gw_count(sl_gw_t *gw, int status, const char *backend, const char *rule,
                 uint64_t t_start_ns, size_t bytes_in);

#endif
