/*
 * The virtio PCI transport (virtio 1.x, 4.1): capabilities, the common
 * configuration structure, ISR, device configuration, notifications and
 * MSI-X, all in one memory BAR; plus each device's worker thread.
 */
#include "hw/virtio/virtio.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "hw/pci.h"
#include "migration/vmstate.h"
#include "util/log.h"
#include "util/sandbox.h"
#include "vm/vm.h"

#define VIRTIO_PCI_VENDOR  0x1af4
#define VIRTIO_PCI_DEVICE_BASE 0x1040

/* Layout of BAR0. */
#define BAR_COMMON   0x0000
#define BAR_ISR      0x1000
#define BAR_DEVICE   0x2000
#define BAR_NOTIFY   0x3000
#define BAR_MSIX     0x4000
#define BAR_PBA      0x5000
#define BAR_SIZE     0x8000
#define NOTIFY_MULTIPLIER 4
#define COMMON_LEN   0x38

/* virtio_pci_cap cfg_type values (4.1.4). */
#define CAP_COMMON_CFG 1
#define CAP_NOTIFY_CFG 2
#define CAP_ISR_CFG    3
#define CAP_DEVICE_CFG 4
#define CAP_PCI_CFG    5
#define PCI_CFG_CAP_LEN 20  /* virtio_pci_cap and 4 data bytes */

#define NO_VECTOR 0xffff

static unsigned nvectors(const struct virtio_device *vdev)
{
	return vdev->ops->nqueues + 1;
}

/* Raise INTx for the ISR bits, or send an MSI-X vector. */
static void interrupt(struct virtio_device *vdev, uint32_t isr_bit,
		      uint16_t vector)
{
	if (pci_msix_enabled(vdev->pci)) {
		if (vector != NO_VECTOR)
			pci_msix_notify(vdev->pci, vector);
		return;
	}
	__atomic_or_fetch(&vdev->isr, isr_bit, __ATOMIC_SEQ_CST);
	pci_set_intx(vdev->pci, 1);
}

void virtio_notify_queue(struct virtio_device *vdev, unsigned q)
{
	if (virtq_should_notify(&vdev->vq[q]))
		interrupt(vdev, 1, vdev->queue_vector[q]);
}

void virtio_notify_config(struct virtio_device *vdev)
{
	vdev->config_generation++;
	if (vdev->status & VIRTIO_STATUS_DRIVER_OK)
		interrupt(vdev, 2, vdev->config_vector);
}

void virtio_set_needs_reset(struct virtio_device *vdev)
{
	if (vdev->status & VIRTIO_STATUS_NEEDS_RESET)
		return;
	vdev->status |= VIRTIO_STATUS_NEEDS_RESET;
	virtio_notify_config(vdev);
}

void virtio_kick(struct virtio_device *vdev, unsigned q)
{
	uint64_t one = 1;

	if (q < vdev->ops->nqueues &&
	    write(vdev->kick_fd[q], &one, sizeof(one)) < 0)
		log_warn_once("virtio: cannot signal the worker: %m");
}

/* Device reset (status 0 or machine reset); lock held. */
static void device_reset(struct virtio_device *vdev)
{
	unsigned q;

	if (vdev->ops->reset)
		vdev->ops->reset(vdev);
	vdev->guest_features = 0;
	vdev->device_feature_select = vdev->driver_feature_select = 0;
	vdev->status = 0;
	vdev->queue_select = 0;
	vdev->config_vector = NO_VECTOR;
	for (q = 0; q < vdev->ops->nqueues; q++) {
		virtq_reset(&vdev->vq[q], &vdev->vm->mem, vdev->ops->queue_size);
		vdev->queue_vector[q] = NO_VECTOR;
	}
	__atomic_store_n(&vdev->isr, 0, __ATOMIC_SEQ_CST);
	pci_set_intx(vdev->pci, 0);
}

