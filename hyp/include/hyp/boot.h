/* SPDX-License-Identifier: MIT */
/*
 * Portable boot: the primary CPU records BOOT and builds the tables; every
 * CPU then configures its EL2 registers (recorded) before entering the host.
 */
#ifndef HYP_BOOT_H
#define HYP_BOOT_H

#include <hyp/hyp.h>

/**
 * Primary CPU, once the CPU count is known: set up tracing's early buffers,
 * record BOOT, build the hyp stage-1 and the host stage-2.
 */
void hyp_boot_primary(const struct hyp_config *cfg);

/**
 * Every CPU (secondaries first record MARK cpu_up): write the EL2 registers
 * for the hyp's stage-1 and the host's stage-2, each write recorded.
 */
void hyp_boot_cpu(unsigned cpu, bool secondary);

/** Last thing before the first ERET to the host: MARK host_enter. */
void hyp_boot_host_enter(void);

#endif /* HYP_BOOT_H */
