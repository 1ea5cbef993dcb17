"""Debian's standard kernel (linux-image-amd64, scripts/fetch-std-kernel.sh)
for guests that need drivers the cloud kernel lacks, such as e1000: the
kernel, and the default guest's initramfs with extra files appended."""
import gzip
import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STD = os.path.join(ROOT, "guest", "std")
KERNEL = os.path.join(STD, "vmlinuz")
DEFAULT_INITRD = os.path.join(ROOT, "guest", "initrd.img")


def fetch():
    """Fetch (cached) the kernel, its vmlinux and e1000.ko; '' or the error."""
    r = subprocess.run(["sh", os.path.join(ROOT, "scripts", "fetch-std-kernel.sh")],
                       capture_output=True, text=True)
    return r.stderr[-500:] if r.returncode else ""


def cpio_newc(files):
    """A newc cpio archive of {name: bytes}, gzipped: the kernel unpacks it
    after the initramfs it is appended to (an uncompressed one would have
    to start 4-byte aligned after the compressed one)."""
    out = bytearray()

    def entry(name, data, mode):
        name_b = name.encode() + b"\0"
        out.extend(b"070701" + b"".join(b"%08X" % v for v in (
            0, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name_b), 0)))
        out.extend(name_b)
        out.extend(bytes(-len(out) % 4))
        out.extend(data)
        out.extend(bytes(-len(out) % 4))

    for name, data in files.items():
        entry(name, data, 0o100644)
    entry("TRAILER!!!", b"", 0)
    return gzip.compress(bytes(out))


def initrd_with(path, files):
    """The default guest's initrd plus files ({name in the guest's /: host
    path}), returned as a path."""
    with open(path, "wb") as f:
        f.write(open(DEFAULT_INITRD, "rb").read())
        f.write(cpio_newc({name: open(src, "rb").read() for name, src in files.items()}))
    return str(path)


def initrd_with_e1000(path):
    """The default guest's initrd plus /e1000.ko (insmod it in the guest)."""
    return initrd_with(path, {"e1000.ko": os.path.join(STD, "e1000.ko")})


# The standard kernel's virtio PCI stack, virtio_input (with evdev) and
# virtio-gpu with DRM, in load order (scripts/fetch-std-kernel.sh).
VIRTIO_PCI_MODULES = ["virtio_ring", "virtio", "virtio_pci_modern_dev",
                      "virtio_pci_legacy_dev", "virtio_pci"]
INPUT_MODULES = ["evdev", "virtio_input"]
GPU_MODULES = ["drm", "drm_kms_helper", "drm_shmem_helper", "virtio_dma_buf", "virtio-gpu"]


def initrd_with_modules(path, names):
    """The default guest's initrd plus /NAME.ko for each module name (the
    standard kernel's: the default initrd's own are the cloud kernel's)."""
    return initrd_with(path, {n + ".ko": os.path.join(STD, "modules", n + ".ko")
                              for n in names})
