// eth::StorageMarketClient on a real anvil: the typed deal operations (approving only when
// the allowance is short), the views, and event decoding with checked fields — a log that
// does not match the ABI is an error naming the event and field, never a crash.
#include <gtest/gtest.h>

#include <random>

#include "crypto/keccak.hpp"
#include "crypto/merkle.hpp"
#include "support/dgrid_chain.hpp"
#include "support/storage_content.hpp"

namespace dgrid::eth {

namespace {

using test::random_content;
using test::segment_of;

template <class T>
const T& only(const std::vector<StorageEvent>& evs, size_t i = 0) {
  EXPECT_GT(evs.size(), i);
  const T* t = std::get_if<T>(&evs.at(i).data);
  EXPECT_NE(t, nullptr) << "event " << i << " has another type";
  static const T empty{};
  return t ? *t : empty;
}

}  // namespace

class StorageBindingsTest : public test::DgridChainTest {
 protected:
  static constexpr size_t kClient = 5;
  static constexpr size_t kStorerA = 2;
  static constexpr size_t kStorerB = 3;
  static constexpr size_t kStorerC = 4;
  static constexpr size_t kReporter = 6;

  const StorageMarketClient& market() const { return contracts_->storage; }

  void make_storer(size_t i) {
    ASSERT_TRUE(registry().register_provider(wallet(i), "http://127.0.0.1:91" + std::to_string(10 + i), ""));
    ASSERT_TRUE(registry().stake(wallet(i), token(), *registry().min_stake()));
  }
  void mine_to(uint64_t target) {
    uint64_t now = block();
    ASSERT_LE(now, target) << "already past block " << target;
    if (target > now) mine(target - now);
  }
  u256 allowance(size_t i) { return *token().allowance(wallet(i).address(), deployment_.storage); }
};

TEST_F(StorageBindingsTest, DealLifecycleThroughTypedClient) {
  make_storer(kStorerA);
  make_storer(kStorerB);
  make_storer(kStorerC);
  const Bytes content = random_content(5 * 1024 + 17, 3);
  const auto tree = crypto::MerkleTree::from_content(content);
  const Bytes cid = {0x01, 0x55, 0x12, 0x20, 0xde, 0xad};
  const u256 endowment = dusd(500);

  // Parameters as deployed (the test chain's epochs are kDelay blocks).
  EXPECT_EQ(*market().epoch_length(), kDelay);
  EXPECT_EQ(*market().claim_grace_epochs(), params_.claim_grace_epochs);
  EXPECT_EQ(*market().payout_rate_ppb(), u256(params_.payout_rate_ppb));
  EXPECT_EQ(*market().deal_count(), 0u);
  EXPECT_EQ(*market().current_epoch(), block() / kDelay);

  // open_deal approves exactly when the allowance is short, and returns the new deal id.
  ASSERT_EQ(allowance(kClient), 0);
  const u256 client_start = balance(kClient);
  auto opened = market().open_deal(wallet(kClient), token(), cid, tree.root(), content.size(), 2, endowment);
  ASSERT_TRUE(opened) << opened.error().to_string();
  EXPECT_EQ(opened->deal_id, 1u);
  EXPECT_EQ(balance(kClient), client_start - endowment);
  EXPECT_EQ(allowance(kClient), 0) << "the approval was used up by openDeal";
  auto evs = market().decode(opened->receipt.logs);
  ASSERT_TRUE(evs) << evs.error().to_string();
  ASSERT_EQ(evs->size(), 1u) << "the token's Transfer log is not a StorageMarket event";
  const auto& o = only<DealOpenedEvent>(*evs);
  EXPECT_EQ(o.deal_id, 1u);
  EXPECT_EQ(o.client, wallet(kClient).address());
  EXPECT_EQ(o.cid, cid);
  EXPECT_EQ(o.segment_root, tree.root());
  EXPECT_EQ(o.size, content.size());
  EXPECT_EQ(o.replicas, 2u);
  EXPECT_EQ(o.endowment, endowment);
  EXPECT_EQ((*evs)[0].log.tx_hash, opened->receipt.tx_hash);

  auto deal = market().get_deal(1);
  ASSERT_TRUE(deal) << deal.error().to_string();
  EXPECT_EQ(deal->client, wallet(kClient).address());
  EXPECT_EQ(deal->segment_root, tree.root());
  EXPECT_EQ(deal->size, content.size());
  EXPECT_EQ(deal->replicas, 2u);
  EXPECT_EQ(deal->cid, cid);
  EXPECT_EQ(deal->opened_block, opened->receipt.block_number);
  EXPECT_EQ(*market().deal_count(), 1u);
  EXPECT_EQ(*market().segment_count(1), tree.leaf_count());
  auto unknown = market().get_deal(9);
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("UnknownDeal"), std::string::npos) << unknown.error().message;

