/* Tokenizers of the in-process engine: text → token ids and ids → text for the
 * two vocabulary kinds Llama-family GGUF files carry (SentencePiece-style `llama`
 * with scores and byte fallback; GPT-2 byte-level BPE with merges and a
 * pre-tokenizer split regex), loaded from GGUF metadata or from a Hugging Face
 * tokenizer.json. One opaque sl_tok_t serves both; after loading it is read-only,
 * so any number of threads may encode and decode with it at once.
 *
 * Ids are int32_t as in llama.cpp. Text is UTF-8 bytes with an explicit length. */
#ifndef SL_TOKENIZER_H
#define SL_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sl_buf.h"

typedef struct sl_gguf sl_gguf_t;
typedef struct sl_tok sl_tok_t;

/* Limits on hostile input. A tokenizer file or a text beyond them is refused with
 * SL_ETOOBIG / an error message rather than allocated for. */
#define SL_TOK_MAX_TEXT ((size_t)64 << 20)      /* bytes of text per encode call */
#define SL_TOK_MAX_VOCAB 4000000u               /* tokens in a vocabulary */
#define SL_TOK_MAX_PIECE 65536u                 /* bytes of one token's text */
#define SL_TOK_MAX_JSON_FILE ((size_t)128 << 20) /* bytes of tokenizer.json */

/* Vocabulary kind: what the encoder does between special-token splitting and ids. */
typedef enum {
  SL_TOK_KIND_SPM, /* SentencePiece-style: merge by score, byte fallback (GGUF `llama`) */
  SL_TOK_KIND_BPE, /* BPE by merge rank: byte-level (GGUF `gpt2`) or Metaspace (JSON) */
} sl_tok_kind_t;

/* Token types, numbered as GGUF's tokenizer.ggml.token_type (llama.cpp's
 * llama_token_type). tokenizer.json added tokens map to CONTROL (special) and
 * USER_DEFINED (not special). */
typedef enum {
  SL_TOKTYPE_UNDEFINED = 0,
  SL_TOKTYPE_NORMAL = 1,
  SL_TOKTYPE_UNKNOWN = 2,
  SL_TOKTYPE_CONTROL = 3,
  SL_TOKTYPE_USER_DEFINED = 4,
  SL_TOKTYPE_UNUSED = 5,
  SL_TOKTYPE_BYTE = 6,
} sl_toktype_t;

/* ---- loading ---- */

/* From the tokenizer.* keys of an open GGUF file. The tokenizer copies what it
 * needs: the GGUF may be closed afterwards. NULL on failure with a message in err. */
sl_tok_t *sl_tok_from_gguf(const sl_gguf_t *g, char *err, size_t errlen);
/* From a Hugging Face tokenizer.json (BPE model; ByteLevel, Metaspace, Split,
 * Digits pre-tokenizers; NFC/NFKC/Prepend/Replace normalizers; added tokens). A
 * tokenizer_config.json beside it, if present, gives bos/eos, add_bos_token and
 * chat_template. */
sl_tok_t *sl_tok_from_json(const char *tokenizer_json_path, char *err, size_t errlen);
/* Same from memory (config_json may be NULL); used by tests and the fuzz target. */
sl_tok_t *sl_tok_from_json_mem(const char *json, size_t len, const char *config_json,
                               size_t config_len, char *err, size_t errlen);
void sl_tok_free(sl_tok_t *t);

/* ---- encoding ---- */

/* Encodes len bytes of text. add_bos prepends BOS (and appends EOS) when the
 * vocabulary asks for them (sl_tok_add_bos / sl_tok_add_eos); parse_special makes
 * control tokens written as text (e.g. "<|im_end|>") become their ids, otherwise
 * they are tokenized as plain text. User-defined tokens are always matched.
 * On success *ids (caller frees) holds *n_ids ids. Returns 0 or SL_E*: SL_ETOOBIG
 * beyond SL_TOK_MAX_TEXT, SL_EINVAL for a NULL argument, SL_ENOMEM. */
int sl_tok_encode(const sl_tok_t *t, const char *text, size_t len, bool add_bos,
                  bool parse_special, int32_t **ids, size_t *n_ids);

/* A byte range of a text. */
typedef struct {
  size_t off, len;
} sl_tok_span_t;

