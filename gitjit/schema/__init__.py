"""The pydantic models of record: everything that crosses a trust edge, and every ``--json`` shape.

Validate at the edges, trust the inside (docs/design.md, "pydantic at the edges"). The data a
``jit`` process builds itself is plain Python classes (``gitjit.core.event``, ``gitjit.core.model``),
checked by nothing on the hot path; what arrives from outside is held to these models:

* ``events``    a stored event line: what a pull, a fetch, the merge driver and ``jit doctor`` take
                from a remote or a hand-made ref; the events as printed; webhook payloads
* ``inputs``    ``jit import`` lines, ``--context`` values given on the command line
* ``dispatch``  ``dispatch.toml``
* ``outputs``   the ``--json`` output of every command, and the error object
* ``catalog``   every model by name (``jit schema NAME``) and which command prints which

This layer sits right above the pure core (it uses the core's checks, so the two never
disagree, and tests/test_schema.py holds them to it) and below everything that does I/O. Importing
it imports pydantic (~80 ms): the hot paths (``jit issue claim``/``claim-next``/``update`` and the
reads the index answers) never do, which tests/test_schema.py checks in a real process.
"""

from __future__ import annotations

__all__: list[str] = []
