/*
 * wirt's x86-64 emulator: internal interfaces shared by its files.
 *
 *   emu_accel.c  the accelerator interface (vCPU threads, run loop, kicks)
 *   decode.c     bytes -> struct insn (prefixes, ModRM/SIB, immediates)
 *   decode_cache.c  decoded instructions cached by guest-physical address
 *   exec.c       the integer instruction set
 *   exec_fast.c  direct handlers for the commonest instruction forms
 *   exec_system.c  control registers, MSRs, CPUID, descriptor tables
 *   flags.c      lazily evaluated arithmetic flags
 *   mmu.c        segmentation, paging, software TLB, guest memory access
 *   except.c     exception and interrupt delivery through the IDT
 *   segment.c    loading segment registers from descriptor tables
 *   debug.c      single-step, RF, DR0-DR7 breakpoints (stepped while in use)
 *   jit/         the translator: decoded blocks as host code (jit/translate.c)
 *
 * Guest faults unwind with longjmp to the run loop (emu_raise), which
 * delivers them; an instruction commits its register results only after
 * its last memory access can no longer fault.
 */
#ifndef WIRT_ACCEL_EMU_EMU_H
#define WIRT_ACCEL_EMU_EMU_H

#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "accel/cpu_state.h"

struct vm;
struct vcpu;
struct pic;
struct lapic;
struct apic_bus;
struct ioapic;
struct dblock;
struct emu_jit;

/* Physical address width (CPUID 0x80000008): paging-structure entries
 * and CR3 have their bits from here up to 51 reserved. */
#define EMU_MAXPHYADDR 40

/* The CR4 bits the emulated CPU implements. */
#define EMU_CR4_ALLOWED (CR4_VME | CR4_PVI | CR4_TSD | CR4_DE | CR4_PSE | \
			 CR4_PAE | CR4_MCE | CR4_PGE | CR4_PCE | CR4_OSFXSR | \
			 CR4_OSXMMEXCPT)

/* Exception vectors. */
enum {
	EXC_DE = 0, EXC_DB = 1, EXC_NMI = 2, EXC_BP = 3, EXC_OF = 4,
	EXC_BR = 5, EXC_UD = 6, EXC_NM = 7, EXC_DF = 8, EXC_TS = 10,
	EXC_NP = 11, EXC_SS = 12, EXC_GP = 13, EXC_PF = 14, EXC_MF = 16,
	EXC_AC = 17, EXC_MC = 18, EXC_XM = 19,
};

/* ---- decoded instructions ---- */

#define PFX_LOCK  0x01
#define PFX_REP   0x02  /* F3 */
#define PFX_REPNE 0x04  /* F2 */
#define PFX_OPSZ  0x08  /* 66 */
#define PFX_ADSZ  0x10  /* 67 */

struct emu_cpu;
struct insn;
/* A handler for one common instruction form (exec_fast.c). */
typedef void fast_fn(struct emu_cpu *c, const struct insn *in);

/* 32 bytes, so that a block of them stays small in the host's caches. */
struct insn {
	uint16_t op;       /* opcode: 0x00-0xff, 0x1xx = 0F xx, 0x2xx = 0F 38 xx, 0x3xx = 0F 3A xx */
	uint8_t len;
	uint8_t prefixes;  /* PFX_* */
	uint8_t rex;       /* 0 if none, else 0x40-0x4f */
	int8_t seg;        /* segment override or -1 */
	uint8_t opsize;    /* operand size in bytes: 2, 4 or 8 (1 for byte ops is decided by exec) */
	uint8_t adsize;    /* address size in bytes: 2, 4 or 8 */
	uint8_t has_modrm;
	uint8_t mod, reg, rm;  /* reg and rm include REX.R / REX.B */
	uint8_t has_mem;   /* ModRM names memory */
	int8_t base, index;    /* -1 if none; GPR numbers; base 16 = RIP */
	uint8_t scale;
	uint8_t fast;      /* index in emu_fast_handlers, 0 if none */
	uint8_t folded;    /* FOLD_*: a direct JMP/CALL its block continues
			    * after at the target, or a RET at its CALL's
			    * return address (decode_cache.c) */
	int32_t disp;      /* ModRM displacement; the selector of a far pointer,
			    * the nesting level of ENTER */
	uint64_t imm;
};

