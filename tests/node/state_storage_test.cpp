// NodeState's StorageMarket tables on real SQLite files: deals and their slots, events
// delivered twice or out of order never undoing newer ones, proofs and payouts, and a
// database from before these tables (schema version 1) upgraded with its data kept.
#include <gtest/gtest.h>

#include "node/sqlite.hpp"
#include "node/state.hpp"
#include "support/test_env.hpp"

namespace dgrid::node {
namespace {

using test::TempDir;

Address addr(uint8_t tag) {
  Address a;
  a.bytes.fill(tag);
  return a;
}

StorageDealRecord deal(uint64_t id, uint8_t cid_tag, uint32_t replicas) {
  StorageDealRecord d;
  d.id = id;
  d.client = addr(0xc1);
  d.cid = Bytes{0x01, 0x55, 0x12, 0x20, cid_tag};
  d.segment_root.fill(static_cast<uint8_t>(id));
  d.size = 1000 * id;
  d.replicas = replicas;
  d.endowment = u256(1) << 100;  // past 64 bits: stored exactly
  d.opened_block = 10 + id;
  return d;
}

StorageSlotRecord slot(uint64_t deal_id, uint32_t i, std::optional<Address> storer, uint64_t next, uint64_t block,
                       uint64_t index) {
  StorageSlotRecord s;
  s.deal_id = deal_id;
  s.slot = i;
  s.storer = storer;
  s.next_epoch = next;
  s.collateral = 7;
  s.ev_block = block;
  s.ev_index = index;
  return s;
}

std::unique_ptr<NodeState> open_state(const std::filesystem::path& dir) {
  auto s = NodeState::open(dir);
  EXPECT_TRUE(s) << s.error().to_string();
  return s ? std::move(*s) : nullptr;
}

TEST(StateStorage, DealsSlotsAndEventOrder) {
  TempDir dir;
  auto st = open_state(dir.path());
  ASSERT_TRUE(st);
  ASSERT_TRUE(st->put_storage_deal(deal(1, 0xaa, 2), 11, 0));
  ASSERT_TRUE(st->put_storage_deal(deal(2, 0xbb, 1), 12, 3));
  ASSERT_TRUE(st->put_storage_deal(deal(3, 0xaa, 1), 13, 0));
  // Delivered again (at-least-once): nothing changes, no duplicate slots.
  ASSERT_TRUE(st->put_storage_deal(deal(1, 0xaa, 2), 11, 0));

  auto d1 = st->storage_deal(1);
  ASSERT_TRUE(d1 && *d1);
  EXPECT_EQ((*d1)->endowment, u256(1) << 100);
  EXPECT_EQ((*d1)->cid, deal(1, 0xaa, 2).cid);
  EXPECT_FALSE((*d1)->rejected);
  EXPECT_FALSE(*st->storage_deal(9));
  auto by_cid = st->storage_deals_for_cid(deal(1, 0xaa, 2).cid);
  ASSERT_TRUE(by_cid);
  ASSERT_EQ(by_cid->size(), 2u);
  EXPECT_EQ((*by_cid)[0].id, 3u) << "newest first";

  auto slots = st->storage_slots(1);
  ASSERT_TRUE(slots);
  ASSERT_EQ(slots->size(), 2u);
  EXPECT_FALSE((*slots)[0].storer);
  EXPECT_EQ(st->storage_deals_with_open_slots()->size(), 3u);

  // Claimed at (20, 1), proven at (30, 0); an older event delivered late changes nothing.
  EXPECT_TRUE(*st->put_storage_slot(slot(1, 0, addr(0xa), 5, 20, 1)));
  EXPECT_TRUE(*st->put_storage_slot(slot(1, 0, addr(0xa), 6, 30, 0)));
  EXPECT_FALSE(*st->put_storage_slot(slot(1, 0, addr(0xa), 5, 20, 1)));
  EXPECT_FALSE(*st->put_storage_slot(slot(1, 0, std::nullopt, 0, 29, 9)));
  EXPECT_TRUE(*st->put_storage_slot(slot(1, 1, addr(0xb), 5, 20, 2)));
  EXPECT_TRUE(*st->put_storage_slot(slot(2, 0, addr(0xa), 5, 21, 0)));
  auto held = st->storage_slots_held_by(addr(0xa));
  ASSERT_TRUE(held);
  ASSERT_EQ(held->size(), 2u);
  EXPECT_EQ((*held)[0].next_epoch, 6u);
  auto due = st->storage_slots_due_before(6);
  ASSERT_TRUE(due);
  ASSERT_EQ(due->size(), 2u) << "deal 1 slot 1 and deal 2 slot 0 are due before epoch 6";
  EXPECT_EQ(st->storage_deals_with_open_slots()->size(), 1u) << "only deal 3 has an open slot";

  // A reopened slot, and a rejected deal, leave or enter the open list as they should.
  auto reopened = slot(1, 1, std::nullopt, 0, 40, 0);
  reopened.reopened = true;
  EXPECT_TRUE(*st->put_storage_slot(reopened));
  ASSERT_TRUE(st->reject_storage_deal(3, "root mismatch"));
  auto open = st->storage_deals_with_open_slots();
  ASSERT_TRUE(open);
  ASSERT_EQ(open->size(), 1u);
  EXPECT_EQ((*open)[0].id, 1u);
  EXPECT_TRUE((*st->storage_slots(1))[1].reopened);
  EXPECT_EQ(*(*st->storage_deal(3))->rejected, "root mismatch");
  EXPECT_EQ(st->reject_storage_deal(77, "x").error().code, Errc::not_found);
}

TEST(StateStorage, ProofsAndPayouts) {
  TempDir dir;
  auto st = open_state(dir.path());
  ASSERT_TRUE(st);
  for (uint64_t e = 5; e < 8; ++e) {
    StorageProofRecord p;
    p.deal_id = 1;
    p.slot = 0;
    p.epoch = e;
    p.storer = addr(0xa);
    p.segment_index = e * 3;
    p.payment = u256(1000) - e;
    p.tx_hash.fill(static_cast<uint8_t>(e));
    p.block = e * 10 + 1;
    ASSERT_TRUE(st->put_storage_proof(p));
    ASSERT_TRUE(st->put_storage_proof(p)) << "idempotent";
  }
  auto ps = st->storage_proofs(1, 0, 2);
  ASSERT_TRUE(ps);
  ASSERT_EQ(ps->size(), 2u);
  EXPECT_EQ((*ps)[0].epoch, 7u);
  EXPECT_EQ((*ps)[0].segment_index, 21u);
  EXPECT_EQ((*ps)[0].tx_hash[0], 7);
  EXPECT_EQ(*st->storage_paid(1, 0, addr(0xa)), u256(995 + 994 + 993));
  EXPECT_EQ(*st->storage_paid(1, 0, addr(0xb)), 0);
  EXPECT_TRUE(st->storage_proofs(1, 1, 5)->empty());
}

TEST(StateStorage, VersionOneDatabaseIsUpgradedWithItsDataKept) {
  TempDir dir;
  {
    auto st = open_state(dir.path());
    ASSERT_TRUE(st);
    ASSERT_TRUE(st->put("k", "v"));
    ASSERT_TRUE(st->set_cursor("juror.disputes", 42));
  }
  {
    // Make it a database written before the storage tables existed.
    auto db = Db::open(dir.path() / "node.db");
    ASSERT_TRUE(db) << db.error().to_string();
    ASSERT_TRUE(db->exec("DROP TABLE storage_deals; DROP TABLE storage_slots; DROP TABLE storage_proofs; "
                         "PRAGMA user_version = 1;"));
  }
  auto st = open_state(dir.path());
  ASSERT_TRUE(st);
  EXPECT_EQ(**st->get("k"), "v");
  EXPECT_EQ(**st->cursor("juror.disputes"), 42u);
  ASSERT_TRUE(st->put_storage_deal(deal(1, 0xaa, 1), 11, 0));
  EXPECT_EQ(st->storage_slots(1)->size(), 1u);
}

}  // namespace
}  // namespace dgrid::node
