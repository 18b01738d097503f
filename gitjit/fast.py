"""The ``jit`` console entry point, with a light path for the reads agents run most.

``jit query …``, ``jit issue show …``, ``jit status`` and ``jit events tail`` are answered here
from the index (``gitjit.store.index``) when it is fresh, importing only the standard library
(plus click for human-readable output): no pygit2, no pydantic. The answer is the text the full
CLI prints, byte for byte, because the index stores each issue's JSON exactly as the full
CLI renders it.

Anything else, and anything in doubt, goes to the full CLI (``gitjit.cli.main``): another
command or option, an id that is ambiguous, unknown or deleted, an invalid value, a missing,
outdated or busy index, refs that changed since the index was last brought in step (the full
CLI folds them in, so the next call is fast again). Nothing is printed before the light path
has its whole answer, so a fallback never prints twice.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any

__all__ = ["main", "answer"]

_STATES = ("open", "ready", "in_progress", "done", "rejected", "archived")
_STATE_ALIASES = {"backlog": "open", "inprogress": "in_progress", "in-progress": "in_progress"}
_PRIORITIES = ("low", "normal", "high", "critical")
_EMPTY = {"ready": "No ready issues.", "blocked": "Nothing is blocked."}
#: ``jit issue list``'s filters (gitjit/cli/issue.py), in the forms taken here: ``-s X``, ``--state X``,
#: ``--state=X`` (a joined ``-sX`` goes to the full CLI)
_LIST_OPTS = {"-s": "state", "--state": "state", "-a": "assignee", "--assignee": "assignee",
              "-p": "priority", "--priority": "priority", "-l": "label", "--label": "label"}


class _Fallback(Exception):
    """Let the full CLI handle this invocation."""


def _hook_run(args: list[str]) -> Any:
    """``jit hook run NAME -- ARGS`` as the installed shims call it, without click: every git
    commit runs three hooks, so their start-up is paid on every commit. Other shapes: None (the
    full CLI, gitjit/cli/hooks.py, which this mirrors)."""
    if len(args) < 3 or args[:2] != ["hook", "run"] or args[2].startswith("-"):
        return None
    name, rest = args[2], args[3:]
    framework = bool(rest) and rest[0] == "--pre-commit-framework"
    if framework:
        rest = rest[1:]
    if rest and rest[0] != "--":
        return None
    rest = rest[1:]
    if any("\ud800" <= ch <= "\udfff" for a in rest for ch in a):
        return None
    from . import hooks as h

    frame = {"pre-push": ("PRE_COMMIT_REMOTE_NAME", "PRE_COMMIT_REMOTE_URL"),
             "post-checkout": ("PRE_COMMIT_FROM_REF", "PRE_COMMIT_TO_REF", "PRE_COMMIT_CHECKOUT_TYPE"),
             "post-merge": ("PRE_COMMIT_IS_SQUASH_MERGE",),
             "post-rewrite": ("PRE_COMMIT_REWRITE_COMMAND",)}
    if framework and not rest and name in frame:
        rest = [os.environ.get(k, "") for k in frame[name]]
    stdin = b""
    if name in ("pre-push", "post-rewrite") and not framework and not sys.stdin.isatty():
        stdin = sys.stdin.buffer.read()

    def echo(text: str) -> None:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()

    return lambda: h.run_hook(
        name, rest, repo=os.environ.get("JIT_REPO") or os.environ.get("GIT_DIR") or None,
        actor=os.environ.get("JIT_ACTOR") or None, stdin=stdin, echo=echo,
        enabled=os.environ.get("JIT_NO_HOOKS", "") in ("", "0"),
        run_legacy=not framework and not os.environ.get(h.LEGACY_GUARD),
        pushing=bool(os.environ.get(h.PUSH_GUARD)),
    )


def main(argv: list[str] | None = None) -> int:
    # whatever the data holds, nothing printed drives the terminal (gitjit/termsafe.py)
    from .termsafe import safe_streams

    with safe_streams():
        return _main(argv)


def _main(argv: list[str] | None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:2] == ["hook", "run"]:
        try:
            run = _hook_run(args)
        except Exception:  # noqa: BLE001 - nothing has run yet: the full CLI takes over and reports
            if os.environ.get("JIT_DEBUG"):
                raise
            run = None
        if run is not None:
            return int(run())  # run_hook never raises for git: problems go to the hooks log
    try:
        write = _write(args)
    except Exception:  # noqa: BLE001 - nothing has run yet: the full CLI takes over
        if os.environ.get("JIT_DEBUG"):
            raise
        write = None
    if write is not None:
        return write()
    try:
        out = answer(args)
    except _Fallback:
        out = None
    except Exception:  # noqa: BLE001 - the light path must never be the reason a command fails
        if os.environ.get("JIT_DEBUG"):
            raise
        out = None
    if out is None:
        from .cli import main as full

        return full(args)
    warnings, text = out
    try:
        for w in warnings:
            sys.stderr.write(f"warning: {w}\n")
        if callable(text):
            text()
        else:
            sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
    return 0


# ---------------------------------------------------------------------------------- light writes

#: ``jit issue update``'s options (gitjit/cli/issue.py): the library argument each one sets, and
#: whether it repeats
_UPDATE_OPTS = {"-t": ("title", False), "--title": ("title", False), "-d": ("desc", False),
                "--desc": ("desc", False), "--description": ("desc", False), "-p": ("priority", False),
                "--priority": ("priority", False), "-s": ("state", False), "--state": ("state", False),
                "--context": ("context", True), "--unset-context": ("unset", True), "-l": ("labels", True),
                "--label": ("labels", True), "--add-label": ("labels", True),
                "--remove-label": ("remove_labels", True)}
_CLAIM_NEXT_OPTS = {"--to": ("to", False)}


def _write(args: list[str]) -> Any:
    """``jit issue claim ID ASSIGNEE``, ``jit issue claim-next [ASSIGNEE] [--to A]`` and ``jit
    issue update ID [options]`` without click: the writes agents run most, whose process was
    ~20 ms of click's import longer than it needs to be (a claim at 100,000 issues: ~200 ms).
    The same library call and the same output as the full CLI (gitjit/cli/issue.py); errors are
    reported by the full CLI's own ``report_error``. Returns a function that runs the command
    and returns its exit code, or None for anything the parse below does not take exactly as
    click would (another command or option, ``--remote``, ``--filter``, ``--help``, an option
    given twice, joined short options, ``--``): then the full CLI runs, and nothing was done."""
    if len(args) < 2 or any("\ud800" <= ch <= "\udfff" for a in args for ch in a):
        return None
    opts: dict[str, Any] = {"repo": None, "by": None}
    flags: set[str] = set()
    try:
        i = _global_options(args, opts, flags)
    except _Fallback:
        return None
    if args[i:i + 1] != ["issue"] or i + 1 >= len(args):
        return None
    cmd, rest = args[i + 1], args[i + 2:]
    table = {"update": _UPDATE_OPTS, "claim-next": _CLAIM_NEXT_OPTS, "claim": {}}.get(cmd)
    if table is None:
        return None
    pos: list[str] = []
    vals: dict[str, Any] = {}
    j = 0
    while j < len(rest):
        a = rest[j]
        if a in ("--json", "-q", "--quiet"):
            flags.add("json" if a == "--json" else "quiet")
        elif a in table:
            if j + 1 >= len(rest):
                return None
            name, many = table[a]
            if many:
                vals.setdefault(name, []).append(rest[j + 1])  # as click: the next word, whatever it is
            elif name in vals:
                return None
            else:
                vals[name] = rest[j + 1]
            j += 1
        elif a.startswith("-") or a == "":
            return None
        else:
            pos.append(a)
        j += 1
    if cmd in ("claim", "update") and len(pos) != (2 if cmd == "claim" else 1):
        return None
    if cmd == "claim-next" and (len(pos) > 1 or (pos and "to" in vals) or not (pos or "to" in vals)):
        return None
    env_json = os.environ.get("JIT_JSON", "") not in ("", "0")
    as_json = "json" in flags or env_json
    quiet = "quiet" in flags or os.environ.get("JIT_QUIET", "") not in ("", "0")
    errors_json = "--json" in args or env_json  # the full CLI's ``wants_json``
    repo = opts["repo"] or os.environ.get("JIT_REPO") or None
    actor = opts["by"] or os.environ.get("JIT_ACTOR") or None
    return lambda: _run_write(cmd, pos, vals, repo, actor, as_json, quiet, errors_json)


def _run_write(cmd: str, pos: list[str], vals: dict[str, Any], repo: str | None, actor: str | None,
               as_json: bool, quiet: bool, errors_json: bool) -> int:
    """Run a write ``_write`` parsed, print as ``gitjit.cli.core.emit`` does, and report errors
    and crashes as ``gitjit.cli.main`` does."""
    import gitjit

    gitjit.cli_process = True  # pygit2 loads without its TLS bundle here (gitjit/git/__init__.py)
    gitjit.on_long_wait = lambda text: _err(f"jit: {text}")
    try:
        from .api import Tracker

        t = Tracker(repo, actor=actor)
        if cmd == "claim":
            data = t.claim(pos[0], pos[1])
            human, q = f"Claimed issue {data['id']} for {pos[1]}", data["id"]
        elif cmd == "claim-next":
            who = pos[0] if pos else vals["to"]
            data = t.claim_next(who, filter=None)
            human, q = "", data["id"]
        else:
            from .cliargs import parse_kv, split_commas

            data = t.update_issue(
                pos[0], title=vals.get("title"), description=vals.get("desc"), priority=vals.get("priority"),
                state=vals.get("state"), context=parse_kv(vals.get("context", [])),
                context_unset=tuple(vals.get("unset", [])), labels_add=split_commas(vals.get("labels", [])),
                labels_remove=split_commas(vals.get("remove_labels", [])))
            human, q = f"Updated issue {data['short_id']} ({data['state']})", data["id"]
        for w in t.warnings:
            _err(f"warning: {w}")
        t.warnings.clear()
        if as_json:
            from .jsontext import dumps

            _out(dumps(data))
        elif quiet:
            _out(q)
        elif cmd == "claim-next":
            _out(data["id"])
            _err(f"Claimed issue {data['id']} ({data['title']}) for {who}")
        else:
            _out(human)
        return 0
    except (KeyboardInterrupt, Exception) as e:  # noqa: BLE001 - reported as the full CLI reports it
        from .cli import report_crash

        return report_crash(e, errors_json)


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


# ---------------------------------------------------------------------------------- arguments

def _parse(args: list[str]) -> tuple[dict[str, Any], list[str], set[str]]:
    """Global options, the command words and the per-command flags. Raises _Fallback for
    anything the light path does not handle exactly like click would."""
    opts: dict[str, Any] = {"repo": None, "list": []}
    flags: set[str] = set()
    i = _global_options(args, opts, flags)
    words: list[str] = []
    rest = args[i:]
    j = 0
    while j < len(rest):
        a = rest[j]
        if a in ("--json", "-q", "--quiet"):
            flags.add("json" if a == "--json" else "quiet")
        elif a in ("-n", "--n") and j + 1 < len(rest):
            flags.add("n=" + rest[j + 1])
            j += 1
        elif a.startswith("--n=") or (a.startswith("-n") and len(a) > 2):
            flags.add("n=" + (a[4:] if a.startswith("--n=") else a[2:]))
        elif a in _LIST_OPTS and j + 1 < len(rest):
            opts["list"].append((_LIST_OPTS[a], rest[j + 1]))  # as click: the next word, whatever it is
            j += 1
        elif a.startswith("--") and a.partition("=")[0] in _LIST_OPTS and "=" in a:
            k, _, v = a.partition("=")
            opts["list"].append((_LIST_OPTS[k], v))
        elif a.startswith("-") or a == "":
            raise _Fallback
        else:
            words.append(a)
        j += 1
    return opts, words, flags


def _global_options(args: list[str], opts: dict[str, Any], flags: set[str]) -> int:
    """Read the options before the command (``--json``, ``-q``, ``--repo``, ``--by``) into
    ``opts`` and ``flags``; the index of the command's first word. _Fallback for any other."""
    i = 0
    while i < len(args) and args[i].startswith("-"):
        a = args[i]
        if a in ("--json", "-q", "--quiet"):
            flags.add("json" if a == "--json" else "quiet")
        elif a in ("--repo", "--by") and i + 1 < len(args):
            opts[a[2:]] = args[i + 1]
            i += 1
        elif a.startswith(("--repo=", "--by=")):
            k, _, v = a[2:].partition("=")
            opts[k] = v
        else:
            raise _Fallback
        i += 1
    return i


