/* Input shared by the policy CLIs (`classify`, `explain`, `policy test`): the
 * config to decide with, and one request given either as an OpenAI chat
 * request body (decoded by the gateway's codec) or as {"text": "..."}. */
#ifndef SL_CLI_INPUT_H
#define SL_CLI_INPUT_H

#include "policy.h"

#include <stdio.h>

typedef struct {
  sl_chat_req_t req;  /* {"text"}: one user message holding the text */
  bool is_text;       /* the {"text": ...} form: classify the text itself */
} sl_cli_input_t;

/* Decodes one request. Returns 0, or SL_E* with a one-line reason in err. */
int sl_cli_input_decode(const char *json, size_t len, sl_cli_input_t *in, char *err,
                        size_t errlen);
void sl_cli_input_free(sl_cli_input_t *in);
/* Classifies it (sl_router_classify or _text); `declared` is an
 * x-sluice-data-class value or NULL. */
int sl_cli_input_classify(const sl_router_t *r, const sl_cli_input_t *in, const char *declared,
                          sl_class_t *out);

/* Loads the policy for classify/explain: `path`, else $SLUICE_CONFIG, else
 * deploy/sluice.json; when none was named and that default is absent, a
 * built-in one-rule policy (everything to "local") so that classification
 * still works. Prints the reason to stderr and returns non-zero on error. */
int sl_cli_load_policy(const char *path, sl_policy_t **out);

/* Reads a whole stream into a NUL-terminated buffer of at most `max` bytes. */
int sl_cli_read_all(FILE *f, size_t max, char **out, size_t *len);

/* One line of a JSONL input, as getline() reads it (the '\n' kept, NUL
 * terminated in *buf), but holding no more than `max` bytes of it: a longer
 * line's rest is read and dropped, and *too_long set. Returns its length, -1
 * at the end of the input, -2 when reading failed (errno says why: a
 * directory, a closed stream, an I/O error) or memory ran out: input that
 * cannot be read is an error, not the end. */
ssize_t sl_cli_read_line(FILE *f, char **buf, size_t *cap, size_t max, bool *too_long);

#endif
