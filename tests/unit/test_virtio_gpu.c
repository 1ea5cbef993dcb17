/*
 * virtio-gpu against a driver the test plays (through BAR0 and a control
 * queue in guest RAM, as test_virtio_transport does): a resource with
 * backing in two pieces reaches the display's surface pixel for pixel;
 * every kind of nonsense command (sizes beyond the host limit, unknown
 * ids and formats, rectangles outside resources, backing outside guest
 * RAM, transfers past the backing, short and unknown commands) gets its
 * VIRTIO_GPU_RESP_ERR_* and changes nothing; thousands of random
 * commands leave wirt running (AddressSanitizer watches); a viewer's
 * size request raises the display event and the new display info.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hw/pci.h"
#include "hw/virtio/virtio.h"
#include "ui/display.h"
#include "vm/vm.h"

#define RAM      (16ull << 20)
#define DESC     0x10000ull
#define AVAIL    0x11000ull
#define USED     0x12000ull
#define CMD      0x20000ull
#define RESP     0x30000ull
#define BACKING1 0x100000ull
#define BACKING2 0x200000ull
#define QSIZE    8
#define SLOT     1

#define COMMON   0x0000
#define DEVCFG   0x2000
#define NOTIFY   0x3000

enum {
	GET_DISPLAY_INFO = 0x100, CREATE_2D, UNREF, SET_SCANOUT, FLUSH,
	TRANSFER, ATTACH, DETACH, GET_EDID = 0x10a,
	OK_NODATA = 0x1100, OK_DISPLAY_INFO,
	ERR_UNSPEC = 0x1200, ERR_OOM, ERR_SCANOUT, ERR_RESOURCE, ERR_CONTEXT,
	ERR_PARAMETER,
};
#define FMT_B8G8R8X8 2
#define FMT_R8G8B8X8 134

static struct vm vm;
static const struct accel_ops no_accel = { .name = "none" };
static uint64_t bar;
static uint16_t avail_idx;

static void no_msi(void *opaque, uint64_t addr, uint32_t data) { }
static void no_line(void *opaque, unsigned gsi, int level) { }

static void w(uint64_t off, uint64_t v, unsigned size)
{
	bus_write(&vm.mmio, bar + off, &v, size);
}

static uint64_t r(uint64_t off, unsigned size)
{
	uint64_t v = 0;

	bus_read(&vm.mmio, bar + off, &v, size);
	return v;
}

static void *gp(uint64_t gpa)
{
	return gmem_ptr(&vm.mem, gpa, 1);
}

static int setup(void **state)
{
	memset(&vm, 0, sizeof(vm));
	vm.accel = &no_accel;
	vm.irq_ops.send_msi = no_msi;
	vm.irq_ops.set_line = no_line;
	assert_int_equal(gmem_init(&vm.mem, RAM), 0);
	bus_init(&vm.pio, "port I/O");
	bus_init(&vm.mmio, "MMIO");
	assert_int_equal(pci_host_create(&vm), 0);
	assert_int_equal(virtio_gpu_create(&vm), 0);
	assert_non_null(vm.display);
	assert_int_equal(pci_config_read(&vm, SLOT, 0, PCI_DEVICE_ID, 2), 0x1050);
	bar = pci_config_read(&vm, SLOT, 0, PCI_BAR0, 4) & ~0xfull;

	/* The driver: VERSION_1 only, control queue of QSIZE, DRIVER_OK. */
	w(COMMON + 20, 1 | 2, 1);
	w(COMMON + 8, 1, 4);
	w(COMMON + 12, 1, 4);
	w(COMMON + 20, 1 | 2 | 8, 1);
	w(COMMON + 22, 0, 2);
	w(COMMON + 24, QSIZE, 2);
	w(COMMON + 32, DESC, 8);
	w(COMMON + 40, AVAIL, 8);
	w(COMMON + 48, USED, 8);
	w(COMMON + 28, 1, 2);
	w(COMMON + 20, 1 | 2 | 4 | 8, 1);
	assert_int_equal(r(COMMON + 20, 1), 1 | 2 | 4 | 8);
	avail_idx = 0;
	return 0;
}

