"""Headless Chromium driven over the DevTools protocol, and the JupyterLab server of ``make lab``.

The tests use it to look at what a reader sees: a page of the built book, or a chapter re-run in
JupyterLab (its MyST rendered by jupyterlab-myst, its ``{eval}`` numbers filled in by the kernel).
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, timeout: float, proc: subprocess.Popen | None = None) -> None:
    end = time.time() + timeout
    while time.time() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=5)
            return
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.5)
    raise TimeoutError(url)


class Browser:
    """One headless Chromium with a fresh profile, one tab, DevTools calls over its websocket."""

    def __init__(self, profile: Path, size: str = "1280,1800"):
        import websocket  # websocket-client, a dependency of jupyter_server

        assert CHROMIUM, "chromium is not installed"
        port = free_port()
        self.proc = subprocess.Popen(
            [
                CHROMIUM,
                *FLAGS,
                f"--user-data-dir={profile}",
                f"--remote-debugging-port={port}",
                f"--window-size={size}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        end = time.time() + 60
        while True:
            try:
                tabs = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json", timeout=5))
                page = next(t for t in tabs if t["type"] == "page")
                break
            except Exception:  # noqa: BLE001 - not up yet
                if time.time() > end:
                    self.close()
                    raise
                time.sleep(0.3)
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=120)
        self.ids = itertools.count(1)
        self.call("Page.enable")
        self.call("Runtime.enable")

    def call(self, method: str, **params):
        i = next(self.ids)
        self.ws.send(json.dumps({"id": i, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == i:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    def js(self, expression: str):
        """The value of a JavaScript expression in the page (promises awaited)."""
        reply = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in reply:
            raise RuntimeError(
                f"{expression[:80]}: {reply['exceptionDetails'].get('exception', {}).get('description')}"
            )
        return reply["result"].get("value")

    def wait(self, expression: str, timeout: float = 60, poll: float = 0.5):
        end = time.time() + timeout
        while time.time() < end:
            with contextlib.suppress(RuntimeError):
                value = self.js(expression)
                if value:
                    return value
            time.sleep(poll)
        raise TimeoutError(expression)

    def open(self, url: str) -> None:
        self.call("Page.navigate", url=url)

    def screenshot(self, path: Path) -> Path:
        data = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=False)["data"]
        Path(path).write_bytes(base64.b64decode(data))
        return Path(path)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.ws.close()
        self.proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)
        if self.proc.poll() is None:
            self.proc.kill()


@contextlib.contextmanager
def jupyterlab(root: Path, log: Path):
    """The JupyterLab server of ``make lab`` (:func:`reprobook.lab.lab_command`) on ``root/notebooks``; yields its URL
    and token. The app is exposed to the page (``window.jupyterapp``) so that a test can run its commands."""
    from reprobook.lab import install_settings, lab_command
    from reprobook.runner import ensure_kernel

    ensure_kernel()
    install_settings()  # as make lab does
    port, token = free_port(), "reprobook-test"
    command = lab_command(root, port=port, token=token, browser=False, extra=["--LabApp.expose_app_in_browser=True"])
    # the notebooks it runs write their results beside the log, never into the project's results/
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(log.parent / "jupyter-config"),
        "JUPYTERLAB_WORKSPACES_DIR": str(log.parent / "workspaces"),
        "REPROBOOK_RESULTS": str(log.parent / "results"),
    }
    with open(log, "w") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            wait_for_http(f"http://127.0.0.1:{port}/api/status?token={token}", 120, proc)
            yield f"http://127.0.0.1:{port}", token
        finally:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


NOTEBOOK = "Array.from(jupyterapp.shell.widgets('main')).find(w => w.sessionContext && w.context.path === {path!r})"


def run_in_lab(browser: Browser, base: str, token: str, path: str, timeout: float = 300) -> bool:
    """Open ``path`` in JupyterLab, Run All, then Render All Markdown Cells (jupyterlab-myst evaluates
    their ``{eval}`` expressions then); return whether every cell ran without an error."""
    nb = NOTEBOOK.format(path=path)
    browser.open(f"{base}/lab/workspaces/test/tree/{path}?reset&token={token}")
    browser.wait("!!window.jupyterapp && !!document.querySelector('.jp-MarkdownCell')", 120)
    idle = (
        f"(() => {{ const w = {nb}; const k = w && w.sessionContext.session && w.sessionContext.session.kernel; "
        "return !!k && k.status === 'idle'; })()"
    )
    browser.wait(idle, 120)
    browser.js(f"jupyterapp.shell.activateById({nb}.id)")  # Run All acts on the active notebook
    time.sleep(1)
    browser.js(
        "window.__ran = null; jupyterapp.commands.execute('notebook:run-all-cells')"
        ".then(ok => { window.__ran = String(ok); }, err => { window.__ran = 'error: ' + err; })"
    )
    result = browser.wait("window.__ran", timeout, poll=1)
    browser.wait(idle, 60)
    # jupyterlab-myst fills {eval} values in the second time a markdown cell is rendered (its issues #175,
    # #289): what the README tells a reader to do after Run All
    browser.js("jupyterapp.commands.execute('notebook:render-all-markdown')")
    browser.wait(idle, 60)
    time.sleep(2)
    return result == "true"


def rendered_markdown(browser: Browser, path: str) -> list[str]:
    """The text of every rendered markdown cell of notebook ``path``."""
    nb = NOTEBOOK.format(path=path)
    texts = browser.js(f"{nb}.content.widgets.filter(c => c.model.type === 'markdown').map(c => c.node.innerText)")
    return [t.replace("\xa0", " ") for t in texts]
