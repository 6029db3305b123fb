/* Run-time version: the numbers of the headers the library was built with. */
#include "stockguard/version.h"

STG_EXTERN unsigned int stg_version_number(void)
{
	return STG_VERSION_NUM;
}

STG_EXTERN const char *stg_version_string(void)
{
	return STG_VERSION_STRING;
}

STG_EXTERN void stg_version(int *major, int *minor, int *patch)
{
	if (major)
		*major = STG_VERSION_MAJOR;
	if (minor)
		*minor = STG_VERSION_MINOR;
	if (patch)
		*patch = STG_VERSION_PATCH;
}
