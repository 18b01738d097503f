"""Gates on issues and the gate registry: methods of ``Tracker`` (gitjit/api.py), kept in their own
module to keep each one readable. Everything here goes through ``Tracker._write_issue`` and the
gate-definition refs (``refs/jit/gates/<key>``); checker commands come only from local configuration."""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from typing import Any

from ..core.board import Board, short
from ..core.errors import (
    AlreadyExistsError,
    BlockedError,
    ExternalError,
    NotFoundError,
    UntrustedError,
    UsageError,
)
from ..core.event import Event
from ..core.fold import fold_gate
from ..core.model import LIMITS, GateDef, IssueState, check_description, check_gate_key, check_title
from ..core.refs import GATES
from ..store.entities import Loaded
from .base import Spec, TrackerBase


class GateOps(TrackerBase):
    """``Tracker``'s gate methods (a mixin: ``self`` is the Tracker)."""


    def gate_add(self, prefix: str, keys: Iterable[str], *, by: str | None = None) -> dict[str, Any]:
        ks = [check_gate_key(k) for k in keys]
        iid = self.resolve(prefix)
        b = self.board()
        for k in ks:
            if k not in b.gate_defs:
                self.store.warn(f"gate '{k}' is not in the registry; it is treated as a manual postcheck gate")
        out: dict[str, Any] = {"issue_id": iid, "added": [], "already_exist": []}

        def fn(st: IssueState, b: Board) -> list[Spec]:
            out["added"], out["already_exist"] = [], []
            specs = []
            for k in dict.fromkeys(ks):
                if k in st.gates:
                    out["already_exist"].append(k)
                else:
                    out["added"].append(k)
                    specs.append({"type": "gate_added", "gate_key": k})
            if len(st.gates) + len(specs) > LIMITS["gates"]:
                raise UsageError(f"an issue holds at most {LIMITS['gates']} gates")
            return specs

        self._write_issue(iid, fn, by=by, what="gate-add")
        return out

    def gate_remove(self, prefix: str, key: str, *, by: str | None = None) -> dict[str, Any]:
        iid = self.resolve(prefix)

        def fn(st: IssueState, b: Board) -> list[Spec]:
            if key not in st.gates:
                raise NotFoundError(f"issue {iid} does not require gate '{key}'")
            return [{"type": "gate_removed", "gate_key": key}]

        self._write_issue(iid, fn, by=by, what="gate-remove")
        return {"issue_id": iid, "removed": key}

    def gate_set(self, prefix: str, key: str, passed: bool, *, by: str | None = None,
                 reason: str | None = None) -> dict[str, Any]:
        check_gate_key(key)
        iid = self.resolve(prefix)
        who = self.actor(by)

        def fn(st: IssueState, b: Board) -> list[Spec]:
            if key not in st.gates:
                # not found (exit 3), like gate remove: the gate is absent from the issue
                raise NotFoundError(
                    f"issue {iid} does not require gate '{key}'",
                    hint=f"add it first: jit gate add {short(iid)} {key}",
                    details={"issue_id": iid, "gate_key": key, "required": list(st.gates)},
                )
            if passed:
                from .trust import GatePolicy

                pol = GatePolicy(self.git)
                if pol.allowed(key, who):
                    raise BlockedError(f"{who} may not pass gate '{key}' under the local policy ({pol.rule(key)})",
                                       hint="ask someone the policy allows, or change the policy",
                                       details={"issue_id": iid, "gate_key": key, "by": who})
                if pol.signed(key) and self.store.signer is None:
                    raise BlockedError(f"gate '{key}' takes signed passes only (jit-gate.{key}.signed), and this "
                                       "clone has no signing key", hint="git config jit.signingKey ~/.ssh/id_ed25519",
                                       details={"issue_id": iid, "gate_key": key})
            spec: Spec = {"type": "gate_passed" if passed else "gate_failed", "gate_key": key, "by": who}
            if reason:
                spec["reason"] = check_description(reason)
            return [spec]

        self._write_issue(iid, fn, by=by, what="gate-pass" if passed else "gate-fail")
        return {"issue_id": iid, "gate_key": key, "status": "passed" if passed else "failed", "by": who,
                "state": self.board().states.get(iid)}

    def gate_run(self, prefix: str, key: str, *, by: str | None = None, timeout: float = 600) -> dict[str, Any]:
        """Run the gate's checker command (local configuration only) and record pass or fail. A
        command from a jit.toml this clone has not trusted is not run (``UntrustedError``)."""
        iid = self.resolve(prefix)
        cmd, source, trusted = self.gate_checker(key)
        if not cmd:
            raise NotFoundError(
                f"gate '{key}' has no checker command in this clone's configuration",
                hint=f"set one with: jit registry add {key} --title ... --auto --command CMD "
                     f"(or [gates.{key}] command in jit.toml); commands are never taken from synced data",
            )
        if not trusted:
            raise untrusted_error(self.git, key, cmd)
        cwd = str(self.git.workdir or self.git.common_dir)
        env = {**_os_environ(), "JIT_ISSUE_ID": iid, "JIT_GATE_KEY": key}
        try:
            proc = subprocess.run(cmd, shell=True, cwd=cwd, env=env, capture_output=True, text=True,
                                  timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            self.gate_set(iid, key, False, by=by, reason=f"checker timed out after {timeout:g}s")
            raise ExternalError(f"gate '{key}' checker timed out after {timeout:g}s") from None
        ok = proc.returncode == 0
        res = self.gate_set(iid, key, ok, by=by or f"checker:{key}",
                            reason=None if ok else f"exit {proc.returncode}")
        res.update({"exit_code": proc.returncode, "command": cmd, "command_source": source,
                    "stdout": proc.stdout[-4000:], "stderr": proc.stderr[-4000:]})
        if not ok:
            raise BlockedError(f"gate '{key}' failed: checker exited {proc.returncode}", details=res,
                               hint="fix what the checker reports (its output is in details), then run it again")
        return res

    # ------------------------------------------------------------------ gate registry

    def _gate_defs(self) -> dict[str, GateDef]:

        got = self.index.gatedefs()
        if got is not None:
            return got
        return {k: fold_gate(k, ld.events) for k, ld in self.store.load_all(GATES).items()}

    def registry_add(self, key: str, *, title: str, description: str = "", mode: str = "manual",
                     stage: str = "postcheck", command: str | None = None, by: str | None = None) -> dict[str, Any]:
        key = check_gate_key(key)
        title = check_title(title)
        description = check_description(description or "")
        if mode not in ("auto", "manual"):
            raise UsageError(f"unknown gate mode {mode!r}", hint="use --auto or --manual")
        if stage not in ("precheck", "postcheck"):
            raise UsageError(f"unknown gate stage {stage!r}", hint="use precheck or postcheck")
        if command is not None and ("\n" in command or not command.strip()):
            raise UsageError("--command must be one non-empty line")
        self._ensure_init()
        actor = self.actor(by)

        def build(cur: Loaded | None) -> list[Event]:
            g = fold_gate(key, cur.events) if cur else None
            if g is not None and not g.removed:
                raise AlreadyExistsError(f"gate '{key}' is already defined",
                                         hint=f"see it with 'jit registry show {key}'")
            clock = (g.clock if g else 0) + 1
            return [self._event("gate_defined", issue_id=None, clock=clock, actor=actor, gate_key=key,
                                title=title, description=description, mode=mode, stage=stage)]

        self.store.append(GATES, key, build, message=f"define gate {key}", author=self._author(actor),
                          what="registry-add")
        if command is not None:
            self.git.config_set(f"jit-gate.{key}.command", command)
        self._board = None
        return self.registry_show(key)

    def registry_remove(self, key: str, *, by: str | None = None) -> dict[str, Any]:
        actor = self.actor(by)

        def build(cur: Loaded | None) -> list[Event]:
            g = fold_gate(key, cur.events) if cur else None
            if g is None or g.removed:
                raise NotFoundError(f"gate '{key}' is not defined", hint="see 'jit registry list'")
            return [self._event("gate_definition_removed", issue_id=None, clock=g.clock + 1, actor=actor,
                                gate_key=key)]

        self.store.append(GATES, key, build, message=f"remove gate {key}", author=self._author(actor),
                          what="registry-remove")
        self.git.config_unset(f"jit-gate.{key}.command")
        self._board = None
        return {"gate_key": key, "removed": True}

    def registry_list(self) -> dict[str, Any]:
        gates = [self._gate_json(g) for k, g in sorted(self._gate_defs().items()) if not g.removed]
        return {"gates": gates, "count": len(gates)}

    def registry_show(self, key: str) -> dict[str, Any]:
        g = self._gate_defs().get(key)
        if g is None or g.removed:
            raise NotFoundError(f"gate '{key}' is not defined", hint="see 'jit registry list'")
        return self._gate_json(g)

    def _gate_json(self, g: GateDef) -> dict[str, Any]:
        cmd, src, trusted = self.gate_checker(g.key)
        return {"key": g.key, "title": g.title, "description": g.description, "mode": g.mode,
                "auto": g.mode == "auto", "stage": g.stage, "command": cmd, "command_source": src,
                "command_trusted": trusted if cmd else None,
                "created_at": g.created_at, "updated_at": g.updated_at}

    def gate_command(self, key: str) -> tuple[str | None, str | None]:
        """The checker command for ``key`` from *local* configuration only: git config first, then a
        committed ``jit.toml`` in the work tree. Synced refs never carry commands. Whether it may
        run is ``gate_checker``'s third answer."""
        cmd, src, _trusted = self.gate_checker(key)
        return cmd, src

    def gate_checker(self, key: str) -> tuple[str | None, str | None, bool]:
        """``(command, source, trusted)`` for gate ``key``: a command in this clone's git config is
        trusted; one in jit.toml only if this clone trusted that content (``jit trust``,
        gitjit/trust.py). ``(None, None, False)`` when there is none."""
        cmd = self.git.config_get(f"jit-gate.{key}.command")
        if cmd:
            return cmd, "git-config", True
        from .trust import is_trusted, read_jit_toml

        f = read_jit_toml(self.git)
        if f is None:
            return None, None, False
        if f.data is None:
            self.store.warn(f"{f.path} is not valid TOML; ignored")
            return None, None, False
        c = f.commands().get(key)
        if c is None:
            return None, None, False
        return c, "jit.toml", is_trusted(self.git, f)

    def jit_toml_trust(self, action: str = "show") -> dict[str, Any]:
        """``jit trust``: ``show`` the work tree's jit.toml and whether this clone trusts it,
        ``trust`` its current content, or ``revoke`` that trust."""
        from . import trust

        if action == "trust":
            return trust.trust_jit_toml(self.git)
        if action == "revoke":
            return trust.revoke_jit_toml(self.git)
        if action == "show":
            return trust.trust_status(self.git)
        raise UsageError(f"unknown trust action {action!r}", hint="use show, trust or revoke")


def untrusted_error(git: Any, key: str, cmd: str) -> UntrustedError:
    """The refusal to run gate ``key``'s command ``cmd`` from an untrusted jit.toml."""
    from .trust import read_jit_toml

    f = read_jit_toml(git)
    return UntrustedError(
        f"jit.toml is not trusted in this clone, so the command of gate '{key}' was not run: {cmd}",
        hint="read jit.toml; if its commands are fine, run 'jit trust' (it records the file's sha256 in "
             "this clone's git config; a changed jit.toml must be trusted again)",
        details={"gate_key": key, "command": cmd, "path": str(f.path) if f else None,
                 "sha256": f.digest if f else None})


def _os_environ() -> dict[str, str]:
    import os

    return dict(os.environ)
