/* stderr logger: timestamped lines, level filtered, safe to call from any thread.
 * A line is one line: control characters in what it quotes (an upstream's
 * error message, a client's header) are written escaped (\n, \x1b), so that
 * no one can forge a line of the log or drive the terminal reading it. */
#include "sl_log.h"

#include <stdarg.h>
#include <stdbool.h>
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
  char out[sizeof line * 4 + 2];
  size_t k = 0;
  for (const unsigned char *p = (const unsigned char *)line; *p; p++) {
    unsigned char c = *p;
    /* C1 controls are C2 80..C2 9F in UTF-8 */
    bool c1 = c == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F;
    if (c >= 0x20 && c != 0x7F && !c1) {
      out[k++] = (char)c;
      continue;
    }
    static const char hex[] = "0123456789abcdef";
    if (c1) c = *++p;
    out[k++] = '\\';
    if (c == '\n') out[k++] = 'n';
    else if (c == '\r') out[k++] = 'r';
    else if (c == '\t') out[k++] = 't';
    else {
      out[k++] = 'x';
      out[k++] = hex[c >> 4];
      out[k++] = hex[c & 15];
    }
  }
  out[k++] = '\n';
  out[k] = '\0';
  fputs(out, stderr); /* one write: lines from threads do not interleave */
}
