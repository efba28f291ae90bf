// The agent encodes rows straight from mysql2's row packets and writes them into tar parts in place.
// Against the real server and the torture schema: those bytes and checksums must be exactly what the
// documented route gives (mysql2's Buffers per field, RowEncoder.encode), however the space is cut up,
// and the tar written into batches must be the plan, every table's parts in order, and the manifest.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Readable } from 'node:stream';
import mysql, { type Connection, type QueryError } from 'mysql2';
import { Parser, type ReadEntry } from 'tar';
import { mysqlOptions, testDatabases, type TestDatabases } from '../support/mysql.js';
import { openSnapshot, type Snapshot } from '../../src/extract/extract.js';
import { RowEncoder, selectSql, type ChunkSink } from '../../src/dump/dump-format.js';
import { writeDumpArchive } from '../../src/dump/dump-archive.js';
import { TarBatchWriter } from '../../src/extract/tar-batches.js';
import type { ReadFlow, TableDataStats } from '../../src/dump/table-data-stream.js';
import { createTortureSchema } from './torture-schema.js';

interface Encoded extends TableDataStats {
  data: Buffer;
}

const idle: ReadFlow = { congested: false, onDrain: () => () => {}, signal: new AbortController().signal };

async function withSnapshot<T>(database: string, use: (snapshot: Snapshot, conn: Connection) => Promise<T>): Promise<T> {
  const conn = mysql.createConnection(mysqlOptions(database));
  try {
    const snapshot = await openSnapshot(conn, { database });
    try {
      return await use(snapshot, conn);
    } finally {
      await snapshot.close();
    }
  } finally {
    await conn.promise().end();
  }
}

/** The documented route: a Buffer per field (typeCast false), one array per row. */
function encodeFromRows(conn: Connection, sql: string): Promise<Encoded> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const encoder = new RowEncoder((chunk) => chunks.push(chunk));
    const query = conn.query({ sql, typeCast: false, rowsAsArray: true });
    query.on('result', (row: unknown) => encoder.encode(row as (Buffer | null)[]));
    query.on('error', (error: QueryError) => reject(error));
    query.on('end', () => {
      encoder.end();
      resolve({ data: Buffer.concat(chunks), rows: encoder.rows, bytes: encoder.bytes, checksum: encoder.checksum() });
    });
  });
}

/** Space cut into regions of `regionBytes` (small ones force rows across regions and the slow paths). */
function collectingSink(regionBytes: number): ChunkSink & { data(): Buffer; regions: number } {
  const filled: Buffer[] = [];
  return {
    regions: 0,
    next() {
      this.regions++;
      return Buffer.alloc(regionBytes);
    },
    emit(chunk) {
      assert.ok(chunk.length > 0 && chunk.length <= regionBytes, `a region of ${chunk.length} bytes`);
      filled.push(Buffer.from(chunk));
    },
    data: () => Buffer.concat(filled),
  };
}

function untar(bytes: Buffer): Promise<Map<string, Buffer>> {
  return new Promise((resolve, reject) => {
    const entries = new Map<string, Buffer>();
    const parser = new Parser({
      strict: true,
      onReadEntry: (entry: ReadEntry) => {
        const chunks: Buffer[] = [];
        entry.on('data', (chunk: Buffer) => chunks.push(chunk));
        entry.on('end', () => entries.set(entry.path, Buffer.concat(chunks)));
      },
    });
    parser.on('error', reject);
    parser.on('end', () => resolve(entries));
    Readable.from([bytes]).pipe(parser);
  });
}

describe('rows from packets', () => {
  let dbs: TestDatabases;
  let source: string;
  const documented = new Map<string, Encoded>();

  before(async () => {
    dbs = await testDatabases();
    source = await dbs.create('packets_src');
    const admin = mysql.createConnection(mysqlOptions(source));
    try {
      await createTortureSchema(admin, { mariadbTypes: true });
    } finally {
      await admin.promise().end();
    }
    await withSnapshot(source, async (snapshot, conn) => {
      for (const table of snapshot.plan.tables) documented.set(table.file, await encodeFromRows(conn, selectSql(table.name, table.columns, source)));
    });
  });
  after(async () => {
    await dbs.dropAll();
  });

  test('TableDataStream takes the packet route and gives the same bytes and checksum', async () => {
    await withSnapshot(source, async (snapshot) => {
      for (const table of snapshot.plan.tables) {
        const stream = snapshot.dumpTable(table);
        const chunks: Buffer[] = [];
        for await (const chunk of stream) chunks.push(chunk as Buffer);
        const expected = documented.get(table.file)!;
        assert.equal(stream.packetRows, expected.rows, `${table.name}: rows through the packet route`);
        assert.ok(Buffer.concat(chunks).equals(expected.data), `${table.name}: bytes`);
        assert.deepEqual(stream.stats(), { rows: expected.rows, bytes: expected.bytes, checksum: expected.checksum }, table.name);
      }
    });
  });

  for (const regionBytes of [64 * 1024, 1000]) {
    test(`readTable into regions of ${regionBytes} bytes gives the same bytes and checksum`, async () => {
      await withSnapshot(source, async (snapshot) => {
        for (const table of snapshot.plan.tables) {
          const sink = collectingSink(regionBytes);
          const read = snapshot.readTable(table, sink, idle);
          const stats = await read.done;
          const expected = documented.get(table.file)!;
          assert.ok(sink.data().equals(expected.data), `${table.name}: bytes`);
          assert.deepEqual(stats, { rows: expected.rows, bytes: expected.bytes, checksum: expected.checksum }, table.name);
        }
        assert.equal(snapshot.manifest().tables.length, snapshot.plan.tables.length);
      });
    });
  }

  test('the archive written into batches is plan.json, each table in parts, manifest.json', async () => {
    const batches: Buffer[] = [];
    let sent = 0;
    const port = {
      take: () => Buffer.alloc(1024 * 1024),
      send: (batch: Buffer, length: number) => {
        assert.equal(length % 512, 0, 'whole tar blocks');
        batches.push(batch.subarray(0, length));
        sent++;
      },
    };
    const manifest = await withSnapshot(source, async (snapshot) => {
      await writeDumpArchive(snapshot, new TarBatchWriter(port, new Date(snapshot.plan.snapshotAt)), idle);
      return snapshot.manifest();
    });
    assert.ok(sent > 1, 'the 17 MB row spans batches');
    const entries = await untar(Buffer.concat(batches));
    const names = [...entries.keys()];
    assert.equal(names[0], 'plan.json');
    assert.equal(names.at(-1), 'manifest.json');
    assert.deepEqual(JSON.parse(entries.get('manifest.json')!.toString()), JSON.parse(JSON.stringify(manifest)));
    for (const table of manifest.tables) {
      const parts = names.filter((name) => name.startsWith(`data/${table.file}.`));
      assert.deepEqual(parts, parts.map((_, i) => `data/${table.file}.${String(i + 1).padStart(6, '0')}`), `${table.name}: parts in order`);
      const data = Buffer.concat(parts.map((name) => entries.get(name)!));
      assert.ok(data.equals(documented.get(table.file)!.data), `${table.name}: the parts are its data`);
    }
  });
});
