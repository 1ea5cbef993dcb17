/*
 * `wirt run --daemonize`: detach from the terminal once the VM is built.
 * The parent waits until the child says the VM runs (exit 0) or the child
 * fails (its exit status), so errors still reach the user.
 */
#ifndef WIRT_CLI_DAEMONIZE_H
#define WIRT_CLI_DAEMONIZE_H

/* Before any thread or lock exists: fork; only the child returns (0),
 * with stdin and stdout on /dev/null and a new session. -1 on errors. */
int daemonize_start(void);

/* The child built the VM: stderr goes to log_path (appended), the parent
 * exits 0.  Before the sandbox (it opens the log). */
void daemonize_ready(const char *log_path);

#endif
