/*
 * Guest memory as the emulated CPU sees it: segmentation, paging (32-bit,
 * PAE and 4-level, with large pages, NX, WP, U/S, accessed and dirty
 * bits), a software TLB, and the final physical access to RAM, ROM or a
 * device on the MMIO bus.
 */
#include <string.h>

#include "accel/emu/emu.h"
#include "hw/bus.h"
#include "hw/lapic.h"
#include "vm/vm.h"

#define PTE_P   (1ULL << 0)
#define PTE_RW  (1ULL << 1)
#define PTE_US  (1ULL << 2)
#define PTE_A   (1ULL << 5)
#define PTE_D   (1ULL << 6)
#define PTE_PS  (1ULL << 7)
#define PTE_G   (1ULL << 8)
#define PTE_NX  (1ULL << 63)
#define PTE_ADDR 0x000ffffffffff000ULL

#define PF_P    0x01
#define PF_W    0x02
#define PF_U    0x04
#define PF_RSVD 0x08
#define PF_I    0x10

/* ---- physical memory ---- */

static uint8_t *host_page(struct emu_cpu *c, uint64_t pa, bool write)
{
	const struct guest_memory *gm = &c->vm->mem;

	return write ? gmem_ptr_rw(gm, pa & ~0xfffULL, 4096)
		     : gmem_ptr(gm, pa & ~0xfffULL, 4096);
}

/* Called on every guest write to a page that holds cached code; true if
 * the page held some. */
bool emu_code_written(struct emu_vm *evm, uint64_t pa)
{
	uint64_t pn = pa >> 12;

	if (pn >= evm->npages || !evm->code_page[pn])
		return false;
	evm->code_page[pn] = 0;
	__atomic_add_fetch(&evm->page_gen[pn], 1, __ATOMIC_RELEASE);
	return true;
}

void emu_cpu_code_written(struct emu_cpu *c, uint64_t pa)
{
	if (emu_code_written(c->evm, pa))
		c->blk = NULL;
}

static inline void note_write(struct emu_cpu *c, uint64_t pa)
{
	uint64_t pn = pa >> 12;

	if (pn < c->evm->npages && c->evm->code_page[pn])
		emu_cpu_code_written(c, pa);
}

/* Each CPU sees its own local APIC at its APIC base (when enabled). */
static bool is_apic_page(struct emu_cpu *c, uint64_t pa)
{
	return (pa & ~0xfffULL) == (c->s.apic_base & ~0xfffULL) &&
	       (c->s.apic_base & (1ULL << 11));
}

uint64_t emu_phys_read(struct emu_cpu *c, uint64_t pa, unsigned size)
{
	uint64_t v = 0;
	uint8_t *h;

	if ((pa & 0xfff) + size <= 4096 && (h = host_page(c, pa, false))) {
		memcpy(&v, h + (pa & 0xfff), size);
		return v;
	}
	if (gmem_read(&c->vm->mem, pa, &v, size) == 0)
		return v;
	if (is_apic_page(c, pa))
		return lapic_read(c->lapic, pa & 0xff0);
	bus_read(&c->vm->mmio, pa, &v, size);
	return v;
}

void emu_phys_write(struct emu_cpu *c, uint64_t pa, unsigned size, uint64_t val)
{
	uint8_t *h;

	if ((pa & 0xfff) + size <= 4096 && (h = host_page(c, pa, true))) {
		note_write(c, pa);
		memcpy(h + (pa & 0xfff), &val, size);
		return;
	}
	if (gmem_find(&c->vm->mem, pa, size)) {
		/* RAM across a page boundary, or ROM (writes ignored). */
		if (gmem_ptr_rw(&c->vm->mem, pa, size)) {
			gmem_write(&c->vm->mem, pa, &val, size); /* notifies */
			c->blk = NULL;
		}
		return;
	}
	if (is_apic_page(c, pa)) {
		if (!(pa & 0xf))
			lapic_write(c->lapic, pa & 0xff0, val);
		return;
	}
	bus_write(&c->vm->mmio, pa, &val, size);
}

/* ---- TLB ---- */

void emu_tlb_flush(struct emu_cpu *c, bool global_too)
{
	unsigned i;

	c->tlb_gen++;
	c->blk = NULL;
	for (i = 0; i < TLB_ENTRIES; i++)
		if (global_too || !(c->tlb[i].perms & TLB_GLOBAL))
			c->tlb[i].vpage = ~0ULL;
}

void emu_tlb_flush_page(struct emu_cpu *c, uint64_t lin)
{
	struct tlb_entry *e = &c->tlb[(lin >> 12) % TLB_ENTRIES];

	c->tlb_gen++;
	c->blk = NULL;
	if (e->vpage == lin >> 12)
		e->vpage = ~0ULL;
}

