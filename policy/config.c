/* Loading and validating the configuration file. Validation is strict: unknown
 * keys and wrong types are errors naming their JSON path, because a typo in a
 * policy file that silently does nothing is how sensitive data leaks. */
#include "sl_file.h"
#include "config.h"
#include "policy_int.h"
#include "sl_err.h"
#include "sl_json.h"
#include "sl_str.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CONFIG_MAX_BYTES (4u << 20) /* a policy file is text a person edits */
#define MAX_BACKENDS 64
#define MAX_KEYS 4096

const char *sl_location_name(sl_location_t l) {
  switch (l) {
  case SL_LOC_IN_PROCESS: return "in-process";
  case SL_LOC_INTERNAL: return "internal";
  case SL_LOC_EXTERNAL: return "external";
  }
  return "?";
}

const char *sl_backend_kind_name(sl_backend_kind_t k) {
  switch (k) {
  case SL_BK_LOCAL: return "local";
  case SL_BK_OPENAI: return "openai";
  case SL_BK_ANTHROPIC: return "anthropic";
  }
  return "?";
}

/* ---- typed getters: each names the path on error ---- */

int sl__check_keys(const cJSON *obj, const char *path, const char *const *allowed,
                   sl_jerr_t *err) {
  for (const cJSON *it = obj->child; it; it = it->next) {
    int ok = 0;
    for (const char *const *a = allowed; *a; a++)
      if (!strcmp(it->string, *a)) ok = 1;
    if (!ok) return sl_jerr_set(err, path, "unknown key \"%s\"", it->string);
  }
  return 0;
}

static int get_str(const cJSON *obj, const char *key, const char *path, bool required,
                   char **out, sl_jerr_t *err) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  char p[256];
  sl_jpath_key(p, sizeof p, path, key);
  if (!v) return required ? sl_jerr_set(err, p, "is required") : 0;
  if (!cJSON_IsString(v)) return sl_jerr_set(err, p, "must be a string");
  if (required && !v->valuestring[0]) return sl_jerr_set(err, p, "must not be empty");
  free(*out);
  *out = strdup(v->valuestring);
  return *out ? 0 : SL_ENOMEM;
}

/* Names that end up in ledger rows and metrics labels (backend, model and key
 * names, tenants) fit the ledger's field (SL_LEDGER_MAX_NAME): a longer one
 * would pass here and then have every request it names refused. */
#define MAX_NAME 255

/* Names (backends, models, keys, tenants) go into response headers, metric
 * labels and ledger rows: no control characters (a newline would end a header
 * line and start another). */
static int get_name(const cJSON *obj, const char *key, const char *path, bool required,
                    char **out, sl_jerr_t *err) {
  int rc = get_str(obj, key, path, required, out, err);
  if (rc || !*out) return rc;
  char p[256];
  sl_jpath_key(p, sizeof p, path, key);
  if (strlen(*out) > MAX_NAME) return sl_jerr_set(err, p, "must be at most %d bytes", MAX_NAME);
  for (const unsigned char *c = (const unsigned char *)*out; *c; c++)
    if (*c < 0x20 || *c == 0x7F) return sl_jerr_set(err, p, "must not contain control characters");
  return 0;
}

static int get_num(const cJSON *obj, const char *key, const char *path, double lo, double hi,
                   double *out, sl_jerr_t *err) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  char p[256];
  sl_jpath_key(p, sizeof p, path, key);
  if (!v) return 0;
  if (!cJSON_IsNumber(v)) return sl_jerr_set(err, p, "must be a number");
  if (v->valuedouble < lo || v->valuedouble > hi)
    return sl_jerr_set(err, p, "must be between %.15g and %.15g (got %.15g)", lo, hi, v->valuedouble);
  *out = v->valuedouble;
  return 0;
}

static int get_int(const cJSON *obj, const char *key, const char *path, long lo, long hi,
                   long *out, sl_jerr_t *err) {
  double d = (double)*out;
  int rc = get_num(obj, key, path, (double)lo, (double)hi, &d, err);
  if (rc) return rc;
  if (d != (double)(long)d) {
    char p[256];
    sl_jpath_key(p, sizeof p, path, key);
    return sl_jerr_set(err, p, "must be a whole number");
  }
  *out = (long)d;
  return 0;
}

static int parse_hex32(const char *s, uint8_t out[32]) {
  if (strlen(s) != 64) return -1;
  for (int i = 0; i < 32; i++) {
    unsigned v;
    if (sscanf(s + 2 * i, "%2x", &v) != 1) return -1;
    out[i] = (uint8_t)v;
  }
  for (const char *c = s; *c; c++)
    if (!strchr("0123456789abcdefABCDEF", *c)) return -1;
  return 0;
}

