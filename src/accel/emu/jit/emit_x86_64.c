/*
 * The emitter's x86-64 back end (emit.h).
 *
 * Registers inside translated code: RBX holds the vCPU (struct emu_cpu *),
 * R12 the guest RIP the block was entered at, R13D the count of guest
 * instructions run, R14 the software TLB's table for the CPL (translated
 * code does not change the CPL: whatever does ends its block and returns
 * to C, and chains and the jump cache join only blocks entered at the
 * same CPL), R15 the table of page generations; all are callee-saved,
 * so calls to the interpreter's handlers keep them.  After the five
 * pushes of the entry the stack is 16-byte aligned for those calls.
 * RAX is scratch.
 */
#include <stdlib.h>
#include <string.h>

#include "accel/emu/jit/emit.h"

#if defined(__x86_64__)

static void put(struct jit_emit *e, const void *bytes, size_t n)
{
	if (e->overflow || (size_t)(e->end - e->p) < n) {
		e->overflow = true;
		return;
	}
	memcpy(e->p, bytes, n);
	e->p += n;
}

static void put1(struct jit_emit *e, uint8_t b)
{
	put(e, &b, 1);
}

static void put4(struct jit_emit *e, uint32_t v)
{
	put(e, &v, 4);
}

static void put8(struct jit_emit *e, uint64_t v)
{
	put(e, &v, 8);
}

/* A rel32 at the current position (just written as 0) to target_rx. */
static void put_rel32(struct jit_emit *e, const uint8_t *target_rx)
{
	put4(e, (uint32_t)(target_rx - (jit_emit_rx(e) + 4)));
}

size_t jit_emit_bound(unsigned n)
{
	/* per instruction: two RIP stores (16), the call (25), checks (42),
	 * an exit stub (80 through the jump cache), or native code (under 100
	 * with its stubs), or an inline memory access (the TLB lookup, the
	 * operation and its slow path: under 400; in a page group, its own
	 * lookup out of line as well: under 500); a block: entries and two
	 * chain exits */
	return 300 + n * 500;
}

void jit_emit_epilogue(struct jit_emit *e)
{
	static const uint8_t code[] = {
		0x44, 0x89, 0xe8,  /* mov eax, r13d */
		0x48, 0x83, 0xc4, 0x08,  /* add rsp, 8 */
		0x5d,              /* pop rbp */
		0x41, 0x5f,        /* pop r15 */
		0x41, 0x5e,        /* pop r14 */
		0x41, 0x5d,        /* pop r13 */
		0x41, 0x5c,        /* pop r12 */
		0x5b,              /* pop rbx */
		0xc3,              /* ret */
	};

	put(e, code, sizeof(code));
}

/* Save the host's registers, load ours (RDI = c, RSI = start). */
static void prologue(struct jit_emit *e, const struct jit_tlb_layout *tlb,
		     const uint32_t *gen_base)
{
	static const uint8_t code[] = {
		0x53,              /* push rbx */
		0x41, 0x54,        /* push r12 */
		0x41, 0x55,        /* push r13 */
		0x41, 0x56,        /* push r14 */
		0x41, 0x57,        /* push r15 */
		0x55,              /* push rbp (the page register) */
		0x48, 0x83, 0xec, 0x08,  /* sub rsp, 8: calls see the stack aligned */
		0x48, 0x89, 0xfb,  /* mov rbx, rdi */
		0x49, 0x89, 0xf4,  /* mov r12, rsi */
		0x45, 0x31, 0xed,  /* xor r13d, r13d */
		0x31, 0xc0,        /* xor eax, eax */
	};

	put(e, code, sizeof(code));
	put(e, (const uint8_t[]){ 0x83, 0xbb }, 2);              /* cmp dword [rbx+cpl], 3 */
	put4(e, (uint32_t)tlb->cpl);
	put1(e, 3);
	put(e, (const uint8_t[]){ 0x0f, 0x94, 0xc0 }, 3);        /* sete al */
	put(e, (const uint8_t[]){ 0xc1, 0xe0 }, 2);              /* shl eax, log2(table) */
	put1(e, (uint8_t)__builtin_ctz(tlb->entries * tlb->entry_size));
	put(e, (const uint8_t[]){ 0x4c, 0x8d, 0xb4, 0x03 }, 4);  /* lea r14, [rbx+rax+tables] */
	put4(e, (uint32_t)tlb->tables);
	put(e, (const uint8_t[]){ 0x49, 0xbf }, 2);              /* mov r15, gen_base */
	put8(e, (uint64_t)(uintptr_t)gen_base);
}

jit_fixup jit_emit_entry(struct jit_emit *e, const struct jit_tlb_layout *tlb,
			 const uint32_t *gen_base)
{
	jit_fixup f;

	prologue(e, tlb, gen_base);
	put1(e, 0xe9);                                           /* jmp rel32 (bound later) */
	f = e->p;
	put4(e, 0);
	return e->overflow ? NULL : f;
}

void jit_emit_enter_at(struct jit_emit *e, const struct jit_tlb_layout *tlb,
		       const uint32_t *gen_base)
{
	prologue(e, tlb, gen_base);
	put(e, (const uint8_t[]){ 0xff, 0xe2 }, 2);              /* jmp rdx */
}

void jit_emit_chain_entry(struct jit_emit *e, unsigned budget, const uint32_t *gen_base,
			  const uint32_t *gen_ptr, uint32_t gen, const uint8_t *fail_rx)
{
	ptrdiff_t off = (const uint8_t *)gen_ptr - (const uint8_t *)gen_base;

	put(e, (const uint8_t[]){ 0x41, 0x81, 0xfd }, 3);  /* cmp r13d, imm32 */
	put4(e, budget);
	put(e, (const uint8_t[]){ 0x0f, 0x83 }, 2);        /* jae fail */
	put_rel32(e, fail_rx);
	if (off >= 0 && off <= INT32_MAX) {
		put(e, (const uint8_t[]){ 0x41, 0x81, 0xbf }, 3);  /* cmp dword [r15+off], gen */
		put4(e, (uint32_t)off);
	} else {
		put(e, (const uint8_t[]){ 0x48, 0xb8 }, 2);        /* mov rax, gen_ptr */
		put8(e, (uint64_t)(uintptr_t)gen_ptr);
		put(e, (const uint8_t[]){ 0x81, 0x38 }, 2);        /* cmp dword [rax], gen */
	}
	put4(e, gen);
	put(e, (const uint8_t[]){ 0x0f, 0x85 }, 2);        /* jne fail */
	put_rel32(e, fail_rx);
}

void jit_emit_exit_if_rip_above(struct jit_emit *e, int64_t rel, int32_t field,
				const uint8_t *fail_rx)
{
	put(e, (const uint8_t[]){ 0x49, 0x8d, 0x84, 0x24 }, 4);  /* lea rax, [r12+rel] */
	put4(e, (uint32_t)(int32_t)rel);
	put(e, (const uint8_t[]){ 0x48, 0x3b, 0x83 }, 3);        /* cmp rax, [rbx+field] */
	put4(e, (uint32_t)field);
	put(e, (const uint8_t[]){ 0x0f, 0x87 }, 2);              /* ja fail */
	put_rel32(e, fail_rx);
}

void jit_emit_store_rip(struct jit_emit *e, int32_t field, int64_t rel)
{
	put(e, (const uint8_t[]){ 0x49, 0x8d, 0x84, 0x24 }, 4);  /* lea rax, [r12+rel] */
	put4(e, (uint32_t)(int32_t)rel);
	put(e, (const uint8_t[]){ 0x48, 0x89, 0x83 }, 3);        /* mov [rbx+field], rax */
	put4(e, (uint32_t)field);
}

void jit_emit_call(struct jit_emit *e, const void *fn, const void *arg)
{
	put(e, (const uint8_t[]){ 0x48, 0x89, 0xdf }, 3);  /* mov rdi, rbx */
	put(e, (const uint8_t[]){ 0x48, 0xbe }, 2);        /* mov rsi, arg */
	put8(e, (uint64_t)(uintptr_t)arg);
	put(e, (const uint8_t[]){ 0x48, 0xb8 }, 2);        /* mov rax, fn */
	put8(e, (uint64_t)(uintptr_t)fn);
	put(e, (const uint8_t[]){ 0xff, 0xd0 }, 2);        /* call rax */
}

static jit_fixup branch(struct jit_emit *e, uint8_t cc)
{
	jit_fixup f;

	put(e, (const uint8_t[]){ 0x0f, cc }, 2);
	f = e->p;
	put4(e, 0);
	return e->overflow ? NULL : f;
}

jit_fixup jit_emit_branch_rip_ne(struct jit_emit *e, int32_t field, int64_t rel)
{
	put(e, (const uint8_t[]){ 0x49, 0x8d, 0x84, 0x24 }, 4);  /* lea rax, [r12+rel] */
	put4(e, (uint32_t)(int32_t)rel);
	put(e, (const uint8_t[]){ 0x48, 0x39, 0x83 }, 3);        /* cmp [rbx+field], rax */
	put4(e, (uint32_t)field);
	return branch(e, 0x85);                                  /* jne */
}

