/*
 * The browser console (--display web=ADDR:PORT): Debian's websockify
 * serves the noVNC client (package novnc) on ADDR:PORT and bridges its
 * WebSocket to wirt's VNC server, so one URL opens the VM's screen.
 *
 * websockify is a helper process started before the sandbox (wirt itself
 * then never opens the web files); it ends with wirt (PR_SET_PDEATHSIG,
 * and wirt's exit closes the VNC port it bridges to).
 */
#include "ui/vnc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/log.h"

#define WEBSOCKIFY "/usr/bin/websockify"
#define NOVNC_DIR  "/usr/share/novnc"

int web_console_start(const char *host, int port, const char *vnc_host,
		      int vnc_port)
{
	char listen[96], target[64], web[64];
	pid_t parent = getpid(), pid;

	if (access(WEBSOCKIFY, X_OK) || access(NOVNC_DIR "/vnc.html", R_OK)) {
		log_error("web console: needs %s and %s/vnc.html (Debian packages "
			  "websockify and novnc)", WEBSOCKIFY, NOVNC_DIR);
		return -ENOENT;
	}
	snprintf(listen, sizeof(listen), "%s:%d", host, port);
	snprintf(target, sizeof(target), "%s:%d", vnc_host, vnc_port);
	snprintf(web, sizeof(web), "--web=%s", NOVNC_DIR);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		/* Gone with wirt (SIGTERM would wait for its next client);
		 * quiet (it logs every connection). */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		if (null >= 0) {
			dup2(null, STDIN_FILENO);
			dup2(null, STDOUT_FILENO);
			dup2(null, STDERR_FILENO);
		}
		/* none of wirt's sockets, disks or devices */
		syscall(SYS_close_range, 3, ~0U, 0);
		execl(WEBSOCKIFY, "websockify", web, listen, target, (char *)NULL);
		_exit(127);
	}
	log_notice("browser console: http://%s:%d/vnc.html?autoconnect=true",
		   host, port);
	return 0;
}
