"""A headless Chromium driven over the DevTools protocol (websocket-client), for the
tests that look at the HTML report the way a person's browser shows it.

:class:`Browser` starts ``chromium --headless`` with its own profile directory and a
DevTools port the browser picks (read back from ``DevToolsActivePort``), offline
(every network request fails), and records console errors, uncaught exceptions and
failed loads while a page loads.  It ends the process it started.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websocket

CHROMIUM = Path("/usr/bin/chromium")
_START_TIMEOUT = 30.0
_LOAD_TIMEOUT = 60.0


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not CHROMIUM.exists() and shutil.which("chromium") is None:
        return "chromium is not installed (.ci/run installs Debian's: apt-get install chromium)"
    return None


def require_under_ci() -> None:
    """Under ``.ci/run`` (``TESTBED_CI`` set), which installs Chromium, its absence
    fails the calling test module's collection instead of skipping its tests."""
    missing = chromium_missing()
    if missing is not None and os.environ.get("TESTBED_CI"):
        import pytest  # only the tests call this (make demo's scripts import this module)

        pytest.fail(missing, pytrace=False)


@dataclass(slots=True)
class PageLoad:
    """What happened while a page loaded."""

    errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)


def _end_group(group: int) -> None:
    """Kill what is left of the process group ``group`` and wait, up to 5 s, until none
    of it runs (exited helpers of an unreaped group may linger as zombies: they write
    nothing)."""
    try:
        os.killpg(group, signal.SIGKILL)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


class Browser:
    """One headless Chromium and a websocket to its first page."""

    def __init__(self, profile: Path, *, width: int = 1280, height: int = 2000) -> None:
        binary = str(CHROMIUM) if CHROMIUM.exists() else str(shutil.which("chromium"))
        args = [binary, "--headless", "--disable-gpu", "--no-first-run",
                "--no-default-browser-check", "--remote-debugging-port=0",
                "--remote-debugging-address=127.0.0.1", f"--user-data-dir={profile}",
                f"--window-size={width},{height}", "--hide-scrollbars", "about:blank"]  # fmt: skip
        if os.geteuid() == 0:
            args.insert(1, "--no-sandbox")  # Chromium refuses to run as root with one
        # a session of its own: close() ends every process it starts (its helpers too,
        # which otherwise go on writing into the profile while the caller removes it)
        self._process = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL,
                                         start_new_session=True)  # fmt: skip
        try:
            port = self._port(profile / "DevToolsActivePort")
            # no Origin header: DevTools refuses other origins, and this client has none
            self._socket = websocket.create_connection(self._page_url(port), timeout=_LOAD_TIMEOUT,
                                                       suppress_origin=True)  # fmt: skip
        except BaseException:
            self.close()
            raise
        self._next = 0

    def _port(self, active: Path) -> int:
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"chromium exited with {self._process.returncode}")
            lines = active.read_text().splitlines() if active.exists() else []
            if lines and lines[0].isdecimal():
                return int(lines[0])
            time.sleep(0.1)
        raise TimeoutError("chromium did not open its DevTools port")

    @staticmethod
    def _page_url(port: int) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as answer:
            targets = json.load(answer)
        pages = [t for t in targets if t.get("type") == "page"]
        return str(pages[0]["webSocketDebuggerUrl"])

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one command; the events that come before its answer go to :meth:`_seen`."""
        self._next += 1
        ident = self._next
        self._socket.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self._socket.recv())
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return dict(message.get("result", {}))
            self._seen(message)

    def load(self, path: Path) -> PageLoad:
        """Open ``path`` offline and wait for its load event; what went wrong meanwhile."""
        self._load = PageLoad()
        self._loaded = False
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")
        self.call("Network.emulateNetworkConditions", offline=True, latency=0,
                  downloadThroughput=-1, uploadThroughput=-1)  # fmt: skip
        self.call("Page.navigate", url=path.resolve().as_uri())
        deadline = time.monotonic() + _LOAD_TIMEOUT
        while not self._loaded:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{path} did not finish loading")
            self._seen(json.loads(self._socket.recv()))
        return self._load

    def _seen(self, message: dict[str, Any]) -> None:
        method, params = message.get("method"), message.get("params", {})
        if method == "Page.loadEventFired":
            self._loaded = True
        elif method == "Runtime.consoleAPICalled" and params.get("type") in {"error", "assert"}:
            self._load.errors.append(json.dumps(params.get("args")))
        elif method == "Runtime.exceptionThrown":
            self._load.errors.append(str(params.get("exceptionDetails", {}).get("text")))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            self._load.errors.append(str(params["entry"].get("text")))
        elif method == "Network.loadingFailed":
            self._load.failed_requests.append(str(params.get("errorText")))

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (JSON-able)."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, *, full_page: bool = True) -> bytes:
        """A PNG of the page (the whole page, not only the window)."""
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            params["captureBeyondViewport"] = True
            size = self.call("Page.getLayoutMetrics")["cssContentSize"]
            params["clip"] = {"x": 0, "y": 0, "width": size["width"],
                              "height": size["height"], "scale": 1}  # fmt: skip
        return base64.b64decode(self.call("Page.captureScreenshot", **params)["data"])

    def close(self) -> None:
        """Close the websocket and end the browser this object started."""
        socket = getattr(self, "_socket", None)
        if socket is not None:
            socket.close()
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        _end_group(self._process.pid)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
