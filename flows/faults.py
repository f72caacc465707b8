"""Fault injection for crash tests: NEWSCLEAN_FAULT="kill:<point>" or "enospc:<point>".

Points are "before:<task name>" for every task, and inside publishing "write:<table>",
"publish:before-switch" and "publish:after-switch". Unset (always, outside tests), this does nothing.
"""

from __future__ import annotations

import errno
import os
import signal


def point(name: str) -> None:
    spec = os.environ.get("NEWSCLEAN_FAULT")
    if not spec:
        return
    for fault in spec.split(","):
        kind, _, where = fault.partition(":")
        if where != name:
            continue
        if kind == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if kind == "enospc":
            raise OSError(errno.ENOSPC, f"No space left on device (injected at {name})")
