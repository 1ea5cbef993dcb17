/*
 * The conversions between KVM's save/restore structs and the common saved
 * form (accel/kvm_irqchip_state.c, accel/kvm_cpu_convert.c), which need
 * no /dev/kvm: round trips common -> KVM -> common for the 8259 pair in
 * the states guests program (reset, after the ICW sequence, in the middle
 * of it, rotated, poll and read-ISR), the IOAPIC, the PIT (every mode,
 * latches, a half-written count, the clock conversion at a given "now"),
 * the local APIC page, registers, FPU images and the vCPU events and run
 * state; plus fields checked against their documented KVM meaning.  And
 * the "cpu" section: version 2 round trip, version 1 still read.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "emu_harness.h"
#include "accel/kvm_cpu_convert.h"
#include "accel/kvm_irqchip_state.h"
#include "migration/migration.h"
#include "migration/vmstate.h"

#define rnd emu_harness_rnd

/* ---- 8259 ---- */

static void pic_round_trip(const struct pic_state *s)
{
	struct kvm_pic_state k;
	struct pic_state back;

	for (unsigned i = 0; i < 2; i++) {
		kvm_pic_from_common(&s->chip[i], i, &k);
		kvm_pic_to_common(&k, i, &back.chip[i]);
		assert_memory_equal(&back.chip[i], &s->chip[i], sizeof(back.chip[i]));
	}
}

/* What pic.c's ICW1 does to a chip. */
static void icw1(struct pic_chip *c, uint8_t v)
{
	c->imr = c->isr = c->irr = 0;
	c->lowest_priority = 7;
	c->special_mask = c->read_isr = c->auto_eoi = false;
	c->icw4_needed = v & 1;
	c->single = v & 2;
	c->init_step = 2;
}

static void test_pic_reset(void **state)
{
	struct kvm_pic_state k;
	struct pic_state s;

	(void)state;
	pic_state_reset(&s);
	pic_round_trip(&s);
	kvm_pic_from_common(&s.chip[0], 0, &k);
	/* lowest priority 7: IRQ 0 has the highest, priority_add 0 */
	assert_int_equal(k.priority_add, 0);
	assert_int_equal(k.irq_base, 0x08);
	assert_int_equal(k.init_state, 0);
	assert_int_equal(k.elcr_mask, 0xf8);
	kvm_pic_from_common(&s.chip[1], 1, &k);
	assert_int_equal(k.irq_base, 0x70);
	assert_int_equal(k.elcr_mask, 0xde);
}

static void test_pic_initialisation(void **state)
{
	struct kvm_pic_state k;
	struct pic_state s;

	(void)state;
	pic_state_reset(&s);
	/* ICW1 (edge, cascade, ICW4 needed): expecting ICW2 */
	icw1(&s.chip[0], 0x11);
	icw1(&s.chip[1], 0x11);
	pic_round_trip(&s);
	kvm_pic_from_common(&s.chip[0], 0, &k);
	assert_int_equal(k.init_state, 1);
	assert_int_equal(k.init4, 1);
	/* ICW2: expecting ICW3 */
	s.chip[0].vector_base = 0x20;
	s.chip[0].init_step = 3;
	pic_round_trip(&s);
	kvm_pic_from_common(&s.chip[0], 0, &k);
	assert_int_equal(k.init_state, 2);
	assert_int_equal(k.irq_base, 0x20);
	/* ICW3: expecting ICW4 */
	s.chip[0].init_step = 4;
	pic_round_trip(&s);
	kvm_pic_from_common(&s.chip[0], 0, &k);
	assert_int_equal(k.init_state, 3);
	/* ICW4 (8086 mode, auto-EOI), then OCW1 */
	s.chip[0].init_step = 0;
	s.chip[0].auto_eoi = true;
	s.chip[0].imr = 0xfb;
	s.chip[1].vector_base = 0x28;
	s.chip[1].init_step = 0;
	s.chip[1].imr = 0xff;
	pic_round_trip(&s);
	kvm_pic_from_common(&s.chip[0], 0, &k);
	assert_int_equal(k.init_state, 0);
	assert_int_equal(k.auto_eoi, 1);
	assert_int_equal(k.imr, 0xfb);
}