jit_fixup jit_emit_branch_ptr_null(struct jit_emit *e, int32_t field)
{
	put(e, (const uint8_t[]){ 0x48, 0x83, 0xbb }, 3);  /* cmp qword [rbx+field], 0 */
	put4(e, (uint32_t)field);
	put1(e, 0);
	return branch(e, 0x84);                            /* je */
}

jit_fixup jit_emit_branch_byte_set(struct jit_emit *e, int32_t field)
{
	put(e, (const uint8_t[]){ 0x80, 0xbb }, 2);  /* cmp byte [rbx+field], 0 */
	put4(e, (uint32_t)field);
	put1(e, 0);
	return branch(e, 0x85);                      /* jne */
}

jit_fixup jit_emit_branch_byte_clear(struct jit_emit *e, int32_t field)
{
	put(e, (const uint8_t[]){ 0x80, 0xbb }, 2);  /* cmp byte [rbx+field], 0 */
	put4(e, (uint32_t)field);
	put1(e, 0);
	return branch(e, 0x84);                      /* je */
}

/* An unbound displacement holds the distance to the next site of its
 * chain (jit_fixup_join), 0 at the last. */
void jit_emit_bind(struct jit_emit *e, jit_fixup f)
{
	int32_t rel, link;

	if (e->overflow)
		return;
	if (f)
		e->mirror_at = NULL;   /* a branch lands here */
	for (; f; f = link ? f + link : NULL) {
		memcpy(&link, f, 4);
		rel = (int32_t)(e->p - (f + 4));
		memcpy(f, &rel, 4);
	}
}

jit_fixup jit_fixup_join(jit_fixup a, jit_fixup b)
{
	jit_fixup last = a;
	int32_t link;

	if (!a || !b)
		return a ? a : b;
	for (;;) {
		memcpy(&link, last, 4);
		if (!link)
			break;
		last += link;
	}
	link = (int32_t)(b - last);
	memcpy(last, &link, 4);
	return a;
}

static void add_count(struct jit_emit *e, unsigned count)
{
	if (!count)
		return;
	put(e, (const uint8_t[]){ 0x41, 0x81, 0xc5 }, 3);  /* add r13d, count */
	put4(e, count);
}

void jit_emit_loop_back(struct jit_emit *e, unsigned count, unsigned budget,
			const uint8_t *body_rx)
{
	bool keep = e->mirror_at == e->p;

	add_count(e, count);
	put(e, (const uint8_t[]){ 0x41, 0x81, 0xfd }, 3);  /* cmp r13d, budget */
	put4(e, budget);
	put(e, (const uint8_t[]){ 0x0f, 0x82 }, 2);        /* jb body */
	put_rel32(e, body_rx);
	if (keep)
		e->mirror_at = e->p;
}

void jit_emit_exit(struct jit_emit *e, unsigned count, int32_t chain_field,
		   const uint8_t *epilogue_rx)
{
	add_count(e, count);
	put(e, (const uint8_t[]){ 0x48, 0xc7, 0x83 }, 3);  /* mov qword [rbx+field], 0 */
	put4(e, (uint32_t)chain_field);
	put4(e, 0);
	put1(e, 0xe9);                                     /* jmp epilogue */
	put_rel32(e, epilogue_rx);
}

/* A chain site's way back to C: c->rip = c->chain_rip = start,
 * c->chain_from = the site; the site, or NULL if the cache is full. */
static uint8_t *way_back(struct jit_emit *e, const struct jit_chain_fields *f, uint8_t *site,
			 const uint8_t *epilogue_rx)
{
	put(e, (const uint8_t[]){ 0x4c, 0x89, 0xa3 }, 3);  /* mov [rbx+rip], r12 */
	put4(e, (uint32_t)f->rip);
	put(e, (const uint8_t[]){ 0x4c, 0x89, 0xa3 }, 3);  /* mov [rbx+chain_rip], r12 */
	put4(e, (uint32_t)f->chain_rip);
	put(e, (const uint8_t[]){ 0x48, 0xb8 }, 2);        /* mov rax, site */
	put8(e, (uint64_t)(uintptr_t)site);
	put(e, (const uint8_t[]){ 0x48, 0x89, 0x83 }, 3);  /* mov [rbx+chain_from], rax */
	put4(e, (uint32_t)f->chain_from);
	put1(e, 0xe9);                                     /* jmp epilogue */
	put_rel32(e, epilogue_rx);
	return e->overflow ? NULL : site;
}

/* A chain site: a jump over data_len bytes of the caller's data (zeroed
 * here) and skip more bytes of code; the site, or NULL if the cache is
 * full. */
static uint8_t *chain_site(struct jit_emit *e, size_t data_len, size_t skip)
{
	uint8_t *site = e->p;

	put1(e, 0xe9);
	put4(e, (uint32_t)(data_len + skip));
	if (e->overflow || (size_t)(e->end - e->p) < data_len) {
		e->overflow = true;
		return NULL;
	}
	memset(e->p, 0, data_len);
	e->p += data_len;
	return site;
}

uint8_t *jit_emit_chain_exit(struct jit_emit *e, unsigned count, int64_t rel,
			     const struct jit_chain_fields *f, size_t data_len,
			     const uint8_t *epilogue_rx)
{
	add_count(e, count);
	put(e, (const uint8_t[]){ 0x49, 0x81, 0xc4 }, 3);  /* add r12, rel */
	put4(e, (uint32_t)(int32_t)rel);
	return jit_emit_landing(e, f, data_len, epilogue_rx);
}

uint8_t *jit_emit_landing(struct jit_emit *e, const struct jit_chain_fields *f,
			  size_t data_len, const uint8_t *epilogue_rx)
{
	/* site: jmp over the data to the way back to C (until patched) */
	uint8_t *site = chain_site(e, data_len, 0);

	return site ? way_back(e, f, site, epilogue_rx) : NULL;
}

static void rbx_mem(struct jit_emit *e, bool w, uint8_t op, uint8_t reg, int32_t field);

/* The guard of a far chain exit, from its start: the TLB generation
 * (movabs imm64), the CPL (cmp imm32) and the jump to the successor,
 * patched by jit_patch_far. */
enum {
	FAR_GEN_IMM = 2, FAR_CPL_IMM = 38, FAR_JUMP = 48, FAR_GUARD_LEN = 53
};

uint8_t *jit_emit_far_chain_exit(struct jit_emit *e, unsigned count, int64_t rel,
				 const struct jit_chain_fields *f, const struct jit_far_fields *g,
				 size_t data_len, const uint8_t *epilogue_rx)
{
	uint8_t *site, *guard;
	jit_fixup to_tail;

	add_count(e, count);
	put(e, (const uint8_t[]){ 0x49, 0x81, 0xc4 }, 3);  /* add r12, rel */
	put4(e, (uint32_t)(int32_t)rel);
	/* site: jmp over the data and the guard to the way back to C */
	site = chain_site(e, data_len, FAR_GUARD_LEN);
	if (!site)
		return NULL;
	guard = e->p;
	put(e, (const uint8_t[]){ 0x48, 0xb8 }, 2);        /* mov rax, gen */
	put8(e, ~0ULL);
	rbx_mem(e, true, 0x3b, 0, g->tlb_gen);             /* cmp rax, [rbx+tlb_gen] */
	put(e, (const uint8_t[]){ 0x74, 13 }, 2);          /* je cpl */
	rbx_mem(e, true, 0x3b, 0, g->tlb_gen_global);      /* cmp rax, [rbx+tlb_gen_global] */
	to_tail = branch(e, 0x85);                         /* jne tail */
	put(e, (const uint8_t[]){ 0x81, 0xbb }, 2);        /* cpl: cmp dword [rbx+cpl], cpl */
	put4(e, (uint32_t)g->cpl);
	put4(e, ~0u);
	to_tail = jit_fixup_join(to_tail, branch(e, 0x85)); /* jne tail */
	put1(e, 0xe9);                                     /* jmp successor */
	put4(e, 0);
	if (!e->overflow && e->p - guard != FAR_GUARD_LEN)
		abort();  /* the layout jit_patch_far writes into */
	jit_emit_bind(e, to_tail);
	return way_back(e, f, site, epilogue_rx);
}

void jit_emit_entry_fail(struct jit_emit *e, const struct jit_chain_fields *f,
			 const uint8_t *epilogue_rx)
{
	put(e, (const uint8_t[]){ 0x4c, 0x89, 0xa3 }, 3);  /* mov [rbx+rip], r12 */
	put4(e, (uint32_t)f->rip);
	jit_emit_store_imm(e, f->chain_from, 8, 0);
	put1(e, 0xe9);                                     /* jmp epilogue */
	put_rel32(e, epilogue_rx);
}

/* ---- native operations: T0 is RAX, T1 is RDX ---- */

/* ModRM reg field of a scratch value. */
static uint8_t treg(enum jit_tmp t)
{
	return t == JIT_T0 ? 0 : 2;
}

/* The prefix of an operation of size bytes: the operand-size override
 * for 2, REX.W for 8. */
static void size_prefix(struct jit_emit *e, unsigned size)
{
	if (size == 2)
		put1(e, 0x66);
	else if (size == 8)
		put1(e, 0x48);
}

/* op [rbx+disp32] with reg: REX.W for 8 bytes. */
static void rbx_mem(struct jit_emit *e, bool w, uint8_t op, uint8_t reg, int32_t field)
{
	if (w)
		put1(e, 0x48);
	put1(e, op);
	put1(e, 0x83 | reg << 3);  /* mod 10, rm 011 (RBX) */
	put4(e, (uint32_t)field);
}

