/*
 * Intel 82540EM gigabit Ethernet controller ("e1000"), the emulated NIC
 * that firmware, installers and every operating system have a driver for
 * (Linux e1000, Windows, the BSDs), next to the paravirtual virtio-net.
 * Facts from Intel's PCI/PCI-X Family of Gigabit Ethernet Controllers
 * Software Developer's Manual (8254x).
 *
 * Modelled: the register file in BAR 0 (and its I/O window in BAR 1), the
 * Microwire EEPROM behind EECD (bit-banged, as Linux reads it) and EERD,
 * the PHY behind MDIC (link up at 1000 Mb/s full duplex), interrupt cause
 * / mask registers on INTA#, the legacy and extended (context + data)
 * transmit descriptors with checksum insertion and TCP segmentation
 * handed to the network back end as offloads (struct net_hdr), legacy
 * receive descriptors with the address filters (exact, multicast hash,
 * promiscuous, broadcast), and the statistics the drivers read.  Interrupt
 * moderation timers are not modelled: interrupts go out at once.
 * Packets go out on a worker thread woken by TDT writes.
 *
 * Everything the guest writes is checked: rings and buffers outside RAM
 * fail the transfer (the descriptor is written back with an error), a
 * packet longer than the largest frame or spread over too many
 * descriptors is dropped and counted, never a crash.
 */
#include "hw/e1000.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <zlib.h>

#include "hw/pci.h"
#include "migration/vmstate.h"
#include "net/net.h"
#include "net/segment.h"
#include "util/log.h"
#include "util/sandbox.h"
#include "vm/memory.h"
#include "vm/vm.h"

#define E1000_VENDOR   0x8086
#define E1000_DEVICE   0x100e          /* 82540EM */
#define E1000_SUBSYS   0x001e
#define MMIO_SIZE      0x20000
#define IO_SIZE        0x40

/* Registers (byte offsets in BAR 0). */
#define CTRL     0x0000
#define STATUS   0x0008
#define EECD     0x0010
#define EERD     0x0014
#define MDIC     0x0020
#define ICR      0x00c0
#define ICS      0x00c8
#define IMS      0x00d0
#define IMC      0x00d8
#define RCTL     0x0100
#define TCTL     0x0400
#define RDBAL    0x2800
#define RDBAH    0x2804
#define RDLEN    0x2808
#define RDH      0x2810
#define RDT      0x2818
#define TDBAL    0x3800
#define TDBAH    0x3804
#define TDLEN    0x3808
#define TDH      0x3810
#define TDT      0x3818
#define STATS_START 0x4000
#define STATS_END   0x4100
#define MTA      0x5200            /* 128 registers */
#define RA       0x5400            /* 16 pairs of RAL/RAH */
#define RA_COUNT 16

#define CTRL_SLU      (1u << 6)
#define CTRL_RST      (1u << 26)
#define CTRL_PHY_RST  (1u << 31)
#define STATUS_FD     (1u << 0)
#define STATUS_LU     (1u << 1)
#define STATUS_1000   (2u << 6)

#define EECD_SK   (1u << 0)
#define EECD_CS   (1u << 1)
#define EECD_DI   (1u << 2)
#define EECD_DO   (1u << 3)
#define EECD_REQ  (1u << 6)
#define EECD_GNT  (1u << 7)
#define EECD_PRES (1u << 8)
#define EECD_GUEST_BITS (EECD_SK | EECD_CS | EECD_DI | EECD_REQ | (3u << 4))
#define EERD_START (1u << 0)
#define EERD_DONE  (1u << 4)

#define MDIC_OP_WRITE (1u << 26)
#define MDIC_OP_READ  (2u << 26)
#define MDIC_READY    (1u << 28)
#define MDIC_ERROR    (1u << 30)
#define PHY_ADDR      1

/* Interrupt causes. */
#define INT_TXDW   (1u << 0)
#define INT_LSC    (1u << 2)
#define INT_RXDMT0 (1u << 4)
#define INT_RXO    (1u << 6)
#define INT_RXT0   (1u << 7)

#define RCTL_EN    (1u << 1)
#define RCTL_UPE   (1u << 3)
#define RCTL_MPE   (1u << 4)
#define RCTL_LPE   (1u << 5)
#define RCTL_BAM   (1u << 15)
#define RCTL_BSEX  (1u << 25)
#define RCTL_SECRC (1u << 26)
#define TCTL_EN    (1u << 1)
#define RAH_AV     (1u << 31)

/* Descriptor bits. */
#define TXD_CMD_EOP  0x01
#define TXD_CMD_IC   0x04
#define TXD_CMD_RS   0x08
#define TXD_CMD_DEXT 0x20
#define TXD_DCMD_TSE 0x04
#define TXD_STA_DD   0x01
#define TXD_POPTS_IXSM 0x01
#define TXD_POPTS_TXSM 0x02
#define TXD_DTYP(d)  (((d) >> 20) & 0xf)
#define TXD_DTYP_CONTEXT 0
#define TXD_DTYP_DATA    1
#define TUCMD_IP     0x02
#define RXD_STA_DD   0x01
#define RXD_STA_EOP  0x02
#define RXD_STA_IXSM 0x04           /* "ignore checksum indication" */
#define RXD_ERR_RXE  0x80