static int teardown(void **state)
{
	for (unsigned i = vm.ndevices; i > 0; i--)
		if (vm.devices[i - 1].destroy)
			vm.devices[i - 1].destroy(vm.devices[i - 1].opaque);
	gmem_destroy(&vm.mem);
	bus_destroy(&vm.pio);
	bus_destroy(&vm.mmio);
	return 0;
}

/*
 * Send cmd (len bytes) with a response buffer of resp_len (none if 0);
 * wait for the device to answer; the response's type (0 without one).
 */
static uint32_t submit(const void *cmd, uint32_t len, uint32_t resp_len)
{
	struct { uint64_t addr; uint32_t len; uint16_t flags, next; } d[2] = {
		{ CMD, len, resp_len ? 1 : 0, 1 },
		{ RESP, resp_len, 2, 0 },
	};
	volatile uint16_t *used_idx = gp(USED + 2);
	uint16_t *ring = gp(AVAIL + 4);
	uint16_t want = avail_idx + 1;
	struct timespec ts = { 0, 1000000 };
	uint32_t type = 0;

	memcpy(gp(CMD), cmd, len);
	memset(gp(RESP), 0xee, 4);
	memcpy(gp(DESC), d, sizeof(d));
	ring[avail_idx % QSIZE] = 0;
	__atomic_store_n((uint16_t *)gp(AVAIL + 2), want, __ATOMIC_RELEASE);
	avail_idx = want;
	w(NOTIFY, 0, 2);
	for (int i = 0; i < 5000 && *used_idx != want; i++)
		nanosleep(&ts, NULL);
	assert_int_equal(*used_idx, want);
	if (resp_len)
		memcpy(&type, gp(RESP), 4);
	return type;
}

struct hdr {
	uint32_t type, flags;
	uint64_t fence;
	uint32_t ctx;
	uint8_t ring, pad[3];
};

static uint32_t create(uint32_t id, uint32_t format, uint32_t width, uint32_t height)
{
	struct { struct hdr h; uint32_t id, format, w, hh; } c = {
		.h.type = CREATE_2D, .id = id, .format = format, .w = width, .hh = height };

	return submit(&c, sizeof(c), 24);
}

static uint32_t attach(uint32_t id, unsigned n, const uint64_t *addr,
		       const uint32_t *len)
{
	struct { struct hdr h; uint32_t id, n; } c = { .h.type = ATTACH, .id = id, .n = n };
	uint8_t buf[4096];

	memcpy(buf, &c, sizeof(c));
	for (unsigned i = 0; i < n; i++) {
		memcpy(buf + sizeof(c) + 16 * i, &addr[i], 8);
		memcpy(buf + sizeof(c) + 16 * i + 8, &len[i], 4);
		memset(buf + sizeof(c) + 16 * i + 12, 0, 4);
	}
	return submit(buf, sizeof(c) + 16 * n, 24);
}

static uint32_t rect_cmd(uint32_t type, uint32_t x, uint32_t y, uint32_t width,
			 uint32_t height, uint64_t offset, uint32_t id)
{
	struct { struct hdr h; uint32_t x, y, w, hh; uint64_t offset;
		 uint32_t id, pad; } t = { .h.type = TRANSFER, .x = x, .y = y, .w = width,
					   .hh = height, .offset = offset, .id = id };
	struct { struct hdr h; uint32_t x, y, w, hh; uint32_t a, b; } s = {
		.h.type = type, .x = x, .y = y, .w = width, .hh = height };

	if (type == TRANSFER)
		return submit(&t, sizeof(t), 24);
	if (type == SET_SCANOUT)
		s.b = id;                 /* scanout 0, resource id */
	else
		s.a = id;                 /* flush: resource id, padding */
	return submit(&s, sizeof(s), 24);
}

static uint32_t id_cmd(uint32_t type, uint32_t id)
{
	struct { struct hdr h; uint32_t id, pad; } c = { .h.type = type, .id = id };

	return submit(&c, sizeof(c), 24);
}