/* The entry of a scratch register holding at least size bytes of field
 * (since the last loads and stores), or NULL; *t = the register. */
static const struct jit_mirror *mirror_of(const struct jit_emit *e, int32_t field,
					  unsigned size, int *t)
{
	if (e->mirror_at != e->p)
		return NULL;
	for (*t = 0; *t < 2; (*t)++)
		for (int i = 0; i < JIT_MIRRORS; i++)
			if (e->mirror[*t][i].field == field && e->mirror[*t][i].bytes >= size)
				return &e->mirror[*t][i];
	return NULL;
}

/* Forget what register t holds (t < 0: nothing), and every entry of a
 * field that [field, field + size) overlaps (size 0: none). */
static void mirror_forget(struct jit_emit *e, int t, int32_t field, unsigned size)
{
	for (int r = 0; r < 2; r++) {
		for (int i = 0; i < JIT_MIRRORS; i++) {
			struct jit_mirror *m = &e->mirror[r][i];

			if (r == t || (m->bytes && field < m->field + (int32_t)m->bytes &&
				       m->field < field + (int32_t)size))
				m->bytes = 0;
		}
	}
}

/* Register t now holds size bytes of field (zext: zero-extended, so a
 * load of that size needs no code). */
static void mirror_add(struct jit_emit *e, int t, int32_t field, unsigned size, bool zext)
{
	struct jit_mirror *m = e->mirror[t];

	for (int i = 0; i < JIT_MIRRORS; i++) {
		if (!m[i].bytes) {
			m[i] = (struct jit_mirror){ field, (uint8_t)size, zext };
			return;
		}
	}
}

/* Before emitting an operation that keeps the registers' entries valid:
 * none are valid unless nothing else was emitted since the last. */
static void mirror_begin(struct jit_emit *e)
{
	if (e->mirror_at != e->p)
		for (int r = 0; r < 2; r++)
			for (int i = 0; i < JIT_MIRRORS; i++)
				e->mirror[r][i].bytes = 0;
}

void jit_emit_regs_save(const struct jit_emit *e, struct jit_regs *r)
{
	memcpy(r->m, e->mirror, sizeof(r->m));
	r->valid = e->mirror_at == e->p;
}

void jit_emit_regs_resume(struct jit_emit *e, const struct jit_regs *r)
{
	if (!r->valid)
		return;
	memcpy(e->mirror, r->m, sizeof(r->m));
	e->mirror_at = e->p;
}

bool jit_emit_regs_pick(const struct jit_emit *e, int32_t lo, int32_t hi,
			struct jit_mirror want[2])
{
	bool any = false;

	for (int t = 0; t < 2; t++) {
		want[t].bytes = 0;
		for (int i = 0; e->mirror_at == e->p && i < JIT_MIRRORS; i++) {
			const struct jit_mirror *m = &e->mirror[t][i];

			if (m->bytes && m->field >= lo && m->field < hi &&
			    (m->zext || m->bytes == 8) && m->bytes > want[t].bytes) {
				want[t] = *m;
				any = true;
			}
		}
	}
	return any;
}

void jit_emit_regs_load(struct jit_emit *e, const struct jit_mirror want[2])
{
	for (int t = 0; t < 2; t++)
		if (want[t].bytes)
			jit_emit_load(e, (enum jit_tmp)t, want[t].field, want[t].bytes);
}

bool jit_emit_regs_hold(const struct jit_emit *e, const struct jit_mirror want[2])
{
	for (int t = 0; t < 2; t++) {
		bool held = !want[t].bytes;

		for (int i = 0; !held && e->mirror_at == e->p && i < JIT_MIRRORS; i++) {
			const struct jit_mirror *m = &e->mirror[t][i];

			held = m->field == want[t].field && m->bytes == want[t].bytes &&
			       (m->zext || m->bytes == 8);
		}
		if (!held)
			return false;
	}
	return true;
}

void jit_emit_load(struct jit_emit *e, enum jit_tmp t, int32_t field, unsigned size)
{
	int from;
	const struct jit_mirror *m = mirror_of(e, field, size, &from);
	uint8_t modrm = (uint8_t)(0xc0 | treg(t) << 3 | (m ? treg(from) : 0));

	mirror_begin(e);
	if (m && from == (int)t && (size == 8 || (m->zext && m->bytes == size))) {
		e->mirror_at = e->p;    /* already there, as a load leaves it */
		return;
	}
	if (m) {                /* from the register, zero-extended as a load */
		if (size == 8)
			put(e, (const uint8_t[]){ 0x48, 0x8b, modrm }, 3);  /* mov r, r */
		else if (size == 4)
			put(e, (const uint8_t[]){ 0x8b, modrm }, 2);        /* mov r32, r32 */
		else
			put(e, (const uint8_t[]){ 0x0f, size == 1 ? 0xb6 : 0xb7, modrm }, 3);
	} else if (size <= 2) {                /* movzx r, byte/word [rbx+field] */
		put1(e, 0x0f);
		rbx_mem(e, false, size == 1 ? 0xb6 : 0xb7, treg(t), field);
	} else {
		rbx_mem(e, size == 8, 0x8b, treg(t), field);   /* mov r, [rbx+field] */
	}
	mirror_forget(e, t, 0, 0);
	mirror_add(e, t, field, size, true);
	e->mirror_at = e->p;
}

void jit_emit_store(struct jit_emit *e, enum jit_tmp t, int32_t field, unsigned size)
{
	mirror_begin(e);
	if (size == 2)
		put1(e, 0x66);
	rbx_mem(e, size == 8, size == 1 ? 0x88 : 0x89, treg(t), field);
	mirror_forget(e, -1, field, size);
	mirror_add(e, t, field, size, size == 8);
	e->mirror_at = e->p;
}

void jit_emit_load_imm(struct jit_emit *e, enum jit_tmp t, uint64_t imm)
{
	if (imm <= 0xffffffffULL) {            /* mov r32, imm32 (zero-extends) */
		put1(e, (uint8_t)(0xb8 | treg(t)));
		put4(e, (uint32_t)imm);
	} else if ((int64_t)imm == (int32_t)imm) {  /* mov r64, simm32 */
		put(e, (const uint8_t[]){ 0x48, 0xc7, (uint8_t)(0xc0 | treg(t)) }, 3);
		put4(e, (uint32_t)imm);
	} else {
		put(e, (const uint8_t[]){ 0x48, 0xb8 | treg(t) }, 2);  /* mov r, imm64 */
		put8(e, imm);
	}
}

void jit_emit_store_imm(struct jit_emit *e, int32_t field, unsigned size, int32_t imm)
{
	mirror_begin(e);
	if (size == 2)
		put1(e, 0x66);
	rbx_mem(e, size == 8, size == 1 ? 0xc6 : 0xc7, 0, field);
	if (size == 1)
		put1(e, (uint8_t)imm);
	else if (size == 2)
		put(e, (const uint8_t[]){ (uint8_t)imm, (uint8_t)(imm >> 8) }, 2);
	else
		put4(e, (uint32_t)imm);
	mirror_forget(e, -1, field, size);
	e->mirror_at = e->p;
}

void jit_emit_alu(struct jit_emit *e, enum jit_alu op, unsigned size)
{
	static const uint8_t opcode[] = {
		[JIT_ADD] = 0x01, [JIT_OR] = 0x09, [JIT_AND] = 0x21, [JIT_SUB] = 0x29,
		[JIT_XOR] = 0x31, [JIT_CMP] = 0x39, [JIT_TEST] = 0x85, [JIT_ADC] = 0x11,
		[JIT_SBB] = 0x19,
	};

	mirror_begin(e);
	size_prefix(e, size);
	/* op rax, rdx (op al, dl: the byte form is the opcode before) */
	put(e, (const uint8_t[]){ opcode[op] - (size == 1), 0xd0 }, 2);
	if (op != JIT_CMP && op != JIT_TEST)
		mirror_forget(e, JIT_T0, 0, 0);  /* T1 stays */
	e->mirror_at = e->p;
}

void jit_emit_alu_imm(struct jit_emit *e, enum jit_alu op, unsigned size, uint64_t imm)
{
	static const uint8_t group1[] = {  /* ModRM.reg of 80/81/83 */
		[JIT_ADD] = 0, [JIT_OR] = 1, [JIT_ADC] = 2, [JIT_SBB] = 3, [JIT_AND] = 4,
		[JIT_SUB] = 5, [JIT_XOR] = 6, [JIT_CMP] = 7,
	};
	bool imm8 = size > 1 && (int64_t)(int8_t)imm == (size == 2 ? (int64_t)(int16_t)imm
								 : size == 4 ? (int64_t)(int32_t)imm
									     : (int64_t)imm);

	mirror_begin(e);
	size_prefix(e, size);
	if (op == JIT_TEST) {                    /* test al/ax/eax/rax, imm */
		put(e, (const uint8_t[]){ size == 1 ? 0xf6 : 0xf7, 0xc0 }, 2);
		imm8 = false;
	} else {                                 /* op al/ax/eax/rax, imm */
		put(e, (const uint8_t[]){ size == 1 ? 0x80 : imm8 ? 0x83 : 0x81,
					  (uint8_t)(0xc0 | group1[op] << 3) }, 2);
	}
	if (size == 1 || imm8)
		put1(e, (uint8_t)imm);
	else if (size == 2)
		put(e, (const uint8_t[]){ (uint8_t)imm, (uint8_t)(imm >> 8) }, 2);
	else
		put4(e, (uint32_t)imm);
	if (op != JIT_CMP && op != JIT_TEST)
		mirror_forget(e, JIT_T0, 0, 0);  /* T1 stays */
	e->mirror_at = e->p;
}

