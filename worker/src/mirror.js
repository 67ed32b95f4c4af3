/**
 * micropip-mirror: a small, strict mirror of a Python package index and of the Pyodide
 * distribution, shared by the Worker (src/index.js) and the Snippet (src/snippet.js).
 *
 * Routes (everything else is 404; this is not an open proxy):
 *   /simple/ and /pypi/simple/                root listing (JSON or HTML, converted when needed)
 *   /simple/<name>/ and /pypi/simple/<name>/  project page, PEP 691 JSON or PEP 503 HTML
 *                                             (Accept, or PEP 691's ?format=<content type>)
 *   /pypi/<name>/json, /pypi/<name>/<version>/json   legacy JSON API
 *   /files/<path>                             distribution files, streamed from settings.files
 *   /pyodide/v<version>/(full|debug)/<file>   the Pyodide distribution, from settings.pyodide
 *                                             (a list of bases, tried in order)
 *
 * Every file URL in an answer is rewritten to <origin>/files/<path>: URLs under settings.files
 * or settings.index (after resolving relative links against the upstream page or its
 * <base href>) keep their path below that base (query dropped: /files/ never forwards one), and
 * /files/<path> is always fetched from settings.files. Links that are not http(s) are dropped.
 *
 * Upstream redirects are followed only to the configured upstreams' origins (else: 502), and
 * every upstream request, redirects included, counts against cfg.maxUpstreamAttempts.
 *
 * Every answer, errors included, carries CORS headers set here, so browsers see the real status
 * and clients can fall back at once (404 passed on, upstream failure = 502 with a reason).
 */

const JSON_TYPE = "application/vnd.pypi.simple.v1+json";
const HTML_TYPE = "application/vnd.pypi.simple.v1+html";
const INDEX_TTL = 300;
const MAX_REDIRECTS = 3;
const FILE_TTL = 31536000;
const INDEX_CACHE = `public, max-age=${INDEX_TTL}`;
const FILE_CACHE = `public, max-age=${FILE_TTL}, immutable`;

const CORS = {
  "Access-Control-Allow-Origin": "*",
  "Access-Control-Expose-Headers":
    "Content-Type, Content-Length, ETag, Last-Modified, Cache-Control, Age, X-Mirror-Cache, X-Mirror-Upstream",
  "Timing-Allow-Origin": "*",
  // Pages with COOP/COEP (cross-origin isolation) may load Pyodide and wheels from here.
  "Cross-Origin-Resource-Policy": "cross-origin",
  "X-Content-Type-Options": "nosniff",
  // No answer may run anything on this origin, not even an upstream's root page passed through.
  "Content-Security-Policy": "default-src 'none'; sandbox",
};
const PREFLIGHT = {
  "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
  "Access-Control-Allow-Headers":
    "Accept, Accept-Encoding, Cache-Control, If-None-Match, If-Modified-Since, Range, Content-Type",
  "Access-Control-Max-Age": "86400",
};

// Content types of the Pyodide distribution: wasm must be application/wasm for streaming
// compilation, modules must be JavaScript. HTML is served as text so no upstream page runs here.
const PYODIDE_TYPES = {
  wasm: "application/wasm",
  mjs: "text/javascript; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  json: "application/json",
  map: "application/json",
  zip: "application/zip",
  whl: "application/zip",
  tar: "application/x-tar",
  ts: "text/plain; charset=utf-8",
  html: "text/plain; charset=utf-8",
};

const NAME_RE = /^([a-z0-9]|[a-z0-9][a-z0-9._-]*[a-z0-9])$/i;
// One path segment of a file, decoded: no dot first (so no "." or ".."), no "%", "/", "\" or ":".
// "+" (local versions, "+cpu") and "!" (epochs) appear in real file names, often as %2B / %21.
const FILE_SEGMENT_RE = /^[A-Za-z0-9_][A-Za-z0-9._+~=!-]*$/;
const VERSION_RE = /^[A-Za-z0-9_][A-Za-z0-9._+!-]*$/;
const PYODIDE_VERSION_RE = /^v[0-9][0-9A-Za-z.+-]*$/;

