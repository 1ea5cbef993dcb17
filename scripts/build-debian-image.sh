#!/bin/sh
# build-debian-image.sh - build a Debian 12 (bookworm) root filesystem image
# that boots to systemd's multi-user target under wirt.
#
# Outputs (ignored by git; directory overridable with WIRT_DEBIAN_DIR):
#   guest/debian/rootfs.img      raw ext4 filesystem, no partition table
#                                (the guest's /dev/vda, root=/dev/vda)
#   guest/debian/vmlinuz         the image's own /boot/vmlinuz-* (cloud kernel)
#   guest/debian/initrd.img      the image's own initramfs-tools initrd
#   guest/debian/kernel-version  its release (uname -r)
#
# Contents: debootstrap's minbase plus systemd-sysv, udev, bash, python3, apt,
# initramfs-tools and linux-image-cloud-amd64, and what makes it a cloud image:
# cloud-init (NoCloud only: wirt --cloud-init), openssh-server, ifupdown with
# a DHCP client; from the Debian mirror this machine's apt uses.  Root logs in
# on ttyS0 without a password (getty override); without a seed cloud-init
# stays off and no network is configured; apt lists, caches and docs are
# removed.
# The filesystem is written by mke2fs -d (no loop mount).
#
# Cached like build-guest.sh: if every output exists and is newer than this
# script, their paths are printed and nothing is rebuilt.  --force rebuilds.
#
# Requirements (root): debootstrap, mke2fs (e2fsprogs), du, awk.

set -eu

name=build-debian-image
usage="Builds guest/debian/{rootfs.img,vmlinuz,initrd.img} (cached)."
. "$(dirname -- "$0")/guest-common.sh"

out_dir=${WIRT_DEBIAN_DIR:-$repo_root/guest/debian}
outputs="rootfs.img vmlinuz initrd.img kernel-version"

# ---------------------------------------------------------------- cache check
cached=1
for f in $outputs; do
    if ! [ -s "$out_dir/$f" ] || ! [ "$out_dir/$f" -nt "$script_path" ]; then
        cached=0
    fi
done
if [ "$force" -eq 0 ] && [ "$cached" -eq 1 ]; then
    for f in rootfs.img vmlinuz initrd.img; do echo "$out_dir/$f"; done
    exit 0
fi

# ---------------------------------------------------------------- tool check
[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap chroots and sets owners)"
for tool in debootstrap mke2fs du awk chroot; do
    command -v "$tool" >/dev/null 2>&1 ||
        die "required tool '$tool' not found (apt-get install debootstrap e2fsprogs)"
done

