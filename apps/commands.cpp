#include "apps/commands.hpp"

#include <CLI/CLI.hpp>
#include <charconv>
#include <string>

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

}  // namespace waitless::apps
