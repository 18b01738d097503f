"""The layering rule, checked on the source with ast: core logic imports neither pygit2 nor
click (nor anything outside the core), pygit2 only under gitjit/git/, click only under gitjit/cli/."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "gitjit"
CORE = ["model", "record", "fold", "graph", "query", "errors"]


def imports(path: Path) -> set[str]:
    """Absolute module names a file imports (relative imports resolved against the package)."""
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    pkg = parts[:-1]  # the package a relative import starts from (same for __init__.py)
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg[: len(pkg) - (node.level - 1)] if node.level > 1 else pkg
                mod = ".".join(base + ([node.module] if node.module else []))
                if node.module is None:
                    out.update(f"{mod}.{a.name}" for a in node.names)
                else:
                    out.add(mod)
            else:
                out.add(node.module or "")
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                "import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant):
            out.add(str(node.args[0].value))
    return out


def top(name: str) -> str:
    return name.split(".")[0]


SOURCES = sorted(p for p in PKG.rglob("*.py"))


def test_imports_resolve_relative_names() -> None:
    got = imports(PKG / "api.py")
    assert "gitjit.errors" in got and "gitjit.query" in got
    assert "pygit2" in imports(PKG / "git" / "repo.py")


@pytest.mark.parametrize("mod", CORE)
def test_core_modules_import_only_the_core_and_the_stdlib(mod: str) -> None:
    names = imports(PKG / f"{mod}.py")
    assert not {n for n in names if top(n) in ("pygit2", "click")}, names
    inner = {n for n in names if top(n) == "gitjit"}
    allowed = {f"gitjit.{m}" for m in CORE}
    assert inner <= allowed, f"{mod} reaches outside the core: {inner - allowed}"
    # no I/O or environment in pure logic
    assert not {n for n in names if top(n) in ("subprocess", "os", "socket", "shutil")}, names


@pytest.mark.parametrize("path", SOURCES, ids=[str(p.relative_to(PKG)) for p in SOURCES])
def test_pygit2_only_under_git_and_click_only_under_cli(path: Path) -> None:
    rel = path.relative_to(PKG).parts
    names = {top(n) for n in imports(path)}
    if rel[0] != "git":
        assert "pygit2" not in names, f"{path} imports pygit2; only gitjit/git/ may"
    if rel[0] != "cli":
        assert "click" not in names, f"{path} imports click; only gitjit/cli/ may"


_TLS_PROBE = (
    "import os, sys\n"
    "import gitjit\n"
    "gitjit.cli_process = sys.argv[1] == 'cli'\n"
    "import gitjit.git, pygit2\n"
    "paths = pygit2.settings._default_tls_verify_paths\n"
    "print(repr(os.environ.get('SSL_CERT_FILE')), paths.cafile is not None, paths.capath is not None)\n")


@pytest.mark.parametrize("cafile_env", [None, "bundle"])
def test_cli_processes_load_pygit2_without_the_ca_bundle_and_restore_the_environment(
        tmp_path: Path, cafile_env: str | None) -> None:
    """jit's command-line processes give libgit2 only the certificate directory (parsing the
    bundle cost 24 ms of every write process; gitjit never uses libgit2 for the network), and the
    environment its children inherit is exactly what it was; a program using the library keeps
    pygit2's defaults."""
    import os
    import ssl
    import subprocess
    import sys

    defaults = ssl.get_default_verify_paths()
    if defaults.capath is None or (defaults.cafile is None and cafile_env is None):
        pytest.skip("no system certificate directory and bundle here")
    env = {k: v for k, v in os.environ.items() if k != "SSL_CERT_FILE"}
    if cafile_env is not None:
        bundle = tmp_path / "bundle.pem"
        bundle.write_bytes(Path(defaults.cafile or defaults.openssl_cafile).read_bytes())
        env["SSL_CERT_FILE"] = str(bundle)
    want = repr(env.get("SSL_CERT_FILE"))

    def probe(mode: str) -> list[str]:
        out = subprocess.run([sys.executable, "-c", _TLS_PROBE, mode], env=env, capture_output=True, text=True,
                             check=True, cwd=tmp_path).stdout.split()
        return out

    assert probe("cli") == [want, "False", "True"]  # no bundle parsed, the directory passed on
    assert probe("library") == [want, "True", "True"]  # pygit2's own defaults
