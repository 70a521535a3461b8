// Random transactions of each type for round-trip and interop tests.
#pragma once

#include <random>

#include "eth/transaction.hpp"

namespace dgrid::eth {

inline Transaction random_tx(std::mt19937_64& rng, TxType type) {
  Transaction tx;
  tx.type = type;
  tx.chain_id = type == TxType::legacy && rng() % 3 == 0 ? 0 : 1 + rng() % 100000;
  tx.nonce = rng() % 2 ? rng() % 1000 : rng();
  tx.gas_price = u256(rng());
  tx.max_priority_fee_per_gas = u256(rng() % 3'000'000'000ull);
  tx.max_fee_per_gas = (u256(rng()) << 64) | rng();
  tx.gas_limit = 21000 + rng() % 10'000'000;
  if (rng() % 4) {
    crypto::Address a;
    for (auto& b : a.bytes) b = static_cast<uint8_t>(rng());
    tx.to = a;
  }
  tx.value = rng() % 3 ? u256(0) : (u256(rng()) << 128) | rng();
  tx.data.resize(rng() % 200);
  for (auto& b : tx.data) b = static_cast<uint8_t>(rng());
  if (type != TxType::legacy) {
    size_t n = rng() % 3;
    for (size_t i = 0; i < n; ++i) {
      AccessListEntry e;
      e.address.bytes.fill(static_cast<uint8_t>(i + 1));
      e.storage_keys.resize(rng() % 3);
      for (auto& k : e.storage_keys) k.fill(static_cast<uint8_t>(rng()));
      tx.access_list.push_back(std::move(e));
    }
  }
  return tx;
}

}  // namespace dgrid::eth