/* ---- lazy flags ---- */

enum cc_op {
	CC_EAGER,  /* the arithmetic flags in rflags are current */
	CC_ADD, CC_ADC, CC_SUB, CC_SBB, CC_LOGIC, CC_INC, CC_DEC,
	CC_SZP,    /* SF, ZF, PF from cc_res; CF, OF, AF given in cc_src1 */
};

/* ---- software TLB ---- */

#define TLB_ENTRIES 4096
/* Entries a flush finds in the list of the non-global ones filled since
 * the last (past that, it scans the table). */
#define TLB_LISTED 1024
/* Which accesses an entry allows without a page walk. */
#define TLB_READ_S  0x01
#define TLB_READ_U  0x02
#define TLB_WRITE_S 0x04
#define TLB_WRITE_U 0x08
#define TLB_EXEC_S  0x10
#define TLB_EXEC_U  0x20
#define TLB_GLOBAL  0x40

/*
 * The TLB holds 4 KiB pieces of large pages (2 MiB, 4 MiB, 1 GiB); an
 * INVLPG anywhere in a large page must drop all of them.  The large pages
 * with pieces in the TLB are listed (up to TLB_LARGE_MAX, then bounding
 * ranges of the rest, which a hit flushes whole): see mmu.c.
 */
#define TLB_LARGE_MAX 8
struct tlb_large {
	uint64_t base, size;  /* linear address and size of the large page */
	bool global;          /* its pieces survive a non-global flush */
};

struct tlb_entry {
	uint64_t vpage;   /* linear address >> 12, or ~0 if empty */
	uint64_t ppage;   /* physical address >> 12 */
	uint8_t *host;    /* host address of the page if it is RAM, else NULL */
	uint32_t perms;   /* TLB_* */
};

/*
 * The same entries as the inline accesses and translated code check them
 * (tags compared whole, as QEMU's TLB does): per privilege (index 1 at
 * CPL 3) and access kind, the page's linear address if such an access
 * may go straight to host memory (the entry allows it, the page is RAM,
 * no data breakpoint covers it; for writes, the page's flags are clear:
 * no decoded code in it, no dirty-log watch), else TLB_TAG_NONE, which
 * no page address equals.  An access of size bytes at lin is fast if
 * (lin + size - 1) with the low 12 bits cleared equals its tag: that also
 * rejects one that crosses into the next page, and a non-canonical one
 * (every tag is a canonical page).  Setting a page's flags drops the
 * write tags of every vCPU for it (emu_page_flags_set); the slow path of
 * a write that clears them folds the tags again.
 */
#define TLB_TAG_NONE (~0ULL)
struct tlb_fast {
	uint64_t read_tag, write_tag;
	uint64_t addend;              /* host address - linear address */
	const uint8_t *page_flags;    /* evm->code_page[ppage], or a zero byte */
};

/* Memory access kinds for translation. */
enum access { ACC_READ, ACC_WRITE, ACC_EXEC };

/* ---- the vCPU ---- */

/* Entries of the translator's return prediction (a power of two). */
#define JIT_RS_SIZE 16
/* A key no running code has (jit_rs_key): an empty entry. */
#define JIT_RS_NONE (~0ULL)

struct emu_vm;

struct emu_cpu {
	struct cpu_state s;
	struct vcpu *vcpu;
	struct vm *vm;
	struct emu_vm *evm;

	/* Lazy flags: rflags holds the non-arithmetic bits (and all of them
	 * when cc_op is CC_EAGER). */
	uint8_t cc_op;        /* enum cc_op */
	uint8_t cc_size;      /* operand size in bytes */
	uint16_t cc_pad;      /* the translator sets cc_op and cc_size with
			       * one 4-byte store, which clears this */
	uint64_t cc_res, cc_src1, cc_src2;
	uint64_t cc_carry;    /* CF for INC/DEC, which keep it: 0 or 1 (translated
			       * code writes its low byte alone) */

