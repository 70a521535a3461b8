// Encodes texts with Google's SentencePiece (compiled to wasm, npm @sctg/sentencepiece-js)
// from a vocabulary given on stdin, to check dgrid's `llama` tokenizer against it.
// stdin:  {"tokens": [...], "scores": [...], "types": [...], "unk": 0, "bos": 1, "eos": 2,
//          "add_dummy_prefix": true, "texts": [...]}
// stdout: {"ids": [[...], ...], "decoded": ["...", ...]}   (no BOS: EncodeAsIds adds none)
// The vocabulary becomes a ModelProto (BPE model, byte fallback, identity normalizer) built
// here by hand, so nothing but the package is needed. Exit code 3: package missing.
import { createRequire } from "node:module";

const require = createRequire(process.env.NODE_PATH + "/");
let spm;
try {
  spm = require("@sctg/sentencepiece-js");
} catch {
  process.stderr.write("@sctg/sentencepiece-js not installed\n");
  process.exit(3);
}

// Minimal protobuf writer: varints, length-delimited fields, fixed32 floats.
const varint = (n) => {
  const out = [];
  let v = BigInt.asUintN(64, BigInt(n));
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
  return out;
};
const key = (field, wire) => varint((field << 3) | wire);
const bytesField = (field, bytes) => [...key(field, 2), ...varint(bytes.length), ...bytes];
const strField = (field, s) => bytesField(field, [...Buffer.from(s, "utf8")]);
const intField = (field, n) => [...key(field, 0), ...varint(n)];
const floatField = (field, f) => {
  const b = Buffer.alloc(4);
  b.writeFloatLE(f);
  return [...key(field, 5), ...b];
};

function modelProto(v) {
  const out = [];
  v.tokens.forEach((t, i) => {
    const piece = [...strField(1, t), ...floatField(2, v.scores[i] ?? 0), ...intField(3, v.types[i] ?? 1)];
    out.push(...bytesField(1, piece));
  });
  const trainer = [
    ...intField(3, 2), // model_type = BPE
    ...intField(35, 1), // byte_fallback
    ...intField(40, v.unk ?? 0),
    ...intField(41, v.bos ?? -1),
    ...intField(42, v.eos ?? -1),
    ...intField(43, -1), // pad_id
  ];
  out.push(...bytesField(2, trainer));
  const normalizer = [
    ...strField(1, "identity"),
    ...intField(3, v.add_dummy_prefix === false ? 0 : 1),
    ...intField(4, 0), // remove_extra_whitespaces: off, as in LLaMA's tokenizer.model
    ...intField(5, 1), // escape_whitespaces
  ];
  out.push(...bytesField(3, normalizer));
  return Buffer.from(out);
}

let input = "";
process.stdin.on("data", (d) => (input += d));
process.stdin.on("end", async () => {
  const v = JSON.parse(input);
  const sp = new spm.SentencePieceProcessor();
  await sp.loadFromB64StringModel(modelProto(v).toString("base64"));
  const ids = v.texts.map((t) => sp.encodeIds(t));
  const decoded = ids.map((x) => sp.decodeIds(x));
  process.stdout.write(JSON.stringify({ ids, decoded }));
});
