/* client: see client.h. One CURL easy handle per client, reset before every
 * request; answers accumulate in a buffer with a hard maximum. */
#include "cli/client.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>

#include "util/log.h"
#include "util/parse.h"
#include "util/token.h"

#define RUNNING_HINT "is it running? (contprof up / contprof server)"
#define TOKEN_HINT                                                                                 \
	"pass --token-file FILE or set " CLIENT_TOKEN_ENV " (or " CLIENT_WRITE_TOKEN_ENV           \
	") to the server's write token"
#define SNIPPET_LEN 160 /* bytes of a non-JSON error body quoted back */

struct client {
	CURL *curl;
	bool curl_global;
	char *base_url;
	char *auth_header;		   /* "Authorization: Bearer ..." or NULL */
	char *tls_ca, *tls_cert, *tls_key; /* PEM paths, or NULL */
	char *errors[CLIENT_MAX_ERROR_LINES];
	size_t n_errors;
	size_t n_dropped; /* reason lines past CLIENT_MAX_ERROR_LINES */
	char curl_message[CURL_ERROR_SIZE];
};

struct sink {
	char *buf;
	size_t len, cap;
	bool too_large;
	int64_t next_offset;
};

#define NEXT_OFFSET_HEADER "X-Next-Offset:"

int client_options_take(struct client_options *opts, int opt, const char *arg)
{
	if (opt == CLIENT_OPT_SERVER)
		opts->server_url = arg;
	else if (opt == CLIENT_OPT_TOKEN_FILE)
		opts->token_file = arg;
	else if (opt == CLIENT_OPT_TLS_CA)
		opts->tls_ca = arg;
	else if (opt == CLIENT_OPT_TLS_CERT)
		opts->tls_cert = arg;
	else if (opt == CLIENT_OPT_TLS_KEY)
		opts->tls_key = arg;
	else
		return 0;
	return 1;
}

static void errors_clear(struct client *c)
{
	for (size_t i = 0; i < c->n_errors; i++)
		free(c->errors[i]);
	c->n_errors = 0;
	c->n_dropped = 0;
}

/* Keeps one reason line: control characters become '?' (server text goes to
 * a terminal), cut to CLIENT_ERROR_LINE_MAX_LEN bytes. Lines past
 * CLIENT_MAX_ERROR_LINES are counted in a last "... and N more" line. */
