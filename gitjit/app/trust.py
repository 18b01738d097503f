"""Who may pass which gate, and which committed ``jit.toml`` may run commands here: local policy,
read from this clone's configuration only.

**Trusting jit.toml.** A committed ``jit.toml`` arrives with ``git pull`` like any file, so its
``[gates.<key>] command`` lines are code chosen by whoever can push. They run only once this clone
has trusted that exact content: ``jit trust`` records the file's SHA-256 in the repository's local
git config (``jit.trustedToml``, one value per trusted content), as direnv and mise do for
``.envrc`` and ``mise.toml``. Any change to the file, a pulled commit or the user's own edit, makes
a new content that must be trusted again; until then ``gate run`` refuses and the pre-commit hook
skips its commands, saying which command it did not run and how to trust the file. (Telling the
user's own edits from changes that came in is not possible: a conflicted merge leaves the merged
``jit.toml`` uncommitted in the work tree, exactly as an edit would.) Commands in this clone's git
config (``jit-gate.<key>.command``, what ``jit registry add --command`` writes) need no trust: no
one else can write them. ``allow``/``signed`` policies are read from ``jit.toml`` whether trusted
or not: they can only make fewer gate passes count.

**Who may pass which gate.**

Nothing in an event is authenticated. ``actor``, ``by``, the timestamp and the git commit's
author and committer are strings the writer chose, and anyone who can push to the hub can
write any of them (docs/reliability.md, "What is and is not authenticated"). So trust cannot
come from the data; it comes from local, hand-edited configuration, like a gate's checker
command:

* git config ``jit-gate.<key>.allow`` (repeatable, or comma-separated), or
* ``[gates.<key>] allow = ["human:*", "ci:github-actions"]`` in a committed ``jit.toml``,

each an ``fnmatch`` pattern of the names allowed to pass gate ``<key>``. With a policy for a
gate, a ``gate_passed`` event whose passer matches none of the patterns is *untrusted*:
``issue show`` marks the gate ``"trusted": false`` with a ``note`` saying why, ``issue update
--state done`` does not count it, ``jit gate pass`` refuses to record it here, and ``jit
doctor`` lists it. What the policy cannot do is tell a forger who writes an allowed name from
the real owner of that name: that needs signed commits (see docs/reliability.md).
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from ..core.errors import ExternalError, NotFoundError, ValidationError
from ..core.model import IssueState

if TYPE_CHECKING:  # pragma: no cover
    # the index reader's ``issue show`` of an issue with gates imports this module for
    # ``no_gate_policy``: events (dataclasses), hashlib and the rest load where they are used
    from ..core.event import Event

__all__ = [
    "SIGNED_TYPES",
    "TRUST_KEY",
    "GatePolicy",
    "TomlFile",
    "is_trusted",
    "read_jit_toml",
    "revoke_jit_toml",
    "signer_for",
    "trust_jit_toml",
    "trust_status",
]

#: the local git config key holding ``sha256:<hex>`` of each jit.toml content trusted in this clone
TRUST_KEY = "jit.trustedToml"
TOML = "jit.toml"


class TomlFile(NamedTuple):
    """The work tree's ``jit.toml`` as read once: its bytes' digest and what they parse to (the
    digest checked and the commands run come from the same read)."""

    path: Path
    digest: str                            # "sha256:<hex>" of the file's bytes
    data: dict[str, Any] | None            # None: not valid TOML (UTF-8)
    error: str | None = None

    def commands(self) -> dict[str, str]:
        """Gate key -> checker command, as the file defines them."""
        gates = (self.data or {}).get("gates")
        if not isinstance(gates, dict):
            return {}
        return {k: c for k, v in sorted(gates.items())
                if isinstance(v, dict) and isinstance(c := v.get("command"), str) and c.strip()}


def read_jit_toml(git: Any) -> TomlFile | None:
    """The work tree's jit.toml, or None (no work tree, no file)."""
    wd = getattr(git, "workdir", None)
    if wd is None:
        return None
    p = Path(wd) / TOML
    try:
        raw = p.read_bytes()
    except OSError:  # absent, a directory, unreadable
        return None
    import hashlib

    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    import tomllib

    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        return TomlFile(p, digest, None, str(e))
    return TomlFile(p, digest, data)


def is_trusted(git: Any, f: TomlFile) -> bool:
    return f.digest in git.config_get_all(TRUST_KEY)


def trust_status(git: Any) -> dict[str, Any]:
    """What ``jit trust --show`` prints: the file, its digest, whether it is trusted, its commands."""
    f = read_jit_toml(git)
    if f is None:
        wd = getattr(git, "workdir", None)
        return {"path": str(Path(wd) / TOML) if wd is not None else None, "exists": False, "sha256": None,
                "trusted": False, "valid": False, "commands": {}, "changed": False}
    return {"path": str(f.path), "exists": True, "sha256": f.digest, "trusted": is_trusted(git, f),
            "valid": f.data is not None, "error": f.error, "commands": f.commands(), "changed": False}