static void test_pic_rotation_poll_read_isr(void **state)
{
	struct kvm_pic_state k;
	struct pic_state s;

	(void)state;
	pic_state_reset(&s);
	s.chip[0].vector_base = 0x20;
	s.chip[0].icw4_needed = true;
	s.chip[0].lowest_priority = 3; /* OCW2 set priority 3: IRQ 4 highest */
	s.chip[0].irr = 0x31;
	s.chip[0].isr = 0x10;
	s.chip[0].last_level = 0x21;
	s.chip[0].elcr = 0x20;
	s.chip[1].poll = true;
	s.chip[1].read_isr = true;
	s.chip[1].special_mask = true;
	pic_round_trip(&s);
	kvm_pic_from_common(&s.chip[0], 0, &k);
	assert_int_equal(k.priority_add, 4);
	assert_int_equal(k.last_irr, 0x21);
	assert_int_equal(k.irr, 0x31);
	assert_int_equal(k.isr, 0x10);
	assert_int_equal(k.elcr, 0x20);
	kvm_pic_from_common(&s.chip[1], 1, &k);
	assert_int_equal(k.poll, 1);
	assert_int_equal(k.read_reg_select, 1);
	assert_int_equal(k.special_mask, 1);
	/* every rotation */
	for (unsigned p = 0; p < 8; p++) {
		s.chip[0].lowest_priority = p;
		pic_round_trip(&s);
		kvm_pic_from_common(&s.chip[0], 0, &k);
		assert_int_equal(k.priority_add, (p + 1) & 7);
	}
}

static void test_pic_from_kvm(void **state)
{
	struct kvm_pic_state k = { .priority_add = 0, .init_state = 3, .init4 = 1,
				   .irq_base = 0x77, .elcr = 0xff,
				   .special_fully_nested_mode = 1 };
	struct kvm_pic_state again;
	struct pic_chip c;

	(void)state;
	kvm_pic_to_common(&k, 1, &c);
	assert_int_equal(c.lowest_priority, 7);
	assert_int_equal(c.init_step, 4);
	assert_true(c.icw4_needed);
	assert_false(c.single);
	assert_int_equal(c.vector_base, 0x70);
	assert_int_equal(c.elcr, 0xde); /* IRQ 8 and 13 are edge */
	/* what the common form lacks comes back as after reset */
	kvm_pic_from_common(&c, 1, &again);
	assert_int_equal(again.special_fully_nested_mode, 0);
	assert_int_equal(again.rotate_on_auto_eoi, 0);
	assert_int_equal(again.init_state, 3);
	assert_int_equal(again.elcr_mask, 0xde);
}

/* ---- IOAPIC ---- */

static void test_ioapic(void **state)
{
	struct kvm_ioapic_state k;
	struct ioapic_state s, back;

	(void)state;
	ioapic_state_reset(&s);
	s.sel = 0x13;
	s.id = 2;
	for (unsigned i = 0; i < IOAPIC_PINS; i++)
		s.rte[i] = rnd() & 0xff0000000001ffffULL & ~(1ULL << 12);
	s.rte[5] |= 1ULL << 15;  /* level */
	s.rte[6] &= ~(1ULL << 15); /* edge */
	s.levels = (1u << 5) | (1u << 6);
	kvm_ioapic_from_common(&s, &k);
	assert_int_equal(k.base_address, 0xfec00000ULL);
	assert_int_equal(k.ioregsel, 0x13);
	assert_int_equal(k.id, 2);
	assert_true(k.irr & (1u << 5));
	assert_false(k.irr & (1u << 6)); /* an edge line is not raised again */
	for (unsigned i = 0; i < IOAPIC_PINS; i++)
		assert_int_equal(k.redirtbl[i].bits, s.rte[i]);
	assert_int_equal(k.redirtbl[5].fields.trig_mode, 1);
	assert_int_equal(k.redirtbl[5].fields.vector, s.rte[5] & 0xff);
	assert_int_equal(k.redirtbl[5].fields.dest_id, s.rte[5] >> 56);
	kvm_ioapic_to_common(&k, &back);
	s.levels &= ~(1u << 6);
	assert_memory_equal(&back, &s, sizeof(s));
	ioapic_state_reset(&s);
	kvm_ioapic_from_common(&s, &k);
	assert_int_equal(k.redirtbl[0].fields.mask, 1);
}

