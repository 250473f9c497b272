/* sl_tok_encode: the pipeline every vocabulary shares. Special and added token
 * texts are cut out first (leftmost-longest, the rule of the JS tokenizer we check
 * parity against; for non-overlapping token texts it equals llama.cpp's), then each
 * plain fragment is normalized, given its SentencePiece space treatment and handed
 * to the SPM or BPE model. BOS/EOS go around the result when asked for. */
#include "tok_int.h"

#include <stdlib.h>
#include <string.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>

#include "sl_err.h"

typedef struct {
  size_t off, len; /* bytes of the text */
  int32_t id;      /* >= 0: a special/added token; -1: plain text */
} frag_t;

/* Longest token text starting at p (n bytes left). Control tokens count only when
 * parse_special, or when they end within ctrl_room bytes (inside a markup span). */
static int32_t match_special(const sl_tok_t *t, const uint8_t *p, size_t n, bool parse_special,
                             size_t ctrl_room, size_t *mlen) {
  int32_t best = -1, cur = 0;
  for (size_t i = 0; i < n; i++) {
    int32_t c = t->trie[cur].first_child;
    while (c >= 0 && t->trie[c].byte != p[i]) c = t->trie[c].next_sibling;
    if (c < 0) break;
    cur = c;
    int32_t id = t->trie[cur].id;
    if (id >= 0 && (parse_special || i < ctrl_room || t->type[id] == SL_TOKTYPE_USER_DEFINED)) {
      best = id;
      *mlen = i + 1;
    }
  }
  return best;
}

static int push_frag(frag_t **v, size_t *n, size_t *cap, frag_t f) {
  if (*n == *cap) {
    size_t c = *cap ? *cap * 2 : 16;
    frag_t *p = realloc(*v, c * sizeof *p);
    if (!p) return SL_ENOMEM;
    *v = p;
    *cap = c;
  }
  (*v)[(*n)++] = f;
  return 0;
}

