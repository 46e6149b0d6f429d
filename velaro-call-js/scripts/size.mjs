// The budget: the package's module, bundled and minified by esbuild and gzipped, is at most 12 KB.
import { build } from "esbuild";
import { gzipSync } from "node:zlib";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const BUDGET = 12 * 1024;
const root = join(dirname(fileURLToPath(import.meta.url)), "..");

export async function measure() {
  const result = await build({
    entryPoints: [join(root, "dist", "index.js")],
    bundle: true,
    minify: true,
    format: "esm",
    write: false,
    logLevel: "silent",
  });
  const code = result.outputFiles[0].contents;
  return { minified: code.length, gzipped: gzipSync(code, { level: 9 }).length };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { minified, gzipped } = await measure();
  const line = `size: ${minified} B minified, ${gzipped} B minified+gzipped (budget ${BUDGET} B)`;
  if (gzipped > BUDGET) {
    console.error(`${line}: over budget`);
    process.exit(1);
  }
  console.log(line);
}
