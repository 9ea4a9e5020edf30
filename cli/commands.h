// Subcommands of the `mpipc` command. Each Register* function adds one subcommand to the CLI11 app
// and its handler; handlers return the process exit status.

#ifndef MPIPC_CLI_COMMANDS_H_
#define MPIPC_CLI_COMMANDS_H_

#include <CLI/CLI.hpp>

namespace mpipc::cli {

// `mpipc listen` and `mpipc connect`: an echo server and a line client for testing another
// implementation's Listener/Client against ours.
void RegisterEchoCommands(CLI::App& app, int& exit_status);

// `mpipc conform`, `mpipc fuzz`, `mpipc bench`: each execs the tool program `mpipc-<name>` that
// the build puts beside `mpipc` (bin/), passing every remaining argument through unchanged.
void RegisterToolCommands(CLI::App& app, int& exit_status);

}  // namespace mpipc::cli

#endif  // MPIPC_CLI_COMMANDS_H_
