/*
 * Software offloads (net/segment.c) and the generic layer that uses them
 * (net_send, net_deliver): 64 KiB TCP frames over IPv4 and IPv6 are cut
 * into segments whose lengths, sequence numbers, flags and checksums are
 * checked here independently; hostile headers and frames are refused
 * without a segment going out; mutated frames never make the code read
 * or write out of bounds (AddressSanitizer).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net/net.h"
#include "net/segment.h"

#define ETH 14
#define TCP_ACK 0x10
#define TCP_FIN 0x01
#define TCP_PSH 0x08
#define TCP_CWR 0x80
#define MAX_SEGS 80000

static uint8_t frame[NET_MAX_FRAME];
static uint8_t seg_buf[NET_MAX_FRAME];

/* What the segments looked like. */
struct capture {
	unsigned n;
	size_t total;
	uint8_t *segs[MAX_SEGS / 1000];   /* the first few kept whole */
	size_t lens[MAX_SEGS];
};

static struct capture cap;

static uint16_t be16(const uint8_t *p) { return p[0] << 8 | p[1]; }

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

static void set16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = v; }

static void set32(uint8_t *p, uint32_t v)
{
	set16(p, v >> 16);
	set16(p + 2, v);
}

/* The test's own RFC 1071 sum, kept apart from the code under test. */
static uint32_t sum16(const uint8_t *p, size_t len, uint32_t s)
{
	size_t i;

	for (i = 0; i < len; i++)
		s += i & 1 ? p[i] : p[i] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s;
}

static int keep(void *opaque, const uint8_t *seg, size_t len)
{
	struct capture *c = opaque;

	assert_true(len <= NET_MAX_FRAME);
	assert_true(c->n < MAX_SEGS);
	if (c->n < MAX_SEGS / 1000) {
		c->segs[c->n] = malloc(len);
		memcpy(c->segs[c->n], seg, len);
	}
	c->lens[c->n++] = len;
	c->total += len;
	return 0;
}

static void cap_reset(void)
{
	unsigned i;

	for (i = 0; i < cap.n && i < MAX_SEGS / 1000; i++)
		free(cap.segs[i]);
	memset(&cap, 0, sizeof(cap));
}

static int teardown(void **state)
{
	cap_reset();
	return 0;
}

static void fill_payload(uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = i * 7 + (i >> 8);
}

static void put_tcp(uint8_t *tcp, size_t doff, uint32_t seq, uint8_t flags)
{
	memset(tcp, 0, doff);
	set16(tcp, 40000);
	set16(tcp + 2, 80);
	set32(tcp + 4, seq);
	set32(tcp + 8, 0x01020304);
	tcp[12] = doff / 4 << 4;
	tcp[13] = flags;
	set16(tcp + 14, 65535);
	set16(tcp + 16, 0x5a5a);      /* left partial by the sender */
	if (doff > 20) {              /* NOP NOP timestamp */
		tcp[20] = 1;
		tcp[21] = 1;
		tcp[22] = 8;
		tcp[23] = 10;
	}
}

/* Ethernet + IPv4 + TCP with options; returns the frame's length. */
static size_t build_ipv4(size_t payload, uint32_t seq, uint8_t flags)
{
	uint8_t *ip = frame + ETH, *tcp = ip + 20;

	memset(frame, 0, ETH);
	memcpy(frame, "\x52\x54\x00\x00\x00\x01\x52\x54\x00\x00\x00\x02", 12);
	set16(frame + 12, 0x0800);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	set16(ip + 2, 20 + 32 + payload);
	set16(ip + 4, 0xfffe);        /* identification wraps too */
	set16(ip + 6, 0x4000);        /* DF */
	ip[8] = 64;
	ip[9] = 6;
	memcpy(ip + 12, "\x0a\x00\x02\x0f\x0a\x00\x02\x02", 8);
	put_tcp(tcp, 32, seq, flags);
	fill_payload(tcp + 32, payload);
	return ETH + 20 + 32 + payload;
}