def _find_git_dir(start: str) -> tuple[str, str | None]:
    """Walk up from ``start`` like ``git rev-parse --git-dir`` (and libgit2's discover) would, for
    the ordinary layouts: a ``.git`` directory, a ``.git`` file (worktrees, submodules) or a bare
    repository. Anything unusual falls back to the full CLI, which asks libgit2."""
    if not os.path.isdir(start):
        raise _Fallback
    d = os.path.abspath(start)
    while True:
        dot = os.path.join(d, ".git")
        if os.path.isdir(dot):
            return dot, d
        if os.path.isfile(dot):
            with open(dot, encoding="utf-8") as f:
                line = f.readline().strip()
            if not line.startswith("gitdir: "):
                raise _Fallback
            return os.path.normpath(os.path.join(d, line[8:])), d
        if os.path.isfile(os.path.join(d, "HEAD")) and os.path.isdir(os.path.join(d, "objects")) \
                and os.path.isdir(os.path.join(d, "refs")):
            return d, None
        parent = os.path.dirname(d)
        if parent == d:
            raise _Fallback
        d = parent


def _common_dir(git_dir: str) -> str:
    cd = os.path.join(git_dir, "commondir")
    if os.path.isfile(cd):
        with open(cd, encoding="utf-8") as f:
            return os.path.normpath(os.path.join(git_dir, f.read().strip()))
    return git_dir


