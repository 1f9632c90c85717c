"""`comuna demo`: start the demo federation, tell its story, say where to look, and
stop everything on Ctrl-C."""

from __future__ import annotations

import argparse
import faulthandler
import json
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType
from typing import Any

from node.demo.client import PASSWORD
from node.demo.matter import federated_matter
from node.demo.nodes import DemoFailed, Federation
from node.demo.story import (
    NODES,
    PEOPLE,
    Cast,
    call_assembly,
    federate,
    gather,
    local_decision,
)
from node.demo.trade import barter, project_bank


def _say(line: str) -> None:
    print(f"· {line}", flush=True)


def _summary(fed: Federation, root: Path, kept: bool, seconds: float) -> dict[str, Any]:
    width = max(len(n.name) for n in fed.nodes.values())
    print(f"\nLa federación de demostración está lista ({seconds:.0f} s):", flush=True)
    nodes: list[dict[str, Any]] = []
    for handle, node in fed.nodes.items():
        first, *rest = [u for u, _, _ in PEOPLE[handle]]
        who = f"{first} (coordinación)" + (f", {', '.join(rest)}" if rest else "")
        print(f"  {node.name:<{width}}  {node.url}/  entre como {who}")
        nodes.append({"handle": handle, "name": node.name, "url": node.url,
                      "actor": node.actor, "pid": node.proc.pid if node.proc else None,
                      "logins": [first, *rest]})
    print(f"La contraseña de todas las cuentas es: {PASSWORD}")
    print(f"Datos en {root}" + ("" if kept else " (se borran al salir)"))
    return {"nodes": nodes, "password": PASSWORD, "dir": str(root)}


def _stop_on_term(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # the same orderly stop as Ctrl-C


def run(args: argparse.Namespace) -> int:
    kept = args.dir is not None
    root = Path(args.dir) if kept else Path(tempfile.mkdtemp(prefix="comuna-demo-"))
    if kept and root.exists() and any(root.iterdir()):
        print(f"error: {root} ya tiene archivos; elija una carpeta vacía o nueva",
              file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _stop_on_term)
    # Ctrl-C stops the demo however it was started: a process started in the background
    # by a shell (or by anything that ignored SIGINT) inherits SIGINT ignored, and
    # Python then never raises KeyboardInterrupt, so the demo slept on for good.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    # `kill -USR1 <pid>` prints where each thread of the demo is, for a stop that hangs.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    fed = Federation(root, NODES)
    started = time.monotonic()
    code = 0
    try:
        _say("Creando y arrancando cuatro nodos en esta máquina…")
        fed.start()
        cast: Cast = gather(fed, _say)
        federate(cast)
        local_decision(cast)
        call_assembly(cast)
        federated_matter(cast)
        barter(cast)
        project_bank(cast)
        ready = _summary(fed, root, kept, time.monotonic() - started)
        if args.ready_file:
            Path(args.ready_file).write_text(json.dumps(ready, ensure_ascii=False, indent=1),
                                             "utf-8")
        if not args.no_wait:
            print("Pulse Ctrl-C para detener los cuatro nodos.", flush=True)
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        pass
    except DemoFailed as exc:
        print(f"error: la demostración se detuvo: {exc}", file=sys.stderr)
        print(f"(los registros de cada nodo están en {root}/<nodo>/serve.log)",
              file=sys.stderr)
        code = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut it short
        print("\nDeteniendo los nodos…", flush=True)
        fed.stop()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        if not kept and code == 0:
            shutil.rmtree(root, ignore_errors=True)
    print("Listo: no queda nada en marcha.", flush=True)
    return code