/* ---- 8254 ---- */

#define VM_NOW   5000000000ULL
#define HOST_NOW 9000000000ULL

static void pit_round_trip(const struct pit_state *s)
{
	struct kvm_pit_state2 k;
	struct pit_state back;

	kvm_pit_from_common(s, VM_NOW, HOST_NOW, &k);
	kvm_pit_to_common(&k, VM_NOW, HOST_NOW, &back);
	for (unsigned i = 0; i < 3; i++) {
		const struct pit_channel *a = &back.ch[i], *b = &s->ch[i];

		assert_int_equal(a->reload, b->reload);
		assert_int_equal(a->mode, b->mode);
		assert_int_equal(a->access, b->access);
		assert_int_equal(a->bcd, b->bcd);
		assert_int_equal(a->gate, b->gate);
		assert_int_equal(a->armed, b->armed);
		if (b->armed)
			assert_int_equal(a->start_ns, b->start_ns);
		assert_int_equal(a->write_hi_next, b->write_hi_next);
		assert_int_equal(a->read_hi_next, b->read_hi_next);
		assert_int_equal(a->write_lo, b->write_lo);
		assert_int_equal(a->latched, b->latched);
		assert_int_equal(a->latch, b->latch);
		assert_int_equal(a->status_latched, b->status_latched);
		assert_int_equal(a->status, b->status);
		assert_int_equal(a->null_count, b->null_count);
	}
	assert_int_equal(back.port61, s->port61);
}

static struct pit_channel running(uint8_t mode, uint32_t reload, uint64_t start)
{
	return (struct pit_channel){ .reload = reload, .mode = mode, .access = 3,
				     .gate = true, .armed = true, .start_ns = start };
}

static void test_pit_reset(void **state)
{
	struct kvm_pit_state2 k;
	struct pit_state s;

	(void)state;
	pit_state_reset(&s);
	pit_round_trip(&s);
	kvm_pit_from_common(&s, VM_NOW, HOST_NOW, &k);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(k.channels[i].mode, 0xff); /* no timer */
	assert_int_equal(k.channels[0].gate, 1);
	assert_int_equal(k.channels[2].gate, 0);
	assert_int_equal(k.flags, 0);
}

static void test_pit_modes_and_time(void **state)
{
	struct kvm_pit_state2 k;
	struct pit_state s;

	(void)state;
	pit_state_reset(&s);
	for (uint8_t mode = 0; mode <= 5; mode++) {
		s.ch[0] = running(mode, 1193 + mode, VM_NOW - 1000000);
		s.ch[0].bcd = mode & 1;
		s.ch[1] = running(mode, 65536, VM_NOW);
		s.ch[2] = running(mode, 2, VM_NOW - 3000000000ULL);
		s.ch[2].access = 1 + mode % 3;
		s.port61 = 1; /* channel 2's gate */
		pit_round_trip(&s);
		kvm_pit_from_common(&s, VM_NOW, HOST_NOW, &k);
		assert_int_equal(k.channels[0].mode, mode);
		assert_int_equal(k.channels[0].count, 1193 + mode);
		assert_int_equal(k.channels[0].bcd, mode & 1);
		assert_int_equal(k.channels[1].count, 65536);
		/* started 1 ms / 3 s before now, on the host's clock */
		assert_int_equal(k.channels[0].count_load_time, HOST_NOW - 1000000);
		assert_int_equal(k.channels[1].count_load_time, HOST_NOW);
		assert_int_equal(k.channels[2].count_load_time, HOST_NOW - 3000000000ULL);
		assert_int_equal(k.channels[2].rw_mode, 1 + mode % 3);
	}
}

