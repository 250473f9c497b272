/* Placeholder redaction of a chat request and streaming restoration of the
 * response. See redact.h for the consistency contract. */
#include "redact.h"
#include "sl_err.h"
#include "sl_str.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
  sl_redact_entry_t e;
  char *value;         /* owned copy */
  char *plain;         /* value with JSON escapes read: what aliases compare */
  size_t plain_len;
  bool restore_plain;  /* the value holds \uXXXX escapes (found in JSON text that a
                          tool result or an argument carried): answers get plain */
  char *placeholder;   /* owned */
  char *type;          /* owned */
  size_t first;        /* first appearance in the conversation text */
  size_t type_ix;      /* index into the caller's types (for the name) */
  bool any_case;       /* matched in any ASCII case (see anycase_value) */
  bool part;           /* an alias: a word of a detected name, or a value as JSON
                          text writes it ("221 \\"Old\\"" for 221 "Old") */
  size_t parent;       /* (part) the name's index; SIZE_MAX: a word of several */
  unsigned word_no;    /* (a word of a name, step 1b) its place in the name from 1:
                          its placeholder is the name's with ":N" ("[PERSON_1:2]"),
                          and an answer gets the word back, not the whole name */
  uint64_t words_h;    /* values of two words or more: their words in order, and */
  uint64_t last_first_h; /* with the last one first (same_words), hashed; else 0 */
} value_t;

struct sl_redact_map {
  value_t *v;          /* in placeholder order */
  size_t n;
  size_t max_ph;       /* longest placeholder, bytes */
};

typedef struct {
  size_t start, end;   /* within one message content */
  size_t v;            /* value index */
} span_t;

/* Bytes >= 0x80 count as word characters so that UTF-8 names keep their
 * boundaries ("José" does not match inside "Joséphine"). */
static bool word_byte(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         c == '_' || c >= 0x80;
}

/* Whether s[0..a) ends with a JSON escape that stands for a separator: \n,
 * \r, \t (JSON text: "Email:\nmaria@x.com" holds the address) or \uXXXX. */
static bool escape_before(const char *s, size_t a) {
  if (a >= 2 && s[a - 2] == '\\' && (s[a - 1] == 'n' || s[a - 1] == 'r' || s[a - 1] == 't'))
    return true;
  if (a < 6 || s[a - 6] != '\\' || s[a - 5] != 'u') return false;
  for (size_t i = a - 4; i < a; i++)
    if (!isxdigit((unsigned char)s[i])) return false;
  return true;
}

/* Whether the character ending at s[a) (a > 0) / starting at s[b] (b < len)
 * belongs to a word: ASCII as word_byte says; beyond it, letters do, and
 * spaces, punctuation, symbols and emoji do not (« » 。 🎉: sl_utf8_nonword). */
static bool word_before(const char *s, size_t a) {
  unsigned char c = (unsigned char)s[a - 1];
  if (c < 0x80) return word_byte(c);
  size_t q = a - 1;
  while (q > 0 && a - q < 4 && ((unsigned char)s[q] & 0xC0) == 0x80) q--;
  return !sl_utf8_nonword((const unsigned char *)s + q, a - q);
}

static bool word_after(const char *s, size_t len, size_t b) {
  unsigned char c = (unsigned char)s[b];
  return c < 0x80 ? word_byte(c) : !sl_utf8_nonword((const unsigned char *)s + b, len - b);
}

/* Whether a value's edge character e and the text's character t beside it
 * are a letter and a digit: words of names end there ("Hansen2024.pdf",
 * "q=Laila%20Hansen", "ticket 2024Hansen"). */
static bool letter_digit(unsigned char e, unsigned char t) {
  return ((e | 0x20) >= 'a' && (e | 0x20) <= 'z') && t >= '0' && t <= '9';
}

/* loose: '_' separates words too ("Laila_Hansen", as a message name must
 * write a person's), for the last look at a copy before it leaves. */
static bool at_boundary(const char *s, size_t len, size_t a, size_t b, const char *v,
                        size_t vl, bool loose) {
  if (word_byte((unsigned char)v[0]) && a > 0 && word_before(s, a) &&
      !(loose && s[a - 1] == '_') && !escape_before(s, a) && !letter_digit((unsigned char)v[0], (unsigned char)s[a - 1]))
    return false;
  if (word_byte((unsigned char)v[vl - 1]) && b < len && word_after(s, len, b) &&
      !(loose && s[b] == '_') && !letter_digit((unsigned char)v[vl - 1], (unsigned char)s[b]))
    return false;
  return true;
}

void sl_redact_map_free(sl_redact_map_t *m) {
  if (!m) return;
  for (size_t i = 0; i < m->n; i++) {
    free(m->v[i].value);
    free(m->v[i].plain);
    free(m->v[i].placeholder);
    free(m->v[i].type);
  }
  free(m->v);
  free(m);
}

size_t sl_redact_map_size(const sl_redact_map_t *m) { return m ? m->n : 0; }

const sl_redact_entry_t *sl_redact_map_entry(const sl_redact_map_t *m, size_t i) {
  return m && i < m->n ? &m->v[i].e : NULL;
}

char *sl_redact_map_summary_json(const sl_redact_map_t *m) {
  sl_buf_t b;
  sl_buf_init(&b, 1 << 20);
  int rc = sl_buf_puts(&b, "{");
  for (size_t i = 0; m && i < m->n && !rc; i++) {
    bool seen = false;
    for (size_t j = 0; j < i && !seen; j++) seen = !strcmp(m->v[j].type, m->v[i].type);
    if (seen) continue;
    size_t count = 0;
    for (size_t j = i; j < m->n; j++)
      if (!strcmp(m->v[j].type, m->v[i].type)) count += m->v[j].e.count;
    /* types are UPPER_SNAKE_CASE (validated at compile): no JSON escaping needed */
    rc = sl_buf_printf(&b, "%s\"%s\":%zu", b.len > 1 ? "," : "", m->v[i].type, count);
  }
  if (!rc) rc = sl_buf_puts(&b, "}");
  if (rc) {
    sl_buf_free(&b);
    return NULL;
  }
  return sl_buf_steal(&b, NULL);
}

/* ---- deep copy of the request ---- */

static int dup_opt(char **dst, const char *src) {
  *dst = NULL;
  if (!src) return 0;
  *dst = strdup(src);
  return *dst ? 0 : SL_ENOMEM;
}

/* Copies every owned field of sl_chat_req_t (sl_chat.h); scalars come with the
 * struct copy. Keep in step with sl_chat_req_free(). */
