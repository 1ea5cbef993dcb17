/*
 * The sending side of live migration (precopy.h): on a thread of its
 * own, connect, send RAM while the guest runs, round after round of the
 * pages it wrote meanwhile, until what is left would go in the downtime
 * limit; then stop the machine, send the rest and the device state, give
 * the disk images up and wait for the receiver's word.  Anything going
 * wrong before that word leaves the machine running here as it was.
 */
#include "migration/precopy.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "block/block.h"
#include "migration/migration.h"
#include "migration/vmstate.h"
#include "net/net.h"
#include "util/log.h"
#include "vm/vm.h"

#define PAGE 4096ULL
/* How long the receiver may take to load the state and answer. */
#define ACK_TIMEOUT_MS 60000
#define CONNECT_TIMEOUT_S 30
/* Bandwidth is metered in windows of this length. */
#define WINDOW_MS 100

static struct precopy {
	pthread_mutex_t lock;		/* the fields up to thread_live */
	pthread_t thread;
	bool thread_live;
	int fd;				/* -1 while connecting */
	bool cancel;
	struct vm *vm;
	char addr[128];
	/* The thread's own: */
	uint64_t sent;			/* bytes so far */
	bool throttle;			/* metering (not in the last copy) */
	uint64_t bandwidth;		/* bytes/s allowed, 0 unlimited */
	uint64_t window_start, window_bytes;
} pc = { .lock = PTHREAD_MUTEX_INITIALIZER, .fd = -1 };

static bool cancelled(void)
{
	return __atomic_load_n(&pc.cancel, __ATOMIC_ACQUIRE);
}

static void sleep_ms(uint64_t ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Keep to the bandwidth: at most bandwidth/10 bytes per 100 ms window. */
static void meter(size_t n)
{
	uint64_t now = migrate_now_ms(), budget = pc.bandwidth * WINDOW_MS / 1000;

	if (!pc.throttle || !pc.bandwidth)
		return;
	if (now - pc.window_start >= WINDOW_MS) {
		pc.window_start = now;
		pc.window_bytes = 0;
	}
	if (pc.window_bytes && pc.window_bytes + n > budget) {
		sleep_ms(pc.window_start + WINDOW_MS - now);
		pc.window_start = migrate_now_ms();
		pc.window_bytes = 0;
	}
	pc.window_bytes += n;
}

static void count_sent(uint64_t n)
{
	struct migrate_info *mi = migrate_info_lock();

	pc.sent += n;
	mi->transferred = pc.sent;
	migrate_info_unlock();
}

/* The stream's writer: send all of it, unless cancelled. */
static int sock_write(void *opaque, void *p, size_t n)
{
	const uint8_t *b = p;

	while (n) {
		size_t chunk = n < 65536 ? n : 65536;
		ssize_t r;

		if (cancelled())
			return -ECANCELED;
		meter(chunk);
		r = send(pc.fd, b, chunk, MSG_NOSIGNAL);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		b += r;
		n -= r;
		count_sent(r);
	}
	return 0;
}

static void set_status(const char *status)
{
	migrate_info_lock()->status = status;
	migrate_info_unlock();
}

static void set_error(char *why, size_t why_len, int err, const char *what)
{
	if (!why[0])
		snprintf(why, why_len, "%s: %s", what, strerror(-err));
}

static int connect_receiver(char *why, size_t why_len)
{
	struct timeval tv = { CONNECT_TIMEOUT_S, 0 };
	struct sockaddr_in sa;
	int fd, one = 1;

	if (net_parse_inet(pc.addr, &sa, true) < 0) {
		snprintf(why, why_len, "'tcp:%s': give tcp:HOST:PORT with an IPv4 address (a host name needs /etc/hosts, which the sandbox closes)",
			 pc.addr);
		return -EINVAL;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(why, why_len, "cannot make a socket: %s", strerror(errno));
		return -errno;
	}
	/* A receiver that does not answer: give up after a while. */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	pthread_mutex_lock(&pc.lock);
	pc.fd = fd;
	pthread_mutex_unlock(&pc.lock);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		snprintf(why, why_len, "cannot connect to %s: %s", pc.addr, strerror(errno));
		return -errno;
	}
	tv.tv_sec = 0;
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return 0;
}

