/*
 * Boot selection.  With --kernel, wirt loads the kernel itself (bzImage
 * through the Linux boot protocol, vmlinux through PVH) and the vCPU starts
 * at its entry point.  With --firmware, the vCPU starts at the reset
 * vector of the firmware image, which is handed any --kernel through
 * fw_cfg.
 */
#include "vm/boot.h"
#include "vm/acpi.h"
#include "vm/mptable.h"
#include "vm/smbios.h"
#include "vm/multiboot.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "block/block.h"
#include "hw/pflash.h"
#include "util/file.h"
#include "util/log.h"
#include "vm/firmware_vars.h"
#include "vm/linux_boot.h"
#include "vm/vm.h"

/* Firmware and its flash end at 4 GiB, above the KVM TSS pages. */
#define FIRMWARE_WINDOW (16u << 20)

static int read_boot_file(const char *what, const char *path, void **data,
			  size_t *size, size_t max)
{
	int ret = file_read_all(path, max, data, size);

	if (ret == -EFBIG)
		log_error("%s '%s' is too large (more than %zu MiB)", what, path,
			  max >> 20);
	else if (ret)
		log_error("cannot read %s '%s': %s", what, path, strerror(-ret));
	return ret;
}

/* Reject a file that is not a bootable kernel before building the VM. */
static int boot_check_kernel(const char *path, const void *image, size_t size)
{
	struct bzimage_info info;
	uint32_t entry;
	char err[256];
	int ret;

	const uint8_t *p = image;

	if (size > 0x206 && !memcmp(p + 0x202, "HdrS", 4))
		ret = bzimage_parse(image, size, &info, err, sizeof(err));
	else if (multiboot_detect(image, size))
		ret = 0; /* checked in depth while loading */
	else if (image_is_elf(image, size))
		ret = pvh_find_entry(image, size, &entry, err, sizeof(err));
	else
		ret = bzimage_parse(image, size, &info, err, sizeof(err));
	if (ret)
		log_error("cannot boot kernel '%s': %s", path, err);
	return ret;
}

/*
 * UEFI firmware's variable store: flash right below the firmware image,
 * where QEMU's pc machine puts its second pflash and OVMF looks.
 */
static int add_vars_flash(struct vm *vm)
{
	const struct vm_config *cfg = vm->config;
	struct block_dev *store;
	uint64_t gpa;
	void *image;
	size_t size;
	int ret;

	ret = firmware_vars_open(cfg, &image, &size, &store);
	if (ret)
		return ret;
	ret = -EINVAL;
	if (vm->boot.firmware_size + size > FIRMWARE_WINDOW) {
		log_error("firmware '%s' and its variable store take %zu KiB; at most %u KiB fit below 4 GiB",
			  cfg->firmware, (vm->boot.firmware_size + size) >> 10,
			  FIRMWARE_WINDOW >> 10);
		goto fail;
	}
	gpa = GMEM_4G - vm->boot.firmware_size - size;
	ret = pflash_create(vm, gpa, image, size, store, "pflash");
	if (ret) {
		log_error("cannot map the UEFI variable store at 0x%llx: %s",
			  (unsigned long long)gpa, strerror(-ret));
		goto fail;
	}
	free(image);
	return 0;
fail:
	free(image);
	if (store)
		block_close(store);
	return ret;
}

int boot_prepare(struct vm *vm)
{
	const struct vm_config *cfg = vm->config;
	struct boot_images *b = &vm->boot;
	int ret;

	if (cfg->firmware) {
		ret = read_boot_file("firmware", cfg->firmware, &b->firmware,
				     &b->firmware_size, 16 << 20);
		if (ret)
			return ret;
		ret = gmem_add_firmware(&vm->mem, b->firmware, b->firmware_size);
		if (ret) {
			log_error("firmware '%s' must be a flat image of 64 KiB to 16 MiB in whole 4 KiB pages (it has %zu bytes)",
				  cfg->firmware, b->firmware_size);
			return ret;
		}
		if (cfg->firmware_vars || cfg->firmware_vars_template) {
			ret = add_vars_flash(vm);
			if (ret)
				return ret;
		}
	}
	if (cfg->kernel) {
		ret = read_boot_file("kernel", cfg->kernel, &b->kernel,
				     &b->kernel_size, 1ULL << 30);
		if (ret)
			return ret;
		ret = boot_check_kernel(cfg->kernel, b->kernel, b->kernel_size);
		if (ret)
			return ret;
	}
	if (cfg->initrd) {
		ret = read_boot_file("initrd", cfg->initrd, &b->initrd,
				     &b->initrd_size, 4ULL << 30);
		if (ret)
			return ret;
	}
	return 0;
}

int boot_load(struct vm *vm, struct cpu_state *bsp)
{
	const struct vm_config *cfg = vm->config;
	struct boot_images *b = &vm->boot;
	struct linux_boot_args args = {
		.kernel = b->kernel,
		.kernel_size = b->kernel_size,
		.initrd = b->initrd,
		.initrd_size = b->initrd_size,
		.cmdline = cfg->append,
		.kernel_name = cfg->kernel,
	};
	char err[256];
	int ret;

	/* Firmware: the reset state is the boot state; a kernel goes to the
	 * firmware through fw_cfg (vm/firmware_cfg.c). */
	if (!b->kernel || b->firmware)
		return 0;
	args.rsdp_addr = acpi_build(vm);
	mptable_build(vm);
	ret = smbios_install(vm);
	if (ret)
		return ret;
	ret = linux_boot_load(&vm->mem, &args, bsp, err, sizeof(err));
	if (ret)
		log_error("cannot boot kernel '%s': %s", cfg->kernel, err);
	return ret;
}

void boot_release(struct vm *vm)
{
	free(vm->boot.kernel);
	free(vm->boot.initrd);
	free(vm->boot.firmware);
	memset(&vm->boot, 0, sizeof(vm->boot));
}