	unsigned cpl;
	unsigned code_size;   /* 2, 4 or 8: the default operand size of CS */
	bool long_mode;       /* EFER.LMA */

	/* MSRs and other state outside struct cpu_state. */
	uint64_t dr[8];
	uint64_t star, lstar, cstar, sfmask, kernel_gs_base;
	uint64_t sysenter_cs, sysenter_esp, sysenter_eip;
	uint64_t pat, tsc_offset, misc_enable, tsc_aux, mtrr_def_type;
	uint64_t xcr0;

	/* Debug state (debug.c).  While debug_active (TF, RF, a DR7 enable
	 * bit, a held-over trap) the run loop steps single instructions
	 * through emu_debug_step; otherwise nothing here is looked at. */
	bool debug_active;
	bool dbg_data;        /* data breakpoints armed: slow accesses check them */
	bool dbg_io;          /* I/O breakpoints armed (CR4.DE) */
	bool dbg_tf;          /* single-step trap after this instruction */
	bool dbg_no_rf;       /* the fault raised is an instruction breakpoint */
	bool mov_ss;          /* this instruction was MOV SS / POP SS */
	uint8_t dbg_hits;     /* B0-B3: data and I/O breakpoints this instruction hit */
	uint32_t dbg_deferred;  /* DR6 bits held over a MOV SS */

	/* x87 and SSE state (sse.c, x87.c). */
	union xmm {
		uint8_t b[16]; int8_t sb[16];
		uint16_t w[8]; int16_t sw[8];
		uint32_t d[4]; int32_t sd[4];
		uint64_t q[2]; int64_t sq[2];
		float f[4]; double df[2];
	} xmm[16];
	uint32_t mxcsr;
	uint16_t fpu_cw, fpu_sw;
	uint8_t fpu_tw;       /* abridged tag word: bit i set = ST(i) valid */
	uint8_t fpu_top;
	long double st[8];    /* physical registers R0-R7 */

	/* (cache-line aligned: a 32-byte entry in one line, so that a lookup
	 * reads one line; the vCPU is allocated so aligned) */
	struct tlb_entry tlb[TLB_ENTRIES] __attribute__((aligned(64)));
	struct tlb_fast tlb_fast[2][TLB_ENTRIES] __attribute__((aligned(64)));  /* [CPL == 3]: see above */
	/* The entries filled with pages that are not global since the last
	 * flush, or tlb_nlisted > TLB_LISTED: too many. */
	uint16_t tlb_listed[TLB_LISTED];
	unsigned tlb_nlisted;
	uint64_t tlb_gen;     /* bumped by every TLB flush */
	/* bumped by flushes of global pages and INVLPG in the upper half of
	 * the address space (where a kernel's global pages are); bit 63 is
	 * always set, so it never equals a tlb_gen */
	uint64_t tlb_gen_global;
	struct tlb_large tlb_large[TLB_LARGE_MAX];
	unsigned tlb_nlarge;
	/* The others, bounded apart in the lower and upper half of the
	 * address space (user and kernel): none if lo > hi. */
	uint64_t tlb_large_lo[2], tlb_large_hi[2];
	uint64_t code_vpage, code_ppage, code_tlb_gen;  /* the current code page */
	/* The guest memory region the last page walk or fill found a page
	 * in (mmu.c host_page), tried first by the next: NULL, none. */
	const struct gmem_region *last_region;
	unsigned code_cpl;
	struct dblock *dcache;
	/* The block being walked (decode_cache.c): checked when entered, so
	 * whatever could make its decoding stale (a write to its page by
	 * this vCPU, a TLB flush, a change of CS or CPL, a fault or an
	 * interrupt) sets it to NULL. */
	const struct dblock *blk;
	unsigned blk_idx;         /* the next instruction in it */
	uint64_t blk_next_rip;    /* where falling through its last one leads */
	uint64_t blk_start_rip;   /* where it was entered */
	const uint32_t *blk_page_gen;  /* its page's generation counter */

