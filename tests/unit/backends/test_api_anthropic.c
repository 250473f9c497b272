/* The Anthropic backend without a network: the request body it would send
 * (system folding, turn merging, tool blocks, defaults), and its decoding of
 * whole messages, event streams and errors into the backend callbacks, driven
 * through its HTTP callbacks directly. Includes the .c to reach them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "backends/api_anthropic.c"

typedef struct {
  sl_buf_t text;
  char tools[4][256]; /* "id|name|args" per index */
  int n_tools;
  bool done, error;
  sl_result_t res;
  char finish[32], stop_seq[64], model[64]; /* copies: the result lives only in on_done */
  sl_call_error_t err;
  int abandon_after; /* on_text returns non-zero on this call (1-based), 0 never */
  int n_text;
} rec_t;

static int r_text(void *d, const char *s, size_t n) {
  rec_t *r = d;
  sl_buf_append(&r->text, s, n);
  return ++r->n_text == r->abandon_after;
}

static int r_tool(void *d, int i, const char *id, const char *name, const char *a, size_t n) {
  rec_t *r = d;
  assert_true(i >= 0 && i < 4);
  if (i >= r->n_tools) r->n_tools = i + 1;
  char *t = r->tools[i];
  if (id || name) snprintf(t, 256, "%s|%s|", id ? id : "", name ? name : "");
  strncat(t, a, n);
  return 0;
}

static void r_done(void *d, const sl_result_t *res) {
  rec_t *r = d;
  r->done = true;
  r->res = *res;
  snprintf(r->finish, sizeof r->finish, "%s", res->finish_reason);
  snprintf(r->model, sizeof r->model, "%s", res->model ? res->model : "(null)");
  snprintf(r->stop_seq, sizeof r->stop_seq, "%s", res->stop_sequence ? res->stop_sequence : "(null)");
}

static void r_error(void *d, const sl_call_error_t *e) {
  rec_t *r = d;
  r->error = true;
  r->err = *e;
}

static sl_backend_cfg_t cfg_for(const char *base_url) {
  sl_backend_cfg_t c;
  memset(&c, 0, sizeof c);
  c.name = "an";
  c.kind = SL_BK_ANTHROPIC;
  c.base_url = (char *)base_url;
  c.default_model = "claude-x";
  return c;
}

static an_call_t *prepare(const sl_chat_req_t *req, bool stream, rec_t *rec, const char *base_url) {
  static sl_backend_cfg_t cfg;
  cfg = cfg_for(base_url);
  sl_call_opts_t o = {.req = req, .stream = stream};
  sl_call_cbs_t cbs = {.on_text = r_text, .on_tool_call = r_tool, .on_done = r_done, .on_error = r_error};
  sl_call_t *c = NULL;
  assert_int_equal(sl_call_prepare(NULL, &cfg, &o, &cbs, rec, &c), 0);
  sl_buf_init(&rec->text, 1 << 20);
  return (an_call_t *)c;
}

static sl_msg_t msg(const char *role, const char *content) {
  sl_msg_t m = {.role = (char *)role, .content = (char *)content};
  return m;
}

