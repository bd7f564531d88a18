"""The clip page in a real browser: how fast it answers an annotator.

    python bench/app_browser.py                  # 8 clips x 4 candidates, 1366x768, headless Debian chromium
    python bench/app_browser.py --clips 4 --reloads 3

Serves the app (``annotate_app.web.server.start``) on a workspace of ``--clips`` sample clips with
four candidates each (``--seconds`` long), signs one annotator in and measures, in the page:

- *key to focus*: a key press (``ArrowRight``/``ArrowLeft``) to the focus outline having moved
  (``keydown`` on ``window`` to the ``data-focus`` change, by a MutationObserver);
- *sync spread* at 1x and 2x: while all candidates play, max - min of their ``currentTime``, sampled on
  every animation frame (p99 and max are what the player promises: within one frame, 40 ms at 25 fps);
- *submit to next clip ready*: ``Enter`` on a fully rated clip to the next clip's player shown with
  every video able to show a frame (``readyState >= 2``);
- *reload to ready*: navigation start of a reload (F5) to the same clip's player ready, draft restored;
- *reload bytes*: bytes of video received on such a reload (CDP ``Network.loadingFinished``; the
  files are revalidated, ``304``, not downloaded again);
- *next clip ready at 1 Mbit/s*: the network emulated at ``--mbit`` (CDP
  ``Network.emulateNetworkConditions``), a clip rated as an annotator does (played to the end, the
  next clip's videos loading ahead meanwhile), then Enter to the next clip ready; also the bytes of
  one clip's videos.

Prints a table and writes ``bench/results/app_browser.json``. Targets: focus < 50 ms, next clip
ready p95 < 1 s, sync p99 <= 40 ms at 1x and 2x.
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
from tests.fixtures.browser import ARGS, CHROMIUM, free_port, wait_healthy

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
SPREAD = f"""async (secs) => {{ const c = ({FIND})(); const out = []; const end = performance.now() + secs * 1000;
  while (performance.now() < end) {{ await new Promise(r => requestAnimationFrame(r));
    const vs = Array.from(c.querySelectorAll('video'));
    const t = vs.filter(v => !v.paused && !v.ended).map(v => v.currentTime);
    if (t.length === vs.length && t.length > 1) out.push(Math.max(...t) - Math.min(...t)); }}
  return out; }}"""


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))]


def _row(name: str, xs: list[float], unit: str = "ms") -> dict:
    return {"metric": name, "n": len(xs), "unit": unit, "p50": statistics.median(xs), "p95": _pct(xs, 0.95),
            "p99": _pct(xs, 0.99), "max": max(xs)}


class _Bytes:
    """Bytes received for ``/clip-media/`` URLs, from the DevTools protocol's network events."""

    def __init__(self, cdp):
        self.urls: dict[str, str] = {}
        self.total = 0
        cdp.on("Network.requestWillBeSent", lambda e: self.urls.__setitem__(e["requestId"], e["request"]["url"]))
        cdp.on("Network.loadingFinished", self._done)

    def _done(self, e) -> None:
        if "/clip-media/" in self.urls.get(e["requestId"], ""):
            self.total += int(e.get("encodedDataLength", 0))


def _sync(page, n_speed_up: int, secs: float) -> list[float]:
    page.keyboard.press("Home")
    for _ in range(n_speed_up):
        page.keyboard.press("=")
    page.keyboard.press("Space")
    out = [1000 * s for s in page.evaluate(SPREAD, secs)]
    page.keyboard.press("k")
    for _ in range(n_speed_up):
        page.keyboard.press("-")
    return out


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
    ws = rating_workspace(tmp / "ws", clips=args.clips, overlap=1, methods=METHODS, seconds=args.seconds,
                          video_size=args.size)
    store = ws.open_store()
    _, token = add_annotator(store, "bench")
    store.dispose()
    port = free_port()
    res: dict[str, list[float]] = {"key_to_focus": [], "sync_spread_1x": [], "sync_spread_2x": [], "submit_to_next": [],
                                   "reload_to_ready": [], "reload_kbytes": [], "next_ready_1mbit": [],
                                   "clip_kbytes": []}
    with open(tmp / "app.log", "wb") as log:
        proc = start(ws, port=port, gold_rate=0.0, stdout=log, stderr=log)
        try:
            wait_healthy(port, proc)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
                page = browser.new_page(viewport={"width": 1366, "height": 768})
                cdp = page.context.new_cdp_session(page)
                cdp.send("Network.enable")
                got = _Bytes(cdp)
                page.goto(f"http://127.0.0.1:{port}/?token={token}")
                _, aid = page.evaluate(READY, "")
                page.mouse.click(5, 760)
                time.sleep(1.0)
                res["clip_kbytes"].append(got.total / 1000)  # this clip's videos (and the next one's, ahead)
                for _ in range(args.reloads):
                    page.keyboard.press("1")  # something for the draft to restore
                    time.sleep(0.5)  # past the 250 ms draft debounce
                    before = got.total
                    page.reload()
                    ms, aid2 = page.evaluate(READY, "")
                    assert aid2 == aid
                    res["reload_to_ready"].append(ms)
                    time.sleep(0.3)
                    res["reload_kbytes"].append((got.total - before) / 1000)
                    page.mouse.click(5, 760)
                    page.keyboard.press("Backspace")
                for i in range(args.clips - 1):
                    slow = i == args.clips - 2  # the last clip: at --mbit, the next one loading ahead meanwhile
                    if slow:
                        bps = args.mbit * 1e6 / 8
                        cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 20,
                                                                       "downloadThroughput": bps, "uploadThroughput": bps})
                    res["key_to_focus"] += _key_to_focus(page, 10)
                    res["sync_spread_1x"] += _sync(page, 0, args.seconds * 0.8)
                    res["sync_spread_2x"] += _sync(page, 3, args.seconds * 0.4)  # 1 -> 1.25 -> 1.5 -> 2
                    page.keyboard.press("Home")
                    page.keyboard.press("Space")
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
                    res["next_ready_1mbit" if slow else "submit_to_next"].append(ms)
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
    ap.add_argument("--size", type=int, default=256, help="candidate videos are SIZE x SIZE pixels")
    ap.add_argument("--mbit", type=float, default=1.0, help="emulated download speed for next_ready_1mbit")
    ap.add_argument("--out", default=str(Path(__file__).with_name("results") / "app_browser.json"))
    args = ap.parse_args(argv)
    res = run(args)
    rows = [_row(k, v) for k, v in res.items() if v]
    for r in rows:
        if r["metric"].endswith("kbytes"):
            r["unit"] = "kB"
    print(f"{'metric':<18} {'unit':>4} {'n':>5} {'p50':>9} {'p95':>9} {'p99':>9} {'max':>9}")
    for r in rows:
        print(f"{r['metric']:<18} {r['unit']:>4} {r['n']:>5} {r['p50']:>9.1f} {r['p95']:>9.1f} {r['p99']:>9.1f} "
              f"{r['max']:>9.1f}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": platform.platform(), "python": platform.python_version(),
                               "args": vars(args), "rows": rows, "raw": res}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
