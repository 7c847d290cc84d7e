"""Limits on one batch item, as Celery's prefork pool has them: a soft time limit raised in the
worker process (`soft_time_limit`), and a cap on the worker's memory (`limit_memory`). The hard
limit is the deadline written on a claimed item, enforced by whoever supervises the worker."""

from __future__ import annotations

import contextlib
import signal
import threading


class ItemTimeLimit(BaseException):
    """The item ran past its soft time limit. A BaseException, like KeyboardInterrupt: the
    extractors keep going past a failed page (`except Exception`), and must not take the end
    of the item's time for one page's failure, nor cache what they read until then."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@contextlib.contextmanager
def soft_time_limit(seconds: int):
    """Raise ItemTimeLimit in this process after `seconds`. Only the main thread receives
    signals; elsewhere (a threaded test worker) the hard limit alone applies."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expired(_signum, _frame):
        raise ItemTimeLimit(f"took longer than the time limit of {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def limit_memory(megabytes: int) -> None:
    """Cap this process's address space (never raising a lower cap already set)."""
    import resource

    if megabytes <= 0:
        return
    wanted = megabytes * 1024 * 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY or soft > wanted:
        limit = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
