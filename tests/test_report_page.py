"""eval.py's listening page (OUT/index.html) in a real headless browser.

eval.py runs on test_eval's tiny dataset (a val mel with its reference in val_wav/, a mel without
one, a WAV input); then Debian's chromium opens the page itself and the test drives it over the
DevTools protocol on a pipe (--remote-debugging-pipe: JSON messages on fds 3/4, no websocket, no new
Python dependency). The page has no script of its own: the test asks the browser, from outside, for
every <audio> element's duration once its metadata has loaded and every <img>'s natural size, and
collects console errors, failed loads ("Failed to load resource") and exceptions. A copy of the page
with one reference moved away must fail the same check, so the check can see a broken link.
setup.sh installs chromium when MELGAN_BROWSER_TESTS=1 (scripts/run_tests.sh sets it); without a
browser the test skips and says so.
"""
import json
import os
import pathlib
import select
import shutil
import subprocess
import time
from html.parser import HTMLParser
from urllib.parse import unquote

import pytest

import eval as eval_script
from tests.corpus import make_eval_inputs

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium on PATH: the browser test needs Debian's chromium "
                             "(MELGAN_BROWSER_TESTS=1 bash setup.sh installs it)")


@pytest.fixture(scope="module")
def ckpt(zoo_ckpt):
    return zoo_ckpt


class _Sources(HTMLParser):
    def __init__(self):
        super().__init__()
        self.audio, self.img, self.script = [], [], 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "audio":
            self.audio.append(attrs.get("src"))
        elif tag == "img":
            self.img.append(attrs.get("src"))
        elif tag == "script":
            self.script += 1


class Chromium:
    """Headless chromium driven over --remote-debugging-pipe (the DevTools protocol, one page)."""

    def __init__(self, profile):
        to_browser, self._write = os.pipe()
        self._read, from_browser = os.pipe()

        def fds():  # the browser reads commands on fd 3 and writes replies and events on fd 4
            a, b = os.dup(to_browser), os.dup(from_browser)  # (free of 3 and 4 before dup2)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless=new", "--disable-gpu", "--no-sandbox", "--no-first-run", "--mute-audio",
             "--remote-debugging-pipe", f"--user-data-dir={profile}", "about:blank"],
            preexec_fn=fds, close_fds=False, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_browser)
        os.close(from_browser)
        self._buffer, self._id, self.events, self.session = b"", 0, [], None
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable")

    def _message(self, deadline):
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._read], [], [], left)[0]:
                raise TimeoutError("chromium did not answer")
            chunk = os.read(self._read, 1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def send(self, method, timeout=20.0, **params):
        self._id += 1
        message = {"id": self._id, "method": method, "params": params}
        if self.session and not method.startswith("Target."):
            message["sessionId"] = self.session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._message(deadline)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_event(self, method, timeout=20.0):
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == method for e in self.events):
            self.events.append(self._message(deadline))

    def evaluate(self, expression):
        return self.send("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def close(self):
        try:
            self.send("Browser.close", timeout=5.0)
        except Exception:  # pylint: disable=broad-except  (already gone)
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._write)
        os.close(self._read)


_STATE = """JSON.stringify({
  audio: [...document.querySelectorAll('audio')].map(a => ({src: a.getAttribute('src'), url: a.currentSrc,
          duration: a.duration, ready: a.readyState, error: a.error ? a.error.code : null})),
  img: [...document.querySelectorAll('img')].map(i => ({src: i.getAttribute('src'), complete: i.complete,
        width: i.naturalWidth}))})"""


def open_page(browser, path, timeout=15.0):
    """Load the page and wait until every audio element has its metadata (or failed); returns the
    elements' state and the console errors seen."""
    browser.send("Page.navigate", url="file://" + os.path.abspath(path))
    browser.wait_event("Page.loadEventFired")
    deadline = time.monotonic() + timeout
    while True:
        state = json.loads(browser.evaluate(_STATE))
        if all(a["ready"] >= 1 or a["error"] for a in state["audio"]) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    errors = []
    for event in browser.events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Log.entryAdded" and params["entry"]["level"] == "error":
            errors.append(f"{params['entry'].get('text')} {params['entry'].get('url', '')}")
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            errors.append(json.dumps(params.get("args")))
        elif method == "Runtime.exceptionThrown":
            errors.append(params["exceptionDetails"].get("text", "exception"))
    browser.events.clear()
    return state, errors


@pytest.fixture
def dataset(tmp_path):
    """eval.py's inputs: val/a.npy + val_wav/a.wav, val/b.npy, val/c.wav (tests/corpus.py)."""
    return pathlib.Path(make_eval_inputs(tmp_path / "ds"))


def test_listening_page_plays_in_a_browser(dataset, ckpt, tmp_path, capsys):
    out = tmp_path / "out"
    eval_script.main(["--eval_data_path", str(dataset), "--eval_model_path", ckpt, "--output_path", str(out),
                      "--plot", "True", "--metrics", "fast", "--backend", "mindspore"])
    page = out / "index.html"
    assert f"listen: {page}" in capsys.readouterr().out
    text = page.read_text(encoding="utf-8")
    parsed = _Sources()
    parsed.feed(text)
    # static: no script, nothing from the network, relative links; the reference of a.npy lives outside OUT
    assert parsed.script == 0 and "http://" not in text and "https://" not in text
    assert parsed.audio == ["../ds/val_wav/a.wav", "a.wav", "b.wav", "../ds/val/c.wav", "c.wav"]
    assert parsed.img == ["a.png", "b.png", "c.png"]
    for src in parsed.audio + parsed.img:
        assert (out / unquote(src)).is_file()
    for column in ("mcd_db", "f0_rmse_cents", "vuv_error", "MEAN"):
        assert column in text
    assert "no reference audio known" in text  # b.npy has none

    browser = Chromium(tmp_path / "profile")
    try:
        state, errors = open_page(browser, page)
        assert errors == []
        assert [a["src"] for a in state["audio"]] == parsed.audio
        for audio in state["audio"]:  # every player loaded its file: its length, 256 × frames samples
            assert audio["error"] is None and audio["duration"] > 0.2, audio
        assert all(i["complete"] and i["width"] > 0 for i in state["img"]), state["img"]
        # the check sees a broken link: the same page one folder further down loses its relative links
        (out / "moved").mkdir()
        shutil.copy(page, out / "moved" / "index.html")
        state, errors = open_page(browser, out / "moved" / "index.html")
        assert any("Failed to load resource" in e or "ERR_FILE_NOT_FOUND" in e for e in errors), errors
        assert all(a["error"] or not a["duration"] > 0 for a in state["audio"])
    finally:
        browser.close()
