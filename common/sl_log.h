/* Logging to stderr, one line per event, with a level filter. Never pass secrets. */
#ifndef SL_LOG_H
#define SL_LOG_H

typedef enum { SL_LOG_DEBUG, SL_LOG_INFO, SL_LOG_WARN, SL_LOG_ERROR } sl_log_level_t;

void sl_log_set_level(sl_log_level_t lvl);
void sl_log(sl_log_level_t lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* From now on a caller never waits for a stderr that is not read: a line it
 * cannot write at once goes through a writer thread (lines past a 1 MiB
 * buffer are dropped and counted; at exit the rest is flushed for at most two
 * seconds). Before, each line is written at once. */
void sl_log_async(void);

#define SL_DEBUG(...) sl_log(SL_LOG_DEBUG, __VA_ARGS__)
#define SL_INFO(...) sl_log(SL_LOG_INFO, __VA_ARGS__)
#define SL_WARN(...) sl_log(SL_LOG_WARN, __VA_ARGS__)
#define SL_ERROR(...) sl_log(SL_LOG_ERROR, __VA_ARGS__)

#endif
