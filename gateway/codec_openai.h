/* The OpenAI Chat Completions dialect: request JSON -> sl_chat_req_t, and the
 * answer back as one chat.completion object or chat.completion.chunk SSE events. */
#ifndef SL_CODEC_OPENAI_H
#define SL_CODEC_OPENAI_H

#include "backend.h"
#include "sl_buf.h"
#include "sl_chat.h"

#include <stdbool.h>
#include <stddef.h>

/* Decodes and validates a request body. On error returns SL_EPARSE/SL_EINVAL/
 * SL_ETOOBIG and a client-facing reason naming the field in err. */
int sl_openai_decode_request(const char *json, size_t len, sl_chat_req_t *out, char *err,
                             size_t errlen);

/* One tool call being assembled from deltas. */
typedef struct {
  char id[96];
  char name[128];
  sl_buf_t args;
} sl_tool_acc_t;

typedef struct {
  const char *id;       /* chatcmpl-... */
  long created;
  const char *model;
  /* The client asked for logprobs: a completion, and a chunk with content, carry
   * {"content": [lp], "refusal": null}, lp being the entries written by
   * sl_openai_encode_logprob() (comma-separated; may be empty). Else null. */
  bool logprobs;
  const char *lp;
  size_t lp_len;
  /* The model declined (an OpenAI upstream's message.refusal): a completion
   * carries it as "refusal" (its content null when there is no text); a chunk
   * as delta.refusal. NULL: "refusal": null, and no such delta. */
  const char *refusal;
  size_t refusal_len;
  /* The model's reasoning, relayed from an upstream that sent it (vLLM's,
   * DeepSeek's, llama.cpp's reasoning_content): a completion carries it as
   * message.reasoning_content, a chunk as delta.reasoning_content. NULL: no
   * such member. */
  const char *reasoning_text;
  size_t reasoning_text_len;
  /* Usage carries prompt_tokens_details.cached_tokens when the upstream said. */
  bool cache_reported;
  int cached_tokens;
  /* ... and completion_tokens_details.reasoning_tokens when the upstream said. */
  bool reasoning_reported;
  int reasoning_tokens;
  /* the upstream's system_fingerprint and service_tier (NULL: null / absent) */
  const char *fingerprint, *service_tier;
} sl_openai_meta_t;

/* One entry of logprobs.content: token, logprob, bytes, top_logprobs. A token
 * that is part of a UTF-8 character shows U+FFFD in "token"; "bytes" is exact. */
int sl_openai_encode_logprob(sl_buf_t *out, const sl_token_logprob_t *t);

/* Whole answer. Appends JSON to out. */
int sl_openai_encode_completion(sl_buf_t *out, const sl_openai_meta_t *m, const char *text,
                                size_t text_len, const sl_tool_acc_t *tools, size_t n_tools,
                                const char *finish_reason, int prompt_tokens,
                                int completion_tokens);
/* One "data: {chunk}\n\n" event. Any of role/content/tool/finish may be NULL. */
int sl_openai_encode_chunk(sl_buf_t *out, const sl_openai_meta_t *m, const char *role,
                           const char *content, size_t content_len, int tool_index,
                           const char *tool_id, const char *tool_name, const char *tool_args,
                           size_t tool_args_len, const char *finish_reason);
/* The final usage chunk (choices: []) of stream_options.include_usage. */
int sl_openai_encode_usage_chunk(sl_buf_t *out, const sl_openai_meta_t *m, int prompt_tokens,
                                 int completion_tokens);
/* {"error": {"message", "type", "param", "code"}}; code and param may be NULL (null). */
int sl_openai_encode_error(sl_buf_t *out, const char *message, const char *type,
                           const char *code, const char *param);
/* The same as a dialect's `error` operation (the status is not in the body):
 * OpenAI's Chat Completions and Responses APIs answer errors alike. */
int sl_openai_dialect_error(sl_buf_t *out, int status, const char *type, const char *code,
                            const char *param, const char *msg);

#endif