  // With an allowance already large enough, no approval is sent (and none is consumed).
  ASSERT_TRUE(token().approve(wallet(kReporter), deployment_.storage, dusd(5)));
  auto topped = market().top_up(wallet(kReporter), token(), 1, dusd(2));
  ASSERT_TRUE(topped) << topped.error().to_string();
  EXPECT_EQ(allowance(kReporter), dusd(3));
  const auto tev = market().decode(topped->logs);
  ASSERT_TRUE(tev);
  const auto& t = only<DealToppedUpEvent>(*tev);
  EXPECT_EQ(t.from, wallet(kReporter).address());
  EXPECT_EQ(t.amount, dusd(2));
  EXPECT_EQ(market().get_slot(1, 0)->pool, endowment / 2 + dusd(1));

  // claim_slot approves requiredCollateral of the lowest open slot.
  const u256 coll0 = *market().required_collateral(1, 0);
  const u256 a_start = balance(kStorerA);
  auto ca = market().claim_slot(wallet(kStorerA), token(), 1);
  ASSERT_TRUE(ca) << ca.error().to_string();
  EXPECT_EQ(ca->slot, 0u);
  EXPECT_EQ(ca->collateral, coll0);
  EXPECT_EQ(ca->start_epoch, ca->receipt.block_number / kDelay + 1 + params_.claim_grace_epochs);
  EXPECT_EQ(balance(kStorerA), a_start - coll0);
  EXPECT_TRUE(*market().is_storing(1, wallet(kStorerA).address()));
  EXPECT_FALSE(*market().is_storing(1, wallet(kStorerB).address()));
  auto again = market().claim_slot(wallet(kStorerA), token(), 1);
  expect_revert(again, "AlreadyStoringDeal");
  auto cb = market().claim_slot(wallet(kStorerB), token(), 1);
  ASSERT_TRUE(cb) << cb.error().to_string();
  EXPECT_EQ(cb->slot, 1u);
  expect_revert(market().claim_slot(wallet(kStorerC), token(), 1), "NoOpenSlot");
  auto sa = market().get_slot(1, 0);
  ASSERT_TRUE(sa);
  EXPECT_EQ(sa->storer, wallet(kStorerA).address());
  EXPECT_EQ(sa->next_epoch, ca->start_epoch);
  EXPECT_EQ(sa->collateral, coll0);
  EXPECT_FALSE(sa->open());

  // Prove A's first epoch; B never proves.
  const uint64_t start = ca->start_epoch;
  ASSERT_EQ(cb->start_epoch, start);
  mine_to(start * kDelay + 1);
  auto idx = market().challenge_index(1, 0, start);
  ASSERT_TRUE(idx) << idx.error().to_string();
  expect_revert(market().challenge_index(1, 0, start + 1), "ChallengeUnavailable");
  const u256 pool = market().get_slot(1, 0)->pool;
  const u256 a_before = balance(kStorerA);
  auto proven = market().prove_storage(wallet(kStorerA), 1, 0, start, segment_of(content, *idx), tree.proof(*idx)->siblings);
  ASSERT_TRUE(proven) << proven.error().to_string();
  const u256 pay = pool * params_.payout_rate_ppb / 1'000'000'000;
  const auto pev = market().decode(proven->logs);
  ASSERT_TRUE(pev);
  const auto& p = only<StorageProvenEvent>(*pev);
  EXPECT_EQ(p.deal_id, 1u);
  EXPECT_EQ(p.slot, 0u);
  EXPECT_EQ(p.storer, wallet(kStorerA).address());
  EXPECT_EQ(p.epoch, start);
  EXPECT_EQ(p.segment_index, *idx);
  EXPECT_EQ(p.payment, pay);
  EXPECT_EQ(balance(kStorerA), a_before + pay);
  EXPECT_EQ(market().get_slot(1, 0)->next_epoch, start + 1);

  // B missed `start`: anyone reports it once the epoch is over.
  expect_revert(market().report_missed_proof(wallet(kReporter), 1, 1, start), "EpochNotMissed");
  mine_to((start + 1) * kDelay + 1);
  const u256 reporter_before = balance(kReporter);
  auto reported = market().report_missed_proof(wallet(kReporter), 1, 1, start);
  ASSERT_TRUE(reported) << reported.error().to_string();
  auto rev = market().decode(reported->logs);
  ASSERT_TRUE(rev);
  ASSERT_EQ(rev->size(), 2u);
  const auto& m = only<StorageProofMissedEvent>(*rev, 0);
  EXPECT_EQ(m.slot, 1u);
  EXPECT_EQ(m.storer, wallet(kStorerB).address());
  EXPECT_EQ(m.epoch, start);
  EXPECT_EQ(m.collateral_slashed, cb->collateral);
  EXPECT_EQ(m.reporter, wallet(kReporter).address());
  EXPECT_EQ(balance(kReporter), reporter_before + m.reporter_reward);
  const auto& reopened = only<SlotReopenedEvent>(*rev, 1);
  EXPECT_EQ(reopened.slot, 1u);
  EXPECT_EQ(reopened.pool, market().get_slot(1, 1)->pool);
  EXPECT_TRUE(market().get_slot(1, 1)->open());