static void __attribute__((format(printf, 2, 3))) error_add(struct client *c, const char *fmt, ...)
{
	char line[CLIENT_ERROR_LINE_MAX_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	for (char *p = line; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	if (c->n_errors == CLIENT_MAX_ERROR_LINES) {
		c->n_dropped++;
		return;
	}
	c->errors[c->n_errors] = strdup(line);
	if (c->errors[c->n_errors])
		c->n_errors++;
}

static void auth_clear(struct client *c)
{
	if (c->auth_header) {
		explicit_bzero(c->auth_header, strlen(c->auth_header));
		free(c->auth_header);
		c->auth_header = NULL;
	}
}

static void tls_clear(struct client *c)
{
	free(c->tls_ca);
	free(c->tls_cert);
	free(c->tls_key);
	c->tls_ca = c->tls_cert = c->tls_key = NULL;
}

/* One TLS file: the option, else the environment variable. Checks it can be
 * read (a key: that others cannot). 0 (*ret NULL when none) or -errno. */
static int tls_file(struct client *c, const char *opt, const char *env, bool is_key, char **ret)
{
	char reason[TOKEN_ERROR_MAX_LEN], *pem = NULL;
	const char *path = opt ? opt : getenv(env);
	int err;

	if (!path || !*path)
		return 0;
	err = token_read_pem(path, is_key, &pem, reason, sizeof(reason));
	if (pem)
		explicit_bzero(pem, strlen(pem));
	free(pem);
	if (err) {
		error_add(c, "%s", reason);
		return err;
	}
	*ret = strdup(path);
	return *ret ? 0 : -ENOMEM;
}

static int configure_tls(struct client *c, const struct client_options *opts)
{
	int err;

	tls_clear(c);
	err = tls_file(c, opts->tls_ca, CLIENT_TLS_CA_ENV, false, &c->tls_ca);
	if (!err)
		err = tls_file(c, opts->tls_cert, CLIENT_TLS_CERT_ENV, false, &c->tls_cert);
	if (!err)
		err = tls_file(c, opts->tls_key, CLIENT_TLS_KEY_ENV, true, &c->tls_key);
	if (!err && !c->tls_cert != !c->tls_key) {
		error_add(c, "a client certificate needs both --tls-cert and --tls-key");
		err = -EINVAL;
	}
	return err;
}

struct client *client_new(void)
{
	struct client *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return client_free(c);
	c->curl_global = true;
	c->curl = curl_easy_init();
	if (!c->curl)
		return client_free(c);
	return c;
}

struct client *client_free(struct client *c)
{
	if (!c)
		return NULL;
	errors_clear(c);
	if (c->curl)
		curl_easy_cleanup(c->curl);
	if (c->curl_global)
		curl_global_cleanup();
	free(c->base_url);
	auth_clear(c);
	tls_clear(c);
	free(c);
	return NULL;
}

static int check_url(struct client *c, const char *url, const char *from)
{
	const char *host;

	if (strncmp(url, "http://", 7) == 0)
		host = url + 7;
	else if (strncmp(url, "https://", 8) == 0)
		host = url + 8;
	else {
		error_add(c, "server URL '%s' (%s) must start with http:// or https://", url, from);
		return -EINVAL;
	}
	if (!*host || *host == '/') {
		error_add(c, "server URL '%s' (%s) has no host", url, from);
		return -EINVAL;
	}
	if (strlen(url) > CLIENT_MAX_URL_LEN / 2) {
		error_add(c, "server URL (%s) is longer than %d bytes", from,
			  CLIENT_MAX_URL_LEN / 2);
		return -EINVAL;
	}
	for (const char *p = url; *p; p++) {
		if ((unsigned char)*p <= 0x20 || *p == 0x7f) {
			error_add(c, "server URL '%s' (%s) contains blanks or control characters",
				  url, from);
			return -EINVAL;
		}
	}
	return 0;
}

/* A token is one line of visible ASCII; surrounding blanks and the final
 * newline of a file are dropped. */
static int set_token(struct client *c, char *token, const char *from)
{
	size_t len;
	char *start = token;

	while (*start && isspace((unsigned char)*start))
		start++;
	len = strlen(start);
	while (len > 0 && isspace((unsigned char)start[len - 1]))
		start[--len] = '\0';
	if (len == 0) {
		error_add(c, "the token from %s is empty", from);
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)start[i] <= 0x20 || (unsigned char)start[i] >= 0x7f) {
			error_add(c, "the token from %s must be one word of visible ASCII", from);
			return -EINVAL;
		}
	}
	if (asprintf(&c->auth_header, "Authorization: Bearer %s", start) < 0) {
		c->auth_header = NULL;
		return -ENOMEM;
	}
	return 0;
}

static int read_token_file(struct client *c, const char *path)
{
	char buf[CLIENT_MAX_TOKEN_BYTES + 2];
	size_t len = 0;
	char from[300], reason[TOKEN_ERROR_MAX_LEN];
	int fd, err = 0;

	snprintf(from, sizeof(from), "token file %s", path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		error_add(c, "cannot read token file %s: %s", path, strerror(-err));
		return err;
	}
	err = token_check_private_fd(fd, path, reason, sizeof(reason));
	if (err < 0) {
		error_add(c, "token file %s", reason);
		close(fd);
		return err;
	}
	while (len < sizeof(buf) - 1) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			error_add(c, "cannot read token file %s: %s", path, strerror(-err));
			goto cleanup;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > CLIENT_MAX_TOKEN_BYTES) {
		error_add(c, "token file %s is larger than %d bytes", path, CLIENT_MAX_TOKEN_BYTES);
		err = -EINVAL;
		goto cleanup;
	}
	buf[len] = '\0';
	if (memchr(buf, '\0', len)) {
		error_add(c, "token file %s is not text", path);
		err = -EINVAL;
		goto cleanup;
	}
	err = set_token(c, buf, from);
cleanup:
	explicit_bzero(buf, sizeof(buf));
	close(fd);
	return err;
}

