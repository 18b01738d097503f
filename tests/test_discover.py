"""Repository discovery (gitjit/git/discover.py) against the real ``git rev-parse`` on real layouts:
work trees and their subdirectories, the inside of a git dir, bare repositories, linked worktrees,
submodules and hand-written ``.git`` files, nested repositories, symbolic links, ceiling
directories, ``GIT_DIR``/``GIT_COMMON_DIR`` and the config that moves or removes the work tree.

The light mode (file system only) must give git's answer whenever it gives one, and give one
for the usual layouts; ``discover`` (light, else ``git rev-parse``) must always give git's answer.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from conftest import git, make_repo
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitjit.core.errors import NotFoundError
from gitjit.git.discover import Location, discover, discover_light
from gitjit.git.run import REPO_ENV


def git_says(start: Path, *, scrub: bool = False) -> Location | None:
    """What git itself answers in ``start`` (None: no repository it will use)."""
    env = {k: v for k, v in os.environ.items() if not (scrub and k in REPO_ENV)}

    def ask(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", "rev-parse", *args], cwd=start, env=env, capture_output=True,
                              text=True, check=False)

    p = ask("--path-format=absolute", "--git-dir", "--git-common-dir")
    if p.returncode != 0:
        return None
    gd, cd = p.stdout.splitlines()[:2]
    top = ask("--show-toplevel")
    return Location(os.path.realpath(gd), os.path.realpath(cd),
                    os.path.realpath(top.stdout.strip()) if top.returncode == 0 else None)


def agree(start: Path, *, light: bool = True, repo_env: bool = True) -> Location | None:
    """Assert both modes agree with git in ``start``; ``light``: the light mode must decide."""
    want = git_says(start, scrub=not repo_env)
    got_light = discover_light(start, repo_env=repo_env) if want is not None else None
    if want is None:
        with pytest.raises(NotFoundError):
            discover(start, repo_env=repo_env)
        return None
    if light:
        assert got_light is not None, f"the light mode left {start} to git"
    assert got_light in (None, want), (start, got_light, want)
    assert discover(start, repo_env=repo_env) == want
    return want


def commit(repo: Path) -> None:
    git("commit", "-q", "--allow-empty", "-m", "c", cwd=repo)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A work tree with subdirectories and one commit, a linked worktree, a bare clone."""
    r = make_repo(tmp_path / "r")
    (r / "a" / "b").mkdir(parents=True)
    commit(r)
    git("worktree", "add", "-q", str(tmp_path / "wt"), cwd=r)
    (tmp_path / "wt" / "d").mkdir()
    git("clone", "-q", "--bare", str(r), str(tmp_path / "hub.git"), cwd=tmp_path)
    return tmp_path


@pytest.mark.parametrize("where", ["r", "r/a", "r/a/b", "r/.git", "r/.git/refs/heads", "wt", "wt/d",
                                   "r/.git/worktrees/wt", "hub.git", "hub.git/refs", "hub.git/objects"])
def test_the_usual_layouts_are_decided_without_git(tree: Path, where: str) -> None:
    loc = agree(tree / where)
    assert loc is not None


def test_what_each_layout_is(tree: Path) -> None:
    r, wt, hub = (os.path.realpath(tree / n) for n in ("r", "wt", "hub.git"))
    assert discover(tree / "r" / "a") == Location(f"{r}/.git", f"{r}/.git", r)
    assert discover(tree / "wt" / "d") == Location(f"{r}/.git/worktrees/wt", f"{r}/.git", wt)
    assert discover(tree / "hub.git") == Location(hub, hub, None)
    assert discover(tree / "hub.git").bare and not discover(tree / "r").bare


def test_not_a_repository(tmp_path: Path) -> None:
    (tmp_path / "x" / "y").mkdir(parents=True)
    agree(tmp_path / "x" / "y")
    with pytest.raises(NotFoundError) as e:
        discover_light(tmp_path / "x" / "y")  # decided from the file system: no git started
    assert "not a git repository" in e.value.message
    assert e.value.hint == "run 'jit init' to create one here (it runs 'git init'), or pass --repo PATH"
    (tmp_path / "file").write_text("")
    with pytest.raises(NotFoundError, match="no such directory"):
        discover(tmp_path / "missing")
    with pytest.raises(NotFoundError, match="not a directory"):
        discover(tmp_path / "file")
    # the light mode (the index reader calls it first) leaves a missing one to discover, which says so
    assert discover_light(tmp_path / "missing") is None


