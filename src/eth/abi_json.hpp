// A contract's JSON ABI (the solc "abi" array): functions, events, errors, constructor,
// with call encoding, output/log decoding and revert-reason decoding.
// ContractAbi and its entries are immutable values after parse(): thread-safe for
// concurrent const use; lookups return copies, so results never dangle.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "eth/abi.hpp"

namespace dgrid::eth::abi {

struct Param {
  std::string name;
  Type type;
  bool indexed = false;  // events only
};

// Names and types of a parameter list.
std::vector<Type> types_of(const std::vector<Param>& params);

struct Function {
  std::string name;
  std::vector<Param> inputs;
  std::vector<Param> outputs;
  std::string state_mutability;  // "view", "pure", "nonpayable", "payable"
  std::string signature;         // "stake(uint256)"
  Selector selector{};

  // selector || abi.encode(args); Errc::invalid_argument on count or type mismatch.
  Result<Bytes> encode_call(std::span<const Value> args) const;
  Result<Bytes> encode_call(std::initializer_list<Value> args) const {
    return encode_call(std::span<const Value>(args.begin(), args.size()));
  }
  // Return data of an eth_call, named by the declared outputs.
  Result<NamedValues> decode_output(ByteView data) const;
  // Calldata (with selector) back into named inputs.
  Result<NamedValues> decode_input(ByteView calldata) const;
};

struct Event {
  std::string name;
  std::vector<Param> inputs;
  bool anonymous = false;
  std::string signature;  // "Staked(address,uint256)"
  Hash32 topic{};         // keccak256(signature); topics[0] unless anonymous

  // Decodes a log into all inputs in declaration order. Indexed value types come from
  // topics; indexed dynamic types (bytes, string, arrays, tuples) are only available as
  // their keccak hash, returned as a 32-byte bytes value. Checks topics[0] and the topic count.
  Result<NamedValues> decode(std::span<const Hash32> topics, ByteView data) const;
};

struct ErrorDef {
  std::string name;
  std::vector<Param> inputs;
  std::string signature;  // "InsufficientStake(uint256,uint256)"
  Selector selector{};
};

// A decoded revert: `message` is always set and reads well in logs.
struct Revert {
  enum class Kind { empty, error_string, panic, custom, unknown };
  Kind kind = Kind::empty;
  // "insufficient balance" (Error(string)); "panic 0x11: arithmetic overflow or underflow";
  // "InsufficientStake(amount=100, required=200)"; "unknown revert data 0x12345678...";
  // "empty revert data".
  std::string message;
  std::string error_name;  // custom errors: the error's name
  NamedValues args;        // custom errors: the decoded arguments
  u256 panic_code = 0;
  Bytes data;              // the raw revert data
};

// The meaning of a Solidity panic code ("arithmetic overflow or underflow" for 0x11).
std::string_view panic_meaning(const u256& code) noexcept;

// Decodes Error(string) and Panic(uint256); other selectors become Kind::unknown.
Revert decode_revert(ByteView data);

class ContractAbi {
 public:
  // Parses the solc ABI JSON array (or an object with an "abi" member). Tuple types are
  // read from "components" and flattened to canonical types. Errc::malformed on bad JSON.
  static Result<ContractAbi> parse(std::string_view json);

  // By name ("stake") or full signature ("stake(uint256)"); an overloaded name must be
  // given as a signature. Errc::not_found naming the contract entries otherwise.
  Result<Function> function(std::string_view name_or_signature) const;
  Result<Event> event(std::string_view name_or_signature) const;
  Result<ErrorDef> error(std::string_view name_or_signature) const;
  Result<ErrorDef> error(const Selector& sel) const;
  // The event whose topic is topics[0] (non-anonymous events only).
  Result<Event> event_by_topic(const Hash32& topic) const;

  // Constructor arguments, to append to the creation bytecode (empty without a constructor).
  Result<Bytes> encode_constructor(std::span<const Value> args) const;
  Result<Bytes> encode_constructor(std::initializer_list<Value> args) const {
    return encode_constructor(std::span<const Value>(args.begin(), args.size()));
  }

  // Error(string), Panic(uint256), or one of this contract's custom errors.
  Revert decode_revert(ByteView data) const;

  // Finds the event by topics[0] and decodes it. Returns the event name too.
  struct DecodedLog {
    std::string event;
    NamedValues values;
  };
  Result<DecodedLog> decode_log(std::span<const Hash32> topics, ByteView data) const;

  const std::vector<Function>& functions() const noexcept { return functions_; }
  const std::vector<Event>& events() const noexcept { return events_; }
  const std::vector<ErrorDef>& errors() const noexcept { return errors_; }
  const std::vector<Param>& constructor_inputs() const noexcept { return constructor_; }

 private:
  std::vector<Function> functions_;
  std::vector<Event> events_;
  std::vector<ErrorDef> errors_;
  std::vector<Param> constructor_;
};

}  // namespace dgrid::eth::abi
