/* Loads a Hugging Face tokenizer.json (and the tokenizer_config.json beside it)
 * into the shared vocabulary, so users can point sluice at the files a model ships
 * with, no conversion step. Supported: the BPE model (byte_fallback,
 * ignore_merges, merges as "a b" strings or [a, b] pairs), added tokens (special →
 * control, others → user-defined, lstrip/rstrip), normalizers NFC/NFKC/NFD/NFKD,
 * Prepend and Replace(" " → "▁") and Sequence of them, pre-tokenizers ByteLevel,
 * Split (Isolated), Digits, Metaspace and Sequence of them. Anything else is
 * refused by name rather than tokenized differently from the reference. */
#include "sl_file.h"
#include "tok_int.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sl_err.h"

#define CONFIG_MAX ((size_t)16 << 20)
static const char MS[] = "\xE2\x96\x81"; /* U+2581, SentencePiece's visible space */

static char *read_file(const char *path, size_t max, size_t *len, char *err, size_t errlen,
                       bool quiet_missing) {
  const char *why;
  FILE *f = sl_fopen_regular(path, &why);
  if (!f) {
    if (!quiet_missing) sl__tok_err(err, errlen, "%s: cannot open: %s", path, why);
    return NULL;
  }
  char *buf = NULL;
  if (fseek(f, 0, SEEK_END) == 0) {
    long sz = ftell(f);
    if (sz < 0 || (size_t)sz > max) {
      sl__tok_err(err, errlen, "%s: %ld bytes is over the %zu-byte limit", path, sz, max);
    } else if (fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)sz + 1))) {
      if (fread(buf, 1, (size_t)sz, f) != (size_t)sz) {
        sl__tok_err(err, errlen, "%s: read error", path);
        free(buf);
        buf = NULL;
      } else {
        buf[sz] = '\0';
        *len = (size_t)sz;
      }
    }
  }
  fclose(f);
  return buf;
}

static bool is_type(const cJSON *o, const char *type) {
  const cJSON *ty = cJSON_GetObjectItemCaseSensitive(o, "type");
  return cJSON_IsString(ty) && !strcmp(ty->valuestring, type);
}

static const char *type_of(const cJSON *o) {
  const cJSON *ty = cJSON_GetObjectItemCaseSensitive(o, "type");
  return cJSON_IsString(ty) ? ty->valuestring : "(no type)";
}

static bool flag(const cJSON *o, const char *key, bool dflt) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsBool(v) ? cJSON_IsTrue(v) : dflt;
}