def test_a_dot_git_directory_that_is_not_a_repository_is_passed_over(tree: Path) -> None:
    (tree / "r" / "a" / ".git").mkdir()
    agree(tree / "r" / "a" / "b")
    assert discover(tree / "r" / "a").workdir == os.path.realpath(tree / "r")


def test_nested_repositories_the_nearest_wins(tree: Path) -> None:
    inner = make_repo(tree / "r" / "a" / "inner")
    (inner / "deep").mkdir()
    assert agree(inner / "deep") == discover(inner)
    assert discover(inner / "deep").workdir == os.path.realpath(inner)
    # a bare repository inside a work tree: itself when looked at from inside it
    make_repo(tree / "r" / "a" / "b" / "nested.git", bare=True)
    agree(tree / "r" / "a" / "b" / "nested.git" / "refs")


def test_dot_git_files(tree: Path) -> None:
    """``gitdir:`` relative and absolute, with CR-LF, and the ones git refuses (git's message)."""
    target = os.path.realpath(tree / "r" / ".git")
    for name, text in (("rel", "gitdir: ../r/.git\n"), ("abs", f"gitdir: {target}\n"), ("crlf", f"gitdir: {target}\r\n"),
                       ("bare-ref", "gitdir: hub.git\n")):
        d = tree / name
        d.mkdir()
        (d / ".git").write_text(text.replace("hub.git", str(tree / "hub.git")))
        (d / "sub").mkdir()
        assert agree(d / "sub") is not None
    for name, text in (("junk", "not a gitfile\n"), ("nowhere", "gitdir: ../missing\n"), ("empty", "gitdir: \n")):
        d = tree / name
        d.mkdir()
        (d / ".git").write_text(text)
        assert discover_light(d) is None  # git decides, and says why
        agree(d, light=False)
        with pytest.raises(NotFoundError) as e:
            discover(d)
        assert e.value.details["stderr"]


def test_a_submodule(tmp_path: Path) -> None:
    lib = make_repo(tmp_path / "lib")
    commit(lib)
    app = make_repo(tmp_path / "app")
    git("-c", "protocol.file.allow=always", "submodule", "add", "-q", str(lib), "vendor/lib", cwd=app)
    (app / "vendor" / "lib" / "src").mkdir()
    loc = agree(app / "vendor" / "lib" / "src")  # .git file -> .git/modules/vendor/lib, core.worktree
    assert loc is not None and loc.workdir == os.path.realpath(app / "vendor" / "lib")
    agree(app / "vendor")
    agree(app / ".git" / "modules" / "vendor" / "lib")


def test_symbolic_links_are_resolved_as_git_resolves_them(tree: Path) -> None:
    os.symlink(tree / "r" / "a", tree / "link")
    loc = agree(tree / "link" / "b")
    assert loc is not None and loc.workdir == os.path.realpath(tree / "r")
    os.symlink(tree / "r" / ".git", tree / "gitlink")
    agree(tree / "gitlink")
    (tree / "viadot").mkdir()
    os.symlink(tree / "r" / ".git", tree / "viadot" / ".git")  # .git as a link to a git dir
    agree(tree / "viadot")


@pytest.mark.parametrize("ceiling", ["{r}", "{r}/a", "{r}/", "{r}/a:{t}", ":{r}", "relative/path", "{t}", "/",
                                     "{r}/a/b", "{link}"])
