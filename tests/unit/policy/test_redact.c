/* Redaction: placeholders consistent across the turns of a conversation and
 * across re-sent requests, every occurrence replaced, entity offsets mapped
 * back to messages; streaming restoration across every chunk split. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "policy/redact.h"
#include <cjson/cJSON.h>
#include "sl_err.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void add_msg(sl_chat_req_t *r, const char *role, const char *content) {
  r->msgs = realloc(r->msgs, (r->n_msgs + 1) * sizeof *r->msgs);
  memset(&r->msgs[r->n_msgs], 0, sizeof *r->msgs);
  r->msgs[r->n_msgs].role = strdup(role);
  r->msgs[r->n_msgs].content = strdup(content);
  r->n_msgs++;
}

/* Entities found by locating `value` (its n-th occurrence) in sl_chat_text(). */
typedef struct {
  sl_class_t cls;
  sl_entity_t ents[32];
} cls_t;

static void find_entity(cls_t *c, const sl_chat_req_t *r, const char *type, const char *value,
                        int nth) {
  char *text;
  size_t len;
  assert_int_equal(sl_chat_text(r, &text, &len), 0);
  const char *p = text;
  for (int i = 0; i <= nth; i++) {
    p = strstr(i ? p + 1 : p, value);
    assert_non_null(p);
  }
  sl_entity_t *e = &c->ents[c->cls.n_entities++];
  memset(e, 0, sizeof *e);
  snprintf(e->type, sizeof e->type, "%s", type);
  e->detector = "test";
  e->start = (uint32_t)(p - text);
  e->end = e->start + (uint32_t)strlen(value);
  e->level = SL_LEVEL_CONFIDENTIAL;
  c->cls.entities = c->ents;
  free(text);
}

static const char *types[] = {"PERSON", "EMAIL_ADDRESS"};

/* A value in a tool call's id (found there or in the text) is replaced in the id
 * and in the id the tool result answers alike, so that they still match. */
static void test_tool_call_ids(void **state) {
  (void)state;
  sl_chat_req_t r;
  sl_chat_req_init(&r);
  add_msg(&r, "user", "Look up alice@example.com please.");
  add_msg(&r, "assistant", "");
  r.msgs[1].tool_calls = strdup("[{\"id\":\"call alice@example.com\",\"type\":\"function\","
                                "\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]");
  add_msg(&r, "tool", "found");
  r.msgs[2].tool_call_id = strdup("call alice@example.com");
  cls_t c = {0};
  find_entity(&c, &r, "EMAIL_ADDRESS", "alice@example.com", 0);
  find_entity(&c, &r, "EMAIL_ADDRESS", "alice@example.com", 2); /* the tool result's id */
  sl_chat_req_t out;
  sl_redact_map_t *m;
  assert_int_equal(sl_redact_request(&r, &c.cls, types, 2, &out, &m), 0);
  assert_string_equal(out.msgs[0].content, "Look up [EMAIL_ADDRESS_1] please.");
  assert_non_null(strstr(out.msgs[1].tool_calls, "\"call [EMAIL_ADDRESS_1]\""));
  assert_string_equal(out.msgs[2].tool_call_id, "call [EMAIL_ADDRESS_1]");
  sl_redact_map_free(m);
  sl_chat_req_free(&out);
  sl_chat_req_free(&r);
}

/* One user message whose PERSON values are names[k] (their nth[k] occurrence):
 * its redacted copy must read `want`, and restoring `ans` (if given) `ans_want`. */
static void redact_one(const char *msg, const char *const *names, const int *nth, size_t n,
                       const char *want, const char *ans, const char *ans_want) {
  sl_chat_req_t r;
  sl_chat_req_init(&r);
  add_msg(&r, "user", msg);
  cls_t c = {0};
  for (size_t k = 0; k < n; k++) find_entity(&c, &r, "PERSON", names[k], nth[k]);
  sl_chat_req_t out;
  sl_redact_map_t *m;
  assert_int_equal(sl_redact_request(&r, &c.cls, types, 2, &out, &m), 0);
  assert_string_equal(out.msgs[0].content, want);
  if (ans) {
    sl_buf_t back;
    sl_buf_init(&back, 1024);
    assert_int_equal(sl_redact_restore(m, ans, strlen(ans), false, &back), 0);
    assert_string_equal(back.data, ans_want);
    sl_buf_free(&back);
  }
  sl_redact_map_free(m);
  sl_chat_req_free(&out);
  sl_chat_req_free(&r);
}

/* Other occurrences of a value of several words are found in any case; a single
 * word keeps its case ("will" is no name). */
static void test_other_cases(void **state) {
  (void)state;
  static const char *const names[] = {"Laila Hansen", "Will"};
  redact_one("Ask Laila Hansen. Then ask laila hansen and LAILA HANSEN. Will said he will come.", names,
             (const int[]){0, 0}, 2,
             "Ask [PERSON_1]. Then ask [PERSON_1] and [PERSON_1]. [PERSON_2] said he will come.", NULL, NULL);
}

/* The same name written another way (a no-break space, a hyphen, the surname
 * first) that the detector found as a value of its own is the same person: one
 * placeholder, and the answer gets the first spelling back. */
static void test_same_words_one_placeholder(void **state) {
  (void)state;
  static const char *const names[] = {"Laila Hansen", "Laila\xc2\xa0Hansen", "Laila-Hansen", "HANSEN, LAILA",
                                      "Ola Nordmann"};
  redact_one("Ask Laila Hansen, Laila\xc2\xa0Hansen, Laila-Hansen and HANSEN, LAILA; not Ola Nordmann.", names,
             (const int[]){0, 0, 0, 0, 0}, 5,
             "Ask [PERSON_1], [PERSON_1], [PERSON_1] and [PERSON_1]; not [PERSON_2].",
             "[PERSON_1] and [PERSON_2]", "Laila Hansen and Ola Nordmann");
}

/* A placeholder the client wrote itself is not handed out: the answer's copy of
 * the client's text stays the client's text. */
