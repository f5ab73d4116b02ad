/* Unit tests of cli/client: choosing server and token, escaping, and the
 * exchange itself against a canned HTTP responder on loopback — error lists
 * reported entry by entry, status mapping, bearer token and body sent, the
 * connection-refused message. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#include "cli/client.h"
#include "cli/cmdutil.h"

/* --- a one-request-per-connection HTTP responder --- */

static int listen_fd = -1;
static int port;
static pthread_t responder;
#define MAX_CANNED 4
static char canned[MAX_CANNED][4096]; /* responses in order; the last repeats */
static size_t n_canned, next_canned;
static char last_request[8192];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void add_response(int status, const char *extra_header, const char *content_type,
			 const char *body)
{
	pthread_mutex_lock(&lock);
	if (n_canned < MAX_CANNED)
		snprintf(canned[n_canned++], sizeof(canned[0]),
			 "HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
			 "Connection: close\r\n\r\n%s",
			 status, content_type, strlen(body), extra_header, body);
	pthread_mutex_unlock(&lock);
}

static void set_response(int status, const char *content_type, const char *body)
{
	pthread_mutex_lock(&lock);
	n_canned = next_canned = 0;
	pthread_mutex_unlock(&lock);
	add_response(status, "", content_type, body);
}

static void *respond_loop(void *arg)
{
	(void)arg;
	for (;;) {
		int fd = accept(listen_fd, NULL, NULL);
		size_t len = 0;
		char *head_end = NULL;

		if (fd < 0)
			return NULL;
		/* Read the head, then Content-Length bytes of body. */
		while (len < sizeof(last_request) - 1) {
			ssize_t n = read(fd, last_request + len, sizeof(last_request) - 1 - len);
			const char *cl;

			if (n <= 0)
				break;
			len += (size_t)n;
			last_request[len] = '\0';
			head_end = strstr(last_request, "\r\n\r\n");
			if (!head_end)
				continue;
			cl = strcasestr(last_request, "Content-Length: ");
			if (!cl || cl > head_end ||
			    len >=
				(size_t)(head_end + 4 - last_request) + strtoul(cl + 16, NULL, 10))
				break;
		}
		pthread_mutex_lock(&lock);
		{
			const char *r = canned[next_canned < n_canned ? next_canned : n_canned - 1];

			next_canned++;
			if (write(fd, r, strlen(r)) < 0)
				perror("responder write");
		}
		pthread_mutex_unlock(&lock);
		close(fd);
	}
}

static void responder_start(void)
{
	struct sockaddr_in addr = {.sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(addr);

	listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(listen_fd, 8) < 0 ||
	    getsockname(listen_fd, (struct sockaddr *)&addr, &alen) < 0) {
		perror("responder");
		exit(1);
	}
	port = ntohs(addr.sin_port);
	pthread_create(&responder, NULL, respond_loop, NULL);
}

static void responder_stop(void)
{
	shutdown(listen_fd, SHUT_RDWR);
	close(listen_fd);
	pthread_join(responder, NULL);
}

static struct client *client_at(const char *url, const char *token_file)
{
	struct client_options opts = {.server_url = url, .token_file = token_file};
	struct client *c = client_new();

	CHECK(c != NULL);
	CHECK_INT_EQ(client_configure(c, &opts), 0);
	return c;
}

static struct client *client_here(void)
{
	char url[64];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	return client_at(url, NULL);
}

/* --- configuration --- */

TEST(server_from_option_then_environment_then_default)
{
	struct client_options opts = {0};
	struct client *c = client_new();

	unsetenv(CLIENT_SERVER_ENV);
	CHECK_INT_EQ(client_configure(c, &opts), 0);
	CHECK_STR_EQ(client_server_url(c), CLIENT_DEFAULT_SERVER);
	setenv(CLIENT_SERVER_ENV, "http://env.example:9000/", 1);
	CHECK_INT_EQ(client_configure(c, &opts), 0);
	CHECK_STR_EQ(client_server_url(c), "http://env.example:9000");
	opts.server_url = "https://opt.example//";
	CHECK_INT_EQ(client_configure(c, &opts), 0);
	CHECK_STR_EQ(client_server_url(c), "https://opt.example");
	setenv(CLIENT_SERVER_ENV, "", 1);
	opts.server_url = NULL;
	CHECK_INT_EQ(client_configure(c, &opts), 0);
	CHECK_STR_EQ(client_server_url(c), CLIENT_DEFAULT_SERVER);
	unsetenv(CLIENT_SERVER_ENV);
	client_free(c);
}

