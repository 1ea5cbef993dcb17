/* Graceful shutdown on SIGTERM/SIGINT (shutdown_signals.h). */
#include "control/shutdown_signals.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "util/event_loop.h"
#include "util/log.h"
#include "vm/vm.h"

static struct {
	struct vm *vm;
	int sig_fd, timer_fd;
	unsigned grace;
	int first_signal;
} sd = { .sig_fd = -1, .timer_fd = -1 };

static void signals_set(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
}

int shutdown_signals_block(void)
{
	sigset_t set;

	signals_set(&set);
	return -pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static const char *sig_name(int sig)
{
	return sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "SIGINT" : "signal";
}

static void force_quit(int sig)
{
	vm_request_stop_host(sd.vm, VM_STOP_EXIT, 128 + sig, "host-signal");
}

static void on_timer(void *opaque, uint32_t events)
{
	uint64_t n;

	if (read(sd.timer_fd, &n, sizeof(n)) != sizeof(n))
		return;
	log_warn("the guest did not power off within %u s of %s; stopping it",
		 sd.grace, sig_name(sd.first_signal));
	force_quit(sd.first_signal);
}

static void on_signal(void *opaque, uint32_t events)
{
	struct signalfd_siginfo si;
	struct itimerspec its = { .it_value.tv_sec = sd.grace };

	if (read(sd.sig_fd, &si, sizeof(si)) != sizeof(si))
		return;
	if (sd.first_signal || !sd.grace || vm_is_paused(sd.vm) ||
	    vm_power_button(sd.vm) < 0) {
		log_notice("%s: stopping the guest", sig_name(si.ssi_signo));
		force_quit(sd.first_signal ? sd.first_signal : (int)si.ssi_signo);
		return;
	}
	sd.first_signal = si.ssi_signo;
	log_notice("%s: asking the guest to power off (ACPI power button); "
		   "stopping it in %u s or at the next signal",
		   sig_name(si.ssi_signo), sd.grace);
	timerfd_settime(sd.timer_fd, 0, &its, NULL);
}

int shutdown_signals_watch(struct vm *vm, unsigned grace_seconds)
{
	sigset_t set;
	int ret;

	signals_set(&set);
	sd.vm = vm;
	sd.grace = grace_seconds;
	sd.sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	sd.timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (sd.sig_fd < 0 || sd.timer_fd < 0)
		return -errno;
	ret = event_loop_add_fd(vm->loop, sd.sig_fd, EPOLLIN, on_signal, NULL);
	if (!ret)
		ret = event_loop_add_fd(vm->loop, sd.timer_fd, EPOLLIN, on_timer, NULL);
	return ret;
}
