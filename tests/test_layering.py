"""The house, checked on the source with ast (docs/design.md draws it).

Layers, bottom to top; a module may import its own layer and the layers below it, never above:

    core      pure logic: no I/O, no third-party packages
    schema    the pydantic models of record (what crosses a trust edge, every --json shape): pure
              computation too, and the only code importing pydantic
    git       the only code touching git (pygit2, the ``git`` program)
    store     entities on refs, locks, sync, the index (a read model of the refs)
    app       the use cases: the Tracker façade and what it is made of, hooks, doctor, exchange
    dispatch  jit-dispatch's engine
    mcp       ``jit mcp``, the MCP server: a surface beside dispatch (neither imports the other)
    front     the front doors: cli/, board/ (the web board) (and gitjit.api, the library's face; __main__)

Every import counts: at module level, inside functions, and under ``if TYPE_CHECKING``. There is
no cycle among the modules of ``gitjit/`` at all, within a layer either.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "gitjit"

LAYERS = ["core", "schema", "git", "store", "app", "dispatch", "mcp", "front"]
#: top-level modules and the layer each belongs to (everything else: its folder's name)
TOP_LEVEL = {"gitjit": "core", "gitjit.__main__": "front", "gitjit.api": "front"}
FOLDER = {"core": "core", "schema": "schema", "git": "git", "store": "store", "app": "app", "dispatch": "dispatch",
          "mcp": "mcp", "cli": "front", "board": "front"}
#: third-party and I/O modules, and the only layers (or folders) allowed to import them
ONLY_IN = {
    "pygit2": {"git"},
    "click": {"cli"},
    "sqlite3": {"store"},
    "pydantic": {"schema"},
    "pydantic_core": {"schema"},
    "starlette": {"board"},
    "uvicorn": {"board", "mcp"},  # the board serves with it, and `jit mcp --http` (the SDK depends on it)
    "mcp": {"mcp"},  # the MCP SDK (gitjit[mcp]): only the MCP surface
    "mcp_types": {"mcp"},
}
#: what pure logic must not import (the schema layer is held to it too: pydantic is all it adds)
NOT_IN_CORE = {"os", "subprocess", "socket", "shutil", "sqlite3", "pathlib", "io", "tempfile", "pygit2", "click",
               "pydantic", "tomlkit", "urllib", "http", "threading", "signal"}


def module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports(path: Path) -> set[str]:
    """Absolute module names a file imports, wherever the import stands (relative imports resolved;
    ``from pkg import name`` counts ``pkg.name`` when that is a module of ours)."""
    mod = module_name(path)
    pkg = mod.split(".") if path.name == "__init__.py" else mod.split(".")[:-1]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg[: len(pkg) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            subs = {f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in MODULES}
            # ``from pkg import mod`` imports pkg.mod (pkg is the importer's own package or above it)
            out.update(subs if subs and len(subs) == len(node.names) else subs | {target})
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                "import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant):
            out.add(str(node.args[0].value))
    return out


SOURCES = sorted(PKG.rglob("*.py"))
MODULES = {module_name(p) for p in SOURCES}


def layer_of(mod: str) -> str:
    if mod in TOP_LEVEL:
        return TOP_LEVEL[mod]
    folder = mod.split(".")[1]
    assert folder in FOLDER, f"{mod}: a module outside the layers (add its folder to docs/design.md and here)"
    return FOLDER[folder]


def ours(names: set[str]) -> set[str]:
    """The gitjit modules among ``names`` (a name that is not a module is taken as its package)."""
    out = set()
    for n in names:
        if n.split(".")[0] != "gitjit":
            continue
        while n not in MODULES:
            n = n.rpartition(".")[0]
        out.add(n)
    return out


GRAPH = {module_name(p): ours(imports(p)) - {module_name(p)} for p in SOURCES}


def test_the_reader_resolves_relative_and_from_imports() -> None:
    got = imports(PKG / "app" / "base.py")
    assert "gitjit.core.errors" in got and "gitjit.core.board" in got
    assert "pygit2" in imports(PKG / "git" / "repo.py")
    assert "gitjit.store.locks" in GRAPH["gitjit.store.entities"]  # from . import locks


@pytest.mark.parametrize("mod", sorted(GRAPH))
def test_imports_point_down_the_layers(mod: str) -> None:
    mine = LAYERS.index(layer_of(mod))
    up = {n for n in GRAPH[mod] if LAYERS.index(layer_of(n)) > mine}
    assert not up, f"{mod} ({layer_of(mod)}) imports from a higher layer: " + ", ".join(
        f"{n} ({layer_of(n)})" for n in sorted(up))


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in sorted(GRAPH):
        if root in index:
            continue
        work = [(root, iter(sorted(GRAPH[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(GRAPH[w]))))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return out


def test_no_import_cycle_anywhere() -> None:
    assert _cycles() == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    saved = dict(GRAPH)
    try:
        GRAPH["gitjit.core.model"] = GRAPH["gitjit.core.model"] | {"gitjit.core.board"}
        assert any("gitjit.core.model" in c for c in _cycles())
    finally:
        GRAPH.clear()
        GRAPH.update(saved)


@pytest.mark.parametrize("path", [p for p in SOURCES if module_name(p).startswith(("gitjit.core", "gitjit.schema"))],
                         ids=lambda p: str(p.relative_to(PKG)))
def test_the_core_is_pure(path: Path) -> None:
    names = {n.split(".")[0] for n in imports(path)}
    if module_name(path).startswith("gitjit.schema"):
        names -= {"pydantic", "pydantic_core"}
    assert not names & NOT_IN_CORE, f"{path.name} imports {names & NOT_IN_CORE}: the core does no I/O"


@pytest.mark.parametrize("path", SOURCES, ids=[str(p.relative_to(PKG)) for p in SOURCES])
def test_pygit2_click_sqlite_and_pydantic_each_in_one_place(path: Path) -> None:
    mod = module_name(path)
    folder = mod.split(".")[1] if mod.count(".") else ""
    names = {n.split(".")[0] for n in imports(path)}
    for dep, where in ONLY_IN.items():
        if dep in names:
            assert folder in where, f"{mod} imports {dep}; only gitjit/{'/, gitjit/'.join(sorted(where))}/ may"


def test_the_surfaces_beside_each_other_do_not_import_each_other() -> None:
    """dispatch and mcp are both surfaces over the app: neither builds on the other."""
    for mod, deps in GRAPH.items():
        if layer_of(mod) == "mcp":
            assert not {d for d in deps if layer_of(d) == "dispatch"}, f"{mod} imports the dispatcher"


def test_the_library_face_and_the_package_root_stay_light() -> None:
    """``import gitjit`` costs nothing (the version); ``gitjit.api`` re-exports the Tracker."""
    assert GRAPH["gitjit"] == set()
    assert "gitjit.app.tracker" in GRAPH["gitjit.api"]


_TLS_PROBE = (
    "import os, sys\n"
    "import gitjit.git\n"
    "if sys.argv[1] == 'cli': gitjit.git.skip_ca_bundle()\n"
    "import gitjit.git.repo, pygit2\n"
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


#: calls that start a process (subprocess, os, asyncio)
_PROCESS_CALLS = {"run", "Popen", "call", "check_call", "check_output", "getoutput", "getstatusoutput", "system",
                  "popen", "execv", "execve", "execvp", "execvpe", "execl", "execle", "execlp", "execlpe", "spawnv",
                  "spawnve", "spawnvp", "spawnvpe", "spawnl", "spawnle", "spawnlp", "spawnlpe", "posix_spawn",
                  "posix_spawnp", "create_subprocess_exec", "create_subprocess_shell"}


def _is_git(node: ast.AST) -> bool:
    """``"git"``, ``"git ..."`` (a shell line) or ``"/usr/bin/git"``."""
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and (
        node.value.split(" ", 1)[0].rsplit("/", 1)[-1] == "git")


def git_processes(source: str) -> list[int]:
    """Lines of ``source`` that start ``git``: a command list or tuple whose program is ``"git"``
    (wherever it is built: ``cmd = ["git", ...]``), or a process call whose program, shell line or
    ``executable=`` is ``git``."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.List, ast.Tuple)) and node.elts and _is_git(node.elts[0]):
            out.append(node.lineno)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in _PROCESS_CALLS:
            args = list(node.args[:2]) + [k.value for k in node.keywords if k.arg in ("args", "executable", "cmd")]
            if any(_is_git(a) for a in args):
                out.append(node.lineno)
    return sorted(set(out))