static void test_encode(void **st) {
  /* (a user message between the two tool results: the text goes after both) */
  sl_msg_t msgs[9] = {msg("system", "be brief"), msg("user", "hi"), msg("user", "there"),
                      msg("system", "no jokes"), msg("assistant", ""), msg("tool", "18C"),
                      msg("user", "thanks"), msg("tool", "bad"), msg("assistant", " \n\t")};
  msgs[4].tool_calls = "[{\"id\":\"c1\",\"type\":\"function\",\"function\":{\"name\":\"w\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}},"
                       "{\"id\":\"functions.v:1\",\"type\":\"function\",\"function\":{\"name\":\"v\",\"arguments\":\"not json\"}}]";
  msgs[5].tool_call_id = "c1";
  msgs[7].tool_call_id = "functions.v:1"; /* another provider's id: made one the API takes, alike in both */
  sl_chat_req_t req;
  sl_chat_req_init(&req);
  req.msgs = msgs;
  req.n_msgs = 9;
  req.temperature = 1.7;
  req.top_k = 3;
  req.has_seed = true;
  req.seed = 5;
  req.tools = "[{\"type\":\"function\",\"function\":{\"name\":\"w\",\"description\":\"weather\","
              "\"parameters\":{\"type\":\"object\"}}},{\"type\":\"function\",\"function\":{\"name\":\"v\"}}]";
  req.tool_choice = "\"required\"";
  req.user = "u9";
  rec_t rec = {0};
  an_call_t *c = prepare(&req, true, &rec, "http://127.0.0.1:9");
  assert_string_equal(c->url, "http://127.0.0.1:9/v1/messages");
  assert_string_equal(c->base.destination, "127.0.0.1:9");
  cJSON *j = cJSON_Parse(c->base.body.data);
  assert_non_null(j);
  char *want_msgs =
      "[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi\"},{\"type\":\"text\",\"text\":\"there\"}]},"
      "{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"c1\",\"name\":\"w\",\"input\":{\"city\":\"Paris\"}},"
      "{\"type\":\"tool_use\",\"id\":\"functions_v_1_16164e3b\",\"name\":\"v\",\"input\":{}}]},"
      "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"c1\",\"content\":\"18C\"},"
      "{\"type\":\"tool_result\",\"tool_use_id\":\"functions_v_1_16164e3b\",\"content\":\"bad\"},{\"type\":\"text\",\"text\":\"thanks\"}]}]";
  char *got = cJSON_PrintUnformatted(cJSON_GetObjectItem(j, "messages"));
  assert_string_equal(got, want_msgs); /* the last assistant turn, only whitespace, is dropped */
  free(got);
  assert_string_equal(cJSON_GetObjectItem(j, "model")->valuestring, "claude-x");
  assert_string_equal(cJSON_GetObjectItem(j, "system")->valuestring, "be brief\n\nno jokes");
  assert_int_equal(cJSON_GetObjectItem(j, "max_tokens")->valueint, DEFAULT_MAX_TOKENS);
  assert_true(cJSON_GetObjectItem(j, "temperature")->valuedouble == 1.0); /* clamped */
  assert_int_equal(cJSON_GetObjectItem(j, "top_k")->valueint, 3);
  assert_null(cJSON_GetObjectItem(j, "seed"));
  assert_null(cJSON_GetObjectItem(j, "top_p"));
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "stream")));
  got = cJSON_PrintUnformatted(cJSON_GetObjectItem(j, "tools"));
  assert_string_equal(got, "[{\"name\":\"w\",\"description\":\"weather\",\"input_schema\":{\"type\":\"object\"}},"
                           "{\"name\":\"v\",\"input_schema\":{\"type\":\"object\",\"properties\":{}}}]");
  free(got);
  got = cJSON_PrintUnformatted(cJSON_GetObjectItem(j, "tool_choice"));
  assert_string_equal(got, "{\"type\":\"any\"}");
  free(got);
  assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "metadata"), "user_id")->valuestring, "u9");
  cJSON_Delete(j);
  sl_call_cancel(&c->base);

  /* a base_url that already names /v1; a named tool choice; no stream field */
  req.tool_choice = "{\"type\":\"function\",\"function\":{\"name\":\"w\"}}";
  req.max_tokens = 7;
  an_call_t *q = prepare(&req, false, &rec, "https://gw.example.com/anthropic/v1/?tenant=a");
  assert_string_equal(q->url, "https://gw.example.com/anthropic/v1/messages?tenant=a"); /* query last */
  sl_call_cancel(&q->base);
  c = prepare(&req, false, &rec, "https://api.example.com/v1");
  assert_string_equal(c->url, "https://api.example.com/v1/messages");
  assert_string_equal(c->base.destination, "api.example.com:443");
  j = cJSON_Parse(c->base.body.data);
  got = cJSON_PrintUnformatted(cJSON_GetObjectItem(j, "tool_choice"));
  assert_string_equal(got, "{\"type\":\"tool\",\"name\":\"w\"}");
  free(got);
  assert_int_equal(cJSON_GetObjectItem(j, "max_tokens")->valueint, 7);
  assert_null(cJSON_GetObjectItem(j, "stream"));
  cJSON_Delete(j);
  sl_call_cancel(&c->base);
  sl_buf_free(&rec.text);
}

