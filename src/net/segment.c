/*
 * Software offloads (segment.h): checksum completion and TCP
 * segmentation.  Field offsets are those of RFC 791 (IPv4), RFC 8200
 * (IPv6) and RFC 9293 (TCP); all multi-byte fields are big-endian.
 */
#include "net/segment.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "net/net.h"

#define ETH_P_IPV4  0x0800
#define ETH_P_IPV6  0x86dd
#define ETH_P_VLAN  0x8100
#define ETH_P_QINQ  0x88a8
#define IPPROTO_TCP_ 6
#define TCP_FIN 0x01
#define TCP_PSH 0x08
#define TCP_CWR 0x80
#define MAX_EXT_HDRS 8      /* IPv6 extension headers we walk before TCP */

/* Where a large TCP frame's headers lie. */
struct tcp_frame {
	size_t l3, l4, hlen;     /* IP header, TCP header, end of headers */
	bool ipv6;
};

static uint16_t get16(const uint8_t *p) { return p[0] << 8 | p[1]; }

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v);
}

uint64_t net_csum_add(const uint8_t *buf, size_t len, uint64_t sum)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += get16(buf + i);
	if (len & 1)
		sum += (uint32_t)buf[len - 1] << 8;
	return sum;
}

uint16_t net_csum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

/* The checksum to store: inverted; 0 goes out as 0xffff, its equal in
 * one's complement, because 0 means "no checksum" to UDP. */
static uint16_t csum_final(uint64_t sum)
{
	uint16_t c = ~net_csum_fold(sum);

	return c ? c : 0xffff;
}

int net_csum_finish(uint8_t *frame, size_t len, const struct net_hdr *hdr)
{
	size_t start = hdr->csum_start, at = start + hdr->csum_offset;

	if (at + 2 > len)
		return -EINVAL;
	put16(frame + at, csum_final(net_csum_add(frame + start, len - start, 0)));
	return 0;
}

/* Skip VLAN tags; the offset of the IP header and its ethertype. */
static int parse_ethernet(const uint8_t *f, size_t len, size_t *l3,
			  uint16_t *type)
{
	size_t off = 12;
	int tags;

	*type = get16(f + off);
	for (tags = 0; *type == ETH_P_VLAN || *type == ETH_P_QINQ; tags++) {
		if (tags == 2 || off + 6 > len)
			return -EINVAL;
		off += 4;
		*type = get16(f + off);
	}
	*l3 = off + 2;
	return 0;
}

static int parse_ipv4(const uint8_t *f, size_t len, struct tcp_frame *t)
{
	const uint8_t *ip = f + t->l3;
	size_t ihl;

	if (t->l3 + 20 > len || ip[0] >> 4 != 4)
		return -EINVAL;
	ihl = (ip[0] & 15) * 4;
	/* Fragments (MF set or an offset) cannot be segmented. */
	if (ihl < 20 || t->l3 + ihl > len || ip[9] != IPPROTO_TCP_ ||
	    (get16(ip + 6) & 0x3fff))
		return -EINVAL;
	t->l4 = t->l3 + ihl;
	return 0;
}

/* Hop-by-hop and destination options may precede TCP; a routing header
 * would change the pseudo-header's address and a fragment header makes
 * this no TCP frame to cut, so both are refused. */
static int parse_ipv6(const uint8_t *f, size_t len, struct tcp_frame *t)
{
	const uint8_t *ip = f + t->l3;
	size_t off = t->l3 + 40;
	uint8_t next;
	int i;

	if (t->l3 + 40 > len || ip[0] >> 4 != 6)
		return -EINVAL;
	next = ip[6];
	for (i = 0; i < MAX_EXT_HDRS && (next == 0 || next == 60); i++) {
		if (off + 8 > len)
			return -EINVAL;
		next = f[off];
		off += (f[off + 1] + 1) * 8;
	}
	if (next != IPPROTO_TCP_ || off > len)
		return -EINVAL;
	t->l4 = off;
	t->ipv6 = true;
	return 0;
}