/** Settings from a plain object (Worker bindings or the Snippet's build-time constants). */
export function settings(source, defaults = {}) {
  const get = (k) => (source && source[k] !== undefined && source[k] !== "" ? source[k] : defaults[k]);
  const base = (v, d) => String(v || d).replace(/\/+$/, "");
  const list = (v) => String(v).split(/[\s,]+/).filter(Boolean).map((b) => b.replace(/\/+$/, ""));
  const number = (v, d) => (v === undefined || v === null || v === "" || Number.isNaN(Number(v)) ? d : Number(v));
  return {
    index: base(get("UPSTREAM_INDEX"), "https://pypi.org"),
    files: base(get("UPSTREAM_FILES"), "https://files.pythonhosted.org"),
    pyodide: list(get("UPSTREAM_PYODIDE") || "https://cdn.jsdelivr.net/pyodide"),
    timeoutMs: number(get("UPSTREAM_TIMEOUT_MS"), 10000),
    // Files up to this size are also written to the Cache API; writing means teeing the stream.
    cacheMaxFileBytes: number(get("CACHE_MAX_FILE_BYTES"), 32 * 1024 * 1024),
    // Index pages are parsed in memory; bigger ones are answered 502 (the Snippet has 2 MB).
    maxPageBytes: number(get("MAX_PAGE_BYTES"), 64 * 1024 * 1024),
    // Upstream requests one client request may make (a Snippet may make 2 to 5 by plan).
    maxUpstreamAttempts: number(get("MAX_UPSTREAM_ATTEMPTS"), 8),
    // false: no Cache API; cache at the fetch layer instead (fetch's `cf` options).
    cacheApi: String(get("CACHE_API") ?? "true") !== "false",
  };
}

/** Handle one request; never throws (an unexpected error is a 502 with its message). */
export async function handleRequest(request, cfg, ctx) {
  try {
    return await route(request, cfg, ctx || { waitUntil() {} });
  } catch (err) {
    return text(502, `mirror error: ${err && err.message ? err.message : err}`);
  }
}

async function route(request, cfg, ctx) {
  const url = new URL(request.url);
  const match = matchRoute(url.pathname);
  if (!match) return text(404, "not found: only /simple/, /pypi/simple/, /pypi/<name>/json, /files/ and /pyodide/ are served");
  if (request.method === "OPTIONS") {
    return new Response(null, { status: 204, headers: { ...CORS, ...PREFLIGHT } });
  }
  if (request.method !== "GET" && request.method !== "HEAD") {
    return text(405, "method not allowed", { Allow: "GET, HEAD, OPTIONS" });
  }
  const fmt = match.kind === "root" || match.kind === "project" ? requestedFormat(request, url) : null;
  if ((match.kind === "root" || match.kind === "project") && !fmt) {
    return text(406, `unsupported ?format=; use ${JSON_TYPE}, ${HTML_TYPE} or text/html`);
  }
  // Upstream requests this client request may still make, redirects included.
  const budget = { left: Math.max(1, cfg.maxUpstreamAttempts) };
  let response;
  if (match.kind === "root") response = await rootListing(request, fmt, cfg, budget);
  else if (match.kind === "project") response = await projectPage(url, match.name, fmt, cfg, ctx, budget);
  else if (match.kind === "legacy") response = await legacyJson(url, match, cfg, ctx, budget);
  else if (match.kind === "file") response = await file(request, url, `files/${match.path}`, [`${cfg.files}/${match.path}`], cfg, ctx, budget);
  else {
    const tail = `${match.version}/${match.build}/${match.file}`;
    const targets = cfg.pyodide.map((b) => `${b}/${tail}`);
    response = await file(request, url, `pyodide/${tail}`, targets, cfg, ctx, budget, contentType(match.file));
  }
  return finish(request, response);
}

/** Which route a path is; null for anything not served. Names are validated and normalized. */
export function matchRoute(pathname) {
  if (/^\/(pypi\/)?simple\/?$/.test(pathname)) return { kind: "root" };
  let m = /^\/(?:pypi\/)?simple\/([^/]+)\/?$/.exec(pathname);
  if (m) return nameRoute("project", m[1]);
  m = /^\/pypi\/([^/]+)\/(?:([^/]+)\/)?json\/?$/.exec(pathname);
  if (m) {
    const r = nameRoute("legacy", m[1]);
    if (!r || m[2] === undefined) return r;
    const version = decodeSegment(m[2]);
    return version && VERSION_RE.test(version) ? { ...r, version: m[2] } : null;
  }
  if (pathname.startsWith("/files/")) {
    const segments = pathname.slice("/files/".length).split("/");
    if (segments.every(validSegment)) return { kind: "file", path: segments.join("/") };
    return null;
  }
  m = /^\/pyodide\/([^/]+)\/(full|debug)\/([^/]+)$/.exec(pathname);
  if (m && PYODIDE_VERSION_RE.test(m[1]) && !m[1].includes("..") && validSegment(m[3])) {
    return { kind: "pyodide", version: m[1], build: m[2], file: m[3] };
  }
  return null;
}

