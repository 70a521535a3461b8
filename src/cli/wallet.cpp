// dgrid wallet new|address|balance|sign|sign-typed-data|verify (in the spirit of cast wallet).
#include <iostream>

#include "cli/common.hpp"
#include "crypto/eip712.hpp"
#include "crypto/keystore.hpp"
#include "eth/contract.hpp"

namespace dgrid::cli {

namespace {

Bytes message_bytes(const std::string& message, bool hex) {
  if (!hex) return Bytes(message.begin(), message.end());
  return unwrap(from_hex(message));
}

}  // namespace

namespace {

void register_wallet(CLI::App& app) {
  auto* wallet = app.add_subcommand("wallet", "Create keystores, sign and verify messages");
  wallet->require_subcommand(1);

  // new
  {
    auto* cmd = wallet->add_subcommand("new", "Create a new key in a Web3 Secret Storage v3 keystore");
    struct Opts {
      std::string keystore, password_file;
      bool light = false, json = false;
    };
    auto o = std::make_shared<Opts>();
    cmd->add_option("--keystore", o->keystore, "where to write the keystore (must not exist)")->required();
    cmd->add_option("--password-file", o->password_file, "file holding the new password")->required()->check(CLI::ExistingFile);
    cmd->add_flag("--light-kdf", o->light, "scrypt n=4096 (fast; for devnets and tests only)");
    cmd->add_flag("--json", o->json, "print JSON");
    cmd->callback([o] {
      if (std::filesystem::exists(o->keystore))
        throw Exception(Error(Errc::invalid_argument, o->keystore + " already exists; refusing to overwrite a key"));
      std::string pw = read_password_file(o->password_file);
      if (pw.empty()) throw Exception(Error(Errc::invalid_argument, "the password file is empty"));
      auto key = crypto::PrivateKey::generate();
      unwrap(crypto::save_keystore(o->keystore, key, pw, o->light ? crypto::kScryptLight : crypto::kScryptStandard));
      if (o->json) print_json({{"address", key.address().checksummed()}, {"keystore", o->keystore}});
      else std::cout << "Created " << o->keystore << "\nAddress: " << key.address().checksummed() << std::endl;
    });
  }

  // address
  {
    auto* cmd = wallet->add_subcommand("address", "Print the address of a keystore or private key");
    auto key = std::make_shared<KeyOptions>();
    auto json = std::make_shared<bool>(false);
    key->add_to(*cmd);
    cmd->add_flag("--json", *json, "print JSON");
    cmd->callback([key, json] {
      crypto::Address addr;
      if (!key->keystore.empty() && key->password_file.empty()) {
        auto doc = nlohmann::json::parse(read_text_file(key->keystore, 1 << 20), nullptr, false);
        if (doc.is_discarded()) throw Exception(Error(Errc::malformed, key->keystore + " is not JSON"));
        addr = unwrap(crypto::keystore_address(doc));
      } else {
        addr = key->load().address();
      }
      if (*json) print_json({{"address", addr.checksummed()}});
      else std::cout << addr.checksummed() << std::endl;
    });
  }

  // balance
  {
    auto* cmd = wallet->add_subcommand("balance", "Print an account's native and dUSD token balances");
    struct Opts {
      std::string who, rpc, devnet_dir = ".devnet", token;
      bool json = false;
    };
    auto o = std::make_shared<Opts>();
    cmd->add_option("address", o->who, "the account (0x...)")->required();
    cmd->add_option("--rpc", o->rpc, "JSON-RPC URL (default: the devnet in --devnet-dir)");
    cmd->add_option("--devnet-dir", o->devnet_dir, "devnet directory holding devnet.json")->capture_default_str();
    cmd->add_option("--token", o->token, "ERC-20 token address (default: the devnet's dUSD)");
    cmd->add_flag("--json", o->json, "print JSON");
    cmd->callback([o] {
      auto who = unwrap(crypto::parse_address(o->who));
      ChainTarget target = resolve_chain_target(o->rpc, o->devnet_dir, o->token);
      auto rpc = unwrap(eth::RpcClient::connect(target.rpc_url));
      auto native = unwrap(rpc->balance(who));
      nlohmann::json out = {{"address", who.checksummed()}, {"native_wei", to_dec(native)}};
      if (target.token) {
        eth::Contract token(*rpc, *unwrap(eth::embedded_abi("Token")), *target.token);
        auto bal = unwrap(token.call("balanceOf", {eth::abi::Value::address(who)}));
        out["token"] = target.token->checksummed();
        out["token_balance"] = to_dec(unwrap(bal.values.at(0).as_uint()));
      }
      if (o->json) {
        print_json(out);
      } else {
        std::cout << "native: " << format_units(native, 18) << " ETH\n";
        if (target.token) std::cout << "token:  " << format_units(unwrap(parse_u256(out["token_balance"].get<std::string>())), 6) << " dUSD\n";
      }
    });
  }

  // sign
  {
    auto* cmd = wallet->add_subcommand("sign", "Sign a message (EIP-191 personal_sign) and print the 0x signature");
    auto key = std::make_shared<KeyOptions>();
    struct Opts {
      std::string message;
      bool hex = false, json = false;
    };
    auto o = std::make_shared<Opts>();
    cmd->add_option("message", o->message, "the message")->required();
    cmd->add_flag("--hex", o->hex, "the message is 0x-hex bytes");
    cmd->add_flag("--json", o->json, "print JSON");
    key->add_to(*cmd);
    cmd->callback([key, o] {
      auto k = key->load();
      auto sig = k.sign(crypto::personal_message_digest(message_bytes(o->message, o->hex)));
      if (o->json) print_json({{"address", k.address().checksummed()}, {"signature", sig.hex()}});
      else std::cout << sig.hex() << std::endl;
    });
  }

  // sign-typed-data
  {
    auto* cmd = wallet->add_subcommand("sign-typed-data", "Sign an EIP-712 typed-data JSON document");
    auto key = std::make_shared<KeyOptions>();
    struct Opts {
      std::string file;
      bool json = false;
    };
    auto o = std::make_shared<Opts>();
    cmd->add_option("file", o->file, "typed-data JSON (types, primaryType, domain, message); - for stdin")->required();
    cmd->add_flag("--json", o->json, "print JSON (digest and signature)");
    key->add_to(*cmd);
    cmd->callback([key, o] {
      std::string text;
      if (o->file == "-") text.assign(std::istreambuf_iterator<char>(std::cin), {});
      else text = read_text_file(o->file);
      auto doc = nlohmann::json::parse(text, nullptr, false);
      if (doc.is_discarded()) throw Exception(Error(Errc::malformed, o->file + " is not valid JSON"));
      auto digest = unwrap(crypto::typed_data_digest(doc));
      auto k = key->load();
      auto sig = k.sign(digest);
      if (o->json) print_json({{"address", k.address().checksummed()}, {"digest", to_hex(digest)}, {"signature", sig.hex()}});
      else std::cout << sig.hex() << std::endl;
    });
  }

  // verify
  {
    auto* cmd = wallet->add_subcommand("verify", "Check that a signature was made by an address (exit 1 if not)");
    struct Opts {
      std::string address, signature, message, typed_data;
      bool hex = false, json = false;
    };
    auto o = std::make_shared<Opts>();
    cmd->add_option("--address", o->address, "the expected signer")->required();
    cmd->add_option("--signature", o->signature, "0x r||s||v signature")->required();
    auto* m = cmd->add_option("--message", o->message, "an EIP-191 message");
    auto* t = cmd->add_option("--typed-data", o->typed_data, "an EIP-712 typed-data JSON file");
    m->excludes(t);
    cmd->add_flag("--hex", o->hex, "--message is 0x-hex bytes");
    cmd->add_flag("--json", o->json, "print JSON");
    cmd->callback([o] {
      if (o->message.empty() == o->typed_data.empty())
        throw Exception(Error(Errc::invalid_argument, "give exactly one of --message or --typed-data"));
      auto expected = unwrap(crypto::parse_address(o->address));
      auto sig = unwrap(crypto::Signature::from_rsv(unwrap(from_hex(o->signature))));
      Hash32 digest;
      if (!o->typed_data.empty()) {
        auto doc = nlohmann::json::parse(read_text_file(o->typed_data), nullptr, false);
        if (doc.is_discarded()) throw Exception(Error(Errc::malformed, o->typed_data + " is not valid JSON"));
        digest = unwrap(crypto::typed_data_digest(doc));
      } else {
        digest = crypto::personal_message_digest(message_bytes(o->message, o->hex));
      }
      auto signer = crypto::recover_address(digest, sig);
      bool ok = signer && *signer == expected;
      if (o->json) {
        print_json({{"valid", ok}, {"signer", signer ? signer->checksummed() : ""}});
      } else if (ok) {
        std::cout << "valid: signed by " << expected.checksummed() << std::endl;
      } else {
        std::cout << "INVALID: " << (signer ? "signed by " + signer->checksummed() : signer.error().message) << std::endl;
      }
      if (!ok) throw CLI::RuntimeError(1);
    });
  }
}

const CommandRegistrar kRegistrar{"wallet", register_wallet};

}  // namespace

}  // namespace dgrid::cli
