/* `sluice policy check FILE` and `sluice policy test FILE CASES.jsonl`.
 *
 * check: exit 0 when FILE compiles; otherwise the first error, naming its JSON
 * path, and exit 1. Also warns about rules that can never be reached.
 *
 * test: each line of CASES.jsonl is one case:
 *   {"name": "...", "request": {OpenAI chat body} | "text": "...",
 *    "tenant": "...", "headers": {"Name": "value"}, "tenant_rpm": N, "prompt_tokens": N,
 *    "assume": {"level": "...", "difficulty": 0.9, "entity_types": ["US_SSN"]},
 *    "expect": {"rule": "name" | null, "backend": "local" | "openai/gpt-4o",
 *               "backends": [...], "blocked": bool, "status": 451, "level": "...",
 *               "egress": bool, "redact": [...], "never_leaves": ["value", ...]}}
 * `assume` replaces parts of the classification, to test rule logic apart from
 * the detectors. `never_leaves` checks that none of the strings would reach an
 * external step of the chain (after the rule's redaction). Every mismatch is printed as expected/got; the exit is
 * non-zero if any case fails or cannot be read. */
#include "sl_file.h"
#include "backend.h"
#include "cli.h"
#include "codec_json.h"
#include "cli_input.h"
#include "redact.h"
#include "sl_err.h"
#include "sl_str.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int usage(FILE *f) {
  fprintf(f, "usage: sluice policy check FILE\n"
             "       sluice policy test FILE CASES.jsonl [--verbose]\n");
  return f == stdout ? 0 : 2;
}

/* ---- check ---- */

/* A `when` that every request meets: none, or conditions at their floor
 * (sensitivity public, a difficulty, prompt or rate of at least 0; a rate of
 * at least 1, which counts the request itself). */
static bool when_always_holds(const cJSON *rule) {
  const cJSON *w = cJSON_GetObjectItemCaseSensitive(rule, "when");
  for (const cJSON *c = w ? w->child : NULL; c; c = c->next) {
    const char *k = c->string;
    bool floor = (!strcmp(k, "sensitivity_at_least") && cJSON_IsString(c) &&
                  !strcmp(c->valuestring, "public")) ||
                 ((!strcmp(k, "difficulty_at_least") || !strcmp(k, "prompt_tokens_at_least")) &&
                  cJSON_IsNumber(c) && c->valuedouble <= 0) ||
                 (!strcmp(k, "tenant_rpm_at_least") && cJSON_IsNumber(c) && c->valuedouble <= 1);
    if (!floor) return false;
  }
  return true;
}

/* The values of a rule's `when.key` (a string or a list of them, as the
 * compiler checked): the first, and the next after `one` (NULL at the end). */
static const cJSON *when_first(const cJSON *rule, const char *key) {
  const cJSON *w = cJSON_GetObjectItemCaseSensitive(rule, "when");
  const cJSON *v = w ? cJSON_GetObjectItemCaseSensitive(w, key) : NULL;
  return !v || cJSON_IsString(v) ? v : v->child;
}
static const cJSON *when_next(const cJSON *one) { return one->string ? NULL : one->next; }

/* A `when.tenant` naming a tenant no key of auth.keys has never matches: the
 * tenant of a request is its key's. */
static void tenant_lint(const char *file, const sl_config_t *cfg, const cJSON *rule, int i) {
  for (const cJSON *one = when_first(rule, "tenant"); one; one = when_next(one)) {
    bool known = false;
    for (size_t k = 0; k < cfg->n_keys && !known; k++)
      known = cfg->keys[k].tenant && !strcmp(cfg->keys[k].tenant, one->valuestring);
    if (!known)
      fprintf(stderr, "%s: warning: $.rules[%d].when.tenant \"%s\" never matches: no key in "
                      "auth.keys has that tenant (a request's tenant is its key's)\n",
              file, i, one->valuestring);
  }
}

/* A `when.model` naming nothing the config serves (a backend, a listed model,
 * "backend/model", "auto") is most likely a typo: a client could send it, but
 * /v1/models never offered it. */
