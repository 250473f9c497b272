/* sluice: the command-line entry point. Dispatches to one subcommand. */
#include "cli.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "unknown"
#endif

static const struct {
  const char *name;
  int (*run)(int, char **);
  const char *help;
} commands[] = {
    {"serve", sl_cli_serve, "[--config FILE] [--listen HOST:PORT] [--workers N] [--debug]"},
    {"classify", sl_cli_classify, "[--config FILE] [--explain] < requests.jsonl > results.jsonl"},
    {"explain", sl_cli_explain,
     "[--config FILE] [--tenant T] [--header 'Name: value']... [--rpm N] [--prompt-tokens N] "
     "[--compact] < request.json"},
    {"policy", sl_cli_policy, "check FILE | test FILE CASES.jsonl [--verbose]"},
    {"generate", sl_cli_generate,
     "--model FILE.gguf [-p PROMPT] [-n N] [--temp T] [--seed S] [--threads K] [--json]"},
    {"tokenize", sl_cli_tokenize, "(--model FILE.gguf | --tokenizer tokenizer.json) [--special]"},
    {"train-router", sl_cli_train_router, "DATA.jsonl [--out WEIGHTS.json]"},
    {"audit", sl_cli_audit, "verify|egress|costs [--ledger FILE] ..."},
};

static void usage(FILE *f) {
  fprintf(f, "usage: sluice COMMAND [ARGS]   (sluice --version: versions)\n\ncommands:\n");
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    fprintf(f, "  %-13s %s\n", commands[i].name, commands[i].help);
  fprintf(f, "\nevery option of a command: sluice COMMAND --help\n");
}

/* Standard input, output and error open on /dev/null where the parent closed
 * them (a daemoniser, an init script): else the first files sluice opens take
 * their numbers, and the log goes into an event loop's wakeup pipe or the
 * ledger's database file. */
static void stdio_open(void) {
  for (int fd = 0; fd <= 2; fd++)
    if (fcntl(fd, F_GETFD) < 0) {
      int nfd = open("/dev/null", fd ? O_WRONLY : O_RDONLY);
      if (nfd >= 0 && nfd != fd) {
        dup2(nfd, fd);
        close(nfd);
      }
    }
}

int main(int argc, char **argv) {
  stdio_open();
  if (argc < 2 || sl_cli_is_help(argv[1])) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version"))
    return sl_cli_version(SLUICE_VERSION);
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 2, argv + 2);
  fprintf(stderr, "sluice: unknown command '%s'\n", argv[1]);
  usage(stderr);
  return 2;
}