/* A token named in tokenizer_config.json: "text" or {"content": "text"}. */
static const char *config_token(const cJSON *cfg, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
  if (cJSON_IsObject(v)) v = cJSON_GetObjectItemCaseSensitive(v, "content");
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int normalizer(sl_tok_t *t, const cJSON *n, int depth, char *err, size_t errlen) {
  if (!n || cJSON_IsNull(n)) return 0;
  if (depth > 8 || !cJSON_IsObject(n)) goto bad;
  if (is_type(n, "Sequence")) {
    const cJSON *e, *list = cJSON_GetObjectItemCaseSensitive(n, "normalizers");
    if (!cJSON_IsArray(list)) goto bad;
    cJSON_ArrayForEach(e, list) {
      int rc = normalizer(t, e, depth + 1, err, errlen);
      if (rc) return rc;
    }
    return 0;
  }
  static const struct { const char *name; sl_norm_t form; } forms[] = {
      {"NFC", SL_NORM_NFC}, {"NFKC", SL_NORM_NFKC}, {"NFD", SL_NORM_NFD}, {"NFKD", SL_NORM_NFKD}};
  for (size_t i = 0; i < 4; i++)
    if (is_type(n, forms[i].name)) {
      t->norm = forms[i].form;
      return 0;
    }
  if (is_type(n, "Prepend")) {
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(n, "prepend");
    if (!cJSON_IsString(p) || strcmp(p->valuestring, MS)) goto unsupported;
    t->prepend = SL_PREPEND_ALWAYS;
    t->norm_prepend = true;
    t->decode_strip_space = true;
    return 0;
  }
  if (is_type(n, "Replace")) {
    const cJSON *pat = cJSON_GetObjectItemCaseSensitive(n, "pattern");
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(pat, "String");
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(n, "content");
    if (!cJSON_IsString(s) || !cJSON_IsString(c) || strcmp(s->valuestring, " ") ||
        strcmp(c->valuestring, MS))
      goto unsupported;
    t->escape_spaces = true;
    return 0;
  }
unsupported:
  sl__tok_err(err, errlen, "tokenizer.json: unsupported normalizer %s", type_of(n));
  return SL_EUNSUPPORTED;
bad:
  sl__tok_err(err, errlen, "tokenizer.json: malformed normalizer");
  return SL_EPARSE;
}

#define RE_GPT2_BYTELEVEL                                                           \
  "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"

static int pre_tokenizer(sl_tok_t *t, const cJSON *p, int depth, char *err, size_t errlen) {
  if (!p || cJSON_IsNull(p)) return 0;
  if (depth > 8 || !cJSON_IsObject(p)) goto bad;
  int rc;
  if (is_type(p, "Sequence")) {
    const cJSON *e, *list = cJSON_GetObjectItemCaseSensitive(p, "pretokenizers");
    if (!cJSON_IsArray(list)) goto bad;
    cJSON_ArrayForEach(e, list) {
      if ((rc = pre_tokenizer(t, e, depth + 1, err, errlen))) return rc;
    }
    return 0;
  }
  if (is_type(p, "ByteLevel")) {
    t->byte_level = true;
    if (flag(p, "add_prefix_space", false)) t->prepend = SL_PREPEND_ALWAYS;
    if (flag(p, "use_regex", true))
      return sl__tok_add_regex(t, RE_GPT2_BYTELEVEL, strlen(RE_GPT2_BYTELEVEL), err, errlen);
    return 0;
  }
  if (is_type(p, "Split")) {
    const cJSON *pat = cJSON_GetObjectItemCaseSensitive(p, "pattern");
    const cJSON *re = cJSON_GetObjectItemCaseSensitive(pat, "Regex");
    const cJSON *str = cJSON_GetObjectItemCaseSensitive(pat, "String");
    const cJSON *beh = cJSON_GetObjectItemCaseSensitive(p, "behavior");
    if (!cJSON_IsString(beh) || strcmp(beh->valuestring, "Isolated") || flag(p, "invert", false)) {
      sl__tok_err(err, errlen, "tokenizer.json: Split pre-tokenizer: only behavior Isolated "
                               "without invert is supported");
      return SL_EUNSUPPORTED;
    }
    if (cJSON_IsString(re))
      return sl__tok_add_regex(t, re->valuestring, strlen(re->valuestring), err, errlen);
    if (cJSON_IsString(str)) {
      /* A literal string: quote it for PCRE2. */
      size_t n = strlen(str->valuestring);
      if (n > 1024) goto bad;
      char q[1024 + 8];
      snprintf(q, sizeof q, "\\Q%s\\E", str->valuestring);
      if (strstr(str->valuestring, "\\E")) goto bad;
      return sl__tok_add_regex(t, q, strlen(q), err, errlen);
    }
    goto bad;
  }
  if (is_type(p, "Digits")) {
    const char *re = flag(p, "individual_digits", false) ? "\\p{N}" : "\\p{N}+";
    return sl__tok_add_regex(t, re, strlen(re), err, errlen);
  }
  if (is_type(p, "Metaspace")) {
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(p, "replacement");
    if (cJSON_IsString(r) && strcmp(r->valuestring, MS)) {
      sl__tok_err(err, errlen, "tokenizer.json: Metaspace replacement other than U+2581");
      return SL_EUNSUPPORTED;
    }
    t->escape_spaces = true;
    t->metaspace_split = flag(p, "split", true);
    const cJSON *scheme = cJSON_GetObjectItemCaseSensitive(p, "prepend_scheme");
    if (cJSON_IsString(scheme)) {
      if (!strcmp(scheme->valuestring, "first"))
        t->prepend = SL_PREPEND_FIRST;
      else if (!strcmp(scheme->valuestring, "never"))
        t->prepend = SL_PREPEND_NEVER;
      else
        t->prepend = SL_PREPEND_ALWAYS;
    } else {
      t->prepend = flag(p, "add_prefix_space", true) ? SL_PREPEND_ALWAYS : SL_PREPEND_NEVER;
    }
    t->decode_strip_space = t->prepend != SL_PREPEND_NEVER;
    return 0;
  }
  sl__tok_err(err, errlen, "tokenizer.json: unsupported pre-tokenizer %s", type_of(p));
  return SL_EUNSUPPORTED;
bad:
  sl__tok_err(err, errlen, "tokenizer.json: malformed pre-tokenizer");
  return SL_EPARSE;
}

/* Decoders only tell us whether a leading space is stripped; the rest follows
 * from the vocabulary kind (byte-level or U+2581 + byte fallback). */
static void decoder(sl_tok_t *t, const cJSON *d, int depth) {
  if (!cJSON_IsObject(d) || depth > 8) return;
  if (is_type(d, "Sequence")) {
    const cJSON *e, *list = cJSON_GetObjectItemCaseSensitive(d, "decoders");
    cJSON_ArrayForEach(e, list) decoder(t, e, depth + 1);
  } else if (is_type(d, "Strip")) {
    const cJSON *start = cJSON_GetObjectItemCaseSensitive(d, "start");
    if (cJSON_IsNumber(start) && start->valuedouble >= 1) t->decode_strip_space = true;
  } else if (is_type(d, "Replace")) {
    const cJSON *pat = cJSON_GetObjectItemCaseSensitive(d, "pattern");
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(pat, "String");
    if (cJSON_IsString(s) && !strcmp(s->valuestring, MS)) t->escape_spaces = true;
  }
}

/* Token id from a JSON number: an integer in [0, SL_TOK_MAX_VOCAB). */
static int32_t json_id(const cJSON *v) {
  if (!cJSON_IsNumber(v)) return -1;
  double d = v->valuedouble;
  if (!(d >= 0 && d < SL_TOK_MAX_VOCAB) || d != (double)(int32_t)d) return -1;
  return (int32_t)d;
}

static int32_t find_cstr(const sl_tok_t *t, const char *s) {
  return s ? sl_tok_find(t, s, strlen(s)) : -1;
}

static sl_tok_t *build(const cJSON *root, const cJSON *cfg, char *err, size_t errlen) {
  const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
  if (!cJSON_IsObject(model)) {
    sl__tok_err(err, errlen, "tokenizer.json: no model object");
    return NULL;
  }
  const cJSON *mty = cJSON_GetObjectItemCaseSensitive(model, "type");
  if (mty && !(cJSON_IsString(mty) && !strcmp(mty->valuestring, "BPE"))) {
    sl__tok_err(err, errlen, "tokenizer.json: unsupported model type %s (only BPE)",
                type_of(model));
    return NULL;
  }
  static const char *affixes[] = {"continuing_subword_prefix", "end_of_word_suffix"};
  for (int i = 0; i < 2; i++) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(model, affixes[i]);
    if (cJSON_IsString(a) && a->valuestring[0]) {
      sl__tok_err(err, errlen, "tokenizer.json: BPE %s is not supported", affixes[i]);
      return NULL;
    }
  }
  const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
  const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
  const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
  if (!cJSON_IsObject(vocab) || (merges && !cJSON_IsArray(merges)) ||
      (added && !cJSON_IsNull(added) && !cJSON_IsArray(added))) {
    sl__tok_err(err, errlen, "tokenizer.json: model.vocab must be an object, model.merges "
                             "and added_tokens arrays");
    return NULL;
  }

  /* The vocabulary size covers every id used by the vocab and the added tokens. */
  int32_t max_id = -1;
  const cJSON *e;
  cJSON_ArrayForEach(e, vocab) {
    int32_t id = json_id(e);
    if (id < 0) {
      sl__tok_err(err, errlen, "tokenizer.json: vocab entry has a bad id");
      return NULL;
    }
    if (id > max_id) max_id = id;
  }
  cJSON_ArrayForEach(e, added) {
    int32_t id = json_id(cJSON_GetObjectItemCaseSensitive(e, "id"));
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "content");
    if (id < 0 || !cJSON_IsString(c)) {
      sl__tok_err(err, errlen, "tokenizer.json: added token without a valid id and content");
      return NULL;
    }
    if (id > max_id) max_id = id;
  }
  if (max_id < 0) {
    sl__tok_err(err, errlen, "tokenizer.json: empty vocabulary");
    return NULL;
  }
  sl_tok_t *t = sl__tok_alloc((size_t)max_id + 1);
  if (!t) {
    sl__tok_err(err, errlen, "out of memory for %d tokens", max_id + 1);
    return NULL;
  }
  t->kind = SL_TOK_KIND_BPE;
  int rc = 0;
  /* Unassigned ids stay empty, typed UNUSED so they are never produced. */
  for (size_t i = 0; i < t->n_vocab; i++) t->type[i] = SL_TOKTYPE_UNUSED;
  cJSON_ArrayForEach(e, vocab) {
    if ((rc = sl__tok_set(t, json_id(e), e->string, strlen(e->string), 0, SL_TOKTYPE_NORMAL))) {
      sl__tok_err(err, errlen, "tokenizer.json: vocab entry: %s", sl_strerror(rc));
      goto fail;
    }
  }
  if (added && cJSON_GetArraySize(added) > 0) {
    t->tok_lstrip = calloc(t->n_vocab, 1);
    t->tok_rstrip = calloc(t->n_vocab, 1);
    if (!t->tok_lstrip || !t->tok_rstrip) goto nomem;
  }
  cJSON_ArrayForEach(e, added) {
    int32_t id = json_id(cJSON_GetObjectItemCaseSensitive(e, "id"));
    const char *c = cJSON_GetObjectItemCaseSensitive(e, "content")->valuestring;
    uint8_t ty = flag(e, "special", false) ? SL_TOKTYPE_CONTROL : SL_TOKTYPE_USER_DEFINED;
    if ((rc = sl__tok_set(t, id, c, strlen(c), 0, ty))) {
      sl__tok_err(err, errlen, "tokenizer.json: added token %d: %s", id, sl_strerror(rc));
      goto fail;
    }
    t->tok_lstrip[id] = flag(e, "lstrip", false);
    t->tok_rstrip[id] = flag(e, "rstrip", false);
  }
  if ((rc = sl__tok_build_map(t))) goto nomem;

  t->byte_fallback = flag(model, "byte_fallback", false);
  t->ignore_merges = flag(model, "ignore_merges", false);
  const cJSON *unk = cJSON_GetObjectItemCaseSensitive(model, "unk_token");
  if (cJSON_IsString(unk)) t->unk = find_cstr(t, unk->valuestring);
  if (t->byte_fallback) {
    for (size_t i = 0; i < t->n_vocab; i++) {
      const char *s = t->strs + t->off[i];
      if (t->type[i] == SL_TOKTYPE_NORMAL && t->len[i] == 6 && !memcmp(s, "<0x", 3) &&
          s[5] == '>')
        t->type[i] = SL_TOKTYPE_BYTE;
    }
  }
  if (t->unk >= 0 && t->type[t->unk] == SL_TOKTYPE_NORMAL) t->type[t->unk] = SL_TOKTYPE_UNKNOWN;

  if ((rc = normalizer(t, cJSON_GetObjectItemCaseSensitive(root, "normalizer"), 0, err, errlen)))
    goto fail;
  if ((rc = pre_tokenizer(t, cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer"), 0, err,
                          errlen)))
    goto fail;
  decoder(t, cJSON_GetObjectItemCaseSensitive(root, "decoder"), 0);
  if (t->byte_level && t->escape_spaces) {
    sl__tok_err(err, errlen, "tokenizer.json: ByteLevel together with Metaspace is not supported");
    rc = SL_EUNSUPPORTED;
    goto fail;
  }

  int n_merges = merges ? cJSON_GetArraySize(merges) : 0;
  if ((rc = sl__tok_merges_init(t, (size_t)n_merges))) goto nomem;
  int mi = 0;
  cJSON_ArrayForEach(e, merges) {
    const char *a = NULL, *b = NULL;
    size_t an = 0, bn = 0;
    if (cJSON_IsString(e)) {
      const char *s = e->valuestring, *sp = s[0] ? strchr(s + 1, ' ') : NULL;
      if (sp) {
        a = s;
        an = (size_t)(sp - s);
        b = sp + 1;
        bn = strlen(b);
      }
    } else if (cJSON_IsArray(e) && cJSON_GetArraySize(e) == 2 &&
               cJSON_IsString(e->child) && cJSON_IsString(e->child->next)) {
      a = e->child->valuestring;
      an = strlen(a);
      b = e->child->next->valuestring;
      bn = strlen(b);
    }
    if (!a) {
      sl__tok_err(err, errlen, "tokenizer.json: merge %d is neither \"a b\" nor [a, b]", mi);
      rc = SL_EPARSE;
      goto fail;
    }
    if ((rc = sl__tok_add_merge(t, a, an, b, bn))) goto nomem;
    mi++;
  }

  /* Special ids: tokenizer_config.json names them; else well-known texts. */
  t->bos = find_cstr(t, config_token(cfg, "bos_token"));
  t->eos = find_cstr(t, config_token(cfg, "eos_token"));
  t->pad = find_cstr(t, config_token(cfg, "pad_token"));
  if (t->unk < 0) t->unk = find_cstr(t, config_token(cfg, "unk_token"));
  if (!cfg) {
    static const char *bos_names[] = {"<s>", "<|begin_of_text|>", "<bos>"};
    static const char *eos_names[] = {"</s>", "<|end_of_text|>", "<eos>", "<|endoftext|>"};
    for (size_t i = 0; i < 3 && t->bos < 0; i++) t->bos = find_cstr(t, bos_names[i]);
    for (size_t i = 0; i < 4 && t->eos < 0; i++) t->eos = find_cstr(t, eos_names[i]);
  }
  /* add_bos: the config's flag, else whether the post-processor template starts
   * with the BOS token (what HF's encode(add_special_tokens=True) does). */
  const cJSON *ab = cJSON_GetObjectItemCaseSensitive(cfg, "add_bos_token");
  if (cJSON_IsBool(ab)) {
    t->add_bos = cJSON_IsTrue(ab);
  } else {
    const cJSON *pp = cJSON_GetObjectItemCaseSensitive(root, "post_processor");
    const cJSON *single = cJSON_GetObjectItemCaseSensitive(pp, "single");
    const cJSON *first = cJSON_IsArray(single) ? single->child : NULL;
    const cJSON *sp = cJSON_GetObjectItemCaseSensitive(first, "SpecialToken");
    const cJSON *spid = cJSON_GetObjectItemCaseSensitive(sp, "id");
    t->add_bos = is_type(pp, "TemplateProcessing") && cJSON_IsString(spid) && t->bos >= 0 &&
                 find_cstr(t, spid->valuestring) == t->bos;
  }
  t->add_eos = flag(cfg, "add_eos_token", false);

  const cJSON *ct = cJSON_GetObjectItemCaseSensitive(cfg, "chat_template");
  const char *tmpl = cJSON_IsString(ct) ? ct->valuestring : NULL;
  if (cJSON_IsArray(ct)) { /* [{"name": "default", "template": "..."}, ...] */
    cJSON_ArrayForEach(e, ct) {
      const cJSON *nm = cJSON_GetObjectItemCaseSensitive(e, "name");
      const cJSON *tp = cJSON_GetObjectItemCaseSensitive(e, "template");
      if (cJSON_IsString(tp) && (!tmpl || (cJSON_IsString(nm) && !strcmp(nm->valuestring, "default"))))
        tmpl = tp->valuestring;
    }
  }
  if (tmpl && !(t->chat_template = strdup(tmpl))) goto nomem;

  if ((rc = sl__tok_finish(t, err, errlen))) goto fail;
  return t;
