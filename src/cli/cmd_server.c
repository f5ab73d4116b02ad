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
	fprintf(
	    out,
	    "usage: contprof server [--listen ADDR] [--store sqlite:PATH | postgresql://...]\n"
	    "                       [--agent-token-file F] [--write-token-file F]\n"
	    "                       [--token-file F] [--tls-cert F --tls-key F]\n"
	    "                       [--tls-client-ca F]\n"
	    "                       [--retention-raw DUR] [--retention-rollup DUR]\n"
	    "                       [--retention-tasks DUR] [--retention-interval DUR]\n"
	    "                       [--agent-silence DUR]\n\n"
	    "Serves the agent API, the query API, /metrics and /healthz until SIGTERM or\n"
	    "SIGINT, storing everything in the store.\n\n"
	    "options:\n"
	    "  --listen ADDR           HOST:PORT to listen on (default %s; port 0 picks\n"
	    "                          a free one). A non-loopback address needs both\n"
	    "                          tokens.\n"
	    "  --store URL             sqlite:PATH (default %s), or\n"
	    "                          postgresql://USER@HOST:PORT/DB (libpq URL; several\n"
	    "                          servers may share one database)\n"
	    "  --agent-token-file F    token agents must send as 'Authorization: Bearer\n"
	    "                          TOKEN' (or set CONTPROF_AGENT_TOKEN)\n"
	    "  --write-token-file F    token policy and task writes must send (or set\n"
	    "                          CONTPROF_WRITE_TOKEN); reads need no token\n"
	    "  --token-file F          one token for both roles, where the two above are\n"
	    "                          not given (or set CONTPROF_TOKEN). Token files must\n"
	    "                          be private to their owner (chmod 600)\n"
	    "  --tls-cert F, --tls-key F  serve HTTPS with this PEM certificate (chain)\n"
	    "                          and private key (which others may not read)\n"
	    "  --tls-client-ca F       also require client certificates signed by this\n"
	    "                          PEM CA (agents: --tls-cert/--tls-key)\n"
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
	    "  contprof server --listen 0.0.0.0:8443 --agent-token-file /etc/contprof/agent.token\n"
	    "      --write-token-file /etc/contprof/write.token\n"
	    "      --tls-cert /etc/contprof/server.crt --tls-key /etc/contprof/server.key\n"
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

/* One role's token: its own file, else the shared --token-file, else its
 * own variable, else $CONTPROF_TOKEN. 0 (with *ret NULL when none), or -errno
 * with the reason printed. */
static int resolve_token(const char *role, const char *file, const char *shared_file,
			 const char *env, char **ret)
{
	const char *const envs[] = {env, TOKEN_ENV, NULL};
	char err[TOKEN_ERROR_MAX_LEN];
	int r;

	if (!file)
		file = shared_file;
	if (file)
		r = token_read_file(file, ret, err, sizeof(err));
	else
		r = token_from_env(envs, ret, err, sizeof(err));
	if (r < 0)
		fprintf(stderr, "contprof server: the %s token: %s\n", role, err);
	return r;
}

int cmd_server(int argc, char **argv)
{
	enum {
		OPT_RAW = 256,
		OPT_ROLLUP,
		OPT_TASKS,
		OPT_INTERVAL,
		OPT_SILENCE,
		OPT_TOKEN,
		OPT_AGENT_TOKEN,
		OPT_WRITE_TOKEN,
		OPT_TLS_CERT,
		OPT_TLS_KEY,
		OPT_TLS_CLIENT_CA,
	};
	static const struct option longopts[] = {
	    {"listen", required_argument, NULL, 'l'},
	    {"store", required_argument, NULL, 's'},
	    {"token-file", required_argument, NULL, OPT_TOKEN},
	    {"agent-token-file", required_argument, NULL, OPT_AGENT_TOKEN},
	    {"write-token-file", required_argument, NULL, OPT_WRITE_TOKEN},
	    {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
	    {"tls-key", required_argument, NULL, OPT_TLS_KEY},
	    {"tls-client-ca", required_argument, NULL, OPT_TLS_CLIENT_CA},
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
	const char *token_file = NULL, *agent_token_file = NULL, *write_token_file = NULL;
	char *agent_token = NULL, *write_token = NULL;
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
		case OPT_AGENT_TOKEN:
			agent_token_file = optarg;
			break;
		case OPT_WRITE_TOKEN:
			write_token_file = optarg;
			break;
		case OPT_TLS_CERT:
			opts.tls_cert_file = optarg;
			break;
		case OPT_TLS_KEY:
			opts.tls_key_file = optarg;
			break;
		case OPT_TLS_CLIENT_CA:
			opts.tls_client_ca_file = optarg;
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
	if (resolve_token("agent", agent_token_file, token_file, TOKEN_AGENT_ENV, &agent_token) <
		0 ||
	    resolve_token("write", write_token_file, token_file, TOKEN_WRITE_ENV, &write_token) <
		0) {
		free(agent_token);
		return 1;
	}
	opts.agent_token = agent_token;
	opts.write_token = write_token;
	if (server_block_signals() < 0) {
		fprintf(stderr, "contprof server: cannot block signals\n");
		r = 1;
		goto out;
	}
	r = server_run(&opts);
out:
	free(agent_token);
	free(write_token);
	return r;
}
