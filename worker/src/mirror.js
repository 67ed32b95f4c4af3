/**
 * micropip-mirror Worker: a small, strict mirror of a Python package index.
 *
 * Routes (everything else is 404; this is not an open proxy):
 *   /simple/ and /pypi/simple/             root listing, passed through
 *   /simple/<name>/ and /pypi/simple/<name>/  project page, PEP 691 JSON or PEP 503 HTML
 *   /pypi/<name>/json                      legacy JSON API
 *   /files/<path>                          distribution files, streamed from UPSTREAM_FILES
 *
 * Every file URL in an answer is rewritten to <origin>/files/<path>: URLs under UPSTREAM_FILES
 * or UPSTREAM_INDEX (after resolving relative links against the upstream page) keep their path
 * below that base, and /files/<path> is always fetched from UPSTREAM_FILES. An index that serves
 * its own files (a local test index, or a mirror with a layout unlike files.pythonhosted.org)
 * therefore needs UPSTREAM_FILES set to its own origin.
 *
 * Every answer, errors included, carries CORS headers set here, so browsers see the real status
 * and clients can fall back at once (404 passed on, upstream failure = 502 with a reason).
 */

const JSON_TYPE = "application/vnd.pypi.simple.v1+json";
const HTML_TYPE = "application/vnd.pypi.simple.v1+html";
const INDEX_CACHE = "public, max-age=300";
const FILE_CACHE = "public, max-age=31536000, immutable";
const DEFAULT_TIMEOUT_MS = 10000;
// Files up to this size are also written to the Cache API; writing means teeing the stream,
// and a slow client would make the tee buffer the difference in the Worker's memory.
const DEFAULT_CACHE_MAX_FILE_BYTES = 32 * 1024 * 1024;

const CORS = {
  "Access-Control-Allow-Origin": "*",
  "Access-Control-Expose-Headers":
    "Content-Type, Content-Length, ETag, Last-Modified, Cache-Control, Age, X-Mirror-Cache",
  "Timing-Allow-Origin": "*",
};
const PREFLIGHT = {
  "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
  "Access-Control-Allow-Headers":
    "Accept, Accept-Encoding, Cache-Control, If-None-Match, If-Modified-Since, Range, Content-Type",
  "Access-Control-Max-Age": "86400",
};

const NAME_RE = /^([a-z0-9]|[a-z0-9][a-z0-9._-]*[a-z0-9])$/i;
// One path segment of a file: no dot first (so no "." or ".."), no "%", "/", "\" or ":".
const FILE_SEGMENT_RE = /^[A-Za-z0-9_][A-Za-z0-9._+~=-]*$/;

export default {
  async fetch(request, env, ctx) {
    try {
      return await handle(request, env || {}, ctx);
    } catch (err) {
      return text(502, `mirror error: ${err && err.message ? err.message : err}`);
    }
  },
};

/** Route a request; returns a Response without CORS applied yet (added in text()/finish()). */
async function handle(request, env, ctx) {
  const url = new URL(request.url);
  const route = matchRoute(url.pathname);
  if (!route) return text(404, "not found: only /simple/, /pypi/simple/, /pypi/<name>/json and /files/ are served");
  if (request.method === "OPTIONS") {
    return new Response(null, { status: 204, headers: { ...CORS, ...PREFLIGHT } });
  }
  if (request.method !== "GET" && request.method !== "HEAD") {
    return text(405, "method not allowed", { Allow: "GET, HEAD, OPTIONS" });
  }
  const cfg = config(env);
  let response;
  if (route.kind === "root") response = await rootListing(request, cfg);
  else if (route.kind === "project") response = await projectPage(request, url, route.name, cfg, ctx);
  else if (route.kind === "legacy") response = await legacyJson(request, url, route.name, cfg, ctx);
  else response = await file(request, url, route.path, cfg, ctx);
  return finish(request, response);
}