static void test_placeholder_written_by_client(void **state) {
  (void)state;
  static const char *const names[] = {"Laila Hansen", "Will"};
  redact_one("The template says [PERSON_1] and [PERSON_3] here. Ask Laila Hansen and Will.", names,
             (const int[]){0, 0}, 2,
             "The template says [PERSON_1] and [PERSON_3] here. Ask [PERSON_2] and [PERSON_4].",
             "[PERSON_1] is a slot; [PERSON_2] is the name.",
             "[PERSON_1] is a slot; Laila Hansen is the name.");
}

static void test_consistent_across_turns(void **state) {
  (void)state;
  sl_chat_req_t r;
  sl_chat_req_init(&r);
  add_msg(&r, "system", "You help Acme staff.");
  add_msg(&r, "user", "Write to Alice Smith (alice@example.com) about Bob.");
  add_msg(&r, "assistant", "Sure: Dear Alice Smith, ... I copied Bob Jones.");
  add_msg(&r, "user", "Now ask Bob Jones to email alice@example.com. Carol too.");
  cls_t c = {0};
  find_entity(&c, &r, "PERSON", "Alice Smith", 0);
  find_entity(&c, &r, "EMAIL_ADDRESS", "alice@example.com", 0);
  find_entity(&c, &r, "PERSON", "Bob Jones", 0); /* first detected in the assistant turn */
  find_entity(&c, &r, "PERSON", "Carol", 0);
  find_entity(&c, &r, "LOCATION", "Acme", 0);   /* not a redacted type */

  sl_chat_req_t out;
  sl_redact_map_t *m;
  assert_int_equal(sl_redact_request(&r, &c.cls, types, 2, &out, &m), 0);
  assert_int_equal(out.n_msgs, 4);
  assert_string_equal(out.msgs[0].content, "You help Acme staff.");
  /* "Bob" alone: a word of the name "Bob Jones" found later, so the same
   * person, and its first word */
  assert_string_equal(out.msgs[1].content, "Write to [PERSON_1] ([EMAIL_ADDRESS_1]) about [PERSON_2:1].");
  assert_string_equal(out.msgs[2].content, "Sure: Dear [PERSON_1], ... I copied [PERSON_2].");
  assert_string_equal(out.msgs[3].content,
                      "Now ask [PERSON_2] to email [EMAIL_ADDRESS_1]. [PERSON_3] too.");
  assert_string_equal(out.msgs[1].role, "user");
  assert_int_equal(sl_redact_map_size(m), 8); /* and the words of the two names */
  const sl_redact_entry_t *e = sl_redact_map_entry(m, 0);
  assert_string_equal(e->placeholder, "[PERSON_1]");
  assert_string_equal(e->type, "PERSON");
  assert_int_equal(e->count, 2);
  assert_memory_equal(e->value, "Alice Smith", 11);
  char *sum = sl_redact_map_summary_json(m);
  assert_string_equal(sum, "{\"PERSON\":6,\"EMAIL_ADDRESS\":2}");
  free(sum);

  /* The first request of the same conversation (only its first turn) numbers
   * the values it shares identically. */
  sl_chat_req_t r1;
  sl_chat_req_init(&r1);
  add_msg(&r1, "system", "You help Acme staff.");
  add_msg(&r1, "user", "Write to Alice Smith (alice@example.com) about Bob.");
  cls_t c1 = {0};
  find_entity(&c1, &r1, "EMAIL_ADDRESS", "alice@example.com", 0);
  find_entity(&c1, &r1, "PERSON", "Alice Smith", 0);
  sl_chat_req_t out1;
  sl_redact_map_t *m1;
  assert_int_equal(sl_redact_request(&r1, &c1.cls, types, 2, &out1, &m1), 0);
  assert_string_equal(out1.msgs[1].content, "Write to [PERSON_1] ([EMAIL_ADDRESS_1]) about Bob.");

  sl_chat_req_free(&out1);
  sl_redact_map_free(m1);
  sl_chat_req_free(&r1);
  sl_chat_req_free(&out);
  sl_redact_map_free(m);
  sl_chat_req_free(&r);
}

/* The words of a name alone are the name's: "Hansen" does not leave, and
 * "Laila" found alone gets the name's placeholder with its place in the name
 * (an answer gets the word back); a word of two names one of its own. */
static void test_words_of_a_name(void **state) {
  (void)state;
  static const char *const names[] = {"Laila Hansen", "Laila", "Ole Smith", "Eva Smith", "Will Ashdown"};
  redact_one("I met Laila Hansen. Later Laila called me; Hansen too. "
             "Ole Smith and Eva Smith: Smith is common. Will Ashdown? Will do.",
             names, (const int[]){0, 1, 0, 0, 0}, 5,
             "I met [PERSON_1]. Later [PERSON_1:1] called me; [PERSON_1:2] too. "
             "[PERSON_2] and [PERSON_3]: [PERSON_5] is common. [PERSON_4]? Will do.",
             "[PERSON_1] ([PERSON_1:2], [PERSON_1:1]) and [PERSON_5]", "Laila Hansen (Hansen, Laila) and Smith");
}

/* A part's placeholder the client wrote ("[PERSON_1:2]") is skipped when
 * numbering, as a whole one is, and comes back as written. */
static void test_written_part_placeholder(void **state) {
  (void)state;
  static const char *const names[] = {"Laila Hansen"};
  redact_one("Template [PERSON_1:2] here. Laila Hansen came; Hansen too.", names, (const int[]){0}, 1,
             "Template [PERSON_1:2] here. [PERSON_2] came; [PERSON_2:2] too.",
             "[PERSON_1:2] is [PERSON_2:2]", "[PERSON_1:2] is Hansen");
}

/* Words of names that start with a capital past ASCII ("Åberg") are the
 * name's alone too; a word glued to digits is at a word's end there
 * ("Hansen2024.pdf", "q=Laila%20Hansen"). */
