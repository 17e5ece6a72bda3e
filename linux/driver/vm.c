// SPDX-License-Identifier: GPL-2.0
/*
 * One round of the pKVM driver: VMs created, run, and torn down through
 * /dev/kvm, memory slots added and removed, and error paths the kernel
 * must refuse. linux/README.md "The driver".
 *
 * The guest is a few instructions at GUEST_BASE (AArch64, MMU off; x5 holds
 * the MMIO address, since PSCI calls return results in x0-x3): a store
 * to an unbacked IPA (an MMIO exit carrying the vCPU's cookie from x0),
 * PSCI_VERSION through `hvc`, a second MMIO exit carrying the version, then
 * PSCI SYSTEM_OFF. SPIN_ENTRY is a branch to itself, for teardown while a
 * vCPU runs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "driver.h"

#define GUEST_BASE 0x80000000ull
#define GUEST_SIZE 0x10000ull
#define MMIO_IPA 0x10000000ull /* no slot there: stores exit to us */
#define SLOT_BASE 0xc0000000ull
#define SLOT_SIZE 0x10000ull
#define EXTRA_SLOTS 4
#define SPIN_ENTRY 0x40u
#define MAX_VCPUS 8
/* A vCPU has this long per KVM_RUN (QEMU TCG, tracing on, busy host). */
#define RUN_TIMEOUT_MS 30000u

static const uint32_t guest_code[] = {
	0xd2a20005, /* movz x5, #0x1000, lsl #16  x5 = MMIO_IPA       */
	0xf90000a0, /* str  x0, [x5]              MMIO exit: cookie   */
	0xd2b08000, /* movz x0, #0x8400, lsl #16  PSCI_VERSION        */
	0xd4000002, /* hvc  #0                                        */
	0xf90004a0, /* str  x0, [x5, #8]          MMIO exit: version  */
	0xd2b08000, /* movz x0, #0x8400, lsl #16                      */
	0xf2800100, /* movk x0, #0x8              PSCI SYSTEM_OFF     */
	0xd4000002, /* hvc  #0                                        */
	0x14000000, /* b    .                                         */
};

struct vcpu {
	int fd;
	struct kvm_run *run;
};

struct vm {
	int fd;
	uint8_t *mem;
	uint8_t *slot_mem[EXTRA_SLOTS];
	unsigned nvcpus;
	struct vcpu vcpu[MAX_VCPUS];
};

/* A request the kernel must refuse: count it, or report that it did not. */
static void expect_refused(struct worker *w, int r, const char *what)
{
	if (r < 0) {
		worker_counts(w)->refused++;
		return;
	}
	note_failure(w, "%s was accepted (returned %d)", what, r);
}

static int set_slot(int vm_fd, unsigned slot, uint64_t ipa, uint64_t size,
		    void *mem)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot,
		.guest_phys_addr = ipa,
		.memory_size = size,
		.userspace_addr = (uintptr_t)mem,
	};

	return ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &r);
}

static uint64_t core_reg(size_t offset)
{
	return KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE |
	       (offset / sizeof(uint32_t));
}

static int set_reg(int vcpu_fd, uint64_t id, uint64_t value)
{
	struct kvm_one_reg reg = { .id = id, .addr = (uintptr_t)&value };

	return ioctl(vcpu_fd, KVM_SET_ONE_REG, &reg);
}

