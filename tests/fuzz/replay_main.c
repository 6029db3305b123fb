/*
 * Standalone driver for the fuzz targets, used by `meson test` with the
 * normal compiler (no libFuzzer): runs LLVMFuzzerTestOneInput() once on
 * every regular file of the directories (or files) given, in name order.
 *
 *   fuzz-<target> [--crashes|--seeds] PATH...
 *
 * --seeds skips files named crash-* (the checked-in corpus); --crashes runs
 * only those (regressions for findings that are not fixed yet). A violated
 * property aborts, so the test fails with the file named just above.
 */
#define _POSIX_C_SOURCE 200809L
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

enum { ALL, SEEDS, CRASHES };

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, got;

	if (!f) {
		fprintf(stderr, "cannot open %s: %s\n", path, strerror(errno));
		return -1;
	}
	do {
		if (len == cap) {
			uint8_t *n;
			cap = cap ? cap * 2 : 4096;
			n = realloc(buf, cap);
			if (!n) {
				fclose(f);
				free(buf);
				fprintf(stderr, "out of memory reading %s\n", path);
				return -1;
			}
			buf = n;
		}
		got = fread(buf + len, 1, cap - len, f);
		len += got;
	} while (got > 0);
	if (ferror(f)) {
		fprintf(stderr, "cannot read %s\n", path);
		fclose(f);
		free(buf);
		return -1;
	}
	fclose(f);
	fprintf(stderr, "run %s (%zu bytes)\n", path, len);
	/* An exact-size copy, so that a read past the input is caught by sanitizers. */
	{
		uint8_t *exact = malloc(len ? len : 1);
		if (!exact) {
			free(buf);
			return -1;
		}
		if (len)
			memcpy(exact, buf, len);
		free(buf);
		LLVMFuzzerTestOneInput(exact, len);
		free(exact);
	}
	return 0;
}

static int wanted(const char *name, int mode)
{
	int crash = strncmp(name, "crash-", 6) == 0;

	if (name[0] == '.')
		return 0;
	return mode == ALL || (mode == CRASHES) == crash;
}

static int run_path(const char *path, int mode, size_t *n)
{
	struct stat st;
	DIR *d;
	struct dirent *de;
	char **names = NULL;
	size_t count = 0, cap = 0, i;
	int rc = 0;

	if (stat(path, &st) != 0) {
		fprintf(stderr, "cannot stat %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		++*n;
		return run_file(path);
	}
	d = opendir(path);
	if (!d) {
		fprintf(stderr, "cannot open %s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (!wanted(de->d_name, mode))
			continue;
		if (count == cap) {
			char **nn;
			cap = cap ? cap * 2 : 64;
			nn = realloc(names, cap * sizeof *nn);
			if (!nn) {
				rc = -1;
				break;
			}
			names = nn;
		}
		names[count] = malloc(strlen(path) + strlen(de->d_name) + 2);
		if (!names[count]) {
			rc = -1;
			break;
		}
		sprintf(names[count], "%s/%s", path, de->d_name);
		count++;
	}
	closedir(d);
	if (count)
		qsort(names, count, sizeof *names, by_name);
	for (i = 0; i < count; i++) {
		if (rc == 0 && stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
			++*n;
			rc = run_file(names[i]);
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

int main(int argc, char **argv)
{
	int i, mode = ALL, paths = 0;
	size_t n = 0;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--seeds") == 0) {
			mode = SEEDS;
			continue;
		}
		if (strcmp(argv[i], "--crashes") == 0) {
			mode = CRASHES;
			continue;
		}
		paths++;
		if (run_path(argv[i], mode, &n) != 0)
			return 2;
	}
	if (!paths) {
		fprintf(stderr, "usage: %s [--seeds|--crashes] DIR-OR-FILE...\n", argv[0]);
		return 2;
	}
	fprintf(stderr, "%zu input%s ran without a finding\n", n, n == 1 ? "" : "s");
	return 0;
}
