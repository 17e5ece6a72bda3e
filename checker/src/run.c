// SPDX-License-Identifier: MIT
/*
 * The run a trace recorded, for people who must reproduce it: the
 * header's identity lines (pkvm-record writes system, commits, seed,
 * operations, CPUs, mode, images and the QEMU command: tracer/README.md
 * "Header identity"), how the run ended (the end summary), and the
 * pkvm-record command that records the same run again, rebuilt from those
 * lines so that traces recorded before this command existed get one too.
 */
#include <stdlib.h>
#include <string.h>

#include <pkvm/dump.h>

#include "cli.h"

/** See cli.h. */
void run_info_read(struct run_info *ri, const char *path,
		   const struct trace_reader *r)
{
	const struct trace_run *run = trace_reader_run(r);

	ri->path = path;
	ri->info = *trace_reader_info(r);
	ri->has_run = run != NULL;
	if (run)
		ri->run = *run;
}

/** See cli.h. */
const char *run_get(const struct run_info *ri, const char *key, char *buf,
		    size_t len)
{
	size_t klen = strlen(key);

	for (const char *p = ri->info.identity; *p;) {
		const char *nl = strchr(p, '\n');
		size_t l = nl ? (size_t)(nl - p) : strlen(p);

		if (l > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
			snprintf(buf, len, "%.*s", (int)(l - klen - 1),
				 p + klen + 1);
			return buf;
		}
		p += l + (nl != NULL);
	}
	return NULL;
}

/* Append `word` to a command line, quoted for a POSIX shell if needed. */
static void run_word(char *buf, size_t len, const char *word)
{
	size_t pos = strlen(buf);
	bool plain = *word != '\0';

	for (const char *c = word; *c; c++)
		plain &= strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRS"
				"TUVWXYZ0123456789,._-=/:+@%",
				*c) != NULL;
	if (pos && pos + 1 < len)
		buf[pos++] = ' ';
	buf[pos] = '\0';
	if (plain) {
		snprintf(buf + pos, len - pos, "%s", word);
		return;
	}
	snprintf(buf + pos, len - pos, "'");
	for (const char *c = word; *c; c++) {
		pos = strlen(buf);
		snprintf(buf + pos, len - pos, *c == '\'' ? "'\\''" : "%c", *c);
	}
	pos = strlen(buf);
	snprintf(buf + pos, len - pos, "'");
}

/*
 * The words of the recorded QEMU command, as pkvm-record quoted them
 * (plain words, or '...' with ' written '\''). Returns the count.
 */
static unsigned run_split(const char *line, char words[][256], unsigned max)
{
	unsigned n = 0;

	while (*line && n < max) {
		size_t w = 0;

		while (*line == ' ')
			line++;
		if (!*line)
			break;
		while (*line && *line != ' ') {
			if (*line == '\'') {
				for (line++; *line && *line != '\''; line++)
					if (w + 1 < 256)
						words[n][w++] = *line;
				if (*line)
					line++;
			} else if (*line == '\\' && line[1]) {
				if (w + 1 < 256)
					words[n][w++] = line[1];
				line += 2;
			} else {
				if (w + 1 < 256)
					words[n][w++] = *line;
				line++;
			}
		}
		words[n++][w] = '\0';
	}
	return n;
}

/*
 * What the QEMU command says that the identity's keys do not: the TCG
 * threading, a QEMU binary other than the default, and the extra
 * arguments the user gave after "--" (everything after the run's
 * parameters, which pkvm-record passes as the last loader devices).
 */
static void run_qemu_parts(const char *qemu, char *opts, size_t olen, char *env,
			   size_t elen, char *extra, size_t xlen)
{
	static char words[96][256];
	unsigned n = run_split(qemu, words, 96), last = 0;
	const char *base;

	opts[0] = env[0] = extra[0] = '\0';
	if (n == 0)
		return;
	base = strrchr(words[0], '/');
	base = base ? base + 1 : words[0];
	if (strcmp(base, "qemu-system-aarch64") != 0)
		snprintf(env, elen, "PKVM_QEMU=%s", words[0]);
	for (unsigned i = 1; i < n; i++) {
		if (strcmp(words[i], "tcg,thread=multi") == 0)
			snprintf(opts, olen, "--tcg multi");
		/* The last of the run's own words: our hyp's loader devices,
		 * or Linux's command line (pkvm-record --system). */
		if (strncmp(words[i], "loader,addr=", 12) == 0 ||
		    (i > 1 && strcmp(words[i - 1], "-append") == 0))
			last = i;
	}
	for (unsigned i = last ? last + 1 : n; i < n; i++)
		run_word(extra, xlen, words[i]);
}

