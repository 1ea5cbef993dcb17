/*
 * KVM's in-kernel 8259 pair, IOAPIC and PIT to and from the common saved
 * form (kvm_irqchip_state.h).  KVM's structs are documented in the
 * kernel's Documentation/virt/kvm/api.rst (KVM_GET_IRQCHIP, KVM_GET_PIT2)
 * and <asm/kvm.h>; the meaning of their fields is the classic 8259/8254
 * model KVM implements.  Where one side has a field the other lacks, the
 * comment says so and the value is the one a freshly reset chip has.
 */
#include "accel/kvm_irqchip_state.h"

#include <string.h>

/* ---- 8259 ---- */

/*
 * priority_add is the IRQ with the highest priority (KVM rotates by
 * adding it); lowest_priority is the IRQ with the lowest, so the highest
 * is the one after it.  init_state: 0 ready, 1, 2, 3 = the next data
 * byte is ICW2, ICW3, ICW4; our init_step numbers the same ICWs 2, 3, 4.
 */
void kvm_pic_from_common(const struct pic_chip *c, unsigned chip,
			 struct kvm_pic_state *k)
{
	memset(k, 0, sizeof(*k));
	k->last_irr = c->last_level;
	k->irr = c->irr;
	k->imr = c->imr;
	k->isr = c->isr;
	k->priority_add = (c->lowest_priority + 1) & 7;
	k->irq_base = c->vector_base & 0xf8;
	k->read_reg_select = c->read_isr;
	k->poll = c->poll;
	k->special_mask = c->special_mask;
	k->init_state = c->init_step >= 2 && c->init_step <= 4 ? c->init_step - 1 : 0;
	k->auto_eoi = c->auto_eoi;
	/* Neither is modelled by the emulator's 8259: as after reset. */
	k->rotate_on_auto_eoi = 0;
	k->special_fully_nested_mode = 0;
	/* KVM has no single (uncascaded) mode: after ICW2 it always waits
	 * for ICW3; PCs never program a single 8259. */
	k->init4 = c->icw4_needed;
	k->elcr_mask = PIC_ELCR_MASK(chip);
	k->elcr = c->elcr & k->elcr_mask;
}

void kvm_pic_to_common(const struct kvm_pic_state *k, unsigned chip,
		       struct pic_chip *c)
{
	memset(c, 0, sizeof(*c));
	c->irr = k->irr;
	c->isr = k->isr;
	c->imr = k->imr;
	c->elcr = k->elcr & PIC_ELCR_MASK(chip);
	c->last_level = k->last_irr;
	c->vector_base = k->irq_base & 0xf8;
	c->init_step = k->init_state >= 1 && k->init_state <= 3 ? k->init_state + 1 : 0;
	c->icw4_needed = k->init4;
	c->single = false; /* KVM's 8259s are always cascaded */
	c->auto_eoi = k->auto_eoi;
	c->special_mask = k->special_mask;
	c->poll = k->poll;
	c->read_isr = k->read_reg_select;
	c->lowest_priority = (k->priority_add + 7) & 7;
	/* rotate_on_auto_eoi and special_fully_nested_mode have no place
	 * in the common form; both are 0 unless a guest sets them. */
}

/* ---- IOAPIC ---- */

#define RTE_LEVEL (1ULL << 15)

/* The pins the guest made level-triggered. */
static uint32_t level_pins(const uint64_t *rte, unsigned n)
{
	uint32_t m = 0;

	for (unsigned i = 0; i < n; i++)
		if (rte[i] & RTE_LEVEL)
			m |= 1u << i;
	return m;
}

/*
 * KVM's irr is, per pin, an asserted level line or an edge not delivered
 * yet (KVM_GET_IRQCHIP leaves delivered edges out); KVM_SET_IRQCHIP
 * raises every pin in it again.  The common form has the line levels,
 * and the emulator sends an edge at once or never (masked).  So only
 * level-triggered pins' lines cross: an edge line raised again would be
 * a second interrupt, and a pending edge the emulator would swallow the
 * next one.
 */
void kvm_ioapic_from_common(const struct ioapic_state *s,
			    struct kvm_ioapic_state *k)
{
	memset(k, 0, sizeof(*k));
	k->base_address = KVM_STATE_IOAPIC_BASE;
	k->ioregsel = s->sel & 0xff;
	k->id = s->id & 0xf;
	for (unsigned i = 0; i < KVM_IOAPIC_NUM_PINS; i++)
		k->redirtbl[i].bits = s->rte[i];
	k->irr = s->levels & level_pins(s->rte, IOAPIC_PINS);
}

void kvm_ioapic_to_common(const struct kvm_ioapic_state *k,
			  struct ioapic_state *s)
{
	memset(s, 0, sizeof(*s));
	s->sel = k->ioregsel & 0xff;
	s->id = k->id & 0xf;
	for (unsigned i = 0; i < IOAPIC_PINS; i++)
		s->rte[i] = k->redirtbl[i].bits;
	s->levels = k->irr & level_pins(s->rte, IOAPIC_PINS);
}

/* ---- 8254 ---- */

