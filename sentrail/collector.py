"""How often Python's cycle collector runs in sentrail's processes.

Decoding a batch of the log or a request's event makes hundreds of thousands
of small dicts and lists that live until the batch is folded. With Python's
default thresholds the collector runs every 700 new containers and, each
time, walks everything the batch holds so far: about a third of a catch-up
or a rebuild went there. sentrail makes few reference cycles, so collecting
every 50,000 containers costs nothing in memory that matters."""
from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000
OLDER_THRESHOLD = 20


def tune_collector() -> None:
    """Collect young objects every YOUNG_THRESHOLD containers; call at start-up."""
    gc.set_threshold(YOUNG_THRESHOLD, OLDER_THRESHOLD, OLDER_THRESHOLD)
