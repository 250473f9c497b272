/* Config validation: good files load; every kind of mistake is refused with the
 * JSON path of the bad value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "policy/config.h"
#include "sl_err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OK_BACKEND "{\"name\":\"up\",\"kind\":\"openai\",\"base_url\":\"https://api.example.com/v1/\",\"api_key_env\":\"K\",\"models\":[{\"name\":\"m\",\"usd_per_mtok_in\":1,\"usd_per_mtok_out\":2}]}"

static int parse(const char *json, sl_config_t **c, sl_jerr_t *e) {
  return sl_config_parse(json, strlen(json), NULL, c, e);
}

static void test_valid(void **st) {
  sl_config_t *c;
  sl_jerr_t e = {{0}};
  const char *j = "{\"listen\":\"127.0.0.1:9090\",\"backends\":[" OK_BACKEND
                  ",{\"name\":\"loc\",\"kind\":\"local\",\"model\":\"m.gguf\",\"threads\":1}],"
                  "\"auth\":{\"keys\":[{\"id\":\"a\",\"sha256\":\"" 
                  "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae\",\"tenant\":\"t\",\"monthly_budget_usd\":10}]},"
                  "\"rules\":[]}";
  assert_int_equal(parse(j, &c, &e), 0);
  assert_string_equal(c->listen, "127.0.0.1:9090");
  assert_int_equal(c->n_backends, 2);
  const sl_backend_cfg_t *b = sl_config_backend(c, "up");
  assert_non_null(b);
  assert_string_equal(b->base_url, "https://api.example.com/v1"); /* trailing slash trimmed */
  assert_int_equal(b->location, SL_LOC_EXTERNAL);                /* API backends default external */
  assert_string_equal(b->default_model, "m");
  assert_true(sl_config_model(b, "m")->usd_per_mtok_out == 2);
  assert_int_equal(sl_config_backend(c, "loc")->location, SL_LOC_IN_PROCESS);
  const sl_key_cfg_t *k = sl_config_find_key(c, "foo", 3); /* sha256("foo") */
  assert_non_null(k);
  assert_string_equal(k->tenant, "t");
  assert_null(sl_config_find_key(c, "bar", 3));
  assert_int_equal(strlen(c->digest_hex), 64);
  /* first-byte timeout: streamed calls only, unless the file sets it */
  assert_int_equal(sl_backend_first_byte_ms(b, true), 60000);
  assert_int_equal(sl_backend_first_byte_ms(b, false), 0);
  sl_config_free(c);
  j = "{\"backends\":[{\"name\":\"up\",\"kind\":\"openai\",\"base_url\":\"http://h\","
      "\"first_byte_timeout_ms\":300}]}";
  assert_int_equal(parse(j, &c, &e), 0);
  b = sl_config_backend(c, "up");
  assert_int_equal(sl_backend_first_byte_ms(b, true), 300);
  assert_int_equal(sl_backend_first_byte_ms(b, false), 300);
  sl_config_free(c);
}

static void expect_error(const char *json, const char *path_and_msg) {
  sl_config_t *c = NULL;
  sl_jerr_t e = {{0}};
  int rc = parse(json, &c, &e);
  if (rc == 0 || !strstr(e.msg, path_and_msg)) {
    fprintf(stderr, "json: %s\nexpected: %s\ngot rc=%d: %s\n", json, path_and_msg, rc, e.msg);
    fail();
  }
  assert_null(c);
}

#define HASH_A "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"

