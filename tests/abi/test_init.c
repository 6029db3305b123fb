/*
 * Every versioned host struct: its STG_<NAME>_INIT macro and its
 * stg_<name>_init() function give the same bytes, it starts with
 * `unsigned int version`, and a version the library does not know is refused
 * with STG_EVERSION. The structs are the rows of versioned_structs.def.
 *
 * Padding. The C standard leaves the padding bytes of an automatic struct
 * unspecified after `x = (T){...}`, and an init function may or may not
 * memset them, so a plain memcmp can fail on bytes nobody wrote. Both sides
 * are therefore first filled with the same byte pattern, then written (macro
 * or function), then their padding is zeroed with __builtin_clear_padding,
 * which knows the layout of T. Only member bytes are left to compare, and
 * because the patterns are not 0, a member that the function forgets to set
 * shows up as pattern bytes instead of passing by luck. Compilers without the
 * builtin fall back to the pattern 0 alone: no false failure, but a forgotten
 * member whose default is 0 goes unnoticed there.
 */
#include <criterion/criterion.h>
#include <stockguard.h>

#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#if defined(__has_builtin)
#  if __has_builtin(__builtin_clear_padding)
#    define CLEAR_PADDING(p) __builtin_clear_padding(p)
#  endif
#endif
#ifdef CLEAR_PADDING
static const int patterns[] = { 0x00, 0xa5, 0xff };
#else
#  define CLEAR_PADDING(p) ((void)(p))
static const int patterns[] = { 0x00 };
#endif
#define NPATTERNS (sizeof patterns / sizeof patterns[0])

typedef struct row {
	const char *name;
	const char *init_macro;
	size_t size;
	unsigned int version;
	/* buf <- pattern, then `*buf = (T)INIT`, then padding cleared */
	void (*from_macro)(void *buf, int pattern);
	/* buf <- a file-scope `static const T s = INIT` (padding cleared) */
	void (*from_static)(void *buf);
	/* buf <- pattern, then init(buf, version), then padding cleared */
	int (*from_function)(void *buf, int pattern, unsigned int version);
	/* init(NULL, version) */
	int (*with_null)(unsigned int version);
	/* the version member of buf */
	unsigned int (*version_of)(const void *buf);
} row;

#define STG_VERSIONED(T, INIT, FN, VERSION)                                                \
	_Static_assert(offsetof(T, version) == 0, #T " must start with its version");      \
	_Static_assert(sizeof(((T *)0)->version) == sizeof(unsigned int),                   \
	               #T ".version must be an unsigned int");                              \
	static const T static_##T = INIT;                                                   \
	static void macro_##T(void *buf, int pattern)                                       \
	{                                                                                   \
		T *p = buf;                                                                 \
		memset(p, pattern, sizeof *p);                                              \
		*p = (T)INIT;                                                               \
		CLEAR_PADDING(p);                                                           \
	}                                                                                   \
	static void static_##T##_copy(void *buf)                                            \
	{                                                                                   \
		T *p = buf;                                                                 \
		memcpy(p, &static_##T, sizeof *p);                                          \
		CLEAR_PADDING(p);                                                           \
	}                                                                                   \
	static int function_##T(void *buf, int pattern, unsigned int version)               \
	{                                                                                   \
		T *p = buf;                                                                 \
		int rc;                                                                     \
		memset(p, pattern, sizeof *p);                                              \
		rc = FN(p, version);                                                        \
		CLEAR_PADDING(p);                                                           \
		return rc;                                                                  \
	}                                                                                   \
	static int null_##T(unsigned int version)                                           \
	{                                                                                   \
		return FN(NULL, version);                                                   \
	}                                                                                   \
	static unsigned int version_##T(const void *buf)                                    \
	{                                                                                   \
		return ((const T *)buf)->version;                                           \
	}
#include "versioned_structs.def"
#undef STG_VERSIONED

#define STG_VERSIONED(T, INIT, FN, VERSION)                                                \
	{ #T, #INIT, sizeof(T), VERSION, macro_##T, static_##T##_copy, function_##T,         \
	  null_##T, version_##T },
static const row rows[] = {
#include "versioned_structs.def"
};
#undef STG_VERSIONED
#define NROWS (sizeof rows / sizeof rows[0])

static _Alignas(max_align_t) unsigned char buf_a[4096];
static _Alignas(max_align_t) unsigned char buf_b[4096];

/* "offset 4: 0x00 vs 0xa5, offset 5: ..." for the first differing bytes */
static const char *diff_bytes(const unsigned char *a, const unsigned char *b, size_t n)
{
	static char text[512];
	size_t used = 0, shown = 0, i;

	text[0] = '\0';
	for (i = 0; i < n && shown < 8; i++) {
		if (a[i] == b[i])
			continue;
		used += (size_t)snprintf(text + used, sizeof text - used, "%soffset %zu: 0x%02x vs 0x%02x",
		                         shown ? ", " : "", i, a[i], b[i]);
		shown++;
		if (used >= sizeof text)
			break;
	}
	return text;
}

Test(versioned_structs, macro_equals_function)
{
	size_t r, k;

	cr_assert(NROWS > 0);
	for (r = 0; r < NROWS; r++) {
		const row *t = &rows[r];

		cr_assert(t->size <= sizeof buf_a, "%s: grow the test buffers", t->name);
		for (k = 0; k < NPATTERNS; k++) {
			int rc;

			t->from_macro(buf_a, patterns[k]);
			rc = t->from_function(buf_b, patterns[k], t->version);
			cr_expect_eq(rc, STG_OK, "%s_init(p, %u) returned %d (%s)", t->name, t->version,
			             rc, stg_strerror(rc));
			if (rc != STG_OK)
				continue;
			cr_expect_eq(t->version_of(buf_b), t->version, "%s_init did not set the version",
			             t->name);
			cr_expect(memcmp(buf_a, buf_b, t->size) == 0,
			          "%s differs from %s_init() (pattern 0x%02x, macro vs function): %s",
			          t->init_macro, t->name, patterns[k],
			          diff_bytes(buf_a, buf_b, t->size));
		}
		t->from_static(buf_a);
		t->from_function(buf_b, 0x5a, t->version);
		cr_expect(memcmp(buf_a, buf_b, t->size) == 0,
		          "static %s %s differs from %s_init(): %s", t->name, t->init_macro, t->name,
		          diff_bytes(buf_a, buf_b, t->size));
	}
}

Test(versioned_structs, unknown_version_is_refused)
{
	size_t r, k;

	for (r = 0; r < NROWS; r++) {
		const row *t = &rows[r];
		/* 0 was never a version; the next one and UINT_MAX are unknown yet.
		 * (Older versions stay valid forever, so they are not tried.) */
		const unsigned int bad[] = { 0u, t->version + 1u, UINT_MAX };

		for (k = 0; k < sizeof bad / sizeof bad[0]; k++) {
			int rc = t->from_function(buf_b, 0xa5, bad[k]);

			cr_expect_eq(rc, STG_EVERSION, "%s_init(p, %u) returned %d (%s), want STG_EVERSION",
			             t->name, bad[k], rc, stg_strerror(rc));
		}
	}
}

Test(versioned_structs, null_is_refused)
{
	size_t r;

	for (r = 0; r < NROWS; r++) {
		int rc = rows[r].with_null(rows[r].version);

		cr_expect_eq(rc, STG_EINVAL, "%s_init(NULL, %u) returned %d (%s), want STG_EINVAL",
		             rows[r].name, rows[r].version, rc, stg_strerror(rc));
	}
}
