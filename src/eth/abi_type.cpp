#include "eth/abi_type.hpp"

#include <charconv>
#include <optional>

namespace dgrid::eth::abi {

namespace {

std::unexpected<Error> bad_type(std::string_view text, std::string why) {
  return fail(Errc::malformed, "ABI type '" + std::string(text) + "': " + std::move(why));
}

// Parses a decimal without sign or leading zeros; nullopt when absent or malformed.
std::optional<uint64_t> parse_dec(std::string_view s) {
  if (s.empty() || (s.size() > 1 && s[0] == '0') || s.size() > 12) return std::nullopt;
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  Result<Type> parse_full() {
    auto t = parse_type(0);
    if (!t) return t;
    if (pos_ != text_.size()) return bad_type(text_, "unexpected '" + std::string(1, text_[pos_]) + "'");
    return t;
  }

  // Components between '(' and ')' (the opening paren already consumed).
  Result<std::vector<Type>> parse_components(size_t depth) {
    std::vector<Type> out;
    if (peek() == ')') {
      ++pos_;
      return out;
    }
    for (;;) {
      auto t = parse_type(depth + 1);
      if (!t) return std::unexpected(t.error());
      out.push_back(std::move(*t));
      char c = peek();
      ++pos_;
      if (c == ')') return out;
      if (c != ',') return bad_type(text_, "expected ',' or ')' at position " + std::to_string(pos_ - 1));
    }
  }

  size_t pos() const { return pos_; }
  std::string_view text() const { return text_; }

 private:
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }

  Result<Type> parse_type(size_t depth) {
    if (depth > kMaxTypeDepth) return bad_type(text_, "nested deeper than " + std::to_string(kMaxTypeDepth));
    Type t;
    if (peek() == '(') {
      ++pos_;
      auto comps = parse_components(depth);
      if (!comps) return std::unexpected(comps.error());
      if (comps->empty()) return bad_type(text_, "empty tuple");
      t = Type::tuple(std::move(*comps));
    } else {
      size_t start = pos_;
      while (pos_ < text_.size() && text_[pos_] != '[' && text_[pos_] != ',' && text_[pos_] != ')') ++pos_;
      auto e = parse_elementary(text_.substr(start, pos_ - start));
      if (!e) return e;
      t = std::move(*e);
    }
    while (peek() == '[') {
      size_t close = text_.find(']', pos_);
      if (close == std::string_view::npos) return bad_type(text_, "unclosed '['");
      std::string_view dim = text_.substr(pos_ + 1, close - pos_ - 1);
      pos_ = close + 1;
      if (++depth > kMaxTypeDepth) return bad_type(text_, "nested deeper than " + std::to_string(kMaxTypeDepth));
      if (dim.empty()) {
        t = Type::array(std::move(t));
        continue;
      }
      auto k = parse_dec(dim);
      if (!k || *k == 0) return bad_type(text_, "bad array length '" + std::string(dim) + "'");
      if (*k > kMaxStaticSize) return bad_type(text_, "array length " + std::string(dim) + " too large");
      t = Type::fixed_array(std::move(t), static_cast<uint32_t>(*k));
      if (t.head_size() > kMaxStaticSize) return bad_type(text_, "static size exceeds limit");
    }
    if (t.kind == Kind::tuple && t.head_size() > kMaxStaticSize) return bad_type(text_, "static size exceeds limit");
    return t;
  }

  Result<Type> parse_elementary(std::string_view s) {
    if (s == "address") return Type::address();
    if (s == "bool") return Type::boolean();
    if (s == "bytes") return Type::bytes();
    if (s == "string") return Type::string();
    auto sized = [&](std::string_view prefix) -> std::optional<uint64_t> {
      if (!s.starts_with(prefix)) return std::nullopt;
      auto n = parse_dec(s.substr(prefix.size()));
      return n ? n : std::optional<uint64_t>(0);  // 0 marks "prefix matched, size invalid"
    };
    if (auto n = sized("uint")) {
      if (*n < 8 || *n > 256 || *n % 8) return bad_type(text_, "bad integer size in '" + std::string(s) + "'");
      return Type::uint(static_cast<uint32_t>(*n));
    }
    if (auto n = sized("int")) {
      if (*n < 8 || *n > 256 || *n % 8) return bad_type(text_, "bad integer size in '" + std::string(s) + "'");
      return Type::int_(static_cast<uint32_t>(*n));
    }
    if (auto n = sized("bytes")) {
      if (*n < 1 || *n > 32) return bad_type(text_, "bad size in '" + std::string(s) + "'");
      return Type::fixed_bytes(static_cast<uint32_t>(*n));
    }
    if (s.empty()) return bad_type(text_, "missing type at position " + std::to_string(pos_));
    return bad_type(text_, "unknown type '" + std::string(s) + "'");
  }

  std::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

Result<Type> Type::parse(std::string_view text) { return Parser(text).parse_full(); }

Result<std::vector<Type>> parse_type_list(std::string_view text) {
  if (text.empty() || text == "()") return std::vector<Type>{};
  // "(a,b)" is read as the list a,b rather than a list holding one tuple.
  if (text.starts_with('(')) {
    auto t = Type::parse(text);
    if (t && t->kind == Kind::tuple) return t->elems;
  }
  auto whole = Type::parse("(" + std::string(text) + ")");
  if (!whole) return std::unexpected(whole.error());
  return whole->elems;
}

std::string canonical_list(const std::vector<Type>& types) {
  std::string out = "(";
  for (size_t i = 0; i < types.size(); ++i) {
    if (i) out += ',';
    out += types[i].canonical();
  }
  return out + ")";
}

std::string Type::canonical() const {
  switch (kind) {
    case Kind::uint: return "uint" + std::to_string(size);
    case Kind::int_: return "int" + std::to_string(size);
    case Kind::address: return "address";
    case Kind::boolean: return "bool";
    case Kind::fixed_bytes: return "bytes" + std::to_string(size);
    case Kind::bytes: return "bytes";
    case Kind::string: return "string";
    case Kind::array: return elems[0].canonical() + "[]";
    case Kind::fixed_array: return elems[0].canonical() + "[" + std::to_string(size) + "]";
    case Kind::tuple: return canonical_list(elems);
  }
  return {};
}

bool Type::is_dynamic() const noexcept {
  switch (kind) {
    case Kind::bytes:
    case Kind::string:
    case Kind::array: return true;
    case Kind::fixed_array: return elems[0].is_dynamic();
    case Kind::tuple:
      for (const auto& e : elems)
        if (e.is_dynamic()) return true;
      return false;
    default: return false;
  }
}

size_t Type::head_size() const noexcept {
  if (is_dynamic()) return 32;
  if (kind == Kind::fixed_array) return size * elems[0].head_size();
  if (kind == Kind::tuple) {
    size_t n = 0;
    for (const auto& e : elems) n += e.head_size();
    return n;
  }
  return 32;
}

}  // namespace dgrid::eth::abi