static void test_errors_name_the_path(void **st) {
  expect_error("{\"backends\":[" OK_BACKEND "], \"bogus\": 1}", "$: unknown key \"bogus\"");
  /* a key twice: jq keeps the last, cJSON the first; refused rather than guessed */
  expect_error("{\"backends\":[{\"name\":\"a\",\"kind\":\"local\",\"name\":\"b\"}]}",
               "$.backends[0]: has the key \"name\" twice");
  expect_error("{\"listen\":\"127.0.0.1:1\",\"listen\":\"0.0.0.0:2\",\"backends\":[" OK_BACKEND "]}",
               "$: has the key \"listen\" twice");
  expect_error("{\"backends\":[" OK_BACKEND "], \"description\": \"caf\xe9\"}", "$: is not valid UTF-8 (at byte");
  {
    char big[600];
    snprintf(big, sizeof big, "{\"backends\":[{\"name\":\"%0300d\",\"kind\":\"local\"}]}", 7);
    expect_error(big, "$.backends[0].name: must be at most 255 bytes");
  }
  expect_error("{}", "$.backends: is required");
  expect_error("{\"backends\":[]}", "$.backends: must list");
  expect_error("{\"backends\":[{\"name\":\"x\",\"kind\":\"grpc\",\"base_url\":\"http://a\"}]}",
               "$.backends[0].kind: must be");
  expect_error("{\"backends\":[" OK_BACKEND "," OK_BACKEND "]}", "$.backends[1]: duplicate backend name");
  /* one address (host and port, however written) is inside or outside the
   * network, not both */
  {
    static const char *const same[][2] = {
        {"https://api.example.com/v1", "https://api.example.com/v1"},
        {"https://api.example.com/v1", "https://API.Example.com.:443//v1/"},
        {"https://api.example.com/v1", "https://api.example.com/other"},
        {"http://127.0.0.1:18201/v1", "http://localhost:18201/v1"},
        {"http://127.0.0.1:18201/v1", "http://127.000.000.001:18201/v1"},
        {"http://127.0.0.1:18201/v1", "http://2130706433:18201/v1"},
        {"http://127.0.0.1:18201/v1", "http://[::ffff:127.0.0.1]:18201/v1"},
        {"http://127.0.0.1:18201/v1", "http://[::1]:18201"},
        /* the unspecified address connects to this host, as 0.0.0.0 does */
        {"http://127.0.0.1:18201/v1", "http://[::]:18201/v1"},
        {"http://127.0.0.1:18201/v1", "http://[0:0:0:0:0:0:0:0]:18201/v1"},
        {"http://127.0.0.1:18201/v1", "http://0.0.0.0:18201/v1"},
        {"http://127.0.0.1:18201/v1", "http://127.0.0.2:18201/v1"},
        {"http://10.0.0.5/v1", "http://10.0.0.5:80/v1"},
        {"http://[2001:db8::1]:8000/v1", "http://[2001:DB8:0::1]:8000/v1"}};
    for (size_t i = 0; i < sizeof same / sizeof *same; i++) {
      char doc[600];
      snprintf(doc, sizeof doc,
               "{\"backends\":[{\"name\":\"up\",\"kind\":\"openai\",\"base_url\":\"%s\"},{\"name\":\"in\","
               "\"kind\":\"openai\",\"location\":\"internal\",\"base_url\":\"%s\"}]}",
               same[i][0], same[i][1]);
      expect_error(doc, "$.backends[1].base_url: sends to the address (host and port) of external backend \"up\"");
      assert_true(sl_config_same_address(same[i][1], same[i][0]));
    }
    static const char *const other[][2] = {{"http://127.0.0.1:18201/v1", "http://127.0.0.1:18202/v1"},
                                           {"https://api.example.com/v1", "http://api.example.com/v1"},
                                           {"https://api.example.com/v1", "https://api.example.org/v1"},
                                           {"http://10.0.0.5/v1", "http://10.0.0.6/v1"}};
    for (size_t i = 0; i < sizeof other / sizeof *other; i++)
      assert_false(sl_config_same_address(other[i][0], other[i][1]));
  }

  expect_error("{\"backends\":[{\"name\":\"x\",\"kind\":\"openai\",\"base_url\":\"ftp://a\"}]}",
               "$.backends[0].base_url: must start with http");
  expect_error("{\"backends\":[{\"name\":\"x\",\"kind\":\"openai\"}]}", "$.backends[0].base_url: is required");
  expect_error("{\"backends\":[{\"name\":\"x\",\"kind\":\"openai\",\"base_url\":\"http://a b/v1\"}]}",
               "$.backends[0].base_url: must not contain spaces");
  expect_error("{\"backends\":[{\"name\":\"x\",\"kind\":\"openai\",\"base_url\":\"http://a/v1\\r\\nX: y\"}]}",
               "$.backends[0].base_url: must not contain spaces");
  expect_error("{\"backends\":[{\"name\":\"x\",\"kind\":\"openai\",\"base_url\":\"https:///v1\"}]}",
               "$.backends[0].base_url: must name a host");
  expect_error("{\"backends\":[{\"name\":\"x\",\"kind\":\"openai\",\"base_url\":\"https://u:p@h/v1\"}]}",
               "$.backends[0].base_url: must name a host");
  expect_error("{\"backends\":[{\"name\":\"x\",\"kind\":\"openai\",\"base_url\":\"http://a\","
               "\"max_tokens_param\":\"max_output_tokens\"}]}",
               "$.backends[0].max_tokens_param: must be \"max_tokens\" or \"max_completion_tokens\"");
  expect_error("{\"backends\":[{\"name\":\"x\",\"kind\":\"anthropic\",\"base_url\":\"http://a\","
               "\"max_tokens_param\":\"max_tokens\"}]}",
               "$.backends[0].max_tokens_param: applies to kind \"openai\" only");
  /* ca_file: an https:// backend's, a PEM file of certificates */
  expect_error("{\"backends\":[{\"name\":\"x\",\"kind\":\"openai\",\"base_url\":\"http://a\","
               "\"ca_file\":\"/etc/hostname\"}]}",
               "$.backends[0].ca_file: applies to an https:// base_url only");
  expect_error("{\"backends\":[{\"name\":\"x\",\"kind\":\"openai\",\"base_url\":\"https://a\","
               "\"ca_file\":\"/nonexistent/ca.pem\"}]}",
               "$.backends[0].ca_file: /nonexistent/ca.pem: No such file or directory");
  expect_error("{\"backends\":[{\"name\":\"x\",\"kind\":\"openai\",\"base_url\":\"https://a\","
               "\"ca_file\":\"/etc\"}]}",
               "$.backends[0].ca_file: /etc: not a regular file");
  expect_error("{\"backends\":[{\"name\":\"x\",\"kind\":\"openai\",\"base_url\":\"https://a\","
               "\"ca_file\":\"/etc/passwd\"}]}",
               "$.backends[0].ca_file: /etc/passwd: holds no readable PEM certificate");
  {
    char big[600];
    snprintf(big, sizeof big,
             "{\"backends\":[{\"name\":\"x\",\"kind\":\"openai\",\"base_url\":\"http://a\","
             "\"models\":[\"%0300d\"]}]}", 0);
    expect_error(big, "$.backends[0].models[0]: must be at most 255 bytes");
  }
  /* a key of the other kind is an error, not ignored */
  expect_error("{\"backends\":[{\"name\":\"x\",\"kind\":\"local\",\"base_url\":\"ftp://a\"}]}",
               "$.backends[0].base_url: applies to API (openai, anthropic) backends only");
  expect_error("{\"backends\":[{\"name\":\"x\",\"kind\":\"openai\",\"base_url\":\"http://a\",\"threads\":9}]}",
               "$.backends[0].threads: applies to local backends only");
  expect_error("{\"backends\":[{\"name\":\"x\",\"kind\":\"local\",\"log_level\":\"x\"}],\"log_level\":3}",
               "$.log_level: must be");
  expect_error("{\"backends\":[{\"name\":\"x\",\"kind\":\"local\"}],\"access_log\":\"yes\"}",
               "$.access_log: must be true or false");
  expect_error("{\"backends\":[{\"name\":\"x\",\"kind\":\"local\"}],\"auth\":{\"metrics_keys\":[\"abc\"]}}",
               "$.auth.metrics_keys[0]: must be 64 hex digits");
  expect_error("{\"backends\":[{\"name\":\"a/b\",\"kind\":\"openai\",\"base_url\":\"http://a\"}]}",
               "$.backends[0].name: must not contain");
  expect_error("{\"backends\":[{\"name\":\"ext\\nX-Injected:1\",\"kind\":\"openai\",\"base_url\":\"http://a\"}]}",
               "$.backends[0].name: must not contain control characters");
  expect_error("{\"auth\":{\"keys\":[{\"id\":\"a\",\"sha256\":\"" HASH_A "\"},{\"id\":\"b\",\"sha256\":\"" HASH_A "\"}]}}",
               "$.auth.keys[1]: the same sha256 as $.auth.keys[0] (\"a\")");
  expect_error("{\"backends\":[{\"name\":\"x\",\"kind\":\"openai\",\"base_url\":\"http://a\",\"location\":\"in-process\"}]}",
               "$.backends[0].location");
  expect_error("{\"backends\":[{\"name\":\"x\",\"kind\":\"local\",\"threads\":0}]}",
               "$.backends[0].threads: must be between");
  expect_error("{\"backends\":[{\"name\":\"x\",\"kind\":\"local\",\"threads\":1.5}]}",
               "$.backends[0].threads: must be a whole number");
  expect_error("{\"backends\":[" OK_BACKEND "],\"listen\":\"localhost\"}", "$.listen: must be HOST:PORT");
  expect_error("{\"backends\":[" OK_BACKEND "],\"listen\":\"a:99999\"}", "$.listen: port must be");
  /* an address the server can bind: no host name but localhost, IPv6 in brackets,
   * a port of digits only */
  expect_error("{\"backends\":[" OK_BACKEND "],\"listen\":\"myhost:80\"}", "$.listen: host must be");
  expect_error("{\"backends\":[" OK_BACKEND "],\"listen\":\"::1:80\"}", "$.listen: host must be");
  expect_error("{\"backends\":[" OK_BACKEND "],\"listen\":\"127.0.0.1:+80\"}", "$.listen: port must be");
  expect_error("{\"backends\":[" OK_BACKEND "],\"listen\":\"127.0.0.1: 80\"}", "$.listen: port must be");
  expect_error("{\"backends\":[" OK_BACKEND "],\"auth\":{\"keys\":[{\"id\":\"a\",\"sha256\":\"zz\"}]}}",
               "$.auth.keys[0].sha256: must be 64 hex digits");
  expect_error("{\"backends\":[" OK_BACKEND "],\"limits\":{\"max_body_bytes\":5}}",
               "$.limits.max_body_bytes: must be between");
  expect_error("{\"backends\":[" OK_BACKEND "],\"limits\":{\"max_buffered_bytes\":4096}}",
               "$.limits.max_buffered_bytes: must be between");
  expect_error("{\"backends\":[" OK_BACKEND "],\"ledger\":{\"path\":\"x\",\"on_failure\":\"maybe\"}}",
               "$.ledger.on_failure");
  expect_error("{\"backends\":[" OK_BACKEND "],\"ledger\":{\"path\":\"x\",\"durability\":\"fsync\"}}",
               "$.ledger.durability: must be \"journal\" or \"commit\"");
  expect_error("{\"backends\":[" OK_BACKEND "],\"workers\":1000}", "$.workers: must be between");
  expect_error("{\"backends\":[" OK_BACKEND "],\"workers\":1.5}", "$.workers: must be a whole number");
  expect_error("{\"backends\":[" OK_BACKEND "]", "$: not valid JSON");
  expect_error("[1,2]", "$: must be a JSON object");
  /* a second config appended, or garbage, after the object: refused, not ignored */
  expect_error("{\"backends\":[" OK_BACKEND "]}\n{\"backends\":[]}", "$: has more after its JSON object");
  expect_error("{\"backends\":[" OK_BACKEND "]} }}} x", "$: has more after its JSON object");
  /* cJSON would cut "def\u0000ault" to "def" */
  expect_error("{\"backends\":[" OK_BACKEND "],\"description\":\"a\\u0000b\"}", "$: holds an escaped NUL");
}

