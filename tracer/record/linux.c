/* SPDX-License-Identifier: MIT */
/*
 * pkvm-record for pKVM in Linux 6.12 (linux.h). The kernel's hyp finds
 * nothing from us in memory: it carves its rings itself and the driver in
 * the initramfs does the work; all the recorder passes in is the kernel
 * command line (pkvm_trace=, pkvm_driver.*). linux/README.md has the rest.
 */
#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linux.h"
#include "qemu.h"

#ifndef RECORD_DEFAULT_LINUX_DIR
#define RECORD_DEFAULT_LINUX_DIR "build/linux"
#endif

#define LINUX_MAX_ARGS 64

bool record_linux_known(const char *system)
{
	return system && strcmp(system, RECORD_LINUX_SYSTEM) == 0;
}

const char *record_linux_default_image(void)
{
	return RECORD_DEFAULT_LINUX_DIR "/current/Image";
}

const char *record_linux_default_initramfs(void)
{
	return RECORD_DEFAULT_LINUX_DIR "/driver/initramfs.cpio";
}

static int push(char **argv, unsigned *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int push(char **argv, unsigned *n, const char *fmt, ...)
{
	va_list ap;
	char *s;

	if (*n + 1 >= LINUX_MAX_ARGS)
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

/*
 * The machine of issue 12: GICv3 (protected mode needs it), `-cpu max`
 * (hVHE; `-- -cpu cortex-a72` gives nVHE), 1 GiB of RAM in the shared
 * file, no default devices, the PL011 console on our pipe.
 */
char **record_linux_argv(const struct record_linux *l, char *cmdline,
			 size_t cmdline_len)
{
	char **argv = calloc(LINUX_MAX_ARGS, sizeof(*argv));
	unsigned n = 0;
	int rc = 0;

	if (!argv)
		return NULL;
	rc |= push(argv, &n, "%s", l->qemu);
	rc |= push(argv, &n, "-M");
	rc |= push(argv, &n, "virt,virtualization=on,gic-version=3");
	rc |= push(argv, &n, "-cpu");
	rc |= push(argv, &n, "max");
	rc |= push(argv, &n, "-smp");
	rc |= push(argv, &n, "%u", l->cpus);
	rc |= push(argv, &n, "-m");
	rc |= push(argv, &n, "%lluM",
		   (unsigned long long)(RECORD_LINUX_RAM_SIZE >> 20));
	rc |= push(argv, &n, "-accel");
	rc |= push(argv, &n, "tcg,thread=%s",
		   l->tcg_multi ? "multi" : "single");
	rc |= push(argv, &n, "-nodefaults");
	rc |= push(argv, &n, "-display");
	rc |= push(argv, &n, "none");
	rc |= push(argv, &n, "-serial");
	rc |= push(argv, &n, "stdio");
	rc |= push(argv, &n, "-object");
	rc |= push(argv, &n,
		   "memory-backend-file,id=mem,size=%lluM,mem-path=%s,share=on",
		   (unsigned long long)(RECORD_LINUX_RAM_SIZE >> 20),
		   l->ram_path);
	rc |= push(argv, &n, "-machine");
	rc |= push(argv, &n, "memory-backend=mem");
	rc |= push(argv, &n, "-kernel");
	rc |= push(argv, &n, "%s", l->image);
	rc |= push(argv, &n, "-initrd");
	rc |= push(argv, &n, "%s", l->initramfs);
	rc |= push(argv, &n, "-append");
	rc |= push(argv, &n,
		   "console=ttyAMA0 kvm-arm.mode=protected pkvm_trace=%s "
		   "pkvm_driver.seed=%llu pkvm_driver.rounds=%llu",
		   l->wait ? "wait" : "drop", (unsigned long long)l->seed,
		   (unsigned long long)l->rounds);
	for (char **e = l->extra; e && *e && rc == 0; e++)
		rc |= push(argv, &n, "%s", *e);
	if (rc) {
		qemu_argv_free(argv);
		return NULL;
	}
	qemu_cmdline(argv, cmdline, cmdline_len);
	return argv;
}

/* Read up to `cap` bytes of `path`; NULL if it cannot be read. */
static char *slurp(const char *path, size_t cap, size_t *size)
{
	FILE *f = fopen(path, "rb");
	char *buf = f ? malloc(cap + 1) : NULL;

	*size = 0;
	if (buf) {
		*size = fread(buf, 1, cap, f);
		buf[*size] = '\0';
	}
	if (f)
		fclose(f);
	return buf;
}

/* "Linux version ..." as the kernel prints it at boot, from the Image. */
static void kernel_version(const char *image, char *out, size_t len)
{
	static const char prefix[] = "Linux version ";
	size_t size, n = 0;
	char *buf = slurp(image, 64u << 20, &size);
	const char *p =
		buf ? memmem(buf, size, prefix, sizeof(prefix) - 1) : NULL;

	snprintf(out, len, "unknown");
	if (!p)
		goto out;
	while (p + n < buf + size && n + 1 < len && p[n] >= ' ' && p[n] <= '~')
		n++;
	memcpy(out, p, n);
	out[n] = '\0';
out:
	free(buf);
}

/* `name=value` from the tools/linux key file beside the Image. */
static void key_value(const char *keyfile, const char *name, char *out,
		      size_t len)
{
	size_t size, nlen = strlen(name);
	char *buf = slurp(keyfile, 4096, &size);

	snprintf(out, len, "unknown");
	for (char *line = buf ? strtok(buf, "\n") : NULL; line;
	     line = strtok(NULL, "\n"))
		if (strncmp(line, name, nlen) == 0 && line[nlen] == '=') {
			snprintf(out, len, "%s", line + nlen + 1);
			break;
		}
	free(buf);
}

static void line(char *out, size_t len, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Append `key=value\n` to `out` if it fits whole. */
static void line(char *out, size_t len, const char *key, const char *fmt, ...)
{
	size_t used = strlen(out);
	char value[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(value, sizeof(value), fmt, ap);
	va_end(ap);
	if (used + strlen(key) + strlen(value) + 3 <= len)
		snprintf(out + used, len - used, "%s=%s\n", key, value);
}

void record_linux_identity(const struct record_linux *l, char *out, size_t len)
{
	char keyfile[4096], version[256], value[256];
	char *dir = strdup(l->image);

	snprintf(keyfile, sizeof(keyfile), "%s/key", dir ? dirname(dir) : ".");
	free(dir);
	out[0] = '\0';
	/* Until the trace header has a `system` field (format 4.0). */
	line(out, len, "system", "%s", RECORD_LINUX_SYSTEM);
	kernel_version(l->image, version, sizeof(version));
	line(out, len, "kernel", "%s", version);
	key_value(keyfile, "source", value, sizeof(value));
	line(out, len, "kernel_source", "%s", value);
	key_value(keyfile, "series", value, sizeof(value));
	line(out, len, "patch_series", "%s", value);
	key_value(keyfile, "config", value, sizeof(value));
	line(out, len, "kernel_config", "%s", value);
	/* Built from a commit of the user's tree (tools/linux --git): the
	 * commit tools/bisect-traces orders the traces by. */
	key_value(keyfile, "commit", value, sizeof(value));
	if (strcmp(value, "unknown") != 0 && value[0])
		line(out, len, "hyp_commit", "%s", value);
	line(out, len, "image", "%s", l->image);
	line(out, len, "initramfs", "%s", l->initramfs);
	line(out, len, "seed", "%llu", (unsigned long long)l->seed);
	line(out, len, "rounds", "%llu", (unsigned long long)l->rounds);
	line(out, len, "cpus", "%u", l->cpus);
	line(out, len, "mode", "%s", l->wait ? "wait" : "drop");
}
