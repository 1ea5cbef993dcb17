/*
 * Running emulated code the way the run loop does, for the tests that
 * compare the translator with the interpreter (test_jit_vs_interpreter
 * and tests/fuzz/fuzz_jit.c): no interrupts, faults not delivered.
 */
#ifndef WIRT_TESTS_EMU_RUN_H
#define WIRT_TESTS_EMU_RUN_H

#include <setjmp.h>
#include <stdbool.h>

#include "accel/emu/emu.h"
#include "accel/emu/jit/jit.h"

/*
 * Run c until HLT, a fault (RIP left at the faulting instruction, as
 * the run loop would deliver it) or about max_steps instructions, in
 * the translator (jit) or the interpreter.  Returns the fault's vector
 * or -1; *steps = the instructions run.
 */
static inline int emu_run_until_halt(struct emu_cpu *c, bool jit, unsigned max_steps,
				     unsigned *steps)
{
	volatile unsigned n = 0;
	volatile int vector = -1;

	if (setjmp(c->fault_jmp)) {
		vector = c->fault_vector;
		c->blk = NULL;
		c->jit_chain_from = NULL;
		c->s.rip = c->insn_rip;
	} else {
		while (!c->halted && n < max_steps) {
			unsigned k = jit ? emu_jit_run(c) : 0;

			if (!k)  /* the interpreter's turn, as in the run loop */
				emu_step(c), k = 1;
			n += k;
		}
	}
	*steps = n;
	return vector;
}

#endif