static void test_invalid_json_names_the_line(void **st) {
  sl_config_t *c = NULL;
  sl_jerr_t e = {{0}};
  const char *j = "{\n\"listen\": \"a:1\",\n\"backends\": [,]\n}";
  assert_int_not_equal(parse(j, &c, &e), 0);
  assert_non_null(strstr(e.msg, "line 3"));
  /* valid JSON nested past cJSON's limit is said to be so, not "not valid" */
  char *deep = malloc(4000);
  size_t k = 0;
  k += (size_t)sprintf(deep, "{\"x\":");
  for (int d = 0; d < 1500; d++) deep[k++] = '[';
  for (int d = 0; d < 1500; d++) deep[k++] = ']';
  deep[k++] = '}';
  deep[k] = 0;
  expect_error(deep, "nested deeper than 1000 levels");
  free(deep);
}

static void test_load_missing_file(void **st) {
  sl_config_t *c = NULL;
  sl_jerr_t e = {{0}};
  assert_int_equal(sl_config_load("/nonexistent/sluice.json", &c, &e), SL_EIO);
  assert_non_null(strstr(e.msg, "cannot open"));
}

static void test_default_config_is_valid(void **st) {
  const char *src = getenv("SLUICE_SRC");
  static const char *const files[] = {"sluice.json", "local-only.json"};
  for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/deploy/%s", src ? src : ".", files[i]);
    sl_config_t *c = NULL;
    sl_jerr_t e = {{0}};
    int rc = sl_config_load(path, &c, &e);
    if (rc) fprintf(stderr, "%s: %s\n", path, e.msg);
    assert_int_equal(rc, 0);
    for (size_t b = 0; i == 1 && b < c->n_backends; b++) /* local-only: no backend outside */
      assert_int_not_equal(c->backends[b].location, SL_LOC_EXTERNAL);
    sl_config_free(c);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_valid),
      cmocka_unit_test(test_errors_name_the_path),
      cmocka_unit_test(test_invalid_json_names_the_line),
      cmocka_unit_test(test_load_missing_file),
      cmocka_unit_test(test_default_config_is_valid),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
