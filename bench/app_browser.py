"""The clip page in a real browser: how fast it answers an annotator.

    python bench/app_browser.py                  # 8 clips x 4 candidates, 1366x768, headless Debian chromium
    python bench/app_browser.py --clips 4 --reloads 3

Serves the app (``annotate_app.web.server.start``) on a workspace of ``--clips`` sample clips with
four candidates each (``--seconds`` long), signs one annotator in and measures, in the page:

- *key to focus*: a key press (``ArrowRight``/``ArrowLeft``) to the focus outline having moved
  (``keydown`` on ``window`` to the ``data-focus`` change, by a MutationObserver);
- *sync spread*: while all candidates play, max - min of their ``currentTime``, sampled every 100 ms;
- *submit to next clip ready*: ``Enter`` on a fully rated clip to the next clip's player shown with
  every video able to show a frame (``readyState >= 2``);
- *reload to ready*: navigation start of a reload (F5) to the same clip's player ready, draft restored.

Prints a table and writes ``bench/results/app_browser.json``. Targets (the workstation's own): focus < 50 ms,
next clip ready p95 < 1 s.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from annotate_app.accounts import add_annotator
from tests.fixtures.annotate_ws import rating_workspace
from tests.test_annotate_browser import ARGS, CHROMIUM, _free_port, _wait_healthy

METHODS = ("still", "lipsync", "lipsync_offset", "lipsync_blur")

FIND = """() => { for (const e of document.querySelectorAll('*')) if (e.shadowRoot) {
  const c = e.shadowRoot.querySelector('.cp'); if (c) return c; } return null; }"""
READY = f"""(old) => new Promise(done => {{ const find = {FIND}; const t0 = window.__t0 || 0;
  const poll = () => {{ const c = find();
    if (c && c.dataset.aid !== old) {{
      const vs = Array.from(c.querySelectorAll('video'));
      if (vs.length && vs.every(v => v.readyState >= 2)) return done([performance.now() - t0, c.dataset.aid]);
    }}
    if (performance.now() - t0 > 60000) return done([-1, null]);
    requestAnimationFrame(poll); }};
  poll(); }})"""
ARM = "() => { window.__t0 = 0; window.addEventListener('keydown', e => { if (e.key === 'Enter') " \
      "window.__t0 = performance.now(); }, {capture: true, once: true}); }"
FOCUS = f"""() => {{ window.__focusP = new Promise(done => {{ const c = ({FIND})(); let t0 = 0;
  const obs = new MutationObserver(() => {{ obs.disconnect(); done(performance.now() - t0); }});
  obs.observe(c, {{attributes: true, attributeFilter: ['data-focus']}});
  window.addEventListener('keydown', () => {{ t0 = performance.now(); }}, {{capture: true, once: true}}); }}); }}"""
WATCHED = f"""() => new Promise((done, fail) => {{ const c = ({FIND})(); const end = performance.now() + 30000;
  const poll = () => {{ const n = c.querySelectorAll('video').length;
    if (c.querySelectorAll('.cp-watch.ok').length === n) return done(n);
    if (performance.now() > end) return fail(new Error('videos not watched in 30 s'));
    setTimeout(poll, 50); }};
  poll(); }})"""
SPREAD = f"""async () => {{ const c = ({FIND})(); const out = [];
  for (let i = 0; i < 12; i++) {{ await new Promise(r => setTimeout(r, 100));
    const t = Array.from(c.querySelectorAll('video')).filter(v => !v.paused).map(v => v.currentTime);
    if (t.length > 1) out.push(Math.max(...t) - Math.min(...t)); }}
  return out; }}"""


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))]


def _row(name: str, xs: list[float], unit: str = "ms") -> dict:
    return {"metric": name, "n": len(xs), "unit": unit, "p50": statistics.median(xs), "p95": _pct(xs, 0.95),
            "max": max(xs)}


def _key_to_focus(page, n: int) -> list[float]:
    out = []
    for i in range(n):
        key = "ArrowRight" if i % 2 == 0 else "ArrowLeft"
        page.evaluate(FOCUS)
        page.keyboard.press(key)
        out.append(page.evaluate("() => window.__focusP"))
    return out


def run(args) -> dict:
    from playwright.sync_api import sync_playwright

    from annotate_app.web.server import start

    tmp = Path(tempfile.mkdtemp(prefix="bench-ws-"))
    ws = rating_workspace(tmp / "ws", clips=args.clips, overlap=1, methods=METHODS, seconds=args.seconds)
    store = ws.open_store()
    _, token = add_annotator(store, "bench")
    store.dispose()
    port = _free_port()
    res: dict[str, list[float]] = {"key_to_focus": [], "sync_spread": [], "submit_to_next": [], "reload_to_ready": []}
    with open(tmp / "app.log", "wb") as log:
        proc = start(ws, port=port, gold_rate=0.0, stdout=log, stderr=log)
        try:
            _wait_healthy(port, proc)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
                page = browser.new_page(viewport={"width": 1366, "height": 768})
                page.goto(f"http://127.0.0.1:{port}/?token={token}")
                _, aid = page.evaluate(READY, "")
                page.mouse.click(5, 760)
                for _ in range(args.reloads):
                    page.keyboard.press("1")  # something for the draft to restore
                    time.sleep(0.5)  # past the 250 ms draft debounce
                    page.reload()
                    ms, aid2 = page.evaluate(READY, "")
                    assert aid2 == aid
                    res["reload_to_ready"].append(ms)
                    page.mouse.click(5, 760)
                    page.keyboard.press("Backspace")
                for _ in range(args.clips - 1):
                    res["key_to_focus"] += _key_to_focus(page, 10)
                    page.keyboard.press("Home")
                    page.keyboard.press("Space")
                    res["sync_spread"] += [1000 * s for s in page.evaluate(SPREAD)]
                    page.evaluate(WATCHED)
                    page.keyboard.press("Home")
                    for _ in range(2 * len(METHODS)):
                        page.keyboard.press("3")
                    time.sleep(0.3)
                    page.evaluate(ARM)
                    page.keyboard.press("Enter")
                    ms, aid = page.evaluate(READY, aid)
                    if aid is None:
                        raise RuntimeError("the next clip did not appear within 60 s")
                    res["submit_to_next"].append(ms)
                    page.mouse.click(5, 760)
                browser.close()
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return res


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=2.0, help="length of each candidate video")
    ap.add_argument("--reloads", type=int, default=5)
    ap.add_argument("--out", default=str(Path(__file__).with_name("results") / "app_browser.json"))
    args = ap.parse_args(argv)
    res = run(args)
    rows = [_row(k, v) for k, v in res.items() if v]
    print(f"{'metric':<18} {'n':>4} {'p50 ms':>9} {'p95 ms':>9} {'max ms':>9}")
    for r in rows:
        print(f"{r['metric']:<18} {r['n']:>4} {r['p50']:>9.1f} {r['p95']:>9.1f} {r['max']:>9.1f}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": platform.platform(), "python": platform.python_version(),
                               "args": vars(args), "rows": rows, "raw": res}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