/* "HOST:PORT" with a numeric port 1..65535; IPv6 hosts in brackets. */
int sl_config_check_listen(const char *s, const char *path, long min_port, sl_jerr_t *err) {
  const char *colon = strrchr(s, ':');
  if (!colon || colon == s) return sl_jerr_set(err, path, "must be HOST:PORT (got \"%s\")", s);
  const char *ds = colon + 1;
  size_t nd = strspn(ds, "0123456789");
  long port = nd && nd <= 5 && !ds[nd] ? strtol(ds, NULL, 10) : -1;
  if (port < min_port || port > 65535)
    return sl_jerr_set(err, path, "port must be %ld..65535 (got \"%s\")", min_port, ds);
  /* the host: an IPv4 address, an IPv6 one in brackets, or localhost (the
   * server binds an address: no name is looked up) */
  char host[64];
  size_t hl = (size_t)(colon - s);
  unsigned char buf[sizeof(struct in6_addr)];
  bool ok = false;
  if (hl < sizeof host) {
    memcpy(host, s, hl);
    host[hl] = '\0';
    if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
      host[hl - 1] = '\0';
      ok = inet_pton(AF_INET6, host + 1, buf) == 1;
    } else {
      ok = !strcmp(host, "localhost") || inet_pton(AF_INET, host, buf) == 1;
    }
  }
  if (!ok)
    return sl_jerr_set(err, path,
                       "host must be an IPv4 address, an IPv6 address in brackets or localhost (got \"%.*s\")",
                       (int)(hl < 64 ? hl : 64), s);
  return 0;
}

/* ---- sections ---- */

/* auth.<name>: a list of sha256 digests of keys (admin_keys, metrics_keys). */
static int key_hashes(const cJSON *a, const char *name, uint8_t (**out)[32], size_t *n_out, sl_jerr_t *err) {
  char path[64];
  snprintf(path, sizeof path, "$.auth.%s", name);
  const cJSON *ad = cJSON_GetObjectItemCaseSensitive(a, name);
  if (!ad) return 0;
  if (!cJSON_IsArray(ad)) return sl_jerr_set(err, path, "must be an array");
  int n = cJSON_GetArraySize(ad);
  if (n > MAX_KEYS) return sl_jerr_set(err, path, "too many keys");
  if (!(*out = calloc((size_t)n + 1, sizeof **out))) return SL_ENOMEM;
  int i = 0;
  for (const cJSON *k = ad->child; k; k = k->next, i++) {
    char p[256];
    sl_jpath_idx(p, sizeof p, path, i);
    if (!cJSON_IsString(k) || parse_hex32(k->valuestring, (*out)[*n_out]))
      return sl_jerr_set(err, p, "must be 64 hex digits (sha256 of the key)");
    (*n_out)++;
  }
  return 0;
}

/* "log_level": debug, info, warn or error (serve's --debug overrides it). */
static int parse_log_level(const cJSON *root, int *out, sl_jerr_t *err) {
  static const char *const names[] = {"debug", "info", "warn", "error"};
  *out = -1;
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "log_level");
  if (!v) return 0;
  for (int i = 0; cJSON_IsString(v) && i < 4; i++)
    if (!strcmp(v->valuestring, names[i])) return (*out = i), 0;
  return sl_jerr_set(err, "$.log_level", "must be \"debug\", \"info\", \"warn\" or \"error\"");
}

static int parse_limits(const cJSON *root, sl_limits_t *l, sl_jerr_t *err) {
  l->max_header_bytes = 32 * 1024;
  l->max_body_bytes = 4 * 1024 * 1024;
  l->max_connections = 4096;
  l->header_timeout_ms = 10000;
  l->body_timeout_ms = 30000;
  l->idle_timeout_ms = 60000;
  l->send_timeout_ms = 60000;
  l->shutdown_grace_ms = 30000;
  l->max_buffered_bytes = 256u << 20;
  const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, "limits");
  if (!o) return 0;
  if (!cJSON_IsObject(o)) return sl_jerr_set(err, "$.limits", "must be an object");
  static const char *const keys[] = {"max_header_bytes", "max_body_bytes", "max_connections",
                                     "header_timeout_ms", "body_timeout_ms", "idle_timeout_ms",
                                     "send_timeout_ms", "shutdown_grace_ms", "max_buffered_bytes", NULL};
  int rc = sl__check_keys(o, "$.limits", keys, err);
  long v;
#define LIM(field, lo, hi)                                                   \
  v = (long)l->field;                                                        \
  if (!rc) rc = get_int(o, #field, "$.limits", lo, hi, &v, err);             \
  l->field = (typeof(l->field))v;
  LIM(max_header_bytes, 1024, 1 << 20)
  LIM(max_body_bytes, 1024, 256L << 20)
  LIM(max_connections, 1, 1000000)
  LIM(header_timeout_ms, 100, 3600000)
  LIM(body_timeout_ms, 100, 3600000)
  LIM(idle_timeout_ms, 100, 3600000)
  LIM(send_timeout_ms, 100, 3600000)
  LIM(shutdown_grace_ms, 0, 3600000)
  LIM(max_buffered_bytes, 1L << 20, 64L << 30)
#undef LIM
  return rc;
}

