/* Secret detectors over the hits of the multi-pattern pass: cloud credentials,
 * provider tokens, private keys, JWTs, HTTP auth headers, password hashes,
 * credentials in URLs and .netrc, password and key assignments (code, config
 * and prose), and random-looking tokens. Placeholders are dropped and
 * vendors' documented example values are demoted (see docs/router.md). */
#include "router_int.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/* Is t[i] part of an identifier: [A-Za-z0-9_.-], or a Latin letter with a
 * diacritic (UTF-8 lead byte C3-C5 and its continuation: "contraseña",
 * "hasło", "lösenord")? */
static bool idch(const char *t, size_t n, size_t i) {
  unsigned char c = (unsigned char)t[i];
  if (c < 0x80) return isalnum(c) || c == '_' || c == '-' || c == '.';
  if (c >= 0xC3 && c <= 0xC5) return i + 1 < n && ((unsigned char)t[i + 1] & 0xC0) == 0x80;
  return c <= 0xBF && i > 0 && (unsigned char)t[i - 1] >= 0xC3 && (unsigned char)t[i - 1] <= 0xC5;
}

static bool uuid_shape(const char *s, size_t n) {
  if (n != 36) return false;
  for (size_t i = 0; i < n; i++)
    if ((i == 8 || i == 13 || i == 18 || i == 23) ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
      return false;
  return true;
}

/* The quoted literal whose opening quote is at t[i]: its body [*s, *e), on one
 * line and at most 256 bytes; returns the index after the closing quote, or 0
 * when it does not close. A line end right before the closing quote is no part
 * of the value: code's 'Tr0ub4dor&3\n', whose escape the fold step made a line
 * end (fold.c). */
static uint32_t quoted_at(const char *t, uint32_t n, uint32_t i, uint32_t *s, uint32_t *e) {
  char q = t[i++];
  uint32_t k = i;
  for (;;) {
    while (k < n && t[k] != q && t[k] != '\n' && t[k] != '\r' && k - i < 256) k++;
    /* a quote with a letter or digit right after it is inside the literal
     * (an escaped one the fold step decoded: "hun\"ter2"), when another closes
     * it on the same line */
    if (k + 1 < n && t[k] == q && k > i && isalnum((unsigned char)t[k + 1])) {
      const char *next = memchr(t + k + 1, q, n - k - 1);
      if (next && !memchr(t + k + 1, '\n', (size_t)(next - (t + k + 1)))) {
        k++;
        continue;
      }
    }
    break;
  }
  uint32_t close = k;
  while (close < n && close - k < 4 && (t[close] == '\n' || t[close] == '\r')) close++;
  if (close >= n || t[close] != q || (close > k && k == i)) return 0;
  *s = i, *e = k;
  return close + 1;
}

static void add_secret(sl__ctx_t *c, uint32_t s, uint32_t e, int type, const char *det, int prio,
                       bool check_placeholder) {
  const char *t = c->text + s;
  size_t n = e - s;
  if (check_placeholder && sl__is_placeholder(t, n)) return;
  size_t before = c->out->n;
  sl__cands_add(c->out, s, e, type, det, prio);
  /* Documented example values keep their type and level (fail closed: a real key
   * that happens to end in EXAMPLE is not worth the risk), but explain names them. */
  if (c->out->n > before && sl__is_known_example(t, n)) {
    c->out->v[c->out->n - 1].demoted = true;
    c->out->v[c->out->n - 1].detector = "known_example_value";
  }
}

/* End of a token body: alphanumerics plus `extra`, from `from`, at most 4 KiB. */
static uint32_t body_end(const sl__ctx_t *c, uint32_t from, const char *extra) {
  uint32_t e = from, lim = c->len - from > 4096 ? from + 4096 : (uint32_t)c->len;
  /* alphanumerics (0-9: bits 48-57 of the first word; A-Z, a-z: bits 1-26 and
   * 33-58 of the second) and the extra bytes, one bit per byte value */
  uint64_t in[4] = {0x03FF000000000000ull, 0x07FFFFFE07FFFFFEull, 0, 0};
  for (const char *x = extra; *x; x++) in[(unsigned char)*x >> 6] |= 1ull << (*x & 63);
  while (e < lim && (in[(unsigned char)c->text[e] >> 6] >> ((unsigned char)c->text[e] & 63) & 1)) e++;
  return e;
}

/* Capitalised words run together, no digits ("DataGetTopLongShortPositionRatio"):
 * every capital followed by a lower-case letter, and at least three of them. A
 * random body of letters has capitals side by side or at its end. */
static bool camel_words(const char *b, size_t n) {
  size_t caps = 0;
  for (size_t k = 0; k < n; k++) {
    unsigned char ch = (unsigned char)b[k];
    if (ch >= 'A' && ch <= 'Z') {
      if (k + 1 >= n || !(b[k + 1] >= 'a' && b[k + 1] <= 'z')) return false;
      caps++;
    } else if (!(ch >= 'a' && ch <= 'z')) {
      return false;
    }
  }
  return caps >= 3;
}

/* The value ends cut short by an ellipsis: a documentation's stand-in
 * ("sk_live_51...", "MIIEowIBAAKCAQEA…"), not a key. */
static bool cut_short(const sl__ctx_t *c, uint32_t e) {
  return (e + 3 <= c->len && !memcmp(c->text + e, "...", 3)) ||
         (e + 3 <= c->len && !memcmp(c->text + e, "\xe2\x80\xa6", 3));
}

/* A prefix-led token: prefix hit + body of at least `min` bytes of the class. */
static void prefixed(sl__ctx_t *c, const sl__hit_t *h, const char *extra, uint32_t min, uint32_t max,
                     int type, const char *det, int prio) {
  /* "AccountKey=" and the like name the value; the value alone is the secret */
  bool value_only = c->text[h->end - 1] == '=';
  uint32_t e = body_end(c, h->end, extra);
  while (e > h->end && strchr(".-_=", c->text[e - 1]) && !strchr(extra, '=')) e--;
  if (e - h->end < min || e - h->end > max) return;
  const char *b = c->text + h->end;
  size_t bn = e - h->end;
  /* the body must look like key material, not like a word or an identifier
   * ("dapiDataGetTopLongShortPositionRatio" is a method's name) */
  if (bn >= 8 && !sl__looks_random(b, bn, false) &&
      !sl__looks_random(c->text + h->start, e - h->start, false))
    return;
  if (camel_words(b, bn) || cut_short(c, e)) return;
  add_secret(c, value_only ? h->end : h->start, e, type, det, prio, true);
}

/* A GitHub token: as any prefixed one, or — however plain its body looks
 * (ghp_000…04WZ4EQ) — when its checksum holds, which no placeholder's does. */
static void github_token(sl__ctx_t *c, const sl__hit_t *h) {
  uint32_t e = body_end(c, h->end, "");
  if (h->end - h->start == 4 && sl__github_checksum_ok(c->text + h->end, e - h->end)) { /* ghp_ … */
    add_secret(c, h->start, e, SL_ET_API_KEY, "github_token", 90, false);
    return;
  }
  prefixed(c, h, "_", 22, 255, SL_ET_API_KEY, "github_token", 90);
}

static size_t b64dec(const char *s, size_t n, char *out, size_t cap);

/* Base64 of a JSON object that carries credentials: a Docker config
 * ("{"auths":{…"auth":"…"}}"), a service's credentials file. */
static void json_b64(sl__ctx_t *c, const sl__hit_t *h) {
  uint32_t e = body_end(c, h->end, "+/=");
  if (e - h->start < 40) return;
  char dec[256];
  size_t m = b64dec(c->text + h->start, e - h->start < 320 ? e - h->start : 320, dec, sizeof dec);
  static const char *const keys[] = {"\"auth\"", "\"auths\"", "\"password\"", "\"secret\"",
                                     "\"private_key\"", "\"token\"", "\"client_secret\"", NULL};
  for (const char *const *k = keys; *k; k++)
    if (sl__find(dec, m, *k, strlen(*k))) {
      add_secret(c, h->start, e, SL_ET_API_KEY, "credentials_b64", 80, false);
      return;
    }
}

static void jwt(sl__ctx_t *c, const sl__hit_t *h) {
  const char *t = c->text;
  uint32_t e = body_end(c, h->end, "_-");
  if (e >= c->len || t[e] != '.') {
    json_b64(c, h);
    return;
  }
  if (e - h->start < 11 || e >= c->len || t[e] != '.') return;
  if (e + 4 > c->len || strncmp(t + e + 1, "eyJ", 3)) return;
  uint32_t e2 = body_end(c, e + 1, "_-");
  if (e2 - e < 9 || e2 >= c->len || t[e2] != '.') return;
  uint32_t e3 = body_end(c, e2 + 1, "_-");
  add_secret(c, h->start, e3, SL_ET_JWT, "jwt", 88, false);
}

static int b64val(char ch) {
  if (ch >= 'A' && ch <= 'Z') return ch - 'A';
  if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
  if (ch >= '0' && ch <= '9') return ch - '0' + 52;
  if (ch == '+' || ch == '-') return 62;
  if (ch == '/' || ch == '_') return 63;
  return -1;
}

/* Decodes up to cap bytes of base64 from s; returns the count. */
static size_t b64dec(const char *s, size_t n, char *out, size_t cap) {
  size_t o = 0;
  unsigned acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n && o < cap; i++) {
    int v = b64val(s[i]);
    if (v < 0) break;
    acc = (acc << 6) | (unsigned)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (char)((acc >> bits) & 0xff);
    }
  }
  return o;
}

static void private_key(sl__ctx_t *c, const sl__hit_t *h) {
  const char *t = c->text;
  uint32_t s = h->start;
  if (t[s] == 'P' && !strncmp(t + s, "PuTTY", 5)) {
    add_secret(c, s, body_end(c, h->end, ""), SL_ET_PRIVATE_KEY, "private_key", 95, false);
    return;
  }
  /* "-----BEGIN <ALGO> PRIVATE KEY-----": the BEGIN line, not the END line; a
   * pattern for one ("-----BEGIN [A-Z ]*PRIVATE KEY-----") is no key */
  for (uint32_t i = s; i > 0 && s - i < 64 && t[i - 1] != '\n'; i--)
    if (t[i - 1] == '[' || t[i - 1] == '*' || t[i - 1] == '\\') return;
  uint32_t lo = s > 64 ? s - 64 : 0;
  const char *begin = NULL;
  for (uint32_t i = s; i-- > lo;) {
    if (t[i] == '\n') break;
    if (!strncmp(t + i, "-----BEGIN", 10)) {
      begin = t + i;
      break;
    }
  }
  if (!begin) return;
  /* The block runs to its END line when there is one. */
  uint32_t e = h->end;
  size_t lim = c->len - e < 16384 ? c->len - e : 16384;
  /* many BEGIN lines without END must not each rescan the same 16 KiB */
  uint32_t from = e;
  bool known = e >= c->pk_searched && e <= c->pk_noend && c->pk_noend;
  if (known) from = c->pk_noend >= 8 ? c->pk_noend - 8 : 0; /* [searched, noend) has no END */
  if (from < e) from = e;
  const char *end = e + lim > from ? memmem(t + from, e + lim - from, "-----END", 8) : NULL;
  if (!end) {
    if (!known) c->pk_searched = e;
    c->pk_noend = e + (uint32_t)lim;
  }
  if (end) {
    size_t rest = (size_t)(t + c->len - (end + 8));
    const char *close = memmem(end + 8, rest < 64 ? rest : 64, "-----", 5);
    e = (uint32_t)((close ? close + 5 : end + 8) - t);
  } else {
    e = body_end(c, e, "+/=\n\r");
  }
  /* a body of a few bytes, or short and cut with "...", is a placeholder
   * ("-----BEGIN RSA PRIVATE KEY-----\nMIIEow...", "MIIEtest=="); a test's
   * stub of a real key's first line is still reported (fail closed) */
  const char *bs = t + e > begin + 10 ? memmem(begin + 10, (size_t)(t + e - (begin + 10)), "-----", 5) : NULL;
  const char *be = end ? end : t + e;
  if (bs && bs + 5 <= be) {
    size_t b64 = 0, n = (size_t)(be - (bs + 5));
    for (const char *q = bs + 5; q < be; q++) b64 += isalnum((unsigned char)*q) || *q == '+' || *q == '/';
    bool cut = memmem(bs + 5, n, "...", 3) || memmem(bs + 5, n, "\xe2\x80\xa6", 3) || (!end && cut_short(c, e));
    if (b64 < 12 || (cut && b64 < 100)) return; /* (a real key cut after some lines stays one) */
  }
  add_secret(c, (uint32_t)(begin - t), e, SL_ET_PRIVATE_KEY, "private_key", 95, false);
}

static void private_key_b64(sl__ctx_t *c, const sl__hit_t *h) {
  const char *t = c->text;
  if (t[h->start] != 'L') {
    /* a key's DER: the run starts with the SEQUENCE ("MI…", "MH…", "MC…") at
     * most 6 bytes before the version field the hit is, and is long */
    uint32_t s = h->start;
    while (s > 0 && h->start - s < 6 && (isalnum((unsigned char)t[s - 1]) || t[s - 1] == '+' || t[s - 1] == '/')) s--;
    if (t[s] != 'M' || (s > 0 && (isalnum((unsigned char)t[s - 1]) || t[s - 1] == '+' || t[s - 1] == '/')))
      return;
    uint32_t e = body_end(c, h->end, "+/=");
    if (e - s >= 60) add_secret(c, s, e, SL_ET_PRIVATE_KEY, "private_key", 95, false);
    return;
  }
  char dec[64];
  uint32_t e = body_end(c, h->end, "+/=");
  size_t m = b64dec(c->text + h->start, e - h->start, dec, sizeof dec);
  if (e - h->end >= 20 && sl__find(dec, m, "PRIVATE KEY", 11))
    add_secret(c, h->start, e, SL_ET_PRIVATE_KEY, "private_key", 95, false);
}

static void basic_auth(sl__ctx_t *c, const sl__hit_t *h) {
  uint32_t s = h->end;
  while (s < c->len && s - h->end < 3 && c->text[s] == ' ') s++;
  uint32_t e = body_end(c, s, "+/=");
  if (e - s < 8) return;
  char dec[256];
  size_t m = b64dec(c->text + s, e - s, dec, sizeof dec);
  const char *colon = memchr(dec, ':', m);
  if (!colon || colon == dec + m - 1) return;
  if (sl__is_placeholder(colon + 1, (size_t)(dec + m - colon - 1))) return;
  add_secret(c, s, e, SL_ET_PASSWORD, "basic_auth", 80, false);
}

/* A JWT's stand-in: its header, then a part that is a plain word
 * ("eyJhbGciOiJIUzI1NiJ9.payload.sig"; not "dp.ct.…", "sl.hAi6…"). */
