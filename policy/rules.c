/* Compiling the policy part of the config document ($.detectors, $.router,
 * $.redaction, $.rules) into rule structs. Validation is as strict as the
 * config loader's: unknown keys, wrong types, unknown backends, models or entity
 * types are errors naming their JSON path, because a typo that silently matches
 * nothing is how sensitive data leaks. */
#include "policy_int.h"
#include "sl_err.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_CUSTOM 256
#define MAX_LIST 256 /* items in any `when` list or `redact` */
#define MAX_NAME 128

static int dup_into(char **out, const char *s) {
  *out = strdup(s);
  return *out ? 0 : SL_ENOMEM;
}

/* A string or a non-empty list of non-empty strings, at most MAX_LIST. */
static int get_str_list(const cJSON *v, const char *path, bool allow_single, char ***out,
                        size_t *n, sl_jerr_t *err) {
  if (allow_single && cJSON_IsString(v)) {
    if (!v->valuestring[0]) return sl_jerr_set(err, path, "must not be empty");
    *out = calloc(1, sizeof **out);
    if (!*out) return SL_ENOMEM;
    *n = 1;
    return dup_into(&(*out)[0], v->valuestring);
  }
  if (!cJSON_IsArray(v))
    return sl_jerr_set(err, path, allow_single ? "must be a string or a list of strings"
                                               : "must be a list of strings");
  int cnt = cJSON_GetArraySize(v);
  if (cnt < 1) return sl_jerr_set(err, path, "must not be empty");
  if (cnt > MAX_LIST) return sl_jerr_set(err, path, "at most %d items", MAX_LIST);
  *out = calloc((size_t)cnt, sizeof **out);
  if (!*out) return SL_ENOMEM;
  int i = 0;
  for (const cJSON *it = v->child; it; it = it->next, i++) {
    char p[300];
    sl_jpath_idx(p, sizeof p, path, i);
    if (!cJSON_IsString(it) || !it->valuestring[0])
      return sl_jerr_set(err, p, "must be a non-empty string");
    int rc = dup_into(&(*out)[(*n)++], it->valuestring);
    if (rc) return rc;
  }
  return 0;
}

static void free_list(char **l, size_t n) {
  for (size_t i = 0; i < n; i++) free(l[i]);
  free(l);
}

static int parse_level(const cJSON *v, const char *path, sl_level_t *out, sl_jerr_t *err) {
  if (!cJSON_IsString(v) || sl_level_parse(v->valuestring, out))
    return sl_jerr_set(err, path,
                       "must be \"public\", \"internal\", \"confidential\" or \"restricted\"");
  return 0;
}

static int check_type_name(const char *t, const char *path, sl_jerr_t *err) {
  size_t n = strlen(t);
  if (n == 0 || n >= 40) return sl_jerr_set(err, path, "entity type must be 1..39 characters");
  for (const char *c = t; *c; c++)
    if (!(isupper((unsigned char)*c) || isdigit((unsigned char)*c) || *c == '_'))
      return sl_jerr_set(err, path, "entity type \"%s\" must be UPPER_SNAKE_CASE", t);
  return 0;
}

/* A type the built-in detectors report (the router's own list, so that a
 * policy can name every type they report and no type they never do), or one
 * the policy declares in detectors.custom[] or detectors.levels. */
static bool known_type(const sl__router_spec_t *spec, const char *t) {
  for (const char *const *b = sl_router_entity_types(); *b; b++)
    if (!strcmp(*b, t)) return true;
  for (size_t i = 0; i < spec->opts.n_custom; i++)
    if (!strcmp(spec->custom_types[i], t)) return true;
  return false; /* (detectors.levels names only these: router.c refuses others) */
}

/* ---- $.detectors, $.router ---- */

