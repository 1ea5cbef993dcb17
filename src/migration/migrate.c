/*
 * Moving a machine's state through a URI, as QEMU's migrate and
 * -incoming do: "file:PATH" and "exec:COMMAND" (a shell command reading
 * the state from its standard input, or writing it to its standard
 * output for --incoming), and tcp:HOST:PORT for live migration
 * (precopy.c sends, --incoming receives here).  The last outgoing
 * migration's outcome and progress are kept for query-migrate.
 */
#include "migration/migration.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "block/block.h"
#include "migration/precopy.h"
#include "net/net.h"
#include "util/log.h"
#include "util/sandbox.h"
#include "vm/vm.h"

extern char **environ;

static pthread_mutex_t info_lock = PTHREAD_MUTEX_INITIALIZER;
static struct migrate_info info = { .status = "none" };
static struct migrate_params params = {
	MIGRATE_DEFAULT_DOWNTIME_MS, MIGRATE_DEFAULT_BANDWIDTH,
};

struct migrate_info *migrate_info_lock(void)
{
	pthread_mutex_lock(&info_lock);
	return &info;
}

void migrate_info_unlock(void)
{
	pthread_mutex_unlock(&info_lock);
}

void migrate_get_info(struct migrate_info *mi)
{
	pthread_mutex_lock(&info_lock);
	*mi = info;
	/* Still going: the time so far. */
	if (!strcmp(mi->status, "setup") || !strcmp(mi->status, "active") ||
	    !strcmp(mi->status, "device") || !strcmp(mi->status, "cancelling"))
		mi->total_time = migrate_now_ms() - mi->start_ms;
	pthread_mutex_unlock(&info_lock);
}

void migrate_get_params(struct migrate_params *p)
{
	pthread_mutex_lock(&info_lock);
	*p = params;
	pthread_mutex_unlock(&info_lock);
}

void migrate_set_params(const struct migrate_params *p)
{
	pthread_mutex_lock(&info_lock);
	params = *p;
	pthread_mutex_unlock(&info_lock);
}

uint64_t migrate_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

/* Run "sh -c cmd" with its stdin (to_child) or stdout on one end of a
 * pipe; returns our end, and the child's pid in *pid. */
static int spawn_shell(const char *cmd, bool to_child, pid_t *pid,
		       char *why, size_t why_len)
{
	char *const argv[] = { "sh", "-c", (char *)cmd, NULL };
	posix_spawn_file_actions_t fa;
	int p[2], ret;

	if (sandbox_active()) {
		snprintf(why, why_len, "exec: starts a program, which the sandbox forbids: use file:PATH, or start wirt with --sandbox off");
		return -EPERM;
	}
	if (pipe2(p, O_CLOEXEC) < 0) {
		snprintf(why, why_len, "cannot make a pipe: %s", strerror(errno));
		return -errno;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, to_child ? p[0] : p[1],
					 to_child ? STDIN_FILENO : STDOUT_FILENO);
	ret = posix_spawn(pid, "/bin/sh", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(to_child ? p[0] : p[1]);
	if (ret) {
		close(to_child ? p[1] : p[0]);
		snprintf(why, why_len, "cannot run the exec: command: %s", strerror(ret));
		return -ret;
	}
	return to_child ? p[1] : p[0];
}

/* A descriptor to write the state to, or negative errno with why. */
static int open_outgoing(const char *uri, pid_t *child, char *why, size_t why_len)
{
	int fd;

	*child = -1;
	if (!strncmp(uri, "file:", 5)) {
		fd = open(uri + 5, SANDBOX_DUMP_OPEN_FLAGS, 0600);
		if (fd < 0) {
			snprintf(why, why_len, "cannot create %s: %s%s", uri + 5, strerror(errno),
				 errno == EACCES ? " (or the sandbox forbids it)" : "");
			return -errno;
		}
		return fd;
	}
	if (!strncmp(uri, "exec:", 5))
		return spawn_shell(uri + 5, true, child, why, why_len);
	snprintf(why, why_len, "unsupported migration URI '%s': wirt takes file:PATH, exec:COMMAND and tcp:HOST:PORT",
		 uri);
	return -EINVAL;
}

/* 0 if the exec: command ended well (or there was none). */
static int wait_child(pid_t child, char *why, size_t why_len)
{
	int st;

	if (child < 0)
		return 0;
	while (waitpid(child, &st, 0) < 0)
		if (errno != EINTR)
			return 0;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	snprintf(why, why_len, "the exec: command failed (%s %d)",
		 WIFEXITED(st) ? "exit status" : "signal",
		 WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	return -EIO;
}

/* The end of a file: or exec: save, for query-migrate. */
static void record(int ret, uint64_t start, uint64_t bytes, const char *why)
{
	struct migrate_info *mi = migrate_info_lock();

	memset(mi, 0, sizeof(*mi));
	mi->total_time = migrate_now_ms() - start;
	mi->transferred = bytes;
	mi->status = ret ? "failed" : "completed";
	snprintf(mi->error, sizeof(mi->error), "%s", ret ? why : "");
	migrate_info_unlock();
}

int migrate_save_uri(struct vm *vm, const char *uri, char *why, size_t why_len)
{
	bool was_paused = vm_is_paused(vm);
	uint64_t start = migrate_now_ms(), bytes;
	struct stat sb;
	pid_t child;
	int fd, ret;

	if (!strncmp(uri, "tcp:", 4))
		return precopy_start(vm, uri + 4, why, why_len);
	fd = open_outgoing(uri, &child, why, why_len);
	if (fd < 0) {
		ret = fd;
		goto out;
	}
	ret = vm_pause(vm);
	if (ret)
		snprintf(why, why_len, "the vCPUs did not stop in time");
	else
		ret = vm_state_save(vm, fd, why, why_len);
	if (!ret && !fstat(fd, &sb) && S_ISREG(sb.st_mode) && fsync(fd) < 0) {
		snprintf(why, why_len, "cannot write the state: %s", strerror(errno));
		ret = -errno;
	}
	bytes = !ret && !fstat(fd, &sb) && S_ISREG(sb.st_mode) ? (uint64_t)sb.st_size : 0;
	close(fd);
	if (wait_child(child, ret ? NULL : why, ret ? 0 : why_len) && !ret)
		ret = -EIO;
	/* A failed save leaves the machine as it was. */
	if (ret && !was_paused)
		vm_resume(vm);
	record(ret, start, bytes, why);
	if (!ret)
		log_info("machine state saved to %s in %llu ms", uri,
			 (unsigned long long)(migrate_now_ms() - start));
	return ret;
out:
	record(ret, start, 0, why);
	log_warn("migration to %s failed: %s", uri, why);
	return ret;
}

/* Wait at addr ("HOST:PORT") for the one sender of a live migration. */
static int accept_tcp(const char *addr, char *why, size_t why_len)
{
	struct sockaddr_in sa;
	int lfd, fd, one = 1;

	if (net_parse_inet(addr, &sa, false) < 0) {
		snprintf(why, why_len, "'tcp:%s': give tcp:HOST:PORT with an IPv4 address or host name and a port",
			 addr);
		return -EINVAL;
	}
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0) {
		snprintf(why, why_len, "cannot make a socket: %s", strerror(errno));
		return -errno;
	}
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 1) < 0) {
		snprintf(why, why_len, "cannot listen on %s: %s", addr, strerror(errno));
		close(lfd);
		return -errno;
	}
	log_notice("waiting for the incoming migration on %s", addr);
	do
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		snprintf(why, why_len, "cannot accept the migration on %s: %s", addr,
			 strerror(errno));
	close(lfd);
	return fd < 0 ? -errno : fd;
}

