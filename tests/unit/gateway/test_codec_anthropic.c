/* Anthropic Messages codec: decoding maps system, text/tool_use/tool_result
 * blocks, tools and tool_choice into the internal (OpenAI-shaped) request and
 * refuses what the classifier cannot inspect with a 400 naming the field;
 * encoding produces the `message` object, the full streaming event sequence and
 * Anthropic-shaped errors, every string escaped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gateway/codec_anthropic.h"
#include "gateway/dialect.h"
#include "sl_err.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int decode(const char *j, sl_chat_req_t *r, char *err) {
  return sl_anthropic_decode_request(j, strlen(j), r, err, 300);
}

static void test_decode_full(void **st) {
  sl_chat_req_t r;
  char err[300] = "";
  const char *j =
      "{\"model\":\"anthropic/claude\",\"max_tokens\":256,\"stream\":true,\"temperature\":0.3,"
      "\"top_p\":0.8,\"top_k\":40,\"stop_sequences\":[\"END\",\"###\"],"
      "\"metadata\":{\"user_id\":\"u1\"},\"thinking\":{\"type\":\"disabled\"},"
      "\"system\":[{\"type\":\"text\",\"text\":\"be nice\",\"cache_control\":{\"type\":\"ephemeral\"}},"
      "{\"type\":\"text\",\"text\":\"be brief\"}],"
      "\"tools\":[{\"name\":\"get\",\"description\":\"d\",\"input_schema\":{\"type\":\"object\"}},"
      "{\"type\":\"custom\",\"name\":\"put\",\"input_schema\":{\"type\":\"object\",\"properties\":{}}}],"
      "\"tool_choice\":{\"type\":\"tool\",\"name\":\"get\"},"
      "\"messages\":["
      "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},{\"type\":\"text\",\"text\":\"b\"}]},"
      "{\"role\":\"assistant\",\"content\":[{\"type\":\"thinking\",\"thinking\":\"hm\",\"signature\":\"s\"},"
      "{\"type\":\"text\",\"text\":\"calling\"},"
      "{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"get\",\"input\":{\"k\":\"v\"}},"
      "{\"type\":\"tool_use\",\"id\":\"toolu_2\",\"name\":\"put\",\"input\":{}}]},"
      "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_1\",\"content\":\"42\"},"
      "{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_2\",\"is_error\":true,"
      "\"content\":[{\"type\":\"text\",\"text\":\"x\"},{\"type\":\"text\",\"text\":\"y\"}]},"
      "{\"type\":\"text\",\"text\":\"thanks\"}]},"
      "{\"role\":\"assistant\",\"content\":\"ok\"}]}";
  assert_int_equal(decode(j, &r, err), 0);
  assert_int_equal(r.dialect, SL_DIALECT_ANTHROPIC);
  assert_string_equal(r.model, "anthropic/claude");
  assert_int_equal(r.max_tokens, 256);
  assert_true(r.stream);
  assert_true(r.temperature == 0.3 && r.top_p == 0.8);
  assert_int_equal(r.top_k, 40);
  assert_int_equal(r.n_stop, 2);
  assert_string_equal(r.stop[1], "###");
  assert_string_equal(r.user, "u1");
  assert_int_equal(r.n_msgs, 7);
  const char *roles[] = {"system", "user", "assistant", "tool", "tool", "user", "assistant"};
  for (int i = 0; i < 7; i++) assert_string_equal(r.msgs[i].role, roles[i]);
  assert_string_equal(r.msgs[0].content, "be nice\nbe brief");
  assert_string_equal(r.msgs[1].content, "a\nb");
  assert_string_equal(r.msgs[2].content, "calling");
  assert_string_equal(r.msgs[3].tool_call_id, "toolu_1");
  assert_string_equal(r.msgs[3].content, "42");
  assert_string_equal(r.msgs[4].tool_call_id, "toolu_2");
  assert_string_equal(r.msgs[4].content, "x\ny");
  assert_string_equal(r.msgs[5].content, "thanks");

  cJSON *tc = cJSON_Parse(r.msgs[2].tool_calls);
  assert_true(cJSON_IsArray(tc) && cJSON_GetArraySize(tc) == 2);
  cJSON *c0 = cJSON_GetArrayItem(tc, 0);
  assert_string_equal(cJSON_GetObjectItem(c0, "id")->valuestring, "toolu_1");
  assert_string_equal(cJSON_GetObjectItem(c0, "type")->valuestring, "function");
  cJSON *fn = cJSON_GetObjectItem(c0, "function");
  assert_string_equal(cJSON_GetObjectItem(fn, "name")->valuestring, "get");
  assert_string_equal(cJSON_GetObjectItem(fn, "arguments")->valuestring, "{\"k\":\"v\"}");
  cJSON_Delete(tc);

  cJSON *tools = cJSON_Parse(r.tools);
  assert_true(cJSON_IsArray(tools) && cJSON_GetArraySize(tools) == 2);
  cJSON *t0 = cJSON_GetArrayItem(tools, 0);
  assert_string_equal(cJSON_GetObjectItem(t0, "type")->valuestring, "function");
  fn = cJSON_GetObjectItem(t0, "function");
  assert_string_equal(cJSON_GetObjectItem(fn, "name")->valuestring, "get");
  assert_string_equal(cJSON_GetObjectItem(fn, "description")->valuestring, "d");
  assert_true(cJSON_IsObject(cJSON_GetObjectItem(fn, "parameters")));
  assert_null(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(tools, 1), "function"), "description"));
  cJSON_Delete(tools);
  assert_string_equal(r.tool_choice, "{\"type\":\"function\",\"function\":{\"name\":\"get\"}}");

  /* the classifier's text: system, user text, tool results, in order */
  char *text;
  size_t len;
  assert_int_equal(sl_chat_text(&r, &text, &len), 0);
  /* message contents first; tool calls, tools and tool_choice follow them */
  const char msgs[] = "be nice\nbe brief\na\nb\ncalling\n42\nx\ny\nthanks\nok";
  assert_int_equal(sl_chat_messages_len(&r), sizeof msgs - 1);
  assert_memory_equal(text, msgs, sizeof msgs - 1);
  assert_non_null(strstr(text + sizeof msgs - 1, "\"get\""));
  free(text);
  sl_chat_req_free(&r);
}