/** A raw path segment is served when its decoded form is a plain file name; the raw form
 * (e.g. with %2B) is what goes upstream, exactly as the rewritten link had it. */
function validSegment(raw) {
  const decoded = decodeSegment(raw);
  return decoded !== null && FILE_SEGMENT_RE.test(decoded) && /^[A-Za-z0-9._+~=!%-]*$/.test(raw);
}

function decodeSegment(raw) {
  try {
    return decodeURIComponent(raw);
  } catch {
    return null;
  }
}

function nameRoute(kind, raw) {
  const name = decodeSegment(raw);
  return name !== null && NAME_RE.test(name) ? { kind, name: normalize(name) } : null;
}

/** PEP 503 normalization. Non-normalized names are served directly (no redirect round trip). */
export function normalize(name) {
  return name.toLowerCase().replace(/[-_.]+/g, "-");
}

function contentType(fileName) {
  const ext = fileName.slice(fileName.lastIndexOf(".") + 1).toLowerCase();
  return PYODIDE_TYPES[ext] || "application/octet-stream";
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
 * file body can still stream. Redirects are followed only to the configured upstreams' origins
 * (so an upstream cannot make this an open proxy) and at most MAX_REDIRECTS times; every request made,
 * redirects included, is taken from `budget` (a Snippet may make only 2). Returns the response
 * and the URL it came from; throws UpstreamError (404 or 502) for anything but a whole 200 file.
 * Without the Cache API, the answer is cached at the fetch layer for `ttl` seconds.
 */
async function upstream(target, init, cfg, ttl, budget) {
  let url = target;
  for (let hops = 0; ; hops += 1) {
    if (budget.left <= 0) throw new UpstreamError(502, `upstream request budget (${cfg.maxUpstreamAttempts}) spent: ${target}`);
    budget.left -= 1;
    const response = await fetchOnce(url, init, cfg, ttl);
    if (response.status === 200 || response.status === 203) return { response, url };
    if (response.body) response.body.cancel().catch(() => {});
    const location = response.headers.get("Location");
    if (response.status >= 300 && response.status < 400 && location) {
      let next;
      try {
        next = new URL(location, url);
      } catch {
        throw new UpstreamError(502, `upstream redirected to an invalid URL: ${target}`);
      }
      if (!upstreamOrigins(cfg).has(next.origin)) throw new UpstreamError(502, `upstream redirected to another origin (${next.origin}): ${target}`);
      if (hops >= MAX_REDIRECTS) throw new UpstreamError(502, `upstream redirected more than ${MAX_REDIRECTS} times: ${target}`);
      url = next.href;
      continue;
    }
    if (response.status === 404 || response.status === 410) {
      throw new UpstreamError(404, `not found upstream: ${target}`);
    }
    throw new UpstreamError(502, `upstream answered ${response.status}: ${target}`);
  }
}

/** The origins this mirror was configured with: redirects may move between these only. */
function upstreamOrigins(cfg) {
  return new Set([cfg.index, cfg.files, ...cfg.pyodide].map((base) => new URL(base).origin));
}

async function fetchOnce(url, init, cfg, ttl) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), cfg.timeoutMs);
  const cf = cfg.cacheApi ? undefined : { cacheEverything: true, cacheTtl: ttl };
  try {
    return await fetch(url, { ...init, cf, signal: controller.signal, redirect: "manual" });
  } catch (err) {
    const reason = controller.signal.aborted ? `timed out after ${cfg.timeoutMs} ms` : `unreachable (${err && err.message ? err.message : err})`;
    throw new UpstreamError(502, `upstream ${reason}: ${url}`);
  } finally {
    clearTimeout(timer);
  }
}