# ---------------------------------------------------------------------------------- answers

def answer(args: list[str]) -> tuple[list[str], Any] | None:
    """``(warnings, text or printer)`` for a command the light path can answer, else None."""
    try:
        return _answer(args)
    except _Fallback:
        return None


def _answer(args: list[str]) -> tuple[list[str], Any] | None:
    if args in (["--version"], ["-V"]):
        from . import __version__

        return [], f"jit, version {__version__}\n"
    if not args or any("\ud800" <= ch <= "\udfff" for a in args for ch in a):
        return None  # no arguments, or bytes that are not UTF-8: the full CLI explains
    opts, words, flags = _parse(args)
    if not words or words[0] not in ("query", "issue", "status", "events"):
        return None
    as_json = "json" in flags or os.environ.get("JIT_JSON", "") not in ("", "0")
    quiet = "quiet" in flags or os.environ.get("JIT_QUIET", "") not in ("", "0")
    n_flags = [f for f in flags if f.startswith("n=")]
    if n_flags and words[:2] != ["events", "tail"]:
        raise _Fallback
    if opts["list"] and words[:2] != ["issue", "list"]:
        raise _Fallback
    start = opts["repo"] or os.environ.get("JIT_REPO") or os.getcwd()
    from .store.index import Index, code_stamp

    git_dir, workdir = _find_git_dir(start)
    common = _common_dir(git_dir)
    ix = Index(common)
    if not ix.open(timeout=0.2):
        raise _Fallback
    try:
        if not ix.usable(code_stamp()):
            raise _Fallback
        seen = ix.data_version()
        delta = ix.check()
        if delta is not None:
            if not delta.empty:
                raise _Fallback  # the refs moved: the full CLI folds the change in
            _record(ix, delta, seen)
        # one read transaction: every query below sees the same state of the index (a writer
        # that commits meanwhile has brought it in step with refs at least as new as the check)
        ix.c.execute("BEGIN")
        try:
            warnings = ix.warnings()
            return warnings, _render(ix, words, as_json, quiet, n_flags, (git_dir, common, workdir), opts["list"])
        finally:
            ix.rollback()
    finally:
        ix.close()


