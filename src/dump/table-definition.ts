// A delivered table's definition as data. A GEO's manifest carries SHOW CREATE TABLE text, and a GEO is not
// trusted, so the centre never runs that text: it reads it into a TableDefinition through a closed grammar
// (types, lengths, charsets, keys from fixed lists; everything else refused or dropped) and writes its own
// CREATE TABLE from that structure (create-table-sql.ts), with every name quoted and every literal re-escaped by us.
// Only what loading needs survives: columns with their exact types, NULL-ability and visibility, and the
// keys that etl takes `_id` from. Defaults, generated-column expressions, checks, foreign keys, comments and
// storage options are dropped: every column's value arrives in the data file, so none of them can matter.
import { quoteIdentifier } from './dump-format.js';
import { SqlCursor, TableDefinitionError } from './sql-cursor.js';
import { SqlSyntaxError, tokenizeSql, type SqlToken } from './sql-tokens.js';

export interface ColumnType {
  /** Upper-case base type from the closed list below. */
  base: string;
  /** Numeric arguments: length, precision and scale. */
  lengths: number[];
  /** ENUM and SET members. */
  members: string[];
  unsigned: boolean;
  zerofill: boolean;
}

export interface ColumnDefinition {
  name: string;
  type: ColumnType;
  charset: string | null;
  collation: string | null;
  nullable: boolean;
  invisible: boolean;
  /** Generated at the source; created here as a plain column whose values come with the data. */
  generated: boolean;
  /**
   * MariaDB's JSON: a LONGTEXT with `CHECK (json_valid(col))`, which the server then reports as JSON in its
   * result metadata (etl stores such a column parsed). The one CHECK kept, and written by us.
   */
  jsonCheck: boolean;
  /** MySQL 8's `SRID n` on a spatial column: kept where the centre's server has it (definition-translation.ts). */
  srid: number | null;
}

export interface IndexDefinition {
  kind: 'primary' | 'unique' | 'key' | 'fulltext' | 'spatial';
  name: string | null;
  parts: { column: string; length: number | null }[];
}

export interface TableDefinition {
  name: string;
  columns: ColumnDefinition[];
  indexes: IndexDefinition[];
  engine: string;
  charset: string | null;
  collation: string | null;
  rowFormat: string | null;
}

export { TableDefinitionError };

const integerTypes = ['TINYINT', 'SMALLINT', 'MEDIUMINT', 'INT', 'INTEGER', 'BIGINT'];
const numericTypes = [...integerTypes, 'DECIMAL', 'NUMERIC', 'FLOAT', 'DOUBLE', 'REAL', 'BIT', 'BOOL', 'BOOLEAN'];
const textTypes = ['CHAR', 'VARCHAR', 'TINYTEXT', 'TEXT', 'MEDIUMTEXT', 'LONGTEXT', 'ENUM', 'SET'];
const otherTypes = [
  'BINARY', 'VARBINARY', 'TINYBLOB', 'BLOB', 'MEDIUMBLOB', 'LONGBLOB', 'DATE', 'TIME', 'DATETIME', 'TIMESTAMP', 'YEAR', 'JSON',
  'GEOMETRY', 'POINT', 'LINESTRING', 'POLYGON', 'MULTIPOINT', 'MULTILINESTRING', 'MULTIPOLYGON', 'GEOMETRYCOLLECTION', 'GEOMCOLLECTION',
  'INET4', 'INET6', 'UUID', 'VECTOR',
];
const knownTypes = new Set([...numericTypes, ...textTypes, ...otherTypes]);
const spatialTypes = new Set(['GEOMETRY', 'POINT', 'LINESTRING', 'POLYGON', 'MULTIPOINT', 'MULTILINESTRING', 'MULTIPOLYGON', 'GEOMETRYCOLLECTION', 'GEOMCOLLECTION']);
const charsetTypes = new Set(textTypes);
// Engines a delivered table may keep; any other (FEDERATED, CONNECT, MERGE, SPIDER, …) is loaded as InnoDB,
// which holds the same rows without reaching anything outside the scratch schema.
const keptEngines = new Map(['InnoDB', 'MyISAM', 'Aria'].map((engine) => [engine.toUpperCase(), engine]));
const rowFormats = new Set(['DEFAULT', 'DYNAMIC', 'COMPACT', 'REDUNDANT', 'COMPRESSED', 'FIXED', 'PAGE']);
// Table options that would reach outside the scratch schema or change what a table is: refused, never dropped.
const refusedTableOptions = new Set(['DATA', 'INDEX', 'CONNECTION', 'UNION', 'INSERT_METHOD', 'PARTITION', 'WITH', 'SEQUENCE', 'SELECT', 'AS', 'LIKE', 'IGNORE', 'REPLACE']);
// Table options that change only storage or bookkeeping: dropped (their value is skipped, never used).
const droppedTableOptions = new Set([
  'AUTO_INCREMENT', 'COMMENT', 'KEY_BLOCK_SIZE', 'STATS_PERSISTENT', 'STATS_AUTO_RECALC', 'STATS_SAMPLE_PAGES', 'PACK_KEYS',
  'CHECKSUM', 'TABLE_CHECKSUM', 'DELAY_KEY_WRITE', 'MAX_ROWS', 'MIN_ROWS', 'AVG_ROW_LENGTH', 'PAGE_CHECKSUM', 'TRANSACTIONAL',
  'PAGE_COMPRESSED', 'PAGE_COMPRESSION_LEVEL', 'ENCRYPTED', 'ENCRYPTION_KEY_ID', 'ENCRYPTION', 'COMPRESSION', 'TABLESPACE',
  'STORAGE', 'IETF_QUOTES', 'ENGINE_ATTRIBUTE', 'SECONDARY_ENGINE_ATTRIBUTE', 'AUTOEXTEND_SIZE', 'SECONDARY_ENGINE', 'START',
]);

