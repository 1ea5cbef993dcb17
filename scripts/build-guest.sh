#!/bin/sh
# build-guest.sh - build wirt's default Linux guest (kernel + initramfs).
#
# Outputs (at the repository root, ignored by git):
#   guest/vmlinuz     Debian 12 cloud kernel (bzImage)
#   guest/initrd.img  gzip-compressed newc cpio: busybox + virtio, ACPI button,
#                     evdev and IDE (ata_piix, sd_mod, sr_mod, isofs) modules
#                     + /init (which starts acpid)
#
# The result is cached: if both outputs exist and are newer than this script,
# their paths are printed and nothing is rebuilt.  Use --force to rebuild.
#
# Requirements: apt-get, apt-cache, dpkg-deb, modinfo (kmod), cpio, gzip, xz.

set -eu

name=build-guest
usage="Builds guest/vmlinuz and guest/initrd.img (cached)."
. "$(dirname -- "$0")/guest-common.sh"

out_dir="$repo_root/guest"
vmlinuz="$out_dir/vmlinuz"
initrd="$out_dir/initrd.img"

# ---------------------------------------------------------------- cache check
if [ "$force" -eq 0 ] && [ -s "$vmlinuz" ] && [ -s "$initrd" ] &&
   [ "$vmlinuz" -nt "$script_path" ] && [ "$initrd" -nt "$script_path" ]; then
    echo "$vmlinuz"
    echo "$initrd"
    exit 0
fi

# ---------------------------------------------------------------- tool check
for tool in apt-get apt-cache dpkg-deb modinfo cpio gzip xz find sort; do
    command -v "$tool" >/dev/null 2>&1 ||
        die "required tool '$tool' not found (apt-get install kmod cpio gzip xz-utils)"
done

