/* Parsing of user-supplied numbers and sizes, with strict validation. */
#ifndef WIRT_UTIL_PARSE_H
#define WIRT_UTIL_PARSE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Parse a size such as "512M", "2G", "4096", "1.5G" is rejected.
 * Suffixes K, M, G, T (binary multiples, optional trailing "iB" or "B");
 * a bare number means bytes unless default_unit is given (e.g. 1 << 20
 * for --memory, where a bare "512" means 512 MiB as QEMU users expect).
 * Returns 0 on success, -EINVAL on syntax errors, -ERANGE on overflow.
 */
int parse_size(const char *s, uint64_t default_unit, uint64_t *out);

/* Parse a decimal unsigned integer in [min, max]; same return values. */
/*
 * Format an error message into err (len bytes) and return ret: for the
 * parsers that hand their caller a message with a negative errno.
 */
int errorf(char *err, size_t len, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);

#endif