	/* The translator (jit/), NULL when the interpreter runs alone; the
	 * exit of translated code that returned last, if it may be chained
	 * to the block at jit_chain_rip. */
	struct emu_jit *jit;
	uint8_t *jit_chain_from;
	uint64_t jit_chain_rip;
	/* Outside 64-bit code: a chained block must end at or below this
	 * (the CS limit + 1 or the IP wrap, the lower). */
	uint64_t jit_rip_limit;
	/* Outside 64-bit code: bit s set if segment s is usable, expand-up,
	 * writable data (type 2 or 3, S set), the only kind translated code
	 * accesses inline; set on each entry from C, as nothing translated
	 * code runs loads a segment (those instructions return to C). */
	uint8_t jit_seg_fast;
	/* ... and of those, the flat ones (base 0, limit 4 GiB - 1), which
	 * code translated while they were flat accesses without limit
	 * checks */
	uint8_t jit_seg_flat;
	/* Return prediction for translated code: a CALL pushes where it
	 * returns to (the RIP, under which TLB generation, code size and
	 * CPL: jit_rs_key, and the landing in the caller's code that goes on
	 * there), a RET pops and jumps to the landing if the entry is for
	 * its target under the current key; else the jump cache.  A ring:
	 * overflow loses the oldest entries, a wrong guess a lookup. */
	struct jit_ret {
		uint64_t rip, key;
		const uint8_t *landing;  /* executable address */
		uint64_t pad;
	} jit_rs[JIT_RS_SIZE] __attribute__((aligned(64)));
	uint32_t jit_rs_top;
	uint32_t jit_rs_cs_base;  /* the CS base the entries were pushed under */
	uint64_t jit_rs_key;      /* while translated code runs (C sets it on
				   * entry: none of the three changes within) */

	/* Atomic read-modify-write for LOCK and XCHG with several vCPUs: the
	 * read records the host location and old value, the write is a
	 * compare-and-swap that restarts the instruction if it lost a race. */
	bool locked_insn;
	uint8_t *lock_host;
	uint64_t lock_pa;
	uint64_t lock_old;
	struct { enum cc_op op; uint8_t size; uint64_t res, src1, src2, carry, rflags; } lock_save;

	/* The instruction being executed. */
	uint64_t insn_rip;
	struct insn in;

	/* Exceptions: emu_raise fills these and longjmps to fault_jmp. */
	jmp_buf fault_jmp;
	int fault_vector;
	uint32_t fault_error;
	bool fault_has_error;
	int delivering;       /* vector being delivered, or -1 */
	/* A restored state's half-delivered event, delivered by the run
	 * loop before the next instruction (kind CPU_EVENT_NONE if none). */
	struct cpu_event saved_event;

	/* Interrupts. */
	struct lapic *lapic;
	atomic_int pending_init, pending_nmi;
	atomic_int pending_sipi;  /* vector + 1, or 0 */
	bool nmi_blocked;     /* an NMI handler runs until IRET */
	bool halted;
	bool wait_for_sipi;   /* an AP before its start-up IPI */
	bool irq_shadow;      /* STI / MOV SS: no interrupts before the next insn */
	bool irq_checked;     /* interrupts were looked for since IF was set */
	atomic_int kick;      /* any thread: leave vcpu_run soon */
	atomic_int tlb_flush_pending; /* the memory map changed (PAM) */
	bool shutdown;        /* triple fault */
	uint64_t icount;      /* instructions executed */
	uint64_t next_report; /* icount of the next progress line (debug) */
	/* Where the last runs of instructions started (debugging): each
	 * instruction the run loop steps, not those a fast run walks on to. */
	uint64_t trace[64];
	unsigned trace_pos;   /* the next slot, modulo 64 */
};

#define EMU_PAGE_CODE  0x1 /* decoded code cached from this page */
#define EMU_PAGE_WATCH 0x2 /* dirty-logged device memory, clean since the
			    * last fetch (emu_dirty_fetch) */

/* Per-VM emulator state: interrupt controllers and the code-page map. */
struct emu_vm {
	struct vm *vm;
	/* per physical page: EMU_PAGE_* flags; a write to a page with any
	 * of them set takes the slow path, which clears them */
	uint8_t *code_page;
	uint32_t *page_gen;    /* per physical page: bumped when code is written */
	uint64_t npages;
	struct pic *pic;
	struct apic_bus *apic_bus;
	struct ioapic *ioapic;
	pthread_mutex_t irq_lock;
	pthread_cond_t irq_cond;   /* halted vCPUs wait here */
	bool smp;                  /* more than one vCPU: locked operations are atomic */
};