static int clone_req(const sl_chat_req_t *in, sl_chat_req_t *out) {
  *out = *in;
  out->msgs = NULL;
  out->n_msgs = 0;
  out->stop = NULL;
  out->n_stop = 0;
  out->model = out->tools = out->tool_choice = out->response_format = out->user = NULL;
  out->passthrough = out->beta = NULL;
  int rc = 0;
  if (in->n_msgs) {
    out->msgs = calloc(in->n_msgs, sizeof *out->msgs);
    if (!out->msgs) rc = SL_ENOMEM;
    for (size_t i = 0; !rc && i < in->n_msgs; i++) {
      const sl_msg_t *a = &in->msgs[i];
      sl_msg_t *b = &out->msgs[i];
      out->n_msgs++;
      b->is_error = a->is_error;
      if ((rc = dup_opt(&b->role, a->role)) || (rc = dup_opt(&b->content, a->content ? a->content : "")) ||
          (rc = dup_opt(&b->name, a->name)) || (rc = dup_opt(&b->tool_call_id, a->tool_call_id)) ||
          (rc = dup_opt(&b->tool_calls, a->tool_calls)))
        break;
    }
  }
  if (!rc && in->n_stop) {
    out->stop = calloc(in->n_stop, sizeof *out->stop);
    if (!out->stop) rc = SL_ENOMEM;
    for (size_t i = 0; !rc && i < in->n_stop; i++) {
      out->n_stop++;
      rc = dup_opt(&out->stop[i], in->stop[i]);
    }
  }
  if (!rc && !((rc = dup_opt(&out->model, in->model)) || (rc = dup_opt(&out->tools, in->tools)) ||
               (rc = dup_opt(&out->tool_choice, in->tool_choice)) ||
               (rc = dup_opt(&out->response_format, in->response_format)) ||
               (rc = dup_opt(&out->user, in->user)) ||
               (rc = dup_opt(&out->passthrough, in->passthrough)) ||
               (rc = dup_opt(&out->beta, in->beta))))
    return 0;
  sl_chat_req_free(out);
  return rc;
}

/* ---- a value written another way ---- */

/* The words of a text for loose_left: runs of letters and digits (UTF-8 letters
 * too), split at '_', '.', '-', any punctuation, a percent-encoded byte ("%20"
 * in a URL), a space that does not show (U+00A0, U+00AD, U+200B-D, U+2060,
 * U+FEFF) and a lower-case letter followed by a capital ("LailaHansen");
 * compared by a hash of their ASCII-folded bytes. */
typedef struct {
  size_t start, end;
  uint64_t h;
} lword_t;

static size_t hidden_space(const unsigned char *s, size_t i, size_t n) {
  if (i + 1 < n && s[i] == 0xC2 && (s[i + 1] == 0xA0 || s[i + 1] == 0xAD)) return 2;
  if (i + 2 < n && s[i] == 0xE2 && s[i + 1] == 0x80 && s[i + 2] >= 0x8B && s[i + 2] <= 0x8D) return 3;
  if (i + 2 < n && s[i] == 0xE2 && s[i + 1] == 0x81 && s[i + 2] == 0xA0) return 3;
  if (i + 2 < n && s[i] == 0xEF && s[i + 1] == 0xBB && s[i + 2] == 0xBF) return 3;
  return 0;
}

