/* commands: the subcommand table's entries. Each command group lives in its
 * own cmd_*.c file and exposes one `cmd_x(argc, argv)` that returns the
 * process exit code (0 ok, 1 failure, 2 usage error). argv[0] is the command
 * name. */
#ifndef CONTPROF_CLI_COMMANDS_H
#define CONTPROF_CLI_COMMANDS_H

#define EXIT_USAGE 2

int cmd_up(int argc, char **argv);
int cmd_policy(int argc, char **argv);
int cmd_debug(int argc, char **argv);
int cmd_agent(int argc, char **argv);
int cmd_processes(int argc, char **argv);
int cmd_tasks(int argc, char **argv);
int cmd_task(int argc, char **argv);
int cmd_flame(int argc, char **argv);
int cmd_topology(int argc, char **argv);
int cmd_profile(int argc, char **argv);

struct config;
/* Shared by `agent` and `up`: config from a file (NULL: built-in), errors
 * printed; the token from a file, the config or the environment. */
int agent_load_config(const char *path, struct config **ret);
int agent_resolve_token(const char *token_file, const struct config *cfg, char **ret);
/* `contprof debug watch|discover` (cmd_debug_agent.c). */
int debug_watch(int argc, char **argv);
int debug_discover(int argc, char **argv);
/* `contprof debug http` (cmd_debug_http.c). */
int cmd_debug_http(int argc, char **argv);
/* `contprof debug network` (cmd_debug_network.c). */
int cmd_debug_network(int argc, char **argv);
int cmd_server(int argc, char **argv);
/* `contprof debug profile ...` (cmd_debug_profile.c). */
int cmd_debug_profile(int argc, char **argv);

/* True when argv holds -h or --help (stops at "--"). */
int cli_wants_help(int argc, char **argv);

#endif
