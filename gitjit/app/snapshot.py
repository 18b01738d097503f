"""``jit snapshot export|verify``: the whole tracker at one moment, as a self-contained archive.

The export lists the jit refs once and reads everything from the commits that listing named, so
the snapshot is one consistent set of refs even while other processes write: a write that lands
during the export is simply not in it. Layout (a directory, or the same files in a tar archive)::

    manifest.json              format, version, when, HEAD, counts, and every other file with
                               its SHA-256 and size
    refs.json                  {"refs": {ref name: commit id}}: the refs the snapshot was read from
    issues/<id>.json           each issue as `jit issue show --json` prints it
    gates/<key>.json           each gate definition
    events/issues/<id>.jsonl   each entity's events.jsonl, byte for byte as stored at that commit
    events/gates/<key>.jsonl   (deleted issues included: their history is part of the tracker)
    documents/<path>           the documents issues reference, as committed at the recorded commit

``verify`` recomputes every checksum and size, refuses files the manifest does not list, and
parses every event document; it reads a tar archive without extracting it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from .. import __version__
from ..core.board import Board, issue_json
from ..core.docs import check_doc_path, fold_documents
from ..core.errors import AlreadyExistsError, GitjitError, NotFoundError, UsageError, ValidationError
from ..core.fold import fold_gate, fold_issue, parse_events
from ..core.model import GATE_KEY_RE, ISSUE_ID_RE, now_ts
from ..core.refs import DOC, GATES, ISSUES, LOCAL
from ..git import BadRef

__all__ = ["FORMAT", "VERSION", "export_snapshot", "verify_snapshot"]

FORMAT = "gitjit-snapshot"
VERSION = 1
#: a snapshot larger than this is not verified (a hostile archive could claim any size)
MAX_FILE = 256 * 1024 * 1024


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _dump(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def collect(tracker: Any) -> tuple[dict[str, bytes], dict[str, Any]]:
    """Every file of a snapshot but the manifest, by archive path, and the manifest's counts."""
    git = tracker.git
    tips = git.tips(LOCAL)  # the one listing of the refs: everything below is read at these commits
    wanted: list[tuple[str, str, str]] = []  # (kind, key, ref)
    for ref in sorted(tips):
        if ref.startswith(ISSUES) and ISSUE_ID_RE.fullmatch(ref[len(ISSUES):]):
            wanted.append(("issues", ref[len(ISSUES):], ref))
        elif ref.startswith(GATES) and GATE_KEY_RE.fullmatch(ref[len(GATES):]):
            wanted.append(("gates", ref[len(GATES):], ref))
        else:
            tracker.store.warn(f"snapshot: skipping {ref} (not an issue or gate ref; see 'jit doctor')")
    files: dict[str, bytes] = {}
    refs: dict[str, str] = {}
    issues: dict[str, Any] = {}
    gates: dict[str, Any] = {}
    events_of: dict[str, Any] = {}
    n_events = 0
    read = git.read_files([tips[r] for _, _, r in wanted], DOC)
    try:
        for (kind, key, ref), data in zip(wanted, read):
            if isinstance(data, BadRef):
                tracker.store.warn(f"snapshot: skipping {ref}: {data} (see 'jit doctor')")
                continue
            try:
                evs = parse_events(data, where=ref)
            except ValidationError as e:
                tracker.store.warn(f"snapshot: skipping {ref}: {e.message} (see 'jit doctor')")
                continue
            refs[ref] = tips[ref]
            files[f"events/{kind}/{key}.jsonl"] = data
            n_events += len(evs)
            if kind == "issues":
                issues[key] = fold_issue(key, evs)
                events_of[key] = evs
            else:
                gates[key] = fold_gate(key, evs)
    finally:
        read.close()
    board = Board(issues, gates)
    for iid, st in issues.items():
        if not st.deleted:
            files[f"issues/{iid}.json"] = _dump(issue_json(board, iid))
    for key, g in gates.items():
        if not g.removed:
            files[f"gates/{key}.json"] = _dump(g.to_json())
    docs, skipped = 0, []
    for iid, st in sorted(issues.items()):
        if st.deleted:
            continue
        for d in fold_documents(events_of[iid]):
            name = _doc_name(d["path"])
            if name is None or name in files:
                continue
            data = git.read_path(d["commit"], d["path"]) if d["commit"] else None
            if data is None or _clashes(name, files):
                skipped.append({"issue_id": iid, "path": d["path"], "commit": d["commit"]})
                continue
            files[name] = data
            docs += 1
    files["refs.json"] = _dump({"refs": refs})
    counts = {"issues": sum(not st.deleted for st in issues.values()),
              "deleted_issues": sum(st.deleted for st in issues.values()),
              "gates": sum(not g.removed for g in gates.values()), "events": n_events, "refs": len(refs),
              "documents": docs}
    return files, {"counts": counts, "documents_skipped": skipped}


