/* Architectural vCPU state: reset values, flat segments, register dumps. */
#include "accel/cpu_state.h"

#include <string.h>

const uint32_t cpu_saved_msrs[] = {
	CPU_MSR_IA32_SYSENTER_CS, CPU_MSR_IA32_SYSENTER_ESP,
	CPU_MSR_IA32_SYSENTER_EIP, CPU_MSR_IA32_MISC_ENABLE, CPU_MSR_IA32_PAT,
	CPU_MSR_MTRR_DEF_TYPE, CPU_MSR_STAR, CPU_MSR_LSTAR, CPU_MSR_CSTAR,
	CPU_MSR_SFMASK, CPU_MSR_KERNEL_GS_BASE, CPU_MSR_TSC_AUX,
};
const unsigned cpu_n_saved_msrs = sizeof(cpu_saved_msrs) / sizeof(cpu_saved_msrs[0]);

static struct segment real_mode_segment(uint16_t selector, uint8_t type)
{
	return (struct segment){
		.base = (uint64_t)selector << 4,
		.limit = 0xffff,
		.selector = selector,
		.type = type,
		.s = 1,
		.present = 1,
	};
}

void cpu_state_reset(struct cpu_state *s)
{
	int i;

	memset(s, 0, sizeof(*s));
	s->rip = 0xfff0;
	s->rflags = RFLAGS_FIXED;
	s->gpr[GPR_RDX] = 0x600; /* family/model/stepping, as after RESET */
	for (i = 0; i < NUM_SEGS; i++)
		s->seg[i] = real_mode_segment(0, 0x3); /* data, read/write, accessed */
	s->seg[SEG_CS] = real_mode_segment(0xf000, 0xb); /* code, r/x, accessed */
	s->seg[SEG_CS].base = 0xffff0000;
	s->ldt = (struct segment){ .limit = 0xffff, .type = 0x2, .present = 1 };
	s->tr = (struct segment){ .limit = 0xffff, .type = 0xb, .present = 1 };
	s->gdt.limit = 0xffff;
	s->idt.limit = 0xffff;
	s->cr0 = CR0_ET | CR0_CD | CR0_NW;
	s->apic_base = 0xfee00000 | (1 << 11) | (1 << 8); /* enabled, BSP */
}

struct segment cpu_flat_code_segment(uint16_t selector, bool long_mode)
{
	return (struct segment){
		.base = 0,
		.limit = 0xffffffff,
		.selector = selector,
		.type = 0xb,
		.s = 1,
		.present = 1,
		.l = long_mode,
		.db = !long_mode,
		.g = 1,
	};
}

struct segment cpu_flat_data_segment(uint16_t selector)
{
	return (struct segment){
		.base = 0,
		.limit = 0xffffffff,
		.selector = selector,
		.type = 0x3,
		.s = 1,
		.present = 1,
		.db = 1,
		.g = 1,
	};
}

static void dump_segment(FILE *out, const char *name, const struct segment *s)
{
	fprintf(out, "%-3s=%04x base=%016llx limit=%08x type=%x s=%u dpl=%u p=%u l=%u db=%u g=%u\r\n",
		name, s->selector, (unsigned long long)s->base, s->limit,
		s->type, s->s, s->dpl, s->present, s->l, s->db, s->g);
}

void cpu_state_dump(const struct cpu_state *s, FILE *out)
{
	static const char *const gpr_names[NUM_GPRS] = {
		"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
		"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
	};
	static const char *const seg_names[NUM_SEGS] = {
		"es", "cs", "ss", "ds", "fs", "gs",
	};
	int i;

	for (i = 0; i < NUM_GPRS; i++)
		fprintf(out, "%-3s=%016llx%s", gpr_names[i],
			(unsigned long long)s->gpr[i], i % 4 == 3 ? "\r\n" : " ");
	fprintf(out, "rip=%016llx rflags=%08llx\r\n",
		(unsigned long long)s->rip, (unsigned long long)s->rflags);
	for (i = 0; i < NUM_SEGS; i++)
		dump_segment(out, seg_names[i], &s->seg[i]);
	dump_segment(out, "tr", &s->tr);
	dump_segment(out, "ldt", &s->ldt);
	fprintf(out, "gdt=%016llx/%04x idt=%016llx/%04x\r\n",
		(unsigned long long)s->gdt.base, s->gdt.limit,
		(unsigned long long)s->idt.base, s->idt.limit);
	fprintf(out, "cr0=%016llx cr2=%016llx cr3=%016llx cr4=%016llx\r\n",
		(unsigned long long)s->cr0, (unsigned long long)s->cr2,
		(unsigned long long)s->cr3, (unsigned long long)s->cr4);
	fprintf(out, "efer=%016llx apic_base=%016llx\r\n",
		(unsigned long long)s->efer, (unsigned long long)s->apic_base);
}
