/* A client dialect (OpenAI Chat Completions, OpenAI Responses, Anthropic
 * Messages): how a request body is decoded into sl_chat_req_t and how the
 * answer, streamed or whole, and errors are encoded back. The chat pipeline
 * speaks only through this table; one file per dialect (codec_openai.c,
 * codec_responses.c, codec_anthropic.c). */
#ifndef SL_DIALECT_H
#define SL_DIALECT_H

#include "backend.h"
#include "codec_openai.h"
#include "sl_buf.h"
#include "sl_chat.h"

#include <stdbool.h>

/* Per-response encoder state. */
typedef struct {
  const char *id;       /* response id (chatcmpl-..., msg_...) */
  long created;
  const char *model;    /* model name reported to the client */
  const char *fingerprint, *service_tier; /* an OpenAI-compatible upstream's, or NULL */
  int prompt_tokens;    /* known before the answer (local, an Anthropic upstream's
                           message_start) or estimated; for message_start */
  int cache_read_tokens, cache_write_tokens; /* of prompt_tokens, when cache_reported */
  bool cache_reported;
  /* streaming state, owned by the dialect */
  int block;            /* index of the open content block, -1 none */
  int block_kind;       /* 0 none, 1 text, 2 tool */
  int tool_index;       /* upstream tool index of the open tool block */
  int n_blocks;
  /* logprobs asked for: the entries for the next text chunk, or for the whole
   * answer (OpenAI JSON, comma-separated; dialects without logprobs ignore it) */
  bool logprobs;
  const char *lp;
  size_t lp_len;
  /* The model declined: whether it did (set as the refusal arrives, streamed
   * or not), and the refusal text of a whole answer (NULL in a stream). */
  bool refused;
  const char *refusal;
  size_t refusal_len;
  /* The model's reasoning of a whole answer, as relayed (NULL: none). */
  const char *reasoning;
  size_t reasoning_len;
  /* The stream opens with a tool call, not text: OpenAI's first delta then
   * carries no content (a client's accumulated content stays null). */
  bool opens_with_tool;
  /* The Responses dialect's stream (whose last event repeats the whole answer):
   * events sent (sequence_number), the open message's content part (0 none,
   * 1 output_text, 2 refusal) and its count of parts, the open part's text or
   * the open call's arguments, the message's finished parts, the open call's
   * head, and the finished output items. The pipeline bounds (sl_buf_init)
   * and frees these buffers; other dialects leave them empty. */
  int seq, part_kind, n_parts;
  sl_buf_t item_text, item_parts, item_head, items;
  /* The request's options the response object repeats ("instructions":…,
   * "tools":…, …, without braces; sl_responses_echo), or NULL: defaults. */
  const char *echo;
} sl_resp_t;

typedef struct {
  const char *name;
  const char *id_prefix; /* of the answer's id: "chatcmpl-", "msg_", "resp_" */
  /* Tool calls must reach the client one whole call after another (a block
   * per call): an upstream that may interleave their deltas (OpenAI's, by
   * index) has them gathered and sent at the end of the answer. */
  bool tools_one_by_one;
  /* 0, or SL_EPARSE (not JSON), SL_EUNSUPPORTED (a server-side thread, which
   * sluice does not keep: error code thread_unsupported_request), another code
   * (a bad request); err says why. */
  int (*decode)(const char *json, size_t len, sl_chat_req_t *out, char *err, size_t errlen);
  /* Streaming: events appended to out, as SSE text. */
  int (*stream_start)(sl_buf_t *out, sl_resp_t *r);
  int (*stream_text)(sl_buf_t *out, sl_resp_t *r, const char *s, size_t n);
  /* A piece of a refusal (OpenAI's delta.refusal); resp->refused is set. */
  int (*stream_refusal)(sl_buf_t *out, sl_resp_t *r, const char *s, size_t n);
  /* A piece of the model's reasoning (an upstream's reasoning_content); NULL:
   * the dialect has no place for it, and it is not relayed. */
  int (*stream_reasoning)(sl_buf_t *out, sl_resp_t *r, const char *s, size_t n);
  int (*stream_tool)(sl_buf_t *out, sl_resp_t *r, int index, const char *id, const char *name,
                     const char *args, size_t n);
  /* A gathered call's whole arguments as the dialect sends them (NULL: as they
   * came), before stream_tool: Anthropic's input must be an object. */
  int (*tool_input)(sl_buf_t *out, const char *args, size_t n);
  int (*stream_end)(sl_buf_t *out, sl_resp_t *r, const sl_result_t *res, bool include_usage);
  /* An error event ending a stream: the error's HTTP status, type and code as
   * the whole answer's error would carry them (a dialect without codes types it
   * by the status, as its whole answer's error). */
  int (*stream_error)(sl_buf_t *out, sl_resp_t *r, int status, const char *type, const char *code,
                      const char *msg);
  /* Whole answer (JSON). */
  int (*complete)(sl_buf_t *out, sl_resp_t *r, const char *text, size_t n,
                  const sl_tool_acc_t *tools, size_t n_tools, const sl_result_t *res);
  /* Error body (JSON) for an HTTP error status. */
  int (*error)(sl_buf_t *out, int status, const char *type, const char *code, const char *param,
               const char *msg);
} sl_dialect_ops_t;

extern const sl_dialect_ops_t sl_dialect_openai;
/* Defined by codec_anthropic.c; weak until it is linked in. */
extern const sl_dialect_ops_t sl_dialect_anthropic __attribute__((weak));
/* Defined by codec_responses.c. */
extern const sl_dialect_ops_t sl_dialect_responses;

#endif