static int parse_auth(const cJSON *root, sl_config_t *c, sl_jerr_t *err) {
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, "auth");
  if (!a) return 0;
  if (!cJSON_IsObject(a)) return sl_jerr_set(err, "$.auth", "must be an object");
  static const char *const keys[] = {"keys", "admin_keys", "metrics_keys", NULL};
  int rc = sl__check_keys(a, "$.auth", keys, err);
  if (rc) return rc;
  const cJSON *ks = cJSON_GetObjectItemCaseSensitive(a, "keys");
  if (ks) {
    if (!cJSON_IsArray(ks)) return sl_jerr_set(err, "$.auth.keys", "must be an array");
    int n = cJSON_GetArraySize(ks);
    if (n > MAX_KEYS) return sl_jerr_set(err, "$.auth.keys", "at most %d keys", MAX_KEYS);
    c->keys = calloc((size_t)n + 1, sizeof *c->keys);
    if (!c->keys) return SL_ENOMEM;
    int i = 0;
    for (const cJSON *k = ks->child; k; k = k->next, i++) {
      char p[256];
      sl_jpath_idx(p, sizeof p, "$.auth.keys", i);
      if (!cJSON_IsObject(k)) return sl_jerr_set(err, p, "must be an object");
      static const char *const kk[] = {"id", "sha256", "tenant", "monthly_budget_usd", NULL};
      sl_key_cfg_t *kc = &c->keys[c->n_keys++];
      char *hex = NULL;
      if ((rc = sl__check_keys(k, p, kk, err)) || (rc = get_name(k, "id", p, true, &kc->id, err)) ||
          (rc = get_str(k, "sha256", p, true, &hex, err)) ||
          (rc = get_name(k, "tenant", p, false, &kc->tenant, err)) ||
          (rc = get_num(k, "monthly_budget_usd", p, 0, 1e12, &kc->monthly_budget_usd, err))) {
        free(hex);
        return rc;
      }
      rc = parse_hex32(hex, kc->sha256);
      free(hex);
      if (rc) {
        char q[300];
        sl_jpath_key(q, sizeof q, p, "sha256");
        return sl_jerr_set(err, q, "must be 64 hex digits (sha256 of the key)");
      }
      if (!kc->tenant && !(kc->tenant = strdup(kc->id))) return SL_ENOMEM;
      for (size_t j = 0; j + 1 < c->n_keys; j++) {
        if (!strcmp(c->keys[j].id, kc->id))
          return sl_jerr_set(err, p, "duplicate key id \"%s\"", kc->id);
        if (!memcmp(c->keys[j].sha256, kc->sha256, sizeof kc->sha256)) /* which one would it be? */
          return sl_jerr_set(err, p, "the same sha256 as $.auth.keys[%zu] (\"%s\"): one key, one entry",
                             j, c->keys[j].id);
      }
    }
  }
  if ((rc = key_hashes(a, "admin_keys", &c->admin_keys, &c->n_admin_keys, err))) return rc;
  return key_hashes(a, "metrics_keys", &c->metrics_keys, &c->n_metrics_keys, err);
}

static int parse_models(const cJSON *b, const char *path, sl_backend_cfg_t *bc,
                        sl_jerr_t *err) {
  const cJSON *ms = cJSON_GetObjectItemCaseSensitive(b, "models");
  char p[256];
  sl_jpath_key(p, sizeof p, path, "models");
  if (!ms) return 0;
  if (!cJSON_IsArray(ms)) return sl_jerr_set(err, p, "must be an array");
  int n = cJSON_GetArraySize(ms);
  if (n > 1024) return sl_jerr_set(err, p, "at most 1024 models");
  bc->models = calloc((size_t)n + 1, sizeof *bc->models);
  if (!bc->models) return SL_ENOMEM;
  int i = 0, rc;
  for (const cJSON *m = ms->child; m; m = m->next, i++) {
    char q[300];
    sl_jpath_idx(q, sizeof q, p, i);
    sl_model_price_t *mp = &bc->models[bc->n_models++];
    if (cJSON_IsString(m)) {
      if (strlen(m->valuestring) > MAX_NAME)
        return sl_jerr_set(err, q, "must be at most %d bytes", MAX_NAME);
      if (!(mp->name = strdup(m->valuestring))) return SL_ENOMEM;
      continue;
    }
    if (!cJSON_IsObject(m)) return sl_jerr_set(err, q, "must be an object or a string");
    static const char *const keys[] = {"name", "usd_per_mtok_in", "usd_per_mtok_out", NULL};
    if ((rc = sl__check_keys(m, q, keys, err)) || (rc = get_name(m, "name", q, true, &mp->name, err)) ||
        (rc = get_num(m, "usd_per_mtok_in", q, 0, 1e6, &mp->usd_per_mtok_in, err)) ||
        (rc = get_num(m, "usd_per_mtok_out", q, 0, 1e6, &mp->usd_per_mtok_out, err)))
      return rc;
  }
  if (bc->n_models && !(bc->default_model = strdup(bc->models[0].name))) return SL_ENOMEM;
  return 0;
}

/* A backend's keys: every kind's, and those of one kind only. */
#define LOCAL_KEYS "model", "chat_template", "threads", "max_batch", "queue_max", "kv_cache_mb", \
                   "context", "timeout_ms", "usd_per_hour"
#define API_KEYS "base_url", "api_key_env", "models", "connect_timeout_ms", "first_byte_timeout_ms", \
                 "idle_timeout_ms", "total_timeout_ms", "max_retries", "max_tokens_param", "ca_file"

