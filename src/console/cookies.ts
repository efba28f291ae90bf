// The console's cookies: read from the Cookie header, written with the flags a session cookie needs.
// HttpOnly (no script reads it), SameSite=Strict (no other site's page sends it), Path=/console (the API's
// /v1 routes never see it), Secure whenever the API serves TLS.

export const sessionCookie = 'ganymede_console';
/** The sign-in form's own token (double submit): no other site can make a browser sign in with its token. */
export const signInCookie = 'ganymede_console_signin';

export function readCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const pair of (header ?? '').split(';')) {
    const at = pair.indexOf('=');
    if (at <= 0) continue;
    const name = pair.slice(0, at).trim();
    // The first of two same-named cookies wins, as browsers send the most specific path first.
    if (!cookies.has(name)) cookies.set(name, pair.slice(at + 1).trim());
  }
  return cookies;
}

export interface CookieOptions {
  secure: boolean;
  /** Seconds; 0 deletes the cookie. */
  maxAgeSeconds: number;
  path?: string;
}

/** A Set-Cookie value; `value` must be cookie-safe (our values are base64url). */
export function cookieHeader(name: string, value: string, options: CookieOptions): string {
  if (!/^[A-Za-z0-9_-]*$/.test(value)) throw new Error(`cookieHeader: ${name} value is not base64url`);
  const parts = [`${name}=${value}`, `Path=${options.path ?? '/console'}`, `Max-Age=${Math.max(0, Math.round(options.maxAgeSeconds))}`, 'HttpOnly', 'SameSite=Strict'];
  if (options.secure) parts.push('Secure');
  return parts.join('; ');
}
