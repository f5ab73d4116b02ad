/* uplink_http: see uplink_http.h. */
#include "agent/uplink_http.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

struct uplink_http {
	CURL *curl;
	char *base_url;
	char *auth_header;
	struct uplink_http_tls tls; /* owned copies */
	const volatile bool *abort_flag;
	char error[CURL_ERROR_SIZE + 2048 + 16];
};

struct response {
	char *data;
	size_t len, cap;
	bool too_big;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ctx)
{
	struct response *r = ctx;
	size_t n = size * nmemb;

	if (r->len + n + 1 > UPLINK_HTTP_MAX_RESPONSE) {
		r->too_big = true;
		return 0;
	}
	if (r->len + n + 1 > r->cap) {
		size_t cap = r->cap ? r->cap : 4096;
		char *grown;

		while (cap < r->len + n + 1)
			cap *= 2;
		grown = realloc(r->data, cap);
		if (!grown)
			return 0;
		r->data = grown;
		r->cap = cap;
	}
	memcpy(r->data + r->len, ptr, n);
	r->len += n;
	r->data[r->len] = '\0';
	return n;
}

static int on_progress(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	const struct uplink_http *h = ctx;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return h->abort_flag && *h->abort_flag ? 1 : 0;
}

/* A copy of a path, NULL for none; *failed set on ENOMEM. */
static char *path_dup(const char *path, bool *failed)
{
	char *copy;

	if (!path || !*path)
		return NULL;
	copy = strdup(path);
	if (!copy)
		*failed = true;
	return copy;
}

int uplink_http_tls_copy(const struct uplink_http_tls *in, struct uplink_http_tls *out)
{
	bool failed = false;

	out->ca_file = path_dup(in->ca_file, &failed);
	out->cert_file = path_dup(in->cert_file, &failed);
	out->key_file = path_dup(in->key_file, &failed);
	if (failed) {
		uplink_http_tls_clear(out);
		return -ENOMEM;
	}
	return 0;
}

void uplink_http_tls_clear(struct uplink_http_tls *tls)
{
	free((char *)tls->ca_file);
	free((char *)tls->cert_file);
	free((char *)tls->key_file);
	memset(tls, 0, sizeof(*tls));
}

struct uplink_http *uplink_http_new(const char *base_url, const char *token,
				    const struct uplink_http_tls *tls,
				    const volatile bool *abort_flag)
{
	struct uplink_http *h = calloc(1, sizeof(*h));
	bool failed = false;

	if (!h)
		return NULL;
	if (tls && uplink_http_tls_copy(tls, &h->tls) < 0)
		failed = true;
	h->curl = curl_easy_init();
	h->base_url = strdup(base_url);
	h->abort_flag = abort_flag;
	if (token && asprintf(&h->auth_header, "Authorization: Bearer %s", token) < 0)
		h->auth_header = NULL;
	if (!h->curl || !h->base_url || (token && !h->auth_header) || failed)
		return uplink_http_free(h);
	/* Strip a trailing slash so paths join cleanly. */
	size_t n = strlen(h->base_url);
	while (n && h->base_url[n - 1] == '/')
		h->base_url[--n] = '\0';
	return h;
}

struct uplink_http *uplink_http_free(struct uplink_http *h)
{
	if (!h)
		return NULL;
	if (h->curl)
		curl_easy_cleanup(h->curl);
	free(h->base_url);
	if (h->auth_header)
		explicit_bzero(h->auth_header, strlen(h->auth_header));
	free(h->auth_header);
	uplink_http_tls_clear(&h->tls);
	free(h);
	return NULL;
}

const char *uplink_http_error(const struct uplink_http *h)
{
	return h->error;
}

static int curl_to_errno(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_ABORTED_BY_CALLBACK:
		return -ECANCELED;
	case CURLE_COULDNT_RESOLVE_HOST:
		return -EHOSTUNREACH;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

int uplink_http_send(struct uplink_http *h, const char *method, const char *path, const char *body,
		     size_t body_len, uint32_t timeout_ms, long *ret_status, char **ret_body)
{
	struct curl_slist *headers = NULL;
	struct response r = {0};
	char url[2048], curl_error[CURL_ERROR_SIZE] = "";
	CURLcode rc;
	int err = 0;

	snprintf(url, sizeof(url), "%s%s", h->base_url, path);
	curl_easy_reset(h->curl);
	headers = curl_slist_append(headers, "Content-Type: application/json");
	if (h->auth_header)
		headers = curl_slist_append(headers, h->auth_header);
	curl_easy_setopt(h->curl, CURLOPT_URL, url);
	curl_easy_setopt(h->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h->curl, CURLOPT_CUSTOMREQUEST, method);
	if (h->tls.ca_file)
		curl_easy_setopt(h->curl, CURLOPT_CAINFO, h->tls.ca_file);
	if (h->tls.cert_file)
		curl_easy_setopt(h->curl, CURLOPT_SSLCERT, h->tls.cert_file);
	if (h->tls.key_file)
		curl_easy_setopt(h->curl, CURLOPT_SSLKEY, h->tls.key_file);
	curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h->curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(h->curl, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(h->curl, CURLOPT_ERRORBUFFER, curl_error);
	curl_easy_setopt(h->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h->curl, CURLOPT_XFERINFODATA, h);
	if (body) {
		curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	}
	rc = curl_easy_perform(h->curl);
	curl_slist_free_all(headers);
	if (rc != CURLE_OK) {
		err = r.too_big ? -EMSGSIZE : curl_to_errno(rc);
		snprintf(h->error, sizeof(h->error), "%s %s: %s", method, url,
			 curl_error[0] ? curl_error : curl_easy_strerror(rc));
		free(r.data);
		return err;
	}
	curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, ret_status);
	if (!r.data)
		r.data = strdup("");
	if (!r.data)
		return -ENOMEM;
	*ret_body = r.data;
	h->error[0] = '\0';
	return 0;
}
