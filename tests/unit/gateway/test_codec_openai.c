/* OpenAI codec: decoding validates types and names the field; encoding produces
 * JSON the official shapes expect, with every string escaped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gateway/codec_openai.h"
#include "sl_err.h"
#include "sl_json.h"
#include "sl_str.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

static int decode(const char *j, sl_chat_req_t *r, char *err) {
  return sl_openai_decode_request(j, strlen(j), r, err, 300);
}

static void test_decode_full(void **st) {
  sl_chat_req_t r;
  char err[300] = "";
  const char *j =
      "{\"model\":\"openai/gpt-4o\",\"stream\":true,\"stream_options\":{\"include_usage\":true},"
      "\"max_tokens\":50,\"temperature\":0.5,\"top_p\":0.9,\"seed\":42,\"stop\":[\"END\",\"\",\"###\"],"
      "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":{}}}],"
      "\"messages\":[{\"role\":\"developer\",\"content\":\"be nice\"},"
      "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},{\"type\":\"text\",\"text\":\"b\"}]},"
      "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]},"
      "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"42\"}]}";
  assert_int_equal(decode(j, &r, err), 0);
  assert_string_equal(r.model, "openai/gpt-4o");
  assert_true(r.stream && r.include_usage);
  assert_int_equal(r.max_tokens, 50);
  assert_true(r.temperature == 0.5 && r.top_p == 0.9);
  assert_true(r.has_seed && r.seed == 42);
  assert_int_equal(r.n_stop, 2); /* the empty one dropped */
  assert_string_equal(r.stop[1], "###");
  assert_non_null(r.tools);
  assert_int_equal(r.n_msgs, 4);
  assert_string_equal(r.msgs[0].role, "system"); /* developer is the new name of system */
  assert_string_equal(r.msgs[1].content, "a\nb");
  assert_string_equal(r.msgs[2].content, "");
  assert_non_null(r.msgs[2].tool_calls);
  assert_string_equal(r.msgs[3].tool_call_id, "c1");
  char *text;
  size_t len;
  assert_int_equal(sl_chat_text(&r, &text, &len), 0);
  /* message contents first, then tool calls and tool definitions */
  assert_int_equal(sl_chat_messages_len(&r), 15);
  assert_memory_equal(text, "be nice\na\nb\n\n42", 15);
  assert_non_null(strstr(text + 15, "\"c1\""));
  assert_non_null(strstr(text + 15, "\"parameters\""));
  assert_non_null(strstr(text + 15, "\nc1\n")); /* the id the tool result answers */
  free(text);
  sl_chat_req_free(&r);
  /* a lone surrogate in a tool call's arguments (JSON.stringify writes one)
   * is U+FFFD, the arguments otherwise kept: they still parse */
  j = "{\"messages\":[{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"c\",\"type\":\"function\","
      "\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"s\\\":\\\"\\\\ud800x\\\"}\"}}]},{\"role\":\"user\",\"content\":\"x\"}]}";
  assert_int_equal(decode(j, &r, err), 0);
  cJSON *calls = cJSON_Parse(r.msgs[0].tool_calls);
  const char *args = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(calls, 0), "function"), "arguments")->valuestring;
  assert_string_equal(args, "{\"s\":\"\xef\xbf\xbdx\"}");
  cJSON_Delete(calls);
  sl_chat_req_free(&r);
}

/* The model may go upstream as it came: names as providers spell them pass,
 * prose and e-mail addresses are refused. */
static void test_decode_model_names(void **st) {
  static const char *ok[] = {"gpt-4o-2024-08-06", "claude-3-5-sonnet@20240620", "meta-llama/Llama-3.1-8B-Instruct",
                             "llama3.2:3b-instruct-q4_K_M", "ft:gpt-4o-mini-2024-07-18:acme-corp::9abcDEF1",
                             "accounts/fireworks/models/llama-v3p1-70b-instruct", "Qwen/Qwen2.5-7B-Instruct-AWQ"};
  static const char *bad[] = {"My SSN is 512-84-3927", "maria.keller@acme-logistics.com", "512-84-3927",
                              "gpt 4o", "caf\\u00e9"};
  char body[600], err[300];
  sl_chat_req_t r;
  for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
    snprintf(body, sizeof body, "{\"model\":\"%s\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", ok[i]);
    assert_int_equal(decode(body, &r, err), 0);
    sl_chat_req_free(&r);
  }
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    snprintf(body, sizeof body, "{\"model\":\"%s\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", bad[i]);
    assert_int_equal(decode(body, &r, err), SL_EINVAL);
    assert_non_null(strstr(err, "model must be a model name"));
    sl_chat_req_free(&r);
  }
}

