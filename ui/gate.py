"""The one concurrency gate of the chat and the API: at most ``running`` answers computed at once, ``waiting`` more
in line (first come, first served); past that, a question is refused (the chat says it is busy, the API answers 429).

A question takes a :class:`Place` (:meth:`Gate.enter`), waits in line for a computing slot, and gives its place back
once answered (:meth:`Place.leave`). It waits either from a thread, in steps (:meth:`Place.wait`: the chat's
generator yields between them, the only moments Gradio can stop the question of a closed page), or on the event loop
while watching its client (:meth:`Place.until_held`: the API). A place left while in line frees it at once, its
question never computed; a slot handed to a place as it leaves passes on to the next one in line.

Written by hand: Gradio's own queue answers a full line with an English error toast and never looks at a gone client
before its handler starts, and a semaphore keeps no line that a gone client can leave nor waits on an event loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor, wait

# How often a request waiting on the event loop checks that its client is still there.
POLL_S = 0.05


class Gate:
    """At most ``running`` answers computed at once, ``waiting`` more in line; past that, :meth:`enter` refuses.

    Thread-safe: the chat calls it from Gradio's worker threads, the API from its event loop. A slot is freed when
    its place is left, never earlier: the API leaves it when its answer's thread ends (a gone client's work stops at
    its next stage, :class:`corpus.errors.Cancelled`, and counts until then).
    """

    def __init__(self, running: int, waiting: int, *, name: str = "answer"):
        self.limit = running + waiting
        self.inside = 0  # waiting + computing
        self.free = running
        self.line: deque[Place] = deque()  # the places waiting, first come first served
        self._lock = threading.Lock()
        # the API's answers run here (:meth:`Place.start`); no thread is started until then
        self.pool = ThreadPoolExecutor(max_workers=running, thread_name_prefix=name)

    def enter(self) -> Place | None:
        """A place, holding a computing slot at once if one is free and nobody waits, else in line; None when the
        line is full (the question is refused)."""
        with self._lock:
            if self.inside >= self.limit:
                return None
            self.inside += 1
            place = Place(self)
            if self.free and not self.line:
                self.free -= 1
                place._turn.set_result(None)
            else:
                self.line.append(place)
            return place

    def _leave(self, place: Place) -> None:
        with self._lock:
            if place.left:
                return
            place.left = True
            if place._turn.done():  # held, or handed just as it left: the slot goes to the next one
                self._hand_on()
            else:
                self.line.remove(place)
                place._turn.cancel()
            self.inside -= 1

    def _hand_on(self) -> None:
        """Hand a freed slot to the first place waiting, or free it (called with the lock held)."""
        if self.line:
            self.line.popleft()._turn.set_result(None)
        else:
            self.free += 1


class Place:
    """One question's place in a :class:`Gate`: in line, then holding a computing slot, until :meth:`leave`."""

    def __init__(self, gate: Gate):
        self.gate = gate
        self._turn: Future = Future()  # done once a computing slot is this place's
        self.left = False

    def wait(self, timeout: float) -> bool:
        """From a thread: wait up to ``timeout`` seconds for a computing slot; True once held, False if still in
        line."""
        return bool(wait([self._turn], timeout).done)

    async def until_held(self, request, poll: float = POLL_S) -> bool:
        """On the event loop: wait in line for a computing slot while watching ``request``'s client; True once it is
        held, False (the place given back) if the client went away first or this coroutine was cancelled."""
        if self._turn.done():
            return True
        held = False
        try:
            held = await unless_gone(request, asyncio.wrap_future(self._turn), poll)
        finally:
            if not held:
                self.leave()
        return held

    def start(self, work) -> tuple[asyncio.Future, threading.Event]:
        """On the event loop, the slot held: run ``work(cancelled)`` in the gate's pool; the place is left when it
        ends. Returns its future and the event that, once set, makes ``cancelled()`` true."""
        stop = threading.Event()
        future = asyncio.get_running_loop().run_in_executor(self.gate.pool, work, stop.is_set)

        def ended(f: asyncio.Future) -> None:
            self.leave()
            if not f.cancelled():
                f.exception()  # read here: a gone client's Cancelled is nobody's error to log

        future.add_done_callback(ended)
        return future, stop

    def leave(self) -> None:
        """Give the place back, and the slot if held (to the next one in line); a second call does nothing."""
        self.gate._leave(self)


async def unless_gone(request, future: asyncio.Future, poll: float = POLL_S) -> bool:
    """Wait for ``future``; False as soon as ``request``'s client has disconnected (``future`` is left as it is)."""
    while not future.done():
        await asyncio.wait({future}, timeout=poll)
        if not future.done() and await request.is_disconnected():
            return False
    return True