static void test_decode_defaults_and_choices(void **st) {
  sl_chat_req_t r;
  char err[300];
  assert_int_equal(decode("{\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", &r, err), 0);
  assert_string_equal(r.model, "auto");
  assert_false(r.stream);
  assert_true(r.temperature < 0 && r.top_p < 0 && r.top_k < 0);
  assert_null(r.tools);
  assert_null(r.user);
  assert_int_equal(r.n_msgs, 1);
  sl_chat_req_free(&r);

  const char *choices[][2] = {{"auto", "\"auto\""}, {"any", "\"required\""}, {"none", "\"none\""}};
  for (int i = 0; i < 3; i++) {
    char j[300];
    snprintf(j, sizeof j, "{\"max_tokens\":5,\"system\":\"\",\"tool_choice\":{\"type\":\"%s\"},"
                          "\"tools\":[],\"messages\":[{\"role\":\"user\",\"content\":[]}]}", choices[i][0]);
    assert_int_equal(decode(j, &r, err), 0);
    assert_string_equal(r.tool_choice, choices[i][1]);
    assert_null(r.tools);            /* an empty tools array is no tools */
    assert_int_equal(r.n_msgs, 1);   /* an empty system prompt adds no message */
    assert_string_equal(r.msgs[0].content, "");
    sl_chat_req_free(&r);
  }
  /* a user turn of only tool results adds no empty user message */
  assert_int_equal(decode("{\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
                          "\"tool_result\",\"tool_use_id\":\"t\"}]}]}", &r, err), 0);
  assert_int_equal(r.n_msgs, 1);
  assert_string_equal(r.msgs[0].role, "tool");
  assert_string_equal(r.msgs[0].content, "");
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
  assert_null(r.msgs); /* freed on error */
  assert_int_equal(r.n_msgs, 0);
}

