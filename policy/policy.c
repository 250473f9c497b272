/* The compiled policy's lifetime (load, compile, reference count) and the
 * decision: first rule whose `when` holds, its fallback chain, then the
 * keep-inside filter that makes the policy fail closed. */
#include "sl_file.h"
#include "policy_int.h"
#include "sl_buf.h"
#include "sl_err.h"

#include <openssl/sha.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *sl__when_key_name(sl_when_key_t k) {
  switch (k) {
  case SL_WHEN_OK: return "";
  case SL_WHEN_SENSITIVITY: return "sensitivity_at_least";
  case SL_WHEN_ENTITY_TYPES: return "entity_types_any";
  case SL_WHEN_DIFFICULTY_AT_LEAST: return "difficulty_at_least";
  case SL_WHEN_DIFFICULTY_BELOW: return "difficulty_below";
  case SL_WHEN_TENANT: return "tenant";
  case SL_WHEN_MODEL: return "model";
  case SL_WHEN_HEADER: return "header";
  case SL_WHEN_PROMPT_TOKENS: return "prompt_tokens_at_least";
  case SL_WHEN_TENANT_RPM: return "tenant_rpm_at_least";
  case SL_WHEN_NOT_TRIED: return "not tried";
  }
  return "?";
}

static void policy_free(sl_policy_t *p) {
  if (!p) return;
  sl__rules_free(p->rules, p->n_rules);
  sl__router_cache_put(p->router);
  sl_config_free(p->cfg);
  free(p);
}

/* version: the config's digest; with a difficulty-weights file, the SHA-256 of
 * that digest and the file's bytes. */
static int set_version(sl_policy_t *p, const char *weights, sl_jerr_t *err) {
  memcpy(p->version, p->cfg->digest_hex, sizeof p->version);
  if (!weights) return 0;
  sl_buf_t b;
  sl_buf_init(&b, 64u << 20);
  int rc = sl_buf_append(&b, p->cfg->digest, 32);
  const char *why;
  FILE *f = sl_fopen_regular(weights, &why);
  char chunk[8192];
  size_t n;
  while (!rc && f && (n = fread(chunk, 1, sizeof chunk, f)) > 0) rc = sl_buf_append(&b, chunk, n);
  if (!f || ferror(f)) rc = SL_EIO;
  if (f) fclose(f);
  if (!rc) {
    unsigned char md[32];
    SHA256((const unsigned char *)b.data, b.len, md);
    for (int i = 0; i < 32; i++) snprintf(p->version + 2 * i, 3, "%02x", md[i]);
  }
  sl_buf_free(&b);
  if (rc) sl_jerr_set(err, "$.router.difficulty_weights", "cannot read %s", weights);
  return rc;
}

int sl_policy_compile(sl_config_t *cfg, sl_policy_t **out, sl_jerr_t *err) {
  *out = NULL;
  if (!cfg || !cfg->root) {
    sl_config_free(cfg);
    return sl_jerr_set(err, "$", "no configuration"), SL_EINVAL;
  }
  sl_policy_t *p = calloc(1, sizeof *p);
  if (!p) {
    sl_config_free(cfg);
    return SL_ENOMEM;
  }
  atomic_init(&p->refs, 1);
  p->cfg = cfg;
  p->keep_inside_rule = -1;
  sl__router_spec_t spec;
  int rc = sl__policy_parse_detectors(cfg, &spec, err);
  /* Rules first: their errors are the likelier ones, and they are cheap. */
  if (!rc) rc = sl__policy_parse_rules(p, &spec, err);
  if (!rc) {
    p->router = sl__router_cache_get(&spec, err);
    if (!p->router) rc = SL_EPARSE;
  }
  if (!rc) rc = set_version(p, spec.opts.difficulty_weights, err);
  sl__router_spec_free(&spec);
  if (rc) {
    if (rc == SL_ENOMEM) sl_jerr_set(err, "$", "out of memory");
    policy_free(p);
    return rc;
  }
  *out = p;
  return 0;
}