static void model_lint(const char *file, const sl_config_t *cfg, const cJSON *rule, int i) {
  for (const cJSON *one = when_first(rule, "model"); one; one = when_next(one)) {
    const char *v = one->valuestring;
    bool known = !strcmp(v, "auto");
    for (size_t b = 0; b < cfg->n_backends && !known; b++) {
      const sl_backend_cfg_t *bk = &cfg->backends[b];
      size_t n = strlen(bk->name);
      known = !strcmp(v, bk->name) ||
              (!strncmp(v, bk->name, n) && v[n] == '/' && sl_config_model(bk, v + n + 1)) ||
              sl_config_model(bk, v);
    }
    if (!known)
      fprintf(stderr, "%s: warning: $.rules[%d].when.model \"%s\" names no backend or model of "
                      "this config (a client may still send it; check the spelling)\n",
              file, i, v);
  }
}

/* Where custom detector `type` matches one of a few ordinary requests with
 * nothing sensitive in them: the text, and *at / *len the match in it. */
static const char *matches_ordinary(const sl_router_t *router, const char *type, size_t *at, size_t *len) {
  static const char *const plain[] = {"Hello, how are you today?",
                                      "Summarise the following paragraph in two sentences.",
                                      "Write a Python function that returns the sum of a list.",
                                      "Give me 3 ideas for a birthday party in the garden."};
  for (size_t t = 0; t < sizeof plain / sizeof *plain; t++) {
    sl_class_t cls;
    if (sl_router_classify_text(router, plain[t], strlen(plain[t]), NULL, &cls)) continue;
    bool hit = false;
    for (size_t k = 0; k < cls.n_entities && !hit; k++) {
      const sl_entity_t *e = &cls.entities[k];
      if ((hit = !strcmp(e->detector, "custom") && !strcmp(e->type, type))) *at = e->start, *len = e->end - e->start;
    }
    sl_class_free(&cls);
    if (hit) return plain[t];
  }
  return NULL;
}

/* A custom detector named like a built-in entity type: its findings keep its
 * own level, which detectors.levels of that name does not change (that names
 * the built-in detector's). One whose pattern matches ordinary text (".*",
 * "\d+", "[A-Z]\w+") raises every request to its level. */
static void custom_lint(const char *file, const sl_config_t *cfg, const sl_router_t *router) {
  const cJSON *det = cJSON_GetObjectItemCaseSensitive(cfg->root, "detectors");
  const cJSON *custom = cJSON_GetObjectItemCaseSensitive(det, "custom");
  int i = 0;
  sl_level_t lv;
  for (const cJSON *c = cJSON_IsArray(custom) ? custom->child : NULL; c; c = c->next, i++) {
    const cJSON *ct = cJSON_GetObjectItemCaseSensitive(c, "type");
    if (!cJSON_IsString(ct)) continue;
    if (!sl_router_default_level(ct->valuestring, &lv))
      fprintf(stderr, "%s: warning: $.detectors.custom[%d].type: %s is a built-in type too: this "
                      "detector's findings keep its own level, which detectors.levels.%s does not change\n",
              file, i, ct->valuestring, ct->valuestring);
    size_t at = 0, len = 0;
    const char *text = matches_ordinary(router, ct->valuestring, &at, &len);
    if (text && !sl_router_type_level(router, ct->valuestring, &lv))
      fprintf(stderr, "%s: warning: $.detectors.custom[%d].pattern matches ordinary text (\"%.*s\" in "
                      "\"%s\"): most requests would be %s\n",
              file, i, (int)len, text + at, text, sl_level_name(lv));
  }
}