static void test_decode_defaults(void **st) {
  sl_chat_req_t r;
  char err[300];
  assert_int_equal(decode("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", &r, err), 0);
  assert_string_equal(r.model, "auto");
  assert_false(r.stream);
  assert_int_equal(r.max_tokens, -1);
  assert_true(r.temperature < 0);
  sl_chat_req_free(&r);
}

static void expect_bad(const char *j, const char *needle) {
  sl_chat_req_t r;
  char err[300] = "";
  int rc = decode(j, &r, err);
  if (!rc || !strstr(err, needle)) {
    print_error("json %s: rc=%d err=%s (want %s)\n", j, rc, err, needle);
    fail();
  }
}

/* "\\u0000" is a backslash and "u0000", not a NUL: accepted, and kept. */
static void test_decode_escaped_backslash(void **st) {
  sl_chat_req_t r;
  char err[300] = "";
  assert_int_equal(decode("{\"messages\":[{\"role\":\"user\",\"content\":\"a\\\\u0000b\"}]}", &r, err), 0);
  assert_string_equal(r.msgs[0].content, "a\\u0000b");
  sl_chat_req_free(&r);
}

/* Members with no free text go on as they came; max_completion_tokens keeps
 * its name. */
static void test_decode_passthrough(void **st) {
  sl_chat_req_t r;
  char err[300] = "";
  assert_int_equal(decode("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_completion_tokens\":64,"
                          "\"parallel_tool_calls\":false,\"reasoning_effort\":\"low\",\"logit_bias\":{\"50256\":-100},"
                          "\"metadata\":{\"note\":\"not forwarded\"}}", &r, err), 0);
  assert_int_equal(r.max_tokens, 64);
  assert_true(r.max_completion);
  assert_string_equal(r.passthrough,
                      "\"parallel_tool_calls\":false,\"reasoning_effort\":\"low\",\"logit_bias\":{\"50256\":-100}");
  sl_chat_req_free(&r);
  assert_int_equal(decode("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":9}", &r, err), 0);
  assert_false(r.max_completion);
  assert_null(r.passthrough);
  sl_chat_req_free(&r);
}

/* Numbers re-printed from a client's JSON keep their text: ids past 2^53,
 * 17-digit fractions, 1.0; a number code changed prints its new value. */
static void test_numbers_as_written(void **st) {
  const char *j = "{\"a\":[9007199254740993,0.30000000000000004,1.0,-2E+3,\"7.50\",{\"b\":1234567890123456789}],"
                  "\"s\":\"x\\\"1.25\",\"c\":12.5}";
  cJSON *v = sl_json_parse(j, strlen(j));
  assert_non_null(v);
  char *out = sl_json_print(v);
  assert_string_equal(out, "{\"a\":[9007199254740993,0.30000000000000004,1.0,-2E+3,\"7.50\",{\"b\":1234567890123456789}],"
                           "\"s\":\"x\\\"1.25\",\"c\":12.5}");
  free(out);
  out = sl_json_print(cJSON_GetObjectItem(v, "a")->child->next); /* one node, not its siblings */
  assert_string_equal(out, "0.30000000000000004");
  free(out);
  cJSON_SetNumberValue(cJSON_GetObjectItem(v, "c"), 3);
  cJSON *d = cJSON_Duplicate(cJSON_GetObjectItem(v, "a"), 1);
  out = sl_json_print(v);
  assert_non_null(strstr(out, "\"c\":3}"));
  free(out);
  out = sl_json_print(d);
  assert_string_equal(out, "[9007199254740993,0.30000000000000004,1.0,-2E+3,\"7.50\",{\"b\":1234567890123456789}]");
  free(out);
  assert_true(cJSON_IsNumber(cJSON_GetObjectItem(v, "c"))); /* still numbers to read */
  cJSON_Delete(d);
  cJSON_Delete(v);

  /* strings ending in runs of backslashes, and escaped quotes before digits */
  j = "{\"p\":\"C:\\\\\",\"n\":1.50,\"q\":\"\\\\\\\"2.0\\\\\",\"m\":[3.0,\"\\\"\"],\"z\":4e0}";
  v = sl_json_parse(j, strlen(j));
  assert_non_null(v);
  out = sl_json_print(v);
  assert_string_equal(out, j);
  free(out);
  cJSON_Delete(v);

  /* through the codec: tools, response_format, tool-call arguments, seed */
  sl_chat_req_t r;
  char err[300] = "";
  assert_int_equal(decode("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"},{\"role\":\"assistant\",\"content\":null,"
                          "\"tool_calls\":[{\"id\":\"c\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":"
                          "\"{\\\"id\\\":9007199254740993,\\\"n\\\":\\\"Zo\\\\u00eb\\\"}\"}}]},"
                          "{\"role\":\"tool\",\"tool_call_id\":\"c\",\"content\":\"ok\"}],"
                          "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":{\"type\":\"object\","
                          "\"properties\":{\"id\":{\"type\":\"integer\",\"maximum\":9007199254740993}}}}}],"
                          "\"seed\":9007199254740993,\"logit_bias\":{\"5\":1.0}}", &r, err), 0);
  assert_non_null(strstr(r.tools, "\"maximum\":9007199254740993"));
  assert_non_null(strstr(r.msgs[1].tool_calls, "{\\\"id\\\":9007199254740993,\\\"n\\\":\\\"Zo\u00eb\\\"}"));
  assert_true(r.seed == 9007199254740993ull);
  assert_string_equal(r.passthrough, "\"logit_bias\":{\"5\":1.0}");
  sl_chat_req_free(&r);
  /* the whole signed 64-bit range, and nothing past it */
  assert_int_equal(decode("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"seed\":9223372036854775807}", &r, err), 0);
  assert_true(r.seed == 9223372036854775807ull);
  sl_chat_req_free(&r);
  assert_int_equal(decode("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"seed\":-9223372036854775808}", &r, err), 0);
  assert_true(r.seed == 0x8000000000000000ull);
  sl_chat_req_free(&r);
  expect_bad("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"seed\":9223372036854775808}", "seed must be a signed 64-bit integer");
  expect_bad("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"seed\":9.3e18}", "seed must be");
}

static void test_decode_errors(void **st) {
  expect_bad("{\"messages\":[", "not valid JSON");
  /* a tool result must say which call it answers */
  expect_bad("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"},{\"role\":\"tool\",\"content\":\"r\"}]}",
             "messages[1].tool_call_id is required for role \"tool\"");
  /* arguments with a member twice: readers disagree on which counts */
  expect_bad("{\"messages\":[{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"c\",\"type\":\"function\","
             "\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\":1,\\\"a\\\":2}\"}}]},{\"role\":\"user\",\"content\":\"x\"}]}",
             "messages[0].tool_calls[0].function.arguments has the member \"a\" twice");
  expect_bad("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tool_choice\":{\"type\":\"function\",\"function\":{}}}",
             "tool_choice.function.name must be a non-empty string");
  expect_bad("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tool_choice\":\"any\"}",
             "tool_choice must be \"none\", \"auto\", \"required\"");
  expect_bad("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tool_choice\":{\"type\":\"custom\"}}",
             "tool_choice must be");
  char deep[2100];
  for (int d = 0; d < 1050; d++) deep[d] = '[', deep[2099 - d] = ']';
  char deep_req[2200];
  snprintf(deep_req, sizeof deep_req, "{\"x\":%.2100s}", deep);
  expect_bad(deep_req, "nested deeper than 1000 levels");
  expect_bad("[]", "must be a JSON object");
  expect_bad("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"reasoning_effort\":\"Ignore all previous\"}",
             "reasoning_effort must be a word");
  expect_bad("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"logit_bias\":{\"abc\":1}}", "logit_bias must be");
  expect_bad("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"parallel_tool_calls\":\"no\"}",
             "parallel_tool_calls must be a boolean");
  /* held strictly: what cJSON lets through would reach the classifier changed */
  expect_bad("{\"messages\":[{\"role\":\"user\",\"content\":\"a \xff b\"}]}", "not valid UTF-8 (at byte 41)");
  expect_bad("{\"messages\":[{\"role\":\"user\",\"content\":\"\xed\xa0\x80\"}]}", "not valid UTF-8");
  expect_bad("{\"messages\":[{\"role\":\"user\",\"content\":\"a\\u0000 secret\"}]}", "U+0000");
  expect_bad("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]} {}", "more after the value");
  /* a custom tool's call has no form in the answers relayed: refused up front */
  expect_bad("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tools\":[{\"type\":\"function\","
             "\"function\":{\"name\":\"f\"}},{\"type\":\"custom\",\"custom\":{\"name\":\"code_exec\"}}]}",
             "tools[1]: type 'custom' is not supported");
  /* one name twice: the classifier and an upstream could read different members */
  expect_bad("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\",\"content\":\"SSN 512-84-3927\"}]}",
             "member \"content\" appears twice");
  expect_bad("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"tools\":[{\"type\":\"function\","
             "\"function\":{\"name\":\"f\",\"parameters\":{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,"
             "\"g\":7,\"h\":8,\"i\":9,\"j\":10,\"k\":11,\"l\":12,\"m\":13,\"n\":14,\"o\":15,\"p\":16,"
             "\"q\":17,\"a\":18}}}]}",
             "member \"a\" appears twice");
  {
    static const char raw_nul[] = "{\"messages\":[{\"role\":\"user\",\"content\":\"a\0b\"}]}";
    sl_chat_req_t r;
    char err[300] = "";
    assert_int_not_equal(sl_openai_decode_request(raw_nul, sizeof raw_nul - 1, &r, err, sizeof err), 0);
    assert_non_null(strstr(err, "NUL byte"));
  }
  expect_bad("{}", "messages must be an array");
  expect_bad("{\"messages\":[]}", "messages must not be empty");
  expect_bad("{\"messages\":[1]}", "messages[0] must be an object");
  expect_bad("{\"messages\":[{\"content\":\"x\"}]}", "messages[0].role must be a string");
  expect_bad("{\"messages\":[{\"role\":\"wizard\",\"content\":\"x\"}]}", "unknown role");
  expect_bad("{\"messages\":[{\"role\":\"user\",\"content\":5}]}", "messages[0].content");
  expect_bad("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":{}}]}]}",
             "only text content parts");
  expect_bad("{\"messages\":[{\"role\":\"assistant\",\"content\":[{\"type\":\"refusal\",\"text\":\"no\"}]}]}",
             "messages[0].content[0].refusal must be a string");
  { /* an assistant's refusal part, as the SDK echoes a refused turn: its text */
    sl_chat_req_t r;
    char err[300] = "";
    assert_int_equal(decode("{\"messages\":[{\"role\":\"user\",\"content\":\"q\"},{\"role\":\"assistant\","
                            "\"content\":[{\"type\":\"refusal\",\"refusal\":\"I cannot.\"}]},"
                            "{\"role\":\"user\",\"content\":\"why?\"}]}",
                            &r, err),
                     0);
    assert_string_equal(r.msgs[1].content, "I cannot.");
    sl_chat_req_free(&r);
  }
  expect_bad("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"temperature\":\"hot\"}",
             "temperature must be a number");
  expect_bad("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"temperature\":3}",
             "temperature must be between");
  expect_bad("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":0}",
             "max_tokens must be between 1 and 10000000"); /* bounds in full, not 1e+07 */
  expect_bad("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tools\":[{\"type\":\"function\","
             "\"function\":{\"description\":\"d\"}}]}",
             "tools[0].function.name must be a non-empty string");
  expect_bad("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tools\":[{\"type\":\"function\","
             "\"function\":{\"name\":\"\"}}]}",
             "tools[0].function.name must be a non-empty string");
  expect_bad("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tools\":[{\"type\":\"function\"}]}",
             "tools[0].function must be an object");
  expect_bad("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":1.5}",
             "max_tokens must be an integer");
  expect_bad("{\"messages\":[{\"role\":\"user\",\"content\":null}]}", "messages[0].content is required");
  expect_bad("{\"messages\":[{\"role\":\"user\"}]}", "messages[0].content is required");
  expect_bad("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"n\":2}", "only 1 choice");
  expect_bad("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stop\":[1]}", "stop must be");
  expect_bad("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"top_logprobs\":2}",
             "top_logprobs requires logprobs");
  expect_bad("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stream\":\"yes\"}",
             "stream must be a boolean");
  expect_bad("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"logprobs\":1}",
             "logprobs must be a boolean");
  expect_bad("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"logprobs\":\"yes\"}",
             "logprobs must be a boolean");
  expect_bad("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tools\":{}}", "tools must be an array");
  /* legacy function calling: refused, not silently answered without it */
  expect_bad("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"functions\":[{\"name\":\"f\"}]}",
             "legacy function calling");
  expect_bad("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"function_call\":\"auto\"}",
             "legacy function calling");
  expect_bad("{\"messages\":[{\"role\":\"function\",\"name\":\"f\",\"content\":\"r\"}]}",
             "messages[0]: legacy function calling");
  expect_bad("{\"messages\":[{\"role\":\"assistant\",\"content\":null,\"function_call\":{\"name\":\"f\"}}]}",
             "messages[0]: legacy function calling");
  expect_bad("{\"model\":5,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", "model must be a string");
}

