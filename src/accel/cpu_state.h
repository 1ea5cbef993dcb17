/*
 * Architectural x86-64 vCPU state exchanged with an accelerator: what boot
 * code sets up and what register dumps show.  Both KVM and the emulator
 * convert to and from their own representation.
 */
#ifndef WIRT_ACCEL_CPU_STATE_H
#define WIRT_ACCEL_CPU_STATE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* GPR_ rather than REG_: <sys/ucontext.h> already defines REG_RAX etc. */
enum gpr {
	GPR_RAX, GPR_RCX, GPR_RDX, GPR_RBX, GPR_RSP, GPR_RBP, GPR_RSI, GPR_RDI,
	GPR_R8, GPR_R9, GPR_R10, GPR_R11, GPR_R12, GPR_R13, GPR_R14, GPR_R15,
	NUM_GPRS
};

enum seg_reg { SEG_ES, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS, NUM_SEGS };

/* A segment register with its hidden descriptor cache. */
struct segment {
	uint64_t base;
	uint32_t limit;   /* byte granular (already scaled if G=1) */
	uint16_t selector;
	uint8_t type;     /* descriptor type field, 4 bits */
	uint8_t s;        /* 1 = code/data, 0 = system */
	uint8_t dpl;
	uint8_t present;
	uint8_t avl;
	uint8_t l;        /* 64-bit code segment */
	uint8_t db;       /* default operation size (1 = 32-bit) */
	uint8_t g;
	uint8_t unusable;
};

struct dtable {
	uint64_t base;
	uint16_t limit;
};

/* Control register, EFER and RFLAGS bits used across the code base. */
#define CR0_PE (1ULL << 0)
#define CR0_MP (1ULL << 1)
#define CR0_EM (1ULL << 2)
#define CR0_TS (1ULL << 3)
#define CR0_ET (1ULL << 4)
#define CR0_NE (1ULL << 5)
#define CR0_WP (1ULL << 16)
#define CR0_AM (1ULL << 18)
#define CR0_NW (1ULL << 29)
#define CR0_CD (1ULL << 30)
#define CR0_PG (1ULL << 31)

#define CR4_VME (1ULL << 0)
#define CR4_PVI (1ULL << 1)
#define CR4_TSD (1ULL << 2)
#define CR4_DE  (1ULL << 3)
#define CR4_PSE (1ULL << 4)
#define CR4_PAE (1ULL << 5)
#define CR4_MCE (1ULL << 6)
#define CR4_PGE (1ULL << 7)
#define CR4_PCE (1ULL << 8)
#define CR4_OSFXSR (1ULL << 9)
#define CR4_OSXMMEXCPT (1ULL << 10)

#define EFER_SCE (1ULL << 0)
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)
#define EFER_NXE (1ULL << 11)

#define RFLAGS_CF (1ULL << 0)
#define RFLAGS_FIXED (1ULL << 1)
#define RFLAGS_PF (1ULL << 2)
#define RFLAGS_AF (1ULL << 4)
#define RFLAGS_ZF (1ULL << 6)
#define RFLAGS_SF (1ULL << 7)
#define RFLAGS_TF (1ULL << 8)
#define RFLAGS_IF (1ULL << 9)
#define RFLAGS_DF (1ULL << 10)
#define RFLAGS_OF (1ULL << 11)
#define RFLAGS_IOPL (3ULL << 12)
#define RFLAGS_NT (1ULL << 14)
#define RFLAGS_RF (1ULL << 16)
#define RFLAGS_VM (1ULL << 17)
#define RFLAGS_AC (1ULL << 18)
#define RFLAGS_VIF (1ULL << 19)
#define RFLAGS_VIP (1ULL << 20)
#define RFLAGS_ID (1ULL << 21)

struct cpu_state {
	uint64_t gpr[NUM_GPRS];
	uint64_t rip;
	uint64_t rflags;
	struct segment seg[NUM_SEGS];
	struct segment tr, ldt;
	struct dtable gdt, idt;
	uint64_t cr0, cr2, cr3, cr4, cr8;
	uint64_t efer;
	uint64_t apic_base;
};

/* An MSR by its architectural number. */
struct cpu_msr {
	uint32_t index;
	uint64_t value;
};

#define CPU_MAX_SAVED_MSRS 32