def test_ceiling_directories(tree: Path, ceiling: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The walk never goes up into a ceiling (the start itself is always looked at); entries that
    are not absolute are ignored; after an empty entry they are not resolved."""
    os.symlink(tree / "r", tree / "link")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", ceiling.format(r=tree / "r", t=tree, link=tree / "link"))
    for where in ("r", "r/a", "r/a/b", "hub.git/refs", "wt/d"):
        agree(tree / where)


@pytest.mark.parametrize("env", [{"GIT_DIR": "{r}/.git"}, {"GIT_DIR": ".git"}, {"GIT_DIR": "{hub}"},
                                 {"GIT_DIR": "{r}/.git/worktrees/wt"},
                                 {"GIT_DIR": "{r}/.git/worktrees/wt", "GIT_COMMON_DIR": "{r}/.git"}])
def test_git_dir_from_the_environment(tree: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """As in a hook: ``GIT_DIR`` names the git dir (relative to the start), the start is the work
    tree unless the repository is bare."""
    for k, v in env.items():
        monkeypatch.setenv(k, v.format(r=tree / "r", hub=tree / "hub.git"))
    for where in ("r", "r/a", "wt"):
        agree(tree / where, light=env["GIT_DIR"] != ".git" or where == "r")
    # a path the user named wins over the inherited variables
    agree(tree / "hub.git", repo_env=False)
    agree(tree / "wt" / "d", repo_env=False)


def test_git_dir_from_the_environment_that_names_nothing(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_DIR", str(tree / "nowhere"))
    assert discover_light(tree / "r") is None
    with pytest.raises(NotFoundError) as e:
        discover(tree / "r")
    assert "not a git repository" in e.value.message
    assert discover(tree / "r", repo_env=False).workdir == os.path.realpath(tree / "r")


@pytest.mark.parametrize("setting", [("core.bare", "true"), ("core.worktree", "../elsewhere"),
                                     ("core.worktree", "{t}/elsewhere"), ("core.bare", "yes"), ("core.bare", "0")])
def test_config_that_moves_or_removes_the_work_tree(tree: Path, setting: tuple[str, str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    (tree / "r" / "elsewhere").mkdir()
    (tree / "elsewhere").mkdir()
    git("config", setting[0], setting[1].format(t=tree), cwd=tree / "r")
    for where in ("r", "r/a", "r/.git", "wt/d"):  # a linked worktree ignores the shared core.bare/worktree
        agree(tree / where)
    monkeypatch.setenv("GIT_DIR", str(tree / "r" / ".git"))
    agree(tree / "r" / "a")


def test_per_worktree_config(tree: Path) -> None:
    """``extensions.worktreeConfig`` (``git sparse-checkout`` sets it): config.worktree counts."""
    git("config", "extensions.worktreeConfig", "true", cwd=tree / "r")
    git("config", "core.repositoryformatversion", "1", cwd=tree / "r")
    agree(tree / "wt" / "d")
    git("config", "--worktree", "core.bare", "true", cwd=tree / "wt")
    agree(tree / "wt" / "d")
    agree(tree / "r" / "a")


def test_what_the_small_config_reader_leaves_to_git(tree: Path) -> None:
    """Quoted values, an unknown extension, a newer format: git's answer, whatever it is."""
    cfg = tree / "r" / ".git" / "config"
    base = cfg.read_text()
    for extra in ('[core]\n\tworktree = "../x"\n', "[core]\n\trepositoryformatversion = 2\n",
                  "[core]\n\trepositoryformatversion = 1\n[extensions]\n\tnosuchthing = 1\n",
                  "[extensions]\n\tobjectformat = sha1\n",  # a v1-only extension under version 0
                  "[core] bare = true\n"):
        cfg.write_text(base + extra)
        assert discover_light(tree / "r" / "a") is None
        agree(tree / "r" / "a", light=False)
    # includes are not followed for core.bare/core.worktree (git reads the file alone), comments are
    (tree / "inc").write_text("[core]\n\tbare = true\n")
    cfg.write_text(base + f"[include]\n\tpath = {tree / 'inc'}\n[core] ; a comment\n\tbare = false # no\n")
    agree(tree / "r" / "a")


def test_a_bare_repository_found_by_walking_up_under_safe_bare_repository(tree: Path) -> None:
    git("config", "--global", "safe.bareRepository", "explicit", cwd=tree)
    assert discover_light(tree / "hub.git" / "refs") is None
    agree(tree / "hub.git" / "refs", light=False)  # refused by git: NotFoundError with git's message
    # named outright (--repo), it is not refused, as git --git-dir does not refuse it
    assert discover(tree / "hub.git", repo_env=False).git_dir == os.path.realpath(tree / "hub.git")
    agree(tree / "r" / "a")  # a work tree is not concerned


# ---------------------------------------------------------------------------------- property

_KINDS = st.sampled_from(["plain", "repo", "bare", "worktree", "gitfile", "dotgit-junk"])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kinds=st.lists(_KINDS, min_size=4, max_size=4), start=st.integers(0, 7), ceil=st.integers(-1, 7),
       cd_inside=st.booleans())
