/*
 * System instructions: descriptor tables, control and debug registers,
 * MSRs, CPUID, time stamp counter, fast system calls, and cache/TLB
 * maintenance.  What an operating system kernel runs.
 */
#include <string.h>
#include <time.h>

#include "accel/emu/exec.h"
#include "hw/lapic.h"
#include "util/log.h"
#include "vm/vm.h"
#include "vm/vm_clock.h"

#define MSR_TSC              0x10
#define MSR_PLATFORM_ID      0x17
#define MSR_APIC_BASE        0x1b
#define MSR_BIOS_SIGN        0x8b
#define MSR_MTRRCAP          0xfe
#define MSR_SYSENTER_CS      0x174
#define MSR_SYSENTER_ESP     0x175
#define MSR_SYSENTER_EIP     0x176
#define MSR_MCG_CAP          0x179
#define MSR_MCG_STATUS       0x17a
#define MSR_MISC_ENABLE      0x1a0
#define MSR_ARCH_CAPABILITIES 0x10a
#define MSR_PAT              0x277
#define MSR_TSC_DEADLINE     0x6e0
#define MSR_MTRR_DEF_TYPE    0x2ff
#define MSR_EFER             0xc0000080
#define MSR_STAR             0xc0000081
#define MSR_LSTAR            0xc0000082
#define MSR_CSTAR            0xc0000083
#define MSR_SFMASK           0xc0000084
#define MSR_FS_BASE          0xc0000100
#define MSR_GS_BASE          0xc0000101
#define MSR_KERNEL_GS_BASE   0xc0000102
#define MSR_TSC_AUX          0xc0000103

/* IA32_MISC_ENABLE: the bits software may change (fast strings, automatic
 * thermal control, EIST, MONITOR FSM, limit CPUID maxval, xTPR message
 * disable, XD bit disable) and the read-only ones; all others reserved. */
#define MISC_ENABLE_RW ((1ULL << 0) | (1ULL << 3) | (1ULL << 16) | (1ULL << 18) | \
			MISC_ENABLE_LIMIT_CPUID | (1ULL << 23) | MISC_ENABLE_XD_DISABLE)
#define MISC_ENABLE_RO ((1ULL << 7) | (1ULL << 11) | (1ULL << 12))
#define MISC_ENABLE_LIMIT_CPUID (1ULL << 22)
#define MISC_ENABLE_XD_DISABLE  (1ULL << 34)

static void require_cpl0(struct emu_cpu *c)
{
	if (c->cpl != 0)
		emu_raise_gp(c, 0);
}

static bool protected_mode(const struct emu_cpu *c)
{
	return (c->s.cr0 & CR0_PE) && !(c->s.rflags & RFLAGS_VM);
}

/* ---- time ---- */

uint64_t emu_rdtsc(struct emu_cpu *c)
{
	/* A 1 GHz invariant TSC derived from the guest's clock (the host's
	 * monotonic clock less the time paused). */
	return vm_clock_ns() + c->tsc_offset;
}

/*
 * IA32_ARCH_CAPABILITIES: the emulated CPU executes nothing
 * speculatively, so it has none of the speculative-execution and
 * buffer-sampling weaknesses these bits rule out.  Without them Linux
 * assumes an Intel CPU has them all and pays for it on every system call
 * and interrupt (page-table isolation: two CR3 writes and TLB flushes;
 * VERW before each return to user space; return thunks).  The bits: no
 * Meltdown (RDCL_NO, 0), SSB (4), MDS (5), PSCHANGE_MC (6), TAA (8),
 * SBDR/SSDP (13), FBSDP (14), PSDP (15), BHI (20), PBRSB (24), GDS (26),
 * RFDS (27), ITS (62).
 */
#define ARCH_CAP_NOT_AFFECTED ((1ULL << 0) | (1ULL << 4) | (1ULL << 5) | (1ULL << 6) | \
			       (1ULL << 8) | (1ULL << 13) | (1ULL << 14) | (1ULL << 15) | \
			       (1ULL << 20) | (1ULL << 24) | (1ULL << 26) | (1ULL << 27) | \
			       (1ULL << 62))

/* ---- CPUID ---- */

static void put_str(uint32_t out[4], const char *s, const int order[4])
{
	for (int i = 0; i < 4; i++)
		if (order[i] >= 0)
			memcpy(&out[order[i]], s + i * 4, 4);
}

