// micropip-mirror demo: load Pyodide + micropip + micropip-mirror, enable it with the
// visitor's mirror list, install requirements and show every routed request live.
// Plain ES module, no build step. Configuration comes from config.json, written by
// demo/serve.py; without it (page on a plain static host) online defaults are used.

const $ = (id) => document.getElementById(id);
const CDN_HOSTS = ["cdn.jsdelivr.net", "fastly.jsdelivr.net", "gcore.jsdelivr.net", "testingcf.jsdelivr.net"];
const STATIC_DEFAULTS = {
  mode: "static",
  pyodide: "https://cdn.jsdelivr.net/pyodide/v314.0.7/full/",
  pyodide_version: "314.0.7",
  wheel: null, // then micropip.install("micropip-mirror") from the index
  mirrors: "pypi = https://pypi.org/simple",
  requirements: "tabulate",
  probe_project: "micropip",
};
const PSEP691 = "application/vnd.pypi.simple.v1+json";
const OUTCOMES = {
  ok: ["✔", "served"],
  cached: ["↺", "from cache"],
  failed: ["✖", "failed"],
  cancelled: ["⊘", "cancelled"],
  stale: ["⚠", "lacks version"],
  pending: ["⋯", "waiting"],
};
const STORE_KEY = "micropip-mirror-demo";

let config;
let pyodide;
let py; // Python helpers (a dict of callables)
let enabledList = null; // the mirror list micropip-mirror was last enabled with

// --- small helpers -----------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

function badge(icon, text, kind) {
  return el("span", { class: `badge ${kind}` }, el("span", { class: "icon", "aria-hidden": "true" }, icon), " ", text);
}

function setStatus(state, text) {
  const icons = { loading: "⋯", ready: "✔", error: "✖" };
  $("status").dataset.state = state;
  $("status").querySelector(".icon").textContent = icons[state];
  $("status-text").textContent = text;
  $("status").setAttribute("role", state === "error" ? "alert" : "status");
}

function params() {
  return new URLSearchParams(location.search);
}

function setParam(name, value) {
  const p = params();
  if (value === null) p.delete(name);
  else p.set(name, value);
  const query = p.toString();
  history.replaceState(null, "", location.pathname + (query ? "?" + query : "") + location.hash);
}

// "name = url", "url", or "name = cloudflare:origin"; '#' lines are comments.
function parseMirrors(text) {
  const out = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const m = line.match(/^([\w.-]+)\s*=\s*(\S+)$/);
    const spec = m ? m[2] : line;
    let name = m ? m[1] : null;
    let index = spec;
    if (spec.startsWith("cloudflare:")) {
      index = spec.slice("cloudflare:".length).replace(/\/+$/, "") + "/pypi/simple";
      name = name || "cloudflare";
    }
    if (!name) {
      try { name = new URL(index).host; } catch { name = index; }
    }
    out.push({ name, index });
  }
  return out;
}

// --- configuration and persistence ---------------------------------------------------------

async function loadConfig() {
  try {
    const resp = await fetch("config.json", { cache: "no-store" });
    if (resp.ok) return { ...STATIC_DEFAULTS, ...(await resp.json()) };
  } catch { /* plain static host: online defaults */ }
  return { ...STATIC_DEFAULTS };
}

// The mirror list: ?mirrors= first, then localStorage (only if saved against these same
// defaults: the demo server's local ports change each run), then the defaults.
function initialMirrors() {
  const fromUrl = params().get("mirrors");
  if (fromUrl) return fromUrl;
  try {
    const saved = JSON.parse(localStorage.getItem(STORE_KEY) || "null");
    if (saved && saved.defaults === config.mirrors && saved.mirrors) return saved.mirrors;
  } catch { /* storage unavailable */ }
  return config.mirrors;
}

