#!/bin/sh
# Fetches modules of the default guest's kernel (guest/kernel-version)
# that its initrd does not carry, for the tests that need them (efivarfs
# for the UEFI test, vfat for the cloud-init seed): Debian's package of
# that kernel is downloaded once and the named modules are kept,
# decompressed, in build/guest-modules/NAME.ko.  Cached: a module
# already there is not fetched again.  Prints the directory.
#
#   scripts/fetch-guest-modules.sh efivarfs fat vfat
set -eu
cd "$(dirname "$0")/.."
out=build/guest-modules
missing=
for m in "$@"; do
	[ -s "$out/$m.ko" ] || missing="$missing $m"
done
[ -z "$missing" ] && { echo "$out"; exit 0; }
kver=$(cat guest/kernel-version) || { echo "fetch-guest-modules: no guest/kernel-version (make default-guest)" >&2; exit 1; }
work=$out/.work
rm -rf "$work"
mkdir -p "$work"
if ! (cd "$work" && apt-get download -q "linux-image-$kver" >&2); then
	apt-get update -q >&2
	(cd "$work" && apt-get download -q "linux-image-$kver" >&2)
fi
dpkg-deb -x "$work"/*.deb "$work/x"
for m in $missing; do
	ko=$(find "$work/x/lib/modules" -name "$m.ko*" | head -n 1)
	[ -n "$ko" ] || { echo "fetch-guest-modules: no module $m in linux-image-$kver" >&2; exit 1; }
	case "$ko" in
	*.xz) xz -dc "$ko" > "$out/$m.ko" ;;
	*.zst) zstd -qdc "$ko" > "$out/$m.ko" ;;
	*) cp "$ko" "$out/$m.ko" ;;
	esac
done
rm -rf "$work"
echo "$out"
