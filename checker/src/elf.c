// SPDX-License-Identifier: MIT
/*
 * Just enough ELF64 to find an instruction: the loadable segments (PT_LOAD)
 * of little-endian AArch64 images, kept in memory, looked up by virtual or
 * physical address (the workload runs with its MMU off, VA = PA); and the
 * symbol table, which names code DWARF does not describe (assembly).
 */
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

struct elf_segment {
	uint64_t vaddr, paddr, size;
	uint8_t *data;
};

struct elf_symbol {
	uint64_t value, size;
	char *name;
};

struct elf_images {
	struct elf_segment *seg;
	size_t count, cap;
	struct elf_symbol *sym;
	size_t sym_count, sym_cap;
};

struct elf_images *elf_images_new(void)
{
	return calloc(1, sizeof(struct elf_images));
}

void elf_images_free(struct elf_images *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->count; i++)
		free(e->seg[i].data);
	for (size_t i = 0; i < e->sym_count; i++)
		free(e->sym[i].name);
	free(e->seg);
	free(e->sym);
	free(e);
}

static int elf_read_at(FILE *f, uint64_t off, void *buf, size_t len)
{
	if (fseeko(f, (off_t)off, SEEK_SET) != 0)
		return -1;
	return fread(buf, 1, len, f) == len ? 0 : -1;
}

static int elf_add_segment(struct elf_images *e, FILE *f, const Elf64_Phdr *ph)
{
	struct elf_segment s = { ph->p_vaddr, ph->p_paddr, ph->p_filesz, NULL };

	if (ph->p_filesz == 0 || ph->p_filesz > (256u << 20))
		return 0;
	s.data = malloc(ph->p_filesz);
	if (!s.data || elf_read_at(f, ph->p_offset, s.data, ph->p_filesz)) {
		free(s.data);
		return -1;
	}
	if (e->count == e->cap) {
		size_t cap = e->cap ? 2 * e->cap : 8;
		struct elf_segment *n = realloc(e->seg, cap * sizeof(*n));

		if (!n) {
			free(s.data);
			return -1;
		}
		e->seg = n;
		e->cap = cap;
	}
	e->seg[e->count++] = s;
	return 0;
}

static int elf_add_symbol(struct elf_images *e, const Elf64_Sym *sym,
			  const char *name)
{
	if (e->sym_count == e->sym_cap) {
		size_t cap = e->sym_cap ? 2 * e->sym_cap : 256;
		struct elf_symbol *n = realloc(e->sym, cap * sizeof(*n));

		if (!n)
			return -1;
		e->sym = n;
		e->sym_cap = cap;
	}
	e->sym[e->sym_count].value = sym->st_value;
	e->sym[e->sym_count].size = sym->st_size;
	e->sym[e->sym_count].name = strdup(name);
	if (!e->sym[e->sym_count].name)
		return -1;
	e->sym_count++;
	return 0;
}

/*
 * The code symbols of the image's symbol table: functions, and the
 * untyped labels of assembly files (not the $x/$d mapping symbols). A
 * table that cannot be read is no error: names are a convenience.
 */
static void elf_read_symbols(struct elf_images *e, FILE *f,
			     const Elf64_Ehdr *eh)
{
	for (unsigned i = 0; i < eh->e_shnum; i++) {
		Elf64_Shdr sh, str;
		char *names;

		if (eh->e_shentsize != sizeof(sh) ||
		    elf_read_at(f, eh->e_shoff + (uint64_t)i * sizeof(sh), &sh,
				sizeof(sh)) ||
		    sh.sh_type != SHT_SYMTAB ||
		    sh.sh_entsize != sizeof(Elf64_Sym) ||
		    elf_read_at(
			    f, eh->e_shoff + (uint64_t)sh.sh_link * sizeof(str),
			    &str, sizeof(str)) ||
		    str.sh_size > (16u << 20))
			continue;
		names = malloc(str.sh_size + 1);
		if (!names ||
		    elf_read_at(f, str.sh_offset, names, str.sh_size)) {
			free(names);
			continue;
		}
		names[str.sh_size] = '\0';
		for (uint64_t k = 1; k < sh.sh_size / sizeof(Elf64_Sym); k++) {
			Elf64_Sym sym;
			unsigned type;

			if (elf_read_at(f, sh.sh_offset + k * sizeof(sym), &sym,
					sizeof(sym)))
				break;
			type = ELF64_ST_TYPE(sym.st_info);
			if ((type != STT_FUNC && type != STT_NOTYPE) ||
			    sym.st_shndx == SHN_UNDEF ||
			    sym.st_shndx >= SHN_LORESERVE ||
			    sym.st_name >= str.sh_size ||
			    names[sym.st_name] == '\0' ||
			    names[sym.st_name] == '$')
				continue;
			if (elf_add_symbol(e, &sym, names + sym.st_name))
				break;
		}
		free(names);
	}
}

