/* The generic network layer: --net parsing, back-end creation, counters. */
#include "net/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/segment.h"
#include "vm/vm.h"
#include "util/log.h"

struct backend_type {
	const char *name;
	int (*create)(struct net_backend *nb, struct net_options *o);
};

static const struct backend_type types[] = {
	{ "socket", net_socket_create },
	{ "user", net_user_create },
	{ "tap", net_tap_create },
};

const char *net_option(struct net_options *o, const char *key)
{
	unsigned i;

	for (i = 0; i < o->nopts; i++) {
		if (!strcmp(o->keys[i], key)) {
			o->used[i] = true;
			return o->values[i];
		}
	}
	return NULL;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	char end;
	int i;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &v[0], &v[1], &v[2], &v[3], &v[4],
		   &v[5], &end) != 6)
		return -EINVAL;
	for (i = 0; i < 6; i++) {
		if (v[i] > 0xff)
			return -EINVAL;
		mac[i] = v[i];
	}
	/* A NIC address must be unicast. */
	return (mac[0] & 1) ? -EINVAL : 0;
}

static bool host_ports_deferred;

void net_defer_host_ports(bool defer)
{
	host_ports_deferred = defer;
}

bool net_host_ports_deferred(void)
{
	return host_ports_deferred;
}

int net_host_ports(struct vm *vm, bool take)
{
	unsigned i;
	int ret;

	host_ports_deferred = false;
	for (i = 0; i < vm->nnets; i++) {
		struct net_backend *nb = vm->nets[i];

		if (!nb->ops->host_ports)
			continue;
		ret = nb->ops->host_ports(nb, take);
		if (ret)
			return ret;
	}
	return 0;
}

int net_parse_inet(const char *s, struct sockaddr_in *sa, bool host_required)
{
	const char *colon = strrchr(s, ':');
	char host[256];
	char *end;
	unsigned long port;

	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -EINVAL;
	port = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || port > 65535)
		return -EINVAL;
	sa->sin_port = htons(port);
	memcpy(host, s, colon - s);
	host[colon - s] = 0;
	if (!host[0]) {
		if (host_required)
			return -EINVAL;
		sa->sin_addr.s_addr = htonl(INADDR_ANY);
		return 0;
	}
	if (inet_pton(AF_INET, host, &sa->sin_addr) == 1)
		return 0;
	{
		struct addrinfo hints = { .ai_family = AF_INET }, *res;

		if (getaddrinfo(host, NULL, &hints, &res))
			return -EINVAL;
		sa->sin_addr = ((struct sockaddr_in *)res->ai_addr)->sin_addr;
		freeaddrinfo(res);
	}
	return 0;
}

static void free_options(struct net_options *o)
{
	unsigned i;

	for (i = 0; i < o->nopts; i++)
		free(o->keys[i]);
	free(o->type);
}

static void free_buffers(struct net_backend *nb)
{
	free(nb->tx_frame);
	free(nb->tx_seg);
	free(nb->rx_frame);
	free(nb->rx_seg);
}

static int parse_spec(const char *spec, struct net_options *o)
{
	char *copy = strdup(spec), *save = NULL, *tok;

	memset(o, 0, sizeof(*o));
	if (!copy)
		return -ENOMEM;
	tok = strtok_r(copy, ",", &save);
	o->type = strdup(tok ? tok : "");
	while ((tok = strtok_r(NULL, ",", &save))) {
		char *eq = strchr(tok, '=');

		if (!eq || o->nopts == 16) {
			log_error("--net %s: '%s' is not key=value", spec, tok);
			free(copy);
			return -EINVAL;
		}
		o->keys[o->nopts] = strdup(tok);
		o->keys[o->nopts][eq - tok] = 0;
		o->values[o->nopts] = o->keys[o->nopts] + (eq - tok) + 1;
		o->nopts++;
	}
	free(copy);
	return 0;
}

int net_backend_create(struct vm *vm, const char *spec, unsigned index,
		       struct net_backend **out)
{
	struct net_options o;
	struct net_backend *nb;
	const char *mac, *model;
	unsigned i;
	int ret;

