/* Internals of the tokenizer module, shared by its tok_*.c files only: the one
 * vocabulary representation both loaders (GGUF, tokenizer.json) fill, and the
 * helpers the encoders use. Nothing outside backends/local/tok_*.c includes it. */
#ifndef SL_TOK_INT_H
#define SL_TOK_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tokenizer.h"

typedef struct pcre2_real_code_8 sl__pcre2_code;

/* Normalizers applied to plain-text fragments (never to special tokens). */
typedef enum { SL_NORM_NONE, SL_NORM_NFC, SL_NORM_NFKC, SL_NORM_NFD, SL_NORM_NFKD } sl_norm_t;

/* Metaspace-style space handling (SentencePiece and HF Metaspace/Prepend+Replace). */
typedef enum {
  SL_PREPEND_NEVER,
  SL_PREPEND_FIRST,  /* only before the first fragment of the text */
  SL_PREPEND_ALWAYS, /* before every plain fragment (HF Metaspace "always") */
  SL_PREPEND_AFTER_SPECIAL, /* llama.cpp SPM: first fragment and after a special token */
} sl_prepend_t;

#define SL_TOK_MAX_REGEX 4

/* One node of the byte trie over special/added token texts. */
typedef struct {
  int32_t first_child; /* node index, -1 none */
  int32_t next_sibling;
  int32_t id;          /* token ending here, -1 none */
  uint8_t byte;
} sl__trie_node_t;

typedef struct {
  uint64_t key; /* ((uint64)left << 32 | right) + 1, 0 = empty */
  uint32_t rank;
  int32_t res;
} sl__merge_t;

struct sl_tok {
  sl_tok_kind_t kind;
  size_t n_vocab;

  /* Token texts in one arena: text of id i is strs + off[i], len[i] bytes. */
  char *strs;
  size_t strs_len, strs_cap;
  uint64_t *off;  /* (n_vocab) */
  uint32_t *len;  /* (n_vocab) */
  float *score;   /* (n_vocab) SPM merge priority; 0 when absent */
  uint8_t *type;  /* (n_vocab) sl_toktype_t */

  /* text → id: open addressing, ids + 1 (0 = empty), size a power of two. */
  int32_t *map;
  size_t map_mask;

  /* BPE merges: (left id, right id) → rank and result id, open addressing; one
   * 16-byte slot per entry so a lookup costs one cache miss. */
  sl__merge_t *merges;
  size_t mmask;
  size_t n_merges;

  /* raw byte → id: the byte-level char (BPE) or <0xNN> (byte fallback); -1 none. */
  int32_t byte_tok[256];
  bool byte_level;     /* GPT-2 bytes↔unicode mapping on encode and decode */
  bool byte_fallback;  /* unknown pieces become <0xNN> tokens */
  bool ignore_merges;  /* a whole word that is a token is taken as is (Llama 3) */
  bool escape_spaces;  /* ' ' → U+2581 before the model (SPM, Metaspace) */
  bool metaspace_split;/* Metaspace split=true: words start at each U+2581 */
  sl_prepend_t prepend;/* where a U+2581/space is prepended */
  bool decode_strip_space; /* decoder removes the first leading space (SPM style) */
  sl_norm_t norm;
  bool norm_prepend;   /* HF normalizer Prepend("▁") seen */

  /* Split regexes applied in sequence before BPE (none: a fragment is one word). */
  sl__pcre2_code *re[SL_TOK_MAX_REGEX];
  size_t n_re;

  int32_t bos, eos, unk, pad;
  bool add_bos, add_eos;
  int32_t *eog;
  size_t n_eog;

  /* Added/special tokens matched in text before the model runs. */
  sl__trie_node_t *trie;
  size_t n_trie, cap_trie;
  uint8_t *tok_lstrip, *tok_rstrip; /* (n_vocab) or NULL: HF added-token flags */

  char *chat_template;
};

/* ---- tok_vocab.c ---- */

/* Allocates an empty tokenizer for n tokens (arrays zeroed, ids -1). */
sl_tok_t *sl__tok_alloc(size_t n_vocab);
/* Sets token id's text (copied into the arena) and type/score. */
int sl__tok_set(sl_tok_t *t, int32_t id, const char *s, size_t n, float score, uint8_t type);
/* After all texts are set: builds the text → id map. Duplicate texts keep the
 * lowest id (as llama.cpp and HF do). */
int sl__tok_build_map(sl_tok_t *t);
/* Adds the merge "left right" (texts); rank = order of addition. Merges whose
 * parts or result are not tokens are ignored. */
int sl__tok_merges_init(sl_tok_t *t, size_t n_merges);
int sl__tok_add_merge(sl_tok_t *t, const char *a, size_t an, const char *b, size_t bn);
/* Merge lookup: rank or UINT32_MAX, result id in *res. */
uint32_t sl__tok_merge_rank(const sl_tok_t *t, int32_t left, int32_t right, int32_t *res);
/* Registers token id for matching in raw text. */
int sl__tok_add_special(sl_tok_t *t, int32_t id);
/* Fills byte_tok[] (byte-level chars or <0xNN>), EOG ids and special-token trie
 * from the token types; called last by both loaders. */
int sl__tok_finish(sl_tok_t *t, char *err, size_t errlen);
/* Compiles one split regex (JS-compatible rewrites applied). */
int sl__tok_add_regex(sl_tok_t *t, const char *pattern, size_t len, char *err, size_t errlen);
/* The built-in split regexes of a GGUF tokenizer.ggml.pre name; SL_ENOTFOUND. */
int sl__tok_set_pre(sl_tok_t *t, const char *pre, size_t len, char *err, size_t errlen);
void sl__tok_free_regex(sl_tok_t *t);
void sl__tok_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* GPT-2 byte ↔ unicode mapping. */
uint32_t sl__tok_byte_to_cp(uint8_t b);
int sl__tok_cp_to_byte(uint32_t cp); /* -1 if cp is not a byte char */

/* UTF-8 helpers: length of the sequence starting with byte c (1 for invalid). */
size_t sl__utf8_len(uint8_t c);
/* Decodes one code point at s (n bytes left); returns bytes used (>=1) and sets
 * *cp, or 0 for an invalid sequence (then *cp = 0xFFFD and one byte is consumed). */
size_t sl__utf8_decode(const uint8_t *s, size_t n, uint32_t *cp);
size_t sl__utf8_encode(uint32_t cp, char out[4]);

/* ---- growable id vector with a ceiling ---- */
typedef struct {
  int32_t *v;
  size_t n, cap;
} sl__ids_t;
int sl__ids_push(sl__ids_t *a, int32_t id);

/* ---- model encoders (append to out) ---- */
int sl__spm_encode(const sl_tok_t *t, const char *text, size_t len, sl__ids_t *out);
/* Pre-tokenizes a plain fragment and BPE-encodes each word. */
int sl__bpe_encode(const sl_tok_t *t, const char *text, size_t len, sl__ids_t *out);
/* Unicode normalization of a fragment; *out is malloc'd (or NULL: unchanged). */
int sl__tok_normalize(sl_norm_t form, const char *s, size_t n, char **out, size_t *out_len);

#endif