/* The receiver's one byte once it has loaded everything. */
static int wait_ack(char *why, size_t why_len)
{
	struct pollfd p = { .fd = pc.fd, .events = POLLIN };
	char ack = 0;
	int r;

	do
		r = poll(&p, 1, ACK_TIMEOUT_MS);
	while (r < 0 && errno == EINTR);
	if (cancelled())
		return -ECANCELED;
	if (r == 0) {
		snprintf(why, why_len, "the receiver did not confirm within %d s",
			 ACK_TIMEOUT_MS / 1000);
		return -ETIMEDOUT;
	}
	r = recv(pc.fd, &ack, 1, 0);
	if (r == 1 && ack == MIGRATE_ACK_OK)
		return 0;
	snprintf(why, why_len, "%s", r == 1 ? "the receiver could not load the machine (see its log)"
					    : "the receiver went away before it confirmed");
	return -EPIPE;
}

struct rounds {
	uint64_t *dirty;		/* pages written since the last fetch */
	uint64_t words;
	uint64_t dirty_count;
	uint64_t bytes_per_s;		/* measured in the last round */
	struct ram_pages_stats st;
};

static uint64_t count_bits(const uint64_t *b, uint64_t words)
{
	uint64_t n = 0;

	for (uint64_t i = 0; i < words; i++)
		n += __builtin_popcountll(b[i]);
	return n;
}

static void report_round(struct rounds *r, uint64_t round_ms, uint64_t pages_sent_bytes)
{
	struct migrate_info *mi = migrate_info_lock();

	mi->dirty_sync_count++;
	mi->remaining = r->dirty_count * PAGE;
	mi->normal_pages = r->st.data_pages;
	mi->duplicate_pages = r->st.zero_pages;
	if (round_ms) {
		mi->dirty_pages_rate = r->dirty_count * 1000 / round_ms;
		mi->mbps = (double)pages_sent_bytes * 8 / 1000 / round_ms;
	}
	mi->expected_downtime = r->bytes_per_s ? mi->remaining * 1000 / r->bytes_per_s : 0;
	migrate_info_unlock();
}

/*
 * Pre-copy: the first round sends every page holding data, each later
 * one the pages written during the one before, until the rest fits the
 * downtime limit at the bandwidth measured.  0, or negative errno.
 */
static int send_rounds(struct vm *vm, struct vmstate_out *o, struct rounds *r,
		       char *why, size_t why_len)
{
	struct migrate_params par;
	int ret;

	/* Everything counts as written from here: the first fetch arms
	 * the log, the first round sends what holds data. */
	ret = ram_dirty_start(vm);
	if (!ret)
		ret = ram_dirty_fetch(vm, r->dirty);
	if (ret) {
		snprintf(why, why_len, "cannot track the pages the guest writes under --accel %s: %s",
			 vm->accel->name, strerror(-ret));
		return ret;
	}
	set_status("active");
	for (bool first = true;; first = false) {
		uint64_t t0 = migrate_now_ms(), before = pc.sent, ms, limit;

		migrate_get_params(&par);
		pc.bandwidth = par.max_bandwidth;
		ret = ram_pages_save(vm, o, first ? NULL : r->dirty, &r->st);
		if (ret)
			return ret;
		ms = migrate_now_ms() - t0;
		/* The link's speed without our metering, roughly: what went
		 * out in the time it took (a short round says little). */
		if (ms >= 10 || pc.sent - before > (1u << 20))
			r->bytes_per_s = (pc.sent - before) * 1000 / (ms ? ms : 1);
		memset(r->dirty, 0, r->words * 8);
		ret = ram_dirty_fetch(vm, r->dirty);
		if (ret)
			return ret;
		r->dirty_count = count_bits(r->dirty, r->words);
		report_round(r, ms, pc.sent - before);
		limit = par.downtime_limit_ms * r->bytes_per_s / 1000;
		if (r->dirty_count * PAGE <= limit || !r->dirty_count)
			return 0;
		if (cancelled())
			return -ECANCELED;
	}
}