static bool word_segment(const char *v, size_t n) {
  if (n < 4 || memcmp(v, "eyJ", 3) || !memchr(v, '.', n)) return false;
  for (size_t i = 0; i < n;) {
    size_t k = i;
    while (k < n && v[k] != '.') k++;
    if (k - i >= 3 && k - i <= 12) {
      bool lower = true;
      for (size_t q = i; q < k; q++) lower &= islower((unsigned char)v[q]) != 0;
      if (lower) return true;
    }
    i = k + 1;
  }
  return false;
}

static void bearer(sl__ctx_t *c, const sl__hit_t *h) {
  uint32_t s = h->end;
  while (s < c->len && s - h->end < 3 && c->text[s] == ' ') s++;
  uint32_t e = body_end(c, s, "_-.=~+/");
  if (word_segment(c->text + s, e - s) || cut_short(c, e)) return;
  if (e - s >= 12 && sl__looks_random(c->text + s, e - s, false))
    add_secret(c, s, e, SL_ET_API_KEY, "bearer_token", 75, true);
}

/* "USER:PASSWORD@HOST": the template of a URL, every part an upper-case word. */
static bool url_template(const char *p, size_t n) {
  size_t words = 0;
  for (size_t i = 0; i < n;) {
    size_t k = i;
    while (k < n && ((p[k] >= 'A' && p[k] <= 'Z') || p[k] == '_')) k++;
    if (k == i || (k < n && p[k] != ':' && p[k] != '@')) return false;
    words++;
    i = k + 1;
  }
  return words >= 2;
}

/* "user:password@": a user and a password that are the words for them, in any
 * case ("postgresql+psycopg2://user:password@localhost/db" in an explanation).
 * A word that is a value ("user:secret@", "app:tulip@") is a password. */
static bool generic_pair(const char *u, size_t un, const char *p, size_t pn) {
  static const char *const users[] = {"user", "username", "usr", "login", "name", NULL};
  static const char *const pws[] = {"password", "passwd", "pass", "pwd", "mypassword", "mypass",
                                    "yourpassword", NULL};
  return (sl__word_in(u, un, users) || (un > 4 && !strncmp(u, "test", 4))) && sl__word_in(p, pn, pws);
}

/* scheme://user:password@host: the hit is the "://" */
static void url_cred(sl__ctx_t *c, const sl__hit_t *h) {
  const char *t = c->text;
  uint32_t i = h->end, lim = c->len - i > 256 ? i + 256 : (uint32_t)c->len, colon = 0, at = 0;
  for (; i < lim; i++) {
    char ch = t[i];
    if (isspace((unsigned char)ch) || ch == '/' || ch == '\'' || ch == '"' || ch == '<' ||
        ch == '>' || ch == '`')
      break;
    if (ch == ':' && !colon) colon = i;
    if (ch == '@') at = i; /* the last '@' before the host: passwords may hold '@' */
  }
  if (!colon || !at || at <= colon + 1) return;
  uint32_t ps = colon + 1, pe = at;
  /* no user ("redis://:secret@host"): only a password of some length */
  if (colon == h->end && pe - ps < 6) return;
  /* user:port@ never happens; an all-digit "password" after a host is a port */
  if (sl__count_digits(t + ps, pe - ps) == pe - ps && pe - ps <= 5) return;
  if (pe - ps < 4) return; /* "user:abc@": a stand-in */
  if (sl__is_placeholder(t + ps, pe - ps) || url_template(t + h->end, at + 1 - h->end) ||
      generic_pair(t + h->end, colon - h->end, t + ps, pe - ps))
    return;
  add_secret(c, ps, pe, SL_ET_PASSWORD, "url_credentials", 85, true);
}

/* "machine HOST login USER password SECRET" (.netrc), on one or several lines */
static void netrc(sl__ctx_t *c, const sl__hit_t *h) {
  const char *t = c->text;
  uint32_t i = h->end, lim = c->len - i > 512 ? i + 512 : (uint32_t)c->len;
  for (int field = 0; field < 8 && i < lim; field++) {
    while (i < lim && isspace((unsigned char)t[i])) i++;
    uint32_t ks = i;
    while (i < lim && !isspace((unsigned char)t[i])) i++;
    uint32_t ke = i;
    while (i < lim && isspace((unsigned char)t[i])) i++;
    uint32_t vs = i;
    while (i < lim && !isspace((unsigned char)t[i])) i++;
    if (field == 0) {
      i = ke; /* the host */
      continue;
    }
    if (ke - ks == 8 && !strncmp(t + ks, "password", 8) && i > vs) {
      add_secret(c, vs, i, SL_ET_PASSWORD, "netrc", 80, true);
      return;
    }
    if (!((ke - ks == 5 && !strncmp(t + ks, "login", 5)) || (ke - ks == 7 && !strncmp(t + ks, "account", 7))))
      return;
  }
}

/* The whole identifier around a cue word ("DB_PASSWORD", "jenkins_passwd"). */
static void ident_span(const sl__ctx_t *c, const sl__hit_t *h, uint32_t *is, uint32_t *ie) {
  /* The cue hit may include a trailing "=" or ":"; the identifier is the run of
   * identifier bytes around the hit's start. */
  uint32_t s = h->start, e = h->start;
  while (s > 0 && idch(c->text, c->len, s - 1) && h->start - s < 64) s--;
  while (e < c->len && idch(c->text, c->len, e) && e - h->start < 96) e++;
  if (e == h->start) e = h->end;
  /* a cue of two words ("api key") names the value after both */
  if (e < h->end && c->text[e] == ' ' && memchr(c->text + h->start, ' ', h->end - h->start))
    for (e = h->end; e < c->len && idch(c->text, c->len, e) && e - h->start < 96;) e++;
  *is = s;
  *ie = e;
}

/* The identifier around a cue, lower-cased once for the word tests below. */
typedef struct {
  char low[192];
  size_t n;
} ident_t;

static void ident_load(ident_t *id, const char *t, uint32_t s, uint32_t e) {
  id->n = sl__lower_copy(t + s, e - s, id->low, sizeof id->low);
}

static bool ident_has(const ident_t *id, const char *w) {
  return sl__find(id->low, id->n, w, strlen(w)) != NULL;
}

enum { SEP_NONE, SEP_ASSIGN, SEP_SPACE, SEP_PROSE, SEP_ARGS };

/* Parses what follows an identifier: a separator (= : := => , ( or prose
 * "is"/"was") and a value, quoted or bare. */
static int value_after(const sl__ctx_t *c, uint32_t p, bool prose, uint32_t *vs, uint32_t *ve,
                       bool *quoted) {
  const char *t = c->text;
  uint32_t n = (uint32_t)c->len, i = p;
  int sep = SEP_NONE;
  /* an XML element: <password>value</password> (the callers pass the name's
   * end, so look for the '>' and the end tag's '<'); with attributes,
   * <password name="db">value</password>, the tag's end is further on */
  if (i < n && t[i] == ' ') {
    uint32_t b = p;
    while (b > 0 && p - b < 64 && (isalnum((unsigned char)t[b - 1]) || t[b - 1] == '_' || t[b - 1] == '-'))
      b--;
    if (b > 0 && t[b - 1] == '<') {
      uint32_t k = i;
      while (k < n && k - i < 160 && t[k] != '>' && t[k] != '<' && t[k] != '\n') k++;
      if (k < n && t[k] == '>' && t[k - 1] != '/') i = k;
    }
  }
  if (i < n && t[i] == '>' && i + 1 < n && t[i + 1] != '<') {
    uint32_t s = i + 1, k = s;
    while (k < n && t[k] != '<' && t[k] != '\n' && k - s < 256) k++;
    if (k < n && t[k] == '<' && k + 1 < n && t[k + 1] == '/') {
      while (s < k && (t[s] == ' ' || t[s] == '\t')) s++;
      uint32_t e = k;
      while (e > s && (t[e - 1] == ' ' || t[e - 1] == '\t')) e--;
      if (e > s) {
        *vs = s, *ve = e, *quoted = true; /* delimited like a literal */
        return SEP_ASSIGN;
      }
    }
    return SEP_NONE;
  }
  /* an attribute pair: <add key="SmtpPassword" value="x" />, <property
   * name="password" value="x"/> (.NET and Spring configuration files) */
  if (i < n && (t[i] == '"' || t[i] == '\'')) {
    uint32_t k = i + 1;
    while (k < n && (t[k] == ' ' || t[k] == '\t')) k++;
    if (k + 7 < n && !strncasecmp(t + k, "value=", 6) && (t[k + 6] == '"' || t[k + 6] == '\'')) {
      uint32_t s = k + 7, e = s;
      while (e < n && t[e] != t[k + 6] && t[e] != '\n' && e - s < 256) e++;
      if (e < n && t[e] == t[k + 6] && e > s) {
        *vs = s, *ve = e, *quoted = true;
        return SEP_ASSIGN;
      }
    }
  }
  if (i + 1 < n && t[i] == '\\' && t[i + 1] == '"') i++; /* JSON inside a string: \"password\": */
  if (i < n && (t[i] == '"' || t[i] == '\'' || t[i] == '`')) i++; /* "password": */
  if (i < n && t[i] == ']') i++;                                  /* ['password'] = */
  while (i < n && (t[i] == ' ' || t[i] == '\t')) i++;
  bool gap = i > p && (t[i - 1] == ' ' || t[i - 1] == '\t');
  bool colon = i < n && t[i] == ':' && (i + 1 >= n || t[i + 1] != '=');
  /* (a comparison with a literal gives the literal away too: pw != "x6s7d") */
  if (i + 1 < n && ((t[i] == ':' && t[i + 1] == '=') || (t[i] == '=' && t[i + 1] == '>') ||
                    (t[i] == '=' && t[i + 1] == '=') || (t[i] == '!' && t[i + 1] == '=')))
    sep = SEP_ASSIGN, i += 2;
  else if (i < n && (t[i] == '=' || t[i] == ':'))
    sep = SEP_ASSIGN, i++;
  else if (i < n && (t[i] == ',' || t[i] == '('))
    sep = SEP_ARGS, i++;
  else if (gap)
    sep = SEP_SPACE;
  else
    return SEP_NONE; /* glued to what closes the name: "`os.environ["KEY"]` and ..." */
  while (i < n && (t[i] == ' ' || t[i] == '\t')) i++;
  /* a typed declaration: "password: String = \"x\"", "passwd: str = 'x'" */
  if (sep == SEP_ASSIGN && colon) {
    uint32_t k = i;
    while (k < n && k - i < 40 && (isalnum((unsigned char)t[k]) || strchr("_.<>?[]", t[k]))) k++;
    uint32_t q = k;
    while (q < n && t[q] == ' ') q++;
    if (k > i && q + 1 < n && t[q] == '=' && t[q + 1] != '=') {
      q++;
      while (q < n && t[q] == ' ') q++;
      if (q < n && (t[q] == '"' || t[q] == '\'')) i = q;
    }
  }
  if (prose && sep != SEP_ASSIGN) {
    /* "password is X", "password attempt string revealed: 'X'", "password was set to X" */
    static const char *const fill[] = {"is", "was", "were", "are", "set", "to", "of", "attempt",
                                       "string", "revealed", "used", "reads", "remains",
                                       "became", "as", "be", "changed", "reset", "now", "this",
                                       "morning", "afternoon", "today", "yesterday", "earlier",
                                       "again", "temporarily", "es", "ist", "est",
                                       /* the adjective after the word: "clave nueva: X" */
                                       "nueva", "nuevo", "nouveau", "nouvelle", "nova", "novo",
                                       "nuova", "neue", "neues", "temporal", "temporaire",
                                       "provisoire", "provisória", "temporária", "temporanea",
                                       NULL};
    for (int round = 0; round < 5; round++) {
      bool moved = false;
      for (const char *const *f = fill; *f; f++) {
        size_t m = strlen(*f);
        if (i + m < n && !strncasecmp(t + i, *f, m) && !isalnum((unsigned char)t[i + m])) {
          i += (uint32_t)m;
          while (i < n && (t[i] == ' ' || t[i] == ':')) i++;
          sep = SEP_PROSE;
          moved = true;
          break;
        }
      }
      if (!moved) break;
    }
    if (i < n && t[i] == ':') i++;
    while (i < n && t[i] == ' ') i++;
  }
  if (sep == SEP_ARGS) {
    /* f("user", "secret"): take the last quoted argument of the call, unless an
     * argument that is no literal follows it (set_password("service", user, pw):
     * the secret is not written here); numbers (a port) and an options array
     * or object (new PDO(dsn, "u", "pw", [ ... ])) may follow */
    uint32_t best_s = 0, best_e = 0;
    for (int arg = 0; arg < 6 && i < n; arg++) {
      while (i < n && (t[i] == ' ' || t[i] == ',')) i++;
      if (i >= n || t[i] == ')' || t[i] == '\n') break;
      if (t[i] == '"' || t[i] == '\'') {
        uint32_t next = quoted_at(t, n, i, &best_s, &best_e);
        if (!next) { /* unclosed: the literals before it stand, or a cut-off */
          uint32_t k = i + 1; /* last argument that runs to the line's end */
          while (k < n && !sl__space((unsigned char)t[k]) && t[k] != '"' && t[k] != '\'') k++;
          if (k - i > 16 && (k == n || t[k] == '\n')) {
            *vs = i + 1, *ve = k, *quoted = false;
            return sep;
          }
          break;
        }
        i = next;
        while (i < n && (t[i] == ' ' || t[i] == '\t')) i++;
        /* after a comma another argument; at a ')', a line's end or, past a
         * gap, a word ("'API_KEY', 'a3f…'\tAPI_KEY") the list is over; an
         * operator ("pw" + x) or a glued ':' ("pass", "payment": {) means
         * the literal is no argument of this call */
        if (i >= n || t[i] == ',' || t[i] == ')' || t[i] == '\n') continue;
        if (i == next || strchr("+.%:=?&|*", t[i])) return SEP_NONE;
        break;
      }
      uint32_t a = i;
      int depth = 0;
      while (i < n && i - a < 256 && t[i] != '\n' && (depth > 0 || (t[i] != ',' && t[i] != ')'))) {
        depth += t[i] == '(' ? 1 : t[i] == ')' ? -1 : 0;
        i++;
      }
      bool number = sl__count_digits(t + a, i - a) == i - a;
      bool options = t[a] == '[' || t[a] == '{';
      if (best_e > best_s && !number && !options) return SEP_NONE;
    }
    if (best_e <= best_s) return SEP_NONE;
    *vs = best_s, *ve = best_e, *quoted = true;
    return sep;
  }
  /* JSON inside a string: \"password\":\"value\" */
  if (i + 2 < n && t[i] == '\\' && t[i + 1] == '"') {
    uint32_t k = i + 2;
    while (k + 1 < n && k - i < 256 && t[k] != '\n' && !(t[k] == '\\' && t[k + 1] == '"')) k++;
    if (k + 1 >= n || t[k] != '\\' || k == i + 2) return SEP_NONE;
    *vs = i + 2, *ve = k, *quoted = true;
    return sep;
  }
  /* Python's b'...' / r"..." / f"..." literals */
  if (i + 1 < n && strchr("bBrRuUfF", t[i]) && (t[i + 1] == '"' || t[i + 1] == '\'')) i++;
  if (i < n && (t[i] == '"' || t[i] == '\'' || t[i] == '`')) {
    if (!quoted_at(t, n, i, vs, ve)) return SEP_NONE;
    *quoted = true;
    return sep;
  }
  uint32_t s = i;
  /* (a backtick before a space or the end closes inline code: "`password = x` works") */
  while (i < n && !sl__space((unsigned char)t[i]) && t[i] != '"' && t[i] != '\'' &&
         !(t[i] == '`' && (i + 1 == n || sl__space((unsigned char)t[i + 1]) ||
                           ispunct((unsigned char)t[i + 1]))) &&
         i - s < 256)
    i++;
  while (i > s && strchr(",;)}]>.?", t[i - 1])) i--; /* "the password field?" */
  if (i == s) return SEP_NONE;
  *vs = s, *ve = i, *quoted = false;
  return sep;
}

