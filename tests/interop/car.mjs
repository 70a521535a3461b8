// CAR v1 with the pinned, unmodified @ipld/car (tools/package.json), both directions.
//
//   node car.mjs read    stdin: CAR bytes
//     stdout: {"roots": [cid], "blocks": [{"cid", "hex", "hash_ok"}]} in file order; hash_ok is
//     sha2-256(bytes) == the CID's digest, checked here with multiformats' own hasher.
//   node car.mjs write   stdin: {"size", "seed", "chunk_size"?, "max_links"?}
//     stdout: CAR bytes written by @ipld/car's CarWriter: root = the ipfs-unixfs-importer
//     import (profile unixfs-v1-2025, or the explicit chunk_size / max_links) of the xorshift32
//     stream that tests/store/unixfs_fixtures.hpp and unixfs.mjs generate; blocks in the
//     importer's emission order.
import { pathToFileURL } from "node:url";

const modules = process.env.NODE_PATH;
const load = (path) => import(pathToFileURL(`${modules}/${path}`).href);
const { CarReader, CarWriter } = await load("@ipld/car/src/index.js");
const { CID } = await load("multiformats/dist/src/cid.js");
const { sha256 } = await load("multiformats/dist/src/hashes/sha2.js");
const { importer } = await load("ipfs-unixfs-importer/dist/src/index.js");
const { fixedSize } = await load("ipfs-unixfs-importer/dist/src/chunker/index.js");
const { balanced } = await load("ipfs-unixfs-importer/dist/src/layout/index.js");

const hex = (b) => Buffer.from(b).toString("hex");

function* xorshiftBytes(size, seed) {
  let s = seed >>> 0;
  const kPiece = 1 << 18;
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
    yield new Uint8Array(words.buffer, 0, n);
  }
}

async function readStdin() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  return Buffer.concat(chunks);
}

async function read(bytes) {
  const reader = await CarReader.fromBytes(new Uint8Array(bytes));
  const roots = (await reader.getRoots()).map((c) => c.toString());
  const blocks = [];
  for await (const { cid, bytes: data } of reader.blocks()) {
    const digest = await sha256.digest(data);
    const hashOk = cid.multihash.code === sha256.code && hex(digest.digest) === hex(cid.multihash.digest);
    blocks.push({ cid: cid.toString(), hex: hex(data), hash_ok: hashOk });
  }
  return { roots, blocks };
}

async function write(req) {
  const blocks = [];
  const blockstore = {
    async put(cid, bytes) {
      blocks.push({ cid, bytes });
      return cid;
    },
  };
  const options =
    req.chunk_size === undefined
      ? { profile: "unixfs-v1-2025" }
      : {
          cidVersion: 1,
          rawLeaves: true,
          reduceSingleLeafToSelf: true,
          chunker: fixedSize({ chunkSize: req.chunk_size }),
          layout: balanced({ maxChildrenPerNode: req.max_links }),
        };
  let root;
  for await (const entry of importer([{ content: xorshiftBytes(req.size, req.seed) }], blockstore, options))
    root = entry.cid;
  const { writer, out } = CarWriter.create([CID.parse(root.toString())]);
  const parts = [];
  const collected = (async () => {
    for await (const p of out) parts.push(p);
  })();
  for (const b of blocks) await writer.put(b);
  await writer.close();
  await collected;
  return Buffer.concat(parts);
}

const mode = process.argv[2];
const input = await readStdin();
if (mode === "read") process.stdout.write(JSON.stringify(await read(input)));
else if (mode === "write") process.stdout.write(await write(JSON.parse(input.toString())));
else {
  process.stderr.write("usage: car.mjs read|write\n");
  process.exit(2);
}
