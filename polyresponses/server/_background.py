"""Background responses for every provider: queued at once, run by the gateway, resumable, cancellable.

OpenAI's background mode (``background: true``, guide "Background mode") returns ``queued`` at
once; the response runs server-side; ``GET /v1/responses/{id}`` polls it and
``GET /v1/responses/{id}?stream=true&starting_after=N`` replays its events from the sequence number
after ``N`` and then follows live; ``POST /v1/responses/{id}/cancel`` ends it ``cancelled``. The gateway
gives that to every provider by running the request as a stream itself, whatever the provider
supports, and keeping each event in the ledger with its ``sequence_number``.

Across processes and replicas (every one sharing the store: a SQLite file on one host, or one
PostgreSQL database), the protocol is:

- **claim**: the replica that accepts the request creates the job already claimed by itself
  (``runner``) with a lease of :data:`LEASE_SECONDS`, in the transaction that records its owner;
- **lease**: the runner renews the leases of the jobs it is running every ``LEASE_SECONDS / 5``; a job whose
  lease ran out (its process died, or was killed mid-job) is claimed by exactly one other replica
  (``FOR UPDATE SKIP LOCKED``) and ended ``failed`` with a clear error, so nothing stays
  ``in_progress`` forever;
- **cancel**: any replica sets the job's cancel flag; the runner sees it at once through the
  database's notification (PostgreSQL) or within :data:`CANCEL_CHECK_SECONDS` (its own check), stops
  the upstream call and ends the job ``cancelled``; the replica that asked waits for that, and ends
  the job itself if the runner does not within three leases;
- **end**: the ledger ends a job only while it is active (and, for the runner, only while it still
  holds it), so of a completion and a cancel racing exactly one wins, and a runner that lost its job
  to a sweeper cannot revive it;
- **follow**: events are appended to the job's log before anyone is woken; followers on the runner's
  replica wake at once, followers elsewhere on the database's notification (PostgreSQL) or by
  reading the log every 0.25 s (SQLite, one host).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from polyresponses.router._wire import to_reply
from polyresponses.server._errors import GatewayError, as_gateway_error
from polyresponses.server._gateway import api_shape, failed_events

if TYPE_CHECKING:
    from polyresponses.router._client import _Plan
    from polyresponses.server._gateway import Created, Gateway, Principal
    from polyresponses.server.ledger import Job
    from polyresponses.server.ledger._postgres import Listener

__all__ = ["Jobs"]

LEASE_SECONDS = 10.0
"""How long a job stays claimed without a renewal; renewed every ``LEASE_SECONDS / 5``."""
CANCEL_CHECK_SECONDS = 0.5
"""How often the runner reads its jobs' cancel flags (a cancel asked on any replica stops the job within it)."""
POLL_AFTER_MS = 500
"""Sent as ``openai-poll-after-ms`` on replies about a running job (openai-agents-python honours it)."""
_TERMINAL_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})


@dataclass(slots=True)
class _Signal:
    """Wakes the followers of one job when its log grows or it ends.

    The events themselves are read from the ledger, which has each one before followers are woken.
    """

    changed: asyncio.Event = field(default_factory=asyncio.Event)
    followers: int = 0

    def notify(self) -> None:
        """Wake the followers waiting now; later ones wait on a fresh event."""
        self.changed.set()
        self.changed = asyncio.Event()


@dataclass(slots=True)
class _Running:
    """A job this process runs: the task running it, and its followers' signal."""

    id: str
    signal: _Signal = field(default_factory=_Signal)
    task: asyncio.Task[None] | None = None

    def notify(self) -> None:
        self.signal.notify()


