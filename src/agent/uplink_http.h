/* uplink_http: one blocking HTTP exchange with the server for the uplink's
 * threads (libcurl easy handle per thread). Internal to the uplink. */
#ifndef CONTPROF_AGENT_UPLINK_HTTP_H
#define CONTPROF_AGENT_UPLINK_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UPLINK_HTTP_MAX_RESPONSE (64u * 1024 * 1024)

struct uplink_http;

/* `abort_flag` (may be NULL) is polled during the transfer: when it becomes
 * true the exchange ends with -ECANCELED. */
struct uplink_http *uplink_http_new(const char *base_url, const char *token,
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
