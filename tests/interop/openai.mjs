// The official `openai` npm client, unmodified, against a dgrid gateway
// (tests/node/interop_openai_test.cpp starts anvil, provider nodes and a gateway node).
// argv: BASE_URL (ending in /v1) API_KEY MODEL CHAIN_ID DISPUTES_ADDRESS
// stdout: one JSON object of facts observed through the client; the C++ test asserts on it.
// Exits non-zero only when something outside the checks fails (a call that should succeed).
import { createRequire } from "node:module";
const require = createRequire(process.env.NODE_PATH + "/");
const openai = require("openai");
const { OpenAI } = openai;
const { VERSION } = require("openai/version");
const { verifyTypedData } = require("ethers");

const [baseURL, apiKey, model, chainIdArg, disputes] = process.argv.slice(2);
if (!disputes) {
  console.error("usage: openai.mjs BASE_URL API_KEY MODEL CHAIN_ID DISPUTES_ADDRESS");
  process.exit(2);
}
const chainId = Number(chainIdArg);

// maxRetries 0: a failure shows as itself instead of after the client's backoff retries.
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 120_000 });

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

// The domain comes from the deployment the test passed, not from the receipt, so a receipt
// signed for another chain or contract does not verify.
function checkReceipt(r) {
  if (!r || typeof r !== "object") return { present: false };
  const domain = { name: "dgrid", version: "1", chainId, verifyingContract: disputes };
  const value = {
    jobId: r.job_id,
    provider: r.provider,
    model: r.model,
    inputHash: r.input_hash,
    outputHash: r.output_hash,
    promptTokens: r.prompt_tokens,
    completionTokens: r.completion_tokens,
    cost: BigInt(r.cost),
    chainId: r.chain_id,
    timestamp: r.timestamp,
  };
  let recovered = null;
  let error = null;
  try {
    recovered = verifyTypedData(domain, RECEIPT_TYPES, value, r.signature);
  } catch (e) {
    error = String(e && e.message ? e.message : e);
  }
  return {
    present: true,
    provider: r.provider,
    recovered,
    verified: recovered !== null && recovered === r.provider,
    error,
    job_id: r.job_id,
    prompt_tokens: r.prompt_tokens,
    completion_tokens: r.completion_tokens,
    chain_id: r.chain_id,
    verifying_contract: r.verifying_contract,
  };
}

// Which of the client's error classes a failed call raised.
async function expectError(call) {
  try {
    await call();
    return { raised: false };
  } catch (e) {
    const classes = ["AuthenticationError", "NotFoundError", "BadRequestError", "PermissionDeniedError",
      "RateLimitError", "InternalServerError", "APIConnectionError", "APIError"];
    return {
      raised: true,
      class: classes.find((c) => e instanceof openai[c]) ?? e.constructor?.name ?? "unknown",
      status: e.status ?? null,
      type: e.type ?? null,
      code: e.code ?? null,
      message: String(e.message ?? ""),
    };
  }
}

const out = { client_version: VERSION };
const seed = 1234;
const messages = [{ role: "user", content: "Tell me a story about a cat" }];

// GET /v1/models, iterated the way the client pages.
out.models = [];
for await (const m of client.models.list()) out.models.push({ id: m.id, object: m.object, owned_by: m.owned_by });

// Non-streaming chat.
{
  const r = await client.chat.completions.create({ model, messages, max_tokens: 16, temperature: 0, seed });
  out.chat = {
    object: r.object,
    id: r.id,
    model: r.model,
    role: r.choices?.[0]?.message?.role,
    content: r.choices?.[0]?.message?.content,
    finish_reason: r.choices?.[0]?.finish_reason,
    usage: r.usage,
    receipt: checkReceipt(r.dgrid_receipt),
    receipt_error: r.dgrid_receipt_error ?? null,
    dgrid_provider: r.dgrid_provider ?? null,
  };
}

// Legacy completions, with max_completion_tokens' older spelling and a stop list.
{
  const r = await client.completions.create({ model, prompt: "Once upon a time", max_tokens: 12, temperature: 0, seed });
  out.completion = {
    object: r.object,
    text: r.choices?.[0]?.text,
    finish_reason: r.choices?.[0]?.finish_reason,
    usage: r.usage,
    receipt: checkReceipt(r.dgrid_receipt),
    receipt_error: r.dgrid_receipt_error ?? null,
  };
}

// Streaming chat with usage, then the same request without a stream: same seed, temperature
// 0, so the concatenated deltas must equal the plain answer.
{
  const stream = await client.chat.completions.create({
    model, messages, max_completion_tokens: 24, temperature: 0, seed,
    stream: true, stream_options: { include_usage: true },
  });
  let text = "";
  let chunks = 0;
  let contentChunks = 0;
  let usage = null;
  let receipt = null;
  let finish = null;
  let objects = new Set();
  for await (const c of stream) {
    chunks++;
    objects.add(c.object);
    for (const ch of c.choices ?? []) {
      if (typeof ch.delta?.content === "string" && ch.delta.content.length > 0) {
        contentChunks++;
        text += ch.delta.content;
      }
      if (ch.finish_reason) finish = ch.finish_reason;
    }
    if (c.usage) usage = c.usage;
    if (c.dgrid_receipt) receipt = c.dgrid_receipt;
  }
  const plain = await client.chat.completions.create({ model, messages, max_completion_tokens: 24, temperature: 0, seed });
  out.stream = {
    chunks,
    content_chunks: contentChunks,
    objects: [...objects],
    text,
    finish_reason: finish,
    usage,
    receipt: checkReceipt(receipt),
    plain_text: plain.choices?.[0]?.message?.content,
    equals_plain: text === plain.choices?.[0]?.message?.content,
  };
}

// The client's stream helper, which assembles a ChatCompletion from the chunks.
{
  const runner = client.chat.completions.stream({ model, messages, max_tokens: 8, temperature: 0, seed });
  let deltas = "";
  runner.on("content", (d) => { deltas += d; });
  const final = await runner.finalChatCompletion();
  out.stream_helper = { content: final.choices?.[0]?.message?.content, deltas, finish_reason: final.choices?.[0]?.finish_reason };
}

// Streaming legacy completions.
{
  const stream = await client.completions.create({ model, prompt: "Once upon a time", max_tokens: 12, temperature: 0, seed, stream: true });
  let text = "";
  for await (const c of stream) for (const ch of c.choices ?? []) text += ch.text ?? "";
  out.completion_stream = { text, equals_plain: text === out.completion.text };
}

// Errors raise the client's typed exceptions.
const wrong = new OpenAI({ baseURL, apiKey: "sk-wrong-key", maxRetries: 0 });
out.errors = {
  wrong_key: await expectError(() => wrong.chat.completions.create({ model, messages, max_tokens: 4 })),
  wrong_key_models: await expectError(() => wrong.models.list()),
  unknown_model: await expectError(() => client.chat.completions.create({ model: "gpt-17", messages, max_tokens: 4 })),
  unknown_model_stream: await expectError(() =>
    client.chat.completions.create({ model: "gpt-17", messages, max_tokens: 4, stream: true })),
  bad_temperature: await expectError(() =>
    client.chat.completions.create({ model, messages, max_tokens: 4, temperature: 5 })),
};

console.log(JSON.stringify(out));
