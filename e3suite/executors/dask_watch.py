"""On a scheduler e3suite started on another host: an engine that died takes its cluster with it.

An ``SSHCluster``'s scheduler runs on the first host, started through ssh.
When the engine ends normally it closes that cluster; when it is SIGKILLed
(or its host goes), nothing would: the scheduler, its workers and the
commands they run would go on for ever. ``EngineWatch`` is a scheduler
plugin the engine registers there: when the engine's client leaves without
having unregistered it first (``ClusterHandle.close`` does), the scheduler
closes itself, which closes the workers; each worker process's guardian
then kills the commands it leaves (dask_worker.start_guardian).

Not used with an existing scheduler (``dask-scheduler``), which is shared
and left running, nor with clusters whose scheduler lives in the engine's
process (LocalCluster, dask-jobqueue), which die with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from distributed.diagnostics.plugin import SchedulerPlugin

logger = logging.getLogger(__name__)


class EngineWatch(SchedulerPlugin):
    """Close the scheduler when the client ``client_id`` leaves while this plugin is registered."""

    def __init__(self, client_id: str) -> None:
        self.client_id = client_id
        self.name = f"e3suite-watch-{client_id}"
        self._closing: asyncio.Task[None] | None = None

    def remove_client(self, scheduler: Any, client: str) -> None:
        if client != self.client_id or self._closing is not None:
            return
        logger.warning("e3suite: the engine's client %s left without ending its run: closing the cluster", client)
        self._closing = asyncio.get_running_loop().create_task(self._close(scheduler))

    async def _close(self, scheduler: Any) -> None:
        with contextlib.suppress(Exception):
            await scheduler.close(reason="e3suite: the engine is gone")
