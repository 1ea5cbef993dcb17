/*
 * The emulator behind the accelerator interface: per-VM and per-vCPU
 * state, the run loop (interrupts, HLT, kicks, faults) and state
 * exchange with the machine model.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "accel/accel.h"
#include "accel/emu/emu.h"
#include "accel/emu/jit/jit.h"
#include "hw/ioapic.h"
#include "hw/lapic.h"
#include "hw/pic.h"
#include "hw/pit.h"
#include "util/log.h"
#include "vm/vm.h"
#include "vm/vm_clock.h"

/* Instructions between checks for kicks. */
#define RUN_BATCH 4096
/*
 * With IF set, interrupts are looked for at the first instruction that may
 * take one and then every IRQ_CHECK_INTERVAL instructions: an interrupt
 * raised meanwhile (by a device thread, an EOI, the APIC timer) waits at
 * most that long, and the loop does not poll the PIC and the APIC at every
 * instruction.
 */
#define IRQ_CHECK_INTERVAL 16

static int emu_probe(char *why, size_t len, int *unmodified_linux)
{
	(void)why;
	(void)len;
	*unmodified_linux = 1;
	return 0;
}

/* Interrupt lines go to the 8259 pair; a change may wake a halted vCPU. */
static void emu_irq_notify(void *opaque)
{
	struct emu_vm *evm = opaque;

	pthread_mutex_lock(&evm->irq_lock);
	pthread_cond_broadcast(&evm->irq_cond);
	pthread_mutex_unlock(&evm->irq_lock);
}

/* Lines go to the 8259s and the IOAPIC alike, as on a PC; ISA IRQ 0
 * is wired to IOAPIC pin 2 (the MADT says so). */
static void emu_set_line(void *opaque, unsigned gsi, int level)
{
	struct emu_vm *evm = opaque;

	if (gsi < 16)
		pic_set_irq(evm->pic, gsi, level);
	ioapic_set_irq(evm->ioapic, gsi == 0 ? 2 : gsi, level);
}

/* MSI: an address in the 0xFEExxxxx window and the message data. */
static void emu_send_msi(void *opaque, uint64_t addr, uint32_t data)
{
	struct emu_vm *evm = opaque;

	if ((addr >> 20) != 0xfee) {
		log_warn_once("emu: MSI to %#llx is outside the APIC window; dropped",
			      (unsigned long long)addr);
		return;
	}
	apic_bus_deliver(evm->apic_bus, (addr >> 12) & 0xff, addr & 4, (data >> 8) & 7,
			 data & 0xff, data & (1u << 15));
}

/* ---- what a local APIC asks of its CPU (any thread) ---- */

static void cpu_kick_for_irq(void *opaque)
{
	struct emu_cpu *c = opaque;

	emu_irq_notify(c->evm);
}

static void cpu_init_ipi(void *opaque)
{
	struct emu_cpu *c = opaque;

	atomic_store(&c->pending_init, 1);
	emu_irq_notify(c->evm);
}

static void cpu_sipi(void *opaque, uint8_t vector)
{
	struct emu_cpu *c = opaque;

	atomic_store(&c->pending_sipi, vector + 1);
	emu_irq_notify(c->evm);
}

/* The vCPU this thread runs, if any. */
static __thread struct emu_cpu *this_cpu;

/* One NMI is latched while another is blocked; more are lost, as on
 * hardware.  A CPU that sends itself one (ICR) leaves its current run of
 * instructions so that the NMI comes at the next instruction boundary. */
static void cpu_nmi(void *opaque)
{
	struct emu_cpu *c = opaque;

	atomic_store(&c->pending_nmi, 1);
	if (c == this_cpu)
		c->blk = NULL;
	emu_irq_notify(c->evm);
}

static const struct lapic_cpu_ops lapic_cpu_ops = {
	cpu_kick_for_irq, cpu_init_ipi, cpu_sipi, cpu_nmi,
};

/* Writes from devices and boot code: drop decoded code in those pages. */
static void emu_memory_written(void *opaque, uint64_t gpa, uint64_t len)
{
	struct emu_vm *evm = opaque;
	uint64_t pa;

	for (pa = gpa & ~0xfffULL; pa < gpa + len; pa += 4096)
		emu_code_written(evm, pa);
}

