// The browser of the test rig: Debian's Chromium (installed by scripts/install-system-deps.sh) driven by
// playwright-core, headless. Every page is fenced to this machine — a request for any other host is aborted
// and recorded, and no other host even resolves — so a console test proves the console fetches nothing from
// the internet. Console errors, uncaught exceptions and CSP violations are collected per page for the test
// to assert on, and screenshots land in test-output/screenshots/ for a person to open.
import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Browser, type BrowserContextOptions, type Page } from 'playwright-core';

export const chromiumPath = '/usr/bin/chromium';
const launchTimeoutMs = 30_000;
const repoDir = path.resolve(import.meta.dirname, '..', '..');
export const screenshotsDir = path.join(repoDir, 'test-output', 'screenshots');
const localHosts = ['127.0.0.1', 'localhost', '[::1]'];
// Schemes that never leave the browser.
const inBrowserProtocols = new Set(['data:', 'blob:', 'about:']);
const cspBindingName = '__ganymedeRigCspViolation';

export type BrowserProblemKind = 'console-error' | 'page-error' | 'csp-violation' | 'blocked-request';

export interface BrowserProblem {
  kind: BrowserProblemKind;
  /** The message, the uncaught error, `<directive> blocked <uri>`, or the blocked URL. */
  text: string;
  /** The page's URL when it happened. */
  pageUrl: string;
}

export interface BrowserOptions {
  /** Hosts besides 127.0.0.1, localhost and [::1] that pages may reach (as URL.hostname spells them). */
  allowHosts?: string[];
  /** The folder under test-output/screenshots/ (default: the running test file's name). */
  screenshotsFor?: string;
  /** Another Chromium binary (default: Debian's, /usr/bin/chromium). */
  executablePath?: string;
}

export interface BrowserRig {
  browser: Browser;
  /** A page in a fresh context (own cookies: sign in as admin in one, as viewer in another), fenced and watched. */
  newPage(options?: BrowserContextOptions): Promise<Page>;
  /** What went wrong so far, on one page or on all of them, oldest first. */
  problems(page?: Page, kind?: BrowserProblemKind): BrowserProblem[];
  /** Closes every page and Chromium itself. */
  close(): Promise<void>;
}

const screenshotFolderOf = new WeakMap<Page, string>();

/** Launches Chromium; throws a one-line error naming the fix when it is not installed. */
export async function startBrowser(options: BrowserOptions = {}): Promise<BrowserRig> {
  const executablePath = options.executablePath ?? chromiumPath;
  if (!existsSync(executablePath)) {
    throw new Error(`test rig: Chromium is missing (${executablePath}); install it: sudo scripts/install-system-deps.sh`);
  }
  const allowedHosts = new Set([...localHosts, ...(options.allowHosts ?? [])]);
  const isRoot = process.getuid?.() === 0;
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    timeout: launchTimeoutMs,
    // Chromium's sandbox cannot run as root; as another user it stays on.
    chromiumSandbox: !isRoot,
    args: [
      ...(isRoot ? ['--no-sandbox'] : []),
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-domain-reliability',
      '--no-first-run',
      '--no-pings',
      // The second fence, below the request router: any other host, IP literals included, resolves to
      // nothing, also for requests the browser makes on its own (a page's route handler never sees those).
      `--host-resolver-rules=MAP * ~NOTFOUND, ${[...allowedHosts].map(resolverExclusion).join(', ')}`,
    ],
  });

  const problemsByPage = new Map<Page, BrowserProblem[]>();
  const screenshotsFor = options.screenshotsFor ?? testFileName();

  async function newPage(contextOptions: BrowserContextOptions = {}): Promise<Page> {
    // Service workers' fetches bypass the router: keep them out.
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, serviceWorkers: 'block', ...contextOptions });
    const found: BrowserProblem[] = [];
    let page: Page | undefined;
    const note = (kind: BrowserProblemKind, text: string): void => {
      found.push({ kind, text, pageUrl: page?.url() ?? '' });
    };
    // All set on the context before its page opens, so the first request is already fenced and watched.
    await Promise.all([
      context.route('**/*', async (route) => {
        const url = route.request().url();
        if (isAllowed(url, allowedHosts)) return route.fallback();
        note('blocked-request', url);
        return route.abort('blockedbyclient');
      }),
      context.routeWebSocket(
        (url) => !isAllowed(url.href, allowedHosts),
        async (socket) => {
          note('blocked-request', socket.url());
          await socket.close({ code: 1008, reason: 'blocked by the test rig' });
        },
      ),
      // Init scripts and bindings come in over the DevTools protocol, so the page's own CSP does not stop
      // them; the event gives the directive and the blocked URI where the console only has prose.
      context.exposeBinding(cspBindingName, (_source, directive: string, blocked: string) => {
        note('csp-violation', `${directive} blocked ${blocked}`);
      }),
      context.addInitScript(
        `addEventListener('securitypolicyviolation', (e) => globalThis.${cspBindingName}(e.effectiveDirective, e.blockedURI || '(inline)'));`,
      ),
    ]);
    page = await context.newPage();
    problemsByPage.set(page, found);
    screenshotFolderOf.set(page, screenshotsFor);
    page.on('console', (message) => {
      if (message.type() === 'error') note('console-error', message.text());
    });
    page.on('pageerror', (error) => note('page-error', error.stack ?? error.message));
    return page;
  }

  return {
    browser,
    newPage,
    problems(page?: Page, kind?: BrowserProblemKind): BrowserProblem[] {
      const all = page ? (problemsByPage.get(page) ?? []) : [...problemsByPage.values()].flat();
      return kind ? all.filter((problem) => problem.kind === kind) : [...all];
    },
    async close(): Promise<void> {
      await browser.close();
    },
  };
}

let announcedScreenshots = false;
const clearedFolders = new Set<string>();

/**
 * Saves a full-page PNG as test-output/screenshots/<test file>/<name>.png and returns its path. The test
 * file's folder is emptied at its first screenshot of a run, so what is there is this run's.
 */
export async function screenshot(page: Page, name: string): Promise<string> {
  const folder = path.join(screenshotsDir, screenshotFolderOf.get(page) ?? testFileName());
  if (!clearedFolders.has(folder)) {
    clearedFolders.add(folder);
    await rm(folder, { recursive: true, force: true });
    await mkdir(folder, { recursive: true });
  }
  if (!announcedScreenshots) {
    announcedScreenshots = true;
    process.stderr.write(`test rig: screenshots in ${folder}\n`);
  }
  const file = path.join(folder, `${name.replace(/[^\w.-]+/g, '-')}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

function isAllowed(url: string, allowedHosts: Set<string>): boolean {
  const parsed = new URL(url);
  return inBrowserProtocols.has(parsed.protocol) || allowedHosts.has(parsed.hostname);
}

// The rule takes an IPv6 address without URL.hostname's brackets (`EXCLUDE [::1]` leaves ::1 unresolved).
function resolverExclusion(host: string): string {
  return `EXCLUDE ${host.replace(/^\[(.*)\]$/, '$1')}`;
}

// node --test runs each test file in a process of its own, with the file as its script.
function testFileName(): string {
  return path.basename(process.argv[1] ?? 'test', '.ts').replace(/\.test$/, '');
}
