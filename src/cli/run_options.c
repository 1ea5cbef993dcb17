/* `wirt run` options: every value checked, one clear line per mistake. */
#include "cli/run_options.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control/runtime_dir.h"
#include "util/parse.h"
#include "vm/boot_order.h"
#include "vm/memory.h"

enum {
	OPT_ACCEL = 'a', OPT_MEMORY = 'm', OPT_CPUS = 'c', OPT_KERNEL = 'k',
	OPT_INITRD = 'i', OPT_APPEND = 'A', OPT_FIRMWARE = 'f', OPT_DISK = 'd',
	OPT_NET = 'n', OPT_HELP = 'h', OPT_VERBOSE = 'v', OPT_QUIET = 'q',
	OPT_NO_REBOOT = 256, OPT_CONSOLE, OPT_RNG, OPT_CHANNEL, OPT_OVERCOMMIT,
	OPT_SANDBOX, OPT_RUNAS, OPT_DEBUGCON, OPT_NAME, OPT_QMP, OPT_SHUTDOWN_TIMEOUT,
	OPT_DAEMONIZE, OPT_LOG, OPT_SERIAL, OPT_SMBIOS, OPT_CLOUD_INIT, OPT_CDROM, OPT_BOOT,
	OPT_VGA, OPT_DISPLAY, OPT_TABLET, OPT_INCOMING, OPT_LOADVM,
};

