/* Fuzz target for the tokenizer: the input up to its first NUL byte is loaded as a
 * tokenizer.json (hostile vocabularies, merges, added tokens, normalizers, split
 * regexes), the rest is encoded with it, with and without special parsing, and the
 * ids are streamed back through the detokenizer. The whole input is also encoded
 * as text by two fixed tokenizers (byte-level BPE with the Qwen2 split regex and a
 * Metaspace/byte-fallback one), so encoders see arbitrary bytes even when the JSON
 * part is junk. Nothing may crash, leak or read out of bounds. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/local/tokenizer.h"

static const char BYTELEVEL_JSON[] =
    "{\"added_tokens\":[{\"id\":300,\"content\":\"<|im_end|>\",\"special\":true},"
    "{\"id\":301,\"content\":\"<think>\",\"special\":false,\"lstrip\":true,\"rstrip\":true}],"
    "\"normalizer\":{\"type\":\"NFC\"},"
    "\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":["
    "{\"type\":\"Split\",\"pattern\":{\"Regex\":\"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}"
    "\\\\p{N}]?\\\\p{L}+|\\\\p{N}| ?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|"
    "\\\\s+(?!\\\\S)|\\\\s+\"},\"behavior\":\"Isolated\",\"invert\":false},"
    "{\"type\":\"ByteLevel\",\"use_regex\":false}]},"
    "\"model\":{\"type\":\"BPE\",\"ignore_merges\":true,\"vocab\":{";

static char *bytelevel_json(void) {
  /* 256 byte chars (ids 0..255) + a few merges. */
  size_t cap = 16384, n = 0;
  char *s = malloc(cap);
  n += (size_t)snprintf(s + n, cap - n, "%s", BYTELEVEL_JSON);
  for (int b = 0; b < 256; b++) {
    bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    unsigned cp = (unsigned)b;
    if (!printable) {
      unsigned k = 0;
      for (int i = 0; i < b; i++)
        if (!((i >= 33 && i <= 126) || (i >= 161 && i <= 172) || (i >= 174 && i <= 255))) k++;
      cp = 256 + k;
    }
    n += (size_t)snprintf(s + n, cap - n, "%s\"\\u%04x\":%d", b ? "," : "", cp, b);
  }
  n += (size_t)snprintf(s + n, cap - n,
                        ",\"\\u0120t\":256,\"he\":257,\"\\u0120the\":258,\"in\":259},"
                        "\"merges\":[\"h e\",\"\\u0120 t\",[\"\\u0120t\",\"he\"],\"i n\"]}}");
  return s;
}

static const char METASPACE_JSON[] =
    "{\"added_tokens\":[{\"id\":0,\"content\":\"<unk>\",\"special\":true},"
    "{\"id\":1,\"content\":\"<s>\",\"special\":true}],"
    "\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":\"\\u2581\","
    "\"prepend_scheme\":\"first\",\"split\":true},"
    "\"decoder\":{\"type\":\"Metaspace\"},"
    "\"model\":{\"type\":\"BPE\",\"byte_fallback\":true,\"unk_token\":\"<unk>\",\"vocab\":"
    "{\"<unk>\":0,\"<s>\":1,\"<0x00>\":2,\"<0xC3>\":3,\"<0xA9>\":4,\"<0xE2>\":5,"
    "\"\\u2581\":6,\"a\":7,\"\\u2581a\":8,\"b\":9,\"ab\":10},"
    "\"merges\":[\"\\u2581 a\",\"a b\"]}}";

static sl_tok_t *fixed[2];

static void run(const sl_tok_t *t, const char *text, size_t len) {
  for (int special = 0; special < 2; special++) {
    int32_t *ids;
    size_t n;
    if (sl_tok_encode(t, text, len, special, special, &ids, &n)) continue;
    sl_buf_t b;
    sl_buf_init(&b, 1 << 22);
    sl_detok_t d;
    sl_detok_init(&d, t, special, true);
    for (size_t i = 0; i < n; i++)
      if (sl_detok_push(&d, ids[i], &b)) break;
    sl_detok_flush(&d, &b);
    sl_buf_free(&b);
    sl_tok_span_t span = {len / 4, len / 2};
    int32_t *ids2;
    size_t n2;
    if (!sl_tok_encode_spans(t, text, len, false, &span, 1, &ids2, &n2)) free(ids2);
    free(ids);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!fixed[0]) {
    char err[256];
    char *js = bytelevel_json();
    fixed[0] = sl_tok_from_json_mem(js, strlen(js), NULL, 0, err, sizeof err);
    free(js);
    fixed[1] = sl_tok_from_json_mem(METASPACE_JSON, sizeof METASPACE_JSON - 1, NULL, 0, err,
                                    sizeof err);
    if (!fixed[0] || !fixed[1]) {
      fprintf(stderr, "fuzz_tokenizer: fixed tokenizer does not load: %s\n", err);
      abort();
    }
  }
  if (size > (1u << 20)) return 0;
  const char *p = (const char *)data;
  const char *nul = memchr(p, 0, size);
  size_t jlen = nul ? (size_t)(nul - p) : size;
  char err[256];
  sl_tok_t *t = sl_tok_from_json_mem(p, jlen, NULL, 0, err, sizeof err);
  if (t) {
    if (nul) run(t, nul + 1, size - jlen - 1);
    sl_tok_free(t);
  }
  run(fixed[0], p, size);
  run(fixed[1], p, size);
  return 0;
}