static void test_pit_latches_and_half_written(void **state)
{
	struct kvm_pit_state2 k;
	struct pit_state s;

	(void)state;
	pit_state_reset(&s);
	/* channel 0: count latched, low byte not read yet */
	s.ch[0] = running(2, 11932, VM_NOW - 5000);
	s.ch[0].latched = true;
	s.ch[0].latch = 0x1234;
	/* channel 1: latched, low byte read: the high one next */
	s.ch[1] = running(3, 100, VM_NOW - 5000);
	s.ch[1].latched = true;
	s.ch[1].latch = 0xbeef;
	s.ch[1].read_hi_next = true;
	s.ch[1].status_latched = true;
	s.ch[1].status = 0xb6;
	/* channel 2: half of a new count written, gate and speaker on */
	s.ch[2] = running(0, 500, VM_NOW - 5000);
	s.ch[2].write_hi_next = true;
	s.ch[2].write_lo = 0x42;
	s.port61 = 3;
	pit_round_trip(&s);
	kvm_pit_from_common(&s, VM_NOW, HOST_NOW, &k);
	assert_int_equal(k.channels[0].count_latched, 3); /* RW_STATE_WORD0 */
	assert_int_equal(k.channels[0].latched_count, 0x1234);
	assert_int_equal(k.channels[0].read_state, 3);
	assert_int_equal(k.channels[1].count_latched, 2); /* MSB next */
	assert_int_equal(k.channels[1].status_latched, 1);
	assert_int_equal(k.channels[1].status, 0xb6);
	assert_int_equal(k.channels[2].write_state, 4); /* RW_STATE_WORD1 */
	assert_int_equal(k.channels[2].write_latch, 0x42);
	assert_int_equal(k.channels[2].gate, 1);
	assert_int_equal(k.flags, KVM_PIT_FLAGS_SPEAKER_DATA_ON);
	/* a live read half done: the high byte next */
	s.ch[0].latched = false;
	s.ch[0].latch = 0;
	s.ch[0].read_hi_next = true;
	pit_round_trip(&s);
	kvm_pit_from_common(&s, VM_NOW, HOST_NOW, &k);
	assert_int_equal(k.channels[0].read_state, 4);
	/* a control word without its count yet: KVM counts on in the new mode */
	s.ch[0] = (struct pit_channel){ .reload = 65536, .mode = 2, .access = 3,
					.gate = true, .null_count = true };
	kvm_pit_from_common(&s, VM_NOW, HOST_NOW, &k);
	assert_int_equal(k.channels[0].mode, 2);
}

static void test_pit_from_kvm(void **state)
{
	struct kvm_pit_state2 k;
	struct pit_state s;

	(void)state;
	memset(&k, 0, sizeof(k));
	k.channels[0] = (struct kvm_pit_channel_state){ .count = 0, .mode = 2, .rw_mode = 3,
						       .read_state = 3, .write_state = 3, .gate = 1,
						       .count_load_time = HOST_NOW - 700 };
	k.channels[1].mode = 0xff;
	k.channels[1].gate = 1;
	k.channels[2] = (struct kvm_pit_channel_state){ .count = 7, .mode = 0, .rw_mode = 0,
						       .count_load_time = HOST_NOW + 5 };
	kvm_pit_to_common(&k, VM_NOW, HOST_NOW, &s);
	assert_int_equal(s.ch[0].reload, 65536); /* 0 counts 65536 */
	assert_true(s.ch[0].armed);
	assert_false(s.ch[0].null_count);
	assert_int_equal(s.ch[0].start_ns, VM_NOW - 700);
	assert_false(s.ch[1].armed); /* never programmed */
	assert_true(s.ch[1].null_count);
	assert_int_equal(s.ch[2].access, 3);
	assert_int_equal(s.ch[2].start_ns, VM_NOW); /* a time ahead of now: now */
	assert_int_equal(s.port61, 0);
}

/* ---- the vCPU ---- */

static void test_lapic_page(void **state)
{
	struct kvm_lapic_state k;
	uint32_t regs[256], back[256], v;

	(void)state;
	for (unsigned i = 0; i < 256; i++)
		regs[i] = (uint32_t)rnd();
	regs[0x20 / 4] = 3u << 24;      /* APIC ID 3, xAPIC form */
	regs[0x390 / 4] = 123456;       /* timer current count */
	kvm_lapic_from_common(regs, &k);
	memcpy(&v, k.regs + 0x20, 4);
	assert_int_equal(v >> 24, 3);
	memcpy(&v, k.regs + 0x390, 4);
	assert_int_equal(v, 123456);
	kvm_lapic_to_common(&k, back);
	assert_memory_equal(back, regs, sizeof(regs));
}

