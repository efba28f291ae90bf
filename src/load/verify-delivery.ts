// A delivered file checked without writing anything: decrypted, decompressed and read through the strict
// tar reader, every entry checked against the dump layout and the unpack limit, the signature verified at
// the end, the plan and the manifest read and held to each other, and each data file's size compared with
// what the manifest says. What a load streaming the same file again (load-delivery.ts) needs to know first.
import { isDeepStrictEqual } from 'node:util';
import { dataDir } from '../dump/dump-archive.js';
import { parseDumpManifest, parseDumpPlan, type DumpManifest, type DumpPlan, type DumpTablePlan } from '../dump/dump-manifest.js';
import { DeliveryRefusal, readDelivery, type DeliverySource } from './delivery-reader.js';

export interface VerifiedDelivery {
  signerFingerprint: string;
  manifest: DumpManifest;
  /** Bytes of the entries (data parts and both JSON files). */
  bytes: number;
}

/** The plan's part of a manifest table: what the plan said before any row. */
export function planOf(table: DumpTablePlan): DumpTablePlan {
  return { name: table.name, file: table.file, engine: table.engine, createSql: table.createSql, columns: table.columns };
}

/** Why a manifest is not the plan's completion (signed, so a refusal of the file), or undefined. */
export function manifestProblem(plan: DumpPlan, manifest: DumpManifest): string | undefined {
  if (plan.tables.length !== manifest.tables.length) return `manifest.json lists ${manifest.tables.length} tables, plan.json ${plan.tables.length}`;
  for (const [index, table] of plan.tables.entries()) {
    if (!isDeepStrictEqual(planOf(manifest.tables[index]!), planOf(table))) return `manifest.json describes table ${JSON.stringify(table.name)} differently from plan.json`;
  }
  return undefined;
}

export async function verifyDelivery(source: DeliverySource): Promise<VerifiedDelivery> {
  let plan: DumpPlan | undefined;
  const fileBytes = new Map<string, number>();
  const read = await readDelivery(source, {
    async entry(entry) {
      const file = entry.path.startsWith(`${dataDir}/`) ? entry.path.slice(dataDir.length + 1, entry.path.lastIndexOf('.')) : undefined;
      return {
        write: async (chunk) => void (file && fileBytes.set(file, (fileBytes.get(file) ?? 0) + chunk.length)),
        end: async () => undefined,
      };
    },
    plan: (text) => void (plan = parseDumpPlan(text)),
  });
  // Verified by now: whatever is wrong below is what the GEO signed.
  if (!plan) throw new DeliveryRefusal('the archive has no plan.json: not a dump an agent wrote');
  const manifest = parseDumpManifest(read.manifestText);
  const problem = manifestProblem(plan, manifest);
  if (problem) throw new DeliveryRefusal(problem);
  for (const table of manifest.tables) {
    const bytes = fileBytes.get(table.file) ?? 0;
    if (bytes !== table.bytes) throw new DeliveryRefusal(`the data of table ${JSON.stringify(table.name)} is ${bytes} bytes, its manifest entry says ${table.bytes}`);
  }
  return { signerFingerprint: read.signerFingerprint, manifest, bytes: read.bytes };
}
