// Independent segment Merkle root (docs/formats/merkle.md) with ethers' keccak256.
// stdin: {"hex": "0x...", "segment_size": 1024, "proof_index": 3}
// stdout: {"root", "leaf_count", "proof": [...]} using the recursive power-of-two split,
// a different construction from dgrid's level-by-level one.
import { createRequire } from "node:module";
const require = createRequire(process.env.NODE_PATH + "/");
const { keccak256, concat, getBytes, ZeroHash } = require("ethers");

function root(leaves) {
  if (leaves.length === 0) return ZeroHash;
  if (leaves.length === 1) return leaves[0];
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return keccak256(concat([root(leaves.slice(0, k)), root(leaves.slice(k))]));
}

// Siblings bottom-up: recurse into the half holding `index`, sibling is the other half's root.
function proof(leaves, index) {
  if (leaves.length <= 1) return [];
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  if (index < k) return [...proof(leaves.slice(0, k), index), root(leaves.slice(k))];
  return [...proof(leaves.slice(k), index - k), root(leaves.slice(0, k))];
}

let input = "";
process.stdin.on("data", (d) => (input += d));
process.stdin.on("end", () => {
  const req = JSON.parse(input);
  const bytes = getBytes(req.hex);
  const leaves = [];
  for (let off = 0; off < bytes.length; off += req.segment_size)
    leaves.push(keccak256(bytes.slice(off, off + req.segment_size)));
  const out = { root: root(leaves), leaf_count: leaves.length };
  if (req.proof_index !== undefined) out.proof = proof(leaves, req.proof_index);
  process.stdout.write(JSON.stringify(out));
});
