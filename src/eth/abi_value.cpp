#include "eth/abi_value.hpp"

namespace dgrid::eth::abi {

namespace {

template <class T>
Result<T> get_as(const Value::Storage& v, std::string_view want, std::string_view have) {
  if (const T* p = std::get_if<T>(&v)) return *p;
  return fail(Errc::invalid_argument,
              "ABI value: expected " + std::string(want) + ", got " + std::string(have));
}

}  // namespace

std::string_view Value::kind_name() const noexcept {
  static constexpr std::string_view kNames[] = {"uint", "int", "address", "bool", "bytes", "string", "list"};
  return kNames[v_.index()];
}

Result<u256> Value::as_uint() const { return get_as<u256>(v_, "uint", kind_name()); }
Result<i256> Value::as_int() const { return get_as<i256>(v_, "int", kind_name()); }
Result<crypto::Address> Value::as_address() const { return get_as<crypto::Address>(v_, "address", kind_name()); }
Result<bool> Value::as_bool() const { return get_as<bool>(v_, "bool", kind_name()); }
Result<Bytes> Value::as_bytes() const { return get_as<Bytes>(v_, "bytes", kind_name()); }
Result<std::string> Value::as_string() const { return get_as<std::string>(v_, "string", kind_name()); }

Result<uint64_t> Value::as_u64() const {
  auto v = as_uint();
  if (!v) return std::unexpected(v.error());
  if (*v > std::numeric_limits<uint64_t>::max())
    return fail(Errc::invalid_argument, "ABI value: " + to_dec(*v) + " exceeds 64 bits");
  return static_cast<uint64_t>(*v);
}

Result<Value> Value::at(size_t index) const {
  const auto* list = items();
  if (!list) return fail(Errc::invalid_argument, "ABI value: expected list, got " + std::string(kind_name()));
  if (index >= list->size())
    return fail(Errc::invalid_argument, "ABI value: index " + std::to_string(index) + " out of range (size " +
                                            std::to_string(list->size()) + ")");
  return (*list)[index];
}

std::string Value::to_string() const {
  struct Printer {
    std::string operator()(const u256& v) const { return to_dec(v); }
    std::string operator()(const i256& v) const { return v.str(); }
    std::string operator()(const crypto::Address& a) const { return a.checksummed(); }
    std::string operator()(bool b) const { return b ? "true" : "false"; }
    std::string operator()(const Bytes& b) const { return to_hex(b); }
    std::string operator()(const std::string& s) const { return "\"" + s + "\""; }
    std::string operator()(const std::vector<Value>& list) const {
      std::string out = "[";
      for (size_t i = 0; i < list.size(); ++i) {
        if (i) out += ", ";
        out += list[i].to_string();
      }
      return out + "]";
    }
  };
  return std::visit(Printer{}, v_);
}

Result<Value> NamedValues::get(std::string_view name) const {
  for (size_t i = 0; i < names.size() && i < values.size(); ++i)
    if (names[i] == name) return values[i];
  std::string known;
  for (const auto& n : names) known += (known.empty() ? "" : ", ") + (n.empty() ? std::string("<unnamed>") : n);
  return fail(Errc::not_found, "no value named '" + std::string(name) + "' (have: " + known + ")");
}

std::string NamedValues::to_string() const {
  std::string out;
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += ", ";
    if (i < names.size() && !names[i].empty()) out += names[i] + "=";
    out += values[i].to_string();
  }
  return out;
}

}  // namespace dgrid::eth::abi