static void status_write(struct virtio_device *vdev, uint8_t status)
{
	uint8_t old = vdev->status;

	if (!status) {
		device_reset(vdev);
		return;
	}
	if ((status & VIRTIO_STATUS_FEATURES_OK) &&
	    !(old & VIRTIO_STATUS_FEATURES_OK) &&
	    !virtio_has_feature(vdev, VIRTIO_F_VERSION_1)) {
		/* Legacy drivers are not served: FEATURES_OK does not stick. */
		log_warn_once("%s: the driver did not accept VIRTIO_F_VERSION_1",
			      vdev->ops->name);
		status &= ~VIRTIO_STATUS_FEATURES_OK;
	}
	vdev->status = status | (old & VIRTIO_STATUS_NEEDS_RESET);
	if ((status & VIRTIO_STATUS_DRIVER_OK) &&
	    !(old & VIRTIO_STATUS_DRIVER_OK)) {
		unsigned q;

		if (vdev->ops->driver_ok)
			vdev->ops->driver_ok(vdev);
		/* Requests queued before DRIVER_OK were not served yet. */
		for (q = 0; q < vdev->ops->nqueues; q++)
			if (vdev->vq[q].ready)
				virtio_kick(vdev, q);
	}
}

static void queue_enable(struct virtio_device *vdev, struct virtq *vq,
			 unsigned q)
{
	vq->event_idx = virtio_has_feature(vdev, VIRTIO_F_RING_EVENT_IDX);
	vq->indirect = virtio_has_feature(vdev, VIRTIO_F_RING_INDIRECT_DESC);
	if (virtq_enable(vq)) {
		virtio_set_needs_reset(vdev);
		return;
	}
	virtio_kick(vdev, q);
}

static uint64_t common_read(struct virtio_device *vdev, unsigned off)
{
	unsigned q = vdev->queue_select;
	struct virtq *vq = q < vdev->ops->nqueues ? &vdev->vq[q] : NULL;

	switch (off) {
	case 0:
		return vdev->device_feature_select;
	case 4:
		return vdev->device_feature_select < 2 ?
		       (uint32_t)(vdev->host_features >>
				  (32 * vdev->device_feature_select)) : 0;
	case 8:
		return vdev->driver_feature_select;
	case 12:
		return vdev->driver_feature_select < 2 ?
		       (uint32_t)(vdev->guest_features >>
				  (32 * vdev->driver_feature_select)) : 0;
	case 16:
		return vdev->config_vector;
	case 18:
		return vdev->ops->nqueues;
	case 20:
		return vdev->status;
	case 21:
		return vdev->config_generation;
	case 22:
		return vdev->queue_select;
	case 24:
		return vq ? vq->size : 0;
	case 26:
		return vq ? vdev->queue_vector[q] : NO_VECTOR;
	case 28:
		return vq ? vq->ready : 0;
	case 30:
		return vq ? q : 0;
	case 32: return vq ? (uint32_t)vq->desc_gpa : 0;
	case 36: return vq ? vq->desc_gpa >> 32 : 0;
	case 40: return vq ? (uint32_t)vq->avail_gpa : 0;
	case 44: return vq ? vq->avail_gpa >> 32 : 0;
	case 48: return vq ? (uint32_t)vq->used_gpa : 0;
	case 52: return vq ? vq->used_gpa >> 32 : 0;
	}
	return 0;
}

static void set_half(uint64_t *field, unsigned hi, uint32_t v)
{
	*field = hi ? (*field & 0xffffffffull) | (uint64_t)v << 32
		    : (*field & ~0xffffffffull) | v;
}

