/* The input (see input.h). */
#define _POSIX_C_SOURCE 200809L
#include "input.h"

#include <errno.h>
#include <string.h>
#include <sys/types.h>

#include "util.h"

/* Copy @p from into a temporary file, so a pipe can be read more than once. */
static FILE *spool(FILE *from, const char *name)
{
	char buf[65536];
	size_t got;
	FILE *t = tmpfile();

	if (!t) {
		errorf("cannot create a temporary file: %s", strerror(errno));
		return NULL;
	}
	while ((got = fread(buf, 1, sizeof buf, from)) > 0)
		if (fwrite(buf, 1, got, t) != got) {
			errorf("cannot write a temporary file: %s", strerror(errno));
			fclose(t);
			return NULL;
		}
	if (ferror(from)) {
		errorf("cannot read '%s': %s", name, strerror(errno));
		fclose(t);
		return NULL;
	}
	return t;
}

int input_open(struct input *in, const char *path, int reread)
{
	int is_stdin = strcmp(path, "-") == 0;

	memset(in, 0, sizeof *in);
	in->name = is_stdin ? "standard input" : path;
	in->f = is_stdin ? stdin : fopen(path, "r");
	if (!in->f) {
		errorf("cannot open '%s': %s", path, strerror(errno));
		return EXIT_BAD;
	}
	in->owned = !is_stdin;
	if (reread && (is_stdin || fseeko(in->f, 0, SEEK_SET) != 0)) {
		FILE *t = spool(in->f, in->name);
		if (in->owned)
			fclose(in->f);
		in->f = t;
		in->owned = t != NULL;
		if (!t)
			return EXIT_BAD;
	}
	in->reread = reread;
	return 0;
}

int input_rewind(struct input *in)
{
	if (!in->reread || fseeko(in->f, 0, SEEK_SET) == 0)
		return 0;
	errorf("cannot read '%s' again: %s", in->name, strerror(errno));
	return EXIT_BAD;
}

void input_close(struct input *in)
{
	if (in->owned && in->f)
		fclose(in->f);
	in->f = NULL;
}

