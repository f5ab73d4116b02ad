/* cmd_policy: `contprof policy SUBCOMMAND ...` — policy documents.
 *
 *   policy validate FILE     checks a document offline with the same code the
 *                            server and agent use ('-' reads stdin)
 *   policy get SERVICE       the server's policy of SERVICE, canonical JSON
 *   policy set SERVICE FILE  validates locally, then stores it on the server
 *   policy delete SERVICE    removes it from the server
 *
 * Each subcommand is one row of `subcommands` below; get / set / delete talk
 * to a server and live in cmd_policy_remote.c. Exit codes follow commands.h:
 * 0 ok, 1 failure (invalid document, unreadable file, server or network
 * failure), 2 usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cmd_policy_remote.h"
#include "cli/commands.h"
#include "core/policy.h"

struct policy_subcommand {
	const char *name;
	int (*run)(int argc, char **argv); /* argv[0] is the subcommand's name */
	const char *args;
	const char *summary;
};

static int policy_validate(int argc, char **argv);

static const struct policy_subcommand subcommands[] = {
    {"validate", policy_validate, "FILE", "check a policy document ('-' reads stdin)"},
    {"get", policy_remote_get, "SERVICE", "print the server's policy of SERVICE"},
    {"set", policy_remote_set, "SERVICE FILE", "validate FILE, then make it SERVICE's policy"},
    {"delete", policy_remote_delete, "SERVICE", "delete SERVICE's policy on the server"},
};

#define N_SUBCOMMANDS (sizeof(subcommands) / sizeof(subcommands[0]))

static void policy_usage(FILE *out)
{
	fprintf(out, "usage: contprof policy SUBCOMMAND [ARGS...]\n\n"
		     "Policies say when to profile a service (see DESIGN.md, section 2).\n\n"
		     "subcommands:\n");
	for (size_t i = 0; i < N_SUBCOMMANDS; i++)
		fprintf(out, "  %-8s %-12s  %s\n", subcommands[i].name, subcommands[i].args,
			subcommands[i].summary);
	fprintf(out, "\nRun `contprof policy SUBCOMMAND --help` for details and examples.\n");
}

/* Reads at most `max` + 1 bytes of `path` ('-': stdin) into a new buffer, so a
 * caller can tell "exactly max" from "too large". 0 or -errno; *ret_doc and
 * *ret_len are written only on success. */
static int read_document(const char *path, size_t max, char **ret_doc, size_t *ret_len)
{
	int fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	char *doc = NULL;
	size_t len = 0;
	ssize_t n = 1;
	int err = 0;

	if (fd < 0)
		return -errno;
	doc = malloc(max + 1);
	if (!doc)
		err = -ENOMEM;
	while (!err && n > 0 && len <= max) {
		n = read(fd, doc + len, max + 1 - len);
		if (n < 0 && errno != EINTR)
			err = -errno;
		else if (n > 0)
			len += (size_t)n;
	}
	if (fd != STDIN_FILENO)
		close(fd);
	if (err) {
		free(doc);
		return err;
	}
	*ret_doc = doc;
	*ret_len = len;
	return 0;
}

static void validate_usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: contprof policy validate FILE\n\n"
	    "Checks a policy document without a server. Prints\n"
	    "  valid: service S, version V\n"
	    "and exits 0 when it is valid; otherwise prints every reason on stderr,\n"
	    "one per line (\"targets[1].items[0]: count 12 > period 10\"), and exits 1.\n"
	    "FILE '-' reads standard input.\n\n"
	    "examples:\n"
	    "  contprof policy validate checkout.json\n"
	    "  echo '{\"service\": \"checkout\", \"targets\": [{\"target\": \"ON_CPU\",\n"
	    "        \"items\": [{\"monitor\": \"PROCESS_CPU\", \"threshold\": 80,\n"
	    "                   \"period\": 10, \"count\": 5}]}]}' | contprof policy validate -\n");
}

static int policy_validate(int argc, char **argv)
{
	struct policy_errors errors = {0};
	char version[POLICY_VERSION_HEX_LEN + 1];
	struct policy *policy = NULL;
	const char *path;
	size_t len = 0;
	char *doc = NULL;
	int rc;

	if (cli_wants_help(argc, argv)) {
		validate_usage(stdout);
		return 0;
	}
	if (argc != 2 || (argv[1][0] == '-' && argv[1][1])) {
		validate_usage(stderr);
		return EXIT_USAGE;
	}
	path = argv[1];
	rc = read_document(path, POLICY_DOC_MAX_BYTES, &doc, &len);
	if (rc) {
		fprintf(stderr, "contprof policy validate: cannot read %s: %s\n",
			strcmp(path, "-") == 0 ? "standard input" : path, strerror(-rc));
		return 1;
	}
	rc = policy_parse(doc, len, &policy, &errors);
	if (rc == 0)
		rc = policy_version(policy, version);
	if (rc == 0)
		printf("valid: service %s, version %s\n", policy->service, version);
	else if (rc == -EINVAL)
		for (size_t i = 0; i < errors.n; i++)
			fprintf(stderr, "%s\n", errors.reasons[i]);
	else
		fprintf(stderr, "contprof policy validate: %s\n", strerror(-rc));
	policy_errors_clear(&errors);
	policy = policy_free(policy);
	free(doc);
	return rc ? 1 : 0;
}

int cmd_policy(int argc, char **argv)
{
	if (argc < 2) {
		policy_usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		policy_usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < N_SUBCOMMANDS; i++)
		if (strcmp(argv[1], subcommands[i].name) == 0)
			return subcommands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "contprof policy: unknown subcommand '%s' (see `contprof policy --help`)\n",
		argv[1]);
	return EXIT_USAGE;
}