/* A 64x32 resource, backed by 4096 bytes at BACKING1 and the rest at
 * BACKING2, filled with a pattern and shown. */
static void show_pattern(uint32_t format)
{
	uint64_t addr[2] = { BACKING1, BACKING2 };
	uint32_t len[2] = { 4096, 64 * 32 * 4 - 4096 };

	for (unsigned i = 0; i < 64 * 32; i++) {
		uint32_t p = 0xff000000u | i * 0x010203u;

		memcpy(gp(i * 4 < 4096 ? BACKING1 + i * 4 : BACKING2 + i * 4 - 4096), &p, 4);
	}
	assert_int_equal(create(1, format, 64, 32), OK_NODATA);
	assert_int_equal(attach(1, 2, addr, len), OK_NODATA);
	assert_int_equal(rect_cmd(TRANSFER, 0, 0, 64, 32, 0, 1), OK_NODATA);
	assert_int_equal(rect_cmd(SET_SCANOUT, 0, 0, 64, 32, 0, 1), OK_NODATA);
	assert_int_equal(rect_cmd(FLUSH, 0, 0, 64, 32, 0, 1), OK_NODATA);
}

static void surface_pixels(uint32_t *out, unsigned *width, unsigned *height)
{
	struct display *d = vm.display;

	pthread_mutex_lock(&d->lock);
	assert_int_equal(display_refresh_locked(d, NULL), 0);
	*width = d->surface.width;
	*height = d->surface.height;
	if (out)
		for (unsigned y = 0; y < *height; y++)
			memcpy(out + y * *width, d->surface.pixels + y * d->surface.stride,
			       *width * 4);
	pthread_mutex_unlock(&d->lock);
}

static void test_display_info_and_a_frame(void **state)
{
	uint32_t info[6], px[64 * 32];
	unsigned width, height;
	struct hdr h = { .type = GET_DISPLAY_INFO };

	/* No scanout yet: a black screen of the offered size. */
	surface_pixels(NULL, &width, &height);
	assert_int_equal(width, 1280);
	assert_int_equal(height, 800);
	assert_int_equal(submit(&h, sizeof(h), 24 + 16 * 24), OK_DISPLAY_INFO);
	memcpy(info, (uint8_t *)gp(RESP) + 24, sizeof(info));
	assert_int_equal(info[2], 1280);
	assert_int_equal(info[3], 800);
	assert_int_equal(info[4], 1);           /* enabled */
	assert_int_equal(r(DEVCFG + 8, 4), 1);  /* one scanout */

	show_pattern(FMT_B8G8R8X8);
	surface_pixels(px, &width, &height);
	assert_int_equal(width, 64);
	assert_int_equal(height, 32);
	for (unsigned i = 0; i < 64 * 32; i++)
		assert_int_equal(px[i], (i * 0x010203u) & 0xffffff);

	/* A fenced command is answered with its fence. */
	h.flags = 1;
	h.fence = 0x1234567890ull;
	submit(&h, sizeof(h), 24);
	assert_int_equal(((struct hdr *)gp(RESP))->flags, 1);
	assert_int_equal(((struct hdr *)gp(RESP))->fence, 0x1234567890ull);

	/* Another byte order, a partial update, then the scanout off. */
	assert_int_equal(id_cmd(UNREF, 1), OK_NODATA);
	show_pattern(FMT_R8G8B8X8);
	surface_pixels(px, &width, &height);
	for (unsigned i = 0; i < 64 * 32; i++) {
		uint32_t p = i * 0x010203u;

		assert_int_equal(px[i], (p & 0xff) << 16 | (p & 0xff00) | (p >> 16 & 0xff));
	}
	assert_int_equal(rect_cmd(SET_SCANOUT, 0, 0, 0, 0, 0, 0), OK_NODATA);
	surface_pixels(NULL, &width, &height);
	assert_int_equal(width, 1280);
}