class Jobs:
    """The background jobs of one gateway process."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.runner = f"{os.uname().nodename}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._running: dict[str, _Running] = {}
        self._watched: dict[str, _Signal] = {}
        """Signals of jobs followed here but run by another process (woken by the database's notifications)."""
        self._keeper: asyncio.Task[None] | None = None
        self._listener: Listener | None = None
        self._stopping = False

    async def start(self) -> None:
        await self._sweep()
        ledger = self.gateway.ledger
        if ledger.listens:
            from polyresponses.server.ledger._postgres import Listener

            self._listener = Listener(self.gateway.store_location, self._deliver)
            self._listener.start()
        self._keeper = asyncio.create_task(self._keep())

    def _deliver(self, kind: str, ident: str) -> None:
        """A notification from the database: ``e`` (job ``ident`` changed), ``c`` (cancel asked), ``*``
        (the listener reconnected: anything may have changed)."""
        if kind == "*":
            for signal in [*self._watched.values(), *(running.signal for running in self._running.values())]:
                signal.notify()
            return
        if kind == "c":
            _interrupt(self._running.get(ident))
        watched = self._watched.get(ident)
        if watched is not None:
            watched.notify()

    async def stop(self) -> None:
        """Stop renewing; jobs still running end ``failed`` (this process is going away)."""
        self._stopping = True
        if self._listener is not None:
            await self._listener.stop()
        if self._keeper is not None:
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keeper
        for running in list(self._running.values()):
            if running.task is not None:
                _interrupt(running)
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await running.task
        for running in list(self._running.values()):
            await self._end(running.id, "failed", "the gateway stopped while this background response was running")

    async def _keep(self) -> None:
        """Renew this process's leases, stop jobs cancelled or ended elsewhere, end jobs whose runner died."""
        ledger = self.gateway.ledger
        ticks = 0
        while True:
            await asyncio.sleep(CANCEL_CHECK_SECONDS)
            ticks += 1
            with contextlib.suppress(Exception):  # the database is away: try again at the next tick
                if self._running:
                    stopped = await asyncio.to_thread(ledger.stopped, self.runner, list(self._running))
                    for ident in stopped:
                        _interrupt(self._running.get(ident))
                if ticks % round(LEASE_SECONDS / 5 / CANCEL_CHECK_SECONDS) == 0:
                    await asyncio.to_thread(ledger.renew, self.runner, LEASE_SECONDS, list(self._running))
                    await self._sweep()

    async def _sweep(self) -> None:
        """End the jobs whose runner died (claimed here first, so exactly one process ends each)."""
        ledger = self.gateway.ledger
        for job in await asyncio.to_thread(ledger.claim_expired, self.runner, LEASE_SECONDS):
            await self._end(job.id, "failed", "the gateway process running this background response stopped")

    # create

    async def submit(self, created: Created) -> dict[str, Any]:
        """Queue ``created`` and start it; the ``queued`` response, owned by the caller."""
        ident = f"resp_{uuid.uuid4().hex}"
        plan = await self.gateway.plan(created, stream=True, response_id=ident)  # refused now, not queued then failed
        queued = empty_response(ident, created, "queued")
        await asyncio.to_thread(
            self.gateway.ledger.create_job,
            ident,
            created.principal.owner,
            created.provider,
            queued,
            self.runner,
            LEASE_SECONDS,
        )
        running = _Running(ident)
        self._running[ident] = running
        running.task = asyncio.create_task(self._run(running, created, queued, plan))
        return queued

    async def _run(self, running: _Running, created: Created, queued: dict[str, Any], plan: _Plan) -> None:
        ledger = self.gateway.ledger
        sequence = -1
        last = queued
        try:
            stream = await self.gateway.open_stream(created, plan)
            async for data in self.gateway.events(created, stream, owned=True):
                sequence = data.get("sequence_number", sequence + 1)
                response = data.get("response")
                if isinstance(response, dict):
                    response["id"] = running.id
                    response["background"] = True
                    last = response
                terminal = data["type"] in _TERMINAL_EVENTS
                if terminal:
                    written = await asyncio.to_thread(ledger.finish, running.id, last, [(sequence, data)], self.runner)
                else:
                    snapshot = response if isinstance(response, dict) else None
                    written = await asyncio.to_thread(
                        ledger.append_events, running.id, self.runner, [(sequence, data)], snapshot
                    )
                if not written:
                    return  # a cancel won the race, or another process ended the job: it stays as it ended
                running.notify()
                if terminal:
                    return
            await self._end(running.id, "failed", "the upstream stream ended before its terminal event", sequence, last)
        except asyncio.CancelledError:
            # Shielded: the job's end is written even if the stop of the whole process cancels this task
            # again while it writes (a job left active would wait for a sweep to end it failed).
            if self._stopping:
                message = "the gateway stopped while this background response was running"
                await asyncio.shield(self._end(running.id, "failed", message, sequence, last))
            else:
                await asyncio.shield(self._end(running.id, "cancelled", None, sequence, last))
        except Exception as error:  # every failure ends the job in a defined state
            failure = as_gateway_error(error)
            await self._end(running.id, "failed", failure.message, sequence, last, failure)
        finally:
            self._running.pop(running.id, None)
            running.notify()

    async def _end(
        self,
        ident: str,
        status: str,
        message: str | None,
        sequence: int | None = None,
        last: dict[str, Any] | None = None,
        failure: GatewayError | None = None,
    ) -> None:
        """End an active job ``status`` (``failed`` with ``message``, or ``cancelled``); no-op when it had ended."""
        ledger = self.gateway.ledger
        if last is None or sequence is None:
            job = await asyncio.to_thread(ledger.job, ident)
            if job is None or not job.active:
                return
            last = job.response
            sequence = await asyncio.to_thread(ledger.last_seq, ident)
        response = {**last, "status": status}
        events: list[dict[str, Any]] = []
        if status != "cancelled":  # the specs define no event for a cancel: the log just ends there
            failure = failure or GatewayError(500, message or "failed", "server_error", "server_error")
            events = failed_events(failure, sequence, response, None)
            response = events[-1]["response"]  # given a response, failed_events always ends with response.failed
        if await asyncio.to_thread(ledger.finish, ident, response, [(e["sequence_number"], e) for e in events]):
            running = self._running.get(ident)
            if running is not None:
                running.notify()

    # read, follow, cancel

    async def job(self, principal: Principal, ident: str) -> Job | None:
        """The caller's background job ``ident``; ``None`` when it is not a background response."""
        job = await asyncio.to_thread(self.gateway.ledger.job, ident)
        if job is None or job.owner != principal.owner:
            return None
        return job

    async def follow(self, ident: str, after: int) -> AsyncIterator[dict[str, Any]]:
        """Events after sequence number ``after``: the log first, then live until the terminal event."""
        ledger = self.gateway.ledger
        watched = self._watch(ident)
        try:
            sent = after
            while True:
                running = self._running.get(ident)
                signal = running.signal if running is not None else watched
                waiter = signal.changed if signal is not None else None  # taken before reading: no missed wake-up
                for event in await asyncio.to_thread(ledger.events, ident, sent):
                    sent = event["sequence_number"]
                    yield event
                    if event["type"] in _TERMINAL_EVENTS:
                        return
                job = await asyncio.to_thread(ledger.job, ident)
                if job is None or not job.active:
                    if not await asyncio.to_thread(ledger.events, ident, sent):
                        return  # ended (cancelled: the log just stops) and nothing left to send
                    continue
                if waiter is not None:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(waiter.wait(), LEASE_SECONDS / 5)
                else:
                    await asyncio.sleep(0.25)  # run by another process on this host (SQLite): read its log
        finally:
            self._unwatch(ident)

    def _watch(self, ident: str) -> _Signal | None:
        """A signal for a job followed here, woken by the database's notifications (``None`` without them)."""
        if not self.gateway.ledger.listens:
            return None
        signal = self._watched.setdefault(ident, _Signal())
        signal.followers += 1
        return signal

    def _unwatch(self, ident: str) -> None:
        signal = self._watched.get(ident)
        if signal is not None:
            signal.followers -= 1
            if signal.followers <= 0:
                del self._watched[ident]

    async def cancel(self, job: Job) -> dict[str, Any]:
        """Stop the job wherever it runs; the response as it ended (idempotent on an ended job)."""
        ledger = self.gateway.ledger
        if not job.active:
            return job.response
        await asyncio.to_thread(ledger.request_cancel, job.id)
        _interrupt(self._running.get(job.id))
        deadline = time.monotonic() + 3 * LEASE_SECONDS
        signal = self._watch(job.id)
        try:
            while time.monotonic() < deadline:
                waiter = signal.changed if signal is not None else None
                current = await asyncio.to_thread(ledger.job, job.id)
                if current is None:
                    break
                if not current.active:
                    return current.response
                if waiter is not None:  # the runner's end arrives as a notification
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(waiter.wait(), CANCEL_CHECK_SECONDS)
                else:
                    await asyncio.sleep(0.05)
        finally:
            self._unwatch(job.id)
        await self._end(job.id, "cancelled", None)
        current = await asyncio.to_thread(ledger.job, job.id)
        return current.response if current is not None else job.response


def _interrupt(running: _Running | None) -> None:
    """Cancel the task of ``running`` once: a cancel, its notification and the keeper's check may all
    arrive, and a second ``cancel()`` would interrupt the task's own cleanup (writing how it ended)."""
    task = None if running is None else running.task
    if task is not None and not task.done() and not task.cancelling():
        task.cancel()


def empty_response(ident: str, created: Created, status: str, *, background: bool = True) -> dict[str, Any]:
    """A response with the request's settings and no output (every field the specs require, as the router
    synthesizes them): a queued background response, or the answer to a WebSocket ``generate: false``."""
    from polyresponses.router.dialects._synth import synthesized_response

    params = created.params
    response = synthesized_response(
        created.provider,
        {**params, "model": created.model},
        response_id=ident,
        created_at=int(time.time()),
        model=created.model,
        status=status,
        output=[],
        usage=None,
    )
    response.background = background
    response.previous_response_id = params.get("previous_response_id")
    data = api_shape(to_reply(response))
    data["store"] = params.get("store") is not False  # an extra of the spec's Response, set by OpenAI too
    return data