mkdir -p "$out_dir"
work="$out_dir/.work"
rm -rf "$work"
mkdir -p "$work/debs" "$work/pkg" "$work/root"
cleanup() {
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- fetch
meta=linux-image-cloud-amd64

resolve_kernel_pkg() {
    # The metapackage depends on the real versioned image package.
    apt-cache depends "$meta" 2>/dev/null |
        sed -n 's/^[[:space:]]*Depends:[[:space:]]*\(linux-image-[0-9][^[:space:]]*-cloud-amd64\)[[:space:]]*$/\1/p' |
        head -n 1
}

kpkg=$(resolve_kernel_pkg || true)
if [ -z "$kpkg" ]; then
    log "'$meta' unknown to apt-cache; running apt-get update"
    apt-get update -q >&2 || die "apt-get update failed"
    kpkg=$(resolve_kernel_pkg || true)
    [ -n "$kpkg" ] || die "cannot resolve the kernel package behind '$meta'"
fi
log "kernel package: $kpkg"

download() {
    (cd "$work/debs" && apt-get download -q "$@") >&2
}

if ! download "$kpkg" busybox-static; then
    log "apt-get download failed; running apt-get update and retrying"
    apt-get update -q >&2 || die "apt-get update failed"
    # The versioned package may have changed after the update.
    kpkg=$(resolve_kernel_pkg || true)
    [ -n "$kpkg" ] || die "cannot resolve the kernel package behind '$meta'"
    download "$kpkg" busybox-static ||
        die "apt-get download $kpkg busybox-static failed"
fi

kdeb=$(ls "$work/debs/${kpkg}"_*.deb 2>/dev/null | head -n 1)
bdeb=$(ls "$work/debs/"busybox-static_*.deb 2>/dev/null | head -n 1)
[ -n "$kdeb" ] || die "downloaded kernel .deb not found in $work/debs"
[ -n "$bdeb" ] || die "downloaded busybox-static .deb not found in $work/debs"

log "unpacking $(basename "$kdeb")"
dpkg-deb -x "$kdeb" "$work/pkg" || die "dpkg-deb -x $kdeb failed"
log "unpacking $(basename "$bdeb")"
dpkg-deb -x "$bdeb" "$work/pkg" || die "dpkg-deb -x $bdeb failed"

# ---------------------------------------------------------------- kernel
kimage=$(ls "$work/pkg/boot/"vmlinuz-* 2>/dev/null | head -n 1)
[ -n "$kimage" ] || die "no /boot/vmlinuz-* in $kdeb"
kver=${kimage##*/vmlinuz-}
moddir="$work/pkg/lib/modules/$kver"
[ -d "$moddir" ] || die "module directory lib/modules/$kver missing from $kdeb"
log "kernel version: $kver"

busybox="$work/pkg/bin/busybox"
[ -x "$busybox" ] || die "no executable /bin/busybox in $bdeb"

# ---------------------------------------------------------------- modules
# Wanted modules; their dependencies are added automatically.
wanted="virtio virtio_ring virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci
virtio_mmio virtio_blk failover net_failover virtio_net virtio_console
rng-core virtio_rng button evdev ata_piix sd_mod sr_mod isofs"

# Map module name -> file, indexing every .ko* once.  Names are normalised with
# '-' -> '_' since modprobe treats them as equivalent.
find "$moddir" -name '*.ko' -o -name '*.ko.xz' -o -name '*.ko.gz' -o -name '*.ko.zst' |
while IFS= read -r f; do
    n=${f##*/}
    n=${n%%.ko*}
    printf '%s %s\n' "$(printf '%s' "$n" | tr - _)" "$f"
done > "$work/modindex"

builtin_list="$moddir/modules.builtin"

mod_file() {
    awk -v n="$(printf '%s' "$1" | tr - _)" '$1 == n { print $2; exit }' "$work/modindex"
}

is_builtin() {
    [ -f "$builtin_list" ] || return 1
    n=$(printf '%s' "$1" | tr - _)
    sed 's#.*/##; s#\.ko$##' "$builtin_list" | tr - _ | grep -qx "$n"
}

# Depth-first resolution: dependencies are emitted before their dependents.
: > "$work/order"
: > "$work/visiting"
resolve() {
    # $1 = module name; uses only globals because POSIX sh has no locals.
    _n=$(printf '%s' "$1" | tr - _)
    grep -qx "$_n" "$work/order" && return 0
    if grep -qx "$_n" "$work/visiting"; then
        die "module dependency cycle at $_n"
    fi
    _f=$(mod_file "$_n")
    if [ -z "$_f" ]; then
        if is_builtin "$_n"; then
            log "module $_n: built into the kernel"
            return 0
        fi
        die "module $_n not found in $kver (neither modular nor built in)"
    fi
    echo "$_n" >> "$work/visiting"
    _deps=$(modinfo -F depends "$_f") || die "modinfo failed on $_f"
    for _d in $(printf '%s' "$_deps" | tr ',' ' '); do
        resolve "$_d"
    done
    echo "$1" | tr - _ >> "$work/order"
}

for m in $wanted; do
    resolve "$m"
done
[ -s "$work/order" ] || log "warning: all requested modules are built in"

# ---------------------------------------------------------------- initramfs tree
root="$work/root"
mkdir -p "$root/bin" "$root/sbin" "$root/usr/bin" "$root/usr/sbin" \
         "$root/proc" "$root/sys" "$root/dev" "$root/tmp" "$root/root" \
         "$root/etc" "$root/lib/modules" "$root/run" "$root/mnt"
chmod 1777 "$root/tmp"

cp "$busybox" "$root/bin/busybox"
chmod 755 "$root/bin/busybox"
# busybox --list-full gives install paths (bin/sh, sbin/insmod, ...); fall back
# to --list with everything in /bin.
if applets=$("$busybox" --list-full 2>/dev/null) && [ -n "$applets" ]; then
    for a in $applets; do
        case "$a" in bin/busybox) continue ;; esac
        dir=${a%/*}
        case "$a" in */*) ;; *) dir=bin ;; esac
        mkdir -p "$root/$dir"
        # relative link to /bin/busybox
        case "$dir" in
            bin|sbin) target=../bin/busybox ;;
            usr/bin|usr/sbin) target=../../bin/busybox ;;
            *) target=/bin/busybox ;;
        esac
        [ -e "$root/$a" ] || ln -s "$target" "$root/$a"
    done
else
    applets=$("$busybox" --list) || die "busybox --list failed"
    for a in $applets; do
        [ "$a" = busybox ] && continue
        [ -e "$root/bin/$a" ] || ln -s busybox "$root/bin/$a"
    done
fi
[ -e "$root/bin/sh" ] || ln -s busybox "$root/bin/sh"

# Copy modules in load order, decompressed (busybox insmod takes plain .ko).
: > "$root/lib/modules/load-order"
while IFS= read -r m; do
    f=$(mod_file "$m")
    dst="$root/lib/modules/$m.ko"
    case "$f" in
        *.ko.xz)  xz -dc "$f" > "$dst" || die "xz -d failed on $f" ;;
        *.ko.gz)  gzip -dc "$f" > "$dst" || die "gzip -d failed on $f" ;;
        *.ko.zst) command -v zstd >/dev/null 2>&1 || die "zstd needed to decompress $f"
                  zstd -qdc "$f" > "$dst" || die "zstd -d failed on $f" ;;
        *.ko)     cp "$f" "$dst" ;;
        *)        die "unexpected module file $f" ;;
    esac
    echo "$m.ko" >> "$root/lib/modules/load-order"
