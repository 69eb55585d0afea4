"""The periodic pruning of raw sensor data and expired audit entries (docs/data-policy.md).

Runs in the server's event loop as one task for the life of the app: at start, then every
``retention_interval_s``; the deleting itself runs in a worker thread. A failed pruning is
logged and tried again at the next interval (a database that is away must not stop the server).
"""

from __future__ import annotations

import asyncio
import logging

from starlette.concurrency import run_in_threadpool

from twin.server.settings import Settings
from twin.store.database import Store
from twin.store.retention import prune

log = logging.getLogger(__name__)


async def prune_periodically(store: Store, settings: Settings) -> None:
    """Prune now and every ``settings.retention_interval_s`` until cancelled."""
    while True:
        try:
            pruned = await run_in_threadpool(prune, store, settings.sensor_retention_days)
            if pruned.observations or pruned.audit_entries:
                log.info("retention: deleted %d observations and %d audit entries", pruned.observations,
                         pruned.audit_entries)
        except Exception:  # the next interval tries again; the server keeps serving
            log.exception("retention: pruning failed")
        await asyncio.sleep(settings.retention_interval_s)
