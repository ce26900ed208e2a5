"""What the Python client checks share: the table, the rows written and
expected back (with their Python types), and how a check fails.

`check_pymysql.py` and `check_mysql_connector.py` import this module from
their own directory; `tests/tests/clients.rs` runs them against a fresh
cluster as `python3 SCRIPT HOST PORT DATABASE`.
"""

import sys
from datetime import datetime
from decimal import Decimal

CREATE_TABLE = (
    "CREATE TABLE items ("
    " id INT PRIMARY KEY,"
    " name VARCHAR(64),"
    " price DECIMAL(10,2),"
    " added DATETIME,"
    " stamp DATETIME(6),"
    " qty BIGINT)"
)
COLUMNS = "id, name, price, added, stamp, qty"
INSERT = "INSERT INTO items (" + COLUMNS + ") VALUES ({0}, {0}, {0}, {0}, {0}, {0})"

# Non-ASCII utf8mb4 text includes a 4-byte character (U+1F980), which
# MySQL's 3-byte `utf8` could not store.
NAME = "h\u00e9llo w\u00f6rld \u2014 \u65e5\u672c\u8a9e \U0001f980"

ROWS = [
    (1, "plain", Decimal("12.34"), datetime(2024, 2, 29, 12, 34, 56),
     datetime(2024, 2, 29, 12, 34, 56, 123456), 7),
    # Below -2^53: a client that went through a double would lose the 3.
    (2, NAME, Decimal("-0.05"), datetime(1999, 12, 31, 23, 59, 59),
     datetime(1970, 1, 1, 0, 0, 0, 1), -9007199254740993),
    (3, None, None, None, None, None),
]
TYPES = (int, str, Decimal, datetime, datetime, int)


class Mismatch(Exception):
    pass


def expect(what, got, want):
    if got != want:
        raise Mismatch(f"{what}: got {got!r}, want {want!r}")


def expect_rows(what, got, want=ROWS):
    """Compares rows value by value and type by type (None stays None)."""
    got = [tuple(r) for r in got]
    expect(f"{what}: row count", len(got), len(want))
    for g, w in zip(got, want):
        expect(f"{what}: row {w[0]}", g, w)
        for col, value, wanted, ty in zip(COLUMNS.split(", "), g, w, TYPES):
            if value is not None and type(value) is not ty:
                raise Mismatch(
                    f"{what}: row {w[0]} column {col}: got {type(value).__name__} "
                    f"{value!r}, want {ty.__name__}"
                )
            # Decimal('12.340') == Decimal('12.34'): the scale must match too.
            if ty is Decimal and value is not None:
                expect(f"{what}: row {w[0]} column {col} digits", str(value), str(wanted))


def expect_error(what, code, run):
    """Runs `run()`, which must raise a driver error whose MySQL code is `code`."""
    try:
        run()
    except Exception as e:  # each driver has its own exception classes
        got = getattr(e, "errno", None) or (e.args[0] if e.args else None)
        if got != code:
            raise Mismatch(f"{what}: got error {e!r}, want code {code}") from e
        return
    raise Mismatch(f"{what}: succeeded, want error {code}")


def main(name, check):
    """`check(host, port, database)` raises on a mismatch; prints one line."""
    if len(sys.argv) != 4:
        sys.exit(f"usage: {sys.argv[0]} HOST PORT DATABASE")
    host, port, database = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    try:
        summary = check(host, port, database)
    except Mismatch as e:
        sys.exit(f"{name}: MISMATCH: {e}")
    print(f"{name}: ok: {summary}")
