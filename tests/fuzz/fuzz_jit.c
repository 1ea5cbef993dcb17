/*
 * libFuzzer target: guest code bytes run by the translator and by the
 * interpreter from the same vCPU and memory; registers, flags, XMM
 * registers, RIP, the exception (if any) and RAM must agree.
 *
 * Input: the code, placed at CODE_GPA and followed by HLT, run in flat
 * 64-bit mode at CPL 0 (the first MAPPED bytes identity-mapped, which are
 * restored and compared after each run), RBP in the middle of a data page
 * and RSP at the top of a stack.  No port reaches a device.  Exceptions
 * end a run (as the unit test's harness does), so no IDT is needed.
 * Inputs whose outcome depends on time or on the host (RDTSC, RDTSCP,
 * RDPMC, RDRAND, RDSEED, WRMSR, which could start the local APIC's
 * timer) are skipped: conservatively, any input holding their opcode
 * bytes.  A run that does not reach HLT or a fault within MAX_STEPS
 * instructions is not compared (the engines stop at different points).
 *
 *   make fuzz-jit               for FUZZ_SECONDS
 *   build/fuzz/fuzz_jit FILE    replay one input
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accel/accel.h"
#include "accel/emu/emu.h"
#include "accel/emu/jit/jit.h"
#include "../unit/emu_run.h"
#include "util/event_loop.h"
#include "util/log.h"
#include "vm/vm.h"

#define RAM_SIZE    GMEM_MIN_RAM
#define MAPPED      (4u << 20)   /* two 2 MiB pages */
#define CODE_GPA    0x10000
#define CODE_MAX    4096
#define DATA_GPA    0x100000
#define DATA_SIZE   0x2000
#define STACK_TOP   0x80000
#define MAX_STEPS   20000

static struct vm vm;
static struct vcpu vcpu;
static struct emu_cpu *cpu;
static struct cpu_full_state *start;
static uint8_t *ram_start, *ram_interp;
static struct bus devices_pio;

static void setup_failed(const char *what)
{
	fprintf(stderr, "fuzz_jit: set-up failed: %s\n", what);
	abort();
}

/* Page tables at 0x1000-0x3fff: the first MAPPED bytes, 2 MiB pages. */
static void long_mode(void)
{
	struct cpu_state s;
	uint64_t e;

	e = 0x2000 | 3;
	gmem_write(&vm.mem, 0x1000, &e, 8);
	e = 0x3000 | 3;
	gmem_write(&vm.mem, 0x2000, &e, 8);
	for (unsigned i = 0; i < MAPPED >> 21; i++) {
		e = ((uint64_t)i << 21) | 0x83;
		gmem_write(&vm.mem, 0x3000 + i * 8, &e, 8);
	}
	cpu_state_reset(&s);
	s.cr0 = CR0_PE | CR0_PG | CR0_ET | CR0_NE | CR0_MP;
	s.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
	s.cr3 = 0x1000;
	s.efer = EFER_LME | EFER_LMA;
	s.seg[SEG_CS] = cpu_flat_code_segment(0x08, true);
	for (int i = SEG_ES; i <= SEG_GS; i++)
		if (i != SEG_CS)
			s.seg[i] = cpu_flat_data_segment(0x10);
	s.gpr[GPR_RAX] = 0x123456789abcdef0ULL;
	s.gpr[GPR_RCX] = 5;
	s.gpr[GPR_RDX] = 0xffffffff80000000ULL;
	s.gpr[GPR_RBX] = 0x40;
	s.gpr[GPR_RSP] = STACK_TOP;
	s.gpr[GPR_RBP] = DATA_GPA + DATA_SIZE / 2;
	s.gpr[GPR_RSI] = DATA_GPA + 0x100;
	s.gpr[GPR_RDI] = DATA_GPA + 0x800;
	for (int r = GPR_R8; r <= GPR_R15; r++)
		s.gpr[r] = (uint64_t)r * 0x0101010101010101ULL;
	s.rip = CODE_GPA;
	s.rflags = RFLAGS_FIXED | RFLAGS_PF | RFLAGS_ZF;
	if (accel_emu_ops.vcpu_set_state(&vcpu, &s))
		setup_failed("vcpu_set_state");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL;

	log_threshold = LOG_ERROR;
	if (gmem_init(&vm.mem, RAM_SIZE))
		setup_failed("guest memory");
	bus_init(&vm.pio, "port I/O");
	bus_init(&vm.mmio, "MMIO");
	vm.loop = event_loop_create();
	if (!vm.loop || accel_emu_ops.vm_init(&vm))
		setup_failed("emulator VM");
	/* the interrupt controllers and timer registered their ports: an
	 * empty bus instead, so that nothing time-dependent answers (the
	 * devices' bus kept, reachable) */
	devices_pio = vm.pio;
	bus_init(&vm.pio, "port I/O");
	vcpu.vm = &vm;
	if (accel_emu_ops.vcpu_init(&vcpu))
		setup_failed("emulator vCPU");
	cpu = vcpu.accel_data;
	if (!cpu->jit)
		setup_failed("no translator on this host");
	cpu->jit->hot_entries = 0;  /* every block translated at once */
	long_mode();
	/* data: a fixed pseudo-random pattern */
	for (unsigned i = 0; i < DATA_SIZE; i += 8) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		gmem_write(&vm.mem, DATA_GPA + i, &x, 8);
	}
	start = malloc(sizeof(*start));
	ram_start = malloc(MAPPED);
	ram_interp = malloc(MAPPED);
	if (!start || !ram_start || !ram_interp || accel_emu_ops.vcpu_save(&vcpu, start))
		setup_failed("snapshot");
	memcpy(ram_start, vm.mem.ram_base, MAPPED);
	return 0;
}