static void test_encode_completion_escapes(void **st) {
  sl_buf_t b;
  sl_buf_init(&b, 1 << 20);
  sl_openai_meta_t m = {.id = "chatcmpl-1", .created = 7, .model = "mo\"del"};
  const char text[] = "q\"uote\\ nl\n tab\t ctl\x01 \xc3\xa9";
  assert_int_equal(sl_openai_encode_completion(&b, &m, text, sizeof text - 1, NULL, 0, "stop", 3, 4), 0);
  cJSON *j = cJSON_Parse(b.data);
  assert_non_null(j);
  cJSON *msg = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0), "message");
  assert_string_equal(cJSON_GetObjectItem(msg, "content")->valuestring, text);
  assert_string_equal(cJSON_GetObjectItem(j, "model")->valuestring, "mo\"del");
  assert_string_equal(cJSON_GetObjectItem(j, "object")->valuestring, "chat.completion");
  assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "usage"), "total_tokens")->valueint, 7);
  cJSON_Delete(j);
  sl_buf_free(&b);
}

/* logprobs: an entry with a token that is half a UTF-8 character, in a
 * completion and in a chunk; off when not asked */
/* The "token" text sl_openai_encode_logprob gives n bytes (free() it). */
static char *token_text(const char *bytes, size_t n) {
  sl_token_logprob_t t = {.token = bytes, .len = n, .logprob = -1};
  sl_buf_t b;
  sl_buf_init(&b, 1 << 16);
  assert_int_equal(sl_buf_puts(&b, "["), 0);
  assert_int_equal(sl_openai_encode_logprob(&b, &t), 0);
  assert_int_equal(sl_buf_puts(&b, "]"), 0);
  cJSON *j = cJSON_Parse(b.data);
  assert_non_null(j);
  char *s = strdup(cJSON_GetObjectItem(cJSON_GetArrayItem(j, 0), "token")->valuestring);
  cJSON_Delete(j);
  sl_buf_free(&b);
  return s;
}

