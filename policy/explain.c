/* The `classify` / `explain` JSON for one decision (INTERFACE.md shape), plus,
 * when verbose, an "explain" object: which rule matched, why each earlier rule
 * did not, the keep-inside level and the steps it removed. It never contains
 * entity values, only types and offsets. */
#include "policy_int.h"
#include "redact.h"
#include "sl_err.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cJSON *steps_json(const sl_route_step_t *steps, size_t n) {
  cJSON *a = cJSON_CreateArray();
  for (size_t i = 0; a && i < n; i++) {
    char name[300];
    sl_policy_step_name(&steps[i], name, sizeof name);
    cJSON_AddItemToArray(a, cJSON_CreateString(name));
  }
  return a;
}

static cJSON *str_list(char *const *l, size_t n) {
  cJSON *a = cJSON_CreateArray();
  for (size_t i = 0; a && i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateString(l[i]));
  return a;
}

/* One line on why rule r did not match: the failing key, its threshold and the
 * request's value where the decision recorded it. */
static void why_not_text(const sl__rule_t *r, size_t ri, sl_when_key_t k, const sl_decision_t *d,
                         const sl_class_t *cls, const sl_chat_req_t *req, char *out, size_t n) {
  const sl__when_t *w = &r->when;
  switch (k) {
  case SL_WHEN_SENSITIVITY:
    snprintf(out, n, "sensitivity_at_least %s: request is %s",
             sl_level_name(w->sensitivity_at_least), sl_level_name(d->level));
    break;
  case SL_WHEN_ENTITY_TYPES: {
    /* what was found instead: the distinct types, in the order first seen */
    int k = snprintf(out, n, "entity_types_any: none of the %zu listed types found (found: ",
                     w->n_entity_types);
    size_t listed = 0;
    for (size_t i = 0; cls && i < cls->n_entities && k > 0 && (size_t)k < n; i++) {
      bool seen = false;
      for (size_t j = 0; j < i && !seen; j++)
        seen = !strcmp(cls->entities[j].type, cls->entities[i].type);
      if (!seen)
        k += snprintf(out + k, n - (size_t)k, "%s%s", listed++ ? ", " : "", cls->entities[i].type);
    }
    if (k > 0 && (size_t)k < n) snprintf(out + k, n - (size_t)k, "%s)", listed ? "" : "none");
    break;
  }
  case SL_WHEN_DIFFICULTY_AT_LEAST:
    snprintf(out, n, "difficulty_at_least %.3g: score %.3f", w->difficulty_at_least,
             cls ? cls->difficulty : 0.0);
    break;
  case SL_WHEN_DIFFICULTY_BELOW:
    snprintf(out, n, "difficulty_below %.3g: score %.3f", w->difficulty_below,
             cls ? cls->difficulty : 0.0);
    break;
  case SL_WHEN_TENANT:
    if (d->tenant[0])
      snprintf(out, n, "tenant: \"%.80s\" is not one of the rule's tenants", d->tenant);
    else
      snprintf(out, n, "tenant: the request has none (no key with a tenant)");
    break;
  case SL_WHEN_MODEL:
    snprintf(out, n, "model: requested \"%.80s\" is not one of the rule's models",
             req && req->model ? req->model : "auto");
    break;
  case SL_WHEN_HEADER: {
    /* the first of the rule's headers the request lacks, with the value(s) it wants */
    size_t i = d->why_header[ri];
    const sl__header_cond_t *h = &w->headers[i < w->n_headers ? i : 0];
    int k = snprintf(out, n, "header: the request lacks %.60s: ", h->name);
    for (size_t v = 0; v < h->n_values && k > 0 && (size_t)k < n; v++)
      k += snprintf(out + k, n - (size_t)k, "%s\"%.60s\"", v ? "|" : "", h->values[v]);
    break;
  }
  case SL_WHEN_PROMPT_TOKENS:
    snprintf(out, n, "prompt_tokens_at_least %ld: request has %d", w->prompt_tokens_at_least,
             d->prompt_tokens);
    break;
  case SL_WHEN_TENANT_RPM:
    snprintf(out, n, "tenant_rpm_at_least %ld: tenant rate %d/min", w->tenant_rpm_at_least,
             d->tenant_rpm);
    break;
  case SL_WHEN_NOT_TRIED: snprintf(out, n, "not tried: an earlier rule matched"); break;
  case SL_WHEN_OK: snprintf(out, n, "matched"); break;
  }
}

