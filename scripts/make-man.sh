#!/bin/sh
# Write wirt's manual page (roff) to stdout from the help texts of the
# wirt binary given as $1, so the page and --help never disagree: one
# section per command that `wirt --help` lists and that has a --help.
set -eu
wirt=$1

# Help text as literal roff: backslashes, and lines that would start a
# request, made harmless.
literal() {
	sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"
}

version=$("$wirt" --version | sed -n '1s/^wirt //p')
commands=$("$wirt" --help | sed -n '/^commands:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p')

cat <<EOF
.TH WIRT 1 "" "wirt $version" "User Commands"
.SH NAME
wirt \\- run x86-64 virtual machines under Linux KVM or wirt's own emulator
.SH SYNOPSIS
EOF
for c in $commands; do
	# The usage line of the command's help, or the bare command.
	usage=$("$wirt" "$c" --help 2>/dev/null | sed -n '1s/^usage: //p' || true)
	printf '%s\n' "${usage:-wirt $c}" | literal
	echo ".br"
done
cat <<EOF
.SH DESCRIPTION
.nf
EOF
"$wirt" --help | literal
echo ".fi"
for c in $commands; do
	if "$wirt" "$c" --help >/dev/null 2>&1; then
		printf '.SH "WIRT %s"\n.nf\n' "$(echo "$c" | tr a-z A-Z)"
		"$wirt" "$c" --help | literal
		echo ".fi"
	fi
done
cat <<EOF
.SH FILES
.TP
.I guest/
the default guest (kernel and initramfs) and the Debian image that
\\fBmake default-guest\\fR and \\fBmake debian-image\\fR build in the source tree
.SH SEE ALSO
.BR qemu-img (1),
.BR qemu-system-x86_64 (1)
EOF
