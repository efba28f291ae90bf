// Turns the driver's errors into one-line GanymedeErrors. Every code and label a failure carries is
// read, not just the first: a MongoDB that is down, electing a primary, migrating a chunk or not
// confirming the write concern is "unreachable" (exit 4: the step is retried); a write concern the
// replica set can never satisfy is a configuration error; a document the server refuses fails the step
// as "refused" (exit 5) naming the document and collection, as every retry would fail the same way.
// Codes: src/mongo/base/error_codes.yml of the server (the RetriableError, NotPrimaryError,
// ShutdownError, NetworkError, ExceededTimeLimitError, StaleShardVersionError and WriteConcernError
// categories), and the driver's retryable-writes rules.
import {
  MongoBulkWriteError,
  MongoClientClosedError,
  MongoError,
  MongoNetworkError,
  MongoNotConnectedError,
  MongoOperationTimeoutError,
  MongoServerClosedError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
  type BulkWriteResult,
} from 'mongodb';
import { GanymedeError, configError, failedError, messageOf, refusedError, unreachableError } from '../errors.js';

/** Codes that say "not now": the same write succeeds once the cluster has settled. */
const transientCodes: ReadonlyMap<number, string> = new Map([
  [6, 'HostUnreachable'],
  [7, 'HostNotFound'],
  [24, 'LockTimeout'],
  [46, 'LockBusy'],
  [50, 'MaxTimeMSExpired'],
  [63, 'StaleShardVersion'],
  [64, 'WriteConcernFailed'],
  [89, 'NetworkTimeout'],
  [91, 'ShutdownInProgress'],
  [112, 'WriteConflict'],
  [133, 'FailedToSatisfyReadPreference'],
  [134, 'ReadConcernMajorityNotAvailableYet'],
  [150, 'StaleEpoch'],
  [189, 'PrimarySteppedDown'],
  [202, 'NetworkInterfaceExceededTimeLimit'],
  [216, 'ElectionInProgress'],
  [249, 'StaleDbVersion'],
  [262, 'ExceededTimeLimit'],
  [402, 'ResourceExhausted'],
  [433, 'AdmissionQueueOverflow'],
  [449, 'RateLimitExceeded'],
  [462, 'IngressRequestRateLimitExceeded'],
  [9001, 'SocketException'],
  [10058, 'LegacyNotPrimary'],
  [10107, 'NotWritablePrimary'],
  [11600, 'InterruptedAtShutdown'],
  [11601, 'Interrupted'],
  [11602, 'InterruptedDueToReplStateChange'],
  [13388, 'StaleConfig'],
  [13435, 'NotPrimaryNoSecondaryOk'],
  [13436, 'NotPrimaryOrSecondary'],
  [91331, 'RetriableRemoteCommandFailure'],
]);

/** Labels the server or driver puts on a failure that a retry can get past. */
const transientLabels: ReadonlySet<string> = new Set([
  'RetryableWriteError',
  'TransientTransactionError',
  'UnknownTransactionCommitResult',
  'RetryableError',
  'SystemOverloadedError',
]);

/** UnknownReplWriteConcern, UnsatisfiableWriteConcern: `mongodb.write_concern` asks what the set cannot give. */
const writeConcernConfigCodes = new Set([79, 100]);
const duplicateKey = 11000;
const maxDepth = 3;

type Kind = 'transient' | 'config' | 'other';

