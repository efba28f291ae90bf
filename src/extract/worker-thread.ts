// Worker threads that run one of our own modules. The build bundles modules into chunks whose file names
// are known only at run time, so a worker module starts itself: loaded in a worker whose data names its
// entry, it runs; imported anywhere else, it only defines things.
import { Worker, isMainThread, workerData } from 'node:worker_threads';
import { GanymedeError } from '../errors.js';
import type { ExitCodeValue } from '../exit-codes.js';

export interface WorkerEntryData {
  entry: string;
}

export interface StartWorkerOptions {
  /**
   * The worker's young generation (V8's nursery, 3 semi-spaces). Node's default lets it grow to 48 MB
   * per thread, which a thread streaming hundreds of MB fills and keeps; a few MB are scavenged more
   * often, and also free the dead Buffers' memory sooner.
   */
  maxYoungGenerationMb?: number;
}

/** Starts a worker running the module at `moduleUrl` (its import.meta.url) with `data`. */
export function startModuleWorker<T extends WorkerEntryData>(moduleUrl: string, data: T, options: StartWorkerOptions = {}): Worker {
  const resourceLimits = options.maxYoungGenerationMb === undefined ? {} : { maxYoungGenerationSizeMb: options.maxYoungGenerationMb };
  // The worker's modules share chunks with the CLI's entry point, which runs the CLI when this is set.
  const { GANYMEDE_RUN_MAIN: _runMain, ...env } = process.env;
  // Tests run src/ through tsx, whose loader a worker does not inherit: register it there first.
  if (new URL(moduleUrl).pathname.endsWith('.ts')) {
    const bootstrap = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(moduleUrl)}); })`;
    return new Worker(bootstrap, { eval: true, workerData: data, resourceLimits, env });
  }
  return new Worker(new URL(moduleUrl), { workerData: data, resourceLimits, env });
}

/** The worker's data when this thread is a worker started for `entry`, else undefined. */
export function workerDataFor<T extends WorkerEntryData>(entry: T['entry']): T | undefined {
  if (isMainThread) return undefined;
  const data = workerData as Partial<WorkerEntryData> | null;
  return data?.entry === entry ? (workerData as T) : undefined;
}

export interface SerializedError {
  message: string;
  name: string;
  stack: string | undefined;
  code: string | undefined;
  exitCode: ExitCodeValue | undefined;
  hint: string | undefined;
  details: string[] | undefined;
}

export function serializeError(error: unknown): SerializedError {
  const e = error instanceof Error ? error : new Error(String(error));
  const ganymede = e instanceof GanymedeError ? e : undefined;
  return {
    message: e.message,
    name: e.name,
    stack: e.stack,
    code: (e as NodeJS.ErrnoException).code,
    exitCode: ganymede?.exitCode,
    hint: ganymede?.hint,
    details: ganymede ? [...ganymede.details] : undefined,
  };
}

/** A worker's error as the caller would have seen it in its own thread: same class, exit code, message, code. */
export function deserializeError(serialized: SerializedError): Error {
  let error: Error;
  if (serialized.exitCode === undefined) {
    error = new Error(serialized.message);
    error.name = serialized.name;
  } else {
    error = new GanymedeError(serialized.exitCode, serialized.message, {
      ...(serialized.hint === undefined ? {} : { hint: serialized.hint }),
      ...(serialized.details === undefined ? {} : { details: serialized.details }),
    });
  }
  if (serialized.code !== undefined) (error as NodeJS.ErrnoException).code = serialized.code;
  if (serialized.stack !== undefined) error.stack = serialized.stack;
  return error;
}
