/* SPDX-License-Identifier: MIT */
/*
 * The fake arch uses the real AArch64 encoding: the checker decodes exactly
 * these bits (abi.h), and traces generated natively must match the real
 * hyp's. Portable code still only reaches them through arch_pte_*.
 */
#include "../../../aarch64/include/arch/pte.h"