#define EEPROM_WORDS 64             /* Microwire, 6 address bits */
#define EEPROM_CHECKSUM_WORD 0x3f
#define EEPROM_SUM   0xbaba
#define MAX_TX_DESCS 64             /* descriptors in one packet */
#define MAX_RX_FRAME (NET_MAX_FRAME + 4)
#define RX_MIN_FRAME 60             /* shorter frames are padded */

/* The offload context the last context descriptor set. */
struct tx_context {
	uint8_t ipcss, ipcso, tucss, tucso;
	uint16_t ipcse, tucse, mss;
	uint8_t hdrlen, tucmd;
};

struct e1000 {
	struct vm *vm;
	struct pci_device *pci;
	struct net_backend *nb;
	pthread_mutex_t lock;           /* registers, EEPROM/PHY, RX */
	pthread_mutex_t tx_lock;        /* one transmitter at a time */
	uint32_t regs[MMIO_SIZE / 4];
	uint16_t eeprom[EEPROM_WORDS];
	uint16_t phy[32];
	uint32_t io_addr;               /* BAR 1's IOADDR */
	/* Microwire state: bits clocked in, the command, the data out. */
	unsigned ee_bits;
	uint32_t ee_in;
	bool ee_reading;
	uint16_t ee_addr;
	struct tx_context ctx;
	uint8_t *tx_buf;                /* one packet, gathered */
	uint8_t *rx_buf;                /* one frame, padded, with its CRC */
	/* Transmission runs on a worker thread, as virtio-net's does: the
	 * back end may open sockets (libslirp), which vCPU threads may not. */
	int kick_fd, stop_fd;
	pthread_t worker;
	bool worker_started;
};

static uint32_t *reg(struct e1000 *e, uint32_t off)
{
	return &e->regs[off / 4];
}

/* ---- interrupts ---- */

static void update_irq(struct e1000 *e)
{
	pci_set_intx(e->pci, (*reg(e, ICR) & *reg(e, IMS)) != 0);
}

static void raise_cause(struct e1000 *e, uint32_t cause)
{
	*reg(e, ICR) |= cause;
	update_irq(e);
}

/* ---- EEPROM and PHY ---- */

static void eeprom_init(struct e1000 *e)
{
	uint16_t sum = 0;
	unsigned i;

	memset(e->eeprom, 0, sizeof(e->eeprom));
	for (i = 0; i < 3; i++)
		e->eeprom[i] = (uint16_t)(e->nb->mac[2 * i] | e->nb->mac[2 * i + 1] << 8);
	e->eeprom[0x0b] = E1000_SUBSYS;
	e->eeprom[0x0c] = E1000_VENDOR;
	e->eeprom[0x0d] = E1000_DEVICE;
	e->eeprom[0x0e] = E1000_VENDOR;
	for (i = 0; i < EEPROM_CHECKSUM_WORD; i++)
		sum += e->eeprom[i];
	e->eeprom[EEPROM_CHECKSUM_WORD] = (uint16_t)(EEPROM_SUM - sum);
}

/*
 * A rising clock edge with chip select: shift DI in (start bit, 2-bit
 * opcode, 6 address bits), then for a READ (opcode 10b) shift the words
 * out on DO from that address on, most significant bit first.
 */
static void eeprom_clock(struct e1000 *e, uint32_t eecd)
{
	unsigned header = 3 + 6;
	uint32_t *r = reg(e, EECD);

	if (e->ee_reading) {
		unsigned k = e->ee_bits++ - header;
		uint16_t word = e->eeprom[(e->ee_addr + k / 16) % EEPROM_WORDS];

		if (word & (0x8000 >> (k % 16)))
			*r |= EECD_DO;
		else
			*r &= ~EECD_DO;
		return;
	}
	e->ee_in = e->ee_in << 1 | !!(eecd & EECD_DI);
	if (++e->ee_bits == header) {
		/* 1 (start), 10 (read): anything else (write, erase) is
		 * ignored, the EEPROM being read-only here. */
		e->ee_reading = (e->ee_in >> 6) == 0x6;
		e->ee_addr = e->ee_in & 0x3f;
		*r &= ~EECD_DO;
	}
}

static void eecd_write(struct e1000 *e, uint32_t v)
{
	uint32_t *r = reg(e, EECD), old = *r;

	*r = (old & ~EECD_GUEST_BITS) | (v & EECD_GUEST_BITS);
	/* The software/hardware arbitration: granted at once. */
	*r = (v & EECD_REQ) ? *r | EECD_GNT : *r & ~EECD_GNT;
	if (!(v & EECD_CS)) {
		e->ee_bits = 0;
		e->ee_in = 0;
		e->ee_reading = false;
		*r &= ~EECD_DO;
		return;
	}
	if ((v & EECD_SK) && !(old & EECD_SK))
		eeprom_clock(e, v);
}

