#!/bin/sh
# Fetches Debian's standard kernel (linux-image-amd64) for the tests that
# boot it: guest/std/vmlinuz (bzImage), guest/std/vmlinux (the ELF inside
# it, booted through PVH) and guest/std/e1000.ko (the driver of the
# emulated Intel NIC, which the cloud kernel lacks).  Cached: does nothing
# if all exist.
set -eu
cd "$(dirname "$0")/.."
out=guest/std
[ -s "$out/vmlinuz" ] && [ -s "$out/vmlinux" ] && [ -s "$out/e1000.ko" ] &&
	{ echo "$out/vmlinuz"; echo "$out/vmlinux"; exit 0; }
mkdir -p "$out/.work"
pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
if [ -z "$pkg" ]; then
	apt-get update -q >&2
	pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
fi
[ -n "$pkg" ] || { echo "fetch-std-kernel: cannot resolve linux-image-amd64" >&2; exit 1; }
(cd "$out/.work" && rm -f ./*.deb && apt-get download -q "$pkg" >&2)
dpkg-deb -x "$out"/.work/*.deb "$out/.work/x"
cp "$out"/.work/x/boot/vmlinuz-* "$out/vmlinuz"
python3 scripts/extract-vmlinux.py "$out/vmlinuz" "$out/vmlinux"
ko=$(find "$out/.work/x/lib/modules" -name 'e1000.ko*' | head -n 1)
[ -n "$ko" ] || { echo "fetch-std-kernel: no e1000 module in $pkg" >&2; exit 1; }
case "$ko" in
*.xz) xz -dc "$ko" > "$out/e1000.ko" ;;
*.zst) zstd -qdc "$ko" > "$out/e1000.ko" ;;
*) cp "$ko" "$out/e1000.ko" ;;
esac
rm -rf "$out/.work"
echo "$out/vmlinuz"
echo "$out/vmlinux"
