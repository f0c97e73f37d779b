"""The local Realtime server in a process of its own, so the client being measured
shares neither its CPU accounting nor its GIL with the server.

    python -m bench.server_proc --answer-s 2 --paced     # or --offline
prints `READY <base_url>` and serves until its stdin closes.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from voice_tui.server.app import start_server

API_KEY = "sk-bench-local-0000000000"


async def serve(answer_s: float, paced: bool, offline: bool) -> None:
    if offline:
        from voice_tui.config.schema import Settings
        from voice_tui.offline import build_components

        built = await asyncio.to_thread(build_components, Settings())
        server = await start_server(built, api_key=API_KEY)  # the built-in offline engine
    else:
        from bench.voices import bench_components

        server = await start_server(bench_components(answer_s, paced), api_key=API_KEY)
    print(f"READY {server.base_url}", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # until the parent goes away
    await server.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.server_proc")
    parser.add_argument("--answer-s", type=float, default=2.0)
    parser.add_argument("--paced", action="store_true")
    parser.add_argument("--offline", action="store_true")
    args = parser.parse_args()
    asyncio.run(serve(args.answer_s, args.paced, args.offline))


if __name__ == "__main__":
    main()