static void eerd_write(struct e1000 *e, uint32_t v)
{
	unsigned addr = (v >> 8) & 0xff;

	if (!(v & EERD_START))
		return;
	*reg(e, EERD) = EERD_DONE | (addr & 0xff) << 8 |
		(uint32_t)(addr < EEPROM_WORDS ? e->eeprom[addr] : 0) << 16;
}

/* A Marvell 88E1011 PHY with the link up: 1000 Mb/s full duplex,
 * auto-negotiation complete (register values from IEEE 802.3 clause 22
 * and the PHY's specific status layout the e1000 drivers read). */
static void phy_reset(struct e1000 *e)
{
	memset(e->phy, 0, sizeof(e->phy));
	e->phy[0] = 0x1140;             /* auto-negotiation on, 1000, FD */
	e->phy[1] = 0x796d;             /* capabilities, AN complete, link */
	e->phy[2] = 0x0141;             /* PHY identifier (Marvell) */
	e->phy[3] = 0x0c20;             /* 88E1011 */
	e->phy[4] = 0x0de1;             /* advertised abilities */
	e->phy[5] = 0x45e1;             /* the partner's */
	e->phy[6] = 0x0001;
	e->phy[9] = 0x0e00;             /* 1000BASE-T advertised */
	e->phy[10] = 0x3c00;            /* the partner's 1000BASE-T */
	e->phy[15] = 0x3000;            /* extended status: 1000BASE-T */
	e->phy[16] = 0x0360;            /* specific control */
	e->phy[17] = 0xac00;            /* 1000, FD, resolved, link */
}

static void mdic_write(struct e1000 *e, uint32_t v)
{
	unsigned phy_addr = (v >> 21) & 0x1f, r = (v >> 16) & 0x1f;
	uint32_t out = v & ~(MDIC_READY | MDIC_ERROR);

	if (phy_addr != PHY_ADDR) {
		out |= MDIC_ERROR;
	} else if ((v & (3u << 26)) == MDIC_OP_READ) {
		out = (out & ~0xffffu) | e->phy[r];
	} else if ((v & (3u << 26)) == MDIC_OP_WRITE) {
		uint16_t data = v & 0xffff;

		/* Reset and restart-negotiation bits clear themselves; the
		 * link stays up. */
		if (r == 0)
			data &= ~(0x8000 | 0x0200);
		if (r != 1 && r != 2 && r != 3 && r != 5 && r != 10 && r != 17)
			e->phy[r] = data;
	}
	*reg(e, MDIC) = out | MDIC_READY;
}

/* ---- reset ---- */

static void mac_reset(struct e1000 *e)
{
	unsigned i;

	memset(e->regs, 0, sizeof(e->regs));
	*reg(e, CTRL) = CTRL_SLU;
	*reg(e, STATUS) = STATUS_FD | STATUS_LU | STATUS_1000;
	*reg(e, EECD) = EECD_PRES;
	/* The EEPROM's address loaded into receive address 0. */
	for (i = 0; i < 4; i++)
		*reg(e, RA) |= (uint32_t)e->nb->mac[i] << (8 * i);
	*reg(e, RA + 4) = e->nb->mac[4] | e->nb->mac[5] << 8 | RAH_AV;
	memset(&e->ctx, 0, sizeof(e->ctx));
	e->ee_bits = 0;
	e->ee_reading = false;
	phy_reset(e);
	update_irq(e);
}

static void e1000_reset(void *opaque)
{
	struct e1000 *e = opaque;

	pthread_mutex_lock(&e->lock);
	mac_reset(e);
	pthread_mutex_unlock(&e->lock);
}

/* ---- transmit ---- */

static bool bus_master(const struct e1000 *e)
{
	return e->pci->config[PCI_COMMAND] & PCI_COMMAND_MASTER;
}

static uint64_t ring_base(struct e1000 *e, uint32_t lo)
{
	return (uint64_t)*reg(e, lo + 4) << 32 | (*reg(e, lo) & ~0xfu);
}

static void context_descriptor(struct e1000 *e, const uint8_t *d)
{
	struct tx_context *c = &e->ctx;

	c->ipcss = d[0];
	c->ipcso = d[1];
	c->ipcse = (uint16_t)(d[2] | d[3] << 8);
	c->tucss = d[4];
	c->tucso = d[5];
	c->tucse = (uint16_t)(d[6] | d[7] << 8);
	c->tucmd = d[11];
	c->hdrlen = d[13];
	c->mss = (uint16_t)(d[14] | d[15] << 8);
}