static int cmd_check(const char *file) {
  sl_policy_t *p;
  sl_jerr_t err = {{0}};
  if (sl_policy_load(file, &p, &err)) {
    fprintf(stderr, "%s: %s\n", file, err.msg);
    return 1;
  }
  const sl_config_t *cfg = sl_policy_config(p);
  char berr[320];
  if (sl_backends_check(cfg, false, berr, sizeof berr)) {
    fprintf(stderr, "%s: %s\n", file, berr);
    sl_policy_unref(p);
    return 1;
  }
  if (sl_backends_check(cfg, true, berr, sizeof berr))
    fprintf(stderr, "%s: warning: %s: serve will refuse to start without it\n", file, berr);
  for (size_t b = 0; b < cfg->n_backends; b++)
    if (sl_config_cleartext_external(&cfg->backends[b]))
      fprintf(stderr, "%s: warning: $.backends[%zu].base_url: backend \"%s\" is external and plain http://: "
                      "its API key and every request to it cross the network unencrypted\n",
              file, b, cfg->backends[b].name);
  const cJSON *rules = cJSON_GetObjectItemCaseSensitive(cfg->root, "rules");
  int i = 0, always = -1;
  for (const cJSON *r = rules->child; r; r = r->next, i++) {
    if (always >= 0)
      fprintf(stderr, "%s: warning: $.rules[%d] (\"%s\") is never reached: $.rules[%d] always matches\n",
              file, i, sl_policy_rule_name(p, (size_t)i), always);
    else if (when_always_holds(r))
      always = i;
  }
  /* Lints that do not change a decision but betray a misunderstanding. */
  i = 0;
  bool kept_before = false;
  for (const cJSON *r = rules->child; r; r = r->next, i++) {
    const cJSON *red = cJSON_GetObjectItemCaseSensitive(r, "redact");
    const cJSON *route = cJSON_GetObjectItemCaseSensitive(r, "route");
    bool keep_inside = sl_policy_rule_keeps_inside(p, (size_t)i);
    bool any_external = false;
    int k = 0;
    for (const cJSON *s = route->child; s; s = s->next, k++) {
      char b[257];
      snprintf(b, sizeof b, "%.*s", (int)strcspn(s->valuestring, "/"), s->valuestring);
      const sl_backend_cfg_t *bk = sl_config_backend(cfg, b);
      bool ext = bk && bk->location == SL_LOC_EXTERNAL;
      any_external |= ext;
      if (ext && keep_inside)
        fprintf(stderr, "%s: warning: $.rules[%d].route[%d] (\"%s\") is external: the requests this "
                        "keep-inside rule matches never go there (the step is skipped)\n",
                file, i, k, s->valuestring);
    }
    if (red && !any_external)
      fprintf(stderr, "%s: warning: $.rules[%d].redact has no effect: every step stays inside "
                      "(redaction applies to external backends)\n", file, i);
    /* (the level a keep-inside rule before this one keeps inside) */
    sl_level_t keep_lv, tl;
    int t = 0;
    const char *const *kept_types;
    size_t n_kept = sl_policy_keep_inside_types(p, &kept_types);
    for (const cJSON *ty = red && any_external && kept_before ? red->child : NULL; ty; ty = ty->next, t++) {
      if (!cJSON_IsString(ty)) continue;
      if (sl_policy_keep_inside_level(p, &keep_lv) &&
          !sl_router_type_level(sl_policy_router(p), ty->valuestring, &tl) && tl >= keep_lv)
        fprintf(stderr, "%s: warning: $.rules[%d].redact[%d]: %s is %s, which a keep-inside rule keeps "
                        "inside: a request holding one never reaches this rule's external steps, so "
                        "the redaction never applies (lower its level in detectors.levels to send it "
                        "out redacted)\n",
                file, i, t, ty->valuestring, sl_level_name(tl));
      for (size_t q = 0; q < n_kept; q++)
        if (!strcmp(kept_types[q], ty->valuestring))
          fprintf(stderr, "%s: warning: $.rules[%d].redact[%d]: %s is kept inside by a keep-inside rule's "
                          "entity_types_any: a request holding one never reaches this rule's external "
                          "steps, so the redaction never applies\n",
                  file, i, t, ty->valuestring);
    }
    tenant_lint(file, cfg, r, i);
    model_lint(file, cfg, r, i);
    kept_before |= keep_inside;
  }
  if (always < 0)
    fprintf(stderr, "%s: warning: no rule without `when`: a request no rule matches is refused (451)\n",
            file);
  custom_lint(file, cfg, sl_policy_router(p));
  char keep[400] = "nothing is kept inside (no reject rule with sensitivity_at_least or "
                   "entity_types_any)";
  sl_level_t lv;
  const char *const *types;
  size_t nt = sl_policy_keep_inside_types(p, &types);
  bool has_level = sl_policy_keep_inside_level(p, &lv);
  bool external = false;
  for (size_t b = 0; b < cfg->n_backends; b++) external |= cfg->backends[b].location == SL_LOC_EXTERNAL;
  if (!external) {
    snprintf(keep, sizeof keep, "everything stays inside: no backend is external");
  } else if (has_level || nt) {
    size_t k = (size_t)snprintf(keep, sizeof keep, "kept inside:");
    if (has_level) k += (size_t)snprintf(keep + k, sizeof keep - k, " %s and above", sl_level_name(lv));
    for (size_t t = 0; t < nt && k < sizeof keep; t++)
      k += (size_t)snprintf(keep + k, sizeof keep - k, "%s%s", t ? ", " : has_level ? "; " : " ",
                            types[t]);
  }
  printf("%s: ok (%zu rules, %zu backends, version %.12s)\n  %s\n", file, sl_policy_n_rules(p),
         cfg->n_backends, sl_policy_version(p), keep);
  sl_policy_unref(p);
  return 0;
}