static void test_name_words_beyond_ascii_and_digits(void **state) {
  (void)state;
  static const char *const names[] = {"Bj\xc3\xb6rn \xc3\x85" "berg", "Laila Hansen"};
  redact_one("Our new hire is Bj\xc3\xb6rn \xc3\x85" "berg.\n\xc3\x85" "berg starts Monday, \xc3\xa5" "berg agrees. "
             "My client is Laila Hansen: see Hansen2024.pdf and q=Laila%20Hansen, not Hansens.",
             names, (const int[]){0, 0}, 2,
             "Our new hire is [PERSON_1].\n[PERSON_1:2] starts Monday, [PERSON_1:2] agrees. "
             "My client is [PERSON_2]: see [PERSON_2:2]2024.pdf and q=[PERSON_2:1]%20[PERSON_2:2], not Hansens.",
             NULL, NULL);
}

/* A name found only as JSON text writes it (a tool result of json.dumps:
 * "Bj\u00f6rn") comes back to the answer as the name. */
static void test_escaped_value_restored_plain(void **state) {
  (void)state;
  sl_chat_req_t r;
  sl_chat_req_init(&r);
  add_msg(&r, "user", "Who reported it? {\"reporter\": \"Bj\\u00f6rn \\u00c5berg\"}");
  cls_t c = {0};
  find_entity(&c, &r, "PERSON", "Bj\\u00f6rn \\u00c5berg", 0);
  sl_chat_req_t out;
  sl_redact_map_t *m;
  assert_int_equal(sl_redact_request(&r, &c.cls, types, 1, &out, &m), 0);
  assert_string_equal(out.msgs[0].content, "Who reported it? {\"reporter\": \"[PERSON_1]\"}");
  for (int json = 0; json < 2; json++) {
    sl_buf_t back;
    sl_buf_init(&back, 1024);
    assert_int_equal(sl_redact_restore(m, "It was [PERSON_1].", 18, json, &back), 0);
    assert_string_equal(back.data, "It was Bj\xc3\xb6rn \xc3\x85" "berg.");
    sl_buf_free(&back);
  }
  sl_chat_req_free(&out);
  sl_redact_map_free(m);
  sl_chat_req_free(&r);
}

/* A word of a person's name that is no English word is the person in any case
 * ("hansen" in a tool's arguments); one that is ("Brown": "brown") keeps its
 * case, as a name of one word does ("Will": "will"). */
static void test_name_words_in_any_case(void **state) {
  (void)state;
  sl_chat_req_t r;
  sl_chat_req_init(&r);
  add_msg(&r, "user", "Look up Laila Hansen and Ole Brown. Will knows.");
  add_msg(&r, "assistant", "");
  r.msgs[1].tool_calls = strdup("[{\"id\":\"c1\",\"type\":\"function\",\"function\":{\"name\":\"f\","
                                "\"arguments\":\"{\\\"q\\\":\\\"hansen OR HANSEN, brown will\\\"}\"}}]");
  cls_t c = {0};
  find_entity(&c, &r, "PERSON", "Laila Hansen", 0);
  find_entity(&c, &r, "PERSON", "Ole Brown", 0);
  find_entity(&c, &r, "PERSON", "Will", 0);
  sl_chat_req_t out;
  sl_redact_map_t *m;
  assert_int_equal(sl_redact_request(&r, &c.cls, types, 1, &out, &m), 0);
  assert_string_equal(out.msgs[0].content, "Look up [PERSON_1] and [PERSON_2]. [PERSON_3] knows.");
  assert_non_null(strstr(out.msgs[1].tool_calls, "[PERSON_1:2] OR [PERSON_1:2], brown will"));
  sl_chat_req_free(&out);
  sl_redact_map_free(m);
  sl_chat_req_free(&r);
}

/* msg with each value (its first occurrence) found as an entity of `type`,
 * redacted for that type alone: the copy's text is want, and the answer ans
 * comes back as ans_want. */
static void redact_typed(const char *msg, const char *type, const char *const *values, size_t n,
                         const char *want, const char *ans, const char *ans_want) {
  const char *const only[] = {type};
  sl_chat_req_t r;
  sl_chat_req_init(&r);
  add_msg(&r, "user", msg);
  cls_t c = {0};
  for (size_t k = 0; k < n; k++) find_entity(&c, &r, type, values[k], 0);
  sl_chat_req_t out;
  sl_redact_map_t *m;
  assert_int_equal(sl_redact_request(&r, &c.cls, only, 1, &out, &m), 0);
  assert_string_equal(out.msgs[0].content, want);
  sl_buf_t back;
  sl_buf_init(&back, 1024);
  assert_int_equal(sl_redact_restore(m, ans, strlen(ans), false, &back), 0);
  assert_string_equal(back.data, ans_want);
  sl_buf_free(&back);
  sl_chat_req_free(&out);
  sl_redact_map_free(m);
  sl_chat_req_free(&r);
}

/* An e-mail address's local part that spells a handle is the address's too;
 * a role's is not. */
static void test_email_local_part(void **state) {
  (void)state;
  static const char *const mails[] = {"laila.hansen@example.com", "info@example.com"};
  redact_typed("Contact laila.hansen@example.com or info@example.com; her handle is laila.hansen, "
               "the desk's is info.",
               "EMAIL_ADDRESS", mails, 2,
               "Contact [EMAIL_ADDRESS_1] or [EMAIL_ADDRESS_2]; her handle is [EMAIL_ADDRESS_1:1], the desk's is info.",
               "[EMAIL_ADDRESS_1:1] wrote from [EMAIL_ADDRESS_1]", "laila.hansen wrote from laila.hansen@example.com");
}

/* A street address's number and street name's first word are the address
 * written again another way, in any case. */
