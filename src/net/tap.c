/*
 * The tap back end: the guest's NIC is a host tap interface, for bridged
 * or routed networks.
 *
 *   tap[,ifname=NAME][,script=PATH][,downscript=PATH][,vnet_hdr=on|off]
 *
 * Opens tap NAME (creating it where privileged; without ifname the kernel
 * names it).  script runs with the interface name as its argument once the
 * interface exists (to add it to a bridge or give it an address), and
 * downscript when wirt stops, the way Xen's and QEMU's network scripts do.
 * The sandbox forbids new processes once the machine runs, so a helper
 * forked at start-up (with wirt's privileges then) waits for wirt to end
 * and becomes the downscript.
 *
 * Where the kernel offers it (and unless vnet_hdr=off), the tap carries a
 * virtio-net header before each frame: the guest's partial checksums and
 * large TCP frames go to the kernel as they are, which finishes them
 * (or hands them on whole), and the kernel may give us large frames for
 * a guest that takes them.
 */
#include "net/net.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/event_loop.h"
#include "util/log.h"
#include "vm/vm.h"

/* struct virtio_net_hdr as the tap reads and writes it (little-endian). */
#define VNET_HDR_LEN 10

struct net_tap {
	struct net_backend *nb;
	int fd;
	char ifname[IFNAMSIZ];
	char *downscript;
	pid_t down_pid;              /* the downscript's helper, or 0 */
	int down_fd;                 /* closing it starts the downscript */
	bool gone;                   /* the interface went away */
	uint8_t buf[VNET_HDR_LEN + NET_MAX_FRAME];
};

static uint16_t get_le16(const uint8_t *p) { return p[0] | p[1] << 8; }

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = v;
	p[1] = v >> 8;
}

static void hdr_decode(struct net_hdr *h, const uint8_t *p)
{
	h->flags = p[0];
	h->gso_type = p[1];
	h->hdr_len = get_le16(p + 2);
	h->gso_size = get_le16(p + 4);
	h->csum_start = get_le16(p + 6);
	h->csum_offset = get_le16(p + 8);
}

static void hdr_encode(uint8_t *p, const struct net_hdr *h)
{
	p[0] = h->flags;
	p[1] = h->gso_type;
	put_le16(p + 2, h->hdr_len);
	put_le16(p + 4, h->gso_size);
	put_le16(p + 6, h->csum_start);
	put_le16(p + 8, h->csum_offset);
}

/* 0 if a script's wait status says it exited with status 0. */
static int script_status(const char *script, const char *ifname, int status)
{
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		log_error("net tap: '%s %s' failed (status %d%s)", script, ifname,
			  WIFEXITED(status) ? WEXITSTATUS(status) : -1,
			  WIFEXITED(status) && WEXITSTATUS(status) == 127 ?
			  ": cannot run it" : "");
		return -EIO;
	}
	return 0;
}