TEST(malformed_server_urls_are_usage_errors)
{
	static const char *const bad[] = {"127.0.0.1:8080", "ftp://x", "http://", "http:///x",
					  "http://a b"};
	struct client *c = client_new();

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct client_options opts = {.server_url = bad[i]};

		harness_context("%s", bad[i]);
		CHECK_INT_EQ(client_configure(c, &opts), -EINVAL);
		CHECK_INT_EQ(client_error_count(c), 1);
		CHECK(strstr(client_error_line(c, 0), "--server") != NULL);
	}
	client_free(c);
}

TEST(token_from_file_or_environment)
{
	char path[] = "/tmp/contprof-test-token-XXXXXX";
	int fd = mkstemp(path);
	struct client_options opts = {.server_url = "http://127.0.0.1:1", .token_file = path};
	struct client *c = client_new();

	CHECK(fd >= 0);
	/* Empty file. */
	CHECK_INT_EQ(client_configure(c, &opts), -EINVAL);
	CHECK(strstr(client_error_line(c, 0), "is empty") != NULL);
	/* Two words. */
	CHECK(write(fd, "two words\n", 10) == 10);
	CHECK_INT_EQ(client_configure(c, &opts), -EINVAL);
	CHECK(ftruncate(fd, 0) == 0);
	CHECK(pwrite(fd, "s3cret\n", 7, 0) == 7);
	CHECK_INT_EQ(client_configure(c, &opts), 0);
	/* Others may read it: refused before it is used. */
	CHECK(fchmod(fd, 0644) == 0);
	CHECK_INT_EQ(client_configure(c, &opts), -EPERM);
	CHECK(strstr(client_error_line(c, 0), "chmod 600") != NULL);
	CHECK(fchmod(fd, 0600) == 0);
	/* The write token's own variable wins over the shared one. */
	opts.token_file = NULL;
	setenv(CLIENT_TOKEN_ENV, "a b", 1);
	setenv(CLIENT_WRITE_TOKEN_ENV, "writetoken", 1);
	CHECK_INT_EQ(client_configure(c, &opts), 0);
	unsetenv(CLIENT_WRITE_TOKEN_ENV);
	CHECK_INT_EQ(client_configure(c, &opts), -EINVAL);
	CHECK(strstr(client_error_line(c, 0), "$" CLIENT_TOKEN_ENV) != NULL);
	unsetenv(CLIENT_TOKEN_ENV);
	opts.token_file = path;
	close(fd);
	unlink(path);
	CHECK_INT_EQ(client_configure(c, &opts), -ENOENT);
	CHECK(strstr(client_error_line(c, 0), "cannot read token file") != NULL);
	opts.token_file = NULL;
	setenv(CLIENT_TOKEN_ENV, "a\r\nX-Evil: 1", 1);
	CHECK_INT_EQ(client_configure(c, &opts), -EINVAL);
	setenv(CLIENT_TOKEN_ENV, "envtoken", 1);
	CHECK_INT_EQ(client_configure(c, &opts), 0);
	unsetenv(CLIENT_TOKEN_ENV);
	client_free(c);
}

TEST(escaping_and_query_strings)
{
	char *s = client_escape("a b/c?d&e=é"), *path = strdup("/api/v1/tasks");

	CHECK_STR_EQ(s, "a%20b%2Fc%3Fd%26e%3D%C3%A9");
	CHECK_INT_EQ(client_query_add(&path, "service", "check out"), 0);
	CHECK_INT_EQ(client_query_add(&path, "since", "17"), 0);
	CHECK_STR_EQ(path, "/api/v1/tasks?service=check%20out&since=17");
	free(s);
	free(path);
	CHECK(client_free(NULL) == NULL);
}

/* --- exchanges --- */

