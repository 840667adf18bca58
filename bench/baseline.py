"""The rules engine of another revision, for same-run comparisons (bench/rules_speed.py,
bench/rules_verdicts_diff.py): `exported(rev)` unpacks that commit's tree into a temporary
directory with `git archive`, so nothing in the checkout or its worktrees changes."""

from __future__ import annotations

import contextlib
import io
import subprocess
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BASELINE = "8997d03"  # the merge-base of issue 19's rules-engine work


@contextlib.contextmanager
def exported(rev: str):
    """The directory holding the tree of `rev` (removed on exit)."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", rev],
                             capture_output=True, check=True).stdout
    with tempfile.TemporaryDirectory(prefix="qunzhu-baseline-") as tmp:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        yield Path(tmp)
