// Small HTTP helpers for the status API: bounded JSON bodies, schema errors that name the field, replies.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly field?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

// Fatal: a body with invalid UTF-8 is refused, not stored with replacement characters.
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The whole body of a request whose Content-Type matches `type`, at most maxBytes: refused (413) from its
 * Content-Length before a byte is read, or as soon as the bytes received pass the limit. `noun` names it.
 */
export async function readBoundedBody(request: IncomingMessage, options: { type: RegExp; wrongType: string; maxBytes: number; noun: string }): Promise<Buffer> {
  const { maxBytes, noun } = options;
  if (!options.type.test(String(request.headers['content-type'] ?? ''))) throw new HttpError(415, options.wrongType);
  const declared = Number(request.headers['content-length'] ?? NaN);
  if (declared > maxBytes) throw new HttpError(413, `the ${noun} is ${declared} bytes; the limit is ${maxBytes}`);
  const chunks: Buffer[] = [];
  let received = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    received += chunk.length;
    if (received > maxBytes) throw new HttpError(413, `the ${noun} is over the limit of ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Reads a JSON body of at most maxBytes; stops reading (413) as soon as the limit is passed. */
export async function readJsonBody(request: IncomingMessage, maxBytes: number): Promise<unknown> {
  const body = await readBoundedBody(request, { type: /^application\/json\b/i, wrongType: 'the body must be JSON (Content-Type: application/json)', maxBytes, noun: 'body' });
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    throw new HttpError(400, 'the body is not valid UTF-8');
  }
  if (text.trim() === '') throw new HttpError(400, 'the body is empty; expected a JSON object');
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new HttpError(400, `the body is not valid JSON: ${(error as Error).message}`);
  }
}

/** Validates against a schema; the first problem, with its field path, becomes a 400. */
export function parseWith<T extends z.ZodType>(schema: T, value: unknown, where = 'body'): z.infer<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const path = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    const field = [path, issue.keys[0]].filter(Boolean).join('.');
    throw new HttpError(400, `${where}: unknown field "${field}"`, field);
  }
  if (issue.code === 'invalid_type' && !path) throw new HttpError(400, `${where}: expected a JSON object`);
  throw new HttpError(400, `${where}: field "${path}": ${issue.message}`, path);
}

export function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value));
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  response.end(text);
}

export function sendError(response: ServerResponse, status: number, message: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}): void {
  for (const [name, value] of Object.entries(headers)) response.setHeader(name, value);
  sendJson(response, status, { error: message, ...extra });
}
