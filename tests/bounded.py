"""A memory bound for tests of code that once built something the size of a hostile number.

Without the bound such a test, run against the old code, would not fail: it would eat the
machine's memory until the kernel killed the test run (and perhaps a neighbour). Under the bound
the old code raises MemoryError within a second, and the fixed code never comes near it.
"""

from __future__ import annotations

import contextlib
import resource
from collections.abc import Iterator


def _address_space() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmSize in /proc/self/status")


@contextlib.contextmanager
def memory_headroom(megabytes: int = 512) -> Iterator[None]:
    """Let the block allocate at most about `megabytes` more address space (MemoryError beyond)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = _address_space() + megabytes * 1024 * 1024
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
