/* Messages and parsers shared by stockguard-replay (see util.h). */
#include "util.h"

#include <stdarg.h>
#include <string.h>

/* How many bytes of a value a message quotes before cutting it with "...". */
#define QUOTE_MAX 64

/*
 * Write @p s (@p len bytes) for a message: at most QUOTE_MAX bytes, control
 * bytes and quotes escaped, so a long or binary value cannot flood the
 * terminal. Only used for display; the data itself is never truncated.
 */
void put_quoted(FILE *f, const char *s, size_t len)
{
	size_t i, n = len > QUOTE_MAX ? QUOTE_MAX : len;

	fputc('\'', f);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f || c == '\'' || c == '\\')
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
	fputc('\'', f);
	if (n < len)
		fprintf(f, "... (%zu bytes)", len);
}

static void PRINTF_LIKE(1, 0) vmessage(const char *fmt, va_list ap)
{
	fputs(PROG ": ", stderr);
	vfprintf(stderr, fmt, ap);
}

/* "stockguard-replay: <message>\n" */
void PRINTF_LIKE(1, 2) errorf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* "stockguard-replay: <message> '<value>'<tail>\n" -- @p fmt ends where the value goes. */
void PRINTF_LIKE(4, 5) errorq(const char *v, size_t vlen, const char *tail, const char *fmt,
                                     ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(fmt, ap);
	va_end(ap);
	put_quoted(stderr, v, vlen);
	fputs(tail, stderr);
	fputc('\n', stderr);
}

int parse_int64(const char *s, size_t len, int allow_sign, int64_t *out)
{
	size_t i = 0;
	int neg = 0;
	uint64_t v = 0, limit;

	size_t first;

	if (allow_sign && len && (s[0] == '-' || s[0] == '+')) {
		neg = s[0] == '-';
		i = 1;
	}
	first = i;
	if (i == len)
		return NUM_SYNTAX;
	for (; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return NUM_SYNTAX;
	/* Syntax first, so "99999999999999999999x" is junk, not overflow. */
	limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (i = first; i < len; i++) {
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (limit - d) / 10)
			return NUM_RANGE;
		v = v * 10 + d;
	}
	if (neg)
		*out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	else
		*out = (int64_t)v;
	return NUM_OK;
}

/*
 * Text (integration, SKU, one entry of fields): non-empty, no surrounding
 * blanks, no control bytes, no double quotes (quoted CSV is not supported,
 * so a quote would only hide a comma), at most @p max bytes (0: no limit).
 * Returns NULL when fine, else what is wrong.
 */
const char *check_text(const char *s, size_t len, size_t max)
{
	size_t i;

	if (!len)
		return "is empty";
	if (s[0] == ' ' || s[len - 1] == ' ')
		return "has leading or trailing spaces";
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return "contains a control character";
		if (c == '"')
			return "contains a double quote (quoted CSV fields are not supported)";
	}
	if (max && len > max)
		return "is too long";
	return NULL;
}

void usage_hint(void)
{
	fputs("Try '" PROG " --help' for more information.\n", stderr);
}