	ret = parse_spec(spec, &o);
	if (ret) {
		free_options(&o);
		return ret;
	}
	nb = calloc(1, sizeof(*nb));
	if (!nb) {
		free_options(&o);
		return -ENOMEM;
	}
	nb->vm = vm;
	nb->index = index;
	nb->tx_frame = malloc(NET_MAX_FRAME);
	nb->tx_seg = malloc(NET_MAX_FRAME);
	nb->rx_frame = malloc(NET_MAX_FRAME);
	nb->rx_seg = malloc(NET_MAX_FRAME);
	if (!nb->tx_frame || !nb->tx_seg || !nb->rx_frame || !nb->rx_seg) {
		ret = -ENOMEM;
		goto out;
	}
	/* Default MAC: the locally administered 52:54:00 prefix QEMU uses
	 * too, so guests' expectations carry over; unique per NIC. */
	memcpy(nb->mac, (uint8_t[]){ 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 + index }, 6);
	model = net_option(&o, "model");
	if (model && !strcmp(model, "e1000")) {
		nb->model = NET_MODEL_E1000;
	} else if (model && strcmp(model, "virtio") && strcmp(model, "virtio-net-pci")) {
		log_error("--net %s: model '%s': choose virtio (default) or e1000",
			  spec, model);
		ret = -EINVAL;
		goto out;
	}
	mac = net_option(&o, "mac");
	if (mac && parse_mac(mac, nb->mac)) {
		log_error("--net %s: mac '%s': give six hex bytes like "
			  "52:54:00:12:34:56 (unicast)", spec, mac);
		ret = -EINVAL;
		goto out;
	}
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (!strcmp(o.type, types[i].name))
			break;
	if (i == sizeof(types) / sizeof(types[0])) {
		log_error("--net %s: unknown network type '%s' (known: user, tap, socket)",
			  spec, o.type);
		ret = -EINVAL;
		goto out;
	}
	ret = types[i].create(nb, &o);
	if (ret)
		goto out;
	for (i = 0; i < o.nopts; i++) {
		if (!o.used[i]) {
			log_error("--net %s: unknown option '%s' for type %s", spec,
				  o.keys[i], o.type);
			ret = -EINVAL;
		}
	}
out:
	free_options(&o);
	if (ret) {
		if (nb->ops)
			nb->ops->destroy(nb);
		free_buffers(nb);
		free(nb);
		return ret;
	}
	*out = nb;
	return 0;
}

static const char *frames(uint64_t n)
{
	return n == 1 ? "frame" : "frames";
}

/* Say what was lost: always when frames were dropped, else with -v. */
static void log_stats(const struct net_backend *nb)
{
	const struct net_stats *s = &nb->stats;
	bool lost = s->tx_dropped || s->rx_dropped;

	log_msg(lost ? LOG_NOTICE : LOG_INFO,
		"net%u (%s): %llu %s from the guest dropped (%llu sent), "
		"%llu %s to the guest dropped (%llu delivered)", nb->index,
		nb->ops->type, (unsigned long long)s->tx_dropped,
		frames(s->tx_dropped), (unsigned long long)s->tx_frames,
		(unsigned long long)s->rx_dropped, frames(s->rx_dropped),
		(unsigned long long)s->rx_frames);
}

void net_backend_destroy(struct net_backend *nb)
{
	if (!nb)
		return;
	nb->ops->destroy(nb);
	log_stats(nb);
	free_buffers(nb);
	free(nb);
}

static void count(uint64_t *counter)
{
	__atomic_add_fetch(counter, 1, __ATOMIC_RELAXED);
}

/* One frame with complete checksums to a back end without vnet headers. */
static int send_plain(void *opaque, const uint8_t *frame, size_t len)
{
	struct net_backend *nb = opaque;
	struct iovec iov = { (void *)frame, len };
	int ret = nb->ops->send(nb, NULL, &iov, 1, len);

	count(ret ? &nb->stats.tx_dropped : &nb->stats.tx_frames);
	return 0;  /* one lost segment does not stop the others */
}