static bool identifier_like(const char *s, size_t n) {
  /* a bare word that names something (variable, type, keyword), not a literal;
   * letters outside ASCII count as letters ("est expiré" is a word too) */
  size_t dg = 0, other = 0;
  for (size_t i = 0; i < n; i++) {
    if (isdigit((unsigned char)s[i])) dg++;
    else if (!isalpha((unsigned char)s[i]) && s[i] != '_' && (unsigned char)s[i] < 0x80)
      other++;
  }
  return dg == 0 && other == 0;
}

/* A fake key's fill: one letter or digit, four bytes in five or more
 * ("aaaaaaaa…", "00aaaa…"); masks (x, 0, *) are placeholders already. */
static bool one_byte_fill(const char *s, size_t n) {
  size_t same = 0;
  for (size_t i = 0; i < n; i++) same += s[i] == s[n / 2];
  return isalnum((unsigned char)s[n / 2]) && same * 5 >= n * 4;
}

/* Letters, digits and + / = _ - only: what keys are written in. */
static bool key_alphabet(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)s[i]) && !strchr("+/=_-", s[i])) return false;
  return true;
}

/* 4 to 12 digits, maybe with a '*' or '#' of a keypad at the end. */
static bool pin_digits(const char *v, size_t n) {
  while (n && (v[n - 1] == '*' || v[n - 1] == '#')) n--;
  if (n < 4 || n > 12) return false;
  for (size_t i = 0; i < n; i++)
    if (!isdigit((unsigned char)v[i])) return false;
  return true;
}

/* Letters only, but no name a programmer would write: three or more of its
 * camel-case parts are no English word ("VdrPsnBpbikxMyn"; not "getUserPwd",
 * "mysqlPasswd"). */
static bool random_letters(const char *s, size_t n) {
  if (n < 10 || n > 64) return false;
  size_t parts = 0, unknown = 0, k = 0;
  while (k < n) {
    size_t b = k++;
    while (k < n && !(s[k] >= 'A' && s[k] <= 'Z') && s[k] != '_') k++;
    char w[64];
    size_t m = 0;
    for (size_t q = b; q < k; q++)
      if (s[q] != '_') w[m++] = (char)tolower((unsigned char)s[q]);
    if (k < n && s[k] == '_') k++;
    if (m < 3) continue;
    parts++;
    unknown += !sl__lexicon_has(w, m);
  }
  return parts >= 3 && unknown >= 3;
}

/* A reference to a value, not a value: "random_password.db.result",
 * "var.db_password", "config.password" (bare identifiers joined by dots). */
static bool dotted_reference(const char *s, size_t n) {
  if (!memchr(s, '.', n)) return false;
  static const char *const roots[] = {"var", "vars", "local", "locals", "data", "module", "config",
                                      "settings", "env", "cfg", "conf", "args", "params",
                                      "options", "opts", "secrets", "input", "inputs", "props",
                                      "process", "os", "app", NULL};
  size_t parts = 0, first = 0, start = 0;
  for (size_t i = 0; i <= n; i++) {
    if (i < n && s[i] != '.') continue;
    if (i == start || !identifier_like(s + start, i - start)) return false;
    if (!parts) first = i;
    parts++;
    start = i + 1;
  }
  if (parts >= 3) return true;
  if (parts != 2) return false;
  for (const char *const *r = roots; *r; r++)
    if (strlen(*r) == first && !strncmp(s, *r, first)) return true;
  /* a member of a camelCase object: "passwordBox.SecurePassword" */
  for (size_t i = 1; i < first; i++)
    if (islower((unsigned char)s[i - 1]) && isupper((unsigned char)s[i])) return true;
  return false;
}

static bool code_expr(const char *s, size_t n) {
  return memchr(s, '(', n) || memchr(s, '[', n) || memchr(s, '{', n) ||
         (n > 5 && !strncmp(s, "this.", 5)) || (n > 5 && !strncmp(s, "self.", 5)) ||
         dotted_reference(s, n);
}

/* "login: alice / S3cret!" or "login alice:S3cret!": user, then a separator, then
 * the password (only when it does not look like a plain word). */
static void login_pair(sl__ctx_t *c, uint32_t p) {
  const char *t = c->text;
  uint32_t n = (uint32_t)c->len, i = p;
  /* server.login("alerts-bot", "SPKUoXFtro..."): the last literal argument */
  if (i < n && t[i] == '(') {
    uint32_t vs, ve;
    bool quoted = false;
    if (value_after(c, i, false, &vs, &ve, &quoted) == SEP_ARGS && ve - vs >= 4 &&
        !sl__is_placeholder(t + vs, ve - vs) && memchr(t + i, ',', vs - i))
      add_secret(c, vs, ve, SL_ET_PASSWORD, "login_pair", 70, true);
    return;
  }
  /* "the admin login for the office router is admin / copper-meadow-river-49":
   * the pair may come a few words later on the line, after "is" */
  for (uint32_t k = i; k < n && k < i + 60 && t[k] != '\n'; k++)
    if (k + 4 < n && (t[k] == ' ' || t[k] == ':') && !strncasecmp(t + k + 1, "is ", 3) && k > i) {
      i = k + 1;
      break;
    }
  if (i < n && t[i] == ':') i++;
  while (i < n && (t[i] == ' ' || t[i] == '\t')) i++;
  /* "login is admin / X" */
  if (i + 3 < n && (!strncasecmp(t + i, "is ", 3) || !strncasecmp(t + i, "was ", 4))) {
    i += t[i] == 'i' || t[i] == 'I' ? 3 : 4;
    while (i < n && t[i] == ' ') i++;
  }
  uint32_t us = i;
  while (i < n && (isalnum((unsigned char)t[i]) || t[i] == '_' || t[i] == '.' || t[i] == '-' || t[i] == '@'))
    i++;
  if (i == us || i - us > 64) return;
  uint32_t j = i;
  while (j < n && t[j] == ' ') j++;
  if (j >= n || (t[j] != '/' && t[j] != ':')) return;
  j++;
  while (j < n && t[j] == ' ') j++;
  uint32_t vs = j;
  while (j < n && !isspace((unsigned char)t[j]) && t[j] != '"' && t[j] != '\'' && j - vs < 128) j++;
  while (j > vs && strchr(",;)", t[j - 1])) j--;
  if (j - vs < 4 || identifier_like(t + vs, j - vs)) return;
  add_secret(c, vs, j, SL_ET_PASSWORD, "login_pair", 70, true);
}

/* A regular expression, not a value: a character class or a counted repeat. */
static bool regex_like(const char *v, size_t n) {
  static const char *const marks[] = {"[A-Z", "[a-z", "[0-9", "\\d", "\\w", "\\s", "]{", "]+", ".*", NULL};
  for (const char *const *m = marks; *m; m++)
    if (sl__find(v, n, *m, strlen(*m))) return true;
  return false;
}

/* What a name points at, not a secret: a path ("/docs/…/password"), a resource
 * name ("arn:aws:kms:…", "projects/…"). */
static bool resource_ref(const char *v, size_t n) {
  return (n > 8 && v[0] == '/' && memchr(v + 1, '/', n - 1)) || (n > 4 && !strncmp(v, "arn:", 4)) ||
         (n >= 9 && !strncmp(v, "projects/", 9));
}

static bool path_like(const char *v, size_t n) {
  for (size_t k = 0; k < n; k++)
    if (!isalnum((unsigned char)v[k]) && !strchr("/._-~", v[k])) return false;
  return true;
}

/* The cue is the word password in another language ("mot_de_passe", "Kennwort"):
 * none of the English cue words starts it. */
static bool foreign_pw(const sl__ctx_t *c, const sl__hit_t *h) {
  static const char *const english[] = {"pass", "pwd", "cred", "pin", "log", "pw", NULL};
  const char *w = c->text + h->start;
  size_t n = h->end - h->start;
  for (const char *const *e = english; *e; e++)
    if (n >= strlen(*e) && !strncasecmp(w, *e, strlen(*e))) return false;
  return true;
}

/* A value that looks like a password on its own: 8 to 64 bytes with a letter
 * and a digit, and a symbol or both cases ("Wk8!feR_tanne42", "Tulpenveld-2024!x");
 * not a URL, an e-mail address or a placeholder. */
static bool strong_value(const char *v, size_t n) {
  if (n < 8 || n > 64) return false;
  bool al = false, dg = false, up = false, lo = false, sym = false;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)v[i];
    if (isdigit(ch)) dg = true;
    else if (isupper(ch)) al = up = true;
    else if (islower(ch)) al = lo = true;
    else if (ch > 32 && ch < 127) sym = true;
  }
  if (!(al && dg && (sym || (up && lo)))) return false;
  const char *at = memchr(v, '@', n); /* an e-mail address: '@' and a dot after it */
  return !(at && memchr(at, '.', n - (size_t)(at - v))) && !sl__find(v, n, "://", 3) &&
         !sl__is_placeholder(v, n);
}

/* "Please use the following password to proceed to installation:" and the
 * value alone on one of the next lines (Jenkins' initial admin password, a
 * generated one in a setup log): the cue's line ends with ':' at most 120 bytes
 * on, then at most one blank line, then one token of letters and digits
 * (8-128 bytes) that fills its line. */
static bool next_line_value(const sl__ctx_t *c, uint32_t p, uint32_t *vs, uint32_t *ve) {
  const char *t = c->text;
  uint32_t k = p;
  while (k < c->len && t[k] != '\n' && k - p < 120) k++;
  uint32_t le = k;
  while (le > p && (t[le - 1] == ' ' || t[le - 1] == '\t' || t[le - 1] == '\r')) le--;
  if (k >= c->len || t[k] != '\n' || le == 0 || t[le - 1] != ':') return false;
  for (int blank = 0; blank < 3; blank++) { /* the cue's newline, then at most one blank line */
    if (k >= c->len || t[k] != '\n') return false;
    k++;
    while (k < c->len && (t[k] == ' ' || t[k] == '\t' || t[k] == '\r')) k++;
    if (k < c->len && t[k] != '\n') break;
    if (blank == 2) return false;
  }
  uint32_t s0 = k;
  bool al = false, dg = false;
  while (k < c->len && (unsigned char)t[k] > ' ' && k - s0 <= 128) {
    unsigned char ch = (unsigned char)t[k++];
    if (isdigit(ch)) dg = true;
    else if (isalpha(ch)) al = true;
    else if (!strchr("+/=_-.!@#$%^&*~", ch)) return false;
  }
  uint32_t e0 = k;
  while (k < c->len && (t[k] == ' ' || t[k] == '\t' || t[k] == '\r')) k++;
  if ((k < c->len && t[k] != '\n') || e0 - s0 < 8 || e0 - s0 > 128 || !al || !dg ||
      sl__is_placeholder(t + s0, e0 - s0))
    return false;
  *vs = s0, *ve = e0;
  return true;
}

/* Does the line, before `at`, run one of `tools` (a name that starts a word,
 * any case)? The password flags of psexec and sshpass ("psexec \\\\host -u
 * admin -p mypass", "sshpass -p hunter2 ssh ...") take the password itself, and
 * a MySQL client's (mysql, mysqldump, mysqladmin, …) takes it glued: -pS3cret
 * (its "-p dbname" prompts for it and names the database). */
static bool line_runs(const sl__ctx_t *c, uint32_t at, const char *const *tools) {
  uint32_t ls = at;
  while (ls > 0 && c->text[ls - 1] != '\n' && at - ls < 512) ls--;
  char low[512];
  size_t m = sl__lower_copy(c->text + ls, at - ls, low, sizeof low);
  for (; *tools; tools++) {
    size_t k = strlen(*tools);
    for (const char *p = low; (p = sl__find(p, m - (size_t)(p - low), *tools, k)) != NULL; p += k)
      if (p == low || !isalnum((unsigned char)p[-1])) return true;
  }
  return false;
}
static const char *const pw_tools[] = {"psexec", "sshpass", NULL};
static const char *const mysql_tools[] = {"mysql", NULL};

/* A bare argument that is a literal, not a variable or the field's name:
 * "mypass", not "$Password", "%PW%" or "PASSWORD". */
static bool literal_word(const char *v, size_t n) {
  if (n < 4 || strchr("$%{<[(", v[0]) || sl__is_placeholder(v, n)) return false;
  for (size_t i = 0; i < n; i++)
    if (islower((unsigned char)v[i]) || isdigit((unsigned char)v[i])) return true;
  return false; /* all upper case: the field's name */
}

/* Constants, never a password: 'Access-Control-Allow-Credentials' = 'true'. */
static const char *const constants[] = {"true", "false", "null", "none", "nil", "undefined", NULL};

/* A bare PHP word as a value: lower-case letters and digits right before the
 * statement's ';', not a constant (null, true, false). */
static bool php_bareword(const char *t, uint32_t s, uint32_t e, size_t n) {
  if (e >= n || t[e] != ';' || e - s < 4 || sl__word_in(t + s, e - s, constants)) return false;
  for (uint32_t i = s; i < e; i++)
    if (!islower((unsigned char)t[i]) && !isdigit((unsigned char)t[i])) return false;
  return true;
}

/* The argument at i (quoted or bare) on this line: [*s, *e). */
static bool cli_arg(const sl__ctx_t *c, uint32_t i, uint32_t *s, uint32_t *e) {
  const char *t = c->text;
  uint32_t n = (uint32_t)c->len;
  while (i < n && t[i] == ' ') i++;
  if (i < n && (t[i] == '\'' || t[i] == '"')) return quoted_at(t, n, i, s, e) && *e > *s;
  uint32_t k = i;
  while (k < n && !sl__space((unsigned char)t[k]) && t[k] != '|' && t[k] != ';' && k - i < 256) k++;
  *s = i, *e = k;
  return k > i;
}

