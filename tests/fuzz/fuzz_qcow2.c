/* libFuzzer target: the input is a qcow2 image. */
#include "fuzz_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_image(data, size, "qcow2");
}
