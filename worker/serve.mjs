// Run the Worker locally in workerd (Cloudflare's runtime) through Miniflare, for tests, the demo
// and benchmarks. Prints "READY <url>" once it answers; stops on SIGTERM/SIGINT.
//
//   node serve.mjs [--port 0] [--host 127.0.0.1] [--upstream-index URL] [--upstream-files URL]
//                  [--upstream-pyodide "URL URL"] [--timeout-ms N] [--cache-max-file-bytes N]
//                  [--max-page-bytes N]
//   node serve.mjs --snippet dist/snippet.js [--port 0] [--host 127.0.0.1]
// --port 0 (the default) lets the system pick a free port; the printed URL has the real one.
// --snippet runs a built Snippet instead of the Worker, with no bindings at all (its settings
// were compiled in by build-snippet.mjs).
import { Miniflare } from "miniflare";
import { fileURLToPath } from "node:url";
import { dirname, join, resolve } from "node:path";

const here = dirname(fileURLToPath(import.meta.url));
const opts = { port: "0", host: "127.0.0.1" };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) {
  const key = argv[i].replace(/^--/, "");
  if (argv[i + 1] === undefined) throw new Error(`missing value for ${argv[i]}`);
  opts[key] = argv[i + 1];
}

const bindings = {};
if (opts["upstream-pyodide"]) bindings.UPSTREAM_PYODIDE = opts["upstream-pyodide"];
if (opts["max-page-bytes"]) bindings.MAX_PAGE_BYTES = opts["max-page-bytes"];
if (opts["upstream-index"]) bindings.UPSTREAM_INDEX = opts["upstream-index"];
if (opts["upstream-files"]) bindings.UPSTREAM_FILES = opts["upstream-files"];
if (opts["timeout-ms"]) bindings.UPSTREAM_TIMEOUT_MS = opts["timeout-ms"];
if (opts["cache-max-file-bytes"]) bindings.CACHE_MAX_FILE_BYTES = opts["cache-max-file-bytes"];

const mf = new Miniflare({
  name: "micropip-mirror",
  modules: true,
  modulesRules: [{ type: "ESModule", include: ["**/*.js"] }],
  scriptPath: opts.snippet ? resolve(opts.snippet) : join(here, "src", "index.js"),
  modulesRoot: opts.snippet ? dirname(resolve(opts.snippet)) : here,
  compatibilityDate: "2025-09-01",
  host: opts.host,
  port: Number(opts.port),
  bindings: opts.snippet ? {} : bindings,
  cache: true,
});

const url = await mf.ready;
console.log(`READY ${url.origin}`);

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await mf.dispose();
  process.exit(0);
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
