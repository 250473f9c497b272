#include "codec_json.h"

#include "sl_err.h"
#include "sl_json.h"
#include "sl_str.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Whether the text holds the escape \u0000: a "u0000" after an odd run of
 * backslashes (after an even run the backslashes are escaped themselves). */
static bool has_nul_escape(const char *s, size_t len) {
  const char *end = s + len;
  for (const char *p = s; (p = memmem(p, (size_t)(end - p), "\\u0000", 6)); p++) {
    size_t run = 1; /* the backslash of the match, and those before it */
    while ((size_t)(p - s) >= run && p[-(ptrdiff_t)run] == '\\') run++;
    if (run % 2) return true;
  }
  return false;
}

cJSON *sl_codec_parse_body(const char *json, size_t len, char *err, size_t n) {
  size_t bad = sl_utf8_invalid(json, len);
  if (bad != SIZE_MAX) {
    snprintf(err, n, "request body is not valid UTF-8 (at byte %zu)", bad);
    return NULL;
  }
  const char *nul = memchr(json, '\0', len); /* raw, it would end a string as \u0000 does */
  if (nul) {
    snprintf(err, n, "request body holds a NUL byte (at byte %zu)", (size_t)(nul - json));
    return NULL;
  }
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
  if (!root) {
    if (end && sl_json_too_deep(json, end))
      snprintf(err, n, "request body is nested deeper than %d levels", CJSON_NESTING_LIMIT);
    else snprintf(err, n, "request body is not valid JSON");
    return NULL;
  }
  const char *stop = json + len;
  while (end && end < stop && (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
    end++;
  if (end && end < stop && *end) {
    snprintf(err, n, "request body is not valid JSON (more after the value, at byte %zu)",
             (size_t)(end - json));
    cJSON_Delete(root);
    return NULL;
  }
  if (has_nul_escape(json, len)) {
    snprintf(err, n, "request body: strings must not contain U+0000 (\\u0000)");
    cJSON_Delete(root);
    return NULL;
  }
  char at[256];
  const char *dup = sl_json_dup_key(root, at, sizeof at);
  if (dup) {
    snprintf(err, n, "request body: member \"%.64s\" appears twice in one object (%.128s; readers "
                     "disagree on which counts)", dup, at);
    cJSON_Delete(root);
    return NULL;
  }
  sl_json_keep_numbers(root, json, end); /* re-printed parts keep them as written */
  return root;
}

int sl_codec_bad(char *err, size_t n, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, n, fmt, ap);
  va_end(ap);
  return SL_EINVAL;
}
