/* The generic network layer: --net parsing, back-end creation, counters. */
#include "net/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	const char *mac;
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
	/* Default MAC: the locally administered 52:54:00 prefix QEMU uses
	 * too, so guests' expectations carry over; unique per NIC. */
	memcpy(nb->mac, (uint8_t[]){ 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 + index }, 6);
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
		free(nb);
		return ret;
	}
	*out = nb;
	return 0;
}

void net_backend_destroy(struct net_backend *nb)
{
	if (!nb)
		return;
	nb->ops->destroy(nb);
	free(nb);
}

int net_send(struct net_backend *nb, const struct iovec *iov, int iovcnt)
{
	size_t len = 0;
	int i, ret;

	for (i = 0; i < iovcnt; i++)
		len += iov[i].iov_len;
	if (len < NET_MIN_FRAME || len > NET_MAX_FRAME) {
		__atomic_add_fetch(&nb->stats.tx_dropped, 1, __ATOMIC_RELAXED);
		return -EINVAL;
	}
	ret = nb->ops->send(nb, iov, iovcnt, len);
	__atomic_add_fetch(ret ? &nb->stats.tx_dropped : &nb->stats.tx_frames, 1,
			   __ATOMIC_RELAXED);
	return ret;
}

enum net_rx net_deliver(struct net_backend *nb, const uint8_t *frame,
			size_t len)
{
	net_receive_fn receive = __atomic_load_n(&nb->receive, __ATOMIC_ACQUIRE);
	enum net_rx r = NET_RX_DROPPED;

	if (len >= NET_MIN_FRAME && len <= NET_MAX_FRAME && receive)
		r = receive(nb->receive_opaque, frame, len);
	if (r == NET_RX_OK)
		__atomic_add_fetch(&nb->stats.rx_frames, 1, __ATOMIC_RELAXED);
	else if (r == NET_RX_DROPPED)
		net_count_rx_drop(nb);
	return r;
}

void net_count_rx_drop(struct net_backend *nb)
{
	__atomic_add_fetch(&nb->stats.rx_dropped, 1, __ATOMIC_RELAXED);
}

void net_rx_ready(struct net_backend *nb)
{
	if (nb->ops->rx_ready)
		nb->ops->rx_ready(nb);
}
