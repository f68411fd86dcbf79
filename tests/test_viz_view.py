"""``armgym view``: a report a person reads, rendered in headless Chromium."""

from __future__ import annotations

import base64
import contextlib
import functools
import http.server
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.sync import client as websocket_client

from armgym.cli import main as armgym
from armgym.data.testing import write_synthetic
from armgym.data.view import ViewConfig, write_report

#: evaluated in the report page: videos present / playable / failed, "nan" in the text, ...
STATUS_JS = """JSON.stringify((() => {
  const vids = Array.from(document.querySelectorAll('video'));
  return {videos: vids.length,
          loaded: vids.filter(v => v.readyState >= 2 && v.videoWidth > 0).length,
          failed: vids.filter(v => v.error).length,
          nan: /\\bnan\\b/i.test(document.body.innerText),
          svgs: document.querySelectorAll('svg').length,
          external: document.querySelectorAll('script[src],link[href],img[src^=http]').length};
})())"""


class Chromium:
    """Headless Chromium driven over the DevTools protocol (websocket on 127.0.0.1)."""

    def __init__(self, url: str, profile: Path, size: tuple[int, int] = (1400, 1800)):
        exe = shutil.which("chromium") or shutil.which("chromium-browser")
        assert exe, "chromium missing: `make test` installs Debian's chromium"
        self.proc = subprocess.Popen(
            [exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             "--mute-audio", "--remote-debugging-port=0", f"--user-data-dir={profile}",
             f"--window-size={size[0]},{size[1]}", url],
            stderr=subprocess.PIPE, text=True, start_new_session=True,
        )  # fmt: skip
        self._id, self._stack = 0, contextlib.ExitStack()
        try:
            self.ws = self._stack.enter_context(
                websocket_client.connect(self._page_ws(), max_size=None)
            )
        except BaseException:
            self.close()
            raise

    def _page_ws(self, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        assert self.proc.stderr is not None
        for line in self.proc.stderr:  # "DevTools listening on ws://127.0.0.1:PORT/..."
            if "DevTools listening on" in line:
                port = line.split("127.0.0.1:")[1].split("/")[0]
                break
            assert time.monotonic() < deadline, "chromium did not start"
        else:
            raise AssertionError("chromium exited before listening")
        while time.monotonic() < deadline:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list") as r:
                pages = [t for t in json.load(r) if t["type"] == "page"]
            if pages:
                return pages[0]["webSocketDebuggerUrl"]
            time.sleep(0.1)
        raise AssertionError("no page target")

    def call(self, method: str, **params: object) -> dict:
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv(timeout=60))
            if msg.get("id") == self._id:
                assert "error" not in msg, msg
                return msg["result"]

    def status(self) -> dict:
        res = self.call("Runtime.evaluate", expression=STATUS_JS, returnByValue=True)
        return json.loads(res["result"]["value"]) if "value" in res["result"] else {}

    def close(self) -> None:
        self._stack.close()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("view") / "pickcube"
    args = ["collect", "--out", str(out), "--episodes", "2", "--obs", "both"]
    assert armgym([*args, "--image-size", "96", "--no-progress", "--max-steps", "40"]) == 0
    assert armgym(["view", str(out)]) == 0
    return out


@pytest.fixture
def served(dataset: Path) -> Iterator[str]:
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(dataset))
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    assert exe, (
        "chromium missing: `make test` installs Debian's chromium (apt-get install chromium)"
    )
    return exe


def headless(*args: str, timeout: float = 90) -> str:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--mute-audio"]
    res = subprocess.run(
        [chromium(), *flags, *args], capture_output=True, text=True, timeout=timeout
    )
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout


def test_report_names_units_and_summaries(dataset: Path) -> None:
    html = (dataset / "report/index.html").read_text()
    assert "nan" not in html.lower().replace("nanos", "")
    for text in ("joint positions", "rad/s", "joint1", "dpitch", "gripper opening",
                 "cube position", "161 values in", "success 2/2", "95% CI"):  # fmt: skip
        assert text in html, text
    assert html.count("<video") == 4  # 2 episodes x 2 cameras, side by side
    assert "<script" not in html and "http" not in html.replace("http://www.w3.org", "")
    rates = re.findall(
        r"<td class='num'>(\d+)</td><td class='num'>[\d.]+</td><td class='num'>0", html
    )
    assert rates, "target fps column"


def test_report_renders_in_headless_chromium(dataset: Path, served: str, tmp_path: Path) -> None:
    browser = Chromium(f"{served}/report/index.html", tmp_path / "profile")
    try:
        deadline, st = time.monotonic() + 60, {}
        while time.monotonic() < deadline:  # poll until every video can play
            st = browser.status()
            if st and st["videos"] and st["loaded"] + st["failed"] == st["videos"]:
                break
            time.sleep(0.2)
        assert st == {"videos": 4, "loaded": 4, "failed": 0, "nan": False,
                      "svgs": st.get("svgs"), "external": 0}, st  # fmt: skip
        assert st["svgs"] >= 10
        shot = browser.call("Page.captureScreenshot", format="png")["data"]
        png = base64.b64decode(shot)
        assert png[:4] == b"\x89PNG" and len(png) > 50_000
        (tmp_path / "view.png").write_bytes(png)
    finally:
        browser.close()


def test_hundred_episodes_in_seconds(tmp_path: Path) -> None:
    write_synthetic(tmp_path / "ds", [30] * 100, ["t"] * 100, image_size=None)
    t0 = time.perf_counter()
    index = write_report(ViewConfig(tmp_path / "ds", max_episodes=100))
    elapsed = time.perf_counter() - t0
    html = index.read_text()
    assert html.count("<h3 id='ep") == 100 and "success 100/100" in html
    assert elapsed < 15, f"{elapsed:.1f} s for 100 episodes"  # ~2 s on a quiet 2-core VM
