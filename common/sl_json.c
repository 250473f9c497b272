#include "sl_json.h"

#include "sl_str.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* The next number literal at or after *p, outside strings: its start, and its
 * length in *len; NULL when there is none. *p moves past it. */
static const char *next_number(const char **p, const char *end, size_t *len) {
  const char *s = *p;
  while (s < end) {
    char c = *s;
    if (c == '"') {
      for (s++; s < end && *s != '"'; s++)
        if (*s == '\\') s++;
      s++;
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

const char *sl_json_dup_key(const cJSON *v) {
  for (; v; v = v->next) {
    if (cJSON_IsObject(v)) {
      size_t n = 0;
      for (const cJSON *c = v->child; c; c = c->next) n++;
      const cJSON **s = n > 16 ? malloc(n * sizeof *s) : NULL;
      if (n > 1 && !s) { /* a few names (or no memory for sorting many): each pair */
        for (const cJSON *a = v->child; a; a = a->next)
          for (const cJSON *b = a->next; b; b = b->next)
            if (a->string && b->string && !strcmp(a->string, b->string)) return a->string;
      } else if (s) { /* sorted names: neighbours */
        size_t k = 0;
        for (const cJSON *c = v->child; c; c = c->next) s[k++] = c;
        qsort(s, n, sizeof *s, cmp_name);
        const char *dup = NULL;
        for (k = 1; k < n && !dup; k++)
          if (!strcmp(s[k - 1]->string, s[k]->string)) dup = s[k]->string;
        free(s);
        if (dup) return dup;
      }
    }
    if (v->child && (cJSON_IsObject(v) || cJSON_IsArray(v))) {
      const char *d = sl_json_dup_key(v->child);
      if (d) return d;
    }
  }
  return NULL;
}