static void test_nonsense_commands_get_errors(void **state)
{
	uint64_t addr[2] = { BACKING1, RAM - 4096 };
	uint32_t len[2] = { 4096, 8192 };
	struct hdr h = { .type = 0x0200 };              /* a 3D command */
	uint32_t px[64 * 32];
	unsigned width, height;

	assert_int_equal(create(0, FMT_B8G8R8X8, 64, 64), ERR_RESOURCE);
	assert_int_equal(create(2, 77, 64, 64), ERR_PARAMETER);
	assert_int_equal(create(2, FMT_B8G8R8X8, 0, 64), ERR_PARAMETER);
	assert_int_equal(create(2, FMT_B8G8R8X8, 100000, 64), ERR_PARAMETER);
	/* 16384x16384x4 is 1 GiB: beyond the host memory limit. */
	assert_int_equal(create(2, FMT_B8G8R8X8, 16384, 16384), ERR_OOM);
	show_pattern(FMT_B8G8R8X8);
	assert_int_equal(create(1, FMT_B8G8R8X8, 8, 8), ERR_RESOURCE);   /* in use */

	/* Backing: twice, outside RAM, too many entries, cut short. */
	assert_int_equal(attach(1, 1, addr, len), ERR_UNSPEC);
	assert_int_equal(create(2, FMT_B8G8R8X8, 16, 16), OK_NODATA);
	assert_int_equal(attach(2, 2, addr, len), ERR_PARAMETER);        /* past RAM */
	addr[1] = 0xfee00000;                                              /* the APIC */
	assert_int_equal(attach(2, 2, addr, len), ERR_PARAMETER);
	assert_int_equal(attach(9, 1, addr, len), ERR_RESOURCE);
	{
		struct { struct hdr h; uint32_t id, n; } c = { { .type = ATTACH }, 2, 100000 };

		assert_int_equal(submit(&c, sizeof(c), 24), ERR_PARAMETER);
		c.n = 5;                        /* says 5, carries none */
		assert_int_equal(submit(&c, sizeof(c), 24), ERR_PARAMETER);
	}
	/* Transfers: no backing, outside the resource, past the backing,
	 * an offset that wraps. */
	assert_int_equal(rect_cmd(TRANSFER, 0, 0, 16, 16, 0, 2), ERR_UNSPEC);
	assert_int_equal(rect_cmd(TRANSFER, 60, 0, 8, 8, 0, 1), ERR_PARAMETER);
	assert_int_equal(rect_cmd(TRANSFER, 0xffffffff, 0, 2, 2, 0, 1), ERR_PARAMETER);
	assert_int_equal(rect_cmd(TRANSFER, 0, 0, 64, 32, 4, 1), ERR_PARAMETER);
	assert_int_equal(rect_cmd(TRANSFER, 0, 1, 64, 1, ~0ull - 8, 1), ERR_PARAMETER);
	assert_int_equal(rect_cmd(TRANSFER, 0, 0, 1, 1, 0, 77), ERR_RESOURCE);
	/* Scanouts and flushes. */
	assert_int_equal(rect_cmd(SET_SCANOUT, 0, 0, 65, 32, 0, 1), ERR_PARAMETER);
	assert_int_equal(rect_cmd(SET_SCANOUT, 0, 0, 8, 8, 0, 77), ERR_RESOURCE);
	{
		struct { struct hdr h; uint32_t x, y, w, hh, scanout, id; } c = {
			.h.type = SET_SCANOUT, .w = 8, .hh = 8, .scanout = 3, .id = 1 };

		assert_int_equal(submit(&c, sizeof(c), 24), ERR_SCANOUT);
	}
	assert_int_equal(rect_cmd(FLUSH, 0, 0, 65, 1, 0, 1), ERR_PARAMETER);
	assert_int_equal(rect_cmd(FLUSH, 0, 0, 1, 1, 0, 77), ERR_RESOURCE);
	/* Unknown ids, short and unknown commands, no room for an answer. */
	assert_int_equal(id_cmd(UNREF, 77), ERR_RESOURCE);
	assert_int_equal(id_cmd(DETACH, 77), ERR_RESOURCE);
	assert_int_equal(submit(&h, sizeof(h), 24), ERR_UNSPEC);
	h.type = GET_EDID;
	assert_int_equal(submit(&h, sizeof(h), 24), ERR_UNSPEC);
	assert_int_equal(submit(&h, 8, 24), ERR_UNSPEC);
	h.type = CREATE_2D;
	assert_int_equal(submit(&h, sizeof(h), 24), ERR_UNSPEC);
	assert_int_equal(submit(&h, sizeof(h), 0), 0);

	/* None of it changed the screen. */
	surface_pixels(px, &width, &height);
	assert_int_equal(width, 64);
	for (unsigned i = 0; i < 64 * 32; i++)
		assert_int_equal(px[i], (i * 0x010203u) & 0xffffff);
	/* Detached backing and an unreferenced scanout resource. */
	assert_int_equal(id_cmd(DETACH, 1), OK_NODATA);
	assert_int_equal(rect_cmd(TRANSFER, 0, 0, 1, 1, 0, 1), ERR_UNSPEC);
	assert_int_equal(id_cmd(UNREF, 1), OK_NODATA);
	surface_pixels(NULL, &width, &height);
	assert_int_equal(width, 1280);
}

