# The Debian 12 root filesystem image (scripts/build-debian-image.sh), built
# once and cached under guest/debian; tests/integration/test_debian_rootfs.py
# boots it.  Building it needs root (debootstrap) and the Debian mirror apt
# uses (a few minutes); booting it under the emulator takes 3 to 5 minutes.
#
# `make check` runs it (check-debian, also on its own).  It was kept out
# while python3 in the guest died with SIGILL in one boot of three: the
# emulator took an instruction whose displacement ran into a code page not
# mapped yet for #UD instead of a page fault (fixed in decode.c; the test
# now also runs programs with each code page faulted in on its own).
#
# guest/debian/disk.img is the same system as a bootable disk, as an
# installer leaves one: SYSLINUX in the MBR and on a FAT boot partition
# with the image's kernel and initrd, the root filesystem on the second
# partition (scripts/make-syslinux-disk.py); firmware boots it
# (tests/integration/test_debian_disk.py: wirt run --firmware bios --disk).
.PHONY: debian-image debian-disk check-debian
debian-image: guest/debian/rootfs.img
guest/debian/rootfs.img: scripts/build-debian-image.sh
	sh scripts/build-debian-image.sh
debian-disk: guest/debian/disk.img
guest/debian/disk.img: guest/debian/rootfs.img scripts/make-syslinux-disk.py
	$(PYTHON) scripts/make-syslinux-disk.py --kernel guest/debian/vmlinuz \
		--initrd guest/debian/initrd.img --root-image guest/debian/rootfs.img \
		--append "root=LABEL=debian-root console=ttyS0 panic=-1" $@.tmp
	mv -f $@.tmp $@
check-debian: wirt guest/debian/rootfs.img guest/debian/disk.img
	@test -n "$(PYTHON)" || { echo 'pytest not found: run scripts/setup.sh'; exit 1; }
	$(PYTHON) -m pytest -q tests/integration/test_debian_rootfs.py \
		tests/integration/test_debian_disk.py
EXTRA_CHECKS += check-debian
