"""Load every page of the built site in headless Chromium, as a reader at 1280 px would, and fail on
JavaScript errors, images that do not load and code blocks wider than the content column.

    mkdocs build --strict -d site && python scripts/check_site.py site

Needs a Chromium binary (`chromium`, `chromium-browser` or `google-chrome` on PATH; Debian:
`apt-get install chromium`). `tests/test_docs.py` runs it on the site it builds when one is found;
`.ci/run` installs Chromium when it can, and the check is skipped where no browser is present.
Each page is copied with a probe script in its <head> (it records errors from the start), loaded
from disk with `--dump-dom`, and the probe's findings are read back from the dumped DOM.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

WIDTH, HEIGHT = 1280, 900
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

PROBE = """<script>
(function () {
  var errors = [];
  window.addEventListener('error', function (e) {
    errors.push('error: ' + (e.message || (e.target && (e.target.src || e.target.href)) || 'resource'));
  }, true);
  window.addEventListener('unhandledrejection', function (e) { errors.push('rejection: ' + e.reason); });
  var log = console.error;
  console.error = function () { errors.push('console: ' + Array.prototype.join.call(arguments, ' ')); log.apply(console, arguments); };
  window.addEventListener('load', function () {
    setTimeout(function () {
      var images = [], wide = [];
      document.querySelectorAll('article img').forEach(function (img) {
        if (!img.complete || img.naturalWidth === 0) images.push(img.getAttribute('src'));
      });
      document.querySelectorAll('article pre > code').forEach(function (code) {
        if (code.scrollWidth > code.clientWidth + 1) {
          var line = code.textContent.split('\\n').reduce(function (a, b) { return b.length > a.length ? b : a; }, '');
          wide.push({overflow: code.scrollWidth - code.clientWidth, line: line.slice(0, 120)});
        }
      });
      var out = document.createElement('script');
      out.type = 'application/json'; out.id = 'tarpose-site-check';
      out.textContent = JSON.stringify({errors: errors, images: images, wide: wide});
      document.body.appendChild(out);
    }, 300);
  });
})();
</script>"""
RESULT = re.compile(r'<script type="application/json" id="tarpose-site-check">(.*?)</script>', re.S)


def find_browser() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def check_page(browser: str, page: Path, timeout: float = 60) -> dict:
    """The probe's findings on one page: ``errors``, ``images`` (not loaded), ``wide`` code blocks."""
    html = page.read_text()
    probe_page = page.with_name(f".check-{page.name}")
    probe_page.write_text(html.replace("<head>", "<head>" + PROBE, 1))
    try:
        with tempfile.TemporaryDirectory() as profile:
            result = subprocess.run(
                [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                 f"--user-data-dir={profile}", f"--window-size={WIDTH},{HEIGHT}",
                 "--allow-file-access-from-files", "--virtual-time-budget=3000", "--dump-dom",
                 probe_page.as_uri()],
                capture_output=True, text=True, timeout=timeout,
            )
    finally:
        probe_page.unlink()
    found = RESULT.search(result.stdout)
    if found is None:
        return {"errors": [f"the page did not finish loading ({result.stderr.strip()[-300:]})"], "images": [], "wide": []}
    return json.loads(found.group(1))


def check_site(site: Path, browser: str) -> list[str]:
    """One line per problem on any page of ``site``."""
    problems = []
    pages = sorted(p for p in site.rglob("*.html") if p.name != "404.html" and not p.name.startswith(".check-"))
    for page in pages:
        found = check_page(browser, page)
        where = page.relative_to(site)
        problems += [f"{where}: {e}" for e in found["errors"]]
        problems += [f"{where}: image {src} did not load" for src in found["images"]]
        problems += [f"{where}: code block {w['overflow']} px too wide: {w['line']!r}" for w in found["wide"]]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("site", type=Path, help="the built site (mkdocs build -d SITE)")
    args = parser.parse_args(argv)
    browser = find_browser()
    if browser is None:
        print("no Chromium found (apt-get install chromium)", file=sys.stderr)
        return 2
    problems = check_site(args.site, browser)
    print("\n".join(problems) or f"every page of {args.site} loads cleanly at {WIDTH} px")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
