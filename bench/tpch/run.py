#!/usr/bin/env python3
"""TPC-H on duet (columnar engine, row engine) and DuckDB, side by side.

Loads tpchgen-cli CSV files into duet over the MySQL protocol (LOAD DATA
LOCAL INFILE), gives every table a columnar replica and waits until they are
available, runs ANALYZE TABLE on them, loads the same files into an in-memory DuckDB (2 threads), then
runs the 22 queries in bench/tpch/queries on each engine. Prints per query
the seconds on each, the ratios, and whether duet's two engines and DuckDB
agree (numbers compared with a relative tolerance of 1e-6, as engines round
averages differently in the last digits).

    run.py --data DIR --host 127.0.0.1 --port 4000 [--runs N] [--skip-load]
           [--engines columnar,row,duckdb] [--timeout SECONDS]

Exit code 1 if an engine's answers differ from another's.
"""

import argparse
import datetime
import decimal
import os
import sys
import time

import pymysql

HERE = os.path.dirname(os.path.abspath(__file__))
TABLES = ["region", "nation", "part", "supplier", "partsupp", "customer", "orders", "lineitem"]


def queries():
    out = []
    for i in range(1, 23):
        with open(os.path.join(HERE, "queries", f"q{i}.sql")) as f:
            out.append((f"q{i}", f.read().strip().rstrip(";")))
    return out


def schema_statements():
    """The CREATE TABLE statements of schema.sql, comments dropped."""
    with open(os.path.join(HERE, "schema.sql")) as f:
        for stmt in f.read().split(";"):
            lines = [l for l in stmt.splitlines() if not l.strip().startswith("--")]
            stmt = "\n".join(lines).strip()
            if stmt:
                yield stmt


def connect(args, db=None):
    return pymysql.connect(host=args.host, port=args.port, user="root", password="",
                           database=db, local_infile=True, autocommit=True,
                           read_timeout=args.timeout, write_timeout=args.timeout)


def load_duet(args):
    conn = connect(args)
    cur = conn.cursor()
    cur.execute("DROP DATABASE IF EXISTS tpch")
    cur.execute("CREATE DATABASE tpch")
    cur.execute("USE tpch")
    for stmt in schema_statements():
        cur.execute(stmt)
    for t in TABLES:
        path = os.path.join(args.data, f"{t}.csv")
        started = time.time()
        cur.execute(
            f"LOAD DATA LOCAL INFILE '{path}' INTO TABLE {t} FIELDS TERMINATED BY ',' "
            "OPTIONALLY ENCLOSED BY '\"' LINES TERMINATED BY '\\n' IGNORE 1 LINES")
        cur.execute(f"SELECT COUNT(*) FROM {t}")
        n = cur.fetchone()[0]
        print(f"# loaded {t}: {n} rows in {time.time() - started:.1f} s", flush=True)
    started = time.time()
    for t in TABLES:
        cur.execute(f"ALTER TABLE {t} SET COLUMNAR REPLICA 1")
    while True:
        cur.execute("SELECT COUNT(*), SUM(available), MIN(progress) FROM information_schema.columnar_replica "
                    "WHERE table_schema = 'tpch'")
        total, available, progress = cur.fetchone()
        if total == len(TABLES) and int(available or 0) == total:
            break
        if time.time() - started > args.timeout:
            sys.exit(f"columnar replicas not available after {args.timeout} s (progress {progress})")
        time.sleep(1)
    print(f"# columnar replicas available after {time.time() - started:.1f} s", flush=True)
    # Statistics for the cost model and the join order, as after loading
    # into TiDB (whose auto-analyze duet does not have yet).
    started = time.time()
    cur.execute("ANALYZE TABLE " + ", ".join(TABLES))
    print(f"# analyzed in {time.time() - started:.1f} s", flush=True)
    conn.close()


def load_duckdb(args):
    import duckdb
    db = duckdb.connect(":memory:")
    db.execute("SET threads TO 2")
    for stmt in schema_statements():
        db.execute(stmt)
    for t in TABLES:
        db.execute(f"INSERT INTO {t} SELECT * FROM read_csv('{os.path.join(args.data, t + '.csv')}', header=true)")
    return db


