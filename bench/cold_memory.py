"""What touching memory costs after a process has slept, on this machine.

An idle node wakes now and then for a few statements. On these virtual machines memory
left alone for a fraction of a second is slower to touch again, so each wake-up costs
far more CPU than the same work done in a busy loop, and an idle node's CPU depends on
the machine as much as on the code. This writes one byte in each page of 200 MB, hot
(again at once) and after sleeps of growing length, and prints CPU medians of 5:

    python3 bench/cold_memory.py
"""

from __future__ import annotations

import statistics
import time

PAGE = 4096
SIZE = 200 * 1024 * 1024
ROUNDS = 5


def main() -> None:
    block = bytearray(SIZE)

    def touch() -> float:
        started = time.thread_time()
        for i in range(0, SIZE, PAGE):
            block[i] = (block[i] + 1) & 0xFF
        return time.thread_time() - started

    touch()
    hot = statistics.median(touch() for _ in range(ROUNDS))
    print(f"hot: {hot * 1000:.1f} ms of CPU to touch {SIZE // PAGE} pages")
    for pause in (0.1, 0.5, 1.0, 3.0):
        runs = []
        for _ in range(ROUNDS):
            time.sleep(pause)
            runs.append(touch())
        cold = statistics.median(runs)
        print(f"after {pause:>3} s asleep: {cold * 1000:.1f} ms ({cold / hot:.1f} x hot)")


if __name__ == "__main__":
    main()