/** Which route a path is; null for anything not served. Names are validated and normalized. */
export function matchRoute(pathname) {
  if (pathname === "/simple/" || pathname === "/pypi/simple/" || pathname === "/simple" || pathname === "/pypi/simple") {
    return { kind: "root" };
  }
  let m = /^\/(?:pypi\/)?simple\/([^/]+)\/?$/.exec(pathname);
  if (m) return nameRoute("project", m[1]);
  m = /^\/pypi\/([^/]+)\/json\/?$/.exec(pathname);
  if (m) return nameRoute("legacy", m[1]);
  if (pathname.startsWith("/files/")) {
    const segments = pathname.slice("/files/".length).split("/");
    if (segments.length && segments.every((s) => FILE_SEGMENT_RE.test(s))) {
      return { kind: "file", path: segments.join("/") };
    }
  }
  return null;
}

function nameRoute(kind, raw) {
  let name;
  try {
    name = decodeURIComponent(raw);
  } catch {
    return null;
  }
  return NAME_RE.test(name) ? { kind, name: normalize(name) } : null;
}

/** PEP 503 normalization. Non-normalized names are served directly (no redirect round trip). */
export function normalize(name) {
  return name.toLowerCase().replace(/[-_.]+/g, "-");
}

function config(env) {
  const base = (v, d) => String(v || d).replace(/\/+$/, "");
  return {
    index: base(env.UPSTREAM_INDEX, "https://pypi.org"),
    files: base(env.UPSTREAM_FILES, "https://files.pythonhosted.org"),
    timeoutMs: Number(env.UPSTREAM_TIMEOUT_MS) || DEFAULT_TIMEOUT_MS,
    cacheMaxFileBytes: Number(env.CACHE_MAX_FILE_BYTES) || DEFAULT_CACHE_MAX_FILE_BYTES,
  };
}

// ---------------------------------------------------------------- upstream

class UpstreamError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/**
 * Fetch from an upstream; the timeout covers the wait for the response headers only, so a long
 * file body can still stream. Throws UpstreamError (404 or 502) for anything but a 2xx.
 */
async function upstream(target, init, timeoutMs) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  let response;
  try {
    response = await fetch(target, { ...init, signal: controller.signal, redirect: "follow" });
  } catch (err) {
    const reason = controller.signal.aborted ? `timed out after ${timeoutMs} ms` : `unreachable (${err && err.message ? err.message : err})`;
    throw new UpstreamError(502, `upstream ${reason}: ${target}`);
  } finally {
    clearTimeout(timer);
  }
  if (response.ok) return response;
  if (response.body) response.body.cancel().catch(() => {});
  if (response.status === 404 || response.status === 410) {
    throw new UpstreamError(404, `not found upstream: ${target}`);
  }
  throw new UpstreamError(502, `upstream answered ${response.status}: ${target}`);
}