static const struct option long_options[] = {
	{ "accel", required_argument, NULL, OPT_ACCEL },
	{ "memory", required_argument, NULL, OPT_MEMORY },
	{ "cpus", required_argument, NULL, OPT_CPUS },
	{ "overcommit", no_argument, NULL, OPT_OVERCOMMIT },
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "initrd", required_argument, NULL, OPT_INITRD },
	{ "append", required_argument, NULL, OPT_APPEND },
	{ "firmware", required_argument, NULL, OPT_FIRMWARE },
	{ "disk", required_argument, NULL, OPT_DISK },
	{ "cdrom", required_argument, NULL, OPT_CDROM },
	{ "cloud-init", required_argument, NULL, OPT_CLOUD_INIT },
	{ "boot", required_argument, NULL, OPT_BOOT },
	{ "net", required_argument, NULL, OPT_NET },
	{ "console", required_argument, NULL, OPT_CONSOLE },
	{ "rng", no_argument, NULL, OPT_RNG },
	{ "channel", required_argument, NULL, OPT_CHANNEL },
	{ "no-reboot", no_argument, NULL, OPT_NO_REBOOT },
	{ "sandbox", required_argument, NULL, OPT_SANDBOX },
	{ "runas", required_argument, NULL, OPT_RUNAS },
	{ "debugcon", required_argument, NULL, OPT_DEBUGCON },
	{ "smbios", required_argument, NULL, OPT_SMBIOS },
	{ "name", required_argument, NULL, OPT_NAME },
	{ "qmp", required_argument, NULL, OPT_QMP },
	{ "shutdown-timeout", required_argument, NULL, OPT_SHUTDOWN_TIMEOUT },
	{ "daemonize", no_argument, NULL, OPT_DAEMONIZE },
	{ "log", required_argument, NULL, OPT_LOG },
	{ "incoming", required_argument, NULL, OPT_INCOMING },
	{ "loadvm", required_argument, NULL, OPT_LOADVM },
	{ "verbose", no_argument, NULL, OPT_VERBOSE },
	{ "quiet", no_argument, NULL, OPT_QUIET },
	{ "serial", required_argument, NULL, OPT_SERIAL },
	{ "vga", required_argument, NULL, OPT_VGA },
	{ "display", required_argument, NULL, OPT_DISPLAY },
	{ "tablet", required_argument, NULL, OPT_TABLET },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static const char help_text[] =
	"usage: wirt run [OPTIONS]\n"
	"\n"
	"Run an x86-64 PC virtual machine.  Its first serial port is this\n"
	"terminal: on a terminal, press Ctrl-A x to quit and Ctrl-A h for help;\n"
	"with pipes, input and output pass through unchanged.\n"
	"\n"
	"Machine:\n"
	"  -a, --accel kvm|emu|auto  what runs the guest: Linux KVM, wirt's own\n"
	"                            x86-64 emulator, or the best that works here\n"
	"                            (default auto; wirt says which and why);\n"
	"                            emu,jit=off runs the emulator's interpreter\n"
	"                            alone instead of translating guest code\n"
	"  -m, --memory SIZE         guest RAM, e.g. 512M or 2G; a bare number is\n"
	"                            MiB (default 512M, at least 16M; at most the\n"
	"                            host's RAM and swap unless --overcommit)\n"
	"      --overcommit          allow --memory beyond the host's RAM and swap\n"
	"                            (guest RAM is backed only once touched)\n"
	"  -c, --cpus N              number of vCPUs, 1 to 64 (default 1)\n"
	"Boot (give --kernel, --firmware, or both):\n"
	"  -k, --kernel FILE         Linux kernel: a bzImage, or a vmlinux ELF with\n"
	"                            a PVH entry note (started without decompression);\n"
	"                            with --firmware, the firmware boots it (bzImage\n"
	"                            only; SeaBIOS needs Debian's qemu-system-data)\n"
	"  -i, --initrd FILE         initial RAM disk for --kernel\n"
	"  -A, --append CMDLINE      kernel command line (default \"console=ttyS0\")\n"
	"  -f, --firmware FILE|bios|uefi[,vars=VARS]\n"
	"                            flat firmware image of 64 KiB to 16 MiB, mapped\n"
	"                            to end at 4 GiB (last 128 KiB also below 1 MiB);\n"
	"                            the vCPU starts at its reset vector; bios is\n"
	"                            Debian's SeaBIOS (package seabios), which boots\n"
	"                            the first --disk (or what --boot says); uefi is\n"
	"                            Debian's OVMF (package ovmf: OVMF_CODE_4M.fd\n"
	"                            read-only, its UEFI variables in flash below\n"
	"                            it, a private copy of OVMF_VARS_4M.fd dropped\n"
	"                            at exit); vars=VARS keeps the variables in the\n"
	"                            file VARS across runs (created from the template\n"
	"                            when missing; with FILE, VARS must exist)\n"
	"      --boot order=LETTERS  the firmware's boot order: c the hard disks,\n"
	"                            d the CD-ROM drives, in the order given (e.g.\n"
	"                            order=dc: the CD first); bootindex=N on a\n"
	"                            drive puts it before all others (lowest first)\n"
	"      --debugcon FILE       write what the firmware logs to port 0x402\n"
	"                            (SeaBIOS's debug log) to FILE\n"
	"      --smbios type=N,KEY=VALUE,...  what the guest reads in its SMBIOS\n"
	"                            tables (dmidecode, /sys/class/dmi/id), with\n"
	"                            QEMU's keys (repeatable): type=0 vendor,\n"
	"                            version, date, release=MAJOR.MINOR; type=1\n"
	"                            manufacturer, product, version, serial, uuid,\n"
	"                            sku, family (default uuid: random); type=2\n"
	"                            manufacturer, product, version, serial, asset,\n"
	"                            location; type=3 manufacturer, version, serial,\n"
	"                            asset, sku; type=4 sock_pfx, manufacturer,\n"
	"                            version, serial, asset, part, max-speed,\n"
	"                            current-speed; type=11 value (OEM strings);\n"
	"                            type=17 loc_pfx, bank, manufacturer, serial,\n"
	"                            asset, part, speed.  E.g. cloud-init's NoCloud\n"
	"                            seed: type=1,serial=ds=nocloud;s=http://...\n"
	"      --cloud-init user-data=FILE[,meta-data=FILE][,network-config=FILE]\n"
	"                 [,vendor-data=FILE] | DIR  a NoCloud seed for a cloud\n"
	"                            image: wirt writes the files (or those of DIR)\n"
	"                            to a FAT volume labelled cidata, attached as a\n"
	"                            read-only virtio disk; without meta-data an\n"
	"                            instance-id is made from the other files\n"
	"Devices:\n"
	"  -d, --disk FILE[,OPTS]    a disk (repeatable); OPTS, comma-separated:\n"
	"                            format=raw|qcow2|vmdk|vdi (default: detected),\n"
	"                            readonly=on|off, serial=ID (up to 20\n"
	"                            characters, seen in /dev/disk/by-id),\n"
	"                            if=virtio (virtio-blk, default) or if=ide (an\n"
	"                            IDE disk for guests without virtio drivers;\n"
	"                            4 IDE drives at most, CD-ROMs included),\n"
	"                            media=cdrom (with if=ide: as --cdrom),\n"
	"                            bootindex=N (0-999, see --boot)\n"
	"      --cdrom FILE[,OPTS]   an IDE CD-ROM drive (ATAPI) holding FILE, an\n"
	"                            ISO image (or any --disk format) read-only;\n"
	"                            firmware boots it through El Torito (--boot\n"
	"                            order=d); OPTS: format=, bootindex=N\n"
	"      --cloud-init user-data=FILE[,meta-data=FILE][,network-config=FILE]\n"
	"                            a NoCloud seed for cloud-init: an ISO 9660\n"
	"                            volume labelled cidata with these files\n"
	"                            (written with Debian's xorriso; meta-data\n"
	"                            defaults to an instance-id hashed from\n"
	"                            user-data), as one more read-only virtio disk\n"
	"      --console serial|virtio  the console on this terminal: the first\n"
	"                            serial port (ttyS0, default) or virtio-console\n"
	"                            (hvc0; the default command line then says\n"
	"                            console=hvc0)\n"
	"      --serial stdio|none|pty|file:PATH|unix:PATH  where that console\n"
	"                            goes: this terminal (default), nowhere, a\n"
	"                            pseudo-terminal wirt names at start-up (attach\n"
	"                            with screen or minicom), appended to PATH\n"
	"                            (output only), or to the clients of a unix\n"
	"                            socket wirt listens on at PATH (socat -\n"
	"                            UNIX-CONNECT:PATH); wirt console NAME reaches\n"
	"                            it in every case\n"
	"      --vga std|virtio|none  a standard VGA adapter (QEMU's -vga std: VGA\n"
	"                            text and graphics modes, Bochs VBE up to\n"
	"                            2560x1600x32, 16 MiB VRAM; with --firmware\n"
	"                            its BIOS is Debian's vgabios-stdvga.bin),\n"
	"                            or virtio-gpu (2D, Linux's virtio-gpu driver;\n"
	"                            its resolution follows the VNC viewer's\n"
	"                            window); its screen is saved with the\n"
	"                            monitor's screendump (default none: headless)\n"
	"      --display vnc=ADDR:N[,password-file=FILE]|none  show the screen\n"
	"                            to VNC viewers (implies --vga std without\n"
	"                            --vga virtio; a PS/2 keyboard and mouse and\n"
	"                            a tablet take their keys and pointer): N is\n"
	"                            the display\n"
	"                            (port 5900+N) or a port from 5900, ADDR an\n"
	"                            IPv4 address, default 127.0.0.1 (vnc=:1);\n"
	"                            any other than 127.x needs password-file\n"
	"                            (its first line; VNC authentication uses 8\n"
	"                            characters)\n"
	"      --display web=ADDR:PORT[,password-file=FILE]  the screen in a\n"
	"                            browser: http://ADDR:PORT/vnc.html serves\n"
	"                            noVNC (Debian's novnc and websockify); with\n"
	"                            or without vnc= (then VNC takes a free port\n"
	"                            from 5900 on ADDR)\n"
	"      --tablet on|off       a virtio-input tablet: the viewer's pointer\n"
	"                            as absolute positions, so the guest's\n"
	"                            pointer follows it exactly (QEMU's\n"
	"                            virtio-tablet-pci; default on with\n"
	"                            --display, the PS/2 mouse gets the pointer\n"
	"                            while no driver uses the tablet)\n"
	"      --rng                 a virtio-rng device (the guest's /dev/hwrng)\n"
	"                            fed from the host's getrandom()\n"
	"      --channel NAME,path=SOCKET  a named virtio-console port (repeatable,\n"
	"                            up to 4): the guest finds NAME in\n"
	"                            /sys/class/virtio-ports/*/name; wirt listens\n"
	"                            on the unix socket SOCKET for its host end\n"
	"  -n, --net SPEC            a network card (repeatable) on a network:\n"
	"                            user[,hostfwd=tcp|udp:[HOSTADDR]:HOSTPORT-\n"
	"                              [GUESTADDR]:GUESTPORT][,restrict=on]\n"
	"                              [,net=10.0.2.0/24][,host=IP][,dns=IP]\n"
	"                              [,dhcpstart=IP]  NAT without privileges\n"
	"                              (libslirp): DHCP, DNS, port forwards\n"
	"                            tap[,ifname=NAME][,script=PATH]\n"
	"                              [,downscript=PATH][,vnet_hdr=off]  a host\n"
	"                              tap interface; the scripts get its name;\n"
	"                              offloads go to the kernel unless off\n"
	"                            socket,mcast=ADDR:PORT  a segment shared by\n"
	"                              every VM that joins the multicast group\n"
	"                            socket,listen=[HOST]:PORT / socket,connect=\n"
	"                              HOST:PORT  two VMs over TCP\n"
	"                            any of them with ,mac=52:54:00:12:34:56\n"
	"                            (default: that, plus the card's number) and\n"
	"                            ,model=virtio (default: virtio-net) or e1000\n"
	"                            (an emulated Intel 82540EM, for guests without\n"
	"                            virtio drivers)\n"
	"Lifecycle:\n"
	"      --no-reboot           exit instead of resetting when the guest\n"
	"                            reboots (status 0) or triple-faults (status 2)\n"
	"      --shutdown-timeout S  SIGTERM or SIGINT (stdin not a terminal)\n"
	"                            press the ACPI power button; after S seconds\n"
	"                            (default 10; 0: at once) or a second signal\n"
	"                            wirt stops the guest (status 128+signal)\n"
	"Control:\n"
	"      --name NAME           the VM's name for wirt ls / wirt ctl (letters,\n"
	"                            digits, '.', '-', '_'; default wirt-PID); its\n"
	"                            runtime directory is $XDG_RUNTIME_DIR/wirt/NAME\n"
	"                            (/run/wirt/NAME for root, $WIRT_RUNTIME_DIR\n"
	"                            /NAME if set) with the QMP socket qmp.sock\n"
	"      --qmp PATH            the QMP monitor (QEMU's JSON protocol) on the\n"
	"                            unix socket PATH instead\n"
	"      --daemonize           once the VM runs, detach: wirt returns 0 (or\n"
	"                            the error), the console is on wirt console\n"
	"                            NAME, messages go to --log or the runtime\n"
	"                            directory's file log\n"
	"      --log FILE            messages to FILE (appended) with --daemonize\n"
	"      --incoming file:PATH|exec:COMMAND|tcp:HOST:PORT  start from a\n"
	"                            state the QMP migrate command saved (give the\n"
	"                            same machine options: memory, vCPUs, devices);\n"
	"                            exec: reads it from COMMAND's standard output,\n"
	"                            tcp: waits there for a live migration\n"
	"      --loadvm NAME         start from the snapshot NAME that the monitor's\n"
	"                            savevm made (disks go back to it too)\n"
	"Security:\n"
	"      --sandbox on|off      once the machine is built, a seccomp filter\n"
	"                            allows only the system calls running it needs\n"
	"                            (default on); a refused call stops wirt with\n"
	"                            one line naming it (status 4); off is for\n"
	"                            debugging\n"
	"      --runas USER          started as root: become USER (its uid and\n"
	"                            group, no other groups) once /dev/kvm, disks,\n"
	"                            taps and sockets are open\n"
	"Configuration:\n"
	"      --config FILE         options from FILE, a JSON object of these long\n"
	"                            options: {\"memory\": \"1G\", \"disk\": [\"a.qcow2\"],\n"
	"                            \"rng\": true}; the command line overrides it\n"
	"                            (and adds disks, nets, channels); errors name\n"
	"                            FILE:LINE (annotated example: docs/vm.json)\n"
	"      --print-config        print the options in effect as such a file,\n"
	"                            and exit\n"
	"Other:\n"
	"  -v, --verbose             more messages (repeat for debug output)\n"
	"  -q, --quiet               only warnings and errors (no notices such as\n"
	"                            which accelerator was picked)\n"
	"  -h, --help                this help\n"
	"\n"
	"Exit status: 0 after power-off or Ctrl-A x; (V<<1)|1 when the guest writes\n"
	"V to the debug-exit port 0xf4; 1 on errors; 4 when the sandbox refused\n"
	"a system call.\n";