int sl_policy_load(const char *path, sl_policy_t **out, sl_jerr_t *err) {
  *out = NULL;
  sl_config_t *cfg;
  int rc = sl_config_load(path, &cfg, err);
  if (rc) return rc;
  return sl_policy_compile(cfg, out, err);
}

sl_policy_t *sl_policy_ref(sl_policy_t *p) {
  if (p) atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
  return p;
}

void sl_policy_unref(sl_policy_t *p) {
  if (p && atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) == 1) policy_free(p);
}

const sl_config_t *sl_policy_config(const sl_policy_t *p) { return p->cfg; }
const sl_router_t *sl_policy_router(const sl_policy_t *p) { return p->router; }
const char *sl_policy_version(const sl_policy_t *p) { return p->version; }
size_t sl_policy_n_rules(const sl_policy_t *p) { return p->n_rules; }

const char *sl_policy_rule_name(const sl_policy_t *p, size_t i) {
  return i < p->n_rules ? p->rules[i].name : NULL;
}

bool sl_policy_rule_keeps_inside(const sl_policy_t *p, size_t i) {
  return i < p->n_rules && p->rules[i].reject &&
         (p->rules[i].when.has_sensitivity || p->rules[i].when.n_entity_types);
}

const char *sl_policy_why_not(const sl_decision_t *d, size_t rule) {
  if (rule >= d->n_rules || rule >= SL_POLICY_MAX_RULES) return "";
  return sl__when_key_name((sl_when_key_t)d->why_not[rule]);
}

bool sl_policy_keep_inside_level(const sl_policy_t *p, sl_level_t *level) {
  if (p->has_keep_inside && level) *level = p->keep_inside;
  return p->has_keep_inside;
}

size_t sl_policy_keep_inside_types(const sl_policy_t *p, const char *const **types) {
  if (types) *types = p->keep_types;
  return p->n_keep_types;
}

bool sl_policy_step_needs_redaction(const sl_decision_t *d, const sl_route_step_t *s) {
  return d->n_redact > 0 && s->backend->location == SL_LOC_EXTERNAL;
}

void sl_policy_step_name(const sl_route_step_t *s, char *out, size_t n) {
  if (s->model) snprintf(out, n, "%s/%s", s->backend->name, s->model);
  else snprintf(out, n, "%s", s->backend->name);
}

/* ---- evaluation ---- */

static bool in_list(char *const *l, size_t n, const char *s) {
  if (!s) return false;
  for (size_t i = 0; i < n; i++)
    if (!strcmp(l[i], s)) return true;
  return false;
}

/* Whether a line of the header, or an element of its comma-separated list
 * ("zzz, out", or two lines a proxy joined), is one of the wanted values: a
 * second line, from a client or a proxy, is no less the request's. */
static bool header_holds(const sl__header_cond_t *hc, const sl_req_meta_t *meta) {
  if (!meta || !meta->header) return false;
  for (size_t k = 0;; k++) {
    const char *v = meta->header(meta->header_ctx, hc->name, k);
    if (!v) return false;
    if (in_list(hc->values, hc->n_values, v)) return true;
    for (const char *p = v;; p++) {
      size_t el = strcspn(p, ",");
      size_t a = strspn(p, " \t"), b = el;
      while (b > a && (p[b - 1] == ' ' || p[b - 1] == '\t')) b--;
      for (size_t i = 0; i < hc->n_values; i++)
        if (strlen(hc->values[i]) == b - a && !memcmp(hc->values[i], p + a, b - a)) return true;
      p += el;
      if (!*p) break;
    }
  }
}

