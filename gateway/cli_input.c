/* Request and policy input for the policy CLIs (see cli_input.h), and the
 * subcommands' shared `--help` test (cli.h). */
#include "cli.h"
#include "cli_input.h"
#include "codec_anthropic.h"
#include "codec_json.h"
#include "codec_openai.h"
#include "codec_responses.h"
#include "sl_buf.h"
#include "sl_err.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int sl_cli_is_help(const char *arg) { return !strcmp(arg, "--help") || !strcmp(arg, "-h"); }

int sl_cli_whole(const char *s, long lo, long hi, long *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < lo || v > hi) return 0;
  *out = v;
  return 1;
}

int sl_cli_input_decode(const char *json, size_t len, sl_cli_input_t *in, char *err,
                        size_t errlen) {
  memset(in, 0, sizeof *in);
  sl_chat_req_init(&in->req);
  cJSON *j = sl_codec_parse_body(json, len, err, errlen); /* as the gateway reads a body */
  if (!j) return SL_EPARSE;
  if (!cJSON_IsObject(j)) {
    cJSON_Delete(j);
    snprintf(err, errlen, "not a JSON object");
    return SL_EPARSE;
  }
  const cJSON *text = cJSON_GetObjectItemCaseSensitive(j, "text");
  /* (a Responses body's "text" is its output options: it has an "input") */
  if (text && !cJSON_GetObjectItemCaseSensitive(j, "messages") && !cJSON_GetObjectItemCaseSensitive(j, "input")) {
    int rc = 0;
    if (!cJSON_IsString(text)) {
      snprintf(err, errlen, "text: must be a string");
      rc = SL_EPARSE;
    } else {
      in->is_text = true;
      in->req.msgs = calloc(1, sizeof *in->req.msgs);
      if (!in->req.msgs || !(in->req.model = strdup("auto"))) rc = SL_ENOMEM;
      else {
        in->req.n_msgs = 1;
        if (!(in->req.msgs[0].role = strdup("user")) ||
            !(in->req.msgs[0].content = strdup(text->valuestring)))
          rc = SL_ENOMEM;
      }
      if (rc) snprintf(err, errlen, "out of memory");
    }
    cJSON_Delete(j);
    if (rc) sl_chat_req_free(&in->req);
    return rc;
  }
  cJSON_Delete(j);
  /* an Anthropic Messages or OpenAI Responses body is read as the gateway
   * reads it on /v1/explain */
  int rc = sl_anthropic_shaped(json, len)    ? sl_anthropic_decode_request(json, len, &in->req, err, errlen)
           : sl_responses_shaped(json, len) ? sl_responses_decode_request(json, len, &in->req, err, errlen)
                                             : sl_openai_decode_request(json, len, &in->req, err, errlen);
  if (rc) sl_chat_req_free(&in->req);
  return rc;
}

void sl_cli_input_free(sl_cli_input_t *in) { sl_chat_req_free(&in->req); }

int sl_cli_input_classify(const sl_router_t *r, const sl_cli_input_t *in, const char *declared,
                          sl_class_t *out) {
  if (in->is_text) {
    const char *t = in->req.msgs[0].content;
    return sl_router_classify_text(r, t, strlen(t), declared, out);
  }
  return sl_router_classify(r, &in->req, declared, out);
}

static const char builtin_policy[] =
    "{\"backends\": [{\"name\": \"local\", \"kind\": \"local\"}],"
    " \"rules\": [{\"name\": \"default\", \"route\": [\"local\"]}]}";

int sl_cli_load_policy(const char *path, sl_policy_t **out) {
  sl_jerr_t err = {{0}};
  bool named = path != NULL;
  if (!path) path = getenv("SLUICE_CONFIG");
  named |= path != NULL;
  if (!path) path = "deploy/sluice.json";
  struct stat st;
  int rc;
  bool builtin = !named && stat(path, &st);
  if (builtin) {
    sl_config_t *cfg;
    rc = sl_config_parse(builtin_policy, sizeof builtin_policy - 1, NULL, &cfg, &err);
    if (!rc) rc = sl_policy_compile(cfg, out, &err);
  } else {
    rc = sl_policy_load(path, out, &err);
  }
  if (rc) fprintf(stderr, "sluice: %s: %s\n", builtin ? "built-in policy" : path, err.msg);
  return rc;
}

ssize_t sl_cli_read_line(FILE *f, char **buf, size_t *cap, size_t max, bool *too_long) {
  size_t n = 0;
  *too_long = false;
  for (;;) {
    if (n + 2 > *cap) { /* room for a byte and the NUL */
      size_t want = *cap ? *cap * 2 : 4096;
      if (want > max + 2) want = max + 2;
      if (want <= *cap) { /* full at max: the rest of the line is dropped */
        char skip[4096];
        *too_long = true;
        while (fgets(skip, sizeof skip, f) && !strchr(skip, '\n')) {}
        if (ferror(f)) return -2;
        break;
      }
      char *nb = realloc(*buf, want);
      if (!nb) {
        errno = ENOMEM;
        return -2;
      }
      *buf = nb;
      *cap = want;
    }
    /* byte by byte, not fgets: a NUL inside the line is kept and counted (the
     * decoder names it), where fgets' length would end there */
    int ch = getc_unlocked(f);
    if (ch == EOF) {
      if (ferror(f)) return -2;
      if (!n) return -1;
      break;
    }
    (*buf)[n++] = (char)ch;
    if (ch == '\n') break;
  }
  (*buf)[n] = '\0';
  return (ssize_t)n;
}

int sl_cli_read_all(FILE *f, size_t max, char **out, size_t *len) {
  sl_buf_t b;
  sl_buf_init(&b, max);
  char chunk[65536];
  size_t n;
  int rc = sl_buf_append(&b, "", 0);
  while (!rc && (n = fread(chunk, 1, sizeof chunk, f)) > 0) rc = sl_buf_append(&b, chunk, n);
  if (!rc && ferror(f)) rc = SL_EIO;
  if (rc) {
    sl_buf_free(&b);
    return rc;
  }
  *out = sl_buf_steal(&b, len);
  return 0;
}