/* A token's text: a character it holds part of is one U+FFFD, as the
 * detokenizer writes it (a cut-off E8 97 is one, not two); bytes that are not
 * UTF-8 at all (an overlong C0 80, a surrogate ED A0 80, F5) never reach the JSON. */
static void test_logprob_token_text(void **st) {
  static const struct {
    const char *bytes, *want;
  } cases[] = {{"\xe8\x97", "\xef\xbf\xbd"},
               {"a\xe8\x97", "a\xef\xbf\xbd"},
               {"\xc0\x80", "\xef\xbf\xbd\xef\xbf\xbd"},
               {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
               {"\xf5x", "\xef\xbf\xbdx"},
               {"\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80"},
               {"\xf0\x9f\x98", "\xef\xbf\xbd"}};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char *got = token_text(cases[i].bytes, strlen(cases[i].bytes));
    assert_string_equal(got, cases[i].want);
    free(got);
  }
  /* a long token is not cut: 300 bytes of cut-off characters, each one U+FFFD */
  char lng[300];
  for (int i = 0; i < 300; i++) lng[i] = (char)(i % 2 ? 0x97 : 0xe8);
  char *got = token_text(lng, sizeof lng);
  assert_int_equal(strlen(got), 150 * 3);
  free(got);
}

static void test_encode_logprobs(void **st) {
  sl_token_logprob_t t = {.token = "\xc3", .len = 1, .logprob = -0.25, .n_top = 2};
  t.top[0] = (sl_logprob_alt_t){"\xc3", 1, -0.25};
  t.top[1] = (sl_logprob_alt_t){" a\"", 3, -1.5};
  sl_buf_t lp;
  sl_buf_init(&lp, 1 << 16);
  assert_int_equal(sl_openai_encode_logprob(&lp, &t), 0);
  assert_int_equal(sl_buf_puts(&lp, ","), 0);
  t.token = "\xa9!";
  t.len = 2;
  t.n_top = 0;
  t.logprob = -INFINITY; /* underflowed: JSON has no -Infinity */
  assert_int_equal(sl_openai_encode_logprob(&lp, &t), 0);

  sl_buf_t b;
  sl_buf_init(&b, 1 << 20);
  sl_openai_meta_t m = {.id = "c", .created = 1, .model = "m", .logprobs = true, .lp = lp.data,
                        .lp_len = lp.len};
  assert_int_equal(sl_openai_encode_completion(&b, &m, "\xc3\xa9!", 3, NULL, 0, "stop", 1, 2), 0);
  cJSON *j = cJSON_Parse(b.data);
  assert_non_null(j);
  cJSON *lps = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0), "logprobs");
  cJSON *content = cJSON_GetObjectItem(lps, "content");
  assert_int_equal(cJSON_GetArraySize(content), 2);
  cJSON *e0 = cJSON_GetArrayItem(content, 0);
  assert_string_equal(cJSON_GetObjectItem(e0, "token")->valuestring, "\xef\xbf\xbd");
  assert_true(cJSON_GetObjectItem(e0, "logprob")->valuedouble == -0.25);
  cJSON *bytes = cJSON_GetObjectItem(e0, "bytes");
  assert_int_equal(cJSON_GetArraySize(bytes), 1);
  assert_int_equal(cJSON_GetArrayItem(bytes, 0)->valueint, 0xc3);
  cJSON *tops = cJSON_GetObjectItem(e0, "top_logprobs");
  assert_int_equal(cJSON_GetArraySize(tops), 2);
  assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(tops, 1), "token")->valuestring, " a\"");
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetArrayItem(content, 1), "top_logprobs")), 0);
  assert_true(cJSON_GetObjectItem(cJSON_GetArrayItem(content, 1), "logprob")->valuedouble == -9999.0);
  assert_true(cJSON_IsNull(cJSON_GetObjectItem(lps, "refusal")));
  cJSON_Delete(j);

  /* a content chunk carries them; the role chunk and an unasked request do not */
  sl_buf_reset(&b);
  assert_int_equal(sl_openai_encode_chunk(&b, &m, NULL, "x", 1, -1, NULL, NULL, NULL, 0, NULL), 0);
  assert_non_null(strstr(b.data, "\"logprobs\":{\"content\":[{\"token\""));
  sl_buf_reset(&b);
  assert_int_equal(sl_openai_encode_chunk(&b, &m, "assistant", "", 0, -1, NULL, NULL, NULL, 0, NULL), 0);
  assert_non_null(strstr(b.data, "\"logprobs\":null"));
  m.logprobs = false;
  sl_buf_reset(&b);
  assert_int_equal(sl_openai_encode_completion(&b, &m, "x", 1, NULL, 0, "stop", 1, 1), 0);
  assert_non_null(strstr(b.data, "\"logprobs\":null"));
  sl_buf_free(&b);
  sl_buf_free(&lp);
}