static void common_write(struct virtio_device *vdev, unsigned off, uint32_t v)
{
	unsigned q = vdev->queue_select;
	struct virtq *vq = q < vdev->ops->nqueues ? &vdev->vq[q] : NULL;
	bool queue_locked = vq && vq->ready;

	switch (off) {
	case 0:
		vdev->device_feature_select = v;
		return;
	case 8:
		vdev->driver_feature_select = v;
		return;
	case 12:
		if (vdev->driver_feature_select < 2 &&
		    !(vdev->status & VIRTIO_STATUS_FEATURES_OK)) {
			uint64_t mask = 0xffffffffull << (32 * vdev->driver_feature_select);
			uint64_t val = (uint64_t)v << (32 * vdev->driver_feature_select);

			vdev->guest_features = (vdev->guest_features & ~mask) |
					       (val & mask & vdev->host_features);
		}
		return;
	case 16:
		vdev->config_vector = v < nvectors(vdev) ? v : NO_VECTOR;
		return;
	case 20:
		status_write(vdev, v);
		return;
	case 22:
		vdev->queue_select = v;
		return;
	}
	/* The rest configures the selected queue, until it is enabled. */
	if (!vq || queue_locked) {
		if (vq && off == 26)
			vdev->queue_vector[q] = v < nvectors(vdev) ? v : NO_VECTOR;
		return;
	}
	switch (off) {
	case 24:
		vq->size = v;
		break;
	case 26:
		vdev->queue_vector[q] = v < nvectors(vdev) ? v : NO_VECTOR;
		break;
	case 28:
		if (v == 1)
			queue_enable(vdev, vq, q);
		break;
	case 32: case 36:
		set_half(&vq->desc_gpa, off == 36, v);
		break;
	case 40: case 44:
		set_half(&vq->avail_gpa, off == 44, v);
		break;
	case 48: case 52:
		set_half(&vq->used_gpa, off == 52, v);
		break;
	}
}

/* Field widths of the common structure, so odd-sized accesses are ignored. */
static unsigned common_width(unsigned off)
{
	if (off < 16)
		return 4;
	if (off == 20 || off == 21)
		return 1;
	if (off < 32)
		return 2;
	return off < COMMON_LEN ? 4 : 0;
}

static uint64_t bar_read(void *opaque, uint64_t off, unsigned size)
{
	struct virtio_device *vdev = opaque;
	uint64_t v = 0;

	if (off >= BAR_MSIX && off < BAR_PBA)
		return pci_msix_table_read(vdev->pci, off - BAR_MSIX, size);
	if (off >= BAR_PBA)
		return pci_msix_pba_read(vdev->pci, off - BAR_PBA, size);
	if (off >= BAR_ISR && off < BAR_DEVICE) {
		/* Reading the ISR acknowledges the interrupt. */
		if (off != BAR_ISR)
			return 0;
		v = __atomic_exchange_n(&vdev->isr, 0, __ATOMIC_SEQ_CST);
		pci_set_intx(vdev->pci, 0);
		return v;
	}
	if (off >= BAR_NOTIFY)
		return 0;
	pthread_mutex_lock(&vdev->lock);
	if (off < BAR_ISR) {
		if (size == 8 && off >= 32 && !(off & 7))
			v = common_read(vdev, off) |
			    common_read(vdev, off + 4) << 32;
		else if (common_width(off) == size)
			v = common_read(vdev, off);
	} else if (off - BAR_DEVICE + size <= vdev->ops->config_size) {
		memcpy(&v, vdev->config + off - BAR_DEVICE, size);
	}
	pthread_mutex_unlock(&vdev->lock);
	return v;
}

static void bar_write(void *opaque, uint64_t off, uint64_t value, unsigned size)
{
	struct virtio_device *vdev = opaque;

	if (off >= BAR_NOTIFY && off < BAR_MSIX) {
		unsigned q = (off - BAR_NOTIFY) / NOTIFY_MULTIPLIER;

		virtio_kick(vdev, q);
		return;
	}
	if (off >= BAR_MSIX && off < BAR_PBA) {
		pci_msix_table_write(vdev->pci, off - BAR_MSIX, value, size);
		return;
	}
	if (off >= BAR_ISR && off < BAR_DEVICE)
		return;
	if (off >= BAR_PBA)
		return;
	pthread_mutex_lock(&vdev->lock);
	if (off < BAR_ISR) {
		if (size == 8 && off >= 32 && !(off & 7)) {
			common_write(vdev, off, (uint32_t)value);
			common_write(vdev, off + 4, value >> 32);
		} else if (common_width(off) == size) {
			common_write(vdev, off, value);
		}
	} else if (off - BAR_DEVICE + size <= vdev->ops->config_size &&
		   vdev->ops->config_write) {
		memcpy(vdev->config + off - BAR_DEVICE, &value, size);
		vdev->ops->config_write(vdev, off - BAR_DEVICE, size);
	}
	pthread_mutex_unlock(&vdev->lock);
}

