// CPU per project page in V8 (Node), the engine workerd runs: the Snippet has 5 ms per request.
//   node bench/worker_cpu.mjs
// Pages of pypi.org-like HTML links, parsed, rewritten, rendered as JSON and HTML, after warm-up.
import { parseHtml, renderHtml, rewriteUrl } from "../worker/src/mirror.js";
function page(bytes) {
  let html = "<!DOCTYPE html><html><body>\n", i = 0;
  while (html.length < bytes) {
    const f = `pkg-${i}.${i % 7}.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl`;
    html += `<a href="https://files.pythonhosted.org/packages/ab/cd/${"e".repeat(60)}/${f}#sha256=${"0".repeat(64)}" data-requires-python="&gt;=3.9" data-dist-info-metadata="sha256=${"1".repeat(64)}" data-core-metadata="sha256=${"1".repeat(64)}">${f}</a><br/>\n`;
    i++;
  }
  return html + "</body></html>";
}
const cfg = { files: "https://files.pythonhosted.org", index: "https://pypi.org" };
for (const kb of [32, 128, 256]) {
  const html = page(kb * 1024);
  for (let w = 0; w < 20; w++) work(html);  // warm up the JIT, as a busy isolate would be
  const runs = 50, t = process.cpuUsage();
  for (let r = 0; r < runs; r++) work(html);
  const u = process.cpuUsage(t);
  console.log(`${kb} KiB page: ${((u.user + u.system) / runs / 1000).toFixed(2)} ms CPU per page (parse + rewrite + JSON + HTML)`);
}
function work(html) {
  const p = parseHtml(html, "pkg");
  p.files = p.files.map((f) => ({ ...f, url: rewriteUrl(f.url, "https://pypi.org/simple/pkg/", cfg, "https://m.example") }));
  JSON.stringify(p); renderHtml(p);
}