/* emu_state.c: the vCPU in the common saved form */
int emu_vcpu_save(struct vcpu *vcpu, struct cpu_full_state *st);
int emu_vcpu_restore(struct vcpu *vcpu, const struct cpu_full_state *st);

/* emu_accel.c */
int emu_pending_interrupt(struct emu_cpu *c);  /* vector or -1; acknowledges it */

/* except.c */
_Noreturn void emu_raise(struct emu_cpu *c, int vector, uint32_t error, bool has_error);
_Noreturn void emu_raise_gp(struct emu_cpu *c, uint32_t error);
_Noreturn void emu_raise_ud(struct emu_cpu *c);
/* Deliver a vector through the IDT; soft = INT n (privilege checked). */
void emu_deliver(struct emu_cpu *c, int vector, uint32_t error, bool has_error,
		 bool soft, uint64_t return_rip);
/* Deliver the fault recorded by emu_raise, escalating to #DF / shutdown. */
void emu_deliver_fault(struct emu_cpu *c);
/* Finish delivering c->saved_event (from the run loop, which catches
 * a fault of the delivery). */
void emu_deliver_saved_event(struct emu_cpu *c);

/* debug.c */
unsigned emu_debug_step(struct emu_cpu *c);
void emu_debug_update(struct emu_cpu *c);  /* after DR7, DR0-3 or CR4.DE change */
void emu_debug_reset(struct emu_cpu *c);
/* SYSCALL, SYSRET: the single-step trap follows them if TF is set now. */
void emu_debug_trap_now(struct emu_cpu *c);
bool emu_debug_page_armed(const struct emu_cpu *c, uint64_t lin);
void emu_debug_data(struct emu_cpu *c, uint64_t lin, unsigned size, bool write);
void emu_debug_io(struct emu_cpu *c, uint16_t port, unsigned size);
void emu_mov_dr(struct emu_cpu *c, const struct insn *in, bool to_dr);

/* mmu.c */
void emu_tlb_flush(struct emu_cpu *c, bool global_too);
void emu_tlb_flush_page(struct emu_cpu *c, uint64_t lin);
uint64_t emu_translate(struct emu_cpu *c, uint64_t lin, enum access acc, bool user);
/* The physical address code at lin would be fetched from now; false
 * (and no fault raised) if it cannot be fetched. */
bool emu_probe_code(struct emu_cpu *c, uint64_t lin, uint64_t *pa);
uint64_t emu_read_lin(struct emu_cpu *c, uint64_t lin, unsigned size, bool user);
void emu_write_lin(struct emu_cpu *c, uint64_t lin, unsigned size, uint64_t val, bool user);
uint64_t emu_linear(struct emu_cpu *c, int seg, uint64_t off, unsigned size, bool write);
uint64_t emu_read_slow(struct emu_cpu *c, int seg, uint64_t off, unsigned size);
void emu_write_slow(struct emu_cpu *c, int seg, uint64_t off, unsigned size, uint64_t val);
/* Supervisor-privilege access to system structures (GDT, IDT, TSS). */
uint64_t emu_read_sys(struct emu_cpu *c, uint64_t lin, unsigned size);
void emu_write_sys(struct emu_cpu *c, uint64_t lin, unsigned size, uint64_t val);
/* Fetch up to len instruction bytes at CS:rip; returns how many are readable. */
unsigned emu_fetch(struct emu_cpu *c, uint64_t rip, uint8_t *buf, unsigned len);
/* The same without faulting (diagnostics): 0 if the first byte is not mapped. */
unsigned emu_peek_code(struct emu_cpu *c, uint64_t rip, uint8_t *buf, unsigned len);
uint64_t emu_phys_read(struct emu_cpu *c, uint64_t pa, unsigned size);
void emu_phys_write(struct emu_cpu *c, uint64_t pa, unsigned size, uint64_t val);
bool emu_code_written(struct emu_vm *evm, uint64_t pa);
int emu_dirty_fetch(void *opaque, unsigned idx, uint64_t *bitmap);
/* Set EMU_PAGE_* flags on physical page pn (below evm->npages), from
 * vCPU c: from now on writes to it take the slow path on every vCPU. */