def _record(ix: Any, delta: Any, seen: int) -> None:
    """Nothing changed but the stat signature: remember the new one if it can be trusted later
    (best effort: never wait for a writer, which will record one itself)."""
    import sqlite3

    if delta.sig.get("racy"):
        return
    try:
        if not ix.begin(wait=0):
            return
    except sqlite3.Error:
        return
    try:
        d2 = ix.check() if ix.data_version() != seen else delta
        if d2 is not None:
            if not d2.empty:
                ix.rollback()
                raise _Fallback
            ix.record_snapshot(d2)
        ix.commit()
    except sqlite3.Error:
        ix.rollback()


def _dumps(obj: Any) -> str:
    from .jsontext import dumps  # json.dumps(obj, indent=2, ensure_ascii=False), faster

    return dumps(obj)


def _list_text(docs: list[str], head: str = "") -> str:
    """The full CLI's JSON of ``{**head, "issues": docs, "count": ...}`` from the stored documents;
    ``head`` is the JSON of the members before ``issues`` (``'  "query": "x",\n'``)."""
    if not docs:
        return '{\n' + head + '  "issues": [],\n  "count": 0\n}\n'
    body = ",\n    ".join(d.replace("\n", "\n    ") for d in docs)
    return '{\n' + head + '  "issues": [\n    ' + body + f'\n  ],\n  "count": {len(docs)}\n}}\n'


