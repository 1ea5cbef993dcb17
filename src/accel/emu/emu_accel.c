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
#include "hw/pic.h"
#include "hw/pit.h"
#include "util/log.h"
#include "vm/vm.h"

/* Instructions between checks for kicks. */
#define RUN_BATCH 4096

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

static void emu_set_line(void *opaque, unsigned gsi, int level)
{
	struct emu_vm *evm = opaque;

	if (gsi < 16)
		pic_set_irq(evm->pic, gsi, level);
}

static void emu_send_msi(void *opaque, uint64_t addr, uint32_t data)
{
	(void)opaque;
	log_warn_once("emu: MSI to %#llx (data %#x) dropped: no local APIC yet",
		      (unsigned long long)addr, data);
}

/* Writes from devices and boot code: drop decoded code in those pages. */
static void emu_memory_written(void *opaque, uint64_t gpa, uint64_t len)
{
	struct emu_vm *evm = opaque;
	uint64_t pa;

	for (pa = gpa & ~0xfffULL; pa < gpa + len; pa += 4096)
		emu_code_written(evm, pa);
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
	pthread_cond_init(&evm->irq_cond, NULL);
	evm->pic = pic_create(vm, emu_irq_notify, evm);
	if (!evm->pic || !pit_create(vm))
		return -ENOMEM;
	vm->accel_data = evm;
	vm->mem.write_notify = emu_memory_written;
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
	munmap(evm->code_page, evm->npages);
	munmap(evm->page_gen, evm->npages * 4);
	free(evm);
	vm->accel_data = NULL;
}

static int emu_vcpu_init(struct vcpu *vcpu)
{
	struct emu_cpu *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
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
	emu_tlb_flush(c, true);
	vcpu->accel_data = c;
	return 0;
}

static void emu_vcpu_destroy(struct vcpu *vcpu)
{
	struct emu_cpu *c = vcpu->accel_data;

	if (c)
		free(c->dcache);
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
	emu_fpu_reset(c);
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

int emu_pending_interrupt(struct emu_cpu *c)
{
	if (c->vcpu->index != 0)
		return -1;  /* the 8259 is wired to the BSP */
	return pic_ack(c->evm->pic);
}

static bool interrupt_ready(struct emu_cpu *c)
{
	return c->vcpu->index == 0 && pic_has_interrupt(c->evm->pic);
}

/* Sleep in HLT (or waiting for SIPI) until an interrupt or a kick. */
static void wait_for_event(struct emu_cpu *c)
{
	struct emu_vm *evm = c->evm;

	pthread_mutex_lock(&evm->irq_lock);
	while (!atomic_load(&c->kick) &&
	       (c->wait_for_sipi ||
		!((c->s.rflags & RFLAGS_IF) && interrupt_ready(c))))
		pthread_cond_wait(&evm->irq_cond, &evm->irq_lock);
	pthread_mutex_unlock(&evm->irq_lock);
}

static enum vcpu_exit_reason emu_vcpu_run(struct vcpu *vcpu)
{
	struct emu_cpu *c = vcpu->accel_data;
	unsigned n;

	if (setjmp(c->fault_jmp)) {
		/* A fault unwound an instruction (or a delivery). */
		emu_deliver_fault(c);
	}
	for (;;) {
		if (c->shutdown)
			return VCPU_EXIT_SHUTDOWN;
		if (atomic_exchange(&c->kick, 0))
			return VCPU_EXIT_KICKED;
		if (c->halted || c->wait_for_sipi) {
			wait_for_event(c);
			if (c->wait_for_sipi)
				continue;
			if ((c->s.rflags & RFLAGS_IF) && interrupt_ready(c))
				c->halted = false;
			else
				continue;
		}
		for (n = 0; n < RUN_BATCH && !c->halted; n++) {
			if (c->irq_shadow) {
				c->irq_shadow = false;
			} else if ((c->s.rflags & RFLAGS_IF) && interrupt_ready(c)) {
				int vec = emu_pending_interrupt(c);
				if (vec >= 0) {
					c->insn_rip = c->s.rip;
					emu_deliver(c, vec, 0, false, false, c->s.rip);
				}
			}
			emu_step(c);
			if (c->shutdown)
				break;
		}
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

static void emu_set_irq_line(struct vm *vm, unsigned gsi, int level)
{
	emu_set_line(vm->accel_data, gsi, level);
}

static void emu_accel_send_msi(struct vm *vm, uint64_t addr, uint32_t data)
{
	emu_send_msi(vm->accel_data, addr, data);
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
	.vcpu_run = emu_vcpu_run,
	.vcpu_kick = emu_vcpu_kick,
	.set_irq_line = emu_set_irq_line,
	.send_msi = emu_accel_send_msi,
};
