/* Names and messages for the SL_E* error table. */
#include "sl_err.h"

const char *sl_strerror(int err) {
  switch (err) {
  case SL_OK: return "ok";
#define SL_ERR_MSG(name, msg) case SL_E##name: return msg;
    SL_ERRNO_MAP(SL_ERR_MSG)
#undef SL_ERR_MSG
  default: return "unknown error";
  }
}

const char *sl_errname(int err) {
  switch (err) {
  case SL_OK: return "SL_OK";
#define SL_ERR_NAME(name, msg) case SL_E##name: return "SL_E" #name;
    SL_ERRNO_MAP(SL_ERR_NAME)
#undef SL_ERR_NAME
  default: return "SL_EUNKNOWN";
  }
}
