// The name of a GEO's delivery, made by the agent and checked by the API before it signs an upload: one
// name per transaction (GEO, hour, delivery number), so an upload URL can write nothing but that hour's file.

export type DeliveryCompression = 'gzip' | 'zstd';

export function deliveryFileName(geo: string, cycle: string, delivery: number, compression: DeliveryCompression = 'gzip'): string {
  return `${geo}_${cycle}_d${delivery}.tar.${compression === 'zstd' ? 'zst' : 'gz'}.gpg`;
}

/** Whether `name` is what the agent names this transaction's file, with either compression. */
export function isDeliveryFileOf(name: string, txn: { geo: string; cycle: string; delivery: number }): boolean {
  return (['gzip', 'zstd'] as const).some((compression) => deliveryFileName(txn.geo, txn.cycle, txn.delivery, compression) === name);
}

/** Where a GEO's delivery lives in the inbox store: below the GEO's own prefix, as `<inbox_dir>/<geo>/` locally. */
export function deliveryObjectName(geo: string, fileName: string): string {
  return `${geo}/${fileName}`;
}
