/* The board: every device of a wirt PC, created in one place (board.c). */
#ifndef WIRT_VM_BOARD_H
#define WIRT_VM_BOARD_H

struct vm;

/* Create every device of the machine; 0 or negative errno (logged). */
int board_create(struct vm *vm);

#endif