/* Why the file at path is no PEM bundle of certificates (NULL when it is one):
 * a wrong file would fail every call to the backend, not the start. */
static const char *ca_file_problem(const char *path) {
  struct stat st;
  if (stat(path, &st)) return strerror(errno);
  if (!S_ISREG(st.st_mode)) return "not a regular file";
  if (st.st_size > (1 << 24)) return "larger than 16 MiB: not a CA bundle";
  FILE *f = fopen(path, "rb");
  if (!f) return strerror(errno);
  /* every certificate block must parse (a damaged one fails the TLS set-up of
   * every call, not the start) */
  int certs = 0;
  X509 *x;
  while ((x = PEM_read_X509(f, NULL, NULL, NULL))) {
    certs++;
    X509_free(x);
  }
  unsigned long e = ERR_peek_last_error();
  ERR_clear_error();
  fclose(f);
  if (!certs) return "holds no readable PEM certificate (-----BEGIN CERTIFICATE-----)";
  if (e && ERR_GET_REASON(e) != PEM_R_NO_START_LINE) return "holds a certificate that does not parse";
  return NULL;
}

static int parse_backend(const cJSON *b, const char *p, sl_backend_cfg_t *bc, sl_jerr_t *err) {
  if (!cJSON_IsObject(b)) return sl_jerr_set(err, p, "must be an object");
  static const char *const keys[] = {"name", "kind", "location", LOCAL_KEYS, API_KEYS, NULL};
  int rc = sl__check_keys(b, p, keys, err);
  char *kind = NULL, *loc = NULL;
  if (!rc) rc = get_name(b, "name", p, true, &bc->name, err);
  if (!rc) rc = get_str(b, "kind", p, true, &kind, err);
  if (!rc) rc = get_str(b, "location", p, false, &loc, err);
  char q[300];
  if (!rc) {
    sl_jpath_key(q, sizeof q, p, "name");
    for (const char *s = bc->name; *s && !rc; s++)
      if (*s == '/' || *s == ' ')
        rc = sl_jerr_set(err, q, "must not contain '/' or spaces (\"%s\")", bc->name);
  }
  if (!rc) {
    sl_jpath_key(q, sizeof q, p, "kind");
    if (!strcmp(kind, "local")) bc->kind = SL_BK_LOCAL;
    else if (!strcmp(kind, "openai")) bc->kind = SL_BK_OPENAI;
    else if (!strcmp(kind, "anthropic")) bc->kind = SL_BK_ANTHROPIC;
    else rc = sl_jerr_set(err, q, "must be \"local\", \"openai\" or \"anthropic\" (got \"%s\")", kind);
  }
  if (!rc) {
    sl_jpath_key(q, sizeof q, p, "location");
    /* Default to the safe reading: an API backend is external unless declared. */
    bc->location = bc->kind == SL_BK_LOCAL ? SL_LOC_IN_PROCESS : SL_LOC_EXTERNAL;
    if (loc) {
      if (!strcmp(loc, "in-process")) bc->location = SL_LOC_IN_PROCESS;
      else if (!strcmp(loc, "internal")) bc->location = SL_LOC_INTERNAL;
      else if (!strcmp(loc, "external")) bc->location = SL_LOC_EXTERNAL;
      else rc = sl_jerr_set(err, q, "must be \"in-process\", \"internal\" or \"external\" (got \"%s\")", loc);
      if (!rc && bc->kind == SL_BK_LOCAL && bc->location != SL_LOC_IN_PROCESS)
        rc = sl_jerr_set(err, q, "a local backend runs in-process");
      if (!rc && bc->kind != SL_BK_LOCAL && bc->location == SL_LOC_IN_PROCESS)
        rc = sl_jerr_set(err, q, "an API backend is \"internal\" or \"external\"");
    }
  }
  free(kind);
  free(loc);
  if (rc) return rc;
  /* a key of the other kind would be read by nothing: a mistake, not a no-op */
  static const char *const local_only[] = {LOCAL_KEYS, NULL}, *const api_only[] = {API_KEYS, NULL};
  for (const char *const *k = bc->kind == SL_BK_LOCAL ? api_only : local_only; *k; k++)
    if (cJSON_GetObjectItemCaseSensitive(b, *k)) {
      sl_jpath_key(q, sizeof q, p, *k);
      return sl_jerr_set(err, q, "applies to %s backends only", bc->kind == SL_BK_LOCAL
                                                                     ? "API (openai, anthropic)"
                                                                     : "local");
    }

  bc->connect_timeout_ms = 5000;
  bc->first_byte_timeout_ms = 60000;
  bc->idle_timeout_ms = 300000;
  bc->total_timeout_ms = 600000;
  bc->max_retries = 0; /* by default a failing backend hands over to the next step at once */
  long v;
  if (bc->kind == SL_BK_LOCAL) {
    bc->threads = 2;
    bc->max_batch = 8;
    bc->queue_max = 64;
    bc->kv_cache_mb = 1024;
    bc->local_timeout_ms = 120000;
    if ((rc = get_str(b, "model", p, false, &bc->model_path, err)) ||
        (rc = get_str(b, "chat_template", p, false, &bc->chat_template, err)))
      return rc;
    v = bc->threads;
    if ((rc = get_int(b, "threads", p, 1, 256, &v, err))) return rc;
    bc->threads = (int)v;
    v = bc->max_batch;
    if ((rc = get_int(b, "max_batch", p, 1, 256, &v, err))) return rc;
    bc->max_batch = (int)v;
    v = bc->queue_max;
    if ((rc = get_int(b, "queue_max", p, 1, 100000, &v, err))) return rc;
    bc->queue_max = (int)v;
    v = (long)bc->kv_cache_mb;
    if ((rc = get_int(b, "kv_cache_mb", p, 1, 1 << 20, &v, err))) return rc;
    bc->kv_cache_mb = (size_t)v;
    v = 0;
    if ((rc = get_int(b, "context", p, 0, 1 << 20, &v, err))) return rc;
    bc->ctx = (int)v;
    if ((rc = get_int(b, "timeout_ms", p, 100, 86400000, &bc->local_timeout_ms, err))) return rc;
    if ((rc = get_num(b, "usd_per_hour", p, 0, 1e6, &bc->usd_per_hour, err))) return rc;
    return 0;
  }
  if ((rc = get_str(b, "base_url", p, true, &bc->base_url, err)) ||
      (rc = get_str(b, "api_key_env", p, false, &bc->api_key_env, err)) ||
      (rc = parse_models(b, p, bc, err)))
    return rc;
  sl_jpath_key(q, sizeof q, p, "base_url");
  if (strncmp(bc->base_url, "http://", 7) && strncmp(bc->base_url, "https://", 8))
    return sl_jerr_set(err, q, "must start with http:// or https://");
  for (const unsigned char *c = (const unsigned char *)bc->base_url; *c; c++)
    if (*c <= 0x20 || *c >= 0x7F)
      return sl_jerr_set(err, q, "must not contain spaces, control characters or bytes past ASCII "
                                 "(percent-encode them; an internationalised host in its xn-- form)");
  const char *host = strstr(bc->base_url, "//") + 2;
  const char *at = strchr(host, '@'); /* in the authority, before its path or query */
  if (!*host || strchr("/?#:", *host) || (at && at < host + strcspn(host, "/?#")))
    return sl_jerr_set(err, q, "must name a host (and no user:password@: the key goes in api_key_env)");
  size_t n = strlen(bc->base_url);
  while (n > 0 && bc->base_url[n - 1] == '/') bc->base_url[--n] = '\0';
  if ((rc = get_str(b, "ca_file", p, false, &bc->ca_file, err))) return rc;
  if (bc->ca_file) {
    sl_jpath_key(q, sizeof q, p, "ca_file");
    if (strncmp(bc->base_url, "https://", 8))
      return sl_jerr_set(err, q, "applies to an https:// base_url only");
    if (!*bc->ca_file) return sl_jerr_set(err, q, "must name a PEM file of certificates");
    const char *why = ca_file_problem(bc->ca_file);
    if (why) return sl_jerr_set(err, q, "%s: %s", bc->ca_file, why);
  }
  bc->first_byte_set = cJSON_GetObjectItemCaseSensitive(b, "first_byte_timeout_ms") != NULL;
  if ((rc = get_int(b, "connect_timeout_ms", p, 10, 600000, &bc->connect_timeout_ms, err)) ||
      (rc = get_int(b, "first_byte_timeout_ms", p, 10, 3600000, &bc->first_byte_timeout_ms, err)) ||
      (rc = get_int(b, "idle_timeout_ms", p, 1000, 86400000, &bc->idle_timeout_ms, err)) ||
      (rc = get_int(b, "total_timeout_ms", p, 10, 86400000, &bc->total_timeout_ms, err)))
    return rc;
  v = bc->max_retries;
  if ((rc = get_int(b, "max_retries", p, 0, 10, &v, err))) return rc;
  bc->max_retries = (int)v;
  char *mtp = NULL;
  if ((rc = get_str(b, "max_tokens_param", p, false, &mtp, err))) return rc;
  if (mtp) {
    sl_jpath_key(q, sizeof q, p, "max_tokens_param");
    if (bc->kind != SL_BK_OPENAI) rc = sl_jerr_set(err, q, "applies to kind \"openai\" only");
    else if (!strcmp(mtp, "max_tokens")) bc->max_tokens_param = 1;
    else if (!strcmp(mtp, "max_completion_tokens")) bc->max_tokens_param = 2;
    else rc = sl_jerr_set(err, q, "must be \"max_tokens\" or \"max_completion_tokens\" (got \"%s\")", mtp);
    free(mtp);
  }
  return rc;
}