void emu_cpuid(struct emu_cpu *c, uint32_t leaf, uint32_t sub, uint32_t out[4])
{
	static const char brand[48] = "wirt x86-64 emulated CPU";
	static const int vendor_order[4] = { 1, 3, 2, -1 }; /* EBX, EDX, ECX */
	enum { A, B, C, D };

	memset(out, 0, 16);
	switch (leaf) {
	case 0:
		out[A] = (c->misc_enable & MISC_ENABLE_LIMIT_CPUID) ? 2 : 0x16;
		put_str(out, "GenuineIntel", vendor_order);
		break;
	case 1:
		out[A] = 0x000606a0; /* family 6 */
		out[B] = (c->vcpu ? (uint32_t)c->vcpu->index << 24 : 0) | (8 << 8) |
			 (1 << 16);
		out[C] = (1u << 0) |   /* SSE3 */
			 (1u << 9) |   /* SSSE3 */
			 (1u << 13) |  /* CMPXCHG16B */
			 (1u << 19) |  /* SSE4.1 */
			 (1u << 20) |  /* SSE4.2 */
			 (1u << 21) |  /* x2APIC */
			 (1u << 24) |  /* TSC-deadline timer */
			 (1u << 23) |  /* POPCNT */
			 (1u << 30) |  /* RDRAND: the host's random numbers, so that a
					* guest's pool is seeded at boot */
			 (1u << 31);   /* running under a hypervisor */
		out[D] = (1u << 0) |   /* FPU */
			 (1u << 2) |   /* DE */
			 (1u << 3) |   /* PSE */
			 (1u << 4) |   /* TSC */
			 (1u << 5) |   /* MSR */
			 (1u << 6) |   /* PAE */
			 (1u << 8) |   /* CX8 */
			 (1u << 9) |   /* APIC */
			 (1u << 11) |  /* SEP */
			 (1u << 13) |  /* PGE */
			 (1u << 15) |  /* CMOV */
			 (1u << 16) |  /* PAT */
			 (1u << 17) |  /* PSE-36: 4 MiB pages above 4 GiB */
			 (1u << 19) |  /* CLFLUSH */
			 (1u << 23) |  /* MMX */
			 (1u << 24) |  /* FXSAVE/FXRSTOR */
			 (1u << 25) |  /* SSE */
			 (1u << 26);   /* SSE2 */
		/* An APIC globally disabled in IA32_APIC_BASE is not there. */
		if (c->lapic && !lapic_hw_enabled(c->lapic))
			out[D] &= ~(1u << 9);
		break;
	case 2: /* cache descriptors: 0xff = see leaf 4 */
		out[A] = 0x0000ff01;
		break;
	case 4: { /* deterministic cache parameters: L1d, L1i 32 KiB, L2 1 MiB */
		static const struct { uint8_t type, level; uint16_t ways, sets; } caches[] = {
			{ 1, 1, 8, 64 }, { 2, 1, 8, 64 }, { 3, 2, 16, 1024 },
		};
		unsigned ncpu = c->vm && c->vm->config ? c->vm->config->cpus : 1;
		if (sub < 3) {
			out[A] = caches[sub].type | (caches[sub].level << 5) | (1u << 8) |
				 ((ncpu - 1) << 26);
			out[B] = ((caches[sub].ways - 1u) << 22) | 63;  /* 64-byte lines */
			out[C] = caches[sub].sets - 1u;
		}
		break;
	}
	case 7: /* structured extended features: subleaf 0 only */
		if (sub == 0) {
			out[B] = 1u << 18;  /* RDSEED */
			out[D] = 1u << 29;  /* IA32_ARCH_CAPABILITIES */
		}
		break;
	case 0x15: /* TSC / crystal ratio: a 1 GHz crystal, TSC = crystal */
		out[A] = 1;
		out[B] = 1;
		out[C] = 1000000000;
		break;
	case 0x16: /* base and maximum frequency in MHz */
		out[A] = out[B] = 1000;
		out[C] = 100;
		break;
	case 0x80000000:
		out[A] = 0x80000008;
		break;
	case 0x80000001:
		out[C] = (1u << 0) |   /* LAHF/SAHF in 64-bit mode */
			 (1u << 5);    /* LZCNT */
		out[D] = (1u << 11) |  /* SYSCALL */
			 (1u << 20) |  /* NX */
			 (1u << 26) |  /* 1 GiB pages */
			 (1u << 27) |  /* RDTSCP */
			 (1u << 29);   /* long mode */
		if (c->misc_enable & MISC_ENABLE_XD_DISABLE)
			out[D] &= ~(1u << 20);
		break;
	case 0x80000002: case 0x80000003: case 0x80000004:
		memcpy(out, brand + (leaf - 0x80000002) * 16, 16);
		break;
	case 0x80000007:
		out[D] = 1u << 8; /* invariant TSC */
		break;
	case 0x80000008:
		out[A] = 0x3000 | EMU_MAXPHYADDR; /* 48 linear address bits */
		break;
	}
}

/* ---- MSRs ---- */

/*
 * MSR policy (docs/design-notes.md, "MSRs"): the MSRs modelled here read
 * and write as the SDM describes them; any other MSR, a write to a
 * read-only one, a reserved bit set or a non-canonical address makes
 * RDMSR/WRMSR raise #GP(0) in the guest, before anything is changed.
 */