/* Store the one's-complement checksum of buf[start..end) at buf[at]. */
static void insert_checksum(uint8_t *buf, size_t len, size_t start, size_t end,
			    size_t at)
{
	uint16_t c;

	if (!end || end >= len)
		end = len - 1;
	if (start > end || at + 2 > len)
		return;
	buf[at] = buf[at + 1] = 0;
	c = (uint16_t)~net_csum_fold(net_csum_add(buf + start, end + 1 - start, 0));
	memcpy(buf + at, &c, 2);
}

/*
 * The frame for TCP segmentation as virtio's header describes it: the
 * e1000 drivers leave the IP length zero and seed the TCP checksum with
 * a pseudo-header sum without the length (the controller adds each
 * segment's); the back end's segmenter, or the host's, wants the sum
 * with the whole TCP length.
 */
static int tso_header(struct e1000 *e, size_t len, struct net_hdr *h)
{
	const struct tx_context *c = &e->ctx;
	uint8_t *buf = e->tx_buf;
	size_t tcp_len;
	uint16_t seed;
	uint64_t sum;

	if (c->tucso + 2u > len || c->tucss >= len || c->ipcss + 20u > len ||
	    c->hdrlen > len || !c->mss)
		return -EINVAL;
	tcp_len = len - c->tucss;
	if (c->tucmd & TUCMD_IP) {
		uint16_t ip_len = (uint16_t)(len - c->ipcss);

		buf[c->ipcss + 2] = (uint8_t)(ip_len >> 8);
		buf[c->ipcss + 3] = (uint8_t)ip_len;
		h->gso_type = NET_GSO_TCPV4;
	} else {
		if (c->ipcss + 40u > len)
			return -EINVAL;
		buf[c->ipcss + 4] = (uint8_t)((len - c->ipcss - 40) >> 8);
		buf[c->ipcss + 5] = (uint8_t)(len - c->ipcss - 40);
		h->gso_type = NET_GSO_TCPV6;
	}
	memcpy(&seed, buf + c->tucso, 2);
	/* Sums are of 16-bit words as they lie in memory (network order). */
	sum = (uint64_t)seed + __builtin_bswap16((uint16_t)tcp_len) +
	      __builtin_bswap16((uint16_t)(tcp_len >> 16));
	seed = net_csum_fold(sum);
	memcpy(buf + c->tucso, &seed, 2);
	h->flags = NET_HDR_F_NEEDS_CSUM;
	h->hdr_len = c->hdrlen;
	h->gso_size = c->mss;
	h->csum_start = c->tucss;
	h->csum_offset = (uint16_t)(c->tucso - c->tucss);
	return 0;
}

/* Send the packet gathered in tx_buf with the offloads its last data
 * descriptor asked for (cmd, popts) or a legacy one's (css, cso). */
static void tx_send(struct e1000 *e, size_t len, bool extended, uint8_t cmd,
		    uint8_t popts, uint8_t css, uint8_t cso)
{
	struct net_hdr h = { 0 };
	bool offload = false;
	struct iovec iov = { e->tx_buf, len };

	if (!extended) {
		if ((cmd & TXD_CMD_IC) && cso > css && cso + 2u <= len)
			insert_checksum(e->tx_buf, len, css, 0, cso);
	} else if (cmd & TXD_DCMD_TSE) {
		if (tso_header(e, len, &h)) {
			net_count_tx_drop(e->nb);
			return;
		}
		offload = true;
	} else {
		if (popts & TXD_POPTS_IXSM)
			insert_checksum(e->tx_buf, len, e->ctx.ipcss, e->ctx.ipcse,
					e->ctx.ipcso);
		if ((popts & TXD_POPTS_TXSM) && e->ctx.tucso > e->ctx.tucss &&
		    e->ctx.tucso + 2u <= len) {
			h.flags = NET_HDR_F_NEEDS_CSUM;
			h.csum_start = e->ctx.tucss;
			h.csum_offset = (uint16_t)(e->ctx.tucso - e->ctx.tucss);
			offload = true;
		}
	}
	net_send(e->nb, offload ? &h : NULL, &iov, 1);
}

/*
 * Process descriptors from TDH up to TDT: context descriptors set the
 * offload context, data and legacy descriptors gather a packet until
 * EOP.  Descriptors with RS get DD written back; the guest learns of
 * them by TXDW.  Runs on the vCPU thread that wrote TDT.
 */