def test_the_git_process_finder_finds_them() -> None:
    found = git_processes(
        "import subprocess, os\n"
        "subprocess.run(['git', 'status'])\n"
        "cmd = ('git', '--git-dir', d)\n"
        "subprocess.Popen('git fetch origin', shell=True)\n"
        "os.execvp('git', ['git'])\n"
        "subprocess.run(args, executable='/usr/bin/git')\n"
        "subprocess.run(['ssh-keygen', '-n', 'git'])\n"
        "os.path.join(home, 'git', 'config')\n"
        "run(['fetch', 'origin'], git_dir=d)\n")
    assert found == [2, 3, 4, 5, 6]


@pytest.mark.parametrize("path", [p for p in SOURCES if not module_name(p).startswith("gitjit.git")],
                         ids=lambda p: str(p.relative_to(PKG)))
def test_only_the_git_layer_starts_git(path: Path) -> None:
    """Every ``git`` process goes through ``gitjit.git.run`` (the environment scrubbed, timeouts,
    failures as ExternalError): none is started anywhere else."""
    lines = git_processes(path.read_text())
    assert not lines, (f"{path.relative_to(PKG.parent)} starts git itself (line {', '.join(map(str, lines))}): "
                       "use gitjit.git.run")


#: the ref prefixes (gitjit/core/refs.py) and the files git keeps refs in
_REF_NAMES = {"ISSUES", "GATES", "TRACKING", "LOCAL", "QUARANTINE", "STAGE_PREFIX", "ENTITY_DIRS"}
_REF_FILES = {"packed-refs", "packed-refs.lock", "reftable"}
_FILE_CALLS = {"open", "scandir", "listdir", "walk", "stat", "lstat", "exists", "isdir", "isfile", "unlink", "remove",
               "rename", "replace", "Path", "read_text", "read_bytes", "write_text", "write_bytes"}