static size_t gather(uint8_t *buf, const struct iovec *iov, int iovcnt)
{
	size_t off = 0;
	int i;

	for (i = 0; i < iovcnt; i++) {
		memcpy(buf + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	return off;
}

/* The offloads in hdr, done here for a back end that cannot take them. */
static int send_in_software(struct net_backend *nb, const struct net_hdr *hdr,
			    const struct iovec *iov, int iovcnt)
{
	size_t len = gather(nb->tx_frame, iov, iovcnt);
	int ret;

	if (hdr->gso_type != NET_GSO_NONE) {
		ret = net_segment(hdr, nb->tx_frame, len, nb->tx_seg, send_plain, nb);
		if (ret < 0)
			count(&nb->stats.tx_dropped);
		return ret < 0 ? ret : 0;
	}
	if (net_csum_finish(nb->tx_frame, len, hdr)) {
		count(&nb->stats.tx_dropped);
		return -EINVAL;
	}
	return send_plain(nb, nb->tx_frame, len);
}

static bool hdr_is_plain(const struct net_hdr *hdr)
{
	return !hdr || (hdr->gso_type == NET_GSO_NONE &&
			!(hdr->flags & NET_HDR_F_NEEDS_CSUM));
}

int net_send(struct net_backend *nb, const struct net_hdr *hdr,
	     const struct iovec *iov, int iovcnt)
{
	static const struct net_hdr none;
	size_t len = 0;
	int i, ret;

	for (i = 0; i < iovcnt; i++)
		len += iov[i].iov_len;
	if (len < NET_MIN_FRAME || len > NET_MAX_FRAME) {
		count(&nb->stats.tx_dropped);
		return -EINVAL;
	}
	if (!nb->vnet_hdr && !hdr_is_plain(hdr))
		return send_in_software(nb, hdr, iov, iovcnt);
	if (nb->vnet_hdr)
		ret = nb->ops->send(nb, hdr ? hdr : &none, iov, iovcnt, len);
	else
		ret = nb->ops->send(nb, NULL, iov, iovcnt, len);
	count(ret ? &nb->stats.tx_dropped : &nb->stats.tx_frames);
	return ret;
}

/* Does the front end take the offloads hdr carries? */
static bool front_end_takes(const struct net_backend *nb,
			    const struct net_hdr *hdr)
{
	unsigned off = __atomic_load_n(&nb->rx_offloads, __ATOMIC_RELAXED);
	unsigned need = 0;

	if (hdr->flags & NET_HDR_F_NEEDS_CSUM)
		need |= NET_OFF_CSUM;
	switch (hdr->gso_type & ~NET_GSO_ECN) {
	case NET_GSO_NONE:
		break;
	case NET_GSO_TCPV4:
		need |= NET_OFF_TSO4;
		break;
	case NET_GSO_TCPV6:
		need |= NET_OFF_TSO6;
		break;
	default:
		return false;
	}
	if (hdr->gso_type & NET_GSO_ECN)
		need |= NET_OFF_ECN;
	return (off & need) == need;
}

static enum net_rx deliver_one(struct net_backend *nb, const struct net_hdr *hdr,
			       const uint8_t *frame, size_t len)
{
	net_receive_fn receive = __atomic_load_n(&nb->receive, __ATOMIC_ACQUIRE);
	enum net_rx r = NET_RX_DROPPED;

	if (len >= NET_MIN_FRAME && len <= NET_MAX_FRAME && receive)
		r = receive(nb->receive_opaque, hdr, frame, len);
	if (r == NET_RX_OK)
		count(&nb->stats.rx_frames);
	else if (r == NET_RX_DROPPED)
		count(&nb->stats.rx_dropped);
	return r;
}

/* A segment cut for the front end: it cannot wait, so no room drops it. */
static int deliver_segment(void *opaque, const uint8_t *frame, size_t len)
{
	struct net_backend *nb = opaque;

	if (deliver_one(nb, NULL, frame, len) == NET_RX_NO_ROOM)
		count(&nb->stats.rx_dropped);
	return 0;
}

enum net_rx net_deliver(struct net_backend *nb, const struct net_hdr *hdr,
			const uint8_t *frame, size_t len)
{
	if (hdr_is_plain(hdr) || front_end_takes(nb, hdr))
		return deliver_one(nb, hdr, frame, len);
	if (len < NET_MIN_FRAME || len > NET_MAX_FRAME)
		goto drop;
	if (hdr->gso_type != NET_GSO_NONE) {
		if (net_segment(hdr, frame, len, nb->rx_seg, deliver_segment,
				nb) < 0)
			goto drop;
		return NET_RX_OK;
	}
	memcpy(nb->rx_frame, frame, len);
	if (net_csum_finish(nb->rx_frame, len, hdr))
		goto drop;
	return deliver_one(nb, NULL, nb->rx_frame, len);
drop:
	count(&nb->stats.rx_dropped);
	return NET_RX_DROPPED;
}

void net_count_rx_drop(struct net_backend *nb)
{
	count(&nb->stats.rx_dropped);
}

void net_count_tx_drop(struct net_backend *nb)
{
	count(&nb->stats.tx_dropped);
}

void net_rx_ready(struct net_backend *nb)
{
	if (nb->ops->rx_ready)
		nb->ops->rx_ready(nb);
}

void net_set_offloads(struct net_backend *nb, unsigned offloads)
{
	__atomic_store_n(&nb->rx_offloads, offloads, __ATOMIC_RELAXED);
	if (nb->ops->set_offloads)
		nb->ops->set_offloads(nb, offloads);
}
