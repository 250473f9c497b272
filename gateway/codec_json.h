/* Request bodies as the dialect codecs take them: JSON (RFC 8259) held
 * strictly, because what cJSON lets through would reach the classifier and the
 * upstream changed. */
#ifndef SL_CODEC_JSON_H
#define SL_CODEC_JSON_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* Parses json[0..len): it must be UTF-8 without NUL bytes, hold one JSON value
 * and nothing after it but whitespace, and no string in it may contain U+0000
 * (cJSON's strings end at a NUL, so "\u0000" or a raw NUL would silently cut
 * the text after it). NULL with a message in err otherwise; cJSON_Delete the
 * result. */
cJSON *sl_codec_parse_body(const char *json, size_t len, char *err, size_t n);

/* Writes a client-facing reason (printf-style) into err and returns SL_EINVAL:
 * the codecs' "this field is wrong" in one call. */
int sl_codec_bad(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
