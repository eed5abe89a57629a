"""The `assistant` command."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import NoReturn

from assistant.errors import InputError

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """Bad usage: one line on stderr and exit 2 (argparse would print the usage too)."""
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="assistant", description="Margin guardian for Binance USDT-M futures.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    calc = commands.add_parser(
        "calc",
        help="margin health of an account given as JSON",
        description="Independent margin health of an account given as JSON (see README).",
    )
    calc.add_argument("file", nargs="?", default="-", help="JSON file, or - for stdin (default)")
    emulator = commands.add_parser(
        "emulator",
        help="a local Binance USDT-M emulator (REST, websockets, control API on one port)",
        description="Serve the emulator until SIGINT/SIGTERM; prints one JSON line with its URLs.",
    )
    emulator.add_argument("--host", default="127.0.0.1")
    emulator.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    emulator.add_argument("--scenario", default="calm", help="built-in name or JSON file")
    return parser


def _run_calc(path: str) -> int:
    from assistant.app.calc import calc

    name = "<stdin>" if path == "-" else path
    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        print(f"assistant calc: {name}: cannot read: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        result = calc(text)
    except InputError as exc:
        print(f"assistant calc: {name}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return EXIT_OK


def _run_emulator(host: str, port: int, scenario: str) -> int:
    from assistant.app.emulator_cmd import run

    try:
        return run(host, port, scenario)
    except InputError as exc:
        print(f"assistant emulator: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(
            f"assistant emulator: cannot listen on {host}:{port}: {exc.strerror}", file=sys.stderr
        )
        return EXIT_FAILURE


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "calc":
        return _run_calc(args.file)
    if args.command == "emulator":
        return _run_emulator(args.host, args.port, args.scenario)
    raise AssertionError(f"unhandled command {args.command}")  # pragma: no cover


if __name__ == "__main__":
    sys.exit(main())
