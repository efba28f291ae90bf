// A tokenizer for the one kind of SQL the centre reads from a delivery: a CREATE TABLE statement as
// SHOW CREATE TABLE prints it (sql_mode '', so backticks quote names and backslashes escape in strings).
// It only splits text; nothing here decides what is allowed (table-definition.ts does, from a closed list).

export type SqlToken =
  | { kind: 'word'; text: string; upper: string }
  | { kind: 'name'; text: string }
  | { kind: 'string'; text: string }
  | { kind: 'number'; text: string }
  | { kind: 'punct'; text: string };

export class SqlSyntaxError extends Error {
  override name = 'SqlSyntaxError';
}

// Inside a string literal (sql_mode without NO_BACKSLASH_ESCAPES): what a backslash sequence stands for.
// `\%` and `\_` keep their backslash, as the server does.
const escapes: Record<string, string> = { '0': '\0', b: '\b', n: '\n', r: '\r', t: '\t', Z: '\x1a', '%': '\\%', _: '\\_' };
const wordPattern = /[A-Za-z0-9_$\u0080-\uffff]/u;

/**
 * The tokens of `sql`. Comments are dropped, except `/*!NNNNN … *\/` and `/*M!NNNNNN … *\/`, whose text the
 * server that wrote them executes: their content is read as ordinary tokens.
 */
export function tokenizeSql(sql: string): SqlToken[] {
  const tokens: SqlToken[] = [];
  let i = 0;
  const fail = (what: string): never => {
    throw new SqlSyntaxError(`${what} at offset ${i}`);
  };
  while (i < sql.length) {
    const c = sql[i]!;
    if (/\s/u.test(c)) {
      i++;
    } else if (sql.startsWith('/*', i)) {
      const end = sql.indexOf('*/', i + 2);
      if (end < 0) fail('an unterminated comment');
      const versioned = /^\/\*M?!\d{0,6}/.exec(sql.slice(i, Math.min(end, i + 10)));
      if (versioned) {
        // Executable comment: its content is part of the statement. Drop only the opening and the closing.
        sql = sql.slice(0, i) + ' ' + sql.slice(i + versioned[0].length, end) + ' ' + sql.slice(end + 2);
      } else {
        i = end + 2;
      }
    } else if (c === '#' || (sql.startsWith('--', i) && /\s/u.test(sql[i + 2] ?? ' '))) {
      const end = sql.indexOf('\n', i);
      i = end < 0 ? sql.length : end + 1;
    } else if (c === '`') {
      let text = '';
      let j = i + 1;
      for (;;) {
        const close = sql.indexOf('`', j);
        if (close < 0) fail('an unterminated `name`');
        text += sql.slice(j, close);
        if (sql[close + 1] === '`') {
          text += '`';
          j = close + 2;
        } else {
          i = close + 1;
          break;
        }
      }
      tokens.push({ kind: 'name', text });
    } else if (c === "'" || c === '"') {
      let text = '';
      let j = i + 1;
      for (;;) {
        if (j >= sql.length) fail('an unterminated string');
        const d = sql[j]!;
        if (d === '\\') {
          const next = sql[j + 1];
          if (next === undefined) fail('an unterminated string');
          text += escapes[next!] ?? next;
          j += 2;
        } else if (d === c) {
          if (sql[j + 1] === c) {
            text += c;
            j += 2;
          } else {
            j++;
            break;
          }
        } else {
          text += d;
          j++;
        }
      }
      i = j;
      tokens.push({ kind: 'string', text });
    } else if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(sql[i + 1] ?? ''))) {
      const match = /^(0x[0-9a-fA-F]+|0b[01]+|[0-9]*\.?[0-9]+(e[+-]?[0-9]+)?)/i.exec(sql.slice(i, i + 400))!;
      // A name may start with digits (`1col` unquoted): a number followed by word characters is a word.
      const after = sql[i + match[0].length];
      if (after !== undefined && wordPattern.test(after)) {
        const word = /^[A-Za-z0-9_$\u0080-\uffff]+/u.exec(sql.slice(i))![0];
        tokens.push({ kind: 'word', text: word, upper: word.toUpperCase() });
        i += word.length;
      } else {
        tokens.push({ kind: 'number', text: match[0] });
        i += match[0].length;
      }
    } else if (wordPattern.test(c)) {
      const word = /^[A-Za-z0-9_$\u0080-\uffff]+/u.exec(sql.slice(i))![0];
      tokens.push({ kind: 'word', text: word, upper: word.toUpperCase() });
      i += word.length;
    } else if ('(),=.;+-*/%<>!&|^~@:?{}[]'.includes(c)) {
      tokens.push({ kind: 'punct', text: c });
      i++;
    } else {
      fail(`an unexpected character ${JSON.stringify(c)}`);
    }
  }
  return tokens;
}
