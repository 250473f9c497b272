/* The table of function pointers behind backend.h; one per backend kind. */
#ifndef SL_BACKEND_INT_H
#define SL_BACKEND_INT_H

#include "backend.h"
#include "http_client.h"
#include "sl_buf.h"
#include "sse.h"

#include <cjson/cJSON.h>

typedef struct {
  const char *kind;
  int (*prepare)(sl_backends_t *b, const sl_backend_cfg_t *cfg, const sl_call_opts_t *o,
                 const sl_call_cbs_t *cbs, void *data, sl_call_t **out);
  int (*start)(sl_call_t *c);
  void (*cancel)(sl_call_t *c);
  void (*pause)(sl_call_t *c, bool pause); /* NULL: cannot (the local engine) */
  void (*usage)(const sl_call_t *c, sl_result_t *out); /* see sl_call_usage */
} sl_backend_ops_t;

/* Every call starts with this header so backend.c can dispatch. */
struct sl_call {
  const sl_backend_ops_t *ops;
  sl_backends_t *owner;
  const sl_backend_cfg_t *cfg;
  sl_buf_t body;              /* bytes that will leave */
  int prompt_estimate;        /* the prompt's tokens when the upstream counts none */
  char destination[300];
  sl_call_cbs_t cbs;
  void *data;
  bool started;   /* output was delivered: no more failover */
  bool failed;    /* on_error ran */
  bool abandoned; /* the caller let go (a callback returned non-zero, or cancel) */
  bool unsent;    /* the transfer failed before any byte of the request left */
  bool answering; /* the backend took the request and works on its answer (an
                     upstream's 2xx status; the local engine: once submitted) */
  /* what an OpenAI-compatible upstream said of itself ("" when it said nothing):
   * relayed to OpenAI clients (sl_call_upstream_meta) */
  char fingerprint[72], service_tier[32];
};

/* Takes an upstream's system_fingerprint and service_tier from an answer or a
 * chunk (j), when they are short strings. */
void sl__call_note_meta(sl_call_t *c, const cJSON *j);

/* Reports a failure through on_error once: never after an earlier failure or
 * once the caller let go; `retryable` only counts before any output. */
void sl__call_fail(sl_call_t *c, int code, int http_status, bool retryable, const char *type,
                   const char *msg);

struct sl_backends {
  uv_loop_t *loop;
  sl_hc_t *hc;
  struct sl_local_set *local;      /* loaded local engines, by model path (shared) */
  bool local_owner;                /* this set loaded them and frees them */
  struct sl_local_port *local_port; /* this loop's way back from the engines */
};

extern const sl_backend_ops_t sl__openai_ops;
extern const sl_backend_ops_t sl__anthropic_ops __attribute__((weak));
extern const sl_backend_ops_t sl__local_ops;

/* The endpoint's URL: base_url's path, then `path`, then base_url's query if
 * it has one ("…/openai/deployments/gpt?api-version=2024-06-01"). A base path
 * loses one trailing '/', then `strip` if it ends so ("/v1", which `path`
 * repeats). */
void sl__api_url(char *out, size_t cap, const char *base, const char *strip, const char *path);
/* "host:port" of a URL, for the ledger's destination column. */
void sl__url_destination(const char *url, char *out, size_t n);
/* Fills err from an upstream error body (OpenAI or Anthropic JSON shape); status
 * 0: an error event inside a stream (then e->http_status is 502). */
void sl__upstream_error(sl_call_error_t *e, int status, const char *body, size_t len);
/* A token count from an upstream's usage: a whole number from 0 to
 * SL_MAX_USAGE_TOKENS, else false (the count is not believed: a negative count
 * would run the counters backwards, an absurd one spend a budget). */
#define SL_MAX_USAGE_TOKENS 10000000
bool sl__usage_count(const cJSON *v, int *out);
/* How long a stream's body may stay open after its last event ([DONE],
 * message_stop) before the answer is taken as complete and the transfer ended. */
#define SL_STREAM_END_GRACE_MS 1000
/* One JSON value filling [p, p + n) but for whitespace, or NULL: an answer
 * with something after its value (two values, garbage) is broken.
 * numbers_as_written: where numbers are re-printed (an Anthropic message's
 * tool inputs), they keep their text (common/sl_json.h). */
cJSON *sl__parse_json(const char *p, size_t n, bool numbers_as_written);
/* A UTF-16 surrogate pair an upstream split across two stream events ("…\ud83d"
 * then "\ude00…", as proxies that cut strings by UTF-16 units do): the high
 * half is taken out of the event that ends a string on it and put before the
 * low half that opens a string of the next. Returns the event's text to parse
 * (malloc'd, its length in *out_n), or NULL to parse it as it is. */
typedef struct {
  char held[7]; /* "\uD83D", or "" */
} sl__surr_t;
char *sl__surrogates_join(sl__surr_t *st, const char *p, size_t n, size_t *out_n);
/* Whether an upstream's HTTP status may be tried again or elsewhere. */
bool sl__upstream_retryable(int status);
/* A stream event's data that did not parse as JSON: unless it is blank, the
 * call fails (retryable before anything was relayed). Returns what an SSE
 * event callback returns: 1 to stop. */
int sl__call_bad_event(sl_call_t *c, const char *p, size_t n);

/* What both API backends do with an upstream answer: a 2xx event stream goes
 * through the SSE parser, anything else is collected (bounded; error bodies are
 * truncated, not fatal). An answer to a streamed request whose content type
 * says neither event stream nor JSON (text/plain, none) is an event stream if
 * its first bytes are an SSE field. */
typedef struct {
  int status;
  long retry_after_ms; /* the upstream's Retry-After, 0 if none */
  bool no_retry;       /* it said x-should-retry: false */
  bool want_stream;    /* the request asked for a stream */
  bool sniff;          /* a 2xx answer of no clear type: look at its first bytes */
  bool streaming;
  sl_buf_t body;
  size_t held; /* bytes of body counted in the process-wide bound */
  sl_sse_t sse;
} sl__upstream_t;

void sl__upstream_init(sl__upstream_t *u, sl_sse_event_cb on_event, void *data);
void sl__upstream_free(sl__upstream_t *u);
/* http_client callbacks' bodies: return non-zero to abort the transfer. */
int sl__upstream_response(sl__upstream_t *u, int status, const char *ctype, long retry_after_ms,
                          bool no_retry);
/* Returns 1 to stop the transfer (an answer or event over its bound fails c). */
int sl__upstream_data(sl__upstream_t *u, sl_call_t *c, const char *p, size_t n);
/* The common ends of an API transfer: a transport error or timeout, or an
 * upstream error status (body parsed by parse_error). Reports it and returns
 * true; false when the answer is there to be finished. */
bool sl__call_transfer_failed(sl_call_t *c, const sl__upstream_t *up, int err, int status,
                              const char *msg,
                              void (*parse_error)(sl_call_error_t *e, int status, const char *body,
                                                  size_t len));

#endif
