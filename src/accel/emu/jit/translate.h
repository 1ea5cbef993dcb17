/*
 * The translator's internals, shared by its parts (translate.c has the
 * design): translate.c emits a block's code, chains and runs blocks;
 * native.c picks and emits the instructions done as host ALU and move
 * instructions and keeps the guest's flag record; memory.c emits the
 * inline memory accesses (software TLB, segments, the stack); sse.c the
 * SSE forms run on the host's XMM registers.  x86-64 hosts only.
 */
#ifndef WIRT_ACCEL_EMU_JIT_TRANSLATE_H
#define WIRT_ACCEL_EMU_JIT_TRANSLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "accel/emu/exec.h"
#include "accel/emu/simd.h"
#include "accel/emu/jit/emit.h"
#include "accel/emu/jit/jit.h"

/* A field of the vCPU, as translated code addresses it (from RBX). */
#define F(field) ((int32_t)offsetof(struct emu_cpu, field))

static inline int32_t gpr_field(unsigned r)
{
	return F(s.gpr) + 8 * (int32_t)r;
}

/* The instructions emitted as host ALU and move instructions (struct
 * nat), by kind. */
enum native { NAT_NONE, NAT_MOV, NAT_ALU, NAT_INCDEC, NAT_EXT, NAT_SHIFT, NAT_IMUL, NAT_NOT,
	      NAT_NEG, NAT_ROT, NAT_CMOV, NAT_MUL };

/* Where a native operation's operands come from: guest registers (and
 * the immediate), or one of them already in T0, loaded from memory by
 * the inline TLB path: the source (ALU reg, [m]; IMUL; MOVZX/MOVSX) or
 * the destination (CMP/TEST [m], which store nothing). */
enum preload { PRE_NONE, PRE_SRC, PRE_DST };

struct nat {
	enum native kind;
	unsigned size, dst, src;   /* src ~0u: the immediate */
	bool legacy8;              /* byte registers 4-7 are AH-BH (no REX) */
	int32_t src_field;         /* NAT_EXT: the source register's bytes */
	unsigned from;             /* NAT_EXT: the source size */
	bool sign;                 /* NAT_EXT: MOVSX; NAT_MUL: IMUL */
	uint64_t imm;
	enum jit_alu op;
	enum jit_shift shift;
	enum cc_op cc;
	bool store;                /* the result goes to dst (not CMP/TEST) */
	bool store_held;           /* ... to memory: the held address */
	bool dec;
	bool count_cl;             /* NAT_SHIFT: by CL, else by imm (nonzero) */
	bool right;                /* NAT_ROT: ROR, else ROL (by imm, nonzero) */
	bool carry_in;             /* NAT_ALU: ADC, SBB (they read CF) */
	bool flags_dead;           /* a later instruction replaces the flags
				    * (flags_dead_after) */
	bool record_taken;         /* CMP/TEST: their record only where the
				    * Jcc after them leaves (record_if_taken) */
	bool cf_only;              /* NAT_ALU: only CF is read, by the INC/DEC
				    * right after (only_cf_read_after) */
	bool record_slow;          /* NAT_INCDEC, NAT_ALU: the record only on
				    * slow paths of instructions after it
				    * (record_slow_until) */
};

/* What the host's EFLAGS hold after an instruction's code, for the next
 * instruction's condition (no code runs between). */
enum host_flags {
	HOST_NONE,
	HOST_ALL,    /* the guest's arithmetic flags */
	HOST_NO_CF,  /* those but CF (INC, DEC) */
};

/* What the translator knows about the flag record at a point of the
 * block: the operation and size of the last native flag-setter, or
 * CC_EAGER for "not known here". */
struct flag_state {
	enum cc_op op;
	unsigned size;
	enum host_flags host, host_prev;  /* after this instruction, the one before */
	bool eager;  /* the record is known to be eager (op CC_EAGER means
		      * unknown otherwise) */
};

/* The instructions whose memory operand is accessed inline (pick_mem):
 * the software TLB looked up in translated code, the handler the slow
 * path (the stack and jumps through memory in 64-bit code only). */
