/*
 * The 8254 programmable interval timer (ports 0x40-0x43) with channel 0
 * on IRQ 0 and channel 2 gated through port 0x61, for the emulator (KVM
 * has its own in-kernel PIT).
 */
#ifndef WIRT_HW_PIT_H
#define WIRT_HW_PIT_H

struct vm;
struct pit;

struct pit *pit_create(struct vm *vm);

#endif