static void test_regs(void **state)
{
	struct cpu_state s, back;
	struct kvm_sregs sr;
	struct kvm_regs r;

	(void)state;
	cpu_state_reset(&s);
	for (unsigned i = 0; i < NUM_GPRS; i++)
		s.gpr[i] = rnd();
	s.seg[SEG_CS] = cpu_flat_code_segment(0x10, true);
	s.seg[SEG_FS].unusable = 1;
	s.seg[SEG_GS].base = 0xffff888000000000ULL;
	s.cr0 = 0x80050033;
	s.cr3 = 0x1234000;
	s.cr4 = 0x6f0;
	s.cr8 = 5;
	s.efer = 0xd01;
	s.apic_base = 0xfee00d00;
	kvm_regs_from_common(&s, &r, &sr);
	assert_int_equal(r.rsp, s.gpr[GPR_RSP]);
	assert_int_equal(r.r13, s.gpr[GPR_R13]);
	assert_int_equal(sr.cs.l, 1);
	assert_int_equal(sr.cs.limit, 0xffffffff); /* byte granular, as KVM's */
	assert_int_equal(sr.fs.unusable, 1);
	assert_int_equal(sr.apic_base, 0xfee00d00);
	for (unsigned i = 0; i < sizeof(sr.interrupt_bitmap) / 8; i++)
		assert_int_equal(sr.interrupt_bitmap[i], 0);
	kvm_regs_to_common(&r, &sr, &back);
	assert_memory_equal(&back, &s, sizeof(s));
}

static void test_fpu_images(void **state)
{
	struct cpu_full_state *st = calloc(1, sizeof(*st)), *back = calloc(1, sizeof(*back));
	struct kvm_xsave *x = malloc(sizeof(*x));
	struct kvm_fpu f;
	uint8_t fx[512];
	uint64_t bv;

	(void)state;
	assert_non_null(st);
	assert_non_null(back);
	assert_non_null(x);
	for (unsigned i = 0; i < 512; i++)
		st->fxsave[i] = rnd();
	memset(st->fxsave + 416, 0, 96);     /* reserved and available bytes */
	memset(st->fxsave + 5, 0, 1);        /* reserved */
	memset(st->fxsave + 28, 0, 4);
	st->fxsave[28] = 0xff;               /* MXCSR_MASK 0xffff */
	st->fxsave[29] = 0xff;
	kvm_fpu_from_fxsave(st->fxsave, &f);
	memcpy(&bv, st->fxsave + 24, 4);
	assert_int_equal(f.mxcsr, (uint32_t)bv);
	assert_int_equal(f.fcw, st->fxsave[0] | st->fxsave[1] << 8);
	kvm_fpu_to_fxsave(&f, fx);
	assert_memory_equal(fx, st->fxsave, 512);
	/* XSAVE: from the emulator (no components past SSE) */
	st->xstate_bv = CPU_XSTATE_X87_SSE;
	kvm_xsave_from_common(st, x);
	memcpy(&bv, (uint8_t *)x->region + 512, 8);
	assert_int_equal(bv, 3);
	memcpy(&bv, (uint8_t *)x->region + 520, 8);
	assert_int_equal(bv, 0); /* XCOMP_BV: standard form */
	kvm_xsave_to_common(x, back);
	assert_memory_equal(back->fxsave, st->fxsave, 512);
	assert_int_equal(back->xstate_bv, 3);
	assert_int_equal(back->xsave_ext_len, 0);
	/* with AVX state */
	st->xstate_bv = 7;
	st->xsave_ext_len = CPU_XSAVE_EXT_MAX;
	for (unsigned i = 0; i < CPU_XSAVE_EXT_MAX; i++)
		st->xsave_ext[i] = rnd();
	kvm_xsave_from_common(st, x);
	kvm_xsave_to_common(x, back);
	assert_int_equal(back->xstate_bv, 7);
	assert_int_equal(back->xsave_ext_len, CPU_XSAVE_EXT_MAX);
	assert_memory_equal(back->xsave_ext, st->xsave_ext, CPU_XSAVE_EXT_MAX);
	/* AVX bits without their bytes: initial state */
	st->xsave_ext_len = 0;
	kvm_xsave_from_common(st, x);
	memcpy(&bv, (uint8_t *)x->region + 512, 8);
	assert_int_equal(bv, 3);
	free(x);
	free(back);
	free(st);
}

