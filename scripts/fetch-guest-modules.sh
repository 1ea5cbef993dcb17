#!/bin/sh
# Extract kernel modules the default guest's initrd lacks from Debian's
# package of the same kernel, for the tests' initrd (mk/control.mk):
#   scripts/fetch-guest-modules.sh KERNEL-VERSION OUTDIR MODULE...
# e.g. 6.1.0-57-cloud-amd64 build/x button evdev.  Needs apt-get download
# and dpkg-deb; the package is kept in OUTDIR/.deb for the next time.
set -eu
kver=$1 out=$2
shift 2
mkdir -p "$out/.deb"
deb=$(ls "$out"/.deb/linux-image-"$kver"_*.deb 2>/dev/null | head -n 1 || true)
if [ -z "$deb" ]; then
    (cd "$out/.deb" && apt-get download -q "linux-image-$kver" >&2 2>/dev/null) ||
        { echo "fetch-guest-modules: apt-get download linux-image-$kver failed" >&2; exit 1; }
    deb=$(ls "$out"/.deb/linux-image-"$kver"_*.deb | head -n 1)
fi
rm -rf "$out/.x"
dpkg-deb -x "$deb" "$out/.x"
for m in "$@"; do
    f=$(find "$out/.x/lib/modules/$kver" -name "$m.ko*" | head -n 1)
    [ -n "$f" ] || { echo "fetch-guest-modules: no $m in linux-image-$kver" >&2; exit 1; }
    case "$f" in
        *.ko.xz)  xz -dc "$f" > "$out/$m.ko" ;;
        *.ko.zst) zstd -qdc "$f" > "$out/$m.ko" ;;
        *.ko.gz)  gzip -dc "$f" > "$out/$m.ko" ;;
        *)        cp "$f" "$out/$m.ko" ;;
    esac
done
rm -rf "$out/.x"