uint64_t emu_rdmsr(struct emu_cpu *c, uint32_t msr, bool *ok)
{
	*ok = true;
	switch (msr) {
	case MSR_TSC: return emu_rdtsc(c);
	case MSR_PLATFORM_ID: return 0;
	case MSR_APIC_BASE: return lapic_get_base(c->lapic);
	case MSR_TSC_DEADLINE: return lapic_get_tsc_deadline(c->lapic);
	case MSR_BIOS_SIGN: return 0;
	case MSR_MTRRCAP: return 0;
	case MSR_MTRR_DEF_TYPE: return c->mtrr_def_type;
	case MSR_SYSENTER_CS: return c->sysenter_cs;
	case MSR_SYSENTER_ESP: return c->sysenter_esp;
	case MSR_SYSENTER_EIP: return c->sysenter_eip;
	case MSR_MCG_CAP: case MSR_MCG_STATUS: return 0;
	case MSR_MISC_ENABLE: return c->misc_enable;
	case MSR_ARCH_CAPABILITIES: return ARCH_CAP_NOT_AFFECTED;
	case MSR_PAT: return c->pat;
	case MSR_EFER: return c->s.efer;
	case MSR_STAR: return c->star;
	case MSR_LSTAR: return c->lstar;
	case MSR_CSTAR: return c->cstar;
	case MSR_SFMASK: return c->sfmask;
	case MSR_FS_BASE: return c->s.seg[SEG_FS].base;
	case MSR_GS_BASE: return c->s.seg[SEG_GS].base;
	case MSR_KERNEL_GS_BASE: return c->kernel_gs_base;
	case MSR_TSC_AUX: return c->tsc_aux;
	case LAPIC_X2APIC_MSR_FIRST ... LAPIC_X2APIC_MSR_LAST: {
		uint64_t v;
		*ok = lapic_msr_read(c->lapic, msr, &v) == 0;
		return *ok ? v : 0;
	}
	}
	*ok = false;
	return 0;
}

static bool canonical(uint64_t a)
{
	return (uint64_t)((int64_t)(a << 16) >> 16) == a;
}

/* Memory types a PAT entry may hold: UC, WC, WT, WP, WB, UC-. */
static bool pat_type_ok(unsigned t)
{
	return t == 0 || t == 1 || t == 4 || t == 5 || t == 6 || t == 7;
}

static bool pat_ok(uint64_t v)
{
	for (int i = 0; i < 8; i++)
		if (!pat_type_ok((v >> (i * 8)) & 0xff))
			return false;
	return true;
}

/* ... and an MTRR: the same but UC-. */
static bool mtrr_type_ok(unsigned t)
{
	return t == 0 || t == 1 || t == 4 || t == 5 || t == 6;
}

/* The MSRs that hold a linear address: they take canonical values only. */
static uint64_t *address_msr(struct emu_cpu *c, uint32_t msr)
{
	switch (msr) {
	case MSR_SYSENTER_ESP: return &c->sysenter_esp;
	case MSR_SYSENTER_EIP: return &c->sysenter_eip;
	case MSR_LSTAR: return &c->lstar;
	case MSR_CSTAR: return &c->cstar;
	case MSR_FS_BASE: return &c->s.seg[SEG_FS].base;
	case MSR_GS_BASE: return &c->s.seg[SEG_GS].base;
	case MSR_KERNEL_GS_BASE: return &c->kernel_gs_base;
	}
	return NULL;
}

