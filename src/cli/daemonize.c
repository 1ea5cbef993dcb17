/* `wirt run --daemonize` (daemonize.h). */
#include "cli/daemonize.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/log.h"

static int ready_fd = -1;

int daemonize_start(void)
{
	int p[2], null_fd, status;
	pid_t pid;
	char c;

	if (pipe2(p, O_CLOEXEC) < 0) {
		log_error("--daemonize: %s", strerror(errno));
		return -1;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		log_error("--daemonize: fork: %s", strerror(errno));
		return -1;
	}
	if (pid > 0) {
		/* The parent: the child's word, or its exit status. */
		close(p[1]);
		if (read(p[0], &c, 1) == 1)
			exit(0);
		if (waitpid(pid, &status, 0) == pid && WIFEXITED(status))
			exit(WEXITSTATUS(status) ? WEXITSTATUS(status) : 1);
		exit(1);
	}
	close(p[0]);
	ready_fd = p[1];
	setsid();
	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null_fd < 0 || dup2(null_fd, STDIN_FILENO) < 0 ||
	    dup2(null_fd, STDOUT_FILENO) < 0) {
		log_error("--daemonize: /dev/null: %s", strerror(errno));
		return -1;
	}
	close(null_fd);
	return 0;
}

void daemonize_ready(const char *log_path)
{
	int fd;

	if (ready_fd < 0)
		return;
	fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		log_warn("--daemonize: cannot open the log %s: %s; no log", log_path,
			 strerror(errno));
	fflush(stderr);
	if (dup2(fd >= 0 ? fd : open("/dev/null", O_WRONLY), STDERR_FILENO) < 0)
		log_warn("--daemonize: cannot move the log: %s", strerror(errno));
	if (fd >= 0)
		close(fd);
	if (write(ready_fd, "R", 1) != 1)
		log_warn("--daemonize: the parent is gone");
	close(ready_fd);
	ready_fd = -1;
}
