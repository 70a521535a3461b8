// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.28;

import "./Common.sol";
import "./IProviderRegistry.sol";

/// @title TicketBroker
/// @notice Probabilistic micropayments after Livepeer's design. A sender (gateway) locks a
/// deposit, which pays winning tickets, and a reserve, which guarantees recipients against a
/// sender that spends its deposit twice. Tickets are EIP-712 signed by the sender; a ticket
/// wins when uint256(keccak256(abi.encodePacked(sig, recipientRand))) < winProb, where the
/// recipient committed to recipientRand (as recipientRandHash) before the sender signed.
///
/// Reserve rule: when a winning ticket exceeds the sender's deposit, the sender's reserve is
/// frozen for `reserveFreezePeriod` blocks (if not already frozen). At the freeze the
/// allocation per recipient is frozenReserve / max(1, registry.activeProviderCount()); during
/// the freeze each recipient may take at most that allocation from the reserve in total. The
/// sender cannot withdraw while the reserve is frozen. A later deficit after the freeze ends
/// starts a new freeze from the reserve then left.
contract TicketBroker is EIP712, ReentrancyGuard {
    struct Ticket {
        address recipient; // paid on a win; anyone may submit the redemption
        address sender; // must be the EIP-712 signer; funds come from its deposit/reserve
        uint256 faceValue; // paid on a win (token base units)
        uint256 winProb; // wins iff uint256(keccak256(sig || recipientRand)) < winProb
        uint256 senderNonce; // makes tickets with the same recipientRandHash distinct
        bytes32 recipientRandHash; // keccak256(abi.encodePacked(uint256 recipientRand))
        uint256 expirationBlock; // redeemable while block.number <= expirationBlock
        bytes32 auxData; // opaque to the contract (e.g. session id); signed, so binding
    }

    struct SenderInfo {
        uint256 deposit;
        uint256 reserve;
        uint64 withdrawBlock; // 0 = not unlocking; else first block `withdraw` is allowed
    }

    struct ReserveInfo {
        uint256 frozenReserve; // reserve at the moment of the freeze
        uint256 allocation; // most each recipient may claim during the freeze
        uint256 recipients; // divisor used for `allocation`
        uint64 freezeEndBlock; // frozen while block.number < freezeEndBlock
        uint64 freezeId; // increments per freeze; keys the per-recipient claimed amounts
    }

    /// Why a ticket in a batch was skipped (TicketRedemptionFailed.reason).
    enum Failure {
        None,
        InvalidRecipient, // 1: recipient is the zero address
        Expired, // 2: block.number > expirationBlock
        InvalidRecipientRand, // 3: keccak256(recipientRand) != recipientRandHash
        AlreadyUsed, // 4: usedTickets[ticketHash]
        BadSignatureLength, // 5
        BadSignatureS, // 6: s > n/2
        BadSignatureV, // 7: v not 27/28
        NoSigner, // 8: ecrecover returned 0
        WrongSigner, // 9: recovered signer != ticket.sender
        NotWinning, // 10
        SenderHasNoFunds // 11: deposit and reserve both zero
    }

    bytes32 public constant TICKET_TYPEHASH = keccak256(
        "Ticket(address recipient,address sender,uint256 faceValue,uint256 winProb,uint256 senderNonce,bytes32 recipientRandHash,uint256 expirationBlock,bytes32 auxData)"
    );

    IERC20 public immutable token;
    IProviderRegistry public immutable registry;
    /// @notice Blocks between `unlock` and the earliest `withdraw`.
    uint64 public immutable unlockPeriod;
    /// @notice Blocks a reserve stays frozen after the first deficit.
    uint64 public immutable reserveFreezePeriod;

    mapping(address => SenderInfo) private _senders;
    mapping(address => ReserveInfo) private _reserves;
    // sender => freezeId => recipient => claimed from the reserve during that freeze
    mapping(address => mapping(uint256 => mapping(address => uint256))) private _claimed;
    /// @notice Redeemed tickets by EIP-712 digest (ticketHash).
    mapping(bytes32 => bool) public usedTickets;

    event DepositFunded(address indexed sender, uint256 amount, uint256 deposit);
    event ReserveFunded(address indexed sender, uint256 amount, uint256 reserve);
    event WinningTicketRedeemed(
        bytes32 indexed ticketHash,
        address indexed sender,
        address indexed recipient,
        uint256 faceValue,
        uint256 winProb,
        uint256 senderNonce,
        uint256 recipientRand,
        bytes32 auxData,
        uint256 paid
    );
    event WinningTicketTransfer(address indexed sender, address indexed recipient, uint256 amount);
    event ReserveFrozen(
        address indexed sender, uint64 freezeId, uint256 reserve, uint256 recipients, uint256 allocation, uint64 endBlock
    );
    event ReserveClaimed(address indexed sender, address indexed recipient, uint64 freezeId, uint256 amount);
    event TicketRedemptionFailed(uint256 indexed index, bytes32 indexed ticketHash, uint8 reason);
    event Unlock(address indexed sender, uint64 startBlock, uint64 endBlock);
    event UnlockCancelled(address indexed sender);
    event Withdrawal(address indexed sender, uint256 deposit, uint256 reserve);

    error ZeroAmount();
    error InvalidRecipient();
    error TicketExpired(uint256 expirationBlock, uint256 blockNumber);
    error InvalidRecipientRand();
    error TicketAlreadyUsed(bytes32 ticketHash);
    error InvalidTicketSigner(address signer, address sender);
    error TicketNotWinning();
    error SenderHasNoFunds(address sender);
    error LengthMismatch();
    error AlreadyUnlocking(uint64 withdrawBlock);
    error NotUnlocking();
    error UnlockPeriodNotOver(uint64 withdrawBlock);
    error ReserveIsFrozen(uint64 freezeEndBlock);
    error NoFunds();
    error InvalidParameter();

    /// @param token_ settlement ERC-20
    /// @param registry_ ProviderRegistry (its activeProviderCount divides a frozen reserve)
    /// @param unlockPeriod_ blocks from `unlock` to `withdraw` (> 0)
    /// @param reserveFreezePeriod_ blocks a reserve stays frozen after a deficit (> 0)
    constructor(IERC20 token_, IProviderRegistry registry_, uint64 unlockPeriod_, uint64 reserveFreezePeriod_) {
        if (address(token_) == address(0) || address(registry_) == address(0)) revert ZeroAddress();
        if (unlockPeriod_ == 0 || reserveFreezePeriod_ == 0) revert InvalidParameter();
        token = token_;
        registry = registry_;
        unlockPeriod = unlockPeriod_;
        reserveFreezePeriod = reserveFreezePeriod_;
    }

    // ---------------------------------------------------------------- funding

    /// @notice Adds `amount` to the caller's deposit. Cancels a pending unlock.
    function fundDeposit(uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        _fund(amount, 0);
    }

    /// @notice Adds `amount` to the caller's reserve. Cancels a pending unlock.
    function fundReserve(uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        _fund(0, amount);
    }

    /// @notice Adds to both deposit and reserve in one transfer. Cancels a pending unlock.
    function fundDepositAndReserve(uint256 depositAmount, uint256 reserveAmount) external nonReentrant {
        if (depositAmount == 0 && reserveAmount == 0) revert ZeroAmount();
        _fund(depositAmount, reserveAmount);
    }

    // ---------------------------------------------------------------- unlock / withdraw

    /// @notice Starts the unlock period; `withdraw` is allowed from block.number + unlockPeriod.
    function unlock() external {
        SenderInfo storage s = _senders[msg.sender];
        if (s.deposit == 0 && s.reserve == 0) revert NoFunds();
        if (s.withdrawBlock != 0) revert AlreadyUnlocking(s.withdrawBlock);
        uint64 end = uint64(block.number) + unlockPeriod;
        s.withdrawBlock = end;
        emit Unlock(msg.sender, uint64(block.number), end);
    }

    /// @notice Cancels a pending unlock.
    function cancelUnlock() external {
        SenderInfo storage s = _senders[msg.sender];
        if (s.withdrawBlock == 0) revert NotUnlocking();
        s.withdrawBlock = 0;
        emit UnlockCancelled(msg.sender);
    }

    /// @notice Returns the whole deposit and reserve once the unlock period is over and the
    /// reserve is not frozen.
    function withdraw() external nonReentrant {
        SenderInfo storage s = _senders[msg.sender];
        if (s.withdrawBlock == 0) revert NotUnlocking();
        if (block.number < s.withdrawBlock) revert UnlockPeriodNotOver(s.withdrawBlock);
        uint64 freezeEnd = _reserves[msg.sender].freezeEndBlock;
        if (block.number < freezeEnd) revert ReserveIsFrozen(freezeEnd);
        uint256 deposit = s.deposit;
        uint256 reserve = s.reserve;
        if (deposit == 0 && reserve == 0) revert NoFunds();
        s.deposit = 0;
        s.reserve = 0;
        s.withdrawBlock = 0;
        emit Withdrawal(msg.sender, deposit, reserve);
        safeTransfer(token, msg.sender, deposit + reserve);
    }

    // ---------------------------------------------------------------- redemption

    /// @notice Redeems one winning ticket; pays ticket.recipient (anyone may submit). Reverts
    /// with a specific error for each failed check (see docs/contracts.md for the order).
    function redeemWinningTicket(Ticket calldata ticket, bytes calldata sig, uint256 recipientRand)
        external
        nonReentrant
    {
        (Failure f, bytes32 h, uint256 paid) = _redeem(ticket, sig, recipientRand);
        if (f != Failure.None) _revertFor(f, ticket, sig, h);
        if (paid != 0) safeTransfer(token, ticket.recipient, paid);
    }

    /// @notice Redeems many tickets. A ticket that fails a check is skipped with a
    /// TicketRedemptionFailed(index, ticketHash, reason) event instead of reverting the batch.
    /// Consecutive tickets for the same recipient are paid with one token transfer.
    function batchRedeemWinningTickets(
        Ticket[] calldata tickets,
        bytes[] calldata sigs,
        uint256[] calldata recipientRands
    ) external nonReentrant {
        uint256 n = tickets.length;
        if (sigs.length != n || recipientRands.length != n) revert LengthMismatch();
        address pendingTo;
        uint256 pendingAmount;
        for (uint256 i; i < n; ++i) {
            Ticket calldata t = tickets[i];
            (Failure f, bytes32 h, uint256 paid) = _redeem(t, sigs[i], recipientRands[i]);
            if (f != Failure.None) {
                emit TicketRedemptionFailed(i, h, uint8(f));
                continue;
            }
            if (paid == 0) continue;
            if (t.recipient != pendingTo) {
                if (pendingAmount != 0) safeTransfer(token, pendingTo, pendingAmount);
                pendingTo = t.recipient;
                pendingAmount = 0;
            }
            pendingAmount += paid;
        }
        if (pendingAmount != 0) safeTransfer(token, pendingTo, pendingAmount);
    }

    // ---------------------------------------------------------------- views

    /// @notice EIP-712 digest of `ticket` (the value signed by the sender and the usedTickets key).
    function ticketHash(Ticket calldata ticket) public view returns (bytes32) {
        return _hashTypedData(keccak256(abi.encode(TICKET_TYPEHASH, ticket)));
    }

    /// @notice Whether `sig` and `recipientRand` make `ticket` a winner (ignores other checks).
    function isWinningTicket(bytes calldata sig, uint256 recipientRand, uint256 winProb) public pure returns (bool) {
        return uint256(keccak256(abi.encodePacked(sig, recipientRand))) < winProb;
    }

    /// @notice Deposit, reserve and unlock state of `sender`.
    function getSenderInfo(address sender) external view returns (SenderInfo memory info, ReserveInfo memory reserve) {
        return (_senders[sender], _reserves[sender]);
    }

    /// @notice Whether `sender` has a pending unlock.
    function isUnlockInProgress(address sender) external view returns (bool) {
        return _senders[sender].withdrawBlock != 0;
    }

    /// @notice What `recipient` could still take from `sender`'s reserve now: the unclaimed
    /// allocation of the current freeze, or (when not frozen) the allocation a freeze started now
    /// would give. Capped by the reserve.
    function claimableReserve(address sender, address recipient) external view returns (uint256) {
        ReserveInfo storage r = _reserves[sender];
        uint256 reserve = _senders[sender].reserve;
        uint256 left;
        if (block.number < r.freezeEndBlock) {
            left = r.allocation - _claimed[sender][r.freezeId][recipient];
        } else {
            left = reserve / _recipientCount();
        }
        return left < reserve ? left : reserve;
    }

    /// @notice Amount `recipient` took from `sender`'s reserve during freeze `freezeId`.
    function claimedReserve(address sender, uint64 freezeId, address recipient) external view returns (uint256) {
        return _claimed[sender][freezeId][recipient];
    }

    // ---------------------------------------------------------------- internals

    function _fund(uint256 depositAmount, uint256 reserveAmount) private {
        SenderInfo storage s = _senders[msg.sender];
        if (depositAmount != 0) {
            s.deposit += depositAmount;
            emit DepositFunded(msg.sender, depositAmount, s.deposit);
        }
        if (reserveAmount != 0) {
            s.reserve += reserveAmount;
            emit ReserveFunded(msg.sender, reserveAmount, s.reserve);
        }
        if (s.withdrawBlock != 0) {
            s.withdrawBlock = 0;
            emit UnlockCancelled(msg.sender);
        }
        safeTransferFrom(token, msg.sender, address(this), depositAmount + reserveAmount);
    }

    /// Checks a ticket and, when it passes, marks it used and debits the sender. Returns the
    /// amount owed to ticket.recipient (the caller transfers it).
    function _redeem(Ticket calldata t, bytes calldata sig, uint256 rand)
        private
        returns (Failure, bytes32 h, uint256 paid)
    {
        if (t.recipient == address(0)) return (Failure.InvalidRecipient, h, 0);
        h = ticketHash(t);
        if (block.number > t.expirationBlock) return (Failure.Expired, h, 0);
        if (keccak256(abi.encodePacked(rand)) != t.recipientRandHash) return (Failure.InvalidRecipientRand, h, 0);
        if (usedTickets[h]) return (Failure.AlreadyUsed, h, 0);
        (address signer, uint8 err) = tryRecoverSigner(h, sig);
        if (err != SIG_OK) return (Failure(uint8(Failure.BadSignatureLength) + err - 1), h, 0);
        if (signer != t.sender) return (Failure.WrongSigner, h, 0);
        if (!isWinningTicket(sig, rand, t.winProb)) return (Failure.NotWinning, h, 0);
        SenderInfo storage s = _senders[t.sender];
        if (s.deposit == 0 && s.reserve == 0) return (Failure.SenderHasNoFunds, h, 0);

        usedTickets[h] = true;
        uint256 face = t.faceValue;
        uint256 fromDeposit = face < s.deposit ? face : s.deposit;
        if (fromDeposit != 0) {
            unchecked {
                s.deposit -= fromDeposit;
            }
            emit WinningTicketTransfer(t.sender, t.recipient, fromDeposit);
        }
        paid = fromDeposit;
        if (face > fromDeposit) paid += _claimFromReserve(s, t.sender, t.recipient, face - fromDeposit);
        _emitRedeemed(t, h, rand, paid);
        return (Failure.None, h, paid);
    }

    function _emitRedeemed(Ticket calldata t, bytes32 h, uint256 rand, uint256 paid) private {
        emit WinningTicketRedeemed(h, t.sender, t.recipient, t.faceValue, t.winProb, t.senderNonce, rand, t.auxData, paid);
    }

    function _claimFromReserve(SenderInfo storage s, address sender, address recipient, uint256 need)
        private
        returns (uint256 amount)
    {
        uint256 reserve = s.reserve;
        if (reserve == 0) return 0;
        ReserveInfo storage r = _reserves[sender];
        if (block.number >= r.freezeEndBlock) {
            uint256 recipients = _recipientCount();
            uint64 id = r.freezeId + 1;
            uint64 end = uint64(block.number) + reserveFreezePeriod;
            r.frozenReserve = reserve;
            r.recipients = recipients;
            r.allocation = reserve / recipients;
            r.freezeEndBlock = end;
            r.freezeId = id;
            emit ReserveFrozen(sender, id, reserve, recipients, r.allocation, end);
        }
        uint64 freezeId = r.freezeId;
        uint256 claimed = _claimed[sender][freezeId][recipient];
        uint256 left = r.allocation - claimed;
        amount = need < left ? need : left;
        if (amount > reserve) amount = reserve;
        if (amount == 0) return 0;
        _claimed[sender][freezeId][recipient] = claimed + amount;
        unchecked {
            s.reserve = reserve - amount;
        }
        emit ReserveClaimed(sender, recipient, freezeId, amount);
    }

    function _recipientCount() private view returns (uint256 n) {
        n = registry.activeProviderCount();
        if (n == 0) n = 1;
    }

    function _revertFor(Failure f, Ticket calldata t, bytes calldata sig, bytes32 h) private view {
        if (f == Failure.InvalidRecipient) revert InvalidRecipient();
        if (f == Failure.Expired) revert TicketExpired(t.expirationBlock, block.number);
        if (f == Failure.InvalidRecipientRand) revert InvalidRecipientRand();
        if (f == Failure.AlreadyUsed) revert TicketAlreadyUsed(h);
        if (f == Failure.BadSignatureLength) revertSignatureError(SIG_BAD_LENGTH, sig);
        if (f == Failure.BadSignatureS) revertSignatureError(SIG_HIGH_S, sig);
        if (f == Failure.BadSignatureV) revertSignatureError(SIG_BAD_V, sig);
        if (f == Failure.NoSigner) revertSignatureError(SIG_NO_SIGNER, sig);
        if (f == Failure.WrongSigner) revert InvalidTicketSigner(recoverSigner(h, sig), t.sender);
        if (f == Failure.NotWinning) revert TicketNotWinning();
        revert SenderHasNoFunds(t.sender);
    }
}
