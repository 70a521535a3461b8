// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.28;

import "./Common.sol";
import "./IProviderRegistry.sol";

// Segment Merkle verification, exactly as docs/formats/merkle.md defines it: 1024-byte segments
// (the last one unpadded), leaf = keccak256(segment), node = keccak256(left || right) in
// position order, the odd last node of a level promoted unchanged, proof = siblings bottom-up.

uint256 constant SEGMENT_SIZE = 1024;

function segmentCountOf(uint256 size) pure returns (uint256) {
    return (size + SEGMENT_SIZE - 1) / SEGMENT_SIZE;
}

function verifyMerkle(bytes32 root, bytes32 leaf, uint256 index, uint256 leafCount, bytes32[] calldata proof)
    pure
    returns (bool)
{
    if (index >= leafCount) return false;
    bytes32 h = leaf;
    uint256 k;
    uint256 n = leafCount;
    while (n > 1) {
        if (index & 1 == 1) {
            if (k >= proof.length) return false;
            h = keccak256(abi.encodePacked(proof[k], h));
            ++k;
        } else if (index + 1 < n) {
            if (k >= proof.length) return false;
            h = keccak256(abi.encodePacked(h, proof[k]));
            ++k;
        }
        index >>= 1;
        n = (n + 1) >> 1;
    }
    return k == proof.length && h == root;
}

function verifySegmentProof(bytes32 root, uint256 size, uint256 index, bytes calldata segment, bytes32[] calldata proof)
    pure
    returns (bool)
{
    uint256 count = segmentCountOf(size);
    if (index >= count) return false;
    uint256 rest = size - index * SEGMENT_SIZE;
    if (segment.length != (rest < SEGMENT_SIZE ? rest : SEGMENT_SIZE)) return false;
    return verifyMerkle(root, keccak256(segment), index, count, proof);
}

