// JSON-RPC response decoder fuzzer: whatever a (hostile) endpoint sends, the strict field
// decoders return a value or an error, never crash. Property: an accepted receipt's logs
// all decoded individually too.
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "eth/rpc_json.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace dgrid;
  auto j = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  (void)eth::json_quantity(j, "x");
  (void)eth::json_u64(j, "x");
  (void)eth::json_data(j, "x");
  (void)eth::json_hash(j, "x");
  (void)eth::json_address(j, "x");
  (void)eth::parse_log(j);
  if (auto r = eth::parse_receipt(j)) {
    for (const auto& l : j["logs"])
      if (!eth::parse_log(l)) std::abort();
  }
  if (j.is_object() && j.contains("result")) (void)eth::parse_receipt(j["result"]);
  return 0;
}
