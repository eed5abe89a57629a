"""The `assistant` command."""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from assistant import version
from assistant.errors import InputError

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """Bad usage: one line on stderr and exit 2 (argparse would print the usage too)."""
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="assistant", description="Margin guardian for Binance USDT-M futures.")
    parser.add_argument("--version", action="version", version=f"assistant {version()}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    calc = commands.add_parser(
        "calc",
        help="margin health of an account given as JSON",
        description="Independent margin health of an account given as JSON (see README).",
    )
    calc.add_argument("file", nargs="?", default="-", help="JSON file, or - for stdin (default)")
    for flag, body in (
        ("--account", "GET /fapi/v3/account"),
        ("--positions", "GET /fapi/v3/positionRisk"),
        ("--brackets", "GET /fapi/v1/leverageBracket"),
        ("--asset-index", "GET /fapi/v1/assetIndex"),
        ("--config", "GET /fapi/v1/accountConfig"),
        ("--symbol-config", "GET /fapi/v1/symbolConfig"),
    ):
        calc.add_argument(flag, metavar="FILE", help=f"the raw body of {body}")
    emulator = commands.add_parser(
        "emulator",
        help="a local Binance USDT-M emulator (REST, websockets, control API on one port)",
        description="Serve the emulator until SIGINT/SIGTERM; prints one JSON line with its URLs.",
    )
    emulator.add_argument("--host", default="127.0.0.1")
    emulator.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    emulator.add_argument("--scenario", default="calm", help="built-in name or JSON file")
    demo = commands.add_parser(
        "demo", help="the emulator's crash scenario and the service in auto mode, in this terminal"
    )
    demo.add_argument(
        "--seconds", type=float, default=55.0, help="how long the demo runs (default 55)"
    )
    demo.add_argument(
        "--scenario", default="crash", help="built-in name or JSON file (default crash)"
    )
    demo.add_argument(
        "-c", "--config", help="take the rules from this config (default: the example's)"
    )
    run = commands.add_parser("run", help="the service, in the foreground (systemd runs this)")
    run.add_argument("-c", "--config", help="config file (default: see README)")
    run.add_argument(
        "--console", action="store_true", help="also take chat commands typed in this terminal"
    )
    status = commands.add_parser("status", help="health of the mirrored account, from the store")
    status.add_argument("-c", "--config", help="config file (default: see README)")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    replay = commands.add_parser(
        "replay",
        help="what these rules would have done on the recorded history (no exchange, no chat)",
    )
    replay.add_argument("-c", "--config", help="the rules to try (default: see README)")
    replay.add_argument("--store", help="the store to replay (default: the config's)")
    replay.add_argument("--from", dest="since", help="report from this time (UTC ISO or ms)")
    replay.add_argument("--to", dest="until", help="replay up to this time (UTC ISO or ms)")
    replay.add_argument("--json", action="store_true", help="machine-readable output")
    replay.add_argument("--plot", help="draw margin ratio and distance to this PNG file")
    replay.add_argument(
        "--check",
        action="store_true",
        help="exit 1 if anything differs from what actually happened (a regression check)",
    )
    simulate = commands.add_parser(
        "simulate",
        help="these rules and the real executor against an emulator scenario, fast-forward",
    )
    simulate.add_argument("-c", "--config", help="the rules to try (default: see README)")
    simulate.add_argument("--scenario", required=True, help="built-in name or JSON file")
    simulate.add_argument(
        "--speed", type=float, default=10.0, help="scenario seconds per wall second (default 10)"
    )
    simulate.add_argument("--json", action="store_true", help="machine-readable output")
    simulate.add_argument("--plot", help="draw margin ratio and distance to this PNG file")
    check = commands.add_parser(
        "check-config",
        help="validate a config file and say what the service will do",
        description="Validate a config file, read every secret it names, and say what the"
        " service will do with it.",
    )
    check.add_argument("-c", "--config", help="config file (default: see README)")
    check.add_argument(
        "--credentials-dir",
        metavar="DIR",
        help="read credential:NAME secrets from DIR/NAME (default: $CREDENTIALS_DIRECTORY;"
        ' with neither they are "not checked")',
    )
    return parser


