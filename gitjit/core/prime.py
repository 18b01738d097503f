"""``jit prime``: the card an agent reads at the start of a session (and again after its context
was compacted): how to work with gitjit here, who it acts as, what it holds, what is ready.

Pure: the card's data is read off a ``Reads`` (the index reader or the Tracker, whichever answers
the command), and its text is made from that data alone, so ``--json`` and the text cannot say
different things. The text stays under ``CARD_LIMIT`` bytes whatever the titles and the actor
hold (tests/test_prime.py): at most ``SHOWN`` claims and ready issues, titles cut at
``TITLE_WIDTH`` characters.
"""

from __future__ import annotations

from typing import Any

from .board import short
from .errors import EXIT_CODES, AlreadyClaimedError, BusyError, NoWorkError
from .model import TERMINAL_STATES
from .reads import Reads

__all__ = ["CARD_LIMIT", "SHOWN", "WORKFLOW", "card_data", "card_text", "not_initialized"]

#: the card's text never exceeds this many bytes (UTF-8)
CARD_LIMIT = 2048
#: claims and ready issues shown at most
SHOWN = 5
TITLE_WIDTH = 56
ACTOR_WIDTH = 80

#: the loop every agent runs, as commands (``{who}``: the assignee, quoted for a shell)
WORKFLOW = [
    "ID=$(jit issue claim-next {who})",
    "jit issue show $ID",
    "jit gate run $ID KEY",
    "jit issue update $ID --state done",
    "jit issue release $ID REASON",
]
_WORKFLOW_NOTES = [
    "claim the first ready issue (exit 8: none)",
    "read it and its gates; then do the work",
    "or: jit gate pass $ID KEY",
    "exit 4 while a gate has not passed",
    "on failure: give it back",
]

#: the exit codes an agent's loop branches on, and what to do then
_ACTIONS = {
    AlreadyClaimedError: "another agent holds it: take another issue",
    NoWorkError: "nothing ready to claim: stop, or wait and retry",
    BusyError: "the store stayed busy: retry in a moment",
}

START = ["jit init", 'jit issue create -t "First task" -p high', "jit prime"]


_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./-_")


def _quote(s: str) -> str:
    """``shlex.quote`` (without importing shlex and re on the card's path)."""
    if s and all(c in _SAFE for c in s):
        return s
    return "'" + s.replace("'", "'\"'\"'") + "'"


def _exit_codes() -> list[dict[str, Any]]:
    return [{"code": cls.exit_code, "name": cls.code, "meaning": EXIT_CODES[cls.exit_code], "action": action}
            for cls, action in _ACTIONS.items()]


def _item(d: dict[str, Any]) -> dict[str, Any]:
    return {"id": d["id"], "short_id": short(d["id"]), "priority": d["priority"], "state": d["state"],
            "title": d["title"]}


def _base(actor: str, initialized: bool) -> dict[str, Any]:
    return {
        "initialized": initialized,
        "actor": actor,
        "workflow": [w.format(who=_quote(actor)) for w in WORKFLOW],
        "exit_codes": _exit_codes(),
    }


def card_data(reads: Reads, *, actor: str, limit: int = SHOWN) -> dict[str, Any]:
    """The card of an initialized repository: ``actor``'s unfinished issues and the ready queue
    (its size and the first ``limit`` issues in claim order)."""
    b = reads.board()
    held = b.select(assignee=actor)  # finished ones too: an agent's whole history
    info = b.nodes(held)  # one row each, not the folded state (the index reads its columns)
    mine = [i for i in held if info[i][2] not in TERMINAL_STATES and info[i][2] != "archived"]
    ready = b.ready()
    info.update(b.nodes(ready[:limit]))

    def item(i: str) -> dict[str, Any]:
        _, title, state, priority, _ = info[i]
        return _item({"id": i, "title": title, "state": state, "priority": priority})

    return {**_base(actor, True), "claims": [item(i) for i in mine[:limit]], "claims_count": len(mine),
            "ready_count": len(ready), "ready": [item(i) for i in ready[:limit]], "start": []}


def not_initialized(actor: str) -> dict[str, Any]:
    """The card of a repository where ``jit init`` has not run: how to start."""
    return {**_base(actor, False), "claims": [], "claims_count": 0, "ready_count": 0, "ready": [],
            "start": list(START)}


def _cut(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


#: (title width, actor width) tried in turn until the card fits in ``CARD_LIMIT`` bytes: titles
#: and actors of many-byte characters get cut shorter
_WIDTHS = [(TITLE_WIDTH, ACTOR_WIDTH), (40, 48), (28, 32), (16, 24), (8, 16)]
#: the longest quoted actor written into the workflow's claim-next line; a longer one is left to
#: ``$JIT_ACTOR``
_ACTOR_IN_COMMAND = 64


def card_text(data: dict[str, Any]) -> str:
    """The card as an agent reads it (no trailing newline), at most ``CARD_LIMIT`` bytes."""
    text = ""
    for tw, aw in _WIDTHS:
        text = _card(data, tw, aw)
        if len(text.encode("utf-8", "surrogateescape")) <= CARD_LIMIT:
            break
    return text


def _card(data: dict[str, Any], tw: int, aw: int) -> str:
    def line(it: dict[str, Any]) -> str:
        return f"  {it['short_id']}  {it['priority']:<8}  {_cut(it['title'], tw)}"

    out = [f"# gitjit: issues live on refs/jit/* of this git repository. You act as: {_cut(data['actor'], aw)}"]
    if not data["initialized"]:
        out += ["jit is not set up in this repository yet. Start with:"]
        out += [f"  {c}" for c in data["start"]]
        out += ["Then run `jit prime` again for the workflow. Help: jit --help"]
        return "\n".join(out)
    cmds = list(data["workflow"])
    long_actor = len(cmds[0].encode("utf-8", "surrogateescape")) > _ACTOR_IN_COMMAND + len("ID=$(jit issue claim-next )")
    if long_actor:
        cmds[0] = 'ID=$(jit issue claim-next "$JIT_ACTOR")'
    out.append("Workflow (set JIT_ACTOR to a short name such as agent:NAME):" if long_actor
               else "Workflow (JIT_ACTOR or --by sets who you act as):")
    width = max(len(c) for c in cmds)
    out += [f"  {c:<{width}}  # {n}" for c, n in zip(cmds, _WORKFLOW_NOTES)]
    out.append("Exit codes to branch on:")
    out += [f"  {e['code']} {e['name']:<15}  {e['action']}" for e in data["exit_codes"]]
    n = data["claims_count"]
    if n:
        shown = len(data["claims"])
        out.append(f"You hold {n} unfinished issue{'s' if n != 1 else ''}" + (":" if n <= shown else f" (first {shown}):"))
        out += [line(it) + f"  [{it['state']}]" for it in data["claims"]]
    else:
        out.append("You hold no issues.")
    r = data["ready_count"]
    if r:
        shown = len(data["ready"])
        out.append(f"Ready: {r} issue{'s' if r != 1 else ''}" + (":" if r <= shown else f" (first {shown}):"))
        out += [line(it) for it in data["ready"]]
    else:
        out.append("Ready: none (jit status shows what is blocked).")
    out.append("More: jit query ready --json | jit status | jit <command> --help | jit schema")
    return "\n".join(out)