done < "$work/order"

cat > "$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
EOF
cat > "$root/etc/group" <<'EOF'
root:x:0:
EOF

# What busybox udhcpc runs (Debian builds it to look in /etc/udhcpc):
# `udhcpc -i eth0` then configures eth0, the default route and DNS.
mkdir -p "$root/etc/udhcpc"
cat > "$root/etc/udhcpc/default.script" <<'EOF'
#!/bin/sh
case "$1" in
    deconfig)
        ifconfig "$interface" 0.0.0.0 up
        ;;
    bound|renew)
        ifconfig "$interface" "$ip" netmask "${subnet:-255.255.255.0}"
        if [ -n "$router" ]; then
            while route del default dev "$interface" 2>/dev/null; do :; done
            for r in $router; do
                route add default gw "$r" dev "$interface"
            done
        fi
        : > /etc/resolv.conf
        for d in $dns; do
            echo "nameserver $d" >> /etc/resolv.conf
        done
        ;;
esac
exit 0
EOF
chmod 755 "$root/etc/udhcpc/default.script"

# The ACPI power button (wirt's system_powerdown, SIGTERM to a headless
# wirt): busybox acpid, started by /init, runs this.
mkdir -p "$root/etc/acpi/PWRF"
cat > "$root/etc/acpi/PWRF/00000080" <<'EOF'
#!/bin/sh
sync
poweroff -f
EOF
chmod 755 "$root/etc/acpi/PWRF/00000080"

cat > "$root/init" <<'EOF'
#!/bin/sh
# wirt default guest init (busybox sh)
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
export HOME=/root
export PS1='~ # '

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null || mount -t tmpfs tmpfs /dev
mkdir -p /dev/pts
mount -t devpts devpts /dev/pts 2>/dev/null
echo 4 > /proc/sys/kernel/printk 2>/dev/null   # errors only on the console

if [ -f /lib/modules/load-order ]; then
    while read -r ko; do
        [ -n "$ko" ] || continue
        name=${ko%.ko}
        if [ -d "/sys/module/$name" ]; then
            continue            # already built in / loaded
        fi
        if ! err=$(insmod "/lib/modules/$ko" 2>&1); then
            case "$err" in
                *"File exists"*|*"exists"*) ;;
                *) echo "wirt-guest: insmod $name failed: $err" ;;
            esac
        fi
    done < /lib/modules/load-order
fi

# console=hvcN: that console exists only now that virtio_console is loaded,
# so the kernel could not give it to us as /dev/console.
for arg in $(cat /proc/cmdline); do
    case "$arg" in
        console=hvc*)
            dev=/dev/${arg#console=}
            dev=${dev%%,*}
            [ -c "$dev" ] && exec <"$dev" >"$dev" 2>&1
            ;;
    esac
done

# The power button: busybox acpid (button and evdev loaded above) runs
# /etc/acpi/PWRF/00000080.  Ready once it has the input devices open: a
# press before that would be lost.
if [ -d /sys/module/button ] && command -v acpid >/dev/null 2>&1; then
    acpid -f -l /tmp/acpid.log &
    i=0
    while [ $i -lt 50 ] && ! ls -l /proc/$!/fd 2>/dev/null | grep -q /dev/input/event; do
        sleep 0.1
        i=$((i + 1))
    done
fi

ifconfig lo 127.0.0.1 up 2>/dev/null
cd /root
echo "wirt-guest: ready"

if command -v setsid >/dev/null 2>&1 && command -v cttyhack >/dev/null 2>&1; then
    exec setsid cttyhack sh
fi
exec sh
EOF
chmod 755 "$root/init"

# ---------------------------------------------------------------- pack
log "writing $initrd"
(cd "$root" && find . -print | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
    gzip -9 > "$work/initrd.img" || die "creating cpio archive failed"
cp "$kimage" "$work/vmlinuz"
mv -f "$work/vmlinuz" "$vmlinuz"
mv -f "$work/initrd.img" "$initrd"
echo "$kver" > "$out_dir/kernel-version"

log "kernel $kver, modules: $(tr '\n' ' ' < "$root/lib/modules/load-order")"
echo "$vmlinuz"
echo "$initrd"