function saveMirrors(text) {
  setParam("mirrors", text === config.mirrors ? null : text);
  try {
    localStorage.setItem(STORE_KEY, JSON.stringify({ defaults: config.mirrors, mirrors: text }));
  } catch { /* storage unavailable */ }
}

function pyodideChoices() {
  const choices = config.pyodide_choices ||
    CDN_HOSTS.map((h) => [h, STATIC_DEFAULTS.pyodide.replace("cdn.jsdelivr.net", h)]);
  return choices;
}

function setupRuntimeControls(base) {
  const select = $("pyodide-choice");
  const choices = pyodideChoices();
  for (const [label, url] of choices) select.append(el("option", { value: url }, label));
  if (!choices.some(([, url]) => url === base)) select.append(el("option", { value: base }, "custom URL"));
  select.value = base;
  $("pyodide-url").value = base;
  select.addEventListener("change", () => { $("pyodide-url").value = select.value; });
  $("pyodide-apply").addEventListener("click", () => {
    const url = $("pyodide-url").value.trim();
    const p = params();
    if (url && url !== config.pyodide) p.set("pyodide", url); else p.delete("pyodide");
    location.search = p.toString();
  });
}

// --- Pyodide, micropip, micropip-mirror ---------------------------------------------------

const PY_HELPERS = `
import json, re, micropip, micropip_mirror
from micropip_mirror import Mirror
from micropip_mirror.report import clock_ms

def parse(text):
    mirrors = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r"([\\w.-]+)\\s*=\\s*(\\S+)", line)
        name, spec = (m.group(1), m.group(2)) if m else (None, line)
        if spec.startswith("cloudflare:"):
            mirrors.append(Mirror.cloudflare(spec[len("cloudflare:"):], name=name or "cloudflare"))
        else:
            mirrors.append(Mirror(spec, name=name))
    return mirrors

def enable(text):
    return json.dumps([m.name for m in micropip_mirror.enable(parse(text))])

def report():
    return json.dumps({"now_ms": clock_ms(), "records": micropip_mirror.report(file=None).as_dicts()})

async def install(text):
    reqs = text.split()
    before = {n: p.version for n, p in micropip.list().items()}
    await micropip.install(reqs)
    return json.dumps([{"name": n, "version": p.version, "source": p.source}
                       for n, p in sorted(micropip.list().items()) if before.get(n) != p.version])

{"parse": parse, "enable": enable, "report": report, "install": install,
 "versions": json.dumps({"micropip": micropip.__version__, "micropip_mirror": micropip_mirror.__version__})}
`;

async function startPython(base) {
  const indexURL = new URL(base, location.href).href;
  setStatus("loading", `Loading Pyodide from ${indexURL} …`);
  const { loadPyodide } = await import(indexURL + "pyodide.mjs");
  pyodide = await loadPyodide({ indexURL });
  window.pyodide = pyodide; // for the console (and the demo's test)
  setStatus("loading", "Loading micropip …");
  await pyodide.loadPackage("micropip", { messageCallback: () => {} });
  setStatus("loading", "Installing micropip-mirror …");
  const micropip = pyodide.pyimport("micropip");
  await micropip.install(config.wheel ? new URL(config.wheel, location.href).href : "micropip-mirror");
  py = pyodide.runPython(PY_HELPERS).toJs({ dict_converter: Object.fromEntries, create_pyproxies: true });
  const v = JSON.parse(py.versions);
  setStatus("ready", `Ready: Pyodide ${pyodide.version}, micropip ${v.micropip}, micropip-mirror ${v.micropip_mirror}.`);
  $("install").disabled = false;
}

// --- the live waterfall of requests ------------------------------------------------------

const TICK_STEPS = [10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000];

function fmtMs(ms) {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
}

// How long an attempt has taken so far (a pending one runs until `now`).
function duration(a, now) {
  return a.outcome === "pending" ? Math.max(0, now - a.start_ms) : a.ms;
}