void jit_emit_incdec(struct jit_emit *e, bool dec, unsigned size)
{
	mirror_begin(e);
	size_prefix(e, size);
	put(e, (const uint8_t[]){ size == 1 ? 0xfe : 0xff, dec ? 0xc8 : 0xc0 }, 2);  /* inc/dec rax (al) */
	mirror_forget(e, JIT_T0, 0, 0);  /* T1 stays */
	e->mirror_at = e->p;
}

void jit_emit_cf_from(struct jit_emit *e, int32_t field)
{
	put(e, (const uint8_t[]){ 0x0f, 0xba, 0xa3 }, 3);  /* bt dword [rbx+field], 0 */
	put4(e, (uint32_t)field);
	put1(e, 0);
}

void jit_emit_add_carry(struct jit_emit *e, int32_t size_field, int32_t res, int32_t src1)
{
	/* both shifted left by 64 - 8 * size, so that the bits above size
	 * go: then res < src1 (unsigned) is the carry */
	put(e, (const uint8_t[]){ 0x0f, 0xb6, 0x8b }, 3);  /* movzx ecx, byte [rbx+size] */
	put4(e, (uint32_t)size_field);
	put(e, (const uint8_t[]){ 0xf7, 0xd9 }, 2);        /* neg ecx */
	put(e, (const uint8_t[]){ 0xc1, 0xe1, 0x03 }, 3);  /* shl ecx, 3 (mod 64: 64 - 8 * size) */
	rbx_mem(e, true, 0x8b, 0, res);                    /* mov rax, [rbx+res] */
	rbx_mem(e, true, 0x8b, 2, src1);                   /* mov rdx, [rbx+src1] */
	put(e, (const uint8_t[]){ 0x48, 0xd3, 0xe0 }, 3);  /* shl rax, cl */
	put(e, (const uint8_t[]){ 0x48, 0xd3, 0xe2 }, 3);  /* shl rdx, cl */
	put(e, (const uint8_t[]){ 0x48, 0x39, 0xd0 }, 3);  /* cmp rax, rdx */
}

void jit_emit_store_cf(struct jit_emit *e, int32_t field)
{
	mirror_begin(e);
	put(e, (const uint8_t[]){ 0x0f, 0x92, 0x83 }, 3);  /* setc byte [rbx+field] */
	put4(e, (uint32_t)field);
	mirror_forget(e, -1, field, 8);
	e->mirror_at = e->p;
}

void jit_emit_clear_cf(struct jit_emit *e)
{
	put1(e, 0xf8);                                      /* clc */
}

void jit_emit_call_store_bool(struct jit_emit *e, const void *fn, int32_t field)
{
	jit_emit_call(e, fn, NULL);
	put(e, (const uint8_t[]){ 0x0f, 0xb6, 0xc0 }, 3);  /* movzx eax, al */
	jit_emit_store(e, JIT_T0, field, 8);
}

jit_fixup jit_emit_branch_cc(struct jit_emit *e, unsigned cc)
{
	bool keep = e->mirror_at == e->p;
	jit_fixup f = branch(e, 0x80 | (cc & 15));

	if (keep)
		e->mirror_at = e->p;
	return f;
}

jit_fixup jit_emit_branch_t0_in(struct jit_emit *e, uint32_t lo, uint32_t hi)
{
	bool keep = e->mirror_at == e->p;
	jit_fixup f;

	if (lo == hi) {
		put1(e, 0x3d);                                 /* cmp eax, lo */
		put4(e, lo);
		f = branch(e, 0x84);                           /* je */
	} else {
		put(e, (const uint8_t[]){ 0x8d, 0x88 }, 2);    /* lea ecx, [rax - lo] */
		put4(e, -lo);
		put(e, (const uint8_t[]){ 0x81, 0xf9 }, 2);    /* cmp ecx, hi - lo */
		put4(e, hi - lo);
		f = branch(e, 0x86);                           /* jbe */
	}
	if (keep)
		e->mirror_at = e->p;
	return f;
}

jit_fixup jit_emit_branch_rip_ge(struct jit_emit *e, int64_t rel, int32_t field)
{
	put(e, (const uint8_t[]){ 0x49, 0x8d, 0x84, 0x24 }, 4);  /* lea rax, [r12+rel] */
	put4(e, (uint32_t)(int32_t)rel);
	rbx_mem(e, true, 0x3b, 0, field);                        /* cmp rax, [rbx+field] */
	return branch(e, 0x83);                                  /* jae */
}

jit_fixup jit_emit_jump(struct jit_emit *e)
{
	jit_fixup f;

	put1(e, 0xe9);
	f = e->p;
	put4(e, 0);
	return e->overflow ? NULL : f;
}

void jit_emit_jump_to(struct jit_emit *e, const uint8_t *target_rw)
{
	put1(e, 0xe9);
	put_rel32(e, target_rw + e->rx_delta);
}

void jit_emit_ea(struct jit_emit *e, int32_t base_field, bool base_rip, int64_t rip_rel,
		 int32_t index_field, unsigned scale, int32_t disp, int32_t seg_base_field)
{
	/* a scratch register holding the base or the index already (a value
	 * just stored, as a pointer just incremented), else -1 */
	int mb = -1, mi = -1;

	if (base_field < 0 || base_rip || !mirror_of(e, base_field, 8, &mb))
		mb = -1;
	if (index_field < 0 || !mirror_of(e, index_field, 8, &mi))
		mi = -1;
	if (mb == JIT_T1) {                                     /* the base into RAX first */
		put(e, (const uint8_t[]){ 0x48, 0x89, 0xd0 }, 3);   /* mov rax, rdx */
		mb = JIT_T0;
		if (mi == JIT_T0)
			mi = -1;
	}
	if (index_field >= 0 && mi == JIT_T0)                   /* then the index into RDX */
		put(e, (const uint8_t[]){ 0x48, 0x89, 0xc2 }, 3);   /* mov rdx, rax */
	else if (index_field >= 0 && mi != JIT_T1)
		rbx_mem(e, true, 0x8b, 2, index_field);             /* mov rdx, [rbx+index] */
	if (base_rip) {
		/* RIP-relative (never with an index): one LEA when the
		 * displacement folds into rel */
		if (index_field < 0 && rip_rel + disp == (int32_t)(rip_rel + disp)) {
			rip_rel += disp;
			disp = 0;
		}
		put(e, (const uint8_t[]){ 0x49, 0x8d, 0x84, 0x24 }, 4);  /* lea rax, [r12+rel] */
		put4(e, (uint32_t)(int32_t)rip_rel);
	} else if (base_field >= 0) {
		if (mb != JIT_T0)
			rbx_mem(e, true, 0x8b, 0, base_field);      /* mov rax, [rbx+base] */
	} else if (index_field < 0) {                           /* an absolute address */
		put(e, (const uint8_t[]){ 0x48, 0xc7, 0xc0 }, 3);   /* mov rax, disp */
		put4(e, (uint32_t)disp);
		disp = 0;
	}
	if (index_field >= 0) {
		bool base = base_rip || base_field >= 0;

		/* lea rax, [rax + rdx << scale + disp32], or without rax */
		put(e, (const uint8_t[]){ 0x48, 0x8d, base ? 0x84 : 0x04,
					  (uint8_t)(scale << 6 | 2 << 3 | (base ? 0 : 5)) }, 4);
		put4(e, (uint32_t)disp);
		disp = 0;
	}
	if (disp) {
		put(e, (const uint8_t[]){ 0x48, 0x8d, 0x80 }, 3);   /* lea rax, [rax+disp] */
		put4(e, (uint32_t)disp);
	}
	if (seg_base_field >= 0)
		rbx_mem(e, true, 0x03, 0, seg_base_field);          /* add rax, [rbx+seg] */
}

jit_fixup jit_emit_seg_usable(struct jit_emit *e, const struct jit_seg_layout *seg)
{
	rbx_mem(e, false, 0xf6, 0, seg->fast);                  /* test byte [..], bit */
	put1(e, seg->bit);
	return branch(e, 0x84);                                  /* jz */
}

