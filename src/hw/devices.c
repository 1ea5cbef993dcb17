/* The board: which devices a wirt PC has, and where. */
#include "hw/devices.h"

#include <errno.h>

#include "ui/console.h"
#include "util/log.h"
#include "vm/vm.h"

#define COM1_BASE 0x3f8
#define COM1_IRQ 4
#define DEBUG_EXIT_PORT 0xf4

int devices_create(struct vm *vm)
{
	struct serial *com1;
	int ret;

	com1 = serial_create(vm, COM1_BASE, COM1_IRQ);
	if (!com1)
		return -ENOMEM;
	ret = console_attach_serial(vm, com1);
	if (ret)
		return ret;
	ret = i8042_create(vm);
	if (!ret)
		ret = debug_exit_create(vm, DEBUG_EXIT_PORT);
	if (!ret)
		ret = post_port_create(vm);
	if (!ret)
		ret = rtc_create(vm);
	if (!ret)
		ret = acpi_pm_create(vm);
	if (ret)
		log_error("cannot create the board devices: %d", ret);
	return ret;
}