#define M(x) "{\"max_tokens\":5,\"messages\":[" x "]}"
#define U(c) M("{\"role\":\"user\",\"content\":" c "}")
#define A(c) M("{\"role\":\"assistant\",\"content\":" c "}")
#define OK_MSG "{\"role\":\"user\",\"content\":\"x\"}"

static void test_decode_errors(void **st) {
  expect_bad("{\"messages\":[", "not valid JSON");
  expect_bad("", "not valid JSON");
  expect_bad(U("\"\\u0000 then more\""), "U+0000");
  expect_bad(U("\"\xc3\""), "not valid UTF-8");
  expect_bad(U("\"x\"") "x", "more after the value");
  expect_bad("[]", "must be a JSON object");
  expect_bad("{\"messages\":[" OK_MSG "]}", "max_tokens: field required");
  expect_bad("{\"max_tokens\":0,\"messages\":[" OK_MSG "]}", "max_tokens must be between");
  expect_bad("{\"max_tokens\":1.5,\"messages\":[" OK_MSG "]}", "max_tokens must be an integer");
  expect_bad("{\"max_tokens\":\"5\",\"messages\":[" OK_MSG "]}", "max_tokens must be an integer");
  expect_bad("{\"max_tokens\":5}", "messages must be an array");
  expect_bad(M(""), "messages must not be empty");
  expect_bad(M("1"), "messages[0] must be an object");
  expect_bad(M("{\"content\":\"x\"}"), "messages[0].role must be a string");
  expect_bad(M("{\"role\":\"system\",\"content\":\"x\"}"), "top-level system");
  expect_bad(M("{\"role\":\"user\"}"), "messages[0].content must be a string or an array");
  expect_bad(U("5"), "messages[0].content must be a string or an array");
  expect_bad(U("[1]"), "messages[0].content[0] must be a content block");
  expect_bad(U("[{\"text\":\"x\"}]"), "messages[0].content[0] must be a content block");
  expect_bad(U("[{\"type\":\"text\",\"text\":5}]"), "messages[0].content[0].text must be a string");
  expect_bad(U("[{\"type\":\"text\",\"text\":\"x\"},{\"type\":\"image\",\"source\":{}}]"),
             "messages[0].content[1]: image blocks are not supported");
  expect_bad(U("[{\"type\":\"document\",\"source\":{}}]"), "document blocks are not supported");
  expect_bad(U("[{\"type\":\"thinking\",\"thinking\":\"x\"}]"), "thinking blocks are not supported");
  expect_bad(U("[{\"type\":\"tool_use\",\"id\":\"a\",\"name\":\"b\",\"input\":{}}]"),
             "tool_use blocks belong in assistant messages");
  expect_bad(A("[{\"type\":\"tool_result\",\"tool_use_id\":\"a\"}]"), "tool_result blocks belong in user");
  expect_bad(A("[{\"type\":\"tool_use\",\"name\":\"b\"}]"), "messages[0].content[0].id must be a string");
  expect_bad(A("[{\"type\":\"tool_use\",\"id\":\"a\"}]"), "messages[0].content[0].name must be a string");
  expect_bad(A("[{\"type\":\"tool_use\",\"id\":\"a\",\"name\":\"b\",\"input\":[1]}]"), "input must be an object");
  expect_bad(U("[{\"type\":\"tool_result\"}]"), "tool_use_id must be a string");
  expect_bad(U("[{\"type\":\"tool_result\",\"tool_use_id\":\"a\",\"content\":[{\"type\":\"image\"}]}]"),
             "messages[0].content[0].content[0]: image blocks are not supported");
  expect_bad(U("[{\"type\":\"tool_result\",\"tool_use_id\":\"a\",\"content\":7}]"),
             "messages[0].content[0].content must be a string or an array");
  expect_bad("{\"max_tokens\":5,\"system\":7,\"messages\":[" OK_MSG "]}", "system must be a string or an array");
  expect_bad("{\"max_tokens\":5,\"system\":[{\"type\":\"image\"}],\"messages\":[" OK_MSG "]}",
             "system[0]: image blocks are not supported");
  expect_bad("{\"max_tokens\":5,\"model\":5,\"messages\":[" OK_MSG "]}", "model must be a string");
  expect_bad("{\"max_tokens\":5,\"stream\":\"yes\",\"messages\":[" OK_MSG "]}", "stream must be a boolean");
  expect_bad("{\"max_tokens\":5,\"temperature\":1.5,\"messages\":[" OK_MSG "]}", "temperature must be between 0 and 1");
  expect_bad("{\"max_tokens\":5,\"top_p\":\"a\",\"messages\":[" OK_MSG "]}", "top_p must be a number");
  expect_bad("{\"max_tokens\":5,\"top_k\":2.5,\"messages\":[" OK_MSG "]}", "top_k must be an integer");
  expect_bad("{\"max_tokens\":5,\"stop_sequences\":\"x\",\"messages\":[" OK_MSG "]}", "stop_sequences must be an array");
  expect_bad("{\"max_tokens\":5,\"stop_sequences\":[\"\"],\"messages\":[" OK_MSG "]}", "non-empty strings");
  expect_bad("{\"max_tokens\":5,\"stop_sequences\":[\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\","
             "\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\"],\"messages\":[" OK_MSG "]}", "at most 16");
  expect_bad("{\"max_tokens\":5,\"tools\":{},\"messages\":[" OK_MSG "]}", "tools must be an array");
  expect_bad("{\"max_tokens\":5,\"tools\":[{\"type\":\"web_search_20250305\",\"name\":\"web_search\"}],"
             "\"messages\":[" OK_MSG "]}", "tools[0]: tool type \"web_search_20250305\" is not supported");
  expect_bad("{\"max_tokens\":5,\"tools\":[{\"name\":\"x\"}],\"messages\":[" OK_MSG "]}", "tools[0].input_schema must be an object");
  expect_bad("{\"max_tokens\":5,\"tools\":[{\"name\":\"\",\"input_schema\":{}}],\"messages\":[" OK_MSG "]}", "tools[0].name");
  expect_bad("{\"max_tokens\":5,\"tools\":[{\"name\":\"a\",\"description\":1,\"input_schema\":{}}],\"messages\":[" OK_MSG "]}",
             "tools[0].description must be a string");
  expect_bad("{\"max_tokens\":5,\"tool_choice\":\"auto\",\"messages\":[" OK_MSG "]}", "tool_choice must be an object");
  expect_bad("{\"max_tokens\":5,\"tool_choice\":{\"type\":\"maybe\"},\"messages\":[" OK_MSG "]}", "tool_choice.type must be");
  expect_bad("{\"max_tokens\":5,\"tool_choice\":{\"type\":\"tool\"},\"messages\":[" OK_MSG "]}", "tool_choice.name must be");
  expect_bad("{\"max_tokens\":5,\"metadata\":[],\"messages\":[" OK_MSG "]}", "metadata must be an object");
  expect_bad("{\"max_tokens\":5,\"metadata\":{\"user_id\":3},\"messages\":[" OK_MSG "]}", "metadata.user_id must be a string");
  /* an error after messages were decoded frees them */
  expect_bad("{\"max_tokens\":5,\"system\":\"s\",\"messages\":[" OK_MSG ",{\"role\":\"assistant\",\"content\":"
             "[{\"type\":\"tool_use\",\"id\":\"a\",\"name\":\"b\",\"input\":{}}]}],\"top_k\":-1}", "top_k must be between");
}

