// After `load`: what of the GEO's table definitions the centre's server could not create, and what it created
// instead (load/definition-translation.ts), said in the step's events (phase `load`, one per table) and the
// log, so an operator sees that a MySQL 8 GEO's tables live on a MariaDB centre with other collations.
// Bounded like the schema events: a GEO of hundreds of tables, each with the same collation, gives the first
// few tables' events and one that counts the rest; the log has them all.
import { describeTranslation, type DefinitionTranslation } from '../load/definition-translation.js';
import type { StepContext } from './runtime.js';

export const maxTranslationEvents = 20;

/** Records the translations of the loaded tables; returns how many tables had any. */
export async function recordTranslations(
  context: Pick<StepContext, 'log' | 'event'>,
  tables: ReadonlyArray<{ table: string; translations: readonly DefinitionTranslation[] }>,
): Promise<number> {
  const translated = tables.filter((table) => table.translations.length > 0).sort((a, b) => (a.table < b.table ? -1 : a.table > b.table ? 1 : 0));
  for (const { translations } of translated) for (const translation of translations) context.log.info(`created otherwise: ${describeTranslation(translation)}`);
  for (const { table, translations } of translated.slice(0, maxTranslationEvents)) {
    const message = `created otherwise than the GEO defined it: ${translations.map(describeTranslation).join('; ')}`;
    await context.event({ phase: 'load', table: table.slice(0, 64), message: message.slice(0, 1000) });
  }
  if (translated.length > maxTranslationEvents) {
    await context.event({ phase: 'load', message: `and ${translated.length - maxTranslationEvents} more tables created otherwise than the GEO defined them (all of them: the log)` });
  }
  return translated.length;
}