// One time axis for this install: from its first request's start to the last attempt's end.
function axisOf(records, now) {
  const t0 = records.length ? Math.min(...records.map((r) => r.start_ms)) : 0;
  let end = t0 + 1;
  for (const r of records) for (const a of r.attempts) end = Math.max(end, a.start_ms + duration(a, now));
  const span = end - t0;
  const step = TICK_STEPS.find((s) => span / s <= 5) || Math.ceil(span / 5000) * 1000;
  return { t0, span, step };
}

function renderAxis(axis) {
  const ticks = [];
  for (let t = 0; t <= axis.span; t += axis.step) {
    ticks.push(el("span", { class: "tick", style: `left:${(t / axis.span) * 100}%` }, t ? fmtMs(t) : "0"));
  }
  $("timeline").querySelector("thead .axis").replaceChildren(...ticks);
}

function waterfallCell(a, axis, now) {
  const ms = duration(a, now);
  const offset = a.start_ms - axis.t0;
  const [icon, text] = OUTCOMES[a.outcome] || ["?", a.outcome];
  const bar = el("span", {
    class: `bar ${a.outcome}`,
    "data-start-ms": a.start_ms,
    style: `left:${(offset / axis.span) * 100}%;width:${(ms / axis.span) * 100}%`,
    title: `${a.mirror}: ${text}, started at +${fmtMs(offset)}, took ${fmtMs(ms)}`,
  }, el("span", { class: "end", "aria-hidden": "true" }, a.outcome === "ok" || a.outcome === "pending" ? "" : icon));
  const track = el("span", { class: "track", style: `--tick:${(axis.step / axis.span) * 100}%` }, bar);
  const when = el("span", { class: "when" }, `+${fmtMs(offset)} · ${a.outcome === "pending" ? "…" : fmtMs(ms)}`);
  return el("td", { class: "waterfall", "data-label": "When" }, track, when);
}

// records: this install's; numbers: each one's 1-based place in report().
function renderTimeline(records, numbers, now) {
  const body = $("timeline").querySelector("tbody");
  const axis = axisOf(records, now);
  renderAxis(axis);
  const rows = [];
  records.forEach((rec, i) => {
    rec.attempts.forEach((a, j) => {
      const [icon, text] = OUTCOMES[a.outcome] || ["?", a.outcome];
      const request = el("span", {}, el("span", { class: "kind" }, rec.kind), " ", rec.target);
      rows.push(el("tr", { class: `${a.outcome}${j ? " again" : ""}` },
        el("td", { class: "num", "data-label": "#" }, j ? "" : numbers[i]),
        el("td", { "data-label": "Request" }, request),
        el("td", { "data-label": "Mirror tried" }, a.mirror),
        el("td", { "data-label": "Outcome" }, badge(icon, text, a.outcome)),
        el("td", { class: "reason", "data-label": "Reason", title: a.url }, a.reason),
        waterfallCell(a, axis, now)));
    });
  });
  body.replaceChildren(...rows);
  const done = records.filter((r) => r.attempts.every((a) => a.outcome !== "pending"));
  const fellBack = records.filter((r) => r.attempts.some((a) => a.outcome === "failed" || a.outcome === "stale") && r.served_by);
  const raced = records.filter((r) => r.attempts.some((a) => a.outcome === "cancelled") && r.served_by);
  const unserved = done.filter((r) => !r.served_by && r.ms > 0);
  const parts = [`${records.length} request${records.length === 1 ? "" : "s"} in ${fmtMs(axis.span)}`];
  if (fellBack.length) parts.push(`${fellBack.length} fell back to the next mirror`);
  if (raced.length) parts.push(`${raced.length} won by a mirror asked alongside a silent one`);
  if (unserved.length) parts.push(`${unserved.length} not served by any mirror`);
  const pending = records.length - done.length;
  if (pending) parts.push(`${pending} in progress`);
  $("summary").textContent = records.length ? parts.join(" · ") : "No request went through the mirrors (lockfile packages load from Pyodide's own repository).";
}

