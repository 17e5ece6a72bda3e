/* SPDX-License-Identifier: MIT */
/*
 * ELF64 symbol table reader (elfsym.h). Only what salvage needs: the
 * section headers, the one SHT_SYMTAB and the string table it links to.
 */
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elfsym.h"

/* Little-endian fields, whatever the host. */
static uint64_t le(const uint8_t *p, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = bytes; i-- > 0;)
		v = v << 8 | p[i];
	return v;
}

static int load(struct elfsym *e, const char *path, char *msg, size_t len)
{
	FILE *f = fopen(path, "rb");
	long size;

	if (!f) {
		snprintf(msg, len, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fseek(f, 0, SEEK_END) || (size = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET)) {
		snprintf(msg, len, "%s: cannot seek: %s", path,
			 strerror(errno));
		fclose(f);
		return -1;
	}
	e->size = (size_t)size;
	e->data = malloc(e->size ? e->size : 1);
	if (!e->data || fread(e->data, 1, e->size, f) != e->size) {
		snprintf(msg, len, "%s: cannot read %zu bytes", path, e->size);
		fclose(f);
		return -1;
	}
	fclose(f);
	return 0;
}

/* True if [off, off + n) lies inside the file. */
static int inside(const struct elfsym *e, uint64_t off, uint64_t n)
{
	return off <= e->size && n <= e->size - off;
}

#define BAD(off, ...)                                                          \
	do {                                                                   \
		int k_ = snprintf(msg, len, "%s: offset %llu: ", path,         \
				  (unsigned long long)(off));                  \
		if (k_ > 0 && (size_t)k_ < len)                                \
			snprintf(msg + k_, len - (size_t)k_, __VA_ARGS__);     \
		return -1;                                                     \
	} while (0)

/* The ELF header: ELF64, little-endian, section headers inside the file. */
static int header(struct elfsym *e, const char *path, char *msg, size_t len,
		  uint64_t *shoff, uint64_t *shnum)
{
	const uint8_t *h = e->data;
	uint64_t shentsize;

	if (!inside(e, 0, sizeof(Elf64_Ehdr)) ||
	    memcmp(h, ELFMAG, SELFMAG) != 0)
		BAD(0, "not an ELF file");
	if (h[EI_CLASS] != ELFCLASS64 || h[EI_DATA] != ELFDATA2LSB)
		BAD(EI_CLASS, "not a little-endian ELF64 file");
	e->machine = (uint16_t)le(h + offsetof(Elf64_Ehdr, e_machine), 2);
	*shoff = le(h + offsetof(Elf64_Ehdr, e_shoff), 8);
	shentsize = le(h + offsetof(Elf64_Ehdr, e_shentsize), 2);
	*shnum = le(h + offsetof(Elf64_Ehdr, e_shnum), 2);
	if (shentsize != sizeof(Elf64_Shdr) ||
	    *shnum > e->size / sizeof(Elf64_Shdr) ||
	    !inside(e, *shoff, *shnum * sizeof(Elf64_Shdr)))
		BAD(offsetof(Elf64_Ehdr, e_shoff),
		    "section headers (%llu at %llu) are not inside the file",
		    (unsigned long long)*shnum, (unsigned long long)*shoff);
	return 0;
}

int elfsym_open(struct elfsym *e, const char *path, char *msg, size_t len)
{
	uint64_t shoff, shnum;

	memset(e, 0, sizeof(*e));
	if (load(e, path, msg, len) ||
	    header(e, path, msg, len, &shoff, &shnum))
		goto fail;
	for (uint64_t i = 0; i < shnum; i++) {
		const uint8_t *sh = e->data + shoff + i * sizeof(Elf64_Shdr);
		uint64_t at = shoff + i * sizeof(Elf64_Shdr);
		uint64_t off, size, link, soff, ssize;
		const uint8_t *lsh;

		if (le(sh + offsetof(Elf64_Shdr, sh_type), 4) != SHT_SYMTAB)
			continue;
		off = le(sh + offsetof(Elf64_Shdr, sh_offset), 8);
		size = le(sh + offsetof(Elf64_Shdr, sh_size), 8);
		link = le(sh + offsetof(Elf64_Shdr, sh_link), 4);
		if (!inside(e, off, size) || link >= shnum) {
			snprintf(msg, len,
				 "%s: offset %llu: the symbol table is not "
				 "inside the file",
				 path, (unsigned long long)at);
			goto fail;
		}
		lsh = e->data + shoff + link * sizeof(Elf64_Shdr);
		soff = le(lsh + offsetof(Elf64_Shdr, sh_offset), 8);
		ssize = le(lsh + offsetof(Elf64_Shdr, sh_size), 8);
		if (!inside(e, soff, ssize) || ssize == 0 ||
		    e->data[soff + ssize - 1] != '\0') {
			snprintf(
				msg, len,
				"%s: offset %llu: the symbol names are not "
				"inside the file",
				path,
				(unsigned long long)(shoff +
						     link * sizeof(Elf64_Shdr)));
			goto fail;
		}
		e->syms = e->data + off;
		e->sym_count = size / sizeof(Elf64_Sym);
		e->strs = (const char *)e->data + soff;
		e->strs_size = ssize;
		return 0;
	}
	snprintf(msg, len, "%s: no symbol table (a stripped image?)", path);
fail:
	elfsym_close(e);
	return -1;
}

/* Symbol i: its name (NULL if out of range), value and size. */
static const char *sym(const struct elfsym *e, uint64_t i,
		       struct elfsym_sym *out, unsigned *type)
{
	const uint8_t *s = e->syms + i * sizeof(Elf64_Sym);
	uint64_t name = le(s + offsetof(Elf64_Sym, st_name), 4);

	out->value = le(s + offsetof(Elf64_Sym, st_value), 8);
	out->size = le(s + offsetof(Elf64_Sym, st_size), 8);
	*type = ELF64_ST_TYPE(s[offsetof(Elf64_Sym, st_info)]);
	return name < e->strs_size ? e->strs + name : NULL;
}

int elfsym_find(const struct elfsym *e, const char *name,
		struct elfsym_sym *out)
{
	for (uint64_t i = 0; i < e->sym_count; i++) {
		unsigned type;
		const char *n = sym(e, i, out, &type);

		if (n && (type == STT_OBJECT || type == STT_FUNC) &&
		    strcmp(n, name) == 0)
			return 0;
	}
	return -1;
}

int elfsym_containing(const struct elfsym *e, uint64_t addr,
		      struct elfsym_sym *out)
{
	for (uint64_t i = 0; i < e->sym_count; i++) {
		unsigned type;

		sym(e, i, out, &type);
		if (type == STT_OBJECT && out->size &&
		    addr - out->value < out->size)
			return 0;
	}
	return -1;
}

void elfsym_close(struct elfsym *e)
{
	free(e->data);
	memset(e, 0, sizeof(*e));
}
