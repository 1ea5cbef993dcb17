# The Debian 12 root filesystem image (scripts/build-debian-image.sh), built
# once and cached under guest/debian; tests/integration/test_debian_rootfs.py
# boots it.  Building it needs root (debootstrap).
.PHONY: debian-image
debian-image: guest/debian/rootfs.img
guest/debian/rootfs.img: scripts/build-debian-image.sh
	sh scripts/build-debian-image.sh
integration: guest/debian/rootfs.img