static const char default_append[] = "console=ttyS0";

/* --display vnc=ADDR:N[,password-file=FILE], web=ADDR:PORT[,...] or
 * none; vnc= and web= may both be given (two options). */
static int parse_display(struct vm_config *cfg, const char *arg, char *err,
			 size_t err_len)
{
	bool web = !strncmp(arg, "web=", 4);
	char *dst = web ? cfg->web : cfg->vnc;
	const char *opts;
	size_t len;

	if (!strcmp(arg, "none")) {
		cfg->vnc[0] = cfg->web[0] = '\0';
		return 0;
	}
	if (strncmp(arg, "vnc=", 4) && !web)
		return errorf(err, err_len, -EINVAL,
				 "--display must be vnc=ADDRESS:DISPLAY or web=ADDRESS:PORT "
				 "(with ,password-file=FILE) or none, not '%s'", arg);
	arg += 4;
	opts = strchr(arg, ',');
	len = opts ? (size_t)(opts - arg) : strlen(arg);
	if (!len || len >= sizeof(cfg->vnc) || !memchr(arg, ':', len))
		return errorf(err, err_len, -EINVAL, web ?
				 "--display web= needs ADDRESS:PORT, e.g. web=127.0.0.1:6080" :
				 "--display vnc= needs ADDRESS:DISPLAY, e.g. vnc=:1 or "
				 "vnc=127.0.0.1:5901");
	memcpy(dst, arg, len);
	dst[len] = '\0';
	if (opts) {
		if (strncmp(opts, ",password-file=", 15) || !opts[15] ||
		    strchr(opts + 15, ','))
			return errorf(err, err_len, -EINVAL,
					 "--display %s: unknown option '%s' (only "
					 "password-file=FILE)", web ? "web" : "vnc", opts + 1);
		cfg->vnc_password_file = opts + 15;
	}
	if (cfg->vga == VGA_NONE)
		cfg->vga = VGA_STD;
	return 0;
}

