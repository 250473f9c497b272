/* Builds a tokenizer from the tokenizer.* metadata of a GGUF file, as llama.cpp's
 * convert_hf_to_gguf.py writes it: tokens, scores, token types, merges, special
 * ids and flags, the pre-tokenizer name and the chat template. Every array length
 * and id is checked against the vocabulary before use; the GGUF reader has already
 * bounds-checked the file itself. */
#include "tok_int.h"

#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "sl_err.h"

/* A special token's id: -1 when the key is absent or holds "none" (llama.cpp
 * writes -1, as a signed or an unsigned integer: any integer out of a token
 * id's range), -2 when it holds no integer at all (a float, a string): such a
 * file is refused, not read as one without that token (its prompts would lose
 * their BOS). */
static int32_t get_id(const sl_gguf_t *g, const char *key) {
  int64_t kid = sl_gguf_find_key(g, key);
  if (kid < 0) return -1;
  sl_gguf_type_t ty = sl_gguf_kv_type(g, kid);
  bool integer = ty <= SL_GGUF_I32 || ty == SL_GGUF_U64 || ty == SL_GGUF_I64;
  if (!integer) return -2;
  int64_t v;
  if (sl_gguf_get_i64(g, key, &v) != 0) return -1; /* a u64 past INT64_MAX: "none" */
  return v < 0 || v > INT32_MAX ? -1 : (int32_t)v;
}

static bool get_flag(const sl_gguf_t *g, const char *key, bool dflt) {
  bool b;
  return sl_gguf_get_bool(g, key, &b) == 0 ? b : dflt;
}