def _existing(git: Any) -> TomlFile:
    f = read_jit_toml(git)
    if f is None:
        wd = getattr(git, "workdir", None)
        where = f" ({Path(wd) / TOML})" if wd is not None else " (this repository has no work tree)"
        raise NotFoundError(f"there is no {TOML} to trust{where}",
                            hint="commands can also be set in this clone's git config: "
                                 "jit registry add KEY --auto --command CMD")
    return f


def trust_jit_toml(git: Any) -> dict[str, Any]:
    """Record the current content of jit.toml as trusted (idempotent); what ``jit trust`` prints."""
    f = _existing(git)
    if f.data is None:
        raise ValidationError(f"{f.path} is not valid TOML ({f.error}); nothing was trusted",
                              hint=f"fix {TOML} first, then run 'jit trust' again")
    before = is_trusted(git, f)
    if not before:
        git.config_add_multivar(TRUST_KEY, f.digest)
    return {**trust_status(git), "changed": not before}


def revoke_jit_toml(git: Any) -> dict[str, Any]:
    """Stop trusting the current content of jit.toml; what ``jit trust --revoke`` prints."""
    f = _existing(git)
    removed = git.config_remove_multivar(TRUST_KEY, f.digest)
    return {**trust_status(git), "changed": bool(removed)}

#: events whose commit is signed when this clone has a signing key (``jit.signingKey``)
SIGNED_TYPES = frozenset({"gate_passed"})
_TRUE = ("true", "yes", "on", "1")


def signer_for(git: Any) -> Callable[[list[Event]], Callable[[bytes], bytes] | None] | None:
    """With ``git config jit.signingKey <ssh key file>``: a function that, for a write adding a gate
    pass, returns a signer (``ssh-keygen -Y sign -n git``, the format ``git commit -S`` uses with
    ``gpg.format=ssh``). None when no key is configured."""
    key = git.config_get("jit.signingKey")
    if not key:
        return None
    key = os.path.expanduser(key)

    def sign(data: bytes) -> bytes:
        try:
            import subprocess  # here: only signing and verifying run ssh-keygen; the reads never do

            p = subprocess.run(["ssh-keygen", "-Y", "sign", "-n", "git", "-f", key], input=data,
                               capture_output=True, timeout=120, check=False)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise ExternalError(f"could not sign with {key}: {e}", hint="check jit.signingKey") from None
        if p.returncode != 0 or not p.stdout.startswith(b"-----BEGIN SSH SIGNATURE-----"):
            raise ExternalError(f"could not sign with {key}: {p.stderr.decode(errors='replace').strip()[-300:]}",
                                hint="check jit.signingKey (an SSH private key, or a public key in ssh-agent)")
        return p.stdout

    return lambda evs: sign if any(e.type in SIGNED_TYPES for e in evs) else None


