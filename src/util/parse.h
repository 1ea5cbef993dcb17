/* Parsing of user-supplied numbers and sizes, with strict validation. */
#ifndef WIRT_UTIL_PARSE_H
#define WIRT_UTIL_PARSE_H

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
int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);

#endif