/** Reads SHOW CREATE TABLE text; throws TableDefinitionError naming what is not allowed. */
export function parseTableDefinition(sql: string): TableDefinition {
  let tokens: SqlToken[];
  try {
    tokens = tokenizeSql(sql);
  } catch (error) {
    if (error instanceof SqlSyntaxError) throw new TableDefinitionError(`the table definition is not SQL we read: ${error.message}`);
    throw error;
  }
  return new Reader(tokens).table();
}

class Reader extends SqlCursor {
  /** Columns named by a table-level `CHECK (json_valid(col))`. */
  private readonly tableJsonChecks: string[] = [];

  table(): TableDefinition {
    this.expectWord('CREATE');
    this.expectWord('TABLE');
    if (this.isWord('IF')) this.unexpected('a plain CREATE TABLE expected');
    const name = this.name('the table name');
    this.expectPunct('(');
    const columns: ColumnDefinition[] = [];
    const indexes: IndexDefinition[] = [];
    do {
      if (this.isWord('PRIMARY', 'UNIQUE', 'KEY', 'INDEX', 'FULLTEXT', 'SPATIAL', 'CONSTRAINT', 'FOREIGN', 'CHECK', 'PERIOD')) {
        const index = this.indexOrConstraint();
        if (index) indexes.push(index);
      } else {
        columns.push(this.column());
      }
    } while (this.takePunct(','));
    this.expectPunct(')');
    const definition: TableDefinition = { name, columns, indexes, engine: 'InnoDB', charset: null, collation: null, rowFormat: null };
    this.tableOptions(definition);
    if (columns.length === 0) throw new TableDefinitionError('the table definition has no columns');
    const seen = new Set<string>();
    for (const column of columns) {
      const key = column.name.toLowerCase();
      if (seen.has(key)) throw new TableDefinitionError(`column ${quoteIdentifier(column.name)} appears twice`);
      seen.add(key);
    }
    for (const checked of this.tableJsonChecks) {
      const column = columns.find((candidate) => candidate.name.toLowerCase() === checked.toLowerCase());
      if (column) column.jsonCheck = true;
    }
    for (const index of indexes) {
      for (const part of index.parts) {
        if (!seen.has(part.column.toLowerCase())) throw new TableDefinitionError(`a key names column ${quoteIdentifier(part.column)}, which the table does not have`);
      }
    }
    return definition;
  }

