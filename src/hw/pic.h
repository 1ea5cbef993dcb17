/*
 * The two cascaded 8259A programmable interrupt controllers of a PC
 * (master at 0x20, slave at 0xA0 on the master's IRQ 2, ELCR at 0x4D0).
 * Used by the emulator; under KVM the kernel's irqchip plays this part.
 */
#ifndef WIRT_HW_PIC_H
#define WIRT_HW_PIC_H

#include <stdbool.h>

struct vm;
struct pic;

/* notify is called (without the PIC's lock held) when the output may
 * have changed, so a halted vCPU can wake. */
struct pic *pic_create(struct vm *vm, void (*notify)(void *), void *opaque);
void pic_set_irq(struct pic *pic, unsigned irq, int level);
bool pic_has_interrupt(struct pic *pic);
/* Acknowledge the highest-priority request: its vector, or -1 if none. */
int pic_ack(struct pic *pic);

#endif
