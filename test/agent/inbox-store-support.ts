// Shared by the object-store inbox tests: a centre whose centre.inbox is the rig's real Swift (swift:// or
// its s3api), the agent set to upload through the API, what a run logs, and the stored delivery's digest.
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiClient } from '../../src/api/client.js';
import { configureLogging } from '../../src/log.js';
import { openInboxStore } from '../../src/inbox/store.js';
import { agentFixture, type AgentFixture } from '../support/agent-fixture.js';
import { writePrivateFile } from '../support/ganymede.js';
import type { SwiftServer } from '../support/swift.js';
export { setTempUrlKey } from '../support/swift.js';

export const swiftInboxUrl = (server: SwiftServer, container: string, extra = '') =>
  `swift://${container}?auth=${encodeURIComponent(server.authUrl)}&user=${encodeURIComponent(server.user)}${extra}`;

export const s3InboxUrl = (server: SwiftServer, bucket: string, extra = '') =>
  `s3://${encodeURIComponent(server.s3.accessKey)}@${bucket}?endpoint=${encodeURIComponent(server.s3.endpoint)}&region=${server.s3.region}${extra}`;

/** A GEO whose centre's API signs uploads into `inboxUrl` with the rig's credentials. */
export function storeInboxFixture(geo: string, server: SwiftServer, inboxUrl: string): Promise<AgentFixture> {
  const secret = inboxUrl.startsWith('s3:') ? server.s3.secretKey : server.key;
  return agentFixture(geo, { settings: { 'centre.inbox': inboxUrl }, secrets: { 'centre.inbox_secret': secret, 'centre.inbox_temp_url_key': server.tempUrlKey } });
}

/** The agent's settings to upload through the API. */
export const throughApi = { 'agent.inbox': 'api' };

/** Every log line (agent and API: both run in this process), at debug level, until stop(). */
export function captureLogs(): { lines: string[]; stop(): void } {
  const lines: string[] = [];
  configureLogging({ level: 'debug', format: 'text', write: (line) => void lines.push(line) });
  return { lines, stop: () => configureLogging({ level: 'warn', format: 'text', write: (line) => process.stderr.write(line) }) };
}

/** A signature in a URL that was not masked: what no log line, event or error may hold. */
export const unmaskedSignature = /temp_url_sig=(?!\*\*\*)|X-Amz-Signature=(?!\*\*\*)|X-Amz-Credential=(?!\*\*\*)/i;

/** The sha256 and size of a delivery as the centre reads it back through its inbox store. */
export async function storedDigest(fixture: AgentFixture, objectName: string): Promise<{ sha256: string; size: number }> {
  const store = await openInboxStore(fixture.api.loaded);
  try {
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of await store.get(objectName)) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
    return { sha256: hash.digest('hex'), size };
  } finally {
    await store.close();
  }
}

/** The GEO's own API client, as the agent makes it. */
export const geoClient = (fixture: AgentFixture, token = fixture.token, geo = fixture.geo) => new ApiClient({ baseUrl: fixture.api.url, token, as: `GEO ${geo}` });

/** A file of random (incompressible) bytes in the fixture's dir, and its sha256. */
export function randomFile(fixture: AgentFixture, name: string, size: number): { path: string; file: { name: string; size: number; sha256: string } } {
  const content = randomBytes(size);
  const path = join(fixture.dir, name);
  writeFileSync(path, content);
  return { path, file: { name, size, sha256: createHash('sha256').update(content).digest('hex') } };
}

/** Object names in a Swift container, through the proxy with the rig's own login. */
export async function swiftObjects(server: SwiftServer, container: string): Promise<string[]> {
  const auth = await fetch(server.authUrl, { headers: { 'X-Auth-User': server.user, 'X-Auth-Key': server.key } });
  await auth.arrayBuffer();
  const response = await fetch(`${server.storageUrl}/${container}?format=json`, { headers: { 'X-Auth-Token': auth.headers.get('x-auth-token')! } });
  if (response.status === 404) return [];
  return ((await response.json()) as Array<{ name: string }>).map((object) => object.name);
}

/**
 * The settings of a central host whose inbox (`container` inbox) and feed store (`container` feed) are the rig's
 * Swift, with the key and the Temp-URL-Key in 0600 files named by `label`; agents of such a centre upload with
 * `agent.inbox: "api"`.
 */
export function swiftCentreSettings(server: SwiftServer, label: string): Record<string, unknown> {
  const dir = process.env.TMPDIR ?? '/tmp';
  const key = writePrivateFile(join(dir, `gmdt-${label}-key-${process.pid}`), server.key);
  const tempUrl = writePrivateFile(join(dir, `gmdt-${label}-tempurl-${process.pid}`), server.tempUrlKey);
  return {
    'centre.inbox': swiftInboxUrl(server, 'inbox'),
    'centre.inbox_secret_file': key,
    'centre.inbox_temp_url_key_file': tempUrl,
    'feed.store': swiftInboxUrl(server, 'feed'),
    'feed.store_secret_file': key,
  };
}
