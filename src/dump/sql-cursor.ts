// A cursor over SQL tokens with the small vocabulary a closed grammar is written in (peek, take, expect, a name,
// a whole number, a charset, skip a value), every refusal a TableDefinitionError naming what was found.
import type { SqlToken } from './sql-tokens.js';

/** What a GEO's table definition may not be; the message names the part refused. */
export class TableDefinitionError extends Error {
  override name = 'TableDefinitionError';
}

const namePattern = /^[^\0]{1,64}$/u;
const charsetPattern = /^[A-Za-z0-9_]{1,64}$/;
const maxLength = 4_294_967_295;

export class SqlCursor {
  protected at = 0;
  constructor(protected readonly tokens: SqlToken[]) {}

  protected peek(offset = 0): SqlToken | undefined {
    return this.tokens[this.at + offset];
  }
  protected next(): SqlToken {
    const token = this.tokens[this.at++];
    if (!token) throw new TableDefinitionError('the table definition ends too early');
    return token;
  }
  protected isWord(...words: string[]): boolean {
    const token = this.peek();
    return token?.kind === 'word' && words.includes(token.upper);
  }
  protected isPunct(text: string): boolean {
    const token = this.peek();
    return token?.kind === 'punct' && token.text === text;
  }
  protected takeWord(...words: string[]): boolean {
    if (!this.isWord(...words)) return false;
    this.at++;
    return true;
  }
  protected takePunct(text: string): boolean {
    if (!this.isPunct(text)) return false;
    this.at++;
    return true;
  }
  protected expectWord(word: string): void {
    if (!this.takeWord(word)) this.unexpected(`${word} expected`);
  }
  protected expectPunct(text: string): void {
    if (!this.takePunct(text)) this.unexpected(`"${text}" expected`);
  }
  protected unexpected(why: string): never {
    const token = this.peek();
    const shown = token ? JSON.stringify(token.text.slice(0, 40)) : 'the end';
    throw new TableDefinitionError(`the table definition is not allowed: ${why}, found ${shown}`);
  }

  /** A name, quoted or not; `a.b` (a name in another schema) is refused wherever a name is read. */
  protected name(what: string): string {
    const token = this.next();
    if (token.kind !== 'name' && token.kind !== 'word') {
      this.at--;
      this.unexpected(`${what} expected`);
    }
    if (this.isPunct('.')) this.unexpected(`${what} must not name another schema`);
    if (!namePattern.test(token.text) || token.text.endsWith(' ')) throw new TableDefinitionError(`${what} ${JSON.stringify(token.text.slice(0, 70))} is not a MySQL name`);
    return token.text;
  }
  protected integer(what: string): number {
    const token = this.next();
    const value = token.kind === 'number' && /^[0-9]+$/.test(token.text) ? Number(token.text) : NaN;
    if (!Number.isSafeInteger(value) || value > maxLength) {
      this.at--;
      this.unexpected(`${what}: a whole number expected`);
    }
    return value;
  }
  protected charsetName(): string {
    this.takePunct('=');
    const token = this.next();
    const text = token.kind === 'word' || token.kind === 'name' || token.kind === 'string' ? token.text : '';
    if (!charsetPattern.test(text)) {
      this.at--;
      this.unexpected('a character set or collation name expected');
    }
    return text.toLowerCase();
  }
  /** Skips one balanced `( … )` group without looking inside (its content is never used). */
  protected skipGroup(): void {
    this.expectPunct('(');
    for (let depth = 1; depth > 0; ) {
      const token = this.next();
      if (token.kind === 'punct' && token.text === '(') depth++;
      if (token.kind === 'punct' && token.text === ')') depth--;
    }
  }
  /** Skips a value (DEFAULT, COMMENT, an option's value): a literal, a word or call, or a group. */
  protected skipValue(): void {
    this.takePunct('=');
    this.takePunct('-') || this.takePunct('+');
    if (this.isPunct('(')) return this.skipGroup();
    const token = this.next();
    if (token.kind === 'word' && this.peek()?.kind === 'string') this.at++; // _utf8mb4'…', x'…', b'…'
    else if (token.kind === 'word' && this.isPunct('(')) this.skipGroup(); // current_timestamp(6)
    else if (token.kind === 'punct') {
      this.at--;
      this.unexpected('a value expected');
    }
  }
}