/* Like sl_tok_encode with parse_special = false, except that control tokens ARE
 * matched where they lie wholly inside one of the spans (sorted, non-overlapping):
 * the markup a chat template wrote, as opposed to message text a client sent
 * (see sl_chat_template_render). Text outside and inside spans is tokenized as one
 * string, so ids equal sl_tok_encode's when the content holds no control text. */
int sl_tok_encode_spans(const sl_tok_t *t, const char *text, size_t len, bool add_bos,
                        const sl_tok_span_t *spans, size_t n_spans, int32_t **ids,
                        size_t *n_ids);

/* ---- vocabulary facts ---- */

sl_tok_kind_t sl_tok_kind(const sl_tok_t *t);
size_t sl_tok_n_vocab(const sl_tok_t *t);
int32_t sl_tok_bos(const sl_tok_t *t); /* -1 if none */
int32_t sl_tok_eos(const sl_tok_t *t); /* -1 if none */
bool sl_tok_add_bos(const sl_tok_t *t);
bool sl_tok_add_eos(const sl_tok_t *t);
/* End of generation: EOS, EOT/EOM ids from the file, and control tokens such as
 * Llama 3's <|eot_id|>, ChatML's <|im_end|>, <|endoftext|>, Phi-3's <|end|>,
 * Gemma's <end_of_turn>. */
bool sl_tok_is_eog(const sl_tok_t *t, int32_t id);
/* Control tokens (and unknown/unused ones) render as nothing in plain output. */
bool sl_tok_is_control(const sl_tok_t *t, int32_t id);
sl_toktype_t sl_tok_type(const sl_tok_t *t, int32_t id);
/* The stored token text (e.g. "Ġthe", "▁the", "<0x0A>"), not NUL-terminated; NULL
 * for an id out of range. */
const char *sl_tok_text(const sl_tok_t *t, int32_t id, size_t *len);
/* Id of an exact token text, or -1. */
int32_t sl_tok_find(const sl_tok_t *t, const char *text, size_t len);
/* The chat template text the file carries (GGUF tokenizer.chat_template or
 * tokenizer_config.json chat_template), NUL-terminated, or NULL. */
const char *sl_tok_chat_template(const sl_tok_t *t);

/* The bytes id stands for in output text: "▁" → " " and <0xNN> → byte for
 * SentencePiece, GPT-2 byte decoding for byte-level BPE. Control tokens give ""
 * unless `special`. Writes at most cap bytes to out and returns the full length
 * (like snprintf, no NUL), or a negative SL_E* for an invalid id. The bytes of one
 * piece may be part of a UTF-8 character only. */
int sl_tok_piece(const sl_tok_t *t, int32_t id, bool special, char *out, size_t cap);

/* Whole-sequence decode into *out (NUL-terminated, caller frees). strip_leading_space
 * drops the space the SentencePiece encoder prepended (pass true to get back the
 * encoded text; false for a continuation such as generated output). */
int sl_tok_decode(const sl_tok_t *t, const int32_t *ids, size_t n, bool special,
                  bool strip_leading_space, char **out, size_t *out_len);

/* ---- streaming detokenizer ----
 * Pushing ids one by one appends only complete, valid UTF-8 to an sl_buf_t: bytes
 * of a character split across tokens are held back until it is complete, and an
 * invalid sequence becomes U+FFFD. Lives inside its owner (no allocation). */
typedef struct {
  const sl_tok_t *tok;
  bool special;            /* render control tokens' text */
  bool strip_leading_space; /* drop one leading space of the first piece (SPM) */
  bool started;            /* a non-empty piece has been seen */
  uint8_t pend[4];         /* an incomplete UTF-8 sequence */
  uint8_t n_pend;
} sl_detok_t;

void sl_detok_init(sl_detok_t *d, const sl_tok_t *t, bool special, bool strip_leading_space);
/* Appends what id completes to out. Returns 0 or SL_E* (SL_ETOOBIG at out's ceiling,
 * SL_EINVAL for an id out of range). */
int sl_detok_push(sl_detok_t *d, int32_t id, sl_buf_t *out);
/* End of stream: a held-back incomplete sequence becomes U+FFFD. */
int sl_detok_flush(sl_detok_t *d, sl_buf_t *out);

#endif
