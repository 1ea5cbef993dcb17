/* The emulator against the host CPU for unit tests (emu_harness.h). */
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <cmocka.h>

#include "emu_harness.h"
#include "util/event_loop.h"

void emu_harness_long_mode(struct emu_harness *h)
{
	struct cpu_state s;
	uint64_t e;

	e = 0x2000 | 3;
	gmem_write(&h->vm.mem, 0x1000, &e, 8);
	e = 0x3000 | 3;
	gmem_write(&h->vm.mem, 0x2000, &e, 8);
	for (unsigned i = 0; i < 512; i++) {
		e = ((uint64_t)i << 21) | 0x83;
		gmem_write(&h->vm.mem, 0x3000 + i * 8, &e, 8);
	}
	cpu_state_reset(&s);
	s.cr0 = CR0_PE | CR0_PG | CR0_ET | CR0_NE;
	s.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
	s.cr3 = 0x1000;
	s.efer = EFER_LME | EFER_LMA;
	s.seg[SEG_CS] = cpu_flat_code_segment(0x08, true);
	for (int i = SEG_ES; i <= SEG_GS; i++)
		if (i != SEG_CS)
			s.seg[i] = cpu_flat_data_segment(0x10);
	assert_int_equal(accel_emu_ops.vcpu_set_state(&h->vcpu, &s), 0);
}

void emu_harness_descriptor_tables(struct emu_harness *h, uint64_t gdt, const void *gdt_bytes,
				   size_t gdt_size, uint64_t idt)
{
	assert_int_equal(gmem_write(&h->vm.mem, gdt, gdt_bytes, gdt_size), 0);
	h->cpu->s.gdt.base = gdt;
	h->cpu->s.gdt.limit = (uint16_t)(gdt_size - 1);
	h->cpu->s.idt.base = idt;
	h->cpu->s.idt.limit = 0xfff;
}

int emu_harness_setup(struct emu_harness *h)
{
	memset(h, 0, sizeof(*h));
	assert_int_equal(gmem_init(&h->vm.mem, 64 << 20), 0);
	bus_init(&h->vm.pio, "port I/O");
	bus_init(&h->vm.mmio, "MMIO");
	h->vm.loop = event_loop_create();
	assert_non_null(h->vm.loop);
	assert_int_equal(accel_emu_ops.vm_init(&h->vm), 0);
	h->vcpu.vm = &h->vm;
	assert_int_equal(accel_emu_ops.vcpu_init(&h->vcpu), 0);
	h->cpu = h->vcpu.accel_data;
	emu_harness_long_mode(h);
	h->stub = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(h->stub != MAP_FAILED);
	return 0;
}

void emu_harness_teardown(struct emu_harness *h)
{
	accel_emu_ops.vcpu_destroy(&h->vcpu);
	for (unsigned i = 0; i < h->vm.ndevices; i++)
		if (h->vm.devices[i].destroy)
			h->vm.devices[i].destroy(h->vm.devices[i].opaque);
	accel_emu_ops.vm_destroy(&h->vm);
	event_loop_destroy(h->vm.loop);
	munmap(h->stub, 4096);
}

/* ---- native runs ---- */

static sigjmp_buf native_jmp;
static volatile int native_signal;

static void on_signal(int sig)
{
	native_signal = sig;
	siglongjmp(native_jmp, 1);
}

static const int fault_signals[4] = { SIGILL, SIGSEGV, SIGBUS, SIGFPE };
static struct sigaction saved_actions[4];

/* cmocka has its own handlers while a test runs: ours go in front of them
 * for the native runs only. */
static void catch_faults(bool on)
{
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_NODEFER };

	for (unsigned i = 0; i < 4; i++) {
		if (on)
			sigaction(fault_signals[i], &sa, &saved_actions[i]);
		else
			sigaction(fault_signals[i], &saved_actions[i], NULL);
	}
}

/*
 * stub(struct emu_regs *r): load the registers and flags from r, run the
 * code, store them back.  R15 holds r.
 */
static void build_stub(uint8_t *stub, const uint8_t *code, unsigned len)
{
	static const uint8_t pre[] = {
		0x53,                         /* push rbx */
		0x41, 0x57,                   /* push r15 */
		0x49, 0x89, 0xff,             /* mov r15, rdi */
		0x41, 0xff, 0x77, 0x30,       /* push qword [r15+0x30] */
		0x9d,                         /* popfq */
		0x49, 0x8b, 0x07,             /* mov rax, [r15] */
		0x49, 0x8b, 0x4f, 0x08,       /* mov rcx, [r15+8] */
		0x49, 0x8b, 0x57, 0x10,       /* mov rdx, [r15+16] */
		0x49, 0x8b, 0x5f, 0x18,       /* mov rbx, [r15+24] */
		0x49, 0x8b, 0x77, 0x20,       /* mov rsi, [r15+32] */
		0x49, 0x8b, 0x7f, 0x28,       /* mov rdi, [r15+40] */
	};
	static const uint8_t post[] = {
		0x9c,                         /* pushfq */
		0x41, 0x8f, 0x47, 0x30,       /* pop qword [r15+0x30] */
		0x49, 0x89, 0x07,             /* mov [r15], rax */
		0x49, 0x89, 0x4f, 0x08,       /* mov [r15+8], rcx */
		0x49, 0x89, 0x57, 0x10,       /* mov [r15+16], rdx */
		0x49, 0x89, 0x5f, 0x18,       /* mov [r15+24], rbx */
		0x49, 0x89, 0x77, 0x20,       /* mov [r15+32], rsi */
		0x49, 0x89, 0x7f, 0x28,       /* mov [r15+40], rdi */
		0x41, 0x5f,                   /* pop r15 */
		0x5b,                         /* pop rbx */
		0xc3,                         /* ret */
	};
	uint8_t *p = stub;

	memcpy(p, pre, sizeof(pre));
	p += sizeof(pre);
	memcpy(p, code, len);
	p += len;
	memcpy(p, post, sizeof(post));
	__builtin___clear_cache((char *)stub, (char *)p + sizeof(post));
}

