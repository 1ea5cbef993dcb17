/* Strict parsing of numbers and sizes given on the command line. */
#include "util/parse.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

static int suffix_shift(const char *suffix)
{
	static const char units[] = "BKMGTPE";
	const char *u;

	if (!*suffix)
		return -1;
	u = strchr(units, toupper((unsigned char)suffix[0]));
	if (!u)
		return -2;
	suffix++;
	/* Accept "M", "MB", "MiB" (all binary). */
	if (*suffix && strcasecmp(suffix, "B") && strcasecmp(suffix, "iB"))
		return -2;
	if (u == units && *suffix)
		return -2; /* "BB", "BiB" */
	return (int)(u - units) * 10;
}

int parse_size(const char *s, uint64_t default_unit, uint64_t *out)
{
	char *end;
	unsigned long long v;
	int shift;

	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	shift = suffix_shift(end);
	if (shift == -2)
		return -EINVAL;
	if (shift == -1) {
		uint64_t unit = default_unit ? default_unit : 1;

		if (v > UINT64_MAX / unit)
			return -ERANGE;
		*out = v * unit;
		return 0;
	}
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = (uint64_t)v << shift;
	return 0;
}

int errorf(char *err, size_t len, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return ret;
}
