// Form tokens against cross-site request forgery. Each session has a random secret (console_sessions);
// a form carries a token derived from it, masked with fresh random bytes in every page (as Django and Rails
// do), so no two pages show the same bytes and a compressed page cannot be used to guess it (BREACH). A POST
// is taken only with a token that unmasks to the session's, compared in constant time.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const tokenBytes = 32;

function baseToken(csrfSecret: string): Buffer {
  return createHmac('sha256', Buffer.from(csrfSecret, 'hex')).update('ganymede console form').digest();
}

/** A fresh token for one form: mask ‖ (mask XOR base), base64url. */
export function formToken(csrfSecret: string): string {
  const base = baseToken(csrfSecret);
  const mask = randomBytes(tokenBytes);
  const masked = Buffer.alloc(tokenBytes);
  for (let i = 0; i < tokenBytes; i++) masked[i] = mask[i]! ^ base[i]!;
  return Buffer.concat([mask, masked]).toString('base64url');
}

export function formTokenMatches(csrfSecret: string, token: string | null | undefined): boolean {
  if (!token || !/^[A-Za-z0-9_-]{86}$/.test(token)) return false;
  const bytes = Buffer.from(token, 'base64url');
  // Only the one spelling we hand out: the last character's spare bits must not make other strings pass too.
  if (bytes.length !== 2 * tokenBytes || bytes.toString('base64url') !== token) return false;
  const unmasked = Buffer.alloc(tokenBytes);
  for (let i = 0; i < tokenBytes; i++) unmasked[i] = bytes[i]! ^ bytes[tokenBytes + i]!;
  return timingSafeEqual(unmasked, baseToken(csrfSecret));
}
