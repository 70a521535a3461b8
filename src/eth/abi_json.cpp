#include "eth/abi_json.hpp"

#include <nlohmann/json.hpp>

namespace dgrid::eth::abi {

namespace {

using nlohmann::json;

std::unexpected<Error> bad_abi(std::string msg) { return fail(Errc::malformed, "ABI JSON: " + std::move(msg)); }

// solc spells tuples as "tuple", "tuple[]", "tuple[2][]" with "components".
Result<std::string> canonical_type(const json& p) {
  if (!p.is_object() || !p.contains("type") || !p["type"].is_string()) return bad_abi("parameter without a type");
  std::string type = p["type"].get<std::string>();
  if (!type.starts_with("tuple")) return type;
  if (!p.contains("components") || !p["components"].is_array()) return bad_abi("tuple without components");
  std::string inner = "(";
  bool first = true;
  for (const auto& c : p["components"]) {
    auto t = canonical_type(c);
    if (!t) return t;
    inner += (first ? "" : ",") + *t;
    first = false;
  }
  return inner + ")" + type.substr(5);
}

Result<std::vector<Param>> parse_params(const json& entry, const char* key) {
  std::vector<Param> out;
  if (!entry.contains(key)) return out;
  if (!entry[key].is_array()) return bad_abi(std::string("'") + key + "' is not an array");
  for (const auto& p : entry[key]) {
    auto text = canonical_type(p);
    if (!text) return std::unexpected(text.error());
    auto type = Type::parse(*text);
    if (!type) return std::unexpected(type.error());
    Param param;
    param.name = p.value("name", std::string());
    param.type = std::move(*type);
    param.indexed = p.value("indexed", false);
    out.push_back(std::move(param));
  }
  return out;
}

std::string signature_of(const std::string& name, const std::vector<Param>& params) {
  return name + canonical_list(types_of(params));
}

std::vector<std::string> names_of(const std::vector<Param>& params) {
  std::vector<std::string> out;
  for (const auto& p : params) out.push_back(p.name);
  return out;
}

// A name matches itself or its full signature.
template <class T>
Result<T> lookup(const std::vector<T>& entries, std::string_view key, std::string_view what) {
  const T* found = nullptr;
  size_t matches = 0;
  for (const auto& e : entries) {
    if (e.signature == key) return e;
    if (e.name == key) {
      found = &e;
      ++matches;
    }
  }
  if (matches == 1) return *found;
  if (matches > 1)
    return fail(Errc::invalid_argument, "ABI: " + std::string(what) + " '" + std::string(key) +
                                            "' is overloaded; pass its full signature");
  std::string known;
  for (const auto& e : entries) known += (known.empty() ? "" : ", ") + e.name;
  return fail(Errc::not_found, "ABI: no " + std::string(what) + " named '" + std::string(key) + "'" +
                                   (known.empty() ? "" : " (have: " + known + ")"));
}

Result<NamedValues> decode_named(const std::vector<Param>& params, ByteView data) {
  auto values = decode(types_of(params), data);
  if (!values) return std::unexpected(values.error());
  return NamedValues{names_of(params), std::move(*values)};
}

std::string hex_preview(ByteView data) {
  constexpr size_t kMax = 64;
  if (data.size() <= kMax) return to_hex(data);
  return to_hex(data.first(kMax)) + "... (" + std::to_string(data.size()) + " bytes)";
}

}  // namespace

std::vector<Type> types_of(const std::vector<Param>& params) {
  std::vector<Type> out;
  out.reserve(params.size());
  for (const auto& p : params) out.push_back(p.type);
  return out;
}

Result<Bytes> Function::encode_call(std::span<const Value> args) const {
  auto body = encode(types_of(inputs), args);
  if (!body) return std::unexpected(body.error().context(signature));
  Bytes out(selector.begin(), selector.end());
  out.insert(out.end(), body->begin(), body->end());
  return out;
}

Result<NamedValues> Function::decode_output(ByteView data) const {
  auto r = decode_named(outputs, data);
  if (!r) return std::unexpected(r.error().context(signature + " output"));
  return r;
}

Result<NamedValues> Function::decode_input(ByteView calldata) const {
  if (calldata.size() < 4 || !std::equal(selector.begin(), selector.end(), calldata.begin()))
    return fail(Errc::malformed, signature + ": calldata does not start with selector " + to_hex(selector));
  auto r = decode_named(inputs, calldata.subspan(4));
  if (!r) return std::unexpected(r.error().context(signature + " input"));
  return r;
}

Result<NamedValues> Event::decode(std::span<const Hash32> topics, ByteView data) const {
  size_t indexed = 0;
  for (const auto& p : inputs) indexed += p.indexed ? 1 : 0;
  const size_t first = anonymous ? 0 : 1;
  if (topics.size() != indexed + first)
    return fail(Errc::malformed, signature + ": expected " + std::to_string(indexed + first) + " topics, got " +
                                     std::to_string(topics.size()));
  if (!anonymous && topics[0] != topic)
    return fail(Errc::malformed, signature + ": topics[0] " + to_hex(topics[0]) + " is not this event's topic");
  std::vector<Type> data_types;
  for (const auto& p : inputs)
    if (!p.indexed) data_types.push_back(p.type);
  auto data_values = abi::decode(data_types, data);
  if (!data_values) return std::unexpected(data_values.error().context(signature + " data"));

  NamedValues out{names_of(inputs), {}};
  size_t t = first, d = 0;
  for (const auto& p : inputs) {
    if (!p.indexed) {
      out.values.push_back(std::move((*data_values)[d++]));
      continue;
    }
    const Hash32& word = topics[t++];
    const bool hashed = p.type.is_dynamic() || p.type.kind == Kind::tuple || p.type.kind == Kind::fixed_array;
    if (hashed) {
      out.values.push_back(Value::bytes(word));
      continue;
    }
    auto v = decode_word(p.type, word);
    if (!v) return std::unexpected(v.error().context(signature + " topic " + std::to_string(t - 1)));
    out.values.push_back(std::move(*v));
  }
  return out;
}

std::string_view panic_meaning(const u256& code) noexcept {
  if (code > 0xff) return "unknown panic code";
  switch (static_cast<unsigned>(code)) {
    case 0x00: return "generic compiler panic";
    case 0x01: return "assertion failed";
    case 0x11: return "arithmetic overflow or underflow";
    case 0x12: return "division or modulo by zero";
    case 0x21: return "invalid enum value";
    case 0x22: return "corrupted storage byte array";
    case 0x31: return "pop on empty array";
    case 0x32: return "array index out of bounds";
    case 0x41: return "out of memory";
    case 0x51: return "call to uninitialized function";
    default: return "unknown panic code";
  }
}

Revert decode_revert(ByteView data) {
  static const Selector kError = selector("Error(string)");
  static const Selector kPanic = selector("Panic(uint256)");
  Revert r;
  r.data.assign(data.begin(), data.end());
  if (data.empty()) {
    r.message = "empty revert data";
    return r;
  }
  r.kind = Revert::Kind::unknown;
  r.message = "unknown revert data " + hex_preview(data);
  if (data.size() < 4) return r;
  const bool is_error = std::equal(kError.begin(), kError.end(), data.begin());
  const bool is_panic = std::equal(kPanic.begin(), kPanic.end(), data.begin());
  if (is_error) {
    auto v = decode(Type::string(), data.subspan(4), Mode::lenient);
    if (v) {
      r.kind = Revert::Kind::error_string;
      r.message = *v->as_string();
    }
  } else if (is_panic) {
    auto v = decode(Type::uint(), data.subspan(4), Mode::lenient);
    if (v) {
      r.kind = Revert::Kind::panic;
      r.panic_code = *v->as_uint();
      r.message = "panic " + to_quantity(r.panic_code) + ": " + std::string(panic_meaning(r.panic_code));
    }
  }
  return r;
}

Result<ContractAbi> ContractAbi::parse(std::string_view text) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return bad_abi("not valid JSON");
  if (doc.is_object() && doc.contains("abi")) doc = doc["abi"];
  if (!doc.is_array()) return bad_abi("expected an array of entries");
  ContractAbi abi;
  for (const auto& entry : doc) {
    if (!entry.is_object()) return bad_abi("entry is not an object");
    const std::string type = entry.value("type", std::string("function"));
    const std::string name = entry.value("name", std::string());
    auto inputs = parse_params(entry, "inputs");
    if (!inputs) return std::unexpected(inputs.error().context(name.empty() ? type : name));
    if (type == "function") {
      auto outputs = parse_params(entry, "outputs");
      if (!outputs) return std::unexpected(outputs.error().context(name));
      Function f{name, std::move(*inputs), std::move(*outputs), entry.value("stateMutability", std::string()), {}, {}};
      f.signature = signature_of(name, f.inputs);
      f.selector = selector(f.signature);
      abi.functions_.push_back(std::move(f));
    } else if (type == "event") {
      Event e{name, std::move(*inputs), entry.value("anonymous", false), {}, {}};
      e.signature = signature_of(name, e.inputs);
      e.topic = event_topic(e.signature);
      abi.events_.push_back(std::move(e));
    } else if (type == "error") {
      ErrorDef e{name, std::move(*inputs), {}, {}};
      e.signature = signature_of(name, e.inputs);
      e.selector = selector(e.signature);
      abi.errors_.push_back(std::move(e));
    } else if (type == "constructor") {
      abi.constructor_ = std::move(*inputs);
    }
    // "fallback" and "receive" carry nothing to encode.
  }
  return abi;
}

