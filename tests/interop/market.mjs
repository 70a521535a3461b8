// ethers v6 as the reference for dgrid's market formats (tests/market/interop_market_test.cpp).
// stdin: {"op": ..., "cases": [...]}; stdout: a JSON array, one entry per case. Ops:
//   receipts  [{receipt (dgrid_receipt JSON, integers as decimal strings), key}] ->
//             [{digest, recovered (verifyTypedData of dgrid's signature), signature (ethers')}]
//   tickets   [{ticket (X-Dgrid-Tickets JSON), chain_id, broker, key}] -> same shape
//   canonical [{enc (dgrid's encoding), values}] ->
//             [{dec (AbiCoder.decode of enc, plain JSON), enc (AbiCoder.encode of values)}]
import { createRequire } from "node:module";
const require = createRequire(process.env.NODE_PATH + "/");
const { AbiCoder, TypedDataEncoder, Wallet, verifyTypedData } = require("ethers");

const RECEIPT_TYPES = {
  Receipt: [
    { name: "jobId", type: "bytes32" },
    { name: "provider", type: "address" },
    { name: "model", type: "bytes32" },
    { name: "inputHash", type: "bytes32" },
    { name: "outputHash", type: "bytes32" },
    { name: "promptTokens", type: "uint64" },
    { name: "completionTokens", type: "uint64" },
    { name: "cost", type: "uint256" },
    { name: "chainId", type: "uint256" },
    { name: "timestamp", type: "uint64" },
  ],
};

const TICKET_TYPES = {
  Ticket: [
    { name: "recipient", type: "address" },
    { name: "sender", type: "address" },
    { name: "faceValue", type: "uint256" },
    { name: "winProb", type: "uint256" },
    { name: "senderNonce", type: "uint256" },
    { name: "recipientRandHash", type: "bytes32" },
    { name: "expirationBlock", type: "uint256" },
    { name: "auxData", type: "bytes32" },
  ],
};

const CANONICAL_TYPES = ["bytes32", "uint32[]", "uint32", "uint32", "uint32", "uint32", "uint64", "string[]"];

function domain(chainId, verifyingContract) {
  return { name: "dgrid", version: "1", chainId: BigInt(chainId), verifyingContract };
}

// Digest, signer of dgrid's signature, and ethers' own signature of the same message.
async function typed(dom, types, message, signature, key) {
  return {
    digest: TypedDataEncoder.hash(dom, types, message),
    recovered: verifyTypedData(dom, types, message, signature),
    signature: await new Wallet(key).signTypedData(dom, types, message),
  };
}

function plain(v) {
  if (typeof v === "bigint") return v.toString();
  if (typeof v === "string") return v.startsWith("0x") ? v.toLowerCase() : v;
  if (Array.isArray(v) || (v && typeof v.length === "number")) return Array.from(v, plain);
  throw new Error("unexpected value " + String(v));
}

async function run(op, cases) {
  const out = [];
  if (op === "receipts") {
    for (const { receipt: r, key } of cases) {
      const message = {
        jobId: r.job_id,
        provider: r.provider,
        model: r.model,
        inputHash: r.input_hash,
        outputHash: r.output_hash,
        promptTokens: BigInt(r.prompt_tokens),
        completionTokens: BigInt(r.completion_tokens),
        cost: BigInt(r.cost),
        chainId: BigInt(r.chain_id),
        timestamp: BigInt(r.timestamp),
      };
      out.push(await typed(domain(r.chain_id, r.verifying_contract), RECEIPT_TYPES, message, r.signature, key));
    }
    return out;
  }
  if (op === "tickets") {
    for (const { ticket: t, chain_id, broker, key } of cases) {
      const message = {
        recipient: t.recipient,
        sender: t.sender,
        faceValue: BigInt(t.face_value),
        winProb: BigInt(t.win_prob),
        senderNonce: BigInt(t.sender_nonce),
        recipientRandHash: t.recipient_rand_hash,
        expirationBlock: BigInt(t.expiration_block),
        auxData: t.aux_data,
      };
      out.push(await typed(domain(chain_id, broker), TICKET_TYPES, message, t.signature, key));
    }
    return out;
  }
  if (op === "canonical") {
    const coder = AbiCoder.defaultAbiCoder();
    return cases.map((c) => ({
      dec: plain(coder.decode(CANONICAL_TYPES, c.enc)),
      enc: coder.encode(CANONICAL_TYPES, c.values),
    }));
  }
  throw new Error("unknown op " + op);
}

let input = "";
process.stdin.on("data", (d) => (input += d));
process.stdin.on("end", async () => {
  try {
    const req = JSON.parse(input);
    process.stdout.write(JSON.stringify(await run(req.op, req.cases)));
  } catch (e) {
    process.stderr.write(String(e.stack || e) + "\n");
    process.exit(1);
  }
});