static int vm_create(struct worker *w, struct vm *vm)
{
	memset(vm, 0, sizeof(*vm));
	vm->fd = ioctl(kvm_dev(), KVM_CREATE_VM, 0);
	if (vm->fd < 0) {
		note_failure(w, "KVM_CREATE_VM: %s", strerror(errno));
		return -1;
	}
	worker_counts(w)->vms++;
	vm->mem = mmap(NULL, GUEST_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (vm->mem == MAP_FAILED) {
		vm->mem = NULL;
		note_failure(w, "mmap guest memory: %s", strerror(errno));
		return -1;
	}
	memcpy(vm->mem, guest_code, sizeof(guest_code));
	*(uint32_t *)(vm->mem + SPIN_ENTRY) = 0x14000000; /* b . */
	if (set_slot(vm->fd, 0, GUEST_BASE, GUEST_SIZE, vm->mem)) {
		note_failure(w, "memory slot 0: %s", strerror(errno));
		return -1;
	}
	worker_counts(w)->slots++;
	return 0;
}

/* Create vCPU `id`, PSCI 0.2 (without it the guest's hvc returns -1), PC at
 * `entry`, x0 = `cookie`. */
static int vcpu_create(struct worker *w, struct vm *vm, unsigned entry,
		       uint64_t cookie)
{
	struct kvm_vcpu_init init;
	unsigned id = vm->nvcpus;
	struct vcpu *v = &vm->vcpu[id];

	v->fd = ioctl(vm->fd, KVM_CREATE_VCPU, id);
	if (v->fd < 0) {
		note_failure(w, "KVM_CREATE_VCPU %u: %s", id, strerror(errno));
		return -1;
	}
	vm->nvcpus++;
	worker_counts(w)->vcpus++;
	v->run = mmap(NULL, kvm_run_size(), PROT_READ | PROT_WRITE, MAP_SHARED,
		      v->fd, 0);
	if (v->run == MAP_FAILED) {
		v->run = NULL;
		note_failure(w, "mmap kvm_run: %s", strerror(errno));
		return -1;
	}
	memset(&init, 0, sizeof(init));
	if (ioctl(vm->fd, KVM_ARM_PREFERRED_TARGET, &init)) {
		note_failure(w, "KVM_ARM_PREFERRED_TARGET: %s",
			     strerror(errno));
		return -1;
	}
	init.features[0] |= 1u << KVM_ARM_VCPU_PSCI_0_2;
	if (ioctl(v->fd, KVM_ARM_VCPU_INIT, &init)) {
		note_failure(w, "KVM_ARM_VCPU_INIT: %s", strerror(errno));
		return -1;
	}
	if (set_reg(v->fd, core_reg(offsetof(struct kvm_regs, regs.pc)),
		    GUEST_BASE + entry) ||
	    set_reg(v->fd, core_reg(offsetof(struct kvm_regs, regs.regs[0])),
		    cookie)) {
		note_failure(w, "KVM_SET_ONE_REG: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static void vm_destroy(struct vm *vm, int vm_first)
{
	/* The VM lives until its last file is closed: either order is fine,
	 * and the seed picks one. */
	if (vm_first && vm->fd >= 0)
		close(vm->fd);
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		if (vm->vcpu[i].run)
			munmap(vm->vcpu[i].run, kvm_run_size());
		if (vm->vcpu[i].fd >= 0)
			close(vm->vcpu[i].fd);
	}
	if (!vm_first && vm->fd >= 0)
		close(vm->fd);
	if (vm->mem)
		munmap(vm->mem, GUEST_SIZE);
	for (unsigned i = 0; i < EXTRA_SLOTS; i++)
		if (vm->slot_mem[i])
			munmap(vm->slot_mem[i], SLOT_SIZE);
}

/* Run vCPU `i` to its next exit, which must be `want`. */
static int run_to(struct worker *w, struct vm *vm, unsigned i, uint32_t want)
{
	struct vcpu *v = &vm->vcpu[i];
	int r;

	worker_counts(w)->runs++;
	r = run_bounded(w, v->fd, RUN_TIMEOUT_MS);
	if (r < 0) {
		note_failure(w, "vcpu %u KVM_RUN: %s", i, strerror(errno));
		return -1;
	}
	if (v->run->exit_reason != want) {
		note_failure(w, "vcpu %u: exit %u, expected %u", i,
			     v->run->exit_reason, want);
		return -1;
	}
	return 0;
}

static int expect_mmio(struct worker *w, struct vm *vm, unsigned i,
		       uint64_t ipa, uint64_t *data)
{
	struct kvm_run *run = vm->vcpu[i].run;

	if (run_to(w, vm, i, KVM_EXIT_MMIO))
		return -1;
	if (run->mmio.phys_addr != ipa || !run->mmio.is_write ||
	    run->mmio.len != 8) {
		note_failure(w, "vcpu %u: MMIO at 0x%llx len %u write %u", i,
			     (unsigned long long)run->mmio.phys_addr,
			     run->mmio.len, run->mmio.is_write);
		return -1;
	}
	memcpy(data, run->mmio.data, sizeof(*data));
	worker_counts(w)->mmio++;
	return 0;
}

/* Memory slots 1..EXTRA_SLOTS: add or remove one at random. */
static void churn_slot(struct worker *w, struct vm *vm)
{
	unsigned i = rng_below(worker_rng(w), EXTRA_SLOTS);
	uint64_t ipa = SLOT_BASE + (uint64_t)i * 0x200000u;

	if (vm->slot_mem[i]) {
		if (set_slot(vm->fd, 1 + i, ipa, 0, vm->slot_mem[i]))
			note_failure(w, "remove slot %u: %s", 1 + i,
				     strerror(errno));
		munmap(vm->slot_mem[i], SLOT_SIZE);
		vm->slot_mem[i] = NULL;
	} else {
		void *m = mmap(NULL, SLOT_SIZE, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (m == MAP_FAILED)
			return;
		if (set_slot(vm->fd, 1 + i, ipa, SLOT_SIZE, m)) {
			note_failure(w, "add slot %u: %s", 1 + i,
				     strerror(errno));
			munmap(m, SLOT_SIZE);
			return;
		}
		vm->slot_mem[i] = m;
	}
	worker_counts(w)->slots++;
}

/*
 * A VM with 1..max_vcpus vCPUs, all created before the first runs (pKVM
 * sets up its copy of the VM, with the vCPUs that exist then, at the first
 * KVM_RUN). Each runs to its cookie MMIO exit and its PSCI_VERSION MMIO
 * exit; the last then runs to SYSTEM_OFF (which stops every vCPU of the
 * VM, so it comes last). Slots churn in between.
 */
static void round_lifecycle(struct worker *w)
{
	const struct driver_params *p = driver_params();
	unsigned n = 1 + rng_below(worker_rng(w), p->max_vcpus);
	uint64_t cookie[MAX_VCPUS];
	struct vm vm;
	uint64_t data;

	if (n > MAX_VCPUS)
		n = MAX_VCPUS;
	if (vm_create(w, &vm))
		goto out;
	for (unsigned i = 0; i < n; i++) {
		cookie[i] = 0xc00c1e0000000000ull | (uint64_t)i << 16 |
			    (rng_next(worker_rng(w)) & 0xffff);
		if (vcpu_create(w, &vm, 0, cookie[i]))
			goto out;
		churn_slot(w, &vm);
	}
	for (unsigned i = 0; i < n; i++) {
		if (expect_mmio(w, &vm, i, MMIO_IPA, &data))
			goto out;
		if (data != cookie[i]) {
			note_failure(w,
				     "vcpu %u: cookie 0x%llx, expected "
				     "0x%llx",
				     i, (unsigned long long)data,
				     (unsigned long long)cookie[i]);
			goto out;
		}
		if (expect_mmio(w, &vm, i, MMIO_IPA + 8, &data))
			goto out;
		/* PSCI_VERSION: 0.2 or later, never NOT_SUPPORTED (-1). */
		if (data == 0 || (uint32_t)data == 0xffffffffu) {
			note_failure(w, "vcpu %u: PSCI_VERSION returned 0x%llx",
				     i, (unsigned long long)data);
			goto out;
		}
		churn_slot(w, &vm);
	}
	if (run_to(w, &vm, n - 1, KVM_EXIT_SYSTEM_EVENT))
		goto out;
	if (vm.vcpu[n - 1].run->system_event.type != KVM_SYSTEM_EVENT_SHUTDOWN)
		note_failure(w, "system event %u, expected shutdown",
			     vm.vcpu[n - 1].run->system_event.type);
	else
		worker_counts(w)->system_off++;
out:
	vm_destroy(&vm, rng_below(worker_rng(w), 2));
}

static void round_probes(struct worker *w);

/* Requests a VMM must not make; each must fail without harm. */
static void round_errors(struct worker *w)
{
	struct kvm_vcpu_init init;
	struct vm vm;
	int r;

	expect_refused(w, ioctl(kvm_dev(), _IO(KVMIO, 0xff), 0),
		       "unknown /dev/kvm ioctl");
	/* Protected mode ignores the IPA size; bits above it are refused. */
	expect_refused(w, ioctl(kvm_dev(), KVM_CREATE_VM, 0x10000),
		       "KVM_CREATE_VM with type bit 16");
	if (vm_create(w, &vm))
		goto out;
	expect_refused(w, ioctl(vm.fd, _IO(KVMIO, 0xfe), 0),
		       "unknown VM ioctl");
	expect_refused(w,
		       set_slot(vm.fd, 1, SLOT_BASE + 0x123, SLOT_SIZE, vm.mem),
		       "unaligned memory slot");
	if (vcpu_create(w, &vm, 0, 0))
		goto out;
	expect_refused(w, ioctl(vm.fd, KVM_CREATE_VCPU, 0), "a second vCPU 0");
	/* Double init with other features: refused. */
	memset(&init, 0, sizeof(init));
	ioctl(vm.fd, KVM_ARM_PREFERRED_TARGET, &init);
	expect_refused(w, ioctl(vm.vcpu[0].fd, KVM_ARM_VCPU_INIT, &init),
		       "KVM_ARM_VCPU_INIT again without PSCI 0.2");
	expect_refused(w, set_reg(vm.vcpu[0].fd, 0x6030000000ffff00ull, 0),
		       "KVM_SET_ONE_REG of no register");
	expect_refused(w, ioctl(vm.vcpu[0].fd, _IO(KVMIO, 0xfd), 0),
		       "unknown vCPU ioctl");
	/* A vCPU that was never initialised must not run. */
	r = ioctl(vm.fd, KVM_CREATE_VCPU, 1);
	if (r >= 0) {
		vm.vcpu[vm.nvcpus++] = (struct vcpu){ .fd = r, .run = NULL };
		worker_counts(w)->vcpus++;
		expect_refused(w, ioctl(r, KVM_RUN, 0),
			       "KVM_RUN before KVM_ARM_VCPU_INIT");
	}
	/* Running vCPU 0 now may work or be refused (its sibling was never
	 * initialised); either way the kernel must stay up. */
	worker_counts(w)->runs++;
	r = run_bounded(w, vm.vcpu[0].fd, RUN_TIMEOUT_MS);
	if (r < 0)
		worker_counts(w)->refused++;
	else if (vm.vcpu[0].run->exit_reason == KVM_EXIT_MMIO)
		worker_counts(w)->mmio++;
	/* A vCPU created after the VM first ran is unknown to pKVM's copy
	 * of the VM: 6.12 never runs it (KVM_RUN retries the vcpu_run
	 * hypercall until a signal, thousands of times: keep it short). */
	if (driver_params()->timed && vm.nvcpus < MAX_VCPUS &&
	    vcpu_create(w, &vm, 0, 0) == 0) {
		worker_counts(w)->runs++;
		r = run_bounded(w, vm.vcpu[vm.nvcpus - 1].fd, 10);
		if (r < 0)
			worker_counts(w)->refused++;
	}
out:
	vm_destroy(&vm, rng_below(worker_rng(w), 2));
	round_probes(w);
}

/*
 * The kernel's pKVM probes (CONFIG_PKVM_TRACE, linux/README.md): each makes
 * the host ask the hyp something a correct host never asks, checks the
 * answer and undoes what it did. A kernel without them has no such file:
 * then nothing happens. The seed picks the order; every worker runs them,
 * so they race with each other and with the other workers' VMs.
 */
#define PROBE_PATH "/sys/module/kvm/parameters/pkvm_probe"
#define PROBE_COUNT 5

static void round_probes(struct worker *w)
{
	unsigned order[PROBE_COUNT];
	int fd;

	if (!driver_params()->probes)
		return;
	fd = open(PROBE_PATH, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	for (unsigned i = 0; i < PROBE_COUNT; i++)
		order[i] = i + 1;
	for (unsigned i = PROBE_COUNT - 1; i > 0; i--) {
		unsigned j = rng_below(worker_rng(w), i + 1), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	for (unsigned i = 0; i < PROBE_COUNT; i++) {
		char buf[8];
		int len = snprintf(buf, sizeof(buf), "%u", order[i]);

		/* One write per probe: the kernel runs it in write(). */
		if (pwrite(fd, buf, (size_t)len, 0) != len)
			note_failure(w, "pkvm probe %u: %s", order[i],
				     strerror(errno));
		else
			worker_counts(w)->probes++;
	}
	close(fd);
}

/* vCPUs spinning in the guest when their VM goes away. */
static void round_teardown_running(struct worker *w)
{
	unsigned n = 1 + rng_below(worker_rng(w), 2);
	struct vm vm;

	if (vm_create(w, &vm))
		goto out;
	for (unsigned i = 0; i < n; i++) {
		unsigned ms = 20 + rng_below(worker_rng(w), 60);
		int r;

		if (vcpu_create(w, &vm, SPIN_ENTRY, 0))
			goto out;
		worker_counts(w)->runs++;
		r = run_bounded(w, vm.vcpu[i].fd, ms);
		if (r < 0 && errno == EINTR)
			worker_counts(w)->interrupted++;
		else
			note_failure(w,
				     "spinning vcpu %u: KVM_RUN returned "
				     "%d (%s), exit %u",
				     i, r, strerror(errno),
				     vm.vcpu[i].run->exit_reason);
	}
out:
	vm_destroy(&vm, rng_below(worker_rng(w), 2));
}

/* A VM that only adds and removes memory slots, never runs. */
static void round_slots(struct worker *w)
{
	struct vm vm;
	unsigned n = 2 + rng_below(worker_rng(w), 6);

	if (vm_create(w, &vm) == 0)
		for (unsigned i = 0; i < n; i++)
			churn_slot(w, &vm);
	vm_destroy(&vm, rng_below(worker_rng(w), 2));
}

void driver_round(struct worker *w, unsigned round)
{
	unsigned pick = round < 3 ? round : rng_below(worker_rng(w), 10);

	if (!driver_params()->timed && (pick == 2 || pick == 4))
		pick = 0;

	if (pick == 0 || pick >= 6)
		round_lifecycle(w);
	else if (pick == 1 || pick == 3)
		round_errors(w);
	else if (pick == 2 || pick == 4)
		round_teardown_running(w);
	else
		round_slots(w);
}