/* ---- test ---- */

typedef struct {
  const cJSON *headers;
} case_headers_t;

static const char *case_header(void *ctx, const char *name, size_t nth) {
  const case_headers_t *h = ctx;
  for (const cJSON *it = h->headers ? h->headers->child : NULL; it; it = it->next)
    if (!strcasecmp(it->string, name) && cJSON_IsString(it) && !nth--) return it->valuestring;
  return NULL;
}

typedef struct {
  char buf[4096];
  size_t n;
  int mismatches;
} diff_t;

static void diff_add(diff_t *df, const char *what, const char *want, const char *got) {
  df->mismatches++;
  if (df->n < sizeof df->buf)
    df->n += (size_t)snprintf(df->buf + df->n, sizeof df->buf - df->n,
                              "    %-9s expected %-28s got %s\n", what, want, got);
}

static void quote(char *out, size_t n, const char *s) {
  if (s) snprintf(out, n, "\"%s\"", s);
  else snprintf(out, n, "null");
}

/* Does the decision's step match "backend" or "backend/model"? A step without
 * a model stands for the backend's default model. */
static bool step_matches(const sl_route_step_t *s, const char *want) {
  const char *slash = strchr(want, '/');
  size_t bl = slash ? (size_t)(slash - want) : strlen(want);
  if (strlen(s->backend->name) != bl || strncmp(s->backend->name, want, bl)) return false;
  if (!slash) return true;
  const char *m = s->model ? s->model : s->backend->default_model;
  return m && !strcmp(m, slash + 1);
}

static void steps_text(const sl_decision_t *d, char *out, size_t n) {
  size_t k = (size_t)snprintf(out, n, "[");
  for (size_t i = 0; i < d->n_steps && k < n; i++) {
    char s[300];
    sl_policy_step_name(&d->steps[i], s, sizeof s);
    k += (size_t)snprintf(out + k, n - k, "%s\"%s\"", i ? ", " : "", s);
  }
  if (k < n) snprintf(out + k, n - k, "]");
}

/* With entity_types and no level, the level is the highest of those types'
 * (as the policy's detectors.levels set them): a case assuming a US_SSN is
 * decided as a request holding one would be. */
static int apply_assume(const sl_router_t *router, const cJSON *a, sl_class_t *cls, sl_entity_t *extra,
                        size_t n_extra, char *err, size_t errlen) {
  if (!cJSON_IsObject(a)) return snprintf(err, errlen, "assume: must be an object"), -1;
  bool level_given = cJSON_GetObjectItemCaseSensitive(a, "level") != NULL;
  for (const cJSON *it = a->child; it; it = it->next) {
    if (!strcmp(it->string, "level")) {
      sl_level_t lv;
      if (!cJSON_IsString(it) || sl_level_parse(it->valuestring, &lv))
        return snprintf(err, errlen, "assume.level: not a level"), -1;
      cls->level = lv;
      cls->error = 0;
    } else if (!strcmp(it->string, "difficulty")) {
      if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble > 1)
        return snprintf(err, errlen, "assume.difficulty: must be 0..1"), -1;
      cls->difficulty = it->valuedouble;
      cls->difficulty_label = it->valuedouble >= 0.66 ? "hard" : it->valuedouble >= 0.33 ? "medium" : "easy";
    } else if (!strcmp(it->string, "entity_types")) {
      if (!cJSON_IsArray(it) || (size_t)cJSON_GetArraySize(it) > n_extra)
        return snprintf(err, errlen, "assume.entity_types: a list of at most %zu types", n_extra), -1;
      size_t k = 0;
      sl_level_t top = SL_LEVEL_PUBLIC;
      for (const cJSON *t = it->child; t; t = t->next, k++) {
        if (!cJSON_IsString(t)) return snprintf(err, errlen, "assume.entity_types: strings"), -1;
        sl_level_t lv;
        if (sl_router_type_level(router, t->valuestring, &lv))
          return snprintf(err, errlen, "assume.entity_types: \"%.60s\" is no entity type a detector reports",
                          t->valuestring), -1;
        if (lv > top) top = lv;
        memset(&extra[k], 0, sizeof extra[k]);
        snprintf(extra[k].type, sizeof extra[k].type, "%s", t->valuestring);
        extra[k].detector = "assume";
        extra[k].level = lv;
      }
      /* The classifier's own entities are replaced: their storage stays with cls. */
      cls->n_entities = 0;
      cls->entities = k ? extra : cls->entities;
      cls->n_entities = k;
      if (!level_given) {
        cls->level = top;
        cls->error = 0;
      }
    } else {
      return snprintf(err, errlen, "assume: unknown key \"%s\"", it->string), -1;
    }
  }
  return 0;
}

