"""The built package is the whole of finmt, used as a new user would: the sdist is built from
this checkout and the wheel from the sdist (so both are complete), installed into a fresh
virtual environment outside the checkout, and run from an empty folder.

The new environment reuses this one's dependencies through a ``.pth`` file (torch and the rest
are not downloaded again; the test works offline), but finmt itself comes from the wheel:
``finmt_core`` must resolve inside the new environment, and that environment's site-packages
must hold nothing but finmt's own names.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import sysconfig
import textwrap
import time
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
#: what an installed finmt may put at the top of site-packages
OWN_NAMES = {"finmt_core", "finmt_app", "finmt-0.1.0.dist-info"}
#: what finmt_app/ holds: the repository folders the app needs (setup.py)
APP_ENTRIES = {"dashboard", "pages", "benchmarks", ".streamlit"}


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path
    site: Path  # the new environment's site-packages
    work: Path  # an empty folder outside the checkout: every command runs there
    env: dict[str, str]

    @property
    def python(self) -> str:
        return str(self.venv / "bin" / "python")

    def run(self, *argv: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(argv, cwd=self.work, env=self.env, capture_output=True, text=True, timeout=timeout)
        assert proc.returncode == 0, f"{' '.join(argv)} -> {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        return proc

    def finmt(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return self.run(str(self.venv / "bin" / "finmt"), *args, timeout=timeout)

    def py(self, code: str, timeout: float = 600) -> str:
        return self.run(self.python, "-c", textwrap.dedent(code), timeout=timeout).stdout


def _check(argv: list[str], cwd: Path) -> str:
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{' '.join(argv)}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    base = tmp_path_factory.mktemp("packaging")
    dist = base / "dist"
    # sdist from the checkout (offline: this environment's setuptools), then the wheel from it
    _check([sys.executable, "-c", "import sys; from setuptools import build_meta as b; b.build_sdist(sys.argv[1])",
            str(dist)], cwd=REPO)
    (sdist,) = dist.glob("finmt-*.tar.gz")
    _check([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index",
            "-w", str(dist), str(sdist)], cwd=base)
    (wheel,) = dist.glob("finmt-*.whl")

    venv = base / "venv"
    _check([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=base)
    site = Path(_check([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                       cwd=base).strip())
    # dependencies: this environment's packages, after the new environment's own
    (site / "_finmt_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # --force-reinstall: this environment's (editable) finmt is visible through the .pth file
    _check([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q", "--no-index",
            "--no-deps", "--force-reinstall", str(wheel)], cwd=base)

    work = base / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "FINMT_", "STREAMLIT_", "VIRTUAL_ENV"))}
    env.update(PYTHONNOUSERSITE="1", FINMT_DEMO="0", PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}")
    return Installed(wheel, venv, site, work, env)


def test_the_wheel_holds_only_finmts_own_names(installed):
    names = zipfile.ZipFile(installed.wheel).namelist()
    assert {n.split("/")[0] for n in names} == OWN_NAMES
    assert {n.split("/")[1] for n in names if n.startswith("finmt_app/")} == APP_ENTRIES
    for required in ("finmt_app/dashboard/app.py", "finmt_app/pages/home.py", "finmt_app/.streamlit/config.toml",
                     "finmt_app/benchmarks/suite.py", "finmt_core/configs/tgcn.yaml",
                     "finmt_core/configs/search/default.yaml", "finmt_core/data/sample/stocks.csv.gz",
                     "finmt_core/templates/report.html"):
        assert required in names, required
    pages = {p.name for p in (REPO / "pages").glob("*.py")}
    assert pages == {Path(n).name for n in names if n.startswith("finmt_app/pages/")}
    installed_top = {p.name for p in installed.site.iterdir() if not p.name.startswith(("_finmt_test", "__pycache__"))}
    assert installed_top == OWN_NAMES  # nothing generic (dashboard, benchmarks, pages) in site-packages


def test_finmt_comes_from_the_wheel_with_every_preset_and_declared_dependency(installed):
    out = json.loads(installed.py("""
        import importlib.metadata as md, importlib.util, json
        from packaging.requirements import Requirement
        import finmt_core
        from finmt_core.config import PRESET_DIR, list_presets
        from finmt_core.commands.dashboard import app_root
        unmet = [str(r) for r in map(Requirement, md.requires("finmt") or []) if not r.marker
                 and not r.specifier.contains(md.version(r.name), prereleases=True)]
        print(json.dumps({"core": finmt_core.__file__, "presets": list_presets(), "preset_dir": str(PRESET_DIR),
                          "app": str(app_root()), "dashboard": importlib.util.find_spec("dashboard") is not None,
                          "unmet": unmet}))
    """))
    venv = str(installed.venv)
    assert out["core"].startswith(venv) and out["preset_dir"].startswith(venv) and out["app"].startswith(venv)
    assert out["presets"] == sorted(p.stem for p in (REPO / "configs").glob("*.yaml"))
    assert not out["dashboard"]  # the app's modules are not importable by their generic names
    assert not out["unmet"]  # every declared dependency (with its lower bound) is met here
    # what the dashboard launches on first start (dashboard/demo.py: cwd = the app's folder)
    demo = subprocess.run([installed.python, "-m", "dashboard.demo", "--help"], cwd=out["app"], env=installed.env,
                          capture_output=True, text=True, timeout=120)
    assert demo.returncode == 0 and "demo runs" in demo.stdout, demo.stderr[-2000:]


def test_validate_and_train_from_an_empty_folder_then_render_home(installed):
    out = installed.finmt("data", "validate", "demo").stdout
    assert "demo" in out.lower()
    for preset in ("lightgbm", "tgcn"):
        installed.finmt("train", "--preset", preset, "--data", "demo", "--epochs", "1", "--name", f"pkg-{preset}",
                        "--runs-dir", "runs")
        status = json.loads((installed.work / "runs" / f"pkg-{preset}" / "status.json").read_text())
        assert status["state"] == "done", status
    # the installed app's Home page (AppTest on finmt_app/dashboard/app.py), listing both runs
    out = installed.py("""
        import os
        from streamlit.testing.v1 import AppTest
        from finmt_core.commands.dashboard import app_root
        os.environ["FINMT_RUNS_DIR"] = "runs"
        at = AppTest.from_file(str(app_root() / "dashboard" / "app.py"), default_timeout=300).run()
        assert not at.exception, [e.value for e in at.exception]
        print(sorted(at.dataframe[0].value["run"]))
        print([t.value for t in at.title])
    """)
    assert "['pkg-lightgbm', 'pkg-tgcn']" in out and "finmt" in out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_finmt_dashboard_serves_from_an_empty_folder_and_guards_the_network(installed):
    refused = subprocess.run([str(installed.venv / "bin" / "finmt"), "dashboard", "--address", "0.0.0.0"],
                             cwd=installed.work, env=installed.env, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "--viewer" in refused.stderr
    port = _free_port()
    proc = subprocess.Popen([str(installed.venv / "bin" / "finmt"), "dashboard", "--viewer", "--port", str(port)],
                            cwd=installed.work, env=installed.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)  # its own group: the streamlit child stops too
    try:
        deadline, health = time.monotonic() + 120, ""
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                health = urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).read().decode()
                break
            except OSError:
                time.sleep(0.5)
        assert health == "ok", f"no server (rc {proc.poll()})"
        assert urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).status == 200
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        output = proc.communicate(timeout=60)[0]
    assert "read-only" in output and "127.0.0.1" in output