static int parse_custom(const cJSON *arr, sl__router_spec_t *spec, sl_jerr_t *err) {
  const char *path = "$.detectors.custom";
  if (!cJSON_IsArray(arr)) return sl_jerr_set(err, path, "must be a list");
  int n = cJSON_GetArraySize(arr);
  if (n > MAX_CUSTOM) return sl_jerr_set(err, path, "at most %d custom detectors", MAX_CUSTOM);
  spec->custom = calloc((size_t)n + 1, sizeof *spec->custom);
  spec->custom_types = calloc((size_t)n + 1, sizeof(char *));
  spec->custom_patterns = calloc((size_t)n + 1, sizeof(char *));
  if (!spec->custom || !spec->custom_types || !spec->custom_patterns) return SL_ENOMEM;
  int i = 0, rc;
  for (const cJSON *d = arr->child; d; d = d->next, i++) {
    char p[256], q[300];
    sl_jpath_idx(p, sizeof p, path, i);
    if (!cJSON_IsObject(d)) return sl_jerr_set(err, p, "must be an object");
    static const char *const keys[] = {"type", "pattern", "level", "description", NULL};
    if ((rc = sl__check_keys(d, p, keys, err))) return rc;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(d, "type");
    const cJSON *pat = cJSON_GetObjectItemCaseSensitive(d, "pattern");
    const cJSON *lv = cJSON_GetObjectItemCaseSensitive(d, "level");
    sl_jpath_key(q, sizeof q, p, "type");
    if (!t) return sl_jerr_set(err, q, "is required");
    if (!cJSON_IsString(t)) return sl_jerr_set(err, q, "must be a string");
    if ((rc = check_type_name(t->valuestring, q, err))) return rc;
    for (int j = 0; j < i; j++)
      if (!strcmp(spec->custom_types[j], t->valuestring))
        return sl_jerr_set(err, q, "duplicate custom type \"%s\"", t->valuestring);
    sl_jpath_key(q, sizeof q, p, "pattern");
    if (!pat) return sl_jerr_set(err, q, "is required");
    if (!cJSON_IsString(pat) || !pat->valuestring[0])
      return sl_jerr_set(err, q, "must be a non-empty string");
    if (strlen(pat->valuestring) > 4096) return sl_jerr_set(err, q, "at most 4096 bytes");
    sl_level_t level = SL_LEVEL_CONFIDENTIAL;
    sl_jpath_key(q, sizeof q, p, "level");
    if (lv && (rc = parse_level(lv, q, &level, err))) return rc;
    if ((rc = dup_into(&spec->custom_types[i], t->valuestring)) ||
        (rc = dup_into(&spec->custom_patterns[i], pat->valuestring)))
      return rc;
    spec->custom[i].type = spec->custom_types[i];
    spec->custom[i].pattern = spec->custom_patterns[i];
    spec->custom[i].level = level;
    spec->opts.n_custom = (size_t)i + 1;
  }
  spec->opts.custom = spec->custom;
  return 0;
}

static int parse_levels(const cJSON *obj, sl__router_spec_t *spec, sl_jerr_t *err) {
  const char *path = "$.detectors.levels";
  if (!cJSON_IsObject(obj)) return sl_jerr_set(err, path, "must be an object {TYPE: level}");
  int n = cJSON_GetArraySize(obj);
  if (n > MAX_LIST) return sl_jerr_set(err, path, "at most %d types", MAX_LIST);
  spec->level_types = calloc((size_t)n + 1, sizeof(char *));
  spec->level_values = calloc((size_t)n + 1, sizeof(sl_level_t));
  if (!spec->level_types || !spec->level_values) return SL_ENOMEM;
  int rc;
  size_t i = 0;
  for (const cJSON *it = obj->child; it; it = it->next, i++) {
    char p[300];
    sl_jpath_key(p, sizeof p, path, it->string);
    if ((rc = check_type_name(it->string, p, err))) return rc;
    for (size_t j = 0; j < i; j++)
      if (!strcmp(spec->level_types[j], it->string))
        return sl_jerr_set(err, p, "listed twice");
    if ((rc = parse_level(it, p, &spec->level_values[i], err))) return rc;
    if ((rc = dup_into(&spec->level_types[i], it->string))) return rc;
    spec->opts.n_levels = i + 1;
  }
  spec->opts.level_types = (const char *const *)spec->level_types;
  spec->opts.level_values = spec->level_values;
  return 0;
}

/* A relative weights path is taken relative to the config file's directory
 * first (so a policy and its weights move together), then as given. */