/// @title StorageMarket
/// @notice Perpetual storage deals with a one-time endowment (Arweave-style). A client opens a
/// deal for content (CID) with a segment Merkle root, size and replica count; the endowment is
/// split evenly into per-slot pools. Active ProviderRegistry providers claim slots by posting
/// collateral here. Time is cut into global epochs of `epochLength` blocks; every epoch from a
/// slot's start epoch on, its storer must prove the segment at
///   index = uint256(keccak256(abi.encode(blockhash(epoch * epochLength), dealId, slot))) % segmentCount
/// within that epoch. Each proof pays pool * payoutRatePpb / 1e9 from the slot's pool, so
/// payments decline geometrically like the assumed storage cost. An epoch that passes without a
/// proof can be reported by anyone: the collateral is slashed (reporterRewardBps to the
/// reporter, the rest back into the slot's pool to pay the repair) and the slot reopens.
contract StorageMarket is ReentrancyGuard {
    struct Deal {
        address client;
        bytes32 segmentRoot;
        uint64 size; // bytes
        uint8 replicas;
        uint64 openedBlock;
        bytes cid; // CIDv1 bytes (binary form)
    }

    struct Slot {
        address storer; // zero when open
        uint64 nextEpoch; // first epoch the storer still has to prove
        uint256 collateral;
        uint256 pool; // remaining endowment of this slot
    }

    uint256 public constant BPS = 10_000;
    uint256 public constant PPB = 1_000_000_000;
    uint8 public constant MAX_REPLICAS = 16;
    uint256 public constant MAX_CID_LENGTH = 128;
    /// Share of the collateral a storer forfeits (to the slot pool) when leaving voluntarily.
    uint256 public constant EXIT_PENALTY_BPS = 1_000;

    IERC20 public immutable token;
    IProviderRegistry public immutable registry;
    /// @notice Blocks per epoch (<= 256 so the epoch's start blockhash stays readable).
    uint64 public immutable epochLength;
    /// @notice Whole epochs a new storer gets to fetch the content before its first proof.
    uint64 public immutable claimGraceEpochs;
    /// @notice Part per billion of a slot's pool paid for each proven epoch.
    uint256 public immutable payoutRatePpb;
    /// @notice Collateral per slot = max(minSlotCollateral, slot pool * collateralBps / 10000).
    uint256 public immutable collateralBps;
    uint256 public immutable minSlotCollateral;
    /// @notice Share of a slashed collateral paid to whoever reports the missed proof.
    uint256 public immutable reporterRewardBps;

    uint256 public dealCount;
    mapping(uint256 => Deal) private _deals;
    mapping(uint256 => mapping(uint256 => Slot)) private _slots;
    mapping(uint256 => mapping(address => bool)) public isStoringDeal;

    event DealOpened(
        uint256 indexed dealId,
        address indexed client,
        bytes cid,
        bytes32 segmentRoot,
        uint64 size,
        uint8 replicas,
        uint256 endowment
    );
    event DealToppedUp(uint256 indexed dealId, address indexed from, uint256 amount);
    event SlotClaimed(
        uint256 indexed dealId, uint256 indexed slot, address indexed storer, uint256 collateral, uint64 startEpoch
    );
    event StorageProven(
        uint256 indexed dealId,
        uint256 indexed slot,
        address indexed storer,
        uint64 epoch,
        uint256 segmentIndex,
        uint256 payment
    );
    event StorageProofMissed(
        uint256 indexed dealId,
        uint256 indexed slot,
        address indexed storer,
        uint64 epoch,
        uint256 collateralSlashed,
        address reporter,
        uint256 reporterReward
    );
    event SlotLeft(uint256 indexed dealId, uint256 indexed slot, address indexed storer, uint256 returned, uint256 penalty);
    event SlotReopened(uint256 indexed dealId, uint256 indexed slot, uint256 pool);

    error ZeroAmount();
    error InvalidCid();
    error ZeroSize();
    error ZeroRoot();
    error InvalidReplicas(uint8 replicas);
    error EndowmentTooSmall(uint256 endowment, uint256 min);
    error UnknownDeal(uint256 dealId);
    error NotActiveStorer(address storer);
    error AlreadyStoringDeal(uint256 dealId);
    error NoOpenSlot(uint256 dealId);
    error InvalidSlot(uint256 slot);
    error SlotIsOpen(uint256 slot);
    error NotSlotStorer(address caller);
    error EpochNotCurrent(uint64 epoch, uint64 currentEpoch);
    error EpochNotDue(uint64 epoch, uint64 nextEpoch);
    error SlotInDefault(uint64 missedEpoch);
    error ChallengeUnavailable(uint64 epoch);
    error InvalidProof();
    error EpochNotMissed(uint64 epoch);
    error InvalidParameter();

    /// @param token_ settlement ERC-20
    /// @param registry_ ProviderRegistry: storers must be active providers to claim a slot
    /// @param epochLength_ blocks per epoch (2..256)
    /// @param claimGraceEpochs_ full epochs between a claim and the first required proof
    /// @param payoutRatePpb_ parts per billion of a slot pool paid per proven epoch (1..1e9)
    /// @param collateralBps_ collateral as a share of the slot pool
    /// @param minSlotCollateral_ collateral floor per slot
    /// @param reporterRewardBps_ share of a slashed collateral paid to the reporter (<= 10000)
    constructor(
        IERC20 token_,
        IProviderRegistry registry_,
        uint64 epochLength_,
        uint64 claimGraceEpochs_,
        uint256 payoutRatePpb_,
        uint256 collateralBps_,
        uint256 minSlotCollateral_,
        uint256 reporterRewardBps_
    ) {
        if (address(token_) == address(0) || address(registry_) == address(0)) revert ZeroAddress();
        if (epochLength_ < 2 || epochLength_ > 256) revert InvalidParameter();
        if (payoutRatePpb_ == 0 || payoutRatePpb_ > PPB || reporterRewardBps_ > BPS) revert InvalidParameter();
        token = token_;
        registry = registry_;
        epochLength = epochLength_;
        claimGraceEpochs = claimGraceEpochs_;
        payoutRatePpb = payoutRatePpb_;
        collateralBps = collateralBps_;
        minSlotCollateral = minSlotCollateral_;
        reporterRewardBps = reporterRewardBps_;
    }

    // ---------------------------------------------------------------- deals

    /// @notice Opens a perpetual deal and pulls `endowment` from the caller; the endowment is
    /// split evenly over `replicas` slot pools (the remainder of the division goes to slot 0).
    function openDeal(bytes calldata cid, bytes32 segmentRoot, uint64 size, uint8 replicas, uint256 endowment)
        external
        nonReentrant
        returns (uint256 dealId)
    {
        if (cid.length == 0 || cid.length > MAX_CID_LENGTH) revert InvalidCid();
        if (size == 0) revert ZeroSize();
        if (segmentRoot == bytes32(0)) revert ZeroRoot();
        if (replicas == 0 || replicas > MAX_REPLICAS) revert InvalidReplicas(replicas);
        if (endowment < replicas) revert EndowmentTooSmall(endowment, replicas);
        dealId = ++dealCount;
        Deal storage d = _deals[dealId];
        d.client = msg.sender;
        d.segmentRoot = segmentRoot;
        d.size = size;
        d.replicas = replicas;
        d.openedBlock = uint64(block.number);
        d.cid = cid;
        _addToPools(dealId, replicas, endowment);
        emit DealOpened(dealId, msg.sender, cid, segmentRoot, size, replicas, endowment);
        safeTransferFrom(token, msg.sender, address(this), endowment);
    }

    /// @notice Adds `amount` to a deal's slot pools (split as in openDeal). Anyone may pay.
    function topUp(uint256 dealId, uint256 amount) external nonReentrant {
        Deal storage d = _deal(dealId);
        if (amount == 0) revert ZeroAmount();
        _addToPools(dealId, d.replicas, amount);
        emit DealToppedUp(dealId, msg.sender, amount);
        safeTransferFrom(token, msg.sender, address(this), amount);
    }

    // ---------------------------------------------------------------- slots

    /// @notice Claims the lowest-numbered open slot of `dealId`. The caller must be an active
    /// provider, may hold only one slot per deal, and posts requiredCollateral(dealId, slot).
    /// Its first proof is due in epoch currentEpoch() + 1 + claimGraceEpochs.
    function claimSlot(uint256 dealId) external nonReentrant returns (uint256 slot) {
        Deal storage d = _deal(dealId);
        if (!registry.isActive(msg.sender)) revert NotActiveStorer(msg.sender);
        if (isStoringDeal[dealId][msg.sender]) revert AlreadyStoringDeal(dealId);
        uint256 n = d.replicas;
        for (slot = 0; slot < n; ++slot) {
            if (_slots[dealId][slot].storer == address(0)) break;
        }
        if (slot == n) revert NoOpenSlot(dealId);
        Slot storage s = _slots[dealId][slot];
        uint256 collateral = requiredCollateral(dealId, slot);
        uint64 start = currentEpoch() + 1 + claimGraceEpochs;
        s.storer = msg.sender;
        s.collateral = collateral;
        s.nextEpoch = start;
        isStoringDeal[dealId][msg.sender] = true;
        emit SlotClaimed(dealId, slot, msg.sender, collateral, start);
        if (collateral != 0) safeTransferFrom(token, msg.sender, address(this), collateral);
    }

    /// @notice Answers the challenge of the current epoch for (dealId, slot) and pays the
    /// epoch's share of the slot pool to the storer. Storer only. `epoch` must equal both
    /// currentEpoch() and the slot's next due epoch.
    function proveStorage(
        uint256 dealId,
        uint256 slot,
        uint64 epoch,
        bytes calldata segment,
        bytes32[] calldata proof
    ) external nonReentrant {
        Deal storage d = _deal(dealId);
        Slot storage s = _slotOf(dealId, d, slot);
        if (msg.sender != s.storer) revert NotSlotStorer(msg.sender);
        uint64 current = currentEpoch();
        if (epoch != current) revert EpochNotCurrent(epoch, current);
        if (s.nextEpoch < current) revert SlotInDefault(s.nextEpoch);
        if (s.nextEpoch > current) revert EpochNotDue(epoch, s.nextEpoch);
        uint256 index = challengeIndex(dealId, slot, epoch);
        if (!verifySegmentProof(d.segmentRoot, d.size, index, segment, proof)) revert InvalidProof();
        uint256 payment = s.pool * payoutRatePpb / PPB;
        s.pool -= payment;
        s.nextEpoch = current + 1;
        emit StorageProven(dealId, slot, msg.sender, epoch, index, payment);
        if (payment != 0) safeTransfer(token, msg.sender, payment);
    }

    /// @notice Reports that the storer of (dealId, slot) did not prove `epoch`, which must be
    /// the slot's next due epoch and already over. Anyone may call. Slashes the whole
    /// collateral: reporterRewardBps to the caller, the rest into the slot pool; the slot reopens.
    function reportMissedProof(uint256 dealId, uint256 slot, uint64 epoch) external nonReentrant {
        Deal storage d = _deal(dealId);
        Slot storage s = _slotOf(dealId, d, slot);
        if (epoch != s.nextEpoch || epoch >= currentEpoch()) revert EpochNotMissed(epoch);
        address storer = s.storer;
        uint256 collateral = s.collateral;
        uint256 reward = collateral * reporterRewardBps / BPS;
        s.pool += collateral - reward;
        _vacate(dealId, s, storer);
        emit StorageProofMissed(dealId, slot, storer, epoch, collateral, msg.sender, reward);
        emit SlotReopened(dealId, slot, s.pool);
        if (reward != 0) safeTransfer(token, msg.sender, reward);
    }

    /// @notice The storer gives up its slot while not in default (every due epoch proven).
    /// EXIT_PENALTY_BPS of the collateral goes to the slot pool, the rest back to the storer.
    function leaveSlot(uint256 dealId, uint256 slot) external nonReentrant {
        Deal storage d = _deal(dealId);
        Slot storage s = _slotOf(dealId, d, slot);
        if (msg.sender != s.storer) revert NotSlotStorer(msg.sender);
        if (s.nextEpoch < currentEpoch()) revert SlotInDefault(s.nextEpoch);
        uint256 collateral = s.collateral;
        uint256 penalty = collateral * EXIT_PENALTY_BPS / BPS;
        s.pool += penalty;
        _vacate(dealId, s, msg.sender);
        emit SlotLeft(dealId, slot, msg.sender, collateral - penalty, penalty);
        emit SlotReopened(dealId, slot, s.pool);
        if (collateral - penalty != 0) safeTransfer(token, msg.sender, collateral - penalty);
    }

    // ---------------------------------------------------------------- views

    /// @notice block.number / epochLength.
    function currentEpoch() public view returns (uint64) {
        return uint64(block.number / epochLength);
    }

    /// @notice First block of `epoch` (its hash seeds the epoch's challenges).
    function epochStartBlock(uint64 epoch) public view returns (uint256) {
        return uint256(epoch) * epochLength;
    }

    /// @notice Segment index challenged for (dealId, slot) in `epoch`:
    /// uint256(keccak256(abi.encode(blockhash(epochStartBlock(epoch)), dealId, slot))) % segmentCount.
    /// Reverts ChallengeUnavailable before the start block is mined or once its hash is gone.
    function challengeIndex(uint256 dealId, uint256 slot, uint64 epoch) public view returns (uint256) {
        Deal storage d = _deal(dealId);
        bytes32 bh = blockhash(epochStartBlock(epoch));
        if (bh == bytes32(0)) revert ChallengeUnavailable(epoch);
        return uint256(keccak256(abi.encode(bh, dealId, slot))) % segmentCountOf(d.size);
    }

    /// @notice Collateral a new storer of (dealId, slot) must post now.
    function requiredCollateral(uint256 dealId, uint256 slot) public view returns (uint256) {
        uint256 c = _slots[dealId][slot].pool * collateralBps / BPS;
        return c > minSlotCollateral ? c : minSlotCollateral;
    }

    /// @notice Number of segments of the deal's content.
    function segmentCount(uint256 dealId) external view returns (uint256) {
        return segmentCountOf(_deal(dealId).size);
    }

    function getDeal(uint256 dealId) external view returns (Deal memory) {
        return _deal(dealId);
    }

    function getSlot(uint256 dealId, uint256 slot) external view returns (Slot memory) {
        return _slots[dealId][slot];
    }

    /// @notice Stateless check of a segment proof (docs/formats/merkle.md), for cross-checks.
    function verifySegment(bytes32 root, uint256 size, uint256 index, bytes calldata segment, bytes32[] calldata proof)
        external
        pure
        returns (bool)
    {
        return verifySegmentProof(root, size, index, segment, proof);
    }

    // ---------------------------------------------------------------- internals

    function _deal(uint256 dealId) private view returns (Deal storage d) {
        d = _deals[dealId];
        if (d.client == address(0)) revert UnknownDeal(dealId);
    }

    function _slotOf(uint256 dealId, Deal storage d, uint256 slot) private view returns (Slot storage s) {
        if (slot >= d.replicas) revert InvalidSlot(slot);
        s = _slots[dealId][slot];
        if (s.storer == address(0)) revert SlotIsOpen(slot);
    }

    function _addToPools(uint256 dealId, uint256 replicas, uint256 amount) private {
        uint256 each = amount / replicas;
        _slots[dealId][0].pool += each + (amount - each * replicas);
        for (uint256 i = 1; i < replicas; ++i) _slots[dealId][i].pool += each;
    }

    function _vacate(uint256 dealId, Slot storage s, address storer) private {
        s.storer = address(0);
        s.collateral = 0;
        s.nextEpoch = 0;
        isStoringDeal[dealId][storer] = false;
    }
}
