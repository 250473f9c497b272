/* `sluice train-router`: placeholder until its module lands. */
#include "cli.h"

#include <stdio.h>

int sl_cli_train_router(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "sluice train-router: not available in this build yet\n");
  return 2;
}