/* A key passed to an API client's constructor: LinodeClient("ebd397e3..."),
 * PostmarkClient("f9747230-31d1-..."), APISession("u+8Eol8p5Q..."),
 * algoliasearch('O41ALRK1CO', '4b061f44...'): each literal argument that is
 * long and random, hex of 32+ or a UUID. */
static void client_key(sl__ctx_t *c, const sl__hit_t *h) {
  const char *t = c->text;
  uint32_t i = h->end - 1, n = (uint32_t)c->len;
  for (int arg = 0; arg < 4 && i < n; arg++) {
    while (i < n && (t[i] == ' ' || t[i] == ',' || t[i] == '\n')) i++;
    uint32_t s, e;
    if (i >= n || (t[i] != '"' && t[i] != '\'') || !(i = quoted_at(t, n, i, &s, &e))) return;
    uint32_t m = e - s;
    bool key = m >= 16 && !memchr(t + s, ' ', m) && !memchr(t + s, '/', m) &&
               ((m >= 32 && sl__hex_only(t + s, m)) || uuid_shape(t + s, m) ||
                sl__looks_random(t + s, m, false));
    if (key && !sl__is_placeholder(t + s, m))
      add_secret(c, s, s + m, SL_ET_API_KEY, "client_key", 70, true);
  }
}

/* Passwords on a command line: "mysql -u root -p'S3cr3t'" (the quoted value
 * glued to -p), "curl -u key:secret" (after the colon), and "echo 'secret' |
 * docker login --password-stdin" (what is echoed into the login). */
#define PGPASS_MAX 256
static void cli_password(sl__ctx_t *c, const sl__hit_t *h) {
  const char *t = c->text;
  uint32_t s, e;
  char last = t[h->end - 1];
  if (last == ':') { /* host:5432:database:user:password, one word ("~/.pgpass: host:5432:...") */
    uint32_t ls = h->start, le = h->end;
    /* a word of at most PGPASS_MAX bytes each side: a long colon run is no
     * .pgpass line, and looking further made a line of hits quadratic */
    while (ls > 0 && h->start - ls < PGPASS_MAX && !sl__space((unsigned char)t[ls - 1])) ls--;
    while (le < c->len && le - h->end < PGPASS_MAX && !sl__space((unsigned char)t[le])) le++;
    if ((ls > 0 && !sl__space((unsigned char)t[ls - 1])) || (le < c->len && !sl__space((unsigned char)t[le])))
      return;
    const char *f[5];
    int nf = 0;
    for (uint32_t i = ls; i < le && nf <= 5; i++)
      if (i == ls || t[i - 1] == ':') {
        if (nf < 5) f[nf] = t + i;
        nf++;
      }
    if (nf != 5 || f[1] != t + h->start + 1 || f[0] == t + h->start) return;
    s = (uint32_t)(f[4] - t), e = le;
    if (e - s < 4) return; /* "*", short or empty */
  } else if (last == '(') { /* auth=("user", "pw"), new PDO(dsn, "user", "pw") */
    uint32_t vs, ve;
    bool quoted = false;
    if (value_after(c, h->end - 1, false, &vs, &ve, &quoted) != SEP_ARGS) return;
    uint32_t k = vs - 1; /* the opening quote: another argument before it */
    while (k > h->end && t[k - 1] == ' ') k--;
    if (k <= h->end || t[k - 1] != ',') return;
    s = vs, e = ve;
    if (e - s < 4) return;
  } else if (h->end - h->start == 4 && (!strncmp(t + h->start, " -p ", 4) ||
                                         !strncmp(t + h->start, " -a ", 4))) { /* -p / -a secret */
    if (!cli_arg(c, h->end, &s, &e)) return;
    if (!strong_value(t + s, e - s) && !(t[h->start + 2] == 'p' && line_runs(c, h->start, pw_tools) &&
                                        literal_word(t + s, e - s)))
      return;
  } else if (h->end - h->start == 3 && last == 'p') { /* mysql -pS3cret: glued, bare */
    if (h->end >= c->len || !isalnum((unsigned char)t[h->end]) || !line_runs(c, h->start, mysql_tools)) return;
    if (!cli_arg(c, h->end, &s, &e) || e - s < 4 || !literal_word(t + s, e - s)) return;
  } else if (last == '\'' || last == '"') { /* -p'...' */
    if (!cli_arg(c, h->end - 1, &s, &e) || e - s < 4) return;
  } else if (last == ' ') { /* -u / --user user:secret */
    uint32_t as, ae;
    if (!cli_arg(c, h->end, &as, &ae)) return;
    const char *colon = memchr(t + as, ':', ae - as);
    if (!colon) return;
    s = (uint32_t)(colon + 1 - t), e = ae;
    if (e - s < 6) return;
  } else { /* --password-stdin: the echo before the pipe on this line */
    uint32_t ls = h->start;
    while (ls > 0 && t[ls - 1] != '\n') ls--;
    const char *echo = sl__find(t + ls, h->start - ls, "echo ", 5);
    if (!echo || !cli_arg(c, (uint32_t)(echo + 5 - t), &s, &e) || e - s < 4) return;
    if (t[s] == '$' || t[s] == '-') return; /* echo "$PASSWORD", echo -n */
  }
  if (sl__is_placeholder(t + s, e - s)) return;
  add_secret(c, s, e, SL_ET_PASSWORD, "cli_password", 75, true);
}

/* After a password word, the value a few words on, behind a verb that gives it
 * ("... lautet ab heute X", "... is nu X", "... agora é X", "... to X"), in the
 * same sentence (at most 14 words), when it looks like a password on its own. */
/* A bare key in prose ("the token is X"): 16+ random bytes with letters and digits. */
static bool prose_key(const char *v, size_t m) {
  size_t dg = 0, al = 0;
  for (size_t k = 0; k < m; k++) {
    dg += isdigit((unsigned char)v[k]) != 0;
    al += isalpha((unsigned char)v[k]) != 0;
  }
  return m >= 16 && dg && al && sl__looks_random(v, m, false);
}

/* key: the value is a key (prose_key), not a password (strong_value). */
static bool far_value(const sl__ctx_t *c, uint32_t p, bool key, uint32_t *vs, uint32_t *ve) {
  static const char *const verbs[] = {"is", "es", "é", "est", "ist", "lautet", "er", "är", "jest",
                                      "to", "je", "on", "era", "sera", "será", "è", "wordt",
                                      "são", "sind", "c'est", "it's", NULL};
  /* (and what says it changed: "è cambiata di nuovo: adesso è X") */
  static const char *const adverbs[] = {"now", "nu", "agora", "ahora", "ab", "heute", "jetzt",
                                        "maintenant", "teraz", "ora", "adesso", "today", "hoy",
                                        "hoje", "vandaag", "changed", "again", "cambiata",
                                        "cambiato", "cambiada", "cambiado", "changé", "changée",
                                        "geändert", "alterada", "alterado", "di", "nuovo", "de",
                                        "nouveau", "nuevo", "novo", "neu", "still", "ancora",
                                        "toujours", NULL};
  const char *t = c->text;
  uint32_t n = (uint32_t)c->len, i = p;
  bool after_verb = false, said = false; /* said: after a verb, not only a label's ':' */
  if (p > 0 && (t[p - 1] == '.' || t[p - 1] == '?' || t[p - 1] == '!')) return false; /* "password." */
  for (int words = 0; words < 14 && i < n; words++) {
    while (i < n && (t[i] == ' ' || t[i] == '\t' || t[i] == ',' || t[i] == ':')) i++;
    if (i >= n || t[i] == '\n') return false;
    uint32_t s = i;
    while (i < n && !sl__space((unsigned char)t[i])) i++;
    uint32_t e = i; /* the word without its trailing punctuation */
    while (e > s && strchr(".,;:)!?", t[e - 1])) e--;
    bool verb = sl__word_in(t + s, e - s, verbs);
    if (after_verb && !verb && !sl__word_in(t + s, e - s, adverbs)) {
      /* a quoted value is a literal however plain: "the password for user
       * 'postgres' is 'admin'" (not a word about the password: 'required') */
      static const char *const about[] = {"required", "optional", "empty", "blank", "hidden",
                                          "masked", "invalid", "incorrect", "wrong", "correct",
                                          "mandatory", "secret", NULL};
      if (said && e - s >= 5 && (t[s] == '\'' || t[s] == '"' || t[s] == '`') && t[e - 1] == t[s] &&
          !memchr(t + s + 1, t[s], e - s - 2) && !sl__word_in(t + s + 1, e - s - 2, about) &&
          !sl__is_placeholder(t + s + 1, e - s - 2)) {
        *vs = s + 1, *ve = e - 1;
        return true;
      }
      /* the value keeps a '!' of its own, not a sentence's period or comma */
      uint32_t ve2 = i;
      while (ve2 > s && strchr(".,;:)", t[ve2 - 1])) ve2--;
      if (key ? prose_key(t + s, ve2 - s) && !sl__is_placeholder(t + s, ve2 - s) : strong_value(t + s, ve2 - s)) {
        *vs = s, *ve = ve2;
        return true;
      }
      /* a word about it ("is still the one she set: X"): a ':' may yet give the value */
      after_verb = false;
    }
    said |= verb;
    if (verb || t[i - 1] == ':') after_verb = true; /* "... nueva: X", "mudou: agora é X" */
    else if (t[i - 1] == '.' || t[i - 1] == '?') return false; /* the sentence ended */
  }
  return false;
}

/* After the word in Japanese, Korean or Chinese (no spaces around it): the
 * value in 「」 or quotes, or after a colon, within 32 bytes
 * ("新しいパスワードは「Kx9!mB2#qR7w」です"). */
static bool cjk_value(const sl__ctx_t *c, uint32_t p, uint32_t *vs, uint32_t *ve) {
  const unsigned char *t = (const unsigned char *)c->text;
  uint32_t n = (uint32_t)c->len, lim = p + 32 < n ? p + 32 : n;
  for (uint32_t i = p; i < lim; i++) {
    uint32_t s = 0;
    if (i + 2 < n && t[i] == 0xE3 && t[i + 1] == 0x80 && t[i + 2] == 0x8C) s = i + 3; /* 「 */
    else if (i + 2 < n && t[i] == 0xEF && t[i + 1] == 0xBC && t[i + 2] == 0x9A) s = i + 3; /* ： */
    else if (t[i] == ':' || t[i] == '"' || t[i] == '\'' || t[i] == ' ') s = i + 1;
    else if (t[i] == '\n') return false;
    if (!s) continue;
    while (s < n && t[s] == ' ') s++;
    uint32_t e = s;
    while (e < n && e - s < 64 && t[e] > ' ' && t[e] < 0x80 && t[e] != '"' && t[e] != '\'') e++;
    if (!strong_value(c->text + s, e - s)) {
      if (t[i] == ' ') continue; /* "密码已经改成 X 了": words before the value */
      return false;
    }
    *vs = s, *ve = e;
    return true;
  }
  return false;
}

/* The key at is..ie is one pair of a database connection string, where every
 * value is a literal: "Server=db1;Database=sales;User Id=app;Password=hunter;"
 * — another pair of the same string names a connection setting. */
static const char *const conn_keys[] = {
    "server", "data source", "datasource", "host", "hostname", "address", "addr",
    "database", "initial catalog", "dbname", "uid", "user id", "userid", "user",
    "username", "provider", "driver", "dsn", "port", "network library", "network_library",
    "trusted_connection", "integrated security", "sslmode", "encrypt", "persist security info",
    NULL};

/* The '=' at i (within ls..) ends a pair whose key names a connection setting. */
static bool conn_pair(const char *t, uint32_t ls, uint32_t i) {
  uint32_t e = i, b = i;
  while (b > ls && (isalpha((unsigned char)t[b - 1]) || t[b - 1] == ' ' || t[b - 1] == '_') && e - b < 24) b--;
  while (b < e && t[b] == ' ') b++;
  while (e > b && t[e - 1] == ' ') e--;
  return e > b && (b == ls || (t[b - 1] && strchr(";\"'{( ", t[b - 1]))) && sl__word_in(t + b, e - b, conn_keys);
}

#define CONN_SPAN 256 /* bytes looked at either side of the key */
#define CONN_PAIRS 16 /* pairs looked at either side: a string has a handful */

static bool conn_string(const sl__ctx_t *c, uint32_t is, uint32_t ie) {
  const char *t = c->text;
  if (ie >= c->len || t[ie] != '=') return false;
  uint32_t ls = is, le = ie; /* the line, at most CONN_SPAN bytes either side */
  while (ls > 0 && is - ls < CONN_SPAN && t[ls - 1] != '\n') ls--;
  while (le < c->len && le - ie < CONN_SPAN && t[le] != '\n') le++;
  /* the key opens a pair: after ';', a quote or the line's start */
  uint32_t k = is;
  while (k > ls && t[k - 1] == ' ') k--;
  if (k > ls && !(t[k - 1] && strchr(";\"'{(", t[k - 1]))) return false;
  /* a ';' and a named pair, the nearest pairs first (after the key, then
   * before it), so that a line of thousands of pairs costs each key little */
  bool semi = false, named = false;
  int pairs = 0;
  for (uint32_t i = ie + 1; i < le && pairs < CONN_PAIRS && !(semi && named); i++) {
    if (t[i] == ';') semi = true;
    if (t[i] == '=' && ++pairs && conn_pair(t, ls, i)) named = true;
  }
  pairs = 0;
  for (uint32_t i = is; i > ls && pairs < CONN_PAIRS && !(semi && named); i--) {
    if (t[i - 1] == ';') semi = true;
    if (t[i - 1] == '=' && ++pairs && conn_pair(t, ls, i - 1)) named = true;
  }
  return semi && named;
}

/* Does w split into two or more English words ("correcthorsebatterystaple",
 * "ilovemydog")? Pieces of three letters or more, or a few short ones. */
static bool words_run_together(const char *w, size_t n) {
  static const char *const short_words[] = {"i", "a", "my", "me", "to", "in", "of", "is", "it",
                                            "on", "we", "up", "go", "no", "be", "do", NULL};
  uint8_t pieces[41] = {0}; /* pieces[k]: fewest words making w[0..k), 0 none */
  pieces[0] = 1;
  for (size_t k = 1; k <= n; k++)
    for (size_t b = 0; b < k; b++) {
      if (!pieces[b] || (pieces[k] && pieces[k] <= pieces[b] + 1)) continue;
      bool word = k - b >= 3 ? sl__lexicon_has(w + b, k - b) : sl__word_in(w + b, k - b, short_words);
      if (word) pieces[k] = (uint8_t)(pieces[b] + 1);
    }
  return pieces[n] >= 3; /* the start counts one: two words or more */
}