/* Stop the machine, send what is left and the devices, hand the disks
 * over.  *stopped tells whether this stopped the machine. */
static int stop_and_copy(struct vm *vm, struct vmstate_out *o, struct rounds *r,
			 bool *stopped, unsigned *released, bool *ports_released,
			 char *why, size_t why_len)
{
	uint64_t t0 = migrate_now_ms();
	int ret;

	*stopped = !vm_is_paused(vm);
	set_status("device");
	ret = vm_pause(vm);
	if (ret) {
		snprintf(why, why_len, "the vCPUs did not stop in time");
		return ret;
	}
	pc.throttle = false;
	ret = ram_dirty_fetch(vm, r->dirty);
	if (!ret)
		ret = ram_pages_save(vm, o, r->dirty, &r->st);
	if (!ret)
		ret = vm_state_save_cpus(vm, o, why, why_len);
	if (ret)
		return ret;
	vm_state_save_devices(vm, o);
	/* The receiver takes the images and the forwarded host ports once
	 * this side has let go. */
	for (*released = 0; *released < vm->ndisks; (*released)++) {
		ret = block_inactivate(vm->disks[*released]);
		if (ret) {
			snprintf(why, why_len, "cannot hand the disk images over (see above)");
			return ret;
		}
	}
	*ports_released = true;
	net_host_ports(vm, false);
	ret = vmstate_out_finish(o);
	if (!ret)
		ret = wait_ack(why, why_len);
	migrate_info_lock()->downtime = migrate_now_ms() - t0;
	migrate_info_unlock();
	return ret;
}

static void *precopy_thread(void *arg)
{
	struct vm *vm = arg;
	struct rounds r = { .words = (ram_dirty_pages(vm) + 63) / 64 };
	struct vmstate_out o;
	unsigned released = 0, i;
	bool stopped = false, out_open = false, ports_released = false;
	char why[256] = "";
	uint64_t downtime;
	int ret;

	r.dirty = calloc(r.words, 8);
	ret = r.dirty ? vm_state_check_savable(vm, why, sizeof(why)) : -ENOMEM;
	if (!ret)
		ret = connect_receiver(why, sizeof(why));
	if (!ret) {
		struct migrate_info *mi = migrate_info_lock();

		mi->setup_time = migrate_now_ms() - mi->start_ms;
		migrate_info_unlock();
		pc.throttle = true;
		pc.window_start = migrate_now_ms();
		vmstate_out_init_fn(&o, sock_write, NULL);
		out_open = true;
		vm_state_save_machine(vm, &o);
		ret = o.error ? o.error : send_rounds(vm, &o, &r, why, sizeof(why));
		if (!ret)
			ret = stop_and_copy(vm, &o, &r, &stopped, &released,
					    &ports_released, why, sizeof(why));
		if (!ret && o.error)
			ret = o.error;
	}
	ram_dirty_stop(vm);
	if (ret) {
		if (ret == -ECANCELED || cancelled())
			snprintf(why, sizeof(why), "cancelled");
		set_error(why, sizeof(why), ret, "cannot send the machine");
		/* Everything back as it was: the disks, then the guest. */
		for (i = 0; i < released; i++)
			if (block_reactivate(vm->disks[i]) < 0)
				log_error("migration: the disk image '%s' could not be locked again",
					  block_filename(vm->disks[i]));
		if (ports_released && net_host_ports(vm, true) < 0)
			log_error("migration: the forwarded host ports could not be taken back (see above)");
		if (stopped)
			vm_resume(vm);
	}
	if (out_open)
		vmstate_out_free(&o);
	pthread_mutex_lock(&pc.lock);
	if (pc.fd >= 0)
		close(pc.fd);
	pc.fd = -1;
	pthread_mutex_unlock(&pc.lock);
	{
		struct migrate_info *mi = migrate_info_lock();

		downtime = mi->downtime;
		mi->total_time = migrate_now_ms() - mi->start_ms;
		mi->status = !ret ? "completed" : cancelled() ? "cancelled" : "failed";
		snprintf(mi->error, sizeof(mi->error), "%s", ret ? why : "");
		if (!ret)
			mi->remaining = 0;
		migrate_info_unlock();
	}
	if (ret && !cancelled())
		log_warn("migration to tcp:%s failed: %s; the machine runs on here", pc.addr, why);
	else if (ret)
		log_info("migration to tcp:%s cancelled; the machine runs on here", pc.addr);
	else
		log_info("machine moved to tcp:%s (downtime %llu ms)", pc.addr,
			 (unsigned long long)downtime);
	free(r.dirty);
	return NULL;
}

