/* cmd_server: `contprof server` — parses the command line and runs the
 * server (src/server/server.h) until SIGTERM or SIGINT. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "server/server.h"
#include "util/parse.h"
#include "util/token.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: contprof server [--listen ADDR] [--store sqlite:PATH | postgresql://...]\n"
		"                       [--token-file F]\n"
		"                       [--retention-raw DUR] [--retention-rollup DUR]\n"
		"                       [--retention-tasks DUR] [--retention-interval DUR]\n"
		"                       [--agent-silence DUR]\n\n"
		"Serves the agent API, the query API, /metrics and /healthz until SIGTERM or\n"
		"SIGINT, storing everything in the store.\n\n"
		"options:\n"
		"  --listen ADDR           HOST:PORT to listen on (default %s; port 0 picks\n"
		"                          a free one). A non-loopback address needs a token.\n"
		"  --store URL             sqlite:PATH (default %s), or\n"
		"                          postgresql://USER@HOST:PORT/DB (libpq URL; several\n"
		"                          servers may share one database)\n"
		"  --token-file F          token agents and writers must send as\n"
		"                          'Authorization: Bearer TOKEN' (or set CONTPROF_TOKEN)\n"
		"  --retention-raw DUR     keep per-second metrics this long (default 1h)\n"
		"  --retention-rollup DUR  keep per-minute metric rollups (default 7d)\n"
		"  --retention-tasks DUR   keep tasks, profiles and topologies (default 7d)\n"
		"  --retention-interval DUR  how often expired rows are deleted, in small\n"
		"                          batches (default 10s)\n"
		"  --agent-silence DUR     a running task whose agent sent no keepalive this\n"
		"                          long fails with 'agent went silent' (default 10m;\n"
		"                          checked at each retention pass)\n\n"
		"examples:\n"
		"  contprof server --store sqlite:/var/lib/contprof/contprof.db\n"
		"  contprof server --store postgresql://contprof@db.internal:5432/contprof\n"
		"  CONTPROF_TOKEN=s3cret contprof server --listen 0.0.0.0:8080\n"
		"  contprof server --listen [::1]:9090 --retention-tasks 30d\n",
		SERVER_DEFAULT_LISTEN, SERVER_DEFAULT_STORE);
}

static int duration_arg(const char *name, const char *value, int64_t *ret)
{
	if (parse_duration_ms(value, ret) < 0 || *ret <= 0) {
		fprintf(stderr,
			"contprof server: %s expects a duration like 90s, 15m, 1h or 7d, "
			"not '%s'\n",
			name, value);
		return -EINVAL;
	}
	return 0;
}

int cmd_server(int argc, char **argv)
{
	enum {
		OPT_RAW = 256,
		OPT_ROLLUP,
		OPT_TASKS,
		OPT_INTERVAL,
		OPT_SILENCE,
		OPT_TOKEN
	};
	static const struct option longopts[] = {
	    {"listen", required_argument, NULL, 'l'},
	    {"store", required_argument, NULL, 's'},
	    {"token-file", required_argument, NULL, OPT_TOKEN},
	    {"retention-raw", required_argument, NULL, OPT_RAW},
	    {"retention-rollup", required_argument, NULL, OPT_ROLLUP},
	    {"retention-tasks", required_argument, NULL, OPT_TASKS},
	    {"retention-interval", required_argument, NULL, OPT_INTERVAL},
	    {"agent-silence", required_argument, NULL, OPT_SILENCE},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	struct server_options opts = {.listen = SERVER_DEFAULT_LISTEN,
				      .store_url = SERVER_DEFAULT_STORE};
	const char *token_file = NULL;
	char *token = NULL;
	int c, r;

	store_options_default(&opts.store);
	optind = 1;
	while ((c = getopt_long(argc, argv, "l:s:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'l':
			opts.listen = optarg;
			break;
		case 's':
			opts.store_url = optarg;
			break;
		case OPT_TOKEN:
			token_file = optarg;
			break;
		case OPT_RAW:
			if (duration_arg("--retention-raw", optarg, &opts.store.raw_metrics_ms) < 0)
				return EXIT_USAGE;
			break;
		case OPT_ROLLUP:
			if (duration_arg("--retention-rollup", optarg,
					 &opts.store.minute_rollup_ms) < 0)
				return EXIT_USAGE;
			break;
		case OPT_TASKS:
			if (duration_arg("--retention-tasks", optarg, &opts.store.tasks_ms) < 0)
				return EXIT_USAGE;
			break;
		case OPT_INTERVAL:
			if (duration_arg("--retention-interval", optarg,
					 &opts.retention_interval_ms) < 0)
				return EXIT_USAGE;
			break;
		case OPT_SILENCE:
			if (duration_arg("--agent-silence", optarg, &opts.store.agent_silence_ms) <
			    0)
				return EXIT_USAGE;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "contprof server: unexpected argument '%s'\n", argv[optind]);
		return EXIT_USAGE;
	}
	if (token_file) {
		r = token_read_file(token_file, &token);
		if (r < 0) {
			fprintf(stderr, "contprof server: cannot read a token from %s: %s\n",
				token_file, r == -EINVAL ? "empty or too long" : strerror(-r));
			return 1;
		}
	} else if (getenv("CONTPROF_TOKEN") && *getenv("CONTPROF_TOKEN")) {
		token = strdup(getenv("CONTPROF_TOKEN"));
		if (!token)
			return 1;
	}
	opts.token = token;
	if (server_block_signals() < 0) {
		fprintf(stderr, "contprof server: cannot block signals\n");
		free(token);
		return 1;
	}
	r = server_run(&opts);
	free(token);
	return r;
}
