// StorageMarket.sol on a real anvil: C++ segment Merkle proofs (crypto/merkle.hpp) against the
// contract's verifier, and the deal lifecycle: open, claim, prove per epoch, miss, report,
// repair (docs/contracts.md "StorageMarket", docs/formats/merkle.md).
#include <gtest/gtest.h>

#include <iostream>
#include <random>

#include "crypto/keccak.hpp"
#include "crypto/merkle.hpp"
#include "support/dgrid_chain.hpp"
#include "support/storage_content.hpp"

namespace dgrid::eth {

using abi::Value;

namespace {

using test::random_content;
using test::segment_of;

Value proof_value(const std::vector<Hash32>& siblings) {
  std::vector<Value> v;
  for (const auto& h : siblings) v.push_back(Value::bytes(h));
  return Value::array(std::move(v));
}

}  // namespace

class StorageTest : public test::DgridChainTest {
 protected:
  static constexpr size_t kClient = 5;
  static constexpr size_t kStorerA = 2;
  static constexpr size_t kStorerB = 3;
  static constexpr size_t kReporter = 6;

  void SetUp() override {
    test::DgridChainTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    epoch_ = static_cast<uint64_t>(uint_param("epochLength"));
    grace_ = static_cast<uint64_t>(uint_param("claimGraceEpochs"));
    ppb_ = uint_param("payoutRatePpb");
    collateral_bps_ = uint_param("collateralBps");
    min_collateral_ = uint_param("minSlotCollateral");
    reporter_bps_ = uint_param("reporterRewardBps");
    bps_ = uint_param("BPS");
    ASSERT_EQ(epoch_, kDelay);
    ASSERT_EQ(uint_param("PPB"), 1'000'000'000u);
  }

  const Contract& storage() const { return contracts_->storage.contract(); }

  u256 uint_param(std::string_view name) {
    auto r = storage().call(name, {});
    EXPECT_TRUE(r) << name << ": " << r.error().to_string();
    if (!r) return 0;
    return *r->values.at(0).as_uint();
  }

  Result<bool> verify(const Hash32& root, uint64_t size, uint64_t index, const Bytes& segment, const std::vector<Hash32>& proof) {
    auto r = storage().call("verifySegment", {Value::bytes(root), Value::uint(size), Value::uint(index), Value::bytes(segment),
                                              proof_value(proof)});
    if (!r) return std::unexpected(r.error());
    return r->values.at(0).as_bool();
  }

  struct SlotState {
    Address storer;
    uint64_t next_epoch = 0;
    u256 collateral = 0;
    u256 pool = 0;
  };
  SlotState slot(uint64_t deal, uint64_t index) {
    SlotState s;
    auto r = storage().call("getSlot", {Value::uint(deal), Value::uint(index)});
    EXPECT_TRUE(r) << r.error().to_string();
    if (!r) return s;
    const auto& f = *r->values.at(0).items();
    s.storer = *f.at(0).as_address();
    s.next_epoch = *f.at(1).as_u64();
    s.collateral = *f.at(2).as_uint();
    s.pool = *f.at(3).as_uint();
    return s;
  }
  u256 required_collateral(uint64_t deal, uint64_t index) {
    return *storage().call("requiredCollateral", {Value::uint(deal), Value::uint(index)})->values.at(0).as_uint();
  }
  Result<uint64_t> challenge_index(uint64_t deal, uint64_t index, uint64_t epoch) {
    auto r = storage().call("challengeIndex", {Value::uint(deal), Value::uint(index), Value::uint(epoch)});
    if (!r) return std::unexpected(r.error());
    return r->values.at(0).as_u64();
  }
  u256 market_balance() { return *token().balance_of(deployment_.storage); }

  void make_storer(size_t i) {
    ASSERT_TRUE(registry().register_provider(wallet(i), "http://127.0.0.1:91" + std::to_string(10 + i), ""));
    ASSERT_TRUE(registry().stake(wallet(i), token(), *registry().min_stake()));
  }
  Result<Receipt> claim(size_t i, uint64_t deal, const u256& collateral) {
    auto a = token().approve(wallet(i), deployment_.storage, collateral);
    if (!a) return std::unexpected(a.error());
    return storage().send(wallet(i), "claimSlot", {Value::uint(deal)});
  }
  Result<Receipt> prove(size_t i, uint64_t deal, uint64_t index, uint64_t epoch, const Bytes& segment,
                        const std::vector<Hash32>& proof) {
    return storage().send(wallet(i), "proveStorage", {Value::uint(deal), Value::uint(index), Value::uint(epoch),
                                                      Value::bytes(segment), proof_value(proof)});
  }
  void mine_to(uint64_t target) {
    uint64_t now = block();
    ASSERT_LE(now, target) << "already past block " << target;
    if (target > now) mine(target - now);
  }

  uint64_t epoch_ = 0, grace_ = 0;
  u256 ppb_ = 0, collateral_bps_ = 0, min_collateral_ = 0, reporter_bps_ = 0, bps_ = 0;
};

TEST_F(StorageTest, MerkleProofsFromCppVerifyOnChain) {
  // The file vector of docs/formats/merkle.md (byte j = j mod 251, size 5000).
  {
    Bytes v(5000);
    for (size_t j = 0; j < v.size(); ++j) v[j] = static_cast<uint8_t>(j % 251);
    auto tree = crypto::MerkleTree::from_content(v);
    EXPECT_EQ(to_hex(tree.root()), "0x459419c53700e22a88d325a577915f2a638b63991525dc127f4de7bb28cb96af");
    auto p = tree.proof(4);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->siblings.size(), 1u);
    EXPECT_TRUE(*verify(tree.root(), v.size(), 4, segment_of(v, 4), p->siblings));
  }