/* Write an MSR; false (and nothing changed) if the write must #GP. */
bool emu_wrmsr(struct emu_cpu *c, uint32_t msr, uint64_t v)
{
	uint64_t *addr = address_msr(c, msr);

	if (addr) {
		if (!canonical(v))
			return false;
		*addr = v;
		return true;
	}
	switch (msr) {
	case MSR_TSC:
		c->tsc_offset += v - emu_rdtsc(c);
		lapic_tsc_changed(c->lapic);
		return true;
	case MSR_APIC_BASE:
		if (!lapic_set_base(c->lapic, v))
			return false;
		c->s.apic_base = lapic_get_base(c->lapic);
		return true;
	case MSR_TSC_DEADLINE:
		lapic_set_tsc_deadline(c->lapic, v);
		return true;
	case MSR_BIOS_SIGN: return true;
	case MSR_MTRR_DEF_TYPE:
		/* Type in 7:0, FE bit 10, E bit 11; the rest is reserved. */
		if ((v & ~0xcffULL) || !mtrr_type_ok(v & 0xff))
			return false;
		c->mtrr_def_type = v;
		return true;
	case MSR_SYSENTER_CS: c->sysenter_cs = v & 0xffff; return true;
	case MSR_MCG_STATUS: return true;
	case MSR_MISC_ENABLE:
		if (v & ~(MISC_ENABLE_RW | MISC_ENABLE_RO))
			return false;
		/* XD disable hides NX from CPUID and makes EFER.NXE
		 * reserved for later writes; an NXE already on stays. */
		c->misc_enable = (v & MISC_ENABLE_RW) | (c->misc_enable & MISC_ENABLE_RO);
		return true;
	case MSR_PAT:
		if (!pat_ok(v))
			return false;
		c->pat = v;
		return true;
	case MSR_EFER: {
		uint64_t allowed = EFER_SCE | EFER_LME | EFER_NXE;
		if (c->misc_enable & MISC_ENABLE_XD_DISABLE)
			allowed &= ~EFER_NXE;
		if (v & ~(allowed | EFER_LMA))
			return false;
		/* LME cannot change while paging is on; LMA is read-only. */
		if ((c->s.cr0 & CR0_PG) && ((v ^ c->s.efer) & EFER_LME))
			return false;
		c->s.efer = (v & allowed) | (c->s.efer & EFER_LMA);
		emu_tlb_flush(c, true);
		return true;
	}
	case MSR_STAR: c->star = v; return true;
	case MSR_SFMASK:
		if (v >> 32)
			return false;
		c->sfmask = v;
		return true;
	case MSR_TSC_AUX:
		if (v >> 32)
			return false;
		c->tsc_aux = v;
		return true;
	case LAPIC_X2APIC_MSR_FIRST ... LAPIC_X2APIC_MSR_LAST:
		return lapic_msr_write(c->lapic, msr, v) == 0;
	}
	return false;
}

/*
 * A guest may probe MSRs in a loop: say which access was refused (at
 * debug level) for the first few only, so that it cannot flood the log.
 */
static void msr_refused(const char *what, uint32_t msr, uint64_t v)
{
	static unsigned logged;
	unsigned n = __atomic_load_n(&logged, __ATOMIC_RELAXED);

	if (n > 8)
		return;
	n = __atomic_fetch_add(&logged, 1, __ATOMIC_RELAXED);
	if (n < 8)
		log_debug("emu: %s %#x (%#llx) refused: #GP", what, msr,
			  (unsigned long long)v);
	else if (n == 8)
		log_debug("emu: further refused MSR accesses are not logged");
}

/* ---- control registers ---- */

/*
 * PAE paging (not long mode) loads the four PDPTEs when CR3 is written
 * and when CR0 or CR4 changes turn it on or change its paging bits; a
 * present one with a reserved bit set (2:1, 8:5, MAXPHYADDR and up) makes
 * that MOV #GP.  (The walk still reads them from memory each time.)
 */
static bool pae_pdptes_ok(struct emu_cpu *c, uint64_t cr0, uint64_t cr4, uint64_t cr3)
{
	uint64_t rsvd = 0x1e6 | ~((1ULL << EMU_MAXPHYADDR) - 1);

	if (!(cr0 & CR0_PG) || !(cr4 & CR4_PAE) || (c->s.efer & EFER_LME))
		return true;
	for (unsigned i = 0; i < 4; i++) {
		uint64_t e = emu_phys_read(c, (cr3 & 0xffffffe0) + i * 8, 8);
		if ((e & 1) && (e & rsvd))
			return false;
	}
	return true;
}

void emu_write_cr(struct emu_cpu *c, int cr, uint64_t v)
{
	uint64_t old;

	switch (cr) {
	case 0:
		old = c->s.cr0;
		v |= CR0_ET;
		if (v >> 32)
			emu_raise_gp(c, 0);
		if ((v & CR0_PG) && !(v & CR0_PE))
			emu_raise_gp(c, 0);
		if ((v & CR0_NW) && !(v & CR0_CD))
			emu_raise_gp(c, 0);
		if ((v & CR0_PG) && !(old & CR0_PG) && (c->s.efer & EFER_LME)) {
			if (!(c->s.cr4 & CR4_PAE) || c->s.seg[SEG_CS].l)
				emu_raise_gp(c, 0);
			c->s.efer |= EFER_LMA;
		}
		if (!(v & CR0_PG) && (old & CR0_PG)) {
			if (c->code_size == 8)
				emu_raise_gp(c, 0);
			c->s.efer &= ~EFER_LMA;
		}
		if (((old ^ v) & (CR0_PG | CR0_CD | CR0_NW)) &&
		    !pae_pdptes_ok(c, v, c->s.cr4, c->s.cr3))
			emu_raise_gp(c, 0);
		c->s.cr0 = v;
		if ((old ^ v) & (CR0_PG | CR0_WP | CR0_PE))
			emu_tlb_flush(c, true);
		emu_update_mode(c);
		return;
	case 2:
		c->s.cr2 = v;
		return;
	case 3:
		/* Bits MAXPHYADDR-63 are reserved (bit 63 would be PCID's). */
		if (c->long_mode && (v >> EMU_MAXPHYADDR))
			emu_raise_gp(c, 0);
		if (!pae_pdptes_ok(c, c->s.cr0, c->s.cr4, v))
			emu_raise_gp(c, 0);
		c->s.cr3 = v;
		emu_tlb_flush(c, false);
		return;
	case 4: {
		if (v & ~EMU_CR4_ALLOWED)
			emu_raise_gp(c, 0);
		if (c->long_mode && !(v & CR4_PAE))
			emu_raise_gp(c, 0);
		old = c->s.cr4;
		if (((old ^ v) & (CR4_PGE | CR4_PAE | CR4_PSE)) &&
		    !pae_pdptes_ok(c, c->s.cr0, v, c->s.cr3))
			emu_raise_gp(c, 0);
		c->s.cr4 = v;
		if ((old ^ v) & (CR4_PGE | CR4_PAE | CR4_PSE))
			emu_tlb_flush(c, true);
		if ((old ^ v) & CR4_DE)
			emu_debug_update(c);  /* I/O breakpoints */
		return;
	}
	case 8:
		if (v >> 4)
			emu_raise_gp(c, 0);
		c->s.cr8 = v;
		return;
	}
	emu_raise_ud(c);
}

