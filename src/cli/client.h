/* client: the one HTTP client of the CLI, talking to a server's API
 * (DESIGN.md section 7) with libcurl's easy interface.
 *
 * Owns: choosing the server (`--server URL`, else $CONTPROF_SERVER, else
 * CLIENT_DEFAULT_SERVER), the bearer token — the server's write token —
 * (`--token-file F`, else $CONTPROF_WRITE_TOKEN, else $CONTPROF_TOKEN; a
 * file must be private to its owner), TLS (`--tls-ca F` the server's
 * certificate must chain to, `--tls-cert F --tls-key F` a client
 * certificate, else $CONTPROF_TLS_CA / _CERT / _KEY); sending GET/PUT/POST/DELETE with JSON bodies; bounding
 * the response size and the time a request may take; and turning every
 * failure into text that says what happened — transport failures name the
 * server and the cause, HTTP errors carry every entry of the server's
 * `{"errors": [...]}`. The text is kept in the client; the command reports it
 * once with client_report().
 * Does not own: what the commands ask or how they print answers.
 * Single-threaded: one client per command run.
 */
#ifndef CONTPROF_CLI_CLIENT_H
#define CONTPROF_CLI_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#define CLIENT_DEFAULT_SERVER	  "http://127.0.0.1:8080"
#define CLIENT_SERVER_ENV	  "CONTPROF_SERVER"
#define CLIENT_TOKEN_ENV	  "CONTPROF_TOKEN"
#define CLIENT_WRITE_TOKEN_ENV	  "CONTPROF_WRITE_TOKEN" /* wins over CLIENT_TOKEN_ENV */
#define CLIENT_TLS_CA_ENV	  "CONTPROF_TLS_CA"
#define CLIENT_TLS_CERT_ENV	  "CONTPROF_TLS_CERT"
#define CLIENT_TLS_KEY_ENV	  "CONTPROF_TLS_KEY"
#define CLIENT_MAX_RESPONSE_BYTES (256u * 1024 * 1024)
#define CLIENT_MAX_TOKEN_BYTES	  4096
#define CLIENT_MAX_URL_LEN	  2048
#define CLIENT_CONNECT_TIMEOUT_MS 5000
#define CLIENT_REQUEST_TIMEOUT_MS 120000
#define CLIENT_MAX_ERROR_LINES	  64
#define CLIENT_ERROR_LINE_MAX_LEN 512

/* getopt_long codes of the options every client command accepts. */
enum {
	CLIENT_OPT_SERVER = 0x1000,
	CLIENT_OPT_TOKEN_FILE,
	CLIENT_OPT_TLS_CA,
	CLIENT_OPT_TLS_CERT,
	CLIENT_OPT_TLS_KEY,
};

/* clang-format off */
#define CLIENT_LONG_OPTIONS                                                \
	{"server", required_argument, NULL, CLIENT_OPT_SERVER},            \
	{"token-file", required_argument, NULL, CLIENT_OPT_TOKEN_FILE},     \
	{"tls-ca", required_argument, NULL, CLIENT_OPT_TLS_CA},            \
	{"tls-cert", required_argument, NULL, CLIENT_OPT_TLS_CERT},        \
	{"tls-key", required_argument, NULL, CLIENT_OPT_TLS_KEY}
/* clang-format on */

#define CLIENT_OPTIONS_HELP                                                                        \
	"  --server URL        server to ask (default: $" CLIENT_SERVER_ENV ", else "              \
	"" CLIENT_DEFAULT_SERVER ")\n"                                                             \
	"  --token-file FILE   send the token in FILE (the server's write token) as a\n"           \
	"                      bearer token (default: $" CLIENT_WRITE_TOKEN_ENV ", else $"         \
	"" CLIENT_TOKEN_ENV ")\n"                                                                  \
	"  --tls-ca FILE       PEM CA an https server's certificate must chain to\n"               \
	"                      (default: $" CLIENT_TLS_CA_ENV ", else the system's CAs)\n"         \
	"  --tls-cert FILE, --tls-key FILE  client certificate to present (default:\n"             \
	"                      $" CLIENT_TLS_CERT_ENV ", $" CLIENT_TLS_KEY_ENV ")\n"

