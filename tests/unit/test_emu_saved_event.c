/*
 * A restored state's half-delivered event (struct cpu_event, the
 * "delivering" of cpu_full_state): the emulator delivers it before the
 * next instruction — an external interrupt, an NMI (which then blocks
 * NMIs), a hardware exception with its error code — and an exception
 * whose delivery faults escalates to #DF as it would have.  The state
 * goes through emu_vcpu_save / emu_vcpu_restore (accel_emu_ops), the
 * vCPU runs from the harness's 64-bit state until a kick.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "emu_harness.h"

#define GDT 0x5000
#define IDT 0x6000
#define HANDLER 0x20000     /* one per vector: HANDLER + vector * 16 */
#define STACK 0x80000

static struct emu_harness h;

static void set_gate(unsigned vector, uint64_t target, bool present)
{
	uint64_t gate[2] = {
		(target & 0xffff) | (0x08ULL << 16) |
		((present ? 0x8e00ULL : 0x0e00ULL) << 32) |
		((uint64_t)((target >> 16) & 0xffff) << 48),
		target >> 32,
	};

	assert_int_equal(gmem_write(&h.vm.mem, IDT + vector * 16, gate, sizeof(gate)), 0);
}

static int setup(void **state)
{
	static const uint64_t gdt[3] = { 0, 0x00af9a000000ffffULL, 0x00cf92000000ffffULL };
	/* Each handler: mov $vector, %ecx; hlt. */
	uint8_t handler[16] = { 0xb9, 0, 0, 0, 0, 0xf4 };

	(void)state;
	emu_harness_setup(&h);
	emu_harness_descriptor_tables(&h, GDT, gdt, sizeof(gdt), IDT);
	for (unsigned v = 0; v < 256; v++) {
		handler[1] = v;
		assert_int_equal(gmem_write(&h.vm.mem, HANDLER + v * 16, handler,
					    sizeof(handler)), 0);
		set_gate(v, HANDLER + v * 16, true);
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	emu_harness_teardown(&h);
	return 0;
}

/*
 * Save the vCPU about to run `inc %rbx; hlt` with IF clear, restore it
 * with event e being delivered, run; returns rcx (the handler's vector,
 * or ~0 if no handler ran).
 */
static uint64_t run_with_event(struct cpu_event e)
{
	static const uint8_t code[] = { 0x48, 0xff, 0xc3, 0xf4 };
	struct cpu_full_state *st = malloc(sizeof(*st));
	struct emu_cpu *c = h.cpu;

	assert_non_null(st);
	assert_int_equal(gmem_write(&h.vm.mem, EMU_HARNESS_CODE_GPA, code, sizeof(code)), 0);
	c->s.rip = EMU_HARNESS_CODE_GPA;
	c->s.gpr[GPR_RSP] = STACK;
	c->s.gpr[GPR_RBX] = 0;
	c->s.gpr[GPR_RCX] = ~0ULL;
	c->halted = false;
	c->nmi_blocked = false;
	assert_int_equal(accel_emu_ops.vcpu_save(&h.vcpu, st), 0);
	assert_int_equal(st->delivering.kind, CPU_EVENT_NONE);
	st->s.rflags &= ~RFLAGS_IF; /* a delivery does not wait for IF */
	st->delivering = e;
	assert_int_equal(accel_emu_ops.vcpu_restore(&h.vcpu, st), 0);
	/* Saved again before it ran, the event is still there. */
	assert_int_equal(accel_emu_ops.vcpu_save(&h.vcpu, st), 0);
	assert_int_equal(st->delivering.kind, e.kind);
	assert_int_equal(st->delivering.vector, e.vector);
	free(st);
	emu_harness_run_until_kick(&h, 200);
	return c->s.gpr[GPR_RCX];
}

static uint64_t stack_word(unsigned i)
{
	uint64_t v = 0;

	assert_int_equal(gmem_read(&h.vm.mem, h.cpu->s.gpr[GPR_RSP] + i * 8, &v, 8), 0);
	return v;
}

static void test_external_interrupt_first(void **state)
{
	(void)state;
	assert_int_equal(run_with_event((struct cpu_event){ CPU_EVENT_EXTINT, 0x30, false, 0 }), 0x30);
	/* before the interrupted code's first instruction */
	assert_int_equal(h.cpu->s.gpr[GPR_RBX], 0);
	assert_int_equal(stack_word(0), EMU_HARNESS_CODE_GPA);
}

static void test_nmi_blocks_nmis(void **state)
{
	(void)state;
	assert_int_equal(run_with_event((struct cpu_event){ CPU_EVENT_NMI, 2, false, 0 }), 2);
	assert_true(h.cpu->nmi_blocked);
}

static void test_exception_with_error_code(void **state)
{
	(void)state;
	assert_int_equal(run_with_event((struct cpu_event){ CPU_EVENT_EXCEPTION, 13, true, 0x1234 }), 13);
	assert_int_equal(stack_word(0), 0x1234);          /* error code */
	assert_int_equal(stack_word(1), EMU_HARNESS_CODE_GPA); /* return RIP */
	assert_int_equal(h.cpu->s.gpr[GPR_RBX], 0);
}

static void test_faulting_delivery_escalates(void **state)
{
	(void)state;
	set_gate(14, HANDLER + 14 * 16, false); /* #PF's gate not present: #NP */
	assert_int_equal(run_with_event((struct cpu_event){ CPU_EVENT_EXCEPTION, 14, true, 2 }), 8);
	set_gate(14, HANDLER + 14 * 16, true);
}

static void test_nothing_delivered(void **state)
{
	(void)state;
	/* No event: the code runs, its HLT sleeps with IF clear. */
	assert_int_equal(run_with_event((struct cpu_event){ 0 }), ~0ULL);
	assert_int_equal(h.cpu->s.gpr[GPR_RBX], 1);
}

static void test_bad_events_refused(void **state)
{
	struct cpu_full_state *st = malloc(sizeof(*st));

	(void)state;
	assert_non_null(st);
	assert_int_equal(accel_emu_ops.vcpu_save(&h.vcpu, st), 0);
	st->delivering = (struct cpu_event){ CPU_EVENT_EXCEPTION, 40, false, 0 };
	assert_int_not_equal(accel_emu_ops.vcpu_restore(&h.vcpu, st), 0);
	st->delivering = (struct cpu_event){ CPU_EVENT_KINDS, 3, false, 0 };
	assert_int_not_equal(accel_emu_ops.vcpu_restore(&h.vcpu, st), 0);
	st->delivering = (struct cpu_event){ 0 };
	st->xstate_bv = 7; /* AVX state */
	assert_int_not_equal(accel_emu_ops.vcpu_restore(&h.vcpu, st), 0);
	free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_external_interrupt_first),
		cmocka_unit_test(test_nmi_blocks_nmis),
		cmocka_unit_test(test_exception_with_error_code),
		cmocka_unit_test(test_faulting_delivery_escalates),
		cmocka_unit_test(test_nothing_delivered),
		cmocka_unit_test(test_bad_events_refused),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