/* Ethernet + IPv6 + hop-by-hop options + TCP. */
static size_t build_ipv6(size_t payload, uint32_t seq, uint8_t flags)
{
	uint8_t *ip = frame + ETH, *hbh = ip + 40, *tcp = hbh + 8;
	int i;

	memcpy(frame, "\x52\x54\x00\x00\x00\x01\x52\x54\x00\x00\x00\x02", 12);
	set16(frame + 12, 0x86dd);
	memset(ip, 0, 40);
	ip[0] = 0x60;
	set16(ip + 4, 8 + 20 + payload);
	ip[6] = 0;                    /* hop-by-hop first */
	ip[7] = 64;
	for (i = 0; i < 16; i++) {
		ip[8 + i] = 0xfd00 >> 8 | i;
		ip[24 + i] = 0xa0 + i;
	}
	memset(hbh, 0, 8);
	hbh[0] = 6;                   /* then TCP */
	hbh[2] = 1;                   /* PadN */
	hbh[3] = 4;
	put_tcp(tcp, 20, seq, flags);
	fill_payload(tcp + 20, payload);
	return ETH + 40 + 8 + 20 + payload;
}

static struct net_hdr tso_hdr(uint8_t type, uint16_t mss, uint16_t l4)
{
	return (struct net_hdr){
		.flags = NET_HDR_F_NEEDS_CSUM, .gso_type = type,
		.hdr_len = l4 + 20, .gso_size = mss,
		.csum_start = l4, .csum_offset = 16,
	};
}

/* Check every captured segment of a frame with headers up to l4 + doff. */
static void check_segments(const uint8_t *orig, size_t l3, size_t l4,
			   size_t doff, bool ipv6, size_t payload, size_t mss,
			   uint32_t seq0, uint8_t flags)
{
	size_t hlen = l4 + doff, off = 0;
	unsigned i, want = (payload + mss - 1) / mss;

	assert_int_equal(cap.n, want);
	assert_int_equal(cap.total, want * hlen + payload);
	for (i = 0; i < cap.n; i++) {
		size_t n = i + 1 < cap.n ? mss : payload - off;
		const uint8_t *s = cap.segs[i], *ip = s + l3, *tcp = s + l4;
		uint32_t ps;

		assert_int_equal(cap.lens[i], hlen + n);
		if (i >= MAX_SEGS / 1000) {
			off += n;
			continue;
		}
		if (ipv6) {
			assert_int_equal(be16(ip + 4), hlen - l3 - 40 + n);
			ps = sum16(ip + 8, 32, 0);
		} else {
			assert_int_equal(be16(ip + 2), hlen - l3 + n);
			assert_int_equal(be16(ip + 4), (uint16_t)(0xfffe + i));
			assert_int_equal(sum16(ip, l4 - l3, 0), 0xffff);
			ps = sum16(ip + 12, 8, 0);
		}
		ps += 6 + doff + n;
		assert_int_equal(sum16(tcp, doff + n, ps), 0xffff);
		assert_int_equal(be32(tcp + 4), (uint32_t)(seq0 + off));
		assert_int_equal(tcp[13] & (TCP_FIN | TCP_PSH),
				 i + 1 == cap.n ? flags & (TCP_FIN | TCP_PSH) : 0);
		assert_int_equal(tcp[13] & TCP_CWR, i == 0 ? flags & TCP_CWR : 0);
		assert_true(tcp[13] & TCP_ACK);
		/* Headers other than the fixed fields are the original's. */
		assert_memory_equal(s, orig, 12);
		assert_memory_equal(tcp + 20, orig + l4 + 20, doff - 20);
		assert_memory_equal(tcp + doff, orig + hlen + off, n);
		off += n;
	}
}