void emu_page_flags_set(struct emu_cpu *c, uint64_t pn, uint8_t flags);
/* The same for a write by this vCPU, which also leaves its current block. */
void emu_cpu_code_written(struct emu_cpu *c, uint64_t pa);
uint64_t emu_pio_read(struct emu_cpu *c, uint16_t port, unsigned size);
void emu_pio_write(struct emu_cpu *c, uint16_t port, unsigned size, uint64_t val);

/* exec_atomic.c */
#define EMU_RESTART (-1)   /* fault_vector: re-execute the instruction */
uint64_t emu_locked_read(struct emu_cpu *c, int seg, uint64_t ea, unsigned size);
void emu_locked_write(struct emu_cpu *c, int seg, uint64_t ea, unsigned size, uint64_t val);
void emu_lock_begin(struct emu_cpu *c);
void emu_lock_restart_state(struct emu_cpu *c);
bool emu_cmpxchg_wide(struct emu_cpu *c, int seg, uint64_t ea, unsigned size,
		      uint64_t cmp_lo, uint64_t cmp_hi, uint64_t new_lo, uint64_t new_hi,
		      uint64_t *old_lo, uint64_t *old_hi);

/* decode.c: 0 or -1 (#UD; too long or undefined prefix use) */
int emu_decode(struct emu_cpu *c, const uint8_t *bytes, unsigned avail, struct insn *in);
uint64_t emu_effective_address(struct emu_cpu *c, const struct insn *in);

/* decode_cache.c */
/* Whether a block of the decode cache ends after in (a transfer of
 * control, or a change the run loop must see). */
bool emu_ends_block(const struct insn *in);
const struct insn *emu_decode_cached(struct emu_cpu *c);
struct dblock *emu_dcache_alloc(void);

/* A block of decoded instructions (decode_cache.c). */
#define BLOCK_MAX 16
/* Instructions within which decoding a block's code again, after a write
 * to it, counts as a rewrite (struct dblock's rewrites). */
#define EMU_REWRITE_WINDOW 1000000

struct dblock {
	uint64_t pa;      /* physical address of the first byte, ~0 if empty */
	uint32_t gen;     /* page generation when decoded */
	uint8_t code_size;
	uint8_t n;        /* instructions in the block */
	uint8_t rewrites; /* decoded again after its code changed, each time soon
			   * after the last (the translator leaves it alone) */
	uint8_t jit_heat; /* entries from C left to the interpreter so far: code
			   * run once or twice (much of a boot) is cheaper to
			   * interpret than to translate */
	uint32_t jit_epoch;  /* the jit_ fields are valid in this epoch of the
			      * code cache */
	uint64_t decoded_at;  /* icount then */
	/* what entering its translation needs, copied from the struct
	 * jit_tb so that entering touches only this (a cache line the
	 * lookup just read, where the jit_tb is likely a miss) */
	unsigned (*jit_entry)(struct emu_cpu *c, uint64_t start_rip);
	const uint8_t *jit_chain_entry;
	uint32_t jit_end_off, jit_last_off;
	struct insn in[BLOCK_MAX];
};

#define FOLD_JUMP 1            /* the block goes on at in->imm from its end */
#define FOLD_RET_IN_BLOCK 2    /* a folded CALL whose RET folds too */

/* A folded JMP: the block goes on at its target with nothing to do. */
static inline bool emu_folded_jmp(const struct insn *in)
{
	return in->folded && (in->op == 0xe9 || in->op == 0xeb);
}

/* Where the walk goes after in, which ended at rip `after`: the next
 * instruction, a folded JMP/CALL's target or a folded RET's predicted
 * one. */
static inline uint64_t emu_walk_next(const struct insn *in, uint64_t after)
{
	return after + (in->folded ? in->imm : 0);
}

