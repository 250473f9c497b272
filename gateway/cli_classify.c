/* `sluice classify`: placeholder until its module lands. */
#include "cli.h"

#include <stdio.h>

int sl_cli_classify(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "sluice classify: not available in this build yet\n");
  return 2;
}