/* Whether the rule's redaction can be made for this request, as the gateway
 * would find when it tries: a value where sluice cannot rewrite it (a stop
 * string, user, a tool definition...) or too many values make every step that
 * needs the redacted copy be skipped, and the request is refused (451) if no
 * other step serves it. */
int sl_policy_redaction(const sl_decision_t *d, const sl_chat_req_t *req, const sl_class_t *cls) {
  bool needed = false;
  for (size_t i = 0; i < d->n_steps && !needed; i++) needed = sl_policy_step_needs_redaction(d, &d->steps[i]);
  if (!needed || !req || !cls) return SL_REDACTION_NONE;
  sl_chat_req_t red;
  sl_redact_map_t *map = NULL;
  int rc = sl_redact_request(req, cls, (const char *const *)d->redact, d->n_redact, &red, &map);
  if (!rc) {
    sl_chat_req_free(&red);
    sl_redact_map_free(map);
    return SL_REDACTION_POSSIBLE;
  }
  return rc == SL_EUNSUPPORTED || rc == SL_ETOOBIG ? SL_REDACTION_IMPOSSIBLE : SL_REDACTION_NONE;
}

void sl_policy_drop_unredactable(sl_decision_t *d) {
  size_t k = 0;
  for (size_t i = 0; i < d->n_steps; i++)
    if (!sl_policy_step_needs_redaction(d, &d->steps[i])) d->steps[k++] = d->steps[i];
  d->n_steps = k;
  if (!k && !d->block_status) {
    d->block_status = 451;
    snprintf(d->reason, sizeof d->reason,
             "redaction_impossible: the rule redacts a value where sluice cannot rewrite it; nothing is sent");
  }
}

void sl_policy_drop_unservable(sl_decision_t *d, const sl_chat_req_t *req, bool unredactable) {
  if (!req || !sl_chat_wants_tools_or_json(req)) return;
  size_t k = 0;
  for (size_t i = 0; i < d->n_steps; i++)
    if (d->steps[i].backend->kind != SL_BK_LOCAL) d->steps[k++] = d->steps[i];
  if (k == d->n_steps) return;
  d->n_steps = k;
  if (!k && !d->block_status) {
    d->block_status = unredactable ? 451 : 400;
    snprintf(d->reason, sizeof d->reason, "%s",
             unredactable ? "redaction_impossible: the rule redacts a value where sluice cannot rewrite it, "
                            "and the local engine cannot serve tools or a JSON response_format; nothing is sent"
                          : "the request asks for tools or a JSON response_format, which no backend of the "
                            "route can give (the local engine does neither)");
  }
}

/* Local steps pass over a request with tools or a JSON response_format (the
 * engine can do neither): "cannot_serve" names them; with every step passed
 * over, for that or for a redaction it cannot make, the gateway answers an
 * error ("refused": 400, or 451 when a redaction was the reason for any). */
static void unserved(cJSON *route, const sl_decision_t *d, const sl_chat_req_t *req, bool impossible) {
  size_t passed = 0, local = 0;
  cJSON *names = NULL;
  for (size_t i = 0; i < d->n_steps; i++) {
    bool red = impossible && sl_policy_step_needs_redaction(d, &d->steps[i]);
    bool cannot = !red && req && d->steps[i].backend->kind == SL_BK_LOCAL && sl_chat_wants_tools_or_json(req);
    if (cannot) {
      char name[300];
      sl_policy_step_name(&d->steps[i], name, sizeof name);
      if (!names) names = cJSON_AddArrayToObject(route, "cannot_serve");
      cJSON_AddItemToArray(names, cJSON_CreateString(name));
      local++;
    }
    passed += red || cannot;
  }
  if (local && d->n_steps && passed == d->n_steps && !d->block_status)
    cJSON_AddNumberToObject(route, "refused", local == passed ? 400 : 451);
}

