#!/bin/sh
# Installs the Debian packages wirt needs (scripts/debian-packages.txt) and
# builds wirt.  Safe to run again: apt-get skips what is already installed.
set -eu
cd "$(dirname "$0")/.."

packages=$(grep -v '^#' scripts/debian-packages.txt | tr '\n' ' ')
missing=""
for p in $packages; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	echo "setup: installing$missing"
	$sudo apt-get update -q
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends $missing
fi
make -j"$(nproc)"