static bool hexdig(unsigned char c) {
  return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

/* "%2C", "%20": a byte percent-encoded, as a separator (3), or 0 */
static size_t pct_byte(const unsigned char *s, size_t i, size_t n) {
  return i + 2 < n && s[i] == '%' && hexdig(s[i + 1]) && hexdig(s[i + 2]) ? 3 : 0;
}

static uint64_t fold_hash(uint64_t h, unsigned char c) {
  if (c >= 'A' && c <= 'Z') c |= 0x20;
  return (h ^ c) * 1099511628211ULL;
}
#define LOOSE_H0 1469598103934665603ULL

/* The words of s[0..n); *out is malloc'd (NULL when there are none). */
static int loose_words(const char *text, size_t n, lword_t **out, size_t *count) {
  const unsigned char *s = (const unsigned char *)text;
  lword_t *w = NULL;
  size_t k = 0, cap = 0;
  for (size_t i = 0; i < n;) {
    bool alnum = (s[i] >= '0' && s[i] <= '9') || ((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'z');
    if (!(alnum || (s[i] >= 0x80 && !hidden_space(s, i, n)))) {
      i += s[i] >= 0x80 ? hidden_space(s, i, n) : pct_byte(s, i, n) ? 3 : 1;
      continue;
    }
    if (k == cap) {
      cap = cap ? cap * 2 : 64;
      lword_t *nw = realloc(w, cap * sizeof *nw);
      if (!nw) {
        free(w);
        return SL_ENOMEM;
      }
      w = nw;
    }
    size_t a = i;
    uint64_t h = LOOSE_H0;
    while (i < n) {
      unsigned char c = s[i];
      bool an = (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
      if (!(an || (c >= 0x80 && !hidden_space(s, i, n)))) break;
      if (i > a && c >= 'A' && c <= 'Z' && s[i - 1] >= 'a' && s[i - 1] <= 'z') break;
      h = fold_hash(h, c);
      i++;
    }
    w[k++] = (lword_t){a, i, h};
  }
  *out = w;
  *count = k;
  return 0;
}

/* A value's first word, or all its words run together, by hash; and the same
 * for its words in the order a list or a record puts a name in, the last one
 * first ("Hansen, Laila", "HANSEN LAILA", "hansenlaila"). */
enum { LK_WORDS, LK_JOINED, LK_LAST_FIRST, LK_LAST_FIRST_JOINED };
typedef struct {
  uint64_t h;
  uint32_t v;   /* value index */
  uint32_t how; /* LK_* */
} lkey_t;

static int lkey_cmp(const void *x, const void *y) {
  uint64_t a = ((const lkey_t *)x)->h, b = ((const lkey_t *)y)->h;
  return a < b ? -1 : a > b;
}

/* Whether a value of two words or more is still in text[0..n) written another
 * way: its words one after the other with anything between them that is not
 * a word ("laila_hansen", "LailaHansen", "laila.hansen", "Laila<U+200B>Hansen",
 * "Laila%20Hansen"), or run together as one word ("lailahansen"), in any ASCII
 * case; and so with its last word first ("HANSEN, LAILA", "hansen laila"). Where they
 * stand inside an e-mail address (a word with '@'), the address is what was
 * written, and the policy's redaction of its own type decides. One pass over
 * the text's words, each looked up among the values' first and joined words
 * (a request may carry a thousand values and a megabyte of text). */
static int loose_left(const sl_redact_map_t *m, const char *text, size_t n, bool *left) {
  *left = false;
  lword_t *tw = NULL, *vw = NULL;
  size_t nt = 0, nv = 0, nk = 0, nh = 0;
  lkey_t *keys = calloc(4 * m->n + 1, sizeof *keys);
  size_t *off = calloc(m->n + 1, sizeof *off); /* value k's word hashes: hs[off[k]..off[k+1]) */
  uint64_t *hs = NULL;
  int rc = keys && off ? loose_words(text, n, &tw, &nt) : SL_ENOMEM;
  for (size_t k = 0; !rc && k < m->n; k++) {
    off[k] = nh;
    const value_t *v = &m->v[k];
    free(vw);
    vw = NULL;
    if ((rc = loose_words(v->value, strlen(v->value), &vw, &nv)) || nv < 2) continue;
    uint64_t *nhs = realloc(hs, (nh + nv) * sizeof *hs);
    if (!nhs) {
      rc = SL_ENOMEM;
      break;
    }
    hs = nhs;
    uint64_t joined = LOOSE_H0, last_first = LOOSE_H0;
    for (size_t c = vw[nv - 1].start; c < vw[nv - 1].end; c++)
      last_first = fold_hash(last_first, (unsigned char)v->value[c]);
    for (size_t j = 0; j < nv; j++) {
      hs[nh++] = vw[j].h;
      for (size_t c = vw[j].start; c < vw[j].end; c++) {
        joined = fold_hash(joined, (unsigned char)v->value[c]);
        if (j + 1 < nv) last_first = fold_hash(last_first, (unsigned char)v->value[c]);
      }
    }
    keys[nk++] = (lkey_t){vw[0].h, (uint32_t)k, LK_WORDS};
    keys[nk++] = (lkey_t){joined, (uint32_t)k, LK_JOINED};
    keys[nk++] = (lkey_t){vw[nv - 1].h, (uint32_t)k, LK_LAST_FIRST};
    keys[nk++] = (lkey_t){last_first, (uint32_t)k, LK_LAST_FIRST_JOINED};
  }
  if (!rc) off[m->n] = nh;
  if (!rc && nk) qsort(keys, nk, sizeof *keys, lkey_cmp);
  for (size_t i = 0; !rc && nk && i < nt && !*left; i++) {
    size_t lo = 0, hi = nk; /* the first key with this word's hash */
    while (lo < hi) {
      size_t mid = (lo + hi) / 2;
      if (keys[mid].h < tw[i].h) lo = mid + 1;
      else hi = mid;
    }
    for (size_t q = lo; q < nk && keys[q].h == tw[i].h && !*left; q++) {
      size_t k = keys[q].v, words = off[k + 1] - off[k], end;
      if (keys[q].how == LK_JOINED || keys[q].how == LK_LAST_FIRST_JOINED) end = tw[i].end;
      else {
        /* the words after this one: the value's next ones, or its first ones */
        size_t j = 1, from = keys[q].how == LK_WORDS ? 0 : words - 1;
        while (j < words && i + j < nt && tw[i + j].h == hs[off[k] + (from + j) % words]) j++;
        if (j < words) continue;
        end = tw[i + words - 1].end;
      }
      /* the whitespace-delimited word around it: an e-mail address? */
      size_t a = tw[i].start, b = end;
      while (a > 0 && !isspace((unsigned char)text[a - 1])) a--;
      while (b < n && !isspace((unsigned char)text[b])) b++;
      if (!memchr(text + a, '@', b - a)) *left = true;
    }
  }
  free(hs);
  free(off);
  free(keys);
  free(vw);
  free(tw);
  return rc;
}

/* A copy of text[0..n) without the characters that do not show (soft hyphen,
 * zero-width and direction marks, word joiners, variation selectors, the BOM)
 * and with fullwidth ASCII, the mathematical letters (U+1D400..) and the
 * ideographic full stop ("example。com") read as ASCII, or NULL when there is
 * none of them (or no memory). */
static char *plain_letters(const char *text, size_t n, size_t *out_n) {
  const unsigned char *s = (const unsigned char *)text;
  bool any = false;
  for (size_t i = 0; i < n && !any; i++) any = s[i] >= 0xC2;
  if (!any) return NULL;
  char *o = malloc(n + 1);
  if (!o) return NULL;
  size_t k = 0;
  bool changed = false;
  for (size_t i = 0; i < n;) {
    size_t broken, len = sl_utf8_char(s + i, n - i, &broken);
    uint32_t cp = len >= 2 ? sl_utf8_cp(s + i, len) : 0; /* (ASCII, or a broken byte: kept) */
    if (!len) len = 1;
    bool hidden = cp == 0xAD || cp == 0x34F || cp == 0x180E || (cp >= 0x200B && cp <= 0x200F) ||
                  (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2060 && cp <= 0x2064) ||
                  (cp >= 0xFE00 && cp <= 0xFE0F) || cp == 0xFEFF;
    if (hidden) {
      changed = true;
    } else if (cp == 0x3002 || cp == 0xFF61) { /* ideographic and halfwidth full stops */
      o[k++] = '.';
      changed = true;
    } else if (cp >= 0xFF01 && cp <= 0xFF5E) { /* fullwidth ASCII */
      o[k++] = (char)(cp - 0xFF01 + 0x21);
      changed = true;
    } else if (cp >= 0x1D400 && cp <= 0x1D6A3) { /* mathematical letters: blocks of A-Z a-z */
      uint32_t x = (cp - 0x1D400) % 52;
      o[k++] = (char)(x < 26 ? 'A' + x : 'a' + x - 26);
      changed = true;
    } else {
      memcpy(o + k, s + i, len);
      k += len;
    }
    i += len;
  }
  if (!changed) {
    free(o);
    return NULL;
  }
  o[k] = '\0';
  *out_n = k;
  return o;
}

/* ---- building the map ---- */

/* Values of more than one word, and those with digits or punctuation (an e-mail
 * address, a street), are replaced in any ASCII case: "LAILA HANSEN" and "laila
 * hansen" are the same person as "Laila Hansen". A single word keeps its case
 * ("Will" the name is not "will" the verb), but for a person's name word that is
 * no English word (step 1c of sl_redact_request). */
static bool anycase_value(const char *v, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!(((unsigned char)v[i] | 0x20) >= 'a' && ((unsigned char)v[i] | 0x20) <= 'z')) return true;
  return false;
}

/* Whether the two-byte UTF-8 letter lead, c is a capital of Latin-1 or Latin
 * Extended-A ("Å", "Ø", "Ł", "Ž"): U+00C0..U+00DE but ×, and in Extended-A
 * (U+0100..U+017F) the even code points, but for the runs U+0139..U+0148 and
 * U+0179..U+017E, where they are the odd ones. *cp: its code point. */
static bool latin_capital(unsigned char lead, unsigned char c, unsigned *cp) {
  *cp = ((lead & 0x1Fu) << 6) | (c & 0x3Fu);
  if ((c & 0xC0) != 0x80) return false;
  if (lead == 0xC3) return c <= 0x9E && c != 0x97;
  if (lead != 0xC4 && lead != 0xC5) return false;
  bool odd_capitals = (*cp >= 0x139 && *cp <= 0x148) || (*cp >= 0x179 && *cp <= 0x17E);
  return odd_capitals ? (*cp & 1) : !(*cp & 1);
}

/* Whether w starts with a capital letter of Latin-1 or Latin Extended-A
 * ("Åberg", "Østberg", "Łukasz", "Žižek"). */
static bool utf8_capital(const char *w, size_t n) {
  unsigned cp;
  return n >= 2 && latin_capital((unsigned char)w[0], (unsigned char)w[1], &cp);
}

/* A word of a name worth hiding alone: a capital and at least two more letters
 * (UTF-8 letters too), and no English word that names are made of ("Will",
 * "May", "Mark"). */
static bool name_word(const char *w, size_t n) {
  static const char *const words[] = {"Will", "May", "Mark", "Bill", "Don", "Long", "Young",
                                      "Van", "Von", "Del", "Des", "Dos", "Das", "The", NULL};
  if (n < 3 || !((w[0] >= 'A' && w[0] <= 'Z') || utf8_capital(w, n))) return false;
  for (size_t i = 1; i < n; i++)
    if (!(((unsigned char)w[i] | 0x20) >= 'a' && ((unsigned char)w[i] | 0x20) <= 'z') &&
        (unsigned char)w[i] < 0x80 && w[i] != '-' && w[i] != '\'')
      return false;
  for (const char *const *x = words; *x; x++)
    if (strlen(*x) == n && !memcmp(*x, w, n)) return false;
  return true;
}

/* p[0..n) with its JSON escapes read (sl_json_escape_at), NUL-terminated. */
static char *unescape(const char *p, size_t n, size_t *len) {
  char *out = malloc(n + 1);
  if (!out) return NULL;
  const unsigned char *t = (const unsigned char *)p;
  size_t k = 0;
  for (size_t i = 0; i < n;) {
    unsigned char dec[4];
    size_t used = 1, nd = t[i] == '\\' ? sl_json_escape_at(t, n, i, dec, &used) : 0;
    if (nd) {
      memcpy(out + k, dec, nd);
      k += nd;
    } else {
      memcpy(out + k, p + i, used);
      k += used;
    }
    i += used;
  }
  out[k] = '\0';
  *len = k;
  return out;
}

/* The lower case of the Latin-1 or Latin Extended-A letter whose UTF-8 lead
 * byte is `lead` and continuation byte c, as that continuation byte (or c
 * itself where the lower case has another lead byte, or none). */
static unsigned char fold_cont(unsigned char lead, unsigned char c) {
  unsigned cp;
  if (!latin_capital(lead, c, &cp)) return c;
  if (lead == 0xC3) return (unsigned char)(c + 0x20);
  /* (İ, ĸ, ŉ, ſ: no lower case of the same lead byte) */
  bool capital = cp != 0x130 && cp != 0x138 && cp != 0x149 && cp != 0x17F;
  return capital && ((cp + 1) >> 6) == (cp >> 6) ? (unsigned char)(c + 1) : c;
}

/* Whether a[0..n) and b[0..n) are the same text in any case of ASCII, Latin-1
 * and Latin Extended-A letters ("ÅBERG", "åberg"; strncasecmp folds ASCII
 * only). */
static bool same_any_case(const char *a, const char *b, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
    if (x == y) continue;
    if (x < 0x80 && y < 0x80) {
      if (tolower(x) != tolower(y)) return false;
    } else if (!i || a[i - 1] != b[i - 1] || (x & 0xC0) != 0x80 || (y & 0xC0) != 0x80 ||
               fold_cont((unsigned char)a[i - 1], x) != fold_cont((unsigned char)a[i - 1], y)) {
      return false;
    }
  }
  return true;
}

static bool same_text(const char *a, const char *b, size_t n, bool any_case) {
  return any_case ? same_any_case(a, b, n) : !memcmp(a, b, n);
}

/* Appends a value (p[0..len) found at pos) to the map. */
static int add_value(sl_redact_map_t *m, const char *p, size_t len, size_t type_ix, size_t pos,
                     size_t *ix) {
  if (m->n >= SL_REDACT_MAX_VALUES) return SL_ETOOBIG;
  if (m->n % 16 == 0) {
    value_t *nv = realloc(m->v, (m->n + 16) * sizeof *nv);
    if (!nv) return SL_ENOMEM;
    m->v = nv;
  }
  value_t *v = &m->v[m->n];
  memset(v, 0, sizeof *v);
  v->value = malloc(len + 1);
  v->plain = unescape(p, len, &v->plain_len);
  if (!v->value || !v->plain) {
    free(v->value);
    free(v->plain);
    return SL_ENOMEM;
  }
  memcpy(v->value, p, len);
  v->value[len] = '\0';
  v->e.value = v->value;
  v->e.value_len = len;
  v->first = pos;
  v->type_ix = type_ix;
  v->any_case = anycase_value(p, len);
  for (size_t k = 0; k + 6 <= len && !v->restore_plain && v->plain_len != len; k++)
    v->restore_plain = p[k] == '\\' && p[k + 1] == 'u' && isxdigit((unsigned char)p[k + 2]) &&
                       isxdigit((unsigned char)p[k + 3]) && isxdigit((unsigned char)p[k + 4]) &&
                       isxdigit((unsigned char)p[k + 5]);
  *ix = m->n++;
  return 0;
}

/* A value's words (loose_words: any case, anything between them,
 * "Laila\u00a0Hansen", "Laila-Hansen") hashed in order, and with the last one
 * first ("Hansen, Laila"): two values of one type with the same words are one
 * written two ways. 0 and 0 for a value of fewer than two words. */
static int words_hashes(const char *v, size_t n, uint64_t *in_order, uint64_t *last_first) {
  lword_t *w = NULL;
  size_t nw = 0;
  *in_order = *last_first = 0;
  if (loose_words(v, n, &w, &nw)) return SL_ENOMEM;
  if (nw >= 2) {
    uint64_t h = LOOSE_H0, r = LOOSE_H0 * 31 + w[nw - 1].h;
    for (size_t i = 0; i < nw; i++) {
      h = h * 31 + w[i].h;
      if (i + 1 < nw) r = r * 31 + w[i].h;
    }
    *in_order = h ? h : 1;
    *last_first = r ? r : 1;
  }
  free(w);
  return 0;
}

/* The value p[0..len) in the map: the same bytes, the same in another ASCII
 * case (a value matched in any case), an alias of the value it writes as
 * JSON text does ("Jos\\u00e9" is José: one person, one placeholder), or the
 * same words of a value of its type written another way (words_hashes). */
static int find_or_add(sl_redact_map_t *m, const char *p, size_t len, size_t type_ix,
                       size_t pos, size_t *ix) {
  bool any_case = anycase_value(p, len);
  for (size_t i = 0; i < m->n; i++)
    if (m->v[i].e.value_len == len && same_text(m->v[i].value, p, len, any_case && m->v[i].any_case)) {
      if (pos < m->v[i].first) m->v[i].first = pos;
      *ix = i;
      return 0;
    }
  int rc = add_value(m, p, len, type_ix, pos, ix);
  value_t *v = rc ? NULL : &m->v[*ix];
  for (size_t i = 0; v && i + 1 < m->n; i++) {
    value_t *w = &m->v[i];
    if (w->part || w->plain_len != v->plain_len ||
        !same_text(w->plain, v->plain, v->plain_len, v->any_case && w->any_case))
      continue;
    /* the form without escapes leads: it is what an answer gets back (spans
     * already found keep their offsets; either index gives one placeholder) */
    if (w->e.value_len != w->plain_len && v->e.value_len == v->plain_len) {
      value_t t = *w;
      *w = *v, *v = t;
      w->e.value = w->value, v->e.value = v->value;
      if (v->first < w->first) w->first = v->first;
    }
    v->part = true;
    v->parent = i;
    break;
  }
  if (v && !v->part && !(rc = words_hashes(v->value, v->e.value_len, &v->words_h, &v->last_first_h)))
    for (size_t i = 0; v->words_h && i + 1 < m->n; i++) {
      value_t *w = &m->v[i];
      if (w->part || w->type_ix != v->type_ix || !w->words_h ||
          (w->words_h != v->words_h && w->words_h != v->last_first_h))
        continue;
      v->part = true;
      v->parent = i;
      break;
    }
  return rc;
}

/* A value as JSON text writes it inside a string: its escaped form. */
static char *json_escaped(const char *p, size_t n) {
  sl_buf_t b;
  sl_buf_init(&b, (size_t)1 << 30);
  if (sl_buf_json_chars(&b, p, n)) {
    sl_buf_free(&b);
    return NULL;
  }
  return sl_buf_steal(&b, NULL);
}

/* An alias of value i written p[0..n): replaced by i's placeholder (after
 * numbering), unless the map has those bytes already. A part of the value
 * (part_no > 0: an address's local part, a street's number and name) gets
 * i's placeholder with that number ("[EMAIL_ADDRESS_1:1]"), so that an answer
 * gets the part back, not the whole value. */
/* The placeholder of part part_no of the value whose placeholder is ph
 * ("[PERSON_1]", 2: "[PERSON_1:2]"; 0: ph itself), into out; its length. */
static int part_placeholder(char *out, size_t cap, const char *ph, unsigned part_no) {
  return part_no ? snprintf(out, cap, "%.*s:%u]", (int)strlen(ph) - 1, ph, part_no) : snprintf(out, cap, "%s", ph);
}

static int add_part(sl_redact_map_t *m, size_t i, const char *p, size_t n, const char *const *types,
                    unsigned part_no) {
  for (size_t j = 0; j < m->n; j++)
    if (m->v[j].e.value_len == n && !memcmp(m->v[j].value, p, n)) return 0;
  size_t ix;
  int rc = add_value(m, p, n, m->v[i].type_ix, m->v[i].first, &ix);
  if (rc) return rc;
  value_t *v = &m->v[ix], *of = &m->v[i];
  v->part = true;
  v->parent = of->part && of->parent != SIZE_MAX ? of->parent : i;
  v->any_case = of->any_case;
  char ph[80];
  int w = part_placeholder(ph, sizeof ph, of->placeholder, part_no);
  if ((size_t)w > m->max_ph) m->max_ph = (size_t)w;
  v->placeholder = strdup(ph);
  v->type = strdup(types[of->type_ix]);
  v->e.type = v->type;
  v->e.placeholder = v->placeholder;
  return v->placeholder && v->type ? 0 : SL_ENOMEM;
}

static int add_alias(sl_redact_map_t *m, size_t i, const char *p, size_t n, const char *const *types) {
  return add_part(m, i, p, n, types, 0);
}

/* Aliases of every value holding a character JSON escapes (a quote, a
 * backslash, a line break): the value escaped once (tool-call arguments, JSON
 * pasted in a message) and twice (the arguments as the request carries them,
 * a string inside a string), so that the copy is rewritten there too and step
 * 4 sees the value in either form. */
static int add_escaped_aliases(sl_redact_map_t *m, const char *const *types) {
  int rc = 0;
  for (size_t i = 0, n0 = m->n; i < n0 && !rc; i++) {
    char *once = NULL, *twice = NULL;
    const char *v = m->v[i].value;
    bool special = false;
    for (const char *c = v; *c && !special; c++) special = *c == '"' || *c == '\\' || (unsigned char)*c < 0x20;
    if (!special) continue;
    if (!(once = json_escaped(v, strlen(v))) || !(twice = json_escaped(once, strlen(once)))) rc = SL_ENOMEM;
    if (!rc) rc = add_alias(m, i, once, strlen(once), types);
    if (!rc) rc = add_alias(m, i, twice, strlen(twice), types);
    free(once);
    free(twice);
  }
  return rc;
}

/* Aliases of a number written with separators (a phone, a card, an SSN): its
 * digits alone, and for an international phone also without the country code
 * (one to three digits after the '+'), with and without a trunk 0 — the same
 * number again in a later turn, bare ("call +1 415 555 0134 … or 4155550134"),
 * where the detector wants a cue word to see it. */
static int add_digit_aliases(sl_redact_map_t *m, const char *const *types) {
  int rc = 0;
  for (size_t i = 0, n0 = m->n; i < n0 && !rc; i++) {
    const char *v = m->v[i].value;
    char d[40];
    size_t nd = 0, len = m->v[i].e.value_len;
    bool number = len < 64;
    for (size_t k = 0; k < len && number; k++) {
      if (v[k] >= '0' && v[k] <= '9') {
        if (nd + 1 >= sizeof d) number = false;
        else d[nd++] = v[k];
      } else {
        number = strchr(" -.()/+", v[k]) != NULL;
      }
    }
    if (!number || nd < 7) continue;
    if (nd != len) rc = add_alias(m, i, d, nd, types);
    for (size_t cc = 1; v[0] == '+' && cc <= 3 && nd - cc >= 7 && !rc; cc++) {
      char z[40] = "0";
      memcpy(z + 1, d + cc, nd - cc);
      rc = add_alias(m, i, z + 1, nd - cc, types);
      if (!rc) rc = add_alias(m, i, z, nd - cc + 1, types);
    }
    /* the "+" dialled as the international prefix 00: "0014155550134" */
    if (v[0] == '+' && nd + 2 < sizeof d && !rc) {
      char z[44] = "00";
      memcpy(z + 2, d, nd);
      rc = add_alias(m, i, z, nd + 2, types);
    }
  }
  return rc;
}

/* Aliases of an e-mail address's local part when it spells a person's handle
 * ("laila.hansen", "j_smith-2"): two parts or more of letters joined by '.',
 * '_' or '-', as a handle elsewhere in the conversation ("her handle is
 * laila.hansen") names the same person. A role's ("info", "no-reply") is none. */
static int add_local_part_aliases(sl_redact_map_t *m, const char *const *types) {
  int rc = 0;
  for (size_t i = 0, n0 = m->n; i < n0 && !rc; i++) {
    const char *v = m->v[i].value, *at = strchr(v, '@');
    if (strcmp(types[m->v[i].type_ix], "EMAIL_ADDRESS") || !at) continue;
    size_t n = (size_t)(at - v), parts = 0, run = 0;
    bool ok = n >= 5 && n < 64;
    for (size_t k = 0; k <= n && ok; k++) {
      if (k < n && isalnum((unsigned char)v[k])) {
        run++;
      } else if (k == n || strchr("._-", v[k])) {
        ok = run >= 2;
        parts++;
        run = 0;
      } else {
        ok = false;
      }
    }
    static const char *const roles[] = {"no-reply", "no_reply", "do-not-reply", "do_not_reply", NULL};
    for (const char *const *r = roles; *r && ok; r++) ok = strlen(*r) != n || strncasecmp(*r, v, n);
    if (ok && parts >= 2) rc = add_part(m, i, v, n, types, 1);
  }
  return rc;
}

/* Aliases of a street address's house number and street name's first word
 * ("1600 Amphitheatre" of "1600 Amphitheatre Parkway, Mountain View, CA";
 * "Hauptstraße 5" of "Hauptstraße 5, 10115 Berlin"), found in any case: the
 * same address written again another way ("1600 amphitheatre pkwy") keeps no
 * more than its street type. */
static int add_street_aliases(sl_redact_map_t *m, const char *const *types) {
  int rc = 0;
  for (size_t i = 0, n0 = m->n; i < n0 && !rc; i++) {
    const char *v = m->v[i].value;
    if (strcmp(types[m->v[i].type_ix], "STREET_ADDRESS")) continue;
    size_t a = strcspn(v, " ,\n"), b = a;
    if (v[a] != ' ') continue;
    while (v[b] == ' ') b++;
    size_t e = b + strcspn(v + b, " ,\n");
    bool num_first = isdigit((unsigned char)v[0]), num_second = isdigit((unsigned char)v[b]);
    /* a number of at most six characters (12, 12a, 1600) and a word of three
     * letters or more */
    const char *num = num_first ? v : v + b, *word = num_first ? v + b : v;
    size_t nn = num_first ? a : e - b, wn = num_first ? e - b : a;
    size_t letters = 0;
    for (size_t k = 0; k < wn; k++) letters += isalpha((unsigned char)word[k]) || (unsigned char)word[k] >= 0x80;
    if (num_first == num_second || nn > 6 || !isdigit((unsigned char)num[0]) || letters < 3 || letters < wn)
      continue;
    if (e >= 6) rc = add_part(m, i, v, e, types, 1);
  }
  return rc;
}

static int type_index(const char *const *types, size_t n, const char *t) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(types[i], t)) return (int)i;
  return -1;
}

