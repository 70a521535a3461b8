// Random ABI types and matching values for round-trip, interop and fuzz-seed tests.
#pragma once

#include <random>

#include "eth/abi.hpp"

namespace dgrid::eth::abi {

struct RandomAbi {
  std::mt19937_64 rng;
  size_t pick(size_t n) { return rng() % n; }

  Type type(int depth) {
    size_t k = depth > 3 ? pick(7) : pick(10);
    switch (k) {
      case 0: return Type::uint(static_cast<uint32_t>(8 * (1 + pick(32))));
      case 1: return Type::int_(static_cast<uint32_t>(8 * (1 + pick(32))));
      case 2: return Type::address();
      case 3: return Type::boolean();
      case 4: return Type::fixed_bytes(static_cast<uint32_t>(1 + pick(32)));
      case 5: return Type::bytes();
      case 6: return Type::string();
      case 7: return Type::array(type(depth + 1));
      case 8: return Type::fixed_array(type(depth + 1), static_cast<uint32_t>(1 + pick(3)));
      default: {
        std::vector<Type> comps(1 + pick(3));
        for (auto& c : comps) c = type(depth + 1);
        return Type::tuple(std::move(comps));
      }
    }
  }

  u256 big(uint32_t bits) {
    u256 v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 64) | rng();
    if (pick(3) == 0) v >>= pick(256);
    return bits < 256 ? v & ((u256(1) << bits) - 1) : v;
  }

  Value value(const Type& t) {
    switch (t.kind) {
      case Kind::uint: return Value::uint(big(t.size));
      case Kind::int_: {
        i256 v = static_cast<i256>(big(t.size - 1));  // [0, 2^(N-1))
        return Value::int_(pick(2) ? v : -v - 1);      // or [-2^(N-1), -1]
      }
      case Kind::address: {
        crypto::Address a;
        for (auto& b : a.bytes) b = static_cast<uint8_t>(rng());
        return Value::address(a);
      }
      case Kind::boolean: return Value::boolean(pick(2));
      case Kind::fixed_bytes:
      case Kind::bytes: {
        Bytes b(t.kind == Kind::bytes ? pick(70) : t.size);
        for (auto& x : b) x = static_cast<uint8_t>(rng());
        return Value::bytes(std::move(b));
      }
      case Kind::string: return Value::string(std::string(pick(40), 'a' + static_cast<char>(pick(26))));
      case Kind::array: {
        Values items(pick(4));
        for (auto& v : items) v = value(t.elems[0]);
        return Value::array(std::move(items));
      }
      case Kind::fixed_array: {
        Values items(t.size);
        for (auto& v : items) v = value(t.elems[0]);
        return Value::array(std::move(items));
      }
      case Kind::tuple: {
        Values items;
        for (const auto& c : t.elems) items.push_back(value(c));
        return Value::tuple(std::move(items));
      }
    }
    return {};
  }
};

}  // namespace dgrid::eth::abi
