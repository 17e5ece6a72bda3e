/* SPDX-License-Identifier: MIT */
/*
 * A small reader of an ELF64 image's symbol table: enough for pkvm-record
 * to find the hypervisor's producer state and early buffers in guest RAM
 * after the machine stopped (salvage.c). Little-endian ELF64 only (our
 * hyp.elf: AArch64), read with bounds checks on every offset, since the
 * image is user input: a malformed one gives an error naming the file and
 * the byte offset, never a wild read.
 */
#ifndef PKVM_RECORD_ELFSYM_H
#define PKVM_RECORD_ELFSYM_H

#include <stddef.h>
#include <stdint.h>

/** An image's symbols, loaded in memory. */
struct elfsym {
	uint8_t *data; /* the whole file */
	size_t size;
	const uint8_t *syms; /* the SHT_SYMTAB entries */
	uint64_t sym_count;
	const char *strs; /* its string table */
	uint64_t strs_size;
	uint16_t machine; /* e_machine */
};

/** One symbol: its value (hyp VA) and size in bytes. */
struct elfsym_sym {
	uint64_t value;
	uint64_t size;
};

/**
 * Load `path` and find its symbol table. Returns 0, or -1 with a message
 * in `msg` naming the file (and the byte offset when the file is malformed).
 */
int elfsym_open(struct elfsym *e, const char *path, char *msg, size_t msg_len);

/** The data object or function called `name`: 0, or -1 if there is none. */
int elfsym_find(const struct elfsym *e, const char *name,
		struct elfsym_sym *out);

/**
 * The sized symbol whose [value, value + size) holds `addr` (e.g. the early
 * buffer a pointer points into): 0, or -1 if none does.
 */
int elfsym_containing(const struct elfsym *e, uint64_t addr,
		      struct elfsym_sym *out);

void elfsym_close(struct elfsym *e);

#endif /* PKVM_RECORD_ELFSYM_H */