static void tlb_fill(struct emu_cpu *c, uint64_t lin, uint64_t pa, uint32_t perms)
{
	struct tlb_entry *e = &c->tlb[(lin >> 12) % TLB_ENTRIES];

	e->vpage = lin >> 12;
	e->ppage = pa >> 12;
	e->perms = perms;
	e->host = host_page(c, pa, false);
	/* ROM and MMIO pages take the slow path for writes. */
	if (!e->host || !host_page(c, pa, true))
		e->perms &= ~(TLB_WRITE_S | TLB_WRITE_U);
}

static uint32_t perm_needed(enum access acc, bool user)
{
	static const uint32_t bits[3][2] = {
		{ TLB_READ_S, TLB_READ_U },
		{ TLB_WRITE_S, TLB_WRITE_U },
		{ TLB_EXEC_S, TLB_EXEC_U },
	};
	return bits[acc][user];
}

/* ---- page walk ---- */

static _Noreturn void page_fault(struct emu_cpu *c, uint64_t lin, uint32_t err,
				 enum access acc, bool user)
{
	if (acc == ACC_WRITE)
		err |= PF_W;
	if (user)
		err |= PF_U;
	if (acc == ACC_EXEC && (c->s.efer & EFER_NXE))
		err |= PF_I;
	c->s.cr2 = lin;
	emu_raise(c, EXC_PF, err, true);
}

/*
 * Walk the page tables for lin.  Returns true with *pa set, or false with
 * *err set to the page-fault error code (P and RSVD bits only).
 */
static bool walk(struct emu_cpu *c, uint64_t lin, enum access acc, bool user,
		 uint64_t *pa, uint32_t *err, uint32_t *perms)
{
	bool lm = c->s.efer & EFER_LMA, pae = c->s.cr4 & CR4_PAE;
	bool nxe = c->s.efer & EFER_NXE;
	uint64_t table, entry, addrs[4];
	uint64_t us = 1, rw = 1, nx = 0, page_size = 4096, rsvd_nx;
	unsigned level, levels, nent = 0, esize = (lm || pae) ? 8 : 4;
	bool leaf = false;

	rsvd_nx = nxe ? 0 : PTE_NX;
	if (lm) {
		levels = 4;
		table = c->s.cr3 & PTE_ADDR;
	} else if (pae) {
		/* PDPTE: P bit only, no U/S or R/W at this level. */
		uint64_t pdpte = emu_phys_read(c, (c->s.cr3 & 0xffffffe0) + ((lin >> 30) & 3) * 8, 8);
		if (!(pdpte & PTE_P)) {
			*err = 0;
			return false;
		}
		levels = 2;
		table = pdpte & PTE_ADDR;
	} else {
		levels = 2;
		table = c->s.cr3 & 0xfffff000;
	}

	for (level = levels; level >= 1; level--) {
		unsigned shift = 12 + 9 * (level - 1);
		uint64_t idx;

		if (esize == 4)
			shift = 12 + 10 * (level - 1);
		idx = (lin >> shift) & (esize == 8 ? 0x1ff : 0x3ff);
		addrs[nent] = table + idx * esize;
		entry = emu_phys_read(c, addrs[nent], esize);
		if (!(entry & PTE_P)) {
			*err = 0;
			return false;
		}
		if (entry & rsvd_nx) {
			*err = PF_RSVD | PF_P;
			return false;
		}
		/* Accessed bit on the way down. */
		if (!(entry & PTE_A))
			emu_phys_write(c, addrs[nent], esize == 8 ? 8 : 4, entry | PTE_A);
		nent++;
		us &= (entry >> 2) & 1;
		rw &= (entry >> 1) & 1;
		if (esize == 8)
			nx |= entry >> 63;
		if (level == 1) {
			leaf = true;
			*pa = (entry & (esize == 8 ? PTE_ADDR : 0xfffff000)) | (lin & 0xfff);
		} else if ((entry & PTE_PS) &&
			   (level == 2 || (level == 3 && lm)) &&
			   (esize == 8 || (c->s.cr4 & CR4_PSE))) {
			leaf = true;
			page_size = 1ULL << shift;
			if (esize == 8)
				*pa = (entry & PTE_ADDR & ~(page_size - 1)) | (lin & (page_size - 1));
			else
				*pa = (entry & 0xffc00000) | ((entry & 0x1e000) << 19) |
				      (lin & (page_size - 1));
		}
		if (leaf)
			break;
		table = entry & (esize == 8 ? PTE_ADDR : 0xfffff000);
	}

	/* Permission checks. */
	if (user && !us)
		goto protection;
	if (acc == ACC_WRITE && !rw && (user || (c->s.cr0 & CR0_WP)))
		goto protection;
	if (acc == ACC_EXEC && nx && nxe)
		goto protection;

	if (acc == ACC_WRITE && !(entry & PTE_D)) {
		entry |= PTE_D | PTE_A;
		emu_phys_write(c, addrs[nent - 1], esize, entry);
	}

	*perms = TLB_READ_S | TLB_EXEC_S;
	if (us)
		*perms |= TLB_READ_U | TLB_EXEC_U;
	if (nx && nxe)
		*perms &= ~(TLB_EXEC_S | TLB_EXEC_U);
	if (entry & PTE_D) {
		if (rw || !(c->s.cr0 & CR0_WP))
			*perms |= TLB_WRITE_S;
		if (rw && us)
			*perms |= TLB_WRITE_U;
	}
	if ((entry & PTE_G) && (c->s.cr4 & CR4_PGE))
		*perms |= TLB_GLOBAL;
	/* Large pages enter the TLB one 4 KiB page at a time. */
	return true;

protection:
	*err = PF_P;
	return false;
}

