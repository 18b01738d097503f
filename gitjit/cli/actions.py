"""What the hot commands do, written once and without click: the reads agents run most, the three
writes every agent makes, and the hook that runs on every commit.

Each function here is the body of one click command (gitjit/cli/query.py, issue.py, misc.py,
events.py, graph.py, hooks.py: their ``@acts(...)``), and the pre-dispatch (gitjit/cli/light.py)
calls the same function with the arguments it parsed against the same command's definition
(gitjit/cli/spec.py, generated from the click commands). Only the first import of click costs
~17 ms of a ~25 ms read; nothing here imports it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from . import render
from .io import echo, emit, env, ids, parse_kv, split_commas

__all__ = [
    "acts",
    "claim",
    "claim_next",
    "events_query",
    "events_tail",
    "graph_show",
    "hook_run",
    "issue_list",
    "issue_search",
    "issue_show",
    "prime",
    "query",
    "status",
    "update",
]

F = TypeVar("F", bound=Callable[..., Any])

_EMPTY = {"ready": "No ready issues.", "blocked": "Nothing is blocked."}


def acts(action: str, **fixed: Any) -> Callable[[F], F]:
    """Make a click command's callback run ``action`` (a function of this module) with the command's
    parameters and ``fixed``; the function decorated keeps only its docstring (the help text).
    The pre-dispatch finds the action through the generated spec (``__gitjit_action__``)."""

    def wrap(f: F) -> F:
        globals()[action]  # a name that is not an action fails here, at import

        def callback(**params: Any) -> Any:
            return globals()[action](**fixed, **params)

        callback.__name__ = f.__name__
        callback.__doc__ = f.__doc__
        callback.__gitjit_action__ = (action, fixed)  # type: ignore[attr-defined]
        return callback  # type: ignore[return-value]

    return wrap


# ---------------------------------------------------------------------------------- reads

def query(kind: str, value: str | None = None, **params: Any) -> None:
    if params:  # the argument of ``query assignee|state|priority`` is named after the query
        value = next(iter(params.values()))
    data = env().read(lambda r: r.query(kind, value), listing=True)
    emit(data, lambda: render.issue_list(data, _EMPTY.get(kind, "No issues.")), quiet=lambda: ids(data))


def issue_list(state: str | None, assignee: str | None, priority: str | None, labels: Sequence[str]) -> None:
    data = env().read(lambda r: r.list_issues(state=state, assignee=assignee, priority=priority, labels=labels),
                      listing=True)
    emit(data, lambda: render.issue_list(data), quiet=lambda: ids(data))


def issue_show(ids: Sequence[str]) -> None:
    items = env().read(lambda r: [r.show(i) for i in ids])
    data = items[0] if len(items) == 1 else items

    def human() -> None:
        for n, it in enumerate(items):
            if n:
                echo("")
            render.issue_detail(it)

    emit(data, human, quiet="\n".join(i["state"] for i in items))


def issue_search(text: str) -> None:
    data = env().read(lambda r: r.search(text), listing=True)
    emit(data, lambda: render.issue_list(data, "No matches."), quiet=lambda: ids(data))


def status() -> None:
    data = env().read(lambda r: r.status())
    emit(data, lambda: render.status(data))


def events_tail(n: int, follow: bool, interval: float, timeout: float | None) -> None:
    e = env()
    if follow:
        import json

        from ..app.feed import follow as follow_events

        e.flush_warnings()
        follow_events(e.tracker, lambda ev: echo(json.dumps(ev, ensure_ascii=False) if e.json
                                                 else render.event_line(ev)),
                      n=n, interval=interval, timeout=timeout)
        return
    events_print(e.read(lambda r: r.events(limit=n)))


def events_query(event_type: str | None, issue: str | None, since: str | None, limit: int | None) -> None:
    events_print(env().read(lambda r: r.events(event_type=event_type, issue=issue, since=since, limit=limit)))


def events_print(evs: list[dict[str, Any]]) -> None:
    e = env()
    e.flush_warnings()
    if e.json:
        from .io import dump

        echo(dump(evs))
    else:
        for ev in evs:
            echo(render.event_line(ev))


def graph_show(issue_id: str | None) -> None:
    data = env().read(lambda r: r.graph_tree(issue_id))

    def human() -> None:
        if not data["trees"]:
            echo("No issues.")
        render.tree(data["trees"])
        for b in data["broken_edges"]:
            echo(f"warning: edge {b['from'][:8]} -> {b['to'][:8]} ignored (it closed a cycle)", err=True)

    emit(data, human)


def prime(limit: int) -> None:
    from ..app.prime import who_and_whether
    from ..core import prime as card

    e = env()
    actor, initialized, _ = who_and_whether(e.repo, e.actor)
    data = (e.read(lambda r: card.card_data(r, actor=actor, limit=limit)) if initialized
            else card.not_initialized(actor))
    emit(data, lambda: echo(card.card_text(data)), quiet=lambda: str(data["ready_count"]))


# ---------------------------------------------------------------------------------- the hot writes

def claim(issue_id: str, assignee: str, remote: str | None) -> None:
    t = env().tracker
    data = t.claim(issue_id, assignee) if remote is None else t.claim(issue_id, assignee, remote=remote)
    emit(data, f"Claimed issue {data['id']} for {assignee}", quiet=data["id"])


def claim_next(assignee_arg: str | None, to: str | None, filter_: str | None, remote: str | None) -> None:
    from ..core.errors import UsageError

    if assignee_arg and to and assignee_arg != to:
        raise UsageError("give the assignee once (argument or --to)", hint="jit issue claim-next --to agent:worker-1")
    who = assignee_arg or to
    if not who:
        raise UsageError("missing assignee", hint="jit issue claim-next agent:worker-1")
    t = env().tracker
    kw: dict[str, Any] = {"filter": filter_}
    if remote is not None:
        kw["remote"] = remote
    data = t.claim_next(who, **kw)

    def human() -> None:
        echo(data["id"])
        echo(f"Claimed issue {data['id']} ({data['title']}) for {who}", err=True)

    emit(data, human, quiet=data["id"])


def update(issue_id: str, title: str | None, desc: str | None, priority: str | None, state: str | None,
           context: Sequence[str], unset: Sequence[str], labels: Sequence[str], remove_labels: Sequence[str]) -> None:
    data = env().tracker.update_issue(
        issue_id, title=title, description=desc, priority=priority, state=state, context=parse_kv(context),
        context_unset=unset, labels_add=split_commas(labels), labels_remove=split_commas(remove_labels),
    )
    emit(data, f"Updated issue {data['short_id']} ({data['state']})", quiet=data["id"])


# ---------------------------------------------------------------------------------- hooks

#: what the pre-commit framework passes in the environment instead of git's arguments
FRAMEWORK_ARGS = {
    "pre-push": ("PRE_COMMIT_REMOTE_NAME", "PRE_COMMIT_REMOTE_URL"),
    "post-checkout": ("PRE_COMMIT_FROM_REF", "PRE_COMMIT_TO_REF", "PRE_COMMIT_CHECKOUT_TYPE"),
    "post-merge": ("PRE_COMMIT_IS_SQUASH_MERGE",),
    "post-rewrite": ("PRE_COMMIT_REWRITE_COMMAND",),
}


def hook_run(name: str, framework: bool, args: Sequence[str]) -> int:
    from ..app import hooks as h

    e = env()
    argv = list(args)
    if framework and not argv and name in FRAMEWORK_ARGS:
        argv = [os.environ.get(k, "") for k in FRAMEWORK_ARGS[name]]
    stdin = b""
    # git pipes these two their input; a hook manager may hand over a terminal or nothing at all
    if name in ("pre-push", "post-rewrite") and not framework and not sys.stdin.isatty():
        stdin = sys.stdin.buffer.read()
    # inside a hook git may export GIT_DIR (relative to the hook's cwd); follow it like git does
    repo = e.repo or os.environ.get("GIT_DIR") or None
    return h.run_hook(
        name, argv, repo=repo, actor=e.actor, stdin=stdin,
        echo=lambda s: echo(s, err=True),
        enabled=os.environ.get("JIT_NO_HOOKS", "") in ("", "0"),
        run_legacy=not framework and not os.environ.get(h.LEGACY_GUARD),
        pushing=bool(os.environ.get(h.PUSH_GUARD)),
    )