static void test_street_written_again(void **state) {
  (void)state;
  static const char *const streets[] = {"1600 Amphitheatre Parkway, Mountain View, CA 94043",
                                        "Hauptstra\xc3\x9f" "e 5, 10115 Berlin"};
  redact_typed("Ship to 1600 Amphitheatre Parkway, Mountain View, CA 94043. Again: 1600 amphitheatre pkwy. "
               "Or Hauptstra\xc3\x9f" "e 5, 10115 Berlin (hauptstra\xc3\x9f" "e 5 hinten). Room 1600 is free.",
               "STREET_ADDRESS", streets, 2,
               "Ship to [STREET_ADDRESS_1]. Again: [STREET_ADDRESS_1:1] pkwy. "
               "Or [STREET_ADDRESS_2] ([STREET_ADDRESS_2:1] hinten). Room 1600 is free.",
               "[STREET_ADDRESS_1:1] pkwy", "1600 Amphitheatre pkwy");
}

static void test_word_boundaries_and_split_entities(void **state) {
  (void)state;
  sl_chat_req_t r;
  sl_chat_req_init(&r);
  add_msg(&r, "user", "Ann met Anna and Joanne; Ann left. Tail: Mr");
  add_msg(&r, "user", "Green signed.");
  cls_t c = {0};
  find_entity(&c, &r, "PERSON", "Ann", 0);
  /* an entity spanning the "\n" between two messages: each side is redacted */
  find_entity(&c, &r, "PERSON", "Mr\nGreen", 0);
  sl_chat_req_t out;
  sl_redact_map_t *m;
  assert_int_equal(sl_redact_request(&r, &c.cls, types, 1, &out, &m), 0);
  assert_string_equal(out.msgs[0].content, "[PERSON_1] met Anna and Joanne; [PERSON_1] left. Tail: [PERSON_2]");
  assert_string_equal(out.msgs[1].content, "[PERSON_3] signed.");
  sl_chat_req_free(&out);
  sl_redact_map_free(m);

  /* overlapping values: no byte of either is left behind */
  cls_t c2 = {0};
  find_entity(&c2, &r, "PERSON", "Ann met", 0);
  find_entity(&c2, &r, "PERSON", "met Anna", 0);
  assert_int_equal(sl_redact_request(&r, &c2.cls, types, 1, &out, &m), 0);
  assert_null(strstr(out.msgs[0].content, "met"));
  assert_null(strstr(out.msgs[0].content, "Anna"));
  sl_chat_req_free(&out);
  sl_redact_map_free(m);

  /* nothing to redact: an identical copy and an empty map */
  cls_t none = {0};
  assert_int_equal(sl_redact_request(&r, &none.cls, types, 1, &out, &m), 0);
  assert_string_equal(out.msgs[0].content, r.msgs[0].content);
  assert_int_equal(sl_redact_map_size(m), 0);
  sl_chat_req_free(&out);
  sl_redact_map_free(m);
  sl_chat_req_free(&r);
}

/* A value found outside message contents: replaced where the copy rewrites
 * (tool calls), and the copy is refused where it cannot (tool definitions). */
static void test_values_outside_messages(void **state) {
  (void)state;
  sl_chat_req_t r;
  sl_chat_req_init(&r);
  add_msg(&r, "user", "look it up");
  add_msg(&r, "assistant", "");
  r.msgs[1].tool_calls = strdup("[{\"id\":\"c1\",\"type\":\"function\",\"function\":"
                                "{\"name\":\"f\",\"arguments\":\"{\\\"who\\\":\\\"Grace Hopper\\\"}\"}}]");
  cls_t c = {0};
  find_entity(&c, &r, "PERSON", "Grace Hopper", 0);
  sl_chat_req_t out;
  sl_redact_map_t *m;
  assert_int_equal(sl_redact_request(&r, &c.cls, types, 1, &out, &m), 0);
  assert_null(strstr(out.msgs[1].tool_calls, "Grace"));
  assert_non_null(strstr(out.msgs[1].tool_calls, "[PERSON_1]"));
  sl_chat_req_free(&out);
  sl_redact_map_free(m);

  r.tools = strdup("[{\"type\":\"function\",\"function\":{\"name\":\"g\",\"description\":\"ask Alan Turing\"}}]");
  cls_t c2 = {0};
  find_entity(&c2, &r, "PERSON", "Alan Turing", 0);
  assert_int_equal(sl_redact_request(&r, &c2.cls, types, 1, &out, &m), SL_EUNSUPPORTED);
  sl_chat_req_free(&r);
}

/* The name written another way where it is not rewritten: the copy is refused
 * (lower case with '_', run together, camel case, a hidden space, encoded in a
 * URL, the surname first, a word of it alone in lower case, an e-mail address
 * made of it); other words are not the name. */
