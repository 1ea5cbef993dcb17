/* Choosing how the guest starts: firmware image, Linux kernel, or both absent. */
#ifndef WIRT_VM_BOOT_H
#define WIRT_VM_BOOT_H

#include "accel/cpu_state.h"

struct vm;

/* Read the boot files named in the configuration; map the firmware. */
int boot_prepare(struct vm *vm);

/* Load the images into guest memory and set the boot vCPU's state. */
int boot_load(struct vm *vm, struct cpu_state *bsp);

void boot_release(struct vm *vm);

#endif