/* "my password is correcthorsebatterystaple": English words run together in
 * lower case, ending the sentence, which is no word itself ("expired",
 * "incorrect": what the password is like, not what it is). */
static bool passphrase(const sl__ctx_t *c, uint32_t vs, uint32_t ve) {
  if (ve - vs < 10 || ve - vs > 40) return false;
  for (uint32_t k = vs; k < ve; k++)
    if (c->text[k] < 'a' || c->text[k] > 'z') return false;
  if (ve < c->len && !strchr(".,;!?)\n\r\t ", c->text[ve])) return false;
  if (ve < c->len && c->text[ve] == ' ') { /* then no more words of the sentence */
    uint32_t k = ve;
    while (k < c->len && c->text[k] == ' ') k++;
    if (k < c->len && isalpha((unsigned char)c->text[k]) && islower((unsigned char)c->text[k]))
      return false;
  }
  return !sl__lexicon_has(c->text + vs, ve - vs) && words_run_together(c->text + vs, ve - vs);
}

/* What a schema or a form says of a field, not its value: "password: String",
 * "password: required" */
static const char *const schema_words[] = {
    "string", "str", "text", "required", "optional", "hidden", "secret", "password", "boolean",
    "bool", "number", "integer", "int", "any", "object", "char", "varchar", "bytes", "type",
    "field", "input", "value", "empty", "blank", "unset", "masked", "redacted", NULL};
/* The assignment at is..ie is a line of a config file, where a bare word is a
 * literal: an environment file's "DB_PASSWORD=whiteduke" (an upper-case name
 * and '=' with no space), an INI file's "password = open_sesame" a line or
 * two after "user = aladdin", or a pair of a connection string. */
static bool config_line(const sl__ctx_t *c, uint32_t is, uint32_t ie) {
  const char *t = c->text;
  if (conn_string(c, is, ie)) return true;
  bool upper = ie > is;
  for (uint32_t k = is; k < ie; k++)
    upper &= isupper((unsigned char)t[k]) || isdigit((unsigned char)t[k]) || t[k] == '_';
  bool shell_eq = ie + 1 < c->len && t[ie] == '=' && t[ie + 1] != ' ' && t[ie + 1] != '=';
  if (upper && shell_eq) return true;
  uint32_t ls = is; /* the key starts its line */
  if (ls >= 7 && !strncmp(t + ls - 7, "export ", 7)) ls -= 7;
  while (ls > 0 && (t[ls - 1] == ' ' || t[ls - 1] == '\t')) ls--;
  if (ls > 0 && t[ls - 1] != '\n') return false;
  /* a shell's or an env file's line, "password=sunshine": '=' with no space
   * around it at the start of a line makes the word a literal (but a name in
   * camel case, "password=getUserPassword", is code's) */
  if (shell_eq) {
    bool camel = false;
    for (uint32_t k = ie + 2; k < c->len && !isspace((unsigned char)t[k]); k++)
      camel |= isupper((unsigned char)t[k]) && islower((unsigned char)t[k - 1]);
    if (!camel) return true;
  }
  static const char *const users[] = {"user", "username", "login", "user_name", "uid", NULL};
  for (int back = 0; back < 3 && ls > 0; back++) { /* the lines before it */
    uint32_t e = ls - 1, b = e;
    while (b > 0 && t[b - 1] != '\n') b--;
    while (b < e && (t[b] == ' ' || t[b] == '\t')) b++;
    uint32_t k = b;
    while (k < e && (isalnum((unsigned char)t[k]) || t[k] == '_')) k++;
    uint32_t q = k;
    while (q < e && t[q] == ' ') q++;
    /* "user = alice", "username: root", "username root" (the last two with a
     * value in lower case that no schema writes: not "user: String,") */
    if (k > b && q < e && sl__word_in(t + b, k - b, users)) {
      if (t[q] == '=') return true;
      uint32_t v = q + (t[q] == ':');
      while (v < e && t[v] == ' ') v++;
      uint32_t ve = v;
      while (ve < e && !isspace((unsigned char)t[ve]) && t[ve] != ',') ve++;
      if ((t[q] == ':' || (q > k && isalnum((unsigned char)t[q]))) && ve > v &&
          (islower((unsigned char)t[v]) || isdigit((unsigned char)t[v])) &&
          !sl__word_in(t + v, ve - v, schema_words))
        return true;
    }
    ls = b;
    while (ls > 0 && t[ls - 1] != '\n') ls--;
  }
  return false;
}

/* The password word at `is` is the second half of a pair's label: "id/pw",
 * "User/Password", "login / pass". */
static bool pair_label(const char *t, uint32_t is) {
  static const char *const users[] = {"id", "user", "username", "login", "account", "usr", "uid",
                                      NULL};
  uint32_t k = is;
  while (k > 0 && is - k < 2 && t[k - 1] == ' ') k--;
  if (k == 0 || t[k - 1] != '/') return false;
  k--;
  while (k > 0 && t[k - 1] == ' ') k--;
  uint32_t e = k;
  while (k > 0 && e - k < 12 && isalpha((unsigned char)t[k - 1])) k--;
  if (k > 0 && (isalnum((unsigned char)t[k - 1]) || t[k - 1] == '_')) return false;
  return sl__word_in(t + k, e - k, users);
}

/* A database connection's call, the '(' at p: connect("dsn", "user",
 * "P3rl!nv-Rpt#55", {...}), getConnection(URL, "svc", "…"), mysqli_connect(…):
 * the first literal from the third argument on (a host or DSN and a user come
 * first) that looks like a password on its own (a letter, a digit, and a
 * symbol or both cases: "connect" alone names sockets and clients too). PHP's
 * new PDO(dsn, user, pw) is cli_password's, a constructor of its own. */
static void connect_call(sl__ctx_t *c, uint32_t p) {
  const char *t = c->text;
  uint32_t n = (uint32_t)c->len, i = p + 1;
  int depth = 0;
  for (int arg = 0; arg < 8 && i < n; arg++) {
    while (i < n && (t[i] == ' ' || t[i] == '\n' || t[i] == '\t')) i++;
    if (i >= n || t[i] == ')') return;
    if (arg >= 2 && (t[i] == '"' || t[i] == '\'')) {
      uint32_t s, e, next = quoted_at(t, n, i, &s, &e);
      if (!next) return;
      if (strong_value(t + s, e - s)) {
        add_secret(c, s, e, SL_ET_PASSWORD, "connection_call", 70, true);
        return;
      }
    }
    /* on to the next argument at this depth */
    for (; i < n && i - p < 512; i++) {
      char ch = t[i];
      if (ch == '"' || ch == '\'') {
        uint32_t s, e, next = quoted_at(t, n, i, &s, &e);
        if (!next) return;
        i = next - 1;
      } else if (ch == '(' || ch == '[' || ch == '{') depth++;
      else if (ch == ')' || ch == ']' || ch == '}') {
        if (depth == 0) return;
        depth--;
      } else if (ch == ',' && depth == 0) break;
    }
    if (i >= n || t[i] != ',') return;
    i++;
  }
}

/* An attribute's or option's name (lower-case letters, '-', '_'), unlike the
 * base64 before a '=' of padding ("dDFvKyVKQnNN…Vo="). */
static bool attr_name(const char *v, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!islower((unsigned char)v[i]) && v[i] != '-' && v[i] != '_') return false;
  return n > 0;
}

/* Lower-case words joined by '-' or '_' ("add-password", "pw_field"). */
static bool kebab_words(const char *v, size_t n) {
  return attr_name(v, n) && (memchr(v, '-', n) || memchr(v, '_', n));
}

/* A name in quotes: UPPER_SNAKE ("NEXUS_PASS"), or a snake_case name with the
 * word in it ("app_password"). */
static bool var_name(const char *v, size_t n) {
  bool under = false, upper = true, lower = true;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)v[i];
    if (ch == '_') under = true;
    else if (isupper(ch)) lower = false;
    else if (islower(ch)) upper = false;
    else return false;
  }
  if (!under) return false;
  return upper || (lower && (sl__find(v, n, "pass", 4) || sl__find(v, n, "pwd", 3) ||
                             sl__find(v, n, "secret", 6) || sl__find(v, n, "token", 5)));
}

/* A Go struct field's tag after the field's type, not its value: Password
 * string `json:"password"`, DBPassword string `env:"DB_PASSWORD"`. */
static bool struct_tag(const char *t, uint32_t vs, const char *v, size_t n) {
  if (vs == 0 || t[vs - 1] != '`') return false;
  size_t i = 0;
  while (i < n && (islower((unsigned char)v[i]) || isdigit((unsigned char)v[i]) || v[i] == '_')) i++;
  return i > 0 && i + 1 < n && v[i] == ':' && v[i + 1] == '"';
}

/* An upper-case name (an environment variable's): "MYSQLPASS", "DB_PASS". */
static bool upper_ident(const char *s, size_t n) {
  size_t up = 0;
  for (size_t i = 0; i < n; i++) {
    if (islower((unsigned char)s[i])) return false;
    up += isupper((unsigned char)s[i]) != 0;
  }
  return up >= 4;
}

/* Words joined by '-' or '_' that describe the value wanted instead of being
 * one: "a-long-random-string-at-least-32-chars",
 * "supersecretkey_change_in_production_minimum_32_chars" (four parts or more,
 * most of them English words or numbers, one of them saying so). */
static bool stand_in_phrase(const char *v, size_t n) {
  static const char *const says[] = {"random", "string", "change", "chars", "characters", "your",
                                     "here", "example", "least", "long", "minimum", "production",
                                     "replace", "generate", "secure", NULL};
  size_t parts = 0, known = 0;
  bool said = false;
  for (size_t i = 0; i < n;) {
    size_t k = i;
    while (k < n && v[k] != '-' && v[k] != '_') k++;
    if (k > i) {
      parts++;
      bool digits = sl__count_digits(v + i, k - i) == k - i;
      known += digits || sl__lexicon_has(v + i, k - i);
      said |= sl__word_in(v + i, k - i, says);
    }
    i = k + 1;
  }
  return parts >= 4 && said && known * 4 >= parts * 3 - 1;
}

/* The setting names an identifier, not a credential: "kms_key_id",
 * "UserSecretsId", "KEY_ID" (the identifier's own bytes, is..ie); an access
 * key's id is one that secret scanners report ("aws_access_key_id"). */
static bool id_name(const char *t, uint32_t is, uint32_t ie) {
  size_t n = ie - is;
  const char *w = t + is;
  if (n < 3 || (w[n - 1] | 32) != 'd' || (w[n - 2] | 32) != 'i') return false;
  char low[96];
  size_t m = sl__lower_copy(w, n, low, sizeof low);
  if (sl__find(low, m, "access", 6)) return false;
  return w[n - 3] == '_' || w[n - 3] == '-' || w[n - 3] == '.' || w[n - 2] == 'I';
}

/* A host name: labels of letters, digits and '-' joined by dots, the last
 * one letters only ("sm02915.int.contoso.com"). */
static bool host_name(const char *v, size_t n) {
  size_t dots = 0, last = 0;
  for (size_t i = 0; i < n; i++) {
    if (v[i] == '.') {
      if (i == last) return false;
      dots++;
      last = i + 1;
    } else if (!isalnum((unsigned char)v[i]) && v[i] != '-') {
      return false;
    }
  }
  if (dots < 2 || n - last < 2 || n - last > 6) return false;
  for (size_t i = last; i < n; i++)
    if (!isalpha((unsigned char)v[i])) return false;
  return true;
}

/* A version number inside: digits, a dot, digits, not within a longer run of
 * letters and digits on both sides ("rc0.13.0_2023…", "jjwt-jackson-0.11.2",
 * "SalesResults-1.2"). */
static bool has_version(const char *v, size_t n) {
  for (size_t i = 1; i + 1 < n; i++) {
    if (v[i] != '.' || !isdigit((unsigned char)v[i - 1]) || !isdigit((unsigned char)v[i + 1])) continue;
    size_t a = i, b = i + 1;
    while (a > 0 && isdigit((unsigned char)v[a - 1])) a--;
    while (b < n && isdigit((unsigned char)v[b])) b++;
    if (i - a <= 3 && b - i - 1 <= 4 && (b == n || !isalnum((unsigned char)v[b]) || v[b] == 'b'))
      return true;
  }
  return false;
}

/* A file's name: a dot and an extension files of keys and configuration have
 * ("RTL_INST_CODE.cer", "prod.pem"). */
static bool file_name(const char *v, size_t n) {
  static const char *const exts[] = {"cer", "crt", "pem", "key", "p12", "pfx", "jks", "der", "pub",
                                     "asc", "gpg", "json", "txt", "yaml", "yml", "xml", "cfg",
                                     "conf", "ini", "env", "keystore", "properties", NULL};
  const char *dot = NULL;
  for (size_t i = 0; i < n; i++)
    if (v[i] == '.') dot = v + i;
  if (!dot || dot == v) return false;
  size_t m = (size_t)(v + n - dot - 1);
  for (const char *const *e = exts; *e; e++)
    if (strlen(*e) == m && !strncasecmp(dot + 1, *e, m)) return path_like(v, n);
  return false;
}

/* The name of a secret written in capitals, not its value: "NEXUS-GPT4-API-KEY",
 * "K8S_CRED", "PROD_DB_TOKEN" (parts joined by '-' or '_', one of them a word
 * that says what it names). */
static bool secret_name_value(const char *v, size_t n) {
  static const char *const words[] = {"key", "keys", "token", "secret", "secrets", "pass", "password",
                                      "pwd", "cred", "creds", "credential", "credentials", "api",
                                      "auth", "id", "name", NULL};
  size_t parts = 0;
  bool said = false;
  for (size_t i = 0; i < n;) {
    size_t k = i;
    while (k < n && v[k] != '-' && v[k] != '_') {
      if (islower((unsigned char)v[k]) || !isalnum((unsigned char)v[k])) return false;
      k++;
    }
    if (k == i) return false;
    char w[16];
    if (k - i < sizeof w) {
      sl__lower_copy(v + i, k - i, w, sizeof w);
      for (const char *const *x = words; *x && !said; x++) said = strlen(*x) == k - i && !memcmp(w, *x, k - i);
    }
    parts++;
    i = k + 1;
  }
  return parts >= 2 && said;
}

/* Every dot-separated part is a capitalised name with lower case in it
 * ("PdfEncryptionKeySize.Key128Bit"). */
static bool camel_parts(const char *v, size_t n) {
  for (size_t i = 0; i < n;) {
    size_t k = i;
    bool lower = false;
    while (k < n && v[k] != '.') lower |= islower((unsigned char)v[k++]) != 0;
    if (!isupper((unsigned char)v[i]) || !lower) return false;
    i = k + 1;
  }
  return true;
}