  const std::vector<size_t> sizes = {1, 1024, 1025, 3 * 1024, 5000, 33 * 1024, 40 * 1024 - 300};
  for (size_t size : sizes) {
    SCOPED_TRACE("size " + std::to_string(size));
    Bytes content = random_content(size, size);
    auto tree = crypto::MerkleTree::from_content(content);
    const uint64_t count = crypto::segment_count(size);
    ASSERT_EQ(tree.leaf_count(), count);

    // Every proof of every segment verifies on chain.
    for (uint64_t i = 0; i < count; ++i) {
      auto p = tree.proof(i);
      ASSERT_TRUE(p);
      EXPECT_EQ(p->siblings.size(), crypto::merkle_proof_length(i, count));
      auto ok = verify(tree.root(), size, i, segment_of(content, i), p->siblings);
      ASSERT_TRUE(ok) << ok.error().to_string();
      EXPECT_TRUE(*ok) << "segment " << i << " of " << count;
    }

    // Tampering, for the first, a middle and the last segment.
    for (uint64_t i : {uint64_t{0}, count / 2, count - 1}) {
      SCOPED_TRACE("segment " + std::to_string(i));
      const auto sib = tree.proof(i)->siblings;
      const Bytes seg = segment_of(content, i);

      Bytes bad = seg;
      bad[bad.size() / 2] ^= 0x01;
      EXPECT_FALSE(*verify(tree.root(), size, i, bad, sib)) << "tampered segment";

      EXPECT_FALSE(*verify(crypto::keccak256(std::string_view("other")), size, i, seg, sib)) << "wrong root";

      for (size_t k = 0; k < sib.size(); ++k) {
        auto s2 = sib;
        s2[k][31] ^= 0x80;
        EXPECT_FALSE(*verify(tree.root(), size, i, seg, s2)) << "tampered sibling " << k;
      }
      if (!sib.empty()) {
        auto shorter = sib;
        shorter.pop_back();
        EXPECT_FALSE(*verify(tree.root(), size, i, seg, shorter)) << "proof too short";
      }
      auto longer = sib;
      longer.push_back(tree.root());
      EXPECT_FALSE(*verify(tree.root(), size, i, seg, longer)) << "proof too long";

      // The right segment and proof, claimed for another index (same-length segments only:
      // otherwise the length check alone would reject it).
      if (count > 1) {
        uint64_t j = (i == 0) ? 1 : i - 1;
        if (segment_of(content, j).size() == seg.size()) {
          EXPECT_FALSE(*verify(tree.root(), size, j, seg, sib)) << "wrong index " << j;
        }
      }
      EXPECT_FALSE(*verify(tree.root(), size, count, seg, sib)) << "index past the end";

      // The last segment is unpadded: padding it (or truncating a full one) is rejected.
      if (seg.size() < crypto::kSegmentSize) {
        Bytes padded = seg;
        padded.resize(crypto::kSegmentSize, 0);
        EXPECT_FALSE(*verify(tree.root(), size, i, padded, sib)) << "padded last segment";
      } else {
        Bytes cut(seg.begin(), seg.end() - 1);
        EXPECT_FALSE(*verify(tree.root(), size, i, cut, sib)) << "truncated segment";
      }
    }
  }
  // An inner node's 64-byte preimage cannot pass as a leaf of the level above.
  {
    Bytes content = random_content(4 * 1024, 7);
    auto tree = crypto::MerkleTree::from_content(content);
    Bytes inner(64);
    std::copy(tree.leaf_hash(0).begin(), tree.leaf_hash(0).end(), inner.begin());
    std::copy(tree.leaf_hash(1).begin(), tree.leaf_hash(1).end(), inner.begin() + 32);
    std::vector<Hash32> upper = {crypto::merkle_node_hash(tree.leaf_hash(2), tree.leaf_hash(3))};
    EXPECT_FALSE(*verify(tree.root(), 4 * 1024, 0, inner, upper));
    EXPECT_FALSE(*verify(tree.root(), 2 * 1024, 0, inner, upper));
  }
}

TEST_F(StorageTest, DealProveMissReportRepair) {
  make_storer(kStorerA);
  make_storer(kStorerB);
  const Bytes content = random_content(7 * 1024 - 100, 99);
  const auto tree = crypto::MerkleTree::from_content(content);
  const uint64_t size = content.size();
  const Bytes cid = {0x01, 0x55, 0x1b, 0x20, 0xaa, 0xbb, 0xcc, 0xdd};
  const u256 endowment = dusd(1000);

  // Open a one-replica deal: the whole endowment is slot 0's pool.
  u256 client_start = balance(kClient);
  ASSERT_TRUE(token().approve(wallet(kClient), deployment_.storage, endowment));
  auto opened = storage().send(wallet(kClient), "openDeal",
                               {Value::bytes(cid), Value::bytes(tree.root()), Value::uint(size), Value::uint(1), Value::uint(endowment)});
  ASSERT_TRUE(opened) << opened.error().to_string();
  auto ev = storage().events(opened->logs);
  ASSERT_TRUE(ev && ev->size() == 1);
  EXPECT_EQ((*ev)[0].name, "DealOpened");
  EXPECT_EQ(*(*ev)[0].values.get("dealId")->as_u64(), 1u);
  EXPECT_EQ(*(*ev)[0].values.get("cid")->as_bytes(), cid);
  EXPECT_EQ(*(*ev)[0].values.get("endowment")->as_uint(), endowment);
  EXPECT_EQ(balance(kClient), client_start - endowment);
  EXPECT_EQ(market_balance(), endowment);
  EXPECT_EQ(slot(1, 0).pool, endowment);
  EXPECT_EQ(*storage().call("segmentCount", {Value::uint(1)})->values[0].as_u64(), tree.leaf_count());

  // Storer A claims the slot with collateral = max(minSlotCollateral, pool * collateralBps / BPS).
  u256 collateral = required_collateral(1, 0);
  u256 expect_coll = endowment * collateral_bps_ / bps_;
  EXPECT_EQ(collateral, expect_coll > min_collateral_ ? expect_coll : min_collateral_);
  expect_revert(claim(7, 1, collateral), "NotActiveStorer");
  u256 a_start = balance(kStorerA);
  auto claimed = claim(kStorerA, 1, collateral);
  ASSERT_TRUE(claimed) << claimed.error().to_string();
  const uint64_t start = claimed->block_number / epoch_ + 1 + grace_;
  ev = storage().events(claimed->logs);
  ASSERT_TRUE(ev && ev->size() == 1);
  EXPECT_EQ((*ev)[0].name, "SlotClaimed");
  EXPECT_EQ(*(*ev)[0].values.get("slot")->as_u64(), 0u);
  EXPECT_EQ(*(*ev)[0].values.get("collateral")->as_uint(), collateral);
  EXPECT_EQ(*(*ev)[0].values.get("startEpoch")->as_u64(), start);
  EXPECT_EQ(balance(kStorerA), a_start - collateral);
  EXPECT_EQ(market_balance(), endowment + collateral);
  EXPECT_EQ(slot(1, 0).next_epoch, start);
  expect_revert(claim(kStorerA, 1, collateral), "AlreadyStoringDeal");
  expect_revert(claim(kStorerB, 1, collateral), "NoOpenSlot");

  // Too early: the first due epoch has not come.
  uint64_t now_epoch = (block() + 1) / epoch_;
  ASSERT_LT(now_epoch, start);
  expect_revert(prove(kStorerA, 1, 0, now_epoch, segment_of(content, 0), tree.proof(0)->siblings), "EpochNotDue");

  // The challenge of epoch `start` is seeded by the hash of its start block, so it exists only
  // once a later block does.
  mine_to(start * epoch_);
  expect_revert(challenge_index(1, 0, start), "ChallengeUnavailable");
  mine(1);
  auto idx = challenge_index(1, 0, start);
  ASSERT_TRUE(idx) << idx.error().to_string();
  {
    Hash32 bh = rpc_->block(start * epoch_)->hash;
    crypto::Keccak256 h;
    h.update(bh);
    h.update(to_be32(1));
    h.update(to_be32(0));
    EXPECT_EQ(*idx, static_cast<uint64_t>(*from_be(h.finalize()) % tree.leaf_count())) << "challengeIndex formula";
  }
  const uint64_t wrong = (*idx + 1) % tree.leaf_count();
  expect_revert(prove(kStorerA, 1, 0, start, segment_of(content, wrong), tree.proof(wrong)->siblings), "InvalidProof");
  expect_revert(prove(kStorerA, 1, 0, start, segment_of(content, *idx), tree.proof(wrong)->siblings), "InvalidProof");
  Bytes tampered = segment_of(content, *idx);
  tampered[0] ^= 0xff;
  expect_revert(prove(kStorerA, 1, 0, start, tampered, tree.proof(*idx)->siblings), "InvalidProof");
  expect_revert(prove(kStorerB, 1, 0, start, segment_of(content, *idx), tree.proof(*idx)->siblings), "NotSlotStorer");
  expect_revert(prove(kStorerA, 1, 0, start + 1, segment_of(content, *idx), tree.proof(*idx)->siblings), "EpochNotCurrent");

  // The right segment is paid pool * payoutRatePpb / 1e9.
  u256 pool = slot(1, 0).pool;
  u256 a_before = balance(kStorerA);
  auto proven = prove(kStorerA, 1, 0, start, segment_of(content, *idx), tree.proof(*idx)->siblings);
  ASSERT_TRUE(proven) << proven.error().to_string();
  std::cout << "proveStorage (" << tree.leaf_count() << " segments, proof of " << tree.proof(*idx)->siblings.size()
            << " hashes): gas " << proven->gas_used << std::endl;
  const u256 pay1 = pool * ppb_ / 1'000'000'000;
  ASSERT_GT(pay1, 0);
  ev = storage().events(proven->logs);
  ASSERT_TRUE(ev && ev->size() == 1);
  EXPECT_EQ((*ev)[0].name, "StorageProven");
  EXPECT_EQ(*(*ev)[0].values.get("epoch")->as_u64(), start);
  EXPECT_EQ(*(*ev)[0].values.get("segmentIndex")->as_u64(), *idx);
  EXPECT_EQ(*(*ev)[0].values.get("payment")->as_uint(), pay1);
  EXPECT_EQ(balance(kStorerA), a_before + pay1);
  EXPECT_EQ(slot(1, 0).pool, pool - pay1);
  EXPECT_EQ(slot(1, 0).next_epoch, start + 1);
  expect_revert(prove(kStorerA, 1, 0, start, segment_of(content, *idx), tree.proof(*idx)->siblings), "EpochNotDue");

  // Next epoch: a proof in the epoch's start block itself is impossible (its hash is unknown).
  mine_to((start + 1) * epoch_ - 1);
  expect_revert(prove(kStorerA, 1, 0, start + 1, segment_of(content, 0), tree.proof(0)->siblings), "ChallengeUnavailable");
  mine(2);
  idx = challenge_index(1, 0, start + 1);
  ASSERT_TRUE(idx);
  auto proven2 = prove(kStorerA, 1, 0, start + 1, segment_of(content, *idx), tree.proof(*idx)->siblings);
  ASSERT_TRUE(proven2) << proven2.error().to_string();
  const u256 pay2 = (pool - pay1) * ppb_ / 1'000'000'000;
  EXPECT_EQ(balance(kStorerA), a_before + pay1 + pay2);
  EXPECT_LT(pay2, pay1) << "payments decline geometrically";

  // Epoch start + 2 passes without a proof.
  const uint64_t missed = start + 2;
  mine_to((missed + 1) * epoch_ + 1);
  expect_revert(prove(kStorerA, 1, 0, missed + 1, segment_of(content, 0), tree.proof(0)->siblings), "SlotInDefault");
  expect_revert(storage().send(wallet(kReporter), "reportMissedProof", {Value::uint(1), Value::uint(0), Value::uint(start + 1)}),
                "EpochNotMissed");
  expect_revert(storage().send(wallet(kReporter), "reportMissedProof", {Value::uint(1), Value::uint(0), Value::uint(missed + 1)}),
                "EpochNotMissed");

  SlotState before = slot(1, 0);
  ASSERT_EQ(before.collateral, collateral);
  u256 reporter_before = balance(kReporter);
  u256 a_after_proofs = balance(kStorerA);
  auto report = storage().send(wallet(kReporter), "reportMissedProof", {Value::uint(1), Value::uint(0), Value::uint(missed)});
  ASSERT_TRUE(report) << report.error().to_string();
  std::cout << "reportMissedProof: gas " << report->gas_used << std::endl;
  const u256 reward = collateral * reporter_bps_ / bps_;
  const u256 pool_after = before.pool + collateral - reward;
  ev = storage().events(report->logs);
  ASSERT_TRUE(ev);
  ASSERT_EQ(ev->size(), 2u);
  EXPECT_EQ((*ev)[0].name, "StorageProofMissed");
  EXPECT_EQ(*(*ev)[0].values.get("storer")->as_address(), wallet(kStorerA).address());
  EXPECT_EQ(*(*ev)[0].values.get("epoch")->as_u64(), missed);
  EXPECT_EQ(*(*ev)[0].values.get("collateralSlashed")->as_uint(), collateral);
  EXPECT_EQ(*(*ev)[0].values.get("reporter")->as_address(), wallet(kReporter).address());
  EXPECT_EQ(*(*ev)[0].values.get("reporterReward")->as_uint(), reward);
  EXPECT_EQ((*ev)[1].name, "SlotReopened");
  EXPECT_EQ(*(*ev)[1].values.get("slot")->as_u64(), 0u);
  EXPECT_EQ(*(*ev)[1].values.get("pool")->as_uint(), pool_after);
  EXPECT_EQ(balance(kReporter), reporter_before + reward);
  EXPECT_EQ(balance(kStorerA), a_after_proofs) << "the collateral is not returned";
  SlotState open_slot = slot(1, 0);
  EXPECT_TRUE(open_slot.storer.is_zero());
  EXPECT_EQ(open_slot.collateral, 0);
  EXPECT_EQ(open_slot.pool, pool_after);
  EXPECT_EQ(market_balance(), pool_after) << "the market holds exactly the open slot's pool";
  EXPECT_FALSE(*storage().call("isStoringDeal", {Value::uint(1), Value::address(wallet(kStorerA).address())})->values[0].as_bool());
  expect_revert(storage().send(wallet(kReporter), "reportMissedProof", {Value::uint(1), Value::uint(0), Value::uint(missed)}),
                "SlotIsOpen");
  expect_revert(prove(kStorerA, 1, 0, missed + 1, segment_of(content, 0), tree.proof(0)->siblings), "SlotIsOpen");

  // Repair: storer B takes the reopened slot (collateral recomputed from the larger pool) and proves.
  u256 coll_b = required_collateral(1, 0);
  u256 expect_b = pool_after * collateral_bps_ / bps_;
  EXPECT_EQ(coll_b, expect_b > min_collateral_ ? expect_b : min_collateral_);
  auto claimed_b = claim(kStorerB, 1, coll_b);
  ASSERT_TRUE(claimed_b) << claimed_b.error().to_string();
  ev = storage().events(claimed_b->logs);
  ASSERT_TRUE(ev && ev->size() == 1);
  EXPECT_EQ(*(*ev)[0].values.get("slot")->as_u64(), 0u);
  EXPECT_EQ(*(*ev)[0].values.get("storer")->as_address(), wallet(kStorerB).address());
  const uint64_t start_b = claimed_b->block_number / epoch_ + 1 + grace_;
  EXPECT_EQ(*(*ev)[0].values.get("startEpoch")->as_u64(), start_b);
  mine_to(start_b * epoch_ + 1);
  idx = challenge_index(1, 0, start_b);
  ASSERT_TRUE(idx);
  u256 b_before = balance(kStorerB);
  auto proven_b = prove(kStorerB, 1, 0, start_b, segment_of(content, *idx), tree.proof(*idx)->siblings);
  ASSERT_TRUE(proven_b) << proven_b.error().to_string();
  EXPECT_EQ(balance(kStorerB), b_before + pool_after * ppb_ / 1'000'000'000);
}

TEST_F(StorageTest, LeaveSlotAndTopUp) {
  make_storer(kStorerA);
  const Bytes content = random_content(3000, 5);
  const auto tree = crypto::MerkleTree::from_content(content);
  const u256 endowment = dusd(300);
  ASSERT_TRUE(token().approve(wallet(kClient), deployment_.storage, endowment));
  ASSERT_TRUE(storage().send(wallet(kClient), "openDeal", {Value::bytes(Bytes{1, 2, 3}), Value::bytes(tree.root()),
                                                           Value::uint(content.size()), Value::uint(2), Value::uint(endowment)}));
  // Anyone may top up; the amount is split over the slots like the endowment.
  ASSERT_TRUE(token().approve(wallet(kReporter), deployment_.storage, 11));
  auto top = storage().send(wallet(kReporter), "topUp", {Value::uint(1), Value::uint(11)});
  ASSERT_TRUE(top) << top.error().to_string();
  EXPECT_EQ(slot(1, 0).pool, endowment / 2 + 6);
  EXPECT_EQ(slot(1, 1).pool, endowment / 2 + 5);
  expect_revert(storage().send(wallet(kReporter), "topUp", {Value::uint(1), Value::uint(0)}), "ZeroAmount");

  // A storer in good standing leaves: EXIT_PENALTY_BPS of the collateral stays in the pool.
  const u256 exit_bps = uint_param("EXIT_PENALTY_BPS");
  u256 collateral = required_collateral(1, 0);
  u256 a_start = balance(kStorerA);
  auto claimed = claim(kStorerA, 1, collateral);
  ASSERT_TRUE(claimed);
  u256 pool = slot(1, 0).pool;
  auto left = storage().send(wallet(kStorerA), "leaveSlot", {Value::uint(1), Value::uint(0)});
  ASSERT_TRUE(left) << left.error().to_string();
  const u256 penalty = collateral * exit_bps / bps_;
  auto ev = storage().events(left->logs);
  ASSERT_TRUE(ev && ev->size() == 2);
  EXPECT_EQ((*ev)[0].name, "SlotLeft");
  EXPECT_EQ(*(*ev)[0].values.get("returned")->as_uint(), collateral - penalty);
  EXPECT_EQ(*(*ev)[0].values.get("penalty")->as_uint(), penalty);
  EXPECT_EQ((*ev)[1].name, "SlotReopened");
  EXPECT_EQ(*(*ev)[1].values.get("pool")->as_uint(), pool + penalty);
  EXPECT_EQ(balance(kStorerA), a_start - penalty);
  EXPECT_TRUE(slot(1, 0).storer.is_zero());

  // Claimed again, then in default (its first due epoch passed unproven): it cannot leave.
  collateral = required_collateral(1, 0);
  claimed = claim(kStorerA, 1, collateral);
  ASSERT_TRUE(claimed);
  EXPECT_EQ(*storage().events(claimed->logs)->at(0).values.get("slot")->as_u64(), 0u) << "the lowest open slot";
  const uint64_t start = claimed->block_number / epoch_ + 1 + grace_;
  mine_to((start + 1) * epoch_);
  expect_revert(storage().send(wallet(kStorerA), "leaveSlot", {Value::uint(1), Value::uint(0)}), "SlotInDefault");
  expect_revert(storage().send(wallet(kStorerB), "leaveSlot", {Value::uint(1), Value::uint(0)}), "NotSlotStorer");
}

TEST_F(StorageTest, RejectsBadDeals) {
  auto& c = wallet(kClient);
  ASSERT_TRUE(token().approve(c, deployment_.storage, dusd(100)));
  const Hash32 root = crypto::keccak256(std::string_view("root"));
  auto open = [&](Bytes cid, const Hash32& r, uint64_t size, uint64_t replicas, const u256& endowment) {
    return storage().send(c, "openDeal", {Value::bytes(std::move(cid)), Value::bytes(r), Value::uint(size), Value::uint(replicas),
                                          Value::uint(endowment)});
  };
  expect_revert(open(Bytes{}, root, 10, 1, 100), "InvalidCid");
  expect_revert(open(Bytes(129, 1), root, 10, 1, 100), "InvalidCid");
  expect_revert(open(Bytes{1}, root, 0, 1, 100), "ZeroSize");
  expect_revert(open(Bytes{1}, Hash32{}, 10, 1, 100), "ZeroRoot");
  expect_revert(open(Bytes{1}, root, 10, 0, 100), "InvalidReplicas");
  expect_revert(open(Bytes{1}, root, 10, 17, 100), "InvalidReplicas");
  expect_revert(open(Bytes{1}, root, 10, 3, 2), "EndowmentTooSmall");
  expect_revert(storage().send(c, "claimSlot", {Value::uint(1)}), "UnknownDeal");
  // Three replicas: the remainder of the split goes to slot 0.
  auto ok = open(Bytes{1}, root, 10, 3, 100);
  ASSERT_TRUE(ok) << ok.error().to_string();
  EXPECT_EQ(slot(1, 0).pool, 34);
  EXPECT_EQ(slot(1, 1).pool, 33);
  EXPECT_EQ(slot(1, 2).pool, 33);
  expect_revert(storage().send(c, "reportMissedProof", {Value::uint(1), Value::uint(3), Value::uint(0)}), "InvalidSlot");
  expect_revert(storage().send(c, "reportMissedProof", {Value::uint(1), Value::uint(1), Value::uint(0)}), "SlotIsOpen");
}

}  // namespace dgrid::eth
