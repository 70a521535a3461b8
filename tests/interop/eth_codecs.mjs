// Encodes/decodes the cases the C++ interop tests send with ethers v6, so the tests can
// compare dgrid's RLP, ABI and transaction codecs with an independent implementation.
// stdin: {"kind": "rlp"|"abi"|"tx", "cases": [...]}; stdout: a JSON array, one per case.
import { createRequire } from "node:module";
const require = createRequire(process.env.NODE_PATH + "/");
const { encodeRlp, decodeRlp, AbiCoder, Transaction, Wallet } = require("ethers");

// ethers' decoded ABI values back to the JSON form the C++ side sends.
function plain(v) {
  if (typeof v === "bigint") return v.toString();
  if (typeof v === "string") return v.startsWith("0x") ? v.toLowerCase() : v;
  if (typeof v === "boolean") return v;
  if (Array.isArray(v) || (v && typeof v.length === "number")) return Array.from(v, plain);
  throw new Error("unexpected value " + String(v));
}

async function run(kind, cases) {
  if (kind === "rlp") {
    return cases.map((c) => ({ enc: encodeRlp(c.value), dec: decodeRlp(c.ours) }));
  }
  if (kind === "abi") {
    const coder = AbiCoder.defaultAbiCoder();
    return cases.map((c) => ({
      enc: coder.encode(c.types, c.values),
      dec: plain(coder.decode(c.types, c.ours)),
    }));
  }
  if (kind === "tx") {
    const out = [];
    for (const c of cases) {
      const wallet = new Wallet(c.key);
      const raw = await wallet.signTransaction(c.tx);
      const parsed = Transaction.from(c.ours);
      out.push({ raw, hash: Transaction.from(raw).hash, ours_from: parsed.from, ours_hash: parsed.hash });
    }
    return out;
  }
  throw new Error("unknown kind " + kind);
}

let input = "";
process.stdin.on("data", (d) => (input += d));
process.stdin.on("end", async () => {
  const req = JSON.parse(input);
  process.stdout.write(JSON.stringify(await run(req.kind, req.cases)));
});
