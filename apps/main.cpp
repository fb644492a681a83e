// The `waitless` command: subcommands for the runtime showcase, the benchmark server, and later the demo,
// the lab and the proxy.
#include <cstdio>
#include <cstring>
#include <string_view>

#include "apps/commands.hpp"

namespace {

void usage() {
  std::fprintf(stderr,
               "usage: waitless <command> [options]\n"
               "  showcase              run the runtime showcase (the seeds' claims, measured)\n"
               "  hello --port P [--threads N]   benchmark server: /plaintext and /json\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    usage();
    return 2;
  }
  std::string_view cmd = argv[1];
  for (const auto& c : waitless::apps::commands()) {
    if (cmd == c.name) return c.run(argc - 1, argv + 1);
  }
  usage();
  return 2;
}
