/*
 * Shared body of the disk-image fuzz targets: each target hands its input
 * to fuzz_image() as the contents of an image file of one format (or of
 * any format, for the probe target).
 */
#ifndef WIRT_FUZZ_IMAGE_H
#define WIRT_FUZZ_IMAGE_H

#include <stddef.h>
#include <stdint.h>

/* format NULL: let the block layer probe the format. */
int fuzz_image(const uint8_t *data, size_t size, const char *format);

#endif