static void test_decode_limits(void **st) {
  /* 4097 messages: over the limit */
  sl_buf_t b;
  sl_buf_init(&b, 1 << 24);
  sl_buf_puts(&b, "{\"max_tokens\":5,\"messages\":[");
  for (int i = 0; i < 4097; i++) sl_buf_printf(&b, "%s" OK_MSG, i ? "," : "");
  sl_buf_puts(&b, "]}");
  sl_chat_req_t r;
  char err[300] = "";
  assert_int_equal(sl_anthropic_decode_request(b.data, b.len, &r, err, sizeof err), SL_EINVAL);
  assert_non_null(strstr(err, "at most 4096"));
  /* many tool results in one turn grow the message array */
  sl_buf_reset(&b);
  sl_buf_puts(&b, "{\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":[");
  for (int i = 0; i < 3000; i++)
    sl_buf_printf(&b, "%s{\"type\":\"tool_result\",\"tool_use_id\":\"t%d\",\"content\":\"r%d\"}", i ? "," : "", i, i);
  sl_buf_puts(&b, ",{\"type\":\"text\",\"text\":\"end\"}]}]}");
  assert_int_equal(sl_anthropic_decode_request(b.data, b.len, &r, err, sizeof err), 0);
  assert_int_equal(r.n_msgs, 3001);
  assert_string_equal(r.msgs[2999].tool_call_id, "t2999");
  assert_string_equal(r.msgs[3000].content, "end");
  sl_chat_req_free(&r);
  /* a truncated body at every length: no crash, no leak, never accepted */
  const char *j = "{\"max_tokens\":5,\"system\":[{\"type\":\"text\",\"text\":\"s\"}],\"messages\":[{\"role\":"
                  "\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"a\",\"name\":\"b\",\"input\":{}}]}]}";
  for (size_t n = 0; n < strlen(j); n++)
    assert_int_not_equal(sl_anthropic_decode_request(j, n, &r, err, sizeof err), 0);
  assert_int_equal(sl_anthropic_decode_request(j, strlen(j), &r, err, sizeof err), 0);
  sl_chat_req_free(&r);
  sl_buf_free(&b);
}

static void test_stop_reason_and_error_type(void **st) {
  assert_string_equal(sl_anthropic_stop_reason("stop", NULL, 0), "end_turn");
  assert_string_equal(sl_anthropic_stop_reason(NULL, NULL, 0), "end_turn");
  assert_string_equal(sl_anthropic_stop_reason("stop", "END", 0), "stop_sequence");
  assert_string_equal(sl_anthropic_stop_reason("stop", NULL, 1), "tool_use");
  assert_string_equal(sl_anthropic_stop_reason("length", NULL, 0), "max_tokens");
  assert_string_equal(sl_anthropic_stop_reason("tool_calls", NULL, 1), "tool_use");
  assert_string_equal(sl_anthropic_stop_reason("content_filter", NULL, 0), "refusal");
  assert_string_equal(sl_anthropic_error_type(400), "invalid_request_error");
  assert_string_equal(sl_anthropic_error_type(413), "request_too_large"); /* the API's own type for 413 */
  assert_string_equal(sl_anthropic_error_type(401), "authentication_error");
  assert_string_equal(sl_anthropic_error_type(403), "permission_error");
  assert_string_equal(sl_anthropic_error_type(451), "permission_error");
  assert_string_equal(sl_anthropic_error_type(404), "not_found_error");
  assert_string_equal(sl_anthropic_error_type(429), "rate_limit_error");
  assert_string_equal(sl_anthropic_error_type(500), "api_error");
  assert_string_equal(sl_anthropic_error_type(502), "api_error");
  assert_string_equal(sl_anthropic_error_type(503), "overloaded_error");
  assert_string_equal(sl_anthropic_error_type(529), "overloaded_error");
  assert_string_equal(sl_anthropic_error_type(504), "timeout_error");
}

static sl_resp_t resp(void) {
  sl_resp_t r = {.id = "msg_abc", .created = 1, .model = "m\"x", .prompt_tokens = 12, .block = -1};
  return r;
}

static void test_complete(void **st) {
  const sl_dialect_ops_t *d = &sl_dialect_anthropic;
  sl_resp_t r = resp();
  sl_tool_acc_t tools[3] = {{.id = "call_1", .name = "get"}, {.id = "", .name = "put"}, {.id = "c3", .name = "bad"}};
  for (int i = 0; i < 3; i++) sl_buf_init(&tools[i].args, 1 << 20);
  sl_buf_puts(&tools[0].args, "{\"k\": [1, 2]}");
  sl_buf_puts(&tools[2].args, "{\"k\": ");
  sl_result_t res = {.prompt_tokens = 30, .completion_tokens = 7, .finish_reason = "tool_calls"};
  sl_buf_t o;
  sl_buf_init(&o, 1 << 20);
  assert_int_equal(d->complete(&o, &r, "hi \"there\"\n\x01", 13, tools, 3, &res), 0);
  cJSON *j = cJSON_Parse(o.data);
  assert_non_null(j);
  assert_string_equal(cJSON_GetObjectItem(j, "id")->valuestring, "msg_abc");
  assert_string_equal(cJSON_GetObjectItem(j, "type")->valuestring, "message");
  assert_string_equal(cJSON_GetObjectItem(j, "role")->valuestring, "assistant");
  assert_string_equal(cJSON_GetObjectItem(j, "model")->valuestring, "m\"x");
  assert_string_equal(cJSON_GetObjectItem(j, "stop_reason")->valuestring, "tool_use");
  assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "stop_sequence")));
  cJSON *u = cJSON_GetObjectItem(j, "usage");
  assert_int_equal(cJSON_GetObjectItem(u, "input_tokens")->valueint, 30);
  assert_int_equal(cJSON_GetObjectItem(u, "output_tokens")->valueint, 7);
  cJSON *c = cJSON_GetObjectItem(j, "content");
  assert_int_equal(cJSON_GetArraySize(c), 4);
  assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(c, 0), "text")->valuestring, "hi \"there\"\n\x01");
  cJSON *t0 = cJSON_GetArrayItem(c, 1);
  assert_string_equal(cJSON_GetObjectItem(t0, "type")->valuestring, "tool_use");
  assert_string_equal(cJSON_GetObjectItem(t0, "id")->valuestring, "call_1");
  assert_string_equal(cJSON_GetObjectItem(t0, "name")->valuestring, "get");
  char *in = cJSON_PrintUnformatted(cJSON_GetObjectItem(t0, "input"));
  assert_string_equal(in, "{\"k\":[1,2]}");
  free(in);
  cJSON *t1 = cJSON_GetArrayItem(c, 2);
  assert_string_equal(cJSON_GetObjectItem(t1, "id")->valuestring, "toolu_abc_1"); /* none upstream */
  in = cJSON_PrintUnformatted(cJSON_GetObjectItem(t1, "input"));
  assert_string_equal(in, "{}"); /* no arguments */
  free(in);
  cJSON *t2 = cJSON_GetArrayItem(c, 3);
  assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(t2, "input"), "_raw_arguments")->valuestring, "{\"k\": ");
  cJSON_Delete(j);

  /* two objects one after the other are not one input: kept raw */
  sl_buf_reset(&o);
  sl_buf_reset(&tools[2].args);
  sl_buf_puts(&tools[2].args, "{\"a\":1} {\"b\":2}");
  assert_int_equal(d->complete(&o, &r, "", 0, tools + 2, 1, &res), 0);
  j = cJSON_Parse(o.data);
  t2 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "content"), 0);
  assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(t2, "input"), "_raw_arguments")->valuestring,
                      "{\"a\":1} {\"b\":2}");
  cJSON_Delete(j);

  /* a stop sequence that matched at the very start: no text, so no block at
   * all (Anthropic's own answer; an empty text block is refused when an app
   * sends the turn back as history) */
  sl_buf_reset(&o);
  res = (sl_result_t){.prompt_tokens = 1, .completion_tokens = 2, .finish_reason = "stop", .stop_sequence = "END"};
  assert_int_equal(d->complete(&o, &r, "", 0, NULL, 0, &res), 0);
  j = cJSON_Parse(o.data);
  assert_string_equal(cJSON_GetObjectItem(j, "stop_reason")->valuestring, "stop_sequence");
  assert_string_equal(cJSON_GetObjectItem(j, "stop_sequence")->valuestring, "END");
  c = cJSON_GetObjectItem(j, "content");
  assert_true(cJSON_IsArray(c));
  assert_int_equal(cJSON_GetArraySize(c), 0);
  cJSON_Delete(j);
  for (int i = 0; i < 3; i++) sl_buf_free(&tools[i].args);
  sl_buf_free(&o);
}