def _doc_name(path: str) -> str | None:
    try:
        return "documents/" + check_doc_path(path)
    except UsageError:  # stored by hand or by a hostile clone: never written out
        return None


def _clashes(name: str, files: dict[str, bytes]) -> bool:
    """``name`` would be both a file and a directory of the archive."""
    return any(f.startswith(name + "/") or name.startswith(f + "/") for f in files)


def export_snapshot(tracker: Any, *, out: str | None = None, fmt: str = "dir", force: bool = False) -> dict[str, Any]:
    """Write the snapshot to ``out`` (a directory, or a ``.tar`` file with ``fmt="tar"``); an
    existing ``out`` is refused unless ``force``. Written next to ``out`` first and renamed into
    place, so a failed export leaves nothing behind. Returns what was written."""
    if fmt not in ("dir", "tar"):
        raise UsageError(f"unknown snapshot format {fmt!r}", hint="use dir or tar")
    stamp = now_ts()
    if out is None:
        out = "jit-snapshot-" + stamp[:19].replace("-", "").replace(":", "") + (".tar" if fmt == "tar" else "")
    dest = Path(out)
    if (dest.exists() or dest.is_symlink()) and not force:
        raise AlreadyExistsError(f"{dest} exists already", hint="choose another --out, or replace it with --force",
                                 details={"path": str(dest)})
    if not dest.parent.is_dir():
        raise NotFoundError(f"directory {dest.parent} does not exist", hint="create it first, or choose another --out")
    files, info = collect(tracker)
    manifest = {
        "format": FORMAT, "version": VERSION, "created_at": stamp, "gitjit_version": __version__,
        "head": tracker.git.resolve_commit("HEAD"), **info,
        "files": [{"path": p, "sha256": _sha(files[p]), "bytes": len(files[p])} for p in sorted(files)],
    }
    files["manifest.json"] = _dump(manifest)
    tmp = tempfile.mkdtemp(prefix=".jit-snapshot-", dir=dest.parent)
    try:
        if fmt == "dir":
            staged = Path(tmp) / "snapshot"
            for name, data in files.items():
                p = staged / name
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_bytes(data)
        else:
            staged = Path(tmp) / "snapshot.tar"
            with tarfile.open(staged, "w", format=tarfile.PAX_FORMAT) as tf:
                for name in ["manifest.json"] + sorted(n for n in files if n != "manifest.json"):
                    ti = tarfile.TarInfo(name)
                    ti.size, ti.mtime, ti.mode = len(files[name]), 0, 0o644
                    tf.addfile(ti, io.BytesIO(files[name]))
        if force and (dest.exists() or dest.is_symlink()):
            _remove(dest)
        os.rename(staged, dest)
    finally:
        _remove(Path(tmp))
    return {"path": str(dest), "format": fmt, "created_at": stamp, "files": len(files),
            "counts": info["counts"], "manifest_sha256": _sha(files["manifest.json"])}


def _remove(p: Path) -> None:
    import shutil

    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    elif p.exists() or p.is_symlink():
        p.unlink()


# ----------------------------------------------------------------------------- verify