static int resolve_weights(const sl_config_t *cfg, const char *w, char **out) {
  if (w[0] != '/' && cfg->path) {
    const char *slash = strrchr(cfg->path, '/');
    if (slash) {
      size_t dl = (size_t)(slash - cfg->path);
      char *cand = malloc(dl + 1 + strlen(w) + 1);
      if (!cand) return SL_ENOMEM;
      memcpy(cand, cfg->path, dl);
      cand[dl] = '/';
      strcpy(cand + dl + 1, w);
      struct stat st;
      if (!stat(cand, &st)) {
        *out = cand;
        return 0;
      }
      free(cand);
    }
  }
  return dup_into(out, w);
}

int sl__policy_parse_detectors(const sl_config_t *cfg, sl__router_spec_t *spec,
                               sl_jerr_t *err) {
  memset(spec, 0, sizeof *spec);
  const cJSON *root = cfg->root;
  int rc;
  const cJSON *d = cJSON_GetObjectItemCaseSensitive(root, "detectors");
  if (d) {
    if (!cJSON_IsObject(d)) return sl_jerr_set(err, "$.detectors", "must be an object");
    static const char *const keys[] = {"custom", "levels", NULL};
    if ((rc = sl__check_keys(d, "$.detectors", keys, err))) return rc;
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(d, "custom");
    if (c && (rc = parse_custom(c, spec, err))) return rc;
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(d, "levels");
    if (l && (rc = parse_levels(l, spec, err))) return rc;
  }
  const cJSON *r = cJSON_GetObjectItemCaseSensitive(root, "router");
  if (r) {
    if (!cJSON_IsObject(r)) return sl_jerr_set(err, "$.router", "must be an object");
    static const char *const keys[] = {"difficulty_weights", NULL};
    if ((rc = sl__check_keys(r, "$.router", keys, err))) return rc;
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(r, "difficulty_weights");
    if (w) {
      if (!cJSON_IsString(w) || !w->valuestring[0])
        return sl_jerr_set(err, "$.router.difficulty_weights", "must be a file path");
      if ((rc = resolve_weights(cfg, w->valuestring, &spec->weights_path))) return rc;
      struct stat st;
      if (stat(spec->weights_path, &st) || !S_ISREG(st.st_mode))
        return sl_jerr_set(err, "$.router.difficulty_weights",
                           "cannot open \"%s\" (relative paths are looked up next to the "
                           "config file, then in the working directory)",
                           w->valuestring);
      spec->opts.difficulty_weights = spec->weights_path;
    }
  }
  return 0;
}

void sl__router_spec_free(sl__router_spec_t *spec) {
  for (size_t i = 0; spec->custom_types && spec->custom_types[i]; i++) free(spec->custom_types[i]);
  for (size_t i = 0; spec->custom_patterns && spec->custom_patterns[i]; i++)
    free(spec->custom_patterns[i]);
  for (size_t i = 0; spec->level_types && spec->level_types[i]; i++) free(spec->level_types[i]);
  free(spec->custom_types);
  free(spec->custom_patterns);
  free(spec->custom);
  free(spec->level_types);
  free(spec->level_values);
  free(spec->weights_path);
  memset(spec, 0, sizeof *spec);
}

/* ---- $.rules ---- */

static int get_prob(const cJSON *v, const char *path, double *out, sl_jerr_t *err) {
  if (!cJSON_IsNumber(v)) return sl_jerr_set(err, path, "must be a number between 0 and 1");
  if (!(v->valuedouble >= 0 && v->valuedouble <= 1))
    return sl_jerr_set(err, path, "must be between 0 and 1 (got %.15g)", v->valuedouble);
  *out = v->valuedouble;
  return 0;
}

static int get_count(const cJSON *v, const char *path, long *out, sl_jerr_t *err) {
  if (!cJSON_IsNumber(v) || v->valuedouble != (double)(long)v->valuedouble)
    return sl_jerr_set(err, path, "must be a whole number");
  if (v->valuedouble < 0 || v->valuedouble > (double)INT_MAX)
    return sl_jerr_set(err, path, "must be between 0 and %d (got %.15g)", INT_MAX, v->valuedouble);
  *out = (long)v->valuedouble;
  return 0;
}