static void events_round_trip(const struct cpu_full_state *st)
{
	struct cpu_full_state *back = calloc(1, sizeof(*back));
	struct kvm_vcpu_events ev;
	struct kvm_mp_state mp;
	const char *why = NULL;

	assert_non_null(back);
	assert_int_equal(kvm_events_from_common(st, &ev, &mp, &why), 0);
	assert_int_equal(kvm_events_to_common(&ev, &mp, back), 0);
	assert_int_equal(back->nmi_pending, st->nmi_pending);
	assert_int_equal(back->nmi_blocked, st->nmi_blocked);
	assert_int_equal(back->irq_shadow, st->irq_shadow);
	assert_int_equal(back->halted, st->halted && !st->delivering.kind);
	assert_int_equal(back->wait_for_sipi, st->wait_for_sipi && !st->sipi_vector);
	assert_int_equal(back->delivering.kind, st->delivering.kind == CPU_EVENT_SOFT ?
			 (st->delivering.vector < 32 ? CPU_EVENT_EXCEPTION : CPU_EVENT_EXTINT) :
			 st->delivering.kind);
	assert_int_equal(back->delivering.vector, st->delivering.vector);
	if (st->delivering.kind == CPU_EVENT_EXCEPTION) {
		assert_int_equal(back->delivering.has_error_code, st->delivering.has_error_code);
		assert_int_equal(back->delivering.error_code, st->delivering.error_code);
	}
	free(back);
}

static void test_events(void **state)
{
	struct cpu_full_state *st = calloc(1, sizeof(*st));
	struct kvm_vcpu_events ev;
	struct kvm_mp_state mp;
	const char *why = NULL;

	(void)state;
	assert_non_null(st);
	events_round_trip(st);
	assert_int_equal(kvm_events_from_common(st, &ev, &mp, &why), 0);
	assert_int_equal(mp.mp_state, KVM_MP_STATE_RUNNABLE);
	assert_true(ev.flags & KVM_VCPUEVENT_VALID_NMI_PENDING);
	assert_true(ev.flags & KVM_VCPUEVENT_VALID_SHADOW);

	st->nmi_pending = st->nmi_blocked = true;
	st->halted = true;
	events_round_trip(st);
	assert_int_equal(kvm_events_from_common(st, &ev, &mp, &why), 0);
	assert_int_equal(mp.mp_state, KVM_MP_STATE_HALTED);
	assert_int_equal(ev.nmi.pending, 1);
	assert_int_equal(ev.nmi.masked, 1);

	/* the shadow: STI's needs IF set (VM entry checks it), else MOV SS */
	st->irq_shadow = true;
	st->s.rflags = RFLAGS_FIXED | RFLAGS_IF;
	events_round_trip(st);
	kvm_events_from_common(st, &ev, &mp, &why);
	assert_int_equal(ev.interrupt.shadow, KVM_X86_SHADOW_INT_STI);
	st->s.rflags = RFLAGS_FIXED;
	kvm_events_from_common(st, &ev, &mp, &why);
	assert_int_equal(ev.interrupt.shadow, KVM_X86_SHADOW_INT_MOV_SS);

	/* events being delivered wake a halted CPU */
	st->delivering = (struct cpu_event){ CPU_EVENT_EXCEPTION, 14, true, 6 };
	events_round_trip(st);
	kvm_events_from_common(st, &ev, &mp, &why);
	assert_int_equal(ev.exception.injected, 1);
	assert_int_equal(ev.exception.nr, 14);
	assert_int_equal(ev.exception.has_error_code, 1);
	assert_int_equal(ev.exception.error_code, 6);
	assert_int_equal(mp.mp_state, KVM_MP_STATE_RUNNABLE);
	st->delivering = (struct cpu_event){ CPU_EVENT_NMI, 2, false, 0 };
	events_round_trip(st);
	kvm_events_from_common(st, &ev, &mp, &why);
	assert_int_equal(ev.nmi.injected, 1);
	st->delivering = (struct cpu_event){ CPU_EVENT_EXTINT, 0xec, false, 0 };
	events_round_trip(st);
	kvm_events_from_common(st, &ev, &mp, &why);
	assert_int_equal(ev.interrupt.injected, 1);
	assert_int_equal(ev.interrupt.nr, 0xec);
	assert_int_equal(ev.interrupt.soft, 0);
	st->delivering = (struct cpu_event){ CPU_EVENT_SOFT, 0x80, false, 0 };
	events_round_trip(st);
	st->delivering = (struct cpu_event){ CPU_EVENT_SOFT, 3, false, 0 };
	events_round_trip(st);

	/* refused: an exception KVM does not inject, a pending INIT */
	st->delivering = (struct cpu_event){ CPU_EVENT_EXCEPTION, 2, false, 0 };
	assert_int_equal(kvm_events_from_common(st, &ev, &mp, &why), -EINVAL);
	assert_non_null(why);
	st->delivering = (struct cpu_event){ 0 };
	st->init_pending = true;
	assert_int_equal(kvm_events_from_common(st, &ev, &mp, &why), -EINVAL);
	st->init_pending = false;

	/* an AP waiting for its start-up IPI; one that got it */
	st->halted = false;
	st->wait_for_sipi = true;
	events_round_trip(st);
	kvm_events_from_common(st, &ev, &mp, &why);
	assert_int_equal(mp.mp_state, KVM_MP_STATE_INIT_RECEIVED);
	st->sipi_vector = 0x9a + 1;
	events_round_trip(st);
	kvm_events_from_common(st, &ev, &mp, &why);
	assert_int_equal(mp.mp_state, KVM_MP_STATE_RUNNABLE);
	cpu_state_reset(&st->s);
	kvm_take_sipi(&st->s, 0x9a);
	assert_int_equal(st->s.seg[SEG_CS].selector, 0x9a00);
	assert_int_equal(st->s.seg[SEG_CS].base, 0x9a000);
	assert_int_equal(st->s.rip, 0);
	free(st);
}

