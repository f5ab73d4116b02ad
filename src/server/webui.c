/* webui: see webui.h. */
#include "server/webui.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct webui_asset *find_exact(const char *path)
{
	for (size_t i = 0; i < webui_assets_count; i++)
		if (strcmp(webui_assets[i].path, path) == 0)
			return &webui_assets[i];
	return NULL;
}

const struct webui_asset *webui_lookup(const char *path)
{
	if (strncmp(path, WEBUI_ASSETS_PREFIX, strlen(WEBUI_ASSETS_PREFIX)) == 0)
		return find_exact(path);
	if (strcmp(path, "/") == 0 || strcmp(path, "/ui") == 0 ||
	    strncmp(path, WEBUI_PREFIX, strlen(WEBUI_PREFIX)) == 0)
		return find_exact(WEBUI_INDEX_PATH);
	return NULL;
}

/* Length of the token at s up to a delimiter in `stop`, trailing blanks cut. */
static size_t token_len(const char *s, const char *stop)
{
	size_t n = strcspn(s, stop);

	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	return n;
}

bool webui_accepts_gzip(const char *accept_encoding)
{
	const char *p = accept_encoding;

	while (p && *p) {
		size_t n;

		p += strspn(p, " \t,");
		n = token_len(p, ";,");
		if ((n == 4 && strncasecmp(p, "gzip", 4) == 0) || (n == 1 && p[0] == '*')) {
			const char *params = p + strcspn(p, ";,");
			const char *q;

			/* "gzip;q=0" refuses it. */
			if (*params == ';' && (q = strstr(params, "q=")) != NULL &&
			    q < params + strcspn(params, ","))
				return strtod(q + 2, NULL) > 0;
			return true;
		}
		p += strcspn(p, ",");
	}
	return false;
}

bool webui_etag_matches(const char *if_none_match, const char *etag)
{
	const char *p = if_none_match;
	size_t elen;

	if (!p || !etag)
		return false;
	elen = strlen(etag);
	while (*p) {
		size_t n;

		p += strspn(p, " \t,");
		if (strncmp(p, "W/", 2) == 0)
			p += 2;
		n = token_len(p, ",");
		if ((n == 1 && p[0] == '*') || (n == elen && strncmp(p, etag, n) == 0))
			return true;
		p += strcspn(p, ",");
	}
	return false;
}

static void serve(struct http_request *req, struct http_response *resp)
{
	const struct webui_asset *a = webui_lookup(req->path);
	bool gz;
	const char *etag;
	const unsigned char *data;
	size_t len;
	char *body;

	if (!a) {
		http_reply_error(resp, 404, "no such file: %s", req->path);
		return;
	}
	gz = a->gz && webui_accepts_gzip(http_header(req, "Accept-Encoding"));
	etag = gz ? a->gz_etag : a->etag;
	data = gz ? a->gz : a->data;
	len = gz ? a->gz_len : a->len;
	resp->cache_control = a->immutable ? WEBUI_CACHE_HASHED : WEBUI_CACHE_INDEX;
	resp->vary = "Accept-Encoding";
	resp->header_name = "ETag";
	snprintf(resp->header_value, sizeof(resp->header_value), "%s", etag);
	if (webui_etag_matches(http_header(req, "If-None-Match"), etag)) {
		http_reply_body(resp, 304, a->content_type, NULL, 0);
		return;
	}
	body = malloc(len ? len : 1);
	if (!body) {
		http_reply_error(resp, 503, "out of memory");
		return;
	}
	memcpy(body, data, len);
	http_reply_body(resp, 200, a->content_type, body, len);
	resp->content_encoding = gz ? "gzip" : NULL;
}

const struct http_route routes_webui[] = {
    {"GET", "/", serve, 0, 0},	{"GET", "/ui", serve, 0, 0},  {"GET", "/ui/*", serve, 0, 0},
    {"HEAD", "/", serve, 0, 0}, {"HEAD", "/ui", serve, 0, 0}, {"HEAD", "/ui/*", serve, 0, 0},
};
const size_t routes_webui_count = sizeof(routes_webui) / sizeof(routes_webui[0]);
