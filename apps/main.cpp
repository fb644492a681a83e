// The `waitless` command: one subcommand per job (apps/commands.hpp lists them and parses the arguments,
// in the apps library, so that CLI11's headers are compiled with the rest of the command).
#include "apps/commands.hpp"

int main(int argc, char** argv) { return waitless::apps::run_command_line(argc, argv); }