static void tx_process(struct e1000 *e)
{
	size_t len = 0;
	unsigned ndesc = 0;
	bool drop = false, done_any = false;

	pthread_mutex_lock(&e->tx_lock);
	for (;;) {
		uint64_t base, addr;
		uint32_t head, tail, count, dlen, lower;
		uint8_t d[16], cmd;
		bool ext;

		pthread_mutex_lock(&e->lock);
		head = *reg(e, TDH);
		tail = *reg(e, TDT);
		count = *reg(e, TDLEN) / 16;
		base = ring_base(e, TDBAL);
		if (!(*reg(e, TCTL) & TCTL_EN) || !count || head == tail ||
		    head >= count || !bus_master(e)) {
			pthread_mutex_unlock(&e->lock);
			break;
		}
		pthread_mutex_unlock(&e->lock);
		if (gmem_read(&e->vm->mem, base + head * 16ULL, d, 16)) {
			/* The ring is not in RAM: nothing can be sent. */
			break;
		}
		memcpy(&addr, d, 8);
		memcpy(&lower, d + 8, 4);
		cmd = d[11];
		ext = cmd & TXD_CMD_DEXT;
		if (ext && TXD_DTYP(lower) == TXD_DTYP_CONTEXT) {
			context_descriptor(e, d);
		} else {
			dlen = ext ? lower & 0xfffff : (lower & 0xffff);
			if (++ndesc > MAX_TX_DESCS || len + dlen > NET_MAX_FRAME ||
			    (dlen && gmem_read(&e->vm->mem, addr, e->tx_buf + len, dlen)))
				drop = true;
			else
				len += dlen;
			if (cmd & TXD_CMD_EOP) {
				if (drop || len < NET_MIN_FRAME)
					net_count_tx_drop(e->nb);
				else
					tx_send(e, len, ext, cmd, d[13], d[10], d[8]);
				len = 0;
				ndesc = 0;
				drop = false;
			}
		}
		if (cmd & TXD_CMD_RS) {
			d[12] |= TXD_STA_DD;
			gmem_write(&e->vm->mem, base + head * 16ULL + 12, d + 12, 1);
			done_any = true;
		}
		pthread_mutex_lock(&e->lock);
		*reg(e, TDH) = (head + 1) % count;
		pthread_mutex_unlock(&e->lock);
	}
	pthread_mutex_unlock(&e->tx_lock);
	if (done_any) {
		pthread_mutex_lock(&e->lock);
		raise_cause(e, INT_TXDW);
		pthread_mutex_unlock(&e->lock);
	}
}

/* ---- receive ---- */

static unsigned rx_buffer_size(uint32_t rctl)
{
	static const unsigned sizes[4] = { 2048, 1024, 512, 256 };
	unsigned size = sizes[(rctl >> 16) & 3];

	/* BSEX multiplies by 16 (the 2048 encoding is reserved with it). */
	return (rctl & RCTL_BSEX) && size != 2048 ? size * 16 : size;
}

/* The 12-bit multicast hash of a destination address (RCTL.MO picks
 * which address bits). */
static unsigned mta_hash(const uint8_t *dst, uint32_t rctl)
{
	static const unsigned shift[4] = { 4, 3, 2, 0 };
	unsigned mo = (rctl >> 12) & 3;

	return ((dst[4] >> shift[mo]) | (unsigned)dst[5] << (8 - shift[mo])) & 0xfff;
}

static bool rx_accept(struct e1000 *e, const uint8_t *dst)
{
	uint32_t rctl = *reg(e, RCTL);
	unsigned i, h;

	if (dst[0] & 1) {
		if (!memcmp(dst, "\xff\xff\xff\xff\xff\xff", 6))
			return rctl & (RCTL_BAM | RCTL_MPE);
		if (rctl & RCTL_MPE)
			return true;
		h = mta_hash(dst, rctl);
		if (*reg(e, MTA + (h >> 5) * 4) & (1u << (h & 31)))
			return true;
	} else if (rctl & RCTL_UPE) {
		return true;
	}
	for (i = 0; i < RA_COUNT; i++) {
		uint32_t lo = *reg(e, RA + i * 8), hi = *reg(e, RA + i * 8 + 4);
		uint8_t a[6] = { lo, lo >> 8, lo >> 16, lo >> 24, hi, hi >> 8 };

		if ((hi & RAH_AV) && !memcmp(a, dst, 6))
			return true;
	}
	return false;
}

static void count_rx(struct e1000 *e, size_t len)
{
	uint64_t octets;

	(*reg(e, 0x4074))++;            /* GPRC: good packets received */
	(*reg(e, 0x40d0))++;            /* TPR: total packets received */
	octets = ((uint64_t)*reg(e, 0x408c) << 32 | *reg(e, 0x4088)) + len;
	*reg(e, 0x4088) = (uint32_t)octets;     /* GORC */
	*reg(e, 0x408c) = (uint32_t)(octets >> 32);
}