static int cmp_first(const void *a, const void *b) {
  const value_t *x = a, *y = b;
  if (x->part != y->part) return x->part ? 1 : -1; /* the words of names last */
  if (x->first != y->first) return x->first < y->first ? -1 : 1;
  if (x->e.value_len != y->e.value_len) return x->e.value_len > y->e.value_len ? -1 : 1;
  return memcmp(x->value, y->value, x->e.value_len);
}

static int cmp_span(const void *a, const void *b) {
  const span_t *x = a, *y = b;
  if (x->start != y->start) return x->start < y->start ? -1 : 1;
  if (x->end != y->end) return x->end > y->end ? -1 : 1; /* longer first */
  return 0;
}

typedef struct {
  span_t *s;
  size_t n, cap;
} spans_t;

static int spans_push(spans_t *ss, size_t a, size_t b, size_t v) {
  if (ss->n == ss->cap) {
    size_t nc = ss->cap ? ss->cap * 2 : 32;
    span_t *ns = realloc(ss->s, nc * sizeof *ns);
    if (!ns) return SL_ENOMEM;
    ss->s = ns;
    ss->cap = nc;
  }
  ss->s[ss->n++] = (span_t){a, b, v};
  return 0;
}

/* Per first byte, the values starting with it: one pass over a text finds all
 * occurrences of all values. */
