"""Human-readable renderings of the JSON shapes (the JSON is the contract; these are for people)."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from .io import colour, echo, line


def _one(v: Any) -> str:
    """A value shown inside one line: a line break in it (data written elsewhere) is shown as
    ``\\u000a``, so it cannot start a line that looks like gitjit's own. Other control characters
    are escaped for every line printed (gitjit/cli/termsafe.py)."""
    return str(v).replace("\r", "\\u000d").replace("\n", "\\u000a")


def ago(timestamp: str | None, now: Any = None) -> str:
    """``timestamp`` (ISO 8601, as stored) as people say it: "just now", "3m ago", "5h ago",
    "2d ago", then the date; the text as it is if it is not a time."""
    from datetime import datetime

    try:
        then = datetime.fromisoformat(str(timestamp))
    except ValueError:
        return str(timestamp)
    if then.tzinfo is None:
        then = then.replace(tzinfo=UTC)
    secs = ((now or datetime.now(UTC)) - then).total_seconds()
    if secs < -60:
        return then.strftime("%Y-%m-%d %H:%M")  # a clock ahead of ours: no "in 3m"
    for limit, unit, size in ((60, "", 0), (3600, "m", 60), (86400, "h", 3600), (86400 * 14, "d", 86400)):
        if secs < limit:
            return "just now" if not size else f"{int(secs // size)}{unit} ago"
    return then.strftime("%Y-%m-%d")


def fit(text: str, width: int) -> str:
    """``text`` in a column ``width`` wide: padded, or cut with an ellipsis."""
    return text.ljust(width) if len(text) <= width else text[:width - 1] + "…"


def issue_line(i: dict[str, Any], on: bool = False) -> str:
    """One issue in a listing; ``on``: state and priority coloured (``gitjit.cli.io.line``)."""
    who = f"  @{_one(i['assignee'])}" if i.get("assignee") else ""
    return line([(f"{i['short_id']}  ", None), (f"{i['state']:<11}", i["state"]), (" ", None),
                 (f"{i['priority']:<8}", i["priority"]), (f" {_one(i['title'])}{who}", None)], on)


def issue_list(data: dict[str, Any], empty: str = "No issues.") -> None:
    if not data["issues"]:
        echo(empty)
        return
    on = colour()
    lines: list[str] = []  # one write: click.echo costs ~6 µs a call, 0.4 s for 32,000 blocked issues
    for i in data["issues"]:
        lines.append(issue_line(i, on))
        lines.extend(line([("      blocked: " + reason(r), None)], on) for r in i.get("blocked_reasons") or [])
    lines.append(f"({data['count']} issue{'s' if data['count'] != 1 else ''})")
    echo("\n".join(lines), painted=on)


def reason(r: dict[str, Any]) -> str:
    if r["type"] == "parked":
        return f"parked by {r.get('by') or '?'} since {r.get('since') or '?'}: {r.get('reason') or '-'}"
    if r["type"] == "dependency":
        return f"depends on {r['issue_id'][:8]} {r['title']!r} ({r['state']})"
    if r["type"] == "gate":
        return f"gate {r['gate_key']} {r['status']} ({r['stage']})"
    return f"dependency {r['issue_id']} missing in this clone"


def issue_detail(i: dict[str, Any]) -> None:
    on = colour()
    echo(f"{i['id']}  {_one(i['title'])}")
    echo(line([("  state:     ", None), (i["state"], i["state"])], on), painted=on)
    echo(line([("  priority:  ", None), (i["priority"], i["priority"])], on), painted=on)
    echo(f"  assignee:  {_one(i['assignee'] or '-')}")
    if i.get("labels"):
        echo(f"  labels:    {_one(', '.join(i['labels']))}")
    if i.get("dependencies"):
        echo(f"  depends on: {', '.join(d[:8] for d in i['dependencies'])}")
    for g in i.get("gates") or []:
        by = f" by {_one(g['by'])}" if g.get("by") else ""
        why = f": {_one(g['reason'])}" if g.get("reason") else ""
        echo(line([(f"  gate {g['key']}: ", None), (g["status"], g["status"]),
                   (f"{by} ({g['mode']}, {g['stage']}){why}", None)], on), painted=on)
    for k, v in (i.get("context") or {}).items():
        echo(f"  context {k} = {_one(v)}")
    for r in i.get("blocked_reasons") or []:
        echo(f"  blocked: {reason(r)}")
    for c in i.get("conflicts") or []:
        echo(f"  CONFLICT ({c['type']}): {_one(c['detail'])}")
    for c in i.get("commits") or []:
        echo(f"  commit {c}")
    echo(f"  created:   {i['created_at']} by {_one(i.get('created_by') or '?')}")
    echo(f"  updated:   {i['updated_at']}")
    if i.get("description"):
        echo("")
        for text in i["description"].splitlines():
            echo("  " + text)


def tree(nodes: list[dict[str, Any]]) -> None:
    """``graph show``'s trees, one line per node, depth first, without recursion (a tree is as
    deep as ``Tracker.graph_tree`` draws it); printed in one write."""
    on = colour()
    lines: list[str] = []
    # (node, prefix of its line, is it a child, is it the last of its siblings)
    stack = [(n, "", False, False) for n in reversed(nodes)]
    while stack:
        node, prefix, child, last = stack.pop()
        branch = ("└── " if last else "├── ") if child else ""
        mark = (" (see above)" if node.get("repeated") else " (continued below)" if node.get("continued")
                else " (continued)" if node.get("continuation") else "")
        lines.append(line([(f"{prefix}{branch}{node['short_id']} [", None), (node["state"], node["state"]),
                           (f"] {_one(node['title'])}{mark}", None)], on))
        ext = prefix + (("    " if last else "│   ") if child else "")
        kids = node.get("children") or []
        stack.extend((k, ext, True, i == len(kids) - 1) for i, k in reversed(list(enumerate(kids))))
    if lines:
        echo("\n".join(lines), painted=on)


def status(s: dict[str, Any]) -> None:
    echo(
        f"Open: {s['open']}  Ready: {s['ready']}  In Progress: {s['in_progress']}  "
        f"Blocked: {s['blocked']}  Done: {s['done']}  Rejected: {s['rejected']}  Archived: {s['archived']}"
        f"  (total {s['total']})"
    )
    if s["recent_completions"]:
        echo("\nRecent completions:")
        for c in s["recent_completions"]:
            echo(f"  - {_one(c['title'])} ({c['id'][:8]}, {ago(c['completed_at'])})")
    if s["assignments"]:
        echo("\nAssignments:")
        for who, items in sorted(s["assignments"].items()):
            echo(f"  {_one(who)}")
            for it in items:
                echo(f"    - {it['id'][:8]} | {_one(it['title'])} [{it['state']}]")
    if s.get("parked"):
        echo("\nParked (start again with: jit issue unpark ID):")
        for p in s["parked"]:
            echo(f"  - {p['id'][:8]} | {p['title']}: {p['reason']} (by {p['by'] or '?'}, since {p['since']})")
    if s["conflicts"]:
        echo("\nConflicts:")
        for c in s["conflicts"]:
            echo(f"  - {c['issue_id'][:8]} {c['type']}: {_one(c['detail'])}")


def event_line(e: dict[str, Any]) -> str:
    extra = {k: v for k, v in e.items() if k not in ("id", "type", "issue_id", "timestamp", "actor", "clock")}
    bits = " ".join(f"{k}={_one(v)}" for k, v in extra.items() if v not in (None, "", [], {}))
    iid = _one(e.get("issue_id") or e.get("gate_key") or "")[:12]
    return f"{e['timestamp']}  {e['type']:<22} {iid:<12} {_one(e['actor'])}  {bits}".rstrip()