/* ECMAScript String.prototype.trim's whitespace, for added tokens' lstrip/rstrip. */
static size_t js_space_len(const uint8_t *p, size_t n) {
  uint32_t cp;
  size_t k = sl__utf8_decode(p, n, &cp);
  if (!k) return 0;
  bool sp = (cp >= 9 && cp <= 13) || cp == 0x20 || cp == 0xA0 || cp == 0x1680 ||
            (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
            cp == 0x205F || cp == 0x3000 || cp == 0xFEFF;
  return sp ? k : 0;
}

static void trim_end(const char *text, frag_t *f) {
  /* Walk forward remembering where trailing whitespace starts. */
  size_t i = 0, ws = 0;
  const uint8_t *p = (const uint8_t *)text + f->off;
  while (i < f->len) {
    size_t k = js_space_len(p + i, f->len - i);
    if (k) {
      i += k;
    } else {
      i += sl__utf8_len(p[i]) <= f->len - i ? sl__utf8_len(p[i]) : 1;
      ws = i;
    }
  }
  f->len = ws;
}

static void trim_start(const char *text, frag_t *f) {
  const uint8_t *p = (const uint8_t *)text + f->off;
  size_t i = 0, k;
  while (i < f->len && (k = js_space_len(p + i, f->len - i))) i += k;
  f->off += i;
  f->len -= i;
}

int sl__tok_normalize(sl_norm_t form, const char *s, size_t n, char **out, size_t *out_len) {
  *out = NULL;
  *out_len = 0;
  if (form == SL_NORM_NONE) return 0;
  bool ascii = true;
  for (size_t i = 0; i < n && ascii; i++) ascii = (uint8_t)s[i] < 0x80;
  if (ascii) return 0; /* every normalization form leaves ASCII unchanged */
  if (n > INT32_MAX / 4) return SL_ETOOBIG;
  /* ICU replaces ill-formed UTF-8 with U+FFFD, which would lose the bytes that
   * byte-level BPE can encode; such text is passed through unnormalized. */
  for (size_t i = 0; i < n;) {
    uint32_t cp;
    size_t k = sl__utf8_decode((const uint8_t *)s + i, n - i, &cp);
    if (!k) return 0;
    i += k;
  }
  UErrorCode ec = U_ZERO_ERROR;
  const UNormalizer2 *nz = form == SL_NORM_NFC    ? unorm2_getNFCInstance(&ec)
                           : form == SL_NORM_NFKC ? unorm2_getNFKCInstance(&ec)
                           : form == SL_NORM_NFD  ? unorm2_getNFDInstance(&ec)
                                                  : unorm2_getNFKDInstance(&ec);
  if (U_FAILURE(ec)) return SL_EINTERNAL;
  int32_t ulen = 0;
  u_strFromUTF8(NULL, 0, &ulen, s, (int32_t)n, &ec);
  if (ec != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(ec)) return SL_EPARSE;
  ec = U_ZERO_ERROR;
  UChar *u = malloc(((size_t)ulen + 1) * sizeof *u);
  if (!u) return SL_ENOMEM;
  u_strFromUTF8(u, ulen + 1, NULL, s, (int32_t)n, &ec);
  int rc = SL_EINTERNAL;
  UChar *v = NULL;
  char *o = NULL;
  if (U_FAILURE(ec)) goto done;
  if (unorm2_isNormalized(nz, u, ulen, &ec) && U_SUCCESS(ec)) {
    rc = 0; /* the common case: nothing to change, no copy */
    goto done;
  }
  ec = U_ZERO_ERROR;
  /* NFKD can expand a code unit up to 18 times; ask ICU for the exact size. */
  int32_t vlen = unorm2_normalize(nz, u, ulen, NULL, 0, &ec);
  if (ec != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(ec)) goto done;
  ec = U_ZERO_ERROR;
  if (!(v = malloc(((size_t)vlen + 1) * sizeof *v))) {
    rc = SL_ENOMEM;
    goto done;
  }
  unorm2_normalize(nz, u, ulen, v, vlen + 1, &ec);
  if (U_FAILURE(ec)) goto done;
  int32_t olen = 0;
  u_strToUTF8(NULL, 0, &olen, v, vlen, &ec);
  if (ec != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(ec)) goto done;
  ec = U_ZERO_ERROR;
  if (!(o = malloc((size_t)olen + 1))) {
    rc = SL_ENOMEM;
    goto done;
  }
  u_strToUTF8(o, olen + 1, NULL, v, vlen, &ec);
  if (U_FAILURE(ec)) {
    free(o);
    goto done;
  }
  *out = o;
  *out_len = (size_t)olen;
  rc = 0;
done:
  free(u);
  free(v);
  return rc;
}

/* SentencePiece space handling: optional U+2581/space prefix, spaces → U+2581. */
static int escape_spaces(const char *s, size_t n, bool prefix, char **out, size_t *out_len) {
  size_t spaces = prefix ? 1 : 0;
  for (size_t i = 0; i < n; i++) spaces += s[i] == ' ';
  char *o = malloc(n + 2 * spaces + 1);
  if (!o) return SL_ENOMEM;
  size_t k = 0;
  if (prefix) {
    memcpy(o, "\xE2\x96\x81", 3);
    k = 3;
  }
  for (size_t i = 0; i < n; i++) {
    if (s[i] == ' ') {
      memcpy(o + k, "\xE2\x96\x81", 3);
      k += 3;
    } else {
      o[k++] = s[i];
    }
  }
  *out = o;
  *out_len = k;
  return 0;
}

static int encode_plain(const sl_tok_t *t, const char *s, size_t n, bool prefix, sl__ids_t *out) {
  char *norm = NULL, *esc = NULL;
  size_t norm_len;
  int rc = sl__tok_normalize(t->norm, s, n, &norm, &norm_len);
  if (rc) return rc;
  if (norm) {
    s = norm;
    n = norm_len;
  }
  if (t->escape_spaces) {
    /* Metaspace skips the prefix when the text already starts with one; HF's
     * Prepend normalizer and SentencePiece always add it. */
    if (prefix && t->kind == SL_TOK_KIND_BPE && !t->norm_prepend && n &&
        (s[0] == ' ' || (n >= 3 && !memcmp(s, "\xE2\x96\x81", 3))))
      prefix = false;
    size_t esc_len;
    if ((rc = escape_spaces(s, n, prefix, &esc, &esc_len))) goto done;
    s = esc;
    n = esc_len;
  } else if (prefix && n && s[0] != ' ') {
    /* ByteLevel add_prefix_space: one space in front unless there is one. */
    if (!(esc = malloc(n + 1))) {
      rc = SL_ENOMEM;
      goto done;
    }
    esc[0] = ' ';
    memcpy(esc + 1, s, n);
    s = esc;
    n++;
  }
  if (t->kind == SL_TOK_KIND_SPM)
    rc = sl__spm_encode(t, s, n, out);
  else
    rc = sl__bpe_encode(t, s, n, out);
done:
  free(norm);
  free(esc);
  return rc;
}

static int encode(const sl_tok_t *t, const char *text, size_t len, bool add_bos,
                  bool parse_special, const sl_tok_span_t *spans, size_t n_spans,
                  int32_t **ids, size_t *n_ids) {
  if (!t || !ids || !n_ids || (!text && len) || (!spans && n_spans)) return SL_EINVAL;
  *ids = NULL;
  *n_ids = 0;
  if (len > SL_TOK_MAX_TEXT) return SL_ETOOBIG;
  sl__ids_t out = {0};
  frag_t *fr = NULL;
  size_t nfr = 0, capfr = 0;
  int rc = 0;

  if (add_bos && t->add_bos && t->bos >= 0 && (rc = sl__ids_push(&out, t->bos))) goto fail;

  /* Cut special/added tokens out of the text. */
  size_t start = 0, k = 0;
  for (size_t i = 0; i < len && t->n_trie;) {
    size_t ml = 0, room = 0;
    while (k < n_spans && spans[k].off <= i && spans[k].len <= i - spans[k].off) k++;
    if (k < n_spans && spans[k].off <= i && spans[k].len <= len - spans[k].off)
      room = spans[k].off + spans[k].len - i;
    int32_t id = match_special(t, (const uint8_t *)text + i, len - i, parse_special, room, &ml);
    if (id < 0) {
      i++;
      continue;
    }
    if (i > start && (rc = push_frag(&fr, &nfr, &capfr, (frag_t){start, i - start, -1})))
      goto fail;
    if ((rc = push_frag(&fr, &nfr, &capfr, (frag_t){i, ml, id}))) goto fail;
    i += ml;
    start = i;
  }
  if (start < len && (rc = push_frag(&fr, &nfr, &capfr, (frag_t){start, len - start, -1})))
    goto fail;

  if (t->tok_lstrip || t->tok_rstrip) {
    for (size_t i = 0; i < nfr; i++) {
      if (fr[i].id < 0) continue;
      if (t->tok_lstrip && t->tok_lstrip[fr[i].id] && i > 0 && fr[i - 1].id < 0)
        trim_end(text, &fr[i - 1]);
      if (t->tok_rstrip && t->tok_rstrip[fr[i].id] && i + 1 < nfr && fr[i + 1].id < 0)
        trim_start(text, &fr[i + 1]);
    }
  }

  bool prev_special = true;
  for (size_t i = 0; i < nfr; i++) {
    if (fr[i].id >= 0) {
      if ((rc = sl__ids_push(&out, fr[i].id))) goto fail;
      prev_special = true;
      continue;
    }
    if (fr[i].len == 0) continue;
    bool prefix = t->prepend == SL_PREPEND_ALWAYS ||
                  (t->prepend == SL_PREPEND_FIRST && i == 0) ||
                  (t->prepend == SL_PREPEND_AFTER_SPECIAL && prev_special);
    if ((rc = encode_plain(t, text + fr[i].off, fr[i].len, prefix, &out))) goto fail;
    prev_special = false;
  }

  if (add_bos && t->add_eos && t->eos >= 0 && (rc = sl__ids_push(&out, t->eos))) goto fail;
  free(fr);
  if (!out.v && !(out.v = malloc(sizeof *out.v))) return SL_ENOMEM; /* never NULL on success */
  *ids = out.v;
  *n_ids = out.n;
  return 0;
fail:
  free(fr);
  free(out.v);
  return rc;
}

int sl_tok_encode(const sl_tok_t *t, const char *text, size_t len, bool add_bos,
                  bool parse_special, int32_t **ids, size_t *n_ids) {
  return encode(t, text, len, add_bos, parse_special, NULL, 0, ids, n_ids);
}

int sl_tok_encode_spans(const sl_tok_t *t, const char *text, size_t len, bool add_bos,
                        const sl_tok_span_t *spans, size_t n_spans, int32_t **ids,
                        size_t *n_ids) {
  return encode(t, text, len, add_bos, false, spans, n_spans, ids, n_ids);
}
