/* stderr logger: timestamped lines, level filtered, safe to call from any thread. */
#include "sl_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static sl_log_level_t min_level = SL_LOG_INFO;

void sl_log_set_level(sl_log_level_t lvl) { min_level = lvl; }

void sl_log(sl_log_level_t lvl, const char *fmt, ...) {
  static const char *names[] = {"debug", "info", "warn", "error"};
  if (lvl < min_level) return;
  char line[2048];
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s ",
                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                   tm.tm_sec, ts.tv_nsec / 1000000, names[lvl]);
  va_list ap;
  va_start(ap, fmt);
  if (n > 0 && (size_t)n < sizeof line) vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
  va_end(ap);
  fprintf(stderr, "%s\n", line); /* one fprintf: lines from threads do not interleave */
}
