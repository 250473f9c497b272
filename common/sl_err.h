/* One error convention for all of sluice: functions that can fail return 0 or a
 * negative SL_E* code from this table; sl_strerror() names it. */
#ifndef SL_ERR_H
#define SL_ERR_H

#define SL_ERRNO_MAP(X)                                              \
  X(NOMEM, "out of memory")                                          \
  X(INVAL, "invalid argument")                                       \
  X(IO, "input/output error")                                        \
  X(PARSE, "malformed input")                                        \
  X(TOOBIG, "input exceeds its limit")                               \
  X(RANGE, "value out of range")                                     \
  X(UNSUPPORTED, "not supported")                                    \
  X(NOTFOUND, "not found")                                           \
  X(BUSY, "queue full")                                              \
  X(TIMEOUT, "timed out")                                            \
  X(CANCELED, "canceled")                                            \
  X(UPSTREAM, "upstream error")                                      \
  X(POLICY, "blocked by policy")                                     \
  X(AUTH, "not authorized")                                          \
  X(UNAVAILABLE, "backend unavailable")                              \
  X(INTERNAL, "internal error")                                      \
  X(ADDRINUSE, "address in use")                                     \
  X(STALE, "reused connection closed before the answer")

typedef enum {
  SL_OK = 0,
#define SL_ERR_ENUM(name, msg) SL_E##name,
  SL__EFIRST = -1000, /* codes run upward from -999 */
  SL_ERRNO_MAP(SL_ERR_ENUM)
#undef SL_ERR_ENUM
  SL__ELAST
} sl_err_t;

/* A static description of code `err` (0 or a negative SL_E* code). */
const char *sl_strerror(int err);
/* The short symbolic name, e.g. "SL_ETOOBIG". */
const char *sl_errname(int err);

#endif
