// Column readers shared by NodeState's translation units (state.cpp, state_storage.cpp):
// every value read back from node.db is checked, and a damaged one is an Errc::malformed
// error naming the column, never a crash. Internal to src/node.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>

#include "core/u256.hpp"
#include "node/sqlite.hpp"

#define DGRID_TRY(expr)                                            \
  do {                                                             \
    if (auto _r = (expr); !_r) return std::unexpected(_r.error()); \
  } while (0)

#define DGRID_TRY_ASSIGN(var, expr)              \
  do {                                           \
    auto _r = (expr);                            \
    if (!_r) return std::unexpected(_r.error()); \
    var = std::move(*_r);                        \
  } while (0)

namespace dgrid::node::state_detail {

inline Result<u256> parse_amount(const std::string& text, std::string_view what) {
  auto v = parse_u256(text);
  if (!v) return fail(Errc::malformed, "node.db: corrupt " + std::string(what) + " amount '" + text + "'");
  return v;
}

template <size_t N>
Result<FixedBytes<N>> fixed_column(const Stmt& s, int col, std::string_view what) {
  Bytes b = s.column_blob(col);
  if (b.size() != N)
    return fail(Errc::malformed, "node.db: corrupt " + std::string(what) + " (" + std::to_string(b.size()) +
                                     " bytes, want " + std::to_string(N) + ")");
  FixedBytes<N> out;
  std::copy(b.begin(), b.end(), out.begin());
  return out;
}

inline Result<u256> amount_column(const Stmt& s, int col, std::string_view what) {
  return parse_amount(s.column_text(col), what);
}

}  // namespace dgrid::node::state_detail
