/* `sluice classify [--config FILE] [--explain] < requests.jsonl > results.jsonl`:
 * one output line per input line, same order, in the INTERFACE.md `classify`
 * shape (sensitivity, difficulty, route). A line that cannot be decoded gives
 * {"error": "..."} in its place and a non-zero exit at the end. Nothing is sent
 * anywhere. */
#include "cli.h"
#include "cli_input.h"
#include "sl_err.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LINE (16u << 20)

static void print_error_line(long lineno, const char *msg) {
  cJSON *o = cJSON_CreateObject();
  char where[64];
  snprintf(where, sizeof where, "line %ld", lineno);
  cJSON_AddStringToObject(o, "error", msg);
  cJSON_AddStringToObject(o, "input", where);
  char *s = cJSON_PrintUnformatted(o);
  if (s) puts(s);
  free(s);
  cJSON_Delete(o);
}

int sl_cli_classify(int argc, char **argv) {
  const char *config = NULL;
  bool verbose = false;
  for (int i = 0; i < argc; i++) {
    if (!strcmp(argv[i], "--config") && i + 1 < argc) config = argv[++i];
    else if (!strcmp(argv[i], "--explain")) verbose = true;
    else {
      int help = sl_cli_is_help(argv[i]);
      fprintf(help ? stdout : stderr,
              "usage: sluice classify [--config FILE] [--explain] < requests.jsonl\n");
      return help ? 0 : 2;
    }
  }
  sl_policy_t *p;
  if (sl_cli_load_policy(config, &p)) return 1;

  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  long lineno = 0, bad = 0;
  bool too_long;
  while ((n = sl_cli_read_line(stdin, &line, &cap, MAX_LINE, &too_long)) >= 0) {
    lineno++;
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
    size_t skip = strspn(line, " \t");
    if ((size_t)n == skip) { /* no request, but a line of its own: output stays aligned */
      print_error_line(lineno, "blank line: no request");
      bad++; /* an error line, so a non-zero exit at the end, as for any line not read */
      continue;
    }
    if (too_long) {
      print_error_line(lineno, "line exceeds 16 MiB");
      bad++;
      continue;
    }
    char err[300];
    sl_cli_input_t in;
    if (sl_cli_input_decode(line, (size_t)n, &in, err, sizeof err)) {
      print_error_line(lineno, err);
      bad++;
      continue;
    }
    sl_class_t cls;
    sl_cli_input_classify(sl_policy_router(p), &in, NULL, &cls);
    sl_decision_t d;
    sl_policy_decide(p, &in.req, &cls, NULL, &d);
    char *json = sl_policy_explain_json(p, &in.req, &cls, &d, verbose);
    if (json) puts(json);
    else print_error_line(lineno, "out of memory");
    free(json);
    sl_class_free(&cls);
    sl_cli_input_free(&in);
  }
  int read_err = n == -2 ? errno : 0;
  free(line);
  sl_policy_unref(p);
  if (read_err) { /* input that cannot be read is no end of input */
    fprintf(stderr, "sluice classify: cannot read the input after line %ld: %s\n", lineno, strerror(read_err));
    return 1;
  }
  if (fflush(stdout)) return 1;
  if (bad) fprintf(stderr, "sluice classify: %ld of %ld lines could not be read\n", bad, lineno);
  return bad ? 1 : 0;
}
