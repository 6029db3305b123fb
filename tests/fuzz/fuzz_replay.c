/*
 * Fuzz target "replay": the CSV reader of examples/stockguard-replay.c
 * (SPEC 7), run as the tool runs, on arbitrary feed bytes.
 *
 * The tool is compiled unchanged with -Dmain=stockguard_replay_main and
 * called with argv; the feed goes through a memory file named by its
 * /proc/self/fd path. When the input starts with "--", its first line holds
 * options (space-separated, each must start with "--"), the rest is the
 * feed; otherwise the whole input is the feed and there are no options.
 *
 * Properties: no crash, leak or undefined behaviour (sanitizers); the exit
 * status is 0 or 2 (1 means out of memory or a library failure, which
 * neither a bad feed nor a bad option may cause); after 0, stdout is the
 * output header and one line per data row, each with ten columns and a
 * decision of export or skip (or coalesced, which only a simulated
 * marketplace limit, --rate or --latency, can cause). --sweep and --report
 * are dropped: a sweep prints a table instead of the decisions, and a
 * report would write files wherever the input says.
 */
#define _GNU_SOURCE
#include "fuzz.h"

#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int stockguard_replay_main(int argc, char **argv);

/* Sanitizer reports must not go where the tool's stderr goes (/dev/null). */
extern void __sanitizer_set_report_fd(void *fd) __attribute__((weak));

static const char header_out[] =
	"time,integration,sku,from,to,published_from,published_to,decision,reason,warning\n";

static int in_fd = -1, out_fd = -1, null_fd = -1, err_fd = -1;
static char in_path[64];

static void setup(void)
{
	if (in_fd >= 0)
		return;
	in_fd = memfd_create("feed", 0);
	out_fd = memfd_create("out", 0);
	null_fd = open("/dev/null", O_WRONLY);
	FUZZ_CHECK(in_fd >= 0 && out_fd >= 0 && null_fd >= 0, "cannot create memory files");
	snprintf(in_path, sizeof in_path, "/proc/self/fd/%d", in_fd);
	/* The tool writes its output to stdout: keep it in a memory file. */
	fflush(stdout);
	FUZZ_CHECK(dup2(out_fd, 1) == 1, "dup2 stdout");
	err_fd = dup(2);
	FUZZ_CHECK(err_fd >= 0, "dup stderr");
	if (__sanitizer_set_report_fd)
		__sanitizer_set_report_fd((void *)(intptr_t)err_fd);
}

/* A marketplace limit was given: changes may wait and merge. */
static int limited;
/* --explain was given: an 11th column, the library's sentence. */
static int explain;

/* --explain's column: "publishes <published_to>: ..." in double quotes. */
static void check_explanation(const char *s, size_t len, const char *pub, size_t plen)
{
	static const char head[] = "\"publishes ";

	FUZZ_CHECK(len > sizeof head + plen + 1 && memcmp(s, head, sizeof head - 1) == 0 &&
	           memcmp(s + sizeof head - 1, pub, plen) == 0 && s[sizeof head - 1 + plen] == ':' &&
	           s[len - 1] == '"',
	           "explanation '%.*s' does not say published_to %.*s", (int)len, s, (int)plen, pub);
}