TEST(connection_refused_names_the_server_and_asks_if_it_runs)
{
	struct sockaddr_in addr = {.sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(addr);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char url[64], want[256];
	struct client_response resp = {0};
	struct client *c;

	/* Bound but not listening: connecting is refused, and the port stays ours. */
	CHECK(bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0);
	CHECK(getsockname(fd, (struct sockaddr *)&addr, &alen) == 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", ntohs(addr.sin_port));
	c = client_at(url, NULL);
	CHECK_INT_EQ(client_request(c, "GET", "/api/v1/processes", NULL, &resp), -ECONNREFUSED);
	snprintf(want, sizeof(want),
		 "cannot reach server at %s (connection refused) \xe2\x80\x94 is it running? "
		 "(contprof up / contprof server)",
		 url);
	CHECK_INT_EQ(client_error_count(c), 1);
	CHECK_STR_EQ(client_error_line(c, 0), want);
	client_free(c);
	close(fd);
}

TEST(json_answer_with_bearer_token_sent)
{
	char path[] = "/tmp/contprof-test-token-XXXXXX", url[64];
	int fd = mkstemp(path);
	struct client *c;
	json_t *doc = NULL;

	CHECK(write(fd, "tok123\n", 7) == 7);
	close(fd);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
	c = client_at(url, path);
	set_response(200, "application/json", "[{\"id\":\"p1\"}]");
	CHECK_INT_EQ(client_request_json(c, "GET", "/api/v1/processes?service=a", NULL, &doc), 0);
	CHECK(json_is_array(doc));
	CHECK_STR_EQ(json_string_value(json_object_get(json_array_get(doc, 0), "id")), "p1");
	CHECK(strncmp(last_request, "GET /api/v1/processes?service=a HTTP/1.1\r\n", 42) == 0);
	CHECK(strstr(last_request, "\r\nAuthorization: Bearer tok123\r\n") != NULL);
	json_decref(doc);
	client_free(c);
	unlink(path);
}

TEST(put_sends_the_json_body)
{
	struct client *c = client_here();
	json_t *body = json_pack("{s:s}", "service", "checkout"), *doc = NULL;

	set_response(204, "application/json", "");
	CHECK_INT_EQ(client_request_json(c, "PUT", "/api/v1/services/checkout/policy", body, &doc),
		     0);
	CHECK(json_is_null(doc));
	CHECK(strncmp(last_request, "PUT /api/v1/services/checkout/policy ", 37) == 0);
	CHECK(strstr(last_request, "Content-Type: application/json\r\n") != NULL);
	CHECK(strstr(last_request, "\r\n\r\n{\"service\":\"checkout\"}") != NULL);
	CHECK(strstr(last_request, "Authorization:") == NULL);
	json_decref(doc);
	json_decref(body);
	client_free(c);
}

TEST(every_server_error_entry_is_kept)
{
	struct client *c = client_here();
	struct client_response resp = {0};
	char *out = NULL;
	size_t len = 0;
	FILE *f;

	set_response(400, "application/json",
		     "{\"errors\":[\"targets[0]: unknown target 'GPU'\","
		     "\"targets[1].items[0]: count 12 > period 10\"]}");
	CHECK_INT_EQ(client_request(c, "PUT", "/api/v1/services/x/policy", NULL, &resp), -EINVAL);
	CHECK_INT_EQ(client_error_count(c), 2);
	f = open_memstream(&out, &len);
	client_report(c, "contprof policy set", f);
	fclose(f);
	CHECK_STR_EQ(out, "contprof policy set: targets[0]: unknown target 'GPU'\n"
			  "contprof policy set: targets[1].items[0]: count 12 > period 10\n");
	free(out);
	CHECK(resp.body == NULL);
	client_free(c);
}

TEST(statuses_map_to_errors_with_readable_reasons)
{
	struct client *c = client_here();
	struct client_response resp = {0};
	json_t *doc = NULL;

	set_response(404, "application/json", "{\"errors\":[\"task 'nope' not found\"]}");
	CHECK_INT_EQ(client_request(c, "GET", "/api/v1/tasks/nope", NULL, &resp), -ENOENT);
	CHECK_STR_EQ(client_error_line(c, 0), "task 'nope' not found");

	set_response(502, "text/plain", "bad\x1b[2Jgateway");
	CHECK_INT_EQ(client_request(c, "GET", "/x", NULL, &resp), -EIO);
	CHECK_STR_EQ(client_error_line(c, 0), "server answered HTTP 502 to GET /x: bad?[2Jgateway");

	set_response(401, "application/json", "{\"errors\":[\"a token is required\"]}");
	CHECK_INT_EQ(client_request(c, "POST", "/api/v1/tasks", NULL, &resp), -EACCES);
	CHECK_INT_EQ(client_error_count(c), 2);
	CHECK(strstr(client_error_line(c, 1), "--token-file") != NULL);

	set_response(200, "text/plain", "not json");
	CHECK_INT_EQ(client_request_json(c, "GET", "/y", NULL, &doc), -EPROTO);
	CHECK(strstr(client_error_line(c, 0), "is not JSON") != NULL);

	set_response(200, "text/plain", "main;work 3\n");
	CHECK_INT_EQ(client_request(c, "GET", "/z", NULL, &resp), 0);
	CHECK_INT_EQ(resp.status, 200);
	CHECK_STR_EQ(resp.body, "main;work 3\n");
	CHECK_INT_EQ(resp.len, 12);
	CHECK_STR_EQ(resp.content_type, "text/plain");
	CHECK_INT_EQ(client_error_count(c), 0);
	client_response_clear(&resp);
	client_free(c);
}

TEST(listings_follow_the_next_offset_header)
{
	struct client *c = client_here();
	json_t *rows = NULL;
	bool truncated = true;

	set_response(200, "application/json", "[]");
	n_canned = 0;
	add_response(200, "X-Next-Offset: 2\r\n", "application/json",
		     "[{\"id\":\"a\"},{\"id\":\"b\"}]");
	add_response(200, "", "application/json", "[{\"id\":\"c\"}]");
	CHECK_INT_EQ(cmdutil_get_list(c, "/api/v1/tasks?service=s", "tasks", 0, &rows, &truncated),
		     0);
	CHECK_INT_EQ(json_array_size(rows), 3);
	CHECK_STR_EQ(json_string_value(json_object_get(json_array_get(rows, 2), "id")), "c");
	CHECK(!truncated);
	/* The second request asked for the page after the first. */
	CHECK(strncmp(last_request, "GET /api/v1/tasks?service=s&limit=1000&offset=2 HTTP", 52) ==
	      0);
	json_decref(rows);

	/* A bound asks for no more than it keeps and says it cut the list. */
	set_response(200, "application/json", "[]");
	n_canned = 0;
	add_response(200, "X-Next-Offset: 2\r\n", "application/json",
		     "[{\"id\":\"a\"},{\"id\":\"b\"}]");
	CHECK_INT_EQ(cmdutil_get_list(c, "/api/v1/tasks", "tasks", 2, &rows, &truncated), 0);
	CHECK_INT_EQ(json_array_size(rows), 2);
	CHECK(truncated);
	CHECK_INT_EQ(next_canned, 1);
	CHECK(strncmp(last_request, "GET /api/v1/tasks?limit=2 HTTP", 30) == 0);
	json_decref(rows);

	/* An object holding the rows under the listing's name works too. */
	set_response(200, "application/json", "{\"tasks\":[{\"id\":\"x\"}]}");
	CHECK_INT_EQ(cmdutil_get_list(c, "/api/v1/tasks", "tasks", 0, &rows, &truncated), 0);
	CHECK_INT_EQ(json_array_size(rows), 1);
	json_decref(rows);

	set_response(200, "application/json", "{\"status\":\"ok\"}");
	CHECK_INT_EQ(cmdutil_get_list(c, "/api/v1/tasks", "tasks", 0, &rows, &truncated), -EPROTO);
	CHECK(strstr(client_error_line(c, 0), "holds no list") != NULL);
	client_free(c);
}

int main(void)
{
	responder_start();
	RUN(server_from_option_then_environment_then_default);
	RUN(malformed_server_urls_are_usage_errors);
	RUN(token_from_file_or_environment);
	RUN(escaping_and_query_strings);
	RUN(connection_refused_names_the_server_and_asks_if_it_runs);
	RUN(json_answer_with_bearer_token_sent);
	RUN(put_sends_the_json_body);
	RUN(every_server_error_entry_is_kept);
	RUN(statuses_map_to_errors_with_readable_reasons);
	RUN(listings_follow_the_next_offset_header);
	responder_stop();
	return harness_finish();
}
