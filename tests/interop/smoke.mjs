// Prints ethers' keccak256 of stdin's text: proves the interop plumbing works.
import { createRequire } from "node:module";
const require = createRequire(process.env.NODE_PATH + "/");
const { keccak256, toUtf8Bytes } = require("ethers");
let input = "";
process.stdin.on("data", (d) => (input += d));
process.stdin.on("end", () => process.stdout.write(keccak256(toUtf8Bytes(input))));
