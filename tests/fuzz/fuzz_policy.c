/* fuzz_policy: policy documents (core/policy.h) from untrusted bytes.
 *
 * Parses and validates the input as a policy document. A valid one must
 * serialize to a canonical form that parses again to the same canonical form
 * and version, and describe each of its items; an invalid one must come with
 * at least one reason, each a single line, and no more than
 * POLICY_ERRORS_MAX + 1 of them.
 */
#include <errno.h>
#include <string.h>

#include "core/policy.h"
#include "fuzz.h"

static void check_valid(const struct policy *p)
{
	char version[POLICY_VERSION_HEX_LEN + 1], again_version[POLICY_VERSION_HEX_LEN + 1];
	struct policy *again = NULL;
	char *canon, *again_canon;
	json_t *value;

	canon = policy_canonical(p);
	FUZZ_CHECK(canon);
	FUZZ_CHECK(policy_version(p, version) == 0);
	FUZZ_CHECK(policy_parse(canon, strlen(canon), &again, NULL) == 0);
	again_canon = policy_canonical(again);
	FUZZ_CHECK(again_canon && strcmp(canon, again_canon) == 0);
	FUZZ_CHECK(policy_version(again, again_version) == 0);
	FUZZ_CHECK(strcmp(version, again_version) == 0);
	value = policy_to_json(p);
	FUZZ_CHECK(value);
	json_decref(value);
	for (size_t t = 0; t < p->n_targets; t++) {
		FUZZ_CHECK(p->targets[t].n_items > 0);
		for (size_t i = 0; i < p->targets[t].n_items; i++) {
			char *text = policy_item_describe(&p->targets[t].items[i]);

			FUZZ_CHECK(text && !strchr(text, '\n'));
			free(text);
		}
	}
	free(again_canon);
	free(canon);
	policy_free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy_errors errors = {0};
	struct policy *p = NULL;
	int r;

	if (size > POLICY_DOC_MAX_BYTES)
		return 0;
	r = policy_parse((const char *)data, size, &p, &errors);
	if (r == 0) {
		FUZZ_CHECK(p && errors.n == 0);
		check_valid(p);
	} else {
		FUZZ_CHECK(r == -EINVAL && !p);
		FUZZ_CHECK(errors.n >= 1 && errors.n <= POLICY_ERRORS_MAX + 1);
		for (size_t i = 0; i < errors.n; i++)
			FUZZ_CHECK(errors.reasons[i] && !strchr(errors.reasons[i], '\n'));
	}
	policy_free(p);
	policy_errors_clear(&errors);
	return 0;
}