static void test_ipv4_64k(void **state)
{
	uint8_t flags = TCP_ACK | TCP_PSH | TCP_FIN | TCP_CWR;
	size_t payload = 65535 - 20 - 32, len = build_ipv4(payload, 0xffff0000, flags);
	struct net_hdr h = tso_hdr(NET_GSO_TCPV4 | NET_GSO_ECN, 1448, ETH + 20);
	static uint8_t orig[NET_MAX_FRAME];
	int ret;

	memcpy(orig, frame, len);
	ret = net_segment(&h, frame, len, seg_buf, keep, &cap);
	assert_int_equal(ret, (payload + 1447) / 1448);
	check_segments(orig, ETH, ETH + 20, 32, false, payload, 1448, 0xffff0000,
		       flags);
	/* The input is left as it was. */
	assert_memory_equal(frame, orig, len);
}

static void test_ipv6_64k(void **state)
{
	uint8_t flags = TCP_ACK | TCP_PSH;
	size_t payload = 65535 - 8 - 20, len = build_ipv6(payload, 12345, flags);
	struct net_hdr h = tso_hdr(NET_GSO_TCPV6, 1428, ETH + 48);
	static uint8_t orig[NET_MAX_FRAME];

	assert_true(len <= NET_MAX_FRAME);
	memcpy(orig, frame, len);
	assert_int_equal(net_segment(&h, frame, len, seg_buf, keep, &cap),
			 (payload + 1427) / 1428);
	check_segments(orig, ETH, ETH + 48, 20, true, payload, 1428, 12345, flags);
}

/* A small frame, a VLAN tag, an MSS larger than the payload: one segment. */
static void test_one_segment_and_vlan(void **state)
{
	size_t len = build_ipv4(100, 1, TCP_ACK | TCP_PSH);
	static uint8_t orig[NET_MAX_FRAME];
	struct net_hdr h = tso_hdr(NET_GSO_TCPV4, 1448, ETH + 4 + 20);

	/* Make room for an 802.1Q tag after the addresses. */
	memmove(frame + 16, frame + 12, len - 12);
	set16(frame + 12, 0x8100);
	set16(frame + 14, 42);
	len += 4;
	memcpy(orig, frame, len);
	assert_int_equal(net_segment(&h, frame, len, seg_buf, keep, &cap), 1);
	check_segments(orig, ETH + 4, ETH + 4 + 20, 32, false, 100, 1448, 1,
		       TCP_ACK | TCP_PSH);
}

/* Each hostile header or frame is refused, nothing emitted. */
static void expect_refused(const struct net_hdr *h, size_t len)
{
	cap_reset();
	assert_int_equal(net_segment(h, frame, len, seg_buf, keep, &cap), -EINVAL);
	assert_int_equal(cap.n, 0);
}