void jit_emit_seg_linear(struct jit_emit *e, const struct jit_seg_layout *seg,
			 unsigned adsize, unsigned size, bool usable_known, jit_fixup fail[2])
{
	if (adsize == 4)
		put(e, (const uint8_t[]){ 0x89, 0xc0 }, 2);        /* mov eax, eax */
	else
		put(e, (const uint8_t[]){ 0x0f, 0xb7, 0xc0 }, 3);  /* movzx eax, ax */
	fail[0] = usable_known ? NULL : jit_emit_seg_usable(e, seg);
	fail[1] = NULL;
	if (seg->flat)  /* the offset is the linear address */
		return;
	/* offset + size - 1 <= limit (64-bit sum: no wrap) */
	put(e, (const uint8_t[]){ 0x48, 0x8d, 0x50, (uint8_t)(size - 1) }, 4);  /* lea rdx, [rax+size-1] */
	rbx_mem(e, false, 0x8b, 1, seg->limit);                 /* mov ecx, [..] */
	put(e, (const uint8_t[]){ 0x48, 0x39, 0xca }, 3);        /* cmp rdx, rcx */
	fail[1] = branch(e, 0x87);                               /* ja */
	rbx_mem(e, true, 0x03, 0, seg->base);                   /* add rax, [..] */
	put(e, (const uint8_t[]){ 0x89, 0xc0 }, 2);              /* mov eax, eax */
}

/* ECX = the TLB entry's offset in the table for the address in EAX (or
 * EDX): (lin >> 12) % entries * size. */
static void tlb_index(struct jit_emit *e, const struct jit_tlb_layout *l, bool from_rdx)
{
	unsigned shift = 12 - __builtin_ctz(l->entry_size);

	put(e, (const uint8_t[]){ 0x89, from_rdx ? 0xd1 : 0xc1 }, 2);  /* mov ecx, eax/edx */
	put(e, (const uint8_t[]){ 0xc1, 0xe9, (uint8_t)shift }, 3);  /* shr ecx, shift */
	put(e, (const uint8_t[]){ 0x81, 0xe1 }, 2);              /* and ecx, mask */
	put4(e, (l->entries - 1) * l->entry_size);
}

/* RDX = the page of the byte at T0 + last, which must be the (read or
 * write) tag of entry RCX, else the branch returned; then T0 += the
 * entry's addend (the host address). */
static jit_fixup tlb_match(struct jit_emit *e, const struct jit_tlb_layout *l, int32_t last,
			   bool write)
{
	jit_fixup fail;

	if (last >= -128 && last < 128) {                        /* lea rdx, [rax+last] */
		put(e, (const uint8_t[]){ 0x48, 0x8d, 0x50, (uint8_t)last }, 4);
	} else {
		put(e, (const uint8_t[]){ 0x48, 0x8d, 0x90 }, 3);
		put4(e, (uint32_t)last);
	}
	put(e, (const uint8_t[]){ 0x48, 0x81, 0xe2 }, 3);        /* and rdx, ~0xfff */
	put4(e, 0xfffff000);
	put(e, (const uint8_t[]){ 0x49, 0x3b, 0x94, 0x0e }, 4);  /* cmp rdx, [r14+rcx+tag] */
	put4(e, (uint32_t)(write ? l->write_tag : l->read_tag));
	fail = branch(e, 0x85);
	put(e, (const uint8_t[]){ 0x49, 0x03, 0x84, 0x0e }, 4);  /* add rax, [r14+rcx+addend] */
	put4(e, (uint32_t)l->addend);
	return fail;
}

jit_fixup jit_emit_tlb_host(struct jit_emit *e, const struct jit_tlb_layout *l,
			    unsigned size, bool write,
			    const jit_fixup *also_fail, unsigned n_also)
{
	jit_fixup fail;

	tlb_index(e, l, false);
	fail = tlb_match(e, l, (int32_t)size - 1, write);
	for (unsigned i = 0; i < n_also; i++)
		fail = jit_fixup_join(fail, also_fail[i]);
	return fail;
}

jit_fixup jit_emit_tlb_group(struct jit_emit *e, const struct jit_tlb_layout *l,
			     int32_t lo, int32_t hi, bool write)
{
	jit_fixup fail;

	if (lo) {
		put(e, (const uint8_t[]){ 0x48, 0x8d, 0x90 }, 3);  /* lea rdx, [rax+lo] */
		put4(e, (uint32_t)lo);
	}
	tlb_index(e, l, lo != 0);
	fail = tlb_match(e, l, hi, write);
	put(e, (const uint8_t[]){ 0x48, 0x89, 0xc5 }, 3);        /* mov rbp, rax */
	return fail;
}

jit_fixup jit_emit_group_host(struct jit_emit *e, int32_t off)
{
	jit_fixup none;

	put(e, (const uint8_t[]){ 0x48, 0x85, 0xed }, 3);        /* test rbp, rbp */
	none = branch(e, 0x84);                                  /* jz */
	put(e, (const uint8_t[]){ 0x48, 0x8d, 0x85 }, 3);        /* lea rax, [rbp+off] */
	put4(e, (uint32_t)off);
	return none;
}

void jit_emit_group_clear(struct jit_emit *e)
{
	put(e, (const uint8_t[]){ 0x31, 0xed }, 2);              /* xor ebp, ebp */
}

/* movdqu between xmm x and [rbx+field] (load: 6F, store: 7F) */
static void xmm_rbx(struct jit_emit *e, uint8_t op, unsigned x, int32_t field)
{
	put(e, (const uint8_t[]){ 0xf3, 0x0f, op, (uint8_t)(0x83 | x << 3) }, 4);
	put4(e, (uint32_t)field);
}

void jit_emit_xmm_load(struct jit_emit *e, unsigned x, int32_t field)
{
	xmm_rbx(e, 0x6f, x, field);
}

void jit_emit_xmm_store(struct jit_emit *e, unsigned x, int32_t field)
{
	xmm_rbx(e, 0x7f, x, field);
}

void jit_emit_xmm_load_ind(struct jit_emit *e, unsigned x, unsigned size)
{
	uint8_t modrm = (uint8_t)(x << 3);  /* [rax] */

	if (size == 16)                                  /* movdqu x, [rax] */
		put(e, (const uint8_t[]){ 0xf3, 0x0f, 0x6f, modrm }, 4);
	else if (size == 8)                              /* movq x, [rax] */
		put(e, (const uint8_t[]){ 0xf3, 0x0f, 0x7e, modrm }, 4);
	else                                             /* movd x, [rax] */
		put(e, (const uint8_t[]){ 0x66, 0x0f, 0x6e, modrm }, 4);
}

void jit_emit_xmm_store_ind(struct jit_emit *e, unsigned x, unsigned size)
{
	uint8_t modrm = (uint8_t)(x << 3);  /* [rax] */

	if (size == 16)                                  /* movdqu [rax], x */
		put(e, (const uint8_t[]){ 0xf3, 0x0f, 0x7f, modrm }, 4);
	else if (size == 8)                              /* movq [rax], x */
		put(e, (const uint8_t[]){ 0x66, 0x0f, 0xd6, modrm }, 4);
	else                                             /* movd [rax], x */
		put(e, (const uint8_t[]){ 0x66, 0x0f, 0x7e, modrm }, 4);
}

void jit_emit_xmm0_to_t0(struct jit_emit *e, unsigned size)
{
	if (size == 8)                                   /* movq rax, xmm0 */
		put(e, (const uint8_t[]){ 0x66, 0x48, 0x0f, 0x7e, 0xc0 }, 5);
	else                                             /* movd eax, xmm0 */
		put(e, (const uint8_t[]){ 0x66, 0x0f, 0x7e, 0xc0 }, 4);
}

void jit_emit_t0_to_xmm0(struct jit_emit *e, unsigned size)
{
	if (size == 8)                                   /* movq xmm0, rax */
		put(e, (const uint8_t[]){ 0x66, 0x48, 0x0f, 0x6e, 0xc0 }, 5);
	else                                             /* movd xmm0, eax */
		put(e, (const uint8_t[]){ 0x66, 0x0f, 0x6e, 0xc0 }, 4);
}

void jit_emit_sse(struct jit_emit *e, uint8_t prefix, unsigned op, uint8_t modrm, int imm)
{
	if (prefix)
		put1(e, prefix);
	put1(e, 0x0f);
	if (op >> 8 == 2)
		put1(e, 0x38);
	else if (op >> 8 == 3)
		put1(e, 0x3a);
	put(e, (const uint8_t[]){ (uint8_t)op, modrm }, 2);
	if (imm >= 0)
		put1(e, (uint8_t)imm);
}

void jit_emit_store_ecx(struct jit_emit *e, int32_t field)
{
	put(e, (const uint8_t[]){ 0x89, 0xc9 }, 2);              /* mov ecx, ecx */
	rbx_mem(e, true, 0x89, 1, field);                        /* mov [rbx+field], rcx */
}

#define ARITH_FLAGS 0x8d5  /* CF PF AF ZF SF OF */

void jit_emit_flags_to_rflags(struct jit_emit *e, int32_t field)
{
	put(e, (const uint8_t[]){ 0x9c, 0x58 }, 2);              /* pushfq; pop rax */
	put(e, (const uint8_t[]){ 0x48, 0x89, 0xc2 }, 3);        /* mov rdx, rax */
	put(e, (const uint8_t[]){ 0x81, 0xe2 }, 2);              /* and edx, ARITH_FLAGS */
	put4(e, ARITH_FLAGS);
	rbx_mem(e, true, 0x8b, 6, field);                        /* mov rsi, [rbx+field] */
	put(e, (const uint8_t[]){ 0x48, 0x81, 0xe6 }, 3);        /* and rsi, ~ARITH_FLAGS */
	put4(e, ~(uint32_t)ARITH_FLAGS);
	put(e, (const uint8_t[]){ 0x48, 0x09, 0xd6 }, 3);        /* or rsi, rdx */
	rbx_mem(e, true, 0x89, 6, field);                        /* mov [rbx+field], rsi */
	put(e, (const uint8_t[]){ 0x50, 0x9d }, 2);              /* push rax; popfq */
}

