// SPDX-License-Identifier: MIT
/*
 * A progress line for long checks on a terminal, like pkvm-record's: how
 * far into the file, how fast. Refreshed at most four times a second and
 * erased at the end, so what stays on the screen is the report alone;
 * never written when stderr is not a terminal (CI logs, pipes, files).
 * It rides on the record source (filesrc.c), which the replay calls once
 * per run of records, so the core knows nothing of it.
 */
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

struct progress {
	const char *path;
	uint64_t after_ns; /* quiet before this: quick checks show nothing */
	uint64_t size;	   /* bytes of the file, 0 for a pipe */
	uint64_t records;
	uint64_t start_ns, last_ns;
	unsigned calls;
	bool shown;
};

static uint64_t progress_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/** See cli.h. */
struct progress *progress_new(const char *path, bool off)
{
	struct progress *p;
	struct stat st;

	if (off || !isatty(2))
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->path = path;
	/* $PKVM_PROGRESS_AFTER: seconds before the line appears (default
	 * 1; the tests set 0 to see it on a short check). */
	p->after_ns =
		getenv("PKVM_PROGRESS_AFTER")
			? (uint64_t)(atof(getenv("PKVM_PROGRESS_AFTER")) * 1e9)
			: 1000000000u;
	if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
		p->size = (uint64_t)st.st_size;
	p->start_ns = progress_now();
	p->last_ns = 0;
	return p;
}

/** See cli.h. */
void progress_records(struct progress *p, unsigned records, uint64_t offset)
{
	uint64_t now;
	double secs;

	if (!p)
		return;
	p->records += records;
	/* The clock is read every 64th run only: runs are short. */
	if (++p->calls % 64)
		return;
	now = progress_now();
	if (now - p->last_ns < 250000000u || now - p->start_ns < p->after_ns)
		return;
	p->last_ns = now;
	secs = (double)(now - p->start_ns) / 1e9;
	if (p->size)
		fprintf(stderr, "\r\033[Kpkvm-check: %s: %.0f%%, ", p->path,
			100.0 * (double)offset / (double)p->size);
	else
		fprintf(stderr, "\r\033[Kpkvm-check: %s: ", p->path);
	fprintf(stderr, "%llu records, %.0f records/s, %.1f s",
		(unsigned long long)p->records, (double)p->records / secs,
		secs);
	p->shown = true;
}

/** See cli.h. */
void progress_end(struct progress *p)
{
	if (p && p->shown)
		fprintf(stderr, "\r\033[K");
	free(p);
}
