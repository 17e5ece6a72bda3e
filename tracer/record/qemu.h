/* SPDX-License-Identifier: MIT */
/*
 * Running QEMU for pkvm-record: build the command line, start it with its
 * console on a pipe, read the console without blocking, notice panics and
 * the exit, and stop it.
 */
#ifndef PKVM_RECORD_QEMU_H
#define PKVM_RECORD_QEMU_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <pkvm/abi.h>

/** What the machine is started with. */
struct qemu_config {
	const char *qemu;     /* the qemu-system-aarch64 binary */
	const char *hyp;      /* -kernel image */
	const char *workload; /* loaded with -device loader */
	const char *ram_path; /* the guest RAM file (mem-path) */
	unsigned cpus;
	bool tcg_multi; /* one host thread per vCPU instead of one for all */
	struct pkvm_params params; /* placed at PKVM_PARAMS_PA */
	char **extra;		   /* extra arguments, NULL-terminated */
};

/** A running (or finished) QEMU. */
struct qemu_run {
	pid_t pid;
	int console_fd;	 /* read end of QEMU's stdout + stderr */
	FILE *log;	 /* console copy, or NULL */
	bool echo;	 /* console also to stderr */
	char line[1024]; /* partial console line */
	size_t line_len;
	const char *panic_match; /* a console line with this is a panic;
				    NULL: the hyp's "hyp: ... panic" */
	bool panic_line;	 /* a console line mentioned a panic */
	char panic_text[256];
	bool exited;	   /* waitpid reported the end */
	int status;	   /* its wait status */
	char last[4][256]; /* last console lines, for error messages */
	unsigned last_count;
};

/**
 * The argument vector for `cfg` (NULL-terminated, heap-allocated; free with
 * qemu_argv_free) and, in `cmdline`, the same as one shell-quoted line.
 */
char **qemu_argv_build(const struct qemu_config *cfg, char *cmdline,
		       size_t cmdline_len);
void qemu_argv_free(char **argv);

/** `argv` as one shell-quoted line in `cmdline`. */
void qemu_cmdline(char **argv, char *cmdline, size_t cmdline_len);

/**
 * Start QEMU with `argv`, console to a pipe, stdin from /dev/null, in a
 * process group of its own and killed if the recorder dies. `keep_fd` stays
 * open in the child (the RAM file). Returns 0 or -1 (errno).
 */
int qemu_start(struct qemu_run *q, char **argv, int keep_fd);

/** Read what the console has without blocking; log it; spot panics. */
void qemu_read_console(struct qemu_run *q);

/** True once QEMU has exited (reaps it). */
bool qemu_poll_exit(struct qemu_run *q);

/** Ask QEMU to stop (SIGTERM), then SIGKILL after `grace_ms`; reap it. */
void qemu_stop(struct qemu_run *q, unsigned grace_ms);

/** Print the last console lines to `out`, indented (for error messages). */
void qemu_print_last(const struct qemu_run *q, FILE *out);

#endif /* PKVM_RECORD_QEMU_H */
