/* The routing policy: the config file's detectors and ordered rules, compiled
 * once, immutable and shared (reference counted) so that a reload swaps the
 * whole thing atomically while in-flight requests keep the policy they started
 * with. sl_policy_decide() is pure: it never calls a backend. */
#ifndef SL_POLICY_H
#define SL_POLICY_H

#include "config.h"
#include "router.h"
#include "sl_chat.h"
#include "sl_jerr.h"

#include <stdbool.h>
#include <stddef.h>

#define SL_POLICY_MAX_CHAIN 16
#define SL_POLICY_MAX_RULES 256

typedef struct sl_policy sl_policy_t;

/* Loads FILE (sl_config_load), compiles its detectors (sl_router_create) and
 * rules. On error returns SL_E* and err names the JSON path. */
int sl_policy_load(const char *path, sl_policy_t **out, sl_jerr_t *err);
/* Compiles an already-loaded config; the policy takes ownership of cfg (also on error). */
int sl_policy_compile(sl_config_t *cfg, sl_policy_t **out, sl_jerr_t *err);
sl_policy_t *sl_policy_ref(sl_policy_t *p);
void sl_policy_unref(sl_policy_t *p);

const sl_config_t *sl_policy_config(const sl_policy_t *p);
const sl_router_t *sl_policy_router(const sl_policy_t *p);
/* Hex digest of the policy file: recorded in the ledger as the policy version. */
const char *sl_policy_version(const sl_policy_t *p);

/* What the gateway knows about a request besides its body. */
typedef struct {
  const char *tenant;          /* from the API key; NULL without auth */
  const char *key_id;
  /* The nth line (from 0) of a header (case-insensitive name); NULL past the
   * last. A `when.header` condition holds when any line, or any
   * comma-separated element of one, is a wanted value. */
  const char *(*header)(void *ctx, const char *name, size_t nth);
  void *header_ctx;
  int prompt_tokens;           /* estimate */
  int tenant_rpm;              /* the tenant's requests in the last 60 s, this one included */
} sl_req_meta_t;

typedef struct {
  const sl_backend_cfg_t *backend;
  const char *model;           /* upstream model; NULL: the backend's default */
} sl_route_step_t;

typedef struct {
  const char *rule;            /* name of the rule that decided; NULL if none matched */
  int rule_index;              /* -1 if none */
  sl_level_t level;            /* the request's sensitivity level */
  bool keep_inside;            /* level at/above a reject rule's level, or an entity of a
                                  reject rule's entity_types_any: never external */
  bool reject_on_unavailable;  /* the chain ends in a clear error, not in another rule */
  sl_route_step_t steps[SL_POLICY_MAX_CHAIN]; /* fallback chain, external steps already
                                                 removed when keep_inside */
  size_t n_steps;
  size_t n_removed;            /* external steps dropped because of keep_inside */
  const char *const *redact;   /* entity types to redact before egress */
  size_t n_redact;
  bool restore;                /* put redacted values back into the response */
  int block_status;            /* non-zero: refuse with this HTTP status (e.g. 451) */
  char reason[256];            /* one line: why */
  /* For explain (filled by sl_policy_decide; no pointers into the request): */
  sl_route_step_t removed[SL_POLICY_MAX_CHAIN]; /* the n_removed steps dropped */
  bool class_error;            /* classification failed: level forced restricted */
  bool model_pinned;           /* the deciding rule matched on the requested model */
  size_t n_rules;              /* rules in the policy */
  unsigned char why_not[SL_POLICY_MAX_RULES]; /* per rule before rule_index: the `when`
                                                 key that failed (0 = matched) */
  unsigned char why_header[SL_POLICY_MAX_RULES]; /* with SL_WHEN_HEADER: which of the
                                                    rule's headers was not there */
  int prompt_tokens;           /* the values the `when` keys were checked against */
  int tenant_rpm;
  char tenant[128];            /* "" when the request has none (a copy, cut at 127 bytes) */
} sl_decision_t;

/* Decides where a classified request goes. Returns 0, or SL_EPOLICY with
 * d->block_status and d->reason set when no rule lets it through. */
int sl_policy_decide(const sl_policy_t *p, const sl_chat_req_t *req, const sl_class_t *cls,
                     const sl_req_meta_t *meta, sl_decision_t *d);

/* What the policy keeps inside: the lowest level of a reject rule (false if
 * none) and the kept-inside entity types (n returned; names into the policy). */
bool sl_policy_keep_inside_level(const sl_policy_t *p, sl_level_t *level);
/* Whether p keeps a request so classified inside (decide's keep_inside): its
 * level at or above a reject rule's, or an entity of a kept-inside type; a
 * failed classification is restricted and holds every type. */
bool sl_policy_keeps_inside(const sl_policy_t *p, const sl_class_t *cls);
size_t sl_policy_keep_inside_types(const sl_policy_t *p, const char *const **types);

/* Whether the request must go through sl_redact_request (redact.h) with
 * d->redact before it is sent to step s: the rule redacts and s is external. */
bool sl_policy_step_needs_redaction(const sl_decision_t *d, const sl_route_step_t *s);

/* Whether the rule's redaction can be made for this request (sl_redact_request
 * with d->redact), as the gateway finds when it tries: NONE when no step needs
 * it; IMPOSSIBLE when a value sits where sluice cannot rewrite it (a stop
 * string, user, a tool definition...) or there are too many values. */
enum { SL_REDACTION_NONE, SL_REDACTION_POSSIBLE, SL_REDACTION_IMPOSSIBLE };
int sl_policy_redaction(const sl_decision_t *d, const sl_chat_req_t *req, const sl_class_t *cls);
/* What the gateway then does (chat.c): the steps that need the redacted copy
 * are skipped, and with none left the request is refused (451). */
void sl_policy_drop_unredactable(sl_decision_t *d);
/* The same for local steps when the request asks for tools or a JSON
 * response_format, which the engine cannot do (the gateway passes over them):
 * with none left, the decision is blocked with a 400 — a 451 when steps were
 * dropped for a redaction first (`unredactable`), as the gateway answers. */
void sl_policy_drop_unservable(sl_decision_t *d, const sl_chat_req_t *req, bool unredactable);

/* The `when` key named by d->why_not[i] ("sensitivity_at_least", ...), or "" if none. */
const char *sl_policy_why_not(const sl_decision_t *d, size_t rule);
/* Number of rules and the name of rule i (for explain and `policy test`). */
size_t sl_policy_n_rules(const sl_policy_t *p);
const char *sl_policy_rule_name(const sl_policy_t *p, size_t i);
/* Whether rule i keeps what it matches inside (on_unavailable "reject" with
 * sensitivity_at_least or entity_types_any): its external steps are skipped. */
bool sl_policy_rule_keeps_inside(const sl_policy_t *p, size_t i);
/* "backend" or "backend/model" of a step into out. */
void sl_policy_step_name(const sl_route_step_t *s, char *out, size_t n);

/* The `classify` / `explain` JSON object for one request (INTERFACE.md):
 * {"sensitivity":{...}, "difficulty":{...}, "route":{...}} plus an "explain"
 * member saying which rule matched and why earlier ones did not. Caller frees. */
char *sl_policy_explain_json(const sl_policy_t *p, const sl_chat_req_t *req,
                             const sl_class_t *cls, const sl_decision_t *d, bool verbose);

#endif
