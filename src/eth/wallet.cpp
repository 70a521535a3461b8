#include "eth/wallet.hpp"

#include "eth/transaction.hpp"

namespace dgrid::eth {

Result<Receipt> Wallet::send(const TxRequest& req, const SendOptions& options) {
  CallRequest call;
  call.from = address();
  call.to = req.to;
  call.data = req.data;
  call.value = req.value;
  uint64_t gas = 0;
  if (req.gas_limit) {
    gas = *req.gas_limit;
  } else {
    auto est = rpc_.estimate_gas(call);
    if (!est) return std::unexpected(est.error());
    gas = *est + *est / 5 + 10'000;
  }
  auto fees = rpc_.suggest_fees();
  if (!fees) return std::unexpected(fees.error());

  auto nonce = nonces_.reserve(address());
  if (!nonce) return std::unexpected(nonce.error());
  Transaction tx;
  tx.type = TxType::eip1559;
  tx.chain_id = chain_id_;
  tx.nonce = *nonce;
  tx.max_priority_fee_per_gas = fees->max_priority_fee_per_gas;
  tx.max_fee_per_gas = fees->max_fee_per_gas;
  tx.gas_limit = gas;
  tx.to = req.to;
  tx.value = req.value;
  tx.data = req.data;
  SignedTx signed_tx = sign(tx, key_);

  auto hash = rpc_.send_raw_transaction(signed_tx.raw);
  if (!hash) {
    // Only a definite rejection frees the nonce. After a transport failure the node may
    // hold the transaction, so its nonce stays used: reusing it could double-send.
    if (hash.error().code == Errc::rpc || hash.error().code == Errc::reverted) {
      nonces_.release(address(), *nonce);
      return std::unexpected(hash.error().context("broadcasting transaction " + to_hex(signed_tx.hash)));
    }
    return std::unexpected(hash.error().context("transaction " + to_hex(signed_tx.hash) +
                                                " may or may not have reached the node; check it before sending again"));
  }
  if (!options.wait) {
    Receipt pending;
    pending.tx_hash = *hash;
    return pending;
  }
  auto rc = rpc_.wait_for_receipt(*hash, options.receipt_timeout);
  if (!rc) return std::unexpected(rc.error());
  if (!rc->success) {
    // Replay the call at the mined block's parent state is not possible on every node, so
    // re-run it against the latest state to recover the revert reason.
    auto replay = rpc_.eth_call(call);
    Bytes data = replay ? Bytes{} : replay.error().payload;
    return std::unexpected(Error(Errc::reverted, "transaction " + to_hex(*hash) + " reverted in block " +
                                                     std::to_string(rc->block_number), std::move(data)));
  }
  return rc;
}

}  // namespace dgrid::eth
