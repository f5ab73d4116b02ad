/* cmd_agent: `contprof agent` — runs the agent of this host until SIGTERM.
 * Option parsing and config loading only; the agent itself is agent.c. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/config.h"
#include "cli/commands.h"
#include "util/log.h"
#include "util/token.h"

#define AGENT_DEFAULT_STATE_DIR "/var/lib/contprof"

static void agent_usage(FILE *out)
{
	fprintf(out,
		"usage: contprof agent [--server URL] [--config agent.yaml] [--token-file F]\n"
		"                      [--state-dir DIR]\n\n"
		"Runs the agent of this host (as root): discovers processes, keeps the\n"
		"policies of their services in sync, watches them every second and starts\n"
		"profiling when a policy holds. Runs until SIGTERM or Ctrl-C.\n\n"
		"options:\n"
		"  --server URL       server to report to (default: the config's server:,\n"
		"                     else $CONTPROF_SERVER, else http://127.0.0.1:8080)\n"
		"  --config FILE      agent config (default: every process by its comm name)\n"
		"  --token-file FILE  bearer token for the server (default: the config's\n"
		"                     token_file, else $CONTPROF_TOKEN)\n"
		"  --state-dir DIR    kept policies and the upload spool (default %s)\n\n"
		"examples:\n"
		"  contprof agent --server http://10.0.0.5:8080 --config /etc/contprof/agent.yaml\n"
		"  contprof agent --config agent.yaml --token-file /etc/contprof/token\n",
		AGENT_DEFAULT_STATE_DIR);
}

/* Loads the config of `path` (NULL: built-in), printing every error. */
int agent_load_config(const char *path, struct config **ret)
{
	struct config_errors errors = {0};
	int err;

	if (!path)
		return config_load_default(ret);
	err = config_load_file(path, ret, &errors);
	for (size_t i = 0; i < errors.count; i++)
		fprintf(stderr, "%s\n", errors.messages[i]);
	if (errors.dropped)
		fprintf(stderr, "%s: %zu more errors\n", path, errors.dropped);
	config_errors_clear(&errors);
	return err;
}

/* The token: --token-file, else the config's token_file, else the env. */
int agent_resolve_token(const char *token_file, const struct config *cfg, char **ret)
{
	const char *file = token_file ? token_file : cfg->token_file;
	const char *env = getenv(TOKEN_ENV);
	int err;

	*ret = NULL;
	if (file && file[0]) {
		err = token_read_file(file, ret);
		if (err)
			fprintf(stderr, "contprof: cannot use token file %s: %s\n", file,
				err == -EINVAL ? "empty, too long or not text" : strerror(-err));
		return err;
	}
	if (env && env[0]) {
		*ret = strdup(env);
		return *ret ? 0 : -ENOMEM;
	}
	return 0;
}

int cmd_agent(int argc, char **argv)
{
	static const struct option opts[] = {{"server", required_argument, NULL, 's'},
					     {"config", required_argument, NULL, 'c'},
					     {"token-file", required_argument, NULL, 't'},
					     {"state-dir", required_argument, NULL, 'd'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *server = NULL, *config_path = NULL, *token_file = NULL;
	const char *state_dir = AGENT_DEFAULT_STATE_DIR;
	struct agent_options aopts = {0};
	struct config *cfg = NULL;
	struct agent *agent = NULL;
	char *token = NULL;
	int opt, err, rc = 1;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			server = optarg;
			break;
		case 'c':
			config_path = optarg;
			break;
		case 't':
			token_file = optarg;
			break;
		case 'd':
			state_dir = optarg;
			break;
		case 'h':
			agent_usage(stdout);
			return 0;
		default:
			agent_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "contprof agent: unexpected argument '%s'\n", argv[optind]);
		return EXIT_USAGE;
	}
	if (!server && !config_path && getenv("CONTPROF_SERVER"))
		server = getenv("CONTPROF_SERVER");
	if (agent_load_config(config_path, &cfg) != 0)
		return 1;
	if (agent_resolve_token(token_file, cfg, &token) != 0)
		goto out;
	aopts.config = cfg;
	aopts.server_url = server;
	aopts.token = token;
	aopts.state_dir = state_dir;
	err = agent_open(&aopts, &agent);
	if (err)
		goto out;
	err = agent_run(agent);
	rc = err ? 1 : 0;
out:
	agent_close(agent);
	config_free(cfg);
	free(token);
	return rc;
}