nomem:
  sl__tok_err(err, errlen, "out of memory");
fail:
  sl_tok_free(t);
  return NULL;
}

sl_tok_t *sl_tok_from_json_mem(const char *json, size_t len, const char *config_json,
                               size_t config_len, char *err, size_t errlen) {
  if (!json || len > SL_TOK_MAX_JSON_FILE) {
    sl__tok_err(err, errlen, "tokenizer.json: missing or over the size limit");
    return NULL;
  }
  cJSON *root = cJSON_ParseWithLength(json, len);
  if (!root) {
    sl__tok_err(err, errlen, "tokenizer.json: not valid JSON");
    return NULL;
  }
  cJSON *cfg = config_json ? cJSON_ParseWithLength(config_json, config_len) : NULL;
  if (config_json && !cfg) {
    sl__tok_err(err, errlen, "tokenizer_config.json: not valid JSON");
    cJSON_Delete(root);
    return NULL;
  }
  sl_tok_t *t = build(root, cJSON_IsObject(cfg) ? cfg : NULL, err, errlen);
  cJSON_Delete(root);
  cJSON_Delete(cfg);
  return t;
}

sl_tok_t *sl_tok_from_json(const char *path, char *err, size_t errlen) {
  if (!path) {
    sl__tok_err(err, errlen, "no tokenizer.json path");
    return NULL;
  }
  size_t len = 0, clen = 0;
  char *json = read_file(path, SL_TOK_MAX_JSON_FILE, &len, err, errlen, false);
  if (!json) return NULL;
  /* tokenizer_config.json in the same directory, if any. */
  const char *slash = strrchr(path, '/');
  size_t dir = slash ? (size_t)(slash - path) + 1 : 0;
  char *cpath = malloc(dir + sizeof "tokenizer_config.json");
  char *cfg = NULL;
  if (cpath) {
    memcpy(cpath, path, dir);
    strcpy(cpath + dir, "tokenizer_config.json");
    cfg = read_file(cpath, CONFIG_MAX, &clen, err, errlen, true);
    free(cpath);
  }
  sl_tok_t *t = sl_tok_from_json_mem(json, len, cfg, clen, err, errlen);
  free(json);
  free(cfg);
  return t;
}