class GatePolicy:
    def __init__(self, git: Any, store: Any = None):
        self.git = git
        self.store = store  # needed only to check signatures (it reads the history of a ref)
        self._cache: dict[str, tuple[list[str], str | None]] = {}
        self._toml: dict[str, Any] | None = None

    def _jit_toml(self) -> dict[str, Any]:
        if self._toml is None:
            # trusted or not: these policies only ever make fewer passes count (see the module's doc)
            f = read_jit_toml(self.git)
            self._toml = (f.data if f is not None else None) or {}
        return self._toml

    def patterns(self, key: str) -> tuple[list[str], str | None]:
        """(patterns, where they come from); ([], None) when the gate has no policy."""
        if key not in self._cache:
            pats = [p.strip() for v in self.git.config_get_all(f"jit-gate.{key}.allow") for p in v.split(",")
                    if p.strip()]
            src: str | None = f"git config jit-gate.{key}.allow" if pats else None
            if not pats:
                gates = self._jit_toml().get("gates")
                v = (gates.get(key) or {}).get("allow") if isinstance(gates, dict) else None
                if isinstance(v, str):
                    v = [v]
                if isinstance(v, list):
                    pats = [p for p in v if isinstance(p, str) and p.strip()]
                    src = f"jit.toml [gates.{key}] allow" if pats else None
            self._cache[key] = (pats, src)
        return self._cache[key]

    def rule(self, key: str) -> str:
        pats, src = self.patterns(key)
        return f"{src} = {', '.join(pats)}" if pats else f"no policy for gate '{key}'"

    def signed(self, key: str) -> bool:
        """``jit-gate.<key>.signed true`` (or ``signed = true`` in jit.toml): a pass counts only if the
        commit that recorded it is signed by a key ``gpg.ssh.allowedSignersFile`` lists for the passer."""
        v = self.git.config_get(f"jit-gate.{key}.signed")
        if v is None:
            gates = self._jit_toml().get("gates")
            t = (gates.get(key) or {}).get("signed") if isinstance(gates, dict) else None
            return t is True
        return v.strip().lower() in _TRUE

    def allowed(self, key: str, who: str | None) -> str | None:
        """The allow-list part alone: None when ``who`` may pass ``key`` (or no list applies)."""
        pats, _src = self.patterns(key)
        if pats and not (who and any(fnmatch.fnmatchcase(who, p) for p in pats)):
            return (f"passed by {who or 'nobody named'}, who may not pass gate '{key}' under the local policy "
                    f"({self.rule(key)}); not counted")
        return None

    def check(self, key: str, who: str | None, *, ref: str | None = None, tip: str | None = None,
              events: Iterable[Event] = ()) -> str | None:
        """None when the pass of gate ``key`` by ``who`` counts here; else the reason it does not. The
        signature check needs the ref, its tip and its events (the pass is their last gate event)."""
        note = self.allowed(key, who)
        if note:
            return note
        if self.signed(key):
            why = self._signature(key, who, ref, tip, list(events))
            if why:
                return f"passed by {who}, but {why} (jit-gate.{key}.signed); not counted"
        return None

    def _signature(self, key: str, who: str | None, ref: str | None, tip: str | None,
                   events: list[Event]) -> str | None:
        from ..core.event import Event

        last = [e for e in sorted(events, key=Event.sort_key)
                if e.type in ("gate_passed", "gate_failed") and e.gate_key == key and not e.derived]
        if not last or last[-1].type != "gate_passed" or self.store is None or not tip:
            return "its signature could not be looked up"
        commit = self._introduced(tip, last[-1].id)
        from ..git import raw

        sig = raw.commit_signature(self.git, commit) if commit else None
        if sig is None:
            return f"the commit that recorded it ({(commit or '?')[:12]}) is not signed"
        allowed = self.git.config_get("gpg.ssh.allowedSignersFile")
        if not allowed:
            return "gpg.ssh.allowedSignersFile is not set, so no signature can be checked"
        import subprocess
        import tempfile

        with tempfile.NamedTemporaryFile(suffix=".sig") as f:
            f.write(sig[0])
            f.flush()
            try:
                p = subprocess.run(["ssh-keygen", "-Y", "verify", "-f", os.path.expanduser(allowed), "-I",
                                    who or "", "-n", "git", "-s", f.name], input=sig[1], capture_output=True,
                                   timeout=60, check=False)
            except (OSError, subprocess.TimeoutExpired) as e:
                return f"its signature could not be checked ({e})"
        if p.returncode != 0:
            return f"the signature on {commit[:12]} is not one {allowed} accepts for {who}"  # type: ignore[index]
        return None

    def _introduced(self, tip: str, event_id: str) -> str | None:
        """The commit that added event ``event_id``: walk back while a parent already holds it."""
        c, steps = tip, 0
        while steps < 100_000:
            nxt = None
            for p in self.git.parents(c):
                try:
                    if any(e.id == event_id for e in self.store.events_at(p, where="history")):
                        nxt = p
                        break
                except ValidationError:
                    continue
            if nxt is None:
                return c
            c, steps = nxt, steps + 1
        return None

    def untrusted(self, st: IssueState, *, ref: str | None = None, tip: str | None = None,
                  events: Iterable[Event] = ()) -> dict[str, str]:
        """Gate key -> note, for each gate of ``st`` that stands passed but does not count here."""
        out: dict[str, str] = {}
        evs = list(events)
        for key, g in st.gates.items():
            if g.status.value == "passed":
                note = self.check(key, g.by, ref=ref, tip=tip, events=evs)
                if note:
                    out[key] = note
        return out

    def annotate(self, issue: dict[str, Any], *, ref: str | None = None, tip: str | None = None,
                 events: Iterable[Event] = ()) -> dict[str, Any]:
        """Add ``trusted`` and ``note`` to each gate of an issue's JSON (``issue show``)."""
        evs = list(events)
        for g in issue.get("gates") or []:
            note = self.check(g["key"], g.get("by"), ref=ref, tip=tip, events=evs) \
                if g.get("status") == "passed" else None
            g["trusted"] = note is None
            g["note"] = note
        return issue


def no_gate_policy(git_dir: str, common: str, workdir: str | None) -> bool:
    """True when no local gate policy can apply, decided without opening the repository: no
    configuration file libgit2 may read mentions ``jit-gate`` or includes another file, no
    ``jit.toml`` in the work tree, no configuration from the environment. Then every gate of an
    issue is trusted (the index reader's ``issue show``, gitjit/app/reader.py); otherwise the
    ``GatePolicy`` of an opened repository decides."""
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
