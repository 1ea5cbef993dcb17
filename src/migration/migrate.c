/*
 * Moving a machine's state through a URI, as QEMU's migrate and
 * -incoming do: "file:PATH" and "exec:COMMAND" (a shell command reading
 * the state from its standard input, or writing it to its standard
 * output for --incoming).  The last outgoing migration's outcome is kept
 * for query-migrate.
 */
#include "migration/migration.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"
#include "util/sandbox.h"
#include "vm/vm.h"

extern char **environ;

static struct {
	const char *status;
	uint64_t bytes, ms;
	char error[256];
} last = { "none", 0, 0, "" };

const char *migrate_status(void) { return last.status; }
uint64_t migrate_total_bytes(void) { return last.bytes; }
uint64_t migrate_total_time_ms(void) { return last.ms; }
const char *migrate_error(void) { return last.error; }

static uint64_t now_ms(void)
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
	snprintf(why, why_len, "unsupported migration URI '%s': wirt takes file:PATH and exec:COMMAND",
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

int migrate_save_uri(struct vm *vm, const char *uri, char *why, size_t why_len)
{
	bool was_paused = vm_is_paused(vm);
	uint64_t start = now_ms();
	struct stat sb;
	pid_t child;
	int fd, ret;

	last.status = "active";
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
	last.bytes = !ret && !fstat(fd, &sb) && S_ISREG(sb.st_mode) ? (uint64_t)sb.st_size : 0;
	close(fd);
	if (wait_child(child, ret ? NULL : why, ret ? 0 : why_len) && !ret)
		ret = -EIO;
	/* A failed save leaves the machine as it was. */
	if (ret && !was_paused)
		vm_resume(vm);
out:
	last.ms = now_ms() - start;
	last.status = ret ? "failed" : "completed";
	snprintf(last.error, sizeof(last.error), "%s", ret ? why : "");
	if (ret)
		log_warn("migration to %s failed: %s", uri, why);
	else
		log_info("machine state saved to %s in %llu ms", uri,
			 (unsigned long long)last.ms);
	return ret;
}

int migrate_open_incoming(const char *uri, char *why, size_t why_len)
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
	snprintf(why, why_len, "unsupported incoming URI '%s': wirt takes file:PATH and exec:COMMAND",
		 uri);
	return -EINVAL;
}
