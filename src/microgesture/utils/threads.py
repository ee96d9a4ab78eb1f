"""Torch intra-op threads for a block of work.

Why: small models (window classifiers, learned emotion reasoners) gain little from intra-op threads, and on
a machine whose cores are shared (two cores, other jobs) extra threads make them many times slower, not
faster. Callers that know their work is small ask for one thread for the duration of a block.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run a block with ``n`` torch intra-op threads (``None``: unchanged), restoring the setting after."""
    if n is None:
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(max(1, int(n)))
    try:
        yield
    finally:
        torch.set_num_threads(old)