/** See cli.h. */
bool run_record_command(const struct run_info *ri, char *buf, size_t len)
{
	static const char *const keys[][2] = {
		{ "cpus", "--cpus" },  { "seed", "--seed" },
		{ "ops", "--ops" },    { "scenario", "--scenario" },
		{ "mode", "--mode" },  { "ring_pages", "--ring-pages" },
		{ "hyp", "--hyp" },    { "workload", "--workload" },
		{ "rounds", "--ops" }, /* linux-6.12: the driver's rounds */
	};
	char v[1024], opts[64], env[512], extra[1024];
	static char qemu[4096];

	buf[0] = '\0';
	if (!run_get(ri, "recorder", v, sizeof(v)) ||
	    strncmp(v, "pkvm-record", 11) != 0)
		return false;
	if (run_get(ri, "source", v, sizeof(v)) &&
	    strncmp(v, "dump ", 5) == 0) {
		run_word(buf, len, "pkvm-record");
		run_word(buf, len, "--from-dump");
		run_word(buf, len, v + 5);
		run_word(buf, len, "-o");
		run_word(buf, len, "trace.zst");
		return true;
	}
	run_qemu_parts(run_get(ri, "qemu", qemu, sizeof(qemu)) ? qemu : "",
		       opts, sizeof(opts), env, sizeof(env), extra,
		       sizeof(extra));
	if (env[0])
		run_word(buf, len, env);
	run_word(buf, len, "pkvm-record");
	if (run_get(ri, "system", v, sizeof(v)) &&
	    strcmp(v, TRACE_SYSTEM_HYP)) {
		run_word(buf, len, "--system");
		run_word(buf, len, v);
	}
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (run_get(ri, keys[i][0], v, sizeof(v))) {
			run_word(buf, len, keys[i][1]);
			run_word(buf, len, v);
		}
	if (opts[0])
		snprintf(buf + strlen(buf), len - strlen(buf), " %s", opts);
	run_word(buf, len, "-o");
	run_word(buf, len, "trace.zst");
	if (extra[0])
		snprintf(buf + strlen(buf), len - strlen(buf), " -- %s", extra);
	return true;
}

/* Keys the "run:" line leaves to the lines after it, or says otherwise. */
static bool run_key_shown_apart(const char *key, size_t len)
{
	static const char *const apart[] = { "recorder", "recorder_commit",
					     "hyp",	 "workload",
					     "qemu",	 "cpus" };

	for (size_t i = 0; i < sizeof(apart) / sizeof(apart[0]); i++)
		if (strlen(apart[i]) == len && strncmp(key, apart[i], len) == 0)
			return true;
	return false;
}

static void run_outcome_text(const struct run_info *ri, char *buf, size_t len)
{
	if (ri->info.version_major < 4)
		snprintf(buf, len, "not recorded (format %u.%u has no outcome)",
			 ri->info.version_major, ri->info.version_minor);
	else if (!ri->has_run)
		snprintf(buf, len, "unknown: the trace has no end summary");
	else
		snprintf(buf, len, "%s (%s)",
			 trace_outcome_name(ri->run.outcome)
				 ? trace_outcome_name(ri->run.outcome)
				 : "?",
			 ri->run.why[0] ? ri->run.why
					: trace_outcome_text(ri->run.outcome));
}

/** See cli.h. */
void run_print_text(FILE *out, const struct run_info *ri)
{
	static char cmd[8192], qemu[4096];
	char outcome[300];

	fprintf(out, "run: %s, format %u.%u, %u CPUs, counter %llu Hz;",
		ri->info.system, ri->info.version_major, ri->info.version_minor,
		ri->info.cpu_count, (unsigned long long)ri->info.counter_freq);
	for (const char *p = ri->info.identity; *p;) {
		const char *nl = strchr(p, '\n'), *eq = strchr(p, '=');
		size_t l = nl ? (size_t)(nl - p) : strlen(p);

		if (eq && eq < p + l &&
		    !run_key_shown_apart(p, (size_t)(eq - p)))
			fprintf(out, " %.*s", (int)l, p);
		p += l + (nl != NULL);
	}
	run_outcome_text(ri, outcome, sizeof(outcome));
	fprintf(out, "\n  outcome: %s\n", outcome);
	if (run_get(ri, "qemu", qemu, sizeof(qemu)) && qemu[0])
		fprintf(out, "  qemu: %s\n", qemu);
	if (run_record_command(ri, cmd, sizeof(cmd)))
		fprintf(out, "  record again: %s\n", cmd);
}

/** See cli.h. */
void run_print_json(FILE *out, const struct run_info *ri)
{
	static char cmd[8192];
	char outcome[300];
	bool first = true;

	fprintf(out, "\"trace\":");
	trace_json_str(out, ri->path);
	fprintf(out,
		",\"format\":\"%u.%u\",\"system\":", ri->info.version_major,
		ri->info.version_minor);
	trace_json_str(out, ri->info.system);
	fprintf(out, ",\"abi\":%u,\"cpus\":%u,\"counter_freq\":%llu",
		ri->info.abi_version, ri->info.cpu_count,
		(unsigned long long)ri->info.counter_freq);
	fprintf(out, ",\"identity\":{");
	for (const char *p = ri->info.identity; *p;) {
		const char *nl = strchr(p, '\n'), *eq = strchr(p, '=');
		size_t l = nl ? (size_t)(nl - p) : strlen(p);
		char key[128], val[4096];

		if (eq && eq < p + l) {
			snprintf(key, sizeof(key), "%.*s", (int)(eq - p), p);
			snprintf(val, sizeof(val), "%.*s",
				 (int)(l - (size_t)(eq - p) - 1), eq + 1);
			fprintf(out, "%s", first ? "" : ",");
			trace_json_str(out, key);
			fprintf(out, ":");
			trace_json_str(out, val);
			first = false;
		}
		p += l + (nl != NULL);
	}
	fprintf(out, "}");
	if (ri->has_run && ri->info.version_major >= 4) {
		fprintf(out, ",\"outcome\":");
		trace_json_str(out,
			       trace_outcome_name(ri->run.outcome)
				       ? trace_outcome_name(ri->run.outcome)
				       : "?");
		fprintf(out, ",\"why\":");
		trace_json_str(out, ri->run.why);
	} else {
		run_outcome_text(ri, outcome, sizeof(outcome));
		fprintf(out, ",\"outcome\":null,\"why\":");
		trace_json_str(out, outcome);
	}
	if (run_record_command(ri, cmd, sizeof(cmd))) {
		fprintf(out, ",\"record_command\":");
		trace_json_str(out, cmd);
	}
}
