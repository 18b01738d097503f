"""gitjit: a git-native Just-In-Time issue tracker for AI agents.

The library's face is ``gitjit.api`` (``from gitjit.api import Tracker``); the command line is
``gitjit.cli``; docs/design.md draws the layers in between.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]