/* Run script with the interface name; 0 if it exited with status 0. */
static int run_script(const char *script, const char *ifname)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (!pid) {
		execl(script, script, ifname, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	return script_status(script, ifname, status);
}

/*
 * Fork the helper that runs script once t->down_fd closes (tap_destroy,
 * or wirt's death).  It keeps only the standard streams and its pipe: a
 * tap descriptor it held would keep the interface alive.
 */
static int start_downscript(struct net_tap *t, const char *script)
{
	char *argv[] = { (char *)script, t->ifname, NULL };
	int p[2];
	char c;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	t->down_pid = fork();
	if (t->down_pid < 0) {
		t->down_pid = 0;
		close(p[0]);
		close(p[1]);
		return -errno;
	}
	if (!t->down_pid) {
		/* Only async-signal-safe calls: wirt has threads. */
		if (dup2(p[0], 3) < 0)
			_exit(127);
		close_range(4, ~0u, 0);
		while (read(3, &c, 1) < 0 && errno == EINTR)
			;
		execv(script, argv);
		_exit(127);
	}
	close(p[0]);
	t->down_fd = p[1];
	return 0;
}

static void on_readable(void *opaque, uint32_t events)
{
	struct net_tap *t = opaque;
	ssize_t n;

	while ((n = read(t->fd, t->buf, sizeof(t->buf))) > 0) {
		struct net_hdr hdr, *h = NULL;
		uint8_t *frame = t->buf;

		if (t->nb->vnet_hdr) {
			if (n < VNET_HDR_LEN) {
				net_count_rx_drop(t->nb);
				continue;
			}
			hdr_decode(&hdr, t->buf);
			h = &hdr;
			frame += VNET_HDR_LEN;
			n -= VNET_HDR_LEN;
		}
		if (net_deliver(t->nb, h, frame, n) == NET_RX_NO_ROOM)
			net_count_rx_drop(t->nb);
	}
	if (n < 0 && errno != EAGAIN && errno != EINTR && !t->gone) {
		t->gone = true;
		log_warn("net tap: %s: %s; the guest's frames are dropped",
			 t->ifname, strerror(errno));
		event_loop_remove_fd(t->nb->vm->loop, t->fd);
	}
}

static int tap_send(struct net_backend *nb, const struct net_hdr *hdr,
		    const struct iovec *iov, int iovcnt, size_t len)
{
	struct net_tap *t = nb->priv;
	uint8_t vnet[VNET_HDR_LEN];
	struct iovec v[1 + 64];
	int first = 0;

	if (t->gone)
		return -ENODEV;
	if (iovcnt > 64)
		return -EINVAL;
	if (hdr) {
		hdr_encode(vnet, hdr);
		v[first++] = (struct iovec){ vnet, sizeof(vnet) };
	}
	memcpy(v + first, iov, iovcnt * sizeof(*iov));
	/* A tap takes whole frames or nothing: a full queue drops it; the
	 * kernel refuses a header that does not fit the frame (EINVAL). */
	if (writev(t->fd, v, first + iovcnt) < 0) {
		if (errno != EAGAIN)
			log_warn_once("net tap: %s: write: %s", t->ifname,
				      strerror(errno));
		return -errno;
	}
	return 0;
}

static void tap_destroy(struct net_backend *nb)
{
	struct net_tap *t = nb->priv;

	if (!t)
		return;
	if (t->fd >= 0) {
		if (!t->gone)
			event_loop_remove_fd(nb->vm->loop, t->fd);
		close(t->fd);
	}
	if (t->down_pid) {
		int status;

		close(t->down_fd);
		if (waitpid(t->down_pid, &status, 0) == t->down_pid)
			script_status(t->downscript, t->ifname, status);
	}
	free(t->downscript);
	free(t);
	nb->priv = NULL;
}

/* Tell the kernel which offloads it may leave to the guest. */
static void tap_set_offloads(struct net_backend *nb, unsigned offloads)
{
	struct net_tap *t = nb->priv;
	unsigned long f = 0;

	if (!nb->vnet_hdr)
		return;
	if (offloads & NET_OFF_CSUM) {
		f |= TUN_F_CSUM;
		if (offloads & NET_OFF_TSO4)
			f |= TUN_F_TSO4;
		if (offloads & NET_OFF_TSO6)
			f |= TUN_F_TSO6;
		if ((offloads & NET_OFF_ECN) && (f & (TUN_F_TSO4 | TUN_F_TSO6)))
			f |= TUN_F_TSO_ECN;
	}
	if (ioctl(t->fd, TUNSETOFFLOAD, f) < 0)
		log_warn_once("net tap: %s: cannot set offloads: %s", t->ifname,
			      strerror(errno));
}

static const struct net_backend_ops tap_ops = {
	.type = "tap",
	.send = tap_send,
	.destroy = tap_destroy,
	.set_offloads = tap_set_offloads,
};

/* vnet_hdr=on|off: whether to ask for virtio-net headers (default on). */
static int want_vnet_hdr(struct net_options *o, bool *want)
{
	const char *v = net_option(o, "vnet_hdr");

	*want = true;
	if (!v)
		return 0;
	if (strcmp(v, "on") && strcmp(v, "off")) {
		log_error("--net tap: vnet_hdr=%s: give on or off", v);
		return -EINVAL;
	}
	*want = !strcmp(v, "on");
	return 0;
}

/* The header is little-endian whatever the host (virtio 1.x); 10 bytes. */
static bool setup_vnet_hdr(struct net_tap *t)
{
	int size = VNET_HDR_LEN, le = 1;

	if (ioctl(t->fd, TUNSETVNETHDRSZ, &size) < 0)
		return false;
	if (__BYTE_ORDER != __LITTLE_ENDIAN && ioctl(t->fd, TUNSETVNETLE, &le) < 0)
		return false;
	/* Nothing for us but whole frames until the guest says more. */
	return ioctl(t->fd, TUNSETOFFLOAD, 0ul) == 0;
}

int net_tap_create(struct net_backend *nb, struct net_options *o)
{
	const char *ifname = net_option(o, "ifname");
	const char *script = net_option(o, "script");
	const char *downscript = net_option(o, "downscript");
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI };
	struct net_tap *t;
	unsigned int features = 0;
	bool vnet;
	int ret;

	if (ifname && (!ifname[0] || strlen(ifname) >= IFNAMSIZ)) {
		log_error("--net tap: ifname '%s': give 1 to %d characters", ifname,
			  IFNAMSIZ - 1);
		return -EINVAL;
	}
	ret = want_vnet_hdr(o, &vnet);
	if (ret)
		return ret;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->nb = nb;
	t->fd = -1;
	nb->priv = t;
	nb->ops = &tap_ops;
	t->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (t->fd < 0) {
		ret = -errno;
		log_error("--net tap: cannot open /dev/net/tun: %s", strerror(-ret));
		return ret;
	}
	if (ifname)
		strcpy(ifr.ifr_name, ifname);
	if (vnet && !ioctl(t->fd, TUNGETFEATURES, &features) &&
	    (features & IFF_VNET_HDR))
		ifr.ifr_flags |= IFF_VNET_HDR;
	if (ioctl(t->fd, TUNSETIFF, &ifr) < 0) {
		ret = -errno;
		log_error("--net tap: cannot %s tap '%s': %s%s",
			  ifname ? "open" : "create", ifname ? ifname : "",
			  strerror(-ret), ret == -EPERM ?
			  " (create it first, e.g. ip tuntap add NAME mode tap "
			  "user USER, or run with CAP_NET_ADMIN)" : "");
		return ret;
	}
	memcpy(t->ifname, ifr.ifr_name, IFNAMSIZ);
	t->ifname[IFNAMSIZ - 1] = 0;
	if (ifr.ifr_flags & IFF_VNET_HDR) {
		nb->vnet_hdr = setup_vnet_hdr(t);
		if (!nb->vnet_hdr) {
			ret = -errno;
			log_error("--net tap: %s: cannot set up virtio-net headers: "
				  "%s (try vnet_hdr=off)", t->ifname, strerror(-ret));
			return ret;
		}
	}
	if (downscript) {
		t->downscript = strdup(downscript);
		if (!t->downscript)
			return -ENOMEM;
		ret = start_downscript(t, t->downscript);
		if (ret) {
			log_error("--net tap: cannot start the downscript's helper: %s",
				  strerror(-ret));
			return ret;
		}
	}
	if (script && (ret = run_script(script, t->ifname)))
		return ret;
	log_info("net tap: guest NIC on %s%s", t->ifname, nb->vnet_hdr ?
		 " (offloads through virtio-net headers)" : "");
	return event_loop_add_fd(nb->vm->loop, t->fd, EPOLLIN, on_readable, t);
}
