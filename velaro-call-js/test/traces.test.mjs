// Every conformance trace (traces/*.json, written from the Rust call machine by
// tests/tests/js_traces.rs) replayed on the package: on CallMachine, input by input, every output,
// phase, deadline, resume cursor and media state must be the Rust machine's; and through
// CallClient on a fake peer connection, fake devices and a fake clock, the frames it sends and
// the media work it does must be the same.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { CallMachine, EndedCalls } from "../dist/index.js";
import { replayThroughClient } from "./replay-client.mjs";

const dir = new URL("../traces/", import.meta.url);
const traces = readdirSync(dir)
  .filter((f) => f.endsWith(".json") && f !== "constants.json")
  .map((f) => JSON.parse(readFileSync(new URL(f, dir), "utf8")));

/** As the wire (and the trace) writes it: no undefined fields. */
const plain = (value) => (value === undefined ? undefined : JSON.parse(JSON.stringify(value)));

/** Replays a call trace on a CallMachine; returns the first difference, or null. */
export function replayOnMachine(trace) {
  const config = { conversation_id: trace.conversation_id, party_id: trace.party_id };
  let machine = trace.role === "agent" ? CallMachine.agent(config, trace.call_id, 0) : null;
  for (const [index, step] of trace.steps.entries()) {
    const where = `${trace.name}, step ${index} at ${step.at_ms} ms (${JSON.stringify(step.input).slice(0, 80)})`;
    const now = step.at_ms;
    const input = step.input;
    let refused;
    if (input.invite) {
      machine = CallMachine.visitor(config, input.invite, now);
      assert.ok(machine instanceof CallMachine, where);
    } else if (input.message) refused = machine.handleMessage(now, input.message);
    else if (input.action) refused = machine.handleAction(now, input.action);
    else if (input.media) refused = machine.handleMedia(now, input.media);
    else if (input.timeout) machine.handleTimeout(now);
    else throw new Error(`${where}: unknown input`);
    const outputs = [];
    for (let output = machine.pollOutput(); output; output = machine.pollOutput()) outputs.push(plain(output));
    assert.deepStrictEqual(outputs, step.outputs, `${where}: outputs`);
    assert.equal(machine.phase, step.phase, `${where}: phase`);
    assert.equal(machine.pollTimeout(), step.next_timeout_ms, `${where}: next timeout`);
    assert.deepStrictEqual(machine.lastSeen(), step.last_seen, `${where}: last seen`);
    assert.deepStrictEqual(plain(machine.localMedia), step.local_media, `${where}: local media`);
    assert.equal(refused?.kind, step.refused, `${where}: refused`);
  }
}

function replayEndedCalls(trace) {
  const ended = new EndedCalls();
  for (const [index, step] of trace.steps.entries()) {
    assert.equal(ended.startsACall(step.frame), step.starts_a_call, `${trace.name}, step ${index}`);
  }
}

test("the traces are there: every behaviour of issue 14", () => {
  assert.ok(traces.length >= 30, `${traces.length} traces`);
  const names = traces.map((t) => t.name);
  for (const name of ["consent_before_media", "glare_the_visitor_rolls_back", "glare_the_agent_keeps_its_offer", "ended_calls"]) {
    assert.ok(names.includes(name), name);
  }
});

for (const trace of traces) {
  if (trace.kind === "ended_calls") {
    test(`trace ${trace.name}`, () => replayEndedCalls(trace));
    continue;
  }
  test(`trace ${trace.name}: CallMachine`, () => replayOnMachine(trace));
  test(`trace ${trace.name}: CallClient on a fake peer connection`, () => replayThroughClient(trace));
}
