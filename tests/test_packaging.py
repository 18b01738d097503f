"""The package as users receive it: its floors, its metadata, the built wheel and sdist, the container.

`python -m build` runs without build isolation (the test extra carries setuptools), so these tests need
no network; the wheel is built once per session.
"""

from __future__ import annotations

import email.parser
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

import gitjit

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]


def _floors_file() -> dict[str, str]:
    pins = {}
    for line in (ROOT / ".ci" / "floors.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[name.strip().lower()] = version.strip()
    return pins


def _declared_floors() -> dict[str, str]:
    floors = {}
    for req in PROJECT["dependencies"]:
        m = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*(.*)", req)
        assert m, req
        name, spec = m.group(1).lower(), m.group(2)
        low = [v for op, v in re.findall(r"(>=|==|~=)\s*([0-9][^,\s]*)", spec)]
        assert low, f"dependency {req!r} declares no floor: say the lowest version that works"
        floors[name] = low[0]
    return floors


def test_every_dependency_floor_is_the_version_ci_installs_for_the_floor_run() -> None:
    declared = _declared_floors()
    pinned = _floors_file()
    assert set(declared) == set(pinned), "pyproject.toml's dependencies and .ci/floors.txt name different packages"
    for name, floor in declared.items():
        # pygit2>=1.19 is met by 1.19.0; a floor file pin must be the floor itself, padded with zeros
        assert pinned[name].split(".")[: len(floor.split("."))] == floor.split("."), (name, floor, pinned[name])
        assert all(p == "0" for p in pinned[name].split(".")[len(floor.split(".")):]), (name, floor, pinned[name])


def test_python_floor_is_the_one_the_code_needs() -> None:
    assert PROJECT["requires-python"] == ">=3.11"  # typing.Self, tomllib
    assert PYPROJECT["tool"]["ruff"]["target-version"] == "py311"
    minor = [c for c in PROJECT["classifiers"] if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)]
    assert minor and min(int(c.rsplit(".", 1)[1]) for c in minor) == 11


def test_the_version_lives_in_one_place() -> None:
    assert "version" not in PROJECT and "version" in PROJECT["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "gitjit.__version__"}
    out = subprocess.run(["jit", "--version"], capture_output=True, text=True, check=True).stdout
    assert out.strip() == f"jit, version {gitjit.__version__}"


def test_the_examples_install_the_pinned_release_and_image() -> None:
    v = gitjit.__version__
    wf = yaml.safe_load((ROOT / "examples" / "pattern2_github_actions.yml").read_text())
    assert wf["env"]["GITJIT_PIP"] == f"gitjit @ git+https://github.com/gitjit/gitjit@v{v}"
    steps = [s.get("run", "") for s in wf["jobs"]["claim-and-execute"]["steps"]]
    assert any('pip install "$GITJIT_PIP"' in s for s in steps)
    assert not any(re.search(r"pip install gitjit\b", s) for s in steps), "no index serves a bare 'gitjit' yet"
    docs = list(yaml.safe_load_all((ROOT / "examples" / "pattern5_k8s_cronjob.yaml").read_text()))
    job = next(d for d in docs if d and d.get("kind") == "CronJob")
    (container,) = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert container["image"] == f"ghcr.io/gitjit/gitjit-dispatch:{v}"
    assert f"-t ghcr.io/gitjit/gitjit-dispatch:{v} ." in (ROOT / "Containerfile").read_text()


def _containerfile() -> tuple[list[list[str]], list[str]]:
    copies, entry = [], []
    for line in (ROOT / "Containerfile").read_text().splitlines():
        if line.startswith("COPY "):
            copies.append(line.split()[1:])
        elif line.startswith("ENTRYPOINT "):
            import json

            entry = json.loads(line[len("ENTRYPOINT "):])
    return copies, entry


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """sdist and wheel built from a copy of the checkout's package files (not its build/ leftovers)."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--sdist", "--wheel", "--outdir", str(out),
                    str(ROOT)], check=True, capture_output=True, text=True)
    return out


@pytest.mark.slow
def test_wheel_and_sdist_build_and_pass_twine_check(built: Path) -> None:
    dists = sorted(built.iterdir())
    assert sorted(p.suffix for p in dists) == [".gz", ".whl"], dists
    r = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", *map(str, dists)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    (whl,) = built.glob("*.whl")
    assert whl.name == f"gitjit-{gitjit.__version__}-py3-none-any.whl"
    with zipfile.ZipFile(whl) as z:
        names = set(z.namelist())
        meta = email.parser.Parser().parsestr(z.read(f"gitjit-{gitjit.__version__}.dist-info/METADATA").decode())
        entry_points = z.read(f"gitjit-{gitjit.__version__}.dist-info/entry_points.txt").decode()
    assert meta["License-Expression"] == "MIT"
    assert f"gitjit-{gitjit.__version__}.dist-info/licenses/LICENSE" in names
    assert meta["Requires-Python"] == ">=3.11"
    assert {u.split(",")[0] for u in meta.get_all("Project-URL")} >= {"Homepage", "Documentation", "Changelog"}
    assert "Typing :: Typed" in meta.get_all("Classifier")
    assert "gitjit/py.typed" in names
    for script in PROJECT["scripts"]:
        assert f"{script} = " in entry_points
    # every file of the package that is not Python source ships too (static assets, py.typed, ...)
    shipped_missing = [
        str(p.relative_to(ROOT)) for p in (ROOT / "gitjit").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc",)
        and str(p.relative_to(ROOT)) not in names
    ]
    assert not shipped_missing, f"files of gitjit/ missing from the wheel (package-data?): {shipped_missing}"
    (sdist,) = built.glob("*.tar.gz")
    with tarfile.open(sdist) as t:
        members = {m.name.split("/", 1)[1] for m in t.getmembers() if "/" in m.name}
    assert {"LICENSE", "README.md", "pyproject.toml", "gitjit/__init__.py", "gitjit/py.typed"} <= members


@pytest.mark.slow
def test_the_containerfile_builds_gitjit_from_exactly_what_it_copies(tmp_path: Path) -> None:
    copies, entry = _containerfile()
    assert entry and entry[0] in PROJECT["scripts"], "the image's entry point is one of gitjit's console scripts"
    ctx = tmp_path / "src"
    ctx.mkdir()
    for *sources, dest in copies:
        for src in sources:
            # COPY a b ./  copies into a directory; COPY gitjit ./gitjit names the target itself
            target = ctx / dest / Path(src).name if dest.endswith("/") else ctx / dest
            if (ROOT / src).is_dir():
                shutil.copytree(ROOT / src, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / src, target)
    r = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--wheel", "--outdir", str(tmp_path / "d"),
                        str(ctx)], capture_output=True, text=True)
    assert r.returncode == 0, "the files the Containerfile copies do not build gitjit:\n" + r.stdout[-2000:] + r.stderr
    assert list((tmp_path / "d").glob(f"gitjit-{gitjit.__version__}-*.whl"))