struct client_options {
	const char *server_url; /* NULL: environment, then default */
	const char *token_file; /* NULL: environment, then none */
	const char *tls_ca;	/* NULL: environment, then the system's CAs */
	const char *tls_cert;	/* NULL: environment, then none */
	const char *tls_key;
};

/* Records a client option from getopt_long; returns 1 when `opt` was one. */
int client_options_take(struct client_options *opts, int opt, const char *arg);

struct client_response {
	long status;	     /* HTTP status */
	char *body;	     /* NUL-terminated (binary bodies may hold NULs) */
	size_t len;	     /* bytes in body, without the terminator */
	char *content_type;  /* or NULL */
	int64_t next_offset; /* X-Next-Offset: where the next page starts, or -1 */
};

struct client;

/* New client, not yet configured; NULL on ENOMEM. */
struct client *client_new(void);

/* Accepts NULL and half-configured clients; returns NULL. */
struct client *client_free(struct client *c);

/* Resolves server URL and token from `opts` and the environment.
 * Returns 0; -EINVAL for a malformed URL or token (a usage error); another
 * -errno when the token file cannot be read. On failure the reason is kept
 * for client_report(). */
int client_configure(struct client *c, const struct client_options *opts);

/* The server's base URL without a trailing slash (valid after configure). */
const char *client_server_url(const struct client *c);

/* Percent-encodes one path segment or query value; malloc'd, NULL on ENOMEM. */
char *client_escape(const char *s);

/* Appends "?key=value" or "&key=value" (value escaped) to the malloc'd
 * string *path, reallocating it. 0 or -ENOMEM (then *path is unchanged). */
int client_query_add(char **path, const char *key, const char *value);

/* Sends `method` to base URL + `path` (which starts with '/'), with `body`
 * serialized as JSON when not NULL. On a 2xx answer returns 0 and fills
 * *resp (free with client_response_clear()). Otherwise returns
 *   -ECONNREFUSED, -ETIMEDOUT, -EHOSTUNREACH, ... transport failures;
 *   -EMSGSIZE  the answer was larger than CLIENT_MAX_RESPONSE_BYTES;
 *   -EINVAL    HTTP 400; -EACCES 401/403; -ENOENT 404; -EIO other 4xx/5xx;
 *   -ENOMEM.
 * and keeps the reason (every server error entry) for client_report(). */
int client_request(struct client *c, const char *method, const char *path, const json_t *body,
		   struct client_response *resp);

/* client_request() + decoding the answer as JSON. An answer that is not JSON
 * is -EPROTO. *ret is a new reference, written only on success; an empty
 * 2xx body (204) gives JSON null. */
int client_request_json(struct client *c, const char *method, const char *path, const json_t *body,
			json_t **ret);

/* GET + JSON like client_request_json(), also giving the X-Next-Offset
 * paging header (-1 when the answer was the last page). */
int client_get_json_page(struct client *c, const char *path, json_t **ret,
			 int64_t *ret_next_offset);

void client_response_clear(struct client_response *resp);

/* Replaces the kept reason with `reason` (a caller's own finding about an
 * answer, reported like the client's own). */
void client_note(struct client *c, const char *reason);

/* Prints the kept reason of the last failure to `out`, one line per entry,
 * each prefixed with "`who`: ". Prints nothing when there is none. */
void client_report(const struct client *c, const char *who, FILE *out);

/* Number of kept reason lines and one of them (for tests and callers that
 * want to word the report themselves). */
size_t client_error_count(const struct client *c);
const char *client_error_line(const struct client *c, size_t i);

#endif
