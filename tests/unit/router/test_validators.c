/* Validators: Luhn, IBAN mod 97, SSN rules, IP addresses, placeholders, entropy. */
#include "router_test_util.h"

static void luhn(void **s) {
  (void)s;
  assert_true(sl__luhn("4111111111111111", 16));
  assert_true(sl__luhn("4111 1111 1111 1111", 19));
  assert_true(sl__luhn("378282246310005", 15));
  assert_false(sl__luhn("4111111111111112", 16));
  assert_false(sl__luhn("41111", 5));          /* too short */
  assert_false(sl__luhn("4111a11111111111", 16)); /* not digits */
}

static void iban(void **s) {
  (void)s;
  assert_true(sl__iban_ok("GB82WEST12345698765432", 22));
  assert_true(sl__iban_ok("GB82 WEST 1234 5698 7654 32", 27));
  assert_true(sl__iban_ok("DE89370400440532013000", 22));
  assert_false(sl__iban_ok("GB82WEST12345698765433", 22)); /* checksum */
  assert_false(sl__iban_ok("DE8937040044053201300", 21));  /* wrong length for DE */
  assert_false(sl__iban_ok("GB82", 4));
}

static void ssn(void **s) {
  (void)s;
  assert_true(sl__aba_ok("021000021", 9));  /* a published routing number */
  assert_true(sl__aba_ok("011000015", 9));
  assert_false(sl__aba_ok("021000022", 9)); /* check digit off by one */
  /* a GitHub token's body: the CRC-32 of the rest in its last 6 base62 digits */
  assert_true(sl__github_checksum_ok("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1yLcDB", 36));
  assert_true(sl__github_checksum_ok("00000000000000000000000000000004WZ4EQ", 37));
  assert_false(sl__github_checksum_ok("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1yLcDC", 36));
  assert_false(sl__github_checksum_ok("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 36));
  assert_false(sl__github_checksum_ok("aaaaaaaaaaaaaaaaaaaaaaaa1yLcDB", 30));
  assert_false(sl__aba_ok("000000000", 9));
  assert_false(sl__aba_ok("02100002", 8));
  assert_true(sl__ssn_ok("536-22-1234", 11));
  assert_false(sl__ssn_ok("000-12-3456", 11)); /* area 000 */
  assert_false(sl__ssn_ok("666-12-3456", 11)); /* area 666 */
  assert_false(sl__ssn_ok("912-12-3456", 11)); /* area 9xx */
  assert_false(sl__ssn_ok("536-00-1234", 11)); /* group 00 */
  assert_false(sl__ssn_ok("536-22-0000", 11)); /* serial 0000 */
  assert_false(sl__ssn_ok("078-05-1120", 11)); /* Woolworth wallet card */
  assert_false(sl__ssn_ok("123-45-678", 10));
}

static void ip(void **s) {
  (void)s;
  assert_true(sl__ipv4_ok("192.168.1.20", 12));
  assert_false(sl__ipv4_ok("256.1.1.1", 9));
  assert_false(sl__ipv4_ok("1.02.3.4", 8)); /* leading zero: a version string */
  assert_true(sl__ipv6_ok("2001:db8::8a2e:370:7334", 23));
  assert_true(sl__ipv6_ok("fe80::1", 7));
  assert_false(sl__ipv6_ok("10:30:00", 8)); /* a clock time */
  assert_false(sl__ipv6_ok("a::b", 4));     /* C++ scope */
}

static void placeholders(void **s) {
  (void)s;
  const char *yes[] = {"<YOUR_API_KEY>", "${DB_PASSWORD}", "$password", "xxxxxxxxxxxx", "********",
                       "your-api-key-here", "changeme", "{{ secret }}", "%(password)s",
                       "os.environ['KEY']", "REDACTED", "\"\""};
  for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
    assert_true(sl__is_placeholder(yes[i], strlen(yes[i])));
  const char *no[] = {"hunter22", "Tr0ub4dor&3", "9f8e7d6c5b4a39281706f5e4d3c2b1a0", "password"};
  for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
    assert_false(sl__is_placeholder(no[i], strlen(no[i])));
  assert_true(sl__is_known_example("AKIAIOSFODNN7EXAMPLE", 20));
  assert_false(sl__is_known_example("AKIAZ7QWERTYUIOPASDF", 20));
}

static void randomness(void **s) {
  (void)s;
  const char *tok = "Zq8vL2mN9xR4tY7wK3pB6sD1fG5hJ0cE";
  assert_true(sl__looks_random(tok, strlen(tok), true));
  const char *ident = "get_user_profile_by_identifier";
  assert_false(sl__looks_random(ident, strlen(ident), true));
  const char *hex = "a8f5f167f44f4964e6c998dee827110c";
  assert_false(sl__looks_random(hex, strlen(hex), true)); /* hex alone: maybe a digest */
  assert_true(sl__looks_random(hex, strlen(hex), false)); /* beside a key name: a key */
  assert_true(sl__entropy("abcd", 4) > 1.99 && sl__entropy("abcd", 4) < 2.01);
}

/* sl__find is memmem: the same first match on short and long haystacks, at
 * the ends, with repeated first bytes and empty needles. */
static void find(void **s) {
  (void)s;
  unsigned seed = 7;
  char hay[600], needle[8];
  for (int it = 0; it < 50000; it++) {
    seed = seed * 1103515245u + 12345u;
    size_t n = (seed >> 8) % (it < 40000 ? 40 : sizeof hay), m = (seed >> 20) % 6;
    for (size_t i = 0; i < n; i++) {
      seed = seed * 1103515245u + 12345u;
      hay[i] = "aab-"[(seed >> 16) % 4];
    }
    for (size_t i = 0; i < m; i++) {
      seed = seed * 1103515245u + 12345u;
      needle[i] = "ab-"[(seed >> 16) % 3];
    }
    assert_ptr_equal(sl__find(hay, n, needle, m), memmem(hay, n, needle, m));
  }
}

/* The English lexicon (Bloom filter of wamerican): words in it, names not,
 * and a false-positive rate near the 2 % it was sized for. */
static void lexicon(void **s) {
  (void)s;
  const char *in[] = {"support", "Kindly", "LOGGED", "team", "service", "delivery", "slides"};
  const char *out[] = {"Papadakis", "Aroha", "Giorgos", "Zhang", "Moradi", "Parisa", "Siobhan",
                       "Amélie", "x1", ""};
  for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) assert_true(sl__lexicon_has(in[i], strlen(in[i])));
  for (size_t i = 0; i < sizeof out / sizeof out[0]; i++)
    assert_false(sl__lexicon_has(out[i], strlen(out[i])));
  unsigned seed = 1, hits = 0;
  char w[7];
  for (int i = 0; i < 20000; i++) {
    for (int k = 0; k < 7; k++) {
      seed = seed * 1103515245u + 12345u;
      w[k] = (char)('a' + (seed >> 16) % 26);
    }
    hits += sl__lexicon_has(w, 7);
  }
  assert_true(hits < 20000 / 25); /* under 4 % */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(luhn),         cmocka_unit_test(iban),
      cmocka_unit_test(ssn),          cmocka_unit_test(ip),
      cmocka_unit_test(placeholders), cmocka_unit_test(randomness),
      cmocka_unit_test(find),         cmocka_unit_test(lexicon),
  };
  return cmocka_run_group_tests(tests, setup_router, teardown_router);
}