function codeOf(value: unknown): number | undefined {
  const code = (value as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

function labelsOf(value: unknown): string[] {
  if (value instanceof MongoError) return value.errorLabels;
  const labels = (value as { errorLabels?: unknown } | null)?.errorLabels;
  return Array.isArray(labels) ? labels.filter((label): label is string => typeof label === 'string') : [];
}

/** What the error itself says, and what it wraps (a bulk write cut off mid-way wraps the error it met). */
function kindOf(error: unknown, depth = 0): Kind {
  if (typeof error !== 'object' || error === null) return 'other';
  if (error instanceof MongoNetworkError || error instanceof MongoServerSelectionError || error instanceof MongoTopologyClosedError
    || error instanceof MongoNotConnectedError || error instanceof MongoClientClosedError || error instanceof MongoServerClosedError
    || error instanceof MongoOperationTimeoutError) return 'transient';
  const code = codeOf(error);
  if (code !== undefined && writeConcernConfigCodes.has(code)) return 'config';
  if ((code !== undefined && transientCodes.has(code)) || labelsOf(error).some((label) => transientLabels.has(label))) return 'transient';
  if (depth >= maxDepth) return 'other';
  const inner = error as { cause?: unknown; errorResponse?: unknown };
  const wrapped = [inner.errorResponse, inner.cause].filter((value) => value !== error).map((value) => kindOf(value, depth + 1));
  return wrapped.includes('config') ? 'config' : wrapped.includes('transient') ? 'transient' : 'other';
}

const codeText = (code: number | undefined) => (code === undefined ? '' : ` (code ${code}${transientCodes.has(code) ? ` ${transientCodes.get(code)}` : ''})`);

function writeConcernProblem(doing: string, reason: string): GanymedeError {
  return configError(`MongoDB cannot satisfy mongodb.write_concern while ${doing}: ${reason}`, {
    hint: 'set mongodb.write_concern to what the replica set can give: "majority", or at most its number of data-bearing members',
  });
}

/** `doing` completes "while …", e.g. "writing collection accounts". */
export function describeMongoError(error: unknown, doing: string): GanymedeError {
  if (error instanceof GanymedeError) return error;
  if (error instanceof MongoBulkWriteError) {
    const verdict = judgeBulkError(error, { doing, collection: undefined, operation: () => undefined });
    if (!verdict.done) return verdict.error;
  }
  return describeFailure(error, doing);
}

/** A failure of a command as a whole. */
function describeFailure(error: unknown, doing: string): GanymedeError {
  const kind = kindOf(error);
  if (kind === 'transient') {
    return unreachableError(`cannot reach MongoDB while ${doing}: ${messageOf(error)}${codeText(codeOf(error))}`,
      'is MongoDB running and reachable from here, with a primary? check mongodb.url; the step can be retried', error);
  }
  if (kind === 'config') return writeConcernProblem(doing, messageOf(error));
  if (error instanceof MongoError) return failedError(`MongoDB refused ${doing}: ${messageOf(error)}${codeText(codeOf(error))}`);
  throw error; // not the driver's: a bug, with its stack
}

export interface BulkContext {
  /** Completes "while …": `writing collection accounts`. */
  doing: string;
  /** The collection written, to name a refused document's place; undefined when unknown. */
  collection: string | undefined;
  /** Operation `index` of the bulk: whether it inserts (a duplicate `_id` then means done) and the `_id` it writes. */
  operation(index: number): { insert: boolean; id: string } | undefined;
}

export type BulkVerdict = { done: true; result: BulkWriteResult } | { done: false; error: GanymedeError };

interface FailedWrite {
  index: number;
  code: number | undefined;
  errmsg: string;
}

function writeErrorsOf(error: MongoBulkWriteError): FailedWrite[] {
  const listed = Array.isArray(error.writeErrors) ? error.writeErrors : error.writeErrors ? [error.writeErrors] : [];
  const fromResult = (error.result as Partial<BulkWriteResult> | undefined)?.getWriteErrors?.() ?? [];
  const byIndex = new Map<number, FailedWrite>();
  for (const writeError of [...listed, ...fromResult]) {
    byIndex.set(writeError.index, { index: writeError.index, code: typeof writeError.code === 'number' ? writeError.code : undefined, errmsg: String(writeError.errmsg ?? '') });
  }
  return [...byIndex.values()].sort((a, b) => a.index - b.index);
}

/** Every write concern error the bulk met, from any of its batches. */
function writeConcernErrorsOf(error: MongoBulkWriteError): Array<{ code: number | undefined; errmsg: string }> {
  const raw = (error.result as Partial<BulkWriteResult> | undefined)?.getRawResponse?.() as { writeConcernErrors?: unknown[] } | undefined;
  const found = [...(raw?.writeConcernErrors ?? []), ...(error.err ? [error.err] : [])];
  const seen = new Set<string>();
  return found.flatMap((item) => {
    const entry = { code: codeOf(item), errmsg: String((item as { errmsg?: unknown }).errmsg ?? '') };
    const key = `${entry.code}:${entry.errmsg}`;
    if (seen.has(key)) return [];
    seen.add(key);
    return [entry];
  });
}

/** A duplicate `_id` on an insert: an earlier run of this cycle wrote it. A duplicate on another unique index is a refusal. */
function isInsertDone(write: FailedWrite, context: BulkContext): boolean {
  if (write.code !== duplicateKey || !context.operation(write.index)?.insert) return false;
  const index = /\bindex: (\S+)/.exec(write.errmsg)?.[1];
  return index === undefined || index === '_id_';
}

/**
 * What a failed unordered bulk write means. Done only when every failed write is an insert already done
 * and nothing else went wrong (no write concern error, no transient label); a write concern error makes
 * the whole bulk unconfirmed, whatever else it says.
 */
export function judgeBulkError(error: unknown, context: BulkContext): BulkVerdict {
  if (!(error instanceof MongoBulkWriteError)) return { done: false, error: describeMongoError(error, context.doing) };
  const writes = writeErrorsOf(error).filter((write) => !isInsertDone(write, context));
  const refused = writes.filter((write) => write.code === undefined || (!transientCodes.has(write.code) && !writeConcernConfigCodes.has(write.code)));
  if (refused.length > 0) {
    const [first] = refused;
    const id = context.operation(first!.index)?.id;
    const place = id === undefined ? `operation ${first!.index} while ${context.doing}` : `document ${id}${context.collection === undefined ? '' : ` of collection ${context.collection}`}`;
    const more = refused.length > 1 ? ` (and ${refused.length - 1} more document${refused.length === 2 ? '' : 's'})` : '';
    return {
      done: false,
      error: refusedError(`MongoDB refused ${place}: ${first!.errmsg || 'no reason given'}${codeText(first!.code)}${more}`,
        'the server, a validator or a unique index refuses this content: change the source data, the warehouse mapping or the collection, then `ganymede txn retry`'),
    };
  }
  const concerns = writeConcernErrorsOf(error);
  const misconfigured = [...writes, ...concerns].find((item) => item.code !== undefined && writeConcernConfigCodes.has(item.code));
  if (misconfigured) return { done: false, error: writeConcernProblem(context.doing, `${misconfigured.errmsg}${codeText(misconfigured.code)}`) };
  if (concerns.length > 0) {
    const [first] = concerns;
    return {
      done: false,
      error: unreachableError(`MongoDB did not confirm ${context.doing} to mongodb.write_concern: ${first!.errmsg || 'write concern error'}${codeText(first!.code)}`,
        'the replica set has no primary or too few members in reach; the step is retried', error),
    };
  }
  if (writes.length > 0) {
    const [first] = writes;
    return {
      done: false,
      error: unreachableError(`cannot reach MongoDB while ${context.doing}: ${first!.errmsg}${codeText(first!.code)}`,
        'is MongoDB running and reachable from here, with a primary? the step is retried', error),
    };
  }
  // No write failed for a reason of its own: the bulk failed as a whole (cut off, or refused as a command),
  // or carries a label saying it may not have been applied.
  if (kindOf(error) !== 'other' || writeErrorsOf(error).length === 0) return { done: false, error: describeFailure(error, context.doing) };
  return { done: true, result: error.result };
}