/* KVM's read_state, write_state and count_latched (its i8254 model). */
enum { RW_LSB = 1, RW_MSB = 2, RW_WORD0 = 3, RW_WORD1 = 4 };
/* KVM's mode of a channel no control word has reached since reset. */
#define KVM_PIT_MODE_RESET 0xff

static bool channel_is_reset(const struct pit_channel *c)
{
	return !c->armed && c->null_count && c->mode == 0 && c->access == 3 &&
	       c->reload == 65536 && !c->bcd && !c->write_hi_next &&
	       !c->read_hi_next && !c->latched && !c->status_latched;
}

static void channel_from_common(const struct pit_channel *c, uint64_t vm_now,
				uint64_t host_now, struct kvm_pit_channel_state *k)
{
	bool word = c->access == 3;

	memset(k, 0, sizeof(*k));
	k->count = c->reload;
	/*
	 * KVM has no "control word written, count not yet": it counts on
	 * with the old count in the new mode until a count arrives, which
	 * is what it gets here.  Only a channel untouched since reset keeps
	 * KVM's idle mode (no timer).
	 */
	k->mode = channel_is_reset(c) ? KVM_PIT_MODE_RESET : c->mode;
	k->rw_mode = c->access;
	k->bcd = c->bcd;
	k->gate = c->gate;
	k->write_state = word ? (c->write_hi_next ? RW_WORD1 : RW_WORD0) : c->access;
	k->write_latch = c->write_lo;
	/* Our read flip-flop serves the latch while one is held. */
	if (c->latched) {
		k->count_latched = word ? (c->read_hi_next ? RW_MSB : RW_WORD0) : c->access;
		k->latched_count = c->latch;
		k->read_state = word ? RW_WORD0 : c->access;
	} else {
		k->read_state = word ? (c->read_hi_next ? RW_WORD1 : RW_WORD0) : c->access;
	}
	k->status_latched = c->status_latched;
	k->status = c->status;
	/* Started that long before now, on the host's clock. */
	if (c->armed && c->start_ns <= vm_now)
		k->count_load_time = (int64_t)(host_now - (vm_now - c->start_ns));
	else
		k->count_load_time = (int64_t)host_now;
}

static void channel_to_common(const struct kvm_pit_channel_state *k,
			      uint64_t vm_now, uint64_t host_now,
			      struct pit_channel *c)
{
	bool word;

	*c = (struct pit_channel){ .reload = 65536, .access = 3,
				   .gate = k->gate, .null_count = true };
	if (k->mode > 5) /* KVM_PIT_MODE_RESET: as after reset */
		return;
	c->reload = k->count && k->count <= 65536 ? k->count : 65536;
	c->mode = k->mode;
	c->access = k->rw_mode >= 1 && k->rw_mode <= 3 ? k->rw_mode : 3;
	word = c->access == 3;
	c->bcd = k->bcd & 1;
	c->armed = true;
	/* KVM's status has no null-count bit: a counting channel's count
	 * is never null. */
	c->null_count = false;
	/*
	 * Channel 0's phase KVM keeps in its hrtimer, and count_load_time
	 * is then only what userspace last set; the unsigned arithmetic
	 * gives a valid (if arbitrary) phase for any value.
	 */
	if (k->count_load_time > 0 && (uint64_t)k->count_load_time <= host_now)
		c->start_ns = vm_now - (host_now - (uint64_t)k->count_load_time);
	else
		c->start_ns = vm_now;
	c->write_hi_next = word && k->write_state == RW_WORD1;
	c->write_lo = k->write_latch;
	c->latched = k->count_latched != 0;
	c->latch = k->latched_count;
	c->read_hi_next = word && (c->latched ? k->count_latched == RW_MSB
					      : k->read_state == RW_WORD1);
	c->status_latched = k->status_latched;
	c->status = k->status;
}

/* Port 0x61: bit 0 is channel 2's gate, bit 1 the speaker data enable
 * (KVM's KVM_PIT_FLAGS_SPEAKER_DATA_ON with KVM_PIT_SPEAKER_DUMMY). */
void kvm_pit_from_common(const struct pit_state *s, uint64_t vm_now,
			 uint64_t host_now, struct kvm_pit_state2 *k)
{
	memset(k, 0, sizeof(*k));
	for (unsigned i = 0; i < 3; i++)
		channel_from_common(&s->ch[i], vm_now, host_now, &k->channels[i]);
	k->channels[2].gate = s->port61 & 1;
	/* HPET legacy replacement stays off: wirt's HPET does not route
	 * through KVM's PIT. */
	k->flags = s->port61 & 2 ? KVM_PIT_FLAGS_SPEAKER_DATA_ON : 0;
}

void kvm_pit_to_common(const struct kvm_pit_state2 *k, uint64_t vm_now,
		       uint64_t host_now, struct pit_state *s)
{
	for (unsigned i = 0; i < 3; i++)
		channel_to_common(&k->channels[i], vm_now, host_now, &s->ch[i]);
	s->port61 = (k->channels[2].gate ? 1 : 0) |
		    (k->flags & KVM_PIT_FLAGS_SPEAKER_DATA_ON ? 2 : 0);
}
