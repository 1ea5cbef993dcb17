/*
 * The boot order wirt hands to firmware (fw_cfg "bootorder", one
 * OpenFirmware device path per line, as SeaBIOS matches them): devices
 * that can boot register their path; --boot order=LETTERS and per-device
 * bootindex=N decide the order.
 */
#ifndef WIRT_VM_BOOT_ORDER_H
#define WIRT_VM_BOOT_ORDER_H

#include <stddef.h>

struct vm;

/* What a --boot order letter names (QEMU's letters). */
enum boot_kind {
	BOOT_DISK = 'c',	/* hard disks, in command-line order */
	BOOT_CDROM = 'd',	/* CD-ROM drives */
	BOOT_NET = 'n',		/* network cards */
};

#define BOOT_PATH_MAX 80
#define BOOT_INDEX_MAX 999
#define VM_MAX_BOOT_DEVICES 32

struct boot_device {
	char path[BOOT_PATH_MAX];
	enum boot_kind kind;
	int bootindex;		/* -1: none */
};

/* Register a device that can boot; 0, -ENOSPC or -EEXIST (the same
 * bootindex twice, logged). */
int boot_order_add(struct vm *vm, enum boot_kind kind, int bootindex,
		   const char *path);

/*
 * The bootorder text: devices with a bootindex first (lowest first), then
 * those --boot order names, letter by letter, then the rest as they were
 * registered.  Returns its length, or -EINVAL with the reason logged when
 * the order names something the VM does not have.
 */
int boot_order_text(struct vm *vm, const char *order, char *buf, size_t len);

/* Is order (the value of --boot order=) made of known letters? */
int boot_order_check(const char *order);

#endif