/* Where a base_url sends: "host:port", the host in one spelling per address
 * (sl_config_same_address). */
static void url_address(const char *url, char *out, size_t cap) {
  bool tls = !strncmp(url, "https://", 8);
  const char *a = strstr(url, "//");
  a = a ? a + 2 : url;
  size_t alen = strcspn(a, "/?#");
  char host[300] = "", port[16] = "";
  const char *colon = NULL;
  if (*a == '[') {
    const char *rb = memchr(a, ']', alen);
    size_t hn = rb ? (size_t)(rb - a - 1) : 0;
    if (hn < sizeof host) memcpy(host, a + 1, hn), host[hn] = '\0';
    colon = rb && rb + 1 < a + alen && rb[1] == ':' ? rb + 1 : NULL;
  } else {
    for (const char *p = a + alen; p > a; p--)
      if (p[-1] == ':') {
        colon = p - 1;
        break;
      }
    size_t hn = (colon ? (size_t)(colon - a) : alen);
    if (hn < sizeof host) memcpy(host, a, hn), host[hn] = '\0';
  }
  if (colon) {
    size_t pn = (size_t)(a + alen - colon - 1);
    if (pn < sizeof port) memcpy(port, colon + 1, pn), port[pn] = '\0';
  }
  long pv = *port ? strtol(port, NULL, 10) : tls ? 443 : 80;
  for (char *p = host; *p; p++) *p = (char)tolower((unsigned char)*p);
  size_t hl = strlen(host);
  if (hl > 1 && host[hl - 1] == '.') host[--hl] = '\0';
  struct in_addr v4;
  unsigned char v6[16];
  bool loop = !strcmp(host, "localhost") || (hl > 10 && !strcmp(host + hl - 10, ".localhost")), is4 = false;
  if (!loop && inet_pton(AF_INET6, host, v6) == 1) {
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const unsigned char one[16] = {[15] = 1}, unspecified[16] = {0};
    if ((is4 = !memcmp(v6, mapped, 12))) memcpy(&v4.s_addr, v6 + 12, 4);
    else if (!memcmp(v6, one, 16) || !memcmp(v6, unspecified, 16)) loop = true; /* ::1, and :: as 0.0.0.0 */
    else inet_ntop(AF_INET6, v6, host, sizeof host);
  } else if (!loop) {
    is4 = inet_aton(host, &v4); /* 127.000.000.001, 2130706433, 0x7f.1 */
  }
  if (is4) { /* one spelling: dotted quad; 127/8 and 0.0.0.0 are the loopback */
    uint32_t h = ntohl(v4.s_addr);
    loop = (h >> 24) == 127 || h == 0;
    snprintf(host, sizeof host, "%s", inet_ntoa(v4));
  }
  snprintf(out, cap, "%s:%ld", loop ? "loopback" : host, pv);
}