static enum net_rx e1000_receive(void *opaque, const struct net_hdr *hdr,
				 const uint8_t *frame, size_t flen)
{
	struct e1000 *e = opaque;
	enum net_rx result = NET_RX_DROPPED;
	uint32_t rctl, head, tail, count, avail, bufsize, need, i;
	uint64_t base;
	size_t len, off;

	pthread_mutex_lock(&e->lock);
	rctl = *reg(e, RCTL);
	if (!(rctl & RCTL_EN) || flen < NET_MIN_FRAME || !rx_accept(e, frame))
		goto out;
	if (flen > 1522 && !(rctl & RCTL_LPE))
		goto out;                       /* too long without LPE */
	len = flen;
	memcpy(e->rx_buf, frame, len);
	if (len < RX_MIN_FRAME) {
		memset(e->rx_buf + len, 0, RX_MIN_FRAME - len);
		len = RX_MIN_FRAME;
	}
	if (!(rctl & RCTL_SECRC)) {
		uint32_t crc = (uint32_t)crc32(0, e->rx_buf, (uInt)len);

		memcpy(e->rx_buf + len, &crc, 4);
		len += 4;
	}
	head = *reg(e, RDH);
	tail = *reg(e, RDT);
	count = *reg(e, RDLEN) / 16;
	base = ring_base(e, RDBAL);
	bufsize = rx_buffer_size(rctl);
	need = (uint32_t)((len + bufsize - 1) / bufsize);
	if (!count || head >= count || tail >= count || !bus_master(e))
		goto out;
	avail = (tail + count - head) % count;
	if (avail < need) {
		/* The back end holds the frame until RDT moves (rx_ready). */
		raise_cause(e, INT_RXO);
		result = NET_RX_NO_ROOM;
		goto out;
	}
	for (i = 0, off = 0; i < need; i++) {
		uint64_t desc = base + ((head + i) % count) * 16ULL, addr;
		size_t n = len - off < bufsize ? len - off : bufsize;
		uint8_t wb[8] = { 0 };

		if (gmem_read(&e->vm->mem, desc, &addr, 8))
			break;
		if (gmem_write(&e->vm->mem, addr, e->rx_buf + off, n)) {
			n = 0;
			wb[5] = RXD_ERR_RXE;
		}
		off += n ? n : len - off;
		wb[0] = (uint8_t)n;
		wb[1] = (uint8_t)(n >> 8);
		wb[4] = RXD_STA_DD | RXD_STA_IXSM | (i + 1 == need ? RXD_STA_EOP : 0);
		gmem_write(&e->vm->mem, desc + 8, wb, 8);
	}
	*reg(e, RDH) = (head + need) % count;
	count_rx(e, flen);
	result = NET_RX_OK;
	avail -= need;
	/* Free descriptors below the threshold (RDMTS: 1/2, 1/4, 1/8). */
	if (avail <= count >> (1 + ((rctl >> 8) & 3)))
		raise_cause(e, INT_RXT0 | INT_RXDMT0);
	else
		raise_cause(e, INT_RXT0);
out:
	pthread_mutex_unlock(&e->lock);
	return result;
}

/* ---- register access ---- */

static uint32_t reg_read(struct e1000 *e, uint32_t off)
{
	uint32_t v = *reg(e, off);

	if (off == ICR) {
		*reg(e, ICR) = 0;       /* read to clear */
		update_irq(e);
	} else if (off >= STATS_START && off < STATS_END) {
		*reg(e, off) = 0;       /* statistics clear when read */
	} else if (off == ICS || off == IMC) {
		v = 0;                  /* write-only */
	}
	return v;
}

/* Returns true when the write moved TDT (transmit after unlocking). */
static bool reg_write(struct e1000 *e, uint32_t off, uint32_t v)
{
	switch (off) {
	case CTRL:
		if (v & CTRL_RST) {
			mac_reset(e);
			return false;
		}
		if (v & CTRL_PHY_RST)
			phy_reset(e);
		*reg(e, CTRL) = v & ~(CTRL_RST | CTRL_PHY_RST);
		return false;
	case STATUS:
		return false;           /* read-only */
	case EECD:
		eecd_write(e, v);
		return false;
	case EERD:
		eerd_write(e, v);
		return false;
	case MDIC:
		mdic_write(e, v);
		return false;
	case ICR:
		*reg(e, ICR) &= ~v;     /* write one to clear */
		break;
	case ICS:
		*reg(e, ICR) |= v;
		break;
	case IMS:
		*reg(e, IMS) |= v;
		break;
	case IMC:
		*reg(e, IMS) &= ~v;
		break;
	case RDLEN:
	case TDLEN:
		*reg(e, off) = v & 0xfff80;     /* multiple of 128 bytes */
		return false;
	case RDH:
	case RDT:
	case TDH:
	case TDT:
		*reg(e, off) = v & 0xffff;
		return off == TDT;
	default:
		if (off >= STATS_START && off < STATS_END)
			return false;   /* counters are the device's */
		*reg(e, off) = v;
		return false;
	}
	update_irq(e);
	return false;
}

static uint64_t mmio_read(void *opaque, uint64_t offset, unsigned size)
{
	struct e1000 *e = opaque;
	uint32_t v;

	pthread_mutex_lock(&e->lock);
	v = reg_read(e, (uint32_t)offset & ~3u);
	pthread_mutex_unlock(&e->lock);
	/* Narrower reads see their part of the register. */
	return size >= 4 ? v : (v >> (8 * (offset & 3))) & ((1u << (8 * size)) - 1);
}

