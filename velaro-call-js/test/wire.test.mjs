// The wire types are the crate's JSON Schema's: the generated file is exactly what the schema
// (and the Rust trace test's constants) give, and the package's own words cover every value the
// schema knows.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { CONSTANTS_PATH, OUTPUT_PATH, SCHEMA_PATH, generate, openEnumValues } from "../scripts/generate-wire.mjs";
import * as wire from "../dist/wire.js";
import { mediaHelp, reasonText, statusText } from "../dist/index.js";

const schema = JSON.parse(readFileSync(SCHEMA_PATH, "utf8"));
const constants = JSON.parse(readFileSync(CONSTANTS_PATH, "utf8"));

test("src/generated/wire.ts is what the schema and traces/constants.json give", () => {
  assert.equal(readFileSync(OUTPUT_PATH, "utf8"), generate(schema, constants), "run `npm run generate`");
});

test("a change to the schema changes the generated types", () => {
  const changed = structuredClone(schema);
  changed.$defs.ReasonCode.anyOf[0].enum.push("agent_unavailable");
  assert.notEqual(generate(changed, constants), generate(schema, constants));
  const renamed = structuredClone(schema);
  renamed.$defs.AcceptBody.properties = { kinds: renamed.$defs.AcceptBody.properties.media };
  assert.match(generate(renamed, constants), /kinds\?: MediaKinds;/);
  const limit = structuredClone(schema);
  limit.$defs.CandidatesBody.properties.candidates.maxItems = 32;
  assert.throws(() => generate(limit, constants), /max_candidates/, "a limit the schema and the crate disagree on");
});

test("the module's constants are the schema's", () => {
  assert.deepEqual([...wire.MESSAGE_TYPES], schema.properties.type.examples);
  assert.equal(wire.VERSION, schema.properties.version.const);
  for (const [name, def] of Object.entries(schema.$defs)) {
    const known = openEnumValues(def);
    if (!known) continue;
    const constant = `${name.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase()}_VALUES`;
    assert.deepEqual([...wire[constant]], known, constant);
  }
  assert.equal(wire.MAX_CANDIDATES, schema.$defs.CandidatesBody.properties.candidates.maxItems);
  assert.equal(wire.MIN_INVITE_LIFETIME_MS, schema.$defs.InviteBody.properties.lifetime_ms.minimum);
  assert.equal(wire.MAX_INVITE_LIFETIME_MS, schema.$defs.InviteBody.properties.lifetime_ms.maximum);
  assert.equal(wire.MAX_SEQ, schema.properties.seq.maximum);
  assert.deepEqual(wire.TIMINGS_MS, constants.timings_ms);
});

test("every reason code the schema knows has its own plain words, for both sides", () => {
  const generic = "The call ended.";
  for (const code of wire.REASON_CODE_VALUES) {
    const reason = code === "media_permission_denied" ? { code, device: "camera", error: "NotAllowedError" } : { code };
    for (const role of ["agent", "visitor"]) {
      const text = reasonText(reason, role, code === "user_hangup" ? "peer" : null);
      assert.notEqual(text, generic, `${code} for the ${role}`);
      assert.doesNotMatch(text, /_|Error\b/, `no codes or exception names in ${text}`);
    }
  }
  assert.equal(reasonText({ code: "something_newer" }, "agent", null), generic, "a newer peer's code");
});

test("every media error the schema knows has words for the camera and the microphone", () => {
  for (const error of wire.MEDIA_ERROR_VALUES) {
    for (const device of ["camera", "microphone"]) {
      assert.doesNotMatch(mediaHelp("chrome", device, error), /Error\b/, `${device} ${error}`);
    }
  }
  assert.match(statusText("reconnecting"), /^Reconnecting/);
});
