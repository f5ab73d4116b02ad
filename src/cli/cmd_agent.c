/* cmd_agent: `contprof agent` — runs the agent of this host until SIGTERM.
 * Option parsing, config loading, the token and TLS files, and dropping the
 * capabilities the agent never needs (caps.h) before any thread starts; the
 * agent itself is agent.c. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/bpfutil.h"
#include "agent/caps.h"
#include "agent/config.h"
#include "agent/preflight.h"
#include "cli/commands.h"
#include "util/log.h"
#include "util/token.h"

#define AGENT_DEFAULT_STATE_DIR "/var/lib/contprof"

static void agent_usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: contprof agent [--server URL] [--config agent.yaml] [--token-file F]\n"
	    "                      [--tls-ca F] [--tls-cert F --tls-key F]\n"
	    "                      [--state-dir DIR] [--keep-capabilities]\n"
	    "       contprof agent --check [--config agent.yaml] [--token-file F]\n\n"
	    "Runs the agent of this host (as root): discovers processes, keeps the\n"
	    "policies of their services in sync, watches them every second and starts\n"
	    "profiling when a policy holds. Runs until SIGTERM or Ctrl-C.\n\n"
	    "options:\n"
	    "  --server URL       server to report to (default: the config's server:,\n"
	    "                     else $CONTPROF_SERVER, else http://127.0.0.1:8080)\n"
	    "  --config FILE      agent config (default: every process by its comm name)\n"
	    "  --token-file FILE  the server's agent token (default: the config's\n"
	    "                     token_file, else $CONTPROF_AGENT_TOKEN, else\n"
	    "                     $CONTPROF_TOKEN); the file must be private (chmod 600)\n"
	    "  --tls-ca FILE      PEM CA the https server's certificate must chain to\n"
	    "                     (default: the config's tls_ca, else the system's CAs)\n"
	    "  --tls-cert FILE, --tls-key FILE  client certificate and key to present\n"
	    "                     (default: the config's tls_cert and tls_key)\n"
	    "  --state-dir DIR    kept policies and the upload spool (default %s)\n"
	    "  --keep-capabilities  do not drop the capabilities the agent does not\n"
	    "                     need (it keeps CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE,\n"
	    "                     CAP_DAC_READ_SEARCH, CAP_SYS_RESOURCE)\n"
	    "  --check            check the config, the token and the privileges and\n"
	    "                     kernel features the agent needs, print what is\n"
	    "                     missing and how to fix it, then exit (1: a check\n"
	    "                     failed; see docs/troubleshooting.md)\n\n"
	    "examples:\n"
	    "  contprof agent --server http://10.0.0.5:8080 --config /etc/contprof/agent.yaml\n"
	    "  contprof agent --config agent.yaml --token-file /etc/contprof/agent.token\n"
	    "  contprof agent --server https://prof.internal:8443 --tls-ca /etc/contprof/ca.pem\n"
	    "  contprof agent --check --config /etc/contprof/agent.yaml\n",
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
	static const char *const envs[] = {TOKEN_AGENT_ENV, TOKEN_ENV, NULL};
	const char *file = token_file ? token_file : cfg->token_file;
	char reason[TOKEN_ERROR_MAX_LEN];
	int err;

	*ret = NULL;
	if (file && file[0])
		err = token_read_file(file, ret, reason, sizeof(reason));
	else
		err = token_from_env(envs, ret, reason, sizeof(reason));
	if (err)
		fprintf(stderr, "contprof agent: %s\n", reason);
	return err;
}

/* The TLS files: a flag, else the config's key. Checks now that they can
 * be read (and the key is not world-readable), so a mistake shows at start
 * rather than as failing uploads. 0 or -errno with the reason printed. */
static int resolve_tls(const char *const flags[3], const struct config *cfg,
		       struct uplink_http_tls *ret)
{
	const char *cfgs[3] = {cfg->tls_ca, cfg->tls_cert, cfg->tls_key};
	const char *paths[3];
	char reason[TOKEN_ERROR_MAX_LEN];

	for (int i = 0; i < 3; i++) {
		char *pem = NULL;
		int err;

		paths[i] = flags[i] ? flags[i] : cfgs[i] && cfgs[i][0] ? cfgs[i] : NULL;
		if (!paths[i])
			continue;
		err = token_read_pem(paths[i], i == 2, &pem, reason, sizeof(reason));
		if (pem)
			explicit_bzero(pem, strlen(pem));
		free(pem);
		if (err) {
			fprintf(stderr, "contprof agent: %s\n", reason);
			return err;
		}
	}
	if (!paths[1] != !paths[2]) {
		fprintf(stderr, "contprof agent: a client certificate needs both --tls-cert and "
				"--tls-key (or tls_cert and tls_key in the config)\n");
		return -EINVAL;
	}
	*ret = (struct uplink_http_tls){paths[0], paths[1], paths[2]};
	return 0;
}

/* Keeps only the capabilities caps.h lists; tracefs is mounted first (that
 * needs CAP_SYS_ADMIN). Must run before any thread exists. */
