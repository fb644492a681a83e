// The `waitless` command's subcommands. Each lives in its own file in apps/ and is listed once in
// commands.cpp. Adding one: write `Runner define_NAME(CLI::App& cmd)` (declare the options on `cmd`, return
// what runs the subcommand once they are parsed), declare it below and add a line to commands().
// Arguments are parsed by CLI11 in main.cpp: `--help` on any command prints its usage and exits 0; an
// unknown option or a bad value is named on stderr and exits 2.
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

// For an option's check(): a whole number in [lo, hi]; the error names the value and the range.
CLI::Validator integer_in(long lo, long hi);

Runner define_lab(CLI::App& cmd);         // apps/lab/lab_cli.cpp
Runner define_lab_server(CLI::App& cmd);  // hidden: the lab's child servers
Runner define_hello(CLI::App& cmd);
Runner define_demo(CLI::App& cmd);  // apps/demo/demo_cli.cpp
Runner define_proxy(CLI::App& cmd);

}  // namespace waitless::apps
