// SPDX-License-Identifier: MIT
/*
 * Just enough ELF64 to find an instruction: the loadable segments (PT_LOAD)
 * of little-endian AArch64 images, kept in memory, looked up by virtual or
 * physical address (the workload runs with its MMU off, VA = PA).
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

struct elf_images {
	struct elf_segment *seg;
	size_t count, cap;
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
	free(e->seg);
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
	rc = 0;
out:
	fclose(f);
	return rc;
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