static void test_random_commands(void **state)
{
	static const uint32_t valid[] = {
		OK_NODATA, OK_DISPLAY_INFO, ERR_UNSPEC, ERR_OOM, ERR_SCANOUT,
		ERR_RESOURCE, ERR_PARAMETER,
	};
	uint32_t buf[32];
	unsigned width, height;

	srand(1234);
	for (unsigned i = 0; i < 3000; i++) {
		uint32_t type;
		bool known = false;

		for (unsigned j = 0; j < 32; j++)
			buf[j] = rand() % 4 ? (uint32_t)(rand() % 70) : (uint32_t)rand() * 2654435761u;
		buf[0] = 0x100 + rand() % 12;
		/* Attach entries that point into RAM now and then. */
		if (buf[0] == ATTACH) {
			buf[7] %= 4;
			for (unsigned j = 0; j < buf[7]; j++) {
				buf[8 + 4 * j] = (rand() % 16) << 20;
				buf[9 + 4 * j] = 0;
				buf[10 + 4 * j] = rand() % 3 ? 4096 : rand();
			}
		}
		type = submit(buf, 8 + rand() % 120, 24 + 16 * 24);
		for (unsigned j = 0; j < sizeof(valid) / sizeof(valid[0]); j++)
			known |= type == valid[j];
		assert_true(known);
		if (i % 100 == 0)
			surface_pixels(NULL, &width, &height);
	}
}

static void test_viewer_size_raises_the_display_event(void **state)
{
	struct hdr h = { .type = GET_DISPLAY_INFO };
	uint32_t info[4];
	unsigned width, height;

	assert_int_equal(r(DEVCFG, 4), 0);
	assert_int_equal(display_request_size(vm.display, 1024, 768), 0);
	assert_int_equal(r(DEVCFG, 4), 1);          /* VIRTIO_GPU_EVENT_DISPLAY */
	assert_int_equal(submit(&h, sizeof(h), 24 + 16 * 24), OK_DISPLAY_INFO);
	memcpy(info, (uint8_t *)gp(RESP) + 24, sizeof(info));
	assert_int_equal(info[2], 1024);
	assert_int_equal(info[3], 768);
	w(DEVCFG + 4, 1, 4);                          /* events_clear */
	assert_int_equal(r(DEVCFG, 4), 0);
	w(DEVCFG, 0xff, 4);                           /* read-only */
	assert_int_equal(r(DEVCFG, 4), 0);
	/* Without a scanout the screen takes the size at once. */
	surface_pixels(NULL, &width, &height);
	assert_int_equal(width, 1024);
	assert_int_equal(display_request_size(vm.display, 0, 768), -EINVAL);
	assert_int_equal(display_request_size(vm.display, 100000, 768), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_display_info_and_a_frame, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nonsense_commands_get_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_random_commands, setup, teardown),
		cmocka_unit_test_setup_teardown(test_viewer_size_raises_the_display_event,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