static const struct io_ops bar_ops = {
	.read = bar_read,
	.write = bar_write,
};

/* A virtio_pci_cap (4.1.4) pointing into BAR0. */
static int add_virtio_cap(struct pci_device *pci, uint8_t type, uint32_t off,
			  uint32_t len, unsigned cap_len)
{
	unsigned c = pci_add_capability(pci, PCI_CAP_ID_VNDR, cap_len);

	if (!c)
		return -ENOSPC;
	pci->config[c + 2] = cap_len;
	pci->config[c + 3] = type;
	pci->config[c + 4] = 0; /* BAR0 */
	memcpy(pci->config + c + 8, &off, 4);
	memcpy(pci->config + c + 12, &len, 4);
	if (type == CAP_NOTIFY_CFG) {
		uint32_t mult = NOTIFY_MULTIPLIER;

		memcpy(pci->config + c + 16, &mult, 4);
	}
	return 0;
}

/* The PCI_CFG window: bar, offset, length and data are the guest's. */
static int add_pci_cfg_cap(struct virtio_device *vdev)
{
	struct pci_device *pci = vdev->pci;
	unsigned c = pci_add_capability(pci, PCI_CAP_ID_VNDR, PCI_CFG_CAP_LEN);

	if (!c)
		return -ENOSPC;
	pci->config[c + 2] = PCI_CFG_CAP_LEN;
	pci->config[c + 3] = CAP_PCI_CFG;
	pci->wmask[c + 4] = 0xff;
	memset(pci->wmask + c + 8, 0xff, 12);
	vdev->pci_cfg_cap = c;
	return 0;
}

/* Under KVM, notify writes signal the kick eventfds in the kernel. */
static void update_ioeventfds(struct virtio_device *vdev)
{
	const struct accel_ops *accel = vdev->vm->accel;
	struct pci_bar *bar = &vdev->pci->bars[0];
	uint64_t base = bar->mapped ? bar->addr + BAR_NOTIFY : 0;
	unsigned q;

	if (!accel->ioeventfd || base == vdev->ioeventfd_base)
		return;
	for (q = 0; q < vdev->ops->nqueues; q++) {
		if (vdev->ioeventfd_base)
			accel->ioeventfd(vdev->vm, vdev->ioeventfd_base +
					 q * NOTIFY_MULTIPLIER, 2,
					 vdev->kick_fd[q], false);
		if (base && accel->ioeventfd(vdev->vm, base + q * NOTIFY_MULTIPLIER,
					     2, vdev->kick_fd[q], true))
			base = 0; /* notify writes then exit to bar_write */
	}
	vdev->ioeventfd_base = base;
}

/*
 * The PCI_CFG capability (4.1.4.9): firmware that has not mapped BAR0 yet
 * names a BAR offset and length in the capability and reads or writes
 * the BAR through its 4 data bytes.  Returns the window's BAR offset and
 * length, or false when the guest's choice is not a valid access.
 */
static bool pci_cfg_window(struct virtio_device *vdev, unsigned off,
			   unsigned size, uint32_t *bar_off, uint32_t *len)
{
	struct pci_device *pci = vdev->pci;
	unsigned data = vdev->pci_cfg_cap + 16;
	bool ok;

	if (!vdev->pci_cfg_cap || off >= data + 4 || off + size <= data)
		return false;
	pthread_mutex_lock(&pci->lock);
	memcpy(bar_off, pci->config + vdev->pci_cfg_cap + 8, 4);
	memcpy(len, pci->config + vdev->pci_cfg_cap + 12, 4);
	ok = pci->config[vdev->pci_cfg_cap + 4] == 0 &&
	     (*len == 1 || *len == 2 || *len == 4) && !(*bar_off % *len) &&
	     *bar_off < BAR_SIZE;
	pthread_mutex_unlock(&pci->lock);
	return ok;
}