void jit_emit_flags_from_rflags(struct jit_emit *e, int32_t field)
{
	/* only the arithmetic flags: DF, TF and AC stay clear on the host */
	rbx_mem(e, true, 0x8b, 0, field);                        /* mov rax, [rbx+field] */
	put(e, (const uint8_t[]){ 0x25 }, 1);                    /* and eax, ARITH_FLAGS */
	put4(e, ARITH_FLAGS);
	put(e, (const uint8_t[]){ 0x50, 0x9d }, 2);              /* push rax; popfq */
}

void jit_emit_zf_from_record(struct jit_emit *e, int32_t op, int32_t size, int32_t res,
			     int32_t rflags)
{
	uint8_t *lazy, *done;

	put(e, (const uint8_t[]){ 0x0f, 0xb6, 0x8b }, 3);        /* movzx ecx, byte [rbx+op] */
	put4(e, (uint32_t)op);
	put(e, (const uint8_t[]){ 0x85, 0xc9, 0x75, 0x00 }, 4);  /* test ecx, ecx; jnz lazy */
	lazy = e->p;
	rbx_mem(e, false, 0x8b, 0, rflags);                      /* mov eax, [rbx+rflags] */
	put(e, (const uint8_t[]){ 0xf7, 0xd0, 0xa9 }, 3);        /* not eax; test eax, ZF */
	put4(e, 0x40);
	put(e, (const uint8_t[]){ 0xeb, 0x00 }, 2);              /* jmp done */
	done = e->p;
	if (!e->overflow)
		lazy[-1] = (uint8_t)(e->p - lazy);
	/* lazy: the result's low size bytes, shifted up over the rest */
	put(e, (const uint8_t[]){ 0x0f, 0xb6, 0x8b }, 3);        /* movzx ecx, byte [rbx+size] */
	put4(e, (uint32_t)size);
	put(e, (const uint8_t[]){ 0xf7, 0xd9, 0xc1, 0xe1, 0x03 }, 5);  /* neg ecx; shl ecx, 3 */
	rbx_mem(e, true, 0x8b, 0, res);                          /* mov rax, [rbx+res] */
	put(e, (const uint8_t[]){ 0x48, 0xd3, 0xe0, 0x48, 0x85, 0xc0 }, 6);  /* shl rax, cl; test rax, rax */
	if (!e->overflow)
		done[-1] = (uint8_t)(e->p - done);
}

jit_fixup jit_emit_branch_t0_bits(struct jit_emit *e, uint8_t mask)
{
	put(e, (const uint8_t[]){ 0xa8, mask }, 2);      /* test al, mask */
	return branch(e, 0x85);                          /* jnz */
}

jit_fixup jit_emit_branch_bits(struct jit_emit *e, int32_t field, uint32_t mask, bool clear)
{
	rbx_mem(e, false, 0xf7, 0, field);               /* test dword [rbx+field], mask */
	put4(e, mask);
	return branch(e, clear ? 0x84 : 0x85);
}

void jit_emit_rip_to(struct jit_emit *e, enum jit_tmp t, int64_t rel)
{
	/* lea rax/rdx, [r12+rel] */
	put(e, (const uint8_t[]){ 0x49, 0x8d, 0x84 | treg(t) << 3, 0x24 }, 4);
	put4(e, (uint32_t)(int32_t)rel);
}

void jit_emit_zext32(struct jit_emit *e)
{
	put(e, (const uint8_t[]){ 0x89, 0xc0 }, 2);              /* mov eax, eax */
}

jit_fixup jit_emit_branch_noncanonical(struct jit_emit *e)
{
	put(e, (const uint8_t[]){ 0x48, 0x89, 0xc2 }, 3);        /* mov rdx, rax */
	put(e, (const uint8_t[]){ 0x48, 0xc1, 0xe2, 0x10 }, 4);  /* shl rdx, 16 */
	put(e, (const uint8_t[]){ 0x48, 0xc1, 0xfa, 0x10 }, 4);  /* sar rdx, 16 */
	put(e, (const uint8_t[]){ 0x48, 0x39, 0xc2 }, 3);        /* cmp rdx, rax */
	return branch(e, 0x85);
}

jit_fixup jit_emit_branch_t0_ne_rip(struct jit_emit *e, int64_t rel)
{
	put(e, (const uint8_t[]){ 0x49, 0x8d, 0x94, 0x24 }, 4);  /* lea rdx, [r12+rel] */
	put4(e, (uint32_t)(int32_t)rel);
	put(e, (const uint8_t[]){ 0x48, 0x39, 0xd0 }, 3);        /* cmp rax, rdx */
	return branch(e, 0x85);                                  /* jne */
}

jit_fixup jit_emit_branch_t0_ge(struct jit_emit *e, int32_t field)
{
	rbx_mem(e, true, 0x3b, 0, field);                        /* cmp rax, [rbx+field] */
	return branch(e, 0x83);                                  /* jae */
}

void jit_emit_load_ind(struct jit_emit *e, unsigned size)
{
	if (size <= 2) {                           /* movzx eax, byte/word [rax] */
		put(e, (const uint8_t[]){ 0x0f, size == 1 ? 0xb6 : 0xb7, 0x00 }, 3);
		return;
	}
	if (size == 8)
		put1(e, 0x48);
	put(e, (const uint8_t[]){ 0x8b, 0x00 }, 2);              /* mov rax, [rax] */
}

void jit_emit_store_ind(struct jit_emit *e, unsigned size)
{
	size_prefix(e, size);
	/* mov [rax], rdx (dl) */
	put(e, (const uint8_t[]){ size == 1 ? 0x88 : 0x89, 0x10 }, 2);
}

/* The opcode (after an optional REX.W) that loads size bytes into a
 * register, zero- or sign-extended: movzx, movsx, mov, movsxd. */
static void put_load_ext_op(struct jit_emit *e, unsigned size, bool sign)
{
	if (sign || size == 8)
		put1(e, 0x48);
	switch (size) {
	case 1: put(e, (const uint8_t[]){ 0x0f, sign ? 0xbe : 0xb6 }, 2); break;
	case 2: put(e, (const uint8_t[]){ 0x0f, sign ? 0xbf : 0xb7 }, 2); break;
	case 4: put1(e, sign ? 0x63 : 0x8b); break;
	default: put1(e, 0x8b); break;
	}
}

void jit_emit_load_ind_ext(struct jit_emit *e, unsigned size, bool sign)
{
	put_load_ext_op(e, size, sign);
	put1(e, 0x00);                                           /* rax, [rax] */
}

void jit_emit_load_ext(struct jit_emit *e, enum jit_tmp t, int32_t field, unsigned size,
		       bool sign)
{
	put_load_ext_op(e, size, sign);
	put1(e, 0x83 | treg(t) << 3);                            /* r, [rbx+field] */
	put4(e, (uint32_t)field);
}

/* The held address is in RDI, which the ALU operations leave alone. */
void jit_emit_hold_addr(struct jit_emit *e)
{
	put(e, (const uint8_t[]){ 0x48, 0x89, 0xc7 }, 3);        /* mov rdi, rax */
}

void jit_emit_load_held(struct jit_emit *e, unsigned size)
{
	if (size <= 2) {                           /* movzx eax, byte/word [rdi] */
		put(e, (const uint8_t[]){ 0x0f, size == 1 ? 0xb6 : 0xb7, 0x07 }, 3);
		return;
	}
	if (size == 8)
		put1(e, 0x48);
	put(e, (const uint8_t[]){ 0x8b, 0x07 }, 2);              /* mov rax, [rdi] */
}

void jit_emit_store_held(struct jit_emit *e, unsigned size)
{
	size_prefix(e, size);
	/* mov [rdi], rax (al) */
	put(e, (const uint8_t[]){ size == 1 ? 0x88 : 0x89, 0x07 }, 2);
}

void jit_emit_copy_t0_to_t1(struct jit_emit *e)
{
	put(e, (const uint8_t[]){ 0x48, 0x89, 0xc2 }, 3);        /* mov rdx, rax */
}

jit_fixup jit_emit_branch_t1_zero(struct jit_emit *e, uint32_t mask)
{
	put(e, (const uint8_t[]){ 0xf7, 0xc2 }, 2);              /* test edx, mask */
	put4(e, mask);
	return branch(e, 0x84);                                  /* jz */
}

/* EDX = 0 or 1 from the host's flag condition cc (setcc dl; movzx). */
static void edx_from_cc(struct jit_emit *e, uint8_t cc)
{
	put(e, (const uint8_t[]){ 0x0f, 0x90 | cc, 0xc2 }, 3);
	put(e, (const uint8_t[]){ 0x0f, 0xb6, 0xd2 }, 3);
}