static int parse_when(const cJSON *w, const char *path, const sl__router_spec_t *spec,
                      sl__when_t *out, sl_jerr_t *err) {
  out->prompt_tokens_at_least = -1;
  out->tenant_rpm_at_least = -1;
  if (!cJSON_IsObject(w)) return sl_jerr_set(err, path, "must be an object");
  static const char *const keys[] = {
      "sensitivity_at_least", "entity_types_any", "difficulty_at_least", "difficulty_below",
      "tenant", "model", "header", "prompt_tokens_at_least", "tenant_rpm_at_least", NULL};
  int rc = sl__check_keys(w, path, keys, err);
  if (rc) return rc;
  for (const cJSON *it = w->child; it; it = it->next) {
    char p[300];
    sl_jpath_key(p, sizeof p, path, it->string);
    const char *k = it->string;
    if (!strcmp(k, "sensitivity_at_least")) {
      out->has_sensitivity = true;
      rc = parse_level(it, p, &out->sensitivity_at_least, err);
    } else if (!strcmp(k, "entity_types_any")) {
      rc = get_str_list(it, p, false, &out->entity_types_any, &out->n_entity_types, err);
      for (size_t i = 0; !rc && i < out->n_entity_types; i++) {
        char q[320];
        sl_jpath_idx(q, sizeof q, p, (int)i);
        if (!(rc = check_type_name(out->entity_types_any[i], q, err)) &&
            !known_type(spec, out->entity_types_any[i]))
          rc = sl_jerr_set(err, q,
                           "unknown entity type \"%s\" (a new type is declared by a "
                           "detector of detectors.custom)",
                           out->entity_types_any[i]);
      }
    } else if (!strcmp(k, "difficulty_at_least")) {
      out->has_difficulty_at_least = true;
      rc = get_prob(it, p, &out->difficulty_at_least, err);
    } else if (!strcmp(k, "difficulty_below")) {
      out->has_difficulty_below = true;
      rc = get_prob(it, p, &out->difficulty_below, err);
    } else if (!strcmp(k, "tenant")) {
      rc = get_str_list(it, p, true, &out->tenants, &out->n_tenants, err);
    } else if (!strcmp(k, "model")) {
      rc = get_str_list(it, p, true, &out->models, &out->n_models, err);
    } else if (!strcmp(k, "header")) {
      if (!cJSON_IsObject(it) || !it->child)
        return sl_jerr_set(err, p, "must be a non-empty object {\"name\": \"value\"}");
      int n = cJSON_GetArraySize(it);
      if (n > MAX_LIST) return sl_jerr_set(err, p, "at most %d headers", MAX_LIST);
      out->headers = calloc((size_t)n, sizeof *out->headers);
      if (!out->headers) return SL_ENOMEM;
      for (const cJSON *h = it->child; h && !rc; h = h->next) {
        char q[400];
        sl_jpath_key(q, sizeof q, p, h->string);
        sl__header_cond_t *hc = &out->headers[out->n_headers++];
        if (!h->string[0]) return sl_jerr_set(err, q, "header name must not be empty");
        for (const char *c = h->string; *c; c++)
          if (!isgraph((unsigned char)*c) || *c == ':')
            return sl_jerr_set(err, q, "not a valid header name");
        if ((rc = dup_into(&hc->name, h->string))) return rc;
        for (char *c = hc->name; *c; c++) *c = (char)tolower((unsigned char)*c);
        for (size_t j = 0; j + 1 < out->n_headers; j++)
          if (!strcmp(out->headers[j].name, hc->name))
            return sl_jerr_set(err, q, "header \"%s\" is named twice (names are case-insensitive): "
                                       "list its values in one array", hc->name);
        rc = get_str_list(h, q, true, &hc->values, &hc->n_values, err);
      }
    } else if (!strcmp(k, "prompt_tokens_at_least")) {
      rc = get_count(it, p, &out->prompt_tokens_at_least, err);
    } else if (!strcmp(k, "tenant_rpm_at_least")) {
      rc = get_count(it, p, &out->tenant_rpm_at_least, err);
    }
    if (rc) return rc;
  }
  if (out->has_difficulty_below &&
      (out->difficulty_below <= 0 ||
       (out->has_difficulty_at_least && out->difficulty_below <= out->difficulty_at_least))) {
    char p[300];
    sl_jpath_key(p, sizeof p, path, "difficulty_below");
    return sl_jerr_set(err, p, out->difficulty_below <= 0
                                   ? "must be greater than 0 (scores run from 0: no request could match)"
                                   : "must be greater than difficulty_at_least (no request could match)");
  }
  return 0;
}

