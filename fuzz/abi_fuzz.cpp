// ABI decoder fuzzer over a fixed set of nested types. Properties: the strict decoder only
// accepts canonical encodings (re-encoding reproduces the input), and the lenient decoder
// never crashes, reads out of bounds or amplifies memory.
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "eth/abi.hpp"

namespace {

const std::vector<std::vector<dgrid::eth::abi::Type>>& type_sets() {
  static const auto sets = [] {
    std::vector<std::vector<dgrid::eth::abi::Type>> out;
    for (const char* list : {"uint256,uint32[],bytes10,bytes", "uint256[][],string[]",
                             "(address,uint256,bytes,(bytes32,bytes32,uint8))[]", "int8,bool,address,bytes32",
                             "(uint256,bytes)[2][],string", "bytes[],(bool,string[])"}) {
      out.push_back(*dgrid::eth::abi::parse_type_list(list));
    }
    return out;
  }();
  return sets;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace dgrid;
  if (size == 0) return 0;
  const auto& sets = type_sets();
  const auto& types = sets[data[0] % sets.size()];
  ByteView in(data + 1, size - 1);
  (void)eth::abi::decode(types, in, eth::abi::Mode::lenient);
  auto values = eth::abi::decode(types, in);
  if (!values) return 0;
  auto again = eth::abi::encode(types, *values);
  if (!again || *again != Bytes(in.begin(), in.end())) std::abort();
  return 0;
}