def normal(v):
    if isinstance(v, decimal.Decimal):
        return float(v)
    if isinstance(v, (datetime.date, datetime.datetime)):
        return v.isoformat()
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, str):
        return v.rstrip()
    return v


def same(a, b):
    if len(a) != len(b):
        return False
    for ra, rb in zip(a, b):
        if len(ra) != len(rb):
            return False
        for x, y in zip(ra, rb):
            x, y = normal(x), normal(y)
            if isinstance(x, (int, float)) and isinstance(y, (int, float)):
                if abs(x - y) > 1e-6 * max(1.0, abs(x), abs(y)):
                    return False
            elif x != y:
                return False
    return True


def timed(run, runs):
    best, rows = None, None
    for _ in range(runs):
        started = time.perf_counter()
        rows = run()
        took = time.perf_counter() - started
        best = took if best is None else min(best, took)
    return best, rows


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=4000)
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--timeout", type=int, default=3600)
    p.add_argument("--skip-load", action="store_true")
    p.add_argument("--engines", default="columnar,row,duckdb")
    args = p.parse_args()
    engines = args.engines.split(",")
    if not args.skip_load:
        load_duet(args)
    duck = load_duckdb(args) if "duckdb" in engines else None

    conns = {}
    for e in ("columnar", "row"):
        if e in engines:
            c = connect(args, "tpch")
            c.cursor().execute(f"SET SESSION isolation_read_engines = '{e}'")
            conns[e] = c

    def duet(engine, sql):
        cur = conns[engine].cursor()
        cur.execute(sql)
        return [tuple(r) for r in cur.fetchall()]

    header = ["query"] + [f"{e}_s" for e in engines]
    if "columnar" in engines and "duckdb" in engines:
        header.append("columnar/duckdb")
    if "columnar" in engines and "row" in engines:
        header.append("row/columnar")
    header.append("answers")
    print(" ".join(f"{h:>15}" for h in header))
    totals = {e: 0.0 for e in engines}
    mismatches = 0
    for name, sql in queries():
        times, results = {}, {}
        for e in engines:
            try:
                if e == "duckdb":
                    t, rows = timed(lambda: [tuple(r) for r in duck.execute(sql).fetchall()], args.runs)
                else:
                    t, rows = timed(lambda: duet(e, sql), args.runs)
                times[e], results[e] = t, rows
                totals[e] += t
            except Exception as ex:  # an engine's failure is reported, not fatal
                times[e], results[e] = None, None
                print(f"# {name} on {e}: {ex}", flush=True)
        base = next((results[e] for e in engines if results.get(e) is not None), None)
        agree = all(results.get(e) is not None and same(results[e], base) for e in engines)
        if not agree:
            mismatches += 1
        row = [name] + [f"{times[e]:.3f}" if times[e] is not None else "error" for e in engines]
        if "columnar" in engines and "duckdb" in engines:
            row.append(f"{times['columnar'] / times['duckdb']:.2f}" if times["columnar"] and times["duckdb"] else "-")
        if "columnar" in engines and "row" in engines:
            row.append(f"{times['row'] / times['columnar']:.2f}" if times["columnar"] and times["row"] else "-")
        row.append("same" if agree else "DIFFER")
        print(" ".join(f"{c:>15}" for c in row), flush=True)
    row = ["total"] + [f"{totals[e]:.3f}" for e in engines]
    if "columnar" in engines and "duckdb" in engines:
        row.append(f"{totals['columnar'] / totals['duckdb']:.2f}" if totals["duckdb"] else "-")
    if "columnar" in engines and "row" in engines:
        row.append(f"{totals['row'] / totals['columnar']:.2f}" if totals["columnar"] else "-")
    row.append(f"{22 - mismatches}/22 same")
    print(" ".join(f"{c:>15}" for c in row))
    sys.exit(1 if mismatches else 0)


if __name__ == "__main__":
    main()