static void test_hostile_headers(void **state)
{
	size_t len = build_ipv4(5000, 7, TCP_ACK);
	struct net_hdr good = tso_hdr(NET_GSO_TCPV4, 1448, ETH + 20), h;

	assert_int_equal(net_segment(&good, frame, len, seg_buf, keep, &cap), 4);

	h = good;
	h.hdr_len = len + 1;                 /* headers past the frame */
	expect_refused(&h, len);
	h = good;
	h.gso_size = 0;
	expect_refused(&h, len);
	h = good;
	h.csum_start = len + 100;            /* checksum past the end */
	expect_refused(&h, len);
	h = good;
	h.csum_start = 0xffff;
	h.csum_offset = 0xffff;
	expect_refused(&h, len);
	h = good;
	h.csum_offset = 6;                   /* not TCP's checksum field */
	expect_refused(&h, len);
	h = good;
	h.gso_type = NET_GSO_UDP;            /* UFO is not done */
	expect_refused(&h, len);
	h = good;
	h.gso_type = NET_GSO_TCPV6;          /* but it is IPv4 */
	expect_refused(&h, len);
	h = good;
	h.gso_type = 0x42;
	expect_refused(&h, len);

	expect_refused(&good, 0);
	expect_refused(&good, 13);
	expect_refused(&good, ETH + 10);     /* IP header cut short */
	expect_refused(&good, ETH + 20 + 10);/* TCP header cut short */
	expect_refused(&good, ETH + 20 + 24);/* TCP options cut short */
	expect_refused(&good, NET_MAX_FRAME + 1);

	frame[ETH + 9] = 17;                 /* UDP, not TCP */
	expect_refused(&good, len);
	frame[ETH + 9] = 6;
	frame[ETH] = 0x44;                   /* IHL 4 */
	expect_refused(&good, len);
	frame[ETH] = 0x4f;                   /* IHL 15: options past the TCP start */
	h = good;
	h.csum_start = ETH + 60;
	expect_refused(&h, ETH + 50);
	frame[ETH] = 0x65;                   /* version 6 in an IPv4 frame */
	expect_refused(&good, len);
	frame[ETH] = 0x45;
	set16(frame + ETH + 6, 0x2000);      /* more fragments */
	expect_refused(&good, len);
	set16(frame + ETH + 6, 0x0001);      /* a fragment offset */
	expect_refused(&good, len);
	set16(frame + ETH + 6, 0x4000);
	frame[ETH + 20 + 12] = 0x40;         /* data offset 16 bytes */
	expect_refused(&good, len);
	frame[ETH + 20 + 12] = 0xf0;         /* data offset 60 bytes, frame ends */
	expect_refused(&good, ETH + 20 + 40);
	frame[ETH + 20 + 12] = 0x80;
	set16(frame + 12, 0x8100);           /* VLAN tags running off the end */
	set16(frame + 16, 0x8100);
	expect_refused(&good, 17);
	set16(frame + 12, 0x0806);           /* ARP */
	expect_refused(&good, len);
}

static void test_hostile_ipv6(void **state)
{
	size_t len = build_ipv6(3000, 7, TCP_ACK);
	struct net_hdr good = tso_hdr(NET_GSO_TCPV6, 1400, ETH + 48), h;

	assert_int_equal(net_segment(&good, frame, len, seg_buf, keep, &cap), 3);
	h = good;
	h.gso_type = NET_GSO_TCPV4;
	expect_refused(&h, len);
	expect_refused(&good, ETH + 39);     /* fixed header cut short */
	expect_refused(&good, ETH + 44);     /* extension header cut short */
	frame[ETH + 41] = 200;               /* hop-by-hop length past the end */
	expect_refused(&good, len);
	frame[ETH + 41] = 0;
	frame[ETH + 40] = 43;                /* a routing header follows */
	expect_refused(&good, len);
	frame[ETH + 40] = 44;                /* a fragment header follows */
	expect_refused(&good, len);
	frame[ETH + 40] = 17;                /* UDP follows */
	expect_refused(&good, len);
	memset(frame + ETH + 40, 0, 200);    /* hop-by-hop options forever */
	expect_refused(&good, len);
}

/* A partial UDP checksum finished; offsets outside the frame refused. */
static void test_csum_finish(void **state)
{
	size_t len = build_ipv4(333, 0, TCP_ACK);
	uint8_t *ip = frame + ETH, *tcp = ip + 20;
	struct net_hdr h = { .flags = NET_HDR_F_NEEDS_CSUM, .csum_start = ETH + 20,
			     .csum_offset = 16 };
	uint32_t ps;

	/* As a sender leaves it: the pseudo-header's sum in the field. */
	ps = sum16(ip + 12, 8, 0) + 6 + (len - ETH - 20);
	set16(tcp + 16, sum16(NULL, 0, ps));
	assert_int_equal(net_csum_finish(frame, len, &h), 0);
	assert_int_equal(sum16(tcp, len - ETH - 20, ps), 0xffff);

	h.csum_offset = len - h.csum_start - 1;
	assert_int_equal(net_csum_finish(frame, len, &h), -EINVAL);
	h.csum_start = 0xffff;
	h.csum_offset = 0xffff;
	assert_int_equal(net_csum_finish(frame, len, &h), -EINVAL);
	h.csum_start = len;
	h.csum_offset = 0;
	assert_int_equal(net_csum_finish(frame, len, &h), -EINVAL);
}

