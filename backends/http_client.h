/* Upstream HTTP on the gateway's own loop: one libcurl multi handle driven by
 * uv_poll_t per socket and one uv_timer_t (curl_multi_socket_action), so there
 * is no thread per request. Connections are reused from curl's cache; TLS peer
 * verification is on. */
#ifndef SL_HTTP_CLIENT_H
#define SL_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#define SL_HC_MAX_HEADERS 16 /* headers a request may add */

typedef struct sl_hc sl_hc_t;
typedef struct sl_hc_req sl_hc_req_t;

typedef struct {
  /* Status line and headers are in: return non-zero to abort. retry_after_ms:
   * the answer's retry-after-ms, else its Retry-After in seconds or date, in
   * ms; 0 when it has none. no_retry: it said x-should-retry: false (as
   * OpenAI's answers do for an error that asking again does not cure). */
  int (*on_response)(void *data, int status, const char *content_type, long retry_after_ms,
                     bool no_retry);
  /* A piece of the body: return non-zero to abort. */
  int (*on_data)(void *data, const char *p, size_t n);
  /* Transfer over (err 0, or SL_E*: SL_ETIMEOUT, SL_EUPSTREAM for connect/transport
   * failure). `msg` says what happened. The request is freed after this returns. */
  void (*on_done)(void *data, int err, int status, const char *msg);
} sl_hc_cbs_t;

typedef struct {
  const char *method;         /* "POST" */
  const char *url;
  const char *const *headers; /* "Name: value" strings, NULL-terminated; copied */
  const char *body;           /* copied */
  size_t body_len;
  long connect_timeout_ms;
  long first_byte_timeout_ms; /* until the response status arrives */
  long idle_timeout_ms;       /* once the answer began, nothing more for this long */
  bool fresh_connect;         /* a new connection, not one from the pool */
  const char *ca_file;        /* the CAs to trust (PEM), or NULL: the system's */
  long total_timeout_ms;
} sl_hc_opts_t;

int sl_hc_create(uv_loop_t *loop, sl_hc_t **out);
/* Closes every transfer (without callbacks) and the handles; run the loop
 * afterwards so they finish closing. */
void sl_hc_free(sl_hc_t *hc);

/* Starts a transfer. If it fails synchronously, no callback runs. A transfer
 * that failed on a reused connection before any answer byte ends with
 * SL_ESTALE (send it again with fresh_connect). */
int sl_hc_start(sl_hc_t *hc, const sl_hc_opts_t *o, const sl_hc_cbs_t *cbs, void *data,
                sl_hc_req_t **out);
/* Inside on_done: nothing of the request reached a connection (the connect,
 * the name lookup or the TLS handshake failed), so no byte of it left. */
bool sl_hc_sent_nothing(const sl_hc_req_t *r);
/* Aborts a transfer: its connection is closed, no callback runs afterwards. */
void sl_hc_cancel(sl_hc_req_t *r);
/* The answer is complete (a stream's last event came): if the transfer has not
 * ended ms later (an upstream that keeps the body open), it is ended then, and
 * on_done runs as for a transfer that completed. */
void sl_hc_expect_end(sl_hc_req_t *r, uint64_t ms);
/* Stops (true) or resumes taking the answer: while paused, the next piece curl
 * receives is left with curl and nothing more is read from the upstream (TCP
 * pushes back). Pausing works anywhere; resuming must not be done from inside
 * this request's callbacks (it delivers the held piece at once, through them). */
void sl_hc_pause(sl_hc_req_t *r, bool pause);

/* Transfers in flight. */
size_t sl_hc_active(const sl_hc_t *hc);

#endif