bool sl_config_same_address(const char *url_a, const char *url_b) {
  if (!url_a || !url_b) return false;
  char a[320], b[320];
  url_address(url_a, a, sizeof a);
  url_address(url_b, b, sizeof b);
  return !strcmp(a, b);
}

bool sl_config_cleartext_external(const sl_backend_cfg_t *b) {
  if (b->location != SL_LOC_EXTERNAL || !b->base_url || strncasecmp(b->base_url, "http://", 7)) return false;
  char a[320];
  url_address(b->base_url, a, sizeof a);
  return strncmp(a, "loopback:", 9) != 0;
}

static int parse_backends(const cJSON *root, sl_config_t *c, sl_jerr_t *err) {
  const cJSON *bs = cJSON_GetObjectItemCaseSensitive(root, "backends");
  if (!bs) return sl_jerr_set(err, "$.backends", "is required");
  if (!cJSON_IsArray(bs)) return sl_jerr_set(err, "$.backends", "must be an array");
  int n = cJSON_GetArraySize(bs);
  if (n < 1 || n > MAX_BACKENDS)
    return sl_jerr_set(err, "$.backends", "must list 1..%d backends", MAX_BACKENDS);
  c->backends = calloc((size_t)n, sizeof *c->backends);
  if (!c->backends) return SL_ENOMEM;
  int i = 0;
  for (const cJSON *b = bs->child; b; b = b->next, i++) {
    char p[256];
    sl_jpath_idx(p, sizeof p, "$.backends", i);
    sl_backend_cfg_t *bc = &c->backends[c->n_backends++];
    int rc = parse_backend(b, p, bc, err);
    if (rc) return rc;
    for (size_t j = 0; j + 1 < c->n_backends; j++) {
      const sl_backend_cfg_t *o = &c->backends[j];
      if (!strcmp(o->name, bc->name)) return sl_jerr_set(err, p, "duplicate backend name \"%s\"", bc->name);
      /* the gateway treats every backend at an external backend's address as
       * external (chat.c), so a keep-inside rule could never use it: say so now */
      if (sl_config_same_address(o->base_url, bc->base_url) &&
          (o->location == SL_LOC_EXTERNAL) != (bc->location == SL_LOC_EXTERNAL)) {
        char q[300];
        sl_jpath_key(q, sizeof q, p, "base_url");
        return sl_jerr_set(err, q,
                           "sends to the address (host and port) of %s backend \"%s\": one address "
                           "cannot be both inside and outside the network",
                           o->location == SL_LOC_EXTERNAL ? "external" : "internal", o->name);
      }
    }
  }
  return 0;
}