/* kvm, emu, auto; emu,jit=on|off chooses the emulator's engine. */
static int parse_accel(const char *v, enum accel_choice *out, bool *jit_off)
{
	*jit_off = false;
	if (!strcmp(v, "kvm"))
		*out = ACCEL_KVM;
	else if (!strcmp(v, "emu") || !strcmp(v, "emu,jit=on"))
		*out = ACCEL_EMU;
	else if (!strcmp(v, "emu,jit=off"))
		*out = ACCEL_EMU, *jit_off = true;
	else if (!strcmp(v, "auto"))
		*out = ACCEL_AUTO;
	else
		return -EINVAL;
	return 0;
}

/* NAME,path=SOCKET; the path stays in argv. */
static int parse_channel(const char *arg, struct channel_config *ch)
{
	const char *comma = strchr(arg, ',');
	size_t len = comma ? (size_t)(comma - arg) : 0, i;

	if (!comma || !len || len > 63 || strncmp(comma + 1, "path=", 5) ||
	    !comma[6])
		return -EINVAL;
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)arg[i]) && !strchr(".-_", arg[i]))
			return -EINVAL;
	memcpy(ch->name, arg, len);
	ch->name[len] = 0;
	ch->path = comma + 6;
	return 0;
}

static int check_file_arg(const char *opt, const char *v, char *err, size_t len)
{
	if (!*v)
		return errorf(err, len, -EINVAL, "--%s needs a file name", opt);
	return 0;
}

