// Signed-transaction decoder fuzzer. Property: an accepted transaction is canonical —
// re-encoding its fields and signature reproduces the input exactly.
#include <cstdint>
#include <cstdlib>

#include "eth/transaction.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace dgrid;
  ByteView in(data, size);
  auto tx = eth::decode_signed(in);
  if (!tx) return 0;
  if (eth::encode_signed(tx->tx, tx->sig) != Bytes(in.begin(), in.end())) std::abort();
  return 0;
}
