/*
 * KVM's in-kernel 8259 pair, IOAPIC and PIT as saved devices: under
 * --accel kvm they write and read the same "pic", "ioapic" and "pit"
 * sections (same versions, same bytes) as the emulator's software chips
 * (hw/pic.c, hw/ioapic.c, hw/pit.c), through KVM_GET/SET_IRQCHIP and
 * KVM_GET/SET_PIT2 and the conversions of kvm_irqchip_state.c.  So the
 * machine has the same devices with state under either accelerator, and
 * a state saved under one restores under the other.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "accel/kvm_irqchip_state.h"
#include "accel/kvm_vm.h"
#include "migration/vmstate.h"
#include "util/log.h"
#include "vm/vm.h"
#include "vm/vm_clock.h"

static uint64_t host_monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* A save hook cannot return an error: it sticks to the stream. */
static void save_failed(struct vmstate_out *o, const char *what)
{
	int err = -errno;

	log_error("KVM: cannot read the %s: %s", what, strerror(errno));
	if (!o->error)
		o->error = err ? err : -EIO;
}

static int get_chip(struct kvm_vm *k, unsigned id, struct kvm_irqchip *chip)
{
	memset(chip, 0, sizeof(*chip));
	chip->chip_id = id;
	return ioctl(k->vm_fd, KVM_GET_IRQCHIP, chip);
}

static int set_chip(struct vmstate_in *in, struct kvm_vm *k, struct kvm_irqchip *chip,
		    const char *what)
{
	if (ioctl(k->vm_fd, KVM_SET_IRQCHIP, chip) < 0)
		return vmstate_fail(in, -errno, "KVM refused the saved %s: %s", what,
				    strerror(errno));
	return 0;
}

static void kvm_pic_save(void *opaque, struct vmstate_out *o)
{
	struct kvm_vm *k = opaque;
	struct kvm_irqchip chip;
	struct pic_state s;

	for (unsigned i = 0; i < 2; i++) {
		if (get_chip(k, i ? KVM_IRQCHIP_PIC_SLAVE : KVM_IRQCHIP_PIC_MASTER, &chip) < 0) {
			save_failed(o, "8259 PIC");
			return;
		}
		kvm_pic_to_common(&chip.chip.pic, i, &s.chip[i]);
	}
	pic_state_put(o, &s);
}

static int kvm_pic_load(void *opaque, struct vmstate_in *in)
{
	struct kvm_vm *k = opaque;
	struct kvm_irqchip chip;
	struct pic_state s;
	int ret;

	pic_state_reset(&s);
	ret = pic_state_get(in, &s);
	for (unsigned i = 0; i < 2 && !ret; i++) {
		memset(&chip, 0, sizeof(chip));
		chip.chip_id = i ? KVM_IRQCHIP_PIC_SLAVE : KVM_IRQCHIP_PIC_MASTER;
		kvm_pic_from_common(&s.chip[i], i, &chip.chip.pic);
		ret = set_chip(in, k, &chip, "8259 PIC");
	}
	return ret;
}

static void kvm_ioapic_save(void *opaque, struct vmstate_out *o)
{
	struct kvm_vm *k = opaque;
	struct kvm_irqchip chip;
	struct ioapic_state s;

	if (get_chip(k, KVM_IRQCHIP_IOAPIC, &chip) < 0) {
		save_failed(o, "IOAPIC");
		return;
	}
	kvm_ioapic_to_common(&chip.chip.ioapic, &s);
	ioapic_state_put(o, &s);
}

static int kvm_ioapic_load(void *opaque, struct vmstate_in *in)
{
	struct kvm_vm *k = opaque;
	struct kvm_irqchip chip;
	struct ioapic_state s;
	int ret = ioapic_state_get(in, &s);

	if (ret)
		return ret;
	memset(&chip, 0, sizeof(chip));
	chip.chip_id = KVM_IRQCHIP_IOAPIC;
	kvm_ioapic_from_common(&s, &chip.chip.ioapic);
	return set_chip(in, k, &chip, "IOAPIC");
}

static void kvm_pit_save(void *opaque, struct vmstate_out *o)
{
	struct kvm_vm *k = opaque;
	struct kvm_pit_state2 ps;
	struct pit_state s;

	memset(&ps, 0, sizeof(ps));
	if (ioctl(k->vm_fd, KVM_GET_PIT2, &ps) < 0) {
		save_failed(o, "PIT");
		return;
	}
	kvm_pit_to_common(&ps, vm_clock_ns(), host_monotonic_ns(), &s);
	pit_state_put(o, &s);
}

/* KVM restarts every loaded count at KVM_SET_PIT2 (count_load_time
 * becomes now), so a count's phase is not carried, as in QEMU. */
static int kvm_pit_load(void *opaque, struct vmstate_in *in)
{
	struct kvm_vm *k = opaque;
	struct kvm_pit_state2 ps;
	struct pit_state s;
	int ret = pit_state_get(in, &s);

	if (ret)
		return ret;
	kvm_pit_from_common(&s, vm_clock_ns(), host_monotonic_ns(), &ps);
	if (ioctl(k->vm_fd, KVM_SET_PIT2, &ps) < 0)
		return vmstate_fail(in, -errno, "KVM refused the saved PIT: %s",
				    strerror(errno));
	return 0;
}

void kvm_irqchip_register(struct vm *vm, struct kvm_vm *k)
{
	/* In the order the emulator creates its chips (emu_accel.c). */
	vm_add_device(vm, &(struct device_hooks){
		.opaque = k, .name = "pic", .version = PIC_STATE_VERSION,
		.save = kvm_pic_save, .load = kvm_pic_load });
	vm_add_device(vm, &(struct device_hooks){
		.opaque = k, .name = "pit", .version = PIT_STATE_VERSION,
		.save = kvm_pit_save, .load = kvm_pit_load });
	vm_add_device(vm, &(struct device_hooks){
		.opaque = k, .name = "ioapic", .version = IOAPIC_STATE_VERSION,
		.save = kvm_ioapic_save, .load = kvm_ioapic_load });
}