/*
 * The memory map changed under [gpa, gpa+len) (PAM, flash modes): drop
 * decoded code there, and have every vCPU flush its TLB, which holds host
 * pointers, before its next instruction (the one that changed the map
 * leaves its batch after this I/O instruction, through the kick).  A vCPU
 * that changed it with a memory write (a flash command) flushes at once:
 * its next instruction may read the flash's status.
 */
static void emu_memory_remapped(void *opaque, uint64_t gpa, uint64_t len)
{
	struct emu_vm *evm = opaque;
	struct vm *vm = evm->vm;
	unsigned i;

	emu_memory_written(evm, gpa, len);
	for (i = 0; i < vm->ncpus; i++) {
		struct emu_cpu *c = vm->vcpus[i].accel_data;

		if (!c)
			continue;
		atomic_store(&c->tlb_flush_pending, 1);
		atomic_store(&c->kick, 1);
	}
	if (this_cpu && this_cpu->evm == evm)
		emu_tlb_flush(this_cpu, true);
	emu_irq_notify(evm);
}

static int emu_vm_init(struct vm *vm)
{
	struct emu_vm *evm = calloc(1, sizeof(*evm));
	uint64_t span = GMEM_4G + vm->mem.high_size;

	if (!evm)
		return -ENOMEM;
	evm->vm = vm;
	evm->npages = span >> 12;
	/* Sparse maps: only pages that hold code are ever touched. */
	evm->code_page = mmap(NULL, evm->npages, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	evm->page_gen = mmap(NULL, evm->npages * 4, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (evm->code_page == MAP_FAILED || evm->page_gen == MAP_FAILED) {
		log_error("emu: cannot map the code-page tables: %s", strerror(errno));
		free(evm);
		return -ENOMEM;
	}
	pthread_mutex_init(&evm->irq_lock, NULL);
	{
		pthread_condattr_t attr;
		pthread_condattr_init(&attr);
		pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
		pthread_cond_init(&evm->irq_cond, &attr);
		pthread_condattr_destroy(&attr);
	}
	evm->pic = pic_create(vm, emu_irq_notify, evm);
	evm->apic_bus = apic_bus_create(vm->config ? vm->config->cpus : 1);
	if (!evm->pic || !evm->apic_bus || !pit_create(vm))
		return -ENOMEM;
	evm->ioapic = ioapic_create(vm, evm->apic_bus);
	if (!evm->ioapic)
		return -ENOMEM;
	vm->has_apic = true;
	evm->smp = vm->config && vm->config->cpus > 1;
	vm->accel_data = evm;
	vm->mem.write_notify = emu_memory_written;
	vm->mem.map_notify = emu_memory_remapped;
	vm->mem.dirty_fetch = emu_dirty_fetch;
	vm->mem.write_notify_opaque = evm;
	vm->irq_ops.set_line = emu_set_line;
	vm->irq_ops.send_msi = emu_send_msi;
	vm->irq_opaque = evm;
	return 0;
}

static void emu_vm_destroy(struct vm *vm)
{
	struct emu_vm *evm = vm->accel_data;

	if (!evm)
		return;
	vm->mem.write_notify = NULL;
	vm->mem.map_notify = NULL;
	vm->mem.dirty_fetch = NULL;
	apic_bus_destroy(evm->apic_bus);
	munmap(evm->code_page, evm->npages);
	munmap(evm->page_gen, evm->npages * 4);
	free(evm);
	vm->accel_data = NULL;
}

static int emu_vcpu_init(struct vcpu *vcpu)
{
	/* (aligned as its TLB wants: calloc promises 16 bytes) */
	struct emu_cpu *c = aligned_alloc(_Alignof(struct emu_cpu), sizeof(*c));

	if (!c)
		return -ENOMEM;
	memset(c, 0, sizeof(*c));
	c->dcache = emu_dcache_alloc();
	if (!c->dcache) {
		free(c);
		return -ENOMEM;
	}
	c->vcpu = vcpu;
	c->vm = vcpu->vm;
	c->evm = vcpu->vm->accel_data;
	c->delivering = -1;
	c->pat = 0x0007040600070406ULL;
	c->mtrr_def_type = 0xc06; /* MTRRs enabled, write-back */
	c->lapic = lapic_create(c->evm->apic_bus, vcpu->index, &lapic_cpu_ops, c,
				&c->tsc_offset);
	if (!c->lapic) {
		free(c->dcache);
		free(c);
		return -ENOMEM;
	}
	c->tlb_nlisted = TLB_LISTED + 1;  /* (all entries zeroed: scanned once) */
	emu_tlb_flush(c, true);
	/* The translator unless --accel emu,jit=off; its code cache is
	 * mapped now, before the sandbox.  Without it the interpreter runs. */
	if (!(c->vm->config && c->vm->config->jit_off)) {
		int err = emu_jit_create(c);

		if (err && err != -ENOSYS)
			log_warn("emu: no translator (%s); the interpreter runs alone",
				 strerror(-err));
	}
	vcpu->accel_data = c;
	return 0;
}

static void emu_vcpu_destroy(struct vcpu *vcpu)
{
	struct emu_cpu *c = vcpu->accel_data;

	if (c) {
		emu_jit_destroy(c);
		free(c->dcache);
	}
	free(c);
	vcpu->accel_data = NULL;
}

static int emu_vcpu_set_state(struct vcpu *vcpu, const struct cpu_state *s)
{
	struct emu_cpu *c = vcpu->accel_data;

	c->s = *s;
	emu_set_rflags(c, s->rflags);
	c->s.cr0 |= CR0_ET;
	if (!(s->cr0 & CR0_PE))
		c->cpl = 0;
	else
		c->cpl = s->seg[SEG_SS].dpl;
	emu_update_mode(c);
	emu_tlb_flush(c, true);
	c->halted = false;
	c->shutdown = false;
	c->irq_shadow = false;
	c->delivering = -1;
	c->saved_event.kind = CPU_EVENT_NONE;
	emu_fpu_reset(c);
	emu_debug_reset(c);
	lapic_reset(c->lapic, s->apic_base & (1ULL << 8));
	c->s.apic_base = lapic_get_base(c->lapic);
	c->nmi_blocked = false;
	atomic_store(&c->pending_init, 0);
	atomic_store(&c->pending_sipi, 0);
	atomic_store(&c->pending_nmi, 0);
	/* Application processors wait for a start-up IPI. */
	c->wait_for_sipi = !(s->apic_base & (1ULL << 8));
	return 0;
}

static int emu_vcpu_get_state(struct vcpu *vcpu, struct cpu_state *s)
{
	struct emu_cpu *c = vcpu->accel_data;

	*s = c->s;
	s->rflags = emu_get_rflags(c);
	return 0;
}

/* The local APIC first; the 8259 through LINT0 (or directly with the
 * APIC off). */
int emu_pending_interrupt(struct emu_cpu *c)
{
	int v = lapic_ack(c->lapic);

	if (v >= 0)
		return v;
	if (pic_has_interrupt(c->evm->pic) && lapic_accepts_pic(c->lapic))
		return pic_ack(c->evm->pic);
	return -1;
}

static bool interrupt_ready(struct emu_cpu *c)
{
	return lapic_has_interrupt(c->lapic) ||
	       (pic_has_interrupt(c->evm->pic) && lapic_accepts_pic(c->lapic));
}

static void take_interrupt(struct emu_cpu *c)
{
	int vec = emu_pending_interrupt(c);

	if (vec >= 0) {
		c->insn_rip = c->s.rip;
		emu_deliver(c, vec, 0, false, false, c->s.rip);
	}
}

/*
 * NMIs (SDM 6.7.1): taken at an instruction boundary whatever IF says,
 * except while an NMI handler runs (from the delivery until the next IRET,
 * which unblocks even if it faults) and in the shadow of MOV SS / POP SS
 * or of an STI that set IF (the SDM lets a CPU block NMIs after STI; KVM
 * does, and one rule for both shadows keeps it simple).
 */
static bool nmi_ready(struct emu_cpu *c)
{
	return atomic_load_explicit(&c->pending_nmi, memory_order_relaxed) &&
	       !c->nmi_blocked && !c->irq_shadow && !c->wait_for_sipi;
}

static void take_nmi(struct emu_cpu *c)
{
	atomic_store(&c->pending_nmi, 0);
	c->insn_rip = c->s.rip;
	c->nmi_blocked = true;
	emu_deliver(c, EXC_NMI, 0, false, false, c->s.rip);
}

/* INIT, start-up IPIs and NMIs, sent from other threads. */
static void handle_ipis(struct emu_cpu *c)
{
	int sipi;

	if (atomic_exchange(&c->pending_init, 0)) {
		struct cpu_state s;
		uint64_t base = lapic_get_base(c->lapic);
		cpu_state_reset(&s);
		c->s = s;
		emu_set_rflags(c, s.rflags);
		c->cpl = 0;
		emu_update_mode(c);
		emu_tlb_flush(c, true);
		c->s.apic_base = base;
		lapic_init_reset(c->lapic);
		c->nmi_blocked = false;
		c->irq_shadow = false;
		emu_debug_reset(c);
		c->halted = false;
		c->wait_for_sipi = !(base & (1ULL << 8));
	}
	sipi = atomic_exchange(&c->pending_sipi, 0);
	if (sipi && c->wait_for_sipi) {
		emu_load_seg_real(c, SEG_CS, (sipi - 1) << 8);
		c->s.rip = 0;
		c->wait_for_sipi = false;
	}
	if (nmi_ready(c))
		take_nmi(c);
}

static bool ipi_pending(struct emu_cpu *c)
{
	return atomic_load(&c->pending_init) || atomic_load(&c->pending_sipi) ||
	       (atomic_load(&c->pending_nmi) && !c->nmi_blocked && !c->wait_for_sipi);
}

/* Sleep in HLT (or waiting for SIPI) until an interrupt, an IPI, the
 * local APIC timer or a kick. */
static void wait_for_event(struct emu_cpu *c)
{
	struct emu_vm *evm = c->evm;
	uint64_t next;
	struct timespec ts;

	pthread_mutex_lock(&evm->irq_lock);
	for (;;) {
		if (atomic_load(&c->kick) || ipi_pending(c))
			break;
		next = lapic_timer_poll(c->lapic);
		if (!c->wait_for_sipi && (c->s.rflags & RFLAGS_IF) && interrupt_ready(c))
			break;
		if (next == UINT64_MAX) {
			pthread_cond_wait(&evm->irq_cond, &evm->irq_lock);
		} else {
			next = vm_clock_to_host(next); /* guest time -> host */
			ts.tv_sec = next / 1000000000ULL;
			ts.tv_nsec = next % 1000000000ULL;
			pthread_cond_timedwait(&evm->irq_cond, &evm->irq_lock, &ts);
		}
	}
	pthread_mutex_unlock(&evm->irq_lock);
}

/*
 * One instruction and, if it had a fast handler, up to budget - 1 more of
 * the same block while they have fast handlers and the walk goes on to
 * them (emu_block_index), in 64-bit code.  Those only move data and
 * flags, so nothing the run loop watches between instructions (IF, the
 * interrupt shadow, HLT) changes during the run; a device they write to
 * may end the VM, hence the shutdown check.  The walk's position stays in
 * registers and is stored back at the end (a fault drops the walk).
 * Returns how many instructions ran.
 */
static inline unsigned run_fast(struct emu_cpu *c, unsigned budget)
{
	const struct dblock *b;
	const struct insn *in;
	unsigned k = 1, i;
	uint64_t rip, next;
	int j;

	if (!emu_step_inline(c))
		return 1;
	b = c->blk;
	if (!b || c->code_size != 8)
		return 1;
	i = c->blk_idx;
	next = c->blk_next_rip;
	while (k < budget && !c->shutdown && c->blk == b) {
		rip = c->s.rip;
		j = emu_block_index(c, b, rip, next, i);
		if (j < 0 || !b->in[j].fast)
			break;
		in = &b->in[j];
		i = j + 1;
		c->insn_rip = rip;
		c->s.rip = rip + in->len;
		next = emu_walk_next(in, c->s.rip);
		emu_fast_handlers[in->fast](c, in);
		k++;
	}
	c->blk_idx = i;
	c->blk_next_rip = next;
	c->icount += k - 1;
	return k;
}

/* About RUN_BATCH instructions, taking interrupts between them.  Apart
 * from emu_vcpu_run so that the CPU pointer stays in a register: a
 * function that calls setjmp keeps its variables in memory. */
static __attribute__((noinline)) void run_batch(struct emu_cpu *c)
{
	unsigned n = 0, since_check = IRQ_CHECK_INTERVAL, k;  /* look at once */

	while (n < RUN_BATCH && !c->halted) {
		bool shadow = c->irq_shadow;

		if (shadow) {
			c->irq_shadow = false;
		} else if (nmi_ready(c)) {
			take_nmi(c);
		} else if (!(c->s.rflags & RFLAGS_IF)) {
			c->irq_checked = false;
		} else if (!c->irq_checked || since_check >= IRQ_CHECK_INTERVAL) {
			c->irq_checked = true;
			since_check = 0;
			if (interrupt_ready(c))
				take_interrupt(c);
		}
		/* Single-stepping and breakpoints: one instruction at a
		 * time with the checks of debug.c. */
		if (__builtin_expect(c->debug_active, 0)) {
			k = emu_debug_step(c);
		} else if (shadow) {
			/* only the one instruction the shadow covers (after
			 * STI or MOV SS): a translated block could run on to
			 * the next CLI without a look at interrupts between */
			c->jit_chain_from = NULL;
			emu_step(c);
			k = 1;
		} else if (!c->jit || !(k = emu_jit_run(c)))
			k = run_fast(c, IRQ_CHECK_INTERVAL);
		n += k;
		since_check += k;
		/* A kick (a reset or power-off the guest just asked for) ends
		 * the batch: no instruction after the OUT runs. */
		if (c->shutdown || atomic_load_explicit(&c->kick, memory_order_relaxed))
			break;
	}
}

static enum vcpu_exit_reason emu_vcpu_run(struct vcpu *vcpu)
{
	struct emu_cpu *c = vcpu->accel_data;

	this_cpu = c;
	if (setjmp(c->fault_jmp)) {
		/* A fault unwound an instruction (or a delivery), or a locked
		 * instruction lost a race and runs again. */
		c->blk = NULL;
		c->jit_chain_from = NULL;
		if (c->fault_vector == EMU_RESTART)
			emu_lock_restart_state(c);
		else
			emu_deliver_fault(c);
	}
	for (;;) {
		if (c->shutdown)
			return VCPU_EXIT_SHUTDOWN;
		if (atomic_load_explicit(&c->tlb_flush_pending, memory_order_relaxed) &&
		    atomic_exchange(&c->tlb_flush_pending, 0))
			emu_tlb_flush(c, true);
		if (atomic_exchange(&c->kick, 0))
			return VCPU_EXIT_KICKED;
		if (__builtin_expect(c->saved_event.kind != CPU_EVENT_NONE, 0))
			emu_deliver_saved_event(c);
		lapic_timer_poll(c->lapic);
		handle_ipis(c);
		if (c->halted || c->wait_for_sipi) {
			wait_for_event(c);
			if (c->wait_for_sipi)
				continue;
			if ((c->s.rflags & RFLAGS_IF) && interrupt_ready(c))
				c->halted = false;
			else
				continue;
		}
		run_batch(c);
		if (log_threshold >= LOG_DEBUG && c->icount >= c->next_report) {
			c->next_report = c->icount + (1u << 24);
			log_debug("emu: vCPU %u at %llu M instructions, %04x:%llx",
				  vcpu->index, (unsigned long long)(c->icount >> 20),
				  c->s.seg[SEG_CS].selector, (unsigned long long)c->s.rip);
		}
	}
}

static void emu_vcpu_kick(struct vcpu *vcpu)
{
	struct emu_cpu *c = vcpu->accel_data;
	struct emu_vm *evm = c->evm;

	atomic_store(&c->kick, 1);
	pthread_mutex_lock(&evm->irq_lock);
	pthread_cond_broadcast(&evm->irq_cond);
	pthread_mutex_unlock(&evm->irq_lock);
}

static void emu_nmi(struct vm *vm)
{
	for (unsigned i = 0; i < vm->ncpus; i++) {
		struct emu_cpu *c = vm->vcpus[i].accel_data;
		if (c)
			lapic_lint1(c->lapic);
	}
}

const struct accel_ops accel_emu_ops = {
	.name = "emu",
	.probe = emu_probe,
	.vm_init = emu_vm_init,
	.vm_destroy = emu_vm_destroy,
	.vcpu_init = emu_vcpu_init,
	.vcpu_destroy = emu_vcpu_destroy,
	.vcpu_set_state = emu_vcpu_set_state,
	.vcpu_get_state = emu_vcpu_get_state,
	.vcpu_save = emu_vcpu_save,
	.vcpu_restore = emu_vcpu_restore,
	.vcpu_run = emu_vcpu_run,
	.vcpu_kick = emu_vcpu_kick,
	.nmi = emu_nmi,
};
