/* Small file helpers. */
#ifndef WIRT_UTIL_FILE_H
#define WIRT_UTIL_FILE_H

#include <stddef.h>

/*
 * Read a whole regular file into a malloc'd buffer.  -EFBIG if it is larger
 * than max bytes, -EISDIR for directories, other negative errno on failure.
 */
int file_read_all(const char *path, size_t max, void **data, size_t *size);

#endif
