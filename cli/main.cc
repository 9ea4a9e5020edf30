// mpipc: command-line entry point. Parses the subcommand and hands over to its module.
#include <signal.h>

#include <CLI/CLI.hpp>

#include "commands.h"

int main(int argc, char** argv) {
  // A peer that goes away must surface as BrokenPipeError, not kill the tool.
  signal(SIGPIPE, SIG_IGN);
  CLI::App app{
      "mpipc: reference implementation and conformance tools for Python's "
      "multiprocessing IPC"};
  app.require_subcommand(1);
  int exit_status = 0;
  mpipc::cli::RegisterEchoCommands(app, exit_status);
  mpipc::cli::RegisterToolCommands(app, exit_status);
  CLI11_PARSE(app, argc, argv);
  return exit_status;
}
