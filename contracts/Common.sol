// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.28;

// Shared building blocks for the dgrid contracts: a minimal ERC-20 interface, token transfers
// that tolerate tokens which return no bool, a reentrancy guard, EIP-712 domain hashing and
// strict ECDSA recovery. Everything here is abstract or free functions, so no artifact is
// emitted for this file.

/// @notice The subset of ERC-20 the dgrid contracts use.
interface IERC20 {
    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    function totalSupply() external view returns (uint256);
    function balanceOf(address account) external view returns (uint256);
    function allowance(address owner, address spender) external view returns (uint256);
    function transfer(address to, uint256 value) external returns (bool);
    function approve(address spender, uint256 value) external returns (bool);
    function transferFrom(address from, address to, uint256 value) external returns (bool);
}

/// A token call reverted, returned false, or the token address has no code.
error TokenTransferFailed(address token);
/// A signature is not exactly 65 bytes (r || s || v).
error InvalidSignatureLength(uint256 length);
/// The signature's s is in the upper half of the curve order (malleable form).
error InvalidSignatureS();
/// The signature's v is not 27 or 28.
error InvalidSignatureV(uint8 v);
/// ecrecover returned the zero address.
error InvalidSignature();
/// A function guarded by nonReentrant was entered again.
error Reentrancy();
/// A zero address was given where a real one is required.
error ZeroAddress();

// Accepts tokens that return true, and tokens (e.g. USDT) that return nothing.
function safeTransfer(IERC20 token, address to, uint256 value) {
    _callToken(token, abi.encodeCall(IERC20.transfer, (to, value)));
}

function safeTransferFrom(IERC20 token, address from, address to, uint256 value) {
    _callToken(token, abi.encodeCall(IERC20.transferFrom, (from, to, value)));
}

function _callToken(IERC20 token, bytes memory data) {
    (bool ok, bytes memory ret) = address(token).call(data);
    if (!ok || (ret.length != 0 && !abi.decode(ret, (bool))) || (ret.length == 0 && address(token).code.length == 0)) {
        revert TokenTransferFailed(address(token));
    }
}

// Half the secp256k1 group order: signatures with s above it are rejected (EIP-2).
uint256 constant SECP256K1_HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

// Why `tryRecoverSigner` rejected a signature (0 = accepted).
uint8 constant SIG_OK = 0;
uint8 constant SIG_BAD_LENGTH = 1;
uint8 constant SIG_HIGH_S = 2;
uint8 constant SIG_BAD_V = 3;
uint8 constant SIG_NO_SIGNER = 4;

/// Recovers the signer of `digest` from a 65-byte r || s || v signature without reverting.
/// Only the canonical form (v in {27, 28}, s <= n/2) is accepted, so each signature has one
/// accepted byte encoding; this matters because TicketBroker hashes the signature bytes.
function tryRecoverSigner(bytes32 digest, bytes calldata sig) pure returns (address signer, uint8 err) {
    if (sig.length != 65) return (address(0), SIG_BAD_LENGTH);
    bytes32 r = bytes32(sig[0:32]);
    bytes32 s = bytes32(sig[32:64]);
    uint8 v = uint8(sig[64]);
    if (uint256(s) > SECP256K1_HALF_N) return (address(0), SIG_HIGH_S);
    if (v != 27 && v != 28) return (address(0), SIG_BAD_V);
    signer = ecrecover(digest, v, r, s);
    if (signer == address(0)) return (address(0), SIG_NO_SIGNER);
    return (signer, SIG_OK);
}

/// Like tryRecoverSigner, but reverts with a distinct error for each rejection.
function recoverSigner(bytes32 digest, bytes calldata sig) pure returns (address signer) {
    uint8 err;
    (signer, err) = tryRecoverSigner(digest, sig);
    if (err != SIG_OK) revertSignatureError(err, sig);
}

function revertSignatureError(uint8 err, bytes calldata sig) pure {
    if (err == SIG_BAD_LENGTH) revert InvalidSignatureLength(sig.length);
    if (err == SIG_HIGH_S) revert InvalidSignatureS();
    if (err == SIG_BAD_V) revert InvalidSignatureV(uint8(sig[64]));
    revert InvalidSignature();
}

/// @notice Minimal reentrancy guard (one storage slot, 1 = free, 2 = entered).
abstract contract ReentrancyGuard {
    uint256 private _guard = 1;

    modifier nonReentrant() {
        if (_guard != 1) revert Reentrancy();
        _guard = 2;
        _;
        _guard = 1;
    }
}

/// @notice EIP-712 domain {name: "dgrid", version: "1", chainId, verifyingContract: this}.
/// The separator is cached at deployment and recomputed if the chain id changes (fork).
abstract contract EIP712 {
    bytes32 internal constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 internal constant NAME_HASH = keccak256("dgrid");
    bytes32 internal constant VERSION_HASH = keccak256("1");

    bytes32 private immutable _cachedSeparator;
    uint256 private immutable _cachedChainId;

    constructor() {
        _cachedChainId = block.chainid;
        _cachedSeparator = _buildSeparator();
    }

    /// @notice The EIP-712 domain separator of this contract on the current chain.
    function domainSeparator() public view returns (bytes32) {
        return block.chainid == _cachedChainId ? _cachedSeparator : _buildSeparator();
    }

    function _buildSeparator() private view returns (bytes32) {
        return keccak256(abi.encode(DOMAIN_TYPEHASH, NAME_HASH, VERSION_HASH, block.chainid, address(this)));
    }

    /// keccak256("\x19\x01" || domainSeparator || structHash)
    function _hashTypedData(bytes32 structHash) internal view returns (bytes32 digest) {
        bytes32 sep = domainSeparator();
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore(p, hex"1901")
            mstore(add(p, 0x02), sep)
            mstore(add(p, 0x22), structHash)
            digest := keccak256(p, 0x42)
        }
    }
}