static void write_register(struct e1000 *e, uint32_t off, uint32_t v)
{
	bool tx;

	pthread_mutex_lock(&e->lock);
	tx = reg_write(e, off, v);
	pthread_mutex_unlock(&e->lock);
	if (tx) {
		uint64_t one = 1;

		if (write(e->kick_fd, &one, sizeof(one)) < 0)
			log_warn_once("e1000: cannot wake the transmitter: %m");
	} else if (off == RDT)
		net_rx_ready(e->nb);    /* new receive buffers */
}

static void mmio_write(void *opaque, uint64_t offset, uint64_t value,
		       unsigned size)
{
	/* The drivers write whole registers; narrower writes are not
	 * meaningful for this device and are ignored. */
	if (size == 4 && !(offset & 3))
		write_register(opaque, (uint32_t)offset, (uint32_t)value);
}

static const struct io_ops e1000_mmio_ops = { mmio_read, mmio_write };

/* BAR 1: IOADDR (offset 0) selects a register, IODATA (4) accesses it. */
static uint64_t io_read(void *opaque, uint64_t offset, unsigned size)
{
	struct e1000 *e = opaque;
	uint32_t addr;

	if (offset < 4)
		return e->io_addr;
	if (offset != 4 || size != 4)
		return ~0ull;
	addr = __atomic_load_n(&e->io_addr, __ATOMIC_RELAXED);
	return addr < MMIO_SIZE ? mmio_read(e, addr & ~3u, 4) : ~0u;
}

static void io_write(void *opaque, uint64_t offset, uint64_t value,
		     unsigned size)
{
	struct e1000 *e = opaque;
	uint32_t addr;

	if (offset == 0 && size == 4) {
		__atomic_store_n(&e->io_addr, (uint32_t)value & (MMIO_SIZE - 4),
				 __ATOMIC_RELAXED);
	} else if (offset == 4 && size == 4) {
		addr = __atomic_load_n(&e->io_addr, __ATOMIC_RELAXED);
		write_register(e, addr, (uint32_t)value);
	}
}

static const struct io_ops e1000_io_ops = { io_read, io_write };

/* ---- save and restore ---- */

#define E1000_STATE_VERSION 1

/*
 * The register file, EEPROM, PHY, the I/O window's address, the EEPROM's
 * Microwire state and the transmit offload context.  Nothing else lives
 * between guest accesses: a packet is gathered and sent within one pass
 * of the transmitter, which tx_lock keeps out while saving.
 */
static void e1000_save(void *opaque, struct vmstate_out *o)
{
	struct e1000 *e = opaque;

	pthread_mutex_lock(&e->tx_lock);
	pthread_mutex_lock(&e->lock);
	vmstate_put_bytes(o, e->regs, sizeof(e->regs));
	vmstate_put_bytes(o, e->eeprom, sizeof(e->eeprom));
	vmstate_put_bytes(o, e->phy, sizeof(e->phy));
	vmstate_put_u32(o, e->io_addr);
	vmstate_put_u32(o, e->ee_bits);
	vmstate_put_u32(o, e->ee_in);
	vmstate_put_bool(o, e->ee_reading);
	vmstate_put_u16(o, e->ee_addr);
	vmstate_put_u8(o, e->ctx.ipcss);
	vmstate_put_u8(o, e->ctx.ipcso);
	vmstate_put_u8(o, e->ctx.tucss);
	vmstate_put_u8(o, e->ctx.tucso);
	vmstate_put_u16(o, e->ctx.ipcse);
	vmstate_put_u16(o, e->ctx.tucse);
	vmstate_put_u16(o, e->ctx.mss);
	vmstate_put_u8(o, e->ctx.hdrlen);
	vmstate_put_u8(o, e->ctx.tucmd);
	pthread_mutex_unlock(&e->lock);
	pthread_mutex_unlock(&e->tx_lock);
}

static int e1000_load(void *opaque, struct vmstate_in *in)
{
	struct e1000 *e = opaque;
	static const uint32_t rings[] = { RDH, RDT, TDH, TDT };
	uint64_t one = 1;

	pthread_mutex_lock(&e->tx_lock);
	pthread_mutex_lock(&e->lock);
	vmstate_get_bytes(in, e->regs, sizeof(e->regs));
	vmstate_get_bytes(in, e->eeprom, sizeof(e->eeprom));
	vmstate_get_bytes(in, e->phy, sizeof(e->phy));
	e->io_addr = vmstate_get_u32(in) & (MMIO_SIZE - 4);
	e->ee_bits = vmstate_get_u32(in);
	e->ee_in = vmstate_get_u32(in);
	e->ee_reading = vmstate_get_bool(in);
	e->ee_addr = vmstate_get_u16(in) % EEPROM_WORDS;
	e->ctx.ipcss = vmstate_get_u8(in);
	e->ctx.ipcso = vmstate_get_u8(in);
	e->ctx.tucss = vmstate_get_u8(in);
	e->ctx.tucso = vmstate_get_u8(in);
	e->ctx.ipcse = vmstate_get_u16(in);
	e->ctx.tucse = vmstate_get_u16(in);
	e->ctx.mss = vmstate_get_u16(in);
	e->ctx.hdrlen = vmstate_get_u8(in);
	e->ctx.tucmd = vmstate_get_u8(in);
	if (in->error)
		mac_reset(e);
	/* The rings as a guest's writes could have left them. */
	*reg(e, RDLEN) &= 0xfff80;
	*reg(e, TDLEN) &= 0xfff80;
	for (unsigned i = 0; i < sizeof(rings) / sizeof(rings[0]); i++)
		*reg(e, rings[i]) &= 0xffff;
	update_irq(e);
	pthread_mutex_unlock(&e->lock);
	pthread_mutex_unlock(&e->tx_lock);
	/* Packets the guest had queued go out; frames held for buffers come. */
	if (write(e->kick_fd, &one, sizeof(one)) < 0)
		log_warn_once("e1000: cannot wake the transmitter: %m");
	net_rx_ready(e->nb);
	return in->error;
}