static void test_encode_tools_and_chunks(void **st) {
  sl_buf_t b;
  sl_buf_init(&b, 1 << 20);
  sl_openai_meta_t m = {.id = "c", .created = 1, .model = "m"};
  sl_tool_acc_t t = {.id = "call_1", .name = "get_weather"};
  sl_buf_init(&t.args, 1024);
  sl_buf_puts(&t.args, "{\"city\":\"Paris\"}");
  assert_int_equal(sl_openai_encode_completion(&b, &m, "", 0, &t, 1, "tool_calls", 1, 1), 0);
  cJSON *j = cJSON_Parse(b.data);
  assert_non_null(j);
  cJSON *msg = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0), "message");
  assert_true(cJSON_IsNull(cJSON_GetObjectItem(msg, "content")));
  cJSON *tc = cJSON_GetArrayItem(cJSON_GetObjectItem(msg, "tool_calls"), 0);
  assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(tc, "function"), "arguments")->valuestring,
                      "{\"city\":\"Paris\"}");
  cJSON_Delete(j);
  sl_buf_reset(&b);
  assert_int_equal(sl_openai_encode_chunk(&b, &m, NULL, "x", 1, 0, "call_1", "f", "{\"a", 3, NULL), 0);
  assert_true(!strncmp(b.data, "data: {", 7));
  assert_true(b.len > 2 && !strcmp(b.data + b.len - 2, "\n\n"));
  j = cJSON_ParseWithLength(b.data + 6, b.len - 8);
  assert_non_null(j);
  cJSON_Delete(j);
  sl_buf_reset(&b);
  assert_int_equal(sl_openai_encode_usage_chunk(&b, &m, 2, 3), 0);
  assert_non_null(strstr(b.data, "\"choices\":[]"));
  assert_null(strstr(b.data, "prompt_tokens_details"));
  sl_buf_free(&t.args);
  sl_buf_free(&b);
}

