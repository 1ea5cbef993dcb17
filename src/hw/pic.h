/*
 * The two cascaded 8259A programmable interrupt controllers of a PC
 * (master at 0x20, slave at 0xA0 on the master's IRQ 2, ELCR at 0x4D0).
 * Used by the emulator; under KVM the kernel's irqchip plays this part.
 */
#ifndef WIRT_HW_PIC_H
#define WIRT_HW_PIC_H

#include <stdbool.h>
#include <stdint.h>

struct vm;
struct pic;
struct vmstate_in;
struct vmstate_out;

/* One 8259's programmed state. */
struct pic_chip {
	uint8_t irr, isr, imr, elcr;
	uint8_t last_level;    /* line levels, for edge detection */
	uint8_t vector_base;
	/* 0 = ready for OCWs; 2, 3, 4 = the next data byte is ICW2, ICW3,
	 * ICW4 (1 is unused: ICW1 is a command-port write) */
	uint8_t init_step;
	bool icw4_needed, single, auto_eoi, special_mask, poll, read_isr;
	uint8_t lowest_priority; /* rotation: priority starts after this IRQ */
};

/* The pair (master, slave), as the "pic" section holds it. */
struct pic_state {
	struct pic_chip chip[2];
};

#define PIC_STATE_VERSION 1
/* ELCR bits that exist: IRQ 0, 1, 2, 8 and 13 are always edge-triggered. */
#define PIC_ELCR_MASK(chip) ((chip) ? 0xde : 0xf8)

/* As after power-on (vector bases 0x08 and 0x70, IRQ 0 highest). */
void pic_state_reset(struct pic_state *s);
/* The "pic" section's body; get checks what it reads (0 or -errno). */
void pic_state_put(struct vmstate_out *o, const struct pic_state *s);
int pic_state_get(struct vmstate_in *in, struct pic_state *s);

/* notify is called (without the PIC's lock held) when the output may
 * have changed, so a halted vCPU can wake. */
struct pic *pic_create(struct vm *vm, void (*notify)(void *), void *opaque);
void pic_set_irq(struct pic *pic, unsigned irq, int level);
bool pic_has_interrupt(struct pic *pic);
/* Acknowledge the highest-priority request: its vector, or -1 if none. */
int pic_ack(struct pic *pic);

#endif
