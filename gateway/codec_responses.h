/* The OpenAI Responses dialect (POST /v1/responses): a request's `input` items,
 * `instructions`, function tools and `text.format` become the internal chat
 * request; the answer goes back as one `response` object or the Responses
 * streaming events (response.created ... response.completed). sluice keeps no
 * conversations: previous_response_id and conversation are refused (the client
 * sends the whole conversation); references to items it produced lately are
 * resolved by the caller (sl_responses_resolve, gateway/items.h). The dialect
 * table entry is sl_dialect_responses (dialect.h). */
#ifndef SL_CODEC_RESPONSES_H
#define SL_CODEC_RESPONSES_H

#include "sl_buf.h"
#include "sl_chat.h"

#include <stdbool.h>
#include <stddef.h>

/* Decodes and validates a Responses request body into out (OpenAI-shaped
 * messages and tools). SL_EPARSE (not JSON), SL_EUNSUPPORTED (it names
 * server-side state: a previous response, a conversation, an item reference),
 * SL_EINVAL (a bad or unsupported field; err names it) or SL_ENOMEM; out is
 * then empty. */
int sl_responses_decode_request(const char *json, size_t len, sl_chat_req_t *out, char *err,
                                size_t errlen);

/* The same, with the options the answer repeats read from the same parse
 * (sl_responses_echo: *echo, which the caller frees, and *stores); *echo is
 * NULL after an error. */
int sl_responses_decode_echo(const char *json, size_t len, sl_chat_req_t *out, char **echo,
                             bool *stores, char *err, size_t errlen);

/* Whether a body has the Responses shape (an `input` and no `messages`): what
 * /v1/explain and the CLI read as one. */
bool sl_responses_shaped(const char *json, size_t len);

/* The body with each item reference in `input` ({"type":"item_reference",
 * "id":...}) replaced by the item lookup(ctx, id) returns (JSON the caller's
 * lookup allocated; NULL: unknown, the reference stays and the decoder refuses
 * it). 0 with the body in out; SL_EPARSE/SL_ENOMEM. */
int sl_responses_resolve(const char *json, size_t len, char *(*lookup)(void *ctx, const char *id), void *ctx,
                         sl_buf_t *out);

/* The request's options as the response object repeats them: "instructions",
 * "max_output_tokens", "metadata", "parallel_tool_calls",
 * "previous_response_id", "reasoning", "store", "temperature", "text",
 * "tool_choice", "tools", "top_p", "truncation", "user" as members without
 * the braces, each as the request gave it or its default; NULL when the body
 * does not parse or out of memory. The caller frees it. *stores: whether the
 * request lets its answer be kept ("store" absent or true; false with "store":
 * false, or a body that does not parse). */
char *sl_responses_echo(const char *json, size_t len, bool *stores);

/* The Chat Completions body a Responses body stands for (what the OpenAI
 * decoder then reads), into out; the same errors. Exposed for tests. */
int sl_responses_to_chat(const char *json, size_t len, sl_buf_t *out, char *err, size_t errlen);

#endif
