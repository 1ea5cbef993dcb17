/* The console: stdin/stdout <-> the guest's console device (see console.h). */
#include "ui/console.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <termios.h>
#include <unistd.h>

#include "control/hmp_console.h"
#include "hw/devices.h"
#include "util/event_loop.h"
#include "util/log.h"
#include "vm/vm.h"

#define ESCAPE_KEY 0x01 /* Ctrl-A */
#define INPUT_BUF 4096

static struct {
	struct vm *vm;
	console_receive_fn receive;
	void *receive_opaque;
	pthread_mutex_t lock;
	bool is_tty;
	bool termios_saved;
	struct termios saved;
	bool escape_pending;
	bool monitor;        /* C-a c: keys go to the human monitor */
	bool monitor_line;   /* a monitor command waits to run */
	bool stdin_paused;   /* EPOLLIN off while the guest is not reading */
	bool stdin_eof;
	int in_fd, out_fd;   /* --serial: stdin/stdout, a pty, a file, none */
	uint8_t buf[INPUT_BUF];
	size_t head, len;
} con = { .lock = PTHREAD_MUTEX_INITIALIZER, .in_fd = STDIN_FILENO,
	  .out_fd = STDOUT_FILENO };

static console_tap_fn output_tap;

void console_set_output_tap(console_tap_fn fn)
{
	__atomic_store_n(&output_tap, fn, __ATOMIC_RELEASE);
}

/*
 * Output is gathered into lines: a write() for each byte the guest sends
 * cost a boot a few percent of its time.  What has no newline yet (a
 * prompt) goes out from the event loop OUT_DELAY_NS later.
 */
#define OUT_BUF 4096
#define OUT_DELAY_NS 1000000
static struct {
	pthread_mutex_t lock;
	uint8_t buf[OUT_BUF];
	size_t len;
	int timer_fd;   /* -1: written at once (before console_attach) */
	bool armed;
} out = { .lock = PTHREAD_MUTEX_INITIALIZER, .timer_fd = -1 };