/* For expect.never_leaves: the first listed string that an external step of
 * the chain would receive (after the rule's redaction), in *leaked; 0 or SL_E*. */
static int leaks(const sl_decision_t *d, const sl_chat_req_t *req, const sl_class_t *cls,
                 const cJSON *values, const char **leaked) {
  *leaked = NULL;
  const sl_route_step_t *ext = NULL;
  for (size_t i = 0; i < d->n_steps && !ext; i++)
    if (d->steps[i].backend->location == SL_LOC_EXTERNAL) ext = &d->steps[i];
  if (!ext) return 0; /* nothing leaves */
  sl_chat_req_t red;
  const sl_chat_req_t *sent = req;
  sl_redact_map_t *map = NULL;
  if (sl_policy_step_needs_redaction(d, ext)) {
    int rc = sl_redact_request(req, cls, d->redact, d->n_redact, &red, &map);
    /* a value where redaction cannot rewrite it: the gateway skips every
     * external step (451 if nothing else serves), so nothing leaves */
    if (rc == SL_EUNSUPPORTED || rc == SL_ETOOBIG) return 0;
    if (rc) return rc;
    sent = &red;
  }
  /* everything the step is sent that carries text: contents, tool calls,
   * names, tools, stop strings, user (not only what redaction rewrites) */
  char *all = NULL;
  size_t all_len = 0;
  int rc = sl_chat_text(sent, &all, &all_len);
  for (const cJSON *v = values->child; !rc && v && !*leaked; v = v->next)
    if (cJSON_IsString(v) && v->valuestring[0] && strstr(all, v->valuestring))
      *leaked = v->valuestring;
  free(all);
  if (map) {
    sl_chat_req_free(&red);
    sl_redact_map_free(map);
  }
  return rc;
}

/* A count field of a case: absent, or a whole number from 0. */
static bool bad_count(const cJSON *c, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, key);
  return v && (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 1e9 ||
               v->valuedouble != (double)(long long)v->valuedouble);
}

/* The case's own fields have their types: a field of the wrong type would be
 * ignored, and the case would test nothing while it passes. */
static bool case_fields_bad(const cJSON *c, char *err, size_t errlen) {
  const cJSON *v;
  if ((v = cJSON_GetObjectItemCaseSensitive(c, "name")) && !cJSON_IsString(v))
    return snprintf(err, errlen, "name: must be a string"), true;
  if ((v = cJSON_GetObjectItemCaseSensitive(c, "tenant")) && !cJSON_IsString(v))
    return snprintf(err, errlen, "tenant: must be a string"), true;
  if ((v = cJSON_GetObjectItemCaseSensitive(c, "headers"))) {
    if (!cJSON_IsObject(v)) return snprintf(err, errlen, "headers: must be an object of strings"), true;
    for (const cJSON *h = v->child; h; h = h->next) {
      if (!cJSON_IsString(h))
        return snprintf(err, errlen, "headers.%s: must be a string", h->string), true;
      sl_trim_blanks(h->valuestring); /* as the gateway's HTTP layer reads it */
    }
  }
  if (bad_count(c, "tenant_rpm")) return snprintf(err, errlen, "tenant_rpm: must be a whole number from 0"), true;
  if (bad_count(c, "prompt_tokens"))
    return snprintf(err, errlen, "prompt_tokens: must be a whole number from 0"), true;
  return false;
}

