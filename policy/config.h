/* The sluice configuration file (JSON, INTERFACE.md shape): listener, limits,
 * ledger, auth keys, backends with prices. Detectors and rules are compiled by
 * policy.h from the same document (kept in `root`). Every error names the JSON
 * path of the bad value. A loaded config is immutable; it is shared between the
 * loop and request lifetimes through a reference count. */
#ifndef SL_CONFIG_H
#define SL_CONFIG_H

#include "sl_jerr.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { SL_BK_LOCAL, SL_BK_OPENAI, SL_BK_ANTHROPIC } sl_backend_kind_t;
/* in-process and internal stay inside the network; external is egress. */
typedef enum { SL_LOC_IN_PROCESS, SL_LOC_INTERNAL, SL_LOC_EXTERNAL } sl_location_t;

const char *sl_location_name(sl_location_t l);
const char *sl_backend_kind_name(sl_backend_kind_t k);

typedef struct {
  char *name;                 /* upstream model id */
  double usd_per_mtok_in;
  double usd_per_mtok_out;
} sl_model_price_t;

typedef struct {
  char *name;
  sl_backend_kind_t kind;
  sl_location_t location;
  /* API backends (openai, anthropic) */
  char *base_url;             /* without trailing slash */
  char *api_key_env;          /* name of the env var holding the key, or NULL */
  char *ca_file;              /* PEM file of the CAs this backend's TLS trusts instead of
                                 the system's (a private CA), or NULL */
  sl_model_price_t *models;
  size_t n_models;
  char *default_model;        /* models[0].name, or NULL */
  long connect_timeout_ms;
  long first_byte_timeout_ms; /* see sl_backend_first_byte_ms() */
  bool first_byte_set;        /* first_byte_timeout_ms was in the file */
  long idle_timeout_ms; /* no byte from the upstream for this long: the call fails */
  long total_timeout_ms;
  int max_retries;            /* retries of this API backend (retryable errors, before any output)
                                 before the chain moves on; default 0 */
  /* openai: the name the answer-length limit goes under: 0 as the client named
   * it (an Anthropic client's max_tokens as max_tokens), 1 always max_tokens,
   * 2 always max_completion_tokens (OpenAI's reasoning models refuse max_tokens) */
  int max_tokens_param;
  /* local engine */
  char *model_path;
  char *chat_template;        /* family override, or NULL */
  int threads;
  int max_batch;
  int queue_max;
  size_t kv_cache_mb;
  int ctx;                    /* 0: the model's */
  long local_timeout_ms;      /* queue + generation limit */
  double usd_per_hour;
} sl_backend_cfg_t;

typedef struct {
  char *id;
  uint8_t sha256[32];
  char *tenant;
  double monthly_budget_usd;  /* 0: none */
} sl_key_cfg_t;

#define SL_MAX_WORKERS 64

typedef struct {
  size_t max_header_bytes;
  size_t max_body_bytes;
  int max_connections;
  unsigned header_timeout_ms;
  unsigned body_timeout_ms;
  unsigned idle_timeout_ms;
  unsigned send_timeout_ms;  /* a client that takes none of its answer for this long */
  unsigned shutdown_grace_ms;
  size_t max_buffered_bytes; /* answers held for clients, all requests (sl_held.h) */
} sl_limits_t;

typedef struct {
  char *path;                 /* the file it came from (NULL for a string) */
  uint8_t digest[32];         /* sha256 of the file bytes: the policy version */
  char digest_hex[65];
  char *listen;               /* "HOST:PORT" */
  int workers;                /* event-loop threads; 0: one per CPU core */
  int log_level;              /* SL_LOG_* from "log_level", -1 when not given */
  bool access_log;            /* "access_log": an info line per answered request */
  sl_limits_t limits;
  char *ledger_path;          /* NULL: no ledger */
  bool ledger_reject_on_failure;
  bool ledger_journal;        /* ledger.durability "journal" (default) or "commit" */
  sl_key_cfg_t *keys;
  size_t n_keys;
  uint8_t (*admin_keys)[32];
  size_t n_admin_keys;
  uint8_t (*metrics_keys)[32]; /* auth.metrics_keys: /metrics needs one (or an admin key) */
  size_t n_metrics_keys;
  sl_backend_cfg_t *backends;
  size_t n_backends;
  cJSON *root;                /* the whole document, for the policy compiler */
} sl_config_t;

/* Reads and validates FILE. On error returns SL_E* and the reason in err. */
int sl_config_load(const char *path, sl_config_t **out, sl_jerr_t *err);
/* A listen address, "HOST:PORT" with a port min_port..65535 (the config's
 * $.listen from 1; serve's --listen from 0, any free port); the error names path. */
int sl_config_check_listen(const char *s, const char *path, long min_port, sl_jerr_t *err);
/* Same, from memory; `path` is only recorded (may be NULL). */
int sl_config_parse(const char *json, size_t len, const char *path, sl_config_t **out,
                    sl_jerr_t *err);
void sl_config_free(sl_config_t *c);

const sl_backend_cfg_t *sl_config_backend(const sl_config_t *c, const char *name);
/* Whether two base_urls send to the same address: the same host and port,
 * however written (case, a trailing dot, the scheme's default port, any
 * spelling of an IPv4 address or of the loopback: localhost, 127.x.x.x,
 * 0.0.0.0, ::1, ::ffff:127.0.0.1). A name that resolves to the same address
 * as another is not seen. */
bool sl_config_same_address(const char *url_a, const char *url_b);
/* Whether an external backend's base_url is plain http:// to another host
 * than this one: its API key and every request to it would cross the network
 * unencrypted (a warning at check and at start; a sidecar on the loopback is
 * fine). */
bool sl_config_cleartext_external(const sl_backend_cfg_t *b);
/* Looks up a model's prices on a backend; NULL if it is not listed. */
const sl_model_price_t *sl_config_model(const sl_backend_cfg_t *b, const char *model);

/* Hex sha256 of a key as stored in auth.keys[].sha256 (out: 65 bytes). */
void sl_config_key_digest(const char *key, size_t len, uint8_t out[32]);
/* The key matching a bearer token, or NULL. Constant-time comparison. */
const sl_key_cfg_t *sl_config_find_key(const sl_config_t *c, const char *token, size_t len);
bool sl_config_is_admin(const sl_config_t *c, const char *token, size_t len);
/* Whether /metrics may be read with this token (NULL: none sent): always when
 * auth.metrics_keys is not set; else a metrics key or an admin key. */
bool sl_config_may_read_metrics(const sl_config_t *c, const char *token, size_t len);

/* The first-byte timeout of one call to an API backend, in ms (0: none). A
 * non-streamed answer's status line comes only once the whole answer is
 * ready, so by default such a call has none (total_timeout_ms bounds it): a
 * long generation or a reasoning model is not cut off at 60 s. Set in the
 * file, first_byte_timeout_ms applies to both kinds of call. */
long sl_backend_first_byte_ms(const sl_backend_cfg_t *bc, bool stream);

#endif
