#!/usr/bin/env node
// mysql2 (Node.js), unmodified, against duet:
// usage `node check_mysql2.js HOST PORT DATABASE`.
//
// `connection.query` is the text protocol (COM_QUERY, parameters
// interpolated by the client); `connection.execute` prepares on the server
// (COM_STMT_PREPARE, then COM_STMT_EXECUTE with typed binary parameters,
// binary rows). Each value read back is compared with its JavaScript type:
// DECIMAL as a string (mysql2's default), BIGINT as a number while it is
// exact and as a string beyond 2^53 (`supportBigNumbers`), DATETIME as a
// string (`dateStrings`) and, on a second connection, as a Date.
'use strict';

const assert = require('node:assert/strict');
const mysql = require('mysql2/promise');

const CREATE_TABLE =
  'CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(64), price DECIMAL(10,2),' +
  ' added DATETIME, stamp DATETIME(6), qty BIGINT)';
const COLUMNS = 'id, name, price, added, stamp, qty';
const INSERT = `INSERT INTO items (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)`;
// Non-ASCII utf8mb4 text with a 4-byte character (U+1F980).
const NAME = 'h\u00e9llo w\u00f6rld \u2014 \u65e5\u672c\u8a9e \u{1f980}';

// Column types of the result set (MySQL's MYSQL_TYPE_* codes).
const LONG = 3;
const LONGLONG = 8;
const DATETIME = 12;
const VAR_STRING = 253;
const NEWDECIMAL = 246;
const TYPES = [LONG, VAR_STRING, NEWDECIMAL, DATETIME, DATETIME, LONGLONG];

// As written (mysql2 encodes JS numbers as DOUBLE parameters, strings as
// VAR_STRING) and as read back with dateStrings + supportBigNumbers.
const ROWS = [
  [1, 'plain', '12.34', '2024-02-29 12:34:56', '2024-02-29 12:34:56.123456', 7],
  // Below -2^53: only exact as a string, both ways.
  [2, NAME, '-0.05', '1999-12-31 23:59:59', '1970-01-01 00:00:00.000001', '-9007199254740993'],
  [3, null, null, null, null, null],
];

function expectRows(what, [rows, fields], want = ROWS) {
  assert.deepStrictEqual(
    rows.map((r) => Object.values(r)),
    want,
    `${what}: rows differ`
  );
  assert.deepStrictEqual(
    fields.map((f) => f.columnType),
    TYPES,
    `${what}: column types differ`
  );
}

async function expectError(what, code, promise) {
  await assert.rejects(
    promise,
    (e) => {
      assert.equal(e.errno, code, `${what}: got ${e.code} ${e.errno} ${e.message}`);
      return true;
    },
    `${what}: succeeded, want error ${code}`
  );
}

function connect(host, port, database, extra = {}) {
  return mysql.createConnection({
    host,
    port,
    user: 'root',
    password: '',
    database,
    charset: 'utf8mb4',
    supportBigNumbers: true,
    dateStrings: true,
    ...extra,
  });
}