static void config_read(struct pci_device *pci, unsigned off, unsigned size)
{
	struct virtio_device *vdev = pci->opaque;
	uint32_t bar_off, len, v;

	if (!pci_cfg_window(vdev, off, size, &bar_off, &len))
		return;
	v = bar_read(vdev, bar_off, len);
	pthread_mutex_lock(&pci->lock);
	memcpy(pci->config + vdev->pci_cfg_cap + 16, &v, 4);
	pthread_mutex_unlock(&pci->lock);
}

static void config_written(struct pci_device *pci, unsigned off, unsigned size)
{
	struct virtio_device *vdev = pci->opaque;
	uint32_t bar_off, len, v;

	update_ioeventfds(vdev);
	/* A reset or restore announces the whole space: no guest access
	 * through the window (those are at most 4 bytes). */
	if (size > 4 || !pci_cfg_window(vdev, off, size, &bar_off, &len))
		return;
	pthread_mutex_lock(&pci->lock);
	memcpy(&v, pci->config + vdev->pci_cfg_cap + 16, 4);
	pthread_mutex_unlock(&pci->lock);
	bar_write(vdev, bar_off, v & (len == 4 ? 0xffffffffu : (1u << (8 * len)) - 1),
		  len);
}

static void *worker_main(void *opaque)
{
	struct virtio_device *vdev = opaque;
	struct pollfd fds[VIRTIO_MAX_QUEUES + 1];
	unsigned q, n = vdev->ops->nqueues;

	pthread_setname_np(pthread_self(), vdev->ops->name);
	for (q = 0; q < n; q++)
		fds[q] = (struct pollfd){ .fd = vdev->kick_fd[q], .events = POLLIN };
	fds[n] = (struct pollfd){ .fd = vdev->stop_fd, .events = POLLIN };
	for (;;) {
		uint64_t count;

		if (poll(fds, n + 1, -1) < 0)
			continue;
		/* Started before the sandbox: narrow at the first wake. */
		sandbox_thread_enter(vdev->ops->network ? SANDBOX_THREAD_NETWORK
							: SANDBOX_THREAD_DEVICE);
		if (fds[n].revents)
			return NULL;
		for (q = 0; q < n; q++) {
			if (!fds[q].revents)
				continue;
			if (read(fds[q].fd, &count, sizeof(count)) < 0)
				continue;
			pthread_mutex_lock(&vdev->lock);
			if (vdev->vq[q].ready && !vdev->vq[q].broken &&
			    (vdev->status & VIRTIO_STATUS_DRIVER_OK))
				vdev->ops->queue_notify(vdev, q);
			if (vdev->vq[q].broken)
				virtio_set_needs_reset(vdev);
			pthread_mutex_unlock(&vdev->lock);
		}
	}
}

static void virtio_machine_reset(void *opaque)
{
	struct virtio_device *vdev = opaque;

	pthread_mutex_lock(&vdev->lock);
	device_reset(vdev);
	pthread_mutex_unlock(&vdev->lock);
}

/*
 * The transport: features, status, vectors, queues.  Requests complete
 * under vdev->lock (the worker's queue_notify), so holding it leaves none
 * in flight; the device model's configuration is its own (made again
 * from its options), not restored.
 */
