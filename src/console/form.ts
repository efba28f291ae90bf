// The body of a console form POST: application/x-www-form-urlencoded, small, read with a bound.
import type { IncomingMessage } from 'node:http';
import { readBoundedBody } from '../api/http.js';

/** A sign-in token and a form token fit many times over; anything larger is not one of our forms. */
export const maxFormBytes = 16 * 1024;

export async function readForm(request: IncomingMessage, maxBytes = maxFormBytes): Promise<URLSearchParams> {
  const body = await readBoundedBody(request, {
    type: /^application\/x-www-form-urlencoded\b/i,
    wrongType: 'a console form is sent as application/x-www-form-urlencoded',
    maxBytes,
    noun: 'form',
  });
  return new URLSearchParams(body.toString('utf8'));
}