/* Code, not a literal: names joined by dots, each starting with a letter
 * ("jetbrains.mps.v8_elimination", "PdfEncryptionKeySize.Key128Bit"), or a
 * snake_case name with an English word in it ("struct_X509_pubkey_st"). */
static bool code_name(const char *v, size_t n) {
  size_t parts = 0, words = 0, dots = 0, unders = 0;
  bool random_part = false;
  for (size_t i = 0; i < n;) {
    if (!isalpha((unsigned char)v[i])) return false;
    size_t k = i;
    while (k < n && v[k] != '.' && v[k] != '_') {
      if (!isalnum((unsigned char)v[k])) return false;
      k++;
    }
    if (k - i >= 4 && sl__lexicon_has(v + i, k - i)) words++;
    /* (no part of a snake_case name is random: "pk_live_YV48MHHj9Hnp…" is a key) */
    random_part |= k - i >= 8 && sl__looks_random(v + i, k - i, false) && !camel_words(v + i, k - i);
    parts++;
    if (k < n && v[k] == '.') dots++;
    else if (k < n) unders++;
    i = k + 1;
    if (i == n) return false; /* ends in a separator */
  }
  if (dots && !unders && parts >= 2 && camel_parts(v, n)) return true;
  if (dots && parts >= 3) {
    for (size_t i = 0; i < n; i++)
      if (isupper((unsigned char)v[i])) return false;
    return true;
  }
  return unders >= 2 && !dots && words >= 1 && !random_part;
}

/* Nothing of the sentence follows byte e but its end ("is 48213." , not "is
 * 2024 compliant"). */
static bool clause_ends(const sl__ctx_t *c, uint32_t e) {
  while (e < c->len && (c->text[e] == ' ' || c->text[e] == '\t')) e++;
  return e >= c->len || strchr("\n\r.,;!?)\"'", c->text[e]);
}

/* The value before the word that names it: "Hunter2Rocks! is my password",
 * "use Qx7!mPz2#Lw9 as the password for the portal" — one token that looks
 * like a password on its own (strong_value), then a link word, then the word
 * (at `at`) ending its clause or going on with what it is for. */
static bool value_before(const sl__ctx_t *c, uint32_t at, uint32_t end, uint32_t *vs, uint32_t *ve) {
  static const char *const links[] = {" is my ", " is the ", " is our ", " is your ", " was my ", " was the ",
                                      " as my ", " as the ", " as our ", " as ", NULL};
  static const char *const after[] = {" for ", " to ", " on ", " of ", " at ", NULL};
  const char *t = c->text;
  bool ends = clause_ends(c, end);
  for (const char *const *a = after; *a && !ends; a++)
    ends = end + strlen(*a) <= c->len && !strncasecmp(t + end, *a, strlen(*a));
  if (!ends) return false;
  for (const char *const *l = links; *l; l++) {
    uint32_t m = (uint32_t)strlen(*l);
    if (at < m + 8 || strncasecmp(t + at - m, *l, m)) continue;
    uint32_t e = at - m, s = e;
    while (s > 0 && !isspace((unsigned char)t[s - 1]) && e - s < 64) s--;
    while (s < e && strchr("\"'`", t[s])) s++; /* quotes around it */
    while (e > s && strchr("\"'`", t[e - 1])) e--;
    if (strong_value(t + s, e - s)) {
      *vs = s, *ve = e;
      return true;
    }
    return false;
  }
  return false;
}

/* "my password is bluebird", "the wifi password is sunflower", "password:
 * hunter2": one plain word of letters and digits ending its clause right after
 * the English word and "is", "was" or a colon is the password, unless it says
 * what the password is like ("expired", "wrong", "incorrect", "required",
 * "sensitive", "too") — an adjective's or a participle's ending, or one of the
 * words below. */
static bool plain_word_value(const sl__ctx_t *c, uint32_t ie, uint32_t vs, uint32_t ve) {
  const char *t = c->text, *v = t + vs;
  size_t n = ve - vs, letters = 0;
  if (n < 5 || n > 32 || !clause_ends(c, ve)) return false;
  for (size_t i = 0; i < n; i++) {
    if (!isalnum((unsigned char)v[i])) return false;
    letters += isalpha((unsigned char)v[i]) != 0;
  }
  if (!letters) return false;
  /* what stands between: "is", "was" (also "is now", "is still"), or ':' */
  static const char *const links[] = {" is ", " was ", ": ", " is now ", " is still ", " was still ", NULL};
  bool linked = false;
  for (const char *const *l = links; *l && !linked; l++)
    linked = vs - ie == strlen(*l) && !strncasecmp(t + ie, *l, strlen(*l));
  if (!linked) return false;
  if (letters == n) {
    static const char *const endings[] = {"ed", "ing", "ive", "able", "ible", "ful", "less", "ous", "ly",
                                          "ent", "ant", "ary", "ory", "ic", "al", "en", "ure", NULL};
    for (const char *const *e = endings; *e; e++) {
      size_t m = strlen(*e);
      if (n > m + 2 && !strncasecmp(v + n - m, *e, m)) return false;
    }
    static const char *const like[] = {
        "wrong",  "right",   "valid",  "weak",   "strong",  "empty", "blank",  "short", "secret", "private",
        "public", "unknown", "simple", "still",  "there",   "below", "above",  "yours", "theirs", "same",
        "fine",   "okay",    "great",  "good",   "easy",    "case",  "none",   "null",  "false",  "true",
        "unset",  "mandatory", "default", "too", "never", "always", "again", "within", "inside", "here",
        "what",   "which",   "where",  "mine",   "ours",    "hers",  "twelve", "eight", "seven",  "three",
        "incorrect", "correct", "reset", "invalid", "insecure", "secure", "unique", "complex", "random",
        "generic", "common", "known", "shown", "unchanged", "forgotten", "lowercase", "uppercase",
        NULL};
    if (sl__word_in(v, n, like)) return false;
  }
  return !sl__is_placeholder(v, n);
}

static void password_cue(sl__ctx_t *c, const sl__hit_t *h) {
  unsigned char lead = (unsigned char)c->text[h->start];
  /* the word in CJK, Indic, Thai, Arabic or Hebrew script: the value is the
   * strong ASCII token a few words on */
  if (lead >= 0xE0 || (lead >= 0xD7 && lead <= 0xDB)) {
    uint32_t vs, ve;
    if (cjk_value(c, h->end, &vs, &ve)) add_secret(c, vs, ve, SL_ET_PASSWORD, "password_assignment", 70, false);
    return;
  }
  {
    uint32_t vs, ve;
    uint32_t n = h->end - h->start;
    if (((n == 8 && !strncasecmp(c->text + h->start, "password", 8)) ||
         (n == 10 && !strncasecmp(c->text + h->start, "passphrase", 10))) &&
        value_before(c, h->start, h->end, &vs, &ve))
      add_secret(c, vs, ve, SL_ET_PASSWORD, "password_assignment", 70, false);
  }
  uint32_t is, ie;
  ident_span(c, h, &is, &ie);
  const char *t = c->text;
  ident_t id;
  ident_load(&id, t, is, ie);
  /* (psk: a Wi-Fi network's pre-shared key, wpa_supplicant's psk="...") */
  bool pw = ident_has(&id, "passw") || ident_has(&id, "pwd") || ident_has(&id, "psk") ||
            ident_has(&id, "passphrase") || ident_has(&id, "passcode") || foreign_pw(c, h);
  bool cred = ident_has(&id, "credential");
  size_t il = ie - is;
  if (id_name(t, is, ie)) return; /* CREDENTIALS_ID = "K8S_CRED" names one */
  if ((pw || il == 2 || il == 4) && pair_label(t, is)) {
    /* "id/pw master/IhqSb1Gg", "ID/PWD-master/…", "User/Password: db / …" */
    uint32_t k = ie;
    while (k < c->len && k - ie < 3 && strchr(" :-=>(", t[k])) k++;
    login_pair(c, k);
    return;
  }
  /* "the database credential db_admin / Qx7!mPz2#Lw9": a pair after the word
   * (its password not a plain word: login_pair checks) */
  if (cred && !pw && ie < c->len && t[ie] == ' ') login_pair(c, ie);
  if ((il == 5 && (!strncasecmp(t + is, "login", 5) || !strncasecmp(t + is, "logon", 5))) ||
      (il > 6 && t[ie - 6] == '.' && !strncmp(t + ie - 5, "login", 5) && ie < c->len && t[ie] == '(')) {
    login_pair(c, ie); /* "login: alice / x", "server.login(\"bot\", \"x\")" */
    return;
  }
  if (!pw && !cred) {
    /* "pass", "pw", "pin", "db_pass" as a whole word or suffix */
    bool suffix = (il >= 4 && !strncasecmp(t + ie - 4, "pass", 4)) ||
                  (il >= 2 && !strncasecmp(t + ie - 2, "pw", 2) && (il == 2 || !isalpha((unsigned char)t[ie - 3]))) ||
                  (il == 3 && !strncasecmp(t + is, "pin", 3));
    if (!suffix) return;
    /* nginx's upstream directives name where requests go: "proxy_pass http://app;" */
    static const char *const to_upstream[] = {"proxy_pass", "fastcgi_pass", "uwsgi_pass", "scgi_pass",
                                              "grpc_pass", "memcached_pass", NULL};
    if (sl__word_in(t + is, il, to_upstream)) return;
    if (il >= 4 && !strncasecmp(t + ie - 4, "pass", 4) && il > 4 && isalpha((unsigned char)t[ie - 5]) &&
        !(il == 11 && !strncasecmp(t + is, "requirepass", 11)) && !upper_ident(t + is, il))
      return; /* "bypass", "compass"; Redis's requirepass and MYSQLPASS are ones */
  }
  /* "${DB_PASSWORD:?set it in .env}", "$(PASSWORD)": a variable read, not set;
   * but PHP's, Perl's and PowerShell's "$password = ..." sets one */
  bool read = is >= 1 && (t[is - 1] == '$' ||
                          (is >= 2 && t[is - 2] == '$' && (t[is - 1] == '{' || t[is - 1] == '(')));
  bool dollar = read && t[is - 1] == '$';
  if (dollar) {
    uint32_t k = ie;
    while (k < c->len && (t[k] == ' ' || t[k] == '\t')) k++;
    read = !(k + 1 < c->len && t[k] == '=' && t[k + 1] != '=' && t[k + 1] != '~');
  }
  if (read) return;
  /* a word inside a path or URL ("/docs/creating-a-strong-password"), not a name */
  if (is >= 1 && t[is - 1] == '/') return;
  if (ident_has(&id, "forgot") || ident_has(&id, "reset") || ident_has(&id, "file") ||
      ident_has(&id, "policy") || ident_has(&id, "length") || ident_has(&id, "hint") ||
      ident_has(&id, "hash") || ident_has(&id, "field") || ident_has(&id, "input"))
    return;
  uint32_t vs, ve;
  bool quoted = false;
  int sep = value_after(c, ie, true, &vs, &ve, &quoted);
  bool phrase = pw && sep == SEP_PROSE && !quoted && passphrase(c, vs, ve);
  if (sep != SEP_NONE && sep != SEP_ASSIGN && !quoted && il == 8 && !strncasecmp(t + is, "password", 8) &&
      plain_word_value(c, ie, vs, ve)) {
    add_secret(c, vs, ve, SL_ET_PASSWORD, "password_prose", 65, false);
    return;
  }
  if (sep == SEP_NONE ||
      (sep != SEP_ASSIGN && !quoted && !phrase && !strong_value(t + vs, ve - vs))) {
    /* "das neue Passwort für den Account lautet ab heute X", "the wifi
     * password in the Utrecht office is now X": the value a few words on */
    /* (an id a few words on is no password: "usernamePassword(credentialsId: '<uuid>'") */
    if (pw && far_value(c, ie, false, &vs, &ve) && !uuid_shape(t + vs + (t[vs] == '\'' || t[vs] == '"'),
                                                              ve - vs - 2 * (t[vs] == '\'' || t[vs] == '"')))
      add_secret(c, vs, ve, SL_ET_PASSWORD, "password_prose", 65, false);
    else if (pw && next_line_value(c, ie, &vs, &ve))
      add_secret(c, vs, ve, SL_ET_PASSWORD, "password_next_line", 65, false);
    if (sep == SEP_NONE) return;
  }
  const char *v = t + vs;
  size_t n = ve - vs;
  if (n < 3 || sl__is_placeholder(v, n)) return;
  if (quoted && n < 4 && pw) return; /* password = "abc": a stand-in, not a password */
  if (sl__word_in(v, n, constants)) return;
  /* the verb: "make the code pass `go vet`" (a command after the bare word) */
  if (!pw && !cred && il == 4 && sep != SEP_ASSIGN && vs > 0 && t[vs - 1] == '`' && memchr(v, ' ', n))
    return;
  if (struct_tag(t, vs, v, n)) return;
  /* the end of a template or an expression the name was inside: postgres://app:{{ vault
   * "secret/data/db#password" }}@pg-primary:5432/app */
  if (!quoted && (v[0] == '}' || v[0] == ')' || v[0] == ']')) return;
  /* a variable's name, not its value: passwordVariable: 'NEXUS_PASS', psql's
   * :'app_password' (also WITH PASSWORD :'reporting_pw') */
  if (ident_has(&id, "variable") || ident_has(&id, "credentialsid") || (quoted && var_name(v, n)) ||
      (quoted && vs >= 3 && t[vs - 3] == ' ' && t[vs - 2] == ':' && (t[vs - 1] == '\'' || t[vs - 1] == '"')))
    return;
  /* a prompt, not a value: readPassword("Password: "); string building, not a
   * value: "... password='" + password + "'" */
  if (quoted && n >= 2 && (v[n - 1] == ':' || (v[n - 1] == ' ' && v[n - 2] == ':'))) return;
  if (quoted && n >= 3 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0] && memchr(v, '+', n)) return;
  /* a "literal" that runs from a closing quote to the next opening one:
   * `read -p "Password: " password` and then `mysqldump -p"$password"` */
  if (quoted && (v[0] == ' ' || memchr(v, '`', n))) return;
  /* the text between two literals of a concatenation: "... = "+new Buffer(..."
   * and 'password = '.$p['config'] */
  if (quoted && (v[0] == '+' || (v[0] == '.' && n > 1 && (v[1] == '$' || v[1] == ' ')))) return;
  /* a CSS selector or anchor ("#add-password", ".password-field"), a path, a
   * resource name: what the name points at, not a secret */
  if ((v[0] == '#' || v[0] == '.') && n > 2 && kebab_words(v + 1, n - 1)) return;
  if (!memchr(v, ' ', n) && resource_ref(v, n)) return;
  if (!quoted) {
    /* those languages quote their strings: $password = Read-Host is code; but
     * a lower-case bare word ending a PHP statement is one (PHP reads an
     * undefined constant as its name): $password = goodspec; */
    bool php = dollar && php_bareword(t, vs, ve, c->len);
    if (dollar && !php) return;
    if (n > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X') && sl__hex_only(v + 2, n - 2))
      return; /* a number: #define PASSWORD 0x0dead1beef7cafe2 */
    if (v[n - 1] == ':') return; /* a label: "Password requirements:" */
    if (v[n - 1] == '=' && attr_name(v, n - 1)) return; /* type="password" minlength=: the next attribute */
    if (v[0] == '&' && n > 1 && isalpha((unsigned char)v[1])) return; /* a type: password: &str */
    if (v[0] == '!') return;        /* a YAML tag: "my_db_password: !vault |" */
    /* the next option of a command: "--user user:pass --digest" */
    if (sep == SEP_SPACE && v[0] == '-' && n > 2 && (v[1] == '-' || isalpha((unsigned char)v[1])) &&
        attr_name(v + 1 + (v[1] == '-'), n - 1 - (v[1] == '-')))
      return;
    /* a path after the word, not assigned: "-field=password secret/prod/db" */
    if (sep != SEP_ASSIGN && memchr(v, '/', n) && path_like(v, n)) return;
    if (code_expr(v, n)) return;
    /* ("username root\npassword crickets": the pair's lines make it one) */
    bool config = (sep == SEP_ASSIGN || sep == SEP_SPACE) && config_line(c, is, ie) &&
                  !sl__word_in(v, n, schema_words);
    if (!config && !php && !phrase && identifier_like(v, n) && !random_letters(v, n))
      return; /* password = getPassword, password: String */
    /* a PIN or a password of digits said in prose ("the alarm PIN is 8496",
     * "my password is 48213"); not a pin of a board
     * ("connect it to pin 13": too short) */
    bool pin_code = ((il == 3 && !strncasecmp(t + is, "pin", 3)) || (pw && clause_ends(c, ve))) &&
                    sep == SEP_PROSE && pin_digits(v, n);
    if (sep != SEP_ASSIGN && n < 6 && !pin_code) return;
    if (sep == SEP_ARGS) return;
  } else if (sep == SEP_SPACE || sep == SEP_PROSE) {
    /* 'quoted' after prose: still a literal. */
  }
  if (cred && !pw && !quoted) return;
  if (memchr(v, '@', n) && memchr(v, '.', n) && !pw) return; /* an email, not the secret */
  add_secret(c, vs, ve, SL_ET_PASSWORD, "password_assignment", 70, false);
}

