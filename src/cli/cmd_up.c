/* cmd_up: `contprof up` — the one-host setup: the server (SQLite under
 * --data) and this host's agent in one process, one event loop for the
 * agent and the server's retention, the server's HTTP threads beside it.
 * Ctrl-C or SIGTERM stops both: tasks end and are reported, then the server
 * closes its store. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/agent.h"
#include "agent/config.h"
#include "demo/demo.h"
#include "cli/commands.h"
#include "cli/up_demo.h"
#include "server/server.h"
#include "util/fsutil.h"
#include "util/log.h"

#define UP_DEFAULT_LISTEN "127.0.0.1:8080"

static void up_usage(FILE *out)
{
	fprintf(out,
		"usage: contprof up [--listen ADDR] [--data DIR] [--config agent.yaml]\n"
		"                   [--demo [--demo-schedule WARMUP,TROUBLE,CALM]]\n\n"
		"Runs the server (SQLite store under --data, UI and API on --listen) and the\n"
		"agent of this host in one process, as root. By default the agent watches\n"
		"every process of the host by its comm name as a service of its own, so a\n"
		"policy can be set on any running program at once.\n\n"
		"options:\n"
		"  --listen ADDR   UI and API address (default %s)\n"
		"  --data DIR      store and agent state (default $XDG_STATE_HOME/contprof,\n"
		"                  else ~/.local/state/contprof)\n"
		"  --config FILE   agent config instead of the built-in one\n"
		"  --demo          also run the demo: a frontend and a backend HTTP server of\n"
		"                  our own and a load generator, which misbehave in turn (CPU\n"
		"                  spike, 5xx, slow responses, threads piling up) with policies\n"
		"                  that catch each; uses its own agent config (no --config)\n"
		"  --demo-schedule WARMUP,TROUBLE,CALM\n"
		"                  the demo's timing in seconds (default $" DEMO_SCHEDULE_ENV ",\n"
		"                  else " DEMO_SCHEDULE_DEFAULT ")\n\n"
		"examples:\n"
		"  contprof up\n"
		"  contprof up --demo                       # then open the UI\n"
		"  contprof up --listen 127.0.0.1:9090 --data /tmp/contprof\n"
		"  contprof policy set bash policy.json    # then watch `contprof tasks`\n",
		UP_DEFAULT_LISTEN);
}

static int default_data_dir(char *buf, size_t len)
{
	const char *state = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");

	if (state && state[0] == '/')
		return snprintf(buf, len, "%s/contprof", state) < (int)len ? 0 : -ENAMETOOLONG;
	if (home && home[0] == '/')
		return snprintf(buf, len, "%s/.local/state/contprof", home) < (int)len
			   ? 0
			   : -ENAMETOOLONG;
	return snprintf(buf, len, "/var/lib/contprof") < (int)len ? 0 : -ENAMETOOLONG;
}

int cmd_up(int argc, char **argv)
{
	static const struct option opts[] = {{"listen", required_argument, NULL, 'l'},
					     {"data", required_argument, NULL, 'd'},
					     {"config", required_argument, NULL, 'c'},
					     {"demo", no_argument, NULL, 'D'},
					     {"demo-schedule", required_argument, NULL, 'S'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *listen = UP_DEFAULT_LISTEN, *config_path = NULL, *demo_schedule = NULL;
	char data_dir[PATH_MAX - 32] = "", store_url[PATH_MAX], agent_dir[PATH_MAX];
	char server_url[300];
	struct server_options sopts = {0};
	struct agent_options aopts = {0};
	struct server *server = NULL;
	struct agent *agent = NULL;
	struct config *cfg = NULL;
	struct up_demo *updemo = NULL;
	bool demo = false;
	int opt, err, rc = 1;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'l':
			listen = optarg;
			break;
		case 'd':
			snprintf(data_dir, sizeof(data_dir), "%s", optarg);
			break;
		case 'c':
			config_path = optarg;
			break;
		case 'D':
			demo = true;
			break;
		case 'S':
			demo_schedule = optarg;
			break;
		case 'h':
			up_usage(stdout);
			return 0;
		default:
			up_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "contprof up: unexpected argument '%s'\n", argv[optind]);
		return EXIT_USAGE;
	}
	if (demo && config_path) {
		fprintf(stderr, "contprof up: --demo uses its own agent config; drop --config\n");
		return EXIT_USAGE;
	}
	if (demo_schedule && !demo) {
		fprintf(stderr, "contprof up: --demo-schedule goes with --demo\n");
		return EXIT_USAGE;
	}
	if (!data_dir[0] && default_data_dir(data_dir, sizeof(data_dir)) < 0) {
		fprintf(stderr, "contprof up: data directory path too long\n");
		return 1;
	}
	err = fs_mkdir_p(data_dir, 0700);
	if (err) {
		fprintf(stderr, "contprof up: cannot create %s: %s\n", data_dir, strerror(-err));
		return 1;
	}
	if (demo) {
		err = up_demo_prepare(data_dir, demo_schedule, &updemo, &cfg);
		if (err)
			return err == -EINVAL ? EXIT_USAGE : 1;
	} else if (agent_load_config(config_path, &cfg) != 0) {
		return 1;
	}
	snprintf(store_url, sizeof(store_url), "sqlite:%s/contprof.db", data_dir);
	snprintf(agent_dir, sizeof(agent_dir), "%s/agent", data_dir);
	sopts.listen = listen;
	sopts.store_url = store_url;
	store_options_default(&sopts.store);
	/* One mask for every thread: the agent's loop receives SIGINT/SIGTERM. */
	if (server_block_signals() < 0)
		goto out;
	err = server_start(&sopts, &server);
	if (err) {
		rc = err == -EINVAL || err == -EPERM ? EXIT_USAGE : 1;
		goto out;
	}
	snprintf(server_url, sizeof(server_url), "http://127.0.0.1:%u", server_port(server));
	/* The demo's policies first, so the agent has them at its first sync. */
	if (updemo && up_demo_install_policies(updemo, server_url) != 0)
		goto out;
	aopts.config = cfg;
	aopts.server_url = server_url;
	aopts.state_dir = agent_dir;
	err = agent_open(&aopts, &agent);
	if (err)
		goto out;
	err = server_attach(server, agent_loop(agent));
	if (err) {
		log_error("up: cannot schedule the server's retention: %s", strerror(-err));
		goto out;
	}
	if (updemo && up_demo_start(updemo) != 0)
		goto out;
	printf("contprof up: server and agent running\n"
	       "  API and UI:  http://%.*s:%u\n"
	       "  data:        %s\n"
	       "  try:         contprof processes   (every process of this host)\n"
	       "               contprof policy set SERVICE policy.json; contprof tasks\n"
	       "  Ctrl-C stops both.\n",
	       (int)(strrchr(listen, ':') - listen), listen, server_port(server), data_dir);
	if (updemo)
		up_demo_print(updemo, server_url, stdout);
	fflush(stdout);
	err = agent_run(agent);
	rc = err ? 1 : 0;
out:
	/* The agent reports its last task ends to the server, so the server
	 * stops last; its timer lives on the agent's loop, so detach it first. */
	updemo = up_demo_stop(updemo);
	server_detach(server);
	agent = agent_close(agent);
	server = server_stop(server);
	config_free(cfg);
	if (rc == 0)
		log_info("up: stopped");
	return rc;
}