/* MSR numbers the saved state uses (Intel SDM vol. 4). */
#define CPU_MSR_IA32_TSC            0x10
#define CPU_MSR_IA32_SYSENTER_CS    0x174
#define CPU_MSR_IA32_SYSENTER_ESP   0x175
#define CPU_MSR_IA32_SYSENTER_EIP   0x176
#define CPU_MSR_IA32_MISC_ENABLE    0x1a0
#define CPU_MSR_IA32_PAT            0x277
#define CPU_MSR_MTRR_DEF_TYPE       0x2ff
#define CPU_MSR_IA32_TSC_DEADLINE   0x6e0
#define CPU_MSR_STAR                0xc0000081
#define CPU_MSR_LSTAR               0xc0000082
#define CPU_MSR_CSTAR               0xc0000083
#define CPU_MSR_SFMASK              0xc0000084
#define CPU_MSR_KERNEL_GS_BASE      0xc0000102
#define CPU_MSR_TSC_AUX             0xc0000103

/* The MSRs every accelerator saves (besides IA32_TSC and the TSC
 * deadline), in the order they are restored. */
extern const uint32_t cpu_saved_msrs[];
extern const unsigned cpu_n_saved_msrs;

/* An event the CPU was in the middle of delivering when it was saved
 * (KVM saves between the VM exit that interrupted a delivery and its
 * re-injection); delivered before the next instruction on restore. */
enum cpu_event_kind {
	CPU_EVENT_NONE,
	CPU_EVENT_EXTINT,    /* an external (maskable) interrupt */
	CPU_EVENT_NMI,
	CPU_EVENT_EXCEPTION, /* a hardware exception (vector < 32) */
	CPU_EVENT_SOFT,      /* INT n, INT3, INTO: RIP is the return address */
	CPU_EVENT_KINDS
};

struct cpu_event {
	uint8_t kind;            /* enum cpu_event_kind */
	uint8_t vector;
	bool has_error_code;
	uint32_t error_code;
};

/* The XSAVE area (standard form) beyond the legacy region and the
 * header: AVX and later components, as large as KVM_GET_XSAVE gives. */
#define CPU_XSAVE_EXT_OFFSET 576
#define CPU_XSAVE_EXT_MAX (4096 - CPU_XSAVE_EXT_OFFSET)
#define CPU_XSTATE_X87_SSE 3ULL

/*
 * Everything a vCPU holds, for saving and restoring a running machine:
 * one form for both accelerators (KVM converts from its ioctls' structs,
 * the emulator from its own fields), so a state saved under one restores
 * under the other.  Taken between instructions: events still pending
 * are the flags below, one half-delivered event is in delivering.
 */
struct cpu_full_state {
	struct cpu_state s;
	uint8_t fxsave[512];     /* x87, MMX, SSE in the FXSAVE layout (64-bit form) */
	uint64_t xcr0;
	/* XSAVE components past SSE: XSTATE_BV (bits 0-1 always set: the
	 * legacy area above is valid) and xsave_ext_len bytes from offset
	 * CPU_XSAVE_EXT_OFFSET of the standard-form XSAVE area (0 if none). */
	uint64_t xstate_bv;
	uint32_t xsave_ext_len;
	uint8_t xsave_ext[CPU_XSAVE_EXT_MAX];
	uint64_t dr[8];          /* DR0-DR3, DR6, DR7 (4 and 5 unused) */
	unsigned nmsrs;
	struct cpu_msr msrs[CPU_MAX_SAVED_MSRS];
	bool halted;             /* in HLT */
	bool wait_for_sipi;      /* an AP waiting for its start-up IPI */
	bool nmi_pending;        /* an NMI latched, not taken yet */
	bool nmi_blocked;        /* in an NMI handler (until IRET) */
	bool irq_shadow;         /* after STI / MOV SS */
	bool init_pending;
	uint8_t sipi_vector;     /* a start-up IPI received: vector + 1, or 0 */
	uint32_t lapic[256];     /* local APIC register page (hw/lapic.h) */
	uint64_t lapic_base;
	uint64_t tsc_deadline;
	struct cpu_event delivering; /* kind CPU_EVENT_NONE if nothing */
};

/* The architectural state after RESET/INIT: real mode at F000:FFF0. */
void cpu_state_reset(struct cpu_state *s);

/*
 * Flat protected-/long-mode segments as boot protocols want them:
 * code (64-bit if long, else 32-bit) or data, base 0, limit 4 GiB.
 */
struct segment cpu_flat_code_segment(uint16_t selector, bool long_mode);
struct segment cpu_flat_data_segment(uint16_t selector);

/* Multi-line register dump for error messages. */
void cpu_state_dump(const struct cpu_state *s, FILE *out);

#endif