/* Random damage to good frames and headers: refused or segmented, never
 * out of bounds, never a segment longer than the largest frame. */
static void test_mutations(void **state)
{
	unsigned iter, seed = 12345;

	for (iter = 0; iter < 3000; iter++) {
		bool v6 = iter & 1;
		size_t len = v6 ? build_ipv6(4000, iter, TCP_ACK) :
				  build_ipv4(4000, iter, TCP_ACK);
		struct net_hdr h = v6 ? tso_hdr(NET_GSO_TCPV6, 1000, ETH + 48) :
					tso_hdr(NET_GSO_TCPV4, 1000, ETH + 20);
		unsigned k, flips = 1 + rand_r(&seed) % 4;

		for (k = 0; k < flips; k++)
			frame[rand_r(&seed) % 80] ^= 1 << (rand_r(&seed) % 8);
		if (rand_r(&seed) % 4 == 0)
			len = rand_r(&seed) % (len + 1);
		switch (rand_r(&seed) % 6) {
		case 0: h.gso_size = rand_r(&seed); break;
		case 1: h.csum_start = rand_r(&seed); break;
		case 2: h.hdr_len = rand_r(&seed); break;
		case 3: h.gso_type = rand_r(&seed); break;
		}
		cap_reset();
		net_segment(&h, frame, len, seg_buf, keep, &cap);
	}
}

/* A back end that records what it was given. */
struct fake {
	unsigned frames, with_hdr;
	size_t bytes;
	struct net_hdr last_hdr;
	int fail;
};

static int fake_send(struct net_backend *nb, const struct net_hdr *hdr,
		     const struct iovec *iov, int iovcnt, size_t len)
{
	struct fake *f = nb->priv;

	f->frames++;
	f->bytes += len;
	if (hdr) {
		f->with_hdr++;
		f->last_hdr = *hdr;
	}
	return f->fail;
}

static void fake_destroy(struct net_backend *nb) { }

static enum net_rx fake_receive(void *opaque, const struct net_hdr *hdr,
				const uint8_t *frm, size_t len)
{
	struct fake *f = opaque;

	if (len > 1518 && (!hdr || !hdr->gso_type))
		return NET_RX_DROPPED;
	f->frames++;
	f->bytes += len;
	f->with_hdr += !!hdr;
	return NET_RX_OK;
}

static const struct net_backend_ops fake_ops = {
	.type = "fake", .send = fake_send, .destroy = fake_destroy,
};

static void fake_backend(struct net_backend *nb, struct fake *f, bool vnet)
{
	static uint8_t bufs[4][NET_MAX_FRAME];

	memset(nb, 0, sizeof(*nb));
	memset(f, 0, sizeof(*f));
	nb->ops = &fake_ops;
	nb->priv = f;
	nb->vnet_hdr = vnet;
	nb->receive = fake_receive;
	nb->receive_opaque = f;
	nb->tx_frame = bufs[0];
	nb->tx_seg = bufs[1];
	nb->rx_frame = bufs[2];
	nb->rx_seg = bufs[3];
}

/* The generic layer segments for a plain back end, and passes the header
 * through to one that takes it; a malformed frame is one drop. */
