// The official openai npm SDK against a running gateway (driven by tests/server/test_node_client.py).
//
// Environment: GATEWAY_URL (".../v1"), GATEWAY_KEY, MODEL, PROMPT, STREAM_PROMPT, UNKNOWN_ID.
// Creates a response, streams another, retrieves the first by id, retrieves an unknown id (expecting
// the SDK's NotFoundError), then prints one JSON object with everything it saw to stdout.
// `openai` resolves from a node_modules beside this file (the test links the installed package there).
import OpenAI, { NotFoundError } from "openai";
import { VERSION } from "openai/version";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`client.mjs: ${name} is not set`);
  return value;
};

// The text of a response's output_text parts (stream events carry the plain wire object).
const textOf = (response) =>
  response.output
    .flatMap((item) => (item.type === "message" ? item.content : []))
    .filter((part) => part.type === "output_text")
    .map((part) => part.text)
    .join("");

const client = new OpenAI({ baseURL: env("GATEWAY_URL"), apiKey: env("GATEWAY_KEY"), maxRetries: 0, timeout: 30_000 });
const model = env("MODEL");

const created = await client.responses.create({ model, input: env("PROMPT") });

const stream = await client.responses.create({ model, input: env("STREAM_PROMPT"), stream: true });
const types = [];
const sequenceNumbers = [];
const deltas = [];
let completed = null;
for await (const event of stream) {
  types.push(event.type);
  sequenceNumbers.push(event.sequence_number);
  if (event.type === "response.output_text.delta") deltas.push(event.delta);
  if (event.type === "response.completed") completed = event.response;
}

const retrieved = await client.responses.retrieve(created.id);

let missing;
try {
  const unexpected = await client.responses.retrieve(env("UNKNOWN_ID"));
  missing = { raised: null, id: unexpected.id };
} catch (error) {
  if (!(error instanceof OpenAI.APIError)) throw error;
  missing = {
    raised: error.constructor.name,
    not_found: error instanceof NotFoundError,
    status: error.status,
    error: error.error ?? null,
  };
}

const report = {
  sdk_version: VERSION,
  node_version: process.version,
  created: { id: created.id, status: created.status, model: created.model, output_text: created.output_text },
  streamed: {
    types,
    sequence_numbers: sequenceNumbers,
    text: deltas.join(""),
    completed: completed && { id: completed.id, status: completed.status, text: textOf(completed) },
  },
  retrieved: { id: retrieved.id, status: retrieved.status, output_text: retrieved.output_text },
  missing,
};
process.stdout.write(JSON.stringify(report) + "\n");