static sl_when_key_t eval_when(const sl__when_t *w, sl_level_t level, const sl_class_t *cls,
                               const sl_chat_req_t *req, const sl_req_meta_t *meta,
                               int prompt_tokens, int rpm, unsigned char *bad_header) {
  if (w->has_sensitivity && level < w->sensitivity_at_least) return SL_WHEN_SENSITIVITY;
  if (w->n_entity_types) {
    bool any = false;
    for (size_t i = 0; cls && i < cls->n_entities && !any; i++)
      any = in_list(w->entity_types_any, w->n_entity_types, cls->entities[i].type);
    if (!any) return SL_WHEN_ENTITY_TYPES;
  }
  double diff = cls ? cls->difficulty : 0;
  if (w->has_difficulty_at_least && !(diff >= w->difficulty_at_least))
    return SL_WHEN_DIFFICULTY_AT_LEAST;
  if (w->has_difficulty_below && !(diff < w->difficulty_below)) return SL_WHEN_DIFFICULTY_BELOW;
  if (w->n_tenants && !in_list(w->tenants, w->n_tenants, meta ? meta->tenant : NULL))
    return SL_WHEN_TENANT;
  if (w->n_models && !in_list(w->models, w->n_models, req ? req->model : NULL))
    return SL_WHEN_MODEL;
  for (size_t i = 0; i < w->n_headers; i++)
    if (!header_holds(&w->headers[i], meta)) {
      *bad_header = (unsigned char)i;
      return SL_WHEN_HEADER;
    }
  if (w->prompt_tokens_at_least >= 0 && prompt_tokens < w->prompt_tokens_at_least)
    return SL_WHEN_PROMPT_TOKENS;
  if (w->tenant_rpm_at_least >= 0 && rpm < w->tenant_rpm_at_least) return SL_WHEN_TENANT_RPM;
  return SL_WHEN_OK;
}

static bool is_concrete_model(const char *m) {
  return m && m[0] && strcmp(m, "auto") != 0;
}

/* The first kept-inside entity type the classification holds (0 when it
 * failed: unknowable), or -1. */
static int keep_type_of(const sl_policy_t *p, const sl_class_t *cls) {
  if (!p->n_keep_types) return -1;
  if (!cls || cls->error) return 0;
  for (size_t i = 0; i < cls->n_entities; i++)
    for (size_t k = 0; k < p->n_keep_types; k++)
      if (!strcmp(cls->entities[i].type, p->keep_types[k])) return (int)k;
  return -1;
}

bool sl_policy_keeps_inside(const sl_policy_t *p, const sl_class_t *cls) {
  sl_level_t level = !cls || cls->error ? SL_LEVEL_RESTRICTED : cls->level;
  return (p->has_keep_inside && level >= p->keep_inside) || keep_type_of(p, cls) >= 0;
}

