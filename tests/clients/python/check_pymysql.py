#!/usr/bin/env python3
"""PyMySQL, unmodified, against duet: usage `check_pymysql.py HOST PORT DATABASE`.

PyMySQL has no server-side prepared statements: it interpolates parameters
into the query text on the client and reads results in the text protocol,
converting each value by its column definition's type. It connects with
autocommit off (it sends `SET AUTOCOMMIT = 0`), so every write here is
committed explicitly, as a PyMySQL user would.
"""

from importlib.metadata import version

import pymysql
from pymysql.constants import FIELD_TYPE

from common import (COLUMNS, CREATE_TABLE, INSERT, ROWS, expect, expect_error,
                    expect_rows, main)


def connect(host, port, database):
    return pymysql.connect(host=host, port=port, user="root", password="",
                           database=database, charset="utf8mb4")


def check(host, port, database):
    boot = connect(host, port, "test")
    with boot.cursor() as cur:
        cur.execute(f"CREATE DATABASE IF NOT EXISTS `{database}`")
    boot.close()

    conn = connect(host, port, database)
    other = connect(host, port, database)
    cur = conn.cursor()
    expect("SELECT DATABASE()", (cur.execute("SELECT DATABASE()"), cur.fetchone()),
           (1, (database,)))
    cur.execute("DROP TABLE IF EXISTS items")
    cur.execute(CREATE_TABLE)
    expect("INSERT rowcount", cur.executemany(INSERT.format("%s"), ROWS), len(ROWS))
    conn.commit()

    cur.execute(f"SELECT {COLUMNS} FROM items ORDER BY id")
    expect_rows("SELECT", cur.fetchall())
    want_types = [FIELD_TYPE.LONG, FIELD_TYPE.VAR_STRING, FIELD_TYPE.NEWDECIMAL,
                  FIELD_TYPE.DATETIME, FIELD_TYPE.DATETIME, FIELD_TYPE.LONGLONG]
    expect("column types", [d[1] for d in cur.description], want_types)
    # Interpolated parameters of each type in a WHERE clause.
    for row in ROWS[:2]:
        n = cur.execute(
            f"SELECT {COLUMNS} FROM items WHERE name = %s AND price = %s AND added = %s"
            " AND stamp = %s AND qty = %s", row[1:])
        expect(f"SELECT by values of row {row[0]}: rowcount", n, 1)
        expect_rows(f"SELECT by values of row {row[0]}", cur.fetchall(), [row])
    cur.execute(f"SELECT {COLUMNS} FROM items WHERE id = %s", (3,))
    expect_rows("point get of the NULL row", cur.fetchall(), [ROWS[2]])
    other.commit()  # a fresh snapshot for `other`
    with other.cursor() as o:
        o.execute("SELECT COUNT(*) FROM items")
        expect("committed rows seen by another connection", o.fetchone(), (3,))

    # BEGIN / INSERT / ROLLBACK leaves no row; BEGIN / INSERT / COMMIT does.
    conn.begin()
    cur.execute(INSERT.format("%s"), (10, "rolled back", None, None, None, None))
    cur.execute("SELECT COUNT(*) FROM items WHERE id = 10")
    expect("own uncommitted row", cur.fetchone(), (1,))
    conn.rollback()
    cur.execute("SELECT COUNT(*) FROM items WHERE id = 10")
    expect("row after ROLLBACK", cur.fetchone(), (0,))
    # With autocommit off a write opens a transaction by itself.
    cur.execute(INSERT.format("%s"), (12, "implicit", None, None, None, None))
    conn.rollback()
    cur.execute("SELECT COUNT(*) FROM items WHERE id = 12")
    expect("row after an implicit transaction's ROLLBACK", cur.fetchone(), (0,))
    conn.begin()
    cur.execute(INSERT.format("%s"), (11, "committed", None, None, None, None))
    conn.commit()
    other.commit()
    with other.cursor() as o:
        o.execute("SELECT id, name FROM items WHERE id IN (10, 11, 12) ORDER BY id")
        expect("rows after COMMIT, from another connection", o.fetchall(),
               ((11, "committed"),))

    # Errors carry their MySQL codes and leave the connection usable.
    expect_error("duplicate key", 1062,
                 lambda: cur.execute(INSERT.format("%s"), ROWS[0]))
    conn.rollback()
    expect_error("unknown table", 1146, lambda: cur.execute("SELECT * FROM no_such_table"))
    conn.rollback()
    cur.execute("SELECT 1")
    expect("SELECT 1 after errors", cur.fetchone(), (1,))
    other.close()
    conn.close()
    return f"PyMySQL {version('PyMySQL')}, text protocol, {len(ROWS)} rows, 3 transactions, 2 error codes"


if __name__ == "__main__":
    main("pymysql", check)
