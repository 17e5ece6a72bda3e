/* SPDX-License-Identifier: MIT */
/*
 * The pkvm-check command's pieces: options, file source, the run's
 * identity, reports in every format, ELF images and their DWARF, and the
 * subcommands (dump, stats, info, export). Nothing here is part of the
 * checker's core (checker.h); the core never calls back into it except
 * through the finding sink and the record source.
 */
#ifndef PKVM_CHECKER_CLI_H
#define PKVM_CHECKER_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <pkvm/trace.h>

#include "checker.h"

/* ---- options ------------------------------------------------------------ */

/** Report formats; machine formats never change the exit code. */
enum report_format {
	REPORT_TEXT,
	REPORT_JSON,
	REPORT_JUNIT,
	REPORT_TAP,
	REPORT_LAVA,
};

#define CLI_MAX_ELF 16

/** Every option of every subcommand, parsed once (main.c). */
struct cli_opts {
	const char *cmd; /* "check", "dump", "stats", "info", "export" */
	enum report_format fmt;
	uint64_t max_findings;
	bool bisect, quiet, ticks, progress_off;
	unsigned context;
	const char *elf[CLI_MAX_ELF];
	unsigned elf_count;
	bool no_auto_elf; /* --no-auto-elf: never load the header's images */
	const char *path;
	/* dump and export filters; times are parsed once the trace's
	 * counter frequency is known (cli_time_arg). */
	int cpu;	  /* -1: all */
	const char *kind; /* dump --kind */
	const char *from, *to;
	bool has_event;
	uint64_t event;
	bool has_page;
	uint64_t pfn;
	const char *hcall, *lock;
	/* export */
	bool chrome;
	const char *output;
	uint64_t finding; /* 1-based; 0: the first, if any */
	const char *window;
};

/**
 * A time given on the command line: seconds ("1.5", "0.000250") or,
 * with --ticks, counter ticks. Returns 0 with `*ticks`, or -1.
 */
int cli_time_arg(const char *s, uint64_t freq, bool as_ticks, uint64_t *ticks);

/**
 * Check `f` (stdout) for a write error once everything is written:
 * returns CK_EXIT_USAGE with a message on stderr if it failed, else
 * `code`. A report that was not written must never read as a verdict.
 */
int cli_out_done(FILE *f, int code);

/* ---- record source with progress -------------------------------------- */

struct progress;

/** A record source reading a trace file through libpkvmtrace. */
struct filesrc {
	struct ck_source src;
	struct trace_reader *reader;
	const char *path;
	struct progress *progress; /* NULL: no progress line */
};

int filesrc_open(struct filesrc *f, const char *path, char *msg, size_t len);
void filesrc_close(struct filesrc *f);

/**
 * A progress line on stderr for long checks, as pkvm-record has: only on
 * a terminal, at most four times a second, erased at the end. NULL when
 * stderr is not a terminal (CI logs stay clean) or `off`.
 */
struct progress *progress_new(const char *path, bool off);
void progress_records(struct progress *p, unsigned records, uint64_t offset);
void progress_end(struct progress *p);

/* ---- the run's identity ------------------------------------------------ */

/**
 * What a trace says about the run it recorded (its header's identity
 * lines, its end summary's outcome) and the pkvm-record command that
 * records the same run again. Filled from an open reader.
 */
struct run_info {
	const char *path;
	struct trace_info info;
	bool has_run; /* the end summary was read */
	struct trace_run run;
};

void run_info_read(struct run_info *ri, const char *path,
		   const struct trace_reader *r);
/** The value of identity key `key`, or NULL. */
const char *run_get(const struct run_info *ri, const char *key, char *buf,
		    size_t len);
/**
 * The pkvm-record command line that records the run again (its options
 * from the identity lines; QEMU arguments after "--"), or false if the
 * trace was not recorded by pkvm-record.
 */
bool run_record_command(const struct run_info *ri, char *buf, size_t len);
/** "run: ..." lines (system, commits, parameters, outcome, QEMU, repro). */
void run_print_text(FILE *out, const struct run_info *ri);
/** The identity as JSON members (no braces): "system":...,... */
void run_print_json(FILE *out, const struct run_info *ri);

/* ---- ELF images: instructions and source locations -------------------- */

struct elf_images;

struct elf_images *elf_images_new(void);
/** Load `path`; -1 with a message on error. */
int elf_images_add(struct elf_images *e, const char *path, char *msg,
		   size_t len);
