/* HTTP/1.1 server on a libuv loop, parsing with llhttp. Keep-alive, pipelined
 * requests answered in order (one request in flight per connection; the rest
 * waits, parsed no further, until the response ends), Content-Length and chunked
 * bodies, limits (431/413/503) and timeouts (408 on slow headers or body; idle
 * keep-alive closes), graceful shutdown. A handler receives each complete request
 * and answers through the sl_http_* calls, now or later, from the loop thread. */
#ifndef SL_SERVER_H
#define SL_SERVER_H

#include "config.h"
#include "sl_buf.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct sl_server sl_server_t;
typedef struct sl_conn sl_conn_t;

#define SL_HTTP_MAX_HEADERS 100

typedef struct {
  const char *method;       /* "GET", "POST", ... */
  char *path;               /* without the query string */
  char *query;              /* after '?', or NULL */
  size_t n_headers;
  char *hname[SL_HTTP_MAX_HEADERS]; /* lower-cased */
  char *hvalue[SL_HTTP_MAX_HEADERS];
  sl_buf_t body;
  uint64_t t_start_ns;      /* first byte of the request seen */
  size_t bytes_in;          /* header + body bytes */
} sl_http_req_t;

/* The request handler. `req` stays valid until sl_http_end(). */
typedef void (*sl_http_handler_cb)(sl_conn_t *c, sl_http_req_t *req, void *data);
/* Why a pending response is cut short. */
typedef enum {
  SL_ABORT_GONE,    /* the client went away: nothing more can be written */
  SL_ABORT_SHUTDOWN /* shutdown's grace period is over and the client is still there:
                       end the response now, with an error it can read; whatever is
                       still open SL_HTTP_FINAL_MS later is closed */
} sl_http_abort_why_t;
#define SL_HTTP_FINAL_MS 1000
/* Called when a pending response is cut short; the handler must still call
 * sl_http_end() (after SL_ABORT_GONE it then only releases). */
typedef void (*sl_http_abort_cb)(sl_conn_t *c, sl_http_abort_why_t why, void *data);

typedef struct {
  uint64_t connections_open;
  uint64_t connections_total;
  uint64_t bytes_in;
  uint64_t bytes_out;
  uint64_t rejected_connections;
  uint64_t protocol_errors;   /* 4xx answered by the server itself */
  uint64_t send_timeouts;     /* clients closed for taking nothing of their answer */
} sl_server_stats_t;

int sl_server_create(uv_loop_t *loop, const sl_limits_t *limits, sl_http_handler_cb handler,
                     void *data, sl_server_t **out);
/* Shapes the answers the server gives itself (400 malformed HTTP, 408, 413,
 * 431, ...) for the request's path: writes header lines ("Name: value\r\n"...)
 * into headers[cap] and the JSON error into body; an empty body keeps the
 * server's own (the OpenAI error shape). */
typedef void (*sl_http_error_cb)(int status, const char *message, const char *path, char *headers,
                                 size_t cap, sl_buf_t *body, void *data);
void sl_server_on_error(sl_server_t *s, sl_http_error_cb cb, void *data);
/* How a server shares its address with the others of the process (one per
 * event-loop thread, SO_REUSEPORT). */
typedef enum {
  SL_LISTEN_ALONE, /* no sharing */
  SL_LISTEN_FIRST, /* shareable, but the address must be free: SO_REUSEPORT would
                      otherwise let a second sluice (or anything of the same user)
                      silently take half the connections */
  SL_LISTEN_JOIN   /* join the address a SL_LISTEN_FIRST server of ours holds */
} sl_listen_mode_t;

/* Binds and listens on "HOST:PORT" (IPv4, or IPv6 in brackets). SL_EADDRINUSE
 * when the address is in use. */
int sl_server_listen(sl_server_t *s, const char *hostport, sl_listen_mode_t mode);
/* Counts this server's connections in a counter shared with other servers (one
 * per event-loop thread), so that limits.max_connections holds for all of them
 * together. Call before listening. */
void sl_server_share_limit(sl_server_t *s, atomic_uint *open_all);
/* Bound port (useful with port 0). */
int sl_server_port(const sl_server_t *s);
/* Stops accepting, closes idle connections, lets in-flight requests finish (up to
 * limits.shutdown_grace_ms; then their handlers are told SL_ABORT_SHUTDOWN and get
 * SL_HTTP_FINAL_MS more to end them), then calls done. */
void sl_server_shutdown(sl_server_t *s, void (*done)(void *data), void *data);
/* Frees the server after shutdown completed and the loop closed its handles. */
void sl_server_free(sl_server_t *s);
const sl_server_stats_t *sl_server_stats(const sl_server_t *s);

const char *sl_http_header(const sl_http_req_t *r, const char *lname);
/* Every value of header lname (lower case), joined with ", " as RFC 9110 allows
 * for a list: the one value itself when there is one, "" when there is none,
 * NULL when they do not fit in buf (cap bytes). */
const char *sl_http_header_all(const sl_http_req_t *r, const char *lname, char *buf, size_t cap);
/* The nth line (from 0) of a header, any-case name, shaped for
 * sl_req_meta_t.header (req: sl_http_req_t); NULL past the last. */
const char *sl_http_header_lookup(void *req, const char *name, size_t nth);

/* Complete response. `headers` is "Name: value\r\n"... or NULL. */
void sl_http_respond(sl_conn_t *c, int status, const char *content_type, const char *headers,
                     const char *body, size_t len);
/* Streamed (chunked) response. */
void sl_http_stream_begin(sl_conn_t *c, int status, const char *content_type,
                          const char *headers);
void sl_http_stream_write(sl_conn_t *c, const char *data, size_t len);
/* Ends the response: finishes a stream, then reads the next pipelined request
 * or closes. Always call exactly once per request. */
void sl_http_end(sl_conn_t *c);

void sl_http_set_abort(sl_conn_t *c, sl_http_abort_cb cb, void *data);
bool sl_http_alive(const sl_conn_t *c);
/* Bytes the client has not yet taken from us (write backpressure). */
size_t sl_http_pending_out(const sl_conn_t *c);
/* Calls cb once, when the bytes queued for the client fall to `below` or fewer
 * (a write completes); cb NULL cancels. Forgotten when the request ends or the
 * connection closes. */
typedef void (*sl_http_drain_cb)(sl_conn_t *c, void *data);
void sl_http_on_drain(sl_conn_t *c, size_t below, sl_http_drain_cb cb, void *data);
const char *sl_http_status_text(int status);

#endif