/** Read a whole index body, bounded by the timeout and by cfg.maxPageBytes. */
async function readText(response, cfg) {
  const reader = response.body.getReader();
  const chunks = [];
  let size = 0;
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new UpstreamError(502, `upstream body timed out after ${cfg.timeoutMs} ms`)), cfg.timeoutMs);
  });
  try {
    for (;;) {
      const { done, value } = await Promise.race([reader.read(), timeout]);
      if (done) break;
      size += value.byteLength;
      if (size > cfg.maxPageBytes) {
        throw new UpstreamError(502, `upstream page larger than this mirror parses (${cfg.maxPageBytes} bytes)`);
      }
      chunks.push(value);
    }
  } catch (err) {
    reader.cancel().catch(() => {});
    throw err;
  } finally {
    clearTimeout(timer);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.byteLength;
  }
  return new TextDecoder().decode(all);
}

function errorResponse(err) {
  if (err instanceof UpstreamError) return text(err.status, err.message);
  if (err instanceof SyntaxError) return text(502, `upstream sent a page that does not parse: ${err.message}`);
  throw err;
}

// ---------------------------------------------------------------- routes

async function rootListing(request, fmt, cfg, budget) {
  let up;
  try {
    ({ response: up } = await upstream(`${cfg.index}/simple/`, { headers: { Accept: upstreamAccept(fmt) } }, cfg, INDEX_TTL, budget));
  } catch (err) {
    return errorResponse(err);
  }
  const type = up.headers.get("Content-Type") || "";
  const headers = { "Cache-Control": INDEX_CACHE, Vary: "Accept", "X-Mirror-Cache": "pass" };
  if (type.includes("json") === fmt.json) {
    copyHeaders(up.headers, headers, ["Content-Type", "ETag", "Last-Modified"]);
    return new Response(up.body, { status: 200, headers });
  }
  // The upstream speaks the other format: convert (bounded by maxPageBytes).
  let projects;
  try {
    const body = await readText(up, cfg);
    projects = type.includes("json") ? JSON.parse(body).projects || [] : parseRootHtml(body);
  } catch (err) {
    return errorResponse(err);
  }
  if (fmt.json) {
    headers["Content-Type"] = JSON_TYPE;
    return new Response(JSON.stringify({ meta: { "api-version": "1.0" }, projects }), { status: 200, headers });
  }
  headers["Content-Type"] = fmt.type === HTML_TYPE ? HTML_TYPE : "text/html; charset=utf-8";
  const root = new URL(request.url).pathname.replace(/\/?$/, "/"); // absolute: /simple works too
  const links = projects.map((p) => `<a href="${root}${escapeHtml(normalize(p.name))}/">${escapeHtml(p.name)}</a><br>`);
  const html = ["<!DOCTYPE html>", '<html><head><meta name="pypi:repository-version" content="1.0"><title>Simple index</title></head><body>', ...links, "</body></html>", ""];
  return new Response(html.join("\n"), { status: 200, headers });
}

async function projectPage(url, name, fmt, cfg, ctx, budget) {
  return cachedIndex(`${url.origin}/simple/${name}/?format=${fmt.type}`, cfg, ctx, async () => {
    const target = `${cfg.index}/simple/${name}/`;
    const { response: up, url: from } = await upstream(target, { headers: { Accept: upstreamAccept({ json: true }) } }, cfg, INDEX_TTL, budget);
    const type = up.headers.get("Content-Type") || "";
    const body = await readText(up, cfg);
    let page;
    let base = from;
    if (type.includes("json")) page = JSON.parse(body);
    else if (type.includes("html")) {
      page = parseHtml(body, name);
      if (page.base) base = htmlBase(page.base, base);
    } else throw new UpstreamError(502, `upstream sent unexpected content type ${JSON.stringify(type)}`);
    const files = rewriteFiles(page.files, base, cfg, url.origin);
    page = { meta: page.meta || { "api-version": "1.0" }, ...page, name: page.name || name, files };
    delete page.base;
    return fmt.json
      ? { body: JSON.stringify(page), type: JSON_TYPE }
      : { body: renderHtml(page), type: fmt.type === HTML_TYPE ? HTML_TYPE : "text/html; charset=utf-8" };
  });
}