async function check(host, port, database) {
  const boot = await connect(host, port, 'test');
  await boot.query(`CREATE DATABASE IF NOT EXISTS \`${database}\``);
  await boot.end();

  const conn = await connect(host, port, database);
  const other = await connect(host, port, database);
  const [[db]] = await conn.query('SELECT DATABASE() AS db');
  assert.equal(db.db, database, 'SELECT DATABASE()');
  await conn.query('DROP TABLE IF EXISTS items');
  await conn.query(CREATE_TABLE);

  // Rows 1 and 2 through prepared INSERTs, row 3 through the text protocol.
  for (const row of ROWS.slice(0, 2)) {
    const [res] = await conn.execute(INSERT, row);
    assert.equal(res.affectedRows, 1, `prepared INSERT of row ${row[0]}`);
  }
  const [res] = await conn.query(INSERT, ROWS[2]);
  assert.equal(res.affectedRows, 1, 'text INSERT of row 3');

  const select = `SELECT ${COLUMNS} FROM items`;
  expectRows('text SELECT', await conn.query(`${select} ORDER BY id`));
  expectRows('prepared SELECT', await conn.execute(`${select} WHERE id >= ? ORDER BY id`, [1]));
  for (const row of ROWS.slice(0, 2)) {
    const where = ' WHERE name = ? AND price = ? AND added = ? AND stamp = ? AND qty = ?';
    expectRows(`text SELECT by values of row ${row[0]}`,
      await conn.query(select + where, row.slice(1)), [row]);
    expectRows(`prepared SELECT by values of row ${row[0]}`,
      await conn.execute(select + where, row.slice(1)), [row]);
  }
  expectRows('prepared point get of the NULL row',
    await conn.execute(`${select} WHERE id = ?`, [3]), [ROWS[2]]);
  const [none] = await conn.execute(`${select} WHERE id = ?`, [99]);
  assert.deepStrictEqual(none, [], 'prepared point get of a missing row');

  // DATETIME as a JavaScript Date, from both protocols and as a parameter.
  const utc = await connect(host, port, database, { dateStrings: false, timezone: 'Z' });
  for (const [how, run] of [
    ['text', (sql, p) => utc.query(sql, p)],
    ['prepared', (sql, p) => utc.execute(sql, p)],
  ]) {
    const [[r]] = await run('SELECT added, stamp FROM items WHERE added = ?',
      [new Date(Date.UTC(2024, 1, 29, 12, 34, 56))]);
    assert.ok(r && r.added instanceof Date, `${how} DATETIME as Date: ${JSON.stringify(r)}`);
    assert.equal(r.added.toISOString(), '2024-02-29T12:34:56.000Z', `${how} DATETIME`);
    assert.equal(r.stamp.toISOString(), '2024-02-29T12:34:56.123Z', `${how} DATETIME(6)`);
  }
  await utc.end();

  // BEGIN / INSERT / ROLLBACK leaves no row; BEGIN / INSERT / COMMIT does.
  await conn.beginTransaction();
  await conn.execute(INSERT, [10, 'rolled back', null, null, null, null]);
  const count = async (c, id) => (await c.execute('SELECT COUNT(*) AS n FROM items WHERE id = ?', [id]))[0][0].n;
  assert.equal(await count(conn, 10), 1, 'own uncommitted row');
  assert.equal(await count(other, 10), 0, 'another connection during the transaction');
  await conn.rollback();
  assert.equal(await count(conn, 10), 0, 'row after ROLLBACK');
  await conn.beginTransaction();
  await conn.query(INSERT, [11, 'committed', null, null, null, null]);
  assert.equal(await count(other, 11), 0, 'another connection during the transaction');
  await conn.commit();
  const [after] = await other.query('SELECT id, name FROM items WHERE id IN (10, 11) ORDER BY id');
  assert.deepStrictEqual(after.map((r) => [r.id, r.name]), [[11, 'committed']],
    'rows after COMMIT, from another connection');

  // Errors carry their MySQL codes, from both protocols, and leave the
  // connection usable.
  await expectError('duplicate key (text)', 1062, conn.query(INSERT, ROWS[0]));
  await expectError('duplicate key (prepared)', 1062, conn.execute(INSERT, ROWS[0]));
  await expectError('unknown table (text)', 1146, conn.query('SELECT * FROM no_such_table'));
  await expectError('unknown table (prepared)', 1146,
    conn.execute('SELECT * FROM no_such_table WHERE id = ?', [1]));
  const [[one]] = await conn.execute('SELECT ? AS v', ['after errors']);
  assert.equal(one.v, 'after errors', 'prepared SELECT ? after errors');

  await other.end();
  await conn.end();
  const version = require('mysql2/package.json').version;
  return `mysql2 ${version}, text and prepared, ${ROWS.length} rows, 2 transactions, 2 error codes`;
}

async function main() {
  if (process.argv.length !== 5) {
    console.error(`usage: node ${process.argv[1]} HOST PORT DATABASE`);
    process.exit(2);
  }
  const [host, port, database] = process.argv.slice(2);
  try {
    console.log(`mysql2: ok: ${await check(host, Number(port), database)}`);
  } catch (e) {
    console.error(`mysql2: MISMATCH: ${e.stack || e}`);
    process.exit(1);
  }
}

main();