typedef struct {
  uint32_t *ix;      /* value indices, grouped by first byte */
  uint32_t off[257];
} first_index_t;

static int build_first_index(const sl_redact_map_t *m, first_index_t *fi) {
  memset(fi->off, 0, sizeof fi->off);
  fi->ix = malloc((m->n + 1) * sizeof *fi->ix);
  if (!fi->ix) return SL_ENOMEM;
  /* by the lower-case first byte: a value in any case is found from either */
  for (size_t i = 0; i < m->n; i++) fi->off[tolower((unsigned char)m->v[i].value[0]) + 1]++;
  for (int c = 0; c < 256; c++) fi->off[c + 1] += fi->off[c];
  uint32_t fill[256];
  memcpy(fill, fi->off, sizeof fill);
  for (size_t i = 0; i < m->n; i++) fi->ix[fill[tolower((unsigned char)m->v[i].value[0])]++] = (uint32_t)i;
  return 0;
}

/* Adds every boundary-respecting occurrence of every value in s to ss. */
static int find_occurrences(const sl_redact_map_t *m, const first_index_t *fi, const char *s,
                            size_t len, spans_t *ss, size_t *first_seen, size_t base, bool loose) {
  for (size_t p = 0; p < len; p++) {
    unsigned char c = (unsigned char)tolower((unsigned char)s[p]);
    for (uint32_t k = fi->off[c]; k < fi->off[c + 1]; k++) {
      const value_t *v = &m->v[fi->ix[k]];
      size_t vl = v->e.value_len;
      if (vl > len - p || !same_text(s + p, v->value, vl, v->any_case) ||
          !at_boundary(s, len, p, p + vl, v->value, vl, loose))
        continue;
      if (first_seen && base + p < first_seen[fi->ix[k]]) first_seen[fi->ix[k]] = base + p;
      if (ss) {
        int rc = spans_push(ss, p, p + vl, fi->ix[k]);
        if (rc) return rc;
      }
    }
  }
  return 0;
}

