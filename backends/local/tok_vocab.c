/* The vocabulary both tokenizer loaders fill: token texts in one arena with a
 * text → id hash map, BPE merge ranks keyed by id pairs, the byte → token table,
 * end-of-generation ids and the trie of special/added token texts. Also the small
 * UTF-8 and GPT-2 byte-mapping helpers every tok_*.c file uses, and the public
 * getters. */
#include "tok_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sl_err.h"

void sl__tok_err(char *err, size_t errlen, const char *fmt, ...) {
  if (!err || !errlen) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

/* ---- UTF-8 ---- */

size_t sl__utf8_len(uint8_t c) {
  /* llama.cpp's table: a stray continuation byte counts as one character. */
  static const uint8_t lut[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return lut[c >> 4];
}

size_t sl__utf8_decode(const uint8_t *s, size_t n, uint32_t *cp) {
  *cp = 0xFFFD;
  if (n == 0) return 0;
  uint8_t c = s[0];
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  size_t need;
  uint32_t v, min;
  if (c >= 0xC2 && c <= 0xDF) {
    need = 2;
    v = c & 0x1F;
    min = 0x80;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 3;
    v = c & 0x0F;
    min = 0x800;
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 4;
    v = c & 0x07;
    min = 0x10000;
  } else {
    return 0;
  }
  if (n < need) return 0;
  for (size_t i = 1; i < need; i++) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    v = (v << 6) | (s[i] & 0x3F);
  }
  if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
  *cp = v;
  return need;
}

size_t sl__utf8_encode(uint32_t cp, char out[4]) {
  if (cp < 0x80) {
    out[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (char)(0xE0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = (char)(0xF0 | (cp >> 18));
  out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  out[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

/* ---- GPT-2 byte mapping ----
 * Printable Latin-1 bytes stand for themselves; the other 68 bytes are moved to
 * U+0100.. in byte order, so every byte has a visible, non-space character. */
static bool byte_is_printable(unsigned b) {
  return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
}

uint32_t sl__tok_byte_to_cp(uint8_t b) {
  if (byte_is_printable(b)) return b;
  unsigned n = 0;
  for (unsigned i = 0; i < b; i++)
    if (!byte_is_printable(i)) n++;
  return 256 + n;
}

int sl__tok_cp_to_byte(uint32_t cp) {
  if (cp < 256) return byte_is_printable(cp) ? (int)cp : -1;
  if (cp >= 256 + 68) return -1;
  unsigned n = cp - 256;
  for (unsigned i = 0; i < 256; i++)
    if (!byte_is_printable(i) && n-- == 0) return (int)i;
  return -1;
}

/* ---- id vector ---- */

int sl__ids_push(sl__ids_t *a, int32_t id) {
  if (a->n == a->cap) {
    size_t cap = a->cap ? a->cap * 2 : 64;
    /* Text is capped at SL_TOK_MAX_TEXT and each byte yields at most a few ids. */
    if (cap > 4 * SL_TOK_MAX_TEXT + 16) return SL_ETOOBIG;
    int32_t *v = realloc(a->v, cap * sizeof *v);
    if (!v) return SL_ENOMEM;
    a->v = v;
    a->cap = cap;
  }
  a->v[a->n++] = id;
  return 0;
}

/* ---- allocation ---- */

sl_tok_t *sl__tok_alloc(size_t n_vocab) {
  if (n_vocab == 0 || n_vocab > SL_TOK_MAX_VOCAB) return NULL;
  sl_tok_t *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  t->n_vocab = n_vocab;
  t->off = calloc(n_vocab, sizeof *t->off);
  t->len = calloc(n_vocab, sizeof *t->len);
  t->score = calloc(n_vocab, sizeof *t->score);
  t->type = calloc(n_vocab, sizeof *t->type);
  if (!t->off || !t->len || !t->score || !t->type) {
    sl_tok_free(t);
    return NULL;
  }
  t->bos = t->eos = t->unk = t->pad = -1;
  for (int i = 0; i < 256; i++) t->byte_tok[i] = -1;
  return t;
}

void sl_tok_free(sl_tok_t *t) {
  if (!t) return;
  free(t->strs);
  free(t->off);
  free(t->len);
  free(t->score);
  free(t->type);
  free(t->map);
  free(t->merges);
  free(t->eog);
  free(t->trie);
  free(t->tok_lstrip);
  free(t->tok_rstrip);
  free(t->chat_template);
  sl__tok_free_regex(t);
  free(t);
}

int sl__tok_set(sl_tok_t *t, int32_t id, const char *s, size_t n, float score, uint8_t type) {
  if (id < 0 || (size_t)id >= t->n_vocab) return SL_ERANGE;
  if (n > SL_TOK_MAX_PIECE) return SL_ETOOBIG;
  /* The arena grows geometrically; offsets (not pointers) survive realloc. */
  static const size_t arena_max = (size_t)1 << 31;
  if (t->strs_len + n + 1 > arena_max) return SL_ETOOBIG;
  if (t->strs_len + n + 1 > t->strs_cap) {
    size_t cap = t->strs_cap ? t->strs_cap * 2 : 4096;
    while (cap < t->strs_len + n + 1) cap *= 2;
    char *p = realloc(t->strs, cap);
    if (!p) return SL_ENOMEM;
    t->strs = p;
    t->strs_cap = cap;
  }
  memcpy(t->strs + t->strs_len, s, n);
  t->strs[t->strs_len + n] = '\0';
  t->off[id] = t->strs_len;
  t->len[id] = (uint32_t)n;
  t->strs_len += n + 1;
  t->score[id] = score;
  t->type[id] = type;
  return 0;
}

static uint64_t hash_bytes(const char *s, size_t n) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (size_t i = 0; i < n; i++) {
    h ^= (uint8_t)s[i];
    h *= 1099511628211ull;
  }
  return h ^ (h >> 29);
}

static size_t pow2_at_least(size_t n) {
  size_t p = 16;
  while (p < n) p <<= 1;
  return p;
}

int sl__tok_build_map(sl_tok_t *t) {
  size_t size = pow2_at_least(t->n_vocab * 2);
  t->map = calloc(size, sizeof *t->map);
  if (!t->map) return SL_ENOMEM;
  t->map_mask = size - 1;
  for (size_t id = 0; id < t->n_vocab; id++) {
    const char *s = t->strs + t->off[id];
    size_t n = t->len[id];
    size_t h = hash_bytes(s, n) & t->map_mask;
    for (;;) {
      int32_t e = t->map[h];
      if (e == 0) {
        t->map[h] = (int32_t)id + 1;
        break;
      }
      if (t->len[e - 1] == n && !memcmp(t->strs + t->off[e - 1], s, n)) break; /* dup */
      h = (h + 1) & t->map_mask;
    }
  }
  return 0;
}

int32_t sl_tok_find(const sl_tok_t *t, const char *s, size_t n) {
  if (!t || !t->map) return -1;
  size_t h = hash_bytes(s, n) & t->map_mask;
  for (;;) {
    int32_t e = t->map[h];
    if (e == 0) return -1;
    if (t->len[e - 1] == n && !memcmp(t->strs + t->off[e - 1], s, n)) return e - 1;
    h = (h + 1) & t->map_mask;
  }
}

/* ---- merges ---- */

int sl__tok_merges_init(sl_tok_t *t, size_t n_merges) {
  if (n_merges > 2 * (size_t)SL_TOK_MAX_VOCAB) return SL_ETOOBIG;
  size_t size = pow2_at_least(n_merges * 2 + 1);
  if (!(t->merges = calloc(size, sizeof *t->merges))) return SL_ENOMEM;
  t->mmask = size - 1;
  return 0;
}

static uint64_t mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  return x ^ (x >> 33);
}

int sl__tok_add_merge(sl_tok_t *t, const char *a, size_t an, const char *b, size_t bn) {
  uint32_t rank = (uint32_t)t->n_merges++;
  if (!t->merges || t->n_merges * 2 > t->mmask + 1) return SL_ERANGE;
  int32_t l = sl_tok_find(t, a, an), r = sl_tok_find(t, b, bn);
  if (l < 0 || r < 0 || an + bn > SL_TOK_MAX_PIECE) return 0;
  char buf[512];
  char *cat = an + bn <= sizeof buf ? buf : malloc(an + bn);
  if (!cat) return SL_ENOMEM;
  memcpy(cat, a, an);
  memcpy(cat + an, b, bn);
  int32_t res = sl_tok_find(t, cat, an + bn);
  if (cat != buf) free(cat);
  if (res < 0) return 0;
  uint64_t key = ((uint64_t)(uint32_t)l << 32 | (uint32_t)r) + 1;
  size_t h = mix64(key) & t->mmask;
  while (t->merges[h].key && t->merges[h].key != key) h = (h + 1) & t->mmask;
  if (t->merges[h].key == key) return 0; /* a repeated merge keeps its first (best) rank */
  t->merges[h] = (sl__merge_t){key, rank, res};
  return 0;
}

uint32_t sl__tok_merge_rank(const sl_tok_t *t, int32_t left, int32_t right, int32_t *res) {
  if (!t->merges || left < 0 || right < 0) return UINT32_MAX;
  uint64_t key = ((uint64_t)(uint32_t)left << 32 | (uint32_t)right) + 1;
  size_t h = mix64(key) & t->mmask;
  for (;;) {
    const sl__merge_t *m = &t->merges[h];
    if (m->key == 0) return UINT32_MAX;
    if (m->key == key) {
      *res = m->res;
      return m->rank;
    }
    h = (h + 1) & t->mmask;
  }
}

/* ---- special-token trie ---- */

static int trie_node(sl_tok_t *t, uint8_t byte) {
  if (t->n_trie == t->cap_trie) {
    /* Nodes cost 16 bytes per byte of special-token text: capped so a hostile
     * vocabulary of huge "special" tokens cannot multiply its size in memory. */
    size_t cap = t->cap_trie ? t->cap_trie * 2 : 256;
    if (cap > (size_t)1 << 22) return SL_ETOOBIG;
    sl__trie_node_t *p = realloc(t->trie, cap * sizeof *p);
    if (!p) return SL_ENOMEM;
    t->trie = p;
    t->cap_trie = cap;
  }
  sl__trie_node_t *n = &t->trie[t->n_trie];
  n->first_child = n->next_sibling = n->id = -1;
  n->byte = byte;
  return (int)t->n_trie++;
}

int sl__tok_add_special(sl_tok_t *t, int32_t id) {
  if (id < 0 || (size_t)id >= t->n_vocab || t->len[id] == 0) return 0;
  if (t->n_trie == 0 && trie_node(t, 0) < 0) return SL_ENOMEM;
  const uint8_t *s = (const uint8_t *)t->strs + t->off[id];
  int32_t cur = 0;
  for (size_t i = 0; i < t->len[id]; i++) {
    int32_t c = t->trie[cur].first_child;
    while (c >= 0 && t->trie[c].byte != s[i]) c = t->trie[c].next_sibling;
    if (c < 0) {
      int n = trie_node(t, s[i]);
      if (n < 0) return n;
      t->trie[n].next_sibling = t->trie[cur].first_child;
      t->trie[cur].first_child = n;
      c = n;
    }
    cur = c;
  }
  if (t->trie[cur].id < 0) t->trie[cur].id = id; /* duplicates: lowest id wins */
  return 0;
}

/* ---- finishing ---- */

static int add_eog(sl_tok_t *t, int32_t id) {
  if (id < 0 || (size_t)id >= t->n_vocab) return 0;
  for (size_t i = 0; i < t->n_eog; i++)
    if (t->eog[i] == id) return 0;
  int32_t *p = realloc(t->eog, (t->n_eog + 1) * sizeof *p);
  if (!p) return SL_ENOMEM;
  t->eog = p;
  t->eog[t->n_eog++] = id;
  return 0;
}

int sl__tok_finish(sl_tok_t *t, char *err, size_t errlen) {
  int rc;
  if (!t->map && (rc = sl__tok_build_map(t))) return rc;
  for (size_t i = 0; i < t->n_vocab; i++)
    if (t->type[i] == SL_TOKTYPE_UNDEFINED) t->type[i] = SL_TOKTYPE_NORMAL;

  /* Byte table: byte-level vocabularies have one token per GPT-2 byte char;
   * SentencePiece (and byte_fallback BPE) have <0xNN> tokens. */
  for (int b = 0; b < 256; b++) {
    int32_t id = -1;
    if (t->byte_level) {
      char u[4];
      size_t n = sl__utf8_encode(sl__tok_byte_to_cp((uint8_t)b), u);
      id = sl_tok_find(t, u, n);
    } else {
      char hex[8];
      snprintf(hex, sizeof hex, "<0x%02X>", b);
      id = sl_tok_find(t, hex, 6);
      if (id < 0 && t->kind == SL_TOK_KIND_SPM && b < 128) {
        /* llama.cpp falls back to the byte itself as a one-char token. */
        char c = (char)b;
        id = sl_tok_find(t, &c, 1);
      }
    }
    t->byte_tok[b] = id;
  }

  for (int32_t *p = &t->bos; p <= &t->pad; p++)
    if (*p >= 0 && (size_t)*p >= t->n_vocab) {
      sl__tok_err(err, errlen, "special token id %d is outside the vocabulary (%zu)", *p,
                  t->n_vocab);
      return SL_ERANGE;
    }

  /* End of generation: EOS plus the well-known turn-end control tokens, which
   * chat models emit instead of EOS (llama.cpp keeps the same list). */
  if ((rc = add_eog(t, t->eos))) return rc;
  static const char *eog_texts[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>",
                                    "<|endoftext|>", "<|eom_id|>", "<EOT>", "<|end_of_text|>"};
  for (size_t i = 0; i < sizeof eog_texts / sizeof eog_texts[0]; i++) {
    int32_t id = sl_tok_find(t, eog_texts[i], strlen(eog_texts[i]));
    if (id >= 0 && (t->type[id] == SL_TOKTYPE_CONTROL || t->type[id] == SL_TOKTYPE_USER_DEFINED) &&
        (rc = add_eog(t, id)))
      return rc;
  }

  /* Text that is matched before the model runs: control, unknown and user-defined
   * tokens (llama.cpp's rule; for tokenizer.json these are exactly the added
   * tokens). Control and unknown ones only with parse_special. */
  for (size_t i = 0; i < t->n_vocab; i++) {
    if ((t->type[i] == SL_TOKTYPE_CONTROL || t->type[i] == SL_TOKTYPE_USER_DEFINED ||
         t->type[i] == SL_TOKTYPE_UNKNOWN) &&
        (rc = sl__tok_add_special(t, (int32_t)i))) {
      sl__tok_err(err, errlen, "special tokens: %s at token %zu", sl_strerror(rc), i);
      return rc;
    }
  }
  return 0;
}

/* ---- public getters ---- */

sl_tok_kind_t sl_tok_kind(const sl_tok_t *t) { return t->kind; }
size_t sl_tok_n_vocab(const sl_tok_t *t) { return t ? t->n_vocab : 0; }
int32_t sl_tok_bos(const sl_tok_t *t) { return t->bos; }
int32_t sl_tok_eos(const sl_tok_t *t) { return t->eos; }
bool sl_tok_add_bos(const sl_tok_t *t) { return t->add_bos && t->bos >= 0; }
bool sl_tok_add_eos(const sl_tok_t *t) { return t->add_eos && t->eos >= 0; }
const char *sl_tok_chat_template(const sl_tok_t *t) { return t->chat_template; }

bool sl_tok_is_eog(const sl_tok_t *t, int32_t id) {
  for (size_t i = 0; i < t->n_eog; i++)
    if (t->eog[i] == id) return true;
  return false;
}

sl_toktype_t sl_tok_type(const sl_tok_t *t, int32_t id) {
  if (id < 0 || (size_t)id >= t->n_vocab) return SL_TOKTYPE_UNDEFINED;
  return (sl_toktype_t)t->type[id];
}

bool sl_tok_is_control(const sl_tok_t *t, int32_t id) {
  sl_toktype_t ty = sl_tok_type(t, id);
  return ty == SL_TOKTYPE_CONTROL || ty == SL_TOKTYPE_UNKNOWN || ty == SL_TOKTYPE_UNUSED;
}

const char *sl_tok_text(const sl_tok_t *t, int32_t id, size_t *len) {
  if (!t || id < 0 || (size_t)id >= t->n_vocab) return NULL;
  if (len) *len = t->len[id];
  return t->strs + t->off[id];
}
