/*
 * A multiboot test kernel that drives wirt's virtio-blk the way a guest's
 * driver does, for tests/integration/test_blk_crash.py: it writes runs of
 * sectors at random places and lengths, flushes every few writes, and
 * reports on COM1 each write before it is submitted ("W seq sector count")
 * and each flush the device completed ("F seq": every write up to seq is
 * durable).  Every sector it writes holds its own identity (magic, round,
 * seq, sector number), so the test can tell from the image which write a
 * sector came from.  It runs until wirt is killed.
 *
 * Command line: "round=R seed=S".  32-bit protected mode, paging off:
 * guest-physical = linear, which is all a virtqueue needs.
 */
#include <stdint.h>

#define MB_MAGIC 0x1badb002
#define MB_FLAGS 0x3		/* page-aligned modules, memory info */

__attribute__((section(".multiboot"), used, aligned(4)))
static const uint32_t multiboot_header[3] = {
	MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)
};

#define SECTOR 512
#define MAX_SECTORS 64		/* per write: 32 KiB, crosses clusters */
#define FLUSH_EVERY 4		/* writes per flush */
#define SECTOR_MAGIC 0x54524957	/* "WIRT" */
#define QUEUE_SIZE 8

/* ---- port I/O and COM1 ---- */

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t v;

	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static void putc_com1(char c)
{
	while (!(inb(0x3fd) & 0x20))
		;
	outb(0x3f8, c);
}

static void puts_com1(const char *s)
{
	while (*s)
		putc_com1(*s++);
}

static void putu(uint32_t v)
{
	char buf[11];
	int i = 10;

	buf[i] = 0;
	do {
		buf[--i] = '0' + v % 10;
		v /= 10;
	} while (v);
	puts_com1(buf + i);
}

static void fail(const char *why)
{
	puts_com1("FAIL ");
	puts_com1(why);
	puts_com1("\n");
	outb(0xf4, 0x1c);	/* debug-exit: status 57 */
	for (;;)
		__asm__ volatile("hlt");
}

/* ---- PCI configuration (mechanism 1) ---- */

static uint32_t pci_read(unsigned dev, unsigned off)
{
	outl(0xcf8, 0x80000000u | dev << 11 | (off & 0xfc));
	return inl(0xcfc);
}

static void pci_write(unsigned dev, unsigned off, uint32_t v)
{
	outl(0xcf8, 0x80000000u | dev << 11 | (off & 0xfc));
	outl(0xcfc, v);
}

/* ---- virtio 1.x over PCI (virtio spec 4.1) ---- */

struct common_cfg {
	uint32_t device_feature_select;
	uint32_t device_feature;
	uint32_t driver_feature_select;
	uint32_t driver_feature;
	uint16_t msix_config;
	uint16_t num_queues;
	uint8_t device_status;
	uint8_t config_generation;
	uint16_t queue_select;
	uint16_t queue_size;
	uint16_t queue_msix_vector;
	uint16_t queue_enable;
	uint16_t queue_notify_off;
	uint32_t queue_desc_lo, queue_desc_hi;
	uint32_t queue_driver_lo, queue_driver_hi;
	uint32_t queue_device_lo, queue_device_hi;
};

struct vq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

#define DESC_NEXT 1
#define DESC_WRITE 2

static struct vq_desc desc[QUEUE_SIZE] __attribute__((aligned(16)));
static struct {
	uint16_t flags, idx, ring[QUEUE_SIZE], used_event;
} avail __attribute__((aligned(2)));
static struct {
	uint16_t flags, idx;
	struct { uint32_t id, len; } ring[QUEUE_SIZE];
	uint16_t avail_event;
} used __attribute__((aligned(4)));

static struct {
	uint32_t type, reserved;
	uint64_t sector;
} req_header;
static volatile uint8_t req_status;
static uint32_t data[MAX_SECTORS * SECTOR / 4] __attribute__((aligned(4096)));

static volatile struct common_cfg *common;
static volatile uint16_t *notify;
static volatile uint64_t *capacity;	/* device config: sectors */
static uint16_t used_seen;

#define STATUS_ACK 1
#define STATUS_DRIVER 2
#define STATUS_DRIVER_OK 4
#define STATUS_FEATURES_OK 8
#define F_FLUSH 9		/* in feature word 0 */
#define F_VERSION_1 0		/* bit 32: in feature word 1 */
#define T_OUT 1
#define T_FLUSH 4

static uint32_t bar_address(unsigned dev, unsigned bar)
{
	return pci_read(dev, 0x10 + 4 * bar) & ~0xfu;
}

