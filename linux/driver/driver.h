/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The pKVM driver (driver.c: threads, parameters, power-off; vm.c: what
 * one round does to pKVM through /dev/kvm).
 */
#ifndef PKVM_DRIVER_H
#define PKVM_DRIVER_H

#include <stdint.h>

/** What a worker did; summed over workers at the end. */
struct driver_counts {
	unsigned vms;	      /* VMs created */
	unsigned vcpus;	      /* vCPUs created */
	unsigned runs;	      /* KVM_RUN calls */
	unsigned mmio;	      /* MMIO exits seen */
	unsigned system_off;  /* PSCI SYSTEM_OFF exits seen */
	unsigned interrupted; /* KVM_RUN ended by the monitor (EINTR) */
	unsigned slots;	      /* memory slots added or removed */
	unsigned refused;     /* bad requests the kernel refused, as it must */
	unsigned probes;      /* pKVM error-path probes run (vm.c) */
};

/** From the kernel command line (pkvm_driver.KEY=VALUE). */
struct driver_params {
	uint64_t seed;
	unsigned rounds;    /* rounds per worker */
	unsigned max_vcpus; /* vCPUs per VM: 1..max_vcpus */
	unsigned timeout_s; /* watchdog: power off after this long */
	unsigned timed;	    /* 0: leave out what runs for a time rather
			       than to an exit (teardown while running, a
			       vCPU pKVM does not know), so that the work
			       does not depend on the clock (bench-linux) */
	unsigned probes;    /* 1: error rounds also run the kernel's pKVM
			       probes (/sys/module/kvm/parameters/pkvm_probe,
			       linux/README.md); 0: not */
};

struct worker;

/** One round of worker `w` (vm.c); round 0..2 are fixed, then seeded. */
void driver_round(struct worker *w, unsigned round);

/* driver.c services for vm.c. */
uint64_t now_ns(void);
void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void note_failure(struct worker *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
uint64_t rng_next(uint64_t *state);
unsigned rng_below(uint64_t *state, unsigned n);
struct driver_counts *worker_counts(struct worker *w);
uint64_t *worker_rng(struct worker *w);
int kvm_dev(void);
long kvm_run_size(void);
const struct driver_params *driver_params(void);
int run_bounded(struct worker *w, int vcpu_fd, unsigned timeout_ms);

#endif /* PKVM_DRIVER_H */
