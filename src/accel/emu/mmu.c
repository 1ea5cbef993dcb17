/*
 * Guest memory as the emulated CPU sees it: segmentation, paging (32-bit,
 * PAE and 4-level, with large pages, NX, WP, U/S, accessed and dirty
 * bits), a software TLB, and the final physical access to RAM, ROM or a
 * device on the MMIO bus.
 */
#include <errno.h>
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

/* The host address of pa's page if it is RAM (or, reading, ROM), else
 * NULL.  A page walk's reads and the fills after it mostly stay in one
 * region: the last one found is tried first. */
static uint8_t *host_page(struct emu_cpu *c, uint64_t pa, bool write)
{
	uint64_t page = pa & ~0xfffULL;
	const struct gmem_region *r = gmem_find_near(&c->vm->mem, c->last_region, page, 4096);

	if (!r)
		return NULL;
	c->last_region = r;
	if (write && r->kind != GMEM_RAM)
		return NULL;
	return r->hva + (page - r->gpa);
}

/* Called after every guest write to a page with EMU_PAGE_* flags (after:
 * a vCPU that decodes the page marks it first, then reads its
 * generation, then its bytes; so if it read the generation this bumps,
 * it reads the bytes written too); true if the page held cached code.
 * A watched page is now dirty. */
bool emu_code_written(struct emu_vm *evm, uint64_t pa)
{
	uint64_t pn = pa >> 12;
	uint8_t was;

	if (pn >= evm->npages || !evm->code_page[pn])
		return false;
	was = __atomic_fetch_and(&evm->code_page[pn], 0, __ATOMIC_ACQ_REL);
	if (!(was & EMU_PAGE_CODE))
		return false;
	__atomic_add_fetch(&evm->page_gen[pn], 1, __ATOMIC_RELEASE);
	return true;
}

static void drop_write_tags(struct emu_vm *evm, uint64_t first, uint64_t n);

/*
 * The dirty log of device memory (gmem_fetch_dirty): a page is dirty
 * when a write cleared its watch flag; fetching sets the flag again, so
 * the page's next write takes the slow path once and marks it.
 */
