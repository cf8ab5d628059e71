"""One part of the report computed in a forked child while the parent computes the rest (issue 13, item 5).

``zhijian report`` is single-threaded pandas; on a month of runs the seed KPIs and the questions'
answers (FCR's repeat-contact search, the answers' JSON, the peak hours …) take a quarter of the time
and depend on nothing the other sections compute. On Linux a fork shares the loaded tables without a
copy, the child computes its part and sends the result back pickled through a pipe, and the parent
goes on meanwhile: two cores instead of one. Only above ``report.fork_from_conversations``
conversations (a small report pays more for the fork than it saves) and where ``os.fork`` exists.

The result is the same either way: the child runs the same function on the same objects, and if it
fails in any way (an exception, a signal, a result that won't unpickle) the parent computes the part
itself. ``tests/test_report_fork.py`` compares whole reports computed both ways.
"""

from __future__ import annotations

import os
import pickle
from typing import Any, Callable


class ForkedCall:
    """``ForkedCall(fn, *args, fork=True).result()`` == ``fn(*args)``, computed in a child process
    started at construction when ``fork`` (and the platform allows it)."""

    def __init__(self, fn: Callable[..., Any], *args: Any, fork: bool = True):
        self._fn, self._args = fn, args
        self._pid: int | None = None
        self._read: int | None = None
        if not (fork and hasattr(os, "fork")):
            return
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: compute, send, leave without running the parent's exit handlers
            os.close(read)
            status = 1
            try:
                data = pickle.dumps(fn(*args), protocol=pickle.HIGHEST_PROTOCOL)
                with os.fdopen(write, "wb") as out:
                    out.write(data)
                status = 0
            finally:
                os._exit(status)
        os.close(write)
        self._pid, self._read = pid, read

    @property
    def forked(self) -> bool:
        return self._pid is not None

    def result(self) -> Any:
        if self._pid is None:
            return self._fn(*self._args)
        with os.fdopen(self._read, "rb") as src:
            data = src.read()
        _, status = os.waitpid(self._pid, 0)
        self._pid = None
        if status == 0:
            try:
                return pickle.loads(data)
            except Exception:  # noqa: BLE001 — a truncated or foreign payload: compute it here instead
                pass
        return self._fn(*self._args)
