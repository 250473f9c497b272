/* Validators: checksums and shape rules that turn a pattern hit into a finding
 * (Luhn, IBAN mod 97, SSN area/group/serial rules, IP addresses), plus the
 * token tests the secret detectors share (entropy, placeholders, known examples). */
#include "router_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>

size_t sl__count_digits(const char *s, size_t n) {
  size_t d = 0;
  for (size_t i = 0; i < n; i++) d += (s[i] >= '0' && s[i] <= '9');
  return d;
}

bool sl__luhn(const char *s, size_t n) {
  int sum = 0, alt = 0, nd = 0;
  for (size_t i = n; i-- > 0;) {
    char c = s[i];
    if (c == ' ' || c == '-' || c == '.' || c == '/') continue;
    if (c < '0' || c > '9') return false;
    int d = c - '0';
    if (alt) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    alt = !alt;
    nd++;
  }
  return nd >= 12 && nd <= 19 && sum % 10 == 0;
}

/* Lengths per country (ISO 13616 registry) for the common ones; others 15..34. */
static int iban_len(const char *cc);
int sl__iban_len(const char *cc) { return iban_len(cc); }

static int iban_len(const char *cc) {
  static const struct {
    char cc[3];
    int len;
  } t[] = {{"AD", 24}, {"AT", 20}, {"BE", 16}, {"BG", 22}, {"CH", 21}, {"CY", 28}, {"CZ", 24},
           {"DE", 22}, {"DK", 18}, {"EE", 20}, {"ES", 24}, {"FI", 18}, {"FR", 27}, {"GB", 22},
           {"GR", 27}, {"HR", 21}, {"HU", 28}, {"IE", 22}, {"IS", 26}, {"IT", 27}, {"LI", 21},
           {"LT", 20}, {"LU", 20}, {"LV", 21}, {"MC", 27}, {"MT", 31}, {"NL", 18}, {"NO", 15},
           {"PL", 28}, {"PT", 25}, {"RO", 24}, {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27},
           {"TR", 26}, {"AE", 23}, {"SA", 24}, {"IL", 23}, {"BR", 29}, {"UA", 29}};
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
    if (t[i].cc[0] == cc[0] && t[i].cc[1] == cc[1]) return t[i].len;
  return 0;
}

bool sl__iban_ok(const char *s, size_t n) {
  char b[40];
  size_t m = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == ' ') continue;
    if (m >= sizeof b) return false;
    b[m++] = s[i];
  }
  if (m < 15 || m > 34) return false;
  int want = iban_len(b);
  if (want && (int)m != want) return false;
  unsigned rem = 0;
  for (size_t k = 0; k < m; k++) {
    char c = b[(k + 4) % m];
    if (c >= '0' && c <= '9')
      rem = (rem * 10 + (unsigned)(c - '0')) % 97;
    else if (c >= 'A' && c <= 'Z')
      rem = (rem * 100 + (unsigned)(c - 'A' + 10)) % 97;
    else
      return false;
  }
  return rem == 1;
}

bool sl__aba_ok(const char *s, size_t n) {
  static const int w[9] = {3, 7, 1, 3, 7, 1, 3, 7, 1};
  if (n != 9) return false;
  int sum = 0, nonzero = 0;
  for (size_t i = 0; i < 9; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
    sum += w[i] * (s[i] - '0');
    nonzero |= s[i] - '0';
  }
  return nonzero && sum % 10 == 0;
}

/* An Italian codice fiscale: six letters (surname, name), two digits (year), a
 * month letter, two digits (day), a letter and three digits (the town), and the
 * check letter over the first fifteen (odd and even positions weighted by
 * their tables). Digits that replace letters in the numeric places
 * (omocodia: L-V for 0-9) are accepted there. */
