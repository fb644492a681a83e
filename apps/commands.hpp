// Registry of the `waitless` command's subcommands; each lives in its own file in apps/.
#pragma once
#include <vector>

namespace waitless::apps {

struct Command {
  const char* name;
  int (*run)(int argc, char** argv);
};

const std::vector<Command>& commands();

int showcase_main(int argc, char** argv);
int hello_main(int argc, char** argv);

}  // namespace waitless::apps