/* r: sl_policy_redaction's answer for the request. */
static void redaction_outcome(cJSON *route, const sl_decision_t *d, int r) {
  if (r == SL_REDACTION_POSSIBLE) cJSON_AddStringToObject(route, "redaction", "possible");
  if (r != SL_REDACTION_IMPOSSIBLE) return;
  cJSON_AddStringToObject(route, "redaction", "impossible");
  cJSON *skip = cJSON_AddArrayToObject(route, "skipped");
  size_t needing = 0;
  for (size_t i = 0; i < d->n_steps; i++)
    if (sl_policy_step_needs_redaction(d, &d->steps[i])) {
      char name[300];
      sl_policy_step_name(&d->steps[i], name, sizeof name);
      cJSON_AddItemToArray(skip, cJSON_CreateString(name));
      needing++;
    }
  if (needing == d->n_steps) cJSON_AddNumberToObject(route, "refused", 451);
}

/* The largest terms of the difficulty score (explain): what made a request
 * easy or hard, as {"feature", "contribution"} by size, the logistic
 * function of all of them summed being the score. */
#define EXPLAIN_TERMS 6
static void difficulty_terms(cJSON *diff, const sl_router_t *r, const sl_chat_req_t *req) {
  double t[64];
  size_t n = sl_router_difficulty_terms(r, req, t, 64);
  if (n > 64) n = 64;
  if (!n) return;
  cJSON *arr = cJSON_AddArrayToObject(diff, "terms");
  bool used[64] = {false};
  for (int k = 0; k < EXPLAIN_TERMS; k++) {
    size_t best = n;
    for (size_t i = 0; i < n; i++)
      if (!used[i] && t[i] != 0 && (best == n || fabs(t[i]) > fabs(t[best]))) best = i;
    if (best == n) break;
    used[best] = true;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "feature", sl_router_difficulty_feature_name(best));
    cJSON_AddNumberToObject(o, "contribution", round(t[best] * 1000.0) / 1000.0);
    cJSON_AddItemToArray(arr, o);
  }
}