static int parse_ledger(const cJSON *root, sl_config_t *c, sl_jerr_t *err) {
  c->ledger_reject_on_failure = true;
  c->ledger_journal = true;
  const cJSON *l = cJSON_GetObjectItemCaseSensitive(root, "ledger");
  if (!l) return 0;
  if (!cJSON_IsObject(l)) return sl_jerr_set(err, "$.ledger", "must be an object");
  static const char *const keys[] = {"path", "on_failure", "durability", NULL};
  char *onf = NULL, *dur = NULL;
  int rc = sl__check_keys(l, "$.ledger", keys, err);
  if (!rc) rc = get_str(l, "path", "$.ledger", true, &c->ledger_path, err);
  if (!rc) rc = get_str(l, "on_failure", "$.ledger", false, &onf, err);
  if (!rc) rc = get_str(l, "durability", "$.ledger", false, &dur, err);
  if (!rc && onf) {
    if (!strcmp(onf, "continue")) c->ledger_reject_on_failure = false;
    else if (strcmp(onf, "reject"))
      rc = sl_jerr_set(err, "$.ledger.on_failure", "must be \"reject\" or \"continue\"");
  }
  if (!rc && dur) {
    if (!strcmp(dur, "commit")) c->ledger_journal = false;
    else if (strcmp(dur, "journal"))
      rc = sl_jerr_set(err, "$.ledger.durability", "must be \"journal\" or \"commit\"");
  }
  free(onf);
  free(dur);
  return rc;
}

/* The line (from 1) of byte off of a text. */
static long line_of(const char *text, size_t len, long off) {
  long line = 1;
  for (long i = 0; i < off && i < (long)len; i++) line += text[i] == '\n';
  return line;
}

int sl_config_parse(const char *json, size_t len, const char *path, sl_config_t **out,
                    sl_jerr_t *err) {
  *out = NULL;
  if (len > CONFIG_MAX_BYTES)
    return sl_jerr_set(err, "$", "file is larger than %u bytes", CONFIG_MAX_BYTES), SL_ETOOBIG;
  sl_config_t *c = calloc(1, sizeof *c);
  if (!c) return SL_ENOMEM;
  SHA256((const unsigned char *)json, len, c->digest);
  for (int i = 0; i < 32; i++) snprintf(c->digest_hex + 2 * i, 3, "%02x", c->digest[i]);
  if (path && !(c->path = strdup(path))) goto nomem;

  const char *end = NULL;
  c->root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
  int rc;
  if (!c->root) {
    long off = end ? (long)(end - json) : 0;
    rc = end && sl_json_too_deep(json, end)
             ? sl_jerr_set(err, "$", "nested deeper than %d levels (near byte %ld, line %ld)",
                           CJSON_NESTING_LIMIT, off, line_of(json, len, off))
             : sl_jerr_set(err, "$", "not valid JSON (near byte %ld, line %ld)", off,
                           line_of(json, len, off));
    goto fail;
  }
  if (!cJSON_IsObject(c->root)) {
    rc = sl_jerr_set(err, "$", "must be a JSON object");
    goto fail;
  }
  /* one object and nothing after it: a second config appended (cat b >> a)
   * would otherwise be ignored while the reload reports success */
  const char *more = sl_json_skip_space(end, json + len);
  if (more != json + len) {
    rc = sl_jerr_set(err, "$", "has more after its JSON object (at byte %ld, line %ld)",
                     (long)(more - json), line_of(json, len, (long)(more - json)));
    goto fail;
  }
  /* cJSON ends a string at an escaped NUL: "def\u0000ault" would read "def" */
  for (const char *q = json; (q = memchr(q, '\\', (size_t)(json + len - q))) && q + 5 < json + len;
       q += 2)
    if (!memcmp(q + 1, "u0000", 5)) {
      rc = sl_jerr_set(err, "$", "holds an escaped NUL (\\u0000, at byte %ld)", (long)(q - json));
      goto fail;
    }
  size_t bad = sl_utf8_invalid(json, len);
  if (bad != SIZE_MAX) {
    rc = sl_jerr_set(err, "$", "is not valid UTF-8 (at byte %zu)", bad);
    goto fail;
  }
  if (memchr(json, 0, len)) {
    rc = sl_jerr_set(err, "$", "holds a NUL byte");
    goto fail;
  }
  /* no object has a key twice (cJSON would keep the first, where jq and most
   * readers keep the last: a reviewer would read another policy than the one
   * that runs) */
  char dp[256];
  const char *dk = sl_json_dup_key(c->root, dp, sizeof dp);
  if (dk) {
    rc = sl_jerr_set(err, dp, "has the key \"%.60s\" twice", dk);
    goto fail;
  }
  static const char *const keys[] = {"listen", "workers", "ledger", "auth", "backends",
                                     "detectors", "rules", "limits", "router", "redaction",
                                     "log_level", "access_log", "$schema", "description", NULL};
  if ((rc = sl__check_keys(c->root, "$", keys, err))) goto fail;
  if ((rc = get_str(c->root, "listen", "$", false, &c->listen, err))) goto fail;
  if (!c->listen && !(c->listen = strdup("127.0.0.1:8080"))) goto nomem;
  if ((rc = sl_config_check_listen(c->listen, "$.listen", 1, err))) goto fail;
  long workers = 0;
  if ((rc = get_int(c->root, "workers", "$", 0, SL_MAX_WORKERS, &workers, err))) goto fail;
  c->workers = (int)workers;
  if ((rc = parse_log_level(c->root, &c->log_level, err))) goto fail;
  const cJSON *al = cJSON_GetObjectItemCaseSensitive(c->root, "access_log");
  if (al && !cJSON_IsBool(al)) {
    rc = sl_jerr_set(err, "$.access_log", "must be true or false");
    goto fail;
  }
  c->access_log = cJSON_IsTrue(al);
  for (const char *const *k = (const char *const[]){"$schema", "description", NULL}; *k; k++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->root, *k);
    if (v && !cJSON_IsString(v)) {
      char p[32];
      snprintf(p, sizeof p, "$.%s", *k);
      rc = sl_jerr_set(err, p, "must be a string");
      goto fail;
    }
  }
  if ((rc = parse_limits(c->root, &c->limits, err)) || (rc = parse_ledger(c->root, c, err)) ||
      (rc = parse_auth(c->root, c, err)) || (rc = parse_backends(c->root, c, err)))
    goto fail;
  *out = c;
  return 0;
