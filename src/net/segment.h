/*
 * Offloads done in software: finishing a checksum a frame's sender left
 * partial, and cutting a large TCP frame (TSO) into MSS-sized frames with
 * correct IP and TCP headers.  Used where one side of a NIC hands over a
 * struct net_hdr the other side cannot take: a guest's TSO frames for the
 * user and socket back ends, a tap's large frames for a guest that did not
 * negotiate them.  Frames are untrusted: every offset is checked against
 * the frame before use, and a frame that does not parse is refused.
 */
#ifndef WIRT_NET_SEGMENT_H
#define WIRT_NET_SEGMENT_H

#include <stddef.h>
#include <stdint.h>

struct net_hdr;

/* One's-complement sum of buf added to sum (RFC 1071), not folded. */
uint64_t net_csum_add(const uint8_t *buf, size_t len, uint64_t sum);
/* Fold a sum to 16 bits (not inverted). */
uint16_t net_csum_fold(uint64_t sum);

/*
 * NET_HDR_F_NEEDS_CSUM: store the checksum of frame[csum_start..len) at
 * csum_start + csum_offset (where the sender left the pseudo-header sum).
 * 0, or -EINVAL when the offsets lie outside the frame.
 */
int net_csum_finish(uint8_t *frame, size_t len, const struct net_hdr *hdr);

/* Called once per segment; a non-zero return stops the segmentation. */
typedef int (*net_segment_fn)(void *opaque, const uint8_t *seg, size_t len);

/*
 * Cut a TCP frame with hdr->gso_type TCPV4 or TCPV6 into segments of at
 * most hdr->gso_size payload bytes, each built in buf (NET_MAX_FRAME
 * bytes) and handed to emit.  The frame is checked completely before the
 * first segment goes out.  Returns the number of segments, -EINVAL for a
 * frame that is not a well-formed TCP frame of the type hdr claims, or
 * emit's non-zero return.
 */
int net_segment(const struct net_hdr *hdr, const uint8_t *frame, size_t len,
		uint8_t *buf, net_segment_fn emit, void *opaque);

#endif