static sl_chat_req_t one_msg(sl_msg_t *m) {
  sl_chat_req_t req;
  sl_chat_req_init(&req);
  *m = msg("user", "hi");
  req.msgs = m;
  req.n_msgs = 1;
  return req;
}

static void feed(an_call_t *c, const char *s) {
  on_data(c, s, strlen(s));
}

static const char *stream_ok =
    "event: message_start\r\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"claude-real\","
    "\"usage\":{\"input_tokens\":10,\"cache_read_input_tokens\":5,\"output_tokens\":1}}}\r\n\r\n"
    "event: ping\ndata: {\"type\": \"ping\"}\n\n"
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hel\"}}\n\n"
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"lo\"}}\n\n"
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"w\",\"input\":{}}}\n\n"
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\"}}\n\n"
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"a\\\":\"}}\n\n"
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"1}\"}}\n\n"
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n"
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":2,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_2\",\"name\":\"t\",\"input\":{}}}\n\n"
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":2}\n\n"
    "event: some_future_event\ndata: {\"type\":\"some_future_event\"}\n\n"
    "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":12}}\n\n"
    "event: message_stop\ndata: {\"type\":\"message_stop\"}"; /* unterminated last event */

static void test_stream(void **st) {
  sl_msg_t m;
  sl_chat_req_t req = one_msg(&m);
  rec_t rec = {0};
  an_call_t *c = prepare(&req, true, &rec, "http://h");
  on_response(c, 200, "text/event-stream; charset=utf-8", 0, false);
  /* byte by byte: event boundaries may fall anywhere */
  for (const char *p = stream_ok; *p; p++) on_data(c, p, 1);
  on_done(c, 0, 200, "ok");
  assert_true(rec.done && !rec.error);
  assert_string_equal(rec.text.data, "Hello");
  assert_int_equal(rec.n_tools, 2);
  assert_string_equal(rec.tools[0], "toolu_1|w|{\"a\":1}");
  assert_string_equal(rec.tools[1], "toolu_2|t|{}"); /* no argument bytes: {} */
  assert_string_equal(rec.finish, "tool_calls");
  assert_int_equal(rec.res.prompt_tokens, 15);
  assert_int_equal(rec.res.completion_tokens, 12);
  assert_true(rec.res.usage_reported);
  sl_buf_free(&rec.text);
}