/* ---- life cycle ---- */

static void *tx_worker(void *opaque)
{
	struct e1000 *e = opaque;
	struct pollfd fds[2] = {
		{ .fd = e->kick_fd, .events = POLLIN },
		{ .fd = e->stop_fd, .events = POLLIN },
	};
	uint64_t count;

	pthread_setname_np(pthread_self(), "e1000");
	for (;;) {
		if (poll(fds, 2, -1) < 0)
			continue;
		/* Started before the sandbox: narrow at the first wake. */
		sandbox_thread_enter(SANDBOX_THREAD_NETWORK);
		if (fds[1].revents)
			return NULL;
		if (read(e->kick_fd, &count, sizeof(count)) > 0)
			tx_process(e);
	}
}

static void e1000_destroy(void *opaque)
{
	struct e1000 *e = opaque;
	uint64_t one = 1;

	if (e->worker_started) {
		if (write(e->stop_fd, &one, sizeof(one)) < 0)
			log_warn("e1000: cannot stop the transmitter: %m");
		pthread_join(e->worker, NULL);
	}
	if (e->kick_fd >= 0)
		close(e->kick_fd);
	if (e->stop_fd >= 0)
		close(e->stop_fd);
	net_backend_destroy(e->nb);
	pthread_mutex_destroy(&e->lock);
	pthread_mutex_destroy(&e->tx_lock);
	free(e->tx_buf);
	free(e->rx_buf);
	free(e);
}

int e1000_create(struct vm *vm, struct net_backend *nb)
{
	struct e1000 *e = calloc(1, sizeof(*e));
	struct pci_device *pci;
	int ret;

	if (!e) {
		net_backend_destroy(nb);
		return -ENOMEM;
	}
	e->vm = vm;
	e->nb = nb;
	pthread_mutex_init(&e->lock, NULL);
	pthread_mutex_init(&e->tx_lock, NULL);
	e->tx_buf = malloc(NET_MAX_FRAME);
	e->rx_buf = malloc(MAX_RX_FRAME + RX_MIN_FRAME);
	e->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	e->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (!e->tx_buf || !e->rx_buf || e->kick_fd < 0 || e->stop_fd < 0) {
		e1000_destroy(e);
		return -ENOMEM;
	}
	if (pthread_create(&e->worker, NULL, tx_worker, e)) {
		e1000_destroy(e);
		return -EAGAIN;
	}
	e->worker_started = true;
	pci = pci_device_new(vm, "e1000", E1000_VENDOR, E1000_DEVICE, 0x020000, 0x03);
	if (!pci) {
		e1000_destroy(e);
		return -ENOSPC;
	}
	e->pci = pci;
	pci->opaque = e;
	pci->config[PCI_SUBSYS_VENDOR] = E1000_VENDOR & 0xff;
	pci->config[PCI_SUBSYS_VENDOR + 1] = E1000_VENDOR >> 8;
	pci->config[PCI_SUBSYS_ID] = E1000_SUBSYS & 0xff;
	pci->config[PCI_SUBSYS_ID + 1] = E1000_SUBSYS >> 8;
	pci_bar_init(pci, 0, MMIO_SIZE, false, &e1000_mmio_ops, e);
	pci_bar_init(pci, 1, IO_SIZE, true, &e1000_io_ops, e);
	eeprom_init(e);
	mac_reset(e);
	ret = pci_device_plug(pci);
	if (ret) {
		e1000_destroy(e);
		return ret;
	}
	vm_add_device(vm, &(struct device_hooks){ .reset = e1000_reset,
		      .destroy = e1000_destroy, .opaque = e, .name = "e1000",
		      .version = E1000_STATE_VERSION, .save = e1000_save,
		      .load = e1000_load });
	/* Frames may flow from now on. */
	net_set_offloads(nb, 0);
	nb->receive_opaque = e;
	__atomic_store_n(&nb->receive, e1000_receive, __ATOMIC_RELEASE);
	return 0;
}