bool sl__codice_fiscale_ok(const char *s, size_t n) {
  static const int odd[36] = {1,  0,  5,  7,  9,  13, 15, 17, 19, 21, /* 0-9 */
                              1,  0,  5,  7,  9,  13, 15, 17, 19, 21, 2,  4,  18,
                              20, 11, 3,  6,  8,  12, 14, 16, 10, 22, 25, 24, 23}; /* A-Z */
  static const char shape[] = "LLLLLLNNLNNLNNNL"; /* L a letter, N a digit (or omocodia letter) */
  if (n != 16) return false;
  int sum = 0;
  for (size_t i = 0; i < 16; i++) {
    char ch = s[i];
    bool letter = ch >= 'A' && ch <= 'Z', digit = ch >= '0' && ch <= '9';
    if (shape[i] == 'L' ? !letter : !(digit || (letter && strchr("LMNPQRSTUV", ch)))) return false;
    if (i == 15) return ch == 'A' + sum % 26;
    int v = digit ? ch - '0' : ch - 'A';
    sum += i % 2 == 0 ? odd[digit ? v : 10 + v] : v;
  }
  return false;
}

bool sl__github_checksum_ok(const char *s, size_t n) {
  /* base62 characters (30 in today's tokens), then the CRC-32 (IEEE) of them in
   * 6 base62 digits */
  static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  if (n < 36 || n > 64) return false;
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i < n - 6; i++) {
    if (!isalnum((unsigned char)s[i])) return false;
    crc ^= (unsigned char)s[i];
    for (int k = 0; k < 8; k++) crc = crc >> 1 ^ (0xEDB88320u & (0u - (crc & 1)));
  }
  crc = ~crc;
  for (size_t i = n - 1; i >= n - 6; i--, crc /= 62)
    if (s[i] != b62[crc % 62]) return false;
  return crc == 0;
}

bool sl__ssn_published(const char *s, size_t n) {
  /* Widely published non-SSNs (advertising, Woolworth's wallet card). */
  static const char *const published[] = {"078051120", "219099999", "123456789"};
  char d[9];
  size_t m = 0;
  for (size_t i = 0; i < n; i++)
    if (s[i] >= '0' && s[i] <= '9') {
      if (m == 9) return false; /* more digits than an SSN's */
      d[m++] = s[i];
    }
  for (size_t k = 0; m == 9 && k < 3; k++)
    if (!memcmp(d, published[k], 9)) return true;
  return false;
}

bool sl__ssn_ok(const char *s, size_t n) {
  char d[9];
  size_t m = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] >= '0' && s[i] <= '9') {
      if (m == 9) return false;
      d[m++] = s[i];
    }
  }
  if (m != 9) return false;
  int area = (d[0] - '0') * 100 + (d[1] - '0') * 10 + (d[2] - '0');
  int group = (d[3] - '0') * 10 + (d[4] - '0');
  int serial = (d[5] - '0') * 1000 + (d[6] - '0') * 100 + (d[7] - '0') * 10 + (d[8] - '0');
  if (area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0) return false;
  if (sl__ssn_published(s, n)) return false;
  /* All one digit is a filler, not a number. */
  bool same = true;
  for (int i = 1; i < 9; i++) same &= d[i] == d[0];
  return !same;
}

bool sl__hex_only(const char *s, size_t n) {
  if (!n) return false;
  for (size_t i = 0; i < n; i++)
    if (!isxdigit((unsigned char)s[i])) return false;
  return true;
}

bool sl__ipv4_ok(const char *s, size_t n) {
  int parts = 0, val = -1, digits = 0;
  for (size_t i = 0; i <= n; i++) {
    if (i == n || s[i] == '.') {
      if (val < 0 || val > 255 || digits > 3) return false;
      if (digits > 1 && s[i - digits] == '0') return false; /* 01.02: a version, not an IP */
      parts++;
      val = -1;
      digits = 0;
    } else if (s[i] >= '0' && s[i] <= '9') {
      val = (val < 0 ? 0 : val * 10) + (s[i] - '0');
      digits++;
    } else {
      return false;
    }
  }
  return parts == 4;
}

bool sl__ipv6_ok(const char *s, size_t n) {
  char b[64];
  if (n < 3 || n >= sizeof b) return false;
  memcpy(b, s, n);
  b[n] = 0;
  int colons = 0, hex_letters = 0, digits = 0;
  for (size_t i = 0; i < n; i++) {
    colons += b[i] == ':';
    digits += isdigit((unsigned char)b[i]) != 0;
    hex_letters += isalpha((unsigned char)b[i]) != 0;
  }
  /* "a::b" in C++ or "10:30" clock times are not addresses: want several groups. */
  if (colons < 2 || digits + hex_letters < 3) return false;
  if (colons == 2 && !strstr(b, "::")) return false;
  if (!strcmp(b, "::")) return false;
  unsigned char out[16];
  return inet_pton(AF_INET6, b, out) == 1 && (colons >= 3 || digits > 0);
}

