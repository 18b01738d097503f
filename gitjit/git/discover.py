"""Finding the repository the way git does, without pygit2 and, in the usual layouts, without
starting git either: ``discover(start)`` answers what ``git -C START rev-parse --absolute-git-dir
--git-common-dir --show-toplevel`` would (real paths; ``workdir`` None where git has no work tree).

The light mode follows git's ``setup_git_directory_gently`` (setup.c, git 2.39):

* ``GIT_DIR`` in the environment names the git dir outright (relative to ``start``); its work tree
  is ``start`` itself unless ``core.bare`` or ``core.worktree`` say otherwise (``GIT_COMMON_DIR``
  names the common dir).
* Otherwise from ``start`` up: ``<dir>/.git`` as a *file* (``gitdir: <path>``, relative to
  ``<dir>``: linked worktrees, submodules), ``<dir>/.git`` as a directory that is a git dir, then
  ``<dir>`` itself as a git dir (a bare repository, or the inside of a ``.git``). A git dir has a
  valid ``HEAD`` and, in its common dir (``commondir`` file), ``objects/`` and ``refs/``.
* The walk never goes up into a directory of ``GIT_CEILING_DIRECTORIES`` (the start itself is
  always looked at) and, unless ``GIT_DISCOVERY_ACROSS_FILESYSTEM`` is true, not onto another
  file system.
* The work tree: none when ``core.bare`` is true or for a git dir found as such, ``core.worktree``
  (relative to the git dir) when set, else the directory holding ``.git``. For a linked worktree
  (a ``commondir``), the shared config's ``core.bare``/``core.worktree`` do not count, unless
  ``extensions.worktreeConfig`` brings them from ``config.worktree``.

Anything the light mode cannot decide for sure is handed to ``git rev-parse`` (through
``gitjit.git.run``): a ``.git`` file that does not parse or names no repository, a repository owned
by another user (git's ``safe.directory``), a bare repository found by walking up when
``safe.bareRepository`` may be configured, ``GIT_WORK_TREE`` / ``GIT_OBJECT_DIRECTORY`` in the
environment, a config the small reader below does not fully understand, an unknown repository
format. So the answer is git's in every case, and git's own message when there is none.
tests/test_discover.py compares both modes with the real ``git rev-parse`` on real layouts.

Only the standard library at import (``os``, ``stat``): the light read path uses this module.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

# no typing (nor gitjit.core.errors, which imports it) at run time: the light read path imports
# this module, and only a failed discovery needs the error class
TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from ..core.errors import NotFoundError

__all__ = ["NOT_A_REPO_HINT", "Location", "discover", "discover_light"]

NOT_A_REPO_HINT = "run 'jit init' to create one here (it runs 'git init'), or pass --repo PATH"
#: the environment variables that name the repository outright, honoured with ``repo_env=True``
_NAMING = ("GIT_DIR", "GIT_COMMON_DIR", "GIT_WORK_TREE", "GIT_OBJECT_DIRECTORY", "GIT_IMPLICIT_WORK_TREE")
#: repository extensions git 2.39 knows (``extensions.*`` under repositoryformatversion 1); any
#: other makes git refuse the repository, and git's refusal is the answer
_KNOWN_EXTENSIONS = frozenset({"noop", "preciousobjects", "partialclone", "worktreeconfig", "objectformat"})
#: the ones git also reads under repositoryformatversion 0 (``handle_extension_v0``); there any
#: other extension git knows is "v1-only" and makes it refuse the repository (git 2.39:
#: ``repo version is 0, but v1-only extension found: objectformat``), and one it does not know is
#: ignored: either way git decides
_V0_EXTENSIONS = frozenset({"noop", "preciousobjects", "partialclone", "worktreeconfig"})
_HEX = frozenset(b"0123456789abcdefABCDEF")


class Location:
    """Where a repository is: its git dir, its common dir (the git dir, or the main repository's
    for a linked worktree) and the top of its work tree (None: a bare repository, or looked at
    from inside a git dir). Real paths, as ``git rev-parse --path-format=absolute`` prints them."""

    __slots__ = ("common_dir", "git_dir", "workdir")

    def __init__(self, git_dir: str, common_dir: str, workdir: str | None) -> None:
        self.git_dir = git_dir
        self.common_dir = common_dir
        self.workdir = workdir

    @property
    def bare(self) -> bool:
        return self.workdir is None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Location) and (self.git_dir, self.common_dir, self.workdir) == (
            other.git_dir, other.common_dir, other.workdir)

    def __hash__(self) -> int:
        return hash((self.git_dir, self.common_dir, self.workdir))

    def __repr__(self) -> str:
        return f"Location(git_dir={self.git_dir!r}, common_dir={self.common_dir!r}, workdir={self.workdir!r})"


class _Undecided(Exception):
    """The light mode cannot be sure what git would say: ask git."""


def discover(start: str | os.PathLike[str] | None = None, *, repo_env: bool = True) -> Location:
    """The repository git would use when run in ``start`` (default: the current directory).

    ``repo_env``: whether ``GIT_DIR``, ``GIT_COMMON_DIR``, ``GIT_WORK_TREE`` (and the other
    variables that name a repository) count, as they do for git. Pass False for a path the user
    named (``--repo``, ``JIT_REPO``): it then wins over a ``GIT_DIR`` inherited from a git hook,
    and when ``start`` is itself a git dir it is taken as named outright, as ``git --git-dir``
    takes it (``safe.bareRepository`` does not refuse it). ``GIT_CEILING_DIRECTORIES`` and
    ``GIT_DISCOVERY_ACROSS_FILESYSTEM`` count either way.

    ``NotFoundError`` when there is no repository there (with git's message when git decided)."""
    from ..core.errors import NotFoundError

    where = os.fspath(start) if start is not None else os.getcwd()
    if not os.path.exists(where):
        raise NotFoundError(f"no such directory: {where}", hint="check --repo / JIT_REPO")
    if not os.path.isdir(where):
        raise NotFoundError(f"not a directory: {where}", hint="check --repo / JIT_REPO")
    loc = discover_light(start, repo_env=repo_env)
    return loc if loc is not None else _ask_git(where, repo_env=repo_env)


def discover_light(start: str | os.PathLike[str] | None = None, *, repo_env: bool = True) -> Location | None:
    """``discover`` from the file system alone: the Location, None when only git can tell (see the
    module docstring), or ``NotFoundError`` when the walk met no repository."""
    try:
        return _light(os.fspath(start) if start is not None else None, repo_env)
    except (_Undecided, OSError):
        # OSError: the start (or a directory on the way up) cannot be read, or does not exist
        # (``JIT_REPO=/nonexistent``): ``discover`` says which, in its words, or git decides
        return None


# ---------------------------------------------------------------------------------- the walk

def _light(given: str | None, repo_env: bool) -> Location:
    env = os.environ
    # git chdirs to the start and asks getcwd(): symbolic links resolved (getcwd() already is)
    cwd = os.getcwd() if given is None else os.path.realpath(given)
    start = cwd if given is None else given
    if repo_env:
        if any(k in env for k in _NAMING[2:]):
            raise _Undecided  # rare: an explicit work tree or object store
        if "GIT_DIR" in env:
            return _explicit(cwd, env["GIT_DIR"], env.get("GIT_COMMON_DIR"))
        if "GIT_COMMON_DIR" in env:
            raise _Undecided
    across = env.get("GIT_DISCOVERY_ACROSS_FILESYSTEM")
    one_fs = True if across is None else not _bool(across)
    ceiling = _ceiling_offset(cwd, env.get("GIT_CEILING_DIRECTORIES"))
    dev = None
    d = cwd
    while True:
        dot = d.rstrip("/") + "/.git"
        try:
            st = os.lstat(dot)
            link = stat.S_ISLNK(st.st_mode)
            if link:
                st = os.stat(dot)
        except OSError:
            st = None
        if st is not None:
            if stat.S_ISREG(st.st_mode):
                return _found(_read_gitfile(dot, st), d, dot)
            common = _git_dir_common(dot)
            if common is not None:
                # a .git directory (not a link) in a real directory is a real path already
                return _found(dot, d, None, common=None if link else common)
        if _git_dir_common(d) is not None:
            return _found_bare(d, named=not repo_env and d == cwd)
        if d == "/":
            raise _not_found(start, "/")
        off = d.rfind("/")
        if off <= ceiling:
            raise _not_found(start, d[:off] or "/")
        if one_fs and dev is None:
            dev = os.stat(cwd).st_dev
        d = d[:off] or "/"
        if one_fs and os.stat(d).st_dev != dev:
            raise _not_found(start, f"mount point {d}")


def _not_found(start: str, upto: str) -> NotFoundError:
    from ..core.errors import NotFoundError

    return NotFoundError(f"not a git repository (or any parent up to {upto}): {start}", hint=NOT_A_REPO_HINT)


def _ceiling_offset(cwd: str, value: str | None) -> int:
    """git's ``longest_ancestor_length`` of the ceilings: the length of the longest one that is a
    proper ancestor of ``cwd`` (-1: none). Entries that are not absolute are ignored; the ones
    before an empty entry are resolved to real paths, the ones after it taken as written."""
    if not value or cwd == "/":
        return -1
    best = -1
    literal = False
    for c in value.split(":"):
        if not c:
            literal = True
            continue
        if not c.startswith("/"):
            continue
        if not literal:
            c = os.path.realpath(c)
        n = len(c) - 1 if c.endswith("/") else len(c)
        if cwd.startswith(c[:n]) and cwd[n:n + 1] == "/" and len(cwd) > n + 1 and n > best:
            best = n
    return best


def _explicit(cwd: str, git_dir: str, common_env: str | None) -> Location:
    """``GIT_DIR`` given: no walk, no ownership or bare-repository check (setup_explicit_git_dir)."""
    gd = os.path.realpath(os.path.join(cwd, git_dir))
    if common_env is not None:
        common, has_common = os.path.realpath(os.path.join(cwd, common_env)), True
    else:
        common, has_common = _common_of(gd)
    if not _valid_head(gd + "/HEAD") or not _has_db(common):
        raise _Undecided  # git refuses it: its message says why
    bare, worktree = _core(gd, common, has_common=has_common)
    if bare:
        return Location(gd, common, None)
    if worktree is not None:
        return Location(gd, common, _worktree(gd, worktree))
    return Location(gd, common, cwd)


def _found(git_dir: str, top: str, gitfile: str | None, *,
           common: tuple[str, bool] | None = None) -> Location:
    """A ``.git`` (directory, or file naming the git dir) in ``top`` (setup_discovered_git_dir).
    ``common``: the common dir already read for ``git_dir``, when that is a real path."""
    gd = git_dir if common is not None else os.path.realpath(git_dir)
    _check_owner(gitfile, top, gd)
    cd, has_common = common if common is not None else _common_of(gd)
    bare, worktree = _core(gd, cd, has_common=has_common)
    common_dir = cd
    if bare:
        return Location(gd, common_dir, None)
    if worktree is not None:
        return Location(gd, common_dir, _worktree(gd, worktree))
    return Location(gd, common_dir, top)


def _found_bare(d: str, *, named: bool) -> Location:
    """``d`` itself is a git dir (setup_bare_git_dir): no work tree unless ``core.worktree``."""
    if not named and _bare_may_be_refused():
        raise _Undecided
    _check_owner(None, None, d)
    common, has_common = _common_of(d)
    bare, worktree = _core(d, common, has_common=has_common)
    if worktree is not None and not bare:
        return Location(d, common, _worktree(d, worktree))
    return Location(d, common, None)


def _worktree(gd: str, value: str) -> str:
    wt = os.path.realpath(os.path.join(gd, os.path.expanduser(value) if value.startswith("~") else value))
    if not os.path.isdir(wt):
        raise _Undecided  # git refuses a work tree that is not there
    return wt


# ---------------------------------------------------------------------------------- git dirs

def _git_dir_common(path: str) -> tuple[str, bool] | None:
    """git's ``is_git_directory``: a valid HEAD here, ``objects/`` and ``refs/`` in the common dir.
    The common dir and whether a ``commondir`` file named it; None when ``path`` is no git dir."""
    if not _valid_head(path + "/HEAD"):
        return None
    try:
        common = _common_of(path)
    except _Undecided:
        return None
    return common if _has_db(common[0]) else None


def _is_git_dir(path: str) -> bool:
    return _git_dir_common(path) is not None


def _has_db(common: str) -> bool:
    return os.access(common + "/objects", os.X_OK) and os.access(common + "/refs", os.X_OK)


def _valid_head(path: str) -> bool:
    """git's ``validate_headref``: a symbolic link into ``refs/``, ``ref: refs/...``, or an object id."""
    try:
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            return os.readlink(path).startswith("refs/")
        with open(path, "rb") as f:
            data = f.read(255)
    except OSError:
        return False
    if data.startswith(b"ref:"):
        return data[4:].lstrip().startswith(b"refs/")
    return len(data) >= 40 and _HEX.issuperset(data[:40])


def _common_of(gd: str) -> tuple[str, bool]:
    """The common dir of git dir ``gd`` -- what its ``commondir`` file names (relative to ``gd``),
    else ``gd`` -- and whether that file is there."""
    path = gd + "/commondir"
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        return gd, False
    except OSError:
        raise _Undecided from None  # a directory, unreadable: git's to judge
    try:
        data = raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        raise _Undecided from None
    if not data:
        raise _Undecided  # git dies on an empty commondir file
    return os.path.realpath(os.path.join(gd, data)), True


def _read_gitfile(path: str, st: os.stat_result) -> str:
    """The git dir a ``.git`` file names (git's ``read_gitfile_gently``); undecided when git would
    refuse it (it then dies, and its message is the one to give)."""
    if st.st_size > 4096:
        raise _Undecided
    try:
        with open(path, "rb") as f:
            data = f.read().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        raise _Undecided from None
    data = data.rstrip("\r\n")
    if not data.startswith("gitdir: ") or len(data) == 8:
        raise _Undecided
    target = os.path.join(os.path.dirname(path), data[8:])
    if not _is_git_dir(target):
        raise _Undecided
    return target


def _check_owner(*paths: str | None) -> None:
    """git refuses a discovered repository that another user owns (``safe.directory``): let it judge."""
    uid = os.geteuid()
    if uid == 0 and "SUDO_UID" in os.environ:
        raise _Undecided  # git compares with SUDO_UID then
    for p in paths:
        if p is None:
            continue
        try:
            if os.stat(p).st_uid != uid:
                raise _Undecided
        except OSError:
            raise _Undecided from None


def _bare_may_be_refused() -> bool:
    """Might ``safe.bareRepository`` be set (only git's protected configuration counts: system,
    global, command line)? Then a bare repository found by walking up is git's to judge."""
    env = os.environ
    for k, v in env.items():
        if (k == "GIT_CONFIG_PARAMETERS" or k.startswith(("GIT_CONFIG_KEY_", "GIT_CONFIG_VALUE_"))) and (
                "barerepository" in v.lower() or "include" in v.lower()):
            return True
    home = os.path.expanduser("~")
    files = []
    if "GIT_CONFIG_GLOBAL" in env:
        files.append(env["GIT_CONFIG_GLOBAL"])
    else:
        files += [os.path.join(home, ".gitconfig"),
                  os.path.join(env.get("XDG_CONFIG_HOME") or os.path.join(home, ".config"), "git", "config")]
    nosystem = env.get("GIT_CONFIG_NOSYSTEM")
    if not (nosystem is not None and _bool(nosystem, default=False)):
        files += [env["GIT_CONFIG_SYSTEM"]] if "GIT_CONFIG_SYSTEM" in env else ["/etc/gitconfig",
                                                                              "/usr/local/etc/gitconfig"]
    for f in files:
        if not f:
            continue
        try:
            with open(f, "rb") as fh:
                text = fh.read().lower()
        except OSError:
            continue
        if b"barerepository" in text or b"include" in text:
            return True
    return False


# ---------------------------------------------------------------------------------- config

def _core(gd: str, common: str, *, has_common: bool) -> tuple[bool, str | None]:
    """``(core.bare, core.worktree)`` as git's ``check_repository_format_gently`` applies them
    (git reads them from the repository's own config file, includes not followed)."""
    cfg = _config(common + "/config")
    try:
        version = int(cfg.get("core.repositoryformatversion") or 0)
    except ValueError:
        raise _Undecided from None
    if version not in (0, 1):
        raise _Undecided
    exts = {k[len("extensions."):] for k in cfg if k.startswith("extensions.")}
    if exts - (_KNOWN_EXTENSIONS if version == 1 else _V0_EXTENSIONS):
        raise _Undecided
    if "extensions.worktreeconfig" in cfg and _bool(cfg["extensions.worktreeconfig"]):
        cfg.update(_config(gd + "/config.worktree"))
        has_common = False
    if has_common:
        return False, None
    bare = "core.bare" in cfg and _bool(cfg["core.bare"])
    worktree = cfg.get("core.worktree", "")
    if "core.worktree" in cfg and not worktree:
        raise _Undecided
    return bare, worktree or None


def _config(path: str) -> dict[str, str | None]:
    """The ``core.*`` and ``extensions.*`` entries of one git config file (``{"core.bare": "true"}``;
    None for a key given without ``=``, which means true). Undecided on what this small reader
    does not handle: quotes or backslashes in those values, continued lines, a key on a section
    header's line, text that is not UTF-8."""
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError):
        raise _Undecided from None
    out: dict[str, str | None] = {}
    section: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.endswith("\\"):
            raise _Undecided
        if line[0] == "[":
            end = line.find("]")
            rest = line[end + 1:].strip() if end > 0 else "x"
            if rest and rest[0] not in "#;":
                raise _Undecided
            head = line[1:end].strip()
            # [core "sub"] and [core.sub] are subsections: not core itself
            section = None if ('"' in head or "." in head) else head.lower()
            continue
        if section not in ("core", "extensions"):
            continue
        key, eq, value = line.partition("=")
        name = f"{section}.{key.strip().lower()}"
        if not eq:
            out[name] = None
            continue
        if '"' in value or "\\" in value:
            raise _Undecided
        for c in "#;":
            value = value.partition(c)[0]
        out[name] = value.strip()
    return out


