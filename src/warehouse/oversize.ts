// Rows too large for one MongoDB document: their largest top-level fields go to GridFS (bucket
// `_ganymede_fs`) and the document holds a small reference in their place, listed in `_meta.files`; the
// feed puts the whole value back. A file's `_id` names the collection, the document, the field and the
// sha256 of its bytes, so a retry finds its upload already there, and files no document references any
// more (a field changed, a row removed, a run cut off after an upload) are swept after the collection's writes.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BSON, Binary, GridFSBucket, type Collection, type Db, type Document, type ObjectId } from 'mongodb';
import { failedError } from '../errors.js';
import { inBatches } from './batches.js';
import type { StateDocument } from './write.js';

export const gridfsBucketName = '_ganymede_fs';
/** The key of the object that stands in a document for a field stored in GridFS. */
export const referenceKey = '_ganymede_gridfs';

/**
 * MongoDB stores a document of up to 16 MiB; a command may exceed that by 16 KiB (the update envelope).
 * The whole stored document (`_id`, `geo`, `_meta` included) is kept under 16 MiB - 16 KiB.
 */
export const maxDocumentBytes = 16 * 1024 * 1024 - 16 * 1024;
/** bson serializes into a shared 17 MiB buffer unless told to grow it. */
const bsonDefaultBufferBytes = 17 * 1024 * 1024;
const chunkSizeBytes = 255 * 1024; // GridFS's default
/** How many of a collection's oversize rows the report names. */
export const reportedIdsMax = 20;

/** `binary`: the bytes of a BLOB; `string`: UTF-8 text; `bson`: any other value, as the BSON document `{ v: value }`. */
export type StoredType = 'binary' | 'string' | 'bson';

export interface GridfsReference {
  /** The GridFS file's `_id` (and filename): `<collection>/<docId>/<field>/<sha256>`. */
  id: string;
  bytes: number;
  /** sha256 of the stored bytes, hex. */
  sha256: string;
  type: StoredType;
}

interface FileDoc {
  _id: string;
  length: number;
  uploadDate: Date;
  metadata: { geo: string; collection: string; docId: string; field: string; sha256: string; type: StoredType };
}

interface Encoded {
  type: StoredType;
  bytes: Buffer;
  sha256: string;
}

function encodeValue(value: unknown): Encoded {
  let type: StoredType;
  let bytes: Buffer;
  if (typeof value === 'string') {
    type = 'string';
    bytes = Buffer.from(value, 'utf8');
  } else if (isBinary(value) && value.sub_type === Binary.SUBTYPE_DEFAULT) {
    type = 'binary';
    bytes = Buffer.from(value.buffer.buffer, value.buffer.byteOffset, value.length());
  } else {
    type = 'bson';
    const wrapped = { v: value };
    // bson serializes into one shared buffer (17 MiB) that it does not grow by itself; it stays grown.
    const size = BSON.calculateObjectSize(wrapped);
    if (size > bsonDefaultBufferBytes) BSON.setInternalBufferSize(size);
    bytes = Buffer.from(BSON.serialize(wrapped));
  }
  return { type, bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
}

function decodeValue(type: StoredType, bytes: Buffer): unknown {
  if (type === 'string') return bytes.toString('utf8');
  if (type === 'binary') return new Binary(bytes);
  // The driver's own reading options: numbers for Int32, Double and Longs within 2^53, as a document read back.
  return BSON.deserialize(bytes).v;
}

function isBinary(value: unknown): value is Binary {
  return typeof value === 'object' && value !== null && (value as { _bsontype?: unknown })._bsontype === 'Binary';
}

/** `%` and `/` escaped, so the parts of a file id split on `/` without ambiguity. */
function idPart(text: string): string {
  return text.replaceAll('%', '%25').replaceAll('/', '%2F');
}

export function fileIdOf(collection: string, docId: string, field: string, sha256: string): string {
  return [collection, docId, field].map(idPart).join('/') + `/${sha256}`;
}

export function referenceOf(value: unknown): GridfsReference | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const keys = Object.keys(value);
  if (keys.length !== 1 || keys[0] !== referenceKey) return undefined;
  const ref = (value as Record<string, unknown>)[referenceKey] as Partial<GridfsReference> | null;
  return ref && typeof ref.id === 'string' && typeof ref.sha256 === 'string' ? (ref as GridfsReference) : undefined;
}

