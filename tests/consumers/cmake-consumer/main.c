/* The CMake consumer's program: built against an installed stockguard found by
 * find_package(stockguard CONFIG); checks that the library, the headers and
 * stockguard_VERSION agree, and runs the policy and the filter. */
#include <stockguard.h>

#include <stdio.h>
#include <string.h>

int main(void)
{
	stg_policy *policy;
	stg_change change = STG_CHANGE_INIT;
	stg_filter_result r;
	int ok;

	if (stg_version_number() != STG_VERSION_NUM ||
	    strcmp(stg_version_string(), EXPECTED_VERSION) != 0) {
		fprintf(stderr, "cmake-consumer: library %s, headers %s, project %s\n",
		        stg_version_string(), STG_VERSION_STRING, EXPECTED_VERSION);
		return 1;
	}
	if (stg_policy_new(&policy, NULL) != STG_OK)
		return 1;
	stg_policy_set_min_stock(policy, 10);
	change.flags = STG_CHANGE_HAS_FROM;
	change.from = 12;
	change.to = 9;
	ok = stg_filter_decide(policy, &change, &r) == STG_OK &&
	     r.decision == STG_DECISION_EXPORT && r.to.published == 0;
	stg_policy_free(policy);
	if (!ok) {
		fprintf(stderr, "cmake-consumer: unexpected filter decision\n");
		return 1;
	}
	printf("cmake-consumer: ok %s\n", stg_version_string());
	return 0;
}
