// Plain-text tables that read the same in a terminal and in a cron mail: aligned columns, no box drawing.
// Width is measured without ANSI colour codes so coloured cells still line up.

const ansiPattern = /\u001b\[[0-9;]*m/g;
export const visibleLength = (text: string) => [...text.replace(ansiPattern, '')].length;

export function renderTable(headers: string[], rows: string[][], options: { maxWidths?: number[] } = {}): string {
  const cells = rows.map((row) =>
    row.map((cell, index) => {
      const max = options.maxWidths?.[index];
      return max && visibleLength(cell) > max ? `${[...cell.replace(ansiPattern, '')].slice(0, max - 1).join('')}…` : cell;
    }),
  );
  const widths = headers.map((header, index) => Math.max(visibleLength(header), ...cells.map((row) => visibleLength(row[index] ?? ''))));
  const line = (row: string[]) =>
    row
      .map((cell, index) => (index === row.length - 1 ? cell : cell + ' '.repeat(widths[index]! - visibleLength(cell))))
      .join('  ')
      .trimEnd();
  return [line(headers), ...cells.map(line)].join('\n');
}

export function formatTime(date: Date | null | undefined): string {
  return date ? date.toISOString().replace('T', ' ').slice(0, 19) : '-';
}

export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) return '-';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) (value /= 1000), unit++;
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}
