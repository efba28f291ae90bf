// Turns the driver's errors into one-line GanymedeErrors: a MongoDB that is down, gone away mid-step or
// stepping down is "unreachable" (retry later); anything else it answers is a failure naming the cause.
import {
  MongoClientClosedError,
  MongoError,
  MongoNetworkError,
  MongoNotConnectedError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
} from 'mongodb';
import { GanymedeError, failedError, messageOf, unreachableError } from '../errors.js';

// HostUnreachable, HostNotFound, NetworkTimeout, ShutdownInProgress, PrimarySteppedDown, NotWritablePrimary,
// InterruptedAtShutdown, InterruptedDueToReplStateChange, NotPrimaryNoSecondaryOk, NotPrimaryOrSecondary.
const unavailableCodes = new Set([6, 7, 89, 91, 189, 10107, 11600, 11602, 13435, 13436]);

export function isUnreachable(error: unknown, depth = 0): boolean {
  if (error instanceof MongoNetworkError || error instanceof MongoServerSelectionError || error instanceof MongoTopologyClosedError
    || error instanceof MongoNotConnectedError || error instanceof MongoClientClosedError) return true;
  if (error instanceof MongoError && typeof error.code === 'number' && unavailableCodes.has(error.code)) return true;
  // A bulk write cut off mid-way wraps the network error it met as its errorResponse.
  const inner = error as { cause?: unknown; errorResponse?: unknown } | null;
  return depth < 3 && typeof inner === 'object' && inner !== null
    && (isUnreachable(inner.errorResponse, depth + 1) || isUnreachable(inner.cause, depth + 1));
}

/** `doing` completes "while …", e.g. "writing collection accounts". */
export function describeMongoError(error: unknown, doing: string): GanymedeError {
  if (error instanceof GanymedeError) return error;
  if (isUnreachable(error)) {
    return unreachableError(`cannot reach MongoDB while ${doing}: ${messageOf(error)}`,
      'is MongoDB running and reachable from here? check mongodb.url; the step can be retried', error);
  }
  if (error instanceof MongoError) return failedError(`MongoDB refused ${doing}: ${messageOf(error)}`);
  throw error; // not the driver's: a bug, with its stack
}