/** Read a whole (small) index body, bounded by the same timeout. */
async function readText(response, timeoutMs) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new UpstreamError(502, `upstream body timed out after ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([response.text(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function errorResponse(err) {
  if (err instanceof UpstreamError) return text(err.status, err.message);
  throw err;
}

// ---------------------------------------------------------------- routes

async function rootListing(request, cfg) {
  const fmt = negotiate(request.headers.get("Accept"));
  let up;
  try {
    up = await upstream(`${cfg.index}/simple/`, { method: request.method, headers: { Accept: upstreamAccept(fmt) } }, cfg.timeoutMs);
  } catch (err) {
    return errorResponse(err);
  }
  const headers = { "Cache-Control": INDEX_CACHE, Vary: "Accept", "X-Mirror-Cache": "pass" };
  copyHeaders(up.headers, headers, ["Content-Type", "ETag", "Last-Modified"]);
  return new Response(request.method === "HEAD" ? null : up.body, { status: 200, headers });
}

async function projectPage(request, url, name, cfg, ctx) {
  const fmt = negotiate(request.headers.get("Accept"));
  return cachedIndex(request, `${url.origin}/simple/${name}/?format=${fmt.type}`, ctx, async () => {
    const up = await upstream(`${cfg.index}/simple/${name}/`, { headers: { Accept: upstreamAccept({ json: true }) } }, cfg.timeoutMs);
    const type = up.headers.get("Content-Type") || "";
    const body = await readText(up, cfg.timeoutMs);
    let page;
    if (type.includes("json")) page = JSON.parse(body);
    else if (type.includes("html")) page = parseHtml(body, name);
    else throw new UpstreamError(502, `upstream sent unexpected content type ${JSON.stringify(type)}`);
    const base = up.url || `${cfg.index}/simple/${name}/`;
    const files = (page.files || []).map((f) => ({ ...f, url: rewriteUrl(f.url, base, cfg, url.origin) }));
    page = { ...page, name: page.name || name, files };
    return fmt.json
      ? { body: JSON.stringify(page), type: JSON_TYPE }
      : { body: renderHtml(page), type: fmt.type === HTML_TYPE ? HTML_TYPE : "text/html; charset=utf-8" };
  });
}

async function legacyJson(request, url, name, cfg, ctx) {
  return cachedIndex(request, `${url.origin}/pypi/${name}/json`, ctx, async () => {
    const up = await upstream(`${cfg.index}/pypi/${name}/json`, { headers: { Accept: "application/json" } }, cfg.timeoutMs);
    const base = up.url || `${cfg.index}/pypi/${name}/json`;
    const data = JSON.parse(await readText(up, cfg.timeoutMs));
    const fix = (list) => (Array.isArray(list) ? list.map((f) => ({ ...f, url: rewriteUrl(f.url, base, cfg, url.origin) })) : list);
    data.urls = fix(data.urls);
    if (data.releases) {
      for (const v of Object.keys(data.releases)) data.releases[v] = fix(data.releases[v]);
    }
    return { body: JSON.stringify(data), type: "application/json" };
  });
}

/**
 * Serve a rewritten index answer from caches.default, or build it with make() and store it.
 * The ETag is a hash of the rewritten body, so it is the same wherever the answer is cached.
 */
async function cachedIndex(request, key, ctx, make) {
  const cache = globalThis.caches ? caches.default : null;
  const hit = cache ? await cache.match(key) : undefined;
  if (hit) return withHeader(hit, "X-Mirror-Cache", "hit");
  let made;
  try {
    made = await make();
  } catch (err) {
    if (err instanceof SyntaxError) return text(502, `upstream sent a page that does not parse: ${err.message}`);
    return errorResponse(err);
  }
  const headers = {
    "Content-Type": made.type,
    "Cache-Control": INDEX_CACHE,
    ETag: `"${await sha256Hex(made.body)}"`,
    Vary: "Accept",
  };
  const response = new Response(made.body, { status: 200, headers });
  if (cache) ctx.waitUntil(cache.put(key, response.clone()).catch(() => {}));
  return withHeader(response, "X-Mirror-Cache", "miss");
}

/** Stream a distribution file; small enough ones are also written to caches.default. */
async function file(request, url, path, cfg, ctx) {
  const cache = globalThis.caches ? caches.default : null;
  const key = `${url.origin}/files/${path}`;
  const hit = cache ? await cache.match(key) : undefined;
  if (hit) return withHeader(hit, "X-Mirror-Cache", "hit");
  let up;
  try {
    up = await upstream(`${cfg.files}/${path}`, { method: request.method }, cfg.timeoutMs);
  } catch (err) {
    return errorResponse(err);
  }
  const headers = { "Cache-Control": FILE_CACHE };
  const encoded = up.headers.has("Content-Encoding"); // fetch decoded it: the length no longer holds
  copyHeaders(up.headers, headers, encoded ? ["Content-Type", "ETag", "Last-Modified"] : ["Content-Type", "Content-Length", "ETag", "Last-Modified"]);
  if (!headers["Content-Type"]) headers["Content-Type"] = "application/octet-stream";
  const length = Number(up.headers.get("Content-Length"));
  const response = new Response(request.method === "HEAD" ? null : up.body, { status: 200, headers });
  if (cache && request.method === "GET" && !encoded && length > 0 && length <= cfg.cacheMaxFileBytes) {
    ctx.waitUntil(cache.put(key, response.clone()).catch(() => {}));
  }
  return withHeader(response, "X-Mirror-Cache", "miss");
}

// ---------------------------------------------------------------- answers

/** Add CORS, answer If-None-Match with 304, drop the body for HEAD. */
function finish(request, response) {
  const headers = new Headers(response.headers);
  for (const [k, v] of Object.entries(CORS)) headers.set(k, v);
  const etag = headers.get("ETag");
  const inm = request.headers.get("If-None-Match");
  if (response.status === 200 && etag && inm && etagMatches(inm, etag)) {
    if (response.body) response.body.cancel().catch(() => {});
    headers.delete("Content-Length");
    headers.delete("Content-Type");
    return new Response(null, { status: 304, headers });
  }
  const body = request.method === "HEAD" ? null : response.body;
  if (request.method === "HEAD" && response.body) response.body.cancel().catch(() => {});
  return new Response(body, { status: response.status, statusText: response.statusText, headers });
}

/** Weak comparison (RFC 9110): Cloudflare turns strong ETags weak when it compresses. */
function etagMatches(header, etag) {
  const bare = (t) => t.trim().replace(/^W\//, "");
  if (header.trim() === "*") return true;
  return header.split(",").some((t) => bare(t) === bare(etag));
}

function text(status, message, extra = {}) {
  return new Response(`${message}\n`, {
    status,
    headers: { ...CORS, "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store", ...extra },
  });
}

function withHeader(response, name, value) {
  const headers = new Headers(response.headers);
  headers.set(name, value);
  return new Response(response.body, { status: response.status, headers });
}

function copyHeaders(from, to, names) {
  for (const n of names) {
    const v = from.get(n);
    if (v !== null) to[n] = v;
  }
}

async function sha256Hex(body) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(body));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("").slice(0, 40);
}

// ---------------------------------------------------------------- negotiation and rewriting

/** PEP 691 negotiation: JSON only when asked for with a higher q than HTML; HTML by default. */
export function negotiate(accept) {
  const offers = [
    [JSON_TYPE, true],
    ["application/vnd.pypi.simple.latest+json", true],
    [HTML_TYPE, false],
    ["application/vnd.pypi.simple.latest+html", false],
    ["text/html", false],
  ];
  let best = { type: "text/html", json: false, q: 0 };
  for (const part of String(accept || "").split(",")) {
    const [type, ...params] = part.trim().toLowerCase().split(";");
    const qp = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
    const q = qp ? Number(qp.slice(2)) : 1;
    const offer = offers.find(([t]) => t === type.trim());
    if (offer && q > best.q) best = { type: offer[1] ? JSON_TYPE : offer[0] === HTML_TYPE ? HTML_TYPE : "text/html", json: offer[1], q };
  }
  return best;
}

/** What to ask the upstream for: the client's choice first, the other forms as fallbacks. */
function upstreamAccept(fmt) {
  if (fmt.json) return `${JSON_TYPE}, ${HTML_TYPE};q=0.2, text/html;q=0.1`;
  const other = fmt.type === HTML_TYPE ? "text/html" : HTML_TYPE;
  return `${fmt.type}, ${other};q=0.9, ${JSON_TYPE};q=0.1`;
}

/**
 * Point a file URL at this Worker: resolve it against the upstream page, then keep the path below
 * UPSTREAM_FILES or UPSTREAM_INDEX under <origin>/files/. URLs elsewhere are left as they are.
 */
export function rewriteUrl(href, base, cfg, origin) {
  let abs;
  try {
    abs = new URL(href, base);
  } catch {
    return href;
  }
  const fragment = abs.hash;
  abs.hash = "";
  const s = abs.toString();
  for (const root of [cfg.files, cfg.index]) {
    if (s.startsWith(`${root}/`)) return `${origin}/files/${s.slice(root.length + 1)}${fragment}`;
  }
  return s + fragment;
}

const ENTITIES = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", "#39": "'" };

function unescapeHtml(s) {
  return s.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z0-9]+);/gi, (m, e) => {
    if (e[0] === "#") return String.fromCodePoint(e[1] === "x" || e[1] === "X" ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
    return ENTITIES[e.toLowerCase()] ?? m;
  });
}

function escapeHtml(s) {
  return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** PEP 503 HTML -> PEP 691 JSON structure (hash fragment -> hashes, data-* -> keys). */
export function parseHtml(html, name) {
  const files = [];
  const anchor = /<a\s([^>]*)>([\s\S]*?)<\/a\s*>/gi;
  const attr = /([a-zA-Z_:][-a-zA-Z0-9_:.]*)\s*(?:=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?/g;
  let m;
  while ((m = anchor.exec(html))) {
    const attrs = {};
    let a;
    while ((a = attr.exec(m[1]))) attrs[a[1].toLowerCase()] = unescapeHtml(a[2] ?? a[3] ?? a[4] ?? "");
    if (!attrs.href) continue;
    const [url, frag] = attrs.href.split("#", 2);
    const entry = { filename: unescapeHtml(m[2].replace(/<[^>]*>/g, "")).trim(), url, hashes: {} };
    if (frag && frag.includes("=")) {
      const [alg, value] = frag.split("=", 2);
      entry.hashes[alg] = value;
    }
    if ("data-requires-python" in attrs) entry["requires-python"] = attrs["data-requires-python"];
    if ("data-yanked" in attrs) entry.yanked = attrs["data-yanked"] || true;
    const meta = attrs["data-core-metadata"] ?? attrs["data-dist-info-metadata"];
    if (meta !== undefined && meta !== "false") {
      const value = meta === "true" || !meta.includes("=") ? true : Object.fromEntries([meta.split("=", 2)]);
      entry["core-metadata"] = value;
      entry["dist-info-metadata"] = value;
    }
    if ("data-gpg-sig" in attrs) entry["gpg-sig"] = attrs["data-gpg-sig"] === "true";
    files.push(entry);
  }
  return { meta: { "api-version": "1.0" }, name, files };
}

/** PEP 691 JSON structure -> PEP 503 HTML with data-* attributes and hash fragments. */
export function renderHtml(page) {
  const lines = [
    "<!DOCTYPE html>",
    '<html><head><meta name="pypi:repository-version" content="1.0">',
    `<title>Links for ${escapeHtml(page.name)}</title></head><body>`,
    `<h1>Links for ${escapeHtml(page.name)}</h1>`,
  ];
  for (const f of page.files) {
    let href = f.url;
    const hashes = f.hashes || {};
    const alg = "sha256" in hashes ? "sha256" : Object.keys(hashes)[0];
    if (alg && !href.includes("#")) href += `#${alg}=${hashes[alg]}`;
    let attrs = `href="${escapeHtml(href)}"`;
    if (f["requires-python"]) attrs += ` data-requires-python="${escapeHtml(f["requires-python"])}"`;
    const meta = f["core-metadata"] ?? f["dist-info-metadata"];
    if (meta) {
      const value = meta === true ? "true" : Object.entries(meta).map(([k, v]) => `${k}=${v}`)[0] || "true";
      attrs += ` data-core-metadata="${escapeHtml(value)}" data-dist-info-metadata="${escapeHtml(value)}"`;
    }
    if (f.yanked) attrs += ` data-yanked="${f.yanked === true ? "" : escapeHtml(f.yanked)}"`;
    lines.push(`<a ${attrs}>${escapeHtml(f.filename)}</a><br>`);
  }
  lines.push("</body></html>", "");
  return lines.join("\n");
}
