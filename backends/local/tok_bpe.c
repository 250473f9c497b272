/* Byte-pair encoding by merge rank (GGUF "gpt2" vocabularies and tokenizer.json BPE
 * models). A plain fragment is first cut into words by the pre-tokenizer's split
 * regexes (PCRE2 with UTF and Unicode properties), then each word starts as one
 * symbol per byte (byte-level) or per character (Metaspace) and the adjacent pair
 * with the lowest merge rank is merged until none is left (ties: leftmost), with a
 * binary heap over a linked list so a long word costs O(n log n).
 *
 * The split patterns are rewritten before compiling so they mean what the
 * JavaScript (transformers.js) port means, since that is the implementation we
 * check parity against: `\s` is ECMAScript's whitespace set (PCRE2's adds U+0085
 * and lacks U+FEFF), and the `(?i:'s|...)` contraction group is spelled with
 * explicit case pairs, as transformers.js does (PCRE2's caseless match would also
 * fold U+017F LONG S into 's'). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "tok_int.h"

#include <stdlib.h>
#include <string.h>

#include "sl_err.h"

/* ECMAScript WhiteSpace + LineTerminator, as a character-class body. */
#define JS_SPACE_BODY                                                                  \
  "\\t\\n\\x0B\\f\\r \\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}" \
  "\\x{205F}\\x{3000}\\x{FEFF}"

/* Patterns llama.cpp uses for each tokenizer.ggml.pre value (llama-vocab.cpp),
 * which are the ones the models' tokenizer.json files declare. */
#define RE_LLAMA3                                                                   \
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "        \
  "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_QWEN2                                                                    \
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "             \
  "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_GPT2                                                                     \
  "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"

/* ignore_merges: a word that is a whole token is taken as is (Llama 3's
 * tokenizer.json sets it; llama.cpp does the same for these names). nfc: Qwen's
 * tokenizer.json declares an NFC normalizer that GGUF metadata cannot express;
 * llama.cpp skips it, we apply it so a GGUF and its tokenizer.json agree on
 * decomposed input such as "e" + U+0301. */
static const struct {
  const char *name;
  bool ignore_merges, nfc;
  const char *re[SL_TOK_MAX_REGEX];
} pre_table[] = {
    {"llama-bpe", true, false, {RE_LLAMA3}},
    {"llama3", true, false, {RE_LLAMA3}},
    {"llama-v3", true, false, {RE_LLAMA3}},
    {"falcon3", true, false, {RE_LLAMA3}},
    {"smaug-bpe", false, false, {RE_LLAMA3}},
    {"qwen2", false, true, {RE_QWEN2}},
    {"qwen2.5", false, true, {RE_QWEN2}},
    {"qwen-2.5", false, true, {RE_QWEN2}},
    {"deepseek-r1-qwen", false, true, {RE_QWEN2}},
    {"gpt-2", false, false, {RE_GPT2}},
    {"gpt2", false, false, {RE_GPT2}},
    {"mpt", false, false, {RE_GPT2}},
    {"olmo", false, false, {RE_GPT2}},
    {"jais", false, false, {RE_GPT2}},
    {"smollm", false, false, {"\\p{N}", RE_GPT2}},
    {"starcoder", false, false, {"\\p{N}", RE_GPT2}},
    {"refact", false, false, {"\\p{N}", RE_GPT2}},
    {"command-r", false, false, {"\\p{N}", RE_GPT2}},
    {"codeshell", false, false, {"\\p{N}", RE_GPT2}},
    {"exaone", false, false, {"\\p{N}", RE_GPT2}},
    {"falcon", false, false, {"[\\p{P}\\$\\+<=>\\^~\\|`]+", RE_GPT2, "[0-9][0-9][0-9]"}},
    {"default", false, false,
     {"[\\p{P}\\$\\+<=>\\^~\\|]+", RE_GPT2, "\\p{N}+", "[0-9][0-9][0-9]"}},
};

void sl__tok_free_regex(sl_tok_t *t) {
  for (size_t i = 0; i < t->n_re; i++) pcre2_code_free((pcre2_code *)t->re[i]);
  t->n_re = 0;
}

static const char CI_GROUP[] = "(?i:'s|'t|'re|'ve|'m|'ll|'d)";
static const char CI_EXPANDED[] = "(?:'(?:[sS]|[tT]|[rR][eE]|[vV][eE]|[mM]|[lL][lL]|[dD]))";

