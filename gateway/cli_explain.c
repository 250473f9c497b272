/* `sluice explain [--config FILE] [--tenant T] [--header "Name: value"]...
 * [--rpm N] [--prompt-tokens N] [--compact] < request.json`: classifies one
 * request (an OpenAI chat body, an Anthropic one or {"text": ...}; --rpm is
 * the tenant's rate with this request, 1 by default) and prints the decision with
 * its explanation: which rule matched, why each earlier rule did not, what the
 * keep-inside filter removed. Nothing is sent. Exit 0 when explained (also
 * for a blocked request), 1 on bad input or policy. */
#include "cli.h"
#include "cli_input.h"
#include "sl_err.h"
#include "sl_str.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_INPUT (16u << 20)
#define MAX_HEADERS 32

typedef struct {
  const char *name[MAX_HEADERS];
  const char *value[MAX_HEADERS];
  char *owned[MAX_HEADERS];
  int n;
} headers_t;

static const char *header_lookup(void *ctx, const char *name, size_t nth) {
  headers_t *h = ctx;
  for (int i = 0; i < h->n; i++)
    if (!strcasecmp(h->name[i], name) && !nth--) return h->value[i];
  return NULL;
}

/* Every value of a header given more than once, joined with ", " as the
 * gateway reads x-sluice-data-class (the highest level wins); NULL when none
 * was given. */
static const char *header_all(const headers_t *h, const char *name, char *buf, size_t cap) {
  size_t k = 0;
  bool any = false;
  buf[0] = '\0';
  for (int i = 0; i < h->n; i++) {
    if (strcasecmp(h->name[i], name)) continue;
    int w = snprintf(buf + k, cap - k, "%s%s", any ? ", " : "", h->value[i]);
    if (w < 0 || (size_t)w >= cap - k) return "restricted"; /* too long to read: fail closed */
    k += (size_t)w;
    any = true;
  }
  return any ? buf : NULL;
}

static int usage(FILE *f) {
  fprintf(f, "usage: sluice explain [--config FILE] [--tenant T] [--header 'Name: value']... "
             "[--rpm N] [--prompt-tokens N] [--compact] < request.json\n");
  return f == stdout ? 0 : 2;
}

int sl_cli_explain(int argc, char **argv) {
  for (int i = 0; i < argc; i++)
    if (sl_cli_is_help(argv[i])) return usage(stdout);
  const char *config = NULL;
  bool compact = false;
  headers_t h = {0};
  /* the tenant's rate counts this request, as the gateway counts it */
  sl_req_meta_t meta = {.header = header_lookup, .header_ctx = &h, .tenant_rpm = 1};
  int rc = 0;
  for (int i = 0; i < argc && !rc; i++) {
    const char *a = argv[i];
    bool has = i + 1 < argc;
    if (!strcmp(a, "--config") && has) config = argv[++i];
    else if (!strcmp(a, "--tenant") && has) meta.tenant = argv[++i];
    else if ((!strcmp(a, "--rpm") || !strcmp(a, "--prompt-tokens")) && has) {
      long v;
      if (!sl_cli_whole(argv[++i], 0, 1000000000, &v)) {
        fprintf(stderr, "sluice explain: %s wants a whole number from 0\n", a);
        rc = 2;
        break;
      }
      if (!strcmp(a, "--rpm")) meta.tenant_rpm = (int)v;
      else meta.prompt_tokens = (int)v;
    }
    else if (!strcmp(a, "--compact")) compact = true;
    else if (!strcmp(a, "--header") && has && h.n < MAX_HEADERS) {
      char *hv = strdup(argv[++i]);
      char *colon = hv ? strchr(hv, ':') : NULL;
      if (!colon) {
        free(hv);
        fprintf(stderr, "sluice explain: --header wants 'Name: value'\n");
        rc = 2;
        break;
      }
      *colon = '\0';
      sl_trim_blanks(colon + 1); /* as HTTP reads a field */
      h.owned[h.n] = hv;
      h.name[h.n] = hv;
      h.value[h.n++] = colon + 1;
    } else rc = usage(stderr);
  }
  sl_policy_t *p = NULL;
  char *body = NULL;
  size_t len = 0;
  if (!rc && sl_cli_load_policy(config, &p)) rc = 1;
  if (!rc && sl_cli_read_all(stdin, MAX_INPUT, &body, &len)) {
    fprintf(stderr, "sluice explain: cannot read the request (at most 16 MiB)\n");
    rc = 1;
  }
  sl_cli_input_t in;
  char err[300];
  if (!rc && sl_cli_input_decode(body, len, &in, err, sizeof err)) {
    fprintf(stderr, "sluice explain: bad request: %s\n", err);
    rc = 1;
  }
  if (!rc) {
    sl_class_t cls;
    char dc[512];
    sl_cli_input_classify(sl_policy_router(p), &in, header_all(&h, "x-sluice-data-class", dc, sizeof dc),
                          &cls);
    sl_decision_t d;
    sl_policy_decide(p, &in.req, &cls, &meta, &d);
    char *json = sl_policy_explain_json(p, &in.req, &cls, &d, true);
    cJSON *j = json && !compact ? cJSON_Parse(json) : NULL;
    char *pretty = j ? cJSON_Print(j) : NULL;
    if (pretty || json) puts(pretty ? pretty : json);
    else rc = 1;
    free(pretty);
    cJSON_Delete(j);
    free(json);
    sl_class_free(&cls);
    sl_cli_input_free(&in);
  }
  free(body);
  for (int i = 0; i < h.n; i++) free(h.owned[i]);
  if (p) sl_policy_unref(p);
  return rc;
}
