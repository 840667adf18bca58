"""What the web console's covering members index (ix_members_chat_list, migration 0004) costs the
writes the bot makes to `members`: a new member, a changed display name, last_seen. Raw sqlite3 on a
temporary file with 100,000 members, each statement inside one transaction (the commit, which
dominates a real event, is left out so the index's own cost shows), with and without the index,
twice each. Prints µs per statement.

    .venv/bin/python bench/members_index_cost.py [--members 100000] [--writes 5000]
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import tempfile
import time
from pathlib import Path

SCHEMA = [
    "create table members(id integer primary key, chat_id int, user_id text, display_name text, username text,"
    " role text, status text, joined_at text, left_at text, last_seen_at text, unique(chat_id, user_id))",
    "create index ix_members_chat_last_seen on members(chat_id, last_seen_at)",
    "create index ix_members_chat_joined on members(chat_id, joined_at)",
    "create index ix_members_chat_username on members(chat_id, lower(username))",
]
LIST_INDEX = ("create index ix_members_chat_list on members(chat_id, joined_at, id, status, display_name, username, user_id)"
              " where status is not null")


def measure(path: Path, with_index: bool, members: int, writes: int) -> tuple[float, float, float]:
    path.unlink(missing_ok=True)
    db = sqlite3.connect(path)
    db.execute("pragma journal_mode=wal")
    for statement in SCHEMA + ([LIST_INDEX] if with_index else []):
        db.execute(statement)
    db.executemany("insert into members(chat_id, user_id, display_name, username, role, status, joined_at) values (?,?,?,?,?,?,?)",
                   [(1, str(i), f"name {i}", f"user{i}", "member", "active", f"2026-01-01 00:{i % 60:02d}:00") for i in range(members)])
    db.commit()
    rng = random.Random(1)

    def timed(statement: str, rows) -> float:
        started = time.perf_counter()
        for row in rows:
            db.execute(statement, row)
        return (time.perf_counter() - started) / writes * 1e6

    insert = timed("insert into members(chat_id, user_id, display_name, username, role, status, joined_at) values (?,?,?,?,?,?,?)",
                   [(2, str(i), f"n{i}", f"u{i}", "member", "active", "2026-02-01 00:00:00") for i in range(writes)])
    rename = timed("update members set display_name = ? where chat_id = 1 and user_id = ?",
                   [(f"renamed {i}", str(rng.randrange(members))) for i in range(writes)])
    seen = timed("update members set last_seen_at = ? where id = ?", [("2026-03-01", rng.randrange(1, members)) for _ in range(writes)])
    db.close()
    return insert, rename, seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--writes", type=int, default=5_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "members.db"
        print(f"{'':18}{'insert µs':>10}{'rename µs':>11}{'last_seen µs':>14}")
        for with_index in (False, True, False, True):
            insert, rename, seen = measure(path, with_index, args.members, args.writes)
            print(f"{'with list index' if with_index else 'without':18}{insert:10.1f}{rename:11.1f}{seen:14.1f}")


if __name__ == "__main__":
    main()
