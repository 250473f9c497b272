/* OpenAI Responses codec: a Responses body becomes the Chat Completions body it
 * stands for (input items, instructions, flat function tools, text.format),
 * server-side state and uninspectable parts are refused naming the field, and
 * the answer encodes as a `response` object and as the full event sequence
 * (every event valid JSON, sequence numbers in order, the closing event
 * repeating the whole answer with the streamed items' ids). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gateway/codec_responses.h"
#include "gateway/dialect.h"
#include "sl_err.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXB (1u << 20)

/* The chat body for a Responses body, parsed (NULL: an error, in err). */
static cJSON *to_chat(const char *j, char *err, int *rc) {
  sl_buf_t b;
  sl_buf_init(&b, MAXB);
  *rc = sl_responses_to_chat(j, strlen(j), &b, err, 300);
  cJSON *c = *rc ? NULL : cJSON_Parse(b.data);
  sl_buf_free(&b);
  return c;
}

static char *print(const cJSON *j) { return cJSON_PrintUnformatted(j); }

static void expect_json(const cJSON *j, const char *key, const char *want) {
  char *s = print(cJSON_GetObjectItemCaseSensitive(j, key));
  assert_non_null(s);
  assert_string_equal(s, want);
  free(s);
}

static void test_items_to_messages(void **st) {
  char err[300] = "";
  int rc;
  cJSON *c = to_chat(
      "{\"model\":\"m\",\"instructions\":\"be brief\",\"max_output_tokens\":9,\"temperature\":0.5,"
      "\"input\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":\"a\"},"
      "{\"type\":\"input_text\",\"text\":\"b\"}]},"
      "{\"type\":\"reasoning\",\"id\":\"rs_1\",\"summary\":[]},"
      "{\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"calling\"}]},"
      "{\"type\":\"function_call\",\"call_id\":\"c1\",\"name\":\"f\",\"arguments\":\"{}\"},"
      "{\"type\":\"function_call\",\"call_id\":\"c2\",\"name\":\"g\",\"arguments\":\"{\\\"x\\\":1}\"},"
      "{\"type\":\"function_call_output\",\"call_id\":\"c1\",\"output\":\"42\"},"
      "{\"type\":\"function_call_output\",\"call_id\":\"c2\",\"output\":[{\"type\":\"input_text\",\"text\":\"7\"}]}],"
      "\"tools\":[{\"type\":\"function\",\"name\":\"f\",\"parameters\":{\"type\":\"object\"},\"strict\":false}],"
      "\"tool_choice\":{\"type\":\"function\",\"name\":\"f\"},\"parallel_tool_calls\":false,"
      "\"reasoning\":{\"effort\":\"high\",\"summary\":\"auto\"},"
      "\"text\":{\"format\":{\"type\":\"json_schema\",\"name\":\"s\",\"schema\":{\"type\":\"object\"}},\"verbosity\":\"low\"},"
      "\"store\":false,\"metadata\":{\"k\":\"v\"}}",
      err, &rc);
  assert_int_equal(rc, 0);
  expect_json(c, "messages",
              "[{\"role\":\"system\",\"content\":\"be brief\"},{\"role\":\"user\",\"content\":\"a\\nb\"},"
              "{\"role\":\"assistant\",\"content\":\"calling\",\"tool_calls\":["
              "{\"id\":\"c1\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}},"
              "{\"id\":\"c2\",\"type\":\"function\",\"function\":{\"name\":\"g\",\"arguments\":\"{\\\"x\\\":1}\"}}]},"
              "{\"role\":\"tool\",\"content\":\"42\",\"tool_call_id\":\"c1\"},"
              "{\"role\":\"tool\",\"content\":\"7\",\"tool_call_id\":\"c2\"}]");
  expect_json(c, "tools",
              "[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":{\"type\":\"object\"},\"strict\":false}}]");
  expect_json(c, "tool_choice", "{\"type\":\"function\",\"function\":{\"name\":\"f\"}}");
  expect_json(c, "response_format",
              "{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"s\",\"schema\":{\"type\":\"object\"}}}");
  expect_json(c, "verbosity", "\"low\"");
  expect_json(c, "reasoning_effort", "\"high\"");
  expect_json(c, "max_completion_tokens", "9");
  expect_json(c, "parallel_tool_calls", "false");
  assert_null(cJSON_GetObjectItemCaseSensitive(c, "input"));
  assert_null(cJSON_GetObjectItemCaseSensitive(c, "metadata"));
  cJSON_Delete(c);

  /* the assistant's text after its call, before the call's output: one
   * assistant message, the tool message right after it */
  c = to_chat("{\"input\":[{\"role\":\"user\",\"content\":\"q\"},"
              "{\"type\":\"function_call\",\"call_id\":\"c1\",\"name\":\"f\",\"arguments\":\"{}\"},"
              "{\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"wait\"}]},"
              "{\"type\":\"function_call_output\",\"call_id\":\"c1\",\"output\":\"1\"}]}",
              err, &rc);
  assert_int_equal(rc, 0);
  expect_json(c, "messages",
              "[{\"role\":\"user\",\"content\":\"q\"},{\"role\":\"assistant\",\"content\":\"wait\",\"tool_calls\":["
              "{\"id\":\"c1\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]},"
              "{\"role\":\"tool\",\"content\":\"1\",\"tool_call_id\":\"c1\"}]");
  cJSON_Delete(c);

  /* empty instructions are none */
  c = to_chat("{\"instructions\":\"\",\"input\":\"hi\"}", err, &rc);
  assert_int_equal(rc, 0);
  expect_json(c, "messages", "[{\"role\":\"user\",\"content\":\"hi\"}]");
  cJSON_Delete(c);

  /* the shape /v1/explain and the CLI go by */
  assert_true(sl_responses_shaped("{\"input\":\"hi\"}", 14));
  assert_false(sl_responses_shaped("{\"messages\":[],\"input\":\"x\"}", 27));
  assert_false(sl_responses_shaped("[\"input\"]", 9));

  /* the whole path through the OpenAI decoder */
  sl_chat_req_t r;
  const char *j = "{\"input\":\"hi\",\"stream\":true}";
  assert_int_equal(sl_responses_decode_request(j, strlen(j), &r, err, sizeof err), 0);
  assert_int_equal(r.n_msgs, 1);
  assert_string_equal(r.msgs[0].role, "user");
  assert_string_equal(r.msgs[0].content, "hi");
  assert_true(r.stream);
  assert_true(r.include_usage);
  sl_chat_req_free(&r);
}

static char *lookup(void *ctx, const char *id) {
  (void)ctx;
  return strcmp(id, "msg_a_0") ? NULL
                               : strdup("{\"id\":\"msg_a_0\",\"type\":\"message\",\"role\":\"assistant\","
                                        "\"content\":[{\"type\":\"output_text\",\"text\":\"earlier\"}]}");
}

static void test_resolve(void **st) {
  const char *j = "{\"input\":[{\"role\":\"user\",\"content\":\"q\"},{\"type\":\"item_reference\",\"id\":\"msg_a_0\"},"
                  "{\"type\":\"item_reference\",\"id\":\"msg_zz\"}]}";
  sl_buf_t b;
  sl_buf_init(&b, MAXB);
  assert_int_equal(sl_responses_resolve(j, strlen(j), lookup, NULL, &b), 0);
  cJSON *c = cJSON_Parse(b.data);
  expect_json(c, "input",
              "[{\"role\":\"user\",\"content\":\"q\"},{\"id\":\"msg_a_0\",\"type\":\"message\",\"role\":\"assistant\","
              "\"content\":[{\"type\":\"output_text\",\"text\":\"earlier\"}]},"
              "{\"type\":\"item_reference\",\"id\":\"msg_zz\"}]"); /* unknown: left for the decoder to refuse */
  cJSON_Delete(c);
  sl_buf_reset(&b);
  /* a body the decoder would refuse is not rewritten */
  assert_int_equal(sl_responses_resolve("{\"input\":\"\\u0000\"}", 16, lookup, NULL, &b), SL_EPARSE);
  sl_buf_free(&b);
}

static void test_echo(void **st) {
  const char *j = "{\"input\":\"x\",\"instructions\":\"be brief\",\"temperature\":0.5,\"tools\":[{\"type\":\"function\","
                  "\"name\":\"f\"}],\"metadata\":{\"k\":\"v\"},\"store\":false,\"top_p\":null}";
  bool stores = true;
  char *e = sl_responses_echo(j, strlen(j), &stores);
  assert_non_null(e);
  assert_string_equal(e, "\"instructions\":\"be brief\",\"max_output_tokens\":null,\"metadata\":{\"k\":\"v\"},"
                         "\"parallel_tool_calls\":true,\"previous_response_id\":null,"
                         "\"reasoning\":{\"effort\":null,\"summary\":null},\"store\":false,\"temperature\":0.5,"
                         "\"text\":{\"format\":{\"type\":\"text\"}},\"tool_choice\":\"auto\","
                         "\"tools\":[{\"type\":\"function\",\"name\":\"f\"}],\"top_p\":null,\"truncation\":\"disabled\","
                         "\"user\":null");
  free(e);
  assert_null(sl_responses_echo("[1]", 3, &stores));
  free(sl_responses_echo(j, strlen(j), &stores));
  assert_false(stores); /* "store": false */
  free(sl_responses_echo("{\"input\":\"x\"}", 13, &stores));
  assert_true(stores);
  free(sl_responses_echo("{\"store\":true}", 14, &stores));
  assert_true(stores);
}

static void test_refusals(void **st) {
  static const struct {
    const char *body;
    int rc;
    const char *msg;
  } cases[] = {
      {"{\"input\":\"x\",\"previous_response_id\":\"resp_1\"}", SL_EUNSUPPORTED, "previous_response_id names state"},
      {"{\"input\":\"x\",\"conversation\":\"conv_1\"}", SL_EUNSUPPORTED, "conversation names state"},
      {"{\"input\":[{\"type\":\"item_reference\",\"id\":\"msg_1\"}]}", SL_EUNSUPPORTED, "input[0]: no item with this id"},
      {"{\"input\":\"x\",\"background\":true}", SL_EINVAL, "background"},
      {"{\"model\":\"m\"}", SL_EINVAL, "input is required"},
      {"{\"input\":[]}", SL_EINVAL, "input: at least one item"},
      {"{\"input\":42}", SL_EINVAL, "input must be a string or an array"},
      {"{\"input\":[7]}", SL_EINVAL, "input[0] must be an object"},
      {"{\"input\":[{\"role\":\"boss\",\"content\":\"x\"}]}", SL_EINVAL, "input[0].role: unknown role"},
      {"{\"input\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_file\",\"file_id\":\"f\"}]}]}", SL_EINVAL,
       "input[0].content[0]: input_file parts are not supported"},
      {"{\"input\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_text\"}]}]}", SL_EINVAL,
       "input[0].content[0].text must be a string"},
      {"{\"input\":[{\"type\":\"function_call\",\"name\":\"f\",\"arguments\":\"{}\"}]}", SL_EINVAL,
       "input[0].call_id must be"},
      {"{\"input\":[{\"type\":\"function_call_output\",\"call_id\":\"c\",\"output\":{}}]}", SL_EINVAL,
       "input[0].output must be a string"},
      {"{\"input\":[{\"type\":\"web_search_call\"}]}", SL_EINVAL, "input[0]: web_search_call items"},
      {"{\"input\":\"x\",\"tools\":[{\"type\":\"file_search\"}]}", SL_EINVAL, "tools[0]: type 'file_search'"},
      {"{\"input\":\"x\",\"tools\":[{\"type\":\"function\"}]}", SL_EINVAL, "tools[0].name must be a string"},
      {"{\"input\":\"x\",\"tool_choice\":{\"type\":\"web_search\"}}", SL_EINVAL, "tool_choice must be"},
      {"{\"input\":\"x\",\"text\":{\"format\":7}}", SL_EINVAL, "text.format must be an object"},
      {"[1]", SL_EINVAL, "must be a JSON object"},
      /* the OpenAI decoder's refusals, in the Responses request's names */
      {"{\"input\":\"x\",\"max_output_tokens\":0}", SL_EINVAL, "max_output_tokens must be"},
      {"{\"input\":\"x\",\"text\":{\"format\":{\"type\":\"xml\"}}}", SL_EINVAL, "text.format.type must be"},
      {"{\"input\":\"x\",\"reasoning\":{\"effort\":3}}", SL_EINVAL, "reasoning.effort must be"},
      {"{\"input\":\"x\",\"temperature\":1e999}", SL_EINVAL, "temperature must be a finite number"},
      {"{\"input\":\"x\",\"user\":5}", SL_EINVAL, "user must be a string"},
      {"{\"input\":", SL_EPARSE, "not valid JSON"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char err[300] = "";
    sl_chat_req_t r;
    int rc = sl_responses_decode_request(cases[i].body, strlen(cases[i].body), &r, err, sizeof err);
    if (rc != cases[i].rc || !strstr(err, cases[i].msg))
      fail_msg("case %zu (%s): rc %d, err '%s'", i, cases[i].body, rc, err);
    assert_null(r.msgs);
  }
  /* what the OpenAI decoder refuses is refused too (its field names) */
  char err[300] = "";
  sl_chat_req_t r;
  const char *j = "{\"input\":\"x\",\"temperature\":\"hot\"}";
  assert_int_equal(sl_responses_decode_request(j, strlen(j), &r, err, sizeof err), SL_EINVAL);
  assert_non_null(strstr(err, "temperature"));
}

static sl_resp_t new_resp(void) {
  sl_resp_t r;
  memset(&r, 0, sizeof r);
  r.id = "resp_abc";
  r.created = 1700000000;
  r.model = "m\"x";
  sl_buf_init(&r.item_text, MAXB);
  sl_buf_init(&r.item_parts, MAXB);
  sl_buf_init(&r.item_head, MAXB);
  sl_buf_init(&r.items, MAXB);
  return r;
}

static void free_resp(sl_resp_t *r) {
  sl_buf_free(&r->item_text);
  sl_buf_free(&r->item_parts);
  sl_buf_free(&r->item_head);
  sl_buf_free(&r->items);
}

static void test_complete(void **st) {
  sl_resp_t r = new_resp();
  sl_tool_acc_t t[1];
  memset(t, 0, sizeof t);
  snprintf(t[0].id, sizeof t[0].id, "call_9");
  snprintf(t[0].name, sizeof t[0].name, "f");
  sl_buf_init(&t[0].args, MAXB);
  sl_buf_puts(&t[0].args, "{\"a\":1}");
  sl_result_t res = {.prompt_tokens = 5, .completion_tokens = 3, .finish_reason = "length"};
  sl_buf_t o;
  sl_buf_init(&o, MAXB);
  assert_int_equal(sl_dialect_responses.complete(&o, &r, "he\"llo", 6, t, 1, &res), 0);
  cJSON *j = cJSON_Parse(o.data);
  assert_non_null(j);
  expect_json(j, "status", "\"incomplete\"");
  expect_json(j, "incomplete_details", "{\"reason\":\"max_output_tokens\"}");
  expect_json(j, "model", "\"m\\\"x\"");
  expect_json(j, "output",
              "[{\"id\":\"msg_abc_0\",\"type\":\"message\",\"status\":\"completed\",\"role\":\"assistant\","
              "\"content\":[{\"type\":\"output_text\",\"text\":\"he\\\"llo\",\"annotations\":[],\"logprobs\":[]}]},"
              "{\"id\":\"fc_abc_1\",\"call_id\":\"call_9\",\"name\":\"f\",\"type\":\"function_call\","
              "\"status\":\"incomplete\",\"arguments\":\"{\\\"a\\\":1}\"}]"); /* (the answer was cut short) */
  expect_json(j, "usage",
              "{\"input_tokens\":5,\"input_tokens_details\":{\"cached_tokens\":0},\"output_tokens\":3,"
              "\"output_tokens_details\":{\"reasoning_tokens\":0},\"total_tokens\":8}");
  cJSON_Delete(j);
  sl_buf_free(&o);
  sl_buf_free(&t[0].args);
  free_resp(&r);
}

/* Every event of an SSE text: its data parsed; checks the event name matches
 * the type and the sequence numbers count from 0. Returns the last event. */
static cJSON *check_events(const char *sse, int *n_events) {
  cJSON *last = NULL;
  int n = 0;
  for (const char *p = sse; (p = strstr(p, "event: "));) {
    const char *nl = strchr(p, '\n');
    assert_non_null(nl);
    char name[80];
    snprintf(name, sizeof name, "%.*s", (int)(nl - p - 7), p + 7);
    assert_true(!strncmp(nl + 1, "data: ", 6));
    const char *end = strstr(nl, "\n\n");
    assert_non_null(end);
    cJSON *j = cJSON_ParseWithLength(nl + 7, (size_t)(end - nl - 7));
    if (!j) fail_msg("event %d is not JSON: %.*s", n, (int)(end - nl - 7), nl + 7);
    assert_string_equal(cJSON_GetObjectItem(j, "type")->valuestring, name);
    assert_int_equal(cJSON_GetObjectItem(j, "sequence_number")->valueint, n);
    cJSON_Delete(last);
    last = j;
    n++;
    p = end;
  }
  *n_events = n;
  return last;
}

static void test_stream(void **st) {
  sl_resp_t r = new_resp();
  sl_buf_t o;
  sl_buf_init(&o, MAXB);
  const sl_dialect_ops_t *d = &sl_dialect_responses;
  assert_int_equal(d->stream_start(&o, &r), 0);
  assert_int_equal(d->stream_text(&o, &r, "Hel", 3), 0);
  assert_int_equal(d->stream_text(&o, &r, "lo\n", 3), 0);
  assert_int_equal(d->stream_refusal(&o, &r, "no", 2), 0);
  assert_int_equal(d->stream_tool(&o, &r, 0, "call_1", "f", "{\"a\"", 4), 0);
  assert_int_equal(d->stream_tool(&o, &r, 0, NULL, NULL, ":1}", 3), 0);
  assert_int_equal(d->stream_tool(&o, &r, 1, NULL, "g", "", 0), 0); /* no arguments: "{}" */
  sl_result_t res = {.prompt_tokens = 4, .completion_tokens = 2, .finish_reason = "tool_calls"};
  assert_int_equal(d->stream_end(&o, &r, &res, false), 0);
  int n;
  cJSON *last = check_events(o.data, &n);
  /* created, in_progress; message added, part added, 2 deltas, text done, part done, refusal part
   * added, delta, refusal done, part done, message done (11); call added, 2 deltas, args done, item
   * done; call added, delta, args done, item done; completed */
  assert_int_equal(n, 2 + 11 + 5 + 4 + 1);
  assert_string_equal(cJSON_GetObjectItem(last, "type")->valuestring, "response.completed");
  cJSON *resp = cJSON_GetObjectItem(last, "response");
  expect_json(resp, "status", "\"completed\"");
  expect_json(resp, "output",
              "[{\"id\":\"msg_abc_0\",\"type\":\"message\",\"status\":\"completed\",\"role\":\"assistant\",\"content\":["
              "{\"type\":\"output_text\",\"text\":\"Hello\\n\",\"annotations\":[],\"logprobs\":[]},"
              "{\"type\":\"refusal\",\"refusal\":\"no\"}]},"
              "{\"id\":\"fc_abc_1\",\"call_id\":\"call_1\",\"name\":\"f\",\"type\":\"function_call\","
              "\"status\":\"completed\",\"arguments\":\"{\\\"a\\\":1}\"},"
              "{\"id\":\"fc_abc_2\",\"call_id\":\"call_abc_1\",\"name\":\"g\",\"type\":\"function_call\","
              "\"status\":\"completed\",\"arguments\":\"{}\"}]");
  cJSON_Delete(last);

  /* an error event: type error, the code and message, an error object the SDK raises */
  sl_buf_reset(&o);
  assert_int_equal(d->stream_error(&o, &r, 502, "upstream_error", "upstream_failed", "it \"broke\""), 0);
  int seq0 = r.seq - 1;
  assert_non_null(strstr(o.data, "event: error\ndata: {\"type\":\"error\""));
  cJSON *e = cJSON_Parse(strstr(o.data, "data: ") + 6);
  assert_non_null(e);
  assert_int_equal(cJSON_GetObjectItem(e, "sequence_number")->valueint, seq0);
  expect_json(e, "message", "\"it \\\"broke\\\"\"");
  expect_json(cJSON_GetObjectItem(e, "error"), "code", "\"upstream_failed\"");
  cJSON_Delete(e);
  sl_buf_free(&o);
  free_resp(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_items_to_messages),
      cmocka_unit_test(test_resolve),
      cmocka_unit_test(test_echo),
      cmocka_unit_test(test_refusals),
      cmocka_unit_test(test_complete),
      cmocka_unit_test(test_stream),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
