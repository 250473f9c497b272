/* The `sluice` subcommands. Each takes the arguments after its own name and
 * returns the process exit code. One file per subcommand: gateway/cli_<name>.c. */
#ifndef SL_CLI_H
#define SL_CLI_H

int sl_cli_serve(int argc, char **argv);
int sl_cli_generate(int argc, char **argv);
int sl_cli_tokenize(int argc, char **argv);
int sl_cli_classify(int argc, char **argv);
int sl_cli_explain(int argc, char **argv);
int sl_cli_policy(int argc, char **argv);
int sl_cli_train_router(int argc, char **argv);
int sl_cli_audit(int argc, char **argv);
/* `--help` or `-h`: the subcommand prints its usage on stdout and exits 0. */
int sl_cli_is_help(const char *arg);
/* Whether s is a whole number from lo to hi and nothing else (then in *out). */
int sl_cli_whole(const char *s, long lo, long hi, long *out);
/* Prints sluice's version and those of the libraries it runs on (for reports). */
int sl_cli_version(const char *version);

#endif
