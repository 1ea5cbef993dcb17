/* What the user asked for: the machine configuration built from options. */
#ifndef WIRT_VM_CONFIG_H
#define WIRT_VM_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "vm/cloud_init.h"
#include "vm/smbios.h"

#define VM_MAX_CPUS 64
#define VM_MAX_DISKS 16
#define VM_MAX_NETS 8

enum accel_choice { ACCEL_AUTO, ACCEL_KVM, ACCEL_EMU };

struct disk_config {
	const char *spec; /* FILE[,opts] as given; parsed by hw/disk_spec.c */
	bool cdrom;       /* given as --cdrom */
};

struct net_config {
	const char *spec; /* as given; parsed by the net layer */
};

/* --channel NAME,path=SOCKET: a named virtio-console port. */
struct channel_config {
	char name[64];
	const char *path;
};

#define VM_MAX_CHANNELS 4

struct vm_config {
	enum accel_choice accel;
	bool jit_off;          /* --accel emu,jit=off: the interpreter alone */
	uint64_t memory;       /* bytes */
	unsigned cpus;
	const char *kernel;
	const char *initrd;
	const char *append;    /* kernel command line */
	const char *firmware;
	bool firmware_bios;    /* --firmware bios: Debian's SeaBIOS */
	bool firmware_uefi;    /* --firmware uefi: Debian's OVMF */
	/* UEFI variable store (pflash below the firmware): the file kept
	 * across runs (vars=), the template it starts from; neither: none. */
	const char *firmware_vars;
	const char *firmware_vars_template;
	struct disk_config disks[VM_MAX_DISKS];
	unsigned ndisks;
	struct net_config nets[VM_MAX_NETS];
	unsigned nnets;
	bool no_reboot;
	bool virtio_console;   /* console on virtio-console instead of COM1 */
	bool rng;              /* a virtio-rng device */
	struct channel_config channels[VM_MAX_CHANNELS];
	unsigned nchannels;
	const char *debugcon;  /* file for the firmware's port 0x402 log */
	const char *boot_order; /* --boot order=LETTERS (c, d, n), or NULL */
	enum serial_backend {
		SERIAL_STDIO,  /* this terminal or the pipes wirt was given */
		SERIAL_NONE,   /* output dropped, no input */
		SERIAL_FILE,   /* output appended to serial_path, no input */
		SERIAL_PTY,    /* a pseudo-terminal, named at start-up */
		SERIAL_UNIX,   /* clients of a unix socket at serial_path */
	} serial;              /* --serial: where the console goes */
	const char *serial_path;
	struct smbios_config smbios; /* --smbios: strings the guest reads */
	struct cloud_init_config cloud_init; /* --cloud-init: a NoCloud seed */
	enum vga_kind {
		VGA_NONE,      /* headless */
		VGA_STD,       /* --vga std: the standard VGA adapter */
		VGA_VIRTIO,    /* --vga virtio: virtio-gpu */
	} vga;
	enum tablet_choice {
		TABLET_AUTO,   /* with a viewer (--display vnc= or web=) */
		TABLET_ON,
		TABLET_OFF,
	} tablet;              /* --tablet: a virtio-input absolute pointer */
	char vnc[128];         /* --display vnc=ADDR:N: where VNC listens ("": none) */
	char web[128];         /* --display web=ADDR:PORT: the browser console */
	const char *vnc_password_file;
};

#define VM_DEFAULT_MEMORY (512ULL << 20)

#endif
