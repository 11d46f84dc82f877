"""The ``mcu`` command line."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from pydantic import ValidationError

if TYPE_CHECKING:
    from mcu.settings import Settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mcu",
        description="A videoconferencing MCU: SIP endpoints dial a numeric conference ID "
        "and hear everyone else.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="run the MCU (SIP, RTP, mixers) on one event loop until SIGINT/SIGTERM",
        description="Run the MCU until SIGINT or SIGTERM, which end every call with BYE. "
        "Settings come from config/mcu.toml (or the file named by --config / MCU_CONFIG) "
        "and MCU_* environment variables, e.g. MCU_SIP__PORT=5062.",
    )
    serve.add_argument("--config", metavar="FILE", help="settings file (TOML)")
    cluster = commands.add_parser(
        "cluster",
        help="show the cluster: its nodes (alive, load) and which node runs which "
        "conference, as JSON",
        description="Read the store every node of the cluster shares (database.url) and "
        "print its nodes (address, load, heartbeat, alive) and where each running "
        "conference lives, as JSON: what Kamailio places calls by. `make cluster` starts a "
        "local cluster; docs/architecture.md says how it works.",
    )
    cluster.add_argument("--config", metavar="FILE", help="settings file (TOML)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command not in ("serve", "cluster"):
        _parser().print_help()
        return 2
    if args.config:
        os.environ["MCU_CONFIG"] = args.config

    from mcu.app import serve
    from mcu.settings import load_settings

    try:
        settings = load_settings()
    except ValidationError as error:
        print(f"mcu: invalid settings:\n{error}", file=sys.stderr)
        return 2
    if args.command == "cluster":
        return _show_cluster(settings)
    return serve(settings)


def _show_cluster(settings: Settings) -> int:
    import asyncio
    import json

    from mcu import cluster
    from mcu.store import open_store

    async def read() -> dict[str, object]:
        store = await open_store(settings.database.url)
        if store.generated_admin_password:  # an empty store: as `mcu serve` says it
            print(f"mcu: created user 'admin' with password "
                  f"{store.generated_admin_password}", file=sys.stderr)
        try:
            return await cluster.status(store, settings.cluster.lease_s)
        finally:
            await store.close()

    try:
        shown = asyncio.run(read())
    except OSError as error:  # the database does not answer
        print(f"mcu: cannot read the cluster's store ({settings.database.url.split('@')[-1]}):"
              f" {error}", file=sys.stderr)
        return 1
    print(json.dumps(shown, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