# ---------------------------------------------------------------- mirror
# The first Debian archive (not -security) that apt here uses for bookworm,
# from one-line sources.list entries or deb822 .sources stanzas.
find_mirror() {
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        sed 's/\[[^]]*\]//' "$f" |
            awk '$1 == "deb" && $3 == "bookworm" && $2 !~ /security/ { print $2; exit }'
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk 'function flush() {
                 if (types ~ /(^| )deb( |$)/ && suites ~ /(^| )bookworm( |$)/ &&
                     uris !~ /security/) { split(uris, u, " "); print u[1]; found = 1 }
                 types = suites = uris = ""
             }
             /^[ \t]*$/ { if (!found) flush(); next }
             /^Types:/  { sub(/^Types:[ \t]*/, ""); types = $0 }
             /^URIs:/   { sub(/^URIs:[ \t]*/, ""); uris = $0 }
             /^Suites:/ { sub(/^Suites:[ \t]*/, ""); suites = $0 }
             END { if (!found) flush() }' "$f" | head -n 1
    done
}
mirror=${WIRT_DEBIAN_MIRROR:-$(find_mirror | head -n 1)}
[ -n "$mirror" ] || { mirror=http://deb.debian.org/debian; log "no bookworm mirror in apt's sources; using $mirror"; }
log "mirror: $mirror"

# ---------------------------------------------------------------- debootstrap
mkdir -p "$out_dir"
work="$out_dir/.work"
root="$work/root"
cleanup() {
    # debootstrap mounts /proc and /sys in the target while it configures.
    for m in proc sys dev/pts dev; do
        mountpoint -q "$root/$m" 2>/dev/null && umount -l "$root/$m"
    done
    rm -rf "$work"
}
cleanup
mkdir -p "$work"
trap cleanup EXIT
trap 'exit 130' INT TERM

include=systemd-sysv,udev,kmod,bash,python3-minimal,apt,initramfs-tools,zstd,linux-image-cloud-amd64
log "debootstrap bookworm (minbase + $include); takes a few minutes"
debootstrap --variant=minbase --include="$include" bookworm "$root" "$mirror" \
    > "$work/debootstrap.log" 2>&1 || {
    tail -n 30 "$work/debootstrap.log" >&2
    die "debootstrap failed (log above)"
}

# The cloud-image part through apt in the new system: debootstrap's own
# dependency handling fails on cloud-init's python3 stack.
log "apt-get install cloud-init openssh-server ifupdown isc-dhcp-client"
echo "deb $mirror bookworm main" > "$root/etc/apt/sources.list"
mount -t proc proc "$root/proc"
{ chroot "$root" apt-get update &&
  DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get install -y \
      --no-install-recommends cloud-init openssh-server ifupdown isc-dhcp-client
} >> "$work/debootstrap.log" 2>&1 || {
    tail -n 30 "$work/debootstrap.log" >&2
    die "apt-get install in the image failed (log above)"
}
umount "$root/proc"

# ---------------------------------------------------------------- configure
echo wirt-debian > "$root/etc/hostname"
cat > "$root/etc/hosts" <<'EOF'
127.0.0.1	localhost
127.0.1.1	wirt-debian
::1		localhost ip6-localhost ip6-loopback
EOF
# By label: the same filesystem is /dev/vda as rootfs.img and /dev/vda2
# (or /dev/sda2 on an IDE disk) inside disk.img (mk/debian.mk).
cat > "$root/etc/fstab" <<'EOF'
# <file system> <mount point> <type> <options> <dump> <pass>
LABEL=debian-root	/	ext4	rw,errors=remount-ro	0	1
EOF
# The image's apt sources; their lists are removed below (no network in the
# guest), so apt works offline on what dpkg's status file knows.
echo "deb $mirror bookworm main" > "$root/etc/apt/sources.list"

# Root logs in on the serial console by itself; an empty password also lets
# a login prompt through.
chroot "$root" passwd -d root >/dev/null
dropin="$root/etc/systemd/system/serial-getty@ttyS0.service.d"
mkdir -p "$dropin"
cat > "$dropin/autologin.conf" <<'EOF'
[Service]
ExecStart=
ExecStart=-/sbin/agetty --autologin root --noclear --keep-baud 115200,38400,9600 %I $TERM
EOF
# Under an emulator on a busy machine a boot may take many minutes: systemd's
# default 90 s for a unit to start or a device to appear would turn slowness
# into failed units.
mkdir -p "$root/etc/systemd/system.conf.d"
cat > "$root/etc/systemd/system.conf.d/50-wirt-timeouts.conf" <<'EOF'
[Manager]
DefaultTimeoutStartSec=20min
DefaultTimeoutStopSec=10min
DefaultDeviceTimeoutSec=20min
EOF
# cloud-init looks only for seeds on local volumes: NoCloud (a volume
# labelled cidata, as wirt --cloud-init attaches) and ConfigDrive
# (config-2); no probing of cloud metadata services.  With neither,
# ds-identify turns cloud-init off for the boot.  Two entries, because
# ds-identify takes a list of one (with or without the None fallback) as
# found without looking, and cloud-init would then run on every boot.
mkdir -p "$root/etc/cloud/cloud.cfg.d"
# The image has no locales package: C.UTF-8 (glibc's own) is the locale
# cloud-init sets instead of generating en_US.UTF-8, which would fail.
cat > "$root/etc/cloud/cloud.cfg.d/90-wirt-nocloud.cfg" <<'EOF'
datasource_list: [ NoCloud, ConfigDrive ]
locale: C.UTF-8
EOF
# sshd's host keys are those made at build time until cloud-init replaces
# them on an instance's first boot (its ssh module deletes and makes them).

# A recognisable prompt that never occurs in boot messages.
cat > "$root/root/.bashrc" <<'EOF'
PS1='wirt-debian:\w# '
# Plain output for a program reading the serial console.
bind 'set enable-bracketed-paste off' 2>/dev/null
export TERM=dumb SYSTEMD_PAGER= SYSTEMD_COLORS=0
EOF
cat > "$root/root/.profile" <<'EOF'
[ -n "$BASH" ] && . ~/.bashrc
EOF

# The initrd: just what a virtio or IDE disk with ext4 needs, compressed
# with zstd (smaller and quicker to unpack than everything MODULES=most
# would add).
sed -i 's/^MODULES=.*/MODULES=list/' "$root/etc/initramfs-tools/initramfs.conf"
sed -i 's/^COMPRESS=.*/COMPRESS=zstd/' "$root/etc/initramfs-tools/initramfs.conf"
# Root's type for the fsck hook, which cannot probe /dev/vda from here.
echo FSTYPE=ext4 >> "$root/etc/initramfs-tools/initramfs.conf"
cat >> "$root/etc/initramfs-tools/modules" <<'EOF'
virtio_pci
virtio_blk
ata_piix
sd_mod
ext4
EOF
kver=$(ls "$root/lib/modules" | sort -V | tail -n 1)
[ -n "$kver" ] || die "no kernel installed in the image"
log "kernel $kver: update-initramfs"
mount -t proc proc "$root/proc"
chroot "$root" update-initramfs -u -k "$kver" >> "$work/debootstrap.log" 2>&1 ||
    die "update-initramfs failed (see $work/debootstrap.log)"
umount "$root/proc"

# ---------------------------------------------------------------- slim down
rm -rf "$root/var/lib/apt/lists/"* "$root/var/cache/apt/"*.bin \
       "$root/var/cache/apt/archives/"*.deb "$root/var/cache/debconf/"*-old \
       "$root/usr/share/doc/"* "$root/usr/share/man/"* "$root/usr/share/info/"* \
       "$root/usr/share/locale/"* "$root/var/log/"*.log "$root/var/log/apt/"* \
       "$root/tmp/"* "$root/boot/"*.old
# A fresh machine-id on first boot (the image is booted from copies).
: > "$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"

# ---------------------------------------------------------------- pack
cp "$root/boot/vmlinuz-$kver" "$work/vmlinuz"
cp "$root/boot/initrd.img-$kver" "$work/initrd.img"
# Used space plus half again and 256 MiB for the guest to write logs in.
used_kib=$(du -sk -x "$root" | awk '{ print $1 }')
size_mib=$(( (used_kib * 3 / 2) / 1024 + 256 ))
log "writing rootfs.img (${size_mib} MiB ext4, $((used_kib / 1024)) MiB used)"
rm -f "$work/rootfs.img"
mke2fs -q -t ext4 -L debian-root -d "$root" "$work/rootfs.img" "${size_mib}M" >&2 ||
    die "mke2fs -d failed"
echo "$kver" > "$work/kernel-version"
for f in rootfs.img vmlinuz initrd.img kernel-version; do
    mv -f "$work/$f" "$out_dir/$f"
done
log "done: kernel $kver"
for f in rootfs.img vmlinuz initrd.img; do echo "$out_dir/$f"; done