static void test_events_from_kvm(void **state)
{
	struct cpu_full_state *st = calloc(1, sizeof(*st));
	struct kvm_vcpu_events ev;
	struct kvm_mp_state mp = { KVM_MP_STATE_UNINITIALIZED };

	(void)state;
	assert_non_null(st);
	memset(&ev, 0, sizeof(ev));
	/* an exception raised while an NMI was delivered: the NMI waits */
	ev.exception.injected = 1;
	ev.exception.nr = 13;
	ev.exception.has_error_code = 1;
	ev.exception.error_code = 0x18;
	ev.nmi.injected = 1;
	assert_int_equal(kvm_events_to_common(&ev, &mp, st), 0);
	assert_int_equal(st->delivering.kind, CPU_EVENT_EXCEPTION);
	assert_int_equal(st->delivering.error_code, 0x18);
	assert_true(st->nmi_pending);
	assert_true(st->wait_for_sipi);
	mp.mp_state = KVM_MP_STATE_STOPPED;
	assert_int_equal(kvm_events_to_common(&ev, &mp, st), -ENOTSUP);
	free(st);
}

/* ---- the cpu section ---- */

struct buf {
	uint8_t *p;
	size_t len, pos;
};

static int buf_write(void *opaque, void *p, size_t n)
{
	struct buf *b = opaque;

	b->p = realloc(b->p, b->len + n);
	assert_non_null(b->p);
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

static int buf_read(void *opaque, void *p, size_t n)
{
	struct buf *b = opaque;

	if (b->pos + n > b->len)
		return -EPIPE;
	memcpy(p, b->p + b->pos, n);
	b->pos += n;
	return 0;
}

static void random_cpu(struct cpu_full_state *st)
{
	memset(st, 0, sizeof(*st));
	cpu_state_reset(&st->s);
	st->s.gpr[GPR_RAX] = rnd();
	st->s.rip = rnd();
	for (unsigned i = 0; i < 512; i++)
		st->fxsave[i] = rnd();
	st->xcr0 = 7;
	st->dr[7] = 0x400;
	st->nmsrs = 2;
	st->msrs[0] = (struct cpu_msr){ CPU_MSR_IA32_TSC, rnd() };
	st->msrs[1] = (struct cpu_msr){ CPU_MSR_LSTAR, rnd() };
	st->halted = true;
	st->nmi_blocked = true;
	for (unsigned i = 0; i < 256; i++)
		st->lapic[i] = rnd();
	st->lapic_base = 0xfee00900;
	st->tsc_deadline = rnd();
	st->xstate_bv = CPU_XSTATE_X87_SSE;
}

/* Version 2 round trip; then the same body without version 2's fields
 * as a version 1 section, as an older wirt wrote it. */
static void test_cpu_section_versions(void **state)
{
	struct cpu_full_state *st = malloc(sizeof(*st)), *back = malloc(sizeof(*back));
	struct buf a = { 0 }, b = { 0 };
	struct vmstate_out o;
	struct vmstate_in in;
	uint8_t *body;
	size_t v1_len;

	(void)state;
	assert_non_null(st);
	assert_non_null(back);
	random_cpu(st);
	st->delivering = (struct cpu_event){ CPU_EVENT_EXCEPTION, 14, true, 2 };
	st->xstate_bv = 7;
	st->xsave_ext_len = 256;
	memset(st->xsave_ext, 0x5a, 256);
	vmstate_out_init_fn(&o, buf_write, &a);
	vm_state_cpu_put(&o, 0, st);
	assert_int_equal(vmstate_out_finish(&o), 0);
	assert_int_equal(vmstate_in_init_fn(&in, buf_read, &a), 0);
	assert_int_equal(vmstate_next_section(&in), 1);
	assert_int_equal(in.version, VM_STATE_CPU_VERSION);
	assert_int_equal(vm_state_cpu_get(&in, back), 0);
	assert_int_equal(vmstate_left(&in), 0);
	assert_memory_equal(back, st, sizeof(*st));
	vmstate_in_free(&in);

	/* version 1: the same minus event (7 bytes) and XSAVE (12 + 256) */
	st->delivering = (struct cpu_event){ 0 };
	st->xstate_bv = CPU_XSTATE_X87_SSE;
	st->xsave_ext_len = 0;
	memset(st->xsave_ext, 0, sizeof(st->xsave_ext));
	a.pos = 0;
	assert_int_equal(vmstate_in_init_fn(&in, buf_read, &a), 0);
	assert_int_equal(vmstate_next_section(&in), 1);
	v1_len = in.len - 7 - 12 - 256;
	body = malloc(v1_len);
	assert_non_null(body);
	vmstate_get_bytes(&in, body, v1_len);
	vmstate_in_free(&in);
	vmstate_out_init_fn(&o, buf_write, &b);
	vmstate_begin(&o, "cpu", 0, 1);
	vmstate_put_bytes(&o, body, v1_len);
	vmstate_end(&o);
	assert_int_equal(vmstate_out_finish(&o), 0);
	assert_int_equal(vmstate_in_init_fn(&in, buf_read, &b), 0);
	assert_int_equal(vmstate_next_section(&in), 1);
	assert_int_equal(in.version, 1);
	assert_int_equal(vm_state_cpu_get(&in, back), 0);
	assert_int_equal(vmstate_left(&in), 0);
	assert_memory_equal(back, st, sizeof(*st));
	vmstate_in_free(&in);
	free(body);
	free(a.p);
	free(b.p);
	free(back);
	free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pic_reset),
		cmocka_unit_test(test_pic_initialisation),
		cmocka_unit_test(test_pic_rotation_poll_read_isr),
		cmocka_unit_test(test_pic_from_kvm),
		cmocka_unit_test(test_ioapic),
		cmocka_unit_test(test_pit_reset),
		cmocka_unit_test(test_pit_modes_and_time),
		cmocka_unit_test(test_pit_latches_and_half_written),
		cmocka_unit_test(test_pit_from_kvm),
		cmocka_unit_test(test_lapic_page),
		cmocka_unit_test(test_regs),
		cmocka_unit_test(test_fpu_images),
		cmocka_unit_test(test_events),
		cmocka_unit_test(test_events_from_kvm),
		cmocka_unit_test(test_cpu_section_versions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