/*
 * The index in block b of the instruction at rip: idx if the walk fell
 * through to it (rip == next), 0 if a loop jumped back to the block's
 * start (and no other agent rewrote the page meanwhile); else -1.
 */
static inline int emu_block_index(const struct emu_cpu *c, const struct dblock *b,
				  uint64_t rip, uint64_t next, unsigned idx)
{
	if (rip == next && idx < b->n)
		return idx;
	if (rip == c->blk_start_rip &&
	    b->gen == __atomic_load_n(c->blk_page_gen, __ATOMIC_ACQUIRE))
		return 0;
	return -1;
}

/* The next instruction of the walk through the current block, or NULL
 * (then emu_decode_cached). */
static inline const struct insn *emu_block_next(struct emu_cpu *c)
{
	int i = emu_block_index(c, c->blk, c->insn_rip, c->blk_next_rip, c->blk_idx);

	if (i < 0 || (c->code_size != 8 && c->insn_rip > c->s.seg[SEG_CS].limit))
		return NULL;
	c->blk_idx = i + 1;
	return &c->blk->in[i];
}
void emu_fetch_fault(struct emu_cpu *c, uint64_t rip);

/* flags.c */
uint64_t emu_get_rflags(struct emu_cpu *c);
void emu_set_rflags(struct emu_cpu *c, uint64_t rflags);  /* all bits, no checks */
bool emu_cf(struct emu_cpu *c);
bool emu_zf(struct emu_cpu *c);
bool emu_cond(struct emu_cpu *c, unsigned cc);  /* Jcc condition 0-15 */
void emu_flags_arith(struct emu_cpu *c, enum cc_op op, unsigned size,
		     uint64_t res, uint64_t a, uint64_t b);
/* Set the arithmetic flags explicitly (shifts, multiplies, ...). */
void emu_flags_set(struct emu_cpu *c, uint64_t mask, uint64_t values);
void emu_flags_szp(struct emu_cpu *c, unsigned size, uint64_t res, uint64_t cf_of_af);

/* segment.c */
void emu_load_seg(struct emu_cpu *c, int seg, uint16_t sel);
void emu_load_seg_real(struct emu_cpu *c, int seg, uint16_t sel);
/* Read a descriptor (8 bytes) for selector sel; raises error_vec on bad sel. */
uint64_t emu_read_descriptor(struct emu_cpu *c, uint16_t sel, int error_vec);
void emu_seg_from_descriptor(struct segment *sg, uint16_t sel, uint64_t desc);
void emu_load_cs(struct emu_cpu *c, uint16_t sel, uint64_t desc, unsigned cpl);
void emu_update_mode(struct emu_cpu *c);

/* exec.c */
void emu_step(struct emu_cpu *c);  /* emu_step_inline, for callers elsewhere */
void emu_exec_general(struct emu_cpu *c, const struct insn *in);
/* Group-2 shift or rotate (op: ModRM.reg) of a by count, setting flags. */
uint64_t emu_shift(struct emu_cpu *c, unsigned op, unsigned size, uint64_t a,
		   unsigned count);

/* exec_fast.c: the handler index for in if it is a common form, else 0. */
uint8_t emu_fast_pick(const struct insn *in, unsigned code_size);
extern fast_fn *const emu_fast_handlers[];
/* in does nothing: NOP and its multi-byte and hint forms, PAUSE, ENDBR */
bool emu_fast_is_nop(const struct insn *in);

/* sse.c: SSE/SSE2 instructions; false if op is not one of them */
bool emu_exec_sse(struct emu_cpu *c, const struct insn *in);
void emu_fxsave(struct emu_cpu *c, int seg, uint64_t ea);
void emu_fxrstor(struct emu_cpu *c, int seg, uint64_t ea);
void emu_fpu_reset(struct emu_cpu *c);
void emu_fpu_get_image(struct emu_cpu *c, uint8_t img[512], unsigned nxmm);
void emu_fpu_set_image(struct emu_cpu *c, const uint8_t img[512], unsigned nxmm);