int emu_harness_run_native(struct emu_harness *h, const uint8_t *code, unsigned len,
			   struct emu_regs *r)
{
	/* The code may leave MMX state or another MXCSR behind. */
	static uint8_t host_fx[512] __attribute__((aligned(16)));

	build_stub(h->stub, code, len);
	native_signal = 0;
	__asm__ volatile("fxsave %0" : "=m"(host_fx));
	catch_faults(true);
	if (!sigsetjmp(native_jmp, 1))
		((void (*)(struct emu_regs *))h->stub)(r);
	catch_faults(false);
	__asm__ volatile("fxrstor %0" : : "m"(host_fx));
	return native_signal;
}

int emu_harness_signal_vector(int sig)
{
	switch (sig) {
	case SIGILL: return EXC_UD;
	case SIGSEGV: case SIGBUS: return EXC_GP;
	case SIGFPE: return EXC_XM;
	default: return -2;
	}
}

/* ---- emulated runs ---- */

int emu_harness_run_emulated(struct emu_harness *h, const uint8_t *code, unsigned len,
			     struct emu_regs *r)
{
	struct emu_cpu *cpu = h->cpu;

	assert_int_equal(gmem_write(&h->vm.mem, EMU_HARNESS_CODE_GPA, code, len), 0);
	cpu->s.gpr[GPR_RAX] = r->rax;
	cpu->s.gpr[GPR_RCX] = r->rcx;
	cpu->s.gpr[GPR_RDX] = r->rdx;
	cpu->s.gpr[GPR_RBX] = r->rbx;
	cpu->s.gpr[GPR_RSI] = r->rsi;
	cpu->s.gpr[GPR_RDI] = r->rdi;
	emu_set_rflags(cpu, r->flags | RFLAGS_IF); /* as in the host process */
	cpu->s.gpr[GPR_RSP] = 0x80000;
	cpu->s.rip = EMU_HARNESS_CODE_GPA;
	if (setjmp(cpu->fault_jmp))
		return cpu->fault_vector;
	/* Snippets may hold several instructions (load, operate, store). */
	for (int n = 0; n < 16 && cpu->s.rip < EMU_HARNESS_CODE_GPA + len; n++)
		emu_step(cpu);
	assert_int_equal(cpu->s.rip, EMU_HARNESS_CODE_GPA + len);
	r->rax = cpu->s.gpr[GPR_RAX];
	r->rcx = cpu->s.gpr[GPR_RCX];
	r->rdx = cpu->s.gpr[GPR_RDX];
	r->rbx = cpu->s.gpr[GPR_RBX];
	r->rsi = cpu->s.gpr[GPR_RSI];
	r->rdi = cpu->s.gpr[GPR_RDI];
	r->flags = emu_get_rflags(cpu) & ~RFLAGS_IF;
	return -1;
}

struct kick_later {
	struct emu_harness *h;
	unsigned ms;
};

static void *kick_later(void *arg)
{
	struct kick_later *k = arg;
	struct timespec ts = { k->ms / 1000, (k->ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
	accel_emu_ops.vcpu_kick(&k->h->vcpu);
	return NULL;
}

void emu_harness_run_until_kick(struct emu_harness *h, unsigned ms)
{
	struct kick_later k = { h, ms };
	pthread_t t;

	assert_int_equal(pthread_create(&t, NULL, kick_later, &k), 0);
	assert_int_equal(accel_emu_ops.vcpu_run(&h->vcpu), VCPU_EXIT_KICKED);
	pthread_join(t, NULL);
}

/* A fixed sequence, so that a failure repeats; WIRT_TEST_SEED (a
 * nonzero number) picks another, to look further. */
uint64_t emu_harness_rnd(void)
{
	static uint64_t state;

	if (!state) {
		const char *seed = getenv("WIRT_TEST_SEED");

		state = seed ? strtoull(seed, NULL, 0) : 0;
		if (!state)
			state = 0x9e3779b97f4a7c15ULL;
	}
	state ^= state << 13;
	state ^= state >> 7;
	state ^= state << 17;
	return state;
}
