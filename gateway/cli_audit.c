/* `sluice audit`: placeholder until its module lands. */
#include "cli.h"

#include <stdio.h>

int sl_cli_audit(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "sluice audit: not available in this build yet\n");
  return 2;
}
