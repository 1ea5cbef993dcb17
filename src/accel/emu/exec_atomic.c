/*
 * Atomicity of LOCK-prefixed instructions and XCHG with memory when
 * several vCPU threads share guest memory.  The instruction's memory read
 * remembers the host address and the value; its write is a host
 * compare-and-swap, and if another vCPU changed the location meanwhile
 * the instruction restarts (its flags restored) as if it had not run.
 * Memory outside RAM (MMIO) has no such guarantee, as on real buses.
 */
#include <string.h>

#include "accel/emu/emu.h"
#include "vm/vm.h"

void emu_lock_begin(struct emu_cpu *c)
{
	c->lock_host = NULL;
	c->lock_save.op = c->cc_op;
	c->lock_save.size = c->cc_size;
	c->lock_save.res = c->cc_res;
	c->lock_save.src1 = c->cc_src1;
	c->lock_save.src2 = c->cc_src2;
	c->lock_save.carry = c->cc_carry;
	c->lock_save.rflags = c->s.rflags;
}

void emu_lock_restart_state(struct emu_cpu *c)
{
	c->cc_op = c->lock_save.op;
	c->cc_size = c->lock_save.size;
	c->cc_res = c->lock_save.res;
	c->cc_src1 = c->lock_save.src1;
	c->cc_src2 = c->lock_save.src2;
	c->cc_carry = c->lock_save.carry;
	c->s.rflags = c->lock_save.rflags;
	c->s.rip = c->insn_rip;
}

/* Host address of a RAM operand checked for writing, or NULL. */
static uint8_t *host_operand(struct emu_cpu *c, int seg, uint64_t ea, unsigned size,
			     uint64_t *pa)
{
	uint64_t lin = emu_linear(c, seg, ea, size, true);

	if (c->dbg_data)
		emu_debug_data(c, lin, size, true);
	if ((lin & 0xfff) + size > 4096)
		return NULL; /* split across pages: plain access */
	*pa = emu_translate(c, lin, ACC_WRITE, c->cpl == 3);
	return gmem_ptr_rw(&c->vm->mem, *pa, size);
}

uint64_t emu_locked_read(struct emu_cpu *c, int seg, uint64_t ea, unsigned size)
{
	uint8_t *h = host_operand(c, seg, ea, size, &c->lock_pa);
	uint64_t v = 0;

	c->lock_host = h;
	if (!h)
		return emu_read(c, seg, ea, size);
	switch (size) {
	case 1: v = __atomic_load_n(h, __ATOMIC_SEQ_CST); break;
	case 2: v = __atomic_load_n((uint16_t *)h, __ATOMIC_SEQ_CST); break;
	case 4: v = __atomic_load_n((uint32_t *)h, __ATOMIC_SEQ_CST); break;
	default: v = __atomic_load_n((uint64_t *)h, __ATOMIC_SEQ_CST); break;
	}
	c->lock_old = v;
	return v;
}

void emu_locked_write(struct emu_cpu *c, int seg, uint64_t ea, unsigned size, uint64_t val)
{
	uint8_t *h = c->lock_host;
	bool ok;

	if (!h) {
		emu_write(c, seg, ea, size, val);
		return;
	}
	switch (size) {
	case 1: { uint8_t o = c->lock_old;
		ok = __atomic_compare_exchange_n(h, &o, (uint8_t)val, false,
						 __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); break; }
	case 2: { uint16_t o = c->lock_old;
		ok = __atomic_compare_exchange_n((uint16_t *)h, &o, (uint16_t)val, false,
						 __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); break; }
	case 4: { uint32_t o = c->lock_old;
		ok = __atomic_compare_exchange_n((uint32_t *)h, &o, (uint32_t)val, false,
						 __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); break; }
	default: { uint64_t o = c->lock_old;
		ok = __atomic_compare_exchange_n((uint64_t *)h, &o, val, false,
						 __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); break; }
	}
	if (!ok)
		emu_raise(c, EMU_RESTART, 0, false);
	emu_cpu_code_written(c, c->lock_pa);
}

/*
 * CMPXCHG8B / CMPXCHG16B as one host compare-and-swap.  Returns whether
 * the values matched; *old_* receive the memory's value.
 */
bool emu_cmpxchg_wide(struct emu_cpu *c, int seg, uint64_t ea, unsigned size,
		      uint64_t cmp_lo, uint64_t cmp_hi, uint64_t new_lo, uint64_t new_hi,
		      uint64_t *old_lo, uint64_t *old_hi)
{
	uint64_t pa = 0;
	uint8_t *h = host_operand(c, seg, ea, size, &pa);
	bool ok;

	if (!h) {
		*old_lo = emu_read(c, seg, ea, 8 < size ? 8 : size);
		*old_hi = size == 16 ? emu_read(c, seg, ea + 8, 8) : 0;
		ok = *old_lo == cmp_lo && (size == 8 || *old_hi == cmp_hi);
		emu_write(c, seg, ea, 8, ok ? new_lo : *old_lo);
		if (size == 16)
			emu_write(c, seg, ea + 8, 8, ok ? new_hi : *old_hi);
		return ok;
	}
	if (size == 8) {
		uint64_t o = cmp_lo;
		ok = __atomic_compare_exchange_n((uint64_t *)h, &o, new_lo, false,
						 __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
		*old_lo = o;
		*old_hi = 0;
	} else {
		uint64_t lo = cmp_lo, hi = cmp_hi;
		__asm__ volatile("lock cmpxchg16b %2"
				 : "+a"(lo), "+d"(hi), "+m"(*(unsigned __int128 *)h), "=@ccz"(ok)
				 : "b"(new_lo), "c"(new_hi)
				 : "memory");
		*old_lo = lo;
		*old_hi = hi;
	}
	if (ok)
		emu_cpu_code_written(c, pa);
	return ok;
}
