// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.28;

import "./Common.sol";
import "./IProviderRegistry.sol";

/// @title Disputes
/// @notice A challenger contests a provider's signed inference receipt by posting it with the
/// canonical request bytes, its own output hash and a bond. Jurors drawn from staked providers
/// of the model (weighted by stake) re-execute the request and vote by commit-reveal; a strict
/// majority of the drawn jurors decides. Lifecycle:
///   openDispute -> (one block later) drawJurors -> commitVote* -> revealVote* -> resolve.
/// Payouts are credited and pulled with `claim` so no single failing transfer blocks a dispute.
contract Disputes is EIP712, ReentrancyGuard {
    struct Receipt {
        bytes32 jobId;
        address provider;
        bytes32 model;
        bytes32 inputHash; // keccak256(canonical request encoding)
        bytes32 outputHash; // keccak256(output token ids, uint32 little-endian)
        uint64 promptTokens;
        uint64 completionTokens;
        uint256 cost;
        uint256 chainId;
        uint64 timestamp; // unix seconds
    }

    enum Status {
        None,
        AwaitingJurors, // opened; jurors are drawn from blockhash(selectionBlock)
        Voting, // jurors drawn; commit then reveal
        Resolved
    }

    enum Outcome {
        None,
        ProviderWins, // majority == receipt.outputHash: challenger loses the bond
        ChallengerWins, // majority == challengerOutputHash: provider slashed, challenger rewarded
        ProviderFault, // majority is a third hash: provider slashed, bond returned, no reward
        NoMajority, // no strict majority: bond returned
        NoJurors // nobody eligible to judge: bond returned
    }

    struct Dispute {
        address challenger;
        address provider;
        bytes32 model;
        bytes32 receiptDigest;
        bytes32 receiptOutputHash;
        bytes32 challengerOutputHash;
        uint256 bond;
        uint64 selectionBlock;
        uint64 commitDeadline; // commits allowed while block.number <= commitDeadline
        uint64 revealDeadline; // reveals allowed in (commitDeadline, revealDeadline]
        Status status;
        Outcome outcome;
        address[] jurors;
    }

    struct Vote {
        bytes32 commitment;
        bytes32 outputHash; // 0 until revealed
    }

    bytes32 public constant RECEIPT_TYPEHASH = keccak256(
        "Receipt(bytes32 jobId,address provider,bytes32 model,bytes32 inputHash,bytes32 outputHash,uint64 promptTokens,uint64 completionTokens,uint256 cost,uint256 chainId,uint64 timestamp)"
    );
    uint256 public constant BPS = 10_000;
    /// Share of a provider slash paid to a challenger whose hash the majority confirmed.
    uint256 public constant CHALLENGER_REWARD_BPS = 5_000;
    /// Share of a provider slash paid to the majority jurors (the rest is burned by the registry).
    uint256 public constant JUROR_SLASH_REWARD_BPS = 2_500;
    /// Share of a lost challenger bond paid to the majority jurors (the rest goes to the provider).
    uint256 public constant JUROR_BOND_REWARD_BPS = 5_000;
    uint256 public constant MAX_REQUEST_BYTES = 128 * 1024;
    uint256 public constant MAX_JURORS = 15;
    bytes32 public constant REASON_PROVIDER = "dispute.provider";
    bytes32 public constant REASON_JUROR = "dispute.juror";

    IERC20 public immutable token;
    IProviderRegistry public immutable registry;
    /// @notice Bond a challenger posts with openDispute.
    uint256 public immutable challengeBond;
    /// @notice Amount slashed from a provider the majority finds at fault.
    uint256 public immutable providerSlashAmount;
    /// @notice Amount slashed from a juror who does not reveal or votes against the majority.
    uint256 public immutable jurorPenalty;
    uint64 public immutable commitWindow;
    uint64 public immutable revealWindow;
    uint256 public immutable jurorCount;
    /// @notice A receipt older than this (seconds, by block.timestamp) can no longer be disputed.
    uint64 public immutable maxReceiptAge;

    uint256 public disputeCount;
    mapping(uint256 => Dispute) private _disputes;
    mapping(uint256 => mapping(address => Vote)) private _votes;
    /// @notice Per receipt digest: 0 = never disputed or cleared, else the open (or, if the
    /// provider was found at fault, the final) dispute id. A faulted receipt cannot be re-disputed.
    mapping(bytes32 => uint256) public disputeOfReceipt;
    /// @notice Tokens credited to an account and not yet claimed.
    mapping(address => uint256) public claimable;

    event DisputeOpened(
        uint256 indexed disputeId,
        address indexed challenger,
        address indexed provider,
        bytes32 model,
        bytes32 jobId,
        bytes32 receiptDigest,
        bytes32 inputHash,
        bytes32 receiptOutputHash,
        bytes32 challengerOutputHash,
        uint256 bond,
        uint64 selectionBlock,
        bytes request
    );
    event JurySelectionRestarted(uint256 indexed disputeId, uint64 selectionBlock);
    event JurorsSelected(
        uint256 indexed disputeId, address[] jurors, uint256 seed, uint64 commitDeadline, uint64 revealDeadline
    );
    event VoteCommitted(uint256 indexed disputeId, address indexed juror, bytes32 commitment);
    event VoteRevealed(uint256 indexed disputeId, address indexed juror, bytes32 outputHash);
    event DisputeResolved(
        uint256 indexed disputeId, Outcome outcome, bytes32 majorityHash, uint256 majorityVotes, uint256 providerSlashed
    );
    event JurorPenalized(uint256 indexed disputeId, address indexed juror, uint256 slashed);
    event RewardCredited(uint256 indexed disputeId, address indexed account, uint256 amount);
    event Claimed(address indexed account, uint256 amount);

    error WrongChain(uint256 chainId);
    error ReceiptSignerMismatch(address signer, address provider);
    error InputHashMismatch(bytes32 expected, bytes32 actual);
    error RequestTooLarge(uint256 length, uint256 max);
    error SameOutputHash();
    error ZeroOutputHash();
    error SelfDispute();
    error ReceiptTooOld(uint64 timestamp, uint256 nowTs);
    error ReceiptAlreadyDisputed(uint256 disputeId);
    error UnknownDispute(uint256 disputeId);
    error WrongStatus(Status status);
    error SelectionBlockNotReached(uint64 selectionBlock);
    error NotJuror(address account);
    error CommitPhaseOver(uint64 commitDeadline);
    error AlreadyCommitted();
    error RevealPhaseNotStarted(uint64 commitDeadline);
    error RevealPhaseOver(uint64 revealDeadline);
    error NoCommitment();
    error AlreadyRevealed();
    error CommitmentMismatch();
    error RevealPhaseNotOver(uint64 revealDeadline);
    error NothingToClaim();
    error InvalidParameter();

    /// @param token_ settlement ERC-20 (bonds and rewards)
    /// @param registry_ ProviderRegistry (juror selection and slashing; wire this contract as a slasher)
    /// @param challengeBond_ bond per dispute
    /// @param providerSlashAmount_ slash for a provider found at fault
    /// @param jurorPenalty_ slash for a non-revealing or minority juror
    /// @param commitWindow_ blocks for commits after jurors are drawn
    /// @param revealWindow_ blocks for reveals after the commit window
    /// @param jurorCount_ jurors per dispute (odd recommended; 1..MAX_JURORS)
    /// @param maxReceiptAge_ seconds after receipt.timestamp during which it can be disputed
    constructor(
        IERC20 token_,
        IProviderRegistry registry_,
        uint256 challengeBond_,
        uint256 providerSlashAmount_,
        uint256 jurorPenalty_,
        uint64 commitWindow_,
        uint64 revealWindow_,
        uint256 jurorCount_,
        uint64 maxReceiptAge_
    ) {
        if (address(token_) == address(0) || address(registry_) == address(0)) revert ZeroAddress();
        if (commitWindow_ == 0 || revealWindow_ == 0 || jurorCount_ == 0 || jurorCount_ > MAX_JURORS) {
            revert InvalidParameter();
        }
        token = token_;
        registry = registry_;
        challengeBond = challengeBond_;
        providerSlashAmount = providerSlashAmount_;
        jurorPenalty = jurorPenalty_;
        commitWindow = commitWindow_;
        revealWindow = revealWindow_;
        jurorCount = jurorCount_;
        maxReceiptAge = maxReceiptAge_;
    }

    // ---------------------------------------------------------------- lifecycle

    /// @notice Opens a dispute against `receipt` (signed by receipt.provider under this
    /// contract's EIP-712 domain). `request` is the canonical request encoding; its keccak256 must
    /// equal receipt.inputHash. Pulls `challengeBond` from the caller and holds the provider's
    /// stake withdrawals until resolution. Jurors are drawn by `drawJurors` from the next block.
    function openDispute(
        Receipt calldata receipt,
        bytes calldata providerSig,
        bytes calldata request,
        bytes32 challengerOutputHash
    ) external nonReentrant returns (uint256 disputeId) {
        if (receipt.chainId != block.chainid) revert WrongChain(receipt.chainId);
        if (request.length > MAX_REQUEST_BYTES) revert RequestTooLarge(request.length, MAX_REQUEST_BYTES);
        bytes32 inputHash = keccak256(request);
        if (inputHash != receipt.inputHash) revert InputHashMismatch(receipt.inputHash, inputHash);
        if (challengerOutputHash == bytes32(0)) revert ZeroOutputHash();
        if (challengerOutputHash == receipt.outputHash) revert SameOutputHash();
        if (msg.sender == receipt.provider) revert SelfDispute();
        if (block.timestamp > uint256(receipt.timestamp) + maxReceiptAge) {
            revert ReceiptTooOld(receipt.timestamp, block.timestamp);
        }
        bytes32 digest = receiptHash(receipt);
        address signer = recoverSigner(digest, providerSig);
        if (signer != receipt.provider) revert ReceiptSignerMismatch(signer, receipt.provider);
        uint256 existing = disputeOfReceipt[digest];
        if (existing != 0) revert ReceiptAlreadyDisputed(existing);

        disputeId = ++disputeCount;
        disputeOfReceipt[digest] = disputeId;
        Dispute storage d = _disputes[disputeId];
        d.challenger = msg.sender;
        d.provider = receipt.provider;
        d.model = receipt.model;
        d.receiptDigest = digest;
        d.receiptOutputHash = receipt.outputHash;
        d.challengerOutputHash = challengerOutputHash;
        d.bond = challengeBond;
        d.selectionBlock = uint64(block.number) + 1;
        d.status = Status.AwaitingJurors;
        _emitOpened(disputeId, receipt, digest, challengerOutputHash, request, d.selectionBlock);

        registry.holdWithdrawals(receipt.provider);
        if (challengeBond != 0) safeTransferFrom(token, msg.sender, address(this), challengeBond);
    }

    /// @notice Draws the jury from seed = uint256(keccak256(abi.encode(blockhash(selectionBlock),
    /// disputeId))) once block.number > selectionBlock. Anyone may call. If the selection block
    /// is older than 256 blocks its hash is gone: selection restarts at the current block.
    /// If nobody is eligible the dispute resolves as NoJurors (bond returned).
    function drawJurors(uint256 disputeId) external {
        Dispute storage d = _disputeIn(disputeId, Status.AwaitingJurors);
        if (block.number <= d.selectionBlock) revert SelectionBlockNotReached(d.selectionBlock);
        bytes32 bh = blockhash(d.selectionBlock);
        if (bh == bytes32(0)) {
            d.selectionBlock = uint64(block.number);
            emit JurySelectionRestarted(disputeId, d.selectionBlock);
            return;
        }
        uint256 seed = uint256(keccak256(abi.encode(bh, disputeId)));
        address[] memory exclude = new address[](2);
        exclude[0] = d.provider;
        exclude[1] = d.challenger;
        address[] memory jurors = registry.selectJurors(d.model, seed, jurorCount, exclude);
        if (jurors.length == 0) {
            _credit(disputeId, d.challenger, d.bond);
            _finish(disputeId, d, Outcome.NoJurors, bytes32(0), 0, 0);
            return;
        }
        d.jurors = jurors;
        d.status = Status.Voting;
        d.commitDeadline = uint64(block.number) + commitWindow;
        d.revealDeadline = d.commitDeadline + revealWindow;
        emit JurorsSelected(disputeId, jurors, seed, d.commitDeadline, d.revealDeadline);
    }

    /// @notice Juror commits keccak256(abi.encode(disputeId, outputHash, salt, msg.sender)) while
    /// block.number <= commitDeadline. One commitment per juror.
    function commitVote(uint256 disputeId, bytes32 commitment) external {
        Dispute storage d = _disputeIn(disputeId, Status.Voting);
        if (!_isJuror(d, msg.sender)) revert NotJuror(msg.sender);
        if (block.number > d.commitDeadline) revert CommitPhaseOver(d.commitDeadline);
        Vote storage v = _votes[disputeId][msg.sender];
        if (v.commitment != bytes32(0)) revert AlreadyCommitted();
        v.commitment = commitment;
        emit VoteCommitted(disputeId, msg.sender, commitment);
    }

    /// @notice Juror reveals its output hash and salt in (commitDeadline, revealDeadline].
    function revealVote(uint256 disputeId, bytes32 outputHash, bytes32 salt) external {
        Dispute storage d = _disputeIn(disputeId, Status.Voting);
        if (block.number <= d.commitDeadline) revert RevealPhaseNotStarted(d.commitDeadline);
        if (block.number > d.revealDeadline) revert RevealPhaseOver(d.revealDeadline);
        if (outputHash == bytes32(0)) revert ZeroOutputHash();
        Vote storage v = _votes[disputeId][msg.sender];
        if (v.commitment == bytes32(0)) revert NoCommitment();
        if (v.outputHash != bytes32(0)) revert AlreadyRevealed();
        if (voteCommitment(disputeId, outputHash, salt, msg.sender) != v.commitment) revert CommitmentMismatch();
        v.outputHash = outputHash;
        emit VoteRevealed(disputeId, msg.sender, outputHash);
    }

    /// @notice Tallies the reveals once block.number > revealDeadline. Anyone may call.
    /// A hash revealed by more than half of the drawn jurors is the majority. Then:
    /// receipt hash -> ProviderWins; challenger hash -> ChallengerWins; another hash ->
    /// ProviderFault; none -> NoMajority. Jurors who did not reveal, or (when a majority exists)
    /// revealed another hash, are slashed `jurorPenalty`; majority jurors share the rewards.
    function resolve(uint256 disputeId) external nonReentrant {
        Dispute storage d = _disputeIn(disputeId, Status.Voting);
        if (block.number <= d.revealDeadline) revert RevealPhaseNotOver(d.revealDeadline);
        (bytes32 majority, uint256 votes) = _tally(disputeId, d.jurors);
        bool hasMajority = votes * 2 > d.jurors.length;

        Outcome outcome;
        uint256 jurorPool;
        uint256 providerSlashed;
        if (!hasMajority) {
            outcome = Outcome.NoMajority;
            majority = bytes32(0);
            _credit(disputeId, d.challenger, d.bond);
        } else if (majority == d.receiptOutputHash) {
            outcome = Outcome.ProviderWins;
            jurorPool = d.bond * JUROR_BOND_REWARD_BPS / BPS;
            _credit(disputeId, d.provider, d.bond - jurorPool);
        } else {
            outcome = majority == d.challengerOutputHash ? Outcome.ChallengerWins : Outcome.ProviderFault;
            uint256 rewardBps =
                JUROR_SLASH_REWARD_BPS + (outcome == Outcome.ChallengerWins ? CHALLENGER_REWARD_BPS : 0);
            uint256 reward;
            (providerSlashed, reward) =
                registry.slash(d.provider, providerSlashAmount, address(this), rewardBps, REASON_PROVIDER);
            jurorPool = reward * JUROR_SLASH_REWARD_BPS / rewardBps;
            _credit(disputeId, d.challenger, d.bond + (reward - jurorPool));
        }
        jurorPool += _penalizeJurors(disputeId, d.jurors, hasMajority, majority);
        _finish(disputeId, d, outcome, majority, votes, providerSlashed);
        if (hasMajority) _shareAmongMajority(disputeId, d.jurors, majority, votes, jurorPool);
    }

    /// @notice Pays out everything credited to the caller.
    function claim() external nonReentrant {
        uint256 amount = claimable[msg.sender];
        if (amount == 0) revert NothingToClaim();
        claimable[msg.sender] = 0;
        emit Claimed(msg.sender, amount);
        safeTransfer(token, msg.sender, amount);
    }

    // ---------------------------------------------------------------- views

    /// @notice EIP-712 digest of `receipt` under this contract's domain (what providers sign).
    function receiptHash(Receipt calldata receipt) public view returns (bytes32) {
        return _hashTypedData(keccak256(abi.encode(RECEIPT_TYPEHASH, receipt)));
    }

    /// @notice The commitment a juror submits: keccak256(abi.encode(disputeId, outputHash, salt, juror)).
    function voteCommitment(uint256 disputeId, bytes32 outputHash, bytes32 salt, address juror)
        public
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(disputeId, outputHash, salt, juror));
    }

    /// @notice Full state of a dispute.
    function getDispute(uint256 disputeId) external view returns (Dispute memory) {
        return _disputes[disputeId];
    }

    /// @notice A juror's commitment and revealed hash (zero when absent).
    function getVote(uint256 disputeId, address juror) external view returns (Vote memory) {
        return _votes[disputeId][juror];
    }

    // ---------------------------------------------------------------- internals

    function _emitOpened(
        uint256 id,
        Receipt calldata r,
        bytes32 digest,
        bytes32 challengerOutputHash,
        bytes calldata request,
        uint64 selectionBlock
    ) private {
        emit DisputeOpened(
            id,
            msg.sender,
            r.provider,
            r.model,
            r.jobId,
            digest,
            r.inputHash,
            r.outputHash,
            challengerOutputHash,
            challengeBond,
            selectionBlock,
            request
        );
    }

    function _disputeIn(uint256 id, Status want) private view returns (Dispute storage d) {
        d = _disputes[id];
        if (d.status == Status.None) revert UnknownDispute(id);
        if (d.status != want) revert WrongStatus(d.status);
    }

    function _isJuror(Dispute storage d, address a) private view returns (bool) {
        address[] storage js = d.jurors;
        for (uint256 i; i < js.length; ++i) {
            if (js[i] == a) return true;
        }
        return false;
    }

    /// Most frequent non-zero revealed hash; ties go to the hash revealed first in juror order
    /// (irrelevant for a strict majority, which is unique).
    function _tally(uint256 id, address[] storage jurors) private view returns (bytes32 best, uint256 bestVotes) {
        uint256 n = jurors.length;
        bytes32[] memory hashes = new bytes32[](n);
        for (uint256 i; i < n; ++i) hashes[i] = _votes[id][jurors[i]].outputHash;
        for (uint256 i; i < n; ++i) {
            if (hashes[i] == bytes32(0)) continue;
            uint256 c;
            for (uint256 j; j < n; ++j) {
                if (hashes[j] == hashes[i]) ++c;
            }
            if (c > bestVotes) (best, bestVotes) = (hashes[i], c);
        }
    }

    function _penalizeJurors(uint256 id, address[] storage jurors, bool hasMajority, bytes32 majority)
        private
        returns (uint256 pool)
    {
        if (jurorPenalty == 0) return 0;
        for (uint256 i; i < jurors.length; ++i) {
            address j = jurors[i];
            bytes32 h = _votes[id][j].outputHash;
            if (h != bytes32(0) && (!hasMajority || h == majority)) continue;
            // Penalties feed the majority's pool; with no majority they are burned.
            (uint256 slashed, uint256 reward) =
                registry.slash(j, jurorPenalty, address(this), hasMajority ? BPS : 0, REASON_JUROR);
            pool += reward;
            emit JurorPenalized(id, j, slashed);
        }
    }

    function _shareAmongMajority(uint256 id, address[] storage jurors, bytes32 majority, uint256 votes, uint256 pool)
        private
    {
        if (pool == 0) return;
        uint256 share = pool / votes;
        uint256 dust = pool - share * votes;
        for (uint256 i; i < jurors.length; ++i) {
            address j = jurors[i];
            if (_votes[id][j].outputHash != majority) continue;
            _credit(id, j, share + dust);
            dust = 0;
        }
    }

    function _credit(uint256 id, address account, uint256 amount) private {
        if (amount == 0) return;
        claimable[account] += amount;
        emit RewardCredited(id, account, amount);
    }

    function _finish(
        uint256 id,
        Dispute storage d,
        Outcome outcome,
        bytes32 majority,
        uint256 votes,
        uint256 providerSlashed
    ) private {
        d.status = Status.Resolved;
        d.outcome = outcome;
        // A receipt the jury found wrong stays marked so the provider is not punished twice;
        // otherwise it may be disputed again (each attempt costs a bond).
        if (outcome != Outcome.ChallengerWins && outcome != Outcome.ProviderFault) delete disputeOfReceipt[d.receiptDigest];
        emit DisputeResolved(id, outcome, majority, votes, providerSlashed);
        registry.releaseWithdrawals(d.provider);
    }
}