static int parse_route(const cJSON *r, const char *path, const sl_config_t *cfg,
                       sl__rule_t *rule, sl_jerr_t *err) {
  if (!r) return sl_jerr_set(err, path, "is required (a fallback chain of backends)");
  if (!cJSON_IsArray(r))
    return sl_jerr_set(err, path, "must be a list of \"backend\" or \"backend/model\"");
  int n = cJSON_GetArraySize(r);
  if (n < 1) return sl_jerr_set(err, path, "must name at least one backend");
  if (n > SL_POLICY_MAX_CHAIN)
    return sl_jerr_set(err, path, "at most %d steps", SL_POLICY_MAX_CHAIN);
  int i = 0;
  for (const cJSON *s = r->child; s; s = s->next, i++) {
    char p[300];
    sl_jpath_idx(p, sizeof p, path, i);
    if (!cJSON_IsString(s) || !s->valuestring[0])
      return sl_jerr_set(err, p, "must be \"backend\" or \"backend/model\"");
    const char *str = s->valuestring;
    if (strlen(str) > 256) return sl_jerr_set(err, p, "too long");
    char bname[257];
    const char *slash = strchr(str, '/');
    size_t bl = slash ? (size_t)(slash - str) : strlen(str);
    memcpy(bname, str, bl);
    bname[bl] = '\0';
    const sl_backend_cfg_t *b = sl_config_backend(cfg, bname);
    if (!b) {
      char known[200] = "";
      size_t kl = 0;
      for (size_t j = 0; j < cfg->n_backends && kl + 2 < sizeof known; j++)
        kl += (size_t)snprintf(known + kl, sizeof known - kl, "%s%s", j ? ", " : "",
                               cfg->backends[j].name);
      return sl_jerr_set(err, p, "no backend named \"%s\" (configured: %s)", bname, known);
    }
    sl_route_step_t *st = &rule->steps[rule->n_steps];
    st->backend = b;
    st->model = NULL;
    if (slash) {
      const char *m = slash + 1;
      if (!*m) return sl_jerr_set(err, p, "model after \"%s/\" is empty", bname);
      const sl_model_price_t *mp = sl_config_model(b, m);
      if (!mp) {
        if (!b->n_models)
          return sl_jerr_set(err, p, "backend \"%s\" lists no models; name it without \"/%s\"",
                             bname, m);
        return sl_jerr_set(err, p, "model \"%s\" is not listed for backend \"%s\"", m, bname);
      }
      st->model = mp->name;
    }
    /* a bare step is the backend's default model: "openai" and "openai/gpt-4o"
     * are one step when gpt-4o is listed first */
    const char *mine = st->model ? st->model : b->default_model;
    for (size_t j = 0; j < rule->n_steps; j++) {
      const char *theirs = rule->steps[j].model ? rule->steps[j].model : b->default_model;
      if (rule->steps[j].backend == st->backend &&
          (theirs == mine || (theirs && mine && !strcmp(theirs, mine))))
        return sl_jerr_set(err, p,
                           "\"%s\" is already in this chain (retries are the backend's "
                           "max_retries)",
                           str);
    }
    int rc = dup_into(&rule->step_names[rule->n_steps], str);
    if (rc) return rc;
    rule->n_steps++;
  }
  return 0;
}

