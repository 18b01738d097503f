"""Issues, gates and events on refs/jit/*, sync with remotes, and (later) the index."""

from .entities import DOC, GATES, ISSUES, EntityStore, Loaded, retrying

__all__ = ["EntityStore", "Loaded", "ISSUES", "GATES", "DOC", "retrying"]