static void test_net_send(void **state)
{
	size_t len = build_ipv4(10000, 99, TCP_ACK);
	struct net_hdr h = tso_hdr(NET_GSO_TCPV4, 1448, ETH + 20);
	struct iovec iov[2] = { { frame, 100 }, { frame + 100, len - 100 } };
	struct net_backend nb;
	struct fake f;

	fake_backend(&nb, &f, false);
	assert_int_equal(net_send(&nb, &h, iov, 2), 0);
	assert_int_equal(f.frames, 7);
	assert_int_equal(f.with_hdr, 0);
	assert_int_equal(f.bytes, 7 * (ETH + 20 + 32) + 10000);
	assert_int_equal(nb.stats.tx_frames, 7);
	assert_int_equal(nb.stats.tx_dropped, 0);

	h.gso_size = 0;
	assert_int_equal(net_send(&nb, &h, iov, 2), -EINVAL);
	assert_int_equal(f.frames, 7);
	assert_int_equal(nb.stats.tx_dropped, 1);

	/* Checksum only; then a back end that loses every frame. */
	h = (struct net_hdr){ .flags = NET_HDR_F_NEEDS_CSUM,
			      .csum_start = ETH + 20, .csum_offset = 16 };
	assert_int_equal(net_send(&nb, &h, iov, 2), 0);
	assert_int_equal(nb.stats.tx_frames, 8);
	f.fail = -EAGAIN;
	assert_int_equal(net_send(&nb, NULL, iov, 1), -EAGAIN);
	assert_int_equal(nb.stats.tx_dropped, 2);

	fake_backend(&nb, &f, true);
	h = tso_hdr(NET_GSO_TCPV4, 1448, ETH + 20);
	assert_int_equal(net_send(&nb, &h, iov, 2), 0);
	assert_int_equal(f.frames, 1);
	assert_int_equal(f.with_hdr, 1);
	assert_int_equal(f.last_hdr.gso_size, 1448);
	assert_int_equal(net_send(&nb, NULL, iov, 1), 0);
	assert_int_equal(f.with_hdr, 2);
	assert_int_equal(f.last_hdr.gso_type, NET_GSO_NONE);
	assert_int_equal(nb.stats.tx_frames, 2);
}

/* A large frame from the back end: whole to a front end that takes it,
 * segmented for one that does not. */
static void test_net_deliver(void **state)
{
	size_t len = build_ipv6(6000, 5, TCP_ACK);
	struct net_hdr h = tso_hdr(NET_GSO_TCPV6, 1400, ETH + 48);
	struct net_backend nb;
	struct fake f;

	fake_backend(&nb, &f, true);
	assert_int_equal(net_deliver(&nb, &h, frame, len), NET_RX_OK);
	assert_int_equal(f.frames, 5);
	assert_int_equal(f.with_hdr, 0);
	assert_int_equal(nb.stats.rx_frames, 5);

	fake_backend(&nb, &f, true);
	net_set_offloads(&nb, NET_OFF_CSUM | NET_OFF_TSO6);
	assert_int_equal(net_deliver(&nb, &h, frame, len), NET_RX_OK);
	assert_int_equal(f.frames, 1);
	assert_int_equal(f.with_hdr, 1);

	/* TSO4 taken but this is IPv6; a header that does not parse. */
	fake_backend(&nb, &f, true);
	net_set_offloads(&nb, NET_OFF_CSUM | NET_OFF_TSO4);
	assert_int_equal(net_deliver(&nb, &h, frame, len), NET_RX_OK);
	assert_int_equal(f.frames, 5);
	h.csum_offset = 3;
	assert_int_equal(net_deliver(&nb, &h, frame, len), NET_RX_DROPPED);
	assert_int_equal(nb.stats.rx_dropped, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_ipv4_64k, teardown),
		cmocka_unit_test_teardown(test_ipv6_64k, teardown),
		cmocka_unit_test_teardown(test_one_segment_and_vlan, teardown),
		cmocka_unit_test_teardown(test_hostile_headers, teardown),
		cmocka_unit_test_teardown(test_hostile_ipv6, teardown),
		cmocka_unit_test_teardown(test_csum_finish, teardown),
		cmocka_unit_test_teardown(test_mutations, teardown),
		cmocka_unit_test_teardown(test_net_send, teardown),
		cmocka_unit_test_teardown(test_net_deliver, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
