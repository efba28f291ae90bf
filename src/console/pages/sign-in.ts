// GET and POST /console/sign-in, POST /console/sign-out. The form takes the admin token or a viewer token;
// it carries a one-time value also set as a cookie (double submit), so no other site can post its own token
// into a visitor's browser and sign it in as someone else. Sign-ins are in the audit trail.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { HttpError } from '../../api/http.js';
import { recordAudit } from '../../state/audit.js';
import { endConsoleSession } from '../../state/console-sessions.js';
import { messageOf } from '../../errors.js';
import type { ConsoleRequest, SessionRequest } from '../context.js';
import { cookieHeader, readCookies, signInCookie } from '../cookies.js';
import { html, messageHtml } from '../html.js';
import { layout } from '../layout.js';
import { json, redirect, type ConsoleReply } from '../reply.js';
import { clearSessionCookie, currentSession, signIn } from '../session.js';

const signInFormSeconds = 30 * 60;

/** Where to go after signing in: a console path of ours, nothing else (no //host, no other site). */
export function safeNext(next: string | null): string {
  return next && /^\/console(?:\/[A-Za-z0-9\-._~%/]*)?(?:\?[A-Za-z0-9\-._~%=&+]*)?$/.test(next) && !next.includes('//') ? next : '/console';
}

function signInPage(request: ConsoleRequest, status: number, problem?: string, headers?: Record<string, string>): ConsoleReply {
  const formValue = randomBytes(24).toString('base64url');
  const secure = request.server.tls !== undefined;
  const next = safeNext(request.query.get('next') ?? request.form.get('next'));
  const notice = request.query.get('out') === '1' ? html`<p class="note good">You are signed out.</p>` : '';
  const body = html`<h1>Sign in to the Ganymede console</h1>${notice}${problem ? html`<p class="note bad" role="alert">${messageHtml(problem)}</p>` : ''}
<form id="signin" data-next="${next}" method="post" action="/console/sign-in"><input type="hidden" name="signin" value="${formValue}"><input type="hidden" name="next" value="${next}">
<label for="token">Admin token or viewer token</label><input id="token" name="token" type="password" autocomplete="off" required autofocus>
<p><button class="primary" type="submit">Sign in</button></p></form>
<p class="muted">A viewer token comes from <code>ganymede viewer add NAME</code> on a central host and can look but not act. A GEO's token cannot sign in.
The session lasts ${request.server.sessionHours} hours in this browser.</p>`;
  return { kind: 'page', status, body: layout({ title: 'Sign in', body }), cookies: [cookieHeader(signInCookie, formValue, { secure, maxAgeSeconds: signInFormSeconds, path: '/console/sign-in' })], headers };
}

export async function showSignIn(request: ConsoleRequest): Promise<ConsoleReply> {
  if (await currentSession(request.server, request.request).catch(() => undefined)) return redirect(safeNext(request.query.get('next')));
  return signInPage(request, 200);
}

function sameValue(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

export async function postSignIn(request: ConsoleRequest): Promise<ConsoleReply> {
  const expected = readCookies(request.request.headers.cookie).get(signInCookie);
  const posted = request.form.get('signin');
  if (!expected || !posted || !sameValue(expected, posted)) {
    return signInPage(request, 403, 'the sign-in form expired or was not this page\'s own: sign in again below');
  }
  let result;
  try {
    result = await signIn(request.server, request.request, request.form.get('token') ?? '', request.source);
  } catch (error) {
    if (!(error instanceof HttpError)) throw error;
    return signInPage(request, error.status, error.message, error.headers);
  }
  const { user } = result.signedIn;
  await recordAudit(request.server.db, {
    actor: user.role === 'admin' ? 'admin-token' : `viewer:${user.name}`,
    action: 'console.sign-in',
    target: 'console',
    sourceAddress: request.source,
  }).catch((error: unknown) => request.server.log.error(`the audit trail misses the console sign-in of ${user.name} from ${request.source}: ${messageOf(error)}`));
  const clearForm = cookieHeader(signInCookie, '', { secure: request.server.tls !== undefined, maxAgeSeconds: 0, path: '/console/sign-in' });
  return redirect(safeNext(request.form.get('next')), [result.cookie, clearForm]);
}

export async function postSignOut(request: SessionRequest): Promise<ConsoleReply> {
  await endConsoleSession(request.server.db, request.signedIn.sessionId);
  return redirect('/console/sign-in?out=1', [clearSessionCookie(request.server)]);
}

/**
 * GET /console/session.json: who is signed in. A link followed from another site (a chat, a mail) arrives
 * without the SameSite=Strict cookie and lands on the sign-in form; the form's script asks this from the page
 * itself, which sends the cookie, and goes on to the page asked for when the session is good.
 */
export async function sessionJson(request: ConsoleRequest): Promise<ConsoleReply> {
  // Answered 200 either way: a browser logs every 401 as an error, and "not signed in" is the expected answer here.
  const signedIn = await currentSession(request.server, request.request).catch(() => undefined);
  return json(signedIn ? { signedIn: true, role: signedIn.user.role, name: signedIn.user.name } : { signedIn: false });
}