static void test_values_written_another_way(void **state) {
  (void)state;
  static const char *const refused[] = {"laila_hansen", "LailaHansen", "lailahansen", "laila.hansen",
                                        "notify_laila_hansen", "LAILA-HANSEN", "Laila\xe2\x80\x8bHansen",
                                        "q=Laila%20Hansen", "q=laila%2Bhansen&x=1", "HANSEN, LAILA",
                                        "hansen laila", "HansenLaila", "hansenlaila", "Hansen_Laila",
                                        "laila", "hansen_report", "laila.hansen@example.com",
                                        "hansen report for laila"};
  static const char *const kept[] = {"lailah_ansen", "lailahansens", "hansens", "lailas"};
  for (int pass = 0; pass < 2; pass++) {
    const char *const *list = pass ? kept : refused;
    size_t n = pass ? sizeof kept / sizeof *kept : sizeof refused / sizeof *refused;
    for (size_t i = 0; i < n; i++) {
      sl_chat_req_t r;
      sl_chat_req_init(&r);
      add_msg(&r, "user", "Write to Laila Hansen today.");
      r.user = strdup(list[i]);
      cls_t c = {0};
      find_entity(&c, &r, "PERSON", "Laila Hansen", 0);
      sl_chat_req_t out;
      sl_redact_map_t *m = NULL;
      int rc = sl_redact_request(&r, &c.cls, types, 1, &out, &m);
      if (!pass) {
        if (rc != SL_EUNSUPPORTED) fail_msg("user \"%s\" should refuse the copy (rc %d)", list[i], rc);
      } else {
        if (rc) fail_msg("user \"%s\" should not refuse the copy (rc %d)", list[i], rc);
        sl_chat_req_free(&out);
        sl_redact_map_free(m);
      }
      sl_chat_req_free(&r);
    }
  }
  /* in the requested model (a backend without a model list is sent it as it came) */
  {
    sl_chat_req_t r;
    sl_chat_req_init(&r);
    add_msg(&r, "user", "Write to Laila Hansen today.");
    free(r.model);
    r.model = strdup("Laila-Hansen");
    cls_t c = {0};
    find_entity(&c, &r, "PERSON", "Laila Hansen", 0);
    sl_chat_req_t out;
    sl_redact_map_t *m = NULL;
    assert_int_equal(sl_redact_request(&r, &c.cls, types, 1, &out, &m), SL_EUNSUPPORTED);
    sl_chat_req_free(&r);
  }
  /* in message text too (a second mention the detector did not take) */
  sl_chat_req_t r;
  sl_chat_req_init(&r);
  add_msg(&r, "user", "Write to Laila Hansen today; her login is laila_hansen.");
  cls_t c = {0};
  find_entity(&c, &r, "PERSON", "Laila Hansen", 0);
  sl_chat_req_t out;
  sl_redact_map_t *m;
  assert_int_equal(sl_redact_request(&r, &c.cls, types, 1, &out, &m), SL_EUNSUPPORTED);
  sl_chat_req_free(&r);
  /* a word of the name with a character that does not show inside it, or in
   * look-alike letters: the reader sees the name */
  static const char *const hidden[] = {"Also Han\xc2\xadsen.", "Also Han\xe2\x81\xa0sen.",
                                       "Also \xef\xbc\xa8\xef\xbd\x81\xef\xbd\x8e\xef\xbd\x93\xef\xbd\x85\xef\xbd\x8e."};
  for (size_t i = 0; i < sizeof hidden / sizeof *hidden; i++) {
    char msg[200];
    snprintf(msg, sizeof msg, "Write to Laila Hansen today. %s", hidden[i]);
    sl_chat_req_init(&r);
    add_msg(&r, "user", msg);
    cls_t h = {0};
    find_entity(&h, &r, "PERSON", "Laila Hansen", 0);
    if (sl_redact_request(&r, &h.cls, types, 1, &out, &m) != SL_EUNSUPPORTED) fail_msg("%s should refuse the copy", hidden[i]);
    sl_chat_req_free(&r);
  }
}

static void test_tool_calls_and_bad_offsets(void **state) {
  (void)state;
  sl_chat_req_t r;
  sl_chat_req_init(&r);
  add_msg(&r, "user", "mail bob@corp.example please");
  add_msg(&r, "assistant", "");
  r.msgs[1].tool_calls = strdup("[{\"function\":{\"arguments\":\"{\\\"to\\\":\\\"bob@corp.example\\\"}\"}}]");
  r.model = strdup("auto");
  cls_t c = {0};
  find_entity(&c, &r, "EMAIL_ADDRESS", "bob@corp.example", 0);
  /* hostile offsets from a buggy classifier are ignored, not trusted */
  c.ents[1] = c.ents[0];
  c.ents[1].start = 1000;
  c.ents[1].end = 2000;
  c.ents[2] = c.ents[0];
  c.ents[2].start = 5;
  c.ents[2].end = 3;
  c.cls.n_entities = 3;
  sl_chat_req_t out;
  sl_redact_map_t *m;
  assert_int_equal(sl_redact_request(&r, &c.cls, types, 2, &out, &m), 0);
  assert_string_equal(out.msgs[0].content, "mail [EMAIL_ADDRESS_1] please");
  assert_null(strstr(out.msgs[1].tool_calls, "bob@"));
  assert_non_null(strstr(out.msgs[1].tool_calls, "[EMAIL_ADDRESS_1]"));
  assert_string_equal(out.model, "auto");
  sl_chat_req_free(&out);
  sl_redact_map_free(m);
  sl_chat_req_free(&r);
}

static sl_redact_map_t *sample_map(void) {
  sl_chat_req_t r;
  sl_chat_req_init(&r);
  add_msg(&r, "user", "Alice Smith and Bob and Al wrote to a@b.co");
  cls_t c = {0};
  find_entity(&c, &r, "PERSON", "Alice Smith", 0);
  find_entity(&c, &r, "PERSON", "Bob", 0);
  find_entity(&c, &r, "PERSON", "Al", 1); /* not the "Al" of "Alice" */
  find_entity(&c, &r, "EMAIL_ADDRESS", "a@b.co", 0);
  sl_chat_req_t out;
  sl_redact_map_t *m;
  assert_int_equal(sl_redact_request(&r, &c.cls, types, 2, &out, &m), 0);
  assert_string_equal(out.msgs[0].content,
                      "[PERSON_1] and [PERSON_2] and [PERSON_3] wrote to [EMAIL_ADDRESS_1]");
  sl_chat_req_free(&out);
  sl_chat_req_free(&r);
  return m;
}