static int open_incoming(const char *uri, char *why, size_t why_len)
{
	pid_t child;
	int fd;

	if (!strncmp(uri, "file:", 5)) {
		fd = open(uri + 5, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			snprintf(why, why_len, "cannot open %s: %s", uri + 5, strerror(errno));
			return -errno;
		}
		return fd;
	}
	if (!strncmp(uri, "exec:", 5))
		return spawn_shell(uri + 5, false, &child, why, why_len);
	if (!strncmp(uri, "tcp:", 4))
		return accept_tcp(uri + 4, why, why_len);
	snprintf(why, why_len, "unsupported incoming URI '%s': wirt takes file:PATH, exec:COMMAND and tcp:HOST:PORT",
		 uri);
	return -EINVAL;
}

/* The sender of a live migration gave its disk images and forwarded
 * host ports up at the switch-over: take them, then say so (or that the
 * machine failed). */
static int take_over(struct vm *vm, int fd, int ret, char *why, size_t why_len)
{
	unsigned i;
	char ack;

	for (i = 0; i < vm->ndisks && !ret; i++) {
		ret = block_activate(vm->disks[i]);
		if (ret)
			snprintf(why, why_len, "cannot take the disk image over (see above)");
	}
	if (!ret && net_host_ports(vm, true) < 0) {
		snprintf(why, why_len, "cannot take the forwarded host ports over (see above)");
		ret = -EADDRINUSE;
	}
	/* the reason goes to the log before the sender hears of it (and
	 * its user, or a test, may stop this process at once) */
	if (ret) {
		log_error("migration: refusing the machine: %s", why);
		snprintf(why, why_len, "the machine was refused (see above)");
	}
	ack = ret ? 'N' : MIGRATE_ACK_OK;
	if (send(fd, &ack, 1, MSG_NOSIGNAL) != 1 && !ret) {
		snprintf(why, why_len, "the sender went away at the switch-over: %s",
			 strerror(errno));
		ret = -EPIPE;
	}
	return ret;
}

int migrate_incoming(struct vm *vm, const char *uri, char *why, size_t why_len)
{
	bool live = !strncmp(uri, "tcp:", 4);
	int fd, ret;

	fd = open_incoming(uri, why, why_len);
	if (fd < 0)
		return fd;
	ret = vm_state_load(vm, fd, why, why_len);
	if (live)
		ret = take_over(vm, fd, ret, why, why_len);
	close(fd);
	return ret;
}
