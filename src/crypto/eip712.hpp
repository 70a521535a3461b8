// EIP-712 typed structured data: encodeType, typeHash, hashStruct, domain separator and the
// final digest keccak256(0x1901 || domainSeparator || hashStruct(message)), for arbitrary
// type definitions, as eth_signTypedData_v4 and ethers v6 compute them.
//
// Strictness beyond the EIP (every violation is a Result error, nothing throws):
// struct values must have exactly the declared fields; bool values must be JSON booleans;
// integers are JSON integers or decimal/0x-hex strings with an optional '-' sign, range
// checked against their width; cyclic struct references are rejected (as ethers does).
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.hpp"
#include "crypto/address.hpp"
#include "crypto/secp256k1.hpp"

namespace dgrid::crypto {

struct Eip712Field {
  std::string name;
  std::string type;  // "uint256", "address", "Person", "Person[]", "bytes32[2][]", ...
};

namespace eip712_detail {
enum class Kind : uint8_t { uint_, int_, address, bool_, fixed_bytes, bytes, string, struct_ };
// A resolved field type: base kind plus array dimensions, outermost first (-1 = dynamic).
struct FieldType {
  Kind kind = Kind::uint_;
  unsigned width = 0;       // bits for uintN/intN, bytes for bytesN
  std::string struct_name;  // for Kind::struct_
  std::vector<int64_t> dims;
};
struct Field {
  std::string name;
  std::string type;  // normalized spelling used in encodeType ("uint" -> "uint256")
  FieldType parsed;
};
struct StructDef {
  std::vector<Field> fields;
  std::string encoded_type;
  Hash32 type_hash{};
};
}  // namespace eip712_detail

// A validated set of struct type definitions with precomputed encodeType/typeHash.
// Immutable after construction; safe for concurrent const use.
class Eip712Types {
 public:
  // From a declaration-ordered definition map. Validates every type: field types resolve,
  // no duplicate field names, no cycles, nesting at most kMaxDepth.
  static Result<Eip712Types> from_definitions(const std::map<std::string, std::vector<Eip712Field>>& defs);
  // From the JSON `types` object: {"Mail": [{"name": "from", "type": "Person"}, ...], ...}.
  static Result<Eip712Types> from_json(const nlohmann::json& types);

  bool contains(std::string_view name) const noexcept;
  // "Mail(Person from,Person to,string contents)Person(string name,address wallet)"
  Result<std::string> encode_type(std::string_view name) const;
  Result<Hash32> type_hash(std::string_view name) const;
  // typeHash || enc(field_1) || ... (32 bytes per field).
  Result<Bytes> encode_data(std::string_view name, const nlohmann::json& value) const;
  // keccak256(encode_data(name, value)).
  Result<Hash32> hash_struct(std::string_view name, const nlohmann::json& value) const;

  static constexpr int kMaxDepth = 32;  // struct + array nesting, bounds recursion on input

 private:
  Eip712Types() = default;
  const eip712_detail::StructDef* find(std::string_view name) const noexcept;
  std::map<std::string, eip712_detail::StructDef, std::less<>> structs_;
};

// The EIP712Domain fields that ethers infers from the keys present in `domain`, in canonical
// order (name, version, chainId, verifyingContract, salt). Unknown keys are an error.
Result<std::vector<Eip712Field>> eip712_domain_fields(const nlohmann::json& domain);

struct TypedDataOptions {
  // When `types` has no EIP712Domain, derive it from the domain's keys as ethers does
  // (eip712_domain_fields). Off by default: eth_signTypedData_v4 documents must carry it.
  bool infer_domain_type = false;
};

// A parsed typed-data document. Owns its JSON; safe for concurrent const use.
struct TypedData {
  Eip712Types types;
  std::string primary_type;
  nlohmann::json domain;
  nlohmann::json message;

  // {"types": {...}, "primaryType": "...", "domain": {...}, "message": {...}}
  static Result<TypedData> from_json(const nlohmann::json& doc, TypedDataOptions options = {});
  static Result<TypedData> parse(std::string_view json_text, TypedDataOptions options = {});

  Result<Hash32> domain_separator() const;  // hashStruct(EIP712Domain, domain)
  Result<Hash32> struct_hash() const;       // hashStruct(primaryType, message)
  Result<Hash32> digest() const;            // keccak256(0x1901 || domain_separator || struct_hash)
};

// keccak256(0x19 0x01 || domain_separator || struct_hash).
Hash32 eip712_digest(const Hash32& domain_separator, const Hash32& struct_hash) noexcept;

// Parse + digest in one step (strict options).
Result<Hash32> typed_data_digest(const nlohmann::json& doc);

Result<Signature> sign_typed_data(const PrivateKey& key, const nlohmann::json& doc);
Result<Address> recover_typed_data_signer(const nlohmann::json& doc, const Signature& sig);

}  // namespace dgrid::crypto
