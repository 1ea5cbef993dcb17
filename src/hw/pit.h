/*
 * The 8254 programmable interval timer (ports 0x40-0x43) with channel 0
 * on IRQ 0 and channel 2 gated through port 0x61, for the emulator (KVM
 * has its own in-kernel PIT).
 */
#ifndef WIRT_HW_PIT_H
#define WIRT_HW_PIT_H

#include <stdbool.h>
#include <stdint.h>

struct vm;
struct pit;
struct vmstate_in;
struct vmstate_out;

/* One counter.  Times are on the guest clock (vm_clock_ns). */
struct pit_channel {
	uint32_t reload;         /* 1-65536 */
	uint8_t mode, access;    /* access: 1 lo, 2 hi, 3 lo/hi */
	bool bcd;
	bool gate;
	bool armed;              /* a count was loaded and counting started */
	uint64_t start_ns;       /* when counting started */
	bool write_hi_next, read_hi_next;
	uint8_t write_lo;
	bool latched;
	uint16_t latch;
	bool status_latched;
	uint8_t status;
	bool null_count;
};

/* The three counters and port 0x61, as the "pit" section holds them. */
struct pit_state {
	struct pit_channel ch[3];
	uint8_t port61;          /* bits 0-1 as written: channel 2 gate, speaker data */
};

#define PIT_STATE_VERSION 1

/* As after power-on: no count loaded, channel 2's gate low. */
void pit_state_reset(struct pit_state *s);
/* The "pit" section's body; get checks what it reads (0 or -errno). */
void pit_state_put(struct vmstate_out *o, const struct pit_state *s);
int pit_state_get(struct vmstate_in *in, struct pit_state *s);

struct pit *pit_create(struct vm *vm);

#endif
