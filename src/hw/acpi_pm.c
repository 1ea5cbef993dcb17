/*
 * The ACPI power-management block the FADT points at (vm/acpi.h):
 * PM1 event (status/enable) and control registers, where writing SLP_TYP
 * for S5 with SLP_EN powers the machine off; the 24-bit PM timer at
 * 3.579545 MHz; and the reset register.  The fixed power button
 * (vm_power_button) sets PWRBTN_STS; the SCI (a level-triggered ISA line)
 * is high while an enabled status bit is set.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "hw/bus.h"
#include "hw/devices.h"
#include "hw/irq.h"
#include "migration/vmstate.h"
#include "util/log.h"
#include "vm/acpi.h"
#include "vm/vm_clock.h"
#include "vm/vm.h"

#define PM_TIMER_HZ 3579545ULL
#define CNT_SCI_EN  0x0001
#define CNT_SLP_EN  0x2000
#define STS_PWRBTN  0x0100

struct acpi_pm {
	struct vm *vm;
	pthread_mutex_t lock;
	uint16_t sts, en, cnt;
	int sci;	/* the level last put on the SCI line */
	uint16_t base;		/* where it is mapped; 0 if nowhere */
};

/* Called with pm->lock held after sts or en changed. */
static void pm_update_sci(struct acpi_pm *pm)
{
	int level = (pm->sts & pm->en) != 0;

	if (level != pm->sci) {
		pm->sci = level;
		irq_set_line(pm->vm, ACPI_SCI_IRQ, level);
	}
}

static uint32_t pm_timer(void)
{
	uint64_t ns = vm_clock_ns(); /* stands still while paused */

	return (uint32_t)((unsigned __int128)ns * PM_TIMER_HZ / 1000000000ULL) & 0xffffff;
}

static uint64_t pm_read(void *opaque, uint64_t off, unsigned size)
{
	struct acpi_pm *pm = opaque;
	uint64_t v;

	pthread_mutex_lock(&pm->lock);
	switch (off) {
	case 0: v = pm->sts | ((uint32_t)pm->en << 16); break;
	case 1: v = pm->sts >> 8; break;
	case 2: v = pm->en; break;
	case 3: v = pm->en >> 8; break;
	case 4: v = pm->cnt | CNT_SCI_EN; break;
	case 5: v = (pm->cnt | CNT_SCI_EN) >> 8; break;
	case 8: v = pm_timer(); break;
	default: v = 0; break;
	}
	pthread_mutex_unlock(&pm->lock);
	return v & (size >= 8 ? ~0ULL : (1ULL << (size * 8)) - 1);
}

static void pm_control(struct acpi_pm *pm, uint16_t v)
{
	unsigned typ = (v >> 10) & 7;

	pm->cnt = v & ~CNT_SLP_EN;
	if (!(v & CNT_SLP_EN))
		return;
	if (typ == ACPI_S5_SLP_TYP) {
		log_info("guest powered off through ACPI");
		vm_request_stop(pm->vm, VM_STOP_POWEROFF, 0);
	} else {
		log_warn_once("guest asked for ACPI sleep state SLP_TYP=%u, which wirt does not offer", typ);
	}
}

static void pm_write(void *opaque, uint64_t off, uint64_t v, unsigned size)
{
	struct acpi_pm *pm = opaque;

	pthread_mutex_lock(&pm->lock);
	switch (off) {
	case 0:
		pm->sts &= ~(uint16_t)v;                 /* write 1 to clear */
		if (size == 4)
			pm->en = v >> 16;
		break;
	case 1: pm->sts &= ~(uint16_t)(v << 8); break;
	case 2: pm->en = size >= 2 ? v : (pm->en & 0xff00) | (v & 0xff); break;
	case 3: pm->en = (pm->en & 0xff) | ((v & 0xff) << 8); break;
	case 4: pm_control(pm, size >= 2 ? v : (pm->cnt & 0xff00) | (v & 0xff)); break;
	case 5: pm_control(pm, (pm->cnt & 0xff) | ((v & 0xff) << 8)); break;
	case 12:
		if ((v & 0xff) == ACPI_RESET_VALUE)
			vm_request_stop(pm->vm, VM_STOP_RESET, 0);
		break;
	}
	if (off < 4)
		pm_update_sci(pm);
	pthread_mutex_unlock(&pm->lock);
}

