/*
 * The guest's clock: the host's CLOCK_MONOTONIC less the time the machine
 * spent paused (the monitor's stop), so that after cont the guest's timers
 * and TSC go on from where they stopped instead of jumping.  Devices and
 * the emulator read time only through vm_clock_ns.  One VM per process.
 */
#ifndef WIRT_VM_VM_CLOCK_H
#define WIRT_VM_VM_CLOCK_H

#include <stdint.h>

/* The guest's time in ns; stands still while the VM is paused. */
uint64_t vm_clock_ns(void);

/* The host CLOCK_MONOTONIC time at which the guest clock reaches vm_ns
 * (for absolute host timers and timed waits). */
uint64_t vm_clock_to_host(uint64_t vm_ns);

/* A restored machine's clock goes on from vm_ns (paused: stays there
 * until vm_clock_start). */
void vm_clock_set(uint64_t vm_ns);

/* Freeze at pause, run on at resume (vm_pause.c). */
void vm_clock_stop(void);
void vm_clock_start(void);

#endif
