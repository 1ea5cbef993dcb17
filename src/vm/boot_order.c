/* The firmware's boot order (vm/boot_order.h). */
#include "vm/boot_order.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "util/log.h"
#include "vm/vm.h"

int boot_order_add(struct vm *vm, enum boot_kind kind, int bootindex,
		   const char *path)
{
	struct boot_device *d;
	unsigned i;

	if (vm->nboot_devices == VM_MAX_BOOT_DEVICES)
		return -ENOSPC;
	for (i = 0; bootindex >= 0 && i < vm->nboot_devices; i++) {
		if (vm->boot_devices[i].bootindex == bootindex) {
			log_error("bootindex=%d is given to two devices", bootindex);
			return -EEXIST;
		}
	}
	d = &vm->boot_devices[vm->nboot_devices++];
	snprintf(d->path, sizeof(d->path), "%s", path);
	d->kind = kind;
	d->bootindex = bootindex;
	return 0;
}

int boot_order_check(const char *order)
{
	if (!*order || strspn(order, "cdn") != strlen(order))
		return -EINVAL;
	return 0;
}

static const char *kind_name(char letter)
{
	switch (letter) {
	case BOOT_DISK: return "no hard disk (--disk)";
	case BOOT_CDROM: return "no CD-ROM drive (--cdrom)";
	}
	return "no network card with a boot ROM (wirt loads none yet)";
}

int boot_order_text(struct vm *vm, const char *order, char *buf, size_t len)
{
	bool used[VM_MAX_BOOT_DEVICES] = { false };
	unsigned n = vm->nboot_devices, i, pos = 0;
	const char *p;
	int idx;

	/* Network cards boot through an option ROM; wirt loads none. */
	if (order && strchr(order, BOOT_NET)) {
		log_error("--boot order=%s: 'n' names %s", order, kind_name(BOOT_NET));
		return -EINVAL;
	}
	buf[0] = 0;
	for (idx = 0; idx <= BOOT_INDEX_MAX; idx++) {
		for (i = 0; i < n; i++) {
			if (vm->boot_devices[i].bootindex != idx)
				continue;
			pos += snprintf(buf + pos, len - pos, "%s\n", vm->boot_devices[i].path);
			used[i] = true;
		}
	}
	for (p = order; p && *p; p++) {
		bool any = false;

		for (i = 0; i < n; i++) {
			if (vm->boot_devices[i].kind != (enum boot_kind)*p)
				continue;
			any = true;
			if (used[i])
				continue;
			pos += snprintf(buf + pos, len - pos, "%s\n", vm->boot_devices[i].path);
			used[i] = true;
		}
		if (!any) {
			log_error("--boot order=%s: '%c' names nothing: this VM has %s",
				  order, *p, kind_name(*p));
			return -EINVAL;
		}
	}
	for (i = 0; i < n; i++)
		if (!used[i])
			pos += snprintf(buf + pos, len - pos, "%s\n", vm->boot_devices[i].path);
	if (pos >= len)
		return -ENOSPC;
	return (int)pos;
}
