// Where this installation's `bin/ganymede` is, so the tick can launch workers with the very same code,
// whether it runs from dist/ (built) or src/ (tests through tsx).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

export function ganymedeBin(): string {
  if (cached) return cached;
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'ganymede') {
      return (cached = join(dir, 'bin', 'ganymede'));
    }
  }
  throw new Error('cannot find bin/ganymede above this module');
}
