// Disputes.sol on a real anvil: EIP-712 receipts signed in C++, the full commit-reveal jury
// flow and its payouts (docs/contracts.md "Disputes", docs/economics.md), and every rejection.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <iostream>
#include <set>

#include "crypto/eip712.hpp"
#include "crypto/keccak.hpp"
#include "market/receipt.hpp"
#include "support/dgrid_chain.hpp"

namespace dgrid::eth {

using abi::Value;

namespace {

constexpr std::string_view kReceiptType =
    "Receipt(bytes32 jobId,address provider,bytes32 model,bytes32 inputHash,bytes32 outputHash,uint64 promptTokens,"
    "uint64 completionTokens,uint256 cost,uint256 chainId,uint64 timestamp)";

// The marketplace's receipt code (src/market) against the contract's own hashing.
using InferenceReceipt = market::Receipt;  // named apart from eth::Receipt, the transaction receipt
using market::receipt_value;
using market::vote_commitment;

struct SignedReceipt {
  InferenceReceipt receipt;
  crypto::Signature sig;
};

Hash32 text_hash(std::string_view s) { return crypto::keccak256(s); }

enum Status : uint64_t { kNone = 0, kAwaitingJurors = 1, kVoting = 2, kResolved = 3 };
enum Outcome : uint64_t { kProviderWins = 1, kChallengerWins = 2, kProviderFault = 3, kNoMajority = 4, kNoJurors = 5 };

struct DisputeState {
  Address challenger, provider;
  Hash32 receipt_digest{};
  u256 bond = 0;
  uint64_t selection_block = 0, commit_deadline = 0, reveal_deadline = 0;
  uint64_t status = 0, outcome = 0;
  std::vector<Address> jurors;
};

}  // namespace

class DisputesTest : public test::DgridChainTest {
 protected:
  static constexpr size_t kProvider = 1;
  static constexpr size_t kChallenger = 4;
  static constexpr std::array<size_t, 5> kJurorWallets = {2, 3, 6, 7, 8};

  void SetUp() override {
    test::DgridChainTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    domain_ = dgrid_domain_separator(anvil_->chain_id(), deployment_.disputes);
    model_ = text_hash("stories260K");
    request_ = Bytes{'{', '"', 'p', '"', ':', '1', '}'};
    bond_ = uint_param("challengeBond");
    slash_ = uint_param("providerSlashAmount");
    penalty_ = uint_param("jurorPenalty");
    bps_ = uint_param("BPS");
    challenger_bps_ = uint_param("CHALLENGER_REWARD_BPS");
    juror_slash_bps_ = uint_param("JUROR_SLASH_REWARD_BPS");
    juror_bond_bps_ = uint_param("JUROR_BOND_REWARD_BPS");
    commit_window_ = static_cast<uint64_t>(uint_param("commitWindow"));
    reveal_window_ = static_cast<uint64_t>(uint_param("revealWindow"));
    max_age_ = static_cast<uint64_t>(uint_param("maxReceiptAge"));
    // The fixture deploys with the devnet economics and kDelay-block windows.
    ASSERT_EQ(bond_, params_.dispute_bond);
    ASSERT_EQ(slash_, params_.provider_slash);
    ASSERT_EQ(commit_window_, kDelay);
    ASSERT_EQ(uint_param("jurorCount"), 3u);
  }

  const Contract& disputes() const { return contracts_->disputes; }

  u256 uint_param(std::string_view name) {
    auto r = disputes().call(name, {});
    EXPECT_TRUE(r) << name << ": " << r.error().to_string();
    if (!r) return 0;
    return *r->values.at(0).as_uint();
  }

  // Registers wallet i as an active provider of model_ with `stake`.
  void make_provider(size_t i, const u256& stake) {
    ASSERT_TRUE(registry().register_provider(wallet(i), "http://127.0.0.1:90" + std::to_string(10 + i), ""));
    ASSERT_TRUE(registry().stake(wallet(i), token(), stake));
    ASSERT_TRUE(registry().add_model(wallet(i), model_));
  }
  // The accused provider (stake covers one full slash and stays active) and five juror candidates.
  void make_providers() {
    u256 min = *registry().min_stake();
    make_provider(kProvider, min + slash_);
    for (size_t j : kJurorWallets) make_provider(j, min);
  }