static uint64_t read_cr(struct emu_cpu *c, int cr)
{
	switch (cr) {
	case 0: return c->s.cr0;
	case 2: return c->s.cr2;
	case 3: return c->s.cr3;
	case 4: return c->s.cr4;
	case 8: return c->s.cr8;
	}
	emu_raise_ud(c);
}

/* ---- descriptor tables ---- */

static void load_system_segment(struct emu_cpu *c, struct segment *sg, uint16_t sel,
				bool tss)
{
	uint64_t lo, hi = 0, addr;
	unsigned type;

	if ((sel & ~3) == 0) {
		if (tss)
			emu_raise_gp(c, 0);
		*sg = (struct segment){ .selector = sel, .unusable = 1 };
		return;
	}
	if (sel & 4)
		emu_raise_gp(c, sel & 0xfffc);
	lo = emu_read_descriptor(c, sel, EXC_GP);
	type = (lo >> 40) & 0x1f;
	/* An available TSS (a 16-bit one only outside long mode) or an LDT. */
	if (tss ? (type != 0x9 && (type != 0x1 || c->long_mode)) : type != 0x2)
		emu_raise_gp(c, sel & 0xfffc);
	if (!((lo >> 47) & 1))
		emu_raise(c, EXC_NP, sel & 0xfffc, true);
	addr = c->s.gdt.base + (sel & ~7);
	if (c->long_mode) {
		/* 16-byte descriptor: the upper half's type field must be 0
		 * and the 64-bit base canonical. */
		if ((uint32_t)(sel & ~7) + 15 > c->s.gdt.limit)
			emu_raise_gp(c, sel & 0xfffc);
		hi = emu_read_sys(c, addr + 8, 8);
		if (((hi >> 40) & 0x1f) ||
		    !canonical(((hi & 0xffffffff) << 32) | ((lo >> 16) & 0xffffff) |
			       (((lo >> 56) & 0xff) << 24)))
			emu_raise_gp(c, sel & 0xfffc);
	}
	emu_seg_from_descriptor(sg, sel, lo);
	sg->base |= (hi & 0xffffffff) << 32;
	if (tss) {
		sg->type |= 2; /* busy */
		emu_write_sys(c, addr + 5, 1, ((lo >> 40) & 0xff) | 2);
	}
}

static void exec_group6(struct emu_cpu *c, const struct insn *in)
{
	unsigned g = in->reg & 7;
	uint16_t sel;

	if (!protected_mode(c))
		emu_raise_ud(c);
	switch (g) {
	case 0: /* SLDT */
	case 1: /* STR */
		sel = g == 0 ? c->s.ldt.selector : c->s.tr.selector;
		if (in->has_mem)
			rm_write(c, in, 2, sel);
		else
			reg_write(c, in, in->rm, in->opsize, sel);
		return;
	case 2: /* LLDT */
		require_cpl0(c);
		load_system_segment(c, &c->s.ldt, rm_read(c, in, 2), false);
		return;
	case 3: /* LTR */
		require_cpl0(c);
		load_system_segment(c, &c->s.tr, rm_read(c, in, 2), true);
		return;
	case 4: case 5: { /* VERR, VERW */
		uint16_t s = rm_read(c, in, 2);
		bool ok = false;
		if (s & ~3) {
			uint64_t lo;
			uint32_t limit = (s & 4) ? c->s.ldt.limit : c->s.gdt.limit;
			if ((uint32_t)(s & ~7) + 7 <= limit) {
				lo = emu_read_descriptor(c, s, EXC_GP);
				unsigned type = (lo >> 40) & 0xf, dpl = (lo >> 45) & 3;
				bool code = type & 8;
				ok = ((lo >> 44) & 1) &&
				     (g == 4 ? (!code || (type & 2)) : (!code && (type & 2))) &&
				     ((code && (type & 4)) || (dpl >= c->cpl && dpl >= (s & 3u)));
			}
		}
		emu_flags_set(c, RFLAGS_ZF, ok ? RFLAGS_ZF : 0);
		return;
	}
	}
	emu_raise_ud(c);
}

