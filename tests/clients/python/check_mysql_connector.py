#!/usr/bin/env python3
"""MySQL Connector/Python, unmodified, against duet: usage
`check_mysql_connector.py HOST PORT DATABASE`.

Reads go through both protocols: a plain cursor (COM_QUERY, text rows) and
`cursor(prepared=True)` (COM_STMT_PREPARE / EXECUTE / CLOSE, binary rows and
typed parameters). The pure-Python implementation always runs; the C
extension (libmysqlclient) runs too where it loads — its wheel needs
OpenSSL >= 3.2, which Debian 12 does not have.
"""

import mysql.connector

from common import (COLUMNS, CREATE_TABLE, INSERT, ROWS, expect, expect_error,
                    expect_rows, main)


def connect(host, port, database, use_pure):
    return mysql.connector.connect(host=host, port=port, user="root", password="",
                                   database=database, charset="utf8mb4",
                                   use_pure=use_pure)


def check_one(host, port, database, use_pure):
    conn = connect(host, port, database, use_pure)
    other = connect(host, port, database, use_pure)
    other.autocommit = True
    cur = conn.cursor()
    cur.execute("SELECT DATABASE()")
    expect("SELECT DATABASE()", cur.fetchall(), [(database,)])
    cur.execute("DROP TABLE IF EXISTS items")
    cur.execute(CREATE_TABLE)

    # Rows 1 and 2 through a prepared INSERT (typed binary parameters),
    # row 3 through the text protocol (client-side interpolation).
    prep = conn.cursor(prepared=True)
    for row in ROWS[:2]:
        prep.execute(INSERT.format("?"), row)
        expect(f"prepared INSERT of row {row[0]}: rowcount", prep.rowcount, 1)
    cur.execute(INSERT.format("%s"), ROWS[2])
    conn.commit()

    cur.execute(f"SELECT {COLUMNS} FROM items ORDER BY id")
    expect_rows("text SELECT", cur.fetchall())
    prep.execute(f"SELECT {COLUMNS} FROM items WHERE id >= ? ORDER BY id", (1,))
    expect_rows("prepared SELECT", prep.fetchall())
    for row in ROWS[:2]:
        prep.execute(f"SELECT {COLUMNS} FROM items WHERE name = ? AND price = ?"
                     " AND added = ? AND stamp = ? AND qty = ?", row[1:])
        expect_rows(f"prepared SELECT by values of row {row[0]}", prep.fetchall(), [row])
    prep.execute(f"SELECT {COLUMNS} FROM items WHERE id = ?", (3,))
    expect_rows("prepared point get of the NULL row", prep.fetchall(), [ROWS[2]])
    prep.execute(f"SELECT {COLUMNS} FROM items WHERE id = ?", (99,))
    expect("prepared point get of a missing row", prep.fetchall(), [])

    # Connector/Python turns autocommit off on connect, so the reads above
    # run in an implicit transaction, reported by the server's status flags.
    expect("in_transaction after reads with autocommit off", conn.in_transaction, True)
    conn.commit()
    expect("in_transaction after COMMIT", conn.in_transaction, False)
    conn.autocommit = True

    # BEGIN / INSERT / ROLLBACK leaves no row; BEGIN / INSERT / COMMIT does.
    conn.start_transaction()
    prep.execute(INSERT.format("?"), (10, "rolled back", None, None, None, None))
    cur.execute("SELECT COUNT(*) FROM items WHERE id = 10")
    expect("own uncommitted row", cur.fetchall(), [(1,)])
    conn.rollback()
    cur.execute("SELECT COUNT(*) FROM items WHERE id = 10")
    expect("row after ROLLBACK", cur.fetchall(), [(0,)])
    conn.start_transaction()
    prep.execute(INSERT.format("?"), (11, "committed", None, None, None, None))
    ocur = other.cursor()
    ocur.execute("SELECT COUNT(*) FROM items WHERE id = 11")
    expect("another connection during the transaction", ocur.fetchall(), [(0,)])
    conn.commit()
    ocur.execute("SELECT id, name FROM items WHERE id IN (10, 11) ORDER BY id")
    expect("rows after COMMIT, from another connection", ocur.fetchall(),
           [(11, "committed")])

    # Errors carry their MySQL codes, from both protocols, and leave the
    # connection usable.
    expect_error("duplicate key (text)", 1062,
                 lambda: cur.execute(INSERT.format("%s"), ROWS[0]))
    expect_error("duplicate key (prepared)", 1062,
                 lambda: prep.execute(INSERT.format("?"), ROWS[0]))
    conn.rollback()
    expect_error("unknown table (text)", 1146,
                 lambda: cur.execute("SELECT * FROM no_such_table"))
    expect_error("unknown table (prepared)", 1146,
                 lambda: prep.execute("SELECT * FROM no_such_table WHERE id = ?", (1,)))
    conn.rollback()
    prep.execute("SELECT ?", (1,))
    expect("prepared SELECT ? after errors", prep.fetchall(), [(1,)])
    prep.close()
    cur.close()
    ocur.close()
    other.close()
    conn.close()


def check(host, port, database):
    boot = connect(host, port, "test", use_pure=True)
    cur = boot.cursor()
    cur.execute(f"CREATE DATABASE IF NOT EXISTS `{database}`")
    cur.close()
    boot.close()
    ran = ["pure Python"]
    check_one(host, port, database, use_pure=True)
    if mysql.connector.HAVE_CEXT:
        check_one(host, port, database, use_pure=False)
        ran.append("C extension")
    return (f"Connector/Python {mysql.connector.__version__} ({', '.join(ran)}),"
            f" text and prepared, {len(ROWS)} rows, 2 transactions, 2 error codes")


if __name__ == "__main__":
    main("mysql-connector-python", check)
