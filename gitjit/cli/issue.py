"""``jit issue …``: create, list, show, update, search, delete, assign, claim, release."""

from __future__ import annotations

import click

from .actions import acts
from .core import Group, emit, env, output_options, parse_kv, split_commas

PRIORITIES = click.Choice(["low", "normal", "high", "critical"], case_sensitive=False)


@click.group(cls=Group)
def issue() -> None:
    """Create, read, change and claim issues.

    \b
    Example:
      jit issue create -t "Add login" -p high
      jit issue claim-next agent:worker-1
    """


@issue.command()
@click.argument("title_arg", required=False, metavar="[TITLE]")
@click.option("-t", "--title", help="One-line title.")
@click.option("-d", "--desc", "--description", "desc", default="", help="Longer description.")
@click.option("-p", "--priority", default="normal", show_default=True, help="low|normal|high|critical")
@click.option("-g", "--gate", "gates", multiple=True, help="Required gate keys (repeat or comma-separate).")
@click.option("--context", "context", multiple=True, metavar="K=V", help="Context entry; JSON values allowed.")
@click.option("-l", "--label", "labels", multiple=True, metavar="NS:VALUE", help="Label (repeatable).")
@output_options
def create(title_arg: str | None, title: str | None, desc: str, priority: str, gates: tuple[str, ...],
           context: tuple[str, ...], labels: tuple[str, ...]) -> None:
    """Create an issue. Prints "Created issue: <id>" (the bare id with -q).

    \b
    Example:
      jit issue create -t "Add login" -p high --gate review --label type:task
      ID=$(jit issue create -q -t "Add login")
    """
    from ..core.errors import UsageError

    if title and title_arg:
        raise UsageError("give the title once: either as an argument or with -t/--title",
                         hint='jit issue create -t "what needs doing"')
    t = title if title is not None else title_arg
    if t is None:
        raise UsageError("missing title", hint='jit issue create -t "what needs doing"')
    data = env().tracker.create_issue(
        t, description=desc, priority=priority, gates=split_commas(gates), context=parse_kv(context),
        labels=split_commas(labels),
    )
    emit(data, f"Created issue: {data['id']}", quiet=data["id"])


@issue.command("list")
@click.option("-s", "--state", help="Only issues in this state (open|ready|in_progress|done|rejected|archived).")
@click.option("-a", "--assignee", help="Only issues held by this assignee.")
@click.option("-p", "--priority", help="Only issues of this priority (low|normal|high|critical).")
@click.option("-l", "--label", "labels", multiple=True, help="ns:value or ns:* (all must match)")
@output_options
@acts("issue_list")
def list_(state: str | None, assignee: str | None, priority: str | None, labels: tuple[str, ...]) -> None:
    """List issues, optionally filtered.

    \b
    Example:
      jit issue list --state ready --label team:*
    """


@issue.command()
@click.argument("ids", nargs=-1, required=True)
@output_options
@acts("issue_show")
def show(ids: tuple[str, ...]) -> None:
    """Show one issue (or several) in full, with gates, blockers, conflicts and linked commits.

    \b
    Example:
      jit issue show 3f1c
    """


@issue.command()
@click.argument("issue_id")
@click.option("-t", "--title", help="New one-line title.")
@click.option("-d", "--desc", "--description", "desc", help="New description (replaces the old one).")
@click.option("-p", "--priority", help="New priority: low|normal|high|critical.")
@click.option("-s", "--state", help="New state: open|ready|in_progress|done|rejected|archived.")
@click.option("--context", "context", multiple=True, metavar="K=V", help="Set a context entry; JSON values allowed (repeatable).")
@click.option("--unset-context", "unset", multiple=True, metavar="K", help="Remove a context entry (repeatable).")
@click.option("-l", "--label", "--add-label", "labels", multiple=True, metavar="NS:VALUE", help="Add a label (repeatable).")
@click.option("--remove-label", "remove_labels", multiple=True, metavar="NS:VALUE", help="Remove a label (repeatable).")
@output_options
@acts("update")
def update(issue_id: str, title: str | None, desc: str | None, priority: str | None, state: str | None,
           context: tuple[str, ...], unset: tuple[str, ...], labels: tuple[str, ...],
           remove_labels: tuple[str, ...]) -> None:
    """Change fields or the state of an issue. Done is refused until every gate has passed.

    \b
    Example:
      jit issue update 3f1c --state done
      jit issue update 3f1c --context "agent_notes=Remember to update docs"
    """


@issue.command()
@click.argument("text")
@output_options
@acts("issue_search")
def search(text: str) -> None:
    """Find issues whose title, description, labels or id contain TEXT (case-insensitive).

    \b
    Example:
      jit issue search login
    """


@issue.command()
@click.argument("issue_id")
@output_options
def delete(issue_id: str) -> None:
    """Delete an issue (a tombstone event; history stays in git, edges to it stop counting).

    \b
    Example:
      jit issue delete 3f1c
    """
    data = env().tracker.delete_issue(issue_id)
    emit(data, f"Deleted issue {data['id']}", quiet=data["id"])


