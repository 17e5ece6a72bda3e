// SPDX-License-Identifier: GPL-2.0
/*
 * The pKVM driver: /init of the initramfs that tools/linux builds. It mounts
 * what it needs, then exercises pKVM through /dev/kvm from one worker thread
 * per host CPU, each pinned to its CPU and seeded from the kernel command
 * line (pkvm_driver.seed=S, pkvm_driver.rounds=R), and powers the machine
 * off. linux/README.md "The driver" lists what a round does.
 *
 * It asks only what a well-behaved VMM may ask, plus error paths the kernel
 * must refuse cleanly (bad ioctls, double init, teardown while running):
 * the seed chooses among them, so a run is varied but never kills the
 * machine on purpose. Every KVM_RUN is bounded: a monitor thread interrupts
 * a vCPU that overruns its deadline.
 *
 * Output: one line per finished worker, then "driver: ok ..." or
 * "driver: FAIL ..." before powering off; tools/linux and the Linux
 * recorder tests look for those lines.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "driver.h"

#define MAX_WORKERS 8

/* Everything one worker thread does, and what it counts. */
struct worker {
	pthread_t thread;
	unsigned index;
	uint64_t rng;
	/* A KVM_RUN in progress must end by this time (ns), or 0. */
	volatile uint64_t deadline_ns;
	struct driver_counts counts;
	unsigned failures;
};

static struct worker workers[MAX_WORKERS];
static unsigned worker_count;
static volatile int all_done;
static struct driver_params params = {
	.seed = 1,
	.rounds = 6,
	.max_vcpus = 4,
	.timeout_s = 900,
	.timed = 1,
	.probes = 1,
};
static int kvm_fd = -1;
static long run_size;
static pthread_mutex_t print_lock = PTHREAD_MUTEX_INITIALIZER;

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void say(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&print_lock);
	va_start(ap, fmt);
	fputs("driver: ", stdout);
	vprintf(fmt, ap);
	fputc('\n', stdout);
	va_end(ap);
	fflush(stdout);
	pthread_mutex_unlock(&print_lock);
}

/* splitmix64: small, seedable, and the same on every machine. */
uint64_t rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

unsigned rng_below(uint64_t *state, unsigned n)
{
	return (unsigned)(rng_next(state) % n);
}

void note_failure(struct worker *w, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	w->failures++;
	say("FAIL worker %u: %s", w->index, msg);
}

struct driver_counts *worker_counts(struct worker *w)
{
	return &w->counts;
}

uint64_t *worker_rng(struct worker *w)
{
	return &w->rng;
}

int kvm_dev(void)
{
	return kvm_fd;
}

long kvm_run_size(void)
{
	return run_size;
}

const struct driver_params *driver_params(void)
{
	return &params;
}

/*
 * KVM_RUN, bounded: the monitor thread sends SIGUSR1 to a worker whose
 * deadline passed (again every 20 ms until it returns), which makes
 * KVM_RUN return EINTR. Returns the ioctl's result (errno kept).
 */
int run_bounded(struct worker *w, int vcpu_fd, unsigned timeout_ms)
{
	int r;

	w->deadline_ns = now_ns() + (uint64_t)timeout_ms * 1000000u;
	r = ioctl(vcpu_fd, KVM_RUN, 0);
	int saved = errno;
	w->deadline_ns = 0;
	errno = saved;
	return r;
}

static void *monitor(void *arg)
{
	struct timespec tick = { 0, 20 * 1000 * 1000 };

	(void)arg;
	while (!all_done) {
		uint64_t now = now_ns();

		for (unsigned i = 0; i < worker_count; i++) {
			uint64_t d = workers[i].deadline_ns;

			if (d && now > d)
				pthread_kill(workers[i].thread, SIGUSR1);
		}
		nanosleep(&tick, NULL);
	}
	return NULL;
}

