/* cmd_policy_remote: the subcommands of `contprof policy` that talk to a
 * server — get, set and delete a service's policy document through
 * /api/v1/services/{service}/policy. `set` validates the document locally
 * with the core (the same code the server and the agents run) and sends
 * nothing when it is invalid, listing every reason. The policy command's
 * subcommand table (cmd_policy.c) calls the three functions below.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cmd_policy_remote.h"
#include "cli/cmdutil.h"
#include "cli/commands.h"
#include "core/policy.h"

static void get_usage(void)
{
	printf("usage: contprof policy get SERVICE\n\n"
	       "Prints the policy a server holds for SERVICE as canonical JSON (sorted\n"
	       "keys, targets and items in canonical order), indented. Exits 1 when the\n"
	       "service has no policy.\n\n"
	       "options:\n"
	       "  --json              the same JSON (accepted for scripts)\n" CLIENT_OPTIONS_HELP
	       "  -h, --help          this help\n\n"
	       "examples:\n"
	       "  contprof policy get checkout\n"
	       "  contprof policy get checkout > checkout.json   # edit, then policy set\n");
}

static void set_usage(void)
{
	printf("usage: contprof policy set SERVICE FILE\n\n"
	       "Validates the policy document in FILE ('-' reads standard input) with the\n"
	       "same code the server and the agents use, then stores it as SERVICE's\n"
	       "policy; agents apply it within seconds. An invalid document is not sent:\n"
	       "every reason is printed on stderr, one per line, and the exit code is 1.\n"
	       "The document's \"service\" must be SERVICE.\n\n"
	       "options:\n" CLIENT_OPTIONS_HELP "  -h, --help          this help\n\n"
	       "examples:\n"
	       "  contprof policy set checkout checkout.json\n"
	       "  contprof policy get checkout | contprof policy set checkout -\n");
}

static void delete_usage(void)
{
	printf("usage: contprof policy delete SERVICE\n\n"
	       "Deletes SERVICE's policy; agents stop evaluating it within seconds (tasks\n"
	       "already running finish). Exits 1 when the service has no policy.\n\n"
	       "options:\n" CLIENT_OPTIONS_HELP "  -h, --help          this help\n\n"
	       "examples:\n"
	       "  contprof policy delete checkout\n");
}

/* Parses the options of a remote subcommand; `n_args` positional arguments
 * are required and returned in args[]. Returns -1 to go on, else the exit
 * code (help printed, or a usage error). */
static int parse_args(int argc, char **argv, const char *who, void (*usage)(void), int n_args,
		      const char **args, struct client_options *copts, int *json)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    CLIENT_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	int opt;

	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		if (opt == 'j' && json)
			*json = 1;
		else if (opt == 'h') {
			usage();
			return 0;
		} else if (!client_options_take(copts, opt, optarg))
			return cmdutil_bad_option(who, opt, argv);
	}
	for (int i = 0; i < n_args; i++) {
		args[i] = cmdutil_positional(argc, argv, i);
		if (!args[i] || !*args[i])
			return cmdutil_usage_error(who, "missing %s", i == 0 ? "SERVICE" : "FILE");
	}
	if (cmdutil_positional(argc, argv, n_args))
		return cmdutil_usage_error(who, "unexpected argument '%s'",
					   cmdutil_positional(argc, argv, n_args));
	return -1;
}

/* "/api/v1/services/{service}/policy", service escaped; NULL on ENOMEM. */
static char *policy_path(const char *service)
{
	char *escaped = client_escape(service), *path;

	if (!escaped)
		return NULL;
	if (asprintf(&path, "/api/v1/services/%s/policy", escaped) < 0)
		path = NULL;
	free(escaped);
	return path;
}

/* Runs one request for a subcommand: connects, sends, reports a failure.
 * Returns the exit code; *ret (may be NULL) gets the JSON answer. */
static int exchange(const char *who, const struct client_options *copts, const char *method,
		    const char *service, const json_t *body, json_t **ret)
{
	struct client *c;
	json_t *answer = NULL;
	char *path;
	int rc;

	c = cmdutil_connect(who, copts, &rc);
	if (!c)
		return rc;
	path = policy_path(service);
	if (!path) {
		fprintf(stderr, "%s: out of memory\n", who);
		rc = 1;
	} else if (client_request_json(c, method, path, body, &answer) < 0) {
		rc = cmdutil_fail(who, c);
	} else {
		rc = 0;
		if (ret)
			*ret = answer;
		else
			json_decref(answer);
	}
	free(path);
	client_free(c);
	return rc;
}