static void exec_group7(struct emu_cpu *c, const struct insn *in)
{
	unsigned g = in->reg & 7;
	uint64_t ea;

	if (!in->has_mem) {
		unsigned rm = in->rm & 7;
		switch (g * 8 + rm) {
		case 0x38: /* SWAPGS */
			if (c->code_size != 8)
				emu_raise_ud(c);
			require_cpl0(c);
			ea = c->s.seg[SEG_GS].base;
			c->s.seg[SEG_GS].base = c->kernel_gs_base;
			c->kernel_gs_base = ea;
			return;
		case 0x39: /* RDTSCP */
			if ((c->s.cr4 & CR4_TSD) && c->cpl)
				emu_raise_gp(c, 0);
			ea = emu_rdtsc(c);
			c->s.gpr[GPR_RAX] = ea & 0xffffffff;
			c->s.gpr[GPR_RDX] = ea >> 32;
			c->s.gpr[GPR_RCX] = c->tsc_aux;
			return;
		case 0x08: case 0x09: /* MONITOR, MWAIT: not advertised */
		default:
			break;
		}
		if (g == 4) { /* SMSW r */
			reg_write(c, in, in->rm, in->opsize, c->s.cr0);
			return;
		}
		if (g == 6) { /* LMSW r */
			require_cpl0(c);
			emu_write_cr(c, 0, (c->s.cr0 & ~0xeULL) | (rm_read(c, in, 2) & 0xf) |
				     (c->s.cr0 & CR0_PE));
			return;
		}
		emu_raise_ud(c);
	}
	ea = insn_ea(c, in);
	switch (g) {
	case 0: case 1: { /* SGDT, SIDT */
		const struct dtable *t = g == 0 ? &c->s.gdt : &c->s.idt;
		emu_write(c, insn_seg(in), ea, 2, t->limit);
		if (c->code_size == 8)
			emu_write(c, insn_seg(in), ea + 2, 8, t->base);
		else
			emu_write(c, insn_seg(in), (ea + 2) & emu_size_mask(in->adsize), 4,
				  t->base & 0xffffffff);
		return;
	}
	case 2: case 3: { /* LGDT, LIDT */
		struct dtable *t = g == 2 ? &c->s.gdt : &c->s.idt;
		uint16_t limit;
		uint64_t base;
		require_cpl0(c);
		limit = emu_read(c, insn_seg(in), ea, 2);
		if (c->code_size == 8) {
			base = emu_read(c, insn_seg(in), ea + 2, 8);
			if (!canonical(base))
				emu_raise_gp(c, 0);
		} else {
			base = emu_read(c, insn_seg(in), (ea + 2) & emu_size_mask(in->adsize), 4);
			if (in->opsize == 2)
				base &= 0xffffff;
		}
		t->limit = limit;
		t->base = base;
		return;
	}
	case 4: /* SMSW m16 */
		emu_write(c, insn_seg(in), ea, 2, c->s.cr0);
		return;
	case 6: /* LMSW m16 */
		require_cpl0(c);
		emu_write_cr(c, 0, (c->s.cr0 & ~0xeULL) |
			     (emu_read(c, insn_seg(in), ea, 2) & 0xf) | (c->s.cr0 & CR0_PE));
		return;
	case 7: /* INVLPG: no limit checks; a non-canonical address is a NOP */
		require_cpl0(c);
		if (c->code_size != 8 || insn_seg(in) >= SEG_FS)
			ea += c->s.seg[insn_seg(in)].base;
		if (c->code_size != 8)
			ea &= 0xffffffff;
		else if (!canonical(ea))
			return;
		emu_tlb_flush_page(c, ea);
		return;
	}
	emu_raise_ud(c);
}