void jit_emit_shift(struct jit_emit *e, enum jit_shift op, unsigned size)
{
	static const uint8_t modrm[] = { [JIT_SHL] = 0xe0, [JIT_SHR] = 0xe8, [JIT_SAR] = 0xf8 };
	uint8_t w = size == 8 ? 0x48 : 0x40, top = (uint8_t)(size * 8 - 1);

	put(e, (const uint8_t[]){ 0x89, 0xd1 }, 2);              /* mov ecx, edx */
	put(e, (const uint8_t[]){ 0x48, 0x89, 0xc6 }, 3);        /* mov rsi, rax */
	if (size == 1)
		put(e, (const uint8_t[]){ 0xd2, modrm[op] }, 2);   /* shl/shr/sar al, cl */
	else if (size == 2)
		put(e, (const uint8_t[]){ 0x66, 0xd3, modrm[op] }, 3);  /* ... ax, cl */
	else
		put(e, (const uint8_t[]){ w, 0xd3, modrm[op] }, 3);  /* ... rax, cl */
	edx_from_cc(e, 0x2);                                     /* edx = CF */
	if (op == JIT_SAR)
		return;
	if (op == JIT_SHL)  /* the result's sign, not the operand's */
		put(e, (const uint8_t[]){ 0x48, 0x89, 0xc6 }, 3);  /* mov rsi, rax */
	put(e, (const uint8_t[]){ w, 0xc1, 0xee, top }, 4);      /* shr rsi, size*8-1 */
	if (op == JIT_SHL)
		put(e, (const uint8_t[]){ 0x31, 0xd6 }, 2);      /* xor esi, edx */
	put(e, (const uint8_t[]){ 0xc1, 0xe6, 11 }, 3);          /* shl esi, 11 (OF) */
	put(e, (const uint8_t[]){ 0x09, 0xf2 }, 2);              /* or edx, esi */
}

void jit_emit_setcc(struct jit_emit *e, unsigned cc)
{
	put(e, (const uint8_t[]){ 0x0f, 0x90 | (cc & 15), 0xc0 }, 3);  /* setcc al */
}

void jit_emit_cmov(struct jit_emit *e, unsigned cc, unsigned size)
{
	size_prefix(e, size);
	put(e, (const uint8_t[]){ 0x0f, 0x40 | (cc & 15), 0xc2 }, 3);  /* cmovcc rax, rdx */
}

void jit_emit_shift_imm(struct jit_emit *e, enum jit_shift op, unsigned size, uint8_t count)
{
	static const uint8_t modrm[] = { [JIT_SHL] = 0xe0, [JIT_SHR] = 0xe8, [JIT_SAR] = 0xf8 };

	size_prefix(e, size);
	put(e, (const uint8_t[]){ size == 1 ? 0xc0 : 0xc1, modrm[op], count }, 3);  /* shl/shr/sar rax, n */
}

void jit_emit_rotate(struct jit_emit *e, bool right, unsigned size, uint8_t count)
{
	size_prefix(e, size);
	put(e, (const uint8_t[]){ 0xc1, right ? 0xc8 : 0xc0, count }, 3);  /* rol/ror rax, n */
}

void jit_emit_rotate_flags(struct jit_emit *e, bool right, unsigned size)
{
	uint8_t top = (uint8_t)(size * 8 - 1);

	put(e, (const uint8_t[]){ 0x48, 0x89, 0xc6 }, 3);        /* mov rsi, rax */
	if (right) {
		/* esi bit 1 = the top bit (CF), bit 0 = the one below */
		put(e, (const uint8_t[]){ 0x48, 0xc1, 0xee, (uint8_t)(top - 1) }, 4);
		put(e, (const uint8_t[]){ 0x89, 0xf2 }, 2);      /* mov edx, esi */
		put(e, (const uint8_t[]){ 0xd1, 0xea }, 2);      /* shr edx, 1 */
		put(e, (const uint8_t[]){ 0x83, 0xe6, 0x01 }, 3);  /* and esi, 1 */
	} else {
		put(e, (const uint8_t[]){ 0x89, 0xc2 }, 2);      /* mov edx, eax */
		put(e, (const uint8_t[]){ 0x83, 0xe2, 0x01 }, 3);  /* and edx, 1 (CF) */
		put(e, (const uint8_t[]){ 0x48, 0xc1, 0xee, top }, 4);  /* shr rsi, top */
	}
	put(e, (const uint8_t[]){ 0x31, 0xd6 }, 2);              /* xor esi, edx */
	put(e, (const uint8_t[]){ 0xc1, 0xe6, 11 }, 3);          /* shl esi, 11 (OF) */
	put(e, (const uint8_t[]){ 0x09, 0xf2 }, 2);              /* or edx, esi */
}

void jit_emit_hold_atomic(struct jit_emit *e)
{
	put(e, (const uint8_t[]){ 0x48, 0x89, 0xc6 }, 3);        /* mov rsi, rax */
}

void jit_emit_add_keep_flags(struct jit_emit *e)
{
	put(e, (const uint8_t[]){ 0x48, 0x8d, 0x04, 0x10 }, 4);  /* lea rax, [rax+rdx] */
}

void jit_emit_atomic_rmw(struct jit_emit *e, enum jit_alu op, unsigned size)
{
	static const uint8_t opcode[] = {
		[JIT_ADD] = 0x01, [JIT_OR] = 0x09, [JIT_AND] = 0x21, [JIT_SUB] = 0x29,
		[JIT_XOR] = 0x31,
	};
	uint8_t *retry;

	if (size <= 2)                                     /* movzx eax, [rsi] */
		put(e, (const uint8_t[]){ 0x0f, size == 1 ? 0xb6 : 0xb7, 0x06 }, 3);
	else if (size == 4)
		put(e, (const uint8_t[]){ 0x8b, 0x06 }, 2);        /* mov eax, [rsi] */
	else
		put(e, (const uint8_t[]){ 0x48, 0x8b, 0x06 }, 3);  /* mov rax, [rsi] */
	retry = e->p;
	put(e, (const uint8_t[]){ 0x48, 0x89, 0xc1 }, 3);        /* mov rcx, rax */
	size_prefix(e, size);
	put(e, (const uint8_t[]){ (uint8_t)(opcode[op] - (size == 1)), 0xd1 }, 2);  /* op rcx, rdx */
	put1(e, 0xf0);                                            /* lock cmpxchg [rsi], rcx */
	size_prefix(e, size);
	put(e, (const uint8_t[]){ 0x0f, size == 1 ? 0xb0 : 0xb1, 0x0e }, 3);
	/* another vCPU changed it: RAX has its value, again */
	put(e, (const uint8_t[]){ 0x75, (uint8_t)(retry - (e->p + 2)) }, 2);  /* jne retry */
}

void jit_emit_atomic(struct jit_emit *e, enum jit_atomic op, unsigned size)
{
	/* [rsi] with edx (dl, dx, rdx) */
	static const uint8_t opcode[][2] = {
		[JIT_XCHG] = { 0x86, 0 }, [JIT_XADD] = { 0x0f, 0xc0 }, [JIT_CMPXCHG] = { 0x0f, 0xb0 },
	};
	const uint8_t *o = opcode[op];
	uint8_t wide = size != 1;

	if (op != JIT_XCHG)
		put1(e, 0xf0);                                   /* lock (XCHG: implied) */
	size_prefix(e, size);
	if (o[0] == 0x0f)
		put(e, (const uint8_t[]){ 0x0f, (uint8_t)(o[1] | wide), 0x16 }, 3);
	else
		put(e, (const uint8_t[]){ (uint8_t)(o[0] | wide), 0x16 }, 2);
}

void jit_emit_imul(struct jit_emit *e, unsigned size)
{
	if (size == 8)
		put1(e, 0x48);
	put(e, (const uint8_t[]){ 0x0f, 0xaf, 0xc2 }, 3);        /* imul rax, rdx */
	edx_from_cc(e, 0x0);                                     /* edx = OF (= CF) */
	put(e, (const uint8_t[]){ 0x69, 0xd2, 0x01, 0x08, 0, 0 }, 6);  /* imul edx, 0x801 */
}

void jit_emit_mul(struct jit_emit *e, bool sign, unsigned size, int32_t hi_field)
{
	if (size == 8)
		put1(e, 0x48);
	put(e, (const uint8_t[]){ 0xf7, sign ? 0xea : 0xe2 }, 2);  /* mul/imul rdx */
	jit_emit_store(e, JIT_T1, hi_field, 8);                  /* the high half */
	edx_from_cc(e, 0x0);                                     /* edx = OF (= CF) */
	put(e, (const uint8_t[]){ 0x69, 0xd2, 0x01, 0x08, 0, 0 }, 6);  /* imul edx, 0x801 */
}

_Static_assert(sizeof(struct jit_jc_entry) == 32, "jump cache entries are 32 bytes");

