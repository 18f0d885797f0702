import assert from "node:assert/strict";
import {
  describeJsonSyntaxError,
  findJsonSyntaxError,
  formatJsonSyntaxError,
} from "./json_syntax.ts";

function at(text: string) {
  const error = findJsonSyntaxError(text);
  assert.ok(error, `expected a syntax error in ${JSON.stringify(text)}`);
  return error;
}

Deno.test("findJsonSyntaxError accepts what JSON.parse accepts", () => {
  for (
    const text of [
      "{}",
      "[]",
      " \t\r\n{ } ",
      "0",
      "-0.5e+10",
      "1E-3",
      '"a\\u00e9\\n\\"\\\\\\/"',
      "true",
      "null",
      '{"a": [1, {"b": false}, []], "c": {}}',
      '"\u{1F600} \x7f"',
      "[" + "[".repeat(10_000) + "]".repeat(10_000) + "]",
    ]
  ) {
    JSON.parse(text);
    assert.equal(findJsonSyntaxError(text), undefined, text.slice(0, 40));
  }
});

Deno.test("findJsonSyntaxError names the line, column and problem", () => {
  const config = '{\n  "rate": 5,\n  "s3-secret-key": zzSECRETVALUE\n}';
  assert.deepEqual(at(config), {
    line: 3,
    column: 20,
    offset: config.indexOf("zz"),
    problem: "unexpected character (expected a value; text needs double quotes)",
  });
  assert.equal(
    formatJsonSyntaxError(at(config)),
    "unexpected character (expected a value; text needs double quotes) at line 3, column 20",
  );
  assert.equal(at('{"a": 1,}').problem, "trailing comma");
  assert.equal(at('{"a": 1,}').column, 8);
  assert.equal(at("[1, 2,\n]").problem, "trailing comma");
  assert.equal(at('{"a": "abc').problem, "unterminated string");
  assert.equal(at('{"a": "abc').column, 7);
  assert.equal(at('{"a": "ab\tc"}').problem, "control character in a string");
  assert.equal(at('{"a": "ab\nc"}').problem, "line break in a string (unterminated string?)");
  assert.equal(at('"\\x"').problem, "invalid escape in a string");
  assert.equal(at('"\\u12g4"').problem, "invalid \\u escape in a string");
  assert.equal(at('{"a": 1').problem, "unexpected end of input (an object is not closed)");
  assert.equal(at("[1, 2").problem, "unexpected end of input (an array is not closed)");
  assert.equal(at("").problem, "unexpected end of input (expected a value)");
  assert.equal(at("   ").column, 4);
  assert.equal(at('{"a" 1}').problem, 'unexpected character (expected ":" after a key)');
  assert.equal(
    at("{a: 1}").problem,
    "unexpected character (expected a key in double quotes; text needs double quotes)",
  );
  assert.equal(
    at("{'a': 1}").problem,
    "unexpected character (expected a key in double quotes; strings need double quotes)",
  );
  assert.equal(at('{"a": 1 "b": 2}').problem, 'unexpected character (expected "," or "}")');
  assert.equal(at("[1 2]").problem, 'unexpected character (expected "," or "]")');
  assert.equal(at("{} {}").problem, "unexpected character after the end of the JSON value");
  assert.equal(
    at("// c\n{}").problem,
    "unexpected character (expected a value; JSON has no comments)",
  );
  assert.equal(at("01").problem, "invalid number (leading zero)");
  assert.equal(at("-").problem, "invalid number (no digit after the minus sign)");
  assert.equal(at("1.").problem, "invalid number (no digit after the decimal point)");
  assert.equal(at("1e+").problem, "invalid number (no digit in the exponent)");
  assert.equal(at("\uFEFF{}").problem, "unexpected character (expected a value)");
});

Deno.test("findJsonSyntaxError counts CRLF and lone CR as one line break, columns in characters", () => {
  assert.deepEqual([at("{\r\n\r\n x}").line, at("{\r\n\r\n x}").column], [3, 2]);
  assert.deepEqual([at("{\r\r x}").line, at("{\r\r x}").column], [3, 2]);
  // `["`, two astral characters (four UTF-16 units), `" ` before the error: column 7.
  const text = '["\u{1F600}\u{1F600}" x]';
  assert.equal(at(text).column, 7);
});

Deno.test("findJsonSyntaxError never quotes the text", () => {
  const secret = "zzSECRETVALUEzz";
  for (
    const text of [
      `{"key": ${secret}}`,
      `{"key": "${secret}`,
      `{"key": "${secret}\u0001"}`,
      `{"key": "${secret}\\q"}`,
      `{${secret}: 1}`,
      `{"key": "${secret}",}`,
      `{"key": "${secret}"} ${secret}`,
    ]
  ) {
    const message = describeJsonSyntaxError(text);
    assert.ok(!message.includes("SECRET"), message);
    assert.match(message, /at line 1, column \d+$/);
  }
});

Deno.test("findJsonSyntaxError agrees with JSON.parse on random edits of valid JSON", () => {
  // Deterministic xorshift so a failure reproduces.
  let state = 0x9e3779b9;
  const random = (n: number) => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) % n;
  };
  const base = JSON.stringify(
    {
      a: [1, -2.5, 3e10, true, false, null, 'x"y\\z\u00e9'],
      b: { c: {}, d: [], "e f": "\t" },
      g: 0,
    },
    null,
    1,
  );
  const alphabet = "{}[]\",:. -+0123456789eEtrufalsn\\/\n\t\r\u0001a'";
  for (let i = 0; i < 20_000; i++) {
    let text = base;
    for (let edits = 1 + random(3); edits > 0; edits--) {
      const at = random(text.length + 1);
      const kind = random(3);
      const c = alphabet[random(alphabet.length)];
      text = kind === 0
        ? text.slice(0, at) + c + text.slice(at)
        : kind === 1
        ? text.slice(0, at) + text.slice(at + 1)
        : text.slice(0, at) + c + text.slice(at + 1);
    }
    let parses = true;
    try {
      JSON.parse(text);
    } catch {
      parses = false;
    }
    const error = findJsonSyntaxError(text);
    assert.equal(error === undefined, parses, `disagreement on ${JSON.stringify(text)}`);
  }
});
