// How the console writes times, durations and sizes: UTC everywhere (the hours are UTC hours), short units.
import { formatBytes as formatBytesText } from '../render/table.js';

/** 1.2 MB, or a dash when unknown (the same dash as every other missing value on a page). */
export const formatBytes = (bytes: number | null | undefined): string => (bytes === null || bytes === undefined ? '—' : formatBytesText(bytes));

/** "2026-01-01 10:52:03 UTC"-style, without the zone (every page says UTC once). */
export function formatUtc(date: Date | null | undefined): string {
  return date ? date.toISOString().replace('T', ' ').slice(0, 19) : '—';
}

/** 850 ms, 42s, 3m05s, 2h10m, 3d04h. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, '0')}s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h${String(minutes % 60).padStart(2, '0')}m`;
  return `${Math.floor(hours / 24)}d${String(hours % 24).padStart(2, '0')}h`;
}

export const between = (start: Date | null | undefined, end: Date | null | undefined): number | null =>
  start && end ? end.getTime() - start.getTime() : null;

/** A count with thin groups: 1 234 567. */
export function formatCount(value: number | null | undefined): string {
  return value === null || value === undefined ? '—' : Math.round(value).toLocaleString('en-US').replace(/,/g, '\u202f');
}
