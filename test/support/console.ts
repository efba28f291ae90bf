// A browser's part in the console tests, over plain HTTP: it keeps the cookies the console sets, signs in
// through the sign-in form as a person would (the form's one-time value and its cookie), and posts forms
// with the form token read from the page it came from.
import { send, type Reply } from '../api/support.js';
import { hourMs } from '../../src/cycle.js';

export { hourMs };

/** The console tests stop the MongoDB stand-in to make an etl fail; a real server (MONGODB_URI) is not theirs to stop. */
export const skipWithRealMongo = process.env.MONGODB_URI ? 'MONGODB_URI is set: the test cannot stop that server' : false;
const thisHour = Math.floor(Date.now() / hourMs) * hourMs;
/** The UTC hour `hours` before the current one, as a cycle (`2026-12-02T11`). */
export const hourBack = (hours: number) => new Date(thisHour - hours * hourMs).toISOString().slice(0, 13);
/** The three hours the console tests deliver: all past the 45-minute deadline, so what was not delivered is missing. */
export const pastHours = (): [string, string, string] => [hourBack(3), hourBack(2), hourBack(1)];
/** An agent's failure reason that must show as text wherever the console shows it. */
export const xssReason = '<script>alert(1)</script> "quoted" & \'single\'';

export class ConsoleBrowser {
  readonly cookies = new Map<string, string>();

  constructor(readonly baseUrl: string) {}

  private remember(reply: Reply): Reply {
    const setCookies = reply.headers['set-cookie'] ?? [];
    for (const line of setCookies) {
      const [pair] = line.split(';');
      const at = pair!.indexOf('=');
      const name = pair!.slice(0, at);
      const value = pair!.slice(at + 1);
      if (/Max-Age=0\b/.test(line) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return reply;
  }

  private cookieHeader(): Record<string, string> {
    return this.cookies.size ? { cookie: [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ') } : {};
  }

  async get(path: string, headers: Record<string, string> = {}): Promise<Reply> {
    return this.remember(await send(this.baseUrl, 'GET', path, { headers: { ...this.cookieHeader(), ...headers } }));
  }

  async post(path: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<Reply> {
    return this.remember(
      await send(this.baseUrl, 'POST', path, { raw: new URLSearchParams(form).toString(), contentType: 'application/x-www-form-urlencoded', headers: { ...this.cookieHeader(), ...headers } }),
    );
  }

  /** Loads the sign-in form and posts the token with it; the reply is the form's answer (303 when it worked). */
  async signIn(token: string, next?: string): Promise<Reply> {
    const form = await this.get(`/console/sign-in${next ? `?next=${encodeURIComponent(next)}` : ''}`);
    return this.post('/console/sign-in', { signin: hiddenField(form.text, 'signin'), next: hiddenField(form.text, 'next'), token });
  }

  /** Posts the form of `path` whose action is `action`, with its own hidden fields (the form token among them). */
  async submit(pagePath: string, action: string, extra: Record<string, string> = {}): Promise<Reply> {
    const shown = await this.get(pagePath);
    const form = formOf(shown.text, action);
    if (!form) throw new Error(`no form posting to ${action} on ${pagePath} (${shown.status})`);
    return this.post(action, { ...hiddenFields(form), ...extra });
  }
}

/** The first <form> whose action is `action`. */
export function formOf(page: string, action: string): string | undefined {
  return [...page.matchAll(/<form\b[^>]*>[\s\S]*?<\/form>/g)].map((match) => match[0]).find((form) => form.includes(`action="${action}"`));
}

export function hiddenFields(form: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const match of form.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) fields[match[1]!] = unescape(match[2]!);
  return fields;
}

export function hiddenField(page: string, name: string): string {
  const value = new RegExp(`<input type="hidden" name="${name}" value="([^"]*)">`).exec(page)?.[1];
  if (value === undefined) throw new Error(`no hidden field ${name} in the page`);
  return unescape(value);
}

const unescape = (text: string) => text.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
