// A GEO's table on a centre of the other kind: a MySQL 8 GEO writes utf8mb4_0900_* collations and SRID
// columns, which MariaDB refuses (ERROR 1273); a MariaDB 10.10+ GEO writes uca1400 collations and INET6, INET4
// and UUID columns, which MySQL 8 does not know. Given the centre's server, each clause it cannot create
// becomes the nearest one it can, and every such change is said (the step's events list them); a clause
// with no equivalent that keeps the delivered bytes stops the table. Only what the server lacks changes.
// Why the choices below cannot break the load's proof: a value travels as bytes and is read back as bytes
// (character_set_results=binary), so a collation changes no stored byte, and every replacement keeps values
// that differed apart (a NO PAD or a finer collation; never a coarser one than the GEO's where one exists),
// so a unique key cannot drop a row; if it did, verifyTable's row count would say so.
// Defaults, CHECKs, functional keys and foreign keys need nothing here: the centre never creates them on
// any server (table-definition.ts), so they are not translations.
import { quoteIdentifier } from '../dump/dump-format.js';
import { describeServer, isAtLeast, type ServerIdentity } from '../mysql-server.js';
import type { ColumnDefinition, ColumnType, TableDefinition } from '../dump/table-definition.js';

export interface DefinitionTranslation {
  table: string;
  /** null: a table option. */
  column: string | null;
  /** What the GEO wrote: `COLLATE utf8mb4_0900_ai_ci`, `INET6`, `INVISIBLE NOT NULL`. */
  from: string;
  /** What the centre creates instead (`(dropped)` when nothing). */
  to: string;
  why: string;
}

export class DefinitionTranslationError extends Error {
  override name = 'DefinitionTranslationError';
}

export interface TranslatedDefinition {
  definition: TableDefinition;
  translations: DefinitionTranslation[];
}

/** `table t: column c: COLLATE utf8mb4_0900_ai_ci → utf8mb4_uca1400_nopad_ai_ci (why)`. */
export function describeTranslation(translation: DefinitionTranslation): string {
  const where = translation.column === null ? '' : `column ${quoteIdentifier(translation.column)}: `;
  return `table ${quoteIdentifier(translation.table)}: ${where}${translation.from} → ${translation.to} (${translation.why})`;
}

type Change = { to: string; why: string };
type Sensitivity = 'ai_ci' | 'ai_cs' | 'as_ci' | 'as_cs';

// MySQL 8's UCA 9.0.0 collations: utf8mb4 only, root or one language (`de_pb`, `es_trad`, `ja`, …), NO PAD.
const mysql0900Pattern = /^utf8mb4_(?:([a-z_]+?)_)?0900_(ai_ci|as_ci|as_cs|as_cs_ks|bin)$/;
// MariaDB 10.10's UCA 14.0.0 collations, for every Unicode character set, PAD SPACE or NO PAD.
const mariadb1400Pattern = /^(utf8mb3|utf8mb4|ucs2|utf16|utf32)_uca1400_(?:([a-z0-9]+?)_)?(nopad_)?(ai_ci|ai_cs|as_ci|as_cs)$/;
// MariaDB's other NO PAD collations (10.2+): `utf8mb4_general_nopad_ci`, `latin1_nopad_bin`, …
const mariadbNopadPattern = /^([a-z0-9]+)_(?:([a-z0-9_]+)_)?nopad_(ci|bin)$/;

// The languages both servers tailor, as each names them (MySQL 8.0 reference "Unicode Character Sets",
// MariaDB MDEV-27009). A language only one side has is sorted in root order on the other.
const languages: Array<[mysql: string, mariadb: string]> = [
  ['is', 'icelandic'], ['lv', 'latvian'], ['ro', 'romanian'], ['sl', 'slovenian'], ['pl', 'polish'], ['et', 'estonian'],
  ['es', 'spanish'], ['sv', 'swedish'], ['tr', 'turkish'], ['cs', 'czech'], ['da', 'danish'], ['lt', 'lithuanian'],
  ['sk', 'slovak'], ['es_trad', 'spanish2'], ['la', 'roman'], ['eo', 'esperanto'], ['hu', 'hungarian'], ['de_pb', 'german2'],
  ['vi', 'vietnamese'], ['hr', 'croatian'],
];
const mariadbLanguageOf = new Map(languages);
const mysqlLanguageOf = new Map(languages.map(([mysql, mariadb]) => [mariadb, mysql]));

