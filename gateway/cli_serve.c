/* `sluice serve`: placeholder until its module lands. */
#include "cli.h"

#include <stdio.h>

int sl_cli_serve(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "sluice serve: not available in this build yet\n");
  return 2;
}
