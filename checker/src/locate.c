// SPDX-License-Identifier: MIT
/*
 * Source locations from the images' DWARF (elfutils' libdw): which
 * function and line hold a code address (the host instruction that
 * trapped, the hyp's panic site), and where a function is defined (the
 * hyp's handler of a hypercall). Offline only: the recording pays nothing
 * for it, and a check without images or without debug information reads
 * exactly as before, without the lines.
 */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define LOCATE_MAX 16

struct locate_image {
	int fd;
	Dwarf *dw;
	char path[512];
};

struct locate {
	struct locate_image img[LOCATE_MAX];
	unsigned count;
};

struct locate *locate_new(void)
{
	return calloc(1, sizeof(struct locate));
}

void locate_free(struct locate *l)
{
	for (unsigned i = 0; l && i < l->count; i++) {
		dwarf_end(l->img[i].dw);
		close(l->img[i].fd);
	}
	free(l);
}

unsigned locate_count(const struct locate *l)
{
	return l ? l->count : 0;
}

/** See cli.h. */
int locate_add(struct locate *l, const char *path, char *msg, size_t len)
{
	struct locate_image *im;
	int fd;

	if (!l || l->count == LOCATE_MAX) {
		snprintf(msg, len, "%s: too many images for source lines",
			 path);
		return -1;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(msg, len, "%s: cannot open", path);
		return -1;
	}
	im = &l->img[l->count];
	im->dw = dwarf_begin(fd, DWARF_C_READ);
	if (!im->dw) {
		snprintf(msg, len,
			 "%s: no debug information (%s): source lines "
			 "unknown",
			 path, dwarf_errmsg(-1));
		close(fd);
		return -1;
	}
	im->fd = fd;
	snprintf(im->path, sizeof(im->path), "%s", path);
	l->count++;
	return 0;
}

/*
 * A file name as the compiler wrote it, made shorter: "." and ".."
 * components are resolved in the text ("/b/build/../hyp/x.c" is
 * "/b/hyp/x.c"), a relative name loses its leading "../" (meson compiles
 * from the build directory), and a file under the current directory is
 * named from there ("hyp/x.c" when run from the source tree).
 */
static void locate_file(char *out, size_t len, const char *name)
{
	char tmp[512];
	char *part[64], *save = NULL, *tok;
	unsigned n = 0;
	size_t pos = 0;
	bool abs = name[0] == '/';

	snprintf(tmp, sizeof(tmp), "%s", name);
	for (tok = strtok_r(tmp, "/", &save); tok && n < 64;
	     tok = strtok_r(NULL, "/", &save)) {
		if (strcmp(tok, ".") == 0)
			continue;
		if (strcmp(tok, "..") != 0)
			part[n++] = tok;
		else if (n > 0)
			n--;
		/* else: a leading ../ of a relative name (or /.. = /) */
	}
	out[0] = '\0';
	for (unsigned i = 0; i < n && pos < len; i++) {
		int k = snprintf(out + pos, len - pos, "%s%s",
				 i || abs ? "/" : "", part[i]);

		pos += k > 0 ? (size_t)k : 0;
	}
	if (abs && getcwd(tmp, sizeof(tmp)) && strcmp(tmp, "/") != 0) {
		size_t l = strlen(tmp);

		if (strncmp(out, tmp, l) == 0 && out[l] == '/')
			memmove(out, out + l + 1, strlen(out + l + 1) + 1);
	}
}

/* A subprogram's or an inlined instance's name (from its origin). */
static const char *locate_name(Dwarf_Die *die)
{
	Dwarf_Attribute attr;

	if (!dwarf_attr_integrate(die, DW_AT_name, &attr))
		return NULL;
	return dwarf_formstring(&attr);
}

/*
 * The innermost function around `addr` in `cu`: an inlined instance
 * counts, as a debugger would show it.
 */
static bool locate_scope(Dwarf_Die *cu, Dwarf_Addr addr, struct locate_hit *h)
{
	Dwarf_Die *scopes = NULL;
	int n = dwarf_getscopes(cu, addr, &scopes);
	bool found = false;

	for (int i = 0; i < n && !found; i++) {
		int tag = dwarf_tag(&scopes[i]);
		const char *name;

		if (tag != DW_TAG_subprogram &&
		    tag != DW_TAG_inlined_subroutine)
			continue;
		name = locate_name(&scopes[i]);
		if (name) {
			snprintf(h->func, sizeof(h->func), "%s", name);
			found = true;
		}
	}
	free(scopes);
	return found;
}

/** See cli.h. */
bool locate_addr(const struct locate *l, uint64_t addr, struct locate_hit *h)
{
	for (unsigned i = 0; l && i < l->count; i++) {
		Dwarf_Die cu;
		Dwarf_Line *line;
		const char *src;

		if (!dwarf_addrdie(l->img[i].dw, addr, &cu))
			continue;
		memset(h, 0, sizeof(*h));
		h->image = l->img[i].path;
		if (!locate_scope(&cu, addr, h))
			snprintf(h->func, sizeof(h->func), "?");
		line = dwarf_getsrc_die(&cu, addr);
		src = line ? dwarf_linesrc(line, NULL, NULL) : NULL;
		if (src) {
			locate_file(h->file, sizeof(h->file), src);
			dwarf_lineno(line, &h->line);
		}
		return true;
	}
	return false;
}

/*
 * The file a function is declared in. DWARF 5 numbers a unit's files from
 * 0 (the unit's own source), and libdw 0.188's dwarf_decl_file takes 0
 * for "no file": look the index up in the unit's file table then.
 */
static const char *locate_decl_file(Dwarf_Die *die)
{
	const char *f = dwarf_decl_file(die);
	Dwarf_Attribute attr;
	Dwarf_Word idx;
	Dwarf_Die cu;
	Dwarf_Files *files;
	size_t n;

	if (f)
		return f;
	if (!dwarf_attr_integrate(die, DW_AT_decl_file, &attr) ||
	    dwarf_formudata(&attr, &idx) != 0 ||
	    !dwarf_diecu(die, &cu, NULL, NULL) ||
	    dwarf_getsrcfiles(&cu, &files, &n) != 0 || idx >= n)
		return NULL;
	return dwarf_filesrc(files, idx, NULL, NULL);
}

struct locate_find {
	const char *name;
	struct locate_hit *h;
	bool found;
};

static int locate_func_cb(Dwarf_Die *die, void *arg)
{
	struct locate_find *f = arg;
	const char *name = dwarf_diename(die);
	const char *file;

	if (!name || strcmp(name, f->name) != 0)
		return DWARF_CB_OK;
	snprintf(f->h->func, sizeof(f->h->func), "%s", name);
	file = locate_decl_file(die);
	if (file)
		locate_file(f->h->file, sizeof(f->h->file), file);
	dwarf_decl_line(die, &f->h->line);
	f->found = true;
	return DWARF_CB_ABORT;
}

/** See cli.h. */
bool locate_func(const struct locate *l, const char *name, struct locate_hit *h)
{
	for (unsigned i = 0; l && i < l->count; i++) {
		struct locate_find f = { name, h, false };
		Dwarf_CU *cu = NULL;
		Dwarf_Die cudie;

		memset(h, 0, sizeof(*h));
		h->image = l->img[i].path;
		while (!f.found && dwarf_get_units(l->img[i].dw, cu, &cu, NULL,
						   NULL, &cudie, NULL) == 0)
			dwarf_getfuncs(&cudie, locate_func_cb, &f, 0);
		if (f.found)
			return true;
	}
	return false;
}