def test_random_nestings_agree_with_git(tmp_path_factory: pytest.TempPathFactory, kinds: list[str], start: int,
                                        ceil: int, cd_inside: bool) -> None:
    """A chain of directories d0/d1/d2/d3 (each with a subdirectory ``s``), each one plain or
    holding a repository of some kind; git's answer from any of them, with or without a ceiling."""
    base = Path(os.path.realpath(tmp_path_factory.mktemp("nest")))
    main = make_repo(base / "main")
    commit(main)
    dirs = []
    d = base / "top"
    for k, kind in enumerate(kinds):
        d = d / f"d{k}"
        if kind == "bare":
            make_repo(d, bare=True)
        elif kind == "worktree":
            git("worktree", "add", "-q", "--detach", str(d), cwd=main)
        else:
            d.mkdir(parents=True)
            if kind == "repo":
                make_repo(d)
            elif kind == "gitfile":
                (d / ".git").write_text(f"gitdir: {os.path.relpath(main / '.git', d)}\n")
            elif kind == "dotgit-junk":
                (d / ".git").mkdir()
        (d / "s").mkdir(exist_ok=True)
        dirs += [d, d / "s"]
    here = dirs[start]
    if cd_inside and (here / ".git").is_dir():
        here = here / ".git"
    env_ceiling = str(dirs[ceil]) if ceil >= 0 else ""
    old = os.environ.get("GIT_CEILING_DIRECTORIES")
    os.environ["GIT_CEILING_DIRECTORIES"] = env_ceiling
    try:
        agree(here, light=False)
    finally:
        if old is None:
            del os.environ["GIT_CEILING_DIRECTORIES"]
        else:
            os.environ["GIT_CEILING_DIRECTORIES"] = old


# ---------------------------------------------------------------------------------- open_repo

