"""Runs many Comuna nodes in one process, each a full app (its own database, keys,
inbox, delivery worker, clock) behind its own uvicorn server on a loopback port:
the lightweight way to put 100+ nodes on one machine for federation_bench.py.

usage: fedsim_host.py SPEC.json   (a list of {"data_dir": ..., "port": ...})
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from node.app import create_app
from node.cli.server import CalmServer
from node.config import load_settings


class QuietServer(CalmServer):  # the main loop of `comuna serve`
    def install_signal_handlers(self) -> None:  # one process, many servers: the host
        pass  # process is stopped as a whole by the benchmark


async def main(specs: list[dict[str, object]]) -> None:
    # Failed sends and fetches are logged at INFO (a retry that succeeds clears the
    # row's last_error): kept in hostN.log so that a late arrival can be explained.
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s %(message)s")
    for name in ("comuna.sender", "comuna.fetch"):
        logging.getLogger(name).setLevel(logging.INFO)
    # Each node does its database work in threads (asyncio.to_thread). A real node has
    # the default pool to itself; here dozens share one process, so give them a pool
    # of the size they would have together.
    asyncio.get_running_loop().set_default_executor(
        ThreadPoolExecutor(max_workers=min(4 * len(specs), 128)))
    servers = []
    for spec in specs:
        settings = load_settings(Path(str(spec["data_dir"])))
        app = create_app(settings, background=True)
        config = uvicorn.Config(app, host="127.0.0.1", port=int(str(spec["port"])),
                                log_level="warning", access_log=False, lifespan="on")
        servers.append(QuietServer(config))
    await asyncio.gather(*(s.serve() for s in servers))


if __name__ == "__main__":
    asyncio.run(main(json.loads(Path(sys.argv[1]).read_text())))
