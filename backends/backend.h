/* One interface for every backend kind: prepare a call (the exact bytes that will
 * leave are known before anything is sent, so the gateway can record egress
 * first), start it, receive text / tool-call deltas and a final result through
 * callbacks on the loop thread, or cancel it. Implementations: backends/api_openai.c,
 * backends/api_anthropic.c, backends/local_backend.c; chosen once in backend.c. */
#ifndef SL_BACKEND_H
#define SL_BACKEND_H

#include "config.h"
#include "sl_chat.h"

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

typedef struct sl_call sl_call_t;

typedef struct {
  int prompt_tokens;
  int completion_tokens;
  bool usage_reported;        /* false: the counts are sluice's own estimate */
  /* Of prompt_tokens, those read from and written to the upstream's prompt
   * cache, when it said (cache_reported): Anthropic's cache_read_input_tokens /
   * cache_creation_input_tokens, OpenAI's prompt_tokens_details.cached_tokens. */
  int cache_read_tokens;
  int cache_write_tokens;
  bool cache_reported;
  /* Of completion_tokens, those a reasoning model spent thinking, when the
   * upstream said (OpenAI's completion_tokens_details.reasoning_tokens). */
  int reasoning_tokens;
  bool reasoning_reported;
  const char *finish_reason;  /* OpenAI vocabulary: stop, length, tool_calls, content_filter */
  const char *stop_sequence;  /* the client's stop string that ended the answer, when the
                                 backend knows it (anthropic), else NULL */
  const char *model;          /* what the upstream said it ran, or NULL */
  double busy_seconds;        /* local engine: this call's share of engine busy time */
} sl_result_t;

typedef struct {
  int code;                   /* SL_E* */
  int http_status;            /* upstream status, 0 if none */
  bool retryable;             /* connect failure, timeout before output, 429, 5xx */
  bool started;               /* output was already delivered */
  bool retryable_fresh;       /* what `retryable` would be had no output been delivered: a
                                 caller that let none of it reach its client may move on */
  bool unsent;                /* no byte of the request left (the connect failed) */
  char type[64];              /* OpenAI error type */
  char upstream_code[64];     /* the upstream's own error code (OpenAI "code"), or "" */
  char param[128];            /* the request field the upstream blamed (OpenAI "param"), or "" */
  char message[1024];
  long retry_after_ms;        /* the upstream said when to try again (ms), 0 if not */
  bool no_retry;              /* the upstream said x-should-retry: false: not asked again */
} sl_call_error_t;

/* Per-token log probabilities, when the request asked for them and the backend
 * has them (local engine). Token strings are the token's bytes, which may be
 * part of a UTF-8 character; pointers are valid during the callback only. */
#define SL_MAX_TOP_LOGPROBS 20
typedef struct {
  const char *token;
  size_t len;
  double logprob;
} sl_logprob_alt_t;

typedef struct {
  const char *token;
  size_t len;
  double logprob;             /* of the chosen token, from the model's raw logits */
  int n_top;
  sl_logprob_alt_t top[SL_MAX_TOP_LOGPROBS];
} sl_token_logprob_t;

/* Tool calls in one answer that a backend relays (index 0 .. this - 1); an
 * upstream answering with more fails the call (502, "upstream_error"), never
 * cuts the list short unseen. */
#define SL_MAX_TOOL_CALLS 128
#define SL_TOO_MANY_TOOL_CALLS "upstream answered with more than 128 tool calls, more than sluice relays"

/* on_text / on_tool_call return 0 to go on, non-zero to abandon the call: the
 * backend then stops, frees it and runs no further callback. (A callee must not
 * call sl_call_cancel() from inside a callback; it returns non-zero instead.) */
typedef struct {
  int (*on_text)(void *data, const char *s, size_t n);
  /* A tool call delta: index, and id/name when first seen (else NULL), argument bytes. */
  int (*on_tool_call)(void *data, int index, const char *id, const char *name,
                      const char *args, size_t args_len);
  /* Optional: the tokens behind the text of the next on_text (or of what is left
   * when the call ends); same return rule. */
  int (*on_logprobs)(void *data, const sl_token_logprob_t *t, size_t n);
  /* Optional: a piece of a refusal (an OpenAI upstream's message.refusal); same
   * return rule. Without it a refusal is delivered as text. */
  int (*on_refusal)(void *data, const char *s, size_t n);
  /* Optional: a piece of the model's reasoning, before its answer (an
   * OpenAI-compatible upstream's reasoning_content or reasoning, as vLLM,
   * DeepSeek, llama.cpp's server and Ollama send it); same return rule.
   * Without it the reasoning is dropped. */
  int (*on_reasoning)(void *data, const char *s, size_t n);
  /* Success: the call is over and freed after this returns. */
  void (*on_done)(void *data, const sl_result_t *res);
  /* Failure: the call is over and freed after this returns. */
  void (*on_error)(void *data, const sl_call_error_t *err);
} sl_call_cbs_t;

