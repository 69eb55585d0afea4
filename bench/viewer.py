"""Benchmark of the web pages: time from navigation to the first render of the operations console
and of the public hazard map, in headless Debian Chromium driven by Playwright.

Makes a sample city of ``--buildings`` (default 10,000) buildings, converts it into a temporary
data folder (``--data`` keeps and reuses it), starts ``twin serve`` and loads each page
``--runs`` times in a fresh browser context (empty cache). "Rendered" is the readiness signal
the browser tests wait for: ``body[data-tileset-loaded=true]``, set once the buildings of the
first view are on screen — on the console a task after the animation frame in which the
buildings tileset's first view loaded and was drawn (``initialTilesLoaded``), i.e. once that
frame is committed; on the hazard map once the footprints and the official hazard areas are drawn
on its canvas and that frame is shown. The page marks that moment
(``performance.mark("first-render")``); ``page_s`` is its time from navigation start, which is
the figure compared with the target. ``seconds`` is the wall-clock time until Playwright saw the
signal: it adds Playwright's polling, which waits for the page's next animation frame, and a
software-rendered frame can take a second. Prints one JSON object with the medians and every
run. Targets (issue 7): console ≤ 5 s, hazard map ≤ 3 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.browser.serving import CHROMIUM, CHROMIUM_ARGS, running_server

TWIN = str(Path(sys.executable).with_name("twin"))
TARGETS_S = {"console": 5.0, "hazard": 3.0}
PAGES = {"console": "/", "hazard": "/hazard"}
READY = "body[data-tileset-loaded=true]"


def make_city(data: Path, buildings: int, seed: int, lod: str) -> Path:
    """``DATA/cities/sample`` converted from a fresh sample city, unless it is already there."""
    city = data / "cities" / "sample"
    if (city / "city.json").is_file():
        return city
    source = data / "source"
    shutil.rmtree(source, ignore_errors=True)
    for args in (["sample-city", str(source), "--buildings", str(buildings), "--seed", str(seed), "--json"],
                 ["convert", str(source), "-o", str(city), "--lod", lod, "--json"]):
        done = subprocess.run([TWIN, *args], capture_output=True, text=True, check=False)
        if done.returncode:
            raise SystemExit(f"twin {args[0]} failed: {done.stderr.strip()[-1000:]}")
    return city


def time_page(browser, url: str, timeout_s: float) -> dict:
    """Seconds from navigation to the readiness signal, with console errors, in a fresh context."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    start = time.perf_counter()
    page.goto(url)
    page.wait_for_selector(READY, state="attached", timeout=timeout_s * 1000)
    seconds = time.perf_counter() - start
    dom, rendered = page.evaluate("[performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd / 1000,"
                                  " performance.getEntriesByName('first-render')[0].startTime / 1000]")
    context.close()
    return {"page_s": round(rendered, 2), "seconds": round(seconds, 2), "dom_content_loaded_s": round(dom, 2),
            "errors": errors}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buildings", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--lod", default="max", choices=["max", "2", "1", "0"],
                        help="LOD of the tiles (max: textured LOD2 where the data has it)")
    parser.add_argument("--data", type=Path, help="keep the converted city here and reuse it next time")
    parser.add_argument("--timeout", type=float, default=180, help="seconds to wait for one page")
    args = parser.parse_args()
    if not CHROMIUM.exists():
        raise SystemExit(f"needs Debian's Chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    root = args.data or Path(tempfile.mkdtemp(prefix="machi-twin-bench-viewer-"))
    try:
        t0 = time.perf_counter()
        city = make_city(root, args.buildings, args.seed, args.lod)
        prepare_s = time.perf_counter() - t0
        home = root / f"home-{os.getpid()}"
        home.mkdir()
        (home / city.name).symlink_to(city, target_is_directory=True)
        manifest = json.loads((city / "city.json").read_text(encoding="utf-8"))
        results: dict[str, dict] = {}
        load_at_start = [round(x, 1) for x in os.getloadavg()]
        with running_server(home) as base, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            for name, path in PAGES.items():
                runs = [time_page(browser, base + path, args.timeout) for _ in range(args.runs)]
                median = statistics.median(r["page_s"] for r in runs)
                results[name] = {"median_s": median, "observed_median_s": statistics.median(r["seconds"] for r in runs),
                                 "target_s": TARGETS_S[name], "meets_target": median <= TARGETS_S[name], "runs": runs}
            browser.close()
        shutil.rmtree(home, ignore_errors=True)
        print(json.dumps({
            "benchmark": "viewer first render (headless Chromium, SwiftShader)",
            "buildings": manifest["counts"]["buildings"], "tiles": manifest.get("tiles", {}).get("content_tiles"),
            "lod": args.lod,
            "prepare_city_s": round(prepare_s, 1), "cpu_count": os.cpu_count(),
            "load_average_start": load_at_start, "load_average": [round(x, 1) for x in os.getloadavg()],
            "pages": results,
        }, indent=2))
    finally:
        if args.data is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