/* After a key's name in prose: the token after the next colon on the line,
 * within 80 bytes, when it is 32+ hex digits or strictly random ("la master.key
 * … per lo staging: 358c99b9abed2d407f1698d21ce75d83"). */
static bool colon_key(const sl__ctx_t *c, uint32_t p, uint32_t *vs, uint32_t *ve) {
  const char *t = c->text;
  uint32_t n = (uint32_t)c->len, lim = p + 80 < n ? p + 80 : n, i = p;
  while (i < lim && t[i] != ':' && t[i] != '\n' && t[i] != '=') i++;
  if (i >= lim || t[i] != ':' || (i + 1 < n && t[i + 1] == '/')) return false; /* no URL */
  i++;
  while (i < n && t[i] == ' ') i++;
  uint32_t s = i;
  while (i < n && !sl__space((unsigned char)t[i]) && i - s < 256) i++;
  while (i > s && strchr(".,;)'\"", t[i - 1])) i--;
  size_t m = i - s;
  if (m < 24 || sl__is_placeholder(t + s, m)) return false;
  if (!(m >= 32 && sl__hex_only(t + s, m)) && !sl__looks_random(t + s, m, true)) return false;
  *vs = s, *ve = i;
  return true;
}

/* "the shared secret for the webhook is 6776abd4…": a key's value a few words
 * after its name, when the word right after it is no value. */
static void key_far(sl__ctx_t *c, const ident_t *id, uint32_t p) {
  uint32_t vs, ve;
  bool named = ident_has(id, "secret") || ident_has(id, "token") || ident_has(id, "key");
  if (named && far_value(c, p, true, &vs, &ve)) add_secret(c, vs, ve, SL_ET_API_KEY, "key_prose", 60, false);
}

/* Six and sixteen lower-case letters or digits joined by a dot: a Kubernetes
 * bootstrap token's id and secret (kubeadm's "abcdef.0123456789abcdef" too:
 * its documented example, kept as vendors' documented keys are). */
static bool bootstrap_token(const char *v, size_t n) {
  if (n != 23 || v[6] != '.') return false;
  for (size_t i = 0; i < n; i++)
    if (i != 6 && !((v[i] >= 'a' && v[i] <= 'z') || (v[i] >= '0' && v[i] <= '9'))) return false;
  return true;
}

static void key_cue(sl__ctx_t *c, const sl__hit_t *h) {
  uint32_t is, ie;
  ident_span(c, h, &is, &ie);
  const char *t = c->text;
  ident_t id;
  ident_load(&id, t, is, ie);
  if (ident_has(&id, "author") && !ident_has(&id, "authoriz")) return;
  if (ident_has(&id, "tokeniz") || ident_has(&id, "max_token")) return;
  /* an idempotency key names a request, not a credential */
  if (ident_has(&id, "idempoten")) return;
  /* a host key's fingerprint: "ED25519 key fingerprint is SHA256:UZlp…" */
  if (ie + 12 < c->len && !strncasecmp(t + ie, " fingerprint", 12)) return;
  uint32_t vs, ve;
  bool quoted = false;
  /* "Unseal Key 2: value": skip a small index after the name */
  uint32_t p = ie;
  if (p + 2 < c->len && t[p] == ' ' && isdigit((unsigned char)t[p + 1]) &&
      (t[p + 2] == ':' || t[p + 2] == '='))
    p += 2;
  int sep = value_after(c, p, true, &vs, &ve, &quoted);
  if (sep != SEP_ASSIGN && !quoted && colon_key(c, p, &vs, &ve)) {
    /* "voici la clé API de prod (à ne pas committer !) : 88f1e17e…" */
    add_secret(c, vs, ve, SL_ET_API_KEY, "key_assignment", 65, false);
    return;
  }
  if (sep == SEP_NONE) {
    key_far(c, &id, p);
    return;
  }
  /* a Kubernetes bootstrap token, by its shape after a token's name, whatever
   * the separator ("kubeadm join … --token 7g8k2q.x9c4m1v0z3p5n6b8") */
  if (ident_has(&id, "token") && bootstrap_token(t + vs, ve - vs)) {
    add_secret(c, vs, ve, SL_ET_API_KEY, "kubernetes_bootstrap_token", 65, false);
    return;
  }
  /* a long hex value after a command-line flag ("--token d23338141b5e...") */
  bool flag = (ie - is > 2 && t[is] == '-' && t[is + 1] == '-') ||
              (is >= 2 && t[is - 1] == '-' && t[is - 2] == '-') ||
              (is >= 15 && !strncasecmp(t + is - 15, "authorization: ", 15)); /* "Token <hex>" */
  /* or after a key's, a secret's or a token's own name in prose ("api
   * secret 9f86d081…", "api key 3c59dc04…") */
  bool flag_hex = (flag || ident_has(&id, "key") || ident_has(&id, "secret") || ident_has(&id, "token")) &&
                  sep == SEP_SPACE && !quoted && ve - vs >= 32 && sl__hex_only(t + vs, ve - vs);
  /* after an Authorization header's scheme ("Authorization: Api-Token 22cb…"):
   * letters and digits of a key's alphabet, whatever their mix */
  if (!flag_hex && sep == SEP_SPACE && !quoted && ve - vs >= 20 && is >= 15 &&
      !strncasecmp(t + is - 15, "authorization: ", 15) && key_alphabet(t + vs, ve - vs) &&
      sl__count_digits(t + vs, ve - vs) >= 4 && !sl__is_placeholder(t + vs, ve - vs))
    flag_hex = true;
  if (sep == SEP_SPACE && !quoted && !flag_hex) {
    /* "Authorization: token X" / "key X": only a strictly random bare value */
    if (!sl__looks_random(t + vs, ve - vs, true)) {
      key_far(c, &id, p);
      return;
    }
  }
  if (sep == SEP_PROSE && !quoted && !prose_key(t + vs, ve - vs)) return; /* "the token is X" */
  const char *v = t + vs;
  size_t n = ve - vs;
  if (n < 8 || sl__is_placeholder(v, n)) return;
  if (!quoted && code_expr(v, n)) return;
  /* what such a setting may hold that is no secret: an id, a version, a
   * public key; a host, a file, a secret's name, code */
  if (id_name(t, is, ie) || ident_has(&id, "version") || ident_has(&id, "public") ||
      ident_has(&id, "pubkey") || ident_has(&id, "pub_key") || host_name(v, n) || has_version(v, n) ||
      file_name(v, n) || secret_name_value(v, n) || code_name(v, n) || stand_in_phrase(v, n) ||
      cut_short(c, ve) ||
      (!quoted && sl__find(v, n, t + is, ie - is)))
    return;
  /* a prefix like "Bearer " or "token " inside the value */
  const char *sp = memchr(v, ' ', n);
  if (sp && quoted) {
    vs = (uint32_t)(sp + 1 - t);
    v = t + vs;
    n = ve - vs;
  }
  bool secret_name = ident_has(&id, "secret") || ident_has(&id, "token") ||
                     ident_has(&id, "api_key") || ident_has(&id, "apikey") ||
                     ident_has(&id, "access_key") || ident_has(&id, "private_key");
  /* A literal assigned to a secret-named key is a secret even when it is weak
   * ("aaaa...-", "00aaaa..."): strength is not ours to judge, only placeholders
   * are not. Quoted, it is a literal unless it reads as a name; bare, it must
   * also be 20+ bytes of a key's alphabet (no call, no dotted reference). */
  bool weak_literal = secret_name && n >= 16 && !memchr(v, ' ', n) && sep == SEP_ASSIGN &&
                      (!identifier_like(v, n) || one_byte_fill(v, n)) &&
                      (quoted || (n >= 20 && key_alphabet(v, n)));
  if (!weak_literal && !flag_hex && !sl__looks_random(v, n, false)) return;
  /* a pattern for keys is not one: "(A3T[A-Z0-9]|AKIA|ASIA)[A-Z2-7]{16}" */
  if (regex_like(v, n)) return;
  /* a URL is not the key, nor a path or a resource name */
  if ((n > 8 && sl__find(v, n, "://", 3)) || resource_ref(v, n)) return;
  add_secret(c, vs, ve, SL_ET_API_KEY, "key_assignment", 65, false);
}

/* The nearest PEM block opened before `at` (within 16 KB) holds nothing secret?
 * The blocks are the multi-pattern pass's hits: SL_P_PEM_PUBLIC at a
 * certificate's, public key's, CRL's or PGP public block's BEGIN, SL_P_PRIVKEY
 * at a private key's header. *from is where to resume in the hits: the callers
 * ask in text order. */
static bool public_block_from(const sl__ctx_t *c, uint32_t at, size_t *from, int *last,
                              uint32_t *last_at) {
  const sl__hits_t *h = c->hits;
  for (; *from < h->n && h->v[*from].start < at; (*from)++) {
    unsigned id = h->v[*from].id;
    if (id == SL_P_PEM_PUBLIC || id == SL_P_PRIVKEY) {
      *last = (int)id;
      *last_at = h->v[*from].start;
    }
  }
  return *last == SL_P_PEM_PUBLIC && at - *last_at <= 16384;
}

bool sl__in_public_block(const sl__ctx_t *c, uint32_t at) {
  size_t from = 0;
  int last = -1;
  uint32_t last_at = 0;
  return public_block_from(c, at, &from, &last, &last_at);
}

/* The state of public_block_from() across the runs of one text. */
typedef struct {
  size_t from;
  int last;
  uint32_t last_at;
} pem_walk_t;

static void token(sl__ctx_t *c, const sl__hit_t *h, pem_walk_t *pw);

/* Long runs of token bytes, found by the tokenizer's pass (a bounded-repeat
 * pattern for them was the costliest part of the Hyperscan database). */
void sl__detect_token_runs(sl__ctx_t *c, const sl__toks_t *T) {
  pem_walk_t pw = {0, -1, 0};
  for (size_t i = 0; i < T->n_runs; i++) {
    sl__hit_t h = {T->runs[2 * i], T->runs[2 * i + 1], 0};
    token(c, &h, &pw);
  }
}

/* Does `w` (a literal) end right before `at`? */
static bool ends_before(const char *text, uint32_t at, const char *w) {
  size_t m = strlen(w);
  return at >= m && !memcmp(text + at - m, w, m);
}

/* Random-looking but public by construction: an inline image or file
 * ("data:image/png;base64,..."), an SSH public key ("ssh-ed25519 AAAA..."),
 * a package integrity hash ("sha512-...", go.sum "h1:..."), the body of a
 * certificate or public key block. */
static bool public_blob(const sl__ctx_t *c, uint32_t s, const char *t, size_t n, pem_walk_t *pw) {
  const char *x = c->text;
  if (ends_before(x, s, "base64,") || ends_before(x, s, "h1:")) return true;
  /* a Stripe publishable key, a CSP nonce, an OAuth client id (public by design) */
  if (n > 8 && (!strncmp(t, "pk_live_", 8) || !strncmp(t, "pk_test_", 8))) return true;
  if (ends_before(x, s, "nonce=\"") || ends_before(x, s, "nonce-") ||
      sl__find(t, n, ".apps.googleusercontent.com", 27))
    return true;
  /* a key's fingerprint: "SHA256:Cd8NSwnv..." */
  if (ends_before(x, s, "SHA256:") || ends_before(x, s, "SHA1:") || ends_before(x, s, "MD5:"))
    return true;
  /* a JWT's header alone ({"alg":...}), no payload or signature after it */
  if (n > 8 && !strncmp(t, "eyJ", 3) && !memchr(t, '.', n) &&
      !(s + n + 1 < c->len && x[s + n] == '.' && isalnum((unsigned char)x[s + n + 1])))
    return true;
  /* an IPFS content ID (CIDv0: "Qm" and 44 base58 letters), a public JWK's
   * modulus or curve point ("n": "…" beside "kty"; a private one's "d" is
   * not excused) */
  if (n == 46 && t[0] == 'Q' && t[1] == 'm') return true;
  if (s >= 6 && (ends_before(x, s, "\"n\": \"") || ends_before(x, s, "\"x\": \"") ||
                 ends_before(x, s, "\"y\": \"") || ends_before(x, s, "\"n\":\"")) &&
      sl__find(x, c->len, "\"kty\"", 5))
    return true;
  if (n > 8 && (!strncmp(t, "sha512-", 7) || !strncmp(t, "sha384-", 7) || !strncmp(t, "sha256-", 7) ||
                !strncmp(t, "sha1-", 5)))
    return true;
  if (n > 40 && !strncmp(t, "AAAA", 4) && s > 0 && x[s - 1] == ' ') {
    uint32_t w = s - 1; /* the word before: ssh-rsa, ssh-ed25519, ecdsa-sha2-nistp256, sk-ssh-... */
    while (w > 0 && !sl__space((unsigned char)x[w - 1])) w--;
    if (!strncmp(x + w, "ssh-", 4) || !strncmp(x + w, "ecdsa-", 6) || !strncmp(x + w, "sk-", 3))
      return true;
  }
  return public_block_from(c, s, &pw->from, &pw->last, &pw->last_at);
}