static const struct io_ops pm_ops = { pm_read, pm_write };

uint16_t acpi_pm_base(struct vm *vm)
{
	struct acpi_pm *pm = vm->acpi_pm;
	uint16_t base;

	if (!pm)
		return ACPI_PM_BASE;
	pthread_mutex_lock(&pm->lock);
	base = pm->base;
	pthread_mutex_unlock(&pm->lock);
	return base;
}

/* The LPC bridge's PMBASE moves the block (firmware puts it where its
 * own tables expect it); a place taken by another device leaves it off. */
int acpi_pm_move(struct vm *vm, uint16_t base)
{
	struct acpi_pm *pm = vm->acpi_pm;
	int ret = 0;

	if (!pm)
		return -ENODEV;
	pthread_mutex_lock(&pm->lock);
	if (base == pm->base)
		goto out;
	if (pm->base)
		bus_unregister(&vm->pio, pm->base, pm);
	pm->base = 0;
	if (base && base <= 0x10000 - ACPI_PM_LEN) {
		ret = bus_register(&vm->pio, base, ACPI_PM_LEN, &pm_ops, pm,
				   "acpi-pm");
		if (ret)
			log_warn_once("ACPI PM block: the guest put it at port %#x, which is taken; the block is off",
				      base);
		else
			pm->base = base;
	}
out:
	pthread_mutex_unlock(&pm->lock);
	return ret;
}

static void pm_reset(void *opaque)
{
	struct acpi_pm *pm = opaque;

	pthread_mutex_lock(&pm->lock);
	pm->sts = pm->en = pm->cnt = 0;
	pm_update_sci(pm);
	pthread_mutex_unlock(&pm->lock);
	acpi_pm_move(pm->vm, ACPI_PM_BASE);
}

/* The power button was pressed (monitor, SIGTERM): any thread. */
static void pm_power_button(void *opaque)
{
	struct acpi_pm *pm = opaque;

	pthread_mutex_lock(&pm->lock);
	pm->sts |= STS_PWRBTN;
	pm_update_sci(pm);
	pthread_mutex_unlock(&pm->lock);
}

static void pm_save(void *opaque, struct vmstate_out *o)
{
	struct acpi_pm *pm = opaque;

	pthread_mutex_lock(&pm->lock);
	vmstate_put_u16(o, pm->sts);
	vmstate_put_u16(o, pm->en);
	vmstate_put_u16(o, pm->cnt);
	vmstate_put_u16(o, pm->base);
	pthread_mutex_unlock(&pm->lock);
}

static int pm_load(void *opaque, struct vmstate_in *in)
{
	struct acpi_pm *pm = opaque;
	uint16_t base;

	pthread_mutex_lock(&pm->lock);
	pm->sts = vmstate_get_u16(in);
	pm->en = vmstate_get_u16(in);
	pm->cnt = vmstate_get_u16(in);
	base = vmstate_get_u16(in);
	pm_update_sci(pm);
	pthread_mutex_unlock(&pm->lock);
	if (!in->error)
		acpi_pm_move(pm->vm, base);
	return in->error;
}

static void pm_destroy(void *opaque)
{
	struct acpi_pm *pm = opaque;

	if (pm->vm->acpi_pm == pm)
		pm->vm->acpi_pm = NULL;
	pthread_mutex_destroy(&pm->lock);
	free(pm);
}

int acpi_pm_create(struct vm *vm)
{
	struct acpi_pm *pm = calloc(1, sizeof(*pm));
	struct device_hooks hooks = { pm_reset, pm_destroy, NULL, "acpi-pm", 1,
				      pm_save, pm_load };

	if (!pm)
		return -1;
	pm->vm = vm;
	pthread_mutex_init(&pm->lock, NULL);
	if (bus_register(&vm->pio, ACPI_PM_BASE, ACPI_PM_LEN, &pm_ops, pm,
			 "acpi-pm")) {
		pm_destroy(pm);
		return -1;
	}
	pm->base = ACPI_PM_BASE;
	vm->acpi_pm = pm;
	hooks.opaque = pm;
	vm_add_device(vm, &hooks);
	vm->power_button = pm_power_button;
	vm->power_button_opaque = pm;
	return 0;
}
