"""Stop every rank when one is lost, naming it, instead of hanging in a collective.

Each rank runs a daemon thread that bumps a counter under ``yolox_fgd/heartbeat/<rank>`` in the
process group's key-value store every ``interval`` seconds and watches the others' counters. A
counter that has not moved for ``timeout`` seconds (measured on the watching rank's own clock,
so machines' clocks need not agree) means its rank is gone or frozen; a store that cannot be
reached means rank 0, which hosts it, is gone. The watchdog then logs which rank was lost and
ends its own process with exit code 1 (``os._exit``: the main thread may be blocked inside a
collective that would otherwise wait for the process group's timeout). Checkpoints are written
atomically, so ``--resume`` continues from the last complete one.
"""
import os
import sys
import threading
import time

from loguru import logger

__all__ = ["PeerWatchdog"]

PREFIX = "yolox_fgd/heartbeat/"


def _exit_lost(message):
    logger.error(message)
    print(f"error: {message}", file=sys.__stderr__, flush=True)
    os._exit(1)


class PeerWatchdog:
    """Heartbeats through ``store`` (a ``torch.distributed.Store``) for ``rank`` of ``world_size``.

    Args:
        timeout: seconds without a heartbeat after which a peer counts as lost.
        interval: seconds between heartbeats (and checks).
        on_lost: called with the message when a peer is lost (default: log and ``os._exit(1)``).
    """

    def __init__(self, store, rank, world_size, timeout=120.0, interval=1.0, on_lost=_exit_lost):
        if timeout <= interval:
            raise ValueError(f"the peer timeout ({timeout} s) must be longer than the heartbeat interval ({interval} s)")
        self.store, self.rank, self.world_size = store, int(rank), int(world_size)
        self.timeout, self.interval, self.on_lost = float(timeout), float(interval), on_lost
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"peer-watchdog-{rank}", daemon=True)
        self.beats = 0

    def start(self):
        self.store.set(f"{PREFIX}{self.rank}", "0")
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5 * self.interval)

    def wait_for_lost_peer(self):
        """After a communication error: give the watchdog the time to find a lost peer (it then
        ends the process naming it). Returns when none was found within the timeout."""
        if self._thread.is_alive():
            self._thread.join(timeout=self.timeout + 3 * self.interval)

    def _run(self):
        peers = [r for r in range(self.world_size) if r != self.rank]
        last_value = {r: None for r in peers}
        last_change = {r: time.monotonic() for r in peers}
        while not self._stop.wait(self.interval):
            try:
                self.beats += 1
                self.store.set(f"{PREFIX}{self.rank}", str(self.beats))
                for r in peers:
                    key = f"{PREFIX}{r}"
                    value = self.store.get(key) if self.store.check([key]) else None
                    if value != last_value[r]:
                        last_value[r], last_change[r] = value, time.monotonic()
            except Exception as e:  # the store lives in rank 0's process
                if self._stop.is_set():
                    return
                self.on_lost(f"rank {self.rank}: lost rank 0 (it hosts the process group's store, now "
                             f"unreachable: {e}); stopping. Continue from the last checkpoint with --resume")
                return
            now = time.monotonic()
            lost = [r for r in peers if now - last_change[r] > self.timeout]
            if lost:
                self.on_lost(f"rank {self.rank}: lost rank(s) {lost}: no heartbeat for more than {self.timeout:.0f} s "
                             "(process killed, machine down or network cut); stopping. Continue from the last "
                             "checkpoint with --resume")
                return
