/*
 * libFuzzer target: the input is a file of unknown format; the block
 * layer's probe picks the driver, as `wirt img` and `wirt run` do.
 */
#include "fuzz_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_image(data, size, NULL);
}
