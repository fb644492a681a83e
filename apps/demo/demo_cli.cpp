// The `waitless demo` subcommand's options.
#include <CLI/CLI.hpp>
#include <memory>

#include "apps/commands.hpp"
#include "apps/demo/demo.hpp"

namespace waitless::apps {

Runner define_demo(CLI::App& cmd) {
  auto options = std::make_shared<demo::DemoOptions>();
  cmd.add_option("--port", options->port, "TCP port to listen on (0: any free port)")
      ->capture_default_str()
      ->check(integer_in(0, 65535));
  cmd.add_option("--bind", options->bind, "address to bind (0.0.0.0 or :: for every interface)")
      ->capture_default_str();
  cmd.add_option("--db", options->db,
                 "database: empty for SQLite under --var, or a postgres://user:pass@host:port/db URL");
  cmd.add_option("--var", options->var_dir,
                 "directory of the SQLite file (created and seeded on first start)")
      ->capture_default_str();
  cmd.add_option("--public", options->public_dir,
                 "directory of the dashboard's files (default: the source tree's)");
  cmd.add_option("--service-timeout-ms", options->service_timeout_ms,
                 "how long the gateway waits for each internal service")
      ->capture_default_str()
      ->check(integer_in(10, 60'000));
  return [options] { return demo::run_demo(*options); };
}

}  // namespace waitless::apps