/* Whether what span i adds past `at` (where the span before it ended) is a
 * later span's, but for separators between: "Hansen, Laila" (the surname-first
 * spelling of a value) across "Laila Hansen, Laila Hansen" adds only ", " and
 * the second name, which has a placeholder of its own. */
static bool covered_later(const char *s, const spans_t *ss, size_t i, size_t at) {
  size_t end = ss->s[i].end;
  for (size_t k = i + 1; k < ss->n && ss->s[k].start < end; k++) {
    if (ss->s[k].end < end) continue;
    size_t j = at;
    while (j < ss->s[k].start && !word_after(s, end, j)) {
      uint8_t n = sl_utf8_seq_len((uint8_t)s[j]);
      j += n ? n : 1;
    }
    if (j >= ss->s[k].start) return true;
  }
  return false;
}

/* Replaces the chosen spans of *s with placeholders (greedy, left to right,
 * longest first at equal starts, no overlaps). */
static int rewrite(sl_redact_map_t *m, char **s, spans_t *ss) {
  if (!ss->n) return 0;
  qsort(ss->s, ss->n, sizeof *ss->s, cmp_span);
  size_t len = strlen(*s);
  sl_buf_t b;
  sl_buf_init(&b, (size_t)1 << 31);
  size_t at = 0;
  int rc = sl_buf_append(&b, "", 0);
  for (size_t i = 0; i < ss->n && !rc; i++) {
    span_t *sp = &ss->s[i];
    /* A span inside the previous one is covered; one that overlaps it and
     * reaches further gets its own placeholder too, so that no byte of a value
     * is left behind (rare: two values sharing bytes). */
    if (sp->end <= at || sp->end > len) continue;
    if (sp->start < at && covered_later(*s, ss, i, at)) continue;
    value_t *v = &m->v[sp->v];
    if ((sp->start > at && (rc = sl_buf_append(&b, *s + at, sp->start - at))) ||
        (rc = sl_buf_puts(&b, v->placeholder)))
      break;
    v->e.count++;
    at = sp->end;
  }
  if (!rc) rc = sl_buf_append(&b, *s + at, len - at);
  if (rc) {
    sl_buf_free(&b);
    return rc;
  }
  free(*s);
  *s = sl_buf_steal(&b, NULL);
  return 0;
}

/* Whether the placeholder ph of `type` is written anywhere in the request's
 * text (sl_chat_text: a stop string and a tool's description too); *seen caches
 * whether any "[TYPE_" is (most requests: none, one look per type). */
static bool written_in(const char *text, const char *type, signed char *seen, const char *ph) {
  if (!*seen) {
    char head[48];
    snprintf(head, sizeof head, "[%.39s_", type);
    *seen = strstr(text, head) ? 2 : 1;
  }
  if (*seen != 2) return false;
  /* and as a part's placeholder: "[PERSON_1:2]" is PERSON_1's too */
  char part[72];
  size_t n = strlen(ph);
  snprintf(part, sizeof part, "%.*s:", (int)(n - 1), ph);
  return strstr(text, ph) || strstr(text, part);
}

