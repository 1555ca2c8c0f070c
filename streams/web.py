"""The worker's HTTP pages (Faust's web server): its part of the figures, status, the form.

GET /own/?cutoff=2024-12-31      this worker's partitions, own figures and the offsets
                                 they reflect (what `merge` sums)
GET /status/                     partitions, readiness, counters
GET /form/320400/?cutoff=...     the complete rolled-up form of a unit: this worker asks
                                 every live worker for its part, exact values by cell id

Everything the pages read comes in through `install`'s parameters (the worker's part,
the campaign, who the other workers are): this module imports no other part of the app.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any, Protocol

import aiohttp
import faust

from contracts.calendar import Campaign
from contracts.errors import ValidationError
from contracts.registry import Registry
from streams.live import Incomplete, WorkerEntry, cutoff_and_day, merge, unit_form

__all__ = ["Part", "install"]


class Part(Protocol):
    """What a worker serves (`streams.runtime.Runtime` is one)."""

    worker_id: str
    partitions: int
    registry: Registry

    def own(self, cutoff_day: int) -> dict[str, Any]: ...

    def status(self) -> dict[str, Any]: ...


def _day(request: Any, campaign: Campaign) -> tuple[str, int]:
    if "day" in request.query:
        day = int(request.query["day"])
        return str(day), day
    cutoff, day = cutoff_and_day(request.query.get("cutoff"), campaign)
    moment = cutoff.at
    return moment.isoformat(), day


def install(
    app: faust.App, part: Part, campaign: Campaign, peers: Callable[[], Iterable[WorkerEntry]]
) -> None:
    """Add the pages to `app`; `peers()` lists the running workers (this one may be among them)."""

    @app.page("/own/")
    async def own(web: Any, request: Any) -> Any:
        try:
            _, day = _day(request, campaign)
        except ValueError as err:
            return web.json({"error": str(err)}, status=400)
        return web.json(part.own(day))

    @app.page("/status/")
    async def status(web: Any, request: Any) -> Any:
        return web.json(part.status())

    @app.page("/form/{unit}/")
    async def form(web: Any, request: Any, unit: str) -> Any:
        try:
            cutoff, day = _day(request, campaign)
            part.registry.unit(unit)
        except ValueError as err:
            return web.json({"error": str(err)}, status=400)
        except ValidationError as err:  # unknown unit
            return web.json({"error": str(err)}, status=404)
        answers = [part.own(day)]
        others = [w for w in peers() if w.worker_id != part.worker_id]
        timeout = aiohttp.ClientTimeout(total=5)
        async with aiohttp.ClientSession(timeout=timeout) as session:

            async def ask(url: str, worker_id: str) -> dict[str, Any]:
                try:
                    async with session.get(f"{url}/own/", params={"day": str(day)}) as resp:
                        return dict(await resp.json())
                except (TimeoutError, aiohttp.ClientError) as err:
                    return {
                        "worker_id": worker_id,
                        "ready": False,
                        "partitions": [],
                        "figures": [],
                        "error": str(err),
                    }

            answers += await asyncio.gather(*(ask(w.url, w.worker_id) for w in others))
        try:
            live = merge(answers, part.partitions)
        except Incomplete as err:
            return web.json({"error": str(err), "complete": False}, status=503)
        return web.json(
            {
                "unit": unit,
                "cutoff": cutoff,
                "complete": True,
                "workers": live.workers,
                "figures": unit_form(live.own, part.registry, unit),
            }
        )