int emu_dirty_fetch(void *opaque, unsigned idx, uint64_t *bitmap)
{
	struct emu_vm *evm = opaque;
	const struct gmem_region *r = &evm->vm->mem.regions[idx];
	uint64_t first = r->gpa >> 12, n = r->size >> 12, i;
	bool any_clear = false;

	if (first + n > evm->npages)
		return -ERANGE;
	for (i = 0; i < n; i++) {
		uint8_t was = __atomic_fetch_or(&evm->code_page[first + i],
						EMU_PAGE_WATCH, __ATOMIC_SEQ_CST);

		if (!(was & EMU_PAGE_WATCH))
			bitmap[i / 64] |= 1ULL << (i % 64);
		any_clear |= !was;
	}
	/* (as emu_page_flags_set, for the pages whose flags were clear) */
	if (any_clear)
		drop_write_tags(evm, first, n);
	return 0;
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

/* Each CPU sees its own local APIC at its APIC base while it is enabled
 * in xAPIC mode (an x2APIC answers only to MSRs). */
static bool is_apic_page(struct emu_cpu *c, uint64_t pa)
{
	return (pa & ~0xfffULL) == (c->s.apic_base & 0xfffffff000ULL) &&
	       (c->s.apic_base & (3ULL << 10)) == (1ULL << 11);
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
	const struct gmem_region *r;
	uint8_t *h;

	if ((pa & 0xfff) + size <= 4096 && (h = host_page(c, pa, true))) {
		memcpy(h + (pa & 0xfff), &val, size);
		note_write(c, pa);
		return;
	}
	if ((r = gmem_find(&c->vm->mem, pa, size))) {
		/* RAM across a page boundary, ROM (writes ignored), or flash
		 * in read-array mode (its commands go to the device). */
		if (gmem_ptr_rw(&c->vm->mem, pa, size)) {
			gmem_write(&c->vm->mem, pa, &val, size); /* notifies */
			c->blk = NULL;
		} else if (r->rom_device) {
			bus_write(&c->vm->mmio, pa, &val, size);
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

/*
 * Large pages: the TLB caches them one 4 KiB piece at a time (so that the
 * fast path stays a single lookup), and remembers which large pages it
 * holds pieces of (struct tlb_large).  INVLPG of an address in one of them
 * drops all the pieces of that page; when more large pages were filled
 * than the list holds, the rest are covered by a bounding range (one per
 * half of the address space, so that the kernel's large pages do not
 * widen it over user space), and an INVLPG inside it flushes the whole
 * TLB.  Nothing of this costs anything on a TLB hit; a fill from a large
 * page scans the short list.  Records may outlive their pieces (evicted
 * by other fills): that only makes an INVLPG do more than it must.
 */

/*
 * Fold entry i into its tags (struct tlb_fast).  A write tag is set only
 * while the page's flags are clear; it is set first and the flags are
 * looked at after, while emu_page_flags_set sets them first and looks at
 * the tags after (both with a full barrier between, with other vCPUs
 * about): so one of them sees the other, and the tag is dropped.
 */
static void tlb_fast_update(struct emu_cpu *c, unsigned i)
{
	static const uint8_t no_flags;
	const struct tlb_entry *e = &c->tlb[i];
	const struct emu_vm *evm = c->evm;
	bool fast = e->vpage != ~0ULL && e->host;
	const uint8_t *flags = fast && e->ppage < evm->npages ? &evm->code_page[e->ppage]
							     : &no_flags;
	bool writable = false;

	for (unsigned user = 0; user < 2; user++) {
		struct tlb_fast *f = &c->tlb_fast[user][i];
		bool w = fast && (e->perms & (TLB_WRITE_S << user));

		f->read_tag = fast && (e->perms & (TLB_READ_S << user)) ? e->vpage << 12
									: TLB_TAG_NONE;
		__atomic_store_n(&f->write_tag, w ? e->vpage << 12 : TLB_TAG_NONE,
				 __ATOMIC_RELAXED);
		writable |= w;
		if (!fast)
			continue;
		f->addend = (uint64_t)(uintptr_t)e->host - (e->vpage << 12);
		f->page_flags = flags;
	}
	if (!writable)
		return;
	if (evm->smp)
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(flags, __ATOMIC_RELAXED))
		for (unsigned user = 0; user < 2; user++)
			__atomic_store_n(&c->tlb_fast[user][i].write_tag, TLB_TAG_NONE,
					 __ATOMIC_RELAXED);
}

static void drop_write_tag(struct emu_cpu *c, unsigned i, uint64_t first, uint64_t n)
{
	if (__atomic_load_n(&c->tlb[i].ppage, __ATOMIC_RELAXED) - first >= n)
		return;
	for (unsigned user = 0; user < 2; user++)
		__atomic_store_n(&c->tlb_fast[user][i].write_tag, TLB_TAG_NONE, __ATOMIC_RELAXED);
}

/* Drop the write tags of every vCPU's entries for physical pages in
 * [first, first + n). */
static void drop_write_tags(struct emu_vm *evm, uint64_t first, uint64_t n)
{
	const struct vm *vm = evm->vm;

	for (unsigned v = 0; v < vm->ncpus; v++) {
		struct emu_cpu *c = vm->vcpus[v].accel_data;

		if (!c)
			continue;
		for (unsigned i = 0; i < TLB_ENTRIES; i++)
			drop_write_tag(c, i, first, n);
	}
}

void emu_page_flags_set(struct emu_cpu *c, uint64_t pn, uint8_t flags)
{
	/* flags already set: no write tag allows the page (tlb_fast_update) */
	if (!__atomic_fetch_or(&c->evm->code_page[pn], flags, __ATOMIC_SEQ_CST))
		drop_write_tags(c->evm, pn, 1);
}

/* A write the TLB entry allows (at this privilege) went the slow way
 * while its write tag was missing: the page's flags were set (the write
 * cleared them) or the tags dropped when they were; fold them again, so
 * that the next writes are fast.  (Code outside 64-bit mode writes here
 * every time: with the tag in place, nothing to do.) */
static void tlb_write_refold(struct emu_cpu *c, unsigned i, bool user)
{
	if (c->tlb_fast[user][i].write_tag == TLB_TAG_NONE)
		tlb_fast_update(c, i);
}

static void tlb_drop(struct emu_cpu *c, unsigned i)
{
	c->tlb[i].vpage = ~0ULL;
	tlb_fast_update(c, i);
}

static void tlb_large_forget_all(struct emu_cpu *c)
{
	c->tlb_nlarge = 0;
	for (int h = 0; h < 2; h++) {
		c->tlb_large_lo[h] = ~0ULL;
		c->tlb_large_hi[h] = 0;
	}
}

/* Entry i now holds a page that is not global: a flush of those must
 * find it. */
static void tlb_list(struct emu_cpu *c, unsigned i)
{
	if (c->tlb_nlisted < TLB_LISTED)
		c->tlb_listed[c->tlb_nlisted] = (uint16_t)i;
	if (c->tlb_nlisted <= TLB_LISTED)
		c->tlb_nlisted++;
}

static void tlb_flush_entry(struct emu_cpu *c, unsigned i, bool global_too)
{
	if (c->tlb[i].vpage != ~0ULL && (global_too || !(c->tlb[i].perms & TLB_GLOBAL)))
		tlb_drop(c, i);
}

void emu_tlb_flush(struct emu_cpu *c, bool global_too)
{
	unsigned i, n = 0, listed = c->tlb_nlisted;

	c->tlb_gen++;
	if (global_too)
		c->tlb_gen_global = (c->tlb_gen_global + 1) | 1ULL << 63;
	c->blk = NULL;
	/* a context switch drops a process's few entries, not the table:
	 * the entries that are not global were all filled since the last
	 * flush and listed then, unless more were than the list holds */
	c->tlb_nlisted = 0;
	if (!global_too && listed <= TLB_LISTED) {
		for (i = 0; i < listed; i++)
			tlb_flush_entry(c, c->tlb_listed[i], false);
	} else {
		for (i = 0; i < TLB_ENTRIES; i++)
			tlb_flush_entry(c, i, global_too);
	}
	if (global_too) {
		tlb_large_forget_all(c);
		return;
	}
	/* Keep the global large pages; the bounding range stays as it is. */
	for (i = 0; i < c->tlb_nlarge; i++)
		if (c->tlb_large[i].global)
			c->tlb_large[n++] = c->tlb_large[i];
	c->tlb_nlarge = n;
}

/* Drop every TLB entry for a linear address in [base, base + size). */
static void tlb_flush_range(struct emu_cpu *c, uint64_t base, uint64_t size)
{
	uint64_t first = base >> 12, n = size >> 12, vp;
	unsigned i;

	if (n >= TLB_ENTRIES) {
		for (i = 0; i < TLB_ENTRIES; i++)
			if (c->tlb[i].vpage - first < n)
				tlb_drop(c, i);
		return;
	}
	for (vp = first; vp < first + n; vp++)
		if (c->tlb[vp % TLB_ENTRIES].vpage == vp)
			tlb_drop(c, vp % TLB_ENTRIES);
}

void emu_tlb_flush_page(struct emu_cpu *c, uint64_t lin)
{
	struct tlb_entry *e = &c->tlb[(lin >> 12) % TLB_ENTRIES];
	unsigned i, n = 0;

	c->tlb_gen++;
	if (lin >> 63)
		c->tlb_gen_global = (c->tlb_gen_global + 1) | 1ULL << 63;
	c->blk = NULL;
	if (e->vpage == lin >> 12)
		tlb_drop(c, (lin >> 12) % TLB_ENTRIES);
	if (lin >= c->tlb_large_lo[lin >> 63] && lin <= c->tlb_large_hi[lin >> 63]) {
		emu_tlb_flush(c, true);
		return;
	}
	for (i = 0; i < c->tlb_nlarge; i++) {
		struct tlb_large *l = &c->tlb_large[i];
		if (lin - l->base < l->size)
			tlb_flush_range(c, l->base, l->size);
		else
			c->tlb_large[n++] = *l;
	}
	c->tlb_nlarge = n;
}

/* Remember that the TLB holds pieces of the large page at base. */
static void tlb_note_large(struct emu_cpu *c, uint64_t base, uint64_t size, bool global)
{
	unsigned i, h;

	for (i = 0; i < c->tlb_nlarge; i++) {
		struct tlb_large *l = &c->tlb_large[i];
		if (l->base == base && l->size == size) {
			l->global |= global;
			return;
		}
	}
	if (c->tlb_nlarge < TLB_LARGE_MAX) {
		c->tlb_large[c->tlb_nlarge++] = (struct tlb_large){ base, size, global };
		return;
	}
	h = base >> 63;
	if (base < c->tlb_large_lo[h])
		c->tlb_large_lo[h] = base;
	if (base + size - 1 > c->tlb_large_hi[h])
		c->tlb_large_hi[h] = base + size - 1;
}

static void tlb_fill(struct emu_cpu *c, uint64_t lin, uint64_t pa, uint32_t perms)
{
	struct tlb_entry *e = &c->tlb[(lin >> 12) % TLB_ENTRIES];
	/* (a page that is not global is listed already) */
	bool listed = e->vpage != ~0ULL && !(e->perms & TLB_GLOBAL);

	if (!listed && !(perms & TLB_GLOBAL))
		tlb_list(c, (lin >> 12) % TLB_ENTRIES);
	e->vpage = lin >> 12;
	__atomic_store_n(&e->ppage, pa >> 12, __ATOMIC_RELAXED);  /* (drop_write_tags) */
	e->perms = perms;
	e->host = host_page(c, pa, false);
	/* ROM and MMIO pages take the slow path for writes. */
	if (!e->host || !host_page(c, pa, true))
		e->perms &= ~(TLB_WRITE_S | TLB_WRITE_U);
	/* Every data access to a page a data breakpoint covers is slow. */
	if (c->dbg_data && emu_debug_page_armed(c, lin))
		e->perms &= ~(TLB_READ_S | TLB_READ_U | TLB_WRITE_S | TLB_WRITE_U);
	tlb_fast_update(c, (lin >> 12) % TLB_ENTRIES);
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

/* Address bits from MAXPHYADDR up to (not including) bit top. */
#define ABOVE_MAXPHY(top) (((1ULL << (top)) - 1) & ~((1ULL << EMU_MAXPHYADDR) - 1))

/*
 * The reserved bits of a paging-structure entry at this level (4 = PML4E,
 * 3 = PDPTE, 2 = PDE, 1 = PTE) that maps a large page (ps) or not.
 */
static uint64_t reserved_bits(struct emu_cpu *c, unsigned level, bool ps, bool lm,
			      unsigned esize)
{
	uint64_t r;

	if (esize == 4)  /* 32-bit paging: bit 21 of a 4 MiB PDE (PSE-36) */
		return ps ? 1ULL << 21 : 0;
	/* 4-level: bits 51:M (62:52 are ignored); PAE: bits 62:M. */
	r = ABOVE_MAXPHY(lm ? 52 : 63);
	if (!(c->s.efer & EFER_NXE))
		r |= PTE_NX;
	if (level == 4)
		r |= PTE_PS;
	else if (ps)  /* large page: between the PAT bit and the address */
		r |= level == 3 ? 0x3fffe000ULL : 0x1fe000ULL;
	return r;
}

/*
 * Walk the page tables for lin.  Returns true with *pa and *page_size set,
 * or false with *err set to the page-fault error code (P and RSVD bits
 * only).  Like the processor, it sets the accessed bit of each non-leaf
 * entry once it has checked it, and the leaf's accessed (and dirty) bits
 * only when the access is allowed: a walk that meets a reserved bit or a
 * protection fault leaves the entry that caused it untouched.
 */
static bool walk(struct emu_cpu *c, uint64_t lin, enum access acc, bool user,
		 uint64_t *pa, uint32_t *err, uint32_t *perms, uint64_t *page_size)
{
	bool lm = c->s.efer & EFER_LMA, pae = c->s.cr4 & CR4_PAE;
	bool nxe = c->s.efer & EFER_NXE;
	uint64_t table, entry = 0, addr = 0;
	uint64_t us = 1, rw = 1, nx = 0;
	unsigned level, levels, esize = (lm || pae) ? 8 : 4;

	*page_size = 4096;
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
		unsigned shift = esize == 8 ? 12 + 9 * (level - 1) : 12 + 10 * (level - 1);
		uint64_t idx = (lin >> shift) & (esize == 8 ? 0x1ff : 0x3ff);
		bool ps;

		addr = table + idx * esize;
		entry = emu_phys_read(c, addr, esize);
		if (!(entry & PTE_P)) {
			*err = 0;
			return false;
		}
		/* PS makes a large page in a PDE (32-bit paging: with CR4.PSE)
		 * and, in long mode, a PDPTE; it is reserved in a PML4E. */
		ps = (entry & PTE_PS) && (level == 2 || level == 3) &&
		     (esize == 8 || (c->s.cr4 & CR4_PSE));
		if (entry & reserved_bits(c, level, ps, lm, esize)) {
			*err = PF_RSVD | PF_P;
			return false;
		}
		us &= (entry >> 2) & 1;
		rw &= (entry >> 1) & 1;
		if (esize == 8)
			nx |= entry >> 63;
		if (level == 1) {
			*pa = (entry & (esize == 8 ? PTE_ADDR : 0xfffff000)) | (lin & 0xfff);
			break;
		}
		if (ps) {
			*page_size = 1ULL << shift;
			if (esize == 8)
				*pa = (entry & PTE_ADDR & ~(*page_size - 1)) | (lin & (*page_size - 1));
			else  /* PSE-36: bits 20:13 are address bits 39:32 */
				*pa = (entry & 0xffc00000) | ((entry & 0x1fe000) << 19) |
				      (lin & (*page_size - 1));
			break;
		}
		if (!(entry & PTE_A))
			emu_phys_write(c, addr, esize, entry | PTE_A);
		table = entry & (esize == 8 ? PTE_ADDR : 0xfffff000);
	}

	/* Permission checks. */
	if (user && !us)
		goto protection;
	if (acc == ACC_WRITE && !rw && (user || (c->s.cr0 & CR0_WP)))
		goto protection;
	if (acc == ACC_EXEC && nx && nxe)
		goto protection;

	if (!(entry & PTE_A) || (acc == ACC_WRITE && !(entry & PTE_D))) {
		entry |= PTE_A | (acc == ACC_WRITE ? PTE_D : 0);
		emu_phys_write(c, addr, esize, entry);
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
	uint64_t page_size;
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
	if (!walk(c, lin, acc, user, pa, &err, &perms, &page_size)) {
		if (raise)
			page_fault(c, lin, err, acc, user);
		return false;
	}
	*pa &= ~a20_clear(c);
	if (page_size > 4096)
		tlb_note_large(c, lin & ~(page_size - 1), page_size, perms & TLB_GLOBAL);
	tlb_fill(c, lin, *pa, perms);
	return true;
}

uint64_t emu_translate(struct emu_cpu *c, uint64_t lin, enum access acc, bool user)
{
	uint64_t pa;

	translate(c, lin, acc, user, true, &pa);
	return pa;
}

bool emu_probe_code(struct emu_cpu *c, uint64_t lin, uint64_t *pa)
{
	return translate(c, lin, ACC_EXEC, emu_user(c), false, pa);
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
			memcpy(e->host + (lin & 0xfff), &val, size);
			note_write(c, e->ppage << 12);
			tlb_write_refold(c, (lin >> 12) % TLB_ENTRIES, user);
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
	if (sg->s && (sg->type & 0xc) == 0x4) {
		/* expand-down data: above the limit, up to 4 GiB - 1 with B
		 * set, else 64 KiB - 1 */
		uint64_t top = sg->db ? 0xffffffffULL : 0xffffULL;

		if (off <= sg->limit || off + size - 1 > top)
			emu_raise(c, seg == SEG_SS ? EXC_SS : EXC_GP, 0, true);
	} else if (off + size - 1 > sg->limit) {
		/* expand-up data and code: offset + size - 1 within limit */
		emu_raise(c, seg == SEG_SS ? EXC_SS : EXC_GP, 0, true);
	}
	return (sg->base + off) & 0xffffffffULL;
}

uint64_t emu_read_slow(struct emu_cpu *c, int seg, uint64_t off, unsigned size)
{
	uint64_t lin = emu_linear(c, seg, off, size, false);

	if (c->dbg_data)
		emu_debug_data(c, lin, size, false);
	return emu_read_lin(c, lin, size, emu_user(c));
}

void emu_write_slow(struct emu_cpu *c, int seg, uint64_t off, unsigned size, uint64_t val)
{
	uint64_t lin = emu_linear(c, seg, off, size, true);

	if (c->dbg_data)
		emu_debug_data(c, lin, size, true);
	emu_write_lin(c, lin, size, val, emu_user(c));
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

	if (c->dbg_io)
		emu_debug_io(c, port, size);
	bus_read(&c->vm->pio, port, &v, size);
	return v;
}

void emu_pio_write(struct emu_cpu *c, uint16_t port, unsigned size, uint64_t val)
{
	uint64_t a20 = a20_clear(c);

	if (c->dbg_io)
		emu_debug_io(c, port, size);
	bus_write(&c->vm->pio, port, &val, size);
	if (a20_clear(c) != a20)
		emu_tlb_flush(c, true);
}
