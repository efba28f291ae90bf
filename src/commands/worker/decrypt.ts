// `worker decrypt`: the delivered file must be what the agent reported (size, sha256), decrypt with the
// centre's key, carry a valid signature of *this transaction's* GEO, and hold a dump in the agents' layout
// within the unpack limits. It writes nothing: `load` streams the same file again from the inbox, on any
// central host. Anything else is refused for good and the file moved to quarantine; MySQL is not touched.
import { requireSettings } from '../../config/load.js';
import { messageOf } from '../../errors.js';
import { listRetiredGeoKeys } from '../../state/geos.js';
import type { StepOutcome } from '../../state/step-outcomes.js';
import type { StepContext } from '../../worker/runtime.js';
import { sha256Of } from '../../worker/inbox-file.js';
import { openDeliverySource, quarantine } from '../../worker/delivery-source.js';

export async function decryptStep(context: StepContext): Promise<StepOutcome> {
  requireSettings(context.loaded, ['centre.private_key_file'], '`worker decrypt`');
  // done in 2 steps; step 1: the GEO may deliver, the file is the one the agent reported, the keys are at hand
  const { geo, file, source } = await openDeliverySource(context);
  try {
    const reported = context.txn.file!;
    const sha256 = await sha256Of(file, context.signal);
    if (sha256 !== reported.sha256) await quarantine(context, `its sha256 is ${sha256}, the agent reported ${reported.sha256}`);
    // step 2: decrypt, verify the signature, the layout, the limits and the manifest, writing nothing: load
    // streams the same file again, on whichever host claims it
    context.log.info(`verifying ${reported.name}: ${file.size} bytes`);
    const { verifyDelivery } = await import('../../load/verify-delivery.js');
    const { DeliveryRefusal } = await import('../../load/delivery-reader.js');
    const { OpenPgpRefusal } = await import('../../openpgp/open.js');
    const { DumpManifestError } = await import('../../dump/dump-manifest.js');
    try {
      const verified = await verifyDelivery(source);
      const rows = verified.manifest.tables.reduce((sum, table) => sum + table.rows, 0);
      await context.event({ phase: 'decrypt', message: `signed by ${verified.signerFingerprint}; ${verified.manifest.tables.length} tables`, rows, bytes: verified.bytes });
      return { rows, bytes: verified.bytes };
    } catch (error) {
      // Stopped (SIGTERM, lease lost): whatever the half-read stream said, the file was not judged.
      if (context.signal.aborted) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      const dataProblem = error instanceof OpenPgpRefusal || error instanceof DeliveryRefusal || error instanceof DumpManifestError || /^TAR_|Z_DATA_ERROR|Z_BUF_ERROR|unexpected end of file|incorrect header check/i.test(`${code ?? ''} ${messageOf(error)}`);
      if (dataProblem) await quarantine(context, await explainSigner(context, geo.id, error, messageOf(error)));
      throw error;
    }
  } finally {
    await file.close();
  }
}

/** A file signed by a key the GEO has retired: say when it was retired, so the refusal explains itself. */
async function explainSigner(context: StepContext, geoId: number, error: unknown, message: string): Promise<string> {
  if ((error as { reason?: string }).reason !== 'unexpected-signer') return message;
  for (const retired of await listRetiredGeoKeys(context.db, geoId)) {
    if (!message.includes(retired.keyFingerprint) && !message.includes(retired.keyFingerprint.slice(-16))) continue;
    const delivered = context.txn.deliveredAt?.toISOString() ?? 'an unknown time';
    return retired.revoked
      ? `${message} (GEO ${context.txn.geo} retired and revoked that key on ${retired.retiredAt.toISOString()})`
      : `${message} (GEO ${context.txn.geo} retired that key on ${retired.retiredAt.toISOString()}; a retired key only counts for files delivered before then, this one was delivered ${delivered})`;
  }
  return message;
}