static void test_stream_stop_sequence_and_truncation(void **st) {
  sl_msg_t m;
  sl_chat_req_t req = one_msg(&m);
  rec_t rec = {0};
  an_call_t *c = prepare(&req, true, &rec, "http://h");
  on_response(c, 200, "text/event-stream", 0, false);
  feed(c, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":3,\"output_tokens\":0}}}\n\n"
          "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"1 2\"}}\n\n"
          "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"stop_sequence\",\"stop_sequence\":\" 3\"},\"usage\":{\"output_tokens\":2}}\n\n"
          "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
  on_done(c, 0, 200, "ok");
  assert_true(rec.done);
  assert_string_equal(rec.finish, "stop");
  assert_string_equal(rec.stop_seq, " 3");
  sl_buf_free(&rec.text);

  /* no message_stop: a failure after output, not retryable */
  memset(&rec, 0, sizeof rec);
  c = prepare(&req, true, &rec, "http://h");
  on_response(c, 200, "text/event-stream", 0, false);
  feed(c, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}}\n\n");
  on_done(c, 0, 200, "ok");
  assert_true(rec.error && !rec.done);
  assert_true(rec.err.started);
  assert_false(rec.err.retryable);
  sl_buf_free(&rec.text);

  /* an error event before any output: retryable, Anthropic's type kept */
  memset(&rec, 0, sizeof rec);
  c = prepare(&req, true, &rec, "http://h");
  on_response(c, 200, "text/event-stream", 0, false);
  feed(c, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n");
  on_done(c, SL_ECANCELED, 200, "transfer aborted");
  assert_true(rec.error && !rec.done);
  assert_true(rec.err.retryable);
  assert_string_equal(rec.err.type, "overloaded_error");
  assert_non_null(strstr(rec.err.message, "Overloaded"));
  sl_buf_free(&rec.text);
}

/* Whitespace-only stop strings, which the API refuses, are applied here: not
 * sent, the text cut at the first one (streamed or whole), a held-back prefix
 * delivered when no stop string follows it. */
static void test_local_stop_strings(void **st) {
  sl_msg_t m;
  sl_chat_req_t req = one_msg(&m);
  char *stops[] = {"\n", "END", " \t", ""};
  req.stop = stops;
  req.n_stop = 4;
  rec_t rec = {0};
  an_call_t *c = prepare(&req, true, &rec, "http://h");
  cJSON *j = cJSON_Parse(c->base.body.data);
  char *got = cJSON_PrintUnformatted(cJSON_GetObjectItem(j, "stop_sequences"));
  assert_string_equal(got, "[\"END\"]");
  free(got);
  cJSON_Delete(j);
  on_response(c, 200, "text/event-stream", 0, false);
  const char *ev = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n"
                   "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"one \"}}\n\n"
                   "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"two\\nthree\"}}\n\n"
                   "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"four\"}}\n\n";
  for (const char *p = ev; *p; p++) on_data(c, p, 1);
  assert_string_equal(rec.text.data, "one two");
  assert_true(c->saw_stop); /* the rest of the stream is not relayed */
  on_done(c, 0, 200, "ok");
  assert_true(rec.done && !rec.error);
  assert_string_equal(rec.text.data, "one two");
  assert_string_equal(rec.finish, "stop");
  assert_string_equal(rec.stop_seq, "\n");
  assert_false(rec.res.usage_reported); /* cut short: the output count is estimated */
  assert_int_equal(rec.res.completion_tokens, 2);
  sl_buf_free(&rec.text);

  /* whole: text after the stop string and a tool call after it are dropped;
   * the upstream's usage is what it billed */
  memset(&rec, 0, sizeof rec);
  c = prepare(&req, false, &rec, "http://h");
  on_response(c, 200, "application/json", 0, false);
  feed(c, "{\"content\":[{\"type\":\"text\",\"text\":\"a \"},{\"type\":\"text\",\"text\":\"\\tb\"},"
          "{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"w\",\"input\":{}}],"
          "\"stop_reason\":\"tool_use\",\"usage\":{\"input_tokens\":4,\"output_tokens\":6}}");
  on_done(c, 0, 200, "ok");
  assert_true(rec.done);
  assert_string_equal(rec.text.data, "a");
  assert_int_equal(rec.n_tools, 0);
  assert_string_equal(rec.finish, "stop");
  assert_string_equal(rec.stop_seq, " \t");
  assert_true(rec.res.usage_reported);
  assert_int_equal(rec.res.completion_tokens, 6);
  sl_buf_free(&rec.text);

  /* a held prefix of a stop string that never completes is delivered, before
   * the tool call that follows it */
  memset(&rec, 0, sizeof rec);
  c = prepare(&req, false, &rec, "http://h");
  on_response(c, 200, "application/json", 0, false);
  feed(c, "{\"content\":[{\"type\":\"text\",\"text\":\"x \"},"
          "{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"w\",\"input\":{}},{\"type\":\"text\",\"text\":\"y \"}],"
          "\"stop_reason\":\"end_turn\",\"usage\":{\"input_tokens\":4,\"output_tokens\":6}}");
  on_done(c, 0, 200, "ok");
  assert_true(rec.done);
  assert_string_equal(rec.text.data, "x y ");
  assert_int_equal(rec.n_tools, 1);
  assert_string_equal(rec.finish, "stop");
  assert_string_equal(rec.stop_seq, "(null)");
  sl_buf_free(&rec.text);
}

/* A JSON response_format is asked for through one forced tool whose input is
 * the answer's text (streamed or whole); with the client's own tools, or a
 * schema whose root is no object, the system prompt asks for JSON instead. */
static void test_json_response_format(void **st) {
  sl_msg_t m;
  sl_chat_req_t req = one_msg(&m);
  req.response_format = "{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"p\",\"strict\":true,"
                        "\"schema\":{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"}}}}}";
  req.tool_choice = "\"auto\"";
  rec_t rec = {0};
  an_call_t *c = prepare(&req, true, &rec, "http://h");
  cJSON *j = cJSON_Parse(c->base.body.data);
  char *got = cJSON_PrintUnformatted(cJSON_GetObjectItem(j, "tools"));
  assert_string_equal(got, "[{\"name\":\"json_answer\",\"description\":\"Give the answer as this tool's input.\","
                           "\"input_schema\":{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"}}}}]");
  free(got);
  got = cJSON_PrintUnformatted(cJSON_GetObjectItem(j, "tool_choice"));
  assert_string_equal(got, "{\"type\":\"tool\",\"name\":\"json_answer\"}");
  free(got);
  assert_null(cJSON_GetObjectItem(j, "system"));
  cJSON_Delete(j);
  on_response(c, 200, "text/event-stream", 0, false);
  feed(c, "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"Sure: \"}}\n\n"
          "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"json_answer\",\"input\":{}}}\n\n"
          "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"a\\\":\"}}\n\n"
          "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\" 4}\"}}\n\n"
          "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n"
          "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},\"usage\":{\"output_tokens\":5}}\n\n"
          "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
  on_done(c, 0, 200, "ok");
  assert_true(rec.done);
  assert_string_equal(rec.text.data, "{\"a\": 4}");
  assert_int_equal(rec.n_tools, 0);
  assert_string_equal(rec.finish, "stop");
  sl_buf_free(&rec.text);

  /* json_object, whole: any object; a tool called without input is {} */
  req.response_format = "{\"type\":\"json_object\"}";
  memset(&rec, 0, sizeof rec);
  c = prepare(&req, false, &rec, "http://h");
  j = cJSON_Parse(c->base.body.data);
  got = cJSON_PrintUnformatted(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "tools"), 0), "input_schema"));
  assert_string_equal(got, "{\"type\":\"object\"}");
  free(got);
  cJSON_Delete(j);
  on_response(c, 200, "application/json", 0, false);
  feed(c, "{\"content\":[{\"type\":\"text\",\"text\":\"Here.\"},{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"json_answer\","
          "\"input\":{\"k\":[1,\"x\"]}}],\"stop_reason\":\"tool_use\",\"usage\":{\"input_tokens\":4,\"output_tokens\":6}}");
  on_done(c, 0, 200, "ok");
  assert_true(rec.done);
  assert_string_equal(rec.text.data, "{\"k\":[1,\"x\"]}");
  assert_string_equal(rec.finish, "stop");
  sl_buf_free(&rec.text);

  /* the client's own tools: they keep their meaning, JSON is asked for in words */
  req.tools = "[{\"type\":\"function\",\"function\":{\"name\":\"w\"}}]";
  memset(&rec, 0, sizeof rec);
  c = prepare(&req, false, &rec, "http://h");
  j = cJSON_Parse(c->base.body.data);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "tools")), 1);
  assert_non_null(strstr(cJSON_GetObjectItem(j, "system")->valuestring, "Answer with JSON only"));
  assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "tool_choice"), "type")->valuestring, "auto");
  cJSON_Delete(j);
  sl_call_cancel(&c->base);
  sl_buf_free(&rec.text);
}