/* A refusal: "refusal" with content null (whole), delta.refusal (chunk); the
 * prompt cache's reads as prompt_tokens_details.cached_tokens; a relayed
 * reasoning as reasoning_content. */
static void test_encode_refusal_and_cache(void **st) {
  sl_buf_t b;
  sl_buf_init(&b, 1 << 20);
  sl_openai_meta_t m = {.id = "c", .created = 1, .model = "m", .refusal = "No \"way\".",
                        .refusal_len = 10, .cache_reported = true, .cached_tokens = 64,
                        .reasoning_reported = true, .reasoning_tokens = 2};
  assert_int_equal(sl_openai_encode_completion(&b, &m, "", 0, NULL, 0, "stop", 100, 2), 0);
  cJSON *j = cJSON_Parse(b.data);
  assert_non_null(j);
  cJSON *msg = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0), "message");
  assert_true(cJSON_IsNull(cJSON_GetObjectItem(msg, "content")));
  assert_string_equal(cJSON_GetObjectItem(msg, "refusal")->valuestring, "No \"way\".");
  cJSON *u = cJSON_GetObjectItem(j, "usage");
  assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(u, "prompt_tokens_details"), "cached_tokens")->valueint, 64);
  assert_int_equal(cJSON_GetObjectItem(u, "prompt_tokens")->valueint, 100);
  assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(u, "completion_tokens_details"), "reasoning_tokens")->valueint, 2);
  assert_int_equal(cJSON_GetObjectItem(u, "total_tokens")->valueint, 102);
  cJSON_Delete(j);
  sl_buf_reset(&b);
  assert_int_equal(sl_openai_encode_chunk(&b, &m, NULL, NULL, 0, -1, NULL, NULL, NULL, 0, NULL), 0);
  j = cJSON_ParseWithLength(b.data + 6, b.len - 8);
  assert_non_null(j);
  cJSON *d = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0), "delta");
  assert_string_equal(cJSON_GetObjectItem(d, "refusal")->valuestring, "No \"way\".");
  assert_null(cJSON_GetObjectItem(d, "content"));
  cJSON_Delete(j);
  /* filtered with no text: content null, as OpenAI answers it */
  sl_buf_reset(&b);
  sl_openai_meta_t plain = {.id = "c", .created = 1, .model = "m"};
  assert_int_equal(sl_openai_encode_completion(&b, &plain, "", 0, NULL, 0, "content_filter", 1, 0), 0);
  j = cJSON_Parse(b.data);
  msg = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0), "message");
  assert_true(cJSON_IsNull(cJSON_GetObjectItem(msg, "content")));
  assert_null(cJSON_GetObjectItem(msg, "reasoning_content"));
  cJSON_Delete(j);
  /* a reasoning model's thinking: message.reasoning_content beside the text,
   * delta.reasoning_content alone in its chunk */
  sl_buf_reset(&b);
  sl_openai_meta_t th = {.id = "c", .created = 1, .model = "m", .reasoning_text = "Hm\n\"ok\"",
                         .reasoning_text_len = 7};
  assert_int_equal(sl_openai_encode_completion(&b, &th, "Yes", 3, NULL, 0, "stop", 1, 9), 0);
  j = cJSON_Parse(b.data);
  msg = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0), "message");
  assert_string_equal(cJSON_GetObjectItem(msg, "reasoning_content")->valuestring, "Hm\n\"ok\"");
  assert_string_equal(cJSON_GetObjectItem(msg, "content")->valuestring, "Yes");
  cJSON_Delete(j);
  sl_buf_reset(&b);
  assert_int_equal(sl_openai_encode_chunk(&b, &th, NULL, NULL, 0, -1, NULL, NULL, NULL, 0, NULL), 0);
  j = cJSON_ParseWithLength(b.data + 6, b.len - 8);
  d = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0), "delta");
  assert_string_equal(cJSON_GetObjectItem(d, "reasoning_content")->valuestring, "Hm\n\"ok\"");
  assert_null(cJSON_GetObjectItem(d, "content"));
  cJSON_Delete(j);
  sl_buf_free(&b);
}