/* Runs one case; returns 0 pass, 1 mismatch, -1 unreadable (reason in err). */
static int run_case(sl_policy_t *p, const cJSON *c, diff_t *df, sl_decision_t *d, char *err,
                    size_t errlen) {
  static const char *const keys[] = {"name", "request", "text", "tenant", "headers", "tenant_rpm",
                                     "prompt_tokens", "assume", "expect", "description", NULL};
  for (const cJSON *it = c->child; it; it = it->next) {
    bool ok = false;
    for (const char *const *k = keys; *k; k++) ok |= !strcmp(*k, it->string);
    if (!ok) return snprintf(err, errlen, "unknown key \"%s\"", it->string), -1;
  }
  if (case_fields_bad(c, err, errlen)) return -1;
  const cJSON *req = cJSON_GetObjectItemCaseSensitive(c, "request");
  const cJSON *text = cJSON_GetObjectItemCaseSensitive(c, "text");
  const cJSON *expect = cJSON_GetObjectItemCaseSensitive(c, "expect");
  if (cJSON_IsObject(expect) && !expect->child)
    return snprintf(err, errlen, "expect: empty; name what the case expects (rule, backend, ...)"), -1;
  if (!cJSON_IsObject(expect))
    return snprintf(err, errlen, "expect: required, an object with rule/backend/..."), -1;
  if (!!req == !!text) return snprintf(err, errlen, "give exactly one of request or text"), -1;
  if (req && !cJSON_IsObject(req)) return snprintf(err, errlen, "request: must be an object"), -1;
  if (text && !cJSON_IsString(text)) return snprintf(err, errlen, "text: must be a string"), -1;

  cJSON *wrap = NULL;
  const cJSON *src = req;
  if (text) {
    wrap = cJSON_CreateObject();
    cJSON_AddStringToObject(wrap, "text", text->valuestring);
    src = wrap;
  }
  char *body = cJSON_PrintUnformatted(src);
  cJSON_Delete(wrap);
  if (!body) return snprintf(err, errlen, "out of memory"), -1;
  sl_cli_input_t in;
  char derr[300];
  int rc = sl_cli_input_decode(body, strlen(body), &in, derr, sizeof derr);
  free(body);
  if (rc) return snprintf(err, errlen, "request: %s", derr), -1;

  case_headers_t hc = {cJSON_GetObjectItemCaseSensitive(c, "headers")};
  const cJSON *v;
  sl_req_meta_t meta = {.header = case_header, .header_ctx = &hc};
  if ((v = cJSON_GetObjectItemCaseSensitive(c, "tenant")) && cJSON_IsString(v))
    meta.tenant = v->valuestring;
  if ((v = cJSON_GetObjectItemCaseSensitive(c, "tenant_rpm")) && cJSON_IsNumber(v))
    meta.tenant_rpm = v->valueint;
  if ((v = cJSON_GetObjectItemCaseSensitive(c, "prompt_tokens")) && cJSON_IsNumber(v))
    meta.prompt_tokens = v->valueint;

  sl_class_t cls;
  sl_cli_input_classify(sl_policy_router(p), &in, case_header(&hc, "x-sluice-data-class", 0), &cls);
  sl_entity_t *saved = cls.entities;
  size_t saved_n = cls.n_entities;
  sl_entity_t extra[32];
  const cJSON *assume = cJSON_GetObjectItemCaseSensitive(c, "assume");
  if (assume && apply_assume(sl_policy_router(p), assume, &cls, extra, 32, err, errlen)) {
    cls.entities = saved;
    cls.n_entities = saved_n;
    sl_class_free(&cls);
    sl_cli_input_free(&in);
    return -1;
  }
  sl_policy_decide(p, &in.req, &cls, &meta, d);
  /* as the gateway serves it: no step that needs a redaction it cannot make,
   * no local step for tools or a JSON response_format */
  bool unredactable = sl_policy_redaction(d, &in.req, &cls) == SL_REDACTION_IMPOSSIBLE;
  if (unredactable) sl_policy_drop_unredactable(d);
  sl_policy_drop_unservable(d, &in.req, unredactable);

  char want[300], got[1200];
  int bad = 0;
  for (const cJSON *e = expect->child; e && !bad; e = e->next) {
    const char *k = e->string;
    if (!strcmp(k, "rule")) {
      if (!cJSON_IsString(e) && !cJSON_IsNull(e)) bad = 1;
      const char *w = cJSON_IsString(e) ? e->valuestring : NULL;
      if (!bad && (w ? !d->rule || strcmp(w, d->rule) : d->rule != NULL)) {
        quote(want, sizeof want, w);
        quote(got, sizeof got, d->rule);
        diff_add(df, "rule", want, got);
      }
    } else if (!strcmp(k, "backend")) {
      if (!cJSON_IsString(e) && !cJSON_IsNull(e)) bad = 1;
      else if (cJSON_IsNull(e) ? d->n_steps != 0 : !d->n_steps || !step_matches(&d->steps[0], e->valuestring)) {
        quote(want, sizeof want, cJSON_IsString(e) ? e->valuestring : NULL);
        char s[300] = "";
        if (d->n_steps) sl_policy_step_name(&d->steps[0], s, sizeof s);
        quote(got, sizeof got, d->n_steps ? s : NULL);
        if (d->block_status) snprintf(got + strlen(got), sizeof got - strlen(got), " (blocked %d)", d->block_status);
        diff_add(df, "backend", want, got);
      }
    } else if (!strcmp(k, "backends")) {
      if (!cJSON_IsArray(e)) bad = 1;
      else {
        bool same = (size_t)cJSON_GetArraySize(e) == d->n_steps;
        size_t i = 0;
        for (const cJSON *s = e->child; s && same; s = s->next, i++)
          same = cJSON_IsString(s) && step_matches(&d->steps[i], s->valuestring);
        if (!same) {
          char *w = cJSON_PrintUnformatted(e);
          steps_text(d, got, sizeof got);
          diff_add(df, "backends", w ? w : "?", got);
          free(w);
        }
      }
    } else if (!strcmp(k, "blocked") || !strcmp(k, "egress")) {
      if (!cJSON_IsBool(e)) bad = 1;
      else {
        bool g = false;
        if (!strcmp(k, "blocked")) g = d->block_status != 0;
        else
          for (size_t i = 0; i < d->n_steps; i++) g |= d->steps[i].backend->location == SL_LOC_EXTERNAL;
        if (g != cJSON_IsTrue(e)) {
          snprintf(got, sizeof got, "%s%s%s", g ? "true" : "false", d->block_status ? " - " : "",
                   d->block_status ? d->reason : "");
          diff_add(df, k, cJSON_IsTrue(e) ? "true" : "false", got);
        }
      }
    } else if (!strcmp(k, "status")) {
      if (!cJSON_IsNumber(e)) bad = 1;
      else if (e->valueint != d->block_status) {
        snprintf(want, sizeof want, "%d", e->valueint);
        snprintf(got, sizeof got, "%d", d->block_status);
        diff_add(df, "status", want, got);
      }
    } else if (!strcmp(k, "level")) {
      sl_level_t lv;
      if (!cJSON_IsString(e) || sl_level_parse(e->valuestring, &lv)) bad = 1;
      else if (lv != d->level) {
        quote(want, sizeof want, e->valuestring);
        quote(got, sizeof got, sl_level_name(d->level));
        diff_add(df, "level", want, got);
      }
    } else if (!strcmp(k, "redact")) {
      if (!cJSON_IsArray(e)) bad = 1;
      else {
        bool same = (size_t)cJSON_GetArraySize(e) == d->n_redact;
        size_t i = 0;
        for (const cJSON *s = e->child; s && same; s = s->next, i++)
          same = cJSON_IsString(s) && !strcmp(s->valuestring, d->redact[i]);
        if (!same) {
          char *w = cJSON_PrintUnformatted(e);
          size_t n = (size_t)snprintf(got, sizeof got, "[");
          for (size_t j = 0; j < d->n_redact && n < sizeof got; j++)
            n += (size_t)snprintf(got + n, sizeof got - n, "%s\"%s\"", j ? ", " : "", d->redact[j]);
          if (n < sizeof got) snprintf(got + n, sizeof got - n, "]");
          diff_add(df, "redact", w ? w : "?", got);
          free(w);
        }
      }
    } else if (!strcmp(k, "never_leaves")) {
      if (!cJSON_IsArray(e)) bad = 1;
      else {
        const char *leaked = NULL;
        int lrc = leaks(d, &in.req, &cls, e, &leaked);
        if (lrc < 0) {
          snprintf(err, errlen, "expect.never_leaves: cannot redact (%s)", sl_strerror(lrc));
          bad = -1;
        } else if (leaked) {
          snprintf(want, sizeof want, "\"%.200s\" kept inside", leaked);
          snprintf(got, sizeof got, "sent to an external backend%s",
                   d->n_redact ? " (after redaction)" : "");
          diff_add(df, "leaves", want, got);
        }
      }
    } else {
      snprintf(err, errlen, "expect: unknown key \"%s\"", k);
      bad = -1;
    }
    if (bad == 1) snprintf(err, errlen, "expect.%s: wrong type", k);
  }
  cls.entities = saved;
  cls.n_entities = saved_n;
  sl_class_free(&cls);
  sl_cli_input_free(&in);
  if (bad) return -1;
  return df->mismatches ? 1 : 0;
}