static void test_restore_every_split(void **state) {
  (void)state;
  sl_redact_map_t *m = sample_map();
  const char *resp = "Hi [PERSON_1]! [PERSON_2], [PERSON_3] and [PERSON_1] at [EMAIL_ADDRESS_1]. "
                     "Ms [PERSON_1:2]. Not ours: [PERSON_9] [PERSON_1:7] [PERSON_ [x] [[PERSON_2]] [EMAIL_ADDRESS_1";
  const char *want = "Hi Alice Smith! Bob, Al and Alice Smith at a@b.co. "
                     "Ms Smith. Not ours: [PERSON_9] [PERSON_1:7] [PERSON_ [x] [Bob] [EMAIL_ADDRESS_1";
  size_t n = strlen(resp);
  sl_buf_t out;
  sl_buf_init(&out, 1 << 20);
  assert_int_equal(sl_redact_restore(m, resp, n, false, &out), 0);
  assert_string_equal(out.data, want);
  /* every split into two and three chunks */
  for (size_t i = 0; i <= n; i++)
    for (size_t j = i; j <= n; j += (i % 7) + 1) {
      sl_buf_reset(&out);
      sl_restorer_t *r = sl_restorer_create(m, false);
      assert_non_null(r);
      assert_int_equal(sl_restorer_feed(r, resp, i, &out), 0);
      assert_int_equal(sl_restorer_feed(r, resp + i, j - i, &out), 0);
      assert_int_equal(sl_restorer_feed(r, resp + j, n - j, &out), 0);
      assert_int_equal(sl_restorer_finish(r, &out), 0);
      sl_restorer_free(r);
      if (strcmp(out.data ? out.data : "", want))
        fail_msg("split %zu/%zu: got \"%s\"", i, j, out.data);
    }
  /* byte by byte; a chunk that is not a placeholder prefix is not held back */
  sl_buf_reset(&out);
  sl_restorer_t *r = sl_restorer_create(m, false);
  for (size_t i = 0; i < n; i++) assert_int_equal(sl_restorer_feed(r, resp + i, 1, &out), 0);
  assert_int_equal(sl_restorer_finish(r, &out), 0);
  assert_string_equal(out.data, want);
  sl_buf_reset(&out);
  assert_int_equal(sl_restorer_feed(r, "plain [x", 8, &out), 0);
  assert_string_equal(out.data, "plain [x");
  assert_int_equal(sl_restorer_feed(r, "ok [PER", 7, &out), 0);
  assert_string_equal(out.data, "plain [xok "); /* only the possible placeholder is held */
  assert_int_equal(sl_restorer_feed(r, "SON_2]", 6, &out), 0);
  assert_string_equal(out.data, "plain [xok Bob");
  sl_restorer_free(r);
  sl_buf_free(&out);
  sl_redact_map_free(m);
}

/* Tool-call arguments are JSON: a value goes back as string content, escaped,
 * however the arguments were cut into deltas. */
static void test_restore_json_arguments(void **state) {
  (void)state;
  sl_chat_req_t r;
  sl_chat_req_init(&r);
  add_msg(&r, "user", "Write to O\"Brien \\ Sons\tLtd and Zoë");
  cls_t c = {0};
  find_entity(&c, &r, "PERSON", "O\"Brien \\ Sons\tLtd", 0);
  find_entity(&c, &r, "PERSON", "Zoë", 0);
  sl_chat_req_t red;
  sl_redact_map_t *m;
  assert_int_equal(sl_redact_request(&r, &c.cls, types, 2, &red, &m), 0);
  const char *args = "{\"to\":[\"[PERSON_1]\",\"[PERSON_2]\"],\"note\":\"[x] [PERSON_\"}";
  const char *want = "{\"to\":[\"O\\\"Brien \\\\ Sons\\tLtd\",\"Zoë\"],\"note\":\"[x] [PERSON_\"}";
  size_t n = strlen(args);
  sl_buf_t out;
  sl_buf_init(&out, 1 << 20);
  assert_int_equal(sl_redact_restore(m, args, n, true, &out), 0);
  assert_string_equal(out.data, want);
  cJSON *j = cJSON_Parse(out.data);
  assert_non_null(j);
  assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "to"), 0)->valuestring,
                      "O\"Brien \\ Sons\tLtd");
  cJSON_Delete(j);
  for (size_t i = 0; i <= n; i++) {
    sl_buf_reset(&out);
    sl_restorer_t *rs = sl_restorer_create(m, true);
    assert_int_equal(sl_restorer_feed(rs, args, i, &out), 0);
    assert_int_equal(sl_restorer_feed(rs, args + i, n - i, &out), 0);
    assert_int_equal(sl_restorer_finish(rs, &out), 0);
    sl_restorer_free(rs);
    assert_string_equal(out.data, want);
  }
  /* as text the value goes back as it was */
  sl_buf_reset(&out);
  assert_int_equal(sl_redact_restore(m, "[PERSON_1]", 10, false, &out), 0);
  assert_string_equal(out.data, "O\"Brien \\ Sons\tLtd");
  sl_buf_free(&out);
  sl_chat_req_free(&red);
  sl_chat_req_free(&r);
  sl_redact_map_free(m);
}

static void test_restore_without_map(void **state) {
  (void)state;
  sl_buf_t out;
  sl_buf_init(&out, 1024);
  sl_restorer_t *r = sl_restorer_create(NULL, false);
  assert_int_equal(sl_restorer_feed(r, "[PERSON_1]", 10, &out), 0);
  assert_int_equal(sl_restorer_finish(r, &out), 0);
  assert_string_equal(out.data, "[PERSON_1]");
  sl_restorer_free(r);
  sl_buf_free(&out);
}

/* The real detectors, as the gateway builds them. */
static sl_router_t *real_router(void) {
  sl_jerr_t err = {{0}};
  sl_router_opts_t opts = {0};
  sl_router_t *router = sl_router_create(&opts, &err);
  if (!router) fail_msg("router: %s", err.msg);
  return router;
}

/* r classified by the real detectors into *cls, and its copy with `types`
 * redacted into *out. */
static void classify_redact(sl_router_t *router, const sl_chat_req_t *r, const char *const *types,
                            size_t n, sl_class_t *cls, sl_chat_req_t *out, sl_redact_map_t **m) {
  assert_int_equal(sl_router_classify(router, r, NULL, cls), 0);
  assert_int_equal(sl_redact_request(r, cls, types, n, out, m), 0);
}

/* With the real detectors: every detected value of a redacted type is gone
 * from the redacted request, and restoring each message gives it back. */
