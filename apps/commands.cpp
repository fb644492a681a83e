#include "apps/commands.hpp"

namespace waitless::apps {

const std::vector<Command>& commands() {
  static const std::vector<Command> all = {
      {"showcase", showcase_main},
      {"hello", hello_main},
  };
  return all;
}

}  // namespace waitless::apps