def test_open_repo_opens_what_git_finds(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``open_repo`` (every Tracker) opens the repository git would use; libgit2's own discovery
    ignored GIT_DIR, GIT_CEILING_DIRECTORIES and safe.bareRepository."""
    from gitjit.git import open_repo

    for where in ("r/a/b", "wt/d", "hub.git/refs", "r/.git"):
        monkeypatch.chdir(tree / where)
        want = git_says(tree / where)
        assert want is not None and open_repo().common_dir == Path(want.common_dir)
    # GIT_DIR from the environment, as git (a script or hook that exports it)
    (tree / "outside").mkdir()
    monkeypatch.chdir(tree / "outside")
    monkeypatch.setenv("GIT_DIR", str(tree / "hub.git"))
    assert open_repo().git_dir == Path(os.path.realpath(tree / "hub.git"))
    # a path the user named wins over it
    assert open_repo(tree / "r" / "a").git_dir == Path(os.path.realpath(tree / "r" / ".git"))
    monkeypatch.delenv("GIT_DIR")
    # a ceiling keeps git (and now jit) from walking up into the repository
    monkeypatch.chdir(tree / "r" / "a" / "b")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tree / "r"))
    with pytest.raises(NotFoundError):
        open_repo()
    monkeypatch.delenv("GIT_CEILING_DIRECTORIES")
    # safe.bareRepository=explicit: a bare repository found from inside is refused, as git refuses it
    git("config", "--global", "safe.bareRepository", "explicit", cwd=tree)
    monkeypatch.chdir(tree / "hub.git" / "refs")
    with pytest.raises(NotFoundError, match="safe.bareRepository"):
        open_repo()
    assert open_repo(tree / "hub.git").is_bare  # named outright (--repo): opened


_CONFIG_LINES = st.sampled_from([
    "[core]", "[Core]", "[CORE]", '[core "sub"]', "[core.sub]", "[extensions]", '[remote "origin"]', "[jit]",
    "\tbare = true", "\tbare = false", "bare=yes", "  Bare = 0", "\tbare", "\tbare = off # comment", "\tbare = on ; c",
    "\tworktree = ../elsewhere", "\tworktree = {t}/elsewhere", '\tworktree = "../elsewhere"', "\tworkTree = ../wt2",
    "\trepositoryformatversion = 0", "\trepositoryformatversion = 1", "\tworktreeconfig = true",
    "\tobjectformat = sha1", "\tfilemode = true", "\turl = /x ; y", "# a comment", "; another", "",
    "\tlogallrefupdates = true", "\tversion = 3"])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(_CONFIG_LINES, max_size=12), where=st.sampled_from(["r", "r/a", "r/.git", "wt"]))
def test_random_configs_agree_with_git(tmp_path_factory: pytest.TempPathFactory, lines: list[str],
                                       where: str) -> None:
    """The small config reader either gives git's answer or leaves it to git, whatever the repository's
    config says about core.bare, core.worktree, the format version and the extensions."""
    t = Path(os.path.realpath(tmp_path_factory.mktemp("cfg")))
    r = make_repo(t / "r")
    (r / "a").mkdir()
    (r / "elsewhere").mkdir()
    (t / "elsewhere").mkdir()
    (r / "wt2").mkdir()
    commit(r)
    git("worktree", "add", "-q", "--detach", str(t / "wt"), cwd=r)
    cfg = r / ".git" / "config"
    cfg.write_text(cfg.read_text() + "\n".join(x.format(t=t) for x in lines) + "\n")
    agree(t / where, light=False)


# ---------------------------------------------------------------------------------- the other helpers

def test_find_repository_and_find_git_dirs(tree: Path) -> None:
    from gitjit.git import find_git_dirs, find_repository

    r, hub = Path(os.path.realpath(tree / "r")), Path(os.path.realpath(tree / "hub.git"))
    (tree / "none").mkdir()
    assert find_repository(tree / "none") is None and find_git_dirs(tree / "none") is None
    assert find_repository(tree / "wt" / "d") == str(r / ".git" / "worktrees" / "wt")
    assert find_git_dirs(tree / "wt" / "d") == (r / ".git", Path(os.path.realpath(tree / "wt")))
    assert find_git_dirs(tree / "r" / ".git" / "refs") == (r / ".git", None)  # inside the git dir
    assert find_git_dirs(hub) == (hub, None)
    # a work tree elsewhere (core.worktree): looked at from beside the git dir, there is none here
    (tree / "elsewhere").mkdir()
    git("config", "core.worktree", str(tree / "elsewhere"), cwd=tree / "r")
    assert discover(tree / "r").workdir == os.path.realpath(tree / "elsewhere")
    assert find_git_dirs(tree / "r") == (r / ".git", None)
    from gitjit.dispatch.config import default_state_dir  # crashed (ValueError) on a config file there

    (tree / "r" / "dispatch.toml").write_text("")
    assert default_state_dir(tree / "r" / "dispatch.toml") == tree / "r" / ".jit-dispatch" / "dispatch"


def test_init_repository_inits_the_directory_named_not_an_exported_git_dir(tree: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from gitjit.git import init_repository

    monkeypatch.setenv("GIT_DIR", str(tree / "hub.git"))  # as in a git hook
    (tree / "new").mkdir()
    assert init_repository(tree / "new") == os.path.realpath(tree / "new" / ".git")


def test_jit_init_does_not_nest_a_repository_in_one_git_refuses(tree: Path) -> None:
    """Inside a bare hub under ``safe.bareRepository=explicit``, git refuses the repository; jit
    init took that for "no repository" and ran git init there: a new repository in the hub's refs/."""
    from conftest import run_jit

    from gitjit.git import find_repository

    git("config", "--global", "safe.bareRepository", "explicit", cwd=tree)
    with pytest.raises(NotFoundError, match="safe.bareRepository"):
        find_repository(tree / "hub.git" / "refs")
    res = run_jit("init", cwd=tree / "hub.git" / "refs")
    assert res.returncode == 3 and "safe.bareRepository" in res.stderr, res.stderr
    assert not (tree / "hub.git" / "refs" / ".git").exists()
    # named outright, the hub is a repository jit can set up
    assert run_jit("--repo", str(tree / "hub.git"), "init", cwd=tree).returncode == 0