int policy_remote_get(int argc, char **argv)
{
	static const char *const who = "contprof policy get";
	struct client_options copts = {0};
	const char *service;
	json_t *doc = NULL;
	int rc, json = 0;

	rc = parse_args(argc, argv, who, get_usage, 1, &service, &copts, &json);
	if (rc >= 0)
		return rc;
	rc = exchange(who, &copts, "GET", service, NULL, &doc);
	if (rc == 0)
		rc = cmdutil_print_json(doc);
	json_decref(doc);
	return rc;
}

int policy_remote_delete(int argc, char **argv)
{
	static const char *const who = "contprof policy delete";
	struct client_options copts = {0};
	const char *service;
	int rc;

	rc = parse_args(argc, argv, who, delete_usage, 1, &service, &copts, NULL);
	if (rc >= 0)
		return rc;
	rc = exchange(who, &copts, "DELETE", service, NULL, NULL);
	if (rc == 0)
		printf("deleted the policy of service %s\n", service);
	return rc;
}

/* Reads at most POLICY_DOC_MAX_BYTES of `path` ('-': stdin). 0 or -errno
 * (-EFBIG when larger); *ret_doc is malloc'd and NUL-terminated. */
static int read_document(const char *path, char **ret_doc, size_t *ret_len)
{
	int fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	size_t len = 0;
	char *doc;
	int err = 0;

	if (fd < 0)
		return -errno;
	doc = malloc(POLICY_DOC_MAX_BYTES + 2);
	if (!doc)
		err = -ENOMEM;
	while (!err && len <= POLICY_DOC_MAX_BYTES) {
		ssize_t n = read(fd, doc + len, POLICY_DOC_MAX_BYTES + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			err = -errno;
		else if (n == 0)
			break;
		else
			len += (size_t)n;
	}
	if (!err && len > POLICY_DOC_MAX_BYTES)
		err = -EFBIG;
	if (fd != STDIN_FILENO)
		close(fd);
	if (err) {
		free(doc);
		return err;
	}
	doc[len] = '\0';
	*ret_doc = doc;
	*ret_len = len;
	return 0;
}

/* Validates the document with the core; prints every reason and returns 1
 * when it is not valid for `service`, else 0 with the decoded document in
 * *ret_doc and its version in `version`. */
static int validate_locally(const char *who, const char *service, const char *text, size_t len,
			    const char *source, json_t **ret_doc,
			    char version[POLICY_VERSION_HEX_LEN + 1])
{
	struct policy_errors errors = {0};
	struct policy *policy = NULL;
	json_t *doc;
	int err;

	err = policy_parse(text, len, &policy, &errors);
	if (err == -EINVAL) {
		fprintf(stderr, "%s: %s is not a valid policy document; nothing was sent:\n", who,
			source);
		for (size_t i = 0; i < errors.n; i++)
			fprintf(stderr, "%s\n", errors.reasons[i]);
		policy_errors_clear(&errors);
		return 1;
	}
	policy_errors_clear(&errors);
	if (err) {
		fprintf(stderr, "%s: cannot check %s: %s\n", who, source, strerror(-err));
		return 1;
	}
	if (strcmp(policy->service, service) != 0) {
		fprintf(stderr,
			"%s: %s is the policy of service '%s', not '%s'; nothing was sent\n", who,
			source, policy->service, service);
		policy_free(policy);
		return 1;
	}
	err = policy_version(policy, version);
	doc = err ? NULL : json_loadb(text, len, 0, NULL);
	policy_free(policy);
	if (!doc) {
		fprintf(stderr, "%s: out of memory\n", who);
		return 1;
	}
	*ret_doc = doc;
	return 0;
}

int policy_remote_set(int argc, char **argv)
{
	static const char *const who = "contprof policy set";
	char version[POLICY_VERSION_HEX_LEN + 1];
	struct client_options copts = {0};
	const char *args[2], *source;
	json_t *doc = NULL;
	char *text = NULL;
	size_t len = 0;
	int rc, err;

	rc = parse_args(argc, argv, who, set_usage, 2, args, &copts, NULL);
	if (rc >= 0)
		return rc;
	source = strcmp(args[1], "-") == 0 ? "standard input" : args[1];
	err = read_document(args[1], &text, &len);
	if (err == -EFBIG) {
		fprintf(stderr, "%s: %s is larger than %d bytes\n", who, source,
			POLICY_DOC_MAX_BYTES);
		return 1;
	}
	if (err) {
		fprintf(stderr, "%s: cannot read %s: %s\n", who, source, strerror(-err));
		return 1;
	}
	rc = validate_locally(who, args[0], text, len, source, &doc, version);
	if (rc == 0)
		rc = exchange(who, &copts, "PUT", args[0], doc, NULL);
	if (rc == 0)
		printf("set the policy of service %s (version %.12s)\n", args[0], version);
	json_decref(doc);
	free(text);
	return rc;
}
