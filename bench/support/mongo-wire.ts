// A TCP relay in front of a MongoDB that counts the write commands clients send through it, read from
// the wire itself (OP_MSG), so a benchmark can check what a program says it wrote against what it sent.
// Every byte is passed on unchanged. Counts per command and collection: how many commands (round trips)
// and how many statements they carried (documents of an insert, entries of an update or delete). Reads are
// counted from the server's replies: the documents and bytes of every cursor batch (find, getMore), per collection.
import net from 'node:net';
import { BSON } from 'mongodb';

const opMsg = 2013;
const opCompressed = 2012;
const checksumPresent = 1;
/** The field (body array or document sequence) holding each write command's statements. */
const statementField: Record<string, string> = { insert: 'documents', update: 'updates', delete: 'deletes', createIndexes: 'indexes' };
const otherWrites = new Set(['findAndModify', 'drop', 'dropDatabase', 'dropIndexes', 'create']);

export interface WireCount {
  command: string;
  collection: string;
  commands: number;
  statements: number;
}

export interface ReadCount {
  collection: string;
  /** Cursor batches received (a find's first batch, each getMore). */
  batches: number;
  documents: number;
  /** The reply messages' bytes. */
  bytes: number;
}

export interface MongoWire {
  /** The relay's mongodb:// URI (the target's database and options, directConnection added). */
  uri: string;
  /** What was sent since the last reset. */
  counts(): WireCount[];
  /** What was read since the last reset. */
  reads(): ReadCount[];
  /** OP_COMPRESSED messages seen: their content cannot be counted (the driver compresses only when told to). */
  compressed(): number;
  reset(): void;
  stop(): Promise<void>;
}

/** Undefined when the URI is not one plain host (SRV, a replica set list, TLS): then nothing can be relayed. */
export async function startMongoWire(targetUri: string): Promise<MongoWire | undefined> {
  const match = /^mongodb:\/\/(?:[^@/]*@)?([^/,?]+)(\/[^?]*)?(\?.*)?$/.exec(targetUri);
  if (!match || /[?&](tls|ssl)=true/i.test(targetUri)) return undefined;
  const target = new URL(`mongodb://${match[1]}`);
  const tally = new Map<string, WireCount>();
  const readTally = new Map<string, ReadCount>();
  let compressed = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 27017), target.hostname);
    sockets.add(client).add(upstream);
    let pending: Buffer = Buffer.alloc(0);
    client.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= 16 && pending.length >= pending.readInt32LE(0)) {
        const length = pending.readInt32LE(0);
        const opCode = pending.readInt32LE(12);
        if (opCode === opMsg) count(pending.subarray(0, length));
        else if (opCode === opCompressed) compressed++;
        pending = pending.subarray(length);
      }
      if (!upstream.write(chunk)) client.pause();
    });
    upstream.on('drain', () => client.resume());
    let replies: Buffer = Buffer.alloc(0);
    upstream.on('data', (chunk: Buffer) => {
      replies = replies.length === 0 ? chunk : Buffer.concat([replies, chunk]);
      while (replies.length >= 16 && replies.length >= replies.readInt32LE(0)) {
        const length = replies.readInt32LE(0);
        if (replies.readInt32LE(12) === opMsg) countReply(replies.subarray(0, length));
        replies = replies.subarray(length);
      }
    });
    upstream.pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
  });

  function countReply(message: Buffer): void {
    // A reply is one body section: { cursor: { ns, firstBatch | nextBatch }, ok }.
    if (message[20] !== 0) return;
    const size = message.readInt32LE(21);
    // The batch's documents are left as raw bytes: only counted, never parsed (the relay must keep up).
    const body = BSON.deserialize(message.subarray(21, 21 + size), { promoteValues: false, fieldsAsRaw: { firstBatch: true, nextBatch: true } }) as { cursor?: { ns?: unknown; firstBatch?: unknown[]; nextBatch?: unknown[] } };
    const batch = body.cursor?.firstBatch ?? body.cursor?.nextBatch;
    if (!body.cursor || !Array.isArray(batch)) return;
    const collection = String(body.cursor.ns ?? '').replace(/^[^.]*\./, '');
    const entry = readTally.get(collection) ?? { collection, batches: 0, documents: 0, bytes: 0 };
    entry.batches++;
    entry.documents += batch.length;
    entry.bytes += message.length;
    readTally.set(collection, entry);
  }

  function count(message: Buffer): void {
    const flags = message.readUInt32LE(16);
    const end = message.length - (flags & checksumPresent ? 4 : 0);
    let body: Record<string, unknown> | undefined;
    const sequences = new Map<string, number>();
    for (let offset = 20; offset < end; ) {
      const kind = message[offset]!;
      if (kind === 0) {
        const size = message.readInt32LE(offset + 1);
        body = BSON.deserialize(message.subarray(offset + 1, offset + 1 + size), { promoteValues: false });
        offset += 1 + size;
      } else {
        const size = message.readInt32LE(offset + 1);
        const nameEnd = message.indexOf(0, offset + 5);
        const identifier = message.toString('utf8', offset + 5, nameEnd);
        let documents = 0;
        for (let at = nameEnd + 1; at < offset + 1 + size; at += message.readInt32LE(at)) documents++;
        sequences.set(identifier, documents);
        offset += 1 + size;
      }
    }
    if (!body) return;
    const command = Object.keys(body)[0]!;
    const field = statementField[command];
    if (!field && !otherWrites.has(command)) return;
    const inBody = field ? body[field] : undefined;
    const statements = field ? (sequences.get(field) ?? (Array.isArray(inBody) ? inBody.length : 0)) : 1;
    const collection = String(body[command] ?? '');
    const key = `${command} ${collection}`;
    const entry = tally.get(key) ?? { command, collection, commands: 0, statements: 0 };
    entry.commands++;
    entry.statements += statements;
    tally.set(key, entry);
  }

  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  const params = new URLSearchParams(match[3]?.slice(1) ?? '');
  params.set('directConnection', 'true');
  const credentials = /^mongodb:\/\/([^@/]*@)/.exec(targetUri)?.[1] ?? '';
  return {
    uri: `mongodb://${credentials}127.0.0.1:${port}${match[2] ?? '/'}?${params.toString()}`,
    counts: () => [...tally.values()].map((entry) => ({ ...entry })),
    reads: () => [...readTally.values()].map((entry) => ({ ...entry })),
    compressed: () => compressed,
    reset: () => {
      tally.clear();
      readTally.clear();
      compressed = 0;
    },
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