  SignedReceipt make_receipt(uint64_t job, size_t signer = kProvider) {
    SignedReceipt s;
    auto& r = s.receipt;
    r.job_id = to_be32(u256(0xB0B) * 1000 + job);
    r.provider = wallet(kProvider).address();
    r.model = model_;
    r.input_hash = crypto::keccak256(request_);
    r.output_hash = text_hash("provider output");
    r.prompt_tokens = 12;
    r.completion_tokens = 34;
    r.cost = 46'000;
    r.chain_id = anvil_->chain_id();
    r.timestamp = rpc_->block(std::nullopt)->timestamp;
    s.sig = wallet(signer).key().sign(market::receipt_digest(r, deployment_.disputes));
    return s;
  }
  void resign(SignedReceipt& s, size_t signer = kProvider) {
    s.sig = wallet(signer).key().sign(market::receipt_digest(s.receipt, deployment_.disputes));
  }

  Result<Receipt> open(size_t challenger, const SignedReceipt& s, const Hash32& challenger_hash,
                       std::optional<Bytes> request = std::nullopt) {
    auto a = token().approve(wallet(challenger), deployment_.disputes, bond_);
    if (!a) return std::unexpected(a.error());
    return disputes().send(wallet(challenger), "openDispute",
                           {receipt_value(s.receipt), Value::bytes(s.sig.to_rsv()), Value::bytes(request.value_or(request_)),
                            Value::bytes(challenger_hash)});
  }

  DisputeState dispute(uint64_t id) {
    DisputeState d;
    auto r = disputes().call("getDispute", {Value::uint(id)});
    EXPECT_TRUE(r) << r.error().to_string();
    if (!r) return d;
    const auto* f = r->values.at(0).items();
    EXPECT_TRUE(f && f->size() == 13);
    if (!f || f->size() != 13) return d;
    d.challenger = *(*f)[0].as_address();
    d.provider = *(*f)[1].as_address();
    d.receipt_digest = *(*f)[3].as_fixed<32>();
    d.bond = *(*f)[6].as_uint();
    d.selection_block = *(*f)[7].as_u64();
    d.commit_deadline = *(*f)[8].as_u64();
    d.reveal_deadline = *(*f)[9].as_u64();
    d.status = *(*f)[10].as_u64();
    d.outcome = *(*f)[11].as_u64();
    for (const auto& j : *(*f)[12].items()) d.jurors.push_back(*j.as_address());
    return d;
  }

  u256 claimable(const Address& a) { return *disputes().call("claimable", {Value::address(a)})->values.at(0).as_uint(); }
  u256 stake_of(size_t i) { return *registry().stake_of(wallet(i).address()); }
  uint64_t holds(size_t i) { return registry().provider(wallet(i).address())->holds; }
  u256 disputes_balance() { return *token().balance_of(deployment_.disputes); }
  u256 total_burned() { return *registry().contract().call("totalBurned", {})->values.at(0).as_uint(); }
  uint64_t dispute_of(const Hash32& digest) {
    return *disputes().call("disputeOfReceipt", {Value::bytes(digest)})->values.at(0).as_u64();
  }

  size_t wallet_index(const Address& a) {
    for (size_t i = 0; i < wallets_.size(); ++i)
      if (wallet(i).address() == a) return i;
    ADD_FAILURE() << "no dev wallet " << a.checksummed();
    return 0;
  }

  // Mines empty blocks until the latest block is `target` (the next transaction lands in target + 1).
  void mine_to(uint64_t target) {
    uint64_t now = block();
    ASSERT_LE(now, target) << "already past block " << target;
    if (target > now) mine(target - now);
  }

  // drawJurors one block after the opening; checks the jury and returns the dispute state.
  DisputeState draw(uint64_t id) {
    mine(1);
    auto r = disputes().send(wallet(9), "drawJurors", {Value::uint(id)});
    EXPECT_TRUE(r) << r.error().to_string();
    if (!r) return {};
    DisputeState d = dispute(id);
    EXPECT_EQ(d.status, kVoting);
    EXPECT_EQ(d.commit_deadline, r->block_number + commit_window_);
    EXPECT_EQ(d.reveal_deadline, d.commit_deadline + reveal_window_);
    EXPECT_EQ(d.jurors.size(), 3u);
    std::set<Address> distinct(d.jurors.begin(), d.jurors.end());
    EXPECT_EQ(distinct.size(), d.jurors.size());
    for (const auto& j : d.jurors) {
      size_t w = wallet_index(j);
      EXPECT_TRUE(std::ranges::find(kJurorWallets, w) != kJurorWallets.end())
          << "juror is wallet " << w << " (the provider and the challenger are excluded)";
    }
    auto ev = disputes().events(r->logs);
    EXPECT_TRUE(ev && ev->size() == 1 && (*ev)[0].name == "JurorsSelected");
    return d;
  }

