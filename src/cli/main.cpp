// The dgrid command. Each subcommand lives in its own file and registers itself here.
#include <iostream>

#include "cli/common.hpp"

int main(int argc, char** argv) {
  CLI::App app{"dgrid: a decentralized marketplace for AI compute and storage"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("dgrid 0.1.0"));
  dgrid::cli::register_all_commands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const dgrid::Exception& e) {
    std::cerr << "error: " << e.error().message << std::endl;
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}