/*
 * --firmware bios: Debian's SeaBIOS (package seabios), or the file
 * $WIRT_SEABIOS names (tests point it elsewhere).  --firmware uefi:
 * Debian's OVMF (package ovmf), its code image read-only and a copy of
 * its variable store template as flash.  A ./bios file is still reached
 * as --firmware ./bios.  ,vars=FILE keeps the variable store in FILE
 * (made from the template when missing).
 */
#define SEABIOS_PATH "/usr/share/seabios/bios-256k.bin"
#define OVMF_CODE_PATH "/usr/share/OVMF/OVMF_CODE_4M.fd"
#define OVMF_VARS_PATH "/usr/share/OVMF/OVMF_VARS_4M.fd"

static int find_debian_file(const char *what, const char *env,
			    const char *path, const char *package,
			    const char **out, char *err, size_t len)
{
	const char *p = getenv(env);

	if (!p || !*p)
		p = path;
	if (access(p, R_OK))
		return errorf(err, len, -EINVAL,
			      "--firmware %s: %s is not installed (%s: %s); "
			      "install Debian's %s package (apt-get install %s) "
			      "or give --firmware FILE",
			      what, package, p, strerror(errno), package, package);
	*out = p;
	return 0;
}

static int resolve_firmware(const char *v, struct vm_config *cfg, char *err,
			    size_t len)
{
	const char *vars = strstr(v, ",vars=");
	size_t name_len = vars ? (size_t)(vars - v) : strlen(v);
	int ret;

	cfg->firmware_bios = name_len == 4 && !strncmp(v, "bios", 4);
	cfg->firmware_uefi = name_len == 4 && !strncmp(v, "uefi", 4);
	cfg->firmware_vars = NULL;
	cfg->firmware_vars_template = NULL;
	if (vars) {
		cfg->firmware_vars = vars + 6;
		if (!*cfg->firmware_vars || strstr(cfg->firmware_vars, ",vars="))
			return errorf(err, len, -EINVAL, "--firmware %s: vars= needs one file name", v);
		if (cfg->firmware_bios)
			return errorf(err, len, -EINVAL,
				      "--firmware %s: SeaBIOS keeps no variable store; "
				      "vars= is for UEFI firmware", v);
		if (!name_len)
			return errorf(err, len, -EINVAL, "--firmware needs a file name, bios or uefi");
	}
	if (cfg->firmware_bios)
		return find_debian_file("bios", "WIRT_SEABIOS", SEABIOS_PATH,
					"seabios", &cfg->firmware, err, len);
	if (cfg->firmware_uefi) {
		ret = find_debian_file("uefi", "WIRT_OVMF_CODE", OVMF_CODE_PATH,
				       "ovmf", &cfg->firmware, err, len);
		if (!ret)
			ret = find_debian_file("uefi", "WIRT_OVMF_VARS", OVMF_VARS_PATH,
					       "ovmf", &cfg->firmware_vars_template,
					       err, len);
		return ret;
	}
	if (vars) {
		/* The file name before ",vars=" (one VM per process). */
		static char path[4096];

		if (name_len >= sizeof(path))
			return errorf(err, len, -EINVAL, "--firmware: file name too long");
		memcpy(path, v, name_len);
		path[name_len] = 0;
		v = path;
	}
	cfg->firmware = v;
	return 0;
}

