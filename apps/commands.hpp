// The `waitless` command's subcommands. Each lives in its own file in apps/ and is listed once in
// commands.cpp. Adding one: write `Runner define_NAME(CLI::App& cmd)` (declare the options on `cmd`, return
// what runs the subcommand once they are parsed), declare it below and add a line to commands().
// Arguments are parsed by CLI11 in run_command_line (commands.cpp): `--help` on any command prints its usage
// and exits 0; an unknown option or a bad value is named on stderr and exits 2.
#pragma once
#include <functional>
#include <vector>

namespace CLI {
class App;
class Validator;
}  // namespace CLI

namespace waitless::apps {

// Runs a subcommand after its options were parsed; returns the process's exit status.
using Runner = std::function<int()>;

struct Command {
  const char* name;
  const char* summary;  // one line, shown by `waitless --help`
  // Declares the subcommand's options on `cmd`; the Runner holds where their values were parsed to.
  Runner (*define)(CLI::App& cmd);
};

const std::vector<Command>& commands();

// Parses the arguments and runs the subcommand they name: the `waitless` command's main (apps/main.cpp).
// Usage goes to stdout with exit status 0 for --help; a parse error is named on stderr with exit status 2
// (the shell convention for bad usage).
int run_command_line(int argc, char** argv);

// For an option's check(): a whole number in [lo, hi]; the error names the value and the range.
CLI::Validator integer_in(long lo, long hi);

Runner define_lab(CLI::App& cmd);         // apps/lab/lab_cli.cpp
Runner define_lab_server(CLI::App& cmd);  // hidden: the lab's child servers
Runner define_hello(CLI::App& cmd);
Runner define_demo(CLI::App& cmd);  // apps/demo/demo_cli.cpp
Runner define_proxy(CLI::App& cmd);

}  // namespace waitless::apps