jit_fixup jit_emit_ret_push(struct jit_emit *e, const struct jit_rs_fields *f, int64_t ret_rel)
{
	jit_fixup landing;

	rbx_mem(e, false, 0x8b, 1, f->top);                 /* mov ecx, [rbx+top] */
	put(e, (const uint8_t[]){ 0x8d, 0x51, 0x01 }, 3);   /* lea edx, [rcx+1] */
	put(e, (const uint8_t[]){ 0x81, 0xe2 }, 2);         /* and edx, mask */
	put4(e, f->mask);
	rbx_mem(e, false, 0x89, 2, f->top);                 /* mov [rbx+top], edx */
	put(e, (const uint8_t[]){ 0xc1, 0xe1, 0x05 }, 3);   /* shl ecx, 5 */
	put(e, (const uint8_t[]){ 0x49, 0x8d, 0x84, 0x24 }, 4);  /* lea rax, [r12+ret_rel] */
	put4(e, (uint32_t)(int32_t)ret_rel);
	put(e, (const uint8_t[]){ 0x48, 0x89, 0x84, 0x0b }, 4);  /* mov [rbx+rcx+stack], rax */
	put4(e, (uint32_t)f->stack);
	rbx_mem(e, true, 0x8b, 0, f->key);                  /* mov rax, [rbx+key] */
	put(e, (const uint8_t[]){ 0x48, 0x89, 0x84, 0x0b }, 4);  /* mov [rbx+rcx+stack+8], rax */
	put4(e, (uint32_t)(f->stack + 8));
	put(e, (const uint8_t[]){ 0x48, 0x8d, 0x05 }, 3);   /* lea rax, [rip+landing] */
	landing = e->p;
	put4(e, 0);
	put(e, (const uint8_t[]){ 0x48, 0x89, 0x84, 0x0b }, 4);  /* mov [rbx+rcx+stack+16], rax */
	put4(e, (uint32_t)(f->stack + 16));
	return e->overflow ? NULL : landing;
}

/* Through the jump cache: the shared lookup returns the target's chain
 * entry in RDX (or leaves for C itself), and each site has its own
 * indirect jump, which the host predicts per site. */
static void jc_call(struct jit_emit *e, const uint8_t *lookup_rx)
{
	put1(e, 0xe8);                                      /* call lookup */
	put_rel32(e, lookup_rx);
	put(e, (const uint8_t[]){ 0xff, 0xe2 }, 2);         /* jmp rdx */
}

jit_fixup jit_emit_ret_pop(struct jit_emit *e, const struct jit_rs_fields *f, unsigned count,
			   int32_t sp_field, unsigned sp_width)
{
	jit_fixup miss;

	rbx_mem(e, false, 0x8b, 1, f->top);                 /* mov ecx, [rbx+top] */
	put(e, (const uint8_t[]){ 0x83, 0xe9, 0x01 }, 3);   /* sub ecx, 1 */
	put(e, (const uint8_t[]){ 0x81, 0xe1 }, 2);         /* and ecx, mask */
	put4(e, f->mask);
	rbx_mem(e, false, 0x89, 1, f->top);                 /* mov [rbx+top], ecx */
	put(e, (const uint8_t[]){ 0xc1, 0xe1, 0x05 }, 3);   /* shl ecx, 5 */
	put(e, (const uint8_t[]){ 0x48, 0x3b, 0x84, 0x0b }, 4);  /* cmp rax, [rbx+rcx+stack] */
	put4(e, (uint32_t)f->stack);
	miss = branch(e, 0x85);
	rbx_mem(e, true, 0x8b, 2, f->key);                  /* mov rdx, [rbx+key] */
	put(e, (const uint8_t[]){ 0x48, 0x3b, 0x94, 0x0b }, 4);  /* cmp rdx, [rbx+rcx+stack+8] */
	put4(e, (uint32_t)(f->stack + 8));
	miss = jit_fixup_join(miss, branch(e, 0x85));
	if (sp_width == 8) {
		rbx_mem(e, true, 0x83, 0, sp_field);        /* add qword [rbx+sp], 8 */
		put1(e, 8);
	} else {                                            /* ESP wraps, zero-extended */
		rbx_mem(e, false, 0x83, 0, sp_field);       /* add dword [rbx+sp], 4 */
		put1(e, 4);
		rbx_mem(e, false, 0xc7, 0, sp_field + 4);   /* mov dword [rbx+sp+4], 0 */
		put4(e, 0);
	}
	add_count(e, count);
	put(e, (const uint8_t[]){ 0x49, 0x89, 0xc4 }, 3);   /* mov r12, rax */
	put(e, (const uint8_t[]){ 0xff, 0xa4, 0x0b }, 3);   /* jmp [rbx+rcx+stack+16] */
	put4(e, (uint32_t)(f->stack + 16));
	return miss;
}

void jit_emit_jc_exit(struct jit_emit *e, unsigned count, const uint8_t *lookup_rx)
{
	add_count(e, count);
	jc_call(e, lookup_rx);
}

void jit_emit_jc_lookup(struct jit_emit *e, const struct jit_jc_entry *jc, uint32_t mask,
			unsigned code_size, const struct jit_jc_fields *f,
			const uint8_t *epilogue_rx)
{
	jit_fixup miss[4] = { NULL }, gen_ok;

	rbx_mem(e, true, 0x8b, 0, f->rip);                  /* mov rax, [rbx+rip] */
	/* edx = jit_jc_slot(rax, mask) */
	put(e, (const uint8_t[]){ 0x48, 0x89, 0xc2 }, 3);   /* mov rdx, rax */
	put(e, (const uint8_t[]){ 0x48, 0xc1, 0xea, 0x0c }, 4);  /* shr rdx, 12 */
	put(e, (const uint8_t[]){ 0x31, 0xc2 }, 2);         /* xor edx, eax */
	put(e, (const uint8_t[]){ 0x81, 0xe2 }, 2);         /* and edx, mask */
	put4(e, mask);
	put(e, (const uint8_t[]){ 0xc1, 0xe2, 0x05 }, 3);   /* shl edx, 5 */
	put(e, (const uint8_t[]){ 0x48, 0xb9 }, 2);         /* mov rcx, jc */
	put8(e, (uint64_t)(uintptr_t)jc);
	put(e, (const uint8_t[]){ 0x48, 0x01, 0xca }, 3);   /* add rdx, rcx */
	put(e, (const uint8_t[]){ 0x48, 0x39, 0x02 }, 3);   /* cmp [rdx], rax */
	miss[0] = branch(e, 0x85);
	rbx_mem(e, true, 0x8b, 1, f->tlb_gen);              /* mov rcx, [rbx+tlb_gen] */
	put(e, (const uint8_t[]){ 0x48, 0x39, 0x4a, 0x08 }, 4);  /* cmp [rdx+8], rcx */
	gen_ok = branch(e, 0x84);
	rbx_mem(e, true, 0x8b, 1, f->tlb_gen_global);       /* mov rcx, [rbx+global] */
	put(e, (const uint8_t[]){ 0x48, 0x39, 0x4a, 0x08 }, 4);  /* cmp [rdx+8], rcx */
	miss[1] = branch(e, 0x85);
	jit_emit_bind(e, gen_ok);
	rbx_mem(e, false, 0x8b, 1, f->cpl);                 /* mov ecx, [rbx+cpl] */
	put(e, (const uint8_t[]){ 0x81, 0xc9 }, 2);         /* or ecx, mode's size */
	put4(e, jit_jc_mode(0, code_size));
	put(e, (const uint8_t[]){ 0x39, 0x4a, 0x10 }, 3);   /* cmp [rdx+16], ecx */
	miss[2] = branch(e, 0x85);
	if (code_size != 8) {
		rbx_mem(e, false, 0x8b, 1, f->cs_base);     /* mov ecx, [rbx+cs_base] */
		put(e, (const uint8_t[]){ 0x39, 0x4a, 0x14 }, 3);  /* cmp [rdx+20], ecx */
		miss[3] = branch(e, 0x85);
	}
	put(e, (const uint8_t[]){ 0x49, 0x89, 0xc4 }, 3);   /* mov r12, rax */
	put(e, (const uint8_t[]){ 0x48, 0x8b, 0x52, 0x18 }, 4);  /* mov rdx, [rdx+24] */
	put1(e, 0xc3);                                      /* ret: the site jumps */
	for (int i = 0; i < 4; i++)
		if (miss[i])
			jit_emit_bind(e, miss[i]);
	put(e, (const uint8_t[]){ 0x48, 0x8d, 0x64, 0x24, 0x08 }, 5);  /* lea rsp, [rsp+8]: no return */
	jit_emit_store_imm(e, f->chain_from, 8, 0);
	put1(e, 0xe9);                                      /* jmp epilogue */
	put_rel32(e, epilogue_rx);
}

void jit_patch_jump(uint8_t *site, ptrdiff_t rx_delta, const uint8_t *target_rx)
{
	int32_t rel = (int32_t)(target_rx - (site + rx_delta + 5));

	/* aligned or not, no thread runs this code while it changes: the
	 * cache is the vCPU's own and it is patched between blocks */
	memcpy(site + 1, &rel, 4);
}

void jit_patch_far(uint8_t *site, size_t data_len, ptrdiff_t rx_delta, uint64_t tlb_gen,
		   uint32_t cpl, const uint8_t *target_rx)
{
	uint8_t *guard = site + 5 + data_len;

	memcpy(guard + FAR_GEN_IMM, &tlb_gen, 8);
	memcpy(guard + FAR_CPL_IMM, &cpl, 4);
	jit_patch_jump(guard + FAR_JUMP, rx_delta, target_rx);
	jit_patch_jump(site, rx_delta, guard + rx_delta);
}

void jit_patch_entry(uint8_t *entry, ptrdiff_t rx_delta, const uint8_t *target_rx)
{
	/* the entry's first instruction (cmp r13d, budget) is 7 bytes */
	entry[0] = 0xe9;
	jit_patch_jump(entry, rx_delta, target_rx);
}

#endif
