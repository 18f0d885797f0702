/**
 * Finds the first syntax error of a JSON text (RFC 8259, as `JSON.parse`
 * reads it) and says where it is and what is wrong in words, never quoting
 * the text. V8's own `JSON.parse` messages quote the text around the error,
 * which for a config or metadata file can be the start of a secret; errors
 * about files we read use this instead.
 *
 * Lines are counted from 1 at "\n", "\r\n" or a lone "\r"; columns from 1 in
 * characters (Unicode code points), as editors show them.
 */

export interface JsonSyntaxError {
  /** 1-based line of the error. */
  readonly line: number;
  /** 1-based column, in characters. */
  readonly column: number;
  /** UTF-16 index of the error in the text. */
  readonly offset: number;
  /** What is wrong, from a fixed vocabulary (no text of the input). */
  readonly problem: string;
}

/** The first syntax error of `text`, or undefined when `JSON.parse` accepts it. */
export function findJsonSyntaxError(text: string): JsonSyntaxError | undefined {
  const failure = scan(text);
  if (failure === undefined) return undefined;
  return { ...position(text, failure.offset), offset: failure.offset, problem: failure.problem };
}

/** `unexpected character at line 3, column 18`: the error in words, for messages. */
export function formatJsonSyntaxError(error: JsonSyntaxError): string {
  return `${error.problem} at line ${error.line}, column ${error.column}`;
}

/**
 * Why `text` is not JSON, as `formatJsonSyntaxError` words it; a fixed
 * sentence if the locator and `JSON.parse` ever disagree.
 */
export function describeJsonSyntaxError(text: string): string {
  const error = findJsonSyntaxError(text);
  return error === undefined ? "rejected by the JSON parser" : formatJsonSyntaxError(error);
}

interface Failure {
  readonly offset: number;
  readonly problem: string;
}

class Stop {
  constructor(readonly failure: Failure) {}
}

const enum Container {
  Array,
  Object,
}

function scan(text: string): Failure | undefined {
  try {
    scanValue(text);
    return undefined;
  } catch (stop) {
    if (stop instanceof Stop) return stop.failure;
    throw stop;
  }
}

function fail(offset: number, problem: string): never {
  throw new Stop({ offset, problem });
}

function isWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isHexDigit(c: number): boolean {
  return isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

/** Walks the text with an explicit stack, so deep nesting cannot overflow the call stack. */
function scanValue(text: string): void {
  const stack: Container[] = [];
  let pos = skip(text, 0);
  for (;;) {
    // A value is expected at `pos`.
    pos = scanOneValue(text, pos, stack);
    // After a complete value: close containers or go on to the next element.
    for (;;) {
      pos = skip(text, pos);
      const top = stack.at(-1);
      if (top === undefined) {
        if (pos < text.length) fail(pos, "unexpected character after the end of the JSON value");
        return;
      }
      const close = top === Container.Array ? 0x5d : 0x7d; // ] or }
      const c = text.charCodeAt(pos);
      if (pos >= text.length) {
        fail(
          pos,
          `unexpected end of input (${
            top === Container.Array ? "an array" : "an object"
          } is not closed)`,
        );
      }
      if (c === close) {
        stack.pop();
        pos++;
        continue;
      }
      if (c !== 0x2c) {
        fail(
          pos,
          top === Container.Array
            ? 'unexpected character (expected "," or "]")'
            : 'unexpected character (expected "," or "}")',
        );
      }
      const comma = pos;
      pos = skip(text, pos + 1);
      if (text.charCodeAt(pos) === close) fail(comma, "trailing comma");
      if (top === Container.Object) pos = scanKey(text, pos);
      break;
    }
  }
}

/**
 * Scans one value starting at `pos`. A scalar is consumed whole; `[` or `{`
 * is opened (pushed) and, unless empty, the position of its first element
 * (after the first key, for an object) is returned with the container open.
 */
function scanOneValue(text: string, start: number, stack: Container[]): number {
  let pos = start;
  for (;;) {
    if (pos >= text.length) fail(pos, "unexpected end of input (expected a value)");
    const c = text.charCodeAt(pos);
    if (c === 0x5b) { // [
      const inner = skip(text, pos + 1);
      if (text.charCodeAt(inner) === 0x5d) return inner + 1;
      stack.push(Container.Array);
      pos = inner;
      continue;
    }
    if (c === 0x7b) { // {
      const inner = skip(text, pos + 1);
      if (text.charCodeAt(inner) === 0x7d) return inner + 1;
      stack.push(Container.Object);
      pos = scanKey(text, inner);
      continue;
    }
    if (c === 0x22) return scanString(text, pos);
    if (c === 0x2d || isDigit(c)) return scanNumber(text, pos);
    for (const literal of ["true", "false", "null"]) {
      if (text.startsWith(literal, pos)) return pos + literal.length;
    }
    fail(pos, `unexpected character (expected a value${hint(c)})`);
  }
}

/** Scans `"key"` and the colon after it; returns the position of the member's value. */
function scanKey(text: string, start: number): number {
  if (start >= text.length) fail(start, "unexpected end of input (an object is not closed)");
  const c = text.charCodeAt(start);
  if (c === 0x7d) fail(start, "unexpected character (expected a key in double quotes)");
  if (c !== 0x22) fail(start, `unexpected character (expected a key in double quotes${hint(c)})`);
  let pos = skip(text, scanString(text, start));
  if (pos >= text.length) fail(pos, 'unexpected end of input (expected ":" after a key)');
  if (text.charCodeAt(pos) !== 0x3a) fail(pos, 'unexpected character (expected ":" after a key)');
  pos = skip(text, pos + 1);
  return pos;
}

function hint(c: number): string {
  if (c === 0x27) return "; strings need double quotes";
  if (c === 0x2f) return "; JSON has no comments";
  if ((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)) return "; text needs double quotes";
  return "";
}

function scanString(text: string, start: number): number {
  let pos = start + 1;
  for (;;) {
    if (pos >= text.length) fail(start, "unterminated string");
    const c = text.charCodeAt(pos);
    if (c === 0x22) return pos + 1;
    if (c === 0x0a || c === 0x0d) fail(pos, "line break in a string (unterminated string?)");
    if (c < 0x20) fail(pos, "control character in a string");
    if (c === 0x5c) {
      const e = text.charCodeAt(pos + 1);
      if (pos + 1 >= text.length) fail(start, "unterminated string");
      if (e === 0x75) { // u
        for (let i = 2; i < 6; i++) {
          if (!isHexDigit(text.charCodeAt(pos + i))) fail(pos, "invalid \\u escape in a string");
        }
        pos += 6;
        continue;
      }
      // " \ / b f n r t
      if (![0x22, 0x5c, 0x2f, 0x62, 0x66, 0x6e, 0x72, 0x74].includes(e)) {
        fail(pos, "invalid escape in a string");
      }
      pos += 2;
      continue;
    }
    pos++;
  }
}

function scanNumber(text: string, start: number): number {
  let pos = start;
  if (text.charCodeAt(pos) === 0x2d) pos++;
  const digits = (from: number) => {
    let p = from;
    while (isDigit(text.charCodeAt(p))) p++;
    return p;
  };
  if (text.charCodeAt(pos) === 0x30) {
    pos++;
    if (isDigit(text.charCodeAt(pos))) fail(start, "invalid number (leading zero)");
  } else {
    const end = digits(pos);
    if (end === pos) fail(start, "invalid number (no digit after the minus sign)");
    pos = end;
  }
  if (text.charCodeAt(pos) === 0x2e) {
    const end = digits(pos + 1);
    if (end === pos + 1) fail(start, "invalid number (no digit after the decimal point)");
    pos = end;
  }
  const e = text.charCodeAt(pos);
  if (e === 0x65 || e === 0x45) {
    pos++;
    const sign = text.charCodeAt(pos);
    if (sign === 0x2b || sign === 0x2d) pos++;
    const end = digits(pos);
    if (end === pos) fail(start, "invalid number (no digit in the exponent)");
    pos = end;
  }
  return pos;
}

function skip(text: string, start: number): number {
  let pos = start;
  while (pos < text.length && isWhitespace(text.charCodeAt(pos))) pos++;
  return pos;
}

function position(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x0a || (c === 0x0d && text.charCodeAt(i + 1) !== 0x0a)) {
      line++;
      lineStart = i + 1;
    }
  }
  // Code points, not UTF-16 units: a surrogate pair is one column.
  let column = 1;
  for (let i = lineStart; i < offset; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < offset) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    column++;
  }
  return { line, column };
}
