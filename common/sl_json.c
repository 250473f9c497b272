#include "sl_json.h"

#include "sl_jerr.h"
#include "sl_str.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Past the string whose opening quote is at s (end when it has no closing
 * quote): memchr to each quote, which closes the string unless an odd run of
 * backslashes comes before it. */
static const char *past_string(const char *s, const char *end) {
  const char *from = s + 1;
  for (;;) {
    const char *q = from < end ? memchr(from, '"', (size_t)(end - from)) : NULL;
    if (!q) return end;
    size_t bs = 0;
    while (q - bs > s + 1 && q[-1 - (ptrdiff_t)bs] == '\\') bs++;
    if (bs % 2 == 0) return q + 1;
    from = q + 1;
  }
}

/* The next number literal at or after *p, outside strings: its start, and its
 * length in *len; NULL when there is none. *p moves past it. */
static const char *next_number(const char **p, const char *end, size_t *len) {
  const char *s = *p;
  while (s < end) {
    char c = *s;
    if (c == '"') {
      s = past_string(s, end);
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      const char *e = s;
      while (e < end && ((*e >= '0' && *e <= '9') || *e == '-' || *e == '+' || *e == '.' ||
                         *e == 'e' || *e == 'E'))
        e++;
      *len = (size_t)(e - s);
      *p = e;
      return s;
    } else {
      s++;
    }
  }
  *p = end;
  return NULL;
}

static void keep(cJSON *v, const char **p, const char *end) {
  for (; v; v = v->next) {
    if (cJSON_IsNumber(v)) {
      size_t len;
      const char *lit = next_number(p, end, &len);
      if (!lit) return;
      if (v->valuestring) continue;
      v->valuestring = malloc(len + 1);
      if (v->valuestring) {
        memcpy(v->valuestring, lit, len);
        v->valuestring[len] = '\0';
      }
    } else if (v->child) {
      keep(v->child, p, end);
    }
  }
}

void sl_json_keep_numbers(cJSON *v, const char *json, const char *end) {
  if (!v || !json || end <= json) return;
  const char *p = json;
  if (v->child) keep(v->child, &p, end);
  else if (cJSON_IsNumber(v)) keep(v, &p, end); /* a bare number: no siblings */
}

cJSON *sl_json_parse(const char *s, size_t n) {
  const char *end = NULL;
  cJSON *v = s ? cJSON_ParseWithLengthOpts(s, n, &end, 0) : NULL;
  if (v) sl_json_keep_numbers(v, s, end);
  return v;
}

cJSON *sl_json_parse_whole(const char *s, size_t n, bool keep) {
  const char *end = NULL;
  cJSON *v = s ? cJSON_ParseWithLengthOpts(s, n, &end, 0) : NULL;
  if (v && sl_json_skip_space(end, s + n) != s + n) {
    cJSON_Delete(v);
    return NULL;
  }
  if (v && keep) sl_json_keep_numbers(v, s, end);
  return v;
}

/* A kept text still spells the node's value (code may have set a new one). */
static bool kept(const cJSON *v) {
  if (!cJSON_IsNumber(v) || !v->valuestring) return false;
  char *e;
  double d = strtod(v->valuestring, &e);
  return !*e && (d == v->valuedouble || (d != d && v->valuedouble != v->valuedouble));
}

/* Numbers with their text become raw JSON for the print, and numbers again.
 * A type bit cJSON neither prints nor frees by marks the ones flipped. */
#define FLIPPED (1 << 14)

static void as_raw(cJSON *v, bool raw) {
  for (; v; v = v->next) {
    if (raw && kept(v)) v->type = cJSON_Raw | FLIPPED;
    else if (!raw && (v->type & FLIPPED)) v->type = cJSON_Number;
    else if (v->child) as_raw(v->child, raw);
  }
}

char *sl_json_print(const cJSON *v) {
  if (!v) return NULL;
  cJSON *w = (cJSON *)v; /* types flipped and restored: unchanged when this returns */
  cJSON *next = w->next;
  w->next = NULL; /* only v, not the siblings after it */
  as_raw(w, true);
  char *s = cJSON_PrintUnformatted(w);
  as_raw(w, false);
  w->next = next;
  return s;
}

