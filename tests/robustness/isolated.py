"""Run a snippet in a fresh interpreter, so that a crash (segfault, abort) or a hang shows up as a
failed test instead of taking pytest down with it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import axonal

_PRELUDE = """
import sys
import numpy as np
import axonal
from axonal import _cpu
try:
{body}
except Exception as e:
    print("RAISED", type(e).__name__, str(e))
    sys.exit(0)
print("RETURNED")
"""


def outcome(code: str, timeout: float = 60.0) -> str:
    """'RAISED <ExceptionType> <message>' or 'RETURNED' (a crash or a hang fails the assert)."""
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(axonal.__file__)))
    env["PYTHONPATH"] = os.pathsep.join([root, env.get("PYTHONPATH", "")])
    env.setdefault("AXONAL_NUM_THREADS", "2")
    body = textwrap.indent(textwrap.dedent(code).strip(), "    ")
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _PRELUDE.format(body=body)],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
        )
    except subprocess.TimeoutExpired:
        raise AssertionError(f"hung for more than {timeout} s:\n{code}") from None
    assert proc.returncode == 0, (
        f"the process died (exit code {proc.returncode}):\n{code}\n{proc.stderr[-3000:]}"
    )
    lines = proc.stdout.strip().splitlines()
    return lines[-1] if lines else ""


def raises(code: str, exc: str, *fragments: str, timeout: float = 60.0) -> str:
    """Assert that ``code`` raises ``exc`` with every fragment in its message; return the line."""
    line = outcome(code, timeout)
    assert line.startswith(f"RAISED {exc} "), f"expected {exc}, got {line!r}"
    for f in fragments:
        assert f in line, f"{f!r} not in {line!r}"
    return line