def _run_bodies(args: argparse.Namespace) -> int:
    from assistant.commands.calc import calc_bodies

    names = ("account", "positions", "brackets", "asset_index", "config", "symbol_config")
    missing = [n for n in ("account", "positions", "brackets") if getattr(args, n) is None]
    if missing:
        flags = ", ".join("--" + n.replace("_", "-") for n in missing)
        print(f"assistant calc: raw bodies need {flags} too", file=sys.stderr)
        return EXIT_USAGE
    texts: dict[str, str | None] = {}
    for name in names:
        path = getattr(args, name)
        try:
            texts[name] = None if path is None else Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            print(f"assistant calc: {path}: cannot read: {exc}", file=sys.stderr)
            return EXIT_USAGE
    try:
        result = calc_bodies(texts)
    except InputError as exc:
        print(f"assistant calc: {exc}", file=sys.stderr)
        return EXIT_USAGE
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return EXIT_OK


def _run_calc(path: str) -> int:
    from assistant.commands.calc import calc

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
    from assistant.commands.emulator import run

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


def _run_demo(scenario_name: str, config: str | None, seconds: float) -> int:
    from pathlib import Path

    from assistant.commands.demo import run
    from assistant.commands.emulator import scenario_from
    from assistant.service.settings import Settings, dashboard_token, load_settings

    try:
        if seconds <= 1:
            raise InputError("--seconds: give more than a second")
        scenario = scenario_from(scenario_name)
        # The example's rules are the defaults; an installed copy has no config/ beside it.
        example = Path(__file__).resolve().parent.parent / "config" / "assistant.example.toml"
        if config:
            settings = load_settings(Path(config))
        else:
            settings = load_settings(example) if example.exists() else Settings()
        dashboard_token(settings)  # a secret that cannot be resolved: one line, before anything
    except InputError as exc:
        print(f"assistant demo: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return run(scenario, settings, seconds)


def _replay(args: argparse.Namespace, settings: Any) -> int:
    from pathlib import Path

    from assistant.commands import replay

    since = replay.parse_time(args.since, "--from") if args.since else None
    until = replay.parse_time(args.until, "--to") if args.until else None
    store = Path(args.store) if args.store else settings.store_path
    report = replay.replay(settings, store, since, until)
    for note in report.notes:
        print(f"assistant replay: {note}", file=sys.stderr)
    if args.plot:
        Path(args.plot).write_bytes(replay.plot(report, settings))
    if args.json:
        print(json.dumps(replay.as_json(report, settings), indent=2))
    else:
        print(replay.as_text(report))
    return 1 if args.check and report.comparison.differs else EXIT_OK


def _check(path: Any, settings: Any, credentials_dir: str | None) -> int:
    from pathlib import Path

    from assistant.commands.check import check

    report = check(settings, Path(credentials_dir) if credentials_dir else None)
    if report.problems:
        raise InputError("\n".join(f"{path}: {line}" for line in report.problems))
    for line in report.notes:
        print(f"{path}: {line}")
    for line in report.warnings:
        print(f"WARNING {path}: {line}")
    print(report.summary)
    return EXIT_OK


def _with_settings(args: argparse.Namespace) -> int:
    from assistant.service.settings import find_config, load_settings

    try:
        path = find_config(args.config)
        settings = load_settings(path)
        if args.command == "check-config":
            return _check(path, settings, args.credentials_dir)
        if args.command == "replay":
            return _replay(args, settings)
        if args.command == "simulate":
            from assistant.commands.simulate import run as simulate

            return simulate(settings, args.scenario, args.speed, args.json, args.plot)
        if args.command == "status":
            from assistant.commands.status import status, text

            body = status(settings)
            print(json.dumps(body, indent=2) if args.json else text(body))
            return EXIT_OK
        from assistant.commands.run import run

        return run(settings, console=args.console)
    except InputError as exc:
        print(str(exc), file=sys.stderr)  # one `FILE: key: problem` line per problem
        return EXIT_USAGE


def _command(args: argparse.Namespace) -> int:
    if args.command == "calc":
        raw = ("account", "positions", "brackets", "asset_index", "config", "symbol_config")
        if any(getattr(args, name) is not None for name in raw):
            return _run_bodies(args)
        return _run_calc(args.file)
    if args.command == "emulator":
        return _run_emulator(args.host, args.port, args.scenario)
    if args.command == "demo":
        return _run_demo(args.scenario, args.config, args.seconds)
    return _with_settings(args)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
        code = _command(args)
        sys.stdout.flush()  # here, so that a reader gone away is seen here
    except BrokenPipeError:
        # The reader stopped reading (`assistant status | head -1`): no traceback, and no
        # second failure when Python flushes stdout on the way out.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILURE
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EIO, errno.EDQUOT):
            raise
        # stdout cannot be written (a full disk, /dev/full): one line, on stderr.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        print(f"assistant: cannot write the output: {exc.strerror}", file=sys.stderr)
        return EXIT_FAILURE
    return code


if __name__ == "__main__":
    sys.exit(main())