double sl__entropy(const char *s, size_t n) {
  if (!n) return 0;
  /* count, remembering which byte values occur, then sum over those only */
  unsigned cnt[256];
  uint8_t seen[256];
  unsigned nseen = 0;
  memset(cnt, 0, sizeof cnt);
  for (size_t i = 0; i < n; i++) { /* no branch: the values of random keys do not predict */
    uint8_t b = (uint8_t)s[i];
    seen[nseen] = b;
    nseen += !cnt[b]++;
  }
  /* most distinct bytes share a small count (1, 2, 3, ...): each count's term
   * p * log2(p) is computed once (the same value, summed in the same order) */
  enum { MEMO = 16 };
  double term[MEMO];
  uint16_t have = 0;
  double h = 0;
  for (unsigned k = 0; k < nseen; k++) {
    unsigned c = cnt[seen[k]];
    double t;
    if (c < MEMO && (have >> c & 1)) {
      t = term[c];
    } else {
      double p = (double)c / (double)n;
      t = p * log2(p);
      if (c < MEMO) term[c] = t, have |= (uint16_t)(1u << c);
    }
    h -= t;
  }
  return h;
}

const char *sl__find(const char *hay, size_t n, const char *needle, size_t m) {
  if (n > 256) return memmem(hay, n, needle, m); /* linear however hostile */
  if (!m) return hay;
  if (n < m) return NULL;
  const char *end = hay + n - m + 1;
  for (const char *p = hay; p < end && (p = memchr(p, needle[0], (size_t)(end - p))); p++)
    if (!memcmp(p + 1, needle + 1, m - 1)) return p;
  return NULL;
}

void sl__wordset_init(sl__wordset_t *s) {
  memset(s->first, 0, sizeof s->first);
  s->lens = 0;
  for (const char *const *w = s->words; *w; w++) {
    unsigned char c = (unsigned char)(*w)[0];
    size_t n = strlen(*w);
    s->first[c >> 6] |= 1ull << (c & 63);
    s->lens |= 1ull << (n < 63 ? n : 63);
  }
}

size_t sl__lower_copy(const char *s, size_t n, char *out, size_t cap) {
  if (n > cap) n = cap;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    out[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
  }
  return n;
}

/* needle is lower-case; hay already lower-cased */
static bool ci_contains(const char *hay, size_t n, const char *needle) {
  return sl__find(hay, n, needle, strlen(needle)) != NULL;
}

static uint64_t ph_first[256]; /* bit w: ph_words[w] starts with this byte */
static uint8_t ph_len[64];
static const char *const ph_words[] = {
    "your_", "your-", "yourkey", "your key", "your api", "your_api", "_here", "-here",
    "placeholder", "changeme", "change_me", "change-me", "redacted", "dummy", "example_",
    "&lt;", "a1b2c3", "...", "\xe2\x80\xa6", "insert", "replace", "todo", "fixme", "fake", "sample",
    "mysecret", "my_secret", "my-secret", "yourpassword", "your_password", "xxxx", "****",
    "none", "null", "undefined", "secret_value", "api_key_value", "token_value", "not-a-real",
    "not_a_real", "not-real", "not_real", "test-password", "test_password", "wrong-password",
    "wrong_password"};
/* The first two bytes of every phrase (all have two or more), hashed into 4096
 * bits: most byte pairs of a value start no phrase and are passed over with one
 * test. */
static uint64_t ph_pair[64];
/* The words that call a value a stand-in but are also written into real-looking
 * ones ("FakeValues99cl9bqJFVA3iFUm+yqVe08HxhXFE/"): bits of ph_words. */
