"""Run JupyterLab and Debian's Chromium for end-to-end tests (no network, no ``playwright install``).

Everything here follows ``shared/notes/browser-testing.md``:

* :class:`JupyterLab` starts ``jupyter lab`` on 127.0.0.1 (free port, token, its own config /
  runtime / IPython / workspaces / settings dirs, news toast off, ``window.jupyterapp`` exposed) in
  its own process group, and kills the whole group (server + kernels) on exit.
* :func:`launch_chromium` launches ``/usr/bin/chromium`` (or ``$IMACS_CHROMIUM``) headless with the
  flags that keep it quiet on a closed network — the one launcher of every browser test, the
  widget harness (tests/widget_harness.py) and bench/bench_widget.py.
* :class:`LabPage` drives a notebook page: waits until the kernel is really connected (the idle
  indicator shows before it is), runs cells, reads outputs. Lab commands are *started* from
  ``page.evaluate`` without returning their promise (``evaluate`` would wait on it forever); the
  caller waits on the DOM or on the notebook model instead.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("IMACS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-extensions",
]


def chromium_missing_reason() -> str | None:
    """Why browser tests cannot run here, or None when they can."""
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} not found (apt-get install -y chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:  # pragma: no cover - the test extra installs it
        return "python playwright is not installed (pip install -e '.[test]')"
    return None


def launch_chromium(playwright, **kwargs):
    """Launch Debian's Chromium through Playwright (never Playwright's own download)."""
    return playwright.chromium.launch(
        executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True, **kwargs
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_notebook(path: Path, cells: list[str]) -> Path:
    """Write a notebook of code cells (nbformat 4) without executing it."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.write_text(nbformat.writes(nb), encoding="utf-8")
    return path


def _extra_jupyter_path() -> list[str]:
    """Data dirs holding the anywidget lab extension when Jupyter would not look there.

    anywidget ships its lab extension as data files (``share/jupyter/labextensions/anywidget``)
    under the prefix it was installed to. In a ``--system-site-packages`` venv (or a ``--user``
    install) Jupyter only searches the venv's prefix, the front end then cannot load the
    ``anywidget`` module and Lab logs only "Exception opening new comm".
    """
    try:
        import anywidget
        from jupyter_core.paths import jupyter_path
    except ImportError:  # pragma: no cover
        return []
    searched = {Path(p).resolve() for p in jupyter_path("labextensions")}
    site = Path(anywidget.__file__).resolve().parents[1]  # .../site-packages
    for prefix in (site.parents[2], site.parents[1], site.parent):  # lib/pythonX.Y/site-packages
        data = prefix / "share" / "jupyter"
        ext = data / "labextensions"
        if (ext / "anywidget" / "package.json").is_file():
            return [] if ext.resolve() in searched else [str(data)]
    return []


