#include "apps/commands.hpp"

#include <CLI/CLI.hpp>
#include <charconv>
#include <string>
#include <utility>

namespace waitless::apps {

const std::vector<Command>& commands() {
  static const std::vector<Command> all = {
      {"demo", "the showcase app: dashboard API, CRUD, streaming, WebSocket chat, live metrics page",
       define_demo},
      {"lab", "threads vs the event loop, measured: tables, SVG plots, an HTML report", define_lab},
      {"lab-server", "", define_lab_server},  // hidden: the lab's child servers
      {"hello", "benchmark server: GET /plaintext and /json", define_hello},
      {"proxy", "reverse proxy and load balancer: --config proxy.json (docs/proxy.md)", define_proxy},
  };
  return all;
}

CLI::Validator integer_in(long lo, long hi) {
  std::string range = "[" + std::to_string(lo) + " - " + std::to_string(hi) + "]";
  return CLI::Validator(
      [lo, hi, range](std::string& text) -> std::string {
        long value = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (ec != std::errc{} || end != text.data() + text.size() || value < lo || value > hi) {
          return "'" + text + "' is not a whole number in " + range;
        }
        return {};
      },
      "in " + range);
}

int run_command_line(int argc, char** argv) {
  CLI::App app{"waitless: a C++20 runtime for I/O-bound servers (event loop, coroutines, HTTP/1.1)",
               "waitless"};
  app.require_subcommand(1);
  std::vector<std::pair<CLI::App*, Runner>> runners;
  for (const auto& c : commands()) {
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

}  // namespace waitless::apps