int sl_redact_request(const sl_chat_req_t *in, const sl_class_t *cls, const char *const *types,
                      size_t n_types, sl_chat_req_t *out, sl_redact_map_t **map) {
  *map = NULL;
  sl_chat_req_init(out);
  sl_redact_map_t *m = calloc(1, sizeof *m);
  if (!m) return SL_ENOMEM;
  size_t nm = in->n_msgs;
  size_t *moff = calloc(nm + 1, sizeof *moff), *mlen = calloc(nm + 1, sizeof *mlen);
  size_t *first_seen = NULL;
  spans_t *det = calloc(nm + 1, sizeof *det); /* detected spans per message */
  first_index_t fi = {0};
  char *full = NULL; /* sl_chat_text(in), only if an entity lies past the messages */
  size_t full_len = 0;
  int rc = (!moff || !mlen || !det) ? SL_ENOMEM : 0;
  size_t total = 0;
  for (size_t i = 0; !rc && i < nm; i++) {
    moff[i] = total;
    mlen[i] = in->msgs[i].content ? strlen(in->msgs[i].content) : 0;
    total += mlen[i] + 1;
  }
  size_t text_len = nm ? total - 1 : 0;

  /* 1. Values from the detected entities of the listed types, split where an
   *    entity crosses a message boundary (the "\n" joining them). */
  for (size_t k = 0; !rc && cls && k < cls->n_entities; k++) {
    const sl_entity_t *e = &cls->entities[k];
    int t = type_index(types, n_types, e->type);
    if (t < 0 || e->start >= e->end) continue;
    if (e->end > text_len) {
      /* Found outside message contents (tool calls, tool definitions, schema,
       * user, stop strings: see sl_chat_text). Its value joins the map, so it is
       * replaced wherever this copy rewrites; step 4 refuses the copy if it
       * still shows up anywhere. */
      if (!full && (rc = sl_chat_text(in, &full, &full_len))) break;
      size_t ix;
      if (e->end <= full_len)
        rc = find_or_add(m, full + e->start, e->end - e->start, (size_t)t, e->start, &ix);
      continue;
    }
    for (size_t i = 0; !rc && i < nm; i++) {
      size_t a = e->start > moff[i] ? e->start : moff[i];
      size_t b = e->end < moff[i] + mlen[i] ? e->end : moff[i] + mlen[i];
      if (a >= b) continue;
      size_t ix;
      rc = find_or_add(m, in->msgs[i].content + (a - moff[i]), b - a, (size_t)t, a, &ix);
      if (!rc) rc = spans_push(&det[i], a - moff[i], b - moff[i], ix);
    }
  }

  /* 1b. The words of a person's name, alone elsewhere: "Hansen" or "Laila"
   *     after "Laila Hansen" is the same person and gets the name's
   *     placeholder with the word's place ("[PERSON_1:2]": the upstream sees
   *     one person, and a record's "last_name" gets "Hansen" back, not the
   *     whole name); a word of two names gets a placeholder of its own. */
  for (size_t k = 0, n0 = m->n; !rc && k < n0; k++) {
    if (m->v[k].part || strcmp(types[m->v[k].type_ix], "PERSON") || !strchr(m->v[k].value, ' '))
      continue;
    const char *v = m->v[k].value;
    size_t first = m->v[k].first, type_ix = m->v[k].type_ix;
    unsigned no = 0;
    for (size_t a = 0, b; !rc && v[a]; a = b) {
      while (v[a] == ' ') a++;
      for (b = a; v[b] && v[b] != ' '; b++) {}
      if (b == a) continue;
      no++;
      if (!name_word(v + a, b - a)) continue;
      size_t ix, before = m->n;
      rc = find_or_add(m, v + a, b - a, type_ix, first + a, &ix);
      if (rc) break;
      value_t *w = &m->v[ix];
      if (m->n > before || (!w->part && !strchr(w->value, ' '))) {
        w->parent = w->part && w->parent != k ? SIZE_MAX : k;
        w->word_no = w->parent == k ? no : 0;
        w->part = true;
      } else if (w->part && w->parent != k) {
        w->parent = SIZE_MAX;
        w->word_no = 0;
      }
    }
  }

  /* 1c. A person's name word that is no English word is that person in any
   *     case: "hansen" in a tool's arguments or a stop string is "Hansen"
   *     ("Brown", an English word too, keeps its case: "brown" is a colour). */
  for (size_t k = 0; !rc && k < m->n; k++) {
    value_t *v = &m->v[k];
    if (!v->any_case && !strcmp(types[v->type_ix], "PERSON") && name_word(v->value, v->e.value_len) &&
        !sl_router_english_word(v->value, v->e.value_len))
      v->any_case = true;
  }

  /* 2. Number by first appearance anywhere in the conversation. */
  if (!rc && m->n && !full) rc = sl_chat_text(in, &full, &full_len);
  if (!rc && m->n) {
    rc = build_first_index(m, &fi);
    first_seen = malloc(m->n * sizeof *first_seen);
    if (!rc && !first_seen) rc = SL_ENOMEM;
    for (size_t i = 0; !rc && i < m->n; i++) first_seen[i] = m->v[i].first;
    for (size_t i = 0; !rc && i < nm; i++)
      rc = find_occurrences(m, &fi, in->msgs[i].content ? in->msgs[i].content : "", mlen[i],
                            NULL, first_seen, moff[i], false);
  }
  if (!rc && m->n) {
    /* Sorting moves values, so carry the remap through `first` order. */
    size_t *where = malloc(m->n * sizeof *where);
    if (!where) rc = SL_ENOMEM;
    for (size_t i = 0; !rc && i < m->n; i++) {
      m->v[i].first = first_seen[i];
      m->v[i].e.count = i; /* old index, restored to 0 below */
    }
    if (!rc) qsort(m->v, m->n, sizeof *m->v, cmp_first);
    for (size_t i = 0; !rc && i < m->n; i++) where[m->v[i].e.count] = i;
    for (size_t i = 0; !rc && i < m->n; i++)
      if (m->v[i].part && m->v[i].parent != SIZE_MAX) m->v[i].parent = where[m->v[i].parent];
    size_t *next_no = rc ? NULL : calloc(n_types ? n_types : 1, sizeof *next_no);
    signed char *quoted = rc ? NULL : calloc(n_types ? n_types : 1, 1); /* 0 unknown, 1 no, 2 yes */
    if (!rc && (!next_no || !quoted)) rc = SL_ENOMEM;
    for (size_t i = 0; !rc && i < m->n; i++) {
      value_t *v = &m->v[i];
      v->e.count = 0;
      char ph[64];
      int w;
      /* a placeholder the client wrote itself ("what does [PERSON_1] mean?") is
       * skipped: the answer's copy of it must not become the value */
      if (v->part && v->parent != SIZE_MAX) /* (names are numbered before their words) */
        w = part_placeholder(ph, sizeof ph, m->v[v->parent].placeholder, v->word_no);
      else
        do
          w = snprintf(ph, sizeof ph, "[%.39s_%zu]", types[v->type_ix], ++next_no[v->type_ix]);
        while (written_in(full, types[v->type_ix], &quoted[v->type_ix], ph));
      if (!(v->placeholder = strdup(ph)) || !(v->type = strdup(types[v->type_ix]))) rc = SL_ENOMEM;
      v->e.type = v->type;
      v->e.placeholder = v->placeholder;
      if (!rc && (size_t)w > m->max_ph) m->max_ph = (size_t)w;
    }
    for (size_t i = 0; !rc && i < nm; i++)
      for (size_t j = 0; j < det[i].n; j++) det[i].s[j].v = where[det[i].s[j].v];
    free(next_no);
    free(quoted);
    free(where);
    free(fi.ix);
    fi.ix = NULL;
    if (!rc) rc = add_escaped_aliases(m, types);
    if (!rc) rc = add_digit_aliases(m, types);
    if (!rc) rc = add_local_part_aliases(m, types);
    if (!rc) rc = add_street_aliases(m, types);
    if (!rc) rc = build_first_index(m, &fi);
  }

  /* 3. Rewrite a copy: detected spans plus every other occurrence. */
  if (!rc) rc = clone_req(in, out);
  for (size_t i = 0; !rc && m->n && i < nm; i++) {
    sl_msg_t *msg = &out->msgs[i];
    rc = find_occurrences(m, &fi, msg->content, mlen[i], &det[i], NULL, 0, false);
    if (!rc) rc = rewrite(m, &msg->content, &det[i]);
    /* a tool call's id and the id its result answers: rewritten alike, so that
     * they still match */
    char **fields[2] = {&msg->tool_calls, &msg->tool_call_id};
    for (int f = 0; f < 2 && !rc; f++) {
      if (!*fields[f]) continue;
      spans_t tc = {0};
      rc = find_occurrences(m, &fi, *fields[f], strlen(*fields[f]), &tc, NULL, 0, false);
      if (!rc) rc = rewrite(m, fields[f], &tc);
      free(tc.s);
    }
  }

  /* 4. Never hand out a copy that still carries a value it was meant to hide
   *    (one that sits in a field this copy does not rewrite). */
  if (!rc && m->n) {
    char *ot = NULL;
    size_t ol = 0;
    spans_t left = {0};
    rc = sl_chat_text(out, &ot, &ol);
    /* the requested model too: a backend without a model list is sent it as
     * it came ("Laila-Hansen"), and it is never rewritten */
    size_t ml = !rc && out->model ? strlen(out->model) : 0;
    if (ml) {
      char *nt = realloc(ot, ol + ml + 2);
      if (!nt) rc = SL_ENOMEM;
      else {
        ot = nt;
        ot[ol++] = '\n';
        memcpy(ot + ol, out->model, ml + 1);
        ol += ml;
      }
    }
    /* the rewrite's word-boundary rule ("Ann" is not in "Anna"), with '_'
     * between words too; a name's word alone counts as the name ("Hansen"
     * as a stop string or a message name is the person) */
    if (!rc) rc = find_occurrences(m, &fi, ot, ol, &left, NULL, 0, true);
    if (!rc && left.n) rc = SL_EUNSUPPORTED;
    /* and written another way: "laila_hansen", "LailaHansen", with a hidden space */
    bool loose = false;
    if (!rc) rc = loose_left(m, ot, ol, &loose);
    if (!rc && loose) rc = SL_EUNSUPPORTED;
    /* and with characters that do not show taken out and look-alike letters
     * read as the letters they look like ("Han<U+00AD>sen", "Ｈａｎｓｅｎ") */
    size_t nl = 0;
    char *nt = !rc ? plain_letters(ot, ol, &nl) : NULL;
    if (nt) {
      free(left.s);
      left = (spans_t){0};
      rc = find_occurrences(m, &fi, nt, nl, &left, NULL, 0, true);
      if (!rc && left.n) rc = SL_EUNSUPPORTED;
      free(nt);
    }
    free(left.s);
    free(ot);
  }

  free(full);
  for (size_t i = 0; det && i < nm; i++) free(det[i].s);
  free(det);
  free(moff);
  free(mlen);
  free(first_seen);
  free(fi.ix);
  if (rc) {
    sl_chat_req_free(out);
    sl_redact_map_free(m);
    return rc;
  }
  *map = m;
  return 0;
}

