/*
 * MSI-X for PCI devices: the capability, the vector table and the pending
 * bit array (PCI Local Bus spec 3.0, 6.8.2).  The table and PBA live in a
 * BAR of the device, whose MMIO handler forwards to the functions here.
 *
 * Where the accelerator has irqfds (KVM), every unmasked vector of an
 * enabled function is routed to an eventfd, and sending it is a write to
 * that eventfd: the kernel interrupts the guest without wirt's help.
 * Masked vectors are not routed, so their messages go to the pending bits.
 */
#include "hw/pci.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "migration/vmstate.h"
#include "vm/vm.h"

#define MSIX_CONTROL_ENABLE   0x8000
#define MSIX_CONTROL_MASKALL  0x4000
#define MSIX_ENTRY_MASKED     1u
#define MSIX_CAP_LEN          12

static uint16_t control(struct pci_device *dev)
{
	uint16_t c;

	memcpy(&c, dev->config + dev->msix.cap + 2, 2);
	return c;
}

/* One eventfd per vector where the accelerator can route them. */
static void irqfds_init(struct pci_device *dev)
{
	struct pci_msix *m = &dev->msix;
	unsigned i;

	if (!dev->vm->accel || !dev->vm->accel->msi_irqfd)
		return;
	m->irqfd = malloc(m->nvectors * sizeof(*m->irqfd));
	m->routed = calloc(m->nvectors, sizeof(*m->routed));
	if (!m->irqfd || !m->routed) {
		free(m->irqfd);
		free(m->routed);
		m->irqfd = NULL;
		m->routed = NULL;
		return;
	}
	for (i = 0; i < m->nvectors; i++)
		m->irqfd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

static bool vector_masked(struct pci_device *dev, unsigned vector)
{
	return (control(dev) & MSIX_CONTROL_MASKALL) ||
	       (dev->msix.table[vector][3] & MSIX_ENTRY_MASKED);
}

/* Route the vector's eventfd to its message exactly while it may fire. */
static void sync_route(struct pci_device *dev, unsigned vector)
{
	struct pci_msix *m = &dev->msix;
	const struct accel_ops *accel = dev->vm->accel;
	uint32_t *e = m->table[vector];
	int fd;

	if (!m->irqfd || m->irqfd[vector] < 0)
		return;
	fd = m->irqfd[vector];
	if ((control(dev) & MSIX_CONTROL_ENABLE) && !vector_masked(dev, vector)) {
		m->routed[vector] = !accel->msi_irqfd(dev->vm, fd,
					e[0] | (uint64_t)e[1] << 32, e[2], true);
	} else if (m->routed[vector]) {
		accel->msi_irqfd(dev->vm, fd, 0, 0, false);
		m->routed[vector] = false;
	}
}

int pci_msix_init(struct pci_device *dev, unsigned nvectors, unsigned bar,
		  uint32_t table_off, uint32_t pba_off)
{
	struct pci_msix *m = &dev->msix;
	uint16_t ctl = nvectors - 1;
	uint32_t v;
	unsigned i;

	m->cap = pci_add_capability(dev, PCI_CAP_ID_MSIX, MSIX_CAP_LEN);
	if (!m->cap || !nvectors || nvectors > 2048)
		return -EINVAL;
	m->table = calloc(nvectors, sizeof(*m->table));
	m->pending = calloc((nvectors + 63) / 64, sizeof(*m->pending));
	if (!m->table || !m->pending)
		return -ENOMEM;
	for (i = 0; i < nvectors; i++)
		m->table[i][3] = MSIX_ENTRY_MASKED;
	m->nvectors = nvectors;
	memcpy(dev->config + m->cap + 2, &ctl, 2);
	v = table_off | bar;
	memcpy(dev->config + m->cap + 4, &v, 4);
	v = pba_off | bar;
	memcpy(dev->config + m->cap + 8, &v, 4);
	dev->wmask[m->cap + 3] = (MSIX_CONTROL_ENABLE | MSIX_CONTROL_MASKALL) >> 8;
	irqfds_init(dev);
	return 0;
}

bool pci_msix_enabled(struct pci_device *dev)
{
	bool on;

	if (!dev->msix.nvectors)
		return false;
	pthread_mutex_lock(&dev->lock);
	on = control(dev) & MSIX_CONTROL_ENABLE;
	pthread_mutex_unlock(&dev->lock);
	return on;
}

/* Deliver vector now if nothing masks it, else leave it pending; lock held. */
static void try_deliver(struct pci_device *dev, unsigned vector)
{
	struct pci_msix *m = &dev->msix;
	uint32_t *e = m->table[vector];
	uint64_t bit = 1ull << (vector % 64), one = 1;

	if (vector_masked(dev, vector)) {
		m->pending[vector / 64] |= bit;
		return;
	}
	m->pending[vector / 64] &= ~bit;
	if (m->routed && m->routed[vector] &&
	    write(m->irqfd[vector], &one, sizeof(one)) == sizeof(one))
		return;
	irq_send_msi(dev->vm, e[0] | (uint64_t)e[1] << 32, e[2]);
}

bool pci_msix_notify(struct pci_device *dev, unsigned vector)
{
	bool sent = false;

	if (!dev->msix.nvectors)
		return false;
	pthread_mutex_lock(&dev->lock);
	if ((control(dev) & MSIX_CONTROL_ENABLE) && vector < dev->msix.nvectors) {
		try_deliver(dev, vector);
		sent = true;
	}
	pthread_mutex_unlock(&dev->lock);
	return sent;
}

/* Unmasking sends what became pending while masked; lock held. */
static void deliver_pending(struct pci_device *dev)
{
	unsigned i;

	for (i = 0; i < dev->msix.nvectors; i++)
		sync_route(dev, i);
	if (!(control(dev) & MSIX_CONTROL_ENABLE))
		return;
	for (i = 0; i < dev->msix.nvectors; i++)
		if (dev->msix.pending[i / 64] & (1ull << (i % 64)))
			try_deliver(dev, i);
}

void pci_msix_control_written(struct pci_device *dev)
{
	deliver_pending(dev);
}

uint64_t pci_msix_table_read(struct pci_device *dev, uint64_t off,
			     unsigned size)
{
	struct pci_msix *m = &dev->msix;
	uint64_t v;

	if (size == 8)
		return pci_msix_table_read(dev, off, 4) |
		       pci_msix_table_read(dev, off + 4, 4) << 32;
	if (off / 16 >= m->nvectors || size != 4 || (off & 3))
		return 0;
	pthread_mutex_lock(&dev->lock);
	v = m->table[off / 16][(off % 16) / 4];
	pthread_mutex_unlock(&dev->lock);
	return v;
}

void pci_msix_table_write(struct pci_device *dev, uint64_t off, uint64_t value,
			  unsigned size)
{
	struct pci_msix *m = &dev->msix;
	unsigned vector = off / 16, word = (off % 16) / 4;

	if (size == 8) {
		pci_msix_table_write(dev, off, (uint32_t)value, 4);
		pci_msix_table_write(dev, off + 4, value >> 32, 4);
		return;
	}
	if (vector >= m->nvectors || size != 4 || (off & 3))
		return;
	pthread_mutex_lock(&dev->lock);
	m->table[vector][word] = word == 3 ? (value & MSIX_ENTRY_MASKED) : value;
	sync_route(dev, vector);
	if (word == 3 && !(value & MSIX_ENTRY_MASKED) &&
	    (m->pending[vector / 64] & (1ull << (vector % 64))) &&
	    (control(dev) & MSIX_CONTROL_ENABLE))
		try_deliver(dev, vector);
	pthread_mutex_unlock(&dev->lock);
}

uint64_t pci_msix_pba_read(struct pci_device *dev, uint64_t off, unsigned size)
{
	struct pci_msix *m = &dev->msix;
	uint64_t v;

	if (off + size > ((m->nvectors + 63) / 64) * 8 || (off & (size - 1)))
		return 0;
	pthread_mutex_lock(&dev->lock);
	v = m->pending[off / 8] >> (8 * (off % 8));
	pthread_mutex_unlock(&dev->lock);
	return size == 8 ? v : v & ((1ull << (8 * size)) - 1);
}

void pci_msix_reset(struct pci_device *dev)
{
	struct pci_msix *m = &dev->msix;
	unsigned i;

	if (!m->nvectors)
		return;
	memset(m->pending, 0, (m->nvectors + 63) / 64 * sizeof(*m->pending));
	for (i = 0; i < m->nvectors; i++) {
		memset(m->table[i], 0, sizeof(m->table[i]));
		m->table[i][3] = MSIX_ENTRY_MASKED;
		sync_route(dev, i);
	}
}

void pci_msix_save(struct pci_device *dev, struct vmstate_out *o)
{
	struct pci_msix *m = &dev->msix;
	unsigned i;

	vmstate_put_u32(o, m->nvectors);
	for (i = 0; i < m->nvectors; i++)
		for (unsigned w = 0; w < 4; w++)
			vmstate_put_u32(o, m->table[i][w]);
	for (i = 0; i < (m->nvectors + 63) / 64; i++)
		vmstate_put_u64(o, m->pending[i]);
}

int pci_msix_load(struct pci_device *dev, struct vmstate_in *in)
{
	struct pci_msix *m = &dev->msix;
	unsigned i, n = vmstate_get_u32(in);

	if (n != m->nvectors)
		return vmstate_fail(in, -EINVAL, "pci %s: the state has %u MSI-X vectors, this device %u",
				    dev->name, n, m->nvectors);
	for (i = 0; i < m->nvectors; i++) {
		for (unsigned w = 0; w < 4; w++)
			m->table[i][w] = vmstate_get_u32(in);
		m->table[i][3] &= MSIX_ENTRY_MASKED;
	}
	for (i = 0; i < (m->nvectors + 63) / 64; i++)
		m->pending[i] = vmstate_get_u64(in);
	if (in->error) {
		pci_msix_reset(dev);
		return in->error;
	}
	deliver_pending(dev);
	return 0;
}

void pci_msix_destroy(struct pci_device *dev)
{
	struct pci_msix *m = &dev->msix;
	unsigned i;

	for (i = 0; m->irqfd && i < m->nvectors; i++)
		if (m->irqfd[i] >= 0)
			close(m->irqfd[i]);
	free(m->irqfd);
	free(m->routed);
	free(m->table);
	free(m->pending);
}