/* The A20 gate (hw/port92.c) applies to the physical address; a change is
 * seen by the vCPU that made it at once (emu_pio_write flushes its TLB) and
 * by others at their next TLB miss. */
static inline uint64_t a20_clear(struct emu_cpu *c)
{
	return __atomic_load_n(&c->vm->a20_clear, __ATOMIC_RELAXED);
}

static bool translate(struct emu_cpu *c, uint64_t lin, enum access acc,
		      bool user, bool raise, uint64_t *pa)
{
	struct tlb_entry *e = &c->tlb[(lin >> 12) % TLB_ENTRIES];
	uint32_t err, perms;

	if (e->vpage == lin >> 12 && (e->perms & perm_needed(acc, user))) {
		*pa = (e->ppage << 12) | (lin & 0xfff);
		return true;
	}
	if (!(c->s.cr0 & CR0_PG)) {
		*pa = lin & ~a20_clear(c);
		tlb_fill(c, lin, *pa, TLB_READ_S | TLB_READ_U | TLB_WRITE_S |
			 TLB_WRITE_U | TLB_EXEC_S | TLB_EXEC_U);
		return true;
	}
	if (!walk(c, lin, acc, user, pa, &err, &perms)) {
		if (raise)
			page_fault(c, lin, err, acc, user);
		return false;
	}
	*pa &= ~a20_clear(c);
	tlb_fill(c, lin, *pa, perms);
	return true;
}

uint64_t emu_translate(struct emu_cpu *c, uint64_t lin, enum access acc, bool user)
{
	uint64_t pa;

	translate(c, lin, acc, user, true, &pa);
	return pa;
}

/* ---- linear accesses ---- */

uint64_t emu_read_lin(struct emu_cpu *c, uint64_t lin, unsigned size, bool user)
{
	struct tlb_entry *e = &c->tlb[(lin >> 12) % TLB_ENTRIES];
	uint64_t v = 0, pa1, pa2;
	unsigned first;

	if ((lin & 0xfff) + size <= 4096) {
		if (e->vpage == lin >> 12 && e->host &&
		    (e->perms & (user ? TLB_READ_U : TLB_READ_S))) {
			memcpy(&v, e->host + (lin & 0xfff), size);
			return v;
		}
		return emu_phys_read(c, emu_translate(c, lin, ACC_READ, user), size);
	}
	/* Split across two pages: translate both before reading. */
	first = 4096 - (lin & 0xfff);
	pa1 = emu_translate(c, lin, ACC_READ, user);
	pa2 = emu_translate(c, lin + first, ACC_READ, user);
	v = emu_phys_read(c, pa1, first);
	v |= emu_phys_read(c, pa2, size - first) << (first * 8);
	return v;
}

void emu_write_lin(struct emu_cpu *c, uint64_t lin, unsigned size, uint64_t val, bool user)
{
	struct tlb_entry *e = &c->tlb[(lin >> 12) % TLB_ENTRIES];
	uint64_t pa1, pa2;
	unsigned first;

	if ((lin & 0xfff) + size <= 4096) {
		if (e->vpage == lin >> 12 && e->host &&
		    (e->perms & (user ? TLB_WRITE_U : TLB_WRITE_S))) {
			note_write(c, e->ppage << 12);
			memcpy(e->host + (lin & 0xfff), &val, size);
			return;
		}
		emu_phys_write(c, emu_translate(c, lin, ACC_WRITE, user), size, val);
		return;
	}
	first = 4096 - (lin & 0xfff);
	pa1 = emu_translate(c, lin, ACC_WRITE, user);
	pa2 = emu_translate(c, lin + first, ACC_WRITE, user);
	emu_phys_write(c, pa1, first, val);
	emu_phys_write(c, pa2, size - first, val >> (first * 8));
}