/** Whether a stored field (perhaps a reference) holds `value`: references compare by type and sha256. */
export function storedFieldHolds(stored: unknown, value: unknown, canonical: (value: unknown) => string): boolean {
  const ref = referenceOf(stored);
  if (ref === undefined) return canonical(stored) === canonical(value);
  const encoded = encodeValue(value);
  return encoded.type === ref.type && encoded.sha256 === ref.sha256;
}

export interface StoredFields {
  fields: Record<string, unknown>;
  /** GridFS file ids the fields refer to, for `_meta.files`. */
  files: string[];
}

export interface OversizeOptions {
  db: Db;
  collection: string;
  geo: string;
  /** For errors: `table accounts`. */
  label: string;
  /** Called with the write operations each upload or removal sent. */
  countWrites: (operations: number) => void;
  /** Called before each upload or removal: throws if this run no longer holds the collection. */
  verifyClaim: () => Promise<void>;
}

export class OversizeStore {
  private readonly bucket: GridFSBucket;
  private readonly files: Collection<FileDoc>;
  private readonly chunks: Collection<{ files_id: string }>;
  private indexed = false;
  /** Files uploaded since are this run's own (the driver dates them with this clock): the sweep leaves them. */
  private readonly startedAt = new Date();

  constructor(private readonly options: OversizeOptions) {
    this.bucket = new GridFSBucket(options.db, { bucketName: gridfsBucketName, chunkSizeBytes });
    this.files = options.db.collection<FileDoc>(`${gridfsBucketName}.files`);
    this.chunks = options.db.collection<{ files_id: string }>(`${gridfsBucketName}.chunks`);
  }