enum mem_kind {
	MEM_NONE, MEM_LOAD, MEM_STORE, MEM_STORE_IMM, MEM_PUSH, MEM_POP, MEM_CALL, MEM_RET,
	MEM_JMP,     /* JMP near through memory: T0 = the target */
	MEM_NATIVE,  /* a load, then a native operation (pick_native_mem) */
	MEM_RMW,     /* the same, and a store back (pick_native_rmw) */
	MEM_ATOMIC,  /* XCHG, XADD, CMPXCHG with memory (pick_atomic) */
};

/* A field of segment register seg in the vCPU. */
#define seg_field(sreg, member) \
	(F(s.seg) + (sreg) * (int32_t)sizeof(struct segment) + \
	 (int32_t)offsetof(struct segment, member))

/*
 * Outside 64-bit code: the segments (bit SEG_CHECK_SS_B: SS's B bit, for
 * the 32-bit stack) whose type and usability the block's code has checked
 * on every way to this point (done), and those the instruction being
 * emitted checks first (added).  Nothing a block runs loads a segment, so
 * later accesses check only their limits; an instruction's slow path,
 * where its handler ran whether they passed or not, checks the added ones
 * again before going back into the block.
 */
#define SEG_CHECK_SS_B (1u << NUM_SEGS)
struct seg_checks {
	uint8_t done, added;
	uint8_t flat;   /* the segments flat at translation (seg_layout) */
};

/* A record the fast path left out (record_slow), from the registers:
 * an INC/DEC's (CF from the record before it unless kept already, its
 * result, its kind) or an ALU operation's (its operands: for ADD and SUB
 * that stored their result, the first one is the result less or plus the
 * second, which is not the destination). */
struct pending_record {
	bool on;
	bool keep_cf;              /* CF still to be saved, from fs's record */
	struct flag_state fs;      /* the flags before the INC/DEC */
	struct nat n;
};

/*
 * SSE instructions the host runs as they are (jit_emit_sse on XMM0 and
 * XMM1): integer, logical, shuffle and move forms on XMM registers, which
 * neither MXCSR nor the arithmetic flags enter.  Floating-point
 * arithmetic, the string compares and forms with implicit operands go
 * through the interpreter.
 */
enum sse_kind {
	SSE_NONE,
	SSE_OP,         /* xmm(reg) = op(xmm(reg), xmm/m128) */
	SSE_SHIFT_IMM,  /* 66 0F 71-73: xmm(rm) = op(xmm(rm), imm8) */
	SSE_LOAD,       /* xmm(reg) = xmm/m128 */
	SSE_STORE,      /* xmm/m128 = xmm(reg) */
	SSE_MOVMSK,     /* PMOVMSKB r32, xmm */
	SSE_TO_XMM,     /* MOVD/MOVQ xmm, r/m (66 0F 6E); MOVQ xmm, xmm/m64 (F3 0F 7E) */
	SSE_FROM_XMM,   /* MOVD/MOVQ r/m, xmm (66 0F 7E); MOVQ xmm/m64, xmm (66 0F D6) */
	SSE_STRI,       /* PCMPISTRI, PCMPESTRI: ECX and the flags */
};

struct sse {
	enum sse_kind kind;
	uint8_t prefix;     /* the mandatory prefix byte, or 0 */
	bool aligned;       /* a memory operand must be 16-byte aligned */
	bool imm;           /* an imm8 follows */
	unsigned size;      /* memory operand bytes */
};

/* What the host has beyond SSE2, for the native SSE forms (set by
 * emu_jit_create). */
extern bool jit_host_ssse3, jit_host_sse41, jit_host_sse42;

/* translate.c: the block emitter */
bool is_jcc(const struct insn *in);
bool chainable(const struct jit_tb *tb, int64_t rel);

/* native.c: native register forms and flag records */
unsigned op_size(const struct insn *in);
int32_t reg_field(const struct nat *n, unsigned r);
/* The general register a field of the vCPU's GPRs belongs to. */
unsigned gpr_of(int32_t field);
unsigned store_size(const struct nat *n);
bool nat_init(const struct insn *in, struct nat *n);
bool pick_native(const struct jit_tb *tb, const struct insn *in, struct nat *n);
bool pick_native_mem(const struct insn *in, struct nat *n, enum preload *pre,
		     unsigned *load_size);
