// ethers v6 as the reference for dgrid's crypto (tests/crypto/interop_crypto_test.cpp).
// stdin: {"op": ..., ...}; stdout: JSON. Ops:
//   typed_data   {key, docs: [eth_signTypedData_v4 docs]} -> [{digest, signature} | {error}]
//   personal     {key, messages: [hex], signatures: [hex]} ->
//                {signatures: [ethers' signMessage], recovered: [verifyMessage of ours]}
//   addresses    {addresses: [hex]} -> [getAddress(a)]
//   decrypt      {json, password} -> {address, private_key}
//   encrypt      {key, password, n, r, p} -> keystore JSON text
import { createRequire } from "node:module";
const require = createRequire(process.env.NODE_PATH + "/");
const { Wallet, TypedDataEncoder, getAddress, getBytes, verifyMessage, encryptKeystoreJson } = require("ethers");

async function run(req) {
  switch (req.op) {
    case "typed_data": {
      const wallet = new Wallet(req.key);
      const out = [];
      for (const doc of req.docs) {
        // ethers derives EIP712Domain from the domain's keys and rejects it in `types`.
        const types = { ...doc.types };
        delete types.EIP712Domain;
        try {
          out.push({
            digest: TypedDataEncoder.hash(doc.domain, types, doc.message),
            signature: await wallet.signTypedData(doc.domain, types, doc.message),
          });
        } catch (e) {
          out.push({ error: String(e.shortMessage || e.message) });
        }
      }
      return out;
    }
    case "personal": {
      const wallet = new Wallet(req.key);
      const signatures = [];
      for (const m of req.messages) signatures.push(await wallet.signMessage(getBytes(m)));
      const recovered = req.messages.map((m, i) => verifyMessage(getBytes(m), req.signatures[i]));
      return { signatures, recovered };
    }
    case "addresses":
      return req.addresses.map((a) => getAddress(a));
    case "decrypt": {
      const w = await Wallet.fromEncryptedJson(req.json, req.password);
      return { address: w.address, private_key: w.privateKey };
    }
    case "encrypt": {
      const w = new Wallet(req.key);
      return await encryptKeystoreJson(w, req.password, { scrypt: { N: req.n, r: req.r, p: req.p } });
    }
  }
  throw new Error("unknown op " + req.op);
}

let input = "";
process.stdin.on("data", (d) => (input += d));
process.stdin.on("end", async () => {
  try {
    process.stdout.write(JSON.stringify(await run(JSON.parse(input))));
  } catch (e) {
    process.stderr.write(String(e.stack || e) + "\n");
    process.exit(1);
  }
});