  /**
   * The fields to store for a document: undefined when the whole document fits, else its largest fields
   * moved to GridFS (uploaded here) until it does. Largest first, ties by name, so a retry moves the same ones.
   */
  async fit(id: string, fields: Record<string, unknown>, meta: Record<string, unknown>): Promise<StoredFields | undefined> {
    const { geo, collection, label } = this.options;
    const sizeOf = (stored: Record<string, unknown>, files: string[]) =>
      BSON.calculateObjectSize({ _id: id, geo, ...stored, _meta: { ...meta, ...(files.length > 0 ? { files } : {}) } });
    let size = sizeOf(fields, []);
    if (size <= maxDocumentBytes) return undefined;
    const largestFirst = Object.keys(fields)
      .map((name) => ({ name, bytes: BSON.calculateObjectSize({ v: fields[name] }) }))
      .sort((a, b) => b.bytes - a.bytes || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const stored = { ...fields };
    const files: string[] = [];
    for (const { name } of largestFirst) {
      if (size <= maxDocumentBytes) break;
      const ref = await this.upload(id, name, encodeValue(fields[name]));
      stored[name] = { [referenceKey]: ref };
      files.push(ref.id);
      size = sizeOf(stored, files);
    }
    if (size > maxDocumentBytes) {
      throw failedError(`${label}: document ${id} is ${size} bytes even with every field in GridFS, over MongoDB's limit of ${maxDocumentBytes}`,
        'the row has too many columns for one document: map the table with SQL that selects fewer');
    }
    return { fields: stored, files };
  }

  /** Uploads a field's bytes unless a complete file with that id (same content) is already there. */
  private async upload(docId: string, field: string, encoded: Encoded): Promise<GridfsReference> {
    const { geo, collection } = this.options;
    const id = fileIdOf(collection, docId, field, encoded.sha256);
    const ref: GridfsReference = { id, bytes: encoded.bytes.length, sha256: encoded.sha256, type: encoded.type };
    // The files document is written after the last chunk: when it is there, the upload finished.
    const existing = await this.files.findOne({ _id: id }, { projection: { length: 1 } });
    if (existing?.length === ref.bytes) return ref;
    if (!this.indexed) {
      await this.files.createIndex({ 'metadata.geo': 1, 'metadata.collection': 1 });
      this.indexed = true;
    }
    await this.options.verifyClaim();
    await this.remove([id]); // chunks of an upload cut off before its files document
    const metadata: FileDoc['metadata'] = { geo, collection, docId, field, sha256: encoded.sha256, type: encoded.type };
    // GridFS takes any _id; the driver's type says ObjectId only.
    const upload = this.bucket.openUploadStreamWithId(id as unknown as ObjectId, id, { metadata });
    await pipeline(Readable.from([encoded.bytes]), upload);
    this.options.countWrites(Math.ceil(ref.bytes / chunkSizeBytes) + 1);
    return ref;
  }

  /**
   * Removes the GEO's files of this collection that no document refers to any more, `batchSize` at a time:
   * the old content of a changed field, the fields of a removed row, an upload whose run never wrote its
   * document. Only files older than this run: a run that lost its claim must not take the file a newer run
   * uploaded and has not referred to yet.
   */
  async sweep(state: Collection<StateDocument>, batchSize: number): Promise<number> {
    const { geo, collection } = this.options;
    const cursor = this.files.find({ 'metadata.geo': geo, 'metadata.collection': collection, uploadDate: { $lt: this.startedAt } },
      { projection: { 'metadata.docId': 1 }, batchSize });
    let removed = 0;
    for await (const batch of inBatches(cursor, batchSize)) {
      const docIds = [...new Set(batch.map((file) => file.metadata.docId))];
      const referenced = new Set<string>();
      for await (const doc of state.find({ geo, _id: { $in: docIds } }, { projection: { '_meta.files': 1 } })) {
        for (const id of doc._meta.files ?? []) referenced.add(id);
      }
      const unreferenced = batch.map((file) => file._id).filter((id) => !referenced.has(id));
      if (unreferenced.length > 0) {
        await this.options.verifyClaim();
        await this.remove(unreferenced);
      }
      removed += unreferenced.length;
    }
    return removed;
  }

  /** Files document first: a file half removed reads as absent, and its chunks go on the next try. */
  private async remove(ids: string[]): Promise<void> {
    await this.files.deleteMany({ _id: { $in: ids } });
    await this.chunks.deleteMany({ files_id: { $in: ids } });
    this.options.countWrites(2);
  }
}

/**
 * A state document with every field stored in GridFS read back in place of its reference, checked against
 * the reference's size and sha256. Only references listed in `_meta.files` count: a value of the row's own
 * that looks like one (a JSON column) stays as it is.
 */
export async function rehydrate(db: Db, doc: Document): Promise<Document> {
  const files = (doc._meta as { files?: unknown } | undefined)?.files;
  if (!Array.isArray(files) || files.length === 0) return doc;
  const listed = new Set(files);
  const bucket = new GridFSBucket(db, { bucketName: gridfsBucketName });
  const whole: Document = { ...doc };
  for (const [field, value] of Object.entries(doc)) {
    const ref = referenceOf(value);
    if (!ref || !listed.has(ref.id)) continue;
    const parts: Buffer[] = [];
    try {
      for await (const chunk of bucket.openDownloadStream(ref.id as unknown as ObjectId)) parts.push(chunk as Buffer);
    } catch (error) {
      throw failedError(`document ${String(doc._id)}: field ${field} is stored in GridFS as ${ref.id}, which cannot be read: ${(error as Error).message}`,
        'the document may have changed meanwhile (an etl ran): build the feed again');
    }
    const bytes = Buffer.concat(parts);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    if (bytes.length !== ref.bytes || sha256 !== ref.sha256) {
      throw failedError(`document ${String(doc._id)}: GridFS file ${ref.id} holds ${bytes.length} bytes with sha256 ${sha256}, not the ${ref.bytes} bytes with sha256 ${ref.sha256} its reference names`);
    }
    whole[field] = decodeValue(ref.type, bytes);
  }
  return whole;
}
