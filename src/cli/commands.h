/* The subcommands of wirt; each lives in its own file under src/cli/. */
#ifndef WIRT_CLI_COMMANDS_H
#define WIRT_CLI_COMMANDS_H

int cmd_run(int argc, char **argv);
int cmd_img(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_ctl(int argc, char **argv);
int cmd_console(int argc, char **argv);

#endif