static uint64_t ph_soft;
static inline unsigned ph_pair_bit(unsigned char a, unsigned char b) { return ((unsigned)a << 4 ^ b) & 4095; }
void placeholder_init(void);
void placeholder_init(void) {
  _Static_assert(sizeof ph_words / sizeof ph_words[0] <= 64, "ph_first is a 64-bit mask");
  /* (every phrase has two bytes or more: the scan below reads pairs) */
  for (size_t w = 0; w < sizeof ph_words / sizeof ph_words[0]; w++) {
    const unsigned char *p = (const unsigned char *)ph_words[w];
    ph_first[p[0]] |= 1ull << w;
    ph_len[w] = (uint8_t)strlen(ph_words[w]);
    ph_pair[ph_pair_bit(p[0], p[1]) >> 6] |= 1ull << (ph_pair_bit(p[0], p[1]) & 63);
    if (!strcmp(ph_words[w], "fake") || !strcmp(ph_words[w], "sample") || !strcmp(ph_words[w], "dummy"))
      ph_soft |= 1ull << w;
  }
}

/* Beside the word at [i, i + m) of s (n bytes), 20 bytes or more of a random
 * key: the word is part of a key's value, not what stands in for one. */
static bool random_beside(const char *s, size_t n, size_t i, size_t m) {
  return (n - i - m >= 20 && sl__looks_random(s + i + m, n - i - m, false)) ||
         (i >= 20 && sl__looks_random(s, i, false));
}

/* A Python %-format field, "%(name)s" (not any "%(": Django's generated keys
 * hold such bytes: "django-insecure-…!%(^+=…"). */
static bool py_format_field(const char *s, size_t n) {
  for (const char *p = s; (p = sl__find(p, n - (size_t)(p - s), "%(", 2)) != NULL; p += 2) {
    size_t i = (size_t)(p - s) + 2, k = i;
    while (k < n && (isalnum((unsigned char)s[k]) || s[k] == '_')) k++;
    if (k > i && k + 1 < n && s[k] == ')' && isalpha((unsigned char)s[k + 1])) return true;
  }
  return false;
}

bool sl__is_placeholder(const char *s, size_t n) {
  /* strip quotes */
  while (n && (*s == '"' || *s == '\'' || *s == '`')) s++, n--;
  while (n && (s[n - 1] == '"' || s[n - 1] == '\'' || s[n - 1] == '`')) n--;
  if (n == 0) return true;
  /* template / variable syntax: <KEY>, {{ key }}, ${KEY}, $KEY, %(key)s, %KEY%, [KEY] */
  if (s[0] == '<' || s[0] == '$' || s[0] == '{' || s[0] == '%' || s[0] == '[') return true;
  char low[256];
  const char *orig = s;
  n = sl__lower_copy(s, n, low, sizeof low);
  s = low;
  if (memchr(s, '{', n) && ci_contains(s, n, "{{")) return true;
  /* a slot in angle brackets, "key-<env>", or the end of one; a lone '<' or '>'
   * is just a byte of a random value */
  const char *lt = memchr(s, '<', n);
  if ((lt && memchr(lt, '>', n - (size_t)(lt - s))) || s[n - 1] == '>') return true;
  if (memchr(s, '(', n) && py_format_field(s, n)) return true;
  if (memchr(s, '$', n) && ci_contains(s, n, "${")) return true;
  if (n >= 6 && memchr(s, 'v', n) && (ci_contains(s, n, "process.env") || ci_contains(s, n, "os.environ") ||
                 ci_contains(s, n, "getenv")))
    return true;
  /* masks: mostly x, *, ., #, -, _ or a single repeated char that isn't a letter */
  static const uint8_t mask_byte[256] = {['x'] = 1, ['X'] = 1, ['*'] = 1, ['.'] = 1,
                                         ['#'] = 1, ['-'] = 1, ['_'] = 1, ['0'] = 1};
  size_t mask = 0;
  for (size_t i = 0; i < n; i++) mask += mask_byte[(unsigned char)s[i]];
  if (mask * 10 >= n * 8) return true;

  /* the word password itself in other languages, as the whole value:
   * "postgres://utilisateur:motdepasse@localhost" */
  static const char *const pw_words[] = {"motdepasse", "mot_de_passe", "contrasena", "contraseña",
                                         "passwort", "kennwort", "senha", "wachtwoord", "haslo",
                                         "hasło", "losenord", "lösenord", "salasana", "parola",
                                         "sifre", "şifre", NULL};
  if (n >= 5 && n <= 12 && strchr("mcpkswhlo", s[0]))
    for (const char *const *w = pw_words; *w; w++)
      if ((*w)[0] == s[0] && strlen(*w) == n && !memcmp(s, *w, n)) return true;
  /* one pass: for each byte, only the words that start with it. Placeholder
   * phrases sit at the ends of a value ("your-key-here", "REPLACE_ME..."). */
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, placeholder_init);
  const unsigned char *u = (const unsigned char *)s;
  for (size_t i = 0; i < n; i++) {
    if (i == 32 && n > 64) i = n - 32;
    if (i + 1 >= n) break;
    unsigned pb = ph_pair_bit(u[i], u[i + 1]);
    if (!(ph_pair[pb >> 6] >> (pb & 63) & 1)) continue;
    for (uint64_t ws = ph_first[u[i]]; ws; ws &= ws - 1) {
      unsigned w = (unsigned)__builtin_ctzll(ws);
      size_t m = ph_len[w];
      /* the second byte first: most candidates differ there (a call saved) */
      if (i + m <= n && s[i + 1] == ph_words[w][1] && !memcmp(s + i, ph_words[w], m) &&
          !(ph_soft >> w & 1 && random_beside(orig, n, i, m)))
        return true;
    }
  }
  return false;
}