Result<Function> ContractAbi::function(std::string_view key) const { return lookup(functions_, key, "function"); }
Result<Event> ContractAbi::event(std::string_view key) const { return lookup(events_, key, "event"); }
Result<ErrorDef> ContractAbi::error(std::string_view key) const { return lookup(errors_, key, "error"); }

Result<ErrorDef> ContractAbi::error(const Selector& sel) const {
  for (const auto& e : errors_)
    if (e.selector == sel) return e;
  return fail(Errc::not_found, "ABI: no error with selector " + to_hex(sel));
}

Result<Event> ContractAbi::event_by_topic(const Hash32& topic) const {
  for (const auto& e : events_)
    if (!e.anonymous && e.topic == topic) return e;
  return fail(Errc::not_found, "ABI: no event with topic " + to_hex(topic));
}

Result<Bytes> ContractAbi::encode_constructor(std::span<const Value> args) const {
  auto r = encode(types_of(constructor_), args);
  if (!r) return std::unexpected(r.error().context("constructor"));
  return r;
}

Revert ContractAbi::decode_revert(ByteView data) const {
  Revert r = abi::decode_revert(data);
  if (r.kind != Revert::Kind::unknown || data.size() < 4) return r;
  Selector sel{data[0], data[1], data[2], data[3]};
  auto def = error(sel);
  if (!def) return r;
  auto args = decode(types_of(def->inputs), data.subspan(4), Mode::lenient);
  if (!args) return r;
  r.kind = Revert::Kind::custom;
  r.error_name = def->name;
  r.args = NamedValues{names_of(def->inputs), std::move(*args)};
  r.message = def->name + "(" + r.args.to_string() + ")";
  return r;
}

Result<ContractAbi::DecodedLog> ContractAbi::decode_log(std::span<const Hash32> topics, ByteView data) const {
  if (topics.empty()) return fail(Errc::malformed, "ABI: log without topics (anonymous events are not matched)");
  auto ev = event_by_topic(topics[0]);
  if (!ev) return std::unexpected(ev.error());
  auto values = ev->decode(topics, data);
  if (!values) return std::unexpected(values.error());
  return DecodedLog{ev->name, std::move(*values)};
}

}  // namespace dgrid::eth::abi
