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

/*
 * The unit whose code holds `addr`. dwarf_addrdie goes by .debug_aranges,
 * which may list only some units (the hyp's has only its assembly files':
 * clang writes none for C): then each unit's own ranges are asked.
 */
static bool locate_cu(Dwarf *dw, Dwarf_Addr addr, Dwarf_Die *cu)
{
	Dwarf_CU *it = NULL;

	if (dwarf_addrdie(dw, addr, cu))
		return true;
	while (dwarf_get_units(dw, it, &it, NULL, NULL, cu, NULL) == 0)
		if (dwarf_haspc(cu, addr) > 0)
			return true;
	return false;
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

		if (!locate_cu(l->img[i].dw, addr, &cu))
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

/* The name of file number `idx` of `die`'s unit (decl_file, call_file). */
static const char *locate_unit_file(Dwarf_Die *die, Dwarf_Word idx)
{
	Dwarf_Die cu;
	Dwarf_Files *files;
	size_t n;

	if (!dwarf_diecu(die, &cu, NULL, NULL) ||
	    dwarf_getsrcfiles(&cu, &files, &n) != 0 || idx >= n)
		return NULL;
	return dwarf_filesrc(files, idx, NULL, NULL);
}

static const char *locate_decl_file(Dwarf_Die *die);

/* Whether `scope`'s function is defined in a header (a hook's code). */
static bool locate_in_header(Dwarf_Die *scope)
{
	const char *f = locate_decl_file(scope);
	size_t n = f ? strlen(f) : 0;

	return n > 2 && strcmp(f + n - 2, ".h") == 0;
}

/* The line in `scope`'s function where the inlined `callee` was called. */
static bool locate_call(Dwarf_Die *callee, char *file, size_t len, int *line)
{
	Dwarf_Attribute attr;
	Dwarf_Word f, l;
	const char *src;

	if (!dwarf_attr(callee, DW_AT_call_file, &attr) ||
	    dwarf_formudata(&attr, &f) != 0 ||
	    !dwarf_attr(callee, DW_AT_call_line, &attr) ||
	    dwarf_formudata(&attr, &l) != 0 ||
	    !(src = locate_unit_file(callee, f)))
		return false;
	locate_file(file, len, src);
	*line = (int)l;
	return true;
}

/*
 * From the chain of scopes around a site (innermost first, in the code
 * the inlined instances were inlined into): the innermost function not
 * defined in a header, and the line in it where it called the header's
 * inline code (the recording hooks, the lock helpers and the arch's site
 * are header code that would otherwise name itself at every site). If
 * that function was itself inlined, the function it was inlined into and
 * the line of that call go in `inlined`.
 */
static bool locate_site_scopes(Dwarf_Die *scopes, int n, struct locate_hit *h)
{
	int p = -1, top = -1;
	const char *name;
	char file[256];
	int line;

	for (int i = 0; i < n && p < 0; i++) {
		int tag = dwarf_tag(&scopes[i]);

		if ((tag == DW_TAG_subprogram ||
		     tag == DW_TAG_inlined_subroutine) &&
		    !locate_in_header(&scopes[i]))
			p = i;
	}
	for (int i = 0; i < n; i++)
		if (dwarf_tag(&scopes[i]) == DW_TAG_subprogram)
			top = i;
	if (p < 0 || !(name = locate_name(&scopes[p])))
		return false;
	snprintf(h->func, sizeof(h->func), "%s", name);
	/* The innermost inlined scope inside it made the call. */
	for (int i = p - 1; i >= 0; i--)
		if (dwarf_tag(&scopes[i]) == DW_TAG_inlined_subroutine) {
			locate_call(&scopes[i], h->file, sizeof(h->file),
				    &h->line);
			break;
		}
	if (top > p && (name = locate_name(&scopes[top])))
		for (int i = top - 1; i >= p; i--)
			if (dwarf_tag(&scopes[i]) ==
				    DW_TAG_inlined_subroutine &&
			    locate_call(&scopes[i], file, sizeof(file),
					&line)) {
				const char *base = strrchr(file, '/');

				snprintf(h->inlined, sizeof(h->inlined),
					 "inlined in %s at %s:%d", name,
					 base ? base + 1 : file, line);
				break;
			}
	return true;
}

/** See cli.h. */
bool locate_site(const struct locate *l, uint64_t addr, struct locate_hit *h)
{
	for (unsigned i = 0; l && i < l->count; i++) {
		Dwarf_Die cu, *scopes = NULL;
		Dwarf_Line *line;
		const char *src;
		int n;

		if (!locate_cu(l->img[i].dw, addr, &cu))
			continue;
		memset(h, 0, sizeof(*h));
		h->image = l->img[i].path;
		n = dwarf_getscopes(&cu, addr, &scopes);
		/* Past an inlined instance, dwarf_getscopes goes on in its
		 * abstract origin: the chain of the code it was inlined
		 * into is the instance's own parents. */
		if (n > 0 &&
		    dwarf_tag(&scopes[0]) == DW_TAG_inlined_subroutine) {
			Dwarf_Die inner = scopes[0];

			free(scopes);
			scopes = NULL;
			n = dwarf_getscopes_die(&inner, &scopes);
		}
		if (n <= 0 || !locate_site_scopes(scopes, n, h))
			snprintf(h->func, sizeof(h->func), "?");
		free(scopes);
		if (h->file[0])
			return true;
		/* Not inlined: the line table's line for the address. */
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

/** See cli.h. */
bool locate_site_token(const void *loc, uint64_t addr, char *buf, size_t len)
{
	struct locate_hit h;
	const char *base;

	if (!locate_site(loc, addr, &h) || !h.file[0])
		return false;
	base = strrchr(h.file, '/');
	/* Line 0: code the compiler gave no line (a merged call). */
	if (h.line)
		snprintf(buf, len, "site=%s:%d", base ? base + 1 : h.file,
			 h.line);
	else
		snprintf(buf, len, "site=%s", base ? base + 1 : h.file);
	return true;
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