/** The 4 bytes at virtual address `va`, if an image covers them. */
bool elf_images_read32(const struct elf_images *e, uint64_t va, uint32_t *out);
/** The code symbol holding `addr` (a function, or an assembly label). */
bool elf_images_symbol(const struct elf_images *e, uint64_t addr, char *name,
		       size_t len);
/** The commit an image of our hyp was built from (its pkvm-hyp-commit=
 *  stamp), or false. */
bool elf_image_commit(const char *path, char *out, size_t len);
void elf_images_free(struct elf_images *e);

/** A source location from DWARF. */
struct locate_hit {
	char func[128];
	/* locate_site: where `func` was inlined by the compiler, if it
	 * was ("inlined in pgtable_set at pgtable.c:315"), else "". */
	char inlined[128];
	char file[256]; /* as the compiler named it, without leading ../ */
	int line;
	const char *image; /* the image's path */
};

struct locate;

struct locate *locate_new(void);
/**
 * Read the DWARF of `path`. Returns 0, or -1 with a message (no such
 * file, not ELF, no debug information: then locations stay unknown).
 */
int locate_add(struct locate *l, const char *path, char *msg, size_t len);
/** The function and line holding code address `addr`. */
bool locate_addr(const struct locate *l, uint64_t addr, struct locate_hit *h);
/**
 * Where the hyp did something, from the code address of a site: the
 * innermost function not defined in a header, and its line that called
 * the header's inline code (the recording hooks and lock helpers would
 * otherwise name themselves at every site).
 */
bool locate_site(const struct locate *l, uint64_t addr, struct locate_hit *h);
/**
 * A site as dump and the reports' event lines show it: "site=pgtable.c:252"
 * (the file's last component and the line locate_site gives). False if
 * no image names it. `loc` is a struct locate (a trace_dump_opts hook).
 */
bool locate_site_token(const void *loc, uint64_t addr, char *buf, size_t len);
/** Where function `name` is defined. */
bool locate_func(const struct locate *l, const char *name,
		 struct locate_hit *h);
unsigned locate_count(const struct locate *l);
void locate_free(struct locate *l);

/* ---- reports ------------------------------------------------------------- */

/** What a report needs besides the findings. */
struct report_cfg {
	enum report_format fmt;
	bool quiet, ticks;
	const char *path; /* the trace, as given */
	const struct elf_images *elf;
	const struct locate *loc;
	const struct run_info *run; /* NULL: the header was unreadable */
	uint64_t counter_freq;
	uint64_t max_findings;
};

struct report;

struct report *report_new(FILE *out, const struct report_cfg *cfg);
/** The finding sink to pass to ck_run. */
void report_finding(void *ctx, const struct ck_finding *f);
/**
 * From now on, write to `out`: the run's identity first, then what was
 * written so far (the findings held back until the verdict was known) if
 * `keep`, else forget every finding seen (a corrupt trace blames nobody).
 * Returns -1 if the held findings could not be read back.
 */
int report_release(struct report *r, FILE *out, bool keep);
/** True if the first finding names an earlier event to show; its index. */
bool report_explain_wanted(const struct report *r, uint64_t *index);
/**
 * Grouped later findings and the summary, in the report's format.
 * `explain` is the event report_explain_wanted asked for (found by a
 * second pass), or NULL.
 */
void report_finish(struct report *r, const struct ck_summary *sum, int code,
		   const struct ck_event *explain);
void report_free(struct report *r);

/* ---- the checks a report lists ------------------------------------------ */

/** One check of the profile, as checker/README.md "The checks" lists it. */
struct check_info {
	const char *name;
	const char *what;
};

/** The checks, in README order; `*count` gets how many. */
const struct check_info *checks_list(unsigned *count);

/* ---- subcommands ----------------------------------------------------------
 */

int cmd_dump(const struct cli_opts *o);
int cmd_stats(const struct cli_opts *o);
int cmd_info(const struct cli_opts *o);
int cmd_export(const struct cli_opts *o);

/**
 * The page tables installed up to time `ts` (pkvm/dump.h trace_tables),
 * read from the start of `path` in file order, so that a report can say
 * where a descriptor store goes. Empty if the file cannot be read.
 */
struct trace_tables *cli_tables_until(const char *path, uint64_t ts);

/** Replay `path` to event `index` and copy it out; false if not there. */
bool cli_capture(const char *path, uint64_t index, struct ck_event *out);

/** The name of a lock id, hypercall id: valid names for messages. */
unsigned cli_lock_id(const char *name);
unsigned cli_hcall_id(const char *name);
/** "a, b, c": every valid name of a kind, lock or hypercall. */
void cli_names(char *buf, size_t len, const char *what);

#endif /* PKVM_CHECKER_CLI_H */