static int parse_rule(const cJSON *r, const char *path, const sl_config_t *cfg,
                      const sl__router_spec_t *spec, bool default_restore, sl__rule_t *rule,
                      sl_jerr_t *err) {
  rule->restore = default_restore;
  rule->when.prompt_tokens_at_least = -1;
  rule->when.tenant_rpm_at_least = -1;
  if (!cJSON_IsObject(r)) return sl_jerr_set(err, path, "must be an object");
  static const char *const keys[] = {"name", "when", "route", "on_unavailable", "redact",
                                     "restore", "description", NULL};
  int rc = sl__check_keys(r, path, keys, err);
  if (rc) return rc;
  char p[300];
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(r, "name");
  sl_jpath_key(p, sizeof p, path, "name");
  if (!v) return sl_jerr_set(err, p, "is required");
  if (!cJSON_IsString(v) || !v->valuestring[0]) return sl_jerr_set(err, p, "must be a non-empty string");
  if (strlen(v->valuestring) > MAX_NAME) return sl_jerr_set(err, p, "at most %d bytes", MAX_NAME);
  for (const char *c = v->valuestring; *c; c++)
    if ((unsigned char)*c < 0x20 || *c == 0x7F || *c == '"' || *c == '\\')
      return sl_jerr_set(err, p, "must not contain control characters, quotes or backslashes");
  if ((rc = dup_into(&rule->name, v->valuestring))) return rc;

  v = cJSON_GetObjectItemCaseSensitive(r, "description");
  sl_jpath_key(p, sizeof p, path, "description");
  if (v && !cJSON_IsString(v)) return sl_jerr_set(err, p, "must be a string");

  v = cJSON_GetObjectItemCaseSensitive(r, "when");
  sl_jpath_key(p, sizeof p, path, "when");
  if (v && (rc = parse_when(v, p, spec, &rule->when, err))) return rc;

  sl_jpath_key(p, sizeof p, path, "route");
  if ((rc = parse_route(cJSON_GetObjectItemCaseSensitive(r, "route"), p, cfg, rule, err)))
    return rc;

  v = cJSON_GetObjectItemCaseSensitive(r, "on_unavailable");
  sl_jpath_key(p, sizeof p, path, "on_unavailable");
  if (v) {
    if (!cJSON_IsString(v) || strcmp(v->valuestring, "reject"))
      return sl_jerr_set(err, p, "must be \"reject\"");
    rule->reject = true;
  }

  v = cJSON_GetObjectItemCaseSensitive(r, "redact");
  sl_jpath_key(p, sizeof p, path, "redact");
  if (v) {
    if ((rc = get_str_list(v, p, false, &rule->redact, &rule->n_redact, err))) return rc;
    for (size_t i = 0; i < rule->n_redact; i++) {
      char q[320];
      sl_jpath_idx(q, sizeof q, p, (int)i);
      if ((rc = check_type_name(rule->redact[i], q, err))) return rc;
      if (!known_type(spec, rule->redact[i]))
        return sl_jerr_set(err, q,
                           "unknown entity type \"%s\" (a new type is declared by a "
                           "detector of detectors.custom)",
                           rule->redact[i]);
    }
  }

  v = cJSON_GetObjectItemCaseSensitive(r, "restore");
  sl_jpath_key(p, sizeof p, path, "restore");
  if (v) {
    if (!cJSON_IsBool(v)) return sl_jerr_set(err, p, "must be true or false");
    rule->restore = cJSON_IsTrue(v);
  }
  return 0;
}

static int parse_redaction(const cJSON *root, bool *default_restore, sl_jerr_t *err) {
  *default_restore = true;
  const cJSON *r = cJSON_GetObjectItemCaseSensitive(root, "redaction");
  if (!r) return 0;
  if (!cJSON_IsObject(r)) return sl_jerr_set(err, "$.redaction", "must be an object");
  static const char *const keys[] = {"restore", NULL};
  int rc = sl__check_keys(r, "$.redaction", keys, err);
  if (rc) return rc;
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(r, "restore");
  if (v) {
    if (!cJSON_IsBool(v)) return sl_jerr_set(err, "$.redaction.restore", "must be true or false");
    *default_restore = cJSON_IsTrue(v);
  }
  return 0;
}

