/* `sluice explain`: placeholder until its module lands. */
#include "cli.h"

#include <stdio.h>

int sl_cli_explain(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "sluice explain: not available in this build yet\n");
  return 2;
}