char *sl_policy_explain_json(const sl_policy_t *p, const sl_chat_req_t *req,
                             const sl_class_t *cls, const sl_decision_t *d, bool verbose) {
  cJSON *root = cJSON_CreateObject();
  if (!root) return NULL;

  cJSON *sens = cJSON_AddObjectToObject(root, "sensitivity");
  cJSON_AddStringToObject(sens, "level", sl_level_name(d->level));
  cJSON *ents = cJSON_AddArrayToObject(sens, "entities");
  for (size_t i = 0; cls && i < cls->n_entities; i++) {
    const sl_entity_t *e = &cls->entities[i];
    cJSON *o = cJSON_CreateObject();
    char type[sizeof e->type + 1];
    memcpy(type, e->type, sizeof e->type);
    type[sizeof e->type] = '\0';
    cJSON_AddStringToObject(o, "type", type);
    cJSON_AddNumberToObject(o, "start", e->start);
    cJSON_AddNumberToObject(o, "end", e->end);
    cJSON_AddStringToObject(o, "detector", e->detector ? e->detector : "");
    if (verbose) cJSON_AddStringToObject(o, "level", sl_level_name(e->level));
    cJSON_AddItemToArray(ents, o);
  }
  if (d->class_error) cJSON_AddBoolToObject(sens, "error", true);

  cJSON *diff = cJSON_AddObjectToObject(root, "difficulty");
  double score = cls && isfinite(cls->difficulty) ? cls->difficulty : 0.0;
  cJSON_AddNumberToObject(diff, "score", round(score * 1000.0) / 1000.0);
  cJSON_AddStringToObject(diff, "label",
                          cls && cls->difficulty_label ? cls->difficulty_label : "unknown");
  if (verbose && cls && !d->class_error) difficulty_terms(diff, sl_policy_router(p), req);

  cJSON *route = cJSON_AddObjectToObject(root, "route");
  if (d->rule) cJSON_AddStringToObject(route, "rule", d->rule);
  else cJSON_AddNullToObject(route, "rule");
  cJSON_AddItemToObject(route, "backends", steps_json(d->steps, d->n_steps));
  /* egress: the chain may leave the network (some step the gateway would send
   * to is external: not one skipped for a redaction it cannot make). */
  int redaction = sl_policy_redaction(d, req, cls); /* (one try of the redaction for both) */
  bool impossible = redaction == SL_REDACTION_IMPOSSIBLE, egress = false;
  for (size_t i = 0; i < d->n_steps; i++)
    egress |= d->steps[i].backend->location == SL_LOC_EXTERNAL &&
              !(impossible && sl_policy_step_needs_redaction(d, &d->steps[i]));
  cJSON_AddBoolToObject(route, "egress", egress);
  if (d->block_status) {
    cJSON_AddNumberToObject(route, "blocked", d->block_status);
    cJSON_AddStringToObject(route, "reason", d->reason);
  }
  if (d->n_redact) {
    cJSON_AddItemToObject(route, "redact", str_list((char *const *)d->redact, d->n_redact));
    cJSON_AddBoolToObject(route, "restore", d->restore);
    redaction_outcome(route, d, redaction);
  }
  unserved(route, d, req, impossible);

  if (verbose) {
    cJSON *ex = cJSON_AddObjectToObject(root, "explain");
    cJSON_AddStringToObject(ex, "policy_version", sl_policy_version(p));
    if (d->rule) cJSON_AddStringToObject(ex, "rule", d->rule);
    else cJSON_AddNullToObject(ex, "rule");
    cJSON_AddNumberToObject(ex, "rule_index", d->rule_index);
    cJSON_AddStringToObject(ex, "reason", d->reason);
    cJSON *rules = cJSON_AddArrayToObject(ex, "rules");
    for (size_t i = 0; i < p->n_rules && i < d->n_rules; i++) {
      cJSON *o = cJSON_CreateObject();
      cJSON_AddStringToObject(o, "name", p->rules[i].name);
      sl_when_key_t k = (sl_when_key_t)d->why_not[i];
      cJSON_AddBoolToObject(o, "matched", (int)i == d->rule_index);
      if ((int)i != d->rule_index) {
        char why[256];
        why_not_text(&p->rules[i], i, k, d, cls, req, why, sizeof why);
        cJSON_AddStringToObject(o, "why_not", why);
      }
      cJSON_AddItemToArray(rules, o);
    }
    cJSON *ki = cJSON_AddObjectToObject(ex, "keep_inside");
    if (p->has_keep_inside) {
      cJSON_AddStringToObject(ki, "level", sl_level_name(p->keep_inside));
      cJSON_AddStringToObject(ki, "rule", p->rules[p->keep_inside_rule].name);
    } else {
      cJSON_AddNullToObject(ki, "level");
    }
    if (p->n_keep_types) {
      cJSON *kt = cJSON_AddArrayToObject(ki, "entity_types");
      for (size_t i = 0; i < p->n_keep_types; i++)
        cJSON_AddItemToArray(kt, cJSON_CreateString(p->keep_types[i]));
    }
    cJSON_AddBoolToObject(ki, "applies", d->keep_inside);
    cJSON_AddItemToObject(ex, "removed", steps_json(d->removed, d->n_removed));
    if (d->class_error) cJSON_AddBoolToObject(ex, "classification_error", true);
    cJSON_AddStringToObject(ex, "requested_model", req && req->model ? req->model : "auto");
    cJSON_AddBoolToObject(ex, "model_pinned", d->model_pinned);
    cJSON_AddNumberToObject(ex, "prompt_tokens", d->prompt_tokens);
    cJSON_AddNumberToObject(ex, "tenant_rpm", d->tenant_rpm);
  }
  char *s = cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  return s;
}