  private column(): ColumnDefinition {
    const name = this.name('a column name');
    const type = this.columnType();
    const column: ColumnDefinition = { name, type, charset: null, collation: null, nullable: true, invisible: false, generated: false, jsonCheck: false, srid: null };
    for (;;) {
      if (this.takeWord('CHARACTER')) {
        this.expectWord('SET');
        column.charset = this.charsetName();
      } else if (this.takeWord('CHARSET')) column.charset = this.charsetName();
      else if (this.takeWord('COLLATE')) column.collation = this.charsetName();
      else if (this.takeWord('NOT')) {
        this.expectWord('NULL');
        column.nullable = false;
      } else if (this.takeWord('NULL')) column.nullable = true;
      else if (this.takeWord('INVISIBLE')) column.invisible = true;
      else if (this.takeWord('VISIBLE', 'AUTO_INCREMENT', 'PRIMARY', 'UNIQUE', 'KEY', 'VIRTUAL', 'STORED', 'PERSISTENT', 'COMPRESSED')) {
        // Keys are kept only as table-level keys (SHOW CREATE prints them there); the rest changes no value.
        if (this.isPunct('=')) this.skipValue();
      } else if (this.takeWord('SRID')) column.srid = this.integer('an SRID');
      else if (this.takeWord('DEFAULT', 'COMMENT', 'COLUMN_FORMAT', 'STORAGE', 'REF_SYSTEM_ID', 'ENGINE_ATTRIBUTE', 'SECONDARY_ENGINE_ATTRIBUTE')) this.skipValue();
      else if (this.takeWord('ON')) {
        this.expectWord('UPDATE');
        this.skipValue();
      } else if (this.takeWord('GENERATED')) {
        this.expectWord('ALWAYS');
      } else if (this.takeWord('AS')) {
        this.skipGroup();
        column.generated = true;
      } else if (this.takeWord('CHECK')) {
        if (this.jsonCheckOf() === name) column.jsonCheck = true;
      } else if (this.takeWord('WITHOUT', 'WITH')) this.unexpected('system-versioned columns are not loaded');
      else break;
    }
    if (column.charset && !charsetTypes.has(type.base)) throw new TableDefinitionError(`column ${quoteIdentifier(name)}: a ${type.base} has no character set`);
    if (column.srid !== null && !spatialTypes.has(type.base)) throw new TableDefinitionError(`column ${quoteIdentifier(name)}: a ${type.base} has no SRID`);
    return column;
  }

  private columnType(): ColumnType {
    const token = this.next();
    let base = token.kind === 'word' ? token.upper : '';
    if (base === 'DOUBLE' && this.isWord('PRECISION')) this.at++;
    if (!knownTypes.has(base)) {
      this.at--;
      this.unexpected('a MySQL column type expected');
    }
    if (base === 'INTEGER') base = 'INT';
    if (base === 'REAL') base = 'DOUBLE';
    if (base === 'NUMERIC') base = 'DECIMAL';
    if (base === 'BOOL' || base === 'BOOLEAN') base = 'TINYINT';
    const type: ColumnType = { base, lengths: [], members: [], unsigned: false, zerofill: false };
    if (this.takePunct('(')) {
      if (base === 'ENUM' || base === 'SET') {
        do {
          const member = this.next();
          if (member.kind !== 'string') {
            this.at--;
            this.unexpected(`a quoted ${base} member expected`);
          }
          type.members.push(member.text);
        } while (this.takePunct(','));
      } else {
        do type.lengths.push(this.integer(`the length of a ${base}`));
        while (this.takePunct(','));
        if (type.lengths.length > 2) this.unexpected(`a ${base} takes at most two numbers`);
      }
      this.expectPunct(')');
    }
    for (;;) {
      if (this.takeWord('UNSIGNED')) type.unsigned = true;
      else if (this.takeWord('SIGNED')) type.unsigned = false;
      else if (this.takeWord('ZEROFILL')) type.zerofill = true;
      else break;
    }
    if ((type.unsigned || type.zerofill) && !numericTypes.includes(base)) throw new TableDefinitionError(`a ${base} cannot be UNSIGNED or ZEROFILL`);
    return type;
  }

  /** Reads a CHECK's `( … )`: the column it is `json_valid(col)` of, or undefined for any other check (skipped). */
  private jsonCheckOf(): string | undefined {
    const [open, call, inner, column, close, end] = [0, 1, 2, 3, 4, 5].map((offset) => this.peek(offset));
    const isJsonValid =
      open?.kind === 'punct' && open.text === '(' && call?.kind === 'word' && call.upper === 'JSON_VALID' &&
      inner?.kind === 'punct' && inner.text === '(' && (column?.kind === 'name' || column?.kind === 'word') &&
      close?.kind === 'punct' && close.text === ')' && end?.kind === 'punct' && end.text === ')';
    if (!isJsonValid) {
      this.skipGroup();
      return undefined;
    }
    this.at += 6;
    return column.text;
  }

