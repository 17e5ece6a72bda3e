/* SPDX-License-Identifier: MIT */
/*
 * The second architectural rule: break-before-make (check
 * `break-before-make`; bbm.c says what it requires and why). Private to
 * checker/src: the replay (check.c) calls it at descriptor stores.
 */
#ifndef PKVM_CHECKER_BBM_H
#define PKVM_CHECKER_BBM_H

struct ck;
struct ck_event;

/**
 * A PTE_WRITE, after tlb_pte_write (it needs tlb.c's unfinished breaks)
 * and before the model applies it (it needs the old descriptor). Also
 * notes the store as the maker of the descriptor it writes.
 */
void bbm_pte_write(struct ck *ck, const struct ck_event *ev);

#endif /* PKVM_CHECKER_BBM_H */