/** The collation `collation` becomes on `server`, or undefined when the server has it. */
function collationChange(collation: string, server: ServerIdentity): Change | undefined {
  const mariadb = server.flavor === 'mariadb';
  const nopad = mariadb ? 'nopad_' : '';
  const mysql0900 = mysql0900Pattern.exec(collation);
  if (mysql0900) {
    // MariaDB 11.4.5 made utf8mb4_0900_ai_ci an alias of utf8mb4_uca1400_nopad_ai_ci (its release notes).
    if (!mariadb && isAtLeast(server, 'mysql', '8.0.1')) return undefined;
    if (isAtLeast(server, 'mariadb', '11.4.5') && collation === 'utf8mb4_0900_ai_ci') return undefined;
    const [, language, sensitivity] = mysql0900;
    const kind = mariadb ? 'MariaDB' : 'MySQL before 8.0';
    if (sensitivity === 'bin') return { to: `utf8mb4_${nopad}bin`, why: `${kind} has no 0900 collations; binary and NO PAD alike` };
    if (isAtLeast(server, 'mariadb', '10.10.1')) {
      const tailoring = language === undefined ? undefined : mariadbLanguageOf.get(language);
      const to = `utf8mb4_uca1400_${tailoring ? `${tailoring}_` : ''}nopad_${sensitivity === 'as_cs_ks' ? 'as_cs' : sensitivity}`;
      const lost = language !== undefined && !tailoring ? `, and no "${language}" tailoring: root order` : '';
      return { to, why: `MariaDB has no MySQL 0900 collations: UCA 14.0.0, NO PAD, same accent and case sensitivity${lost}` };
    }
    if (sensitivity === 'ai_ci') return { to: `utf8mb4_unicode_520_${nopad}ci`, why: `${kind} has no 0900 collations: UCA 5.2.0${mariadb ? ', NO PAD' : ''}` };
    return { to: `utf8mb4_${nopad}bin`, why: `${kind} has no accent-sensitive Unicode collation: binary keeps apart every value the GEO's did` };
  }
  const mariadb1400 = mariadb1400Pattern.exec(collation);
  if (mariadb1400) {
    if (isAtLeast(server, 'mariadb', '10.10.1')) return undefined;
    const [, charset, language, , sensitivity] = mariadb1400 as unknown as [string, string, string | undefined, string | undefined, Sensitivity];
    const kind = mariadb ? 'MariaDB before 10.10' : 'MySQL';
    if (charset === 'utf8mb4' && isAtLeast(server, 'mysql', '8.0.1')) {
      const code = language === undefined ? undefined : mysqlLanguageOf.get(language);
      // MySQL 8 tailors languages in ai_ci and as_cs only, and has no ai_cs: the case-sensitive choice keeps values apart.
      const wanted: string = sensitivity === 'ai_cs' || (code && sensitivity === 'as_ci') ? 'as_cs' : sensitivity;
      const lost = language !== undefined && !code ? `, and no "${language}" tailoring: root order` : '';
      return { to: `utf8mb4_${code ? `${code}_` : ''}0900_${wanted}`, why: `MySQL has no uca1400 collations: UCA 9.0.0, NO PAD${lost}` };
    }
    if (sensitivity === 'ai_ci') return { to: `${charset}_unicode_520_${nopad}ci`, why: `${kind} has no uca1400 collations: UCA 5.2.0` };
    return { to: `${charset}_${nopad}bin`, why: `${kind} has no accent- or case-sensitive Unicode collation: binary keeps apart every value the GEO's did` };
  }
  const mariadbNopad = mariadbNopadPattern.exec(collation);
  if (mariadbNopad && !mariadb) {
    const [, charset, name, kind] = mariadbNopad;
    if (kind === 'bin') {
      if (charset === 'utf8mb4' && isAtLeast(server, 'mysql', '8.0.1')) return { to: 'utf8mb4_0900_bin', why: 'MySQL has no utf8mb4_nopad_bin: its 0900_bin is binary and NO PAD alike' };
      return { to: `${charset}_bin`, why: 'MySQL has no NO PAD binary collation here: trailing spaces compare equal' };
    }
    return { to: `${charset}_${name}_ci`, why: 'MySQL has no NO PAD variant: trailing spaces compare equal' };
  }
  return undefined;
}

/** A character set the server does not have can only be refused: its bytes would have to change. */
function refuseCharset(table: string, column: string | null, charset: string | null, server: ServerIdentity): void {
  // gb18030 is MySQL's (5.7.4+); MariaDB's list of character sets has never had it.
  if (charset === 'gb18030' && server.flavor === 'mariadb') {
    const where = column === null ? 'DEFAULT CHARSET=gb18030' : `column ${quoteIdentifier(column)}: CHARACTER SET gb18030`;
    throw new DefinitionTranslationError(
      `table ${quoteIdentifier(table)}: ${where} cannot be created on ${describeServer(server)}, which has no gb18030, and the column's bytes cannot be kept in another character set`,
    );
  }
}

const textColumn = (base: string, length: number): ColumnType => ({ base, lengths: [length], members: [], unsigned: false, zerofill: false });

