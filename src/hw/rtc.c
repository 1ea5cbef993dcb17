/*
 * MC146818 CMOS real-time clock (ports 0x70/0x71) showing the host's
 * time (UTC), in BCD or binary and 12- or 24-hour form as register B
 * asks; the guest may set its own time, kept as an offset.  The update-
 * in-progress bit follows real seconds.  Alarm and periodic interrupts
 * are not modelled (Linux does not need them to boot).
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "hw/bus.h"
#include "hw/devices.h"
#include "migration/vmstate.h"
#include "util/log.h"
#include "vm/vm.h"

#define REG_A 0x0a
#define REG_B 0x0b
#define REG_C 0x0c
#define REG_D 0x0d
#define B_24H 0x02
#define B_BINARY 0x04
#define B_SET 0x80

struct rtc {
	pthread_mutex_t lock;
	uint8_t index;
	uint8_t ram[128];
	int64_t offset;       /* guest time - host time, seconds */
};

static uint8_t to_bcd(unsigned v) { return ((v / 10) << 4) | (v % 10); }
static unsigned from_bcd(uint8_t v) { return (v >> 4) * 10 + (v & 0xf); }

static uint8_t encode(const struct rtc *r, unsigned v)
{
	return (r->ram[REG_B] & B_BINARY) ? v : to_bcd(v);
}

static unsigned decode(const struct rtc *r, uint8_t v)
{
	return (r->ram[REG_B] & B_BINARY) ? v : from_bcd(v);
}

static uint8_t time_register(const struct rtc *r, unsigned reg)
{
	time_t t = time(NULL) + r->offset;
	struct tm tm;
	unsigned h;

	gmtime_r(&t, &tm);
	switch (reg) {
	case 0: return encode(r, tm.tm_sec);
	case 2: return encode(r, tm.tm_min);
	case 4:
		h = tm.tm_hour;
		if (r->ram[REG_B] & B_24H)
			return encode(r, h);
		return encode(r, h % 12 ? h % 12 : 12) | (h >= 12 ? 0x80 : 0);
	case 6: return encode(r, tm.tm_wday + 1);
	case 7: return encode(r, tm.tm_mday);
	case 8: return encode(r, tm.tm_mon + 1);
	case 9: return encode(r, tm.tm_year % 100);
	case 0x32: return encode(r, 19 + tm.tm_year / 100);
	}
	return r->ram[reg];
}

/* The guest wrote a time register: move the offset so it reads back. */
static void set_time_register(struct rtc *r, unsigned reg, uint8_t v)
{
	time_t now = time(NULL), t = now + r->offset;
	struct tm tm;
	unsigned val;

	gmtime_r(&t, &tm);
	if (reg == 4 && !(r->ram[REG_B] & B_24H)) {
		val = decode(r, v & 0x7f) % 12 + ((v & 0x80) ? 12 : 0);
	} else {
		val = decode(r, v);
	}
	switch (reg) {
	case 0: tm.tm_sec = val; break;
	case 2: tm.tm_min = val; break;
	case 4: tm.tm_hour = val; break;
	case 7: tm.tm_mday = val; break;
	case 8: tm.tm_mon = val - 1; break;
	case 9: tm.tm_year = (tm.tm_year / 100) * 100 + val; break;
	case 0x32: tm.tm_year = (val - 19) * 100 + tm.tm_year % 100; break;
	default: return;
	}
	r->offset = (int64_t)timegm(&tm) - now;
}

static uint64_t rtc_read(void *opaque, uint64_t off, unsigned size)
{
	struct rtc *r = opaque;
	struct timespec ts;
	uint8_t v;

	(void)size;
	if (off == 0)
		return 0xff;
	pthread_mutex_lock(&r->lock);
	switch (r->index) {
	case REG_A:
		/* Update in progress during the last 2 ms of each second. */
		clock_gettime(CLOCK_REALTIME, &ts);
		v = (r->ram[REG_A] & 0x7f) | (ts.tv_nsec > 998000000 ? 0x80 : 0);
		break;
	case REG_C:
		v = r->ram[REG_C];
		r->ram[REG_C] = 0;
		break;
	case REG_D:
		v = 0x80; /* battery good */
		break;
	default:
		v = time_register(r, r->index);
	}
	pthread_mutex_unlock(&r->lock);
	return v;
}

static void rtc_write(void *opaque, uint64_t off, uint64_t v, unsigned size)
{
	struct rtc *r = opaque;

	(void)size;
	pthread_mutex_lock(&r->lock);
	if (off == 0) {
		r->index = v & 0x7f; /* bit 7 is the NMI mask */
	} else if (r->index <= 9 || r->index == 0x32) {
		if (r->index == 0 || r->index == 2 || r->index == 4 ||
		    (r->index >= 7 && r->index <= 9) || r->index == 0x32)
			set_time_register(r, r->index, v);
	} else if (r->index != REG_C && r->index != REG_D) {
		r->ram[r->index] = v;
	}
	pthread_mutex_unlock(&r->lock);
}

static const struct io_ops rtc_ops = { rtc_read, rtc_write };

/* CMOS RAM, the index and the guest's offset from host time. */
static void rtc_save(void *opaque, struct vmstate_out *o)
{
	struct rtc *r = opaque;

	pthread_mutex_lock(&r->lock);
	vmstate_put_u8(o, r->index);
	vmstate_put_bytes(o, r->ram, sizeof(r->ram));
	vmstate_put_u64(o, r->offset);
	pthread_mutex_unlock(&r->lock);
}

static int rtc_load(void *opaque, struct vmstate_in *in)
{
	struct rtc *r = opaque;

	pthread_mutex_lock(&r->lock);
	r->index = vmstate_get_u8(in) & 0x7f;
	vmstate_get_bytes(in, r->ram, sizeof(r->ram));
	r->offset = (int64_t)vmstate_get_u64(in);
	pthread_mutex_unlock(&r->lock);
	return in->error;
}

static void rtc_destroy(void *opaque)
{
	struct rtc *r = opaque;

	pthread_mutex_destroy(&r->lock);
	free(r);
}

int rtc_create(struct vm *vm)
{
	struct rtc *r = calloc(1, sizeof(*r));
	struct device_hooks hooks = { NULL, rtc_destroy, NULL, "rtc", 1,
				      rtc_save, rtc_load };
	uint64_t below = vm->mem.low_end > (16ULL << 20) ? vm->mem.low_end - (16ULL << 20) : 0;
	uint64_t above = vm->mem.high_size;

	if (!r)
		return -1;
	pthread_mutex_init(&r->lock, NULL);
	r->ram[REG_A] = 0x26;
	r->ram[REG_B] = B_24H;
	/* Memory sizes where PC firmware keeps them. */
	r->ram[0x15] = 0x80;
	r->ram[0x16] = 0x02;
	r->ram[0x17] = r->ram[0x30] = 0xff;
	r->ram[0x18] = r->ram[0x31] = 0xff;
	r->ram[0x34] = (below >> 16) & 0xff;
	r->ram[0x35] = (below >> 24) & 0xff;
	r->ram[0x5b] = (above >> 16) & 0xff;
	r->ram[0x5c] = (above >> 24) & 0xff;
	r->ram[0x5d] = (above >> 32) & 0xff;
	hooks.opaque = r;
	if (bus_register(&vm->pio, 0x70, 2, &rtc_ops, r, "rtc")) {
		rtc_destroy(r);
		return -1;
	}
	vm_add_device(vm, &hooks);
	return 0;
}