bool sl__is_known_example(const char *s, size_t n) {
  static const char *const ex[] = {
      "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
      "ASIAIOSFODNN7EXAMPLE", "AIDACKCEVSQ6C2EXAMPLE", "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
      "sk_test_4eC39HqLyjWDarjtT1zdp7dc", "pk_test_TYooMQauvdEDq54NiTphI7jx",
      "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"};
  /* every listed value but the Stripe ones contains EXAMPLE or is a mask */
  bool example = sl__find(s, n, "EXAMPLE", 7) != NULL, underscore = memchr(s, '_', n) != NULL;
  for (size_t i = 0; i < sizeof ex / sizeof ex[0]; i++) {
    size_t m = strlen(ex[i]);
    if (!example && ex[i][0] != 's' && ex[i][0] != 'p' && ex[i][0] != 'g') continue;
    if (!example && !underscore) continue; /* the others all hold a '_' */
    if (n < m) continue;
    const char *hit = sl__find(s, n, ex[i], m);
    if (hit) return true;
  }
  /* AWS documentation convention: ...EXAMPLE / ...EXAMPLEKEY suffixes. */
  if (n >= 7 && !memcmp(s + n - 7, "EXAMPLE", 7)) return true;
  if (n >= 10 && !memcmp(s + n - 10, "EXAMPLEKEY", 10)) return true;
  return false;
}

/* Eight bytes or more in a row, each one more than the one before. */
static bool alphabet_run(const char *s, size_t n) {
  size_t run = 1;
  for (size_t i = 1; i < n; i++) {
    run = s[i] == s[i - 1] + 1 ? run + 1 : 1;
    if (run >= 8) return true;
  }
  return false;
}

bool sl__looks_random(const char *s, size_t n, bool strict) {
  /* the byte classes counted without a branch per byte (a random key's bytes
   * would mispredict about every other one) */
  size_t up = 0, lo = 0, dg = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    up += (unsigned)(c - 'A') < 26u;
    lo += (unsigned)(c - 'a') < 26u;
    dg += (unsigned)(c - '0') < 10u;
  }
  size_t other = n - up - lo - dg;
  /* the cheap shape tests first; the entropy only for what passes them */
  int classes = (up > 0) + (lo > 0) + (dg > 0);
  if (strict) {
    /* Alone, a token must be long, mixed and random: identifiers, paths, words
     * joined by '_' and hex digests of code are not, nor an alphabet
     * ("ABC…XYZabc…xyz0123456789": a base-62 table) */
    if (n < 24 || classes < 3 || dg < 2) return false;
    if (other * 4 > n || alphabet_run(s, n)) return false;
    return sl__entropy(s, n) >= 4.0;
  }
  if (n < 8) return false;
  if (dg == 0 && n < 20) return false;
  if (classes < 2 && !(dg && n >= 16)) return false;
  return sl__entropy(s, n) >= (n >= 20 ? 3.0 : 2.5);
}
