/* SPDX-License-Identifier: MIT */
/* pkvm-record's command-line values that need more than a number. */
#ifndef PKVM_RECORD_CLI_H
#define PKVM_RECORD_CLI_H

#include <stdint.h>

/**
 * A workload scenario by name or number (workload/README.md
 * "Scenarios"): 0 on success, else -1 with the valid ones on stderr.
 */
int record_scenario_parse(const char *s, uint64_t *num, const char **name);

/**
 * The default path of image `name` ("hyp.elf", "hyp-test.elf",
 * "workload.elf"; `build` its path in the build tree): a recorder run
 * from its build tree uses what was just built there; an installed one
 * what `meson install` put beside it (the data directory relative to the
 * binary, so a DESTDIR or moved installation finds its own), else in the
 * configured data directory, else the build tree's.
 */
const char *record_image_default(const char *name, const char *build);

#endif /* PKVM_RECORD_CLI_H */
