/* Logging: one clear line per message, prefixed with "wirt: ". */
#ifndef WIRT_UTIL_LOG_H
#define WIRT_UTIL_LOG_H

#include <stdbool.h>

/* NOTICE: shown by default, for the few lines a user should always see. */
enum log_level { LOG_ERROR, LOG_WARN, LOG_NOTICE, LOG_INFO, LOG_DEBUG };

/* Messages above this level are dropped; --verbose / WIRT_DEBUG raise it. */
extern enum log_level log_threshold;

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/* Log a warning only the first time this call site is reached. */
#define log_warn_once(...)                                   \
	do {                                                 \
		static bool warned_;                         \
		if (!__atomic_exchange_n(&warned_, true,     \
					 __ATOMIC_RELAXED))  \
			log_warn(__VA_ARGS__);               \
	} while (0)

/* Decide now whether messages go to a terminal: the sandbox calls this
 * before device workers (which may not ask the terminal) could log first. */
void log_check_terminal(void);

/* Print an error and exit with status 1; for start-up failures only. */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