async function legacyJson(url, match, cfg, ctx, budget) {
  const path = match.version === undefined ? `pypi/${match.name}/json` : `pypi/${match.name}/${match.version}/json`;
  return cachedIndex(`${url.origin}/${path}`, cfg, ctx, async () => {
    const { response: up, url: base } = await upstream(`${cfg.index}/${path}`, { headers: { Accept: "application/json" } }, cfg, INDEX_TTL, budget);
    const data = JSON.parse(await readText(up, cfg));
    const fix = (list) => (Array.isArray(list) ? rewriteFiles(list, base, cfg, url.origin) : list);
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
async function cachedIndex(key, cfg, ctx, make) {
  const cache = cfg.cacheApi && globalThis.caches ? caches.default : null;
  const hit = cache ? await cache.match(key) : undefined;
  if (hit) return withHeader(hit, "X-Mirror-Cache", "hit");
  let made;
  try {
    made = await make();
  } catch (err) {
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
  return withHeader(response, "X-Mirror-Cache", cache ? "miss" : "pass");
}

/**
 * Stream a file from the first of `targets` that has it (as many as the budget allows); small
 * enough ones are also written to caches.default under `<origin>/<key>`. A HEAD is a GET
 * upstream (finish() drops the body), so it answers what a GET would even where the upstream
 * does not implement HEAD.
 */
async function file(request, url, key, targets, cfg, ctx, budget, type) {
  const cache = cfg.cacheApi && globalThis.caches ? caches.default : null;
  const cacheKey = `${url.origin}/${key}`;
  const hit = cache ? await cache.match(cacheKey) : undefined;
  if (hit) return withHeader(hit, "X-Mirror-Cache", "hit");
  let up;
  let used = 0;
  const failures = [];
  for (const target of targets) {
    if (budget.left <= 0) break;
    try {
      ({ response: up } = await upstream(target, {}, cfg, FILE_TTL, budget));
      break;
    } catch (err) {
      if (!(err instanceof UpstreamError)) throw err;
      failures.push(err);
      used += 1;
    }
  }
  if (!up) {
    const status = failures.length === targets.length && failures.every((e) => e.status === 404) ? 404 : 502;
    return text(status, failures.map((e) => e.message).join("\n"));
  }
  const headers = { "Cache-Control": FILE_CACHE, "X-Mirror-Upstream": String(used + 1) };
  const encoded = up.headers.has("Content-Encoding"); // fetch decoded it: the length no longer holds
  copyHeaders(up.headers, headers, encoded ? ["Content-Type", "ETag", "Last-Modified"] : ["Content-Type", "Content-Length", "ETag", "Last-Modified"]);
  if (type) headers["Content-Type"] = type;
  if (!headers["Content-Type"]) headers["Content-Type"] = "application/octet-stream";
  const length = Number(up.headers.get("Content-Length"));
  const response = new Response(up.body, { status: 200, headers });
  if (cache && request.method === "GET" && !encoded && length > 0 && length <= cfg.cacheMaxFileBytes) {
    ctx.waitUntil(cache.put(cacheKey, response.clone()).catch(() => {}));
  }
  return withHeader(response, "X-Mirror-Cache", cache ? "miss" : "pass");
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
export function negotiate(accept, strict = false) {
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
  return strict && best.q === 0 ? null : best;
}

/** What to ask the upstream for: the client's choice first, the other forms as fallbacks. */
function upstreamAccept(fmt) {
  if (fmt.json) return `${JSON_TYPE}, ${HTML_TYPE};q=0.2, text/html;q=0.1`;
  const other = fmt.type === HTML_TYPE ? "text/html" : HTML_TYPE;
  return `${fmt.type}, ${other};q=0.9, ${JSON_TYPE};q=0.1`;
}

/** PEP 691's ?format=<content type> wins over Accept; null when it names no format we serve. */
function requestedFormat(request, url) {
  const m = /(?:^\?|&)format=([^&]*)/.exec(url.search);
  if (!m) return negotiate(request.headers.get("Accept"));
  const value = decodeSegment(m[1]); // not URLSearchParams: it would turn the "+" into a space
  return value === null ? null : negotiate(value, true);
}

/** File entries with their URLs pointed at this Worker; entries whose link is not http(s)
 * (javascript:, data:, ...) or that have no URL string at all are dropped, so they never reach
 * a page we render. */
function rewriteFiles(files, base, cfg, origin) {
  const out = [];
  for (const f of Array.isArray(files) ? files : []) {
    if (!f || typeof f.url !== "string") continue;
    const url = rewriteUrl(f.url, base, cfg, origin);
    if (url !== null) out.push({ ...f, url });
  }
  return out;
}

/**
 * Point a file URL at this Worker: resolve it against the upstream page, then keep the path below
 * settings.files or settings.index under <origin>/files/ (its query dropped, as /files/ forwards
 * none). URLs elsewhere are left as they are; null for anything that is not http(s).
 */
export function rewriteUrl(href, base, cfg, origin) {
  let abs;
  try {
    abs = new URL(String(href).trim(), base);
  } catch {
    return null;
  }
  if (abs.protocol !== "http:" && abs.protocol !== "https:") return null;
  const fragment = abs.hash;
  abs.hash = "";
  const search = abs.search;
  abs.search = "";
  const s = abs.toString();
  for (const root of [cfg.files, cfg.index]) {
    if (s.startsWith(`${root}/`)) return `${origin}/files/${s.slice(root.length + 1)}${fragment}`;
  }
  return s + search + fragment;
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

/**
 * Every <a attributes>text</a> of a page as [attributes, text], in one pass (linear even for a
 * broken page: a regex with a lazy body backtracks quadratically over unclosed tags). A quoted
 * attribute value may hold ">" (valid HTML, as HTMLParser reads it).
 */
function anchors(html) {
  const lower = html.toLowerCase();
  const found = [];
  let at = 0;
  for (;;) {
    const open = lower.indexOf("<a", at);
    if (open < 0) break;
    at = open + 2;
    if (!/\s/.test(lower.charAt(at))) continue;
    const end = tagEnd(html, at);
    if (end < 0) break; // no ">" outside quotes anywhere after: no more tags
    let close = lower.indexOf("</a", end);
    while (close >= 0 && !/[\s>]/.test(lower.charAt(close + 3))) close = lower.indexOf("</a", close + 3);
    const closeEnd = close < 0 ? -1 : lower.indexOf(">", close);
    if (closeEnd < 0) break; // no closing </a> after: no more whole anchors
    found.push([html.slice(at, end), html.slice(end + 1, close)]);
    at = closeEnd + 1;
  }
  return found;
}

/** Index of the ">" ending the tag whose attributes start at `i` (quotes honoured), or -1. */
function tagEnd(html, i) {
  const next = /["'>]/g;
  for (next.lastIndex = i; ; ) {
    const m = next.exec(html);
    if (!m) return -1;
    if (m[0] === ">") return m.index;
    const closing = html.indexOf(m[0], m.index + 1);
    if (closing < 0) return -1;
    next.lastIndex = closing + 1;
  }
}

/** Comments hold no links (for HTMLParser, and so micropip, neither). */
function withoutComments(html) {
  return html.replace(/<!--[\s\S]*?(?:-->|$)/g, "");
}

/** PEP 503 HTML -> PEP 691 JSON structure (hash fragment -> hashes, data-* -> keys); `base` is
 * the page's <base href>, if any, for the caller to resolve links against. */
export function parseHtml(source, name) {
  const files = [];
  const html = withoutComments(source);
  const baseTag = /<base\s[^>]*?href\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))/i.exec(html);
  const attr = /([a-zA-Z_:][-a-zA-Z0-9_:.]*)\s*(?:=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?/g;
  for (const [attributes, text] of anchors(html)) {
    const attrs = {};
    let a;
    while ((a = attr.exec(attributes))) attrs[a[1].toLowerCase()] = unescapeHtml(a[2] ?? a[3] ?? a[4] ?? "");
    if (!attrs.href) continue;
    const [url, frag] = attrs.href.split("#", 2);
    const entry = { filename: unescapeHtml(text.replace(/<[^>]*>/g, "")).trim(), url, hashes: {} };
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
  const page = { meta: { "api-version": "1.0" }, name, files };
  if (baseTag) page.base = unescapeHtml(baseTag[1] ?? baseTag[2] ?? baseTag[3]);
  return page;
}

/** The base a page's links resolve against: its <base href>, unless that does not parse or is
 * not http(s) (javascript:, data:), which browsers ignore too (HTML's "frozen base URL"). */
function htmlBase(href, pageUrl) {
  try {
    const url = new URL(href, pageUrl);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : pageUrl;
  } catch {
    return pageUrl;
  }
}

/** A PEP 503 root page -> PEP 691 `projects` (the link texts are the names). */
function parseRootHtml(source) {
  const projects = [];
  const html = withoutComments(source);
  for (const [, text] of anchors(html)) {
    const name = unescapeHtml(text.replace(/<[^>]*>/g, "")).trim();
    if (name) projects.push({ name });
  }
  return projects;
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