sl_tok_t *sl_tok_from_gguf(const sl_gguf_t *g, char *err, size_t errlen) {
  if (!g) {
    sl__tok_err(err, errlen, "no GGUF file");
    return NULL;
  }
  /* the optional keys read below, when there, of the type they must be: a file
   * that writes add_bos_token as "yes" is broken, not one without the key */
  static const struct {
    const char *key;
    sl_gguf_type_t type;
    const char *what;
  } typed[] = {{"tokenizer.ggml.add_space_prefix", SL_GGUF_BOOL, "a boolean"},
               {"tokenizer.ggml.add_bos_token", SL_GGUF_BOOL, "a boolean"},
               {"tokenizer.ggml.add_eos_token", SL_GGUF_BOOL, "a boolean"},
               {"tokenizer.ggml.pre", SL_GGUF_STRING, "a string"},
               {"tokenizer.chat_template", SL_GGUF_STRING, "a string"}};
  for (size_t i = 0; i < sizeof typed / sizeof *typed; i++) {
    int64_t kid = sl_gguf_find_key(g, typed[i].key);
    if (kid >= 0 && sl_gguf_kv_type(g, kid) != typed[i].type) {
      sl__tok_err(err, errlen, "%s is not %s", typed[i].key, typed[i].what);
      return NULL;
    }
  }
  const char *model;
  size_t model_len;
  if (sl_gguf_get_str(g, "tokenizer.ggml.model", &model, &model_len)) {
    sl__tok_err(err, errlen, "tokenizer.ggml.model is missing or not a string");
    return NULL;
  }
  sl_tok_kind_t kind;
  if (model_len == 5 && !memcmp(model, "llama", 5)) {
    kind = SL_TOK_KIND_SPM;
  } else if (model_len == 4 && !memcmp(model, "gpt2", 4)) {
    kind = SL_TOK_KIND_BPE;
  } else {
    sl__tok_err(err, errlen, "unsupported tokenizer model '%.*s' (want llama or gpt2)",
                (int)(model_len > 32 ? 32 : model_len), model);
    return NULL;
  }

  int64_t ktok = sl_gguf_find_key(g, "tokenizer.ggml.tokens");
  if (ktok < 0 || sl_gguf_arr_type(g, ktok) != SL_GGUF_STRING) {
    sl__tok_err(err, errlen, "tokenizer.ggml.tokens is missing or not a string array");
    return NULL;
  }
  size_t n = sl_gguf_arr_len(g, ktok);
  if (n == 0 || n > SL_TOK_MAX_VOCAB) {
    sl__tok_err(err, errlen, "tokenizer.ggml.tokens has %zu entries (1..%u allowed)", n,
                SL_TOK_MAX_VOCAB);
    return NULL;
  }
  int64_t kscore = sl_gguf_find_key(g, "tokenizer.ggml.scores");
  int64_t ktype = sl_gguf_find_key(g, "tokenizer.ggml.token_type");
  if (kscore >= 0 && sl_gguf_arr_len(g, kscore) != n) {
    sl__tok_err(err, errlen, "tokenizer.ggml.scores has %zu entries for %zu tokens",
                sl_gguf_arr_len(g, kscore), n);
    return NULL;
  }
  if (ktype >= 0 && sl_gguf_arr_len(g, ktype) != n) {
    sl__tok_err(err, errlen, "tokenizer.ggml.token_type has %zu entries for %zu tokens",
                sl_gguf_arr_len(g, ktype), n);
    return NULL;
  }

  sl_tok_t *t = sl__tok_alloc(n);
  if (!t) {
    sl__tok_err(err, errlen, "out of memory for %zu tokens", n);
    return NULL;
  }
  t->kind = kind;
  int rc = 0;
  for (size_t i = 0; i < n; i++) {
    size_t len;
    const char *s = sl_gguf_arr_str(g, ktok, i, &len);
    float score = 0;
    int32_t type = SL_TOKTYPE_NORMAL;
    if (!s || (kscore >= 0 && sl_gguf_arr_f32(g, kscore, i, &score)) ||
        (ktype >= 0 && sl_gguf_arr_i32(g, ktype, i, &type))) {
      sl__tok_err(err, errlen, "token %zu: unreadable text, score or type", i);
      goto fail;
    }
    if (type < SL_TOKTYPE_UNDEFINED || type > SL_TOKTYPE_BYTE) {
      sl__tok_err(err, errlen, "token %zu: token type %d out of range", i, type);
      goto fail;
    }
    if ((rc = sl__tok_set(t, (int32_t)i, s, len, score, (uint8_t)type))) {
      sl__tok_err(err, errlen, "token %zu: %s (%zu bytes)", i, sl_strerror(rc), len);
      goto fail;
    }
  }
  if ((rc = sl__tok_build_map(t))) {
    sl__tok_err(err, errlen, "out of memory building the vocabulary map");
    goto fail;
  }

  static const char *const ids[] = {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
                                     "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.padding_token_id"};
  int32_t *slot[] = {&t->bos, &t->eos, &t->unk, &t->pad};
  for (int k = 0; k < 4; k++) {
    *slot[k] = get_id(g, ids[k]);
    if (*slot[k] == -2) {
      sl__tok_err(err, errlen, "%s: not a token id (an unsigned integer)", ids[k]);
      goto fail;
    }
  }

  if (kind == SL_TOK_KIND_SPM) {
    /* SentencePiece: a space goes in front of the text and after every special
     * token, spaces are U+2581, unknown characters fall back to <0xNN>. */
    t->escape_spaces = true;
    t->prepend = get_flag(g, "tokenizer.ggml.add_space_prefix", true) ? SL_PREPEND_AFTER_SPECIAL
                                                                      : SL_PREPEND_NEVER;
    t->byte_fallback = true;
    t->decode_strip_space = t->prepend != SL_PREPEND_NEVER;
    t->add_bos = get_flag(g, "tokenizer.ggml.add_bos_token", true);
    t->add_eos = get_flag(g, "tokenizer.ggml.add_eos_token", false);
    if (t->unk < 0) t->unk = sl_tok_find(t, "<unk>", 5);
  } else {
    t->byte_level = true;
    t->add_bos = get_flag(g, "tokenizer.ggml.add_bos_token", false);
    t->add_eos = get_flag(g, "tokenizer.ggml.add_eos_token", false);
    const char *pre = "default";
    size_t pre_len = 7;
    (void)sl_gguf_get_str(g, "tokenizer.ggml.pre", &pre, &pre_len);
    if ((rc = sl__tok_set_pre(t, pre, pre_len, err, errlen))) goto fail;
    if (pre_len == 9 && !memcmp(pre, "llama-bpe", 9))
      t->add_bos = get_flag(g, "tokenizer.ggml.add_bos_token", true);

    int64_t kmer = sl_gguf_find_key(g, "tokenizer.ggml.merges");
    if (kmer < 0 || sl_gguf_arr_type(g, kmer) != SL_GGUF_STRING) {
      sl__tok_err(err, errlen, "tokenizer.ggml.merges is missing or not a string array");
      goto fail;
    }
    size_t nm = sl_gguf_arr_len(g, kmer);
    if ((rc = sl__tok_merges_init(t, nm))) {
      sl__tok_err(err, errlen, "tokenizer.ggml.merges: %zu entries: %s", nm, sl_strerror(rc));
      goto fail;
    }
    for (size_t i = 0; i < nm; i++) {
      size_t len;
      const char *s = sl_gguf_arr_str(g, kmer, i, &len);
      /* "left right": split at the first space after the first byte (a part is
       * never empty and the left one cannot contain a space). */
      const char *sp = s && len > 1 ? memchr(s + 1, ' ', len - 1) : NULL;
      if (!sp) {
        sl__tok_err(err, errlen, "merge %zu is not \"left right\"", i);
        goto fail;
      }
      size_t an = (size_t)(sp - s);
      if ((rc = sl__tok_add_merge(t, s, an, sp + 1, len - an - 1))) {
        sl__tok_err(err, errlen, "merge %zu: %s", i, sl_strerror(rc));
        goto fail;
      }
    }
  }

  /* EOT/EOM ids end generation too (Llama 3's <|eot_id|> is also found by text). */
  int32_t eot = get_id(g, "tokenizer.ggml.eot_token_id");
  int32_t eom = get_id(g, "tokenizer.ggml.eom_token_id");

  const char *tmpl;
  size_t tmpl_len;
  if (sl_gguf_get_str(g, "tokenizer.chat_template", &tmpl, &tmpl_len) == 0) {
    if (tmpl_len > (1u << 20)) {
      sl__tok_err(err, errlen, "tokenizer.chat_template of %zu bytes is too long", tmpl_len);
      goto fail;
    }
    if (!(t->chat_template = malloc(tmpl_len + 1))) goto nomem;
    memcpy(t->chat_template, tmpl, tmpl_len);
    t->chat_template[tmpl_len] = '\0';
  }

  if ((rc = sl__tok_finish(t, err, errlen))) goto fail;
  for (int k = 0; k < 2; k++) {
    int32_t id = k ? eom : eot;
    if (id < 0) continue;
    if ((size_t)id >= t->n_vocab) {
      sl__tok_err(err, errlen, "EOT/EOM token id %d outside the vocabulary", id);
      goto fail;
    }
    int32_t *p = realloc(t->eog, (t->n_eog + 1) * sizeof *p);
    if (!p) goto nomem;
    t->eog = p;
    t->eog[t->n_eog++] = id;
  }
  return t;
nomem:
  sl__tok_err(err, errlen, "out of memory");
fail:
  sl_tok_free(t);
  return NULL;
}
