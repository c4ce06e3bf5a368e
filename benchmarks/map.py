"""Route map benchmark: render time (Python) and load time in Chromium for 10, 100 and 1,000 stops.

    .venv/bin/python benchmarks/map.py [--stops 10,100,1000] [--repeats 3]

Load time is the browser's own navigation timing up to the end of the load event, with a cold
cache (a new browser context per run), the page and its assets served by a local http.server and
every other request blocked; by then folium's script has built every marker, popup binding and
cluster. Results go in docs/benchmarks.md ("Route map").
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from fieldreports.config import MapSettings, ShowInfo  # noqa: E402
from tests.support import mapkit  # noqa: E402
from tests.support.mapkit import render_map  # noqa: E402

SHOW = ShowInfo(title="Benchmark", base_url="https://example.org/")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stops", default="10,100,1000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tiles", default="none")
    args = parser.parse_args()
    settings = MapSettings(tiles=args.tiles)

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(mapkit.CHROMIUM), args=list(mapkit.CHROMIUM_ARGS)
        )
        mp3 = mapkit.make_mp3(Path(tmp) / "tone.mp3")
        print(
            f"{'stops':>6} {'render s':>9} {'page KiB':>9} {'DOMContentLoaded s':>19} "
            f"{'load s':>7} {'icons at load':>14}"
        )
        for count in (int(s) for s in args.stops.split(",")):
            episodes = mapkit.many_episodes(count, mp3)
            renders = []
            for _ in range(args.repeats):
                started = time.perf_counter()
                files = render_map(episodes, SHOW, settings=settings)
                renders.append(time.perf_counter() - started)
            root = mapkit.write_site(files, episodes, Path(tmp) / f"site{count}")
            page_kib = len(files[0].data or b"") / 1024
            dcl, loads, shown = [], [], 0
            with mapkit.serve(root) as base:
                for _ in range(args.repeats):
                    context = browser.new_context(viewport={"width": 1280, "height": 800})
                    page = context.new_page()
                    mapkit.block_outside(page, base, [])
                    page.goto(base + "map/index.html", wait_until="load")
                    timing = page.evaluate(
                        "() => { const t = performance.getEntriesByType('navigation')[0];"
                        " return [t.domContentLoadedEventEnd, t.loadEventEnd]; }"
                    )
                    dcl.append(timing[0] / 1000)
                    loads.append(timing[1] / 1000)
                    shown = page.locator(".leaflet-marker-pane > *").count()
                    context.close()
            print(
                f"{count:>6} {statistics.median(renders):>9.3f} {page_kib:>9.0f} "
                f"{statistics.median(dcl):>19.3f} {statistics.median(loads):>7.3f} {shown:>14}"
            )
        browser.close()


if __name__ == "__main__":
    main()
