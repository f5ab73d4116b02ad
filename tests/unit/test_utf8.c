/* Unit tests of util/utf8: validation of sequences and the in-place repair
 * that keeps a cut or invalid message a valid JSON string. */
#include <string.h>

#include <jansson.h>

#include "harness.h"
#include "core/utf8.h"

TEST(utf8_sequences)
{
	CHECK_INT_EQ(utf8_sequence_len("a", 1), 1);
	CHECK_INT_EQ(utf8_sequence_len("\xc3\xa9", 2), 2);
	CHECK_INT_EQ(utf8_sequence_len("\xe2\x82\xac", 3), 3);
	CHECK_INT_EQ(utf8_sequence_len("\xf0\x9f\x98\x80", 4), 4);
	CHECK_INT_EQ(utf8_sequence_len("\xc3", 1), 0);		   /* cut */
	CHECK_INT_EQ(utf8_sequence_len("\xc0\xaf", 2), 0);	   /* overlong '/' */
	CHECK_INT_EQ(utf8_sequence_len("\xe0\x80\xaf", 3), 0);	   /* overlong */
	CHECK_INT_EQ(utf8_sequence_len("\xed\xa0\x80", 3), 0);	   /* surrogate U+D800 */
	CHECK_INT_EQ(utf8_sequence_len("\xf4\x90\x80\x80", 4), 0); /* > U+10FFFF */
	CHECK_INT_EQ(utf8_sequence_len("\xff", 1), 0);
	CHECK_INT_EQ(utf8_sequence_len("\x80", 1), 0);
	CHECK_INT_EQ(utf8_sequence_len("", 0), 0);
	CHECK(utf8_valid("caf\xc3\xa9 \xe2\x82\xac"));
	CHECK(!utf8_valid("caf\xc3"));
	CHECK(!utf8_valid("a\xffz"));
}

TEST(utf8_repair_cases)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"plain", "plain"},
	    {"caf\xc3\xa9", "caf\xc3\xa9"},
	    {"caf\xc3", "caf"},	    /* a cut 2-byte sequence is dropped */
	    {"x\xe2\x82", "x"},	    /* a cut 3-byte sequence */
	    {"x\xf0\x9f\x98", "x"}, /* a cut 4-byte sequence */
	    {"a\xff"
	     "b",
	     "a?b"},		       /* an invalid byte becomes '?' */
	    {"a\xc3(b", "a?(b"},       /* a lead byte without continuation */
	    {"\xed\xa0\x80z", "???z"}, /* a surrogate */
	    {"\x80\x80", "??"},	       /* stray continuation bytes */
	    {"end\xed\xa0", "end??"},  /* not a cut: 0xed 0xa0 is a surrogate */
	    {"", ""},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[64];
		json_t *s;

		harness_context("case %zu", i);
		snprintf(buf, sizeof(buf), "%s", cases[i].in);
		CHECK_INT_EQ(utf8_repair(buf), strlen(cases[i].out));
		CHECK_STR_EQ(buf, cases[i].out);
		CHECK(utf8_valid(buf));
		s = json_string(buf);
		CHECK(s != NULL);
		json_decref(s);
	}
}

/* Every cut of a multi-byte text repairs to a valid prefix of it. */
TEST(utf8_repair_every_cut)
{
	const char *text = "\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80!";
	size_t len = strlen(text);

	for (size_t cut = 0; cut <= len; cut++) {
		char buf[64];
		size_t n;

		harness_context("cut %zu", cut);
		memcpy(buf, text, cut);
		buf[cut] = '\0';
		n = utf8_repair(buf);
		CHECK(n <= cut && cut - n < 4);
		CHECK(memcmp(buf, text, n) == 0);
		CHECK(utf8_valid(buf));
	}
}

int main(void)
{
	RUN(utf8_sequences);
	RUN(utf8_repair_cases);
	RUN(utf8_repair_every_cut);
	return harness_finish();
}
