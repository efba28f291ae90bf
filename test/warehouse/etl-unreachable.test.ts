// MongoDB (or MySQL) down before or during the step: a GanymedeError with the "unreachable" exit code and
// a one-line message naming what could not be reached, so the tick retries it later.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, test } from 'node:test';
import { MongoClient } from 'mongodb';
import mysql from 'mysql2';
import { GanymedeError } from '../../src/errors.js';
import { ExitCode } from '../../src/exit-codes.js';
import { startMongo } from '../support/mongo.js';
import { baseStatements, cycle1, etl, openRig, type Rig } from './fixture.js';

let rig: Rig;
let schema: string;
before(async () => {
  rig = await openRig();
  schema = await rig.createSchema('whdown', baseStatements());
});
after(async () => {
  await rig?.close();
});

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function isUnreachable(naming: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof GanymedeError, String(error));
    assert.equal(error.exitCode, ExitCode.unreachable);
    assert.ok(!error.message.includes('\n'), error.message);
    assert.match(error.message, naming);
    return true;
  };
}

test('MongoDB not listening: unreachable, one line naming MongoDB', async () => {
  const client = new MongoClient(`mongodb://127.0.0.1:${await closedPort()}/?directConnection=true&serverSelectionTimeoutMS=500`);
  try {
    await assert.rejects(etl(client.db('gmdt_down'), schema, cycle1), isUnreachable(/^cannot reach MongoDB while preparing the change log: /));
  } finally {
    await client.close();
  }
});

test('MongoDB stopping mid-step: unreachable, one line naming MongoDB and the collection', async () => {
  const own = await startMongo();
  if (!own.standIn) return; // a server given by MONGODB_URI cannot be stopped from here
  const client = await new MongoClient(own.uri.replace('serverSelectionTimeoutMS=5000', 'serverSelectionTimeoutMS=1000')).connect();
  let stopped = false;
  try {
    await assert.rejects(
      etl(client.db('gmdt_stop'), schema, cycle1, {
        checkpoint: async (point) => {
          if (point.phase === 'written' && !stopped) {
            stopped = true;
            await own.stop();
          }
        },
      }),
      isUnreachable(/^cannot reach MongoDB while (reading|writing\b.*) collection accounts: /),
    );
    assert.ok(stopped);
  } finally {
    await client.close();
    await own.stop();
  }
});

test('the transaction schema unreachable: unreachable, naming it', async () => {
  const port = await closedPort();
  const connect = () => new Promise<mysql.Connection>((resolve, reject) => {
    const conn = mysql.createConnection({ host: '127.0.0.1', port, user: 'root', connectTimeout: 1000 });
    conn.connect((error) => (error ? reject(error) : resolve(conn)));
  });
  await assert.rejects(etl(rig.freshDb('nomysql'), schema, cycle1, { mysql: connect }),
    isUnreachable(new RegExp(`^cannot reach the transaction schema at ${schema}: ECONNREFUSED`)));
});
