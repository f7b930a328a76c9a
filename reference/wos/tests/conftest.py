"""Fixtures of the reference WOS's tests; helpers live in wos_support.py.

(A module named conftest cannot be imported by tests when the suite's other conftest files
are collected in the same session, so the helpers have a name of their own.)
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent.parent), str(Path(__file__).resolve().parent)]

from wos_support import harness, live, make_harness  # noqa: E402,F401  (fixtures)
