// Compiled dgrid contracts, embedded at build time (contracts/CMakeLists.txt).
#pragma once

#include <span>
#include <string_view>

namespace dgrid::eth {

struct ContractArtifact {
  std::string_view name;      // "TicketBroker"
  std::string_view abi_json;  // the solc ABI array
  std::string_view bytecode;  // 0x-hex creation code (constructor arguments are appended)
};

// All compiled contracts, sorted by source file. Static storage; never freed.
std::span<const ContractArtifact> contract_artifacts() noexcept;
std::string_view solc_version() noexcept;

}  // namespace dgrid::eth
