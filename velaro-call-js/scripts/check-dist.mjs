// The committed dist/ is what `tsc` makes of src/ now: the demo server serves dist/ as it is (no
// npm step for `cargo run --example server`), so a stale dist/ would run old code in the demo and
// in the browser tests. Compiles into a scratch folder and compares file by file.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const scratch = mkdtempSync(join(tmpdir(), "velaro-call-dist-"));
try {
  execFileSync(join(root, "node_modules", ".bin", "tsc"), ["-p", join(root, "tsconfig.json"), "--outDir", scratch], { stdio: "inherit" });
  const files = (dir) => readdirSync(dir, { recursive: true }).filter((f) => f.endsWith(".js") || f.endsWith(".d.ts")).sort();
  const fresh = files(scratch);
  const committed = files(join(root, "dist"));
  const stale = [...new Set([...fresh, ...committed])].filter((file) => {
    const read = (dir) => {
      try {
        return readFileSync(join(dir, file), "utf8");
      } catch {
        return null;
      }
    };
    return read(scratch) !== read(join(root, "dist"));
  });
  if (stale.length > 0) {
    console.error(`dist/ is stale (${stale.join(", ")}): run \`npm run build\` and commit dist/`);
    process.exit(1);
  }
  console.log(`dist/ is what tsc makes of src/ (${fresh.length} files)`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
