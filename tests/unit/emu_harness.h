/*
 * The emulator against the host CPU, for unit tests: a VM with 64 MiB of
 * RAM, no devices, one emulator vCPU in flat 64-bit mode (the first 1 GiB
 * identity-mapped with 2 MiB pages, page tables at 0x1000-0x3fff), and a
 * way to run the same code natively and emulated from the same registers.
 */
#ifndef WIRT_TESTS_EMU_HARNESS_H
#define WIRT_TESTS_EMU_HARNESS_H

#include "accel/emu/emu.h"
#include "vm/vm.h"

struct emu_harness {
	struct vm vm;
	struct vcpu vcpu;
	struct emu_cpu *cpu;
	uint8_t *stub;     /* executable page for native runs */
};

/* The registers a snippet starts from and ends with (the stub's layout). */
struct emu_regs {
	uint64_t rax, rcx, rdx, rbx, rsi, rdi, flags;
};

/* Guest-physical address where emulated snippets are placed. */
#define EMU_HARNESS_CODE_GPA 0x10000

/* Both return 0 (cmocka asserts on failure). */
int emu_harness_setup(struct emu_harness *h);
void emu_harness_teardown(struct emu_harness *h);
/* Back to flat 64-bit mode with CR4.OSFXSR/OSXMMEXCPT set. */
void emu_harness_long_mode(struct emu_harness *h);
/* A GDT of gdt_size bytes written at guest address gdt, and a 256-gate
 * 64-bit IDT at idt (its gates the test's to write), loaded. */
void emu_harness_descriptor_tables(struct emu_harness *h, uint64_t gdt, const void *gdt_bytes,
				   size_t gdt_size, uint64_t idt);

/* Run code natively from r (R15 is the stub's own: code must not use
 * it); returns the signal a fault raised (SIGILL, SIGSEGV, ...) or 0. */
int emu_harness_run_native(struct emu_harness *h, const uint8_t *code, unsigned len,
			   struct emu_regs *r);
/* Run code in the emulator from r (RSP = 0x80000) until its end;
 * returns the exception vector, or -1 if it completed. */
int emu_harness_run_emulated(struct emu_harness *h, const uint8_t *code, unsigned len,
			     struct emu_regs *r);
/* The exception vector a host signal stands for. */
int emu_harness_signal_vector(int sig);
/* Run the vCPU (accel_emu_ops.vcpu_run) until a helper thread kicks it
 * ms milliseconds later; asserts it returned for the kick. */
void emu_harness_run_until_kick(struct emu_harness *h, unsigned ms);
/* A reproducible pseudo-random number (xorshift). */
uint64_t emu_harness_rnd(void);

#endif