static int cmp_name(const void *a, const void *b) {
  return strcmp((*(const cJSON *const *)a)->string, (*(const cJSON *const *)b)->string);
}

/* The name an object holds twice, or NULL: its names sorted, then neighbours
 * (a few names, or no memory to sort many: each pair). */
static const char *twice_in(const cJSON *o) {
  size_t n = 0;
  for (const cJSON *c = o->child; c; c = c->next) n++;
  if (n < 2) return NULL;
  const cJSON **s = n > 16 ? malloc(n * sizeof *s) : NULL;
  const char *dup = NULL;
  if (!s) {
    for (const cJSON *a = o->child; a && !dup; a = a->next)
      for (const cJSON *b = a->next; b && !dup; b = b->next)
        if (!strcmp(a->string, b->string)) dup = a->string;
    return dup;
  }
  size_t k = 0;
  for (const cJSON *c = o->child; c; c = c->next) s[k++] = c;
  qsort(s, n, sizeof *s, cmp_name);
  for (k = 1; k < n && !dup; k++)
    if (!strcmp(s[k - 1]->string, s[k]->string)) dup = s[k]->string;
  free(s);
  return dup;
}

/* The first object in v or below it that holds a name twice (and the name). */
static const cJSON *dup_in(const cJSON *v, const char **name) {
  if (cJSON_IsObject(v) && (*name = twice_in(v))) return v;
  for (const cJSON *c = v->child; c; c = c->next) {
    const cJSON *o = c->child ? dup_in(c, name) : NULL;
    if (o) return o;
  }
  return NULL;
}

/* The JSON path of node inside v, whose path is at, into out; whether found.
 * (Only for an error: a path per level on the stack.) */
static bool path_to(const cJSON *v, const cJSON *node, const char *at, char *out, size_t cap) {
  if (v == node) {
    snprintf(out, cap, "%s", at);
    return true;
  }
  int i = 0;
  for (const cJSON *c = v->child; c; c = c->next, i++) {
    if (!c->child) continue;
    char p[256];
    if (cJSON_IsObject(v)) sl_jpath_key(p, sizeof p, at, c->string);
    else sl_jpath_idx(p, sizeof p, at, i);
    if (path_to(c, node, p, out, cap)) return true;
  }
  return false;
}

const char *sl_json_dup_key(const cJSON *v, char *path, size_t cap) {
  const char *name = NULL;
  const cJSON *o = v ? dup_in(v, &name) : NULL;
  if (o && path && cap) path_to(v, o, "$", path, cap);
  return o ? name : NULL;
}

bool sl_json_too_deep(const char *s, const char *at) {
  long depth = 0;
  for (const char *p = s; p && p < at; p++) {
    if (*p == '"') p = past_string(p, at) - 1;
    else if (*p == '[' || *p == '{') depth++;
    else if (*p == ']' || *p == '}') depth--;
  }
  return depth >= CJSON_NESTING_LIMIT;
}

bool sl_json_hex4(const char *p, const char *e, unsigned *v) {
  if (e - p < 4) return false;
  *v = 0;
  for (int i = 0; i < 4; i++) {
    char c = p[i];
    unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                 : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                 : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                                        : 16u;
    if (d > 15) return false;
    *v = *v * 16 + d;
  }
  return true;
}

void sl_json_mend_surrogates(char *s, size_t n) {
  const char *e = s + n;
  for (char *p = s; p + 1 < e; p++) {
    if (*p != '\\') continue;
    unsigned v, lo;
    if (p[1] != 'u' || !sl_json_hex4(p + 2, e, &v)) {
      p++; /* \\, \" and the like: the escaped character is not an escape */
      continue;
    }
    bool pair = v >= 0xD800 && v <= 0xDBFF && e - p >= 12 && p[6] == '\\' && p[7] == 'u' &&
                sl_json_hex4(p + 8, e, &lo) && lo >= 0xDC00 && lo <= 0xDFFF;
    if (!pair && v >= 0xD800 && v <= 0xDFFF) memcpy(p + 2, "fffd", 4);
    p += pair ? 11 : 5;
  }
}
