/* stderr logger: timestamped lines, level filtered, safe to call from any thread.
 * A line is one line: control characters in what it quotes (an upstream's
 * error message, a client's header) are written escaped (\n, \x1b), so that
 * no one can forge a line of the log or drive the terminal reading it.
 *
 * Once serving (sl_log_async), the event loops never wait for stderr: a line
 * is written at once only while nothing waits and stderr can take it without
 * blocking (poll: a pipe then has room for PIPE_BUF bytes); else it goes into
 * a buffer that a writer thread empties. A reader that stops reading (a
 * stalled pipe, a paused pager, a blocked log driver) fills the buffer, and
 * further lines are dropped and counted, then reported when stderr takes bytes
 * again; the gateway keeps serving. At exit the buffer is flushed, waiting at
 * most two seconds. Before that (start-up, the other commands) a line is
 * written at once, in order with what the commands print to stderr. */
#include "sl_log.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static sl_log_level_t min_level = SL_LOG_INFO;

enum { BUF_BYTES = 1 << 20 };

static struct {
  pthread_mutex_t mu;
  pthread_cond_t work, idle;
  char *fill, *spare;       /* lines waiting, and the buffer the writer empties */
  size_t len;               /* bytes in fill */
  unsigned long dropped;    /* lines that found fill full */
  bool writing, threaded;   /* the writer holds spare; it runs (sl_log_async) */
} L = {.mu = PTHREAD_MUTEX_INITIALIZER, .work = PTHREAD_COND_INITIALIZER, .idle = PTHREAD_COND_INITIALIZER};
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void write_all(const char *p, size_t n) {
  while (n) {
    ssize_t w = write(STDERR_FILENO, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return; /* (stderr closed or gone: nothing to do) */
    p += w, n -= (size_t)w;
  }
}

static void *writer_main(void *arg) {
  (void)arg;
  pthread_mutex_lock(&L.mu);
  for (;;) {
    while (!L.len && !L.dropped) pthread_cond_wait(&L.work, &L.mu);
    char *p = L.fill;
    size_t n = L.len;
    unsigned long dropped = L.dropped;
    L.fill = L.spare, L.spare = p, L.len = 0, L.dropped = 0;
    L.writing = true;
    pthread_mutex_unlock(&L.mu);
    write_all(p, n);
    if (dropped) {
      char note[160];
      int k = snprintf(note, sizeof note,
                       "sluice: %lu log line%s dropped: stderr was not read fast enough\n", dropped,
                       dropped == 1 ? "" : "s");
      if (k > 0) write_all(note, (size_t)k);
    }
    pthread_mutex_lock(&L.mu);
    L.writing = false;
    pthread_cond_broadcast(&L.idle);
  }
  return NULL;
}

/* Waits until every line so far was written, for at most two seconds. */
static void flush_at_exit(void) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 2;
  pthread_mutex_lock(&L.mu);
  while ((L.len || L.dropped || L.writing) &&
         pthread_cond_timedwait(&L.idle, &L.mu, &until) != ETIMEDOUT) {}
  pthread_mutex_unlock(&L.mu);
}

static void start(void) {
  L.fill = malloc(BUF_BYTES);
  L.spare = malloc(BUF_BYTES);
  pthread_t t;
  pthread_attr_t a;
  pthread_attr_init(&a);
  pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
  bool ok = L.fill && L.spare && !pthread_create(&t, &a, writer_main, NULL);
  pthread_attr_destroy(&a);
  pthread_mutex_lock(&L.mu);
  L.threaded = ok;
  pthread_mutex_unlock(&L.mu);
  if (ok) atexit(flush_at_exit);
}

void sl_log_async(void) { pthread_once(&once, start); }

/* Whether stderr takes a line of n bytes now without blocking. */
static bool room_now(size_t n) {
  struct pollfd p = {.fd = STDERR_FILENO, .events = POLLOUT};
  return n <= PIPE_BUF && poll(&p, 1, 0) == 1 && (p.revents & (POLLOUT | POLLERR | POLLHUP | POLLNVAL));
}

/* Writes a whole line here, or hands it to the writer. */
static void emit(const char *line, size_t n) {
  pthread_mutex_lock(&L.mu);
  if (!L.threaded || (!L.len && !L.dropped && !L.writing && room_now(n))) {
    write_all(line, n); /* (under the lock: lines from threads stay whole, in order) */
  } else {
    if (L.len + n <= BUF_BYTES) {
      memcpy(L.fill + L.len, line, n);
      L.len += n;
    } else {
      L.dropped++;
    }
    pthread_cond_signal(&L.work);
  }
  pthread_mutex_unlock(&L.mu);
}

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
  emit(out, k); /* whole lines: lines from threads do not interleave */
}
