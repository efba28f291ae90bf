// feed.store as an operator configures it: unset, the feed stays where it always was (feed.dir, else
// <data_dir>/feed); set, it wins; its secret comes from a 0600 file or GANYMEDE_FEED_STORE_SECRET, never
// from the file or the URL, and a store that needs one and has none is a one-line configuration error.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { GanymedeError } from '../../src/errors.js';
import { ExitCode } from '../../src/exit-codes.js';
import { feedStoreUrl, openFeedStore } from '../../src/feed/store.js';
import { createLogger } from '../../src/log.js';
import { tempDir } from '../support/ganymede.js';

const swiftStore = 'swift://feeds/centre?auth=https%3A%2F%2Fidentity.example%2Fv1.0&user=ops';

function withConfig(content: Record<string, unknown>, env: Record<string, string>, check: (load: () => ReturnType<typeof loadConfig>) => Promise<void> | void) {
  const dir = tempDir('feed-store-config');
  const file = join(dir.path, 'ganymede.json');
  writeFileSync(file, JSON.stringify(content), { mode: 0o600 });
  return Promise.resolve(check(() => loadConfig({ configPath: file, env }))).finally(() => dir.remove());
}

test('unset, the feed store is the local feed dir it always was; feed.store wins over feed.dir', async () => {
  await withConfig({ site: { data_dir: '/srv/gmd' } }, {}, (load) => assert.equal(feedStoreUrl(load().config), 'file:///srv/gmd/feed'));
  await withConfig({ site: { data_dir: '/srv/gmd' }, feed: { dir: '/data/feeds' } }, {}, (load) => assert.equal(feedStoreUrl(load().config), 'file:///data/feeds'));
  await withConfig({ feed: { dir: '/data/feeds', store: swiftStore } }, {}, (load) => assert.equal(feedStoreUrl(load().config), swiftStore));
  // A directory whose name a URL would misread (`#` starts a fragment) is still that directory.
  await withConfig({ feed: { dir: '/data/feeds #1' } }, {}, async (load) => {
    const store = await openFeedStore(load(), createLogger('test'));
    assert.equal(store.describe(), 'file:///data/feeds%20%231');
  });
});

test('the store secret: refused in the file, taken from GANYMEDE_FEED_STORE_SECRET, and required by a swift:// store', async () => {
  await withConfig({ feed: { store: swiftStore, store_secret: 'hunter2hunter2' } }, {}, (load) => {
    assert.throws(load, (error: GanymedeError) => error.exitCode === ExitCode.config && error.details.some((line) => line.startsWith('feed.store_secret: secrets are not written in the config file; use feed.store_secret_file')));
  });
  await withConfig({ feed: { store: swiftStore } }, { GANYMEDE_FEED_STORE_SECRET: 'from-env' }, (load) => assert.equal(load().secret('feed.store_secret'), 'from-env'));
  await withConfig({ feed: { store: swiftStore } }, {}, async (load) => {
    await assert.rejects(openFeedStore(load(), createLogger('test')), (error: GanymedeError) => error.exitCode === ExitCode.config && /no key \(or password, or API key\) is configured for swift:\/\/feeds\/centre/.test(error.message));
  });
  await withConfig({ feed: { store: 'sftp://ops:pw@files.example/feeds' } }, {}, (load) => {
    assert.throws(load, (error: GanymedeError) => error.details.some((line) => line.startsWith('feed.store: contains a password')));
  });
});
