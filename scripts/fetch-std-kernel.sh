#!/bin/sh
# Fetches Debian's standard kernel (linux-image-amd64) for the tests that
# boot it: guest/std/vmlinuz (bzImage), guest/std/vmlinux (the ELF inside
# it, booted through PVH), guest/std/e1000.ko (the driver of the emulated
# Intel NIC, which the cloud kernel lacks) and guest/std/modules/: the
# virtio PCI stack, virtio_input, evdev and virtio-gpu with the DRM
# modules it needs (the cloud kernel has no DRM), for the display tests.
# Cached: does nothing if all exist.
set -eu
cd "$(dirname "$0")/.."
out=guest/std
# In the order they load (dependencies first).
modules="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci
evdev virtio_input drm drm_kms_helper drm_shmem_helper virtio_dma_buf virtio-gpu"

have_kernel=yes
[ -s "$out/vmlinuz" ] && [ -s "$out/vmlinux" ] && [ -s "$out/e1000.ko" ] || have_kernel=no
have_modules=yes
for m in $modules; do
	[ -s "$out/modules/$m.ko" ] || have_modules=no
done
if [ $have_kernel = yes ] && [ $have_modules = yes ]; then
	echo "$out/vmlinuz"
	echo "$out/vmlinux"
	exit 0
fi
mkdir -p "$out/.work"
pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
if [ -z "$pkg" ]; then
	apt-get update -q >&2
	pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
fi
[ -n "$pkg" ] || { echo "fetch-std-kernel: cannot resolve linux-image-amd64" >&2; exit 1; }
(cd "$out/.work" && rm -f ./*.deb && apt-get download -q "$pkg" >&2)
dpkg-deb -x "$out"/.work/*.deb "$out/.work/x"

# A module of the package, uncompressed, to $2.
copy_module() {
	ko=$(find "$out/.work/x/lib/modules" -name "$1.ko*" | head -n 1)
	[ -n "$ko" ] || { echo "fetch-std-kernel: no $1 module in $pkg" >&2; exit 1; }
	case "$ko" in
	*.xz) xz -dc "$ko" > "$2" ;;
	*.zst) zstd -qdc "$ko" > "$2" ;;
	*) cp "$ko" "$2" ;;
	esac
}

if [ $have_kernel = no ]; then
	cp "$out"/.work/x/boot/vmlinuz-* "$out/vmlinuz"
	python3 scripts/extract-vmlinux.py "$out/vmlinuz" "$out/vmlinux"
	copy_module e1000 "$out/e1000.ko"
fi
if [ $have_modules = no ]; then
	mkdir -p "$out/modules"
	for m in $modules; do
		copy_module "$m" "$out/modules/$m.ko.tmp"
		mv "$out/modules/$m.ko.tmp" "$out/modules/$m.ko"
	done
fi
rm -rf "$out/.work"
echo "$out/vmlinuz"
echo "$out/vmlinux"