def _bool(value: str | None, *, default: bool | None = None) -> bool:
    """git's boolean: a bare key or true/yes/on is true, false/no/off/"" false, a number != 0 true."""
    if value is None:
        return True
    v = value.strip().lower()
    if v in ("true", "yes", "on"):
        return True
    if v in ("false", "no", "off", ""):
        return False
    try:
        return int(v) != 0
    except ValueError:
        if default is not None:
            return default
        raise _Undecided from None


# ---------------------------------------------------------------------------------- git decides

def _ask_git(start: str, *, repo_env: bool) -> Location:
    """``git rev-parse`` run in ``start``: for what the light mode leaves to git."""
    from ..core.errors import NotFoundError
    from . import run

    asked = ["rev-parse", "--path-format=absolute", "--git-dir", "--git-common-dir", "--is-bare-repository",
             "--is-inside-work-tree", "--show-cdup"]
    p = run.run(asked, cwd=start, scrub=not repo_env, env={"LC_ALL": "C"}, timeout=60, what="git rev-parse")
    if p.returncode != 0:
        msg = run.last_lines(p.stderr)
        none = "not a git repository" in p.stderr
        hint = NOT_A_REPO_HINT if none else "git's message above says why it will not use this repository"
        # refused: there is a repository, and git will not use it (ownership, safe.bareRepository)
        raise NotFoundError(f"git finds no repository it can use at {start}: {msg}", hint=hint,
                            details={"stderr": p.stderr[-2000:], "refused": not none})
    lines = p.stdout.split("\n")
    gd, common, bare, inside = (os.path.realpath(lines[0]), os.path.realpath(lines[1]), lines[2], lines[3])
    if inside == "true":
        return Location(gd, common, os.path.realpath(os.path.join(start, lines[4])))
    if bare == "true":
        return Location(gd, common, None)
    top = run.run(["rev-parse", "--show-toplevel"], cwd=start, scrub=not repo_env, env={"LC_ALL": "C"},
                  timeout=60)
    return Location(gd, common, os.path.realpath(top.stdout.rstrip("\n")) if top.returncode == 0 else None)