/* Check that frame is the TCP frame hdr says it is; find its headers. */
static int parse_tcp_frame(const struct net_hdr *hdr, const uint8_t *f,
			   size_t len, struct tcp_frame *t)
{
	uint8_t type = hdr->gso_type & ~NET_GSO_ECN;
	uint16_t eth_type;
	size_t doff;
	int ret;

	memset(t, 0, sizeof(*t));
	if (len < NET_MIN_FRAME || len > NET_MAX_FRAME || !hdr->gso_size ||
	    hdr->hdr_len > len)
		return -EINVAL;
	if (parse_ethernet(f, len, &t->l3, &eth_type))
		return -EINVAL;
	if (type == NET_GSO_TCPV4 && eth_type == ETH_P_IPV4)
		ret = parse_ipv4(f, len, t);
	else if (type == NET_GSO_TCPV6 && eth_type == ETH_P_IPV6)
		ret = parse_ipv6(f, len, t);
	else
		return -EINVAL;
	if (ret || t->l4 + 20 > len)
		return -EINVAL;
	doff = (f[t->l4 + 12] >> 4) * 4;
	if (doff < 20 || t->l4 + doff > len)
		return -EINVAL;
	t->hlen = t->l4 + doff;
	/* A checksum the sender asks for must be TCP's, where we put it. */
	if ((hdr->flags & NET_HDR_F_NEEDS_CSUM) &&
	    (hdr->csum_start != t->l4 || hdr->csum_offset != 16))
		return -EINVAL;
	return 0;
}

/* The TCP pseudo-header's sum for a segment of tcp_len bytes. */
static uint64_t pseudo_sum(const uint8_t *seg, const struct tcp_frame *t,
			   size_t tcp_len)
{
	const uint8_t *ip = seg + t->l3;

	if (t->ipv6)
		return net_csum_add(ip + 8, 32, 0) + (tcp_len >> 16) +
		       (tcp_len & 0xffff) + IPPROTO_TCP_;
	return net_csum_add(ip + 12, 8, 0) + tcp_len + IPPROTO_TCP_;
}

/* Fix the headers of segment i (payload bytes from off) built in seg. */
static void fix_segment(uint8_t *seg, size_t seg_len, const struct tcp_frame *t,
			unsigned i, bool last, size_t off)
{
	uint8_t *ip = seg + t->l3, *tcp = seg + t->l4;
	size_t tcp_len = seg_len - t->l4;

	if (t->ipv6) {
		put16(ip + 4, seg_len - t->l3 - 40);
	} else {
		size_t ihl = t->l4 - t->l3;

		put16(ip + 2, seg_len - t->l3);
		put16(ip + 4, get16(ip + 4) + i);
		put16(ip + 10, 0);
		put16(ip + 10, ~net_csum_fold(net_csum_add(ip, ihl, 0)));
	}
	put32(tcp + 4, get32(tcp + 4) + off);
	if (!last)
		tcp[13] &= ~(TCP_FIN | TCP_PSH);
	if (i)
		tcp[13] &= ~TCP_CWR;
	put16(tcp + 16, 0);
	put16(tcp + 16, ~net_csum_fold(net_csum_add(tcp, tcp_len,
						     pseudo_sum(seg, t, tcp_len))));
}

int net_segment(const struct net_hdr *hdr, const uint8_t *frame, size_t len,
		uint8_t *buf, net_segment_fn emit, void *opaque)
{
	struct tcp_frame t;
	size_t payload, mss, off;
	unsigned i;
	int ret;

	if (parse_tcp_frame(hdr, frame, len, &t))
		return -EINVAL;
	payload = len - t.hlen;
	mss = hdr->gso_size < payload ? hdr->gso_size : payload;
	/* Each segment's IP length field must hold it. */
	if (t.hlen - t.l3 + mss > 0xffff + (t.ipv6 ? 40 : 0))
		return -EINVAL;
	off = 0;
	i = 0;
	do {
		size_t n = payload - off < mss ? payload - off : mss;
		bool last = off + n == payload;

		memcpy(buf, frame, t.hlen);
		memcpy(buf + t.hlen, frame + t.hlen + off, n);
		fix_segment(buf, t.hlen + n, &t, i, last, off);
		ret = emit(opaque, buf, t.hlen + n);
		if (ret)
			return ret;
		off += n;
		i++;
	} while (off < payload);
	return i;
}