int sl_policy_decide(const sl_policy_t *p, const sl_chat_req_t *req, const sl_class_t *cls,
                     const sl_req_meta_t *meta, sl_decision_t *d) {
  memset(d, 0, sizeof *d);
  d->rule_index = -1;
  d->n_rules = p->n_rules;
  /* Fail closed: no classification, or a failed one, is the highest level. */
  d->class_error = !cls || cls->error;
  d->level = d->class_error ? SL_LEVEL_RESTRICTED : cls->level;
  d->keep_inside = p->has_keep_inside && d->level >= p->keep_inside;
  /* Kept-inside entity types: present, or unknowable because classification failed. */
  int keep_type = -1;
  if (!d->keep_inside && (keep_type = keep_type_of(p, cls)) >= 0) d->keep_inside = true;
  d->prompt_tokens = meta && meta->prompt_tokens > 0 ? meta->prompt_tokens
                     : req                           ? sl_chat_estimate_prompt_tokens(req)
                                                     : 0;
  d->tenant_rpm = meta ? meta->tenant_rpm : 0;
  snprintf(d->tenant, sizeof d->tenant, "%s", meta && meta->tenant ? meta->tenant : "");

  const sl__rule_t *rule = NULL;
  for (size_t i = 0; i < p->n_rules; i++) {
    if (rule) {
      d->why_not[i] = SL_WHEN_NOT_TRIED;
      continue;
    }
    sl_when_key_t why =
        eval_when(&p->rules[i].when, d->level, cls, req, meta, d->prompt_tokens, d->tenant_rpm,
                  &d->why_header[i]);
    d->why_not[i] = (unsigned char)why;
    if (why == SL_WHEN_OK) {
      rule = &p->rules[i];
      d->rule_index = (int)i;
    }
  }
  if (!rule) {
    d->block_status = 451;
    snprintf(d->reason, sizeof d->reason, "no policy rule matches this request (level %s)",
             sl_level_name(d->level));
    return SL_EPOLICY;
  }
  d->rule = rule->name;
  d->reject_on_unavailable = rule->reject;
  d->model_pinned = rule->when.n_models > 0;
  d->redact = (const char *const *)rule->redact;
  d->n_redact = rule->n_redact;
  d->restore = rule->restore;

  /* A failed classification found no entities to redact, so a rule that
   * redacts cannot send the request out either: the values would leave. */
  bool drop_external = d->keep_inside || (d->class_error && rule->n_redact > 0);
  for (size_t s = 0; s < rule->n_steps; s++) {
    if (drop_external && rule->steps[s].backend->location == SL_LOC_EXTERNAL)
      d->removed[d->n_removed++] = rule->steps[s];
    else
      d->steps[d->n_steps++] = rule->steps[s];
  }

  if (d->n_steps == 0) {
    d->block_status = 451;
    if (d->keep_inside && keep_type >= 0)
      snprintf(d->reason, sizeof d->reason,
               "request %s %s, which policy keeps inside the network (rule \"%s\"); rule \"%s\" "
               "routes only to external backends",
               d->class_error ? "may carry (classification failed)" : "carries",
               p->keep_types[keep_type], p->rules[p->keep_type_rule[keep_type]].name, rule->name);
    else if (d->keep_inside)
      snprintf(d->reason, sizeof d->reason,
               "request is %s%s, which policy keeps inside the network (rule \"%s\" rejects at "
               "%s and above); rule \"%s\" routes only to external backends",
               sl_level_name(d->level), d->class_error ? " (classification failed)" : "",
               p->rules[p->keep_inside_rule].name, sl_level_name(p->keep_inside), rule->name);
    else
      snprintf(d->reason, sizeof d->reason,
               "classification failed, so the entities rule \"%s\" must redact are unknown; "
               "it routes only to external backends",
               rule->name);
    return SL_EPOLICY;
  }

  size_t n = 0;
  n += (size_t)snprintf(d->reason + n, sizeof d->reason - n, "rule \"%s\" matched (level %s",
                        rule->name, sl_level_name(d->level));
  if (n < sizeof d->reason && d->class_error)
    n += (size_t)snprintf(d->reason + n, sizeof d->reason - n, ", classification failed");
  if (n < sizeof d->reason && d->keep_inside)
    n += (size_t)snprintf(d->reason + n, sizeof d->reason - n, ", kept inside");
  if (n < sizeof d->reason && d->keep_inside && d->n_removed)
    n += (size_t)snprintf(d->reason + n, sizeof d->reason - n,
                          ": %zu external step(s) removed", d->n_removed);
  else if (n < sizeof d->reason && d->n_removed)
    n += (size_t)snprintf(d->reason + n, sizeof d->reason - n,
                          ", %zu external step(s) removed: cannot redact", d->n_removed);
  if (n < sizeof d->reason && req && is_concrete_model(req->model) && !d->model_pinned)
    n += (size_t)snprintf(d->reason + n, sizeof d->reason - n,
                          ", requested model \"%.60s\" not honoured: no rule matches it",
                          req->model);
  if (n < sizeof d->reason) snprintf(d->reason + n, sizeof d->reason - n, ")");
  return 0;
}
