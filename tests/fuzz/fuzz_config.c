/* Fuzz target: the config file. Any bytes load or fail with a message; never a
 * crash or a leak. */
#include "policy/config.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sl_config_t *c = NULL;
  sl_jerr_t e;
  if (sl_config_parse((const char *)data, size, NULL, &c, &e) == 0) {
    for (size_t i = 0; i < c->n_backends; i++) sl_config_backend(c, c->backends[i].name);
    sl_config_find_key(c, "k", 1);
    sl_config_free(c);
  } else if (!memchr(e.msg, '\0', sizeof e.msg)) {
    __builtin_trap(); /* the message must be a terminated string */
  }
  return 0;
}