/* Numbers in tool inputs and arguments pass both ways as written. */
static void test_numbers_as_written(void **st) {
  sl_msg_t msgs[2] = {msg("user", "hi"), msg("assistant", "")};
  msgs[1].tool_calls = "[{\"id\":\"c1\",\"type\":\"function\",\"function\":{\"name\":\"w\","
                       "\"arguments\":\"{\\\"id\\\":9007199254740993,\\\"x\\\":1.0}\"}}]";
  sl_chat_req_t req;
  sl_chat_req_init(&req);
  req.msgs = msgs;
  req.n_msgs = 2;
  req.tools = "[{\"type\":\"function\",\"function\":{\"name\":\"w\",\"parameters\":{\"type\":\"object\","
              "\"properties\":{\"p\":{\"type\":\"number\",\"maximum\":0.30000000000000004}}}}}]";
  rec_t rec = {0};
  an_call_t *c = prepare(&req, false, &rec, "http://h");
  assert_non_null(strstr(c->base.body.data, "\"input\":{\"id\":9007199254740993,\"x\":1.0}"));
  assert_non_null(strstr(c->base.body.data, "\"maximum\":0.30000000000000004"));
  on_response(c, 200, "application/json", 0, false);
  feed(c, "{\"content\":[{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"w\",\"input\":{\"id\":1234567890123456789,\"y\":2.50}}],"
          "\"stop_reason\":\"tool_use\",\"usage\":{\"input_tokens\":4,\"output_tokens\":6}}");
  on_done(c, 0, 200, "ok");
  assert_true(rec.done);
  assert_string_equal(rec.tools[0], "t1|w|{\"id\":1234567890123456789,\"y\":2.50}");
  assert_int_equal(rec.res.completion_tokens, 6);
  sl_buf_free(&rec.text);
}

