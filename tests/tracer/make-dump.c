/* SPDX-License-Identifier: MIT */
/*
 * make-dump: write a raw ring dump (tracer/README.md "Dump format") filled
 * by the fake producer, for the --from-dump tests.
 *
 *   make-dump [-c CPUS] [-e EVENTS] [-s CONSUMED] [-g] OUT
 *
 * Each CPU gets E events of mixed kinds; with C, the first C records of
 * each ring count as already consumed (tail = C), so the dump starts in the
 * middle of the stream as a device-side agent's would.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "fake_producer.h"
#include "record.h"

static const unsigned kinds[] = { PKVM_EV_MARK,	      PKVM_EV_PTE_WRITE,
				  PKVM_EV_TRAP_ENTRY, PKVM_EV_TLBI,
				  PKVM_EV_TRAP_EXIT,  PKVM_EV_NONDET };
#define KIND_COUNT (sizeof(kinds) / sizeof(kinds[0]))

static uint64_t ring_size(uint64_t records)
{
	uint64_t nr = RECORD_MIN_NR_RECORDS;

	while (nr < records)
		nr *= 2;
	return nr;
}

int main(int argc, char **argv)
{
	unsigned long cpus = 2, events = 40, consumed = 0;
	bool gap = false;
	struct fake_producer p;
	struct record_drain d;
	char msg[256];
	int c;

	while ((c = getopt(argc, argv, "c:e:s:g")) != -1) {
		if (c == 'c')
			cpus = strtoul(optarg, NULL, 0);
		else if (c == 'e')
			events = strtoul(optarg, NULL, 0);
		else if (c == 's')
			consumed = strtoul(optarg, NULL, 0);
		else if (c == 'g')
			gap = true;
		else
			return 2;
	}
	if (optind + 1 != argc || cpus < 1 || cpus > PKVM_RING_MAX_CPUS ||
	    events > 100000) {
		fprintf(stderr, "usage: make-dump [-c CPUS] [-e EVENTS] "
				"[-s CONSUMED] [-g] OUT\n");
		return 2;
	}
	uint64_t nr = ring_size(events * PKVM_EVENT_MAX_RECORDS);
	uint64_t size = fake_producer_mem_size((unsigned)cpus, nr);
	uint8_t *mem = calloc(1, size);
	struct record_mem rm = { mem, FAKE_PA_BASE, size };

	if (!mem)
		return 1;
	fake_producer_init(&p, mem, (unsigned)cpus, nr, PKVM_RING_WAIT);
	for (unsigned i = 0; i < cpus; i++) {
		for (unsigned long e = 0; e < events; e++) {
			if (gap && i == 0 && e == events / 2)
				p.seq[0]++;
			fake_producer_emit(&p, i, kinds[e % KIND_COUNT]);
		}
		if (consumed <= p.ctrl->cpu[i].head)
			p.ctrl->cpu[i].tail = consumed;
	}
	msg[0] = '\0';
	if (record_drain_attach(&d, p.ctrl, &rm, NULL) ||
	    record_dump_save(&d, argv[optind], false, msg, sizeof(msg))) {
		fprintf(stderr, "make-dump: %s%s\n", d.message, msg);
		return 1;
	}
	record_drain_release(&d);
	free(mem);
	return 0;
}