/* Splits SSE text into events; checks each is "event: NAME\ndata: JSON" with
 * data.type == NAME. Returns the number of events; names/data filled. */
static int parse_events(const char *s, char names[][32], cJSON **data, int max) {
  int n = 0;
  while (*s && n < max) {
    const char *end = strstr(s, "\n\n");
    assert_non_null(end);
    assert_int_equal(strncmp(s, "event: ", 7), 0);
    const char *nl = strchr(s, '\n');
    snprintf(names[n], 32, "%.*s", (int)(nl - s - 7), s + 7);
    assert_int_equal(strncmp(nl + 1, "data: ", 6), 0);
    data[n] = cJSON_ParseWithLength(nl + 7, (size_t)(end - nl - 7));
    assert_non_null(data[n]);
    assert_string_equal(cJSON_GetObjectItem(data[n], "type")->valuestring, names[n]);
    n++;
    s = end + 2;
  }
  return n;
}

static void test_stream_sequence(void **st) {
  const sl_dialect_ops_t *d = &sl_dialect_anthropic;
  sl_resp_t r = resp();
  sl_buf_t o;
  sl_buf_init(&o, 1 << 20);
  assert_int_equal(d->stream_start(&o, &r), 0);
  assert_int_equal(d->stream_text(&o, &r, "He", 2), 0);
  assert_int_equal(d->stream_text(&o, &r, "", 0), 0); /* nothing */
  assert_int_equal(d->stream_text(&o, &r, "y\n", 2), 0);
  assert_int_equal(d->stream_tool(&o, &r, 0, "call_1", "get", "", 0), 0);
  assert_int_equal(d->stream_tool(&o, &r, 0, NULL, NULL, "{\"a\":", 5), 0);
  assert_int_equal(d->stream_tool(&o, &r, 0, NULL, NULL, "1}", 2), 0);
  assert_int_equal(d->stream_tool(&o, &r, 1, NULL, "put", "{}", 2), 0);
  sl_result_t res = {.prompt_tokens = 40, .completion_tokens = 9, .finish_reason = "stop"};
  assert_int_equal(d->stream_end(&o, &r, &res, false), 0);

  char names[32][32];
  cJSON *ev[32];
  int n = parse_events(o.data, names, ev, 32);
  const char *want[] = {"message_start", "content_block_start", "content_block_delta", "content_block_delta",
                        "content_block_stop", "content_block_start", "content_block_delta",
                        "content_block_delta", "content_block_stop", "content_block_start",
                        "content_block_delta", "content_block_stop", "message_delta", "message_stop"};
  assert_int_equal(n, 14);
  for (int i = 0; i < n; i++) assert_string_equal(names[i], want[i]);
  cJSON *m = cJSON_GetObjectItem(ev[0], "message");
  assert_string_equal(cJSON_GetObjectItem(m, "id")->valuestring, "msg_abc");
  assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "usage"), "input_tokens")->valueint, 12);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(m, "content")), 0);
  /* indices: text block 0, tool blocks 1 and 2 */
  int idx[] = {-1, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2};
  for (int i = 1; i < 12; i++) assert_int_equal(cJSON_GetObjectItem(ev[i], "index")->valueint, idx[i]);
  cJSON *delta = cJSON_GetObjectItem(ev[3], "delta");
  assert_string_equal(cJSON_GetObjectItem(delta, "type")->valuestring, "text_delta");
  assert_string_equal(cJSON_GetObjectItem(delta, "text")->valuestring, "y\n");
  cJSON *cb = cJSON_GetObjectItem(ev[5], "content_block");
  assert_string_equal(cJSON_GetObjectItem(cb, "type")->valuestring, "tool_use");
  assert_string_equal(cJSON_GetObjectItem(cb, "id")->valuestring, "call_1");
  assert_string_equal(cJSON_GetObjectItem(cb, "name")->valuestring, "get");
  assert_true(cJSON_IsObject(cJSON_GetObjectItem(cb, "input")));
  delta = cJSON_GetObjectItem(ev[7], "delta");
  assert_string_equal(cJSON_GetObjectItem(delta, "type")->valuestring, "input_json_delta");
  assert_string_equal(cJSON_GetObjectItem(delta, "partial_json")->valuestring, "1}");
  cb = cJSON_GetObjectItem(ev[9], "content_block");
  assert_string_equal(cJSON_GetObjectItem(cb, "id")->valuestring, "toolu_abc_1");
  cJSON *md = ev[12];
  /* finish "stop" after tool calls: still tool_use, the client must run them */
  assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(md, "delta"), "stop_reason")->valuestring, "tool_use");
  cJSON *u = cJSON_GetObjectItem(md, "usage");
  assert_int_equal(cJSON_GetObjectItem(u, "output_tokens")->valueint, 9);
  assert_int_equal(cJSON_GetObjectItem(u, "input_tokens")->valueint, 40);
  for (int i = 0; i < n; i++) cJSON_Delete(ev[i]);

  /* an empty answer: start, delta, stop and nothing in between */
  sl_buf_reset(&o);
  r = resp();
  res = (sl_result_t){.finish_reason = "length"};
  assert_int_equal(d->stream_start(&o, &r), 0);
  assert_int_equal(d->stream_end(&o, &r, &res, true), 0);
  n = parse_events(o.data, names, ev, 32);
  assert_int_equal(n, 3);
  assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(ev[1], "delta"), "stop_reason")->valuestring, "max_tokens");
  for (int i = 0; i < n; i++) cJSON_Delete(ev[i]);
  sl_buf_free(&o);
}

