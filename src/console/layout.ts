// The frame of every console page: the stylesheet and script by URL (never inline), the navigation, who is
// signed in, and the sign-out form with its form token. Pages read fully without JavaScript.
import { assetHref } from './assets.js';
import { formToken } from './csrf.js';
import { html, messageHtml, type Html, type HtmlPart } from './html.js';
import type { SignedIn } from './session.js';

export type Section = 'grid' | 'charts' | 'health' | 'audit' | 'none';

export interface LayoutOptions {
  title: string;
  signedIn?: SignedIn | undefined;
  section?: Section;
  body: HtmlPart;
}

const sections: Array<{ section: Section; href: string; label: string; adminOnly?: boolean }> = [
  { section: 'grid', href: '/console', label: 'Grid' },
  { section: 'charts', href: '/console/charts', label: 'Charts' },
  { section: 'health', href: '/console/health', label: 'Health' },
  { section: 'audit', href: '/console/audit', label: 'Audit', adminOnly: true },
];

/** A hidden field with a fresh form token of the session: every POST form of the console carries one. */
export function csrfField(signedIn: SignedIn): Html {
  return html`<input type="hidden" name="csrf" value="${formToken(signedIn.csrfSecret)}">`;
}

function header(signedIn: SignedIn | undefined, current: Section): Html {
  if (!signedIn) return html`<header class="top"><a class="brand" href="/console">Ganymede</a></header>`;
  const links = sections
    .filter((item) => !item.adminOnly || signedIn.user.role === 'admin')
    .map((item) => html`<a href="${item.href}"${item.section === current ? html` aria-current="page"` : ''}>${item.label}</a>`);
  const who = signedIn.user.role === 'admin' ? 'admin' : `viewer ${signedIn.user.name} (read-only)`;
  return html`<header class="top"><a class="brand" href="/console">Ganymede</a><nav aria-label="sections">${links}</nav><div class="who"><span>${who}</span><form method="post" action="/console/sign-out">${csrfField(signedIn)}<button type="submit">Sign out</button></form></div></header>`;
}

export function layout(options: LayoutOptions): Html {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="color-scheme" content="light dark"><meta name="referrer" content="no-referrer">
<title>${options.title} · Ganymede</title><link rel="icon" href="data:,"><link rel="stylesheet" href="${assetHref('console.css')}"><script src="${assetHref('console.js')}" defer></script></head>
<body><a class="skip" href="#main">Skip to content</a>${header(options.signedIn, options.section ?? 'none')}<main id="main">${options.body}</main></body></html>
`;
}

/** A page that only says what went wrong (404, 403, 500 …), in the same frame. */
export function messagePage(signedIn: SignedIn | undefined, title: string, message: string, back?: { href: string; label: string }): Html {
  return layout({
    title,
    signedIn,
    body: html`<h1>${title}</h1><p class="note bad">${messageHtml(message)}</p>${back ? html`<p><a href="${back.href}">${back.label}</a></p>` : ''}`,
  });
}
