/* Redaction before egress and restoration in the response. A rule's `redact`
 * list names entity types; their values in the request are replaced by
 * placeholders like "[PERSON_1]" before the request leaves, and put back into
 * the response text, streamed chunks included.
 *
 * Placeholders are a pure function of the conversation: the same value always
 * gets the same placeholder, numbered per type by the value's first appearance
 * in the conversation, so a client that re-sends earlier turns gets them
 * redacted exactly as before, without any state kept between requests. Every
 * occurrence of a detected value is replaced, also where the detector did not
 * flag it (at word boundaries), so a value cannot leak through a repetition. */
#ifndef SL_REDACT_H
#define SL_REDACT_H

#include "router.h"
#include "sl_buf.h"
#include "sl_chat.h"

#include <stdbool.h>
#include <stddef.h>

#define SL_REDACT_MAX_VALUES 1024

typedef struct {
  const char *type;        /* entity type, e.g. "PERSON" */
  const char *placeholder; /* "[PERSON_1]" */
  const char *value;       /* the original bytes (not NUL-safe: use value_len) */
  size_t value_len;
  size_t count;            /* occurrences replaced in the request */
} sl_redact_entry_t;

typedef struct sl_redact_map sl_redact_map_t;

/* Writes into `out` a deep copy of `in` whose message contents (and assistant
 * tool_calls) have every value of the listed entity types replaced. Entity
 * offsets in `cls` are byte offsets into sl_chat_text(in). `*map` receives the
 * placeholder map (possibly empty; free with sl_redact_map_free). On error
 * (SL_ENOMEM, SL_ETOOBIG past SL_REDACT_MAX_VALUES values, SL_EUNSUPPORTED when a
 * value to redact lies outside message contents, see sl_chat_text) nothing is returned
 * and the request must not be sent where it needed redaction. */
int sl_redact_request(const sl_chat_req_t *in, const sl_class_t *cls, const char *const *types,
                      size_t n_types, sl_chat_req_t *out, sl_redact_map_t **map);
void sl_redact_map_free(sl_redact_map_t *m);
size_t sl_redact_map_size(const sl_redact_map_t *m);
/* Entries in placeholder order (by first appearance). */
const sl_redact_entry_t *sl_redact_map_entry(const sl_redact_map_t *m, size_t i);

/* {"PERSON": 2, "EMAIL_ADDRESS": 1}: replacements per type, for the ledger
 * (never values). Caller frees; NULL on allocation failure. */
char *sl_redact_map_summary_json(const sl_redact_map_t *m);

/* Streaming restoration of placeholders in response text. Each feed appends
 * to `out` everything that can no longer be part of a placeholder, holding back
 * only a possible partial placeholder at the chunk's end; finish flushes it.
 * With `json` the text is JSON (a tool call's arguments: placeholders sit in
 * its string literals) and each value goes back escaped as string content.
 * The map must outlive the restorer. */
typedef struct sl_restorer sl_restorer_t;
sl_restorer_t *sl_restorer_create(const sl_redact_map_t *m, bool json);
int sl_restorer_feed(sl_restorer_t *r, const char *chunk, size_t len, sl_buf_t *out);
int sl_restorer_finish(sl_restorer_t *r, sl_buf_t *out);
void sl_restorer_free(sl_restorer_t *r);

/* One-shot restoration of a whole text (non-streamed responses); `json` as
 * for a restorer. */
int sl_redact_restore(const sl_redact_map_t *m, const char *text, size_t len, bool json,
                      sl_buf_t *out);

#endif