# ---------------------------------------------------------------------------------- conveniences

def find_repository(path: str | os.PathLike[str]) -> str | None:
    """The git dir of the repository containing ``path`` (``discover`` of a path the user named),
    or None when there is none. A repository git refuses to use there (a bare one found from
    inside under ``safe.bareRepository=explicit``, another user's) is not "none": its
    ``NotFoundError`` is raised, with git's message, so that ``jit init`` does not run ``git init``
    inside it (which nested a new repository in the bare repository's ``refs/``)."""
    from ..core.errors import NotFoundError

    try:
        return discover(path, repo_env=False).git_dir
    except NotFoundError as e:
        if e.details.get("refused"):
            raise
        return None


def find_git_dirs(path: str | os.PathLike[str]) -> tuple[Path, Path | None] | None:
    """The common directory of the repository containing ``path``, and the top of its work tree
    when ``path`` is in it (None for a bare repository, looked at from inside the git directory,
    or from outside a work tree that ``core.worktree`` puts elsewhere); None outside any
    repository."""
    from ..core.errors import NotFoundError

    try:
        loc = discover(path, repo_env=False)
    except NotFoundError:
        return None
    if loc.workdir is None:
        return Path(loc.common_dir), None
    wt, here = Path(loc.workdir), Path(os.path.realpath(path))
    return Path(loc.common_dir), (wt if here == wt or wt in here.parents else None)


def init_repository(path: str | os.PathLike[str]) -> str:
    """``git init`` in ``path`` with the git binary, so the user's ``init.defaultBranch`` and
    templates apply as for their own ``git init``; returns the new git dir."""
    from ..core.errors import ExternalError
    from .run import run

    proc = run(["init", "-q", os.fspath(path)], what="git init")
    found = find_repository(path) if proc.returncode == 0 else None
    if found is None:
        raise ExternalError(f"git init {path} failed: {proc.stderr.strip()[-300:]}",
                            hint="check that the directory is writable")
    return found