/* exec_system.c */
void emu_exec_system(struct emu_cpu *c, const struct insn *in);
void emu_cpuid(struct emu_cpu *c, uint32_t leaf, uint32_t sub, uint32_t out[4]);
uint64_t emu_rdmsr(struct emu_cpu *c, uint32_t msr, bool *ok);
bool emu_wrmsr(struct emu_cpu *c, uint32_t msr, uint64_t val);
void emu_write_cr(struct emu_cpu *c, int cr, uint64_t val);
uint64_t emu_rdtsc(struct emu_cpu *c);

/* exec_control.c: RDRAND and RDSEED's value, false if there is none */
bool emu_random(uint64_t *v);

/* Helpers used across files. */
static inline uint64_t emu_size_mask(unsigned size)
{
	return size >= 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
}

static inline int64_t emu_sign_extend(uint64_t v, unsigned size)
{
	switch (size) {
	case 1: return (int8_t)v;
	case 2: return (int16_t)v;
	case 4: return (int32_t)v;
	default: return (int64_t)v;
	}
}

static inline bool emu_user(const struct emu_cpu *c)
{
	return c->cpl == 3;
}

/* The linear address of seg:off in 64-bit mode (only FS and GS have a
 * base there). */
static inline uint64_t emu_lin64(const struct emu_cpu *c, int seg, uint64_t off)
{
	return off + (seg >= SEG_FS ? c->s.seg[seg].base : 0);
}

/* The host address of size bytes at seg:off if the access may go
 * straight to host memory (64-bit code, the TLB's tag for it: see struct
 * tlb_fast), else NULL. */
static inline uint8_t *emu_fast_host(struct emu_cpu *c, int seg, uint64_t off,
				     unsigned size, bool write)
{
	const struct tlb_fast *f;
	uint64_t l;

	if (c->code_size != 8)
		return NULL;
	l = emu_lin64(c, seg, off);
	f = &c->tlb_fast[c->cpl == 3][(l >> 12) % TLB_ENTRIES];
	if (((l + size - 1) & ~0xfffULL) != (write ? f->write_tag : f->read_tag) ||
	    (write && *f->page_flags))
		return NULL;
	return (uint8_t *)(uintptr_t)(l + f->addend);
}

static inline uint64_t emu_read(struct emu_cpu *c, int seg, uint64_t off, unsigned size)
{
	uint64_t v = 0;
	const uint8_t *h = emu_fast_host(c, seg, off, size, false);

	if (!h)
		return emu_read_slow(c, seg, off, size);
	__builtin_memcpy(&v, h, size);
	return v;
}

static inline void emu_write(struct emu_cpu *c, int seg, uint64_t off, unsigned size,
			     uint64_t val)
{
	uint8_t *h = emu_fast_host(c, seg, off, size, true);

	if (!h) {
		emu_write_slow(c, seg, off, size, val);
		return;
	}
	__builtin_memcpy(h, &val, size);
}

/* Execute the decoded instruction in at c->insn_rip: the run loop's
 * bookkeeping, then its handler.  True if it had a fast handler. */
static inline bool emu_step_decoded(struct emu_cpu *c, const struct insn *in)
{
	c->s.rip = (c->insn_rip + in->len) & (c->code_size == 8 ? ~0ULL :
					     emu_size_mask(c->code_size));
	c->blk_next_rip = emu_walk_next(in, c->s.rip);
	if (c->s.rip != c->insn_rip + in->len)
		c->blk = NULL; /* IP wrapped: the block's next bytes are elsewhere */
	c->icount++;
	if (!in->fast) {
		emu_exec_general(c, in);
		return false;
	}
	emu_fast_handlers[in->fast](c, in);
	return true;
}

/* Execute one instruction at CS:RIP (faults unwind through emu_raise);
 * inline so the run loop keeps the CPU pointer and its own state in
 * registers across instructions.  True if it had a fast handler. */
static inline bool emu_step_inline(struct emu_cpu *c)
{
	const struct insn *in;

	c->insn_rip = c->s.rip;
	c->trace[c->trace_pos++ & 63] = c->insn_rip;
	in = c->blk ? emu_block_next(c) : NULL;
	if (!in)
		in = emu_decode_cached(c);
	return emu_step_decoded(c, in);
}

#endif
