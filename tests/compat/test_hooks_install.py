"""Installing the hooks, driven through the real git binary: the shims, chaining a foreign hook,
uninstall restoring it, linked worktrees, core.hooksPath, and the fallback when jit is not on PATH.

The shims exec ``jit``; ``jit_on_path`` puts a ``jit`` that runs this interpreter's gitjit first
on PATH, so the tests never depend on how (or whether) the console script was installed.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Jit, git, make_repo

from gitjit.app.hooks import MANAGED, MARKER, SKIP_WHEN, hooks_dir, installed_from, shim_text
from gitjit.git import open_repo

ROOT = Path(__file__).resolve().parents[2]
#: what 'jit hooks install' records in the shims when this interpreter runs it
HERE = dict(zip(("python", "package"), installed_from()))
FOREIGN = "#!/bin/sh\necho \"foreign $*\" >> \"$(git rev-parse --git-common-dir)/foreign.log\"\nexit ${FOREIGN_EXIT:-0}\n"


@pytest.fixture
def jit_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "jit").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m gitjit "$@"\n')
    (bindir / "jit").chmod(0o755)
    (bindir / "git-jit").symlink_to(bindir / "jit")  # so that 'git jit …' finds the same program
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    return bindir


@pytest.fixture
def repo_j(tmp_path: Path, jit_on_path: Path) -> tuple[Path, Jit]:
    r = make_repo(tmp_path / "r")
    j = Jit(r)
    assert j("init").exit_code == 0
    git("commit", "-q", "--allow-empty", "-m", "root", cwd=r)
    return r, j


def commit(repo: Path, msg: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return git("commit", "-q", "--allow-empty", "-m", msg, *extra, cwd=repo, check=False)


# ---------------------------------------------------------------------- the shims themselves

def test_shipped_shims_are_the_generated_ones() -> None:
    for name in MANAGED:
        p = ROOT / "hooks" / name
        text = p.read_text()
        assert text == shim_text(name), f"hooks/{name} differs from gitjit.app.hooks.shim_text"
        assert os.access(p, os.X_OK)
        code = [x for x in text.splitlines() if x and not x.startswith("#")]
        # the hooks of every commit first test whether gitjit has anything to do; then the recorded
        # interpreter (none in the shipped files), jit if on PATH, else the module
        skip = ([f'if [ ! -e "$0.legacy" ] && [ -z "$JIT_REPO" ] && {SKIP_WHEN[name]}; then exit 0; fi']
                if name in SKIP_WHEN else [])
        run = f'hook run {name} -- "$@"'
        assert code[:len(skip) + 4] == skip + [
            "py='' pkg=''",
            f'if [ -x "$py" ] && [ -f "$pkg/__init__.py" ]; then exec "$py" -m gitjit {run}; fi',
            f'if command -v jit >/dev/null 2>&1; then jit {run}; s=$?; [ "$s" -lt 126 ] && exit "$s"; fi',
            f"if python3 -c 'import gitjit' >/dev/null 2>&1; then exec python3 -m gitjit {run}; fi"]
        # when none of them starts: the kept hook, the same test of "nothing to do", a warning, and
        # an exit that lets git go on (pre-commit stops the commit when a gate is registered)
        rest = code[len(skip) + 4:]
        assert rest[:2] == ['if [ -x "$0.legacy" ]; then "$0.legacy" "$@" || exit $?; fi',
                            'case "$JIT_NO_HOOKS" in ""|0) ;; *) exit 0 ;; esac']
        rest = rest[2:]
        if name in SKIP_WHEN:
            assert rest.pop(0) == f"if {SKIP_WHEN[name]}; then exit 0; fi"
        assert all(x.startswith("echo ") and x.endswith(" >&2") for x in rest[:-1 if name != "pre-commit" else -2])
        assert rest[-1] == "exit 0"
        assert MARKER in text
        assert subprocess.run(["sh", "-n", str(p)]).returncode == 0
    assert sorted(SKIP_WHEN) == ["commit-msg", "post-checkout", "post-commit", "post-rewrite", "pre-commit", "pre-push"]


def test_hooks_dir_agrees_with_git(tmp_path: Path) -> None:
    r = make_repo(tmp_path / "r")
    for value in (None, ".githooks", "tools/hooks", str(tmp_path / "abs-hooks"), "~/shared-hooks"):
        if value is None:
            git("config", "--unset-all", "core.hooksPath", cwd=r, check=False)
        else:
            git("config", "core.hooksPath", value, cwd=r)
        want = git("rev-parse", "--path-format=absolute", "--git-path", "hooks", cwd=r).stdout.strip()
        assert hooks_dir(open_repo(r)) == Path(want), value


# ---------------------------------------------------------------------- install / uninstall

def test_install_is_idempotent_and_lands_in_the_common_dir(repo_j: tuple[Path, Jit]) -> None:
    r, j = repo_j
    first = j.json("hooks", "install")
    assert first["location"] == "git-common-dir"
    assert Path(first["hooks_dir"]) == r / ".git" / "hooks"
    assert [h["action"] for h in first["hooks"]] == ["installed"] * len(MANAGED)
    for name in MANAGED:
        p = r / ".git" / "hooks" / name
        assert p.read_text() == shim_text(name, **HERE) and p.stat().st_mode & stat.S_IXUSR
    again = j.json("hooks", "install")
    assert [h["action"] for h in again["hooks"]] == ["unchanged"] * len(MANAGED)
    st = j.json("hooks", "status")
    assert st["installed"] == len(MANAGED) and st["main_branch"] == "main" and st["inactive_shims"] == []
    # an edited (outdated) shim is rewritten, and only it
    (r / ".git" / "hooks" / "pre-push").write_text(shim_text("pre-push") + "# edited\n")
    assert j.json("hooks", "status")["hooks"][3]["state"] == "outdated"
    acts = {h["name"]: h["action"] for h in j.json("hooks", "install")["hooks"]}
    assert acts["pre-push"] == "updated" and set(acts.values()) == {"updated", "unchanged"}


def test_git_jit_hooks_through_the_git_binary(repo_j: tuple[Path, Jit]) -> None:
    r, _ = repo_j
    out = git("jit", "hooks", "install", "--hooks", "commit-msg", cwd=r)
    assert f"installed {r / '.git' / 'hooks' / 'commit-msg'}" in out.stdout
    assert "commit-msg     installed" in git("jit", "hooks", "status", cwd=r).stdout


def test_subset_and_unknown_hook_names(repo_j: tuple[Path, Jit]) -> None:
    r, j = repo_j
    data = j.json("hooks", "install", "--hooks", "commit-msg,post-commit")
    assert [h["name"] for h in data["hooks"]] == ["commit-msg", "post-commit"]
    assert not (r / ".git" / "hooks" / "pre-push").exists()
    bad = j("hooks", "install", "--hooks", "pre-commmit")
    assert bad.exit_code == 2 and "unknown hook 'pre-commmit'" in bad.stderr and "hint: choose from" in bad.stderr


def test_foreign_hook_keeps_running_and_is_restored(repo_j: tuple[Path, Jit], monkeypatch: pytest.MonkeyPatch) -> None:
    r, j = repo_j
    hooks = r / ".git" / "hooks"
    for name in ("pre-commit", "commit-msg"):
        (hooks / name).write_text(FOREIGN)
        (hooks / name).chmod(0o755)
    data = j.json("hooks", "install")
    assert {h["name"]: bool(h["legacy"]) for h in data["hooks"]}["pre-commit"] is True
    assert (hooks / "pre-commit.legacy").read_text() == FOREIGN
    iid = j.json("issue", "create", "-t", "Parser")["id"]

    assert commit(r, f"work\n\nRefs: {iid[:6]}").returncode == 0
    log = (r / ".git" / "foreign.log").read_text().splitlines()
    assert log[0] == "foreign " and log[1].startswith("foreign ") and "COMMIT_EDITMSG" in log[1]
    assert len(j.json("issue", "show", iid)["commits"]) == 1  # ours ran after the foreign hooks

    # the foreign hook's refusal still stops the commit (and ours does not run)
    monkeypatch.setenv("FOREIGN_EXIT", "3")
    head = git("rev-parse", "HEAD", cwd=r).stdout
    refused = commit(r, f"more\n\nRefs: {iid[:6]}")
    assert refused.returncode != 0 and git("rev-parse", "HEAD", cwd=r).stdout == head
    monkeypatch.delenv("FOREIGN_EXIT")

    # JIT_NO_HOOKS=1: only the chained hook runs
    monkeypatch.setenv("JIT_NO_HOOKS", "1")
    assert commit(r, "unchecked\n\nRefs: ffffffff").returncode == 0
    monkeypatch.delenv("JIT_NO_HOOKS")

    out = j.json("hooks", "uninstall")
    assert {h["name"]: h["action"] for h in out["hooks"]} == {
        "pre-commit": "restored", "commit-msg": "restored", "post-commit": "removed", "pre-push": "removed",
        "post-merge": "removed", "post-checkout": "removed", "post-rewrite": "removed"}
    assert (hooks / "pre-commit").read_text() == FOREIGN and (hooks / "commit-msg").read_text() == FOREIGN
    assert not list(hooks.glob("*.legacy")) and not (hooks / "post-commit").exists()
    assert j.json("hooks", "uninstall")["hooks"] == [
        {"name": n, "path": str(hooks / n), "action": "foreign"} for n in ("pre-commit", "commit-msg")]
    # the restored hooks are git's again: no jit check any more
    assert commit(r, "free\n\nRefs: ffffffff").returncode == 0


def test_install_refuses_when_the_legacy_name_is_taken(repo_j: tuple[Path, Jit]) -> None:
    r, j = repo_j
    hooks = r / ".git" / "hooks"
    for name in ("pre-push", "pre-push.legacy"):
        (hooks / name).write_text(FOREIGN)
    res = j("hooks", "install")
    assert res.exit_code == 2 and "pre-push.legacy is taken" in res.stderr and "hint:" in res.stderr
    assert not any(MARKER in p.read_text() for p in hooks.iterdir() if p.is_file())  # nothing changed


def test_hooks_do_nothing_before_jit_init(tmp_path: Path, jit_on_path: Path) -> None:
    r = make_repo(tmp_path / "plain")
    j = Jit(r)
    data = j.json("hooks", "install")
    assert any("not initialized" in w for w in data["warnings"])
    assert commit(r, "x\n\nCloses: deadbeef").returncode == 0


# ---------------------------------------------------------------------- where git looks

def test_linked_worktree_uses_the_same_hooks(repo_j: tuple[Path, Jit], tmp_path: Path) -> None:
    r, j = repo_j
    wt = tmp_path / "wt"
    git("worktree", "add", "-q", "-b", "side", str(wt), cwd=r)
    # installing from inside the worktree still targets the common dir
    data = Jit(wt).json("hooks", "install")
    assert Path(data["hooks_dir"]) == r / ".git" / "hooks"
    iid = j.json("issue", "create", "-t", "From a worktree")["id"]
    blocked = commit(wt, "x\n\nRefs: 0000aaaa")
    assert blocked.returncode == 1 and "no issue matches '0000aaaa'" in blocked.stderr
    assert commit(wt, f"y\n\nRefs: {iid[:5]}").returncode == 0
    sha = git("rev-parse", "HEAD", cwd=wt).stdout.strip()
    shown = j("issue", "show", iid)
    assert f"commit {sha}" in shown.stdout
    ev = [e for e in j.json("events", "query", "--issue", iid) if e["type"] == "commit_linked"]
    assert ev[0]["ref"] == "refs/heads/side" and ev[0]["commit"] == sha


def test_core_hooks_path_is_refused_with_a_hint_or_used_on_request(repo_j: tuple[Path, Jit]) -> None:
    r, j = repo_j
    git("config", "core.hooksPath", ".githooks", cwd=r)
    res = j("hooks", "install")
    assert res.exit_code == 2
    assert "core.hooksPath is set to '.githooks'" in res.stderr and "would never run" in res.stderr
    assert "hint: install into that directory with 'jit hooks install --hooks-path'" in res.stderr
    assert not (r / ".git" / "hooks" / "commit-msg").exists() and not (r / ".githooks").exists()

    data = j.json("hooks", "install", "--hooks-path")
    assert data["location"] == "core.hooksPath" and Path(data["hooks_dir"]) == r / ".githooks"
    assert (r / ".githooks" / "commit-msg").read_text() == shim_text("commit-msg", **HERE)
    res2 = commit(r, "x\n\nCloses: 0000bbbb")
    assert res2.returncode == 1 and "commit stopped" in res2.stderr  # git really runs them from there
    assert j.json("hooks", "status")["installed"] == len(MANAGED)
    assert j.json("hooks", "uninstall")["hooks_dirs"] == [str(r / ".git" / "hooks"), str(r / ".githooks")]
    assert not any((r / ".githooks").iterdir())

    # shims left in .git/hooks while core.hooksPath points elsewhere are reported as inactive
    git("config", "--unset", "core.hooksPath", cwd=r)
    j.json("hooks", "install")
    git("config", "core.hooksPath", ".githooks", cwd=r)
    st = j("hooks", "status")
    assert "inactive: " in st.stdout and "hint: jit hooks install --hooks-path" in st.stdout
    assert len(j.json("hooks", "status")["inactive_shims"]) == len(MANAGED)


def test_shim_falls_back_to_python3_module_without_jit_on_path(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # installed from an interpreter that is gone since (a deleted virtualenv): the shim falls back
    from gitjit.app.hooks import install

    r = make_repo(tmp_path / "r")
    j = Jit(r)
    j("init")
    install(open_repo(r), hooks=["commit-msg"], python=str(tmp_path / "gone" / "bin" / "python"))
    bindir = tmp_path / "only-python"
    bindir.mkdir()
    # a python3 that has this gitjit (a symlink to a virtualenv's interpreter would lose the virtualenv)
    (bindir / "python3").write_text(f'#!/bin/sh\nPYTHONPATH="{ROOT}" exec "{sys.executable}" "$@"\n')
    (bindir / "python3").chmod(0o755)
    git_dir = Path(shutil.which("git") or "/usr/bin/git").parent
    monkeypatch.setenv("PATH", os.pathsep.join([str(bindir), str(git_dir), "/bin", "/usr/bin"]))
    assert shutil.which("jit") is None
    res = commit(r, "x\n\nRefs: 0000cccc")
    assert res.returncode == 1 and "no issue matches '0000cccc'" in res.stderr


# ---------------------------------------------------------------------- hook managers

def test_pre_commit_framework_manifest_runs_each_managed_hook() -> None:
    yaml = pytest.importorskip("yaml")
    entries = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert len({e["id"] for e in entries}) == len(entries)
    stages = []
    for e in entries:
        (stage,) = e["stages"]
        stages.append(stage)
        assert e["entry"] == f"jit hook run {stage} --pre-commit-framework --"
        assert e["language"] == "python" and e["always_run"] is True
        assert e.get("pass_filenames", True) is (stage == "commit-msg")  # only commit-msg gets a file
    assert sorted(stages) == sorted(MANAGED)


def test_a_hook_manager_on_core_hooks_path_calls_jit_hook_run(repo_j: tuple[Path, Jit]) -> None:
    # what docs/hooks.md tells husky/lefthook users to write: their script calls 'jit hook run'
    r, j = repo_j
    manager = r / ".manager"
    manager.mkdir()
    (manager / "commit-msg").write_text('#!/bin/sh\necho managed >&2\njit hook run commit-msg -- "$1"\n')
    (manager / "commit-msg").chmod(0o755)
    git("config", "core.hooksPath", ".manager", cwd=r)
    iid = j.json("issue", "create", "-t", "Managed")["id"]
    res = commit(r, "x\n\nRefs: 0000dddd")
    assert res.returncode == 1 and "managed" in res.stderr and "no issue matches '0000dddd'" in res.stderr
    assert commit(r, f"y\n\nRefs: {iid[:6]}").returncode == 0
    # the pre-commit framework's form: git's arguments, no legacy chaining
    msg = r / "msg.txt"
    msg.write_text("z\n\nCloses: 0000eeee\n")
    fw = subprocess.run(["jit", "hook", "run", "commit-msg", "--pre-commit-framework", "--", str(msg)], cwd=r,
                        capture_output=True, text=True)
    assert fw.returncode == 1 and "no issue matches '0000eeee'" in fw.stderr


def test_shims_an_older_gitjit_wrote_are_brought_up_to_date_by_the_first_hook(tmp_path: Path,
                                                                               jit_on_path: Path) -> None:
    from gitjit.app.hooks import _older_shims

    r = make_repo(tmp_path / "r")
    Jit(r)("init")
    hooks = r / ".git" / "hooks"
    for name in MANAGED:  # as an earlier gitjit installed them
        (hooks / name).write_text(_older_shims(name)[0])
        (hooks / name).chmod(0o755)
    edited = _older_shims("post-merge")[0].replace("exec jit", "exec nice jit")
    (hooks / "post-merge").write_text(edited)  # changed by hand: never rewritten
    states = {h["name"]: h["state"] for h in Jit(r).json("hooks", "status")["hooks"]}
    assert set(states.values()) == {"outdated"}
    assert commit(r, "first commit after the upgrade").returncode == 0
    # what the hook's own process records: its interpreter and the gitjit it imported (run from the
    # repository, it may be an installed copy where this test imported the checkout's)
    probe = "import json; from gitjit.app.hooks import installed_from; print(json.dumps(installed_from()))"
    ran = dict(zip(("python", "package"), json.loads(subprocess.run(
        [sys.executable, "-c", probe], cwd=r, capture_output=True, text=True, check=True).stdout)))
    for name in MANAGED:
        want = edited if name == "post-merge" else shim_text(name, **ran)  # recorded by the hook that ran
        assert (hooks / name).read_text() == want, name
        assert os.access(hooks / name, os.X_OK)
    states = {h["name"]: h["state"] for h in Jit(r).json("hooks", "status")["hooks"]}
    assert states == {n: "outdated" if n == "post-merge" else "installed" for n in MANAGED}