def _no_gate_policy(git_dir: str, common: str, workdir: str | None) -> bool:
    """True when no local gate policy can apply (gitjit/trust.py): no configuration file libgit2 may
    read mentions ``jit-gate`` or includes another file, no ``jit.toml`` in the work tree, no
    configuration from the environment. Then ``issue show`` marks every gate trusted."""
    if any(k.startswith(("GIT_CONFIG", "XDG_CONFIG_DIRS")) and k != "GIT_CONFIG_NOSYSTEM" for k in os.environ):
        return False
    home = os.path.expanduser("~")
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    files = [os.path.join(common, "config"), os.path.join(git_dir, "config.worktree"), os.path.join(home, ".gitconfig"),
             os.path.join(xdg, "git", "config"), "/etc/gitconfig", "/usr/local/etc/gitconfig"]
    for f in files:
        try:
            with open(f, "rb") as fh:
                text = fh.read().lower()
        except OSError:
            continue
        if b"jit-gate" in text or b"include" in text or b"worktree" in text:
            return False
    return workdir is None or not os.path.exists(os.path.join(workdir, "jit.toml"))


def _annotate(doc: str, where: tuple[str, str, str | None]) -> str | None:
    """``issue show`` adds the local trust verdict to each gate (Tracker.show, gitjit/trust.py). With
    no policy in reach every gate is trusted; otherwise None: the full CLI decides."""
    import json

    if '"gates": []' in doc:
        return doc
    if not _no_gate_policy(*where):
        return None
    d = json.loads(doc)
    for g in d.get("gates") or []:
        g["trusted"] = True
        g["note"] = None
    return _dumps(d)