/* Base64 whose bytes are prose ("SGVsbG8sIFdvcmxk..." is "Hello, World! ..."):
 * encoded text, not a key. A random key's bytes are printable by chance with
 * odds of about 0.37 per byte, so 16 bytes of letters, spaces and sentence
 * punctuation do not happen by chance. Bytes with '=', ':', quotes or braces
 * (an encoded config or credential pair) are not prose and stay suspect. */
static bool encoded_text(const char *t, size_t n) {
  char dec[96];
  size_t m = b64dec(t, n, dec, sizeof dec), letters = 0, spaces = 0;
  if (m < 16) return false;
  for (size_t i = 0; i < m; i++) {
    unsigned char b = (unsigned char)dec[i];
    if (isalpha(b)) letters++;
    else if (b == ' ' || b == '\n') spaces++;
    else if (!isdigit(b) && !strchr(".,!?'-()", b)) return false;
  }
  return spaces > 0 && letters * 10 >= m * 7;
}

/* A dotted path of names, not a key: "MasterKey.KeyScheme.AES256_GCM",
 * "sasl.mechanism=SCRAM-SHA-512" (no part of it random on its own). */
static bool dotted_code(const char *t, size_t n) {
  if (!memchr(t, '.', n)) return false;
  size_t parts = 0;
  for (size_t i = 0; i < n;) {
    size_t k = i;
    while (k < n && !strchr(".=-_", t[k])) k++;
    if (k - i > 20 || (k - i >= 8 && sl__looks_random(t + i, k - i, false))) return false;
    parts += k > i;
    i = k + 1;
  }
  return parts >= 3;
}

/* The run at s is assigned to a name that says it is public ("public_key =
 * \"9Cnz…\"", "pubKey: …"). */
static bool public_named(const sl__ctx_t *c, uint32_t s) {
  const char *t = c->text;
  uint32_t k = s, lim = s > 8 ? s - 8 : 0;
  while (k > lim && strchr(" \t\"'=:", t[k - 1])) k--;
  if (k == s || k == 0) return false;
  uint32_t e = k;
  while (k > 0 && e - k < 64 && idch(t, c->len, k - 1)) k--;
  char low[64];
  size_t m = sl__lower_copy(t + k, e - k, low, sizeof low);
  return sl__find(low, m, "public", 6) || sl__find(low, m, "pubkey", 6) || sl__find(low, m, "pub_key", 7);
}

/* The run at s is part of an encrypted value or a signature that says what it
 * is: SOPS's "ENC[AES256_GCM,data:…,iv:…,tag:…]", a DKIM or ARC header's
 * "bh=" and "b=" (a folded header: every line break inside it followed by
 * white space). */
static bool sealed_value(const sl__ctx_t *c, uint32_t s) {
  static const char *const heads[] = {"DKIM-Signature:", "ARC-Seal:", "ARC-Message-Signature:", NULL};
  const char *t = c->text;
  uint32_t lim = s > 4096 ? s - 4096 : 0, k = s;
  for (; k > lim; k--) {
    char ch = t[k - 1];
    if (ch == ']') return false;
    if (ch == '[' && k >= 4 && !memcmp(t + k - 4, "ENC[", 4)) return true;
    if (ch == '\n' && !(t[k] == ' ' || t[k] == '\t')) break; /* the header's first line starts at k */
  }
  if (k == lim && lim > 0) return false;
  for (const char *const *hd = heads; *hd; hd++)
    if (k + strlen(*hd) <= c->len && !strncasecmp(t + k, *hd, strlen(*hd))) return true;
  return false;
}

static bool digest_name(const char *w, size_t n) {
  static const char *const names[] = {"version", "commit", "sha", "hash", "rev", "checksum", "digest",
                                      "etag", NULL};
  char low[64];
  size_t m = sl__lower_copy(w, n, low, sizeof low);
  for (const char *const *x = names; *x; x++)
    if (sl__find(low, m, *x, strlen(*x))) return true;
  return false;
}

/* A ULID, maybe after an object type's prefix ("ord_01HZX4K8Q2M7T9V3B5N6C1D0E2",
 * "01ARZ3NDEKTSV4RRFFQ69G5FAV"): 26 characters of Crockford's base32, the first
 * ten a time in milliseconds (so the first is 0-7). An identifier that sorts
 * by time, not key material. */
static bool ulid_id(const char *t, size_t n) {
  size_t p = 0;
  while (p < n && p < 12 && islower((unsigned char)t[p])) p++;
  if (p > 0 && p < n && t[p] == '_') p++;
  else p = 0;
  if (n - p != 26 || t[p] < '0' || t[p] > '7') return false;
  for (size_t i = p; i < n; i++)
    if (!(isdigit((unsigned char)t[i]) || (isupper((unsigned char)t[i]) && !strchr("ILOU", t[i])))) return false;
  return true;
}

static void token(sl__ctx_t *c, const sl__hit_t *h, pem_walk_t *pw) {
  uint32_t s = h->start, e = h->end;
  /* trim punctuation at the ends of a run */
  while (s < e && strchr("-_./=+!~", c->text[s])) s++;
  while (e > s && strchr("-_./+!~", c->text[e - 1])) e--;
  const char *t = c->text + s;
  size_t n = e - s;
  if (n < 24) return;
  size_t slashes = 0;
  for (size_t i = 0; i < n; i++) slashes += t[i] == '/';
  if (slashes > 2) return; /* a path */
  if (s >= 3 && !memcmp(c->text + s - 3, "://", 3)) return;
  /* pwdump / secretsdump lines: "user:RID:LM-hash:NT-hash:::" */
  if (n == 32 && e + 3 <= c->len && !memcmp(c->text + e, ":::", 3) && s > 0 && c->text[s - 1] == ':' &&
      sl__hex_only(t, n)) {
    add_secret(c, s, e, SL_ET_PASSWORD, "password_hash", 80, true);
    return;
  }
  /* a setting's name and its value run together: a value that stands in for
   * one is none ("JWT_SECRET=a-long-random-string…", "STRIPE_SECRET_KEY=
   * sk_live_51..."); after the name of a version or a digest the value alone
   * decides ("MantleAPI_version=9a03…": a hex digest alone is no key;
   * "STRIPE_WEBHOOK_SIGNING=26ce…" stays one) */
  const char *eq = memchr(t, '=', n);
  if (eq && eq - t >= 3 && identifier_like(t, (size_t)(eq - t))) {
    const char *v = eq + 1;
    size_t vn = n - (size_t)(v - t);
    if (stand_in_phrase(v, vn) || cut_short(c, e) || sl__is_placeholder(v, vn)) return;
    if (digest_name(t, (size_t)(eq - t))) {
      size_t k = (size_t)(eq - t) + 1;
      while (k < n && t[k] == '=') k++;
      s += (uint32_t)k;
      t += k;
      n -= k;
      if (n < 24) return;
    }
  }
  if (!sl__looks_random(t, n, true) || ulid_id(t, n)) return;
  if (public_blob(c, s, t, n, pw) || encoded_text(t, n) || dotted_code(t, n) || code_name(t, n) ||
      word_segment(t, n))
    return;
  if (public_named(c, s) || sealed_value(c, s)) return;
  add_secret(c, s, e, SL_ET_API_KEY, "random_token", 20, true);
}

/* Base32 (RFC 4648: A-Z, 2-7; a TOTP seed), in groups or not. */
static bool base32_seed(const char *v, size_t n) {
  size_t k = 0, letters = 0, digits = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)v[i];
    if (ch == ' ' || ch == '-') continue;
    if (ch >= 'A' && ch <= 'Z') letters++;
    else if (ch >= '2' && ch <= '7') digits++;
    else return false;
    k++;
  }
  return k >= 16 && k <= 128 && letters && digits;
}

/* Groups of digits or letters and digits joined by '-' (a BitLocker recovery
 * key's eight groups of six digits, backup codes "8f3k-29dk"). */
static bool code_groups(const char *v, size_t n) {
  size_t groups = 1, len = 0, dg = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)v[i];
    if (ch == '-') {
      if (len < 3) return false;
      groups++, len = 0;
    } else if (isalnum(ch)) {
      len++, dg += isdigit(ch) != 0;
    } else {
      return false;
    }
  }
  if (!(len >= 3 && groups >= 2 && dg * 2 >= n - groups)) return false;
  /* not a range of years ("the recovery codes for 2023-2024") */
  bool years = n == 9 && v[4] == '-';
  for (size_t i = 0; years && i < n; i++) years = i == 4 || isdigit((unsigned char)v[i]);
  return !(years && (v[0] == '1' || v[0] == '2') && (v[5] == '1' || v[5] == '2'));
}

/* After "TOTP seed", "recovery key", "backup codes": the value on the same line
 * within 100 bytes, after a colon, "is" or a space: a base32 seed or groups
 * of a code. */
static void otp_cue(sl__ctx_t *c, const sl__hit_t *h) {
  const char *t = c->text;
  uint32_t n = (uint32_t)c->len, lim = h->end + 100 < n ? h->end + 100 : n;
  for (uint32_t i = h->end; i < lim && t[i] != '\n';) {
    while (i < lim && (t[i] == ' ' || t[i] == ':' || t[i] == '=' || t[i] == '"' || t[i] == '\'' || t[i] == '`'))
      i++;
    uint32_t s = i;
    while (i < n && !sl__space((unsigned char)t[i]) && t[i] != ',' && t[i] != '"' && t[i] != '\'' &&
           t[i] != '`' && i - s < 200)
      i++;
    uint32_t e = i;
    while (e > s && strchr(".;)", t[e - 1])) e--;
    if (e - s >= 8 && !sl__is_placeholder(t + s, e - s) &&
        (base32_seed(t + s, e - s) || code_groups(t + s, e - s))) {
      add_secret(c, s, e, SL_ET_API_KEY, "otp_secret", 70, false);
      return;
    }
    if (i == s) i++;
  }
}

void sl__detect_secrets(sl__ctx_t *c) {
  for (size_t i = 0; i < c->hits->n; i++) {
    const sl__hit_t *h = &c->hits->v[i];
    switch (h->id) {
      case SL_P_AWS_AKID: {
        uint32_t e = body_end(c, h->end, "");
        bool upper = true;
        for (uint32_t k = h->end; k < e; k++) upper &= !islower((unsigned char)c->text[k]);
        if (e - h->end == 16 && upper && !sl__is_placeholder(c->text + h->end, 16))
          add_secret(c, h->start, e, SL_ET_CLOUD_CREDENTIAL, "aws_access_key_id", 90, false);
        break;
      }
      case SL_P_GCP_SA:
        add_secret(c, h->start, h->end, SL_ET_CLOUD_CREDENTIAL, "gcp_service_account", 90, false);
        break;
      case SL_P_AZURE_KEY: prefixed(c, h, "+/%=", 30, 4096, SL_ET_CLOUD_CREDENTIAL, "azure_key", 90); break;
      case SL_P_AZURE_SECRET:
        add_secret(c, h->start, h->end, SL_ET_CLOUD_CREDENTIAL, "azure_client_secret", 88, true);
        break;
      case SL_P_GOOGLE_KEY: prefixed(c, h, "_-", 35, 35, SL_ET_API_KEY, "google_api_key", 90); break;
      case SL_P_GOOGLE_OAUTH: prefixed(c, h, "_-", 20, 4096, SL_ET_API_KEY, "google_oauth", 90); break;
      case SL_P_GITHUB: github_token(c, h); break;
      case SL_P_GITLAB: prefixed(c, h, "_-", 20, 255, SL_ET_API_KEY, "gitlab_token", 90); break;
      case SL_P_SLACK: prefixed(c, h, "-", 10, 255, SL_ET_API_KEY, "slack_token", 90); break;
      case SL_P_SLACK_HOOK: prefixed(c, h, "+/", 20, 255, SL_ET_API_KEY, "slack_webhook", 90); break;
      case SL_P_STRIPE: prefixed(c, h, "", 16, 255, SL_ET_API_KEY, "stripe_key", 90); break;
      case SL_P_OPENAI: prefixed(c, h, "_-", 20, 255, SL_ET_API_KEY, "openai_key", 90); break;
      case SL_P_ANTHROPIC: prefixed(c, h, "_-", 20, 255, SL_ET_API_KEY, "anthropic_key", 92); break;
      case SL_P_VENDOR: prefixed(c, h, "_-.=+/$", 12, 4096, SL_ET_API_KEY, "vendor_token", 85); break;
      case SL_P_PRIVKEY: private_key(c, h); break;
      case SL_P_PRIVKEY_B64: private_key_b64(c, h); break;
      case SL_P_JWT: jwt(c, h); break;
      case SL_P_BASIC_AUTH: basic_auth(c, h); break;
      case SL_P_BEARER: bearer(c, h); break;
      case SL_P_PWHASH: {
        if (c->text[h->start] == '*') { /* MySQL's: 40 upper-case hex digits, hit whole */
          bool upper = h->end - h->start == 41;
          for (uint32_t k = h->start + 1; upper && k < h->end; k++) upper = !islower((unsigned char)c->text[k]);
          if (upper && !sl__is_placeholder(c->text + h->start + 1, 40))
            add_secret(c, h->start, h->end, SL_ET_PASSWORD, "password_hash", 80, false);
          break;
        }
        uint32_t e = body_end(c, h->end, "./+=$,:-@*_"); /* Kerberos: user@REALM, *svc_sql* */
        if (e - h->end >= 8)
          add_secret(c, h->start, e, SL_ET_PASSWORD, "password_hash", 80, false);
        break;
      }
      case SL_P_URL_CRED: url_cred(c, h); break;
      case SL_P_NETRC: netrc(c, h); break;
      case SL_P_CLI_PW: cli_password(c, h); break;
      case SL_P_CLIENT_KEY: client_key(c, h); break;
      case SL_P_CONNECT: connect_call(c, h->end - 1); break;
      case SL_P_PW_CUE: password_cue(c, h); break;
      case SL_P_KEY_CUE: key_cue(c, h); break;
      case SL_P_OTP_CUE: otp_cue(c, h); break;
      default: break;
    }
  }
}