struct outcome {
	struct cpu_state s;
	uint64_t rflags;
	uint8_t xmm[16][16];
	int vector;
	uint32_t error;
	bool finished;
};

static void run(struct outcome *o, bool jit)
{
	unsigned steps;
	int vector;

	accel_emu_ops.vcpu_restore(&vcpu, start);
	cpu->halted = false;
	vector = emu_run_until_halt(cpu, jit, MAX_STEPS, &steps);
	o->s = cpu->s;
	o->rflags = emu_get_rflags(cpu);
	memcpy(o->xmm, cpu->xmm, sizeof(o->xmm));
	o->vector = vector;
	o->error = vector >= 0 ? cpu->fault_error : 0;
	o->finished = cpu->halted || vector >= 0;
}

static void differ(const char *what, const struct outcome *a, const struct outcome *b)
{
	fprintf(stderr, "translator and interpreter differ in %s\n"
		"  interpreter: rip %#llx rflags %#llx vector %d\n"
		"  translator:  rip %#llx rflags %#llx vector %d\n", what,
		(unsigned long long)a->s.rip, (unsigned long long)a->rflags, a->vector,
		(unsigned long long)b->s.rip, (unsigned long long)b->rflags, b->vector);
	for (int r = 0; r < NUM_GPRS; r++)
		if (a->s.gpr[r] != b->s.gpr[r])
			fprintf(stderr, "  r%d: %#llx vs %#llx\n", r,
				(unsigned long long)a->s.gpr[r], (unsigned long long)b->s.gpr[r]);
	abort();
}

/* RAM as it was after set-up, written as a device would: the emulator
 * is told, so that nothing decoded from bytes the last run wrote (the
 * code may rewrite any page, not only its own) survives into this one. */
static void restore_ram(void)
{
	memcpy(vm.mem.ram_base, ram_start, MAPPED);
	gmem_notify_write(&vm.mem, 0, MAPPED);
}

/* Opcode bytes of instructions whose result depends on time or host. */
static bool nondeterministic(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++) {
		if (p[i] != 0x0f)
			continue;
		if (p[i + 1] == 0x30 || p[i + 1] == 0x31 || p[i + 1] == 0x33 ||
		    p[i + 1] == 0xc7 || (p[i + 1] == 0x01 && i + 2 < n && p[i + 2] == 0xf9))
			return true;
	}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct outcome want, got;
	uint8_t hlt = 0xf4;

	if (size > CODE_MAX || nondeterministic(data, size))
		return 0;
	restore_ram();
	gmem_write(&vm.mem, CODE_GPA, data, size);
	gmem_write(&vm.mem, CODE_GPA + size, &hlt, 1);
	cpu->icount += 1u << 24;  /* new code, not a rewrite (decode_cache.c) */
	run(&want, false);
	memcpy(ram_interp, vm.mem.ram_base, MAPPED);

	restore_ram();
	gmem_write(&vm.mem, CODE_GPA, data, size);
	gmem_write(&vm.mem, CODE_GPA + size, &hlt, 1);
	cpu->icount += 1u << 24;
	run(&got, true);
	if (!want.finished || !got.finished)
		return 0;
	if (memcmp(want.s.gpr, got.s.gpr, sizeof(want.s.gpr)))
		differ("registers", &want, &got);
	if (want.s.rip != got.s.rip || want.rflags != got.rflags ||
	    want.vector != got.vector || want.error != got.error || want.s.cr2 != got.s.cr2)
		differ("RIP, RFLAGS or the exception", &want, &got);
	if (memcmp(want.xmm, got.xmm, sizeof(want.xmm)))
		differ("XMM registers", &want, &got);
	if (memcmp(ram_interp, vm.mem.ram_base, MAPPED))
		differ("memory", &want, &got);
	return 0;
}