/* A conversation that ends in a blank user turn, or has no turn that is not
 * blank: the API refuses empty text, and leaving the turn out would make the
 * assistant's last turn a prefill to continue. Not this backend's request. */
static void test_blank_last_turn(void **st) {
  sl_msg_t ms[3] = {msg("user", "Tell me a joke"), msg("assistant", "Why did"), msg("user", " ")};
  sl_chat_req_t req;
  sl_chat_req_init(&req);
  req.msgs = ms;
  static sl_backend_cfg_t cfg;
  cfg = cfg_for("http://h");
  sl_call_cbs_t cbs = {.on_text = r_text, .on_tool_call = r_tool, .on_done = r_done, .on_error = r_error};
  rec_t rec = {0};
  for (size_t n = 1; n <= 3; n++) {
    req.n_msgs = n;
    ms[0].content = n == 1 ? "" : "Tell me a joke";
    sl_call_opts_t o = {.req = &req};
    sl_call_t *c = NULL;
    int rc = sl_call_prepare(NULL, &cfg, &o, &cbs, &rec, &c);
    if (n == 2) { /* an assistant turn last: a prefill the client asked for */
      assert_int_equal(rc, 0);
      call_free((an_call_t *)c);
    } else {
      assert_int_equal(rc, SL_EUNSUPPORTED);
    }
  }
}

/* A surrogate pair an upstream split across two events: each half becomes
 * U+FFFD and the stream goes on; a whole pair and \u0000 as before. */
static void test_lone_surrogates(void **st) {
  sl_msg_t m;
  sl_chat_req_t req = one_msg(&m);
  rec_t rec = {0};
  an_call_t *c = prepare(&req, true, &rec, "http://h");
  on_response(c, 200, "text/event-stream", 0, false);
  feed(c, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"a\\uD83D\"}}\n\n"
          "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"\\ude00b \\\\ud83d\"}}\n\n"
          "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" \\ud83d\\ude00\\u0000.\"}}\n\n"
          "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"}}\n\n"
          "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
  on_done(c, 0, 200, "ok");
  assert_true(rec.done && !rec.error);
  /* the pair split across two events is joined; an escaped backslash is text */
  assert_string_equal(rec.text.data, "a\xF0\x9F\x98\x80" "b \\ud83d \xF0\x9F\x98\x80\xEF\xBF\xBD.");
  sl_buf_free(&rec.text);
}

