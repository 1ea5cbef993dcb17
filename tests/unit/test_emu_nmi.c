/*
 * When the emulator's run loop takes a pending NMI (accel/emu/emu_accel.c),
 * for what a tiny guest cannot arrange deterministically: an NMI pending
 * in the shadow of MOV SS (or of an STI that set IF) waits one instruction;
 * outside it, it comes before the next instruction; while NMIs are blocked
 * it waits and the halted vCPU sleeps; an IRET that faults unblocks them
 * all the same (SDM 6.7.1), so a pending one comes before the fault
 * handler's first instruction (QEMU's TCG keeps them blocked).  The vCPU runs from the harness's
 * 64-bit state until a helper thread kicks it out of its final HLT.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "emu_harness.h"

#define GDT 0x5000
#define IDT 0x6000
#define HANDLER 0x20000
#define GP_HANDLER 0x21000

static struct emu_harness h;

static int setup(void **state)
{
	static const uint64_t gdt[3] = { 0, 0x00af9a000000ffffULL, 0x00cf92000000ffffULL };
	/* NMI handler: rcx = rbx (how far the interrupted code got); hlt. */
	static const uint8_t handler[] = { 0x48, 0x89, 0xd9, 0xf4 };
	/* #GP handler: rbx += 1; hlt. */
	static const uint8_t gp_handler[] = { 0x48, 0xff, 0xc3, 0xf4 };
	uint64_t gate[2] = {
		(HANDLER & 0xffff) | (0x08ULL << 16) | (0x8e00ULL << 32) |
		((uint64_t)(HANDLER >> 16) << 48),
		0,
	};
	uint64_t gp_gate[2] = {
		(GP_HANDLER & 0xffff) | (0x08ULL << 16) | (0x8e00ULL << 32) |
		((uint64_t)(GP_HANDLER >> 16) << 48),
		0,
	};

	(void)state;
	emu_harness_setup(&h);
	emu_harness_descriptor_tables(&h, GDT, gdt, sizeof(gdt), IDT);
	assert_int_equal(gmem_write(&h.vm.mem, IDT + 2 * 16, gate, sizeof(gate)), 0);
	assert_int_equal(gmem_write(&h.vm.mem, HANDLER, handler, sizeof(handler)), 0);
	assert_int_equal(gmem_write(&h.vm.mem, IDT + 13 * 16, gp_gate, sizeof(gp_gate)), 0);
	assert_int_equal(gmem_write(&h.vm.mem, GP_HANDLER, gp_handler, sizeof(gp_handler)), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	emu_harness_teardown(&h);
	return 0;
}

/* Run code (`inc %rbx; hlt` unless given) with an NMI pending; returns
 * rcx (what the NMI handler saw of rbx, or ~0 if it did not run). */
static uint64_t run_code_with_nmi(const uint8_t *code, unsigned len, bool shadow, bool blocked)
{
	struct emu_cpu *c = h.cpu;

	assert_int_equal(gmem_write(&h.vm.mem, EMU_HARNESS_CODE_GPA, code, len), 0);
	c->s.rip = EMU_HARNESS_CODE_GPA;
	c->s.gpr[GPR_RSP] = 0x80000;
	c->s.gpr[GPR_RBX] = 0;
	c->s.gpr[GPR_RCX] = ~0ULL;
	c->halted = false;
	c->irq_shadow = shadow;
	c->nmi_blocked = blocked;
	atomic_store(&c->pending_nmi, 1);
	emu_harness_run_until_kick(&h, 200);
	return c->s.gpr[GPR_RCX];
}

static uint64_t run_with_nmi(bool shadow, bool blocked)
{
	static const uint8_t code[] = { 0x48, 0xff, 0xc3, 0xf4 };

	return run_code_with_nmi(code, sizeof(code), shadow, blocked);
}

static void test_nmi_before_the_next_instruction(void **state)
{
	(void)state;
	assert_int_equal(run_with_nmi(false, false), 0);
	assert_true(h.cpu->nmi_blocked);
}

static void test_nmi_waits_out_the_shadow(void **state)
{
	(void)state;
	assert_int_equal(run_with_nmi(true, false), 1);
}

static void test_blocked_nmi_waits(void **state)
{
	(void)state;
	assert_int_equal(run_with_nmi(false, true), ~0ULL);
	assert_true(h.cpu->halted);
	assert_int_equal(atomic_load(&h.cpu->pending_nmi), 1);
}

static void test_faulting_iret_unblocks(void **state)
{
	/* iretq to CS 0x28, past the GDT's limit: #GP. */
	static const uint8_t code[] = { 0x48, 0xcf };
	uint64_t frame[5] = { EMU_HARNESS_CODE_GPA, 0x28, 0x2, 0x80000, 0x10 };

	(void)state;
	assert_int_equal(gmem_write(&h.vm.mem, 0x80000, frame, sizeof(frame)), 0);
	/* The NMI comes before the #GP handler's inc: it sees rbx = 0. */
	assert_int_equal(run_code_with_nmi(code, sizeof(code), false, true), 0);
	assert_int_equal(h.cpu->s.rip, HANDLER + 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nmi_before_the_next_instruction),
		cmocka_unit_test(test_nmi_waits_out_the_shadow),
		cmocka_unit_test(test_blocked_nmi_waits),
		cmocka_unit_test(test_faulting_iret_unblocks),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
