// What an integrator installs: a typed ES module, no runtime dependencies, no DOM, no test hooks.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";

const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url)));
const dist = new URL("../dist/", import.meta.url);
const modules = readdirSync(dist, { recursive: true }).filter((f) => f.endsWith(".js"));

test("no runtime dependencies; typed entry points", () => {
  assert.equal(pkg.dependencies, undefined);
  assert.equal(pkg.type, "module");
  for (const entry of Object.values(pkg.exports)) {
    assert.ok(readFileSync(new URL(entry.types.replace("./dist/", ""), dist)).length > 0, entry.types);
    assert.ok(readFileSync(new URL(entry.default.replace("./dist/", ""), dist)).length > 0, entry.default);
  }
  for (const dev of Object.values(pkg.devDependencies)) assert.match(dev, /^\d+\.\d+\.\d+$/, "pinned");
});

test("the shipped module touches no DOM and carries no test hooks", () => {
  assert.ok(modules.length >= 10);
  for (const file of modules) {
    const code = readFileSync(new URL(file, dist), "utf8");
    for (const banned of [/\bdocument\.\w/, /\bwindow\.\w/, /localStorage/, /overrideQuality/, /endMarkers/, /\bconsole\.\w/]) {
      assert.doesNotMatch(code, banned, file);
    }
  }
});

test("npm pack ships the built module, its types and the docs; no sources, tests or traces", async () => {
  const { execFileSync } = await import("node:child_process");
  const root = new URL("..", import.meta.url);
  const [packed] = JSON.parse(execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: root, encoding: "utf8" }));
  const files = packed.files.map((f) => f.path);
  for (const wanted of ["dist/index.js", "dist/index.d.ts", "dist/wire.js", "README.md", "RESUME.md", "package.json"]) {
    assert.ok(files.includes(wanted), wanted);
  }
  assert.deepEqual(files.filter((f) => /^(src|test|traces|scripts|node_modules)\//.test(f)), []);
});