  // A leaves in good standing (it proved start; start + 1 is current, not yet missed).
  auto left = market().leave_slot(wallet(kStorerA), 1, 0);
  ASSERT_TRUE(left) << left.error().to_string();
  auto lev = market().decode(left->logs);
  ASSERT_TRUE(lev);
  ASSERT_EQ(lev->size(), 2u);
  const auto& l = only<SlotLeftEvent>(*lev, 0);
  EXPECT_EQ(l.storer, wallet(kStorerA).address());
  EXPECT_EQ(l.returned + l.penalty, coll0);
  EXPECT_EQ(only<SlotReopenedEvent>(*lev, 1).slot, 0u);
}

TEST_F(StorageBindingsTest, MalformedLogsAreErrorsNamingTheField) {
  const Hash32 root = crypto::keccak256(std::string_view("root"));
  auto opened = market().open_deal(wallet(kClient), token(), Bytes{1, 2, 3}, root, 4096, 3, dusd(30));
  ASSERT_TRUE(opened) << opened.error().to_string();
  const Log* real = nullptr;
  for (const auto& l : opened->receipt.logs)
    if (l.address == deployment_.storage) real = &l;
  ASSERT_NE(real, nullptr);
  ASSERT_TRUE(market().decode({*real}));

  // Data words: [0] cid offset, [1] segmentRoot, [2] size, [3] replicas, [4] endowment, cid.
  auto with_word = [&](size_t word, const u256& v) {
    Log l = *real;
    Hash32 be = to_be32(v);
    std::copy(be.begin(), be.end(), l.data.begin() + static_cast<ptrdiff_t>(32 * word));
    return l;
  };
  auto expect_error = [&](const Log& l, std::string_view needle) {
    auto r = market().decode({l});
    ASSERT_FALSE(r) << "decoded a malformed log";
    EXPECT_EQ(r.error().code, Errc::malformed) << r.error().to_string();
    EXPECT_NE(r.error().message.find(needle), std::string::npos) << r.error().message;
  };
  // A uint64 word with high bits set is refused by the ABI decoder, naming the event.
  expect_error(with_word(2, u256(1) << 64), "DealOpened");
  // A deal id past 64 bits in its topic.
  {
    Log l = *real;
    l.topics.at(1) = to_be32(u256(1) << 80);
    expect_error(l, "dealId");
  }
  // Truncated data, and a cid offset pointing past the end.
  {
    Log l = *real;
    l.data.resize(70);
    auto r = market().decode({l});
    EXPECT_FALSE(r);
  }
  {
    auto r = market().decode({with_word(0, 1'000'000)});
    EXPECT_FALSE(r);
  }
  // Missing indexed topic.
  {
    Log l = *real;
    l.topics.pop_back();
    auto r = market().decode({l});
    EXPECT_FALSE(r);
  }

  // An event of the right name but wrong shape (hand-built) is caught field by field.
  Event e;
  e.name = "SlotClaimed";
  e.values.names = {"dealId", "slot", "storer", "collateral", "startEpoch"};
  e.values.values = {abi::Value::uint(1), abi::Value::uint(300), abi::Value::address(wallet(1).address()),
                     abi::Value::uint(5), abi::Value::uint(2)};
  auto bad_slot = decode_storage_event(e);
  ASSERT_FALSE(bad_slot);
  EXPECT_NE(bad_slot.error().message.find("SlotClaimed log: field slot"), std::string::npos) << bad_slot.error().message;
  e.values.values[1] = abi::Value::uint(1);
  e.values.values[2] = abi::Value::string("not an address");
  auto bad_storer = decode_storage_event(e);
  ASSERT_FALSE(bad_storer);
  EXPECT_NE(bad_storer.error().message.find("storer"), std::string::npos) << bad_storer.error().message;
  e.values.values[2] = abi::Value::address(wallet(1).address());
  ASSERT_TRUE(decode_storage_event(e));
  e.values.names.pop_back();
  e.values.values.pop_back();
  auto missing = decode_storage_event(e);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("startEpoch"), std::string::npos) << missing.error().message;
  e.name = "Transfer";
  EXPECT_FALSE(decode_storage_event(e));
}

}  // namespace dgrid::eth
