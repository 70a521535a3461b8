#include <gtest/gtest.h>

#include <random>

#include "crypto/eip712.hpp"
#include "support/dgrid_chain.hpp"

namespace dgrid::eth {

using abi::Value;

class BrokerTest : public test::DgridChainTest {
 protected:
  static constexpr size_t kSender = 4;     // the gateway pays
  static constexpr size_t kRecipient = 1;  // a provider earns

  void SetUp() override {
    test::DgridChainTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    domain_ = dgrid_domain_separator(anvil_->chain_id(), deployment_.broker);
  }

  SignedTicket make_ticket(const u256& face, const u256& win_prob, uint64_t nonce, size_t signer = kSender) {
    SignedTicket t;
    t.recipient_rand = u256(0x1234567) * (nonce + 1) + nonce;
    t.ticket.recipient = wallet(kRecipient).address();
    t.ticket.sender = wallet(kSender).address();
    t.ticket.face_value = face;
    t.ticket.win_prob = win_prob;
    t.ticket.sender_nonce = nonce;
    t.ticket.recipient_rand_hash = recipient_rand_hash(t.recipient_rand);
    t.ticket.expiration_block = block() + 100;
    t.sig = sign_ticket(t.ticket, domain_, wallet(signer).key());
    return t;
  }
  void resign(SignedTicket& t) { t.sig = sign_ticket(t.ticket, domain_, wallet(kSender).key()); }