static void virtio_save(void *opaque, struct vmstate_out *o)
{
	struct virtio_device *vdev = opaque;
	unsigned q;

	pthread_mutex_lock(&vdev->lock);
	vmstate_put_u16(o, vdev->ops->device_id);
	vmstate_put_u64(o, vdev->guest_features);
	vmstate_put_u32(o, vdev->device_feature_select);
	vmstate_put_u32(o, vdev->driver_feature_select);
	vmstate_put_u8(o, vdev->status);
	vmstate_put_u8(o, vdev->config_generation);
	vmstate_put_u16(o, vdev->queue_select);
	vmstate_put_u16(o, vdev->config_vector);
	vmstate_put_u32(o, __atomic_load_n(&vdev->isr, __ATOMIC_SEQ_CST));
	vmstate_put_u32(o, vdev->ops->nqueues);
	for (q = 0; q < vdev->ops->nqueues; q++) {
		vmstate_put_u16(o, vdev->queue_vector[q]);
		virtq_save(&vdev->vq[q], o);
	}
	if (vdev->ops->save)
		vdev->ops->save(vdev, o);
	pthread_mutex_unlock(&vdev->lock);
}

static int virtio_load(void *opaque, struct vmstate_in *in)
{
	struct virtio_device *vdev = opaque;
	unsigned q, n;
	uint16_t id;

	pthread_mutex_lock(&vdev->lock);
	device_reset(vdev);
	id = vmstate_get_u16(in);
	if (!in->error && id != vdev->ops->device_id) {
		vmstate_fail(in, -EINVAL, "the saved machine has a virtio device of type %u where this one has %s: start with the same devices as the saved machine",
			     id, vdev->ops->name);
		goto out;
	}
	vdev->guest_features = vmstate_get_u64(in) & vdev->host_features;
	vdev->device_feature_select = vmstate_get_u32(in);
	vdev->driver_feature_select = vmstate_get_u32(in);
	vdev->status = vmstate_get_u8(in);
	vdev->config_generation = vmstate_get_u8(in);
	vdev->queue_select = vmstate_get_u16(in);
	vdev->config_vector = vmstate_get_u16(in);
	__atomic_store_n(&vdev->isr, vmstate_get_u32(in) & 3, __ATOMIC_SEQ_CST);
	n = vmstate_get_u32(in);
	if (!in->error && n != vdev->ops->nqueues) {
		vmstate_fail(in, -EINVAL, "%s: the state has %u queues, this device %u",
			     vdev->ops->name, n, vdev->ops->nqueues);
		goto out;
	}
	for (q = 0; q < vdev->ops->nqueues && !in->error; q++) {
		vdev->queue_vector[q] = vmstate_get_u16(in);
		virtq_load(&vdev->vq[q], in);
	}
	if (!in->error && vdev->ops->load)
		vdev->ops->load(vdev, in);
	if (in->error) {
		device_reset(vdev);
		goto out;
	}
	if ((vdev->status & VIRTIO_STATUS_DRIVER_OK) && vdev->ops->driver_ok)
		vdev->ops->driver_ok(vdev);
	/* Requests the driver queued after the save point are served now. */
	for (q = 0; q < vdev->ops->nqueues; q++)
		if (vdev->vq[q].ready)
			virtio_kick(vdev, q);
out:
	pthread_mutex_unlock(&vdev->lock);
	return in->error;
}

static void virtio_destroy(void *opaque)
{
	struct virtio_device *vdev = opaque;
	uint64_t one = 1;
	unsigned q;

	if (vdev->worker_started) {
		if (write(vdev->stop_fd, &one, sizeof(one)) < 0)
			log_warn("virtio: cannot stop the worker: %m");
		pthread_join(vdev->worker, NULL);
	}
	for (q = 0; q < vdev->ops->nqueues; q++)
		if (vdev->kick_fd[q] >= 0)
			close(vdev->kick_fd[q]);
	if (vdev->stop_fd >= 0)
		close(vdev->stop_fd);
	/* Last: the device model may own the ops. */
	if (vdev->ops->destroy)
		vdev->ops->destroy(vdev);
	free(vdev->elem);
	free(vdev);
}