static void test_with_real_classifier(void **state) {
  (void)state;
  sl_router_t *router = real_router();
  sl_chat_req_t r;
  sl_chat_req_init(&r);
  add_msg(&r, "system", "You are a helpful assistant for the HR team.");
  add_msg(&r, "user", "My name is Sarah Connor and my email is sarah.connor@cyberdyne-systems.com. "
                      "Please write to my manager John Whitaker (john.whitaker@cyberdyne-systems.com).");
  add_msg(&r, "assistant", "Dear John Whitaker, Sarah Connor asked me to write to you.");
  add_msg(&r, "user", "Also cc sarah.connor@cyberdyne-systems.com and call +1 415 555 0132.");
  const char *rtypes[] = {"PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER"};
  sl_class_t cls;
  sl_chat_req_t out;
  sl_redact_map_t *m;
  classify_redact(router, &r, rtypes, 3, &cls, &out, &m);
  char *text;
  size_t len;
  assert_int_equal(sl_chat_text(&r, &text, &len), 0);
  int emails = 0;
  for (size_t i = 0; i < cls.n_entities; i++) {
    const sl_entity_t *e = &cls.entities[i];
    bool listed = false;
    for (int t = 0; t < 3; t++) listed |= !strcmp(e->type, rtypes[t]);
    if (!listed) continue;
    emails += !strcmp(e->type, "EMAIL_ADDRESS");
    char value[256];
    size_t vl = e->end - e->start < sizeof value - 1 ? e->end - e->start : sizeof value - 1;
    memcpy(value, text + e->start, vl);
    value[vl] = '\0';
    if (strchr(value, '\n')) continue; /* split across messages: pieces checked via the map */
    for (size_t k = 0; k < out.n_msgs; k++)
      if (strstr(out.msgs[k].content, value))
        fail_msg("%s \"%s\" still in message %zu: %s", e->type, value, k, out.msgs[k].content);
  }
  assert_true(emails >= 2);
  sl_buf_t b;
  sl_buf_init(&b, 1 << 20);
  for (size_t k = 0; k < out.n_msgs; k++) {
    sl_buf_reset(&b);
    assert_int_equal(sl_redact_restore(m, out.msgs[k].content, strlen(out.msgs[k].content), false, &b), 0);
    assert_string_equal(b.data, r.msgs[k].content);
  }
  sl_buf_free(&b);
  free(text);
  sl_redact_map_free(m);
  sl_chat_req_free(&out);
  sl_class_free(&cls);
  sl_chat_req_free(&r);
  sl_router_free(router);
}

/* Names next to non-ASCII punctuation, symbols and emoji (« » 「 」 。 → 🎉):
 * found by the classifier and replaced at every occurrence with one
 * placeholder a person, the punctuation around them kept; a word that only
 * begins like the name is not touched. */
static void test_names_beside_unicode_punctuation(void **state) {
  (void)state;
  sl_router_t *router = real_router();
  sl_chat_req_t r, out;
  sl_chat_req_init(&r);
  add_msg(&r, "user", "Please send the file to «Laila Hansen» now.");
  add_msg(&r, "user", "Write to 🎉José García🎉 and 「Laila Hansen」. X: Laila Hansen。 →Laila Hansen· "
                      "Hansenville stays.");
  sl_class_t cls;
  sl_redact_map_t *m;
  classify_redact(router, &r, (const char *const[]){"PERSON"}, 1, &cls, &out, &m);
  assert_string_equal(out.msgs[0].content, "Please send the file to «[PERSON_1]» now.");
  assert_string_equal(out.msgs[1].content, "Write to 🎉[PERSON_2]🎉 and 「[PERSON_1]」. X: [PERSON_1]。 "
                                           "→[PERSON_1]· Hansenville stays.");
  sl_redact_map_free(m);
  sl_chat_req_free(&out);
  sl_class_free(&cls);
  sl_chat_req_free(&r);
  sl_router_free(router);
}

/* A value as JSON text writes it: a quoted value found in the content is
 * replaced in a tool call's arguments too, where it shows escaped (once in the
 * arguments, twice as the request carries them); a value right after a \n
 * escape is one; the same name written with \u escapes (a tool result of
 * json.dumps) shares the plain form's placeholder and is restored as that. */
static void test_values_as_json_writes_them(void **state) {
  (void)state;
  static const char *const t3[] = {"STREET_ADDRESS", "EMAIL_ADDRESS", "PERSON"};
  sl_chat_req_t r;
  sl_chat_req_init(&r);
  add_msg(&r, "user", "Lives at 221 \"Old\" Baker Street, ask Jos\u00e9 Garc\u00eda");
  add_msg(&r, "assistant", "");
  r.msgs[1].tool_calls = strdup("[{\"id\":\"c1\",\"type\":\"function\",\"function\":{\"name\":\"f\","
                                "\"arguments\":\"{\\\"a\\\":\\\"221 \\\\\\\"Old\\\\\\\" Baker Street\\\","
                                "\\\"e\\\":\\\"Email:\\\\nmaria@example.com\\\"}\"}}]");
  add_msg(&r, "tool", "{\"customer\": \"Jos\\u00e9 Garc\\u00eda\"}");
  add_msg(&r, "user", "José García again");
  cls_t c = {0};
  find_entity(&c, &r, "STREET_ADDRESS", "221 \"Old\" Baker Street", 0);
  find_entity(&c, &r, "PERSON", "Jos\\u00e9 Garc\\u00eda", 0);
  find_entity(&c, &r, "PERSON", "José García", 0);
  find_entity(&c, &r, "EMAIL_ADDRESS", "maria@example.com", 0);
  sl_chat_req_t out;
  sl_redact_map_t *m;
  assert_int_equal(sl_redact_request(&r, &c.cls, t3, 3, &out, &m), 0);
  assert_string_equal(out.msgs[0].content, "Lives at [STREET_ADDRESS_1], ask [PERSON_1]");
  assert_null(strstr(out.msgs[1].tool_calls, "Baker"));
  assert_non_null(strstr(out.msgs[1].tool_calls, "[STREET_ADDRESS_1]"));
  assert_non_null(strstr(out.msgs[1].tool_calls, "Email:\\\\n[EMAIL_ADDRESS_1]"));
  assert_string_equal(out.msgs[2].content, "{\"customer\": \"[PERSON_1]\"}");
  assert_string_equal(out.msgs[3].content, "[PERSON_1] again");
  sl_buf_t b;
  sl_buf_init(&b, 1 << 20);
  assert_int_equal(sl_redact_restore(m, "[PERSON_1] at [STREET_ADDRESS_1]", 32, false, &b), 0);
  assert_string_equal(b.data, "José García at 221 \"Old\" Baker Street");
  sl_buf_reset(&b);
  assert_int_equal(sl_redact_restore(m, "{\"a\":\"[STREET_ADDRESS_1]\"}", 26, true, &b), 0);
  assert_string_equal(b.data, "{\"a\":\"221 \\\"Old\\\" Baker Street\"}");
  sl_buf_free(&b);
  sl_redact_map_free(m);
  sl_chat_req_free(&out);
  /* the value after a \n escape, found alone in the arguments */
  cls_t c2 = {0};
  find_entity(&c2, &r, "EMAIL_ADDRESS", "maria@example.com", 0);
  assert_int_equal(sl_redact_request(&r, &c2.cls, t3, 3, &out, &m), 0);
  assert_null(strstr(out.msgs[1].tool_calls, "maria@"));
  sl_redact_map_free(m);
  sl_chat_req_free(&out);
  sl_chat_req_free(&r);
}

