# SPDX-License-Identifier: AGPL-3.0-or-later
"""`python -m olvid_standin --state-dir DIR [--admin-key KEY] [--port N] [--port-file FILE]`:
runs the stand-in Olvid daemon on 127.0.0.1 until SIGTERM."""

import argparse
import asyncio
import logging

from .server import serve


def main():
    p = argparse.ArgumentParser(prog="olvid_standin")
    p.add_argument("--state-dir", required=True)
    p.add_argument("--admin-key", default="admin-key")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file")
    a = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(serve(a.state_dir, a.admin_key, a.port, a.port_file))


main()
