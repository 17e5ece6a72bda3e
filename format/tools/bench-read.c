/* SPDX-License-Identifier: MIT */
/*
 * bench-read-bin FILE [--per-cpu]: read every record of a trace, sum a
 * payload word so nothing is optimised away, and report the time, the
 * record rate and the peak RSS (getrusage). tools/bench-read drives it.
 *
 * File order (the default) is how dump and stats read; --per-cpu reads
 * the CPUs round-robin a record at a time, as the checker interleaves them.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <pkvm/trace.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int read_any(struct trace_reader *r, uint64_t *count, uint64_t *sum,
		    struct trace_error *err)
{
	struct pkvm_record rec;
	int rc;

	while ((rc = trace_reader_next_any(r, &rec, err)) == 1) {
		(*count)++;
		*sum += rec.a;
	}
	return rc;
}

static int read_per_cpu(struct trace_reader *r, uint64_t *count, uint64_t *sum,
			struct trace_error *err)
{
	unsigned cpus = trace_reader_info(r)->cpu_count, live = cpus;
	unsigned char done[1024] = { 0 };
	struct pkvm_record rec;

	while (live > 0) {
		for (unsigned c = 0; c < cpus; c++) {
			int rc;

			if (done[c])
				continue;
			rc = trace_reader_next(r, c, &rec, err);
			if (rc < 0)
				return -1;
			if (rc == 0) {
				done[c] = 1;
				live--;
				continue;
			}
			(*count)++;
			*sum += rec.a;
		}
	}
	return 0;
}

/** Entry point: see the comment at the top of the file. */
int main(int argc, char **argv)
{
	bool per_cpu = argc == 3 && strcmp(argv[2], "--per-cpu") == 0;
	struct trace_error err;
	struct trace_reader *r;
	struct rusage ru;
	uint64_t count = 0, sum = 0;
	double t0, t1;
	int rc;

	if (argc < 2 || (argc == 3 && !per_cpu) || argc > 3) {
		fprintf(stderr, "usage: bench-read-bin FILE [--per-cpu]\n");
		return 2;
	}
	t0 = now();
	r = trace_reader_open(argv[1], &err);
	if (!r) {
		fprintf(stderr, "%s: offset %" PRIu64 ": %s\n", argv[1],
			err.offset, err.message);
		return 3;
	}
	rc = per_cpu ? read_per_cpu(r, &count, &sum, &err)
		     : read_any(r, &count, &sum, &err);
	trace_reader_close(r);
	t1 = now();
	if (rc < 0) {
		fprintf(stderr, "%s: offset %" PRIu64 ": %s: %s\n", argv[1],
			err.offset, trace_error_name(err.code), err.message);
		return 3;
	}
	getrusage(RUSAGE_SELF, &ru);
	printf("read_s=%.3f cpu_s=%.3f records=%" PRIu64 " sum=%" PRIu64
	       " peak_rss_kib=%ld\n",
	       t1 - t0,
	       (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
		       (double)ru.ru_stime.tv_sec +
		       (double)ru.ru_stime.tv_usec / 1e6,
	       count, sum, ru.ru_maxrss);
	return 0;
}