/* Rewrites pattern p into a malloc'd NUL-terminated string (see the file comment). */
static char *js_compat(const char *p, size_t n) {
  size_t cap = n * 8 + sizeof CI_EXPANDED + 64 * 8;
  char *o = malloc(cap);
  if (!o) return NULL;
  size_t k = 0;
  bool in_class = false;
  for (size_t i = 0; i < n;) {
    if (k + 160 > cap) {
      free(o);
      return NULL;
    }
    if (!in_class && n - i >= sizeof CI_GROUP - 1 && !memcmp(p + i, CI_GROUP, sizeof CI_GROUP - 1)) {
      memcpy(o + k, CI_EXPANDED, sizeof CI_EXPANDED - 1);
      k += sizeof CI_EXPANDED - 1;
      i += sizeof CI_GROUP - 1;
      continue;
    }
    char c = p[i];
    if (c == '\\' && i + 1 < n) {
      char e = p[i + 1];
      const char *rep = NULL;
      if (e == 's') rep = in_class ? JS_SPACE_BODY : "[" JS_SPACE_BODY "]";
      else if (e == 'S' && !in_class) rep = "[^" JS_SPACE_BODY "]";
      if (rep) {
        size_t rl = strlen(rep);
        memcpy(o + k, rep, rl);
        k += rl;
      } else {
        o[k++] = c;
        o[k++] = e;
      }
      i += 2;
      continue;
    }
    if (c == '[' && !in_class) {
      in_class = true;
      o[k++] = c;
      i++;
      /* A ']' right after '[' or '[^' is a literal. */
      if (i < n && p[i] == '^') o[k++] = p[i++];
      if (i < n && p[i] == ']') o[k++] = p[i++];
      continue;
    }
    if (c == ']' && in_class) in_class = false;
    o[k++] = c;
    i++;
  }
  o[k] = '\0';
  return o;
}

int sl__tok_add_regex(sl_tok_t *t, const char *pattern, size_t len, char *err, size_t errlen) {
  if (t->n_re >= SL_TOK_MAX_REGEX) {
    sl__tok_err(err, errlen, "more than %d pre-tokenizer split patterns", SL_TOK_MAX_REGEX);
    return SL_EUNSUPPORTED;
  }
  if (len > 4096) {
    sl__tok_err(err, errlen, "pre-tokenizer pattern of %zu bytes is too long", len);
    return SL_ETOOBIG;
  }
  char *p = js_compat(pattern, len);
  if (!p) return SL_ENOMEM;
  int ec;
  PCRE2_SIZE eo;
  pcre2_code *re = pcre2_compile((PCRE2_SPTR)p, PCRE2_ZERO_TERMINATED,
                                 PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &ec, &eo, NULL);
  if (!re) {
    PCRE2_UCHAR msg[160];
    pcre2_get_error_message(ec, msg, sizeof msg);
    sl__tok_err(err, errlen, "pre-tokenizer pattern does not compile at %zu: %s", (size_t)eo,
                (char *)msg);
    free(p);
    return SL_EPARSE;
  }
  free(p);
  (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* the interpreter is the fallback */
  t->re[t->n_re++] = (sl__pcre2_code *)re;
  return 0;
}

int sl__tok_set_pre(sl_tok_t *t, const char *pre, size_t len, char *err, size_t errlen) {
  for (size_t i = 0; i < sizeof pre_table / sizeof pre_table[0]; i++) {
    if (strlen(pre_table[i].name) != len || memcmp(pre_table[i].name, pre, len)) continue;
    for (size_t k = 0; k < SL_TOK_MAX_REGEX && pre_table[i].re[k]; k++) {
      int rc = sl__tok_add_regex(t, pre_table[i].re[k], strlen(pre_table[i].re[k]), err, errlen);
      if (rc) return rc;
    }
    t->ignore_merges = pre_table[i].ignore_merges;
    if (pre_table[i].nfc) t->norm = SL_NORM_NFC;
    return 0;
  }
  sl__tok_err(err, errlen, "unsupported pre-tokenizer '%.*s' (tokenizer.ggml.pre)",
              (int)(len > 64 ? 64 : len), pre);
  return SL_EUNSUPPORTED;
}

/* ---- BPE over one word ---- */

typedef struct {
  int32_t id;         /* token of the symbol's text, -1 if it is not a token */
  int32_t prev, next;
  uint32_t start, n;  /* bytes of the word; n = 0 once merged away */
} sym_t;

typedef struct {
  uint32_t rank;
  int32_t left, right;
  int32_t lid, rid, res; /* ids when queued: stale if either symbol changed */
} cand_t;

static bool cand_before(const cand_t *a, const cand_t *b) {
  if (a->rank != b->rank) return a->rank < b->rank;
  return a->left < b->left;
}

typedef struct {
  sym_t *sym;
  size_t sym_cap;
  cand_t *heap;
  size_t heap_n, heap_cap;
  char *enc;  /* byte-level encoded word, for ignore_merges */
  size_t enc_cap;
  pcre2_match_data *md[SL_TOK_MAX_REGEX];
  pcre2_match_context *mctx;
} scratch_t;

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return 0;
  size_t c = *cap ? *cap : 64;
  while (c < need) c *= 2;
  void *q = realloc(*p, c * elem);
  if (!q) return SL_ENOMEM;
  *p = q;
  *cap = c;
  return 0;
}

