// Where this installation's `bin/ganymede` is, so the tick can launch workers with the very same code,
// whether it runs from dist/ (built) or src/ (tests through tsx); and its version, for the hosts' heartbeats.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: { root: string; version: string } | undefined;

function installation(): { root: string; version: string } {
  if (cached) return cached;
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (!existsSync(manifest)) continue;
    const parsed = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string; version?: string };
    if (parsed.name === 'ganymede') return (cached = { root: dir, version: parsed.version ?? 'unknown' });
  }
  throw new Error('cannot find bin/ganymede above this module');
}

export function ganymedeBin(): string {
  return join(installation().root, 'bin', 'ganymede');
}

/** The `version` of this installation's package.json; "unknown" rather than an error, as it only informs. */
export function ganymedeVersion(): string {
  try {
    return installation().version;
  } catch {
    return 'unknown';
  }
}