int precopy_start(struct vm *vm, const char *addr, char *why, size_t why_len)
{
	struct migrate_info *mi;
	int ret;

	pthread_mutex_lock(&pc.lock);
	if (pc.thread_live) {
		mi = migrate_info_lock();
		ret = strcmp(mi->status, "completed") && strcmp(mi->status, "failed") &&
		      strcmp(mi->status, "cancelled");
		migrate_info_unlock();
		if (ret) {
			pthread_mutex_unlock(&pc.lock);
			snprintf(why, why_len, "a migration is already in progress");
			return -EBUSY;
		}
		pthread_join(pc.thread, NULL);
		pc.thread_live = false;
	}
	snprintf(pc.addr, sizeof(pc.addr), "%s", addr);
	pc.vm = vm;
	pc.cancel = false;
	pc.sent = 0;
	mi = migrate_info_lock();
	memset(mi, 0, sizeof(*mi));
	mi->status = "setup";
	mi->live = true;
	mi->start_ms = migrate_now_ms();
	mi->total = vm->mem.ram_size;
	migrate_info_unlock();
	ret = pthread_create(&pc.thread, NULL, precopy_thread, vm);
	if (ret) {
		pthread_mutex_unlock(&pc.lock);
		snprintf(why, why_len, "cannot start the migration thread: %s", strerror(ret));
		set_status("failed");
		return -ret;
	}
	pc.thread_live = true;
	pthread_mutex_unlock(&pc.lock);
	return 0;
}

int precopy_cancel(void)
{
	struct migrate_info *mi;
	bool running;

	pthread_mutex_lock(&pc.lock);
	mi = migrate_info_lock();
	running = pc.thread_live && (!strcmp(mi->status, "setup") ||
				     !strcmp(mi->status, "active") ||
				     !strcmp(mi->status, "device"));
	if (running)
		mi->status = "cancelling";
	migrate_info_unlock();
	if (running) {
		__atomic_store_n(&pc.cancel, true, __ATOMIC_RELEASE);
		/* Wakes a send on a full socket and the wait for the word. */
		if (pc.fd >= 0)
			shutdown(pc.fd, SHUT_RDWR);
	}
	pthread_mutex_unlock(&pc.lock);
	return running ? 0 : -ENOENT;
}

void precopy_end(void)
{
	precopy_cancel();
	pthread_mutex_lock(&pc.lock);
	if (pc.thread_live) {
		pthread_mutex_unlock(&pc.lock);
		pthread_join(pc.thread, NULL);
		pthread_mutex_lock(&pc.lock);
		pc.thread_live = false;
	}
	pthread_mutex_unlock(&pc.lock);
}
