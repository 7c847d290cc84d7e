"""Seconds per stage, recorded by the stages themselves.

The code marks its stages (`with stage("ocr"): ...`); a caller that wants the times (the
benchmark) wraps its work in `with record_stages() as seconds:`. Each stage is timed where it
runs, so renaming or moving a function cannot silently move its time elsewhere, as patching
functions by name did. Times are exclusive: a stage running inside another (OCR inside reading
the text, a whole re-read inside the checks) counts once, for itself, and is taken out of the
one around it.

With no recorder active, `stage` costs one ContextVar lookup and returns a shared no-op
context manager. The open stages live in a ContextVar (a chain of frames set and reset with
tokens), so threads and asyncio tasks each keep their own.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Iterator

__all__ = ["record_stages", "stage"]


class _Frame:
    """The recorder's totals, and the seconds spent in stages directly inside this one."""

    __slots__ = ("inner", "seconds")

    def __init__(self, seconds: dict[str, float]) -> None:
        self.seconds = seconds
        self.inner = 0.0


_current: contextvars.ContextVar[_Frame | None] = contextvars.ContextVar(
    "kiemchung_stage", default=None)
_UNTIMED = contextlib.nullcontext()     # stateless: one instance serves every untimed stage


class _Timed:
    __slots__ = ("frame", "name", "parent", "start", "token")

    def __init__(self, name: str, parent: _Frame) -> None:
        self.name = name
        self.parent = parent

    def __enter__(self) -> None:
        self.frame = _Frame(self.parent.seconds)
        self.token = _current.set(self.frame)
        self.start = time.perf_counter()

    def __exit__(self, *exc_info: object) -> None:
        elapsed = time.perf_counter() - self.start
        _current.reset(self.token)
        seconds = self.frame.seconds
        seconds[self.name] = seconds.get(self.name, 0.0) + elapsed - self.frame.inner
        self.parent.inner += elapsed


def stage(name: str) -> contextlib.AbstractContextManager[None]:
    """Time the block as stage `name` for the active recorder, if any (also when it raises)."""
    parent = _current.get()
    return _UNTIMED if parent is None else _Timed(name, parent)


@contextlib.contextmanager
def record_stages() -> Iterator[dict[str, float]]:
    """Record the stages run inside the block: yields {stage: exclusive seconds}, filled as
    they finish (only stages that ran have a key). A recorder inside another takes the
    stages of its block for itself; to the outer one that block is time of the stage around
    it (or of none)."""
    seconds: dict[str, float] = {}
    token = _current.set(_Frame(seconds))
    try:
        yield seconds
    finally:
        _current.reset(token)