  static const u256 kAlways;
  Hash32 domain_{};
};
const u256 BrokerTest::kAlways = ~u256(0);

TEST_F(BrokerTest, DigestsAgreeWithContractAndGenericEip712) {
  EXPECT_EQ(*broker().domain_separator(), domain_);
  auto t = make_ticket(dusd(1), win_prob_for(1, 3), 7);
  t.ticket.aux_data[5] = 0xaa;
  Hash32 ours = ticket_digest(t.ticket, domain_);
  EXPECT_EQ(*broker().ticket_hash(t.ticket), ours);
  // The same ticket as an EIP-712 JSON document through the generic encoder.
  nlohmann::json doc = {
      {"types",
       {{"EIP712Domain", {{{"name", "name"}, {"type", "string"}}, {{"name", "version"}, {"type", "string"}},
                          {{"name", "chainId"}, {"type", "uint256"}}, {{"name", "verifyingContract"}, {"type", "address"}}}},
        {"Ticket", {{{"name", "recipient"}, {"type", "address"}}, {{"name", "sender"}, {"type", "address"}},
                    {{"name", "faceValue"}, {"type", "uint256"}}, {{"name", "winProb"}, {"type", "uint256"}},
                    {{"name", "senderNonce"}, {"type", "uint256"}}, {{"name", "recipientRandHash"}, {"type", "bytes32"}},
                    {{"name", "expirationBlock"}, {"type", "uint256"}}, {{"name", "auxData"}, {"type", "bytes32"}}}}}},
      {"primaryType", "Ticket"},
      {"domain", {{"name", "dgrid"}, {"version", "1"}, {"chainId", anvil_->chain_id()}, {"verifyingContract", deployment_.broker.hex()}}},
      {"message",
       {{"recipient", t.ticket.recipient.hex()}, {"sender", t.ticket.sender.hex()}, {"faceValue", to_dec(t.ticket.face_value)},
        {"winProb", to_dec(t.ticket.win_prob)}, {"senderNonce", "7"}, {"recipientRandHash", to_hex(t.ticket.recipient_rand_hash)},
        {"expirationBlock", to_dec(t.ticket.expiration_block)}, {"auxData", to_hex(t.ticket.aux_data)}}}};
  auto generic = crypto::typed_data_digest(doc);
  ASSERT_TRUE(generic) << generic.error().to_string();
  EXPECT_EQ(*generic, ours);
}

TEST_F(BrokerTest, WinningRuleMatchesContract) {
  std::mt19937_64 rng(42);
  int wins = 0;
  for (int i = 0; i < 40; ++i) {
    auto t = make_ticket(dusd(1), win_prob_for(1, 2), static_cast<uint64_t>(rng()));
    bool local = is_winning(t.sig, t.recipient_rand, t.ticket.win_prob);
    auto sig = t.sig.to_rsv();
    auto onchain = broker().contract().call("isWinningTicket", {Value::bytes(sig), Value::uint(t.recipient_rand), Value::uint(t.ticket.win_prob)});
    ASSERT_TRUE(onchain);
    EXPECT_EQ(*onchain->values[0].as_bool(), local);
    wins += local;
  }
  EXPECT_GT(wins, 5);  // p = 1/2 over 40 draws: both outcomes occur
  EXPECT_LT(wins, 35);
}

TEST_F(BrokerTest, RedeemValidReplayedExpiredLosingForged) {
  ASSERT_TRUE(broker().fund(wallet(kSender), token(), dusd(100), dusd(50)));
  u256 before = balance(kRecipient);

  auto win = make_ticket(dusd(10), kAlways, 1);
  auto r = broker().redeem(wallet(kRecipient), win);
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(balance(kRecipient), before + dusd(10));
  EXPECT_TRUE(*broker().is_used(ticket_digest(win.ticket, domain_)));
  EXPECT_EQ(broker().sender_info(wallet(kSender).address())->deposit, dusd(90));

  expect_revert(broker().redeem(wallet(kRecipient), win), "TicketAlreadyUsed");

  // A losing ticket: win probability 0 never wins.
  expect_revert(broker().redeem(wallet(kRecipient), make_ticket(dusd(10), 0, 2)), "TicketNotWinning");

  // Expired: redeemable only while block.number <= expirationBlock.
  auto old = make_ticket(dusd(10), kAlways, 3);
  old.ticket.expiration_block = block() + 1;
  resign(old);
  mine(1);
  expect_revert(broker().redeem(wallet(kRecipient), old), "TicketExpired");

  // Wrong recipient randomness.
  auto bad_rand = make_ticket(dusd(10), kAlways, 4);
  bad_rand.recipient_rand += 1;
  expect_revert(broker().redeem(wallet(kRecipient), bad_rand), "InvalidRecipientRand");

  // Signed by someone other than the sender.
  expect_revert(broker().redeem(wallet(kRecipient), make_ticket(dusd(10), kAlways, 5, /*signer=*/3)), "InvalidTicketSigner");

  // A tampered face value no longer matches the signature.
  auto tampered = make_ticket(dusd(10), kAlways, 6);
  tampered.ticket.face_value = dusd(99);
  expect_revert(broker().redeem(wallet(kRecipient), tampered), "InvalidTicketSigner");

  // Malleated (high-s) signature of a valid ticket is rejected.
  auto high_s = make_ticket(dusd(10), kAlways, 7);
  {
    // s' = n - s, with the recovery id flipped: the same signer, but not low-s.
    static const u256 n("0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141");
    u256 s = *from_be(high_s.sig.s);
    high_s.sig.s = to_be32(n - s);
    high_s.sig.recid ^= 1;
  }
  auto hs = broker().redeem(wallet(kRecipient), high_s);
  ASSERT_FALSE(hs);
  EXPECT_EQ(hs.error().code, Errc::reverted);

  // None of the failures paid anything.
  EXPECT_EQ(balance(kRecipient), before + dusd(10));
  EXPECT_EQ(broker().sender_info(wallet(kSender).address())->deposit, dusd(90));
}

TEST_F(BrokerTest, DepositThenReservePayouts) {
  // Two active providers: a frozen reserve is split in two allocations.
  for (size_t p : {1, 2}) {
    ASSERT_TRUE(registry().register_provider(wallet(p), "http://127.0.0.1:900" + std::to_string(p), ""));
    ASSERT_TRUE(registry().stake(wallet(p), token(), *registry().min_stake()));
  }
  ASSERT_TRUE(broker().fund(wallet(kSender), token(), dusd(15), dusd(40)));
  u256 before = balance(kRecipient);
  // 15 from the deposit, then 5 from the reserve (the freeze allocates 40 / 2 = 20 each).
  ASSERT_TRUE(broker().redeem(wallet(kRecipient), make_ticket(dusd(20), kAlways, 1)));
  EXPECT_EQ(balance(kRecipient), before + dusd(20));
  auto info = broker().sender_info(wallet(kSender).address());
  ASSERT_TRUE(info);
  EXPECT_EQ(info->deposit, 0);
  EXPECT_EQ(info->reserve, dusd(35));
  EXPECT_EQ(info->allocation, dusd(20));
  EXPECT_EQ(info->recipients, 2);
  // The recipient can take at most its allocation during the freeze: 15 more, not 30.
  ASSERT_TRUE(broker().redeem(wallet(kRecipient), make_ticket(dusd(30), kAlways, 2)));
  EXPECT_EQ(balance(kRecipient), before + dusd(35));
  EXPECT_EQ(broker().sender_info(wallet(kSender).address())->reserve, dusd(20));
  // Once unlocked (and the freeze over) the sender takes back what is left of the reserve.
  u256 sender_before = balance(kSender);
  ASSERT_TRUE(broker().unlock(wallet(kSender)));
  mine(kDelay);
  auto w = broker().withdraw(wallet(kSender));
  ASSERT_TRUE(w) << w.error().to_string();
  EXPECT_EQ(balance(kSender), sender_before + dusd(20));
}

TEST_F(BrokerTest, UnlockPeriodAndFundingCancelsUnlock) {
  auto& s = wallet(kSender);
  u256 start = balance(kSender);
  expect_revert(broker().unlock(s), "NoFunds");
  ASSERT_TRUE(broker().fund(s, token(), dusd(10), dusd(5)));
  EXPECT_EQ(balance(kSender), start - dusd(15));
  expect_revert(broker().withdraw(s), "NotUnlocking");
  auto u = broker().unlock(s);
  ASSERT_TRUE(u);
  EXPECT_EQ(broker().sender_info(s.address())->withdraw_block, u->block_number + kDelay);
  expect_revert(broker().unlock(s), "AlreadyUnlocking");
  expect_revert(broker().withdraw(s), "UnlockPeriodNotOver");
  // Funding again cancels the unlock.
  ASSERT_TRUE(broker().fund(s, token(), dusd(1), 0));
  EXPECT_EQ(broker().sender_info(s.address())->withdraw_block, 0u);
  ASSERT_TRUE(broker().unlock(s));
  ASSERT_TRUE(broker().cancel_unlock(s));
  expect_revert(broker().cancel_unlock(s), "NotUnlocking");
  ASSERT_TRUE(broker().unlock(s));
  mine(kDelay);
  auto w = broker().withdraw(s);
  ASSERT_TRUE(w) << w.error().to_string();
  EXPECT_EQ(balance(kSender), start);
  auto info = broker().sender_info(s.address());
  EXPECT_EQ(info->deposit, 0);
  EXPECT_EQ(info->reserve, 0);
}

TEST_F(BrokerTest, BatchRedeemSkipsBadTickets) {
  ASSERT_TRUE(broker().fund(wallet(kSender), token(), dusd(100), dusd(10)));
  u256 before = balance(kRecipient);
  std::vector<SignedTicket> batch;
  for (uint64_t i = 0; i < 5; ++i) batch.push_back(make_ticket(dusd(2), kAlways, 100 + i));
  batch.push_back(make_ticket(dusd(2), 0, 200));  // losing
  batch.push_back(batch[0]);                      // replay inside the batch
  auto forged = make_ticket(dusd(2), kAlways, 201, /*signer=*/3);
  batch.push_back(forged);
  auto r = broker().redeem_batch(wallet(kRecipient), batch);
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(balance(kRecipient), before + dusd(10));
  auto events = broker().contract().events(r->logs);
  ASSERT_TRUE(events);
  std::vector<uint64_t> reasons;
  for (const auto& e : *events)
    if (e.name == "TicketRedemptionFailed") reasons.push_back(*e.values.get("reason")->as_u64());
  EXPECT_EQ(reasons, (std::vector<uint64_t>{10, 4, 9}));  // NotWinning, AlreadyUsed, WrongSigner
  std::cout << "batch of " << batch.size() << " tickets (5 paid): gas " << r->gas_used << std::endl;
}

}  // namespace dgrid::eth