nomem:
  rc = SL_ENOMEM;
  sl_jerr_set(err, "$", "out of memory");
fail:
  sl_config_free(c);
  return rc;
}

int sl_config_load(const char *path, sl_config_t **out, sl_jerr_t *err) {
  *out = NULL;
  const char *why;
  FILE *f = sl_fopen_regular(path, &why);
  if (!f) return sl_jerr_set(err, "$", "cannot open %s: %s", path, why), SL_EIO;
  char *buf = malloc(CONFIG_MAX_BYTES + 1);
  if (!buf) {
    fclose(f);
    return SL_ENOMEM;
  }
  size_t n = fread(buf, 1, CONFIG_MAX_BYTES + 1, f);
  int bad = ferror(f);
  fclose(f);
  int rc;
  if (bad) rc = (sl_jerr_set(err, "$", "cannot read %s", path), SL_EIO);
  else rc = sl_config_parse(buf, n, path, out, err);
  free(buf);
  return rc;
}

static void backend_free(sl_backend_cfg_t *b) {
  free(b->name);
  free(b->base_url);
  free(b->api_key_env);
  free(b->ca_file);
  for (size_t i = 0; i < b->n_models; i++) free(b->models[i].name);
  free(b->models);
  free(b->default_model);
  free(b->model_path);
  free(b->chat_template);
}

void sl_config_free(sl_config_t *c) {
  if (!c) return;
  free(c->path);
  free(c->listen);
  free(c->ledger_path);
  for (size_t i = 0; i < c->n_keys; i++) {
    free(c->keys[i].id);
    free(c->keys[i].tenant);
  }
  free(c->keys);
  free(c->admin_keys);
  free(c->metrics_keys);
  for (size_t i = 0; i < c->n_backends; i++) backend_free(&c->backends[i]);
  free(c->backends);
  cJSON_Delete(c->root);
  free(c);
}

const sl_backend_cfg_t *sl_config_backend(const sl_config_t *c, const char *name) {
  for (size_t i = 0; i < c->n_backends; i++)
    if (!strcmp(c->backends[i].name, name)) return &c->backends[i];
  return NULL;
}

const sl_model_price_t *sl_config_model(const sl_backend_cfg_t *b, const char *model) {
  for (size_t i = 0; i < b->n_models; i++)
    if (!strcmp(b->models[i].name, model)) return &b->models[i];
  return NULL;
}

void sl_config_key_digest(const char *key, size_t len, uint8_t out[32]) {
  SHA256((const unsigned char *)key, len, out);
}

const sl_key_cfg_t *sl_config_find_key(const sl_config_t *c, const char *token, size_t len) {
  uint8_t d[32];
  sl_config_key_digest(token, len, d);
  const sl_key_cfg_t *found = NULL;
  for (size_t i = 0; i < c->n_keys; i++)
    if (!CRYPTO_memcmp(d, c->keys[i].sha256, 32)) found = &c->keys[i];
  return found;
}

static bool in_keys(uint8_t (*keys)[32], size_t n, const char *token, size_t len) {
  uint8_t d[32];
  sl_config_key_digest(token, len, d);
  bool ok = false;
  for (size_t i = 0; i < n; i++)
    if (!CRYPTO_memcmp(d, keys[i], 32)) ok = true;
  return ok;
}

bool sl_config_is_admin(const sl_config_t *c, const char *token, size_t len) {
  return in_keys(c->admin_keys, c->n_admin_keys, token, len);
}

bool sl_config_may_read_metrics(const sl_config_t *c, const char *token, size_t len) {
  if (!c->n_metrics_keys) return true;
  return token && (in_keys(c->metrics_keys, c->n_metrics_keys, token, len) || sl_config_is_admin(c, token, len));
}

long sl_backend_first_byte_ms(const sl_backend_cfg_t *bc, bool stream) {
  return stream || bc->first_byte_set ? bc->first_byte_timeout_ms : 0;
}