int sl__policy_parse_rules(sl_policy_t *p, const sl__router_spec_t *spec, sl_jerr_t *err) {
  const cJSON *root = p->cfg->root;
  bool default_restore;
  int rc = parse_redaction(root, &default_restore, err);
  if (rc) return rc;
  const cJSON *rules = cJSON_GetObjectItemCaseSensitive(root, "rules");
  if (!rules) return sl_jerr_set(err, "$.rules", "is required (an ordered list of rules)");
  if (!cJSON_IsArray(rules)) return sl_jerr_set(err, "$.rules", "must be a list");
  int n = cJSON_GetArraySize(rules);
  if (n < 1) return sl_jerr_set(err, "$.rules", "must hold at least one rule");
  if (n > SL_POLICY_MAX_RULES)
    return sl_jerr_set(err, "$.rules", "at most %d rules", SL_POLICY_MAX_RULES);
  p->rules = calloc((size_t)n, sizeof *p->rules);
  if (!p->rules) return SL_ENOMEM;
  p->keep_inside_rule = -1;
  int i = 0;
  for (const cJSON *r = rules->child; r; r = r->next, i++) {
    char path[64];
    sl_jpath_idx(path, sizeof path, "$.rules", i);
    sl__rule_t *rule = &p->rules[p->n_rules++];
    if ((rc = parse_rule(r, path, p->cfg, spec, default_restore, rule, err))) return rc;
    if (!strcmp(rule->name, "none")) {
      /* x-sluice-rule says "none" when no rule decided (a 451, a refusal) */
      char q[80];
      sl_jpath_key(q, sizeof q, path, "name");
      return sl_jerr_set(err, q, "\"none\" is reserved: x-sluice-rule reports it when no rule decided");
    }
    for (int j = 0; j < i; j++)
      if (!strcmp(p->rules[j].name, rule->name)) {
        char q[80];
        sl_jpath_key(q, sizeof q, path, "name");
        return sl_jerr_set(err, q, "duplicate rule name \"%s\" (also $.rules[%d])", rule->name,
                           j);
      }
    if (sl_policy_rule_keeps_inside(p, (size_t)i)) {
      /* A keep-inside rule that can only send outside would block everything it
       * matches: almost certainly a mistake in the file, so say so now. */
      bool any_inside = false;
      for (size_t s = 0; s < rule->n_steps; s++)
        any_inside |= rule->steps[s].backend->location != SL_LOC_EXTERNAL;
      if (!any_inside) {
        char q[80];
        sl_jpath_key(q, sizeof q, path, "route");
        return sl_jerr_set(err, q,
                           "every step is external, but on_unavailable \"reject\" with "
                           "sensitivity_at_least or entity_types_any keeps these requests inside");
      }
      for (size_t t = 0; t < rule->when.n_entity_types; t++) {
        const char *ty = rule->when.entity_types_any[t];
        bool dup = false;
        for (size_t k = 0; k < p->n_keep_types && !dup; k++) dup = !strcmp(p->keep_types[k], ty);
        if (dup) continue;
        if (p->n_keep_types == SL_POLICY_MAX_KEEP_TYPES) {
          char q[120];
          sl_jpath_key(q, sizeof q, path, "when.entity_types_any");
          return sl_jerr_set(err, q, "at most %d entity types can be kept inside",
                             SL_POLICY_MAX_KEEP_TYPES);
        }
        p->keep_type_rule[p->n_keep_types] = i;
        p->keep_types[p->n_keep_types++] = ty;
      }
    }
    if (rule->reject && rule->when.has_sensitivity) {
      if (!p->has_keep_inside || rule->when.sensitivity_at_least < p->keep_inside) {
        p->has_keep_inside = true;
        p->keep_inside = rule->when.sensitivity_at_least;
        p->keep_inside_rule = i;
      }
    }
  }
  return 0;
}

static void when_free(sl__when_t *w) {
  free_list(w->entity_types_any, w->n_entity_types);
  free_list(w->tenants, w->n_tenants);
  free_list(w->models, w->n_models);
  for (size_t i = 0; i < w->n_headers; i++) {
    free(w->headers[i].name);
    free_list(w->headers[i].values, w->headers[i].n_values);
  }
  free(w->headers);
}

void sl__rules_free(sl__rule_t *rules, size_t n) {
  if (!rules) return;
  for (size_t i = 0; i < n; i++) {
    sl__rule_t *r = &rules[i];
    free(r->name);
    when_free(&r->when);
    for (size_t s = 0; s < r->n_steps; s++) free(r->step_names[s]);
    free_list(r->redact, r->n_redact);
  }
  free(rules);
}
