"""`qunzhu lottery verify`: reproduce a draw from its published seed and entry list.

    qunzhu lottery verify --seed SEED --entries entries.txt --winners N [--hash SHA256]

The entry file holds one user id per line, as `/draw_entries ID` posts them (a header line that is
not an id may stay in: lines with spaces, ending in ':' or starting with '#' are skipped). The method is the bot's
own (handlers.points.service.pick_winners): ticket = sha256("<seed>:<user id>") in hex; the lowest
tickets win, ties broken by user id; duplicates count once; the order of the file does not matter.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from handlers.points.service import pick_winners, seed_hash, ticket


def read_entries(path: str) -> list[str]:
    text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    entries = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and " " not in line and not line.endswith((":", "：")):
            entries.append(line)
    return entries


def cmd_verify(args) -> int:
    try:
        entries = read_entries(args.entries)
    except OSError as exc:
        print(f"--entries {args.entries}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    if args.winners < 1:
        print(f"--winners {args.winners}: must be at least 1", file=sys.stderr)
        return 2
    digest = seed_hash(args.seed)
    print(f"seed sha256: {digest}")
    status = 0
    if args.hash:
        if args.hash.strip().lower() == digest:
            print("commitment: matches the hash published when the draw opened")
        else:
            print(f"commitment: MISMATCH (published {args.hash}); this seed is not the one committed to")
            status = 1
    unique = sorted(set(entries))
    print(f"entries: {len(unique)}")
    winners = pick_winners(args.seed, unique, args.winners)
    for place, user_id in enumerate(winners, start=1):
        print(f"{place}. {user_id}  ticket {ticket(args.seed, user_id)}")
    return status


def register(subparsers) -> None:
    p = subparsers.add_parser("lottery", help="lottery tools (verify a draw)")
    sub = p.add_subparsers(dest="lottery_command", metavar="ACTION", required=True)
    v = sub.add_parser(
        "verify",
        help="reproduce a draw's winners from its seed and entry list",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    v.add_argument("--seed", required=True, help="the seed revealed with the result")
    v.add_argument("--entries", required=True, metavar="FILE", help="one user id per line ('-' = stdin)")
    v.add_argument("--winners", required=True, type=int, metavar="N", help="number of winners of the draw")
    v.add_argument("--hash", help="the sha256 published when the draw opened, to check the commitment")
    v.set_defaults(func=cmd_verify)
