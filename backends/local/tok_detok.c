/* Ids → text. sl_tok_piece gives the bytes one token stands for (SentencePiece
 * U+2581 → space and <0xNN> → byte; GPT-2 byte-level characters → bytes; control
 * tokens → nothing unless asked). The streaming detokenizer joins pieces and lets
 * only complete, valid UTF-8 out, so a character whose bytes come from several
 * tokens (byte fallback, byte-level BPE) is never split across two chunks. */
#include "tok_int.h"

#include <stdlib.h>
#include <string.h>

#include "sl_err.h"
#include "sl_str.h"

/* "<0xNN>" → NN, else -1. */
static int byte_token_value(const char *s, size_t n) {
  if (n != 6 || memcmp(s, "<0x", 3) || s[5] != '>') return -1;
  int hi = sl_hexval(s[3]), lo = sl_hexval(s[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

/* Appends n bytes to out when they fit; always advances *k by n (snprintf-style). */
static void put(char *out, size_t cap, size_t *k, const void *p, size_t n) {
  if (*k < cap) memcpy(out + *k, p, n <= cap - *k ? n : cap - *k);
  *k += n;
}

/* Copies s with U+2581 turned into a space. */
static void put_unescaped(char *out, size_t cap, size_t *k, const char *s, size_t n) {
  size_t from = 0;
  for (size_t i = 0; i + 3 <= n; i++) {
    if (!memcmp(s + i, "\xE2\x96\x81", 3)) {
      put(out, cap, k, s + from, i - from);
      put(out, cap, k, " ", 1);
      i += 2;
      from = i + 1;
    }
  }
  put(out, cap, k, s + from, n - from);
}

int sl_tok_piece(const sl_tok_t *t, int32_t id, bool special, char *out, size_t cap) {
  if (!t || id < 0 || (size_t)id >= t->n_vocab) return SL_EINVAL;
  const char *s = t->strs + t->off[id];
  size_t n = t->len[id], k = 0;
  switch ((sl_toktype_t)t->type[id]) {
  case SL_TOKTYPE_CONTROL:
    if (special) put(out, cap, &k, s, n);
    break;
  case SL_TOKTYPE_UNUSED:
    break;
  case SL_TOKTYPE_UNKNOWN:
    /* llama.cpp shows an unknown SentencePiece token as U+2585. */
    if (t->kind == SL_TOK_KIND_SPM)
      put(out, cap, &k, "\xE2\x96\x85", 3);
    else if (special)
      put(out, cap, &k, s, n);
    break;
  case SL_TOKTYPE_BYTE: {
    int b = byte_token_value(s, n);
    if (b >= 0) {
      char c = (char)b;
      put(out, cap, &k, &c, 1);
    } else {
      put(out, cap, &k, s, n);
    }
    break;
  }
  case SL_TOKTYPE_USER_DEFINED:
    /* Added tokens are stored as the text they stand for; SentencePiece files
     * may still spell spaces as U+2581 in them (llama.cpp unescapes those too). */
    if (t->escape_spaces)
      put_unescaped(out, cap, &k, s, n);
    else
      put(out, cap, &k, s, n);
    break;
  default:
    if (t->byte_level) {
      for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t used = sl__utf8_decode((const uint8_t *)s + i, n - i, &cp);
        int b = used ? sl__tok_cp_to_byte(cp) : -1;
        if (b >= 0) {
          char c = (char)b;
          put(out, cap, &k, &c, 1);
        } else {
          /* Not a byte char (a hand-made vocabulary): pass the text through. */
          used = used ? used : 1;
          put(out, cap, &k, s + i, used);
        }
        i += used;
      }
    } else if (t->escape_spaces) {
      put_unescaped(out, cap, &k, s, n);
    } else {
      put(out, cap, &k, s, n);
    }
  }
  return k > (size_t)INT32_MAX ? SL_ETOOBIG : (int)k;
}

/* ---- streaming UTF-8 ---- */

static const char REPL[] = "\xEF\xBF\xBD";

/* Feeds bytes through the UTF-8 state in d, appending complete characters. */
static int feed(sl_detok_t *d, const uint8_t *p, size_t n, sl_buf_t *out) {
  size_t run = 0; /* start of a pending run of ASCII/complete bytes in p */
  int rc;
  for (size_t i = 0; i < n; i++) {
    uint8_t c = p[i];
    if (d->n_pend == 0) {
      uint8_t need = sl_utf8_seq_len(c);
      if (need == 1) continue; /* stays in the run */
      if ((rc = sl_buf_append(out, p + run, i - run))) return rc;
      run = i + 1;
      if (need == 0) {
        if ((rc = sl_buf_append(out, REPL, 3))) return rc;
      } else {
        d->pend[0] = c;
        d->n_pend = 1;
      }
      continue;
    }
    if (sl_utf8_cont_ok(d->pend[0], d->n_pend, c)) {
      d->pend[d->n_pend++] = c;
      run = i + 1;
      if (d->n_pend == sl_utf8_seq_len(d->pend[0])) {
        if ((rc = sl_buf_append(out, d->pend, d->n_pend))) return rc;
        d->n_pend = 0;
      }
      continue;
    }
    /* The pending sequence is cut short: one U+FFFD for it, then c afresh. */
    if ((rc = sl_buf_append(out, REPL, 3))) return rc;
    d->n_pend = 0;
    run = i;
    i--; /* reprocess c with no pending bytes */
  }
  if (d->n_pend == 0 && run < n) return sl_buf_append(out, p + run, n - run);
  return 0;
}

void sl_detok_init(sl_detok_t *d, const sl_tok_t *t, bool special, bool strip_leading_space) {
  memset(d, 0, sizeof *d);
  d->tok = t;
  d->special = special;
  d->strip_leading_space = strip_leading_space;
}

int sl_detok_push(sl_detok_t *d, int32_t id, sl_buf_t *out) {
  char small[256];
  int n = sl_tok_piece(d->tok, id, d->special, small, sizeof small);
  if (n < 0) return n;
  char *p = small;
  if ((size_t)n > sizeof small) {
    if (!(p = malloc((size_t)n))) return SL_ENOMEM;
    sl_tok_piece(d->tok, id, d->special, p, (size_t)n);
  }
  const char *s = p;
  size_t len = (size_t)n;
  if (len && !d->started) {
    d->started = true;
    if (d->strip_leading_space && d->tok->decode_strip_space && s[0] == ' ') {
      s++;
      len--;
    }
  }
  int rc = feed(d, (const uint8_t *)s, len, out);
  if (p != small) free(p);
  return rc;
}

int sl_detok_flush(sl_detok_t *d, sl_buf_t *out) {
  if (d->n_pend == 0) return 0;
  d->n_pend = 0;
  return sl_buf_append(out, REPL, 3);
}

int sl_tok_decode(const sl_tok_t *t, const int32_t *ids, size_t n, bool special,
                  bool strip_leading_space, char **out, size_t *out_len) {
  if (!t || !out || (!ids && n)) return SL_EINVAL;
  sl_buf_t b;
  sl_buf_init(&b, SL_TOK_MAX_TEXT * 2);
  sl_detok_t d;
  sl_detok_init(&d, t, special, strip_leading_space);
  int rc = sl_buf_append(&b, "", 0); /* storage exists and is NUL-terminated */
  for (size_t i = 0; !rc && i < n; i++) rc = sl_detok_push(&d, ids[i], &b);
  if (!rc) rc = sl_detok_flush(&d, &b);
  if (rc) {
    sl_buf_free(&b);
    return rc;
  }
  size_t len;
  *out = sl_buf_steal(&b, &len);
  if (out_len) *out_len = len;
  return 0;
}
