"""``python -m dinoad.bench speed|quality|soak``: see ``--help`` of each command."""

from __future__ import annotations

import argparse
import logging
import sys

from dinoad.errors import DinoadError


def main(argv: list[str] | None = None) -> int:
    from dinoad.bench import quality, soak, speed

    parser = argparse.ArgumentParser(prog="python -m dinoad.bench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    speed.add_arguments(sub.add_parser("speed", help="speed against the machine's peak and peer implementations"))
    quality.add_arguments(sub.add_parser("quality", help="few-shot quality protocol on an MVTec AD layout dataset"))
    soak.add_arguments(sub.add_parser("soak", help="memory and inspection log over many live frames"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        datefmt="%H:%M:%S")
    logging.getLogger("dinoad.bench").setLevel(logging.INFO)  # progress of runs that take minutes
    try:
        commands = {"speed": speed.run_from_args, "quality": quality.run_from_args, "soak": soak.run_from_args}
        return commands[args.command](args)
    except DinoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
