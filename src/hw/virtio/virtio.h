/*
 * virtio devices over PCI (virtio 1.x "modern" transport, 4.1).
 *
 * A device model (blk, console, rng, net) fills in virtio_device_ops and
 * calls virtio_pci_create.  The transport owns feature negotiation, device
 * status and reset, the queues and interrupts (MSI-X, or INTx with the ISR
 * register).  Each device has one worker thread: queue notifications wake
 * it (through an eventfd the guest's notify write signals, directly from
 * the kernel under KVM with ioeventfd), and queue_notify runs there, off
 * the vCPU threads, with vdev->lock held.
 */
#ifndef WIRT_HW_VIRTIO_VIRTIO_H
#define WIRT_HW_VIRTIO_VIRTIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "hw/virtio/virtq.h"

struct vm;
struct pci_device;
struct virtio_device;
struct vmstate_out;
struct vmstate_in;

#define VIRTIO_MAX_QUEUES 16
#define VIRTIO_CONFIG_MAX 256

/* Device types (5) and the feature bits the transport handles (6). */
#define VIRTIO_ID_NET     1
#define VIRTIO_ID_BLOCK   2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG     4
#define VIRTIO_ID_GPU     16
#define VIRTIO_ID_INPUT   18
#define VIRTIO_F_RING_INDIRECT_DESC 28
#define VIRTIO_F_RING_EVENT_IDX     29
#define VIRTIO_F_VERSION_1          32

/* Device status bits (2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE  1
#define VIRTIO_STATUS_DRIVER       2
#define VIRTIO_STATUS_DRIVER_OK    4
#define VIRTIO_STATUS_FEATURES_OK  8
#define VIRTIO_STATUS_NEEDS_RESET  0x40
#define VIRTIO_STATUS_FAILED       0x80

struct virtio_device_ops {
	const char *name;            /* e.g. "virtio-blk" */
	uint16_t device_id;          /* VIRTIO_ID_* */
	uint32_t class_code;         /* PCI class code */
	unsigned nqueues;
	uint16_t queue_size;         /* the size each queue offers */
	uint64_t features;           /* device-specific feature bits */
	unsigned config_size;        /* bytes of device configuration */
	bool network;                /* its worker sends to a network back end
				      * (the sandbox's filter for it) */
	/* Work on queue q; worker thread, vdev->lock held. */
	void (*queue_notify)(struct virtio_device *vdev, unsigned q);
	/* Optional: the driver wrote device configuration (lock held). */
	void (*config_write)(struct virtio_device *vdev, unsigned off,
			     unsigned size);
	/* Optional: the driver set DRIVER_OK (lock held). */
	void (*driver_ok)(struct virtio_device *vdev);
	/* Optional: device reset, besides the transport's (lock held). */
	void (*reset)(struct virtio_device *vdev);
	/* Optional: the VM state is being saved (lock held, no request in
	 * flight): make what was completed durable (a disk flushes) and
	 * write the model's own state after the transport's; load reads it
	 * back (0 or negative errno with vmstate_fail). */
	void (*save)(struct virtio_device *vdev, struct vmstate_out *o);
	int (*load)(struct virtio_device *vdev, struct vmstate_in *in);
	/* Optional: free the device model at VM teardown. */
	void (*destroy)(struct virtio_device *vdev);
};

struct virtio_device {
	struct vm *vm;
	struct pci_device *pci;
	const struct virtio_device_ops *ops;
	void *opaque;                /* the device model */
	pthread_mutex_t lock;

	uint64_t host_features;      /* offered: device bits + transport bits */
	uint64_t guest_features;     /* accepted by the driver */
	uint32_t device_feature_select, driver_feature_select;
	uint8_t status;
	uint8_t config_generation;
	uint16_t queue_select;
	uint16_t config_vector;
	uint32_t isr;                /* atomic: bit 0 queue, bit 1 config */
	uint8_t config[VIRTIO_CONFIG_MAX];

	struct virtq vq[VIRTIO_MAX_QUEUES];
	uint16_t queue_vector[VIRTIO_MAX_QUEUES];
	int kick_fd[VIRTIO_MAX_QUEUES];   /* eventfds: guest notifications */
	uint64_t ioeventfd_base;          /* notify address registered, 0 if none */
	unsigned pci_cfg_cap;             /* config offset of the PCI_CFG window */
	int stop_fd;
	pthread_t worker;
	bool worker_started;
	struct virtq_elem *elem;          /* the worker's scratch request */
};

/* Create and plug a virtio PCI device; NULL on failure (logged). */
struct virtio_device *virtio_pci_create(struct vm *vm,
					const struct virtio_device_ops *ops,
					void *opaque);

/* Was feature bit negotiated? */
static inline bool virtio_has_feature(const struct virtio_device *vdev,
				      unsigned bit)
{
	return vdev->guest_features & (1ull << bit);
}

/* Interrupt the driver for queue q if it wants one now (lock held). */
void virtio_notify_queue(struct virtio_device *vdev, unsigned q);
/* The device configuration changed (lock held). */
void virtio_notify_config(struct virtio_device *vdev);
/* A queue broke a rule: set DEVICE_NEEDS_RESET and tell the driver. */
void virtio_set_needs_reset(struct virtio_device *vdev);
/* Wake the worker for queue q, as a guest notification would. */
void virtio_kick(struct virtio_device *vdev, unsigned q);

/* Device models. */
struct disk_spec;
int virtio_blk_create(struct vm *vm, const struct disk_spec *ds);
int virtio_rng_create(struct vm *vm);
int virtio_console_create(struct vm *vm);
/* An absolute pointer the display's viewers drive (input.c). */
int virtio_tablet_create(struct vm *vm);
/* The paravirtual display adapter, the VM's display (gpu.c). */
int virtio_gpu_create(struct vm *vm);
/* A NIC in front of the network back end nb (net/net.h), which it owns
 * from here on, also when it fails. */
struct net_backend;
int virtio_net_create(struct vm *vm, struct net_backend *nb);

#endif