int client_configure(struct client *c, const struct client_options *opts)
{
	const char *url = opts->server_url, *from = "--server";
	const char *env_name = CLIENT_WRITE_TOKEN_ENV, *env_token = getenv(env_name);
	size_t len;
	int err;

	errors_clear(c);
	auth_clear(c);
	if (!url) {
		url = getenv(CLIENT_SERVER_ENV);
		from = "$" CLIENT_SERVER_ENV;
		if (!url || !*url) {
			url = CLIENT_DEFAULT_SERVER;
			from = "default";
		}
	}
	err = check_url(c, url, from);
	if (err)
		return err;
	free(c->base_url);
	c->base_url = strdup(url);
	if (!c->base_url)
		return -ENOMEM;
	len = strlen(c->base_url);
	while (len > 0 && c->base_url[len - 1] == '/')
		c->base_url[--len] = '\0';
	err = configure_tls(c, opts);
	if (err)
		return err;

	if (!env_token || !*env_token) {
		env_name = CLIENT_TOKEN_ENV;
		env_token = getenv(env_name);
	}
	if (opts->token_file)
		return read_token_file(c, opts->token_file);
	if (env_token && *env_token) {
		char *copy = strdup(env_token), env_from[64];

		if (!copy)
			return -ENOMEM;
		snprintf(env_from, sizeof(env_from), "$%s", env_name);
		err = set_token(c, copy, env_from);
		explicit_bzero(copy, strlen(copy));
		free(copy);
		return err;
	}
	return 0;
}

const char *client_server_url(const struct client *c)
{
	return c->base_url ? c->base_url : CLIENT_DEFAULT_SERVER;
}

char *client_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t len = strlen(s);
	char *out = malloc(len * 3 + 1), *o = out;

	if (!out)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~') {
			*o++ = (char)*p;
		} else {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		}
	}
	*o = '\0';
	return out;
}

int client_query_add(char **path, const char *key, const char *value)
{
	char *escaped = client_escape(value), *joined;
	int n;

	if (!escaped)
		return -ENOMEM;
	n = asprintf(&joined, "%s%c%s=%s", *path, strchr(*path, '?') ? '&' : '?', key, escaped);
	free(escaped);
	if (n < 0)
		return -ENOMEM;
	free(*path);
	*path = joined;
	return 0;
}

static size_t sink_write(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct sink *s = userdata;
	size_t n = size * nmemb;

	if (n > CLIENT_MAX_RESPONSE_BYTES - s->len) {
		s->too_large = true;
		return 0;
	}
	if (s->len + n + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 16384;
		char *buf;

		while (cap < s->len + n + 1)
			cap *= 2;
		if (cap > CLIENT_MAX_RESPONSE_BYTES + 1)
			cap = CLIENT_MAX_RESPONSE_BYTES + 1;
		buf = realloc(s->buf, cap);
		if (!buf)
			return 0;
		s->buf = buf;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, data, n);
	s->len += n;
	s->buf[s->len] = '\0';
	return n;
}

/* Picks the paging header out of the answer's headers. */
static size_t header_seen(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct sink *s = userdata;
	size_t n = size * nmemb, key_len = strlen(NEXT_OFFSET_HEADER);
	char value[32];
	size_t v = 0;

	if (n > key_len && strncasecmp(data, NEXT_OFFSET_HEADER, key_len) == 0) {
		for (size_t i = key_len; i < n && v + 1 < sizeof(value); i++)
			if (data[i] != ' ' && data[i] != '\r' && data[i] != '\n')
				value[v++] = data[i];
		value[v] = '\0';
		if (parse_i64(value, &s->next_offset) < 0 || s->next_offset < 0)
			s->next_offset = -1;
	}
	return n;
}

/* Words a libcurl failure. Connection failures say where and why and ask
 * whether the server runs. */
