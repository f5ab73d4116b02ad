/* Unit tests for server/webui: which embedded asset answers a path, gzip
 * negotiation, If-None-Match matching, and the generated asset table itself
 * (index.html names bundles that exist; gzip variants are smaller). */
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "harness.h"
#include "server/webui.h"

/* The path of the first hashed asset ending in `ext`, or NULL. */
static const struct webui_asset *asset_ending(const char *ext)
{
	for (size_t i = 0; i < webui_assets_count; i++) {
		const char *p = webui_assets[i].path;
		size_t n = strlen(p), e = strlen(ext);

		if (n > e && strcmp(p + n - e, ext) == 0)
			return &webui_assets[i];
	}
	return NULL;
}

TEST(lookup_maps_root_and_client_routes_to_index)
{
	const struct webui_asset *index = webui_lookup("/");

	CHECK(index != NULL);
	if (!index)
		return;
	CHECK_STR_EQ(index->path, WEBUI_INDEX_PATH);
	CHECK(!index->immutable);
	CHECK(strncmp(index->content_type, "text/html", 9) == 0);
	CHECK(webui_lookup("/ui") == index);
	CHECK(webui_lookup("/ui/") == index);
	CHECK(webui_lookup("/ui/services/checkout/policy") == index);
	CHECK(webui_lookup("/ui/tasks/web-1:812:4711:oncpu:1") == index);
}

TEST(lookup_refuses_unknown_assets_and_other_paths)
{
	CHECK(webui_lookup("/ui/assets/missing.js") == NULL);
	CHECK(webui_lookup("/ui/assets/") == NULL);
	CHECK(webui_lookup("/index.html") == NULL);
	CHECK(webui_lookup("/uix") == NULL);
	CHECK(webui_lookup("/api/v1/services") == NULL);
	CHECK(webui_lookup("") == NULL);
}

TEST(bundles_are_hashed_typed_and_named_by_index)
{
	const struct webui_asset *js = asset_ending(".js"), *css = asset_ending(".css");
	const struct webui_asset *index = webui_lookup("/");
	char html[4096];

	CHECK(js != NULL);
	CHECK(css != NULL);
	if (!js || !css || !index)
		return;
	CHECK(webui_lookup(js->path) == js);
	CHECK(js->immutable);
	CHECK(strncmp(js->path, WEBUI_ASSETS_PREFIX, strlen(WEBUI_ASSETS_PREFIX)) == 0);
	CHECK(strncmp(js->content_type, "text/javascript", 15) == 0);
	CHECK(strncmp(css->content_type, "text/css", 8) == 0);
	CHECK(index->len < sizeof(html));
	snprintf(html, sizeof(html), "%.*s", (int)index->len, (const char *)index->data);
	CHECK(strstr(html, js->path) != NULL);
	CHECK(strstr(html, css->path) != NULL);
}

TEST(gzip_variants_inflate_to_the_asset)
{
	for (size_t i = 0; i < webui_assets_count; i++) {
		const struct webui_asset *a = &webui_assets[i];
		unsigned char out[4096];
		z_stream zs = {0};
		size_t total = 0;
		int r;
		uLong crc = crc32(0, Z_NULL, 0), want = crc32(0, a->data, (uInt)a->len);

		if (!a->gz)
			continue;
		harness_context("asset %s", a->path);
		CHECK(a->gz_len < a->len);
		CHECK(a->gz_etag && strcmp(a->gz_etag, a->etag) != 0);
		CHECK_INT_EQ(inflateInit2(&zs, 16 + MAX_WBITS), Z_OK);
		zs.next_in = (unsigned char *)a->gz;
		zs.avail_in = (uInt)a->gz_len;
		do {
			zs.next_out = out;
			zs.avail_out = sizeof(out);
			r = inflate(&zs, Z_NO_FLUSH);
			crc = crc32(crc, out, (uInt)(sizeof(out) - zs.avail_out));
			total += sizeof(out) - zs.avail_out;
		} while (r == Z_OK);
		inflateEnd(&zs);
		CHECK_INT_EQ(r, Z_STREAM_END);
		CHECK_INT_EQ(total, a->len);
		CHECK(crc == want);
	}
}

TEST(accepts_gzip_reads_accept_encoding)
{
	CHECK(webui_accepts_gzip("gzip"));
	CHECK(webui_accepts_gzip("gzip, deflate, br"));
	CHECK(webui_accepts_gzip("br;q=1.0, GZIP;q=0.5"));
	CHECK(webui_accepts_gzip("deflate, *"));
	CHECK(webui_accepts_gzip(" deflate ,gzip ;q=0.1"));
	CHECK(!webui_accepts_gzip(NULL));
	CHECK(!webui_accepts_gzip(""));
	CHECK(!webui_accepts_gzip("identity"));
	CHECK(!webui_accepts_gzip("deflate, br"));
	CHECK(!webui_accepts_gzip("gzip;q=0"));
	CHECK(!webui_accepts_gzip("gzip;q=0.000, br"));
	CHECK(!webui_accepts_gzip("x-gzip2"));
}

TEST(etag_matches_lists_weak_and_star)
{
	CHECK(webui_etag_matches("\"abc\"", "\"abc\""));
	CHECK(webui_etag_matches("\"x\", \"abc\"", "\"abc\""));
	CHECK(webui_etag_matches("W/\"abc\"", "\"abc\""));
	CHECK(webui_etag_matches("*", "\"abc\""));
	CHECK(!webui_etag_matches("\"abcd\"", "\"abc\""));
	CHECK(!webui_etag_matches("\"ab\"", "\"abc\""));
	CHECK(!webui_etag_matches("abc", "\"abc\""));
	CHECK(!webui_etag_matches("", "\"abc\""));
	CHECK(!webui_etag_matches(NULL, "\"abc\""));
}

int main(void)
{
	RUN(lookup_maps_root_and_client_routes_to_index);
	RUN(lookup_refuses_unknown_assets_and_other_paths);
	RUN(bundles_are_hashed_typed_and_named_by_index);
	RUN(gzip_variants_inflate_to_the_asset);
	RUN(accepts_gzip_reads_accept_encoding);
	RUN(etag_matches_lists_weak_and_star);
	return harness_finish();
}
