/* SPDX-License-Identifier: MIT */
/*
 * QEMU process handling for pkvm-record (qemu.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "qemu.h"

#define QEMU_MAX_ARGS 96

static int push(char **argv, unsigned *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int push(char **argv, unsigned *n, const char *fmt, ...)
{
	va_list ap;
	char *s;

	if (*n + 1 >= QEMU_MAX_ARGS)
		return -1;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (!s)
		return -1;
	argv[(*n)++] = s;
	return 0;
}

/* One generic-loader data device per 8-byte field of struct pkvm_params:
 * QEMU 7.2 accepts data-len=8, so no temporary blob file is needed. */
static int push_params(char **argv, unsigned *n, const struct pkvm_params *p)
{
	const uint64_t *words = (const uint64_t *)p;
	int rc = 0;

	for (unsigned i = 0; i < 6 && rc == 0; i++) {
		rc |= push(argv, n, "-device");
		rc |= push(argv, n, "loader,addr=0x%llx,data=0x%llx,data-len=8",
			   (unsigned long long)(PKVM_PARAMS_PA + 8 * i),
			   (unsigned long long)words[i]);
	}
	return rc;
}

/* Quote `arg` for a shell when it needs it, append to `out`. */
static void append_quoted(char *out, size_t len, const char *arg)
{
	size_t used = strlen(out);
	bool plain = *arg != '\0';

	for (const char *c = arg; *c; c++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWX"
			    "YZ"
			    "0123456789,._-=/:+@%",
			    *c))
			plain = false;
	if (used && used + 1 < len)
		out[used++] = ' ';
	out[used] = '\0';
	if (plain) {
		snprintf(out + used, len - used, "%s", arg);
		return;
	}
	snprintf(out + used, len - used, "'");
	for (const char *c = arg; *c; c++) {
		used = strlen(out);
		snprintf(out + used, len - used, *c == '\'' ? "'\\''" : "%c",
			 *c);
	}
	used = strlen(out);
	snprintf(out + used, len - used, "'");
}

char **qemu_argv_build(const struct qemu_config *cfg, char *cmdline,
		       size_t cmdline_len)
{
	char **argv = calloc(QEMU_MAX_ARGS, sizeof(*argv));
	unsigned n = 0;
	int rc = 0;

	if (!argv)
		return NULL;
	rc |= push(argv, &n, "%s", cfg->qemu);
	rc |= push(argv, &n, "-M");
	rc |= push(argv, &n, "virt,virtualization=on,gic-version=3");
	rc |= push(argv, &n, "-cpu");
	rc |= push(argv, &n, "cortex-a72");
	rc |= push(argv, &n, "-smp");
	rc |= push(argv, &n, "%u", cfg->cpus);
	rc |= push(argv, &n, "-m");
	rc |= push(argv, &n, "256M");
	rc |= push(argv, &n, "-accel");
	rc |= push(argv, &n, "tcg,thread=%s",
		   cfg->tcg_multi ? "multi" : "single");
	/* Exactly the devices the run uses: no default NIC (whose option
	 * ROM lives in a package Debian only recommends), no monitor, no
	 * display; the console is the PL011 on our stdout. */
	rc |= push(argv, &n, "-nodefaults");
	rc |= push(argv, &n, "-display");
	rc |= push(argv, &n, "none");
	rc |= push(argv, &n, "-serial");
	rc |= push(argv, &n, "stdio");
	rc |= push(argv, &n, "-object");
	rc |= push(argv, &n,
		   "memory-backend-file,id=mem,size=256M,mem-path=%s,share=on",
		   cfg->ram_path);
	rc |= push(argv, &n, "-machine");
	rc |= push(argv, &n, "memory-backend=mem");
	rc |= push(argv, &n, "-kernel");
	rc |= push(argv, &n, "%s", cfg->hyp);
	rc |= push(argv, &n, "-device");
	rc |= push(argv, &n, "loader,file=%s", cfg->workload);
	rc |= push_params(argv, &n, &cfg->params);
	for (char **e = cfg->extra; e && *e && rc == 0; e++)
		rc |= push(argv, &n, "%s", *e);
	if (rc) {
		qemu_argv_free(argv);
		return NULL;
	}
	qemu_cmdline(argv, cmdline, cmdline_len);
	return argv;
}

