/*
 * libFuzzer target: the software offloads (net/segment.c) on a frame and
 * header a hostile guest or peer chose.  The input's first 10 bytes are
 * the header (virtio-net's layout, little-endian), the rest the frame.
 * Segments must stay within the largest frame and within the buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/net.h"
#include "net/segment.h"

#define HDR_BYTES 10

static int check_segment(void *opaque, const uint8_t *seg, size_t len)
{
	size_t *total = opaque;

	if (len > NET_MAX_FRAME)
		abort();
	*total += len;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[NET_MAX_FRAME];
	struct net_hdr h;
	size_t len, total = 0;
	uint8_t *frame;

	if (size < HDR_BYTES)
		return 0;
	h = (struct net_hdr){
		.flags = data[0], .gso_type = data[1],
		.hdr_len = data[2] | data[3] << 8,
		.gso_size = data[4] | data[5] << 8,
		.csum_start = data[6] | data[7] << 8,
		.csum_offset = data[8] | data[9] << 8,
	};
	/* An exact-size copy, so ASan sees any read past the frame. */
	len = size - HDR_BYTES;
	frame = malloc(len ? len : 1);
	if (!frame)
		return 0;
	memcpy(frame, data + HDR_BYTES, len);
	net_segment(&h, frame, len, buf, check_segment, &total);
	net_csum_finish(frame, len, &h);
	free(frame);
	return 0;
}