bool pick_native_rmw(const struct insn *in, struct nat *n);
bool pick_lea(const struct insn *in);
void emit_lea(struct jit_emit *e, const struct insn *in, int64_t end);
bool keeps_flags(const struct insn *in);
bool continues_after(const struct insn *in);
void emit_record(struct jit_emit *e, enum cc_op op, unsigned size,
		 struct flag_state *fs);
void emit_keep_cf(struct jit_emit *e, const struct flag_state *fs);
bool emit_guest_cf(struct jit_emit *e, const struct flag_state *fs, bool emit);
bool emit_keep_af(struct jit_emit *e, const struct flag_state *fs, bool emit);
void emit_native(struct jit_emit *e, const struct nat *n, struct flag_state *fs,
		 enum preload pre);
bool flags_dead_after(const struct jit_tb *tb, unsigned i);
bool only_cf_read_after(const struct jit_tb *tb, unsigned i);
bool jcc_native(const struct jit_tb *tb, const struct insn *in, int64_t end);
bool record_if_taken(const struct jit_tb *tb, unsigned i, const struct nat *n,
		     int64_t next, unsigned *until);
void emit_record_again(struct jit_emit *e, const struct nat *n);
bool emit_flags(struct jit_emit *e, const struct flag_state *fs, unsigned cc);
unsigned record_slow_until(const struct jit_tb *tb, unsigned i, const struct nat *this);
void emit_pending_record(struct jit_emit *e, const struct pending_record *p);

/* A block's inline access in a page group (page_group.c): alone, the
 * group's leader (lo, hi: the first and last byte the group touches,
 * from its address; write: one of them writes), or a member at off from
 * the leader's address. */
enum page_role { PAGE_ALONE, PAGE_LEADER, PAGE_MEMBER };
struct page_use {
	enum page_role role;
	bool write;
	int32_t off;
	int32_t lo, hi;
};
void plan_page_groups(const struct jit_tb *tb, struct page_use *pu);

/* A group's access whose own TLB lookup is out of line (its page check
 * or the leader's failed): the branch there, and where the access goes
 * on with the host address in T0 (a writable address). */
struct own_lookup {
	jit_fixup f;
	uint8_t *access;
	bool leader;
};

/* memory.c: inline memory accesses */
enum mem_kind pick_mem(const struct jit_tb *tb, const struct insn *in);
uint8_t inline_segment_mask(const struct emu_cpu *c, uint8_t *flat);
struct jit_seg_layout seg_layout(int seg, uint8_t flat_mask);
jit_fixup emit_operand_host(struct jit_emit *e, const struct jit_tlb_layout *l,
			    const struct insn *in, int64_t end, unsigned size,
			    bool write, uint8_t align_mask, struct seg_checks *sc);
void emit_step_sp(struct jit_emit *e, int by);
unsigned stack_width(const struct jit_tb *tb);
jit_fixup emit_mem(struct jit_emit *e, const struct jit_tb *tb,
		   const struct jit_tlb_layout *l, enum mem_kind k,
		   const struct insn *in, int64_t end, struct flag_state *fs,
		   struct flag_state *slow_fs, struct seg_checks *sc,
		   const struct page_use *pu, struct own_lookup *own);
jit_fixup emit_own_lookup(struct jit_emit *e, const struct jit_tb *tb,
			  const struct jit_tlb_layout *l, enum mem_kind k,
			  const struct insn *in, int64_t end, const struct own_lookup *own);
bool offset_fits(uint64_t imm);
struct jit_tlb_layout tlb_layout(struct emu_cpu *c);

/* sse.c: SSE on the host's XMM registers */
bool pick_sse(const struct jit_tb *tb, const struct insn *in, struct sse *x);
jit_fixup emit_sse(struct jit_emit *e, const struct jit_tlb_layout *l,
		   const struct insn *in, int64_t end, const struct sse *x,
		   struct flag_state *fs, struct seg_checks *sc);

#endif
