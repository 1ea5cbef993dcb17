/*
 * The tap back end: the guest's NIC is a host tap interface, for bridged
 * or routed networks.
 *
 *   tap[,ifname=NAME][,script=PATH][,downscript=PATH]
 *
 * Opens tap NAME (creating it where privileged; without ifname the kernel
 * names it).  script runs with the interface name as its argument once the
 * interface exists (to add it to a bridge or give it an address), and
 * downscript when wirt stops, the way Xen's and QEMU's network scripts do.
 */
#include "net/net.h"

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

struct net_tap {
	struct net_backend *nb;
	int fd;
	char ifname[IFNAMSIZ];
	char *downscript;
	bool gone;                   /* the interface went away */
	uint8_t buf[NET_MAX_FRAME];
};

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
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		log_error("net tap: '%s %s' failed (status %d%s)", script, ifname,
			  WIFEXITED(status) ? WEXITSTATUS(status) : -1,
			  WIFEXITED(status) && WEXITSTATUS(status) == 127 ?
			  ": cannot run it" : "");
		return -EIO;
	}
	return 0;
}

static void on_readable(void *opaque, uint32_t events)
{
	struct net_tap *t = opaque;
	ssize_t n;

	while ((n = read(t->fd, t->buf, sizeof(t->buf))) > 0)
		if (net_deliver(t->nb, t->buf, n) == NET_RX_NO_ROOM)
			net_count_rx_drop(t->nb);
	if (n < 0 && errno != EAGAIN && errno != EINTR && !t->gone) {
		t->gone = true;
		log_warn("net tap: %s: %s; the guest's frames are dropped",
			 t->ifname, strerror(errno));
		event_loop_remove_fd(t->nb->vm->loop, t->fd);
	}
}

static int tap_send(struct net_backend *nb, const struct iovec *iov, int iovcnt,
		    size_t len)
{
	struct net_tap *t = nb->priv;

	if (t->gone)
		return -ENODEV;
	/* A tap takes whole frames or nothing: a full queue drops it. */
	if (writev(t->fd, iov, iovcnt) < 0) {
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
	if (t->downscript && t->ifname[0])
		run_script(t->downscript, t->ifname);
	free(t->downscript);
	free(t);
	nb->priv = NULL;
}

static const struct net_backend_ops tap_ops = {
	.type = "tap",
	.send = tap_send,
	.destroy = tap_destroy,
};

int net_tap_create(struct net_backend *nb, struct net_options *o)
{
	const char *ifname = net_option(o, "ifname");
	const char *script = net_option(o, "script");
	const char *downscript = net_option(o, "downscript");
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI };
	struct net_tap *t;
	int ret;

	if (ifname && (!ifname[0] || strlen(ifname) >= IFNAMSIZ)) {
		log_error("--net tap: ifname '%s': give 1 to %d characters", ifname,
			  IFNAMSIZ - 1);
		return -EINVAL;
	}
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
	if (downscript) {
		t->downscript = strdup(downscript);
		if (!t->downscript)
			return -ENOMEM;
	}
	if (script && (ret = run_script(script, t->ifname)))
		return ret;
	log_info("net tap: guest NIC on %s", t->ifname);
	return event_loop_add_fd(nb->vm->loop, t->fd, EPOLLIN, on_readable, t);
}
