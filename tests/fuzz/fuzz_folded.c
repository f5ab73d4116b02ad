/* fuzz_folded: folded-stack text (core/flame.h) from untrusted bytes.
 *
 * The first byte picks the line shape (count, or count and duration) and the
 * limits of a small flame tree; the rest is a folded text, parsed line by
 * line into the tree. Whatever the tree accepted must serialize to JSON and
 * to folded text, and that folded text must parse again with the same total.
 */
#include <errno.h>
#include <string.h>

#include <jansson.h>

#include "core/flame.h"
#include "fuzz.h"

struct reparse {
	uint64_t total;
};

static int sum_sample(void *ctx, const struct flame_sample *sample)
{
	struct reparse *r = ctx;

	r->total += sample->count;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct flame_limits limits = {0};
	enum flame_fields fields;
	struct flame_tree *tree;
	struct flame_error err = {0};
	struct reparse again = {0};
	char *json = NULL, *folded = NULL;
	size_t json_len = 0, folded_len = 0;
	uint64_t total;
	int r;

	if (size < 1 || size > (1u << 20))
		return 0;
	fields = data[0] & 1 ? FLAME_FIELDS_COUNT_DURATION : FLAME_FIELDS_COUNT;
	limits.max_depth = FLAME_MAX_DEPTH_FLOOR + ((data[0] >> 1) & 7) * 3;
	limits.max_frame_len = FLAME_MAX_FRAME_LEN_FLOOR + ((data[0] >> 4) & 3) * 8;
	limits.max_nodes = data[0] & 0x40 ? 64 : 4096;
	limits.max_output_bytes = data[0] & 0x80 ? 512 : (4u << 20);
	tree = flame_tree_new(&limits);
	if (!tree)
		return 0;
	r = flame_parse_folded((const char *)data + 1, size - 1, fields, flame_tree_add_sample,
			       tree, &err);
	if (r < 0)
		FUZZ_CHECK(err.line >= 1 && err.reason);
	total = flame_tree_total(tree, FLAME_AGGREGATE_COUNT);
	FUZZ_CHECK(total <= FLAME_VALUE_MAX);
	r = flame_tree_to_json(tree, FLAME_AGGREGATE_COUNT, &json, &json_len);
	FUZZ_CHECK(r == 0 || r == -E2BIG);
	if (r == 0) {
		json_error_t jerr;
		json_t *v = json_loadb(json, json_len, 0, &jerr);

		FUZZ_CHECK(v);
		json_decref(v);
	}
	r = flame_tree_to_folded(tree, FLAME_AGGREGATE_COUNT, &folded, &folded_len);
	FUZZ_CHECK(r == 0 || r == -E2BIG);
	if (r == 0) {
		r = flame_parse_folded(folded, folded_len, FLAME_FIELDS_COUNT, sum_sample, &again,
				       &err);
		FUZZ_CHECK(r == 0);
		FUZZ_CHECK(again.total == total);
	}
	free(json);
	free(folded);
	flame_tree_free(tree);
	return 0;
}
