/* The policy module's own view of a compiled policy: what rules.c builds from
 * the config document and what policy.c and explain.c evaluate. Not for other
 * modules (they use policy.h). */
#ifndef SL_POLICY_INT_H
#define SL_POLICY_INT_H

#include "policy.h"

#include <stdatomic.h>

/* Which `when` key failed (or SL_WHEN_OK). Recorded per rule in a decision so
 * that explain can say why an earlier rule did not match. */
typedef enum {
  SL_WHEN_OK = 0,
  SL_WHEN_SENSITIVITY,
  SL_WHEN_ENTITY_TYPES,
  SL_WHEN_DIFFICULTY_AT_LEAST,
  SL_WHEN_DIFFICULTY_BELOW,
  SL_WHEN_TENANT,
  SL_WHEN_MODEL,
  SL_WHEN_HEADER,
  SL_WHEN_PROMPT_TOKENS,
  SL_WHEN_TENANT_RPM,
  SL_WHEN_NOT_TRIED, /* after the matching rule */
} sl_when_key_t;

const char *sl__when_key_name(sl_when_key_t k);

typedef struct {
  char *name;   /* lower-cased header name */
  char **values; /* any of these (exact, case-sensitive) */
  size_t n_values;
} sl__header_cond_t;

typedef struct {
  bool has_sensitivity;
  sl_level_t sensitivity_at_least;
  char **entity_types_any;
  size_t n_entity_types;
  bool has_difficulty_at_least;
  double difficulty_at_least;
  bool has_difficulty_below;
  double difficulty_below;
  char **tenants;
  size_t n_tenants;
  char **models;
  size_t n_models;
  sl__header_cond_t *headers;
  size_t n_headers;
  long prompt_tokens_at_least; /* -1: not given */
  long tenant_rpm_at_least;    /* -1: not given */
} sl__when_t;

typedef struct {
  char *name;
  sl__when_t when;
  sl_route_step_t steps[SL_POLICY_MAX_CHAIN];
  char *step_names[SL_POLICY_MAX_CHAIN]; /* as written: "openai/gpt-4o", "local" */
  size_t n_steps;
  bool reject;                           /* on_unavailable: "reject" */
  char **redact;
  size_t n_redact;
  bool restore;
} sl__rule_t;

#define SL_POLICY_MAX_KEEP_TYPES 64

struct sl_policy {
  atomic_int refs;
  sl_config_t *cfg;
  sl_router_t *router;
  sl__rule_t *rules;
  size_t n_rules;
  bool has_keep_inside;       /* some rule has on_unavailable reject + sensitivity_at_least */
  sl_level_t keep_inside;     /* the lowest such level */
  int keep_inside_rule;       /* index of the rule that set it */
  /* Entity types of reject rules' entity_types_any: a request carrying one of
   * them is keep-inside too, whatever its level (pointers into rules). */
  const char *keep_types[SL_POLICY_MAX_KEEP_TYPES];
  int keep_type_rule[SL_POLICY_MAX_KEEP_TYPES];
  size_t n_keep_types;
  /* the config's digest, or with a difficulty-weights file, the SHA-256 of the
   * config's digest and that file's bytes (new weights change decisions) */
  char version[65];
};

/* rules.c: parses $.detectors, $.router, $.redaction and $.rules of cfg->root
 * into p (router options are returned for sl_router_create). */
typedef struct {
  sl_router_opts_t opts;
  sl_custom_detector_t *custom;
  char **custom_types;
  char **custom_patterns;
  char **level_types;
  sl_level_t *level_values;
  char *weights_path;
} sl__router_spec_t;

/* router_cache.c: a router for these settings, shared with other policies
 * compiled from identical detector settings; release with _put. */
sl_router_t *sl__router_cache_get(const sl__router_spec_t *spec, sl_jerr_t *err);
void sl__router_cache_put(sl_router_t *r);

int sl__policy_parse_detectors(const sl_config_t *cfg, sl__router_spec_t *spec, sl_jerr_t *err);
void sl__router_spec_free(sl__router_spec_t *spec);
int sl__policy_parse_rules(sl_policy_t *p, const sl__router_spec_t *spec, sl_jerr_t *err);
void sl__rules_free(sl__rule_t *rules, size_t n);


/* Refuses keys of `obj` not in `allowed` (NULL-terminated), naming the path:
 * a typo in a policy file must not silently do nothing. (config.c) */
int sl__check_keys(const cJSON *obj, const char *path, const char *const *allowed,
                   sl_jerr_t *err);

#endif
