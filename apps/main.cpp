// The `waitless` command: one subcommand per job (apps/commands.hpp lists them). CLI11 parses the
// arguments: usage goes to stdout with exit status 0 for --help, a parse error is named on stderr with
// exit status 2 (the shell convention for bad usage).
#include <CLI/CLI.hpp>
#include <utility>
#include <vector>

#include "apps/commands.hpp"

int main(int argc, char** argv) {
  using waitless::apps::Runner;
  CLI::App app{"waitless: a C++20 runtime for I/O-bound servers (event loop, coroutines, HTTP/1.1)",
               "waitless"};
  app.require_subcommand(1);
  std::vector<std::pair<CLI::App*, Runner>> runners;
  for (const auto& c : waitless::apps::commands()) {
    CLI::App* cmd = app.add_subcommand(c.name, c.summary);
    runners.emplace_back(cmd, c.define(*cmd));
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::RequiredError& e) {
    // CLI11 checks "a subcommand is required" before it reports unexpected arguments: name those instead
    // (`waitless no-such-command`, `waitless --no-such-option`).
    if (!app.remaining().empty()) return app.exit(CLI::ExtrasError(app.remaining())) == 0 ? 0 : 2;
    return app.exit(e) == 0 ? 0 : 2;
  } catch (const CLI::ParseError& e) {
    // Prints the usage (--help) or the error and a hint; CLI11's own codes for errors become 2.
    return app.exit(e) == 0 ? 0 : 2;
  }
  for (auto& [cmd, run] : runners) {
    if (cmd->parsed()) return run();
  }
  return 2;  // unreachable: require_subcommand(1) made the parse fail
}