int elf_images_add(struct elf_images *e, const char *path, char *msg,
		   size_t len)
{
	FILE *f = fopen(path, "rb");
	Elf64_Ehdr eh;
	int rc = -1;

	if (!f) {
		snprintf(msg, len, "%s: cannot open", path);
		return -1;
	}
	if (elf_read_at(f, 0, &eh, sizeof(eh)) ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh.e_phentsize != sizeof(Elf64_Phdr)) {
		snprintf(msg, len, "%s: not a little-endian ELF64 image", path);
		goto out;
	}
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;

		if (elf_read_at(f, eh.e_phoff + (uint64_t)i * sizeof(ph), &ph,
				sizeof(ph))) {
			snprintf(
				msg, len,
				"%s: offset %llu: truncated program "
				"header",
				path,
				(unsigned long long)(eh.e_phoff +
						     (uint64_t)i * sizeof(ph)));
			goto out;
		}
		if (ph.p_type == PT_LOAD && elf_add_segment(e, f, &ph)) {
			snprintf(msg, len,
				 "%s: offset %llu: cannot read "
				 "segment",
				 path, (unsigned long long)ph.p_offset);
			goto out;
		}
	}
	elf_read_symbols(e, f, &eh);
	rc = 0;
out:
	fclose(f);
	return rc;
}

/** See cli.h. */
bool elf_images_symbol(const struct elf_images *e, uint64_t addr, char *name,
		       size_t len)
{
	const struct elf_symbol *best = NULL;

	for (size_t i = 0; e && i < e->sym_count; i++) {
		const struct elf_symbol *s = &e->sym[i];

		if (s->value > addr || (s->size && addr - s->value >= s->size))
			continue;
		/* The closest start below it; a sized symbol over a label. */
		if (!best || s->value > best->value ||
		    (s->value == best->value && s->size && !best->size))
			best = s;
	}
	if (!best)
		return false;
	snprintf(name, len, "%s", best->name);
	return true;
}

static bool elf_in(uint64_t base, uint64_t size, uint64_t a)
{
	return a >= base && a - base + 4 <= size;
}

bool elf_images_read32(const struct elf_images *e, uint64_t va, uint32_t *out)
{
	for (size_t i = 0; e && i < e->count; i++) {
		const struct elf_segment *s = &e->seg[i];
		uint64_t off;

		if (elf_in(s->vaddr, s->size, va))
			off = va - s->vaddr;
		else if (elf_in(s->paddr, s->size, va))
			off = va - s->paddr;
		else
			continue;
		memcpy(out, s->data + off, 4);
		return true;
	}
	return false;
}

/*
 * The stamp hyp/src/commit.c.in puts in our hyp images, read as
 * pkvm-record reads it (tracer/record/main.c): "pkvm-hyp-commit=" and the
 * commit, NUL-terminated.
 */
bool elf_image_commit(const char *path, char *out, size_t len)
{
	/*
	 * Read in small windows, each keeping the previous one's tail, so a
	 * stamp across a window's edge is found and the checker's memory
	 * does not depend on the image's size (a large buffer here also
	 * raised malloc's mmap threshold for the rest of the run).
	 */
	static const char prefix[] = "pkvm-hyp-commit=";
	enum { WINDOW = 64u << 10, KEEP = 256 };
	char buf[WINDOW + KEEP];
	FILE *f = fopen(path, "rb");
	size_t kept = 0, got;
	bool ok = false;

	if (!f || len == 0)
		goto out;
	while ((got = fread(buf + kept, 1, WINDOW, f)) > 0) {
		size_t size = kept + got;
		const char *p = memmem(buf, size, prefix, sizeof(prefix) - 1);

		if (p) {
			size_t n = 0, at = (size_t)(p - buf);

			/* The stamp must be whole in the buffer: read on. */
			if (size - at < sizeof(prefix) - 1 + len && !feof(f) &&
			    at > 0) {
				memmove(buf, p, size - at);
				kept = size - at;
				continue;
			}
			p += sizeof(prefix) - 1;
			while (p + n < buf + size && p[n] && n + 1 < len)
				n++;
			if (p + n < buf + size && p[n] == '\0' && n > 0) {
				memcpy(out, p, n);
				out[n] = '\0';
				ok = true;
			}
			break;
		}
		kept = size < KEEP ? size : KEEP;
		memmove(buf, buf + size - kept, kept);
	}
out:
	if (f)
		fclose(f);
	return ok;
}
