/* SPDX-License-Identifier: MIT */
/*
 * pkvm-record for the production hypervisor: pKVM in Debian's Linux 6.12,
 * patched by linux/6.12/ to write our records (linux/README.md). The live
 * session (main.c) is the same as for our hyp; this file supplies what
 * differs: the machine (kernel, initramfs with the driver, 1 GiB of RAM,
 * `-cpu max`), the kernel command line and the trace's identity lines.
 */
#ifndef PKVM_RECORD_LINUX_H
#define PKVM_RECORD_LINUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** The one Linux system recorded so far: `--system linux-6.12`. */
#define RECORD_LINUX_SYSTEM "linux-6.12"

/** Guest RAM of a Linux run (`-m 1G`), from PKVM_RAM_BASE. */
#define RECORD_LINUX_RAM_SIZE (1ull << 30)

/** What a Linux run is started with. */
struct record_linux {
	const char *qemu;      /* qemu-system-aarch64 */
	const char *image;     /* arm64 Image (tools/linux build) */
	const char *initramfs; /* the driver's initramfs */
	const char *ram_path;  /* the guest RAM file */
	unsigned cpus;
	uint64_t seed;	 /* pkvm_driver.seed */
	uint64_t rounds; /* pkvm_driver.rounds: rounds per driver worker */
	bool wait;	 /* pkvm_trace=wait (else drop) */
	bool tcg_multi;	 /* one host thread per vCPU */
	char **extra;	 /* extra QEMU arguments, NULL-terminated */
};

/** True if `system` names a Linux system this recorder knows. */
bool record_linux_known(const char *system);

/** The default Image and initramfs: the tools/linux cache of the build tree. */
const char *record_linux_default_image(void);
const char *record_linux_default_initramfs(void);

/**
 * The QEMU argument vector (free with qemu_argv_free) and, in `cmdline`,
 * the same as one shell-quoted line. NULL when out of memory.
 */
char **record_linux_argv(const struct record_linux *l, char *cmdline,
			 size_t cmdline_len);

/**
 * The identity lines of a Linux trace (key=value, each ended by '\n') into
 * `out`: the system, the kernel's version string (read from the Image),
 * the source package, the patch-series and configuration hashes (from the
 * `key` file tools/linux writes beside the Image, "unknown" without one),
 * the images and the driver's parameters.
 */
void record_linux_identity(const struct record_linux *l, char *out, size_t len);

#endif /* PKVM_RECORD_LINUX_H */
