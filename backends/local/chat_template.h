/* Chat templates of the common open-weight model families, written in C rather
 * than interpreted from the model's Jinja text: the family is recognised from
 * markers in tokenizer.chat_template (or named in the config), and the prompt is
 * laid out the way that family's template does.
 *
 * Families: Llama 2 ([INST] <<SYS>>), Llama 3 (<|start_header_id|>), ChatML (Qwen,
 * SmolLM, <|im_start|>), Mistral ([INST] without <<SYS>>), Gemma (<start_of_turn>),
 * Phi-3 (<|user|> ... <|end|>), Zephyr (TinyLlama-Chat: <|user|> ... </s>). The BOS token is not written: encode the prompt with
 * add_bos = true and the tokenizer adds it where the vocabulary wants it. */
#ifndef SL_CHAT_TEMPLATE_H
#define SL_CHAT_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

#include "sl_chat.h"
#include "tokenizer.h"

typedef enum {
  SL_CHAT_FAMILY_UNKNOWN = 0,
  SL_CHAT_FAMILY_LLAMA2,
  SL_CHAT_FAMILY_LLAMA3,
  SL_CHAT_FAMILY_CHATML,
  SL_CHAT_FAMILY_MISTRAL,
  SL_CHAT_FAMILY_GEMMA,
  SL_CHAT_FAMILY_PHI3,
  SL_CHAT_FAMILY_ZEPHYR, /* TinyLlama-Chat, Zephyr: <|user|> ... </s> */
} sl_chat_family_t;

/* The family of `template_or_family`: a family name from the config ("llama2",
 * "llama3", "chatml" / "qwen", "mistral", "gemma", "phi3", "zephyr" / "tinyllama";
 * case-insensitive) or
 * the text of a Jinja chat template, recognised by its markers. NULL or no match
 * gives SL_CHAT_FAMILY_UNKNOWN. */
sl_chat_family_t sl_chat_family_detect(const char *template_or_family);
/* "llama2", "llama3", "chatml", "mistral", "gemma", "phi3", "zephyr" or "unknown". */
const char *sl_chat_family_name(sl_chat_family_t family);

/* Lays out req's messages (system, user, assistant, tool) as the family's prompt
 * text; with add_generation_prompt, ends with the header that makes the model
 * answer as the assistant. *out is NUL-terminated, caller frees. Returns 0,
 * SL_EUNSUPPORTED for an unrecognised template, SL_EINVAL for a bad argument,
 * SL_ETOOBIG past SL_TOK_MAX_TEXT. */
int sl_chat_template_apply(const char *template_or_family, const sl_chat_req_t *req,
                           bool add_generation_prompt, char **out);

/* Same, and also gives the byte spans of *out the template wrote itself (its
 * markup). Message text lies outside them, so encoding with sl_tok_encode_spans
 * turns "<|im_end|>" into a control token only where the template put it: a user
 * who types it cannot close their own turn. *spans: caller frees. */
int sl_chat_template_render(const char *template_or_family, const sl_chat_req_t *req,
                            bool add_generation_prompt, char **out, size_t *out_len,
                            sl_tok_span_t **spans, size_t *n_spans);

#endif