static void write_all(const uint8_t *p, size_t len)
{
	while (len && con.out_fd >= 0) {
		ssize_t n = write(con.out_fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* stdout gone, or a pty nobody reads: the output is
				 * lost, the VM goes on */
		p += n;
		len -= n;
	}
}

static void out_flush_locked(void)
{
	write_all(out.buf, out.len);
	out.len = 0;
}

void console_write(const void *buf, size_t len)
{
	console_tap_fn tap = __atomic_load_n(&output_tap, __ATOMIC_ACQUIRE);

	if (tap)
		tap(buf, len);
	if (out.timer_fd < 0) {
		write_all(buf, len);
		return;
	}
	pthread_mutex_lock(&out.lock);
	if (out.len + len > OUT_BUF) {
		out_flush_locked();
		if (len > OUT_BUF) {
			write_all(buf, len);
			pthread_mutex_unlock(&out.lock);
			return;
		}
	}
	memcpy(out.buf + out.len, buf, len);
	out.len += len;
	if (memchr(buf, '\n', len) || out.len >= OUT_BUF / 2) {
		out_flush_locked();
	} else if (!out.armed) {
		struct itimerspec due = { .it_value = { 0, OUT_DELAY_NS } };

		if (timerfd_settime(out.timer_fd, 0, &due, NULL) == 0)
			out.armed = true;
		else
			out_flush_locked();
	}
	pthread_mutex_unlock(&out.lock);
}

void console_flush_output(void)
{
	pthread_mutex_lock(&out.lock);
	out_flush_locked();
	pthread_mutex_unlock(&out.lock);
}

/* At exit another thread may still hold the lock, blocked in a write
 * nobody reads: then its output stays behind, not the exit. */
static void out_flush_at_exit(void)
{
	if (pthread_mutex_trylock(&out.lock))
		return;
	out_flush_locked();
	pthread_mutex_unlock(&out.lock);
}

static void out_on_timer(void *opaque, uint32_t events)
{
	uint64_t expirations;

	if (read(out.timer_fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		log_debug("console: output timer: %s", strerror(errno));
	pthread_mutex_lock(&out.lock);
	out.armed = false;
	out_flush_locked();
	pthread_mutex_unlock(&out.lock);
}

/* Buffered output from here on, flushed by the event loop's timer. */
static void out_start(struct vm *vm)
{
	int fd;

	if (out.timer_fd >= 0 || con.out_fd < 0)
		return;
	fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (fd < 0)
		return;
	if (event_loop_add_fd(vm->loop, fd, EPOLLIN, out_on_timer, NULL)) {
		close(fd);
		return;
	}
	atexit(out_flush_at_exit);
	out.timer_fd = fd;
}

void console_restore(void)
{
	if (con.termios_saved) {
		tcsetattr(STDIN_FILENO, TCSANOW, &con.saved);
		con.termios_saved = false;
	}
}

static void console_on_signal(int sig)
{
	console_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Is stdin our controlling terminal with another process group in front? */
static bool console_in_background(void)
{
	pid_t fg = tcgetpgrp(STDIN_FILENO);

	return fg >= 0 && fg != getpgrp();
}

static void console_raw_mode(void)
{
	struct termios t;

	if (tcgetattr(STDIN_FILENO, &con.saved) < 0)
		return;
	con.termios_saved = true;
	atexit(console_restore);
	signal(SIGTERM, console_on_signal);
	signal(SIGHUP, console_on_signal);
	signal(SIGINT, console_on_signal);
	signal(SIGQUIT, console_on_signal);
	t = con.saved;
	cfmakeraw(&t);
	t.c_oflag |= OPOST | ONLCR; /* our own messages end in \n */
	tcsetattr(STDIN_FILENO, TCSANOW, &t);
}

/* Push buffered input into the device; called with con.lock held. */
static void console_flush_input(void)
{
	while (con.len) {
		size_t chunk = con.len;
		size_t n;

		if (con.head + chunk > INPUT_BUF)
			chunk = INPUT_BUF - con.head;
		n = con.receive(con.receive_opaque, con.buf + con.head, chunk);
		con.head = (con.head + n) % INPUT_BUF;
		con.len -= n;
		if (n < chunk)
			break;
	}
	if (!con.len)
		con.head = 0;
}

static void console_queue(uint8_t b)
{
	if (con.len < INPUT_BUF)
		con.buf[(con.head + con.len++) % INPUT_BUF] = b;
}

static void console_help(void)
{
	static const char help[] =
		"\r\nC-a h    print this help\r\n"
		"C-a x    exit wirt\r\n"
		"C-a n    send an NMI (LINT1 of every CPU)\r\n"
		"C-a c    switch between the console and the monitor\r\n"
		"C-a C-a  send C-a to the guest\r\n";

	console_write(help, sizeof(help) - 1);
}

/* Terminal input: interpret the escape key, queue the rest. */
static void console_key(uint8_t b)
{
	if (!con.escape_pending) {
		if (b == ESCAPE_KEY)
			con.escape_pending = true;
		else if (con.monitor && !con.monitor_line)
			con.monitor_line = hmp_console_key(b);
		else
			console_queue(b);
		return;
	}
	con.escape_pending = false;
	switch (b) {
	case 'x':
	case 'X':
		console_write("\r\nwirt: terminated by C-a x\r\n", 29);
		vm_request_stop_host(con.vm, VM_STOP_EXIT, 0, "host-ui");
		break;
	case 'n':
	case 'N':
		if (con.vm->accel->nmi)
			con.vm->accel->nmi(con.vm);
		else
			log_warn("C-a n: no NMI button with this accelerator");
		break;
	case 'c':
	case 'C':
		con.monitor = !con.monitor;
		if (con.monitor)
			hmp_console_enter(con.vm, console_write);
		else
			console_write("\r\n", 2);
		break;
	case 'h':
	case 'H':
	case '?':
		console_help();
		break;
	case ESCAPE_KEY:
	case 'a':
		console_queue(ESCAPE_KEY);
		break;
	default:
		break;
	}
}

void console_inject(const uint8_t *buf, size_t len)
{
	size_t i;

	pthread_mutex_lock(&con.lock);
	if (con.receive) {
		for (i = 0; i < len; i++)
			console_queue(buf[i]);
		console_flush_input();
	}
	pthread_mutex_unlock(&con.lock);
}

static void console_on_input(void *opaque, uint32_t events)
{
	uint8_t tmp[512];
	size_t room;
	ssize_t n, i;

	pthread_mutex_lock(&con.lock);
	room = INPUT_BUF - con.len;
	if (room > sizeof(tmp))
		room = sizeof(tmp);
	n = room ? read(con.in_fd, tmp, room) : 0;
	if (n == 0 && room) {
		/* End of input (a script ended): the guest runs on. */
		con.stdin_eof = true;
		event_loop_remove_fd(con.vm->loop, con.in_fd);
	} else if (n < 0 && errno != EINTR && errno != EAGAIN) {
		con.stdin_eof = true;
		event_loop_remove_fd(con.vm->loop, con.in_fd);
	}
	for (i = 0; i < n; i++) {
		if (con.is_tty)
			console_key(tmp[i]);
		else
			console_queue(tmp[i]);
	}
	console_flush_input();
	/* Stop reading while the guest has not taken what we hold. */
	if (con.len == INPUT_BUF && !con.stdin_eof && !con.stdin_paused) {
		con.stdin_paused = true;
		event_loop_mod_fd(con.vm->loop, con.in_fd, 0);
	}
	pthread_mutex_unlock(&con.lock);
	/* Outside the lock: a vCPU taking input may need it to park. */
	if (con.monitor_line) {
		hmp_console_run();
		con.monitor_line = false;
	}
}

void console_rx_ready(void)
{
	pthread_mutex_lock(&con.lock);
	if (con.receive && con.len) {
		console_flush_input();
		if (con.stdin_paused && con.len < INPUT_BUF) {
			con.stdin_paused = false;
			event_loop_mod_fd(con.vm->loop, con.in_fd, EPOLLIN);
		}
	}
	pthread_mutex_unlock(&con.lock);
}

static void console_destroy(void *opaque)
{
	console_flush_output();
	console_restore();
}

static size_t receive_serial(void *opaque, const uint8_t *buf, size_t len)
{
	return serial_receive(opaque, buf, len);
}

int console_attach_serial(struct vm *vm, struct serial *s)
{
	return console_attach(vm, receive_serial, s);
}

/*
 * --serial pty: a pseudo-terminal in raw mode (the guest echoes), its
 * slave kept open by wirt so that the master neither hangs up between
 * users nor blocks: output nobody reads is dropped once the pty is full.
 */
static int console_open_pty(void)
{
	struct termios t;
	const char *name;
	int master, slave;

	master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0 ||
	    !(name = ptsname(master)))
		goto fail;
	slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0)
		goto fail;
	if (tcgetattr(slave, &t) == 0) {
		cfmakeraw(&t);
		tcsetattr(slave, TCSANOW, &t);
	}
	if (fcntl(master, F_SETFL, O_NONBLOCK) < 0)
		goto fail;
	log_notice("serial console on %s", name);
	con.in_fd = con.out_fd = master;
	return 0;
fail:
	slave = errno;
	log_error("--serial pty: %s", strerror(slave));
	if (master >= 0)
		close(master);
	return -slave;
}

/* Where --serial sends the console; 1 if it takes no input. */
static int console_open_backend(const struct vm_config *cfg)
{
	switch (cfg->serial) {
	case SERIAL_NONE:
	case SERIAL_UNIX:	/* the console socket (run_control.c) serves it */
		con.out_fd = -1;
		return 1;
	case SERIAL_FILE:
		con.out_fd = open(cfg->serial_path, O_WRONLY | O_CREAT | O_APPEND |
				  O_CLOEXEC, 0644);
		if (con.out_fd < 0) {
			int e = errno;

			log_error("--serial file:%s: %s", cfg->serial_path, strerror(e));
			return -e;
		}
		return 1;
	case SERIAL_PTY:
		return console_open_pty();
	case SERIAL_STDIO:
		break;
	}
	return 0;
}

int console_attach(struct vm *vm, console_receive_fn receive, void *opaque)
{
	int ret;

	con.vm = vm;
	con.receive = receive;
	con.receive_opaque = opaque;
	vm_add_device(vm, &(struct device_hooks){ .destroy = console_destroy });
	ret = console_open_backend(vm->config);
	out_start(vm);
	if (ret) {
		con.stdin_eof = true;	/* none, file: no input; or an error */
		return ret < 0 ? ret : 0;
	}
	con.is_tty = con.in_fd == STDIN_FILENO && isatty(STDIN_FILENO);
	if (con.is_tty && console_in_background()) {
		/* Raw mode or a read would stop wirt (SIGTTOU, SIGTTIN). */
		log_notice("console: started in the background; no console input "
			   "(the guest's output still shows)");
		con.stdin_eof = true;
		return 0;
	}
	if (con.is_tty)
		console_raw_mode();
	ret = event_loop_add_fd(vm->loop, con.in_fd, EPOLLIN,
				console_on_input, NULL);
	if (ret == -EPERM) {
		/* stdin is a regular file or /dev/null: epoll cannot watch it. */
		con.stdin_eof = true;
		log_debug("console: stdin cannot be polled; no console input");
		return 0;
	}
	if (ret)
		log_error("console: cannot watch stdin: %s", strerror(-ret));
	return ret;
}