static int transport_error(struct client *c, CURLcode code, const struct sink *s)
{
	long os_errno = 0;
	const char *detail = c->curl_message[0] ? c->curl_message : curl_easy_strerror(code);

	curl_easy_getinfo(c->curl, CURLINFO_OS_ERRNO, &os_errno);
	switch (code) {
	case CURLE_COULDNT_CONNECT:
		if (os_errno == ECONNREFUSED || os_errno == 0) {
			error_add(c, "cannot reach server at %s (connection refused) \u2014 %s",
				  c->base_url, RUNNING_HINT);
			return -ECONNREFUSED;
		}
		error_add(c, "cannot reach server at %s (%s) \u2014 %s", c->base_url,
			  strerror((int)os_errno), RUNNING_HINT);
		return -(int)os_errno;
	case CURLE_COULDNT_RESOLVE_HOST:
		error_add(c, "cannot reach server at %s (cannot resolve the host name)",
			  c->base_url);
		return -EHOSTUNREACH;
	case CURLE_OPERATION_TIMEDOUT:
		error_add(c, "server at %s did not answer in time (%s)", c->base_url, detail);
		return -ETIMEDOUT;
	case CURLE_WRITE_ERROR:
		if (s->too_large) {
			error_add(c, "the server's answer is larger than the %u MiB limit",
				  CLIENT_MAX_RESPONSE_BYTES / (1024 * 1024));
			return -EMSGSIZE;
		}
		error_add(c, "out of memory reading the server's answer");
		return -ENOMEM;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_PEER_FAILED_VERIFICATION:
		error_add(c,
			  "the certificate of %s is not trusted (%s) \u2014 pass --tls-ca FILE "
			  "with the CA that signed it",
			  c->base_url, detail);
		return -EACCES;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
		error_add(c, "TLS with %s failed (%s)", c->base_url, detail);
		return -EPROTO;
	default:
		error_add(c, "request to %s failed (%s)", c->base_url, detail);
		return -EIO;
	}
}

/* Words an HTTP error answer: every entry of {"errors": [...]}, or the
 * status and the start of the body when the server sent no such list. */
static int http_error(struct client *c, const char *method, const char *path, long status,
		      const struct sink *s)
{
	json_t *doc = s->len ? json_loadb(s->buf, s->len, 0, NULL) : NULL;
	json_t *errors = json_is_object(doc) ? json_object_get(doc, "errors") : NULL;
	json_t *error = json_is_object(doc) ? json_object_get(doc, "error") : NULL;
	size_t i;
	json_t *entry;

	if (json_is_array(errors) && json_array_size(errors) > 0) {
		json_array_foreach(errors, i, entry)
		{
			if (json_is_string(entry))
				error_add(c, "%s", json_string_value(entry));
			else {
				char *text = json_dumps(entry, JSON_COMPACT | JSON_ENCODE_ANY);

				error_add(c, "%s", text ? text : "(unreadable error entry)");
				free(text);
			}
		}
	} else if (json_is_string(error)) {
		error_add(c, "%s", json_string_value(error));
	} else if (s->len && !doc) {
		error_add(c, "server answered HTTP %ld to %s %s: %.*s", status, method, path,
			  (int)(s->len < SNIPPET_LEN ? s->len : SNIPPET_LEN), s->buf);
	} else {
		error_add(c, "server answered HTTP %ld to %s %s", status, method, path);
	}
	json_decref(doc);
	if ((status == 401 || status == 403) && !c->auth_header)
		error_add(c, "the server wants a token: %s", TOKEN_HINT);
	if (status == 400)
		return -EINVAL;
	if (status == 401 || status == 403)
		return -EACCES;
	if (status == 404)
		return -ENOENT;
	return -EIO;
}

int client_request(struct client *c, const char *method, const char *path, const json_t *body,
		   struct client_response *resp)
{
	struct curl_slist *headers = NULL, *h;
	struct sink sink = {.next_offset = -1};
	char *url = NULL, *payload = NULL, *ctype = NULL;
	long status = 0;
	CURLcode code;
	int err = 0;