static void test_errors(void **st) {
  const sl_dialect_ops_t *d = &sl_dialect_anthropic;
  sl_buf_t o;
  sl_buf_init(&o, 1 << 16);
  assert_int_equal(d->error(&o, 429, "rate_limit_error", "queue_full", NULL, "slow \"down\""), 0);
  assert_string_equal(o.data, "{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"slow \\\"down\\\"\"}}");
  sl_buf_reset(&o);
  assert_int_equal(d->error(&o, 451, "policy_error", "blocked_by_policy", NULL, "no"), 0);
  assert_non_null(strstr(o.data, "\"permission_error\""));
  sl_resp_t r = resp();
  sl_buf_reset(&o);
  assert_int_equal(d->stream_error(&o, &r, 502, "overloaded_error", "x", "busy"), 0);
  assert_string_equal(o.data, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
                              "\"message\":\"busy\"}}\n\n");
  sl_buf_reset(&o);
  assert_int_equal(d->stream_error(&o, &r, 502, "upstream_error", "x", "gone"), 0);
  assert_non_null(strstr(o.data, "\"type\":\"api_error\""));
  /* typed as the whole answer's error would be: a timeout, a shutdown */
  sl_buf_reset(&o);
  assert_int_equal(d->stream_error(&o, &r, 504, "timeout", "upstream_timeout", "slow"), 0);
  assert_non_null(strstr(o.data, "\"type\":\"timeout_error\""));
  sl_buf_reset(&o);
  assert_int_equal(d->stream_error(&o, &r, 503, "server_error", "server_shutting_down", "bye"), 0);
  assert_non_null(strstr(o.data, "\"type\":\"overloaded_error\""));
  /* a full buffer is an error, not an overflow */
  sl_buf_t small;
  sl_buf_init(&small, 16);
  assert_int_not_equal(d->error(&small, 400, "x", "y", NULL, "a long message that does not fit"), 0);
  sl_buf_free(&small);
  sl_buf_free(&o);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_decode_full),        cmocka_unit_test(test_decode_defaults_and_choices),
      cmocka_unit_test(test_decode_errors),      cmocka_unit_test(test_decode_limits),
      cmocka_unit_test(test_stop_reason_and_error_type), cmocka_unit_test(test_complete),
      cmocka_unit_test(test_stream_sequence),    cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