static void test_whole_and_errors(void **st) {
  sl_msg_t m;
  sl_chat_req_t req = one_msg(&m);
  rec_t rec = {0};
  an_call_t *c = prepare(&req, false, &rec, "http://h");
  on_response(c, 200, "application/json", 0, false);
  feed(c, "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-real\",\"content\":["
          "{\"type\":\"thinking\",\"thinking\":\"hm\"},{\"type\":\"text\",\"text\":\"a\"},"
          "{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"w\",\"input\":{\"x\":[1,2]}}],"
          "\"stop_reason\":\"max_tokens\",\"stop_sequence\":null,\"usage\":{\"input_tokens\":4,\"output_tokens\":6}}");
  on_done(c, 0, 200, "ok");
  assert_true(rec.done);
  assert_string_equal(rec.text.data, "a");
  assert_string_equal(rec.tools[0], "t1|w|{\"x\":[1,2]}");
  assert_string_equal(rec.finish, "length");
  assert_string_equal(rec.stop_seq, "(null)");
  assert_string_equal(rec.model, "claude-real");
  assert_int_equal(rec.res.prompt_tokens, 4);
  sl_buf_free(&rec.text);

  struct { int status; const char *body; const char *type; bool retry; } cases[] = {
      {529, "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}", "overloaded_error", true},
      {429, "{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"slow\"}}", "rate_limit_error", true},
      {400, "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\",\"message\":\"bad\"}}", "invalid_request_error", false},
      {500, "not json at all", "upstream_error", true},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    memset(&rec, 0, sizeof rec);
    c = prepare(&req, false, &rec, "http://h");
    on_response(c, cases[i].status, "application/json", 0, false);
    feed(c, cases[i].body);
    on_done(c, 0, cases[i].status, "ok");
    assert_true(rec.error && !rec.done);
    assert_int_equal(rec.err.http_status, cases[i].status);
    assert_string_equal(rec.err.type, cases[i].type);
    assert_int_equal(rec.err.retryable, cases[i].retry);
    sl_buf_free(&rec.text);
  }

  /* a malformed 200 is an upstream failure */
  memset(&rec, 0, sizeof rec);
  c = prepare(&req, false, &rec, "http://h");
  on_response(c, 200, "application/json", 0, false);
  feed(c, "{\"type\":\"message\"}");
  on_done(c, 0, 200, "ok");
  assert_true(rec.error);
  sl_buf_free(&rec.text);

  /* no usage: an estimate, flagged as one */
  memset(&rec, 0, sizeof rec);
  c = prepare(&req, false, &rec, "http://h");
  on_response(c, 200, "application/json", 0, false);
  feed(c, "{\"content\":[{\"type\":\"text\",\"text\":\"abcdefgh\"}]}");
  on_done(c, 0, 200, "ok");
  assert_true(rec.done && !rec.res.usage_reported);
  assert_int_equal(rec.res.completion_tokens, 2);
  assert_string_equal(rec.finish, "stop");
  sl_buf_free(&rec.text);
}

static void test_abandon(void **st) {
  sl_msg_t m;
  sl_chat_req_t req = one_msg(&m);
  rec_t rec = {.abandon_after = 1};
  an_call_t *c = prepare(&req, true, &rec, "http://h");
  on_response(c, 200, "text/event-stream", 0, false);
  int rc = on_data(c, stream_ok, strlen(stream_ok));
  assert_int_not_equal(rc, 0); /* the transfer is told to stop */
  on_done(c, SL_ECANCELED, 200, "transfer aborted");
  assert_false(rec.done || rec.error); /* and no callback runs after abandoning */
  assert_string_equal(rec.text.data, "Hel");
  sl_buf_free(&rec.text);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_encode), cmocka_unit_test(test_stream),
      cmocka_unit_test(test_stream_stop_sequence_and_truncation), cmocka_unit_test(test_whole_and_errors),
      cmocka_unit_test(test_local_stop_strings),
      cmocka_unit_test(test_json_response_format),
      cmocka_unit_test(test_numbers_as_written),
      cmocka_unit_test(test_lone_surrogates), cmocka_unit_test(test_blank_last_turn),
      cmocka_unit_test(test_abandon),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
