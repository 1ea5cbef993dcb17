/* Logging to stderr; safe to call from any thread. */
#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

enum log_level log_threshold = LOG_NOTICE;
static int tty = -1;	/* stderr is a terminal: -1 until known */

void log_check_terminal(void)
{
	tty = isatty(STDERR_FILENO);
}

static void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	static const char *const prefix[] = {
		[LOG_ERROR] = "error: ",
		[LOG_WARN] = "warning: ",
		[LOG_NOTICE] = "",
		[LOG_INFO] = "",
		[LOG_DEBUG] = "debug: ",
	};
	char line[1024];

	if (level > log_threshold)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	if (tty < 0)
		log_check_terminal();
	/* One fprintf call so lines from different threads do not interleave;
	 * on a terminal \r first because it may be in raw mode; files and
	 * pipes get plain lines. */
	if (tty)
		fprintf(stderr, "\rwirt: %s%s\r\n", prefix[level], line);
	else
		fprintf(stderr, "wirt: %s%s\n", prefix[level], line);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_ERROR, fmt, ap);
	va_end(ap);
	exit(1);
}