class JupyterLab:
    """``with JupyterLab(root_dir, tmp_dir) as lab: page.goto(lab.notebook_url("x.ipynb"))``."""

    def __init__(self, root_dir: Path, tmp_dir: Path, *, startup_timeout: float = 90.0,
                 extra_env: dict[str, str] | None = None):
        self.root_dir = Path(root_dir)
        self.tmp_dir = Path(tmp_dir)
        self.startup_timeout = startup_timeout
        self.extra_env = dict(extra_env or {})
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.proc: subprocess.Popen | None = None
        self.log_path = self.tmp_dir / "jupyterlab.log"

    # -- lifecycle -----------------------------------------------------------------------------
    def _dirs(self) -> dict[str, Path]:
        names = ("config", "runtime", "ipython", "workspaces", "settings")
        dirs = {n: self.tmp_dir / f"lab-{n}" for n in names}
        for d in dirs.values():
            d.mkdir(parents=True, exist_ok=True)
        # The "get notified about news?" toast ignores --LabApp.news_url; a setting turns it off.
        s = dirs["settings"] / "@jupyterlab" / "apputils-extension"
        s.mkdir(parents=True, exist_ok=True)
        (s / "notification.jupyterlab-settings").write_text(
            json.dumps({"fetchNews": "false", "checkForUpdates": False})
        )
        # Language servers and terminals are not needed; skipping them starts the server faster.
        (dirs["config"] / "jupyter_server_config.json").write_text(json.dumps(
            {"ServerApp": {"jpserver_extensions": {"jupyter_lsp": False,
                                                   "jupyter_server_terminals": False}}}
        ))
        return dirs

    def start(self) -> JupyterLab:
        dirs = self._dirs()
        env = dict(os.environ)
        env.update(
            JUPYTER_CONFIG_DIR=str(dirs["config"]),
            JUPYTER_RUNTIME_DIR=str(dirs["runtime"]),
            IPYTHONDIR=str(dirs["ipython"]),
            JUPYTER_PLATFORM_DIRS="1",
            TF_CPP_MIN_LOG_LEVEL="2",
            PYTHONPATH=os.pathsep.join(
                p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p
            ),
        )
        extra = _extra_jupyter_path()
        if extra:
            env["JUPYTER_PATH"] = os.pathsep.join(extra + [env.get("JUPYTER_PATH", "")]).strip(
                os.pathsep)
        env.update(self.extra_env)
        cmd = [
            sys.executable, "-m", "jupyterlab",
            "--no-browser", "--allow-root",
            "--ip=127.0.0.1", f"--port={self.port}", "--port-retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root_dir}",
            "--LabApp.expose_app_in_browser=True",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            f"--LabApp.workspaces_dir={dirs['workspaces']}",
            f"--LabApp.user_settings_dir={dirs['settings']}",
        ]
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            cmd, cwd=self.root_dir, env=env, stdout=self._log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited ({self.proc.returncode}):\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url("api/status"), timeout=2) as r:
                    if r.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"jupyter lab did not answer in {self.startup_timeout}s:\n"
                                   f"{self.log_tail()}")
            try:  # the server is another process: wait on its exit, at most 0.25 s, then ask again
                self.proc.wait(timeout=0.25)
            except subprocess.TimeoutExpired:
                pass

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
                try:
                    os.killpg(proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    proc.wait(timeout=wait)
                    # the server is gone; its kernels share the group: make sure they are too
                    try:
                        os.killpg(proc.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    break
                except subprocess.TimeoutExpired:
                    continue
        log = getattr(self, "_log", None)
        if log is not None and not log.closed:
            log.close()

    def __enter__(self) -> JupyterLab:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- helpers -------------------------------------------------------------------------------
    def url(self, path: str = "", **query: str) -> str:
        q = "&".join([f"token={self.token}"] + [f"{k}={v}" if v else k for k, v in query.items()])
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}?{q}"

    def notebook_url(self, name: str) -> str:
        return self.url(f"lab/tree/{name}", reset="")

    def log_tail(self, n: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"


# JS run in the Lab page. None of them returns a promise (see module docstring).
_JS_PANEL = """
const app = window.jupyterapp;
const panel = app && app.shell.currentWidget;
const nb = panel && panel.content;
"""
_JS_KERNEL_READY = "() => {" + _JS_PANEL + """
  const sc = panel && panel.sessionContext;
  const k = sc && sc.session && sc.session.kernel;
  return !!(nb && nb.widgets && sc && sc.isReady && k && k.status === 'idle'
            && k.connectionStatus === 'connected');
}"""
_JS_CELLS_DONE = "(a) => {" + _JS_PANEL + """
  if (!nb || !nb.widgets) return false;
  const models = nb.widgets.map((c) => c.model);
  const code = (m) => m && m.type === 'code';
  if (models.some((m) => code(m) && m.outputs.toJSON().some((o) => o.output_type === 'error')))
    return true;  // an error output ends the wait (reported by the caller)
  const done = a.indices.every((i) => code(models[i]) && models[i].executionCount !== null
                                      && models[i].executionCount !== a.previous[i]);
  const sc = panel.sessionContext;
  const k = sc && sc.session && sc.session.kernel;
  return done && !!(sc && sc.isReady && k && k.status === 'idle'
                    && k.connectionStatus === 'connected');
}"""
_JS_CELLS = "() => {" + _JS_PANEL + """
  if (!nb || !nb.widgets) return null;
  return nb.widgets.map((c) => {
    const m = c.model;
    const outs = m.type === 'code' ? m.outputs.toJSON() : [];
    return {type: m.type, count: m.type === 'code' ? m.executionCount : null,
            outputs: outs};
  });
}"""


class LabPage:
    """A Playwright page showing one notebook in JupyterLab."""

    def __init__(self, page, lab: JupyterLab):
        self.page = page
        self.lab = lab
        self.console: list[str] = []
        self._error_messages = []  # console errors, to resolve their arguments in debug()
        page.on("console", self._on_console)
        page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}\n{e.stack or ''}"))

    def _on_console(self, m) -> None:
        self.console.append(f"{m.type}: {m.text}")
        if m.type == "error":
            self._error_messages.append(m)

    def console_error_details(self) -> list[str]:
        """Console errors with their arguments (an Error's stack, e.g. why a comm failed)."""
        out = []
        for m in self._error_messages[-10:]:
            parts = []
            for a in m.args:
                try:
                    parts.append(a.evaluate(
                        "(e) => (e && e.stack) ? String(e.stack) : "
                        "(typeof e === 'object' ? JSON.stringify(e) : String(e))"))
                except Exception as exc:  # page gone, handle disposed
                    parts.append(f"<{type(exc).__name__}>")
            out.append(" | ".join(parts))
        return out

    def open(self, name: str, timeout: float = 90.0) -> None:
        self.page.goto(self.lab.notebook_url(name), wait_until="domcontentloaded")
        self.wait_kernel_ready(timeout)

    def wait_kernel_ready(self, timeout: float = 90.0) -> None:
        """Idle indicator is not enough: wait for a connected, idle kernel of a ready session."""
        self.page.wait_for_function(_JS_KERNEL_READY, timeout=timeout * 1000, polling=100)

    def run_all(self) -> None:
        self.page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")

    def run_cell(self, index: int) -> None:
        """Make cell ``index`` the only selected cell and run it (command started, not awaited)."""
        self.page.evaluate(
            "(i) => {" + _JS_PANEL + """
              nb.activeCellIndex = i; nb.deselectAll();
              app.commands.execute('notebook:run-cell'); }""",
            index,
        )

    def cells(self) -> list[dict[str, Any]]:
        return self.page.evaluate(_JS_CELLS) or []

    def wait_cells_done(self, indices, timeout: float = 120.0, previous: dict | None = None):
        """Wait until the code cells ``indices`` have an execution count (different from
        ``previous[i]`` when given) and the kernel is idle again; raise on an error output.

        The condition is checked in the page by Playwright (``wait_for_function``), not by
        sleeping here."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        arg = {"indices": [int(i) for i in indices],
               "previous": {str(i): c for i, c in (previous or {}).items()}}
        try:
            self.page.wait_for_function(_JS_CELLS_DONE, arg=arg, timeout=timeout * 1000,
                                        polling=100)
        except PlaywrightTimeout:
            cells = self.cells()
            raise TimeoutError(f"cells {list(indices)} not done in {timeout}s; "
                               f"counts={[c['count'] for c in cells]}\n{self.debug()}") from None
        cells = self.cells()
        errors = self.errors(cells)
        if errors:
            raise AssertionError("notebook cell raised:\n" + "\n".join(errors))
        return cells

    @staticmethod
    def errors(cells) -> list[str]:
        out = []
        for i, c in enumerate(cells or []):
            for o in c["outputs"]:
                if o.get("output_type") == "error":
                    tb = "\n".join(o.get("traceback", []))
                    out.append(f"cell {i}: {o.get('ename')}: {o.get('evalue')}\n{tb}")
        return out

    @staticmethod
    def text(cell: dict) -> str:
        parts = []
        for o in cell["outputs"]:
            if o.get("output_type") == "stream":
                t = o.get("text", "")
                parts.append("".join(t) if isinstance(t, list) else t)
            elif "data" in o and "text/plain" in o["data"]:
                t = o["data"]["text/plain"]
                parts.append("".join(t) if isinstance(t, list) else t)
        return "".join(parts)

    def debug(self) -> str:
        return ("--- browser console ---\n" + "\n".join(self.console[-40:])
                + "\n--- console errors in full ---\n" + "\n".join(self.console_error_details())
                + "\n--- jupyter lab log ---\n" + self.lab.log_tail(40))


def control_input(page, selector: str):
    """The ``<input>``/``<select>`` of a control hook (the hook itself or inside it)."""
    loc = page.locator(selector).first
    tag = loc.evaluate("(e) => e.tagName.toLowerCase()")
    if tag in ("input", "select"):
        return loc
    return loc.locator("input, select").first


def control_range(page, selector: str) -> tuple[int, int, int]:
    """(min, max, value) of a numeric control (range/number input or select of numbers)."""
    loc = control_input(page, selector)
    return tuple(loc.evaluate("""(e) => {
        if (e.tagName.toLowerCase() === 'select') {
            const v = Array.from(e.options).map((o) => Number(o.value));
            return [Math.min(...v), Math.max(...v), Number(e.value)];
        }
        return [Number(e.min), Number(e.max), Number(e.value)];
    }"""))


def set_control(page, selector: str, value) -> None:
    """Set a control like a user would (fires input + change)."""
    loc = control_input(page, selector)
    if loc.evaluate("(e) => e.tagName.toLowerCase()") == "select":
        loc.select_option(str(value))
    else:
        loc.fill(str(value))