static void on_sigusr1(int sig)
{
	(void)sig;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(w->index, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		say("worker %u: cannot pin to CPU %u: %s", w->index, w->index,
		    strerror(errno));
	for (unsigned round = 0; round < params.rounds; round++)
		driver_round(w, round);
	say("worker %u done: vms=%u vcpus=%u runs=%u mmio=%u system_off=%u "
	    "interrupted=%u slots=%u refused=%u probes=%u",
	    w->index, w->counts.vms, w->counts.vcpus, w->counts.runs,
	    w->counts.mmio, w->counts.system_off, w->counts.interrupted,
	    w->counts.slots, w->counts.refused, w->counts.probes);
	return NULL;
}

/* pkvm_driver.KEY=VALUE words of /proc/cmdline. */
static void parse_cmdline(void)
{
	char buf[4096];
	int fd = open("/proc/cmdline", O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	for (char *tok = strtok(buf, " \n"); tok; tok = strtok(NULL, " \n")) {
		static const char prefix[] = "pkvm_driver.";
		char *eq;
		unsigned long long v;

		if (strncmp(tok, prefix, sizeof(prefix) - 1))
			continue;
		tok += sizeof(prefix) - 1;
		eq = strchr(tok, '=');
		if (!eq)
			continue;
		*eq = '\0';
		v = strtoull(eq + 1, NULL, 0);
		if (!strcmp(tok, "seed"))
			params.seed = v;
		else if (!strcmp(tok, "rounds"))
			params.rounds = (unsigned)v;
		else if (!strcmp(tok, "vcpus") && v >= 1 && v <= 8)
			params.max_vcpus = (unsigned)v;
		else if (!strcmp(tok, "timeout"))
			params.timeout_s = (unsigned)v;
		else if (!strcmp(tok, "timed"))
			params.timed = (unsigned)v;
		else if (!strcmp(tok, "probes"))
			params.probes = (unsigned)v;
		else
			say("unknown parameter pkvm_driver.%s", tok);
	}
}

static void mount_fs(const char *src, const char *dir, const char *type)
{
	mkdir(dir, 0755);
	if (mount(src, dir, type, 0, NULL) && errno != EBUSY)
		say("mount %s on %s: %s", type, dir, strerror(errno));
}

static void power_off(void)
{
	fflush(stdout);
	sync();
	reboot(RB_POWER_OFF);
	/* Only reached if the kernel refused: init must never exit. */
	for (;;)
		pause();
}

static int open_kvm(void)
{
	int api;

	kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm_fd < 0) {
		say("FAIL open /dev/kvm: %s", strerror(errno));
		return -1;
	}
	api = ioctl(kvm_fd, KVM_GET_API_VERSION, 0);
	run_size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (api != KVM_API_VERSION || run_size <= 0) {
		say("FAIL KVM api %d, run size %ld", api, run_size);
		return -1;
	}
	return 0;
}

/* Ends the run whatever the workers are doing (a stuck vCPU, say). */
static void *watchdog(void *arg)
{
	(void)arg;
	sleep(params.timeout_s);
	say("FAIL watchdog: not done after %u s, powering off",
	    params.timeout_s);
	power_off();
	return NULL;
}

int main(void)
{
	struct sigaction sa = { .sa_handler = on_sigusr1 };
	pthread_t mon, dog;
	unsigned failures = 0;
	struct driver_counts total = { 0 };
	long cpus;

	setvbuf(stdout, NULL, _IOLBF, 0);
	mount_fs("proc", "/proc", "proc");
	mount_fs("sysfs", "/sys", "sysfs");
	mount_fs("devtmpfs", "/dev", "devtmpfs");
	parse_cmdline();
	/* No SA_RESTART: the signal must end KVM_RUN with EINTR. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	cpus = sysconf(_SC_NPROCESSORS_ONLN);
	worker_count = cpus < 1 ? 1 : cpus > MAX_WORKERS ? MAX_WORKERS : cpus;
	say("start seed=%llu rounds=%u workers=%u max_vcpus=%u timed=%u "
	    "probes=%u",
	    (unsigned long long)params.seed, params.rounds, worker_count,
	    params.max_vcpus, params.timed, params.probes);
	if (open_kvm()) {
		power_off();
	}
	pthread_create(&dog, NULL, watchdog, NULL);
	for (unsigned i = 0; i < worker_count; i++) {
		workers[i].index = i;
		workers[i].rng = params.seed * 0x100000001b3ull + i;
		pthread_create(&workers[i].thread, NULL, worker_main,
			       &workers[i]);
	}
	pthread_create(&mon, NULL, monitor, NULL);
	for (unsigned i = 0; i < worker_count; i++) {
		struct driver_counts *c = &workers[i].counts;

		pthread_join(workers[i].thread, NULL);
		failures += workers[i].failures;
		total.vms += c->vms;
		total.vcpus += c->vcpus;
		total.runs += c->runs;
		total.mmio += c->mmio;
		total.system_off += c->system_off;
		total.interrupted += c->interrupted;
		total.slots += c->slots;
		total.refused += c->refused;
		total.probes += c->probes;
	}
	all_done = 1;
	pthread_join(mon, NULL);
	say("%s seed=%llu vms=%u vcpus=%u runs=%u mmio=%u system_off=%u "
	    "interrupted=%u slots=%u refused=%u probes=%u failures=%u",
	    failures ? "FAIL" : "ok", (unsigned long long)params.seed,
	    total.vms, total.vcpus, total.runs, total.mmio, total.system_off,
	    total.interrupted, total.slots, total.refused, total.probes,
	    failures);
	power_off();
	return 0;
}