	errors_clear(c);
	c->curl_message[0] = '\0';
	if (!c->base_url) {
		error_add(c, "client used before it was configured");
		return -EINVAL;
	}
	if (strlen(c->base_url) + strlen(path) >= CLIENT_MAX_URL_LEN) {
		error_add(c, "request URL longer than %d bytes", CLIENT_MAX_URL_LEN);
		return -EINVAL;
	}
	if (asprintf(&url, "%s%s", c->base_url, path) < 0)
		return -ENOMEM;
	if (body) {
		payload = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!payload) {
			err = -ENOMEM;
			goto cleanup;
		}
		h = curl_slist_append(headers, "Content-Type: application/json");
		if (!h) {
			err = -ENOMEM;
			goto cleanup;
		}
		headers = h;
	}
	if (c->auth_header) {
		h = curl_slist_append(headers, c->auth_header);
		if (!h) {
			err = -ENOMEM;
			goto cleanup;
		}
		headers = h;
	}

	curl_easy_reset(c->curl);
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, c->curl_message);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)CLIENT_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, (long)CLIENT_REQUEST_TIMEOUT_MS);
	curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "contprof/" CONTPROF_VERSION);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, sink_write);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &sink);
	curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, header_seen);
	curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, &sink);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, headers);
	if (c->tls_ca)
		curl_easy_setopt(c->curl, CURLOPT_CAINFO, c->tls_ca);
	if (c->tls_cert) {
		curl_easy_setopt(c->curl, CURLOPT_SSLCERT, c->tls_cert);
		curl_easy_setopt(c->curl, CURLOPT_SSLKEY, c->tls_key);
	}
	if (strcmp(method, "GET") != 0)
		curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
	if (payload || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, payload ? payload : "");
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE,
				 (long)(payload ? strlen(payload) : 0));
	}

	code = curl_easy_perform(c->curl);
	if (code != CURLE_OK) {
		err = transport_error(c, code, &sink);
		log_debug("%s %s: %s", method, url, curl_easy_strerror(code));
		goto cleanup;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(c->curl, CURLINFO_CONTENT_TYPE, &ctype);
	log_debug("%s %s -> HTTP %ld, %zu bytes", method, url, status, sink.len);
	if (status < 200 || status > 299) {
		err = http_error(c, method, path, status, &sink);
		goto cleanup;
	}
	if (!sink.buf) {
		sink.buf = calloc(1, 1);
		if (!sink.buf) {
			err = -ENOMEM;
			goto cleanup;
		}
	}
	resp->status = status;
	resp->content_type = ctype ? strdup(ctype) : NULL;
	resp->body = sink.buf;
	resp->len = sink.len;
	resp->next_offset = sink.next_offset;
	sink.buf = NULL;
cleanup:
	free(sink.buf);
	curl_slist_free_all(headers);
	free(payload);
	free(url);
	return err;
}

static int request_json(struct client *c, const char *method, const char *path, const json_t *body,
			json_t **ret, int64_t *ret_next_offset)
{
	struct client_response resp = {0};
	json_error_t jerr;
	json_t *doc;
	int err;

	err = client_request(c, method, path, body, &resp);
	if (err)
		return err;
	if (resp.len == 0)
		doc = json_null();
	else
		doc = json_loadb(resp.body, resp.len, JSON_DECODE_ANY, &jerr);
	if (!doc) {
		error_add(c, "the server's answer to %s %s is not JSON (line %d: %s)", method, path,
			  jerr.line, jerr.text);
		err = -EPROTO;
	} else {
		*ret = doc;
		if (ret_next_offset)
			*ret_next_offset = resp.next_offset;
	}
	client_response_clear(&resp);
	return err;
}

int client_request_json(struct client *c, const char *method, const char *path, const json_t *body,
			json_t **ret)
{
	return request_json(c, method, path, body, ret, NULL);
}

int client_get_json_page(struct client *c, const char *path, json_t **ret, int64_t *ret_next_offset)
{
	return request_json(c, "GET", path, NULL, ret, ret_next_offset);
}

void client_note(struct client *c, const char *reason)
{
	errors_clear(c);
	error_add(c, "%s", reason);
}

void client_response_clear(struct client_response *resp)
{
	free(resp->body);
	free(resp->content_type);
	memset(resp, 0, sizeof(*resp));
}

void client_report(const struct client *c, const char *who, FILE *out)
{
	for (size_t i = 0; i < c->n_errors; i++)
		fprintf(out, "%s: %s\n", who, c->errors[i]);
	if (c->n_dropped)
		fprintf(out, "%s: ... and %zu more\n", who, c->n_dropped);
}

size_t client_error_count(const struct client *c)
{
	return c->n_errors;
}

const char *client_error_line(const struct client *c, size_t i)
{
	return i < c->n_errors ? c->errors[i] : NULL;
}