void qemu_cmdline(char **argv, char *cmdline, size_t cmdline_len)
{
	cmdline[0] = '\0';
	for (char **a = argv; *a; a++)
		append_quoted(cmdline, cmdline_len, *a);
}

void qemu_argv_free(char **argv)
{
	for (char **a = argv; a && *a; a++)
		free(*a);
	free(argv);
}

/* In the child: wire up the descriptors and exec; never returns. */
static void child(char **argv, int pipe_w, int keep_fd)
{
	int null = open("/dev/null", O_RDONLY);

	/* A process group of its own keeps the terminal's ^C away from QEMU:
	 * the recorder decides when QEMU stops. PDEATHSIG makes sure a
	 * recorder killed with -9 does not leave the machine running. */
	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (null < 0 || dup2(null, 0) < 0 || dup2(pipe_w, 1) < 0 ||
	    dup2(pipe_w, 2) < 0)
		_exit(127);
	if (keep_fd >= 0)
		fcntl(keep_fd, F_SETFD, 0);
	execvp(argv[0], argv);
	dprintf(2, "pkvm-record: cannot run %s: %s\n", argv[0],
		strerror(errno));
	_exit(127);
}

int qemu_start(struct qemu_run *q, char **argv, int keep_fd)
{
	int fds[2];

	q->pid = -1;
	q->console_fd = -1;
	if (pipe2(fds, O_CLOEXEC) != 0)
		return -1;
	q->pid = fork();
	if (q->pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (q->pid == 0)
		child(argv, fds[1], keep_fd);
	close(fds[1]);
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	q->console_fd = fds[0];
	return 0;
}

static void remember(struct qemu_run *q, const char *line)
{
	memmove(q->last[0], q->last[1], sizeof(q->last) - sizeof(q->last[0]));
	snprintf(q->last[3], sizeof(q->last[3]), "%s", line);
	if (q->last_count < 4)
		q->last_count++;
}

static void end_line(struct qemu_run *q)
{
	q->line[q->line_len] = '\0';
	if (q->log)
		fprintf(q->log, "%s\n", q->line);
	if (q->echo)
		fprintf(stderr, "%s\n", q->line);
	/* The hyp prints its panics on the console ("hyp: PANIC ..."); the
	 * ring state or a PANIC record usually say so too, but a panic before
	 * tracing is set up is only visible here. Only the hyp's own lines
	 * count: the workload may well print the word. */
	if (!q->panic_line &&
	    (q->panic_match ? strstr(q->line, q->panic_match) != NULL
			    : strncmp(q->line, "hyp:", 4) == 0 &&
				      strcasestr(q->line, "panic"))) {
		q->panic_line = true;
		snprintf(q->panic_text, sizeof(q->panic_text), "%s", q->line);
	}
	remember(q, q->line);
	q->line_len = 0;
}

void qemu_read_console(struct qemu_run *q)
{
	char buf[4096];
	ssize_t n;

	while (q->console_fd >= 0 &&
	       (n = read(q->console_fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\r')
				continue;
			if (buf[i] == '\n' ||
			    q->line_len + 1 >= sizeof(q->line)) {
				end_line(q);
				if (buf[i] == '\n')
					continue;
			}
			q->line[q->line_len++] = buf[i];
		}
	}
	if (q->log)
		fflush(q->log);
}

bool qemu_poll_exit(struct qemu_run *q)
{
	if (q->exited || q->pid <= 0)
		return true;
	if (waitpid(q->pid, &q->status, WNOHANG) == q->pid) {
		q->exited = true;
		qemu_read_console(q);
		if (q->line_len)
			end_line(q);
	}
	return q->exited;
}

void qemu_stop(struct qemu_run *q, unsigned grace_ms)
{
	struct timespec tick = { 0, 10 * 1000 * 1000 };

	if (qemu_poll_exit(q))
		return;
	kill(q->pid, SIGTERM);
	for (unsigned waited = 0; waited < grace_ms; waited += 10) {
		if (qemu_poll_exit(q))
			return;
		nanosleep(&tick, NULL);
	}
	kill(q->pid, SIGKILL);
	if (waitpid(q->pid, &q->status, 0) == q->pid)
		q->exited = true;
	qemu_read_console(q);
}

void qemu_print_last(const struct qemu_run *q, FILE *out)
{
	for (unsigned i = 4 - q->last_count; i < 4; i++)
		fprintf(out, "    %s\n", q->last[i]);
}