@issue.command()
@click.argument("issue_id")
@click.argument("assignee")
@output_options
def assign(issue_id: str, assignee: str) -> None:
    """Set the assignee without changing the state.

    \b
    Example:
      jit issue assign 3f1c human:alice
    """
    data = env().tracker.assign(issue_id, assignee)
    emit(data, f"Assigned {data['short_id']} to {assignee}", quiet=data["id"])


@issue.command()
@click.argument("issue_id")
@output_options
def unassign(issue_id: str) -> None:
    """Clear the assignee (an issue in progress goes back to the queue).

    \b
    Example:
      jit issue unassign 3f1c
    """
    data = env().tracker.unassign(issue_id)
    emit(data, f"Unassigned {data['short_id']}", quiet=data["id"])


@issue.command()
@click.argument("issue_id")
@click.argument("assignee")
@click.option("--remote", help="Make the claim real on this hub remote (see docs/sharing.md).")
@output_options
@acts("claim")
def claim(issue_id: str, assignee: str, remote: str | None) -> None:
    """Atomically claim a ready issue for ASSIGNEE (exit 7 if someone else holds it).

    \b
    Example:
      jit issue claim 3f1c agent:worker-1
    """


@issue.command("claim-next")
@click.argument("assignee_arg", required=False, metavar="[ASSIGNEE]")
@click.option("--to", "to", help="The assignee (same as the argument).")
@click.option("-f", "--filter", "filter_", help='e.g. "priority:high|critical", "label:team:*", "tag:gpu"')
@click.option("--remote", help="Make the claim real on this hub remote (see docs/sharing.md).")
@output_options
@acts("claim_next")
def claim_next(assignee_arg: str | None, to: str | None, filter_: str | None, remote: str | None) -> None:
    """Claim the highest-priority, oldest ready issue; prints its id (exit 8 when there is none).

    \b
    Example:
      ID=$(jit issue claim-next agent:worker-1 --filter "priority:high|critical")
    """


@issue.command()
@click.argument("issue_id")
@click.argument("reason")
@click.option("--remote", help="Publish the release on this hub remote.")
@output_options
def release(issue_id: str, reason: str, remote: str | None) -> None:
    """Give a claimed issue back to the queue, saying why.

    \b
    Example:
      jit issue release 3f1c timeout
    """
    t = env().tracker
    data = t.release(issue_id, reason) if remote is None else t.release(issue_id, reason, remote=remote)
    emit(data, f"Released issue {data['id']} ({reason})", quiet=data["id"])


@issue.command()
@click.argument("issue_id")
@click.argument("reason")
@output_options
def park(issue_id: str, reason: str) -> None:
    """Keep an issue from being started until someone un-parks it (it shows as blocked, with REASON).

    jit-dispatch parks an issue its agents failed too many times in a row.

    \b
    Example:
      jit issue park 3f1c "waits for a decision on the schema"
    """
    data = env().tracker.park(issue_id, reason)
    emit(data, f"Parked issue {data['id']} ({reason}); un-park it with: jit issue unpark {data['short_id']}",
         quiet=data["id"])


@issue.command()
@click.argument("issue_id")
@click.option("--reason", help="Why it may be started again (recorded with the event).")
@output_options
def unpark(issue_id: str, reason: str | None) -> None:
    """Let a parked issue be started again, and clear its failed runs: dispatchers retry it at once.

    \b
    Example:
      jit issue unpark 3f1c --reason "fixed the flaky fixture"
    """
    data = env().tracker.unpark(issue_id, reason=reason)
    emit(data, f"Issue {data['id']} is not parked (state {data['state']})", quiet=data["id"])


@issue.command()
@click.argument("issue_id")
@click.option("--reason", help="Why (recorded on the event; one word also becomes a resolution:REASON label).")
@output_options
def reject(issue_id: str, reason: str | None) -> None:
    """Reject an issue: it will not be done, and it no longer holds up its dependents.

    \b
    Example:
      jit issue reject 3f1c --reason duplicate
      jit issue reject 3f1c --reason "superseded by the new parser"
    """
    data = env().tracker.reject_issue(issue_id, reason=reason)
    emit(data, f"Rejected issue {data['id']}" + (f" ({reason})" if reason else ""), quiet=data["id"])


@issue.command()
@click.argument("parent_id")
@click.option("--subtask", "subtasks", multiple=True, required=True, metavar="TITLE",
              help="A subtask's title (repeat for each subtask).")
@click.option("--description", "--desc", "descriptions", multiple=True, metavar="TEXT",
              help="A subtask's description (none, or one per --subtask, in the same order).")
@output_options
def breakdown(parent_id: str, subtasks: tuple[str, ...], descriptions: tuple[str, ...]) -> None:
    """Split an issue into subtasks that inherit its priority, gates, labels and dependencies;
    the issue then depends on the subtasks. Prints the subtasks' ids.

    \b
    Example:
      jit issue breakdown 3f1c --subtask "Login form" --subtask "Session store"
    """
    data = env().tracker.breakdown_issue(parent_id, subtasks, descriptions=descriptions)

    def human() -> None:
        for it in data["issues"]:
            click.echo(f"{it['id']}  {it['title']}")
        click.echo(f"Broke {data['parent_id'][:8]} down into {data['count']} subtask(s); "
                   f"it now depends on them ({data['parent_state']})", err=True)

    emit(data, human, quiet="\n".join(data["subtask_ids"]))
