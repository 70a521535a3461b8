// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.28;

import "./Common.sol";

/// @notice What TicketBroker, Disputes and StorageMarket need from ProviderRegistry.
interface IProviderRegistry {
    function token() external view returns (IERC20);
    function stakeOf(address provider) external view returns (uint256);
    function isActive(address provider) external view returns (bool);
    function activeProviderCount() external view returns (uint256);
    function servesModel(address provider, bytes32 model) external view returns (bool);
    function selectJurors(bytes32 model, uint256 seed, uint256 count, address[] calldata exclude)
        external
        view
        returns (address[] memory jurors);
    function slash(address provider, uint256 amount, address beneficiary, uint256 rewardBps, bytes32 reason)
        external
        returns (uint256 slashed, uint256 reward);
    function holdWithdrawals(address provider) external;
    function releaseWithdrawals(address provider) external;
}