  private indexOrConstraint(): IndexDefinition | undefined {
    let constraintName: string | null = null;
    if (this.takeWord('CONSTRAINT')) {
      if (!this.isWord('PRIMARY', 'UNIQUE', 'FOREIGN', 'CHECK')) constraintName = this.name('a constraint name');
    }
    if (this.takeWord('CHECK')) {
      const column = this.jsonCheckOf();
      if (column !== undefined) this.tableJsonChecks.push(column);
      return undefined;
    }
    if (this.takeWord('FOREIGN')) {
      // Dropped: it names another table, possibly in another schema, and the load checks no keys anyway.
      this.expectWord('KEY');
      if (!this.isPunct('(')) this.name('a foreign key name');
      this.skipGroup();
      this.expectWord('REFERENCES');
      while (!this.isPunct(',') && !this.isPunct(')')) {
        if (this.isPunct('(')) this.skipGroup();
        else this.next();
      }
      return undefined;
    }
    if (this.takeWord('PERIOD')) this.unexpected('system-versioned tables are not loaded');
    let kind: IndexDefinition['kind'] = 'key';
    if (this.takeWord('PRIMARY')) {
      this.expectWord('KEY');
      kind = 'primary';
    } else if (this.takeWord('UNIQUE')) {
      this.takeWord('KEY', 'INDEX');
      kind = 'unique';
    } else if (this.takeWord('FULLTEXT')) {
      this.takeWord('KEY', 'INDEX');
      kind = 'fulltext';
    } else if (this.takeWord('SPATIAL')) {
      this.takeWord('KEY', 'INDEX');
      kind = 'spatial';
    } else {
      this.expectWord(this.isWord('INDEX') ? 'INDEX' : 'KEY');
    }
    const name = kind === 'primary' || this.isPunct('(') ? constraintName : this.name('a key name');
    if (this.takeWord('USING')) this.next();
    this.expectPunct('(');
    const parts: IndexDefinition['parts'] = [];
    let functional = false;
    do {
      if (this.isPunct('(')) {
        // A functional key part (MySQL 8) is an expression: the key is dropped, never its SQL run.
        this.skipGroup();
        functional = true;
      } else {
        const column = this.name('a key column');
        const length = this.takePunct('(') ? this.integer('a key prefix length') : null;
        if (length !== null) this.expectPunct(')');
        parts.push({ column, length });
      }
      this.takeWord('ASC', 'DESC');
    } while (this.takePunct(','));
    this.expectPunct(')');
    for (;;) {
      if (this.takeWord('USING')) this.next();
      else if (this.takeWord('KEY_BLOCK_SIZE', 'COMMENT', 'ENGINE_ATTRIBUTE', 'SECONDARY_ENGINE_ATTRIBUTE', 'CLUSTERING')) this.skipValue();
      else if (this.takeWord('WITH')) {
        this.expectWord('PARSER');
        this.name('a parser name');
      } else if (this.takeWord('NOT')) this.expectWord('IGNORED');
      else if (!this.takeWord('VISIBLE', 'INVISIBLE', 'IGNORED')) break;
    }
    return functional ? undefined : { kind, name, parts };
  }

  private tableOptions(definition: TableDefinition): void {
    while (this.peek()) {
      if (this.takePunct(',') || (this.takePunct(';') && !this.peek())) continue;
      const token = this.peek()!;
      if (token.kind !== 'word') this.unexpected('a table option expected');
      if (refusedTableOptions.has(token.upper)) this.unexpected('an option that reaches outside the table or is not a plain table');
      this.at++;
      if (token.upper === 'ENGINE' || token.upper === 'TYPE') {
        this.takePunct('=');
        const engine = this.name('an engine name');
        definition.engine = keptEngines.get(engine.toUpperCase()) ?? 'InnoDB';
      } else if (token.upper === 'DEFAULT' && this.isWord('CHARSET', 'CHARACTER', 'COLLATE')) {
        continue;
      } else if (token.upper === 'CHARSET' || (token.upper === 'CHARACTER' && this.takeWord('SET'))) {
        definition.charset = this.charsetName();
      } else if (token.upper === 'COLLATE') {
        definition.collation = this.charsetName();
      } else if (token.upper === 'ROW_FORMAT') {
        this.takePunct('=');
        const format = this.name('a row format').toUpperCase();
        if (!rowFormats.has(format)) throw new TableDefinitionError(`ROW_FORMAT ${JSON.stringify(format)} is not one we know`);
        definition.rowFormat = format;
      } else if (droppedTableOptions.has(token.upper)) {
        this.skipValue();
      } else {
        this.at--;
        this.unexpected('a table option we know expected');
      }
    }
  }
}