static int heap_push(scratch_t *s, cand_t c) {
  int rc = grow((void **)&s->heap, &s->heap_cap, s->heap_n + 1, sizeof c);
  if (rc) return rc;
  size_t i = s->heap_n++;
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!cand_before(&c, &s->heap[parent])) break;
    s->heap[i] = s->heap[parent];
    i = parent;
  }
  s->heap[i] = c;
  return 0;
}

static cand_t heap_pop(scratch_t *s) {
  cand_t top = s->heap[0], last = s->heap[--s->heap_n];
  size_t i = 0;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= s->heap_n) break;
    if (c + 1 < s->heap_n && cand_before(&s->heap[c + 1], &s->heap[c])) c++;
    if (!cand_before(&s->heap[c], &last)) break;
    s->heap[i] = s->heap[c];
    i = c;
  }
  if (s->heap_n) s->heap[i] = last;
  return top;
}

static int try_add(const sl_tok_t *t, scratch_t *s, int32_t l, int32_t r) {
  if (l < 0 || r < 0) return 0;
  int32_t res;
  uint32_t rank = sl__tok_merge_rank(t, s->sym[l].id, s->sym[r].id, &res);
  if (rank == UINT32_MAX) return 0;
  return heap_push(s, (cand_t){rank, l, r, s->sym[l].id, s->sym[r].id, res});
}

static int emit_unknown(const sl_tok_t *t, const uint8_t *p, size_t n, sl__ids_t *out) {
  /* Byte fallback when the vocabulary has it, else one unk (HF: unk per symbol). */
  if (t->byte_fallback || t->byte_level) {
    bool all = true;
    for (size_t i = 0; i < n; i++) all = all && t->byte_tok[p[i]] >= 0;
    if (all) {
      for (size_t i = 0; i < n; i++) {
        int rc = sl__ids_push(out, t->byte_tok[p[i]]);
        if (rc) return rc;
      }
      return 0;
    }
  }
  return t->unk >= 0 ? sl__ids_push(out, t->unk) : 0;
}

static int bpe_word(const sl_tok_t *t, scratch_t *s, const char *w, size_t len, sl__ids_t *out) {
  if (len == 0) return 0;
  if (len > UINT32_MAX / 4) return SL_ETOOBIG;
  int rc;
  if (t->ignore_merges) {
    const char *key = w;
    size_t kn = len;
    if (t->byte_level) {
      if ((rc = grow((void **)&s->enc, &s->enc_cap, len * 2, 1))) return rc;
      kn = 0;
      for (size_t i = 0; i < len; i++)
        kn += sl__utf8_encode(sl__tok_byte_to_cp((uint8_t)w[i]), s->enc + kn);
      key = s->enc;
    }
    int32_t id = sl_tok_find(t, key, kn);
    if (id >= 0) return sl__ids_push(out, id);
  }
  if ((rc = grow((void **)&s->sym, &s->sym_cap, len, sizeof *s->sym))) return rc;
  int32_t n = 0;
  for (size_t off = 0; off < len; n++) {
    size_t cl = 1;
    int32_t id;
    if (t->byte_level) {
      id = t->byte_tok[(uint8_t)w[off]];
    } else {
      cl = sl__utf8_len((uint8_t)w[off]);
      if (cl > len - off) cl = len - off;
      id = sl_tok_find(t, w + off, cl);
    }
    s->sym[n] = (sym_t){id, n - 1, -1, (uint32_t)off, (uint32_t)cl};
    if (n > 0) s->sym[n - 1].next = n;
    off += cl;
  }
  s->heap_n = 0;
  for (int32_t i = 1; i < n; i++)
    if ((rc = try_add(t, s, i - 1, i))) return rc;
  while (s->heap_n) {
    cand_t c = heap_pop(s);
    sym_t *l = &s->sym[c.left], *r = &s->sym[c.right];
    if (l->n == 0 || r->n == 0 || l->next != c.right || l->id != c.lid || r->id != c.rid)
      continue;
    l->n += r->n;
    l->id = c.res;
    r->n = 0;
    l->next = r->next;
    if (r->next >= 0) s->sym[r->next].prev = c.left;
    if ((rc = try_add(t, s, l->prev, c.left))) return rc;
    if ((rc = try_add(t, s, c.left, l->next))) return rc;
  }
  for (int32_t i = 0; i >= 0; i = s->sym[i].next) {
    if (s->sym[i].id >= 0)
      rc = sl__ids_push(out, s->sym[i].id);
    else
      rc = emit_unknown(t, (const uint8_t *)w + s->sym[i].start, s->sym[i].n, out);
    if (rc) return rc;
  }
  return 0;
}