/* LAR / LSL: access rights or limit of a descriptor, ZF says if valid. */
static void exec_lar_lsl(struct emu_cpu *c, const struct insn *in, bool lsl)
{
	uint16_t sel = rm_read(c, in, 2);
	uint32_t limit = (sel & 4) ? c->s.ldt.limit : c->s.gdt.limit;
	uint64_t d;
	unsigned type, dpl;
	bool ok;

	if (!protected_mode(c))
		emu_raise_ud(c);
	if (!(sel & ~3) || (uint32_t)(sel & ~7) + 7 > limit) {
		emu_flags_set(c, RFLAGS_ZF, 0);
		return;
	}
	d = emu_read_descriptor(c, sel, EXC_GP);
	type = (d >> 40) & 0x1f;
	dpl = (d >> 45) & 3;
	if (type & 0x10) /* code/data: conforming code is always visible */
		ok = (type & 0xc) == 0xc || (dpl >= c->cpl && dpl >= (sel & 3u));
	else
		ok = (type == 1 || type == 2 || type == 3 || type == 9 || type == 0xb ||
		      (!lsl && (type == 4 || type == 0xc || type == 5))) &&
		     dpl >= c->cpl && dpl >= (sel & 3u);
	if (!ok) {
		emu_flags_set(c, RFLAGS_ZF, 0);
		return;
	}
	if (lsl) {
		struct segment s;
		emu_seg_from_descriptor(&s, sel, d);
		reg_write(c, in, in->reg, in->opsize, s.limit);
	} else {
		reg_write(c, in, in->reg, in->opsize, (d >> 32) & 0x00f0ff00);
	}
	emu_flags_set(c, RFLAGS_ZF, RFLAGS_ZF);
}

/* ---- fast system calls ---- */

static void flat_segments(struct emu_cpu *c, uint16_t cs, uint16_t ss, bool lm, unsigned dpl)
{
	struct segment *s;

	s = &c->s.seg[SEG_CS];
	*s = cpu_flat_code_segment(cs, lm);
	s->dpl = dpl;
	s->type = 0xb;
	s = &c->s.seg[SEG_SS];
	*s = cpu_flat_data_segment(ss);
	s->dpl = dpl;
	s->type = 0x3;
	c->cpl = dpl;
	emu_update_mode(c);
}

static void exec_syscall(struct emu_cpu *c)
{
	uint16_t sel = (c->star >> 32) & 0xfffc;

	if (!(c->s.efer & EFER_SCE) || !c->long_mode)
		emu_raise_ud(c);
	c->s.gpr[GPR_RCX] = c->s.rip;
	c->s.gpr[GPR_R11] = emu_get_rflags(c) & ~RFLAGS_RF;
	flat_segments(c, sel, sel + 8, true, 0);
	c->s.rip = c->code_size == 8 ? c->lstar : c->cstar;
	emu_set_rflags(c, c->s.gpr[GPR_R11] & ~(c->sfmask | RFLAGS_RF));
	emu_debug_trap_now(c);  /* a TF the mask leaves set traps at once */
}

static void exec_sysret(struct emu_cpu *c, unsigned opsize)
{
	uint16_t base = (c->star >> 48) & 0xffff;
	uint64_t rip = c->s.gpr[GPR_RCX];

	if (!(c->s.efer & EFER_SCE) || !c->long_mode || c->code_size != 8)
		emu_raise_ud(c);
	require_cpl0(c);
	if (opsize == 8 && !canonical(rip))
		emu_raise_gp(c, 0);
	emu_set_rflags(c, (c->s.gpr[GPR_R11] & 0x3c7fd7) | RFLAGS_FIXED);
	if (opsize == 8) {
		flat_segments(c, (base + 16) | 3, (base + 8) | 3, true, 3);
		c->s.rip = rip;
	} else {
		flat_segments(c, base | 3, (base + 8) | 3, false, 3);
		c->s.rip = rip & 0xffffffff;
	}
	/* Unlike IRET, a TF that SYSRET loads traps right after it (Linux
	 * returns through IRET when TF is set for that reason). */
	emu_debug_trap_now(c);
}

static void exec_sysenter(struct emu_cpu *c)
{
	uint16_t cs = c->sysenter_cs & 0xfffc;

	if (!(c->s.cr0 & CR0_PE) || !cs)
		emu_raise_gp(c, 0);
	c->s.rflags &= ~(RFLAGS_VM | RFLAGS_IF | RFLAGS_RF);
	flat_segments(c, cs, cs + 8, c->long_mode, 0);
	c->s.rip = c->long_mode ? c->sysenter_eip : c->sysenter_eip & 0xffffffff;
	c->s.gpr[GPR_RSP] = c->long_mode ? c->sysenter_esp : c->sysenter_esp & 0xffffffff;
}

static void exec_sysexit(struct emu_cpu *c, unsigned opsize)
{
	uint16_t cs = c->sysenter_cs & 0xfffc;

	if (!(c->s.cr0 & CR0_PE) || !cs || c->cpl)
		emu_raise_gp(c, 0);
	if (opsize == 8) {
		flat_segments(c, (cs + 32) | 3, (cs + 40) | 3, true, 3);
		c->s.rip = c->s.gpr[GPR_RDX];
		c->s.gpr[GPR_RSP] = c->s.gpr[GPR_RCX];
	} else {
		flat_segments(c, (cs + 16) | 3, (cs + 24) | 3, false, 3);
		c->s.rip = c->s.gpr[GPR_RDX] & 0xffffffff;
		c->s.gpr[GPR_RSP] = c->s.gpr[GPR_RCX] & 0xffffffff;
	}
}

