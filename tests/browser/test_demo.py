"""The demo works as the README says: `python3 demo/serve.py`, then the page's own controls.

Starts demo/serve.py exactly as a visitor would (system python3, --port 0 so parallel
runs do not collide), opens the printed URL in headless Chromium, checks the mirrors,
installs a sample project through the form, and checks what the page shows: the dead
mirror (first in the default list) failed with a reason, the silent one (second) was
raced by the Worker and cancelled, the Worker served, the install succeeded, and each
waterfall bar sits where the report's start time and duration put it.  Saves
test-artifacts/demo.png for a person to look at.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.support.browser import chromium

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
START_TIMEOUT = 600  # first use builds a venv and stages Pyodide
PAGE_TIMEOUT = 180  # Pyodide boot + install on a busy 2-core machine



def system_python() -> str:
    """`python3` as the README's command would find it (not this test venv's python)."""
    path = os.environ.get("PATH", "").split(os.pathsep)
    venv_bin = str(Path(sys.executable).parent)
    found = shutil.which("python3", path=os.pathsep.join(p for p in path if p != venv_bin))
    return found or "python3"


@pytest.fixture(scope="module")
def demo_url():
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONHOME")}
    proc = subprocess.Popen(
        [system_python(), "demo/serve.py", "--port", "0"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    errors: list[str] = []

    def pump(stream, sink):
        for line in stream:
            sink(line)
        if stream is proc.stdout:
            lines.put(None)

    threading.Thread(target=pump, args=(proc.stdout, lines.put), daemon=True).start()
    threading.Thread(target=pump, args=(proc.stderr, errors.append), daemon=True).start()
    deadline = time.monotonic() + START_TIMEOUT
    url = None
    try:
        while url is None:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            if line is None:
                pytest.fail(f"demo/serve.py exited ({proc.wait()}):\n{''.join(errors)[-3000:]}")
            match = re.match(r"Demo: (http://127\.0\.0\.1:\d+/)", line)
            if match:
                url = match.group(1)
        yield url
    except queue.Empty:
        pytest.fail(f"demo/serve.py printed no URL in {START_TIMEOUT}s:\n{''.join(errors)[-3000:]}")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # serve.py stops its servers like on Ctrl-C
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.fixture(scope="module")
def page(demo_url):
    with chromium("--window-size=1280,1400") as driver:
        driver.get(demo_url)
        wait_for(driver, lambda d: d.find_element(By.ID, "status").get_attribute("data-state") != "loading",
                 "Pyodide and micropip-mirror to load")
        status = driver.find_element(By.ID, "status").text
        assert "Ready" in status, status
        yield driver


def wait_for(driver, condition, what: str):
    try:
        return WebDriverWait(driver, PAGE_TIMEOUT, poll_frequency=0.25).until(condition)
    except Exception:
        console = "\n".join(e["message"][:300] for e in driver.get_log("browser"))
        body = driver.find_element(By.TAG_NAME, "body").text
        pytest.fail(f"waited {PAGE_TIMEOUT}s for {what}\npage:\n{body[-3000:]}\nconsole:\n{console}")


def table_rows(driver, table_id: str) -> list[list[str]]:
    rows = driver.find_elements(By.CSS_SELECTOR, f"#{table_id} tbody tr")
    return [[td.text for td in row.find_elements(By.TAG_NAME, "td")] for row in rows]


def screenshot(driver, name: str, width: int = 1280) -> None:
    """A whole-page screenshot in test-artifacts/ (gitignored); the page must fit the width."""
    ARTIFACTS.mkdir(exist_ok=True)
    driver.set_window_size(width, 900)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, height + 150)
    driver.save_screenshot(str(ARTIFACTS / name))
    overflow = driver.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
    driver.set_window_size(1280, 1400)
    assert overflow <= 0, f"{name}: page is {overflow}px wider than a {width}px window"


def save_screenshots(driver):
    """test-artifacts/demo.png (desktop width) and demo-narrow.png (phone width)."""
    screenshot(driver, "demo.png")
    screenshot(driver, "demo-narrow.png", 400)


def test_pyodide_sources_are_listed(page):
    options = {o.text: o.get_attribute("value") for o in page.find_elements(By.CSS_SELECTOR, "#pyodide-choice option")}
    assert options["local copy served by this demo"] == "pyodide/", options
    for host in ("cdn", "fastly", "gcore", "testingcf"):
        assert options[f"{host}.jsdelivr.net"] == f"https://{host}.jsdelivr.net/pyodide/v314.0.7/full/", options


def test_check_my_mirrors_tells_dead_from_ok(page):
    page.find_element(By.ID, "check").click()
    wait_for(page, lambda d: len(table_rows(d, "probe-table")) == 3
             and not any("checking" in r[1] for r in table_rows(d, "probe-table")), "the mirror check")
    rows = {r[0]: r for r in table_rows(page, "probe-table")}
    assert set(rows) == {"dead-mirror", "silent-mirror", "cloudflare-worker"}, rows
    assert "✖" in rows["dead-mirror"][1] and "unreachable" in rows["dead-mirror"][1], rows
    assert "connection failed" in rows["dead-mirror"][2], rows
    assert "✖" in rows["silent-mirror"][1] and "no answer" in rows["silent-mirror"][1], rows
    assert "✔" in rows["cloudflare-worker"][1] and "PEP 691" in rows["cloudflare-worker"][1], rows
    assert "CORS ✓" in rows["cloudflare-worker"][2], rows
    assert rows["cloudflare-worker"][3].endswith("/pypi/simple/mm-app/"), rows


def test_install_through_the_page_shows_fallback(page):
    box = page.find_element(By.ID, "requirements")
    box.clear()
    box.send_keys("mm-app")
    page.find_element(By.ID, "install").click()
    wait_for(page, lambda d: d.find_element(By.ID, "result").get_attribute("data-state") in ("ok", "error"),
             "the install to finish")
    result = page.find_element(By.ID, "result").text
    save_screenshots(page)
    assert page.find_element(By.ID, "result").get_attribute("data-state") == "ok", result
    for name in ("mm-app", "mm-lib-a", "mm-lib-b", "mm-lib-c"):
        assert re.search(rf"\b{name} 2\.0\.0 \(wheel from cloudflare-worker\)", result), result

    rows = table_rows(page, "timeline")  # [#, request, mirror, outcome, reason, when]
    first = [r for r in rows if "mm-app" in r[1] and r[1].startswith("INDEX")]
    assert [r[2] for r in first] == ["dead-mirror", "silent-mirror", "cloudflare-worker"], rows
    assert "failed" in first[0][3] and "network or CORS error" in first[0][4], rows
    assert "cancelled" in first[1][3] and "another mirror answered first" in first[1][4], rows
    assert "served" in first[2][3], rows
    served = [r for r in rows if "served" in r[3]]
    assert served and all(r[2] == "cloudflare-worker" for r in served), rows
    files = [r for r in served if r[1].startswith("FILE")]
    assert {f.split()[-1].split("-")[0] for f in (r[1] for r in files)} >= {"mm_app", "mm_lib_a"}, rows
    assert "fell back to the next mirror" in page.find_element(By.ID, "summary").text


# Per row of the waterfall: its record number, the bar's left edge and width as fractions
# of its track, its outcome class and end mark.
BARS_JS = """
return [...document.querySelectorAll('#timeline tbody tr')].map((row) => {
  const track = row.querySelector('.track').getBoundingClientRect();
  const bar = row.querySelector('.track .bar');
  const box = bar.getBoundingClientRect();
  return {number: row.cells[0].textContent, left: (box.left - track.left) / track.width,
          width: box.width / track.width, px: 1 / track.width, cls: bar.className,
          mark: bar.textContent};
});
"""
REPORT_JS = """return pyodide.runPython(
  'import json, micropip_mirror; json.dumps(micropip_mirror.report(file=None).as_dicts())');"""


def test_waterfall_bars_follow_the_report(page):
    """Each bar starts at its attempt's start_ms and is as long as its ms, on one axis
    from the install's first request to its last answer; the hedge shows as overlap."""
    import json

    records = json.loads(page.execute_script(REPORT_JS))
    bars = page.execute_script(BARS_JS)
    attempts, number = [], None
    for bar in bars:  # rows: a record's attempts in order; its number on the first row only
        if bar["number"]:
            number, j = int(bar["number"]), 0
        attempts.append((records[number - 1], records[number - 1]["attempts"][j], bar))
        j += 1
    shown = {id(rec) for rec, _, _ in attempts}
    assert len(attempts) == sum(len(rec["attempts"]) for rec in records if id(rec) in shown), (records, bars)
    t0 = min(rec["start_ms"] for rec, _, _ in attempts)
    span = max(a["start_ms"] + a["ms"] for _, a, _ in attempts) - t0
    for rec, a, bar in attempts:
        assert a["outcome"] in bar["cls"].split(), (a, bar)
        tolerance = 2 * bar["px"] + 0.002
        assert abs(bar["left"] - (a["start_ms"] - t0) / span) <= tolerance, (a, bar, t0, span)
        assert bar["width"] >= a["ms"] / span - tolerance, (a, bar, span)
        assert bar["width"] <= max(a["ms"] / span, 4 * bar["px"]) + tolerance, (a, bar, span)
    # The first index request: dead mirror refused, silent one raced by the Worker.
    dead, silent, worker = [(a, bar) for rec, a, bar in attempts
                            if rec["kind"] == "index" and rec["target"] == "mm-app"]
    assert worker[0]["start_ms"] >= silent[0]["start_ms"] >= dead[0]["start_ms"]
    assert worker[0]["start_ms"] < silent[0]["start_ms"] + silent[0]["ms"], (silent, worker)  # asked alongside
    assert worker[1]["left"] < silent[1]["left"] + silent[1]["width"], (silent, worker)  # bars overlap
    assert "cancelled" in silent[1]["cls"] and silent[1]["mark"] == "⊘", silent
    assert "failed" in dead[1]["cls"] and dead[1]["mark"] == "✖", dead
    ticks = page.find_elements(By.CSS_SELECTOR, "#timeline thead .axis .tick")
    assert len(ticks) >= 2 and ticks[0].text == "0", [t.text for t in ticks]


def test_failed_install_shows_the_error(page):
    box = page.find_element(By.ID, "requirements")
    box.clear()
    box.send_keys("mm-no-such-project\n")  # Enter submits the form: usable from the keyboard
    wait_for(page, lambda d: d.find_element(By.ID, "result").get_attribute("data-state") in ("ok", "error"),
             "the failing install to finish")
    result = page.find_element(By.ID, "result")
    screenshot(page, "demo-error.png")
    assert result.get_attribute("data-state") == "error", result.text
    assert "Install failed" in result.text and "mm-no-such-project" in result.text, result.text
    rows = table_rows(page, "timeline")
    assert rows and all("mm-no-such-project" in r[1] for r in rows), rows
    assert any(r[2] == "cloudflare-worker" and "HTTP 404" in r[4] for r in rows), rows