// Where a package's wheel came from: the mirror that served it, else micropip's own source
// ("pyodide" for the lockfile; "pypi" means the default index, i.e. the mirror list).
function origin(pkg, records) {
  const prefix = `${pkg.name.replace(/[-_.]+/g, "_").toLowerCase()}-${pkg.version}-`;
  const rec = records.find((r) => r.kind === "file" && r.served_by && r.target.toLowerCase().startsWith(prefix) && r.target.endsWith(".whl"));
  if (rec) return `wheel from ${rec.served_by}`;
  return pkg.source === "pyodide" ? "from Pyodide's own repository" : `from ${pkg.source}`;
}

function showResult(state, content) {
  const box = $("result");
  box.dataset.state = state;
  box.replaceChildren(...content);
}

async function install(event) {
  event.preventDefault();
  const text = $("requirements").value.trim();
  if (!text) { $("requirements").focus(); return; }
  const button = $("install");
  button.disabled = true;
  button.textContent = "Installing…";
  showResult("running", [el("p", {}, badge("⋯", "Installing " + text + " …", "pending"))]);
  let since = Infinity; // this install's records: those started since it began (report() may drop old ones)
  let timer;
  const poll = () => { // redraw from the report; returns this install's records
    const { now_ms, records } = JSON.parse(py.report());
    const numbers = records.map((r, i) => i + 1).filter((n) => records[n - 1].start_ms >= since);
    const mine = numbers.map((n) => records[n - 1]);
    renderTimeline(mine, numbers, now_ms);
    return mine;
  };
  try {
    // Re-enable only when the list changed: the router remembers which mirrors just failed.
    if ($("mirrors").value !== enabledList) {
      py.enable($("mirrors").value);
      enabledList = $("mirrors").value;
    }
    since = JSON.parse(py.report()).now_ms;
    poll();
    timer = setInterval(poll, 200);
    const installed = JSON.parse(await py.install(text));
    clearInterval(timer);
    const records = poll();
    const list = el("ul", { class: "installed" }, ...installed.map((p) =>
      el("li", {}, el("strong", {}, p.name), " ", p.version, el("span", { class: "source" }, ` (${origin(p, records)})`))));
    showResult("ok", [
      el("p", {}, badge("✔", installed.length ? `Installed ${installed.length} package${installed.length === 1 ? "" : "s"}:` : "Already installed: nothing new.", "ok")),
      list,
    ]);
  } catch (err) {
    clearInterval(timer);
    if (py) poll();
    const message = String(err.message || err).trim();
    // The exception's own lines (from the last "SomeError: ..." header on), without the traceback.
    const lines = message.split("\n").filter((l) => l.trim());
    let head = lines.length - 1;
    for (let i = lines.length - 1; i >= 0; i--) if (/^[A-Za-z_][\w.]*: /.test(lines[i])) { head = i; break; }
    showResult("error", [
      el("p", {}, badge("✖", "Install failed:", "failed")),
      el("pre", { class: "error-line" }, lines.slice(Math.max(0, head)).join("\n") || message),
      el("details", {}, el("summary", {}, "Full error"), el("pre", {}, message)),
    ]);
  } finally {
    button.disabled = false;
    button.textContent = "Install";
  }
}

// --- "Check my mirrors": probe each index from this page ------------------------------------

