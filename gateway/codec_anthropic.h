/* The Anthropic Messages dialect (POST /v1/messages): request JSON ->
 * sl_chat_req_t, and the answer back as one `message` object or the Messages
 * streaming event sequence. The dialect table entry is sl_dialect_anthropic
 * (dialect.h); these are the pieces tests and other code may reach directly. */
#ifndef SL_CODEC_ANTHROPIC_H
#define SL_CODEC_ANTHROPIC_H

#include "sl_chat.h"

#include <stdbool.h>
#include <stddef.h>

/* Decodes and validates a Messages request body. On error returns SL_EPARSE
 * (not JSON), SL_EINVAL (a bad or unsupported field: images, documents, server
 * tools) or SL_ENOMEM, with a client-facing reason naming the field in err; out
 * is then empty (freed). On success out->msgs holds the system prompt first (if
 * any), tool_use blocks as OpenAI-shaped tool_calls and tool_result blocks as
 * role "tool" messages; out->tools is in OpenAI shape. */
/* Whether a request body has Anthropic's shape without the header saying so,
 * by what OpenAI's has not: a top-level "system" or "stop_sequences", a tool
 * with "input_schema", or a content block of
 * Anthropic's types (tool_use, tool_result, image, document, thinking). */
bool sl_anthropic_shaped(const char *json, size_t len);
int sl_anthropic_decode_request(const char *json, size_t len, sl_chat_req_t *out, char *err,
                                size_t errlen);

/* OpenAI finish reason (stop, length, tool_calls, content_filter) -> Anthropic
 * stop_reason. `stop_sequence`: the stop string that matched, if known. */
const char *sl_anthropic_stop_reason(const char *finish_reason, const char *stop_sequence,
                                     int had_tool_calls);

/* HTTP status -> Anthropic error type (invalid_request_error, ...). */
const char *sl_anthropic_error_type(int status);

#endif