/* Find the virtio-blk function and the structures its capabilities name. */
static void find_device(void)
{
	unsigned dev, cap;
	uint32_t notify_mult = 0, notify_base = 0;

	for (dev = 0; dev < 32; dev++)
		if (pci_read(dev, 0) == (0x1042u << 16 | 0x1af4))
			break;
	if (dev == 32)
		fail("no virtio-blk");
	for (cap = pci_read(dev, 0x34) & 0xff; cap; cap = pci_read(dev, cap) >> 8 & 0xff) {
		uint32_t head = pci_read(dev, cap);
		uint32_t where;

		if ((head & 0xff) != 0x09)	/* vendor-specific: virtio */
			continue;
		where = bar_address(dev, pci_read(dev, cap + 4) & 0xff) +
			pci_read(dev, cap + 8);
		switch (head >> 24) {
		case 1:
			common = (volatile struct common_cfg *)where;
			break;
		case 2:
			notify_base = where;
			notify_mult = pci_read(dev, cap + 16);
			break;
		case 4:
			capacity = (volatile uint64_t *)where;
			break;
		}
	}
	if (!common || !notify_base || !capacity)
		fail("virtio capabilities missing");
	pci_write(dev, 4, pci_read(dev, 4) | 0x6);	/* memory + bus master */

	common->device_status = 0;
	common->device_status = STATUS_ACK;
	common->device_status = STATUS_ACK | STATUS_DRIVER;
	common->device_feature_select = 1;
	if (!(common->device_feature & 1u << F_VERSION_1))
		fail("no VIRTIO_F_VERSION_1");
	common->device_feature_select = 0;
	if (!(common->device_feature & 1u << F_FLUSH))
		fail("no VIRTIO_BLK_F_FLUSH");
	common->driver_feature_select = 0;
	common->driver_feature = 1u << F_FLUSH;
	common->driver_feature_select = 1;
	common->driver_feature = 1u << F_VERSION_1;
	common->device_status = STATUS_ACK | STATUS_DRIVER | STATUS_FEATURES_OK;
	if (!(common->device_status & STATUS_FEATURES_OK))
		fail("features refused");

	common->queue_select = 0;
	if (common->queue_size < QUEUE_SIZE)
		fail("queue too small");
	common->queue_size = QUEUE_SIZE;
	common->queue_desc_lo = (uint32_t)desc;
	common->queue_desc_hi = 0;
	common->queue_driver_lo = (uint32_t)&avail;
	common->queue_driver_hi = 0;
	common->queue_device_lo = (uint32_t)&used;
	common->queue_device_hi = 0;
	notify = (volatile uint16_t *)(notify_base +
				       common->queue_notify_off * notify_mult);
	common->queue_enable = 1;
	common->device_status = STATUS_ACK | STATUS_DRIVER | STATUS_FEATURES_OK |
				STATUS_DRIVER_OK;
}

/* Submit one request (header, optional data, status) and poll for it. */
static void request(uint32_t type, uint64_t sector, uint32_t bytes)
{
	unsigned n = 0;

	req_header.type = type;
	req_header.reserved = 0;
	req_header.sector = sector;
	req_status = 0xff;
	desc[n] = (struct vq_desc){ (uint32_t)&req_header, sizeof(req_header), DESC_NEXT, 1 };
	n++;
	if (bytes) {
		desc[n] = (struct vq_desc){ (uint32_t)data, bytes, DESC_NEXT, 2 };
		n++;
	}
	desc[n] = (struct vq_desc){ (uint32_t)&req_status, 1, DESC_WRITE, 0 };
	avail.ring[avail.idx % QUEUE_SIZE] = 0;
	__asm__ volatile("" ::: "memory");
	avail.idx++;
	__asm__ volatile("mfence" ::: "memory");
	*notify = 0;
	while (*(volatile uint16_t *)&used.idx == used_seen)
		__asm__ volatile("pause");
	used_seen++;
	__asm__ volatile("" ::: "memory");
	if (req_status != 0)
		fail("request failed");
}

/* ---- the workload ---- */

static uint32_t rng_state;

static uint32_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

/* The value of "key=" in the command line, or 0. */
static uint32_t cmdline_value(const char *cmdline, const char *key)
{
	const char *p, *k;
	uint32_t v = 0;

	for (p = cmdline; *p; p++) {
		for (k = key; *k && p[k - key] == *k; k++)
			;
		if (*k || (p != cmdline && p[-1] != ' '))
			continue;
		for (p += k - key; *p >= '0' && *p <= '9'; p++)
			v = v * 10 + (*p - '0');
		return v;
	}
	return 0;
}

void kernel_main(uint32_t magic, const uint32_t *info)
{
	const char *cmdline = "";
	uint32_t round, seq, sectors;

	if (magic != 0x2badb002)
		fail("not loaded by a multiboot loader");
	if (info[0] & 1u << 2)
		cmdline = (const char *)info[4];
	round = cmdline_value(cmdline, "round=");
	rng_state = cmdline_value(cmdline, "seed=") | 1;
	find_device();
	sectors = *capacity;
	if (sectors < MAX_SECTORS * 4)
		fail("disk too small");
	puts_com1("READY\n");

	for (seq = 1;; seq++) {
		uint32_t count = 1 + rng() % MAX_SECTORS;
		uint32_t first = rng() % (sectors - count);
		uint32_t s, w;

		for (s = 0; s < count; s++)
			for (w = 0; w < SECTOR / 4; w += 4) {
				uint32_t *p = &data[s * SECTOR / 4 + w];

				p[0] = SECTOR_MAGIC;
				p[1] = round;
				p[2] = seq;
				p[3] = first + s;
			}
		puts_com1("W ");
		putu(seq);
		puts_com1(" ");
		putu(first);
		puts_com1(" ");
		putu(count);
		puts_com1("\n");
		request(T_OUT, first, count * SECTOR);
		if (seq % FLUSH_EVERY == 0) {
			request(T_FLUSH, 0, 0);
			puts_com1("F ");
			putu(seq);
			puts_com1("\n");
		}
	}
}

/* Entry from the multiboot loader: EAX magic, EBX info, no stack. */
__asm__(".text\n"
	".globl _start\n"
	"_start:\n"
	"	mov $0x80000, %esp\n"
	"	push %ebx\n"
	"	push %eax\n"
	"	call kernel_main\n"
	"1:	hlt\n"
	"	jmp 1b\n");