  Result<Receipt> commit(uint64_t id, const Address& juror, const Hash32& vote, const Hash32& salt) {
    return disputes().send(wallet(wallet_index(juror)), "commitVote",
                           {Value::uint(id), Value::bytes(vote_commitment(id, vote, salt, juror))});
  }
  Result<Receipt> reveal(uint64_t id, const Address& juror, const Hash32& vote, const Hash32& salt) {
    return disputes().send(wallet(wallet_index(juror)), "revealVote", {Value::uint(id), Value::bytes(vote), Value::bytes(salt)});
  }
  static Hash32 salt_for(size_t k) { return to_be32(u256(0x5A17) * 7919 + k); }

  Hash32 domain_{};
  Hash32 model_{};
  Bytes request_;
  u256 bond_ = 0, slash_ = 0, penalty_ = 0, bps_ = 0, challenger_bps_ = 0, juror_slash_bps_ = 0, juror_bond_bps_ = 0;
  uint64_t commit_window_ = 0, reveal_window_ = 0, max_age_ = 0;
};

TEST_F(DisputesTest, ReceiptDigestMatchesContract) {
  auto sep = disputes().call("domainSeparator", {});
  ASSERT_TRUE(sep);
  EXPECT_EQ(*sep->values[0].as_fixed<32>(), domain_);
  EXPECT_EQ(*disputes().call("RECEIPT_TYPEHASH", {})->values[0].as_fixed<32>(), crypto::keccak256(kReceiptType));

  auto s = make_receipt(1);
  s.receipt.cost = u256(1) << 200;  // wide values: no truncation anywhere
  s.receipt.timestamp = 0xFFFF'FFFF'FFFF'FFF0ull;
  Hash32 ours = market::receipt_digest(s.receipt, deployment_.disputes);
  auto theirs = disputes().call("receiptHash", {receipt_value(s.receipt)});
  ASSERT_TRUE(theirs) << theirs.error().to_string();
  EXPECT_EQ(*theirs->values[0].as_fixed<32>(), ours);

  // Every field is covered: changing any one changes the contract's digest too.
  auto changed = s.receipt;
  changed.completion_tokens += 1;
  Hash32 other = *disputes().call("receiptHash", {receipt_value(changed)})->values[0].as_fixed<32>();
  EXPECT_NE(other, ours);
  EXPECT_EQ(other, market::receipt_digest(changed, deployment_.disputes));

  // The same receipt through the generic EIP-712 encoder.
  const auto& r = s.receipt;
  nlohmann::json doc = {
      {"types",
       {{"EIP712Domain", {{{"name", "name"}, {"type", "string"}}, {{"name", "version"}, {"type", "string"}},
                          {{"name", "chainId"}, {"type", "uint256"}}, {{"name", "verifyingContract"}, {"type", "address"}}}},
        {"Receipt", {{{"name", "jobId"}, {"type", "bytes32"}}, {{"name", "provider"}, {"type", "address"}},
                     {{"name", "model"}, {"type", "bytes32"}}, {{"name", "inputHash"}, {"type", "bytes32"}},
                     {{"name", "outputHash"}, {"type", "bytes32"}}, {{"name", "promptTokens"}, {"type", "uint64"}},
                     {{"name", "completionTokens"}, {"type", "uint64"}}, {{"name", "cost"}, {"type", "uint256"}},
                     {{"name", "chainId"}, {"type", "uint256"}}, {{"name", "timestamp"}, {"type", "uint64"}}}}}},
      {"primaryType", "Receipt"},
      {"domain", {{"name", "dgrid"}, {"version", "1"}, {"chainId", anvil_->chain_id()}, {"verifyingContract", deployment_.disputes.hex()}}},
      {"message",
       {{"jobId", to_hex(r.job_id)}, {"provider", r.provider.hex()}, {"model", to_hex(r.model)}, {"inputHash", to_hex(r.input_hash)},
        {"outputHash", to_hex(r.output_hash)}, {"promptTokens", r.prompt_tokens}, {"completionTokens", r.completion_tokens},
        {"cost", to_dec(r.cost)}, {"chainId", to_dec(r.chain_id)}, {"timestamp", std::to_string(r.timestamp)}}}};
  auto generic = crypto::typed_data_digest(doc);
  ASSERT_TRUE(generic) << generic.error().to_string();
  EXPECT_EQ(*generic, ours);

  // The vote commitment formula.
  Hash32 vote = text_hash("juror output"), salt = salt_for(3);
  auto c = disputes().call("voteCommitment", {Value::uint(7), Value::bytes(vote), Value::bytes(salt), Value::address(wallet(2).address())});
  ASSERT_TRUE(c);
  EXPECT_EQ(*c->values[0].as_fixed<32>(), vote_commitment(7, vote, salt, wallet(2).address()));
}

TEST_F(DisputesTest, ChallengerRightProviderSlashedSilentJurorPenalized) {
  make_providers();
  const Hash32 truth = text_hash("challenger output");
  u256 challenger_start = balance(kChallenger);
  u256 provider_stake = stake_of(kProvider);
  u256 burned_start = total_burned();

  auto s = make_receipt(1);
  Hash32 digest = market::receipt_digest(s.receipt, deployment_.disputes);
  auto o = open(kChallenger, s, truth);
  ASSERT_TRUE(o) << o.error().to_string();
  std::cout << "openDispute: gas " << o->gas_used << std::endl;
  auto ev = disputes().events(o->logs);
  ASSERT_TRUE(ev);
  ASSERT_EQ(ev->size(), 1u);
  const auto& opened = (*ev)[0];
  EXPECT_EQ(opened.name, "DisputeOpened");
  EXPECT_EQ(*opened.values.get("disputeId")->as_u64(), 1u);
  EXPECT_EQ(*opened.values.get("receiptDigest")->as_fixed<32>(), digest);
  EXPECT_EQ(*opened.values.get("challengerOutputHash")->as_fixed<32>(), truth);
  EXPECT_EQ(*opened.values.get("bond")->as_uint(), bond_);
  EXPECT_EQ(*opened.values.get("request")->as_bytes(), request_);
  EXPECT_EQ(*opened.values.get("selectionBlock")->as_u64(), o->block_number + 1);
  EXPECT_EQ(balance(kChallenger), challenger_start - bond_);
  EXPECT_EQ(disputes_balance(), bond_);
  EXPECT_EQ(holds(kProvider), 1u);
  EXPECT_EQ(dispute_of(digest), 1u);

  DisputeState d = draw(1);
  ASSERT_EQ(d.jurors.size(), 3u);
  const Address silent = d.jurors[2];
  u256 silent_stake = *registry().stake_of(silent);
  for (size_t k = 0; k < 2; ++k) ASSERT_TRUE(commit(1, d.jurors[k], truth, salt_for(k)));
  // The third juror misses the commit window: committing in block commitDeadline + 1 fails.
  mine_to(d.commit_deadline);
  expect_revert(commit(1, silent, truth, salt_for(2)), "CommitPhaseOver");
  for (size_t k = 0; k < 2; ++k) ASSERT_TRUE(reveal(1, d.jurors[k], truth, salt_for(k)));
  mine_to(d.reveal_deadline);
  auto res = disputes().send(wallet(kChallenger), "resolve", {Value::uint(1)});
  ASSERT_TRUE(res) << res.error().to_string();
  std::cout << "resolve (ChallengerWins, 1 juror penalized): gas " << res->gas_used << std::endl;

  // Money, as the contract's parameters say.
  const u256 reward = slash_ * (juror_slash_bps_ + challenger_bps_) / bps_;  // paid by the registry to Disputes
  const u256 juror_pool = reward * juror_slash_bps_ / (juror_slash_bps_ + challenger_bps_) + penalty_;
  const u256 challenger_credit = bond_ + (reward - reward * juror_slash_bps_ / (juror_slash_bps_ + challenger_bps_));
  EXPECT_EQ(challenger_credit, bond_ + slash_ * challenger_bps_ / bps_) << "50% of the slash to the challenger";

  auto rev = disputes().events(res->logs);
  ASSERT_TRUE(rev);
  bool resolved = false, penalized = false;
  for (const auto& e : *rev) {
    if (e.name == "DisputeResolved") {
      resolved = true;
      EXPECT_EQ(*e.values.get("outcome")->as_u64(), kChallengerWins);
      EXPECT_EQ(*e.values.get("majorityHash")->as_fixed<32>(), truth);
      EXPECT_EQ(*e.values.get("majorityVotes")->as_u64(), 2u);
      EXPECT_EQ(*e.values.get("providerSlashed")->as_uint(), slash_);
    } else if (e.name == "JurorPenalized") {
      penalized = true;
      EXPECT_EQ(*e.values.get("juror")->as_address(), silent);
      EXPECT_EQ(*e.values.get("slashed")->as_uint(), penalty_);
    }
  }
  EXPECT_TRUE(resolved);
  EXPECT_TRUE(penalized);
  EXPECT_EQ(dispute(1).status, kResolved);
  EXPECT_EQ(dispute(1).outcome, kChallengerWins);
  EXPECT_EQ(stake_of(kProvider), provider_stake - slash_);
  EXPECT_EQ(*registry().stake_of(silent), silent_stake - penalty_);
  EXPECT_EQ(total_burned(), burned_start + (slash_ - reward)) << "25% of the provider slash is burned";
  EXPECT_EQ(holds(kProvider), 0u);

  EXPECT_EQ(claimable(wallet(kChallenger).address()), challenger_credit);
  const u256 share = juror_pool / 2;
  EXPECT_EQ(claimable(d.jurors[0]), share + (juror_pool - 2 * share));  // rounding dust to the first
  EXPECT_EQ(claimable(d.jurors[1]), share);
  EXPECT_EQ(claimable(silent), 0);
  EXPECT_EQ(disputes_balance(), challenger_credit + juror_pool) << "credits are exactly covered";

  // claim() pays: the challenger ends up with its bond back plus half of the slash.
  auto c = disputes().send(wallet(kChallenger), "claim", {});
  ASSERT_TRUE(c) << c.error().to_string();
  EXPECT_EQ(balance(kChallenger), challenger_start + slash_ * challenger_bps_ / bps_);
  expect_revert(disputes().send(wallet(kChallenger), "claim", {}), "NothingToClaim");
  for (size_t k = 0; k < 2; ++k) {
    size_t w = wallet_index(d.jurors[k]);
    u256 before = balance(w);
    u256 owed = claimable(d.jurors[k]);
    ASSERT_TRUE(disputes().send(wallet(w), "claim", {}));
    EXPECT_EQ(balance(w), before + owed);
  }
  expect_revert(disputes().send(wallet(wallet_index(silent)), "claim", {}), "NothingToClaim");
  EXPECT_EQ(disputes_balance(), 0);

  // A receipt the jury found wrong stays marked: it cannot be disputed again.
  EXPECT_EQ(dispute_of(digest), 1u);
  expect_revert(open(5, s, truth), "ReceiptAlreadyDisputed");
}

TEST_F(DisputesTest, ProviderRightChallengerLosesBond) {
  make_providers();
  const Hash32 honest = text_hash("provider output");
  u256 challenger_start = balance(kChallenger);
  u256 provider_stake = stake_of(kProvider);

  auto s = make_receipt(2);
  ASSERT_EQ(s.receipt.output_hash, honest);
  Hash32 digest = market::receipt_digest(s.receipt, deployment_.disputes);
  ASSERT_TRUE(open(kChallenger, s, text_hash("a wrong claim")));
  DisputeState d = draw(1);
  ASSERT_EQ(d.jurors.size(), 3u);
  // Two jurors confirm the receipt; the third reveals a different hash (minority).
  const Hash32 third = text_hash("a third output");
  ASSERT_TRUE(commit(1, d.jurors[0], honest, salt_for(0)));
  ASSERT_TRUE(commit(1, d.jurors[1], honest, salt_for(1)));
  ASSERT_TRUE(commit(1, d.jurors[2], third, salt_for(2)));
  mine_to(d.commit_deadline);
  ASSERT_TRUE(reveal(1, d.jurors[0], honest, salt_for(0)));
  ASSERT_TRUE(reveal(1, d.jurors[1], honest, salt_for(1)));
  ASSERT_TRUE(reveal(1, d.jurors[2], third, salt_for(2)));
  auto vote = disputes().call("getVote", {Value::uint(1), Value::address(d.jurors[2])});
  ASSERT_TRUE(vote);
  EXPECT_EQ(*(*vote->values[0].items())[1].as_fixed<32>(), third);
  u256 minority_stake = *registry().stake_of(d.jurors[2]);
  mine_to(d.reveal_deadline);
  auto res = disputes().send(wallet(kProvider), "resolve", {Value::uint(1)});
  ASSERT_TRUE(res) << res.error().to_string();
  std::cout << "resolve (ProviderWins, 1 minority juror): gas " << res->gas_used << std::endl;

  d = dispute(1);
  EXPECT_EQ(d.status, kResolved);
  EXPECT_EQ(d.outcome, kProviderWins);
  // The challenger loses the bond: half to the majority jurors, half to the provider.
  const u256 bond_to_jurors = bond_ * juror_bond_bps_ / bps_;
  const u256 juror_pool = bond_to_jurors + penalty_;  // the minority juror's penalty joins the pool
  EXPECT_EQ(claimable(wallet(kChallenger).address()), 0);
  expect_revert(disputes().send(wallet(kChallenger), "claim", {}), "NothingToClaim");
  EXPECT_EQ(balance(kChallenger), challenger_start - bond_);
  EXPECT_EQ(claimable(wallet(kProvider).address()), bond_ - bond_to_jurors);
  const u256 share = juror_pool / 2;
  EXPECT_EQ(claimable(d.jurors[0]), share + (juror_pool - 2 * share));
  EXPECT_EQ(claimable(d.jurors[1]), share);
  EXPECT_EQ(claimable(d.jurors[2]), 0);
  EXPECT_EQ(*registry().stake_of(d.jurors[2]), minority_stake - penalty_);
  EXPECT_EQ(stake_of(kProvider), provider_stake) << "a provider found right is not slashed";
  EXPECT_EQ(holds(kProvider), 0u);

  u256 provider_balance = balance(kProvider);
  ASSERT_TRUE(disputes().send(wallet(kProvider), "claim", {}));
  EXPECT_EQ(balance(kProvider), provider_balance + bond_ - bond_to_jurors);

  // The receipt is cleared and may be disputed again (with a new bond).
  EXPECT_EQ(dispute_of(digest), 0u);
  auto again = open(5, s, text_hash("another wrong claim"));
  ASSERT_TRUE(again) << again.error().to_string();
  EXPECT_EQ(dispute_of(digest), 2u);
}

TEST_F(DisputesTest, RejectsBadReceiptsAndOutOfWindowVotes) {
  make_providers();
  const Hash32 claim = text_hash("challenger output");

  // Signed by someone other than receipt.provider.
  expect_revert(open(kChallenger, make_receipt(10, /*signer=*/2), claim), "ReceiptSignerMismatch");
  // Tampered after signing.
  auto tampered = make_receipt(11);
  tampered.receipt.cost += 1;
  expect_revert(open(kChallenger, tampered, claim), "ReceiptSignerMismatch");
  // Other receipt checks.
  auto other_chain = make_receipt(12);
  other_chain.receipt.chain_id += 1;
  resign(other_chain);
  expect_revert(open(kChallenger, other_chain, claim), "WrongChain");
  expect_revert(open(kChallenger, make_receipt(13), claim, Bytes{'x'}), "InputHashMismatch");
  expect_revert(open(kChallenger, make_receipt(14), text_hash("provider output")), "SameOutputHash");
  expect_revert(open(kChallenger, make_receipt(15), Hash32{}), "ZeroOutputHash");
  expect_revert(open(kProvider, make_receipt(16), claim), "SelfDispute");
  EXPECT_EQ(*disputes().call("disputeCount", {})->values[0].as_u64(), 0u);

  // A valid dispute; the same receipt cannot be disputed twice while it is open.
  auto s = make_receipt(1);
  ASSERT_TRUE(open(kChallenger, s, claim));
  // Jurors are drawn from the block after the opening: not in the selection block itself.
  expect_revert(disputes().send(wallet(9), "drawJurors", {Value::uint(1)}), "SelectionBlockNotReached");
  expect_revert(disputes().send(wallet(9), "drawJurors", {Value::uint(2)}), "UnknownDispute");
  // (each open() below mines its approve, so the draw further down is well past the selection block)
  expect_revert(open(5, s, claim), "ReceiptAlreadyDisputed");
  expect_revert(open(kChallenger, s, text_hash("yet another")), "ReceiptAlreadyDisputed");
  DisputeState d = draw(1);
  ASSERT_EQ(d.jurors.size(), 3u);
  expect_revert(disputes().send(wallet(9), "drawJurors", {Value::uint(1)}), "WrongStatus");

  // Commit phase.
  expect_revert(disputes().send(wallet(kChallenger), "commitVote", {Value::uint(1), Value::bytes(claim)}), "NotJuror");
  ASSERT_TRUE(commit(1, d.jurors[0], claim, salt_for(0)));
  expect_revert(commit(1, d.jurors[0], claim, salt_for(9)), "AlreadyCommitted");
  expect_revert(reveal(1, d.jurors[0], claim, salt_for(0)), "RevealPhaseNotStarted");
  ASSERT_TRUE(commit(1, d.jurors[1], claim, salt_for(1)));
  // Last block of the commit window still accepts a commit; the next one does not.
  mine_to(d.commit_deadline - 1);
  ASSERT_TRUE(commit(1, d.jurors[2], claim, salt_for(2)));
  ASSERT_EQ(block(), d.commit_deadline);
  expect_revert(commit(1, d.jurors[2], claim, salt_for(2)), "CommitPhaseOver");

  // Reveal phase: a reveal must match the commitment exactly.
  expect_revert(reveal(1, d.jurors[0], claim, salt_for(5)), "CommitmentMismatch");
  expect_revert(reveal(1, d.jurors[0], text_hash("changed my mind"), salt_for(0)), "CommitmentMismatch");
  expect_revert(reveal(1, d.jurors[0], Hash32{}, salt_for(0)), "ZeroOutputHash");
  // Someone else replaying a juror's reveal has no commitment.
  expect_revert(disputes().send(wallet(kChallenger), "revealVote", {Value::uint(1), Value::bytes(claim), Value::bytes(salt_for(0))}),
                "NoCommitment");
  ASSERT_TRUE(reveal(1, d.jurors[0], claim, salt_for(0)));
  expect_revert(reveal(1, d.jurors[0], claim, salt_for(0)), "AlreadyRevealed");
  ASSERT_TRUE(reveal(1, d.jurors[1], claim, salt_for(1)));

  // resolve in the last reveal block is too early; a reveal there is still on time.
  mine_to(d.reveal_deadline - 1);
  expect_revert(disputes().send(wallet(9), "resolve", {Value::uint(1)}), "RevealPhaseNotOver");
  ASSERT_TRUE(reveal(1, d.jurors[2], claim, salt_for(2)));
  ASSERT_EQ(block(), d.reveal_deadline);
  expect_revert(reveal(1, d.jurors[2], claim, salt_for(2)), "RevealPhaseOver");
  auto res = disputes().send(wallet(9), "resolve", {Value::uint(1)});
  ASSERT_TRUE(res) << res.error().to_string();
  std::cout << "resolve (ChallengerWins, 3 of 3): gas " << res->gas_used << std::endl;
  EXPECT_EQ(dispute(1).outcome, kChallengerWins);
  expect_revert(disputes().send(wallet(9), "resolve", {Value::uint(1)}), "WrongStatus");
  expect_revert(commit(1, d.jurors[0], claim, salt_for(0)), "WrongStatus");

  // A receipt older than maxReceiptAge seconds can no longer be disputed.
  auto old = make_receipt(20);
  auto t = rpc_->call("evm_increaseTime", nlohmann::json::array({max_age_ + 1}));
  ASSERT_TRUE(t) << t.error().to_string();
  mine(1);
  ASSERT_GT(rpc_->block(std::nullopt)->timestamp, old.receipt.timestamp + max_age_);
  expect_revert(open(kChallenger, old, claim), "ReceiptTooOld");
}

TEST_F(DisputesTest, ProviderFaultAndNoMajority) {
  make_providers();
  u256 challenger_start = balance(kChallenger);
  u256 provider_stake = stake_of(kProvider);
  u256 burned_start = total_burned();

  // 1. The jury agrees on a third hash: the provider is at fault, the challenger was wrong too.
  const Hash32 third = text_hash("what the model really outputs");
  ASSERT_TRUE(open(kChallenger, make_receipt(1), text_hash("challenger output")));
  DisputeState d = draw(1);
  ASSERT_EQ(d.jurors.size(), 3u);
  for (size_t k = 0; k < 3; ++k) ASSERT_TRUE(commit(1, d.jurors[k], third, salt_for(k)));
  mine_to(d.commit_deadline);
  for (size_t k = 0; k < 3; ++k) ASSERT_TRUE(reveal(1, d.jurors[k], third, salt_for(k)));
  mine_to(d.reveal_deadline);
  ASSERT_TRUE(disputes().send(wallet(9), "resolve", {Value::uint(1)}));
  EXPECT_EQ(dispute(1).outcome, kProviderFault);
  const u256 reward = slash_ * juror_slash_bps_ / bps_;  // 25% to the jurors, 75% burned, bond returned
  EXPECT_EQ(stake_of(kProvider), provider_stake - slash_);
  EXPECT_EQ(total_burned(), burned_start + slash_ - reward);
  EXPECT_EQ(claimable(wallet(kChallenger).address()), bond_);
  u256 paid = 0;
  for (const auto& j : d.jurors) paid += claimable(j);
  EXPECT_EQ(paid, reward);
  EXPECT_EQ(claimable(d.jurors[1]), reward / 3);

  // 2. No strict majority: one juror each for two hashes, one silent. The bond comes back, the
  // silent juror's penalty is burned, and nobody is rewarded. The draw comes late, after the
  // selection block's hash has left the 256-block window: selection restarts first.
  ASSERT_TRUE(open(kChallenger, make_receipt(2), text_hash("challenger output")));
  mine(300);
  auto restart = disputes().send(wallet(9), "drawJurors", {Value::uint(2)});
  ASSERT_TRUE(restart) << restart.error().to_string();
  auto rev = disputes().events(restart->logs);
  ASSERT_TRUE(rev && rev->size() == 1);
  EXPECT_EQ((*rev)[0].name, "JurySelectionRestarted");
  EXPECT_EQ(dispute(2).status, kAwaitingJurors);
  EXPECT_EQ(dispute(2).selection_block, restart->block_number);
  d = draw(2);
  ASSERT_EQ(d.jurors.size(), 3u);
  u256 burned_before = total_burned();
  u256 silent_stake = *registry().stake_of(d.jurors[2]);
  std::vector<u256> claim_before;
  for (const auto& j : d.jurors) claim_before.push_back(claimable(j));
  ASSERT_TRUE(commit(2, d.jurors[0], text_hash("A"), salt_for(0)));
  ASSERT_TRUE(commit(2, d.jurors[1], text_hash("B"), salt_for(1)));
  ASSERT_TRUE(commit(2, d.jurors[2], text_hash("A"), salt_for(2)));
  mine_to(d.commit_deadline);
  ASSERT_TRUE(reveal(2, d.jurors[0], text_hash("A"), salt_for(0)));
  ASSERT_TRUE(reveal(2, d.jurors[1], text_hash("B"), salt_for(1)));
  mine_to(d.reveal_deadline);
  auto res = disputes().send(wallet(9), "resolve", {Value::uint(2)});
  ASSERT_TRUE(res) << res.error().to_string();
  EXPECT_EQ(dispute(2).outcome, kNoMajority);
  EXPECT_EQ(claimable(wallet(kChallenger).address()), 2 * bond_);
  EXPECT_EQ(*registry().stake_of(d.jurors[2]), silent_stake - penalty_);
  EXPECT_EQ(total_burned(), burned_before + penalty_);
  for (size_t k = 0; k < 3; ++k) EXPECT_EQ(claimable(d.jurors[k]), claim_before[k]) << "no rewards without a majority";
  EXPECT_EQ(stake_of(kProvider), provider_stake - slash_) << "no slash without a majority";
  ASSERT_TRUE(disputes().send(wallet(kChallenger), "claim", {}));
  EXPECT_EQ(balance(kChallenger), challenger_start);
}

TEST_F(DisputesTest, AccusedProviderCannotWithdrawWhileDisputeOpen) {
  // Only the accused serves the model: nobody is eligible to judge (outcome NoJurors).
  u256 min = *registry().min_stake();
  make_provider(kProvider, min + slash_);
  auto unbond = registry().request_unbond(wallet(kProvider), slash_);
  ASSERT_TRUE(unbond) << unbond.error().to_string();
  u256 challenger_start = balance(kChallenger);

  auto s = make_receipt(1);
  ASSERT_TRUE(open(kChallenger, s, text_hash("challenger output")));
  EXPECT_EQ(holds(kProvider), 1u);
  mine_to(unbond->block_number + kUnbondingDelay);  // the unbonding delay is over...
  expect_revert(registry().withdraw(wallet(kProvider)), "WithdrawalsAreHeld");  // ...but the dispute holds it
  EXPECT_EQ(registry().provider(wallet(kProvider).address())->unbonding, slash_);

  auto r = disputes().send(wallet(9), "drawJurors", {Value::uint(1)});
  ASSERT_TRUE(r) << r.error().to_string();
  DisputeState d = dispute(1);
  EXPECT_EQ(d.status, kResolved);
  EXPECT_EQ(d.outcome, kNoJurors);
  EXPECT_TRUE(d.jurors.empty());
  EXPECT_EQ(holds(kProvider), 0u);
  EXPECT_EQ(claimable(wallet(kChallenger).address()), bond_);
  ASSERT_TRUE(disputes().send(wallet(kChallenger), "claim", {}));
  EXPECT_EQ(balance(kChallenger), challenger_start);

  u256 before = balance(kProvider);
  auto w = registry().withdraw(wallet(kProvider));
  ASSERT_TRUE(w) << w.error().to_string();
  EXPECT_EQ(balance(kProvider), before + slash_);
}

}  // namespace dgrid::eth
