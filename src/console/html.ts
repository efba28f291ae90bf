// HTML for the console, built by small typed functions around one tagged template. Everything put into a
// template is escaped by escapeHtml unless it is already Html (made by this template), so text from outside —
// a GEO's failure reason, a table or file name, an error — can only ever show as text. No template library.

/** Markup this module made: the only kind of value that a template inserts without escaping. */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

export type HtmlPart = Html | string | number | bigint | null | undefined | false | readonly HtmlPart[];

const entities: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

const special = /[&<>"']/;

/** The one escape function: safe in text and in quoted attribute values alike. */
export function escapeHtml(text: string): string {
  // Most text has nothing to escape: the test spares the grid's ten thousand titles a copy each.
  return special.test(text) ? text.replace(/[&<>"']/g, (char) => entities[char]!) : text;
}

function render(part: HtmlPart): string {
  if (part === null || part === undefined || part === false) return '';
  if (part instanceof Html) return part.text;
  if (Array.isArray(part)) return part.map(render).join('');
  return escapeHtml(String(part));
}

/** `html\`<td>${text}</td>\``: the literal parts are ours, every value is escaped unless it is Html. */
export function html(strings: TemplateStringsArray, ...values: HtmlPart[]): Html {
  let text = strings[0]!;
  for (let i = 0; i < values.length; i++) text += render(values[i]!) + strings[i + 1]!;
  return new Html(text);
}

/** Parts joined by a separator (itself escaped unless Html). */
export function joinHtml(parts: readonly HtmlPart[], separator: HtmlPart = ''): Html {
  return new Html(parts.map(render).join(render(separator)));
}

/**
 * A message written for a terminal, where `ganymede viewer add NAME` marks a command: on a page the marks
 * would show as they are, so each marked span becomes <code> and every part is escaped as text.
 */
export function messageHtml(text: string): Html {
  const parts = text.split('`');
  // An odd number of marks leaves the last one unpaired: it stays a plain backtick.
  const paired = parts.length % 2 === 1 ? parts.length : parts.length - 1;
  return new Html(parts.map((part, index) => (index % 2 === 0 || index >= paired ? `${index >= paired ? '`' : ''}${escapeHtml(part)}` : `<code>${escapeHtml(part)}</code>`)).join(''));
}

/** A path under /console with each segment and query value percent-encoded: safe inside href="…". */
export function consolePath(segments: ReadonlyArray<string | number>, query: Record<string, string | number | undefined> = {}): string {
  const path = ['/console', ...segments.map((segment) => encodeURIComponent(String(segment)))].join('/');
  const pairs = Object.entries(query).filter((pair): pair is [string, string | number] => pair[1] !== undefined);
  return pairs.length === 0 ? path : `${path}?${new URLSearchParams(pairs.map(([key, value]): [string, string] => [key, String(value)])).toString()}`;
}
