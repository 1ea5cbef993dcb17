/*
 * KVM interrupt routing and irqfds.
 *
 * The kernel's routing table says where each GSI goes.  wirt installs the
 * PC's wiring as the ACPI MADT describes it (ISA IRQ 0, the PIT, reaches
 * IOAPIC pin 2; the other ISA IRQs reach the 8259s and the IOAPIC pin of
 * the same number; PCI INTx reaches IOAPIC pins 16-23), and adds one GSI
 * per MSI that a device raises through an eventfd (irqfd).  A write to such
 * an eventfd interrupts the guest from inside the kernel, so device threads
 * never call into the irqchip themselves.
 */
#include "accel/kvm_vm.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "util/log.h"
#include "vm/vm.h"

#define IOAPIC_PINS 24
#define FIRST_MSI_GSI IOAPIC_PINS
#define PIC_CASCADE_PIN 2
#define PIT_IOAPIC_PIN 2

static void irqchip_entry(struct kvm_irq_routing_entry *e, unsigned gsi,
			  unsigned chip, unsigned pin)
{
	memset(e, 0, sizeof(*e));
	e->gsi = gsi;
	e->type = KVM_IRQ_ROUTING_IRQCHIP;
	e->u.irqchip.irqchip = chip;
	e->u.irqchip.pin = pin;
}

/* Hand the whole table to the kernel (it replaces the old one); lock held. */
static int commit_routes(struct kvm_vm *k)
{
	unsigned max = 2 * IOAPIC_PINS + KVM_MAX_MSI_ROUTES, n = 0, gsi, i;
	struct kvm_irq_routing *r;
	int ret = 0;

	r = calloc(1, sizeof(*r) + max * sizeof(r->entries[0]));
	if (!r)
		return -ENOMEM;
	for (gsi = 0; gsi < 16; gsi++) {
		if (gsi == PIC_CASCADE_PIN)
			continue;
		irqchip_entry(&r->entries[n++], gsi,
			      gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE,
			      gsi % 8);
	}
	for (gsi = 0; gsi < IOAPIC_PINS; gsi++) {
		if (gsi == PIT_IOAPIC_PIN)
			continue; /* reached through GSI 0, as the MADT says */
		irqchip_entry(&r->entries[n++], gsi, KVM_IRQCHIP_IOAPIC,
			      gsi ? gsi : PIT_IOAPIC_PIN);
	}
	for (i = 0; i < k->nmsi; i++) {
		struct kvm_irq_routing_entry *e = &r->entries[n++];

		memset(e, 0, sizeof(*e));
		e->gsi = k->msi[i].gsi;
		e->type = KVM_IRQ_ROUTING_MSI;
		e->u.msi.address_lo = (uint32_t)k->msi[i].addr;
		e->u.msi.address_hi = k->msi[i].addr >> 32;
		e->u.msi.data = k->msi[i].data;
	}
	r->nr = n;
	if (ioctl(k->vm_fd, KVM_SET_GSI_ROUTING, r) < 0)
		ret = -errno;
	free(r);
	return ret;
}

void kvm_irq_routing_init(struct kvm_vm *k)
{
	int max = ioctl(k->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQ_ROUTING);
	int ret;

	pthread_mutex_init(&k->route_lock, NULL);
	if (max <= FIRST_MSI_GSI ||
	    ioctl(k->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQFD) <= 0) {
		log_info("KVM: no interrupt routing or irqfd; devices send MSIs with KVM_SIGNAL_MSI");
		return;
	}
	k->max_gsi = max;
	ret = commit_routes(k);
	if (ret) {
		log_warn("KVM_SET_GSI_ROUTING: %s; the kernel's default wiring stays and devices send MSIs with KVM_SIGNAL_MSI",
			 strerror(-ret));
		return;
	}
	k->has_routing = true;
}

static struct kvm_msi_route *find_route(struct kvm_vm *k, int fd)
{
	unsigned i;

	for (i = 0; i < k->nmsi; i++)
		if (k->msi[i].fd == fd)
			return &k->msi[i];
	return NULL;
}

/* The lowest GSI above the IOAPIC's that no MSI route holds; lock held. */
static unsigned free_gsi(struct kvm_vm *k)
{
	unsigned gsi = FIRST_MSI_GSI, i;

again:
	for (i = 0; i < k->nmsi; i++) {
		if (k->msi[i].gsi == gsi) {
			gsi++;
			goto again;
		}
	}
	return gsi;
}

static int irqfd_ioctl(struct kvm_vm *k, int fd, unsigned gsi, bool assign)
{
	struct kvm_irqfd irqfd = {
		.fd = fd,
		.gsi = gsi,
		.flags = assign ? 0 : KVM_IRQFD_FLAG_DEASSIGN,
	};

	return ioctl(k->vm_fd, KVM_IRQFD, &irqfd) < 0 ? -errno : 0;
}

static int add_route(struct kvm_vm *k, int fd, uint64_t addr, uint32_t data)
{
	struct kvm_msi_route *r;
	int ret;

	if (k->nmsi == KVM_MAX_MSI_ROUTES || free_gsi(k) >= k->max_gsi)
		return -ENOSPC;
	r = &k->msi[k->nmsi++];
	*r = (struct kvm_msi_route){ .fd = fd, .gsi = free_gsi(k),
				     .addr = addr, .data = data };
	/* free_gsi ran before r joined the table, so r->gsi is free. */
	ret = commit_routes(k);
	if (!ret)
		ret = irqfd_ioctl(k, fd, r->gsi, true);
	if (ret) {
		k->nmsi--;
		commit_routes(k);
	}
	return ret;
}

static int remove_route(struct kvm_vm *k, struct kvm_msi_route *r)
{
	int ret = irqfd_ioctl(k, r->fd, r->gsi, false);

	*r = k->msi[--k->nmsi];
	commit_routes(k);
	return ret;
}

int kvm_msi_irqfd(struct vm *vm, int fd, uint64_t addr, uint32_t data,
		  bool assign)
{
	struct kvm_vm *k = vm->accel_data;
	struct kvm_msi_route *r;
	int ret = 0;

	if (!k->has_routing)
		return -ENOSYS;
	pthread_mutex_lock(&k->route_lock);
	r = find_route(k, fd);
	if (!assign) {
		if (r)
			ret = remove_route(k, r);
	} else if (!r) {
		ret = add_route(k, fd, addr, data);
	} else if (r->addr != addr || r->data != data) {
		uint64_t old_addr = r->addr;
		uint32_t old_data = r->data;

		r->addr = addr;
		r->data = data;
		ret = commit_routes(k);
		if (ret) {
			r->addr = old_addr;
			r->data = old_data;
		}
	}
	pthread_mutex_unlock(&k->route_lock);
	if (ret && ret != -ENOSYS)
		log_warn_once("KVM irqfd: %s; MSIs go through KVM_SIGNAL_MSI",
			      strerror(-ret));
	return ret;
}