typedef struct {
  const sl_chat_req_t *req;   /* possibly redacted; must outlive the call */
  const char *model;          /* upstream model, or NULL for the backend's default */
  bool stream;                /* deliver deltas as they arrive */
  bool fresh_connect;         /* API backends: on a new connection (after SL_ESTALE) */
  const char *anthropic_beta; /* the client's anthropic-beta header, for an anthropic
                                 backend (feature names only), or NULL */
} sl_call_opts_t;

/* Shared state of all backends on one loop: the HTTP client, and a way back
 * from the local engines. */
typedef struct sl_backends sl_backends_t;

/* first == NULL: a new set that owns the local engines it will load. Else one for
 * another loop that shares first's local engines (create it on any thread, use
 * it on loop's). */
int sl_backends_create(uv_loop_t *loop, const sl_backends_t *first, sl_backends_t **out);
/* Free the first set before those that share its engines, with no loop running. */
void sl_backends_free(sl_backends_t *b);
/* Loads what the config's backends need up front (the local model), into the
 * engines b shares; any thread. Errors name the backend. Called at start and on
 * reload; backends already loaded stay. */
int sl_backends_prepare(sl_backends_t *b, const sl_config_t *cfg, char *err, size_t errlen);
/* What sl_backends_prepare would refuse without loading anything: a
 * chat_template that names no family sluice lays out, and (with require_model) a
 * local backend with no model path (no "model" and no SLUICE_MODEL). The reason,
 * with the key's JSON path, in err; for `policy check`, which must refuse what
 * `serve` refuses (and only warns of a model the deployment may name by
 * SLUICE_MODEL). */
int sl_backends_check(const sl_config_t *cfg, bool require_model, char *err, size_t errlen);
/* Whether the backend can take a call now (local: loaded and queue not full). */
bool sl_backends_ready(const sl_backends_t *b, const sl_backend_cfg_t *cfg);
/* An API backend whose api_key_env names a variable that is unset or empty:
 * the gateway sends it nothing (a request without its key would reach the
 * upstream all the same, only to be refused). */
bool sl_backend_key_missing(const sl_backend_cfg_t *cfg);
/* A local backend's engine now: sequences running and waiting for a slot.
 * false for other kinds or a model not loaded. */
bool sl_backends_load(const sl_backends_t *b, const sl_backend_cfg_t *cfg, int *running,
                      int *queued);

/* Builds a call; nothing is sent. If it fails, no callback runs. */
int sl_call_prepare(sl_backends_t *b, const sl_backend_cfg_t *cfg, const sl_call_opts_t *o,
                    const sl_call_cbs_t *cbs, void *data, sl_call_t **out);
/* The bytes that will be sent, and where ("host:port"; "in-process" for local). */
void sl_call_egress(const sl_call_t *c, const char **body, size_t *len, const char **destination);
/* Sends. If it fails synchronously, no callback runs and the call is freed. */
int sl_call_start(sl_call_t *c);
/* Stops a prepared or started call; no callback runs afterwards. */
void sl_call_cancel(sl_call_t *c);
/* What a call that will not finish (its client went away) has used so far:
 * prompt and completion tokens (the upstream's counts where it sent them, else
 * estimated from the bytes, as at the end of a stream without usage), the
 * prompt cache's counts when the upstream gave them and, for the local
 * engine, its busy time. Fills only those fields of `out`. */
void sl_call_usage(const sl_call_t *c, sl_result_t *out);
/* The upstream's system_fingerprint and service_tier as it sent them, or NULL
 * (an upstream that sent none, or not an OpenAI-compatible one). */
void sl_call_upstream_meta(const sl_call_t *c, const char **fingerprint, const char **service_tier);
/* Whether the backend has taken the request and works on its answer: an
 * upstream answered with a 2xx status (output may still be far off: a
 * reasoning model thinks first), or the local engine has it. */
bool sl_call_answering(const sl_call_t *c);
/* Holds back (true) or lets through the rest of the answer, for a client that
 * reads slower than the upstream sends: an API backend stops reading its
 * upstream; the local engine, whose output max_tokens bounds, goes on. Resume
 * outside the call's callbacks (the held part is delivered through them). */
void sl_call_pause(sl_call_t *c, bool pause);

#endif
