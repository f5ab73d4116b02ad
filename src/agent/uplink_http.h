/* uplink_http: one blocking HTTP exchange with the server for the uplink's
 * threads (libcurl easy handle per thread), over HTTPS when the server URL
 * says so: the server is checked against a CA file (else the system's CAs)
 * and a client certificate is presented when one is configured. Internal to
 * the uplink. */
#ifndef CONTPROF_AGENT_UPLINK_HTTP_H
#define CONTPROF_AGENT_UPLINK_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UPLINK_HTTP_MAX_RESPONSE (64u * 1024 * 1024)

struct uplink_http;

/* PEM file paths, each NULL or "" for none; libcurl reads them itself
 * (checked for readability and key permissions at the agent's start). */
struct uplink_http_tls {
	const char *ca_file;   /* CA bundle the server's certificate must chain to */
	const char *cert_file; /* client certificate, with key_file */
	const char *key_file;
};

/* Copies each path of `in` (empty ones become NULL) into `out`, which then
 * owns them: 0 or -ENOMEM. Free with uplink_http_tls_clear(). */
int uplink_http_tls_copy(const struct uplink_http_tls *in, struct uplink_http_tls *out);
void uplink_http_tls_clear(struct uplink_http_tls *tls);

/* `abort_flag` (may be NULL) is polled during the transfer: when it becomes
 * true the exchange ends with -ECANCELED. */
struct uplink_http *uplink_http_new(const char *base_url, const char *token,
				    const struct uplink_http_tls *tls /* may be NULL */,
				    const volatile bool *abort_flag);
struct uplink_http *uplink_http_free(struct uplink_http *h);

/* Sends `body` (may be NULL) with `method` to base_url + path. Returns 0 with
 * the HTTP status and a malloc'd NUL-terminated response (caller frees), or
 * -errno for transport failures (-ECONNREFUSED, -ETIMEDOUT, -ECANCELED...),
 * with a readable reason in the handle (uplink_http_error). */
int uplink_http_send(struct uplink_http *h, const char *method, const char *path, const char *body,
		     size_t body_len, uint32_t timeout_ms, long *ret_status, char **ret_body);
const char *uplink_http_error(const struct uplink_http *h);

#endif
