#!/bin/sh
# Fetches Debian's standard kernel (linux-image-amd64) for the tests that
# boot it: guest/std/vmlinuz (bzImage) and guest/std/vmlinux (the ELF inside
# it, booted through PVH).  Cached: does nothing if both exist.
set -eu
cd "$(dirname "$0")/.."
out=guest/std
[ -s "$out/vmlinuz" ] && [ -s "$out/vmlinux" ] && { echo "$out/vmlinuz"; echo "$out/vmlinux"; exit 0; }
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
rm -rf "$out/.work"
echo "$out/vmlinuz"
echo "$out/vmlinux"
