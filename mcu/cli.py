"""The ``mcu`` command line."""

from __future__ import annotations

import argparse
import os
import sys

from pydantic import ValidationError


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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command != "serve":
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
    return serve(settings)


if __name__ == "__main__":
    sys.exit(main())