uint64_t emu_read_sys(struct emu_cpu *c, uint64_t lin, unsigned size)
{
	return emu_read_lin(c, lin, size, false);
}

void emu_write_sys(struct emu_cpu *c, uint64_t lin, unsigned size, uint64_t val)
{
	emu_write_lin(c, lin, size, val, false);
}

/* ---- segmentation ---- */

static bool canonical(uint64_t a)
{
	return (uint64_t)((int64_t)(a << 16) >> 16) == a;
}

uint64_t emu_linear(struct emu_cpu *c, int seg, uint64_t off, unsigned size, bool write)
{
	const struct segment *sg = &c->s.seg[seg];
	uint64_t lin;

	if (c->code_size == 8) {
		lin = off;
		if (seg >= SEG_FS)
			lin += sg->base;
		if (!canonical(lin))
			emu_raise(c, seg == SEG_SS ? EXC_SS : EXC_GP, 0, true);
		return lin;
	}
	if (c->s.cr0 & CR0_PE && !(c->s.rflags & RFLAGS_VM)) {
		if (sg->unusable)
			emu_raise(c, seg == SEG_SS ? EXC_SS : EXC_GP, 0, true);
		if (write && sg->s && (sg->type & 0xa) != 0x2)
			emu_raise(c, seg == SEG_SS ? EXC_SS : EXC_GP, 0, true);
	}
	/* Expand-up data and code segments: offset + size - 1 within limit. */
	if (!(sg->s && (sg->type & 0xc) == 0x4) && off + size - 1 > sg->limit)
		emu_raise(c, seg == SEG_SS ? EXC_SS : EXC_GP, 0, true);
	return (sg->base + off) & 0xffffffffULL;
}

uint64_t emu_read_slow(struct emu_cpu *c, int seg, uint64_t off, unsigned size)
{
	return emu_read_lin(c, emu_linear(c, seg, off, size, false), size, emu_user(c));
}

void emu_write_slow(struct emu_cpu *c, int seg, uint64_t off, unsigned size, uint64_t val)
{
	emu_write_lin(c, emu_linear(c, seg, off, size, true), size, val, emu_user(c));
}

/* ---- instruction fetch ---- */

/* raise: fault if the first byte cannot be fetched, else return 0. */
static unsigned fetch(struct emu_cpu *c, uint64_t rip, uint8_t *buf, unsigned len,
		      bool raise)
{
	uint64_t lin, pa;
	unsigned n = 0, chunk;
	bool user = emu_user(c);

	if (c->code_size == 8)
		lin = rip;
	else
		lin = (c->s.seg[SEG_CS].base + rip) & 0xffffffffULL;
	if (c->code_size != 8 && rip > c->s.seg[SEG_CS].limit) {
		if (!raise)
			return 0;
		emu_raise(c, EXC_GP, 0, true);
	}
	while (n < len) {
		chunk = 4096 - ((lin + n) & 0xfff);
		if (chunk > len - n)
			chunk = len - n;
		/* The first byte must be fetchable (else fault now); later
		 * pages are only needed if the instruction reaches them. */
		if (!translate(c, lin + n, ACC_EXEC, user, raise && n == 0, &pa))
			break;
		uint8_t *h = host_page(c, pa, false);
		if (h) {
			memcpy(buf + n, h + (pa & 0xfff), chunk);
		} else {
			for (unsigned i = 0; i < chunk; i++)
				buf[n + i] = emu_phys_read(c, pa + i, 1);
		}
		n += chunk;
	}
	return n;
}

unsigned emu_fetch(struct emu_cpu *c, uint64_t rip, uint8_t *buf, unsigned len)
{
	return fetch(c, rip, buf, len, true);
}

unsigned emu_peek_code(struct emu_cpu *c, uint64_t rip, uint8_t *buf, unsigned len)
{
	return fetch(c, rip, buf, len, false);
}

/* Raise the fault for the first byte that emu_fetch could not read. */
void emu_fetch_fault(struct emu_cpu *c, uint64_t rip)
{
	uint64_t lin = c->code_size == 8 ? rip :
		       (c->s.seg[SEG_CS].base + rip) & 0xffffffffULL;

	emu_translate(c, lin, ACC_EXEC, emu_user(c));
	emu_raise(c, EXC_GP, 0, true);
}

/* ---- port I/O ---- */

uint64_t emu_pio_read(struct emu_cpu *c, uint16_t port, unsigned size)
{
	uint64_t v = 0;

	bus_read(&c->vm->pio, port, &v, size);
	return v;
}

void emu_pio_write(struct emu_cpu *c, uint16_t port, unsigned size, uint64_t val)
{
	uint64_t a20 = a20_clear(c);

	bus_write(&c->vm->pio, port, &val, size);
	if (a20_clear(c) != a20)
		emu_tlb_flush(c, true);
}