int run_options_parse(int argc, char **argv, struct vm_config *cfg,
		      struct run_flags *flags, FILE *help_out,
		      char *err, size_t err_len)
{
	uint64_t v;
	int c, ret;

	memset(cfg, 0, sizeof(*cfg));
	memset(flags, 0, sizeof(*flags));
	flags->shutdown_timeout = 10;
	for (c = 1; c < argc; c++) {
		const char *hint = qemu_option_hint(argv[c]);

		if (hint)
			return errorf(err, err_len, -EINVAL, "'%s' is a QEMU option; in wirt "
					 "run: %s (see wirt run --help)", argv[c], hint);
	}
	cfg->accel = ACCEL_AUTO;
	cfg->memory = VM_DEFAULT_MEMORY;
	cfg->cpus = 1;
	smbios_config_init(&cfg->smbios);
	cfg->append = default_append;
	optind = 0; /* reset getopt, also for repeated calls in tests */
	opterr = 0;

	while ((c = getopt_long(argc, argv, ":a:m:c:k:i:A:f:d:n:vqh",
				long_options, NULL)) != -1) {
		switch (c) {
		case OPT_ACCEL:
			if (parse_accel(optarg, &cfg->accel, &cfg->jit_off))
				return errorf(err, err_len, -EINVAL,
						 "--accel '%s': choose kvm, emu, emu,jit=off or auto",
						 optarg);
			break;
		case OPT_MEMORY:
			ret = parse_size(optarg, 1 << 20, &v);
			if (ret || v < GMEM_MIN_RAM || v > GMEM_MAX_RAM)
				return errorf(err, err_len, -EINVAL,
						 "--memory '%s': give a size from 16M to 1T, e.g. 512M or 2G",
						 optarg);
			if (v & 0xfffff)
				return errorf(err, err_len, -EINVAL,
						 "--memory '%s': must be a whole number of MiB", optarg);
			cfg->memory = v;
			break;
		case OPT_CPUS:
			if (parse_uint(optarg, 1, VM_MAX_CPUS, &v))
				return errorf(err, err_len, -EINVAL,
						 "--cpus '%s': give a number from 1 to %d",
						 optarg, VM_MAX_CPUS);
			cfg->cpus = (unsigned)v;
			break;
		case OPT_KERNEL:
			if (check_file_arg("kernel", optarg, err, err_len))
				return -EINVAL;
			cfg->kernel = optarg;
			break;
		case OPT_INITRD:
			if (check_file_arg("initrd", optarg, err, err_len))
				return -EINVAL;
			cfg->initrd = optarg;
			break;
		case OPT_APPEND:
			cfg->append = optarg;
			break;
		case OPT_FIRMWARE:
			if (check_file_arg("firmware", optarg, err, err_len) ||
			    resolve_firmware(optarg, cfg, err, err_len))
				return -EINVAL;
			break;
		case OPT_DISK:
			if (cfg->ndisks == VM_MAX_DISKS)
				return errorf(err, err_len, -EINVAL, "--disk: at most %d disks",
						 VM_MAX_DISKS);
			if (!*optarg || *optarg == ',')
				return errorf(err, err_len, -EINVAL, "--disk needs a file name");
			cfg->disks[cfg->ndisks++].spec = optarg;
			break;
		case OPT_CDROM:
			if (cfg->ndisks == VM_MAX_DISKS)
				return errorf(err, err_len, -EINVAL, "--cdrom: at most %d disks and CD-ROMs",
						 VM_MAX_DISKS);
			if (!*optarg || *optarg == ',')
				return errorf(err, err_len, -EINVAL, "--cdrom needs a file name");
			cfg->disks[cfg->ndisks].cdrom = true;
			cfg->disks[cfg->ndisks++].spec = optarg;
			break;
		case OPT_BOOT:
			if (strncmp(optarg, "order=", 6) || boot_order_check(optarg + 6))
				return errorf(err, err_len, -EINVAL,
						 "--boot '%s': give order=LETTERS of c (hard disks), "
						 "d (CD-ROMs) and n (network), e.g. order=dc", optarg);
			cfg->boot_order = optarg + 6;
			break;
		case OPT_NET:
			if (cfg->nnets == VM_MAX_NETS)
				return errorf(err, err_len, -EINVAL, "--net: at most %d network cards",
						 VM_MAX_NETS);
			if (!*optarg)
				return errorf(err, err_len, -EINVAL, "--net needs a specification");
			cfg->nets[cfg->nnets++].spec = optarg;
			break;
		case OPT_CONSOLE:
			if (!strcmp(optarg, "serial"))
				cfg->virtio_console = false;
			else if (!strcmp(optarg, "virtio"))
				cfg->virtio_console = true;
			else
				return errorf(err, err_len, -EINVAL,
						 "--console '%s': choose serial or virtio", optarg);
			break;
		case OPT_RNG:
			cfg->rng = true;
			break;
		case OPT_CHANNEL:
			if (cfg->nchannels == VM_MAX_CHANNELS)
				return errorf(err, err_len, -EINVAL, "--channel: at most %d channels",
						 VM_MAX_CHANNELS);
			if (parse_channel(optarg, &cfg->channels[cfg->nchannels]))
				return errorf(err, err_len, -EINVAL,
						 "--channel '%s': give NAME,path=SOCKET with a NAME of "
						 "1 to 63 letters, digits, '.', '-' or '_'", optarg);
			cfg->nchannels++;
			break;
		case OPT_NO_REBOOT:
			cfg->no_reboot = true;
			break;
		case OPT_OVERCOMMIT:
			flags->overcommit = true;
			break;
		case OPT_SANDBOX:
			if (strcmp(optarg, "on") && strcmp(optarg, "off"))
				return errorf(err, err_len, -EINVAL,
						 "--sandbox '%s': choose on or off", optarg);
			flags->no_sandbox = !strcmp(optarg, "off");
			break;
		case OPT_RUNAS:
			if (!*optarg)
				return errorf(err, err_len, -EINVAL, "--runas needs a user name");
			flags->runas = optarg;
			break;
		case OPT_VGA:
			if (!strcmp(optarg, "std"))
				cfg->vga = VGA_STD;
			else if (!strcmp(optarg, "virtio"))
				cfg->vga = VGA_VIRTIO;
			else if (!strcmp(optarg, "none"))
				cfg->vga = VGA_NONE;
			else
				return errorf(err, err_len, -EINVAL,
					      "--vga must be std, virtio or none, not '%s'",
					      optarg);
			break;
		case OPT_TABLET:
			if (strcmp(optarg, "on") && strcmp(optarg, "off"))
				return errorf(err, err_len, -EINVAL,
					      "--tablet '%s': choose on or off", optarg);
			cfg->tablet = !strcmp(optarg, "on") ? TABLET_ON : TABLET_OFF;
			break;
		case OPT_DISPLAY:
			if (parse_display(cfg, optarg, err, err_len))
				return -1;
			break;
		case OPT_DEBUGCON:
			if (!*optarg)
				return errorf(err, err_len, -EINVAL, "--debugcon needs a file name");
			cfg->debugcon = optarg;
			break;
		case OPT_SMBIOS:
			if (smbios_parse_option(&cfg->smbios, optarg, err, err_len))
				return -EINVAL;
			break;
		case OPT_CLOUD_INIT:
			if (cloud_init_parse_option(&cfg->cloud_init, optarg, err, err_len))
				return -EINVAL;
			break;
		case OPT_NAME:
			if (!vm_name_valid(optarg))
				return errorf(err, err_len, -EINVAL,
						 "--name '%s': give 1 to %d letters, digits, '.', "
						 "'-' or '_', starting with a letter or digit",
						 optarg, VM_NAME_MAX);
			flags->name = optarg;
			break;
		case OPT_INCOMING:
			if (strncmp(optarg, "file:", 5) && strncmp(optarg, "exec:", 5) &&
			    strncmp(optarg, "tcp:", 4))
				return errorf(err, err_len, -EINVAL,
					      "--incoming '%s': give file:PATH, exec:COMMAND or tcp:HOST:PORT",
					      optarg);
			flags->incoming = optarg;
			break;
		case OPT_LOADVM:
			if (!*optarg)
				return errorf(err, err_len, -EINVAL, "--loadvm needs a snapshot name");
			flags->loadvm = optarg;
			break;
		case OPT_QMP:
			if (!*optarg)
				return errorf(err, err_len, -EINVAL, "--qmp needs a socket path");
			flags->qmp = optarg;
			break;
		case OPT_SHUTDOWN_TIMEOUT:
			if (parse_uint(optarg, 0, 3600, &v))
				return errorf(err, err_len, -EINVAL,
						 "--shutdown-timeout '%s': give seconds from 0 to 3600",
						 optarg);
			flags->shutdown_timeout = (unsigned)v;
			break;
		case OPT_DAEMONIZE:
			flags->daemonize = true;
			break;
		case OPT_LOG:
			if (check_file_arg("log", optarg, err, err_len))
				return -EINVAL;
			flags->log = optarg;
			break;
		case OPT_VERBOSE:
			flags->verbose++;
			break;
		case OPT_QUIET:
			flags->quiet = true;
			break;
		case OPT_SERIAL:
			if (!strcmp(optarg, "stdio")) {
				cfg->serial = SERIAL_STDIO;
			} else if (!strcmp(optarg, "none")) {
				cfg->serial = SERIAL_NONE;
			} else if (!strcmp(optarg, "pty")) {
				cfg->serial = SERIAL_PTY;
			} else if (!strncmp(optarg, "file:", 5) && optarg[5]) {
				cfg->serial = SERIAL_FILE;
				cfg->serial_path = optarg + 5;
			} else if (!strncmp(optarg, "unix:", 5) && optarg[5]) {
				cfg->serial = SERIAL_UNIX;
				cfg->serial_path = optarg + 5;
			} else {
				return errorf(err, err_len, -EINVAL, "--serial '%s': choose stdio, none, "
						 "pty, file:PATH or unix:PATH", optarg);
			}
			break;
		case OPT_HELP:
			fputs(help_text, help_out);
			return 1;
		case ':':
			return errorf(err, err_len, -EINVAL, "option '%s' needs a value",
					 argv[optind - 1]);
		default:
			return errorf(err, err_len, -EINVAL,
					 "unknown option '%s' (see wirt run --help)",
					 argv[optind - 1]);
		}
	}
	if (cfg->virtio_console && cfg->append == default_append)
		cfg->append = "console=hvc0";
	if (optind < argc)
		return errorf(err, err_len, -EINVAL,
				 "unexpected argument '%s' (see wirt run --help)",
				 argv[optind]);
	if (flags->log && !flags->daemonize)
		return errorf(err, err_len, -EINVAL, "--log goes with --daemonize "
				 "(otherwise redirect stderr)");
	if (cfg->initrd && !cfg->kernel)
		return errorf(err, err_len, -EINVAL, "--initrd needs --kernel");
	if (cfg->boot_order && !cfg->firmware)
		return errorf(err, err_len, -EINVAL, "--boot: only firmware reads a boot order; "
				 "add --firmware bios");
	if (!cfg->kernel && !cfg->firmware)
		return errorf(err, err_len, -EINVAL,
				 "nothing to boot: give --kernel FILE or --firmware FILE (see wirt run --help)");
	return 0;
}

int run_options_has_arg(const char *name)
{
	const struct option *o;

	for (o = long_options; o->name; o++)
		if (!strcmp(o->name, name))
			return o->has_arg != no_argument;
	return -1;
}

const char *run_options_long_name(int c)
{
	const struct option *o;

	for (o = long_options; o->name; o++)
		if (o->val == c)
			return o->name;
	return NULL;
}
