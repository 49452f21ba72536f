"""Where the shared docs are, for the tests that check the repo against them.

The shared folder is not part of this repo: it sits beside the clone (``../shared``), or wherever
``QMF_SHARED_DIR`` says. A developer's clone may not have it, and a test that needs it is skipped
there. On CI (``CI=true``) or when ``QMF_SHARED_DIR`` is set (``.ci/run`` sets it), a missing
file fails the test instead: a check that silently stopped running would look like a pass.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    configured = os.environ.get("QMF_SHARED_DIR")
    return Path(configured) if configured else REPO.parent / "shared"


def must_have_shared() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1") or bool(os.environ.get("QMF_SHARED_DIR"))


def shared_file(*parts: str) -> Path:
    """The file in the shared folder; a skip when it is absent on a developer's machine, else a failure."""
    path = shared_dir().joinpath(*parts)
    if not path.is_file():
        where = f"{path} does not exist (QMF_SHARED_DIR={os.environ.get('QMF_SHARED_DIR', '<unset>')})"
        if must_have_shared():
            pytest.fail(f"the shared docs are required here (CI or QMF_SHARED_DIR set): {where}")
        pytest.skip(f"the shared docs are not beside this clone: {where}; set QMF_SHARED_DIR to run this")
    return path
