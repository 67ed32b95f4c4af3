// Build the Cloudflare Snippet (dist/snippet.js) from the Worker's source: one ES module,
// minified, with the settings compiled in (Snippets have no bindings or environment variables).
//
//   node build-snippet.mjs [--out dist/snippet.js] [--upstream-index URL] [--upstream-files URL]
//                          [--upstream-pyodide "URL URL"] [--timeout-ms N] [--max-page-bytes N]
//                          [--max-upstream-attempts N]
// Prints "BUILT <path> <bytes>"; fails if the bundle is over the Snippet size limit (32 KB).
import { build } from "esbuild";
import { fileURLToPath } from "node:url";
import { dirname, join, resolve } from "node:path";
import { statSync } from "node:fs";

const SNIPPET_MAX_BYTES = 32 * 1024;
const here = dirname(fileURLToPath(import.meta.url));
const names = {
  "upstream-index": "UPSTREAM_INDEX",
  "upstream-files": "UPSTREAM_FILES",
  "upstream-pyodide": "UPSTREAM_PYODIDE",
  "timeout-ms": "UPSTREAM_TIMEOUT_MS",
  "max-page-bytes": "MAX_PAGE_BYTES",
  "max-upstream-attempts": "MAX_UPSTREAM_ATTEMPTS",
};
let out = join(here, "dist", "snippet.js");
const constants = {};
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) {
  const key = argv[i].replace(/^--/, "");
  if (argv[i + 1] === undefined) throw new Error(`missing value for ${argv[i]}`);
  if (key === "out") out = resolve(argv[i + 1]);
  else if (names[key]) constants[names[key]] = argv[i + 1];
  else throw new Error(`unknown option ${argv[i]}`);
}

await build({
  entryPoints: [join(here, "src", "snippet.js")],
  outfile: out,
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2022",
  define: { SNIPPET_SETTINGS: JSON.stringify(constants) },
  legalComments: "none",
  logLevel: "warning",
});
const size = statSync(out).size;
console.log(`BUILT ${out} ${size}`);
if (size > SNIPPET_MAX_BYTES) {
  console.error(`snippet is ${size} bytes, over the ${SNIPPET_MAX_BYTES}-byte Snippet limit`);
  process.exit(1);
}