def _render(ix: Any, words: list[str], as_json: bool, quiet: bool, n_flags: list[str],
            where: tuple[str, str, str | None], filters: list[tuple[str, str]]) -> Any:
    import json

    cmd = words[0]
    if words[:2] == ["issue", "list"]:
        if len(words) != 2:
            raise _Fallback
        f: dict[str, Any] = {"label": []}
        for k, v in filters:  # the last of a repeated option wins, as with click; labels add up
            if k == "label":
                f["label"].append(v)
            else:
                f[k] = v
        state = f.get("state") or None  # Tracker.list_issues: an empty value is no filter
        if state is not None:
            state = _STATE_ALIASES.get(state.lower(), state.lower())
            if state not in _STATES:
                raise _Fallback
        priority = f.get("priority") or None
        if priority is not None:
            priority = priority.lower()
            if priority not in _PRIORITIES:
                raise _Fallback
        ids = ix.select_ids(state, f.get("assignee"), priority, f["label"])
        return _listed(ix, ids, as_json, quiet, "No issues.")
    if cmd == "query":
        if len(words) < 2:
            raise _Fallback
        kind, value = words[1], None
        if kind in ("ready", "blocked", "all"):
            if len(words) != 2:
                raise _Fallback
        elif kind in ("assignee", "state", "priority"):
            if len(words) != 3:
                raise _Fallback
            value = words[2]
            if kind == "state":
                value = _STATE_ALIASES.get(value.lower(), value.lower())
                if value not in _STATES:
                    raise _Fallback
            elif kind == "priority":
                value = value.lower()
                if value not in _PRIORITIES:
                    raise _Fallback
        else:
            raise _Fallback
        ids = ix.query_ids(kind, value)
        if ids is None:
            raise _Fallback
        return _listed(ix, ids, as_json, quiet, _EMPTY.get(kind, "No issues."))
    if words[:2] == ["issue", "search"]:
        if len(words) != 3:
            raise _Fallback
        ids = ix.search_ids(words[2])
        if ids is None:
            raise _Fallback
        if as_json:
            return _list_text(ix.docs(ids), '  "query": ' + _dumps(words[2]) + ",\n")
        if quiet:
            return "\n".join(ids) + "\n"
        data = {"query": words[2], **_loads_list(ix.docs(ids))}
        return lambda: _human().issue_list(data, "No matches.")
    if cmd == "issue":
        if len(words) < 3 or words[1] != "show":
            raise _Fallback
        ids = []
        for prefix in words[2:]:
            p = prefix.strip().lower()
            hits = ix.resolve(p) if p else []
            if len(hits) != 1:
                raise _Fallback  # not found, deleted or ambiguous: the full CLI words the error
            ids.append(hits[0])
        docs = []
        for doc in ix.docs(ids):
            shown = _annotate(doc, where)
            if shown is None:
                raise _Fallback  # a gate policy may apply: only the full CLI can judge it
            docs.append(shown)
        if as_json:
            if len(docs) == 1:
                return docs[0] + "\n"
            return "[\n  " + ",\n  ".join(d.replace("\n", "\n  ") for d in docs) + "\n]\n"
        items = [json.loads(d) for d in docs]
        if quiet:
            return "\n".join(i["state"] for i in items) + "\n"

        def detail() -> None:
            r = _human()
            for n, it in enumerate(items):
                if n:
                    r.click.echo("")
                r.issue_detail(it)

        return detail
    if cmd == "status":
        if len(words) != 1:
            raise _Fallback
        data = ix.status()
        if as_json:
            return _dumps(data) + "\n"
        return lambda: _human().status(data)
    if cmd == "events":
        if words != ["events", "tail"] or len(n_flags) > 1:
            raise _Fallback
        n = 20
        if n_flags:
            try:
                n = int(n_flags[0][2:])
            except ValueError:
                raise _Fallback from None
            if n < 0:
                raise _Fallback
        evs = ix.events(limit=n)
        if as_json:
            return _dumps(evs) + "\n"

        def lines() -> None:
            r = _human()
            for e in evs:
                r.click.echo(r.event_line(e))

        return lines
    raise _Fallback


def _listed(ix: Any, ids: list[str], as_json: bool, quiet: bool, empty: str) -> Any:
    if as_json:
        return _list_text(ix.docs(ids))
    if quiet:
        return "\n".join(ids) + "\n"
    data = _loads_list(ix.docs(ids))
    return lambda: _human().issue_list(data, empty)


def _loads_list(docs: list[str]) -> dict[str, Any]:
    from .jsontext import loads_many

    issues = loads_many(docs)
    return {"issues": issues, "count": len(issues)}


def _human() -> Any:
    """Human output reuses the full CLI's renderers (they need click, not pydantic or pygit2)."""
    from .cli import render

    return render