static int cmd_test(const char *file, const char *cases, bool verbose) {
  sl_policy_t *p;
  sl_jerr_t jerr = {{0}};
  if (sl_policy_load(file, &p, &jerr)) {
    fprintf(stderr, "%s: %s\n", file, jerr.msg);
    return 1;
  }
  const char *why = NULL;
  FILE *f = sl_fopen_regular(cases, &why);
  if (!f) {
    fprintf(stderr, "%s: %s\n", cases, why);
    sl_policy_unref(p);
    return 1;
  }
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  long lineno = 0, pass = 0, fail = 0, broken = 0;
  bool too_long;
  while ((n = sl_cli_read_line(f, &line, &cap, 16u << 20, &too_long)) >= 0) {
    lineno++;
    size_t skip = strspn(line, " \t\r\n");
    if ((size_t)n == skip || line[skip] == '#') continue; /* blank and comment lines */
    if (too_long) {
      broken++;
      printf("ERROR %s:%ld: the case line exceeds 16 MiB\n", cases, lineno);
      continue;
    }
    char err[400] = "";
    /* read as a request body is: UTF-8, no NUL, one member of a name */
    cJSON *c = sl_codec_parse_body(line, (size_t)n, err, sizeof err);
    const cJSON *nm = c ? cJSON_GetObjectItemCaseSensitive(c, "name") : NULL;
    char label[200];
    if (cJSON_IsString(nm)) snprintf(label, sizeof label, "%s:%ld \"%s\"", cases, lineno, nm->valuestring);
    else snprintf(label, sizeof label, "%s:%ld", cases, lineno);
    diff_t df = {.n = 0};
    df.buf[0] = '\0';
    static sl_decision_t d;
    int r = !c ? -1
            : !cJSON_IsObject(c) ? (snprintf(err, sizeof err, "not a JSON object"), -1)
                                 : run_case(p, c, &df, &d, err, sizeof err);
    if (r < 0) {
      broken++;
      /* the parser speaks of a request body; here it is the case's line */
      bool body = !c && !strncmp(err, "request body ", 13);
      printf("ERROR %s: %s%s\n", label, body ? "the case line " : "", body ? err + 13 : err);
    } else if (r > 0) {
      fail++;
      printf("FAIL  %s\n%s    decision: %s\n", label, df.buf, d.reason);
    } else {
      pass++;
      if (verbose) printf("ok    %s\n", label);
    }
    cJSON_Delete(c);
  }
  if (n == -2) { /* a case that cannot be read is a case not run */
    broken++;
    printf("ERROR %s: cannot read past line %ld: %s\n", cases, lineno, strerror(errno));
  }
  free(line);
  fclose(f);
  sl_policy_unref(p);
  printf("%ld passed, %ld failed%s", pass, fail, broken ? ", " : "\n");
  if (broken) printf("%ld unreadable\n", broken);
  if (pass + fail + broken == 0) {
    fprintf(stderr, "%s: no cases\n", cases);
    return 1;
  }
  return fail || broken ? 1 : 0;
}

int sl_cli_policy(int argc, char **argv) {
  for (int i = 0; i < argc; i++)
    if (sl_cli_is_help(argv[i])) return usage(stdout);
  if (argc == 2 && !strcmp(argv[0], "check")) return cmd_check(argv[1]);
  if ((argc == 3 || argc == 4) && !strcmp(argv[0], "test")) {
    bool verbose = argc == 4 && (!strcmp(argv[3], "--verbose") || !strcmp(argv[3], "-v"));
    if (argc == 4 && !verbose) return usage(stderr);
    return cmd_test(argv[1], argv[2], verbose);
  }
  return usage(stderr);
}