def _read_dir(root: Path) -> dict[str, bytes | None]:
    """Every regular file under ``root`` by its relative path (None: too large, or not a regular file)."""
    out: dict[str, bytes | None] = {}
    for dirpath, dirnames, names in os.walk(root, followlinks=False):
        for n in names + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            full = os.path.join(dirpath, n)
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            ok = os.path.isfile(full) and not os.path.islink(full) and os.path.getsize(full) <= MAX_FILE
            out[rel] = Path(full).read_bytes() if ok else None
    return out


def _read_tar(path: Path) -> dict[str, bytes | None]:
    out: dict[str, bytes | None] = {}
    try:
        with tarfile.open(path, "r:*") as tf:
            for m in tf:
                if m.isdir():
                    continue
                name = m.name
                if not m.isfile() or m.size > MAX_FILE:
                    out[name] = None
                    continue
                f = tf.extractfile(m)
                out[name] = f.read() if f is not None else None
    except (tarfile.TarError, OSError, EOFError) as e:
        raise ValidationError(f"{path} is not a readable tar archive: {e}",
                              hint="check the file, or export the snapshot again") from None
    return out


def verify_snapshot(path: str) -> dict[str, Any]:
    """Check a snapshot (a directory or a tar archive): the manifest is there and of this format,
    every file it lists is there with its SHA-256 and size, no other file is, every event document
    parses, and ``refs.json`` names a commit for each of them. ``ok`` is false when anything is wrong."""
    p = Path(path)
    if p.is_dir():
        fmt, files = "dir", _read_dir(p)
    elif p.is_file():
        fmt, files = "tar", _read_tar(p)
    else:
        raise NotFoundError(f"no snapshot at {path}", hint="give the directory or .tar file that snapshot export wrote",
                            details={"path": path})
    problems: list[str] = []
    raw = files.pop("manifest.json", None)
    manifest: Any = None
    if raw is None:
        problems.append("manifest.json is missing or not a regular file")
    else:
        try:
            manifest = json.loads(raw)
        except ValueError as e:
            problems.append(f"manifest.json is not JSON: {e}")
    listed: dict[str, Any] = {}
    if isinstance(manifest, dict):
        if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
            problems.append(f"manifest.json is not a {FORMAT} version {VERSION} manifest")
        entries = manifest.get("files")
        if not isinstance(entries, list):
            problems.append("manifest.json has no file list")
            entries = []
        for ent in entries:
            if isinstance(ent, dict) and isinstance(ent.get("path"), str):
                listed[ent["path"]] = ent
            else:
                problems.append(f"manifest.json: a file entry is malformed: {str(ent)[:80]}")
    elif manifest is not None:
        problems.append("manifest.json is not a JSON object")
    for name, ent in sorted(listed.items()):
        data = files.get(name)
        if name not in files:
            problems.append(f"{name}: missing")
        elif data is None:
            problems.append(f"{name}: not a regular file, or too large")
        elif len(data) != ent.get("bytes") or _sha(data) != ent.get("sha256"):
            problems.append(f"{name}: checksum mismatch (the file was changed)")
    for name in sorted(set(files) - set(listed)):
        problems.append(f"{name}: not listed in the manifest")
    refs: dict[str, Any] = {}
    try:
        got = json.loads(files.get("refs.json") or b"null")
        if isinstance(got, dict) and isinstance(got.get("refs"), dict):
            refs = got["refs"]
    except ValueError:
        problems.append("refs.json is not JSON")
    n_events = 0
    for name, data in sorted(files.items()):
        if not name.startswith("events/") or data is None:
            continue
        kind, _, rest = name[len("events/"):].partition("/")
        key = rest.removesuffix(".jsonl")
        ref = (ISSUES if kind == "issues" else GATES) + key
        if kind not in ("issues", "gates") or not rest.endswith(".jsonl"):
            problems.append(f"{name}: not an event document of an issue or a gate")
            continue
        if not isinstance(refs.get(ref), str):
            problems.append(f"{name}: refs.json names no commit for {ref}")
        try:
            n_events += len(parse_events(data, where=name))
        except GitjitError as e:
            problems.append(e.message)
    return {"ok": not problems, "path": str(p), "format": fmt, "files": len(listed) + (raw is not None),
            "events": n_events, "refs": len(refs), "problems": problems}
