/* SPDX-License-Identifier: MIT */
/* The pkvm-check command's pieces: file source, reports, ELF images. */
#ifndef PKVM_CHECKER_CLI_H
#define PKVM_CHECKER_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <pkvm/trace.h>

#include "checker.h"

/** A record source reading a trace file through libpkvmtrace. */
struct filesrc {
	struct ck_source src;
	struct trace_reader *reader;
	const char *path;
};

int filesrc_open(struct filesrc *f, const char *path, char *msg, size_t len);
void filesrc_close(struct filesrc *f);

/** Loadable segments of ELF64 images given with --elf. */
struct elf_images;

struct elf_images *elf_images_new(void);
/** Load `path`; -1 with a message on error. */
int elf_images_add(struct elf_images *e, const char *path, char *msg,
		   size_t len);
/** The 4 bytes at virtual address `va`, if an image covers them. */
bool elf_images_read32(const struct elf_images *e, uint64_t va, uint32_t *out);
void elf_images_free(struct elf_images *e);

enum report_format { REPORT_TEXT, REPORT_JSON };

struct report;

struct report *report_new(FILE *out, enum report_format fmt, bool quiet,
			  const struct elf_images *elf);
/** The finding sink to pass to ck_run. */
void report_finding(void *ctx, const struct ck_finding *f);
void report_release(struct report *r, FILE *out, bool keep);
/** True if the first finding names an earlier event to show; its index. */
bool report_explain_wanted(const struct report *r, uint64_t *index);
/**
 * Grouped later findings and the summary line / object. `explain` is the
 * event report_explain_wanted asked for (found by a second pass), or NULL.
 */
void report_finish(struct report *r, const struct ck_summary *sum, int code,
		   const struct ck_event *explain);
void report_free(struct report *r);

#endif /* PKVM_CHECKER_CLI_H */
