"""``armgym view``: a report a person reads, rendered in headless Chromium."""

from __future__ import annotations

import functools
import http.server
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from armgym.cli import main as armgym
from armgym.data.testing import write_synthetic
from armgym.data.view import ViewConfig, write_report

PROBE = """<!doctype html><meta charset='utf-8'><title>probe</title>
<iframe id='r' src='report/index.html' width='1400' height='1600'></iframe>
<pre id='out'>pending</pre><script>
const deadline = Date.now() + 20000;
function check() {
  const doc = document.getElementById('r').contentDocument;
  const vids = doc ? Array.from(doc.querySelectorAll('video')) : [];
  const ok = vids.filter(v => v.readyState >= 2 && v.videoWidth > 0).length;
  const bad = vids.filter(v => v.error).length;
  const text = doc && doc.body ? doc.body.innerText : '';
  if ((vids.length && ok + bad === vids.length) || Date.now() > deadline) {
    document.getElementById('out').textContent = 'videos=' + vids.length + ' loaded=' + ok +
      ' failed=' + bad + ' nan=' + /\\bnan\\b/i.test(text) + ' svgs=' +
      doc.querySelectorAll('svg').length + ' external=' +
      doc.querySelectorAll('script[src],link[href]').length;
  } else { setTimeout(check, 100); }
}
window.onload = check;
</script>"""


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
    (dataset / "probe.html").write_text(PROBE)
    dom = headless("--virtual-time-budget=20000", "--dump-dom", f"{served}/probe.html")
    m = re.search(
        r"videos=(\d+) loaded=(\d+) failed=(\d+) nan=(\w+) svgs=(\d+) external=(\d+)", dom
    )
    assert m, dom[-1500:]
    videos, loaded, failed, nan, svgs, external = m.groups()
    assert (videos, loaded, failed) == ("4", "4", "0")
    assert nan == "false" and int(svgs) >= 10 and external == "0"
    shot = tmp_path / "view.png"
    headless("--window-size=1400,1800", f"--screenshot={shot}", f"{served}/report/index.html")
    assert shot.stat().st_size > 50_000


def test_hundred_episodes_in_seconds(tmp_path: Path) -> None:
    write_synthetic(tmp_path / "ds", [30] * 100, ["t"] * 100, image_size=None)
    t0 = time.perf_counter()
    index = write_report(ViewConfig(tmp_path / "ds", max_episodes=100))
    elapsed = time.perf_counter() - t0
    html = index.read_text()
    assert html.count("<h3 id='ep") == 100 and "success 100/100" in html
    assert elapsed < 10, f"{elapsed:.1f} s for 100 episodes"