/* A number written with separators is replaced where it shows as bare digits
 * too, and an international phone as its national digits. */
static void test_numbers_bare_digits(void **state) {
  (void)state;
  static const char *const tp[] = {"PHONE_NUMBER"};
  sl_chat_req_t r;
  sl_chat_req_init(&r);
  add_msg(&r, "user", "call +1 415 555 0134");
  add_msg(&r, "user", "or 4155550134, 14155550134, 04155550134, 0014155550134 but not 41555501345");
  cls_t c = {0};
  find_entity(&c, &r, "PHONE_NUMBER", "+1 415 555 0134", 0);
  sl_chat_req_t out;
  sl_redact_map_t *m;
  assert_int_equal(sl_redact_request(&r, &c.cls, tp, 1, &out, &m), 0);
  assert_string_equal(out.msgs[0].content, "call [PHONE_NUMBER_1]");
  assert_string_equal(out.msgs[1].content,
                      "or [PHONE_NUMBER_1], [PHONE_NUMBER_1], [PHONE_NUMBER_1], [PHONE_NUMBER_1] but not "
                      "41555501345");
  sl_buf_t b;
  sl_buf_init(&b, 1 << 20);
  assert_int_equal(sl_redact_restore(m, "[PHONE_NUMBER_1]", 16, false, &b), 0);
  assert_string_equal(b.data, "+1 415 555 0134");
  sl_buf_free(&b);
  sl_redact_map_free(m);
  sl_chat_req_free(&out);
  sl_chat_req_free(&r);
}

/* One mailbox written in two ASCII cases is one value: one placeholder,
 * numbered by its first appearance, the same in every turn. A placeholder the
 * client wrote in a stop string is skipped like one in a message. */
static void test_case_variants_and_written_placeholders(void **state) {
  (void)state;
  sl_chat_req_t r;
  sl_chat_req_init(&r);
  add_msg(&r, "user", "a maria.keller@acme-corp.com");
  add_msg(&r, "assistant", "noted maria.keller@acme-corp.com");
  add_msg(&r, "user", "b Maria.Keller@Acme-Corp.COM");
  cls_t c = {0};
  find_entity(&c, &r, "EMAIL_ADDRESS", "Maria.Keller@Acme-Corp.COM", 0);
  find_entity(&c, &r, "EMAIL_ADDRESS", "maria.keller@acme-corp.com", 0);
  sl_chat_req_t out;
  sl_redact_map_t *m;
  assert_int_equal(sl_redact_request(&r, &c.cls, types, 2, &out, &m), 0);
  assert_string_equal(out.msgs[0].content, "a [EMAIL_ADDRESS_1]");
  assert_string_equal(out.msgs[1].content, "noted [EMAIL_ADDRESS_1]");
  assert_string_equal(out.msgs[2].content, "b [EMAIL_ADDRESS_1]");
  sl_redact_map_free(m);
  sl_chat_req_free(&out);
  r.stop = calloc(1, sizeof *r.stop);
  r.stop[0] = strdup("[EMAIL_ADDRESS_1]");
  r.n_stop = 1;
  assert_int_equal(sl_redact_request(&r, &c.cls, types, 2, &out, &m), 0);
  assert_string_equal(out.msgs[0].content, "a [EMAIL_ADDRESS_2]");
  assert_string_equal(out.stop[0], "[EMAIL_ADDRESS_1]");
  sl_redact_map_free(m);
  sl_chat_req_free(&out);
  sl_chat_req_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_consistent_across_turns),
      cmocka_unit_test(test_tool_call_ids),
      cmocka_unit_test(test_other_cases),
      cmocka_unit_test(test_same_words_one_placeholder),
      cmocka_unit_test(test_name_words_in_any_case),
      cmocka_unit_test(test_name_words_beyond_ascii_and_digits),
      cmocka_unit_test(test_written_part_placeholder),
      cmocka_unit_test(test_escaped_value_restored_plain),
      cmocka_unit_test(test_email_local_part),
      cmocka_unit_test(test_street_written_again),
      cmocka_unit_test(test_word_boundaries_and_split_entities),
      cmocka_unit_test(test_tool_calls_and_bad_offsets),
      cmocka_unit_test(test_values_outside_messages),
      cmocka_unit_test(test_values_written_another_way),
      cmocka_unit_test(test_restore_every_split),
      cmocka_unit_test(test_restore_json_arguments),
      cmocka_unit_test(test_restore_without_map),
      cmocka_unit_test(test_placeholder_written_by_client),
      cmocka_unit_test(test_words_of_a_name),
      cmocka_unit_test(test_with_real_classifier),
      cmocka_unit_test(test_names_beside_unicode_punctuation),
      cmocka_unit_test(test_values_as_json_writes_them),
      cmocka_unit_test(test_case_variants_and_written_placeholders),
      cmocka_unit_test(test_numbers_bare_digits),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