async function probe(mirror, project) {
  const url = mirror.index.includes("{package_name}")
    ? mirror.index.replace("{package_name}", project)
    : mirror.index.replace(/\/+$/, "") + "/" + project + "/";
  const t0 = performance.now();
  const ms = () => Math.round(performance.now() - t0);
  let resp;
  try {
    resp = await fetch(url, {
      headers: { Accept: `${PSEP691}, text/html;q=0.1` },
      signal: AbortSignal.timeout(3000),
      cache: "no-store",
    });
  } catch (err) {
    if (err.name === "TimeoutError") return { url, ms: ms(), ok: false, verdict: "no answer", details: "no answer within 3 s" };
    // A TypeError is a network failure or a CORS refusal; an opaque no-cors request tells them apart.
    try {
      await fetch(url, { mode: "no-cors", signal: AbortSignal.timeout(3000), cache: "no-store" });
      return { url, ms: ms(), ok: false, verdict: "no CORS", details: "reachable, but it sends no CORS header, so a browser page may not read it" };
    } catch {
      return { url, ms: ms(), ok: false, verdict: "unreachable", details: "connection failed (refused, unknown host or blocked)" };
    }
  }
  const type = (resp.headers.get("content-type") || "").split(";")[0].trim();
  await resp.arrayBuffer().catch(() => null);
  if (resp.status === 404) return { url, ms: ms(), ok: false, warn: true, verdict: "no such project", details: `reachable with CORS, but HTTP 404 for ${project}` };
  if (!resp.ok) return { url, ms: ms(), ok: false, verdict: `HTTP ${resp.status}`, details: `reachable with CORS, but answered HTTP ${resp.status}` };
  if (type === PSEP691 || type === "application/json") return { url, ms: ms(), ok: true, verdict: "OK: PEP 691 JSON", details: `CORS ✓ · ${type}` };
  if (type === "text/html" || type === "application/vnd.pypi.simple.v1+html") return { url, ms: ms(), ok: true, verdict: "OK: HTML only", details: `CORS ✓ · ${type} (PEP 503; micropip-mirror converts it)` };
  return { url, ms: ms(), ok: false, verdict: "wrong type", details: `CORS ✓ · unexpected content type ${type || "(none)"}` };
}

async function checkMirrors() {
  const button = $("check");
  const mirrors = parseMirrors($("mirrors").value);
  const project = $("probe-project").value.trim() || config.probe_project;
  const body = $("probe-table").querySelector("tbody");
  $("probe").hidden = false;
  button.disabled = true;
  const rows = mirrors.map((m) => {
    const row = el("tr", { class: "pending" },
      el("td", { "data-label": "Mirror" }, m.name),
      el("td", { "data-label": "Verdict" }, badge("⋯", "checking", "pending")),
      el("td", { "data-label": "Details" }, ""),
      el("td", { class: "url", "data-label": "URL probed" }, ""),
      el("td", { class: "num", "data-label": "ms" }, ""));
    return row;
  });
  body.replaceChildren(...rows);
  await Promise.all(mirrors.map(async (m, i) => {
    const r = await probe(m, project);
    const kind = r.ok ? "ok" : r.warn ? "stale" : "failed";
    const cells = rows[i].children;
    rows[i].className = kind;
    cells[1].replaceChildren(badge(r.ok ? "✔" : r.warn ? "⚠" : "✖", r.verdict, kind));
    cells[2].textContent = r.details;
    cells[3].textContent = r.url;
    cells[4].textContent = r.ms;
  }));
  button.disabled = false;
}

// --- start ---------------------------------------------------------------------------------

async function main() {
  config = await loadConfig();
  const base = params().get("pyodide") || config.pyodide;
  setupRuntimeControls(base);
  const mirrors = $("mirrors");
  mirrors.value = initialMirrors();
  mirrors.rows = Math.max(3, mirrors.value.split("\n").length + 1);
  mirrors.addEventListener("input", () => saveMirrors(mirrors.value));
  $("reset").addEventListener("click", () => { mirrors.value = config.mirrors; saveMirrors(mirrors.value); });
  $("requirements").value = config.requirements;
  $("probe-project").value = config.probe_project;
  $("check").addEventListener("click", checkMirrors);
  $("install-form").addEventListener("submit", install);
  try {
    await startPython(base);
  } catch (err) {
    console.error(err);
    setStatus("error", `Could not start: ${String(err.message || err).trim().split("\n").pop()} — pick another Pyodide source above.`);
  }
}

main();
