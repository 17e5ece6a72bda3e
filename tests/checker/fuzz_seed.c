/* SPDX-License-Identifier: MIT */
/*
 * fuzz-seed TRACE OUT [MAX_RECORDS]: turn the first records of a real
 * recording into an input of the whole-pipeline fuzzer (fuzz_pipeline.h):
 * its CPU count, the flags of a whole run (renumbered, summary, exact
 * counters, outcome clean), then its records in file order.
 */
#include <stdio.h>
#include <stdlib.h>

#include <pkvm/trace.h>

#include "fuzz_pipeline.h"

int main(int argc, char **argv)
{
	unsigned long max = argc > 3 ? strtoul(argv[3], NULL, 0) : 2000;
	uint8_t prefix[FUZZ_PREFIX] = { 0 };
	struct trace_reader *r;
	struct trace_error err;
	struct pkvm_record rec;
	unsigned long n = 0;
	FILE *out;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: fuzz-seed TRACE OUT [MAX_RECORDS]\n");
		return 2;
	}
	r = trace_reader_open(argv[1], &err);
	if (!r) {
		fprintf(stderr, "fuzz-seed: %s: offset %llu: %s\n", argv[1],
			(unsigned long long)err.offset, err.message);
		return 1;
	}
	out = fopen(argv[2], "wb");
	if (!out) {
		perror(argv[2]);
		return 1;
	}
	prefix[0] = (uint8_t)((trace_reader_info(r)->cpu_count - 1) %
			      FUZZ_MAX_CPUS);
	prefix[1] = FUZZ_F_RENUMBER | FUZZ_F_SUMMARY | FUZZ_F_COUNTERS;
	prefix[2] = TRACE_OUTCOME_CLEAN;
	fwrite(prefix, 1, sizeof(prefix), out);
	while (n < max && trace_reader_next_any(r, &rec, &err) == 1) {
		fwrite(&rec, 1, sizeof(rec), out);
		n++;
	}
	trace_reader_close(r);
	return fclose(out) ? 1 : 0;
}