static void test_encode_limits(void **st) {
  sl_buf_t b;
  sl_buf_init(&b, 64); /* a ceiling smaller than the answer is an error, not an overflow */
  sl_openai_meta_t m = {.id = "c", .created = 1, .model = "m"};
  assert_int_equal(sl_openai_encode_completion(&b, &m, "0123456789012345678901234567890123456789", 40,
                                               NULL, 0, "stop", 1, 1),
                   SL_ETOOBIG);
  sl_buf_free(&b);
}

/* sl_buf_json_str against a byte-at-a-time escaper, on strings of every byte
 * value at every alignment and length (the fast path reads 8 bytes at a time),
 * and the result reads back through cJSON as the same bytes. Bytes that start no
 * whole UTF-8 character become one U+FFFD per maximal broken run. */
static void ref_escape(sl_buf_t *o, const unsigned char *s, size_t n) {
  sl_buf_puts(o, "\"");
  for (size_t i = 0; i < n; i++) {
    char t[8];
    unsigned c = s[i];
    if (c >= 0x80) {
      size_t k = sl_utf8_seq_len((uint8_t)c), m = 1;
      while (k > 1 && m < k && i + m < n && sl_utf8_cont_ok((uint8_t)c, (uint8_t)m, s[i + m])) m++;
      if (k > 1 && m == k) sl_buf_append(o, &s[i], k);
      else sl_buf_puts(o, "\xef\xbf\xbd");
      i += m - 1;
    } else if (c == '"') sl_buf_puts(o, "\\\"");
    else if (c == '\\') sl_buf_puts(o, "\\\\");
    else if (c == '\n') sl_buf_puts(o, "\\n");
    else if (c == '\r') sl_buf_puts(o, "\\r");
    else if (c == '\t') sl_buf_puts(o, "\\t");
    else if (c < 0x20) snprintf(t, sizeof t, "\\u%04x", c), sl_buf_puts(o, t);
    else sl_buf_append(o, &s[i], 1);
  }
  sl_buf_puts(o, "\"");
}