/* ---- 0F AE: fences, CLFLUSH, MXCSR ---- */

static void exec_group15(struct emu_cpu *c, const struct insn *in)
{
	unsigned g = in->reg & 7;

	if (!in->has_mem) {
		if (g >= 5 && !(in->prefixes & (PFX_REP | PFX_REPNE | PFX_OPSZ))) {
			__atomic_thread_fence(__ATOMIC_SEQ_CST); /* LFENCE, MFENCE, SFENCE */
			return;
		}
		emu_raise_ud(c);
	}
	if (g == 7 && !(in->prefixes & (PFX_REP | PFX_REPNE))) {
		/* CLFLUSH / CLFLUSHOPT: check the address, nothing to flush. */
		emu_linear(c, insn_seg(in), insn_ea(c, in), 1, false);
		return;
	}
	emu_raise_ud(c);
}

void emu_exec_system(struct emu_cpu *c, const struct insn *in)
{
	unsigned op = in->op;
	uint64_t v;
	bool ok;

	switch (op) {
	case 0x100: exec_group6(c, in); return;
	case 0x101: exec_group7(c, in); return;
	case 0x102: exec_lar_lsl(c, in, false); return;
	case 0x103: exec_lar_lsl(c, in, true); return;
	case 0x105: exec_syscall(c); return;
	case 0x106: /* CLTS */
		require_cpl0(c);
		c->s.cr0 &= ~CR0_TS;
		return;
	case 0x107: exec_sysret(c, in->opsize); return;
	case 0x108: case 0x109: /* INVD, WBINVD */
		require_cpl0(c);
		return;
	case 0x10b: case 0x1b9: case 0x1ff: /* UD2, UD1, UD0 */
		emu_raise_ud(c);
	case 0x120: case 0x122: { /* MOV r, CRn / MOV CRn, r: always registers */
		unsigned cr = in->reg;
		require_cpl0(c);
		if (in->prefixes & PFX_LOCK)
			cr |= 8; /* LOCK MOV CR0 = CR8 on AMD; treat alike */
		if (op == 0x120)
			c->s.gpr[in->rm] = read_cr(c, cr) &
					   (c->code_size == 8 ? ~0ULL : 0xffffffffULL);
		else
			emu_write_cr(c, cr, c->code_size == 8 ? c->s.gpr[in->rm]
							      : c->s.gpr[in->rm] & 0xffffffff);
		return;
	}
	case 0x121: case 0x123: /* MOV DRn */
		emu_mov_dr(c, in, op == 0x123);
		return;
	case 0x130: /* WRMSR */
		require_cpl0(c);
		v = (c->s.gpr[GPR_RAX] & 0xffffffff) | (c->s.gpr[GPR_RDX] << 32);
		if (!emu_wrmsr(c, c->s.gpr[GPR_RCX], v)) {
			msr_refused("WRMSR", c->s.gpr[GPR_RCX], v);
			emu_raise_gp(c, 0);
		}
		return;
	case 0x131: /* RDTSC */
		if ((c->s.cr4 & CR4_TSD) && c->cpl)
			emu_raise_gp(c, 0);
		v = emu_rdtsc(c);
		c->s.gpr[GPR_RAX] = v & 0xffffffff;
		c->s.gpr[GPR_RDX] = v >> 32;
		return;
	case 0x132: /* RDMSR */
		require_cpl0(c);
		v = emu_rdmsr(c, c->s.gpr[GPR_RCX], &ok);
		if (!ok) {
			msr_refused("RDMSR", c->s.gpr[GPR_RCX], 0);
			emu_raise_gp(c, 0);
		}
		c->s.gpr[GPR_RAX] = v & 0xffffffff;
		c->s.gpr[GPR_RDX] = v >> 32;
		return;
	case 0x134: exec_sysenter(c); return;
	case 0x135: exec_sysexit(c, in->opsize); return;
	case 0x1a2: { /* CPUID */
		uint32_t out[4];
		emu_cpuid(c, c->s.gpr[GPR_RAX], c->s.gpr[GPR_RCX], out);
		c->s.gpr[GPR_RAX] = out[0];
		c->s.gpr[GPR_RBX] = out[1];
		c->s.gpr[GPR_RCX] = out[2];
		c->s.gpr[GPR_RDX] = out[3];
		return;
	}
	case 0x1ae: exec_group15(c, in); return;
	}
	emu_raise_ud(c);
}
