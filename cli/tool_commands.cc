// `mpipc conform|fuzz|bench ARGS...`: the door to the project's tool programs. Each tool is its own
// program, `mpipc-<name>`, installed beside `mpipc`; this file only finds it and execs it, so the
// command depends on nothing but the reference library.
#include <errno.h>
#include <limits.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "commands.h"

namespace mpipc::cli {

namespace {

struct Tool {
  const char* name;
  const char* description;
};

constexpr Tool kTools[] = {
    {"conform",
     "Run the conformance suite against one or more targets (see `mpipc conform --help`)"},
    {"fuzz", "Run libFuzzer campaigns over the reference's parsers (see `mpipc fuzz --help`)"},
    {"bench", "Run the benchmarks and write benchmark JSON (see `mpipc bench --help`)"},
};

std::filesystem::path SelfDirectory() {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::path(".") : self.parent_path();
}

// Replaces this process with bin/mpipc-<name>; returns only on failure.
int ExecTool(const std::string& name, const std::vector<std::string>& args) {
  const std::filesystem::path program = SelfDirectory() / ("mpipc-" + name);
  std::vector<std::string> argv_storage;
  argv_storage.push_back(program.string());
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  argv.reserve(argv_storage.size() + 1);
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  execv(program.c_str(), argv.data());
  std::cerr << "mpipc " << name << ": cannot run " << program << ": " << std::strerror(errno)
            << " (is it built? `cmake --build build`)\n";
  return 127;
}

}  // namespace

void RegisterToolCommands(CLI::App& app, int& exit_status) {
  for (const Tool& tool : kTools) {
    CLI::App* sub = app.add_subcommand(tool.name, tool.description);
    sub->prefix_command();  // everything after the name goes to the tool, --help included
    sub->set_help_flag();
    const std::string name = tool.name;
    sub->callback([sub, name, &exit_status] { exit_status = ExecTool(name, sub->remaining()); });
  }
}

}  // namespace mpipc::cli