/** The type `column` becomes on `server` (with its charset), or undefined when the server has it. */
function typeChange(table: string, column: ColumnDefinition, server: ServerIdentity): (Change & { column: Partial<ColumnDefinition> }) | undefined {
  const { base } = column.type;
  // MariaDB's INET4/INET6/UUID travel as their text (dump-format.ts, utf8mb4-text), so an ASCII string holds
  // them byte for byte; _bin, because the text forms are canonical and must not compare case-insensitively.
  const asText = (type: ColumnType, since: string): Change & { column: Partial<ColumnDefinition> } => ({
    to: `${type.base}(${type.lengths[0]}) CHARACTER SET ascii COLLATE ascii_bin`,
    why: `${describeServer(server)} has no ${base} type (MariaDB ${since}+): its text form, as the GEO delivered it`,
    column: { type, charset: 'ascii', collation: 'ascii_bin' },
  });
  if (base === 'INET6' && !isAtLeast(server, 'mariadb', '10.5.0')) return asText(textColumn('VARCHAR', 39), '10.5');
  if (base === 'INET4' && !isAtLeast(server, 'mariadb', '10.10.0')) return asText(textColumn('VARCHAR', 15), '10.10');
  if (base === 'UUID' && !isAtLeast(server, 'mariadb', '10.7.0')) return asText(textColumn('CHAR', 36), '10.7');
  if (base === 'VECTOR' && !isAtLeast(server, 'mariadb', '11.7.1') && !isAtLeast(server, 'mysql', '9.0.0')) {
    // Both servers store VECTOR(n) as n little-endian float32 and deliver those bytes (encoding raw).
    const dimensions = column.type.lengths[0];
    if (dimensions === undefined) {
      throw new DefinitionTranslationError(`table ${quoteIdentifier(table)}: column ${quoteIdentifier(column.name)}: VECTOR without a dimension cannot be created on ${describeServer(server)}`);
    }
    return { to: `VARBINARY(${dimensions * 4})`, why: `${describeServer(server)} has no VECTOR type: its ${dimensions} float32 values as bytes`, column: { type: textColumn('VARBINARY', dimensions * 4) } };
  }
  if (base === 'GEOMCOLLECTION' && !isAtLeast(server, 'mysql', '8.0.11')) {
    return { to: 'GEOMETRYCOLLECTION', why: `${describeServer(server)} does not know MySQL 8's GEOMCOLLECTION name for it`, column: { type: { ...column.type, base: 'GEOMETRYCOLLECTION' } } };
  }
  return undefined;
}

/**
 * `definition` as `server` can create it, and what was changed to get there. Throws
 * DefinitionTranslationError, naming the table and the clause, for what has no equivalent.
 */
export function translateDefinition(definition: TableDefinition, server: ServerIdentity): TranslatedDefinition {
  const translations: DefinitionTranslation[] = [];
  const table = definition.name;
  const note = (column: string | null, from: string, change: Change) => translations.push({ table, column, from, to: change.to, why: change.why });
  const mariadb = server.flavor === 'mariadb';

  refuseCharset(table, null, definition.charset, server);
  const translated: TableDefinition = { ...definition, columns: [], indexes: definition.indexes };
  if (definition.collation) {
    const change = collationChange(definition.collation, server);
    if (change) {
      note(null, `COLLATE=${definition.collation}`, change);
      translated.collation = change.to;
    }
  }
  if (!mariadb && definition.engine === 'Aria') {
    note(null, 'ENGINE=Aria', { to: 'ENGINE=InnoDB', why: 'MySQL has no Aria engine' });
    translated.engine = 'InnoDB';
  }
  if (!mariadb && definition.rowFormat === 'PAGE') {
    note(null, 'ROW_FORMAT=PAGE', { to: '(dropped)', why: "PAGE is Aria's row format" });
    translated.rowFormat = null;
  }

  for (const original of definition.columns) {
    const column: ColumnDefinition = { ...original };
    refuseCharset(table, column.name, column.charset, server);
    const type = typeChange(table, column, server);
    if (type) {
      note(column.name, original.type.base + (original.type.lengths.length > 0 ? `(${original.type.lengths.join(',')})` : ''), type);
      Object.assign(column, type.column);
    } else if (column.collation) {
      const change = collationChange(column.collation, server);
      if (change) {
        note(column.name, `COLLATE ${column.collation}`, change);
        column.collation = change.to;
      }
    }
    if (column.srid !== null && !isAtLeast(server, 'mysql', '8.0.3')) {
      note(column.name, `SRID ${column.srid}`, { to: '(dropped)', why: `${describeServer(server)} has no SRID column attribute; each value keeps its own SRID` });
      column.srid = null;
    }
    if (column.invisible && !mariadb && !isAtLeast(server, 'mysql', '8.0.23')) {
      note(column.name, 'INVISIBLE', { to: '(dropped)', why: 'MySQL has invisible columns since 8.0.23' });
      column.invisible = false;
    }
    if (column.invisible && !column.nullable && mariadb) {
      // MariaDB refuses an invisible NOT NULL column without a DEFAULT (ERROR 4108), and the centre writes no
      // defaults; every value arrives in the data, so NULL is allowed but never stored.
      note(column.name, 'INVISIBLE NOT NULL', { to: 'INVISIBLE NULL', why: 'MariaDB wants a DEFAULT for an invisible NOT NULL column, and the load writes none' });
      column.nullable = true;
    }
    translated.columns.push(column);
  }
  return { definition: translated, translations };
}
