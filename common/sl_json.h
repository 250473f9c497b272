/* JSON numbers exactly as written. cJSON holds a number as a double and prints
 * it back with 15 significant digits, so re-printing what a client or an
 * upstream wrote changed it: 9007199254740993 (an id in a tool call) came out
 * as 9.00719925474099e+15, 0.30000000000000004 as 0.3, 1.0 as 1. Trees parsed
 * here keep each number's text (in the node's otherwise unused valuestring,
 * which cJSON_Duplicate copies and cJSON_Delete frees), and print it back. */
#ifndef SL_JSON_H
#define SL_JSON_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

/* Gives every number of v the text it has in [json, end), the text v was
 * parsed from (numbers appear there in the order of a walk of v). */
void sl_json_keep_numbers(cJSON *v, const char *json, const char *end);
/* cJSON_ParseWithLength of s[0..n) (NUL-terminated or not), numbers kept. */
cJSON *sl_json_parse(const char *s, size_t n);
/* One JSON value filling s[0..n) but for whitespace (two values or garbage
 * after it: NULL), numbers kept when `keep` (only where they are re-printed:
 * it costs a walk of the text and a copy per number). */
cJSON *sl_json_parse_whole(const char *s, size_t n, bool keep);
/* cJSON_PrintUnformatted, each number that kept its text, and whose value has
 * not changed since, printed as written. free() the result. */
char *sl_json_print(const cJSON *v);
/* The first member name that an object in v holds twice ("content" of
 * {"content": "hi", "content": "..."}: readers disagree on which one counts),
 * or NULL; with path, that object's JSON path there ("$.messages[0]"). */
const char *sl_json_dup_key(const cJSON *v, char *path, size_t cap);
/* Whether cJSON refused s[0..at) (at: where its parse stopped) for nesting
 * deeper than CJSON_NESTING_LIMIT, not for a syntax error: the brackets open
 * there, outside strings, are that many. */
bool sl_json_too_deep(const char *s, const char *at);
/* Rewrites each \u escape of a lone surrogate in the JSON text s[0..n) as
 * \ufffd (the same length): cJSON refuses lone surrogates, which JavaScript's
 * JSON.stringify writes and its TextEncoder reads as U+FFFD. */
void sl_json_mend_surrogates(char *s, size_t n);
/* The four hex digits of a \u escape at p (before e) into *v; false if they
 * are not there. */
bool sl_json_hex4(const char *p, const char *e, unsigned *v);

#endif