struct virtio_device *virtio_pci_create(struct vm *vm,
					const struct virtio_device_ops *ops,
					void *opaque)
{
	struct virtio_device *vdev;
	struct pci_device *pci;
	struct device_hooks hooks;
	/* Non-transitional devices' subsystem ID is 0x40 or above (virtio
	 * 1.1, 4.1.2.1; OVMF's driver ignores others): QEMU's 0x1100, which
	 * other guests' drivers (Windows's virtio drivers) match on. */
	uint16_t subsys = 0x1100;
	unsigned q;
	int ret = 0;

	if (ops->nqueues > VIRTIO_MAX_QUEUES || ops->config_size > VIRTIO_CONFIG_MAX)
		return NULL;
	pci = pci_device_new(vm, ops->name, VIRTIO_PCI_VENDOR,
			     VIRTIO_PCI_DEVICE_BASE + ops->device_id,
			     ops->class_code, 1);
	vdev = calloc(1, sizeof(*vdev));
	if (!pci || !vdev) {
		free(vdev);
		return NULL;
	}
	vdev->vm = vm;
	vdev->pci = pci;
	vdev->ops = ops;
	vdev->opaque = opaque;
	vdev->stop_fd = -1;
	for (q = 0; q < VIRTIO_MAX_QUEUES; q++)
		vdev->kick_fd[q] = -1;
	pthread_mutex_init(&vdev->lock, NULL);
	vdev->host_features = ops->features | (1ull << VIRTIO_F_VERSION_1) |
			      (1ull << VIRTIO_F_RING_INDIRECT_DESC) |
			      (1ull << VIRTIO_F_RING_EVENT_IDX);
	vdev->elem = malloc(sizeof(*vdev->elem));
	for (q = 0; q < ops->nqueues; q++)
		vdev->kick_fd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vdev->stop_fd = eventfd(0, EFD_CLOEXEC);
	hooks = (struct device_hooks){ .reset = virtio_machine_reset,
				       .destroy = virtio_destroy,
				       .opaque = vdev,
				       .name = "virtio", .version = 1,
				       .save = virtio_save, .load = virtio_load };
	vm_add_device(vm, &hooks);
	if (!vdev->elem || vdev->stop_fd < 0)
		return NULL;
	for (q = 0; q < ops->nqueues; q++)
		if (vdev->kick_fd[q] < 0)
			return NULL;
	device_reset(vdev);

	memcpy(pci->config + PCI_SUBSYS_VENDOR, &(uint16_t){ VIRTIO_PCI_VENDOR }, 2);
	memcpy(pci->config + PCI_SUBSYS_ID, &subsys, 2);
	pci->opaque = vdev;
	pci->config_written = config_written;
	pci->config_read = config_read;
	pci_bar_init(pci, 0, BAR_SIZE, false, &bar_ops, vdev);
	ret = add_virtio_cap(pci, CAP_COMMON_CFG, BAR_COMMON, COMMON_LEN, 16);
	if (!ret)
		ret = add_virtio_cap(pci, CAP_ISR_CFG, BAR_ISR, 4, 16);
	if (!ret)
		ret = add_virtio_cap(pci, CAP_DEVICE_CFG, BAR_DEVICE,
				     ops->config_size ? ops->config_size : 4, 16);
	if (!ret)
		ret = add_virtio_cap(pci, CAP_NOTIFY_CFG, BAR_NOTIFY,
				     ops->nqueues * NOTIFY_MULTIPLIER, 20);
	if (!ret)
		ret = add_pci_cfg_cap(vdev);
	if (!ret)
		ret = pci_msix_init(pci, nvectors(vdev), 0, BAR_MSIX, BAR_PBA);
	if (!ret)
		ret = pci_device_plug(pci);
	if (ret) {
		log_error("%s: cannot set up the PCI device: %s", ops->name,
			  strerror(-ret));
		return NULL;
	}
	update_ioeventfds(vdev);
	if (pthread_create(&vdev->worker, NULL, worker_main, vdev)) {
		log_error("%s: cannot start the worker thread", ops->name);
		return NULL;
	}
	vdev->worker_started = true;
	return vdev;
}
