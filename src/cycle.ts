// A cycle is one UTC hour, written `YYYY-MM-DDTHH` (e.g. 2026-11-24T20) everywhere users see it.

const cyclePattern = /^(\d{4})-(\d{2})-(\d{2})T(\d{2})(?::00(?::00(?:\.000)?)?)?Z?$/;
/** One cycle's length. */
export const hourMs = 3_600_000;

/** The cycle a moment belongs to. */
export function cycleOf(at: Date): Date {
  return new Date(Math.floor(at.getTime() / hourMs) * hourMs);
}

export function formatCycle(cycleStart: Date): string {
  return cycleStart.toISOString().slice(0, 13);
}

/** Parses `YYYY-MM-DDTHH`; undefined when the text is not a valid UTC hour. */
export function parseCycle(text: string): Date | undefined {
  const match = cyclePattern.exec(text.trim());
  if (!match) return undefined;
  const [, year, month, day, hour] = match.map(Number) as [number, number, number, number, number];
  const date = new Date(Date.UTC(year, month - 1, day, hour));
  // Date.UTC rolls 2026-02-30 over into March: a date that does not round-trip does not exist.
  // Years before 2000 are typos (and Date.UTC maps 0-99 to the 1900s).
  return formatCycle(date) === text.trim().slice(0, 13) && hour < 24 && year >= 2000 ? date : undefined;
}

export function previousCycle(cycleStart: Date, hours = 1): Date {
  return new Date(cycleStart.getTime() - hours * hourMs);
}
