// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.28;

import "./Common.sol";
import "./IProviderRegistry.sol";

/// @title ProviderRegistry
/// @notice Providers (inference and storage) register a service URI and metadata, declare the
/// models they serve, and bond stake in the settlement token. Stake leaves through an unbonding
/// delay measured in blocks. Only the two slasher contracts wired once at deployment
/// (Disputes and StorageMarket) can slash stake or hold withdrawals during a dispute.
contract ProviderRegistry is IProviderRegistry, ReentrancyGuard {
    uint256 public constant MAX_URI_LENGTH = 256;
    uint256 public constant MAX_METADATA_LENGTH = 2048;
    uint256 public constant MAX_MODELS_PER_PROVIDER = 64;
    /// Bounds the gas of juror selection, which walks every provider of a model.
    uint256 public constant MAX_PROVIDERS_PER_MODEL = 128;
    uint256 public constant BPS = 10_000;

    struct Provider {
        uint256 stake; // bonded, counts for activity and juror weight
        uint256 unbonding; // leaving; still slashable until withdrawn
        uint64 unbondReadyBlock; // first block at which `unbonding` can be withdrawn
        uint32 holds; // open disputes against the provider; withdrawals blocked while > 0
        bool registered;
        string uri;
        string metadata;
    }

    /// @notice Read-only view of a provider (returned by `getProvider`).
    struct ProviderInfo {
        bool registered;
        bool active;
        string uri;
        string metadata;
        uint256 stake;
        uint256 unbonding;
        uint64 unbondReadyBlock;
        uint32 holds;
        bytes32[] models;
    }

    IERC20 public immutable token;
    address public immutable deployer;
    /// @notice Bonded stake at or above which a registered provider is active.
    uint256 public immutable minStake;
    /// @notice Blocks between `requestUnbond` and the earliest `withdraw`.
    uint64 public immutable unbondingDelay;

    address public disputes;
    address public storageMarket;

    /// @notice Registered providers whose bonded stake >= minStake.
    uint256 public activeProviderCount;
    /// @notice Sum of bonded and unbonding stake held by this contract.
    uint256 public totalStaked;
    /// @notice Slashed tokens not paid to a beneficiary; they stay locked here forever.
    uint256 public totalBurned;

    mapping(address => Provider) private _providers;
    address[] private _providerList;
    mapping(address => bytes32[]) private _modelsOf;
    mapping(address => mapping(bytes32 => uint256)) private _modelPos; // index + 1 in _modelsOf
    mapping(bytes32 => address[]) private _modelProviders;
    mapping(bytes32 => mapping(address => uint256)) private _providerPos; // index + 1 in _modelProviders

    event ProviderRegistered(address indexed provider, string uri, string metadata);
    event ProviderUpdated(address indexed provider, string uri, string metadata);
    event ModelAdded(address indexed provider, bytes32 indexed model);
    event ModelRemoved(address indexed provider, bytes32 indexed model);
    event Staked(address indexed provider, uint256 amount, uint256 stake);
    event UnbondRequested(address indexed provider, uint256 amount, uint256 stake, uint256 unbonding, uint64 readyBlock);
    event Withdrawn(address indexed provider, uint256 amount);
    event Slashed(
        address indexed provider,
        address indexed slasher,
        bytes32 indexed reason,
        uint256 requested,
        uint256 slashed,
        address beneficiary,
        uint256 reward,
        uint256 stake,
        uint256 unbonding
    );
    event WithdrawalsHeld(address indexed provider, address indexed slasher, uint32 holds);
    event WithdrawalsReleased(address indexed provider, address indexed slasher, uint32 holds);
    event SlashersSet(address disputes, address storageMarket);

    error AlreadyRegistered(address provider);
    error NotRegistered(address provider);
    error StringTooLong(uint256 length, uint256 max);
    error ZeroAmount();
    error InsufficientStake(uint256 stake, uint256 requested);
    error NothingToWithdraw();
    error UnbondingNotReady(uint64 readyBlock);
    error WithdrawalsAreHeld(uint32 holds);
    error NotActive(address provider);
    error StillActive(address provider);
    error ModelAlreadyServed(bytes32 model);
    error ModelNotServed(bytes32 model);
    error TooManyModels(uint256 max);
    error ModelFull(bytes32 model, uint256 max);
    error NotDeployer(address caller);
    error SlashersAlreadySet();
    error NotSlasher(address caller);
    error InvalidBps(uint256 bps);
    error NoHold(address provider);
    error InvalidParameter();

    modifier onlySlasher() {
        if (msg.sender != disputes && msg.sender != storageMarket) revert NotSlasher(msg.sender);
        _;
    }

    /// @param token_ settlement ERC-20
    /// @param minStake_ bonded stake needed to be active (must be > 0)
    /// @param unbondingDelay_ blocks an unbond waits before withdrawal (must be > 0)
    constructor(IERC20 token_, uint256 minStake_, uint64 unbondingDelay_) {
        if (address(token_) == address(0)) revert ZeroAddress();
        if (minStake_ == 0 || unbondingDelay_ == 0) revert InvalidParameter();
        token = token_;
        deployer = msg.sender;
        minStake = minStake_;
        unbondingDelay = unbondingDelay_;
    }

    // ---------------------------------------------------------------- wiring

    /// @notice One-time wiring of the only two contracts allowed to slash. Deployer only.
    function setSlashers(address disputes_, address storageMarket_) external {
        if (msg.sender != deployer) revert NotDeployer(msg.sender);
        if (disputes != address(0) || storageMarket != address(0)) revert SlashersAlreadySet();
        if (disputes_ == address(0) || storageMarket_ == address(0)) revert ZeroAddress();
        disputes = disputes_;
        storageMarket = storageMarket_;
        emit SlashersSet(disputes_, storageMarket_);
    }

    // ---------------------------------------------------------------- registration

    /// @notice Registers the caller with a service URI (e.g. "https://host:port") and free-form
    /// metadata (JSON by convention).
    function register(string calldata uri, string calldata metadata) external {
        Provider storage p = _providers[msg.sender];
        if (p.registered) revert AlreadyRegistered(msg.sender);
        _checkStrings(uri, metadata);
        p.registered = true;
        p.uri = uri;
        p.metadata = metadata;
        _providerList.push(msg.sender);
        emit ProviderRegistered(msg.sender, uri, metadata);
    }

    /// @notice Replaces the caller's URI and metadata.
    function updateProvider(string calldata uri, string calldata metadata) external {
        Provider storage p = _providers[msg.sender];
        if (!p.registered) revert NotRegistered(msg.sender);
        _checkStrings(uri, metadata);
        p.uri = uri;
        p.metadata = metadata;
        emit ProviderUpdated(msg.sender, uri, metadata);
    }

    /// @notice Declares that the caller serves `model`. The caller must be active, so filling a
    /// model's bounded provider list costs MAX_PROVIDERS_PER_MODEL * minStake of capital.
    function addModel(bytes32 model) external {
        if (!_providers[msg.sender].registered) revert NotRegistered(msg.sender);
        if (!isActive(msg.sender)) revert NotActive(msg.sender);
        if (_modelPos[msg.sender][model] != 0) revert ModelAlreadyServed(model);
        if (_modelsOf[msg.sender].length >= MAX_MODELS_PER_PROVIDER) revert TooManyModels(MAX_MODELS_PER_PROVIDER);
        if (_modelProviders[model].length >= MAX_PROVIDERS_PER_MODEL) revert ModelFull(model, MAX_PROVIDERS_PER_MODEL);
        _modelsOf[msg.sender].push(model);
        _modelPos[msg.sender][model] = _modelsOf[msg.sender].length;
        _modelProviders[model].push(msg.sender);
        _providerPos[model][msg.sender] = _modelProviders[model].length;
        emit ModelAdded(msg.sender, model);
    }

    /// @notice Withdraws the caller's declaration for `model`.
    function removeModel(bytes32 model) external {
        _removeModel(msg.sender, model);
    }

    /// @notice Anyone may remove an inactive provider from a model's list (frees a slot).
    function removeInactiveFromModel(bytes32 model, address provider) external {
        if (isActive(provider)) revert StillActive(provider);
        _removeModel(provider, model);
    }

    // ---------------------------------------------------------------- stake

    /// @notice Bonds `amount` more of the caller's tokens (needs an ERC-20 allowance).
    function stake(uint256 amount) external nonReentrant {
        Provider storage p = _providers[msg.sender];
        if (!p.registered) revert NotRegistered(msg.sender);
        if (amount == 0) revert ZeroAmount();
        bool wasActive = isActive(msg.sender);
        p.stake += amount;
        totalStaked += amount;
        _syncActive(msg.sender, wasActive);
        emit Staked(msg.sender, amount, p.stake);
        safeTransferFrom(token, msg.sender, address(this), amount);
    }

    /// @notice Moves `amount` of bonded stake to unbonding. A new request adds to any amount
    /// already unbonding and restarts the delay for the whole unbonding amount.
    function requestUnbond(uint256 amount) external {
        Provider storage p = _providers[msg.sender];
        if (amount == 0) revert ZeroAmount();
        if (p.stake < amount) revert InsufficientStake(p.stake, amount);
        bool wasActive = isActive(msg.sender);
        unchecked {
            p.stake -= amount;
        }
        p.unbonding += amount;
        uint64 ready = uint64(block.number) + unbondingDelay;
        p.unbondReadyBlock = ready;
        _syncActive(msg.sender, wasActive);
        emit UnbondRequested(msg.sender, amount, p.stake, p.unbonding, ready);
    }

    /// @notice Pays out the whole unbonding amount once block.number >= unbondReadyBlock and
    /// no dispute holds the caller's withdrawals.
    function withdraw() external nonReentrant {
        Provider storage p = _providers[msg.sender];
        uint256 amount = p.unbonding;
        if (amount == 0) revert NothingToWithdraw();
        if (block.number < p.unbondReadyBlock) revert UnbondingNotReady(p.unbondReadyBlock);
        if (p.holds != 0) revert WithdrawalsAreHeld(p.holds);
        p.unbonding = 0;
        p.unbondReadyBlock = 0;
        totalStaked -= amount;
        emit Withdrawn(msg.sender, amount);
        safeTransfer(token, msg.sender, amount);
    }

    // ---------------------------------------------------------------- slashing

    /// @notice Slashes up to `amount` from `provider`: first bonded stake, then unbonding stake.
    /// Never reverts because the provider holds less; it slashes what is there (possibly 0).
    /// `rewardBps`/10000 of the slashed amount (rounded down) goes to `beneficiary`; the rest
    /// stays locked in this contract forever (counted in totalBurned). Slashers only.
    /// @return slashed tokens taken from the provider
    /// @return reward tokens paid to the beneficiary
    function slash(address provider, uint256 amount, address beneficiary, uint256 rewardBps, bytes32 reason)
        external
        onlySlasher
        nonReentrant
        returns (uint256 slashed, uint256 reward)
    {
        if (rewardBps > BPS) revert InvalidBps(rewardBps);
        if (rewardBps != 0 && beneficiary == address(0)) revert ZeroAddress();
        Provider storage p = _providers[provider];
        bool wasActive = isActive(provider);
        uint256 fromStake = amount < p.stake ? amount : p.stake;
        uint256 rest = amount - fromStake;
        uint256 fromUnbonding = rest < p.unbonding ? rest : p.unbonding;
        p.stake -= fromStake;
        p.unbonding -= fromUnbonding;
        slashed = fromStake + fromUnbonding;
        reward = slashed * rewardBps / BPS;
        totalStaked -= slashed;
        totalBurned += slashed - reward;
        _syncActive(provider, wasActive);
        emit Slashed(provider, msg.sender, reason, amount, slashed, beneficiary, reward, p.stake, p.unbonding);
        if (reward != 0) safeTransfer(token, beneficiary, reward);
    }

    /// @notice Blocks `provider`'s withdrawals until a matching release (counts nest). Slashers only.
    function holdWithdrawals(address provider) external onlySlasher {
        uint32 holds = ++_providers[provider].holds;
        emit WithdrawalsHeld(provider, msg.sender, holds);
    }

    /// @notice Releases one hold placed by holdWithdrawals. Slashers only.
    function releaseWithdrawals(address provider) external onlySlasher {
        Provider storage p = _providers[provider];
        if (p.holds == 0) revert NoHold(provider);
        uint32 holds = --p.holds;
        emit WithdrawalsReleased(provider, msg.sender, holds);
    }

    // ---------------------------------------------------------------- views

    /// @notice Bonded stake of `provider` (excludes unbonding stake).
    function stakeOf(address provider) external view returns (uint256) {
        return _providers[provider].stake;
    }

    /// @notice Stake of `provider` that is unbonding (still slashable).
    function unbondingOf(address provider) external view returns (uint256 amount, uint64 readyBlock) {
        Provider storage p = _providers[provider];
        return (p.unbonding, p.unbondReadyBlock);
    }

    /// @notice Registered and bonded stake >= minStake.
    function isActive(address provider) public view returns (bool) {
        Provider storage p = _providers[provider];
        return p.registered && p.stake >= minStake;
    }

    /// @notice Whether `provider` has declared `model`.
    function servesModel(address provider, bytes32 model) external view returns (bool) {
        return _modelPos[provider][model] != 0;
    }

    /// @notice Everything known about `provider`.
    function getProvider(address provider) external view returns (ProviderInfo memory info) {
        Provider storage p = _providers[provider];
        info.registered = p.registered;
        info.active = isActive(provider);
        info.uri = p.uri;
        info.metadata = p.metadata;
        info.stake = p.stake;
        info.unbonding = p.unbonding;
        info.unbondReadyBlock = p.unbondReadyBlock;
        info.holds = p.holds;
        info.models = _modelsOf[provider];
    }

    /// @notice Models declared by `provider`, in declaration order (removal swaps in the last).
    function modelsOf(address provider) external view returns (bytes32[] memory) {
        return _modelsOf[provider];
    }

    /// @notice Providers that declared `model` (active or not), at most MAX_PROVIDERS_PER_MODEL.
    function providersForModel(bytes32 model) external view returns (address[] memory) {
        return _modelProviders[model];
    }

    /// @notice Number of providers ever registered.
    function providerCount() external view returns (uint256) {
        return _providerList.length;
    }

    /// @notice Registered providers [offset, offset + limit) in registration order.
    function providersPage(uint256 offset, uint256 limit) external view returns (address[] memory page) {
        uint256 n = _providerList.length;
        if (offset >= n) return new address[](0);
        uint256 end = n - offset < limit ? n : offset + limit;
        page = new address[](end - offset);
        for (uint256 i = offset; i < end; ++i) page[i - offset] = _providerList[i];
    }

    /// @notice Picks up to `count` distinct active providers serving `model`, not in `exclude`,
    /// weighted by bonded stake, without replacement. Candidates are taken in
    /// providersForModel(model) order, skipping inactive and excluded ones; pick j (from 0)
    /// draws r = uint256(keccak256(abi.encode(seed, j))) % remainingWeight and takes the first
    /// candidate whose cumulative remaining weight exceeds r. Returns fewer than `count`
    /// addresses when fewer candidates exist.
    function selectJurors(bytes32 model, uint256 seed, uint256 count, address[] calldata exclude)
        external
        view
        returns (address[] memory jurors)
    {
        address[] storage list = _modelProviders[model];
        uint256 n = list.length;
        address[] memory cand = new address[](n);
        uint256[] memory weight = new uint256[](n);
        uint256 m;
        uint256 total;
        for (uint256 i; i < n; ++i) {
            address a = list[i];
            if (!isActive(a) || _contains(exclude, a)) continue;
            uint256 w = _providers[a].stake;
            cand[m] = a;
            weight[m] = w;
            total += w;
            ++m;
        }
        if (count > m) count = m;
        jurors = new address[](count);
        for (uint256 j; j < count; ++j) {
            uint256 r = uint256(keccak256(abi.encode(seed, j))) % total;
            for (uint256 i; i < m; ++i) {
                uint256 w = weight[i];
                if (r < w) {
                    jurors[j] = cand[i];
                    total -= w;
                    weight[i] = 0;
                    break;
                }
                r -= w;
            }
        }
    }

    // ---------------------------------------------------------------- internals

    function _checkStrings(string calldata uri, string calldata metadata) private pure {
        if (bytes(uri).length > MAX_URI_LENGTH) revert StringTooLong(bytes(uri).length, MAX_URI_LENGTH);
        if (bytes(metadata).length > MAX_METADATA_LENGTH) {
            revert StringTooLong(bytes(metadata).length, MAX_METADATA_LENGTH);
        }
    }

    function _removeModel(address provider, bytes32 model) private {
        uint256 pos = _modelPos[provider][model];
        if (pos == 0) revert ModelNotServed(model);
        bytes32[] storage models = _modelsOf[provider];
        bytes32 lastModel = models[models.length - 1];
        models[pos - 1] = lastModel;
        _modelPos[provider][lastModel] = pos;
        models.pop();
        delete _modelPos[provider][model];

        address[] storage provs = _modelProviders[model];
        uint256 ppos = _providerPos[model][provider];
        address lastProv = provs[provs.length - 1];
        provs[ppos - 1] = lastProv;
        _providerPos[model][lastProv] = ppos;
        provs.pop();
        delete _providerPos[model][provider];
        emit ModelRemoved(provider, model);
    }

    function _syncActive(address provider, bool wasActive) private {
        bool active = isActive(provider);
        if (active == wasActive) return;
        if (active) ++activeProviderCount;
        else --activeProviderCount;
    }

    function _contains(address[] calldata list, address a) private pure returns (bool) {
        for (uint256 i; i < list.length; ++i) {
            if (list[i] == a) return true;
        }
        return false;
    }
}
