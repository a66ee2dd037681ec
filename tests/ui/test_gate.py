"""The one concurrency gate (ui/gate.py) on its own: its limits, its line, places left while waiting, from threads
(the chat) and on an event loop (the API). The real servers' tests are in test_api.py and test_gradio_app.py."""

import asyncio
import threading
import time

from ui.gate import Gate


class Client:
    """A request's client as :meth:`ui.gate.Place.until_held` watches it: gone once ``gone`` is set."""

    def __init__(self):
        self.gone = False

    async def is_disconnected(self) -> bool:
        return self.gone


def test_running_then_waiting_then_refused():
    gate = Gate(2, 1)
    first, second, third = gate.enter(), gate.enter(), gate.enter()
    assert first.wait(0) and second.wait(0) and not third.wait(0)
    assert gate.enter() is None  # two computing, one waiting: the next is refused
    first.leave()
    assert third.wait(0)  # the freed slot went to the one waiting
    assert gate.enter() is not None


def test_a_place_left_in_line_frees_its_place_and_never_holds_a_slot():
    gate = Gate(1, 2)
    running, gone, next_one = gate.enter(), gate.enter(), gate.enter()
    gone.leave()
    gone.leave()  # a second call does nothing
    assert gate.inside == 2 and gate.enter() is not None  # its place is free again
    running.leave()
    assert next_one.wait(0) and not gone.wait(0)


def test_the_line_is_first_come_first_served_across_threads():
    gate = Gate(1, 3)
    holder = gate.enter()
    order, started = [], []

    def waiter(n):
        place = gate.enter()
        started.append(n)
        while not place.wait(0.05):
            pass
        order.append(n)
        place.leave()

    threads = []
    for n in range(3):
        threads.append(threading.Thread(target=waiter, args=(n,)))
        threads[-1].start()
        while len(started) <= n:  # each in line before the next comes
            time.sleep(0.001)
    holder.leave()
    for thread in threads:
        thread.join(10)
    assert order == [0, 1, 2] and gate.inside == 0 and gate.free == 1


def test_on_the_event_loop_a_gone_client_leaves_the_line_and_a_slot_is_passed_on():
    async def scenario():
        gate = Gate(1, 2)
        holder = gate.enter()
        assert await holder.until_held(Client())
        gone_client, patient = Client(), Client()
        gone, waiting = gate.enter(), gate.enter()
        gone_task = asyncio.create_task(gone.until_held(gone_client, poll=0.01))
        waiting_task = asyncio.create_task(waiting.until_held(patient, poll=0.01))
        await asyncio.sleep(0.03)
        gone_client.gone = True
        assert not await gone_task  # left the line, its question never computed
        assert gate.inside == 2
        future, stop = holder.start(lambda cancelled: "fait")  # the slot is given back when the work ends
        assert await future == "fait" and not stop.is_set()
        assert await waiting_task
        waiting.leave()
        assert gate.inside == 0 and gate.free == 1

    asyncio.run(scenario())


def test_a_slot_handed_to_a_place_as_its_client_leaves_goes_to_the_next():
    gate = Gate(1, 2)
    holder, leaving, next_one = gate.enter(), gate.enter(), gate.enter()
    holder.leave()  # the slot is handed to « leaving »…
    leaving.leave()  # …which goes before using it: the slot passes on
    assert next_one.wait(0) and gate.free == 0
    next_one.leave()
    assert gate.inside == 0 and gate.free == 1
