"""The NATS clients' event loop (decision 0055): uvloop's, and no hand-off from another thread
is ever left without a wake (uvloop signals the loop once while a wake is pending)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading

import uvloop

from adapters.jetstream import loops

THREADS = 8
HAND_OFFS = 3000


def test_run_runs_the_coroutine_on_a_uvloop_loop_and_returns_its_result() -> None:
    async def which() -> tuple[bool, int]:
        await asyncio.sleep(0)
        return isinstance(asyncio.get_running_loop(), uvloop.Loop), 42

    assert loops.run(which()) == (True, 42)


def test_every_hand_off_from_other_threads_runs_while_the_loop_sleeps_and_wakes() -> None:
    """Each thread hands the loop a callback and waits for it before the next one, so the
    loop is often asleep in its poll when a hand-off arrives, and often busy (a wake pending)
    when others arrive: a lost wake would leave a thread waiting forever."""
    loop = loops.new_event_loop()
    assert isinstance(loop, uvloop.Loop)
    runner = threading.Thread(target=loop.run_forever, daemon=True)
    runner.start()
    ran = [0] * THREADS
    failures: list[BaseException] = []

    def count(index: int, done: concurrent.futures.Future[None]) -> None:
        ran[index] += 1
        done.set_result(None)

    def hand_off(index: int) -> None:
        try:
            for _ in range(HAND_OFFS):
                done: concurrent.futures.Future[None] = concurrent.futures.Future()
                loop.call_soon_threadsafe(count, index, done)
                done.result(timeout=30)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=hand_off, args=(i,)) for i in range(THREADS)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        runner.join(10)
        loop.close()
    assert failures == []
    assert ran == [HAND_OFFS] * THREADS


def test_hand_offs_without_waiting_all_run_in_order_per_thread() -> None:
    """Bursts of hand-offs (many while a wake is pending) all run, each thread's in order."""
    loop = loops.new_event_loop()
    seen: dict[int, list[int]] = {i: [] for i in range(THREADS)}
    all_sent = threading.Barrier(THREADS + 1)

    def burst(index: int) -> None:
        for n in range(HAND_OFFS):
            loop.call_soon_threadsafe(seen[index].append, n)
        all_sent.wait(30)

    async def receive() -> None:
        threads = [threading.Thread(target=burst, args=(i,)) for i in range(THREADS)]
        for thread in threads:
            thread.start()
        await asyncio.get_running_loop().run_in_executor(None, all_sent.wait, 30)
        await asyncio.sleep(0)  # callbacks handed over before the barrier have run by now

    try:
        loop.run_until_complete(receive())
    finally:
        loop.close()
    assert seen == {i: list(range(HAND_OFFS)) for i in range(THREADS)}