def _names_a_ref(node: ast.AST) -> bool:
    return any((isinstance(n, ast.Name) and n.id in _REF_NAMES)
               or (isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value.startswith("refs/"))
               for n in ast.walk(node))


def ref_file_access(source: str) -> list[int]:
    """Lines of ``source`` that read or write refs as files: a path built from a ref prefix or a
    ``refs/`` string (``common / TRACKING``, ``os.path.join(common, "refs/jit/issues")``,
    ``os.walk(...)``), a ``<ref> + ".lock"`` name, or ``packed-refs`` / ``reftable`` named in
    code (docstrings do not count)."""
    tree = ast.parse(source)
    docs = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and id(node) not in docs and node.value in _REF_FILES:
            out.append(node.lineno)
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add) and isinstance(node.right, ast.Constant) \
                and node.right.value == ".lock":
            out.append(node.lineno)
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) and (
                _names_a_ref(node.left) or _names_a_ref(node.right)):
            out.append(node.lineno)
        elif isinstance(node, ast.Call) and any(_names_a_ref(a) for a in node.args) and (
                getattr(node.func, "attr", getattr(node.func, "id", "")) in _FILE_CALLS
                or (isinstance(node.func, ast.Attribute) and node.func.attr == "join"
                    and isinstance(node.func.value, ast.Attribute) and node.func.value.attr == "path")):
            out.append(node.lineno)
    return sorted(set(out))


def test_the_ref_file_finder_finds_them() -> None:
    found = ref_file_access(
        '"""packed-refs in a docstring is fine"""\n'
        "p = common / 'packed-refs'\n"
        "lock = os.path.join(common, ref + '.lock')\n"
        "for d, _, names in os.walk(common / TRACKING): pass\n"
        "os.scandir(os.path.join(common, 'refs/jit/issues'))\n"
        "', '.join(k for k in GATES)\n"
        "git.tips(ISSUES)\n"
        "x = {'stats': PACKED_REFS}\n")
    assert found == [2, 3, 4, 5]


@pytest.mark.parametrize("path", [p for p in SOURCES if not module_name(p).startswith("gitjit.git")],
                         ids=lambda p: str(p.relative_to(PKG)))
def test_only_the_git_layer_reads_ref_files(path: Path) -> None:
    """Loose refs, ``packed-refs``, ref lock files: read and written through gitjit/git/ (files.py,
    or libgit2 and git through repo.py and run.py), never by hand elsewhere."""
    lines = ref_file_access(path.read_text())
    assert not lines, (f"{path.relative_to(PKG.parent)} reads ref files itself (line {', '.join(map(str, lines))}): "
                       "use gitjit.git.files")