/* ---- restoration ---- */

struct sl_restorer {
  const sl_redact_map_t *m;
  bool json;           /* values go back as JSON string content */
  char held[80];       /* a possible partial placeholder from the last chunk */
  size_t n_held;
};

sl_restorer_t *sl_restorer_create(const sl_redact_map_t *m, bool json) {
  sl_restorer_t *r = calloc(1, sizeof *r);
  if (r) {
    r->m = m;
    r->json = json;
  }
  return r;
}

void sl_restorer_free(sl_restorer_t *r) { free(r); }

/* The value whose placeholder is exactly s[0..n), or NULL. */
static const value_t *match_full(const sl_redact_map_t *m, const char *s, size_t n) {
  for (size_t i = 0; m && i < m->n; i++)
    if (strlen(m->v[i].placeholder) == n && !memcmp(m->v[i].placeholder, s, n)) return &m->v[i];
  return NULL;
}

/* Whether s[0..n) is a proper prefix of some placeholder. */
static bool is_prefix(const sl_redact_map_t *m, const char *s, size_t n) {
  for (size_t i = 0; m && i < m->n; i++) {
    size_t pl = strlen(m->v[i].placeholder);
    if (n < pl && !memcmp(m->v[i].placeholder, s, n)) return true;
  }
  return false;
}

/* Restores s[0..n) into out; returns how many bytes at the end are held back
 * (a partial placeholder) when `final` is false. */
static int restore_span(const sl_redact_map_t *m, const char *s, size_t n, bool final,
                        bool json, sl_buf_t *out, size_t *held) {
  size_t at = 0, i = 0;
  *held = 0;
  while (i < n) {
    const char *lb = memchr(s + i, '[', n - i);
    if (!lb) break;
    i = (size_t)(lb - s);
    size_t lim = n - i < m->max_ph ? n - i : m->max_ph;
    const char *rb = memchr(s + i, ']', lim);
    const value_t *v = rb ? match_full(m, s + i, (size_t)(rb - (s + i)) + 1) : NULL;
    if (v) {
      int rc = sl_buf_append(out, s + at, i - at);
      /* ("Bj\u00f6rn", found so in a tool result's JSON text, is Björn in an
       * answer's text and in its arguments' strings) */
      const char *val = v->restore_plain ? v->plain : v->value;
      size_t vl = v->restore_plain ? v->plain_len : v->e.value_len;
      if (!rc) rc = json ? sl_buf_json_chars(out, val, vl) : sl_buf_append(out, val, vl);
      if (rc) return rc;
      i += strlen(v->placeholder);
      at = i;
      continue;
    }
    if (!rb && !final && is_prefix(m, s + i, n - i)) {
      *held = n - i;
      break;
    }
    i++;
  }
  return sl_buf_append(out, s + at, n - at - *held);
}

int sl_restorer_feed(sl_restorer_t *r, const char *chunk, size_t len, sl_buf_t *out) {
  if (!r->m || !r->m->n) return sl_buf_append(out, chunk, len);
  size_t done = 0;
  int rc = 0;
  /* Complete the held prefix first (it is shorter than any placeholder). */
  while (r->n_held && done < len) {
    r->held[r->n_held++] = chunk[done++];
    if (r->held[r->n_held - 1] == ']' || !is_prefix(r->m, r->held, r->n_held)) {
      size_t h;
      rc = restore_span(r->m, r->held, r->n_held, false, r->json, out, &h);
      if (rc) return rc;
      /* A mismatch may still leave a new '[' in the held bytes: keep that part. */
      memmove(r->held, r->held + r->n_held - h, h);
      r->n_held = h;
    }
  }
  if (done == len) return 0;
  size_t h;
  rc = restore_span(r->m, chunk + done, len - done, false, r->json, out, &h);
  if (rc) return rc;
  if (h >= sizeof r->held) return SL_EINTERNAL; /* cannot happen: h < max placeholder */
  memcpy(r->held, chunk + len - h, h);
  r->n_held = h;
  return 0;
}

int sl_restorer_finish(sl_restorer_t *r, sl_buf_t *out) {
  size_t h;
  int rc = r->n_held ? restore_span(r->m, r->held, r->n_held, true, r->json, out, &h) : 0;
  r->n_held = 0;
  return rc;
}

int sl_redact_restore(const sl_redact_map_t *m, const char *text, size_t len, bool json,
                      sl_buf_t *out) {
  if (!m || !m->n) return sl_buf_append(out, text, len);
  size_t h;
  return restore_span(m, text, len, true, json, out, &h);
}
