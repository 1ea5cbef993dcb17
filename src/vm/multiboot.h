/*
 * Multiboot (version 1) kernels: the boot protocol of GRUB legacy that
 * CPU test suites written for QEMU's PC use.  ELF32 images or the a.out
 * kludge, a memory map, the command line and modules (the --initrd file).
 */
#ifndef WIRT_VM_MULTIBOOT_H
#define WIRT_VM_MULTIBOOT_H

#include <stdbool.h>
#include <stddef.h>

#include "accel/cpu_state.h"
#include "vm/memory.h"

struct linux_boot_args;

/* Does the image carry a valid multiboot header in its first 8 KiB? */
bool multiboot_detect(const void *image, size_t size);

int multiboot_load(struct guest_memory *gm, const struct linux_boot_args *a,
		   struct cpu_state *bsp, char *err, size_t err_len);

#endif