/* Columns of one output line (no quoting in the output: fields have no commas). */
static void check_output_line(const char *s, size_t len)
{
	size_t commas = 0, i, last = 0, prev = 0, pub = 0, tenth = 0;
	const char *decision;
	size_t dlen;

	for (i = 0; i < len; i++)
		if (s[i] == ',') {
			commas++;
			if (commas == 6)
				pub = i + 1;
			if (commas == 7)
				prev = i + 1;
			if (commas == 8)
				last = i;
			if (commas == 10)
				tenth = i;
		}
	FUZZ_CHECK(commas == (explain ? 10u : 9u), "output line has %zu commas, expected %d: %.*s",
	           commas, explain ? 10 : 9, (int)len, s);
	if (explain)
		check_explanation(s + tenth + 1, len - tenth - 1, s + pub, prev - 1 - pub);
	decision = s + prev;
	dlen = last - prev;
	FUZZ_CHECK((dlen == 6 && memcmp(decision, "export", 6) == 0) ||
	           (dlen == 4 && memcmp(decision, "skip", 4) == 0) ||
	           (limited && dlen == 9 && memcmp(decision, "coalesced", 9) == 0),
	           "output decision is '%.*s'", (int)dlen, decision);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *opts = NULL, *argv[16];
	const uint8_t *feed = data;
	size_t feed_len = size, out_len, rows = 0, i, start, lines, hlen;
	int argc = 0, rc, plain = 1, header_seen = 0, value_next = 0, drop_next = 0;
	char *out;
	off_t end;

	setup();
	limited = explain = 0;
	argv[argc++] = (char *)"stockguard-replay";
	if (size >= 2 && data[0] == '-' && data[1] == '-') {
		const uint8_t *nl = memchr(data, '\n', size);
		size_t olen = nl ? (size_t)(nl - data) : size;
		char *tok, *save = NULL;

		opts = malloc(olen + 1);
		FUZZ_CHECK(opts != NULL, "out of memory");
		memcpy(opts, data, olen);
		opts[olen] = '\0';
		for (tok = strtok_r(opts, " ", &save); tok && argc < 14; tok = strtok_r(NULL, " ", &save)) {
			/* Options, and the values of those that take one: any other word
			 * would be read as a file name. */
			if (drop_next) {
				drop_next = 0;
				continue;
			}
			if (value_next) {
				argv[argc++] = tok;
				value_next = 0;
				continue;
			}
			if (tok[0] != '-' || tok[1] != '-')
				continue;
			if (strncmp(tok, "--sweep", 7) == 0 || strncmp(tok, "--report", 8) == 0) {
				drop_next = strchr(tok, '=') == NULL;
				continue;
			}
			if (strncmp(tok, "--rate", 6) == 0 || strncmp(tok, "--latency", 9) == 0)
				limited = 1;
			if (strcmp(tok, "--explain") == 0)
				explain = 1;
			if (strcmp(tok, "--help") == 0 || strcmp(tok, "--version") == 0)
				plain = 0;
			value_next = strcmp(tok, "--min-stock") == 0 || strcmp(tok, "--window") == 0 ||
			             strcmp(tok, "--mode") == 0 || strcmp(tok, "--cap") == 0 ||
			             strcmp(tok, "--rate") == 0 || strcmp(tok, "--latency") == 0 ||
			             strcmp(tok, "--latency-limit") == 0 || strcmp(tok, "--lang") == 0;
			argv[argc++] = tok;
			if (strcmp(tok, "--") == 0)
				break; /* what follows would be files */
		}
		feed = nl ? nl + 1 : data + size;
		feed_len = size - (size_t)(feed - data);
	}
	argv[argc++] = in_path;
	argv[argc] = NULL;

	FUZZ_CHECK(ftruncate(in_fd, 0) == 0, "truncate feed");
	FUZZ_CHECK(feed_len == 0 || pwrite(in_fd, feed, feed_len, 0) == (ssize_t)feed_len, "write feed");
	fflush(stdout);
	FUZZ_CHECK(ftruncate(out_fd, 0) == 0 && lseek(out_fd, 0, SEEK_SET) == 0, "reset output");

	fflush(stderr);
	dup2(null_fd, 2);
	rc = stockguard_replay_main(argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(err_fd, 2);
	FUZZ_CHECK(rc == 0 || rc == 2, "exit status %d (1 is out of memory or a library failure)", rc);

	end = lseek(out_fd, 0, SEEK_CUR);
	FUZZ_CHECK(end >= 0, "output size");
	out_len = (size_t)end;
	if (rc == 0 && plain) {
		out = malloc(out_len + 1);
		FUZZ_CHECK(out != NULL, "out of memory");
		FUZZ_CHECK(pread(out_fd, out, out_len, 0) == (ssize_t)out_len, "read output");
		/* Data rows of the feed: non-empty lines after the header (the tool
		 * strips one trailing CR and skips a BOM on the header). */
		for (i = 0, start = 0; i <= feed_len; i++) {
			if (i == feed_len || feed[i] == '\n') {
				size_t len = i - start;
				if (len && feed[start + len - 1] == '\r')
					len--;
				if (!header_seen)
					header_seen = 1;
				else if (len && i <= feed_len)
					rows++;
				start = i + 1;
				if (i == feed_len)
					break;
			}
		}
		hlen = sizeof header_out - 1;
		FUZZ_CHECK(out_len >= hlen && memcmp(out, header_out, hlen - 1) == 0,
		           "exit 0 but the output does not start with the header");
		if (explain) {
			FUZZ_CHECK(out_len >= hlen + sizeof ",explanation" - 1 &&
			           memcmp(out + hlen - 1, ",explanation\n", sizeof ",explanation") == 0,
			           "--explain but the header has no explanation column");
			hlen += sizeof ",explanation" - 1;
		} else {
			FUZZ_CHECK(out[hlen - 1] == '\n', "exit 0 but the output does not start with the header");
		}
		lines = 0;
		for (i = hlen, start = i; i < out_len; i++)
			if (out[i] == '\n') {
				check_output_line(out + start, i - start);
				lines++;
				start = i + 1;
			}
		FUZZ_CHECK(start == out_len, "output does not end with a newline");
		FUZZ_CHECK(lines == rows, "exit 0 with %zu output rows for %zu feed rows", lines, rows);
		free(out);
	}
	free(opts);
	return 0;
}