static void drop_capabilities(void)
{
	char reason[256];
	uint64_t kept = 0;
	int r;

	r = bpfutil_setup();
	if (r < 0)
		log_warn("agent: cannot mount tracefs: %s", strerror(-r));
	r = caps_drop_agent(&kept, reason, sizeof(reason));
	if (r == 0)
		log_info("agent: capabilities dropped; keeping 0x%llx (bpf, perfmon, sys_ptrace, "
			 "dac_read_search, sys_resource)",
			 (unsigned long long)kept);
	else if (r < 0)
		log_warn("agent: keeping every capability: %s", reason);
}

static void check_line(const char *name, const char *level, const char *detail)
{
	printf("  %-20s %-8s %s\n", name, level, detail);
}

/* `contprof agent --check`: the config, the token and preflight_run() on this
 * host, one line each. Returns the exit code: 1 when the config is invalid or
 * a check failed (a warning does not fail). */
static int agent_check(const char *config_path, const char *token_file)
{
	struct preflight_report rep;
	struct config *cfg = NULL;
	char detail[PATH_MAX + 128];
	size_t n_fail = 0, n_warn = 0;
	char *token = NULL;
	int err;

	printf("contprof agent --check\n");
	err = agent_load_config(config_path, &cfg);
	if (err) {
		snprintf(detail, sizeof(detail), "%s: %s (reasons above)",
			 config_path ? config_path : "<built-in>",
			 err == -EINVAL ? "invalid" : strerror(-err));
		check_line("config", preflight_level_name(PREFLIGHT_FAIL), detail);
		n_fail++;
	} else {
		snprintf(detail, sizeof(detail), "%s: %zu process rules, server %s",
			 cfg->source_name, cfg->n_rules, cfg->server);
		check_line("config", preflight_level_name(PREFLIGHT_OK), detail);
		/* A token the agent cannot read fails only where the server wants one. */
		if (agent_resolve_token(token_file, cfg, &token) != 0) {
			check_line("token", preflight_level_name(PREFLIGHT_WARN),
				   "unreadable (reason above): a server with a token will refuse "
				   "this agent");
			n_warn++;
		} else {
			check_line("token", preflight_level_name(PREFLIGHT_OK),
				   token ? "read" : "none (fine for a server without a token)");
		}
	}
	preflight_run("/", 1, &rep);
	for (size_t i = 0; i < rep.n; i++)
		check_line(rep.items[i].name, preflight_level_name(rep.items[i].level),
			   rep.items[i].detail);
	n_fail += rep.n_fail;
	n_warn += rep.n_warn;
	if (n_fail || n_warn)
		printf("%zu missing, %zu warnings: see docs/troubleshooting.md\n", n_fail, n_warn);
	else
		printf("all checks passed\n");
	config_free(cfg);
	free(token);
	if (fflush(stdout) != 0 || ferror(stdout))
		return 1;
	return n_fail ? 1 : 0;
}

/* Long-only options (no short letter to collide with). */
enum {
	OPT_TLS_CA = 0x2000,
	OPT_TLS_CERT,
	OPT_TLS_KEY,
	OPT_KEEP_CAPS,
	OPT_CHECK,
};

int cmd_agent(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"server", required_argument, NULL, 's'},
	    {"config", required_argument, NULL, 'c'},
	    {"token-file", required_argument, NULL, 't'},
	    {"state-dir", required_argument, NULL, 'd'},
	    {"tls-ca", required_argument, NULL, OPT_TLS_CA},
	    {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
	    {"tls-key", required_argument, NULL, OPT_TLS_KEY},
	    {"keep-capabilities", no_argument, NULL, OPT_KEEP_CAPS},
	    {"check", no_argument, NULL, OPT_CHECK},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0}};
	const char *server = NULL, *config_path = NULL, *token_file = NULL;
	const char *state_dir = AGENT_DEFAULT_STATE_DIR;
	const char *tls_flags[3] = {NULL, NULL, NULL}; /* ca, cert, key */
	bool keep_caps = false;
	struct agent_options aopts = {0};
	struct config *cfg = NULL;
	struct agent *agent = NULL;
	char *token = NULL;
	int opt, err, rc = 1, check = 0;

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
		case OPT_TLS_CA:
			tls_flags[0] = optarg;
			break;
		case OPT_TLS_CERT:
			tls_flags[1] = optarg;
			break;
		case OPT_TLS_KEY:
			tls_flags[2] = optarg;
			break;
		case OPT_KEEP_CAPS:
			keep_caps = true;
			break;
		case OPT_CHECK:
			check = 1;
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
	if (check)
		return agent_check(config_path, token_file);
	if (!server && !config_path && getenv("CONTPROF_SERVER"))
		server = getenv("CONTPROF_SERVER");
	if (agent_load_config(config_path, &cfg) != 0)
		return 1;
	if (agent_resolve_token(token_file, cfg, &token) != 0 ||
	    resolve_tls(tls_flags, cfg, &aopts.tls) != 0)
		goto out;
	if (!keep_caps)
		drop_capabilities();
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
