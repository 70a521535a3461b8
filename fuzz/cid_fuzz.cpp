// CID, multibase and varint fuzzer. The input is tried as a binary CID and as CID text.
// Properties: nothing crashes; every error says something; whatever the strict decoders
// accept is canonical, so re-encoding gives the input back (binary CIDs, varints, base58btc,
// lower-case base32, "b..." and "Qm..." text), and to_string() parses back to the same CID.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "store/cid.hpp"

namespace {

bool same(dgrid::ByteView a, dgrid::ByteView b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0);
}

void check_error(const dgrid::Error& e) {
  if (e.message.empty()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace dgrid;
  using namespace dgrid::store;
  const ByteView in(data, size);
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  if (auto v = read_uvarint(in)) {
    Bytes again;
    put_uvarint(again, v->first);
    if (!same(again, in.first(v->second))) std::abort();
  } else {
    check_error(v.error());
  }

  if (auto p = Cid::read_prefix(in)) {
    if (!p->first.valid() || !same(p->first.bytes(), in.first(p->second))) std::abort();
    auto whole = Cid::from_bytes(in);
    if (whole.has_value() != (p->second == size)) std::abort();
    if (whole && *whole != p->first) std::abort();
    if (unwrap(Cid::parse(p->first.to_string())) != p->first) std::abort();
    if (p->first.to_v1().version() != 1 || p->first.to_v1().digest() != p->first.digest()) std::abort();
  } else {
    check_error(p.error());
    if (Cid::from_bytes(in)) std::abort();
  }

  if (auto c = Cid::parse(text)) {
    if (!c->valid()) std::abort();
    if (unwrap(Cid::from_bytes(c->bytes())) != *c) std::abort();
    const std::string canonical = c->to_string();
    if ((text[0] == 'b' || text.starts_with("Qm")) && canonical != text) std::abort();
  } else {
    check_error(c.error());
  }

  if (auto b = base58btc_decode(text)) {
    if (base58btc(*b) != text) std::abort();
  } else {
    check_error(b.error());
  }
  if (auto b = base32_decode(text)) {
    bool lower = true;
    for (char ch : text) lower = lower && !(ch >= 'A' && ch <= 'Z');
    if (lower && base32_lower(*b) != text) std::abort();
    if (unwrap(base32_decode(base32_lower(*b))) != *b) std::abort();
  } else {
    check_error(b.error());
  }
  return 0;
}
