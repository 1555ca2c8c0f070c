"""The worker's HTTP pages (Faust's web server): its part of the figures, status, the form.

GET /own/?cutoff=2024-12-31      this worker's partitions, own figures and the offsets
                                 they reflect (what `merge` sums)
GET /status/                     partitions, readiness, counters
GET /form/320400/?cutoff=...     the complete rolled-up form of a unit: this worker asks
                                 every live worker for its part, exact values by cell id
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import faust

from contracts.calendar import load_campaign
from streams.live import Incomplete, cutoff_and_day, live_workers, merge, unit_form

__all__ = ["install"]


def _day(request: Any, campaign: Any) -> tuple[str, int]:
    if "day" in request.query:
        day = int(request.query["day"])
        return str(day), day
    cutoff, day = cutoff_and_day(request.query.get("cutoff"), campaign)
    moment = cutoff.at
    return moment.isoformat(), day


def install(app: faust.App, runtime: Any) -> None:
    campaign = load_campaign()

    @app.page("/own/")
    async def own(web: Any, request: Any) -> Any:
        try:
            _, day = _day(request, campaign)
        except ValueError as err:
            return web.json({"error": str(err)}, status=400)
        return web.json(runtime.own(day))

    @app.page("/status/")
    async def status(web: Any, request: Any) -> Any:
        return web.json(runtime.status())

    @app.page("/form/{unit}/")
    async def form(web: Any, request: Any, unit: str) -> Any:
        try:
            cutoff, day = _day(request, campaign)
            runtime.registry.unit(unit)
        except ValueError as err:
            return web.json({"error": str(err)}, status=400)
        except Exception as err:  # contracts.ValidationError: unknown unit
            return web.json({"error": str(err)}, status=404)
        settings = runtime.settings
        answers = [runtime.own(day)]
        others = [w for w in live_workers(settings) if w.worker_id != runtime.worker_id]
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
            live = merge(answers, runtime.partitions)
        except Incomplete as err:
            return web.json({"error": str(err), "complete": False}, status=503)
        return web.json(
            {
                "unit": unit,
                "cutoff": cutoff,
                "complete": True,
                "workers": live.workers,
                "figures": unit_form(live.own, runtime.registry, unit),
            }
        )
