/* The internal chat request: what every client dialect (OpenAI, Anthropic) is
 * decoded into, what the router classifies, what the policy decides on and what
 * every backend encodes for its upstream. Owned by one request; free with
 * sl_chat_req_free(). */
#ifndef SL_CHAT_H
#define SL_CHAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { SL_DIALECT_OPENAI, SL_DIALECT_ANTHROPIC } sl_dialect_t;

typedef struct {
  char *role;           /* "system", "user", "assistant", "tool" */
  char *content;        /* text parts joined with "\n"; never NULL ("" if none) */
  char *name;           /* optional */
  char *tool_call_id;   /* role "tool": which call this answers */
  char *tool_calls;     /* assistant: JSON array of OpenAI-shaped tool calls, or NULL */
  bool is_error;        /* role "tool": the tool failed (Anthropic's tool_result is_error) */
} sl_msg_t;

typedef struct {
  sl_dialect_t dialect;
  char *model;          /* as the client asked ("auto" when absent) */
  sl_msg_t *msgs;
  size_t n_msgs;
  int max_tokens;       /* -1: not given */
  bool max_completion;  /* the client named it max_completion_tokens (reasoning
                           models refuse max_tokens): passed on under that name */
  double temperature;   /* <0: not given */
  double top_p;         /* <0: not given */
  int top_k;            /* <0: not given */
  double min_p;         /* <0: not given */
  double presence_penalty, frequency_penalty, repetition_penalty; /* 0 / 0 / 1 default */
  bool has_seed;
  uint64_t seed;
  char **stop;          /* stop strings */
  size_t n_stop;
  bool stream;
  bool include_usage;   /* stream_options.include_usage */
  bool logprobs;
  int top_logprobs;
  char *tools;          /* JSON array, OpenAI shape ({"type":"function","function":{...}}), or NULL */
  char *tool_choice;    /* JSON value, or NULL */
  bool one_tool_call;   /* at most one tool call a turn: OpenAI parallel_tool_calls
                           false, Anthropic tool_choice.disable_parallel_tool_use */
  char *response_format;/* JSON value, or NULL */
  bool json_output;     /* response_format asks for JSON (json_object, json_schema) */
  char *user;           /* OpenAI `user` / Anthropic metadata.user_id */
  /* OpenAI request members with no free text that an OpenAI-compatible upstream
   * gets as they came (parallel_tool_calls, reasoning_effort, verbosity,
   * service_tier, logit_bias): "name":value,... without braces, or NULL. */
  char *passthrough;
  /* The client's anthropic-beta header (feature names), which an anthropic
   * backend is sent as it came: classified like the rest, or NULL. */
  char *beta;
} sl_chat_req_t;

void sl_chat_req_init(sl_chat_req_t *r);
void sl_chat_req_free(sl_chat_req_t *r);

/* The text the classifier sees and entity offsets refer to: each message's
 * content in order, separated by "\n" (the first sl_chat_messages_len() bytes),
 * then, each after a "\n", everything else that would be sent: assistant tool
 * calls, message names, the ids tool results answer, tool definitions,
 * tool_choice, response_format, user, the passed-through members, stop
 * strings and the anthropic-beta header's feature names (without their dates). Returns 0 or SL_E*. */
int sl_chat_text(const sl_chat_req_t *r, char **out, size_t *len);

/* Whether a client's `model` is a model name sluice passes on: 1 to
 * SL_CHAT_MAX_MODEL bytes of [A-Za-z0-9._:/@+-] with a letter, and not shaped
 * like an e-mail address (sl_chat.c says why). */
#define SL_CHAT_MAX_MODEL 256
bool sl_chat_model_name_ok(const char *s);
/* The length of an anthropic-beta feature name s[0..n) without its trailing
 * date ("-2025-02-19" or "-20250219"); n when it ends in none. */
size_t sl_chat_beta_undated(const char *s, size_t n);
/* Whether the request offers tools it may use (tool_choice not "none") or asks
 * for JSON output: what the local engine, with no tool calling and no
 * constrained decoding, cannot give. */
bool sl_chat_wants_tools_or_json(const sl_chat_req_t *r);
/* Bytes of sl_chat_text() that are message contents. */
size_t sl_chat_messages_len(const sl_chat_req_t *r);
/* The prompt's tokens estimated at about 4 bytes a token of its text (the
 * messages, the tool calls they carry and the tool definitions), rounded up,
 * plus what a chat template adds (3 tokens a message and 3 to open the
 * answer, as OpenAI counts them): what is counted when no one counted (an
 * upstream without usage, an Anthropic stream's message_start before an
 * OpenAI upstream's usage comes, the routing's length check). */
int sl_chat_estimate_prompt_tokens(const sl_chat_req_t *r);

#endif