/* Splits [p, p+n) with regex k (matches and the gaps between them are words, as
 * HF's Split "Isolated" does), recursing into the next regex of the sequence. */
static int split_level(const sl_tok_t *t, scratch_t *s, size_t k, const char *p, size_t n,
                       sl__ids_t *out) {
  if (n == 0) return 0;
  if (k == t->n_re) return bpe_word(t, s, p, n, out);
  pcre2_code *re = (pcre2_code *)t->re[k];
  if (!s->md[k]) {
    s->md[k] = pcre2_match_data_create_from_pattern(re, NULL);
    if (!s->md[k]) return SL_ENOMEM;
  }
  size_t pos = 0, last = 0;
  int rc;
  while (pos < n) {
    int m = pcre2_match(re, (PCRE2_SPTR)p, n, pos, 0, s->md[k], s->mctx);
    /* The JIT's small fixed stack can run out on a pathological run; the
     * interpreter keeps its backtracking on the heap (bounded by the limits). */
    if (m == PCRE2_ERROR_JIT_STACKLIMIT)
      m = pcre2_match(re, (PCRE2_SPTR)p, n, pos, PCRE2_NO_JIT, s->md[k], s->mctx);
    if (m == PCRE2_ERROR_NOMATCH) break;
    if (m < 0)
      return m == PCRE2_ERROR_MATCHLIMIT || m == PCRE2_ERROR_DEPTHLIMIT ||
                     m == PCRE2_ERROR_HEAPLIMIT || m == PCRE2_ERROR_NOMEMORY
                 ? SL_ETOOBIG
                 : SL_EPARSE;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(s->md[k]);
    size_t ms = ov[0], me = ov[1];
    if (ms > last && (rc = split_level(t, s, k + 1, p + last, ms - last, out))) return rc;
    if (me > ms && (rc = split_level(t, s, k + 1, p + ms, me - ms, out))) return rc;
    last = me;
    if (me == ms) {
      /* Empty match: step one character so the loop always advances. */
      pos = me + 1;
      while (pos < n && ((uint8_t)p[pos] & 0xC0) == 0x80) pos++;
    } else {
      pos = me;
    }
  }
  if (last < n) return split_level(t, s, k + 1, p + last, n - last, out);
  return 0;
}

/* Metaspace split=true: a word starts at each U+2581 (HF "MergedWithNext"). */
static int split_metaspace(const sl_tok_t *t, scratch_t *s, const char *p, size_t n,
                           sl__ids_t *out) {
  static const char MS[] = "\xE2\x96\x81";
  size_t start = 0;
  for (size_t i = 1; i + 3 <= n; i++) {
    if (!memcmp(p + i, MS, 3)) {
      int rc = split_level(t, s, 0, p + start, i - start, out);
      if (rc) return rc;
      start = i;
    }
  }
  return split_level(t, s, 0, p + start, n - start, out);
}

int sl__bpe_encode(const sl_tok_t *t, const char *text, size_t len, sl__ids_t *out) {
  scratch_t s = {0};
  int rc = 0;
  if (t->n_re) {
    s.mctx = pcre2_match_context_create(NULL);
    if (!s.mctx) return SL_ENOMEM;
    /* Bounds backtracking on hostile text; every real pattern needs far less. */
    pcre2_set_match_limit(s.mctx, 100u * 1000 * 1000);
  }
  if (t->escape_spaces && t->metaspace_split)
    rc = split_metaspace(t, &s, text, len, out);
  else
    rc = split_level(t, &s, 0, text, len, out);
  for (size_t k = 0; k < SL_TOK_MAX_REGEX; k++) pcre2_match_data_free(s.md[k]);
  pcre2_match_context_free(s.mctx);
  free(s.sym);
  free(s.heap);
  free(s.enc);
  return rc;
}
