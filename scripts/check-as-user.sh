#!/bin/sh
# Run the integration suite as an ordinary user (make check-unprivileged):
# wirt must work without root, with only its own files (and /dev/kvm if
# the user may open it).  Run as root: makes the user (default wirt-check)
# if needed, gives it a clone of this tree's last commit with the default
# guest already built, and runs `make integration` there as that user.
# Tests that need root (tap, --runas) skip themselves.
set -eu
user=${1:-wirt-check}
src=$(cd "$(dirname "$0")/.." && pwd)

if [ "$(id -u)" != 0 ]; then
	echo "check-as-user.sh: run as root (it switches to $user)" >&2
	exit 2
fi
id "$user" >/dev/null 2>&1 || useradd --create-home --shell /bin/sh "$user"
home=$(getent passwd "$user" | cut -d: -f6)
tree=$home/wirt-check
rm -rf "$tree"
git clone --quiet "$src" "$tree"
# The default guest as built here (copies keep their times, so make does
# not rebuild them); the Debian image stays out (the suite skips it).
mkdir -p "$tree/guest"
for f in vmlinuz initrd.img kernel-version std; do
	cp -a "$src/guest/$f" "$tree/guest/"
done
touch "$tree/guest/vmlinuz" "$tree/guest/initrd.img"
chown -R "$user:" "$tree"
exec su "$user" -s /bin/sh -c "cd '$tree' && make -j2 wirt guests && make integration"