static void test_json_str_matches_reference(void **st) {
  unsigned char s[80];
  uint32_t x = 12345;
  sl_buf_t a, b;
  sl_buf_init(&a, 1 << 20);
  sl_buf_init(&b, 1 << 20);
  for (int round = 0; round < 4000; round++) {
    size_t n = (size_t)(round % 77);
    for (size_t i = 0; i < n; i++) {
      x = x * 1103515245u + 12345u;
      /* mostly printable text, sometimes any byte: escapes at every position */
      unsigned v = (x >> 16) & 0xff;
      s[i] = (unsigned char)(round % 3 ? 'a' + v % 26 : v ? v : 1);
      if (round % 5 == 1 && (x >> 8) % 9 == 0) s[i] = "\"\\\n\x1f\x7f\x80 "[(x >> 4) % 7];
    }
    if (round % 7 == 3) /* whole and cut UTF-8 characters among the text */
      for (size_t i = 0; i + 4 <= n; i += 5 + (x >> 3) % 7) {
        static const char *const chars[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xe2\x82", "\xed\xa0\x80", "\xf4\x90"};
        const char *ch = chars[(i + round) % 6];
        memcpy(s + i, ch, strlen(ch));
      }
    sl_buf_reset(&a);
    sl_buf_reset(&b);
    assert_int_equal(sl_buf_json_str(&a, (const char *)s, n), 0);
    ref_escape(&b, s, n);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
  }
  const struct {
    const char *in, *out;
  } utf8[] = {{"a\x80" "b", "\"a\xef\xbf\xbd" "b\""},
              {"caf\xc3\xa9 \xe2\x82\xac\xf0\x9f\x98\x80", "\"caf\xc3\xa9 \xe2\x82\xac\xf0\x9f\x98\x80\""},
              {"cut \xe2\x82", "\"cut \xef\xbf\xbd\""},
              {"\xed\xa0\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""},
              {"\xe2\x82x", "\"\xef\xbf\xbdx\""}};
  for (size_t i = 0; i < sizeof utf8 / sizeof *utf8; i++) {
    sl_buf_reset(&a);
    assert_int_equal(sl_buf_json_str(&a, utf8[i].in, strlen(utf8[i].in)), 0);
    assert_int_equal(a.len, strlen(utf8[i].out));
    assert_memory_equal(a.data, utf8[i].out, a.len);
  }
  const char txt[] = "plain text \"quoted\" back\\slash\ttab\x01 and more plain text";
  sl_buf_reset(&a);
  assert_int_equal(sl_buf_json_str(&a, txt, sizeof txt - 1), 0);
  cJSON *j = cJSON_Parse(a.data);
  assert_true(cJSON_IsString(j));
  assert_string_equal(j->valuestring, txt);
  cJSON_Delete(j);
  sl_buf_free(&a);
  sl_buf_free(&b);
}

/* sl_str: concatenation with snprintf's truncation contract, integers. */
static void test_str_helpers(void **st) {
  char b[8];
  assert_int_equal(sl_cat(b, sizeof b, "ab", "", "cd", (char *)NULL), 4);
  assert_string_equal(b, "abcd");
  assert_int_equal(sl_cat(b, sizeof b, "abcd", "efgh", (char *)NULL), sizeof b);
  assert_string_equal(b, "abcdefg"); /* a truncated prefix, NUL-terminated */
  assert_int_equal(sl_cat(b, sizeof b, "abcdefgh", (char *)NULL), sizeof b);
  assert_int_equal(sl_cat(b, sizeof b, "abcdefg", (char *)NULL), 7); /* exactly fits */
  assert_int_equal(sl_cat(b, sizeof b, "abcdef", (char *)NULL), 6);
  assert_int_equal(sl_cat(b, 0, "x", (char *)NULL), 0);
  assert_int_equal(sl_cat(b, sizeof b, (char *)NULL), 0);
  assert_string_equal(b, "");
  char n[24], want[32];
  const int64_t vals[] = {0, 7, -1, 10, 99, 100, 12345, -987654321, INT64_MAX, INT64_MIN};
  for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
    snprintf(want, sizeof want, "%lld", (long long)vals[i]);
    assert_int_equal(sl_itoa(vals[i], n), strlen(want));
    assert_string_equal(n, want);
    snprintf(want, sizeof want, "%llu", (unsigned long long)vals[i]);
    assert_int_equal(sl_utoa((uint64_t)vals[i], n), strlen(want));
    assert_string_equal(n, want);
    for (int w = 0; w <= 16; w += 4) {
      snprintf(want, sizeof want, "%0*llx", w, (unsigned long long)vals[i]);
      assert_int_equal(sl_hex((uint64_t)vals[i], w, n), strlen(want));
      assert_string_equal(n, want);
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_decode_full),          cmocka_unit_test(test_decode_defaults),
      cmocka_unit_test(test_decode_model_names),
      cmocka_unit_test(test_decode_errors),
      cmocka_unit_test(test_decode_escaped_backslash),
      cmocka_unit_test(test_decode_passthrough),
      cmocka_unit_test(test_numbers_as_written),
      cmocka_unit_test(test_encode_completion_escapes),
      cmocka_unit_test(test_encode_refusal_and_cache),
      cmocka_unit_test(test_encode_tools_and_chunks), cmocka_unit_test(test_encode_limits),
      cmocka_unit_test(test_logprob_token_text),
      cmocka_unit_test(test_encode_logprobs),
      cmocka_unit_test(test_json_str_matches_reference),
      cmocka_unit_test(test_str_helpers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
