# SPDX-License-Identifier: AGPL-3.0-or-later
"""A stand-in for Olvid's bot daemon, for tests only: a grpc.aio server on 127.0.0.1 built on
the official generated stubs of PyPI olvid-bot. See launch.py and docs/olvid.md."""
