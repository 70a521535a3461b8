// Independent UnixFS import with the pinned, unmodified ipfs-unixfs-importer (tools/package.json).
// stdin: {"cases": [{"size": N, "seed": S, "chunk_size": C, "max_links": L,
//                    "blocks": true|false, "profile": true|false}, ...]}
// stdout: {"results": [{"root", "blocks": {cid: hex of every dag-pb block}, "leaves": [raw leaf cids],
//                       "block_count"}]}
// The file bytes are generated here, streamed in pieces, from the same xorshift32 stream the
// C++ test uses (tests/store/unixfs_interop_test.cpp): word i is the i-th state after
// s ^= s << 13; s ^= s >>> 17; s ^= s << 5 from s = seed, written little-endian, and the
// file is the first `size` bytes of that stream. "profile": true imports with
// { profile: "unixfs-v1-2025" } instead of the explicit options (both must agree).
import { pathToFileURL } from "node:url";

const modules = process.env.NODE_PATH;
const load = (path) => import(pathToFileURL(`${modules}/${path}`).href);
const { importer } = await load("ipfs-unixfs-importer/dist/src/index.js");
const { fixedSize } = await load("ipfs-unixfs-importer/dist/src/chunker/index.js");
const { balanced } = await load("ipfs-unixfs-importer/dist/src/layout/index.js");

const kPiece = 1 << 18; // bytes per streamed piece: a multiple of 4, not of the chunk sizes used

function* xorshiftBytes(size, seed) {
  let s = seed >>> 0;
  for (let off = 0; off < size; off += kPiece) {
    const n = Math.min(kPiece, size - off);
    const words = new Uint32Array(Math.ceil(n / 4));
    for (let i = 0; i < words.length; i++) {
      s ^= s << 13;
      s >>>= 0;
      s ^= s >>> 17;
      s ^= s << 5;
      s >>>= 0;
      words[i] = s;
    }
    // Uint32Array is host-endian; little-endian hosts (x86, arm64) give the stream's bytes.
    yield new Uint8Array(words.buffer, 0, n);
  }
}

const hex = (b) => Buffer.from(b).toString("hex");

async function importCase(c) {
  const blocks = {};
  const leaves = [];
  let blockCount = 0;
  const blockstore = {
    async put(cid, bytes) {
      blockCount++;
      if (cid.code === 0x55) leaves.push(cid.toString());
      else if (c.blocks) blocks[cid.toString()] = hex(bytes);
      return cid;
    },
  };
  const options = c.profile
    ? { profile: "unixfs-v1-2025" }
    : {
        cidVersion: 1,
        rawLeaves: true,
        reduceSingleLeafToSelf: true,
        chunker: fixedSize({ chunkSize: c.chunk_size }),
        layout: balanced({ maxChildrenPerNode: c.max_links }),
      };
  let root;
  for await (const entry of importer([{ content: xorshiftBytes(c.size, c.seed) }], blockstore, options))
    root = entry.cid.toString();
  return { root, blocks, leaves: c.blocks ? leaves : [], block_count: blockCount };
}

let input = "";
process.stdin.on("data", (d) => (input += d));
process.stdin.on("end", async () => {
  const req = JSON.parse(input);
  const results = [];
  for (const c of req.cases) results.push(await importCase(c));
  process.stdout.write(JSON.stringify({ results }));
});
