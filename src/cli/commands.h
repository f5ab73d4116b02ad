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
int cmd_debug_http(int argc, char **argv); /* cmd_debug_http.c */

/* True when argv holds -h or --help (stops at "--"). */
int cli_wants_help(int argc, char **argv);

#endif
