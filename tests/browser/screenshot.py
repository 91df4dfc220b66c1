"""``python -m tests.browser.screenshot PAGE PNG``: a whole-page screenshot of an HTML
file in headless Chromium (``make demo`` writes ``runs/demo/report.png`` with it, for
a person to look at).  Without Chromium it says so and writes nothing (exit 0)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from tests.browser.chromium import Browser, chromium_missing


def main(argv: list[str]) -> int:
    """Write the screenshot; 2 for wrong arguments or a page that is not a file."""
    if len(argv) != 2:
        print("usage: python -m tests.browser.screenshot PAGE.html OUT.png", file=sys.stderr)
        return 2
    page, out = Path(argv[0]), Path(argv[1])
    if not page.is_file():
        print(f"{page}: expected an HTML file to open", file=sys.stderr)
        return 2
    missing = chromium_missing()
    if missing is not None:
        print(f"no screenshot of {page}: {missing}")
        return 0
    with tempfile.TemporaryDirectory() as profile, Browser(Path(profile)) as browser:
        load = browser.load(page)
        out.write_bytes(browser.screenshot())
    for problem in [*load.errors, *load.failed_requests]:
        print(f"{page}: {problem}", file=sys.stderr)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
