// The body of a console form POST: application/x-www-form-urlencoded, small, read with a bound.
import type { IncomingMessage } from 'node:http';
import { HttpError } from '../api/http.js';

/** A sign-in token and a form token fit many times over; anything larger is not one of our forms. */
export const maxFormBytes = 16 * 1024;

export async function readForm(request: IncomingMessage, maxBytes = maxFormBytes): Promise<URLSearchParams> {
  const type = String(request.headers['content-type'] ?? '');
  if (!/^application\/x-www-form-urlencoded\b/i.test(type)) throw new HttpError(415, 'a console form is sent as application/x-www-form-urlencoded');
  const declared = Number(request.headers['content-length'] ?? NaN);
  if (declared > maxBytes) throw new HttpError(413, `the form is ${declared} bytes; the limit is ${maxBytes}`);
  const chunks: Buffer[] = [];
  let received = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    received += chunk.length;
    if (received > maxBytes) throw new HttpError(413, `the form is over the limit of ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}
