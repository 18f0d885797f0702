/**
 * Resolves a command's options from, in order of precedence: command-line
 * flags, `LAKEHOUSE_*` environment variables, a JSON config file
 * (`--config FILE` or `LAKEHOUSE_CONFIG`), then the defaults in the table.
 */
import { parseArgs } from "node:util";
import { errorMessage, UsageError } from "../core/errors.ts";
import { coerceOption, envName, type OptionSpec, type OptionValue } from "./options.ts";

export interface Resolved {
  /** Option name -> typed value; absent when unset and without a default. */
  readonly values: Readonly<Record<string, OptionValue | undefined>>;
  /** Where each value came from: flag, env var name, config file path, or "default". */
  readonly sources: Readonly<Record<string, string>>;
  readonly positionals: readonly string[];
  readonly help: boolean;
}

export const CONFIG_OPTION: OptionSpec = {
  name: "config",
  type: "string",
  placeholder: "FILE",
  description: 'JSON file of option values ({"rate": 5000, ...}); flags and env vars win over it',
};

export interface ResolveInput {
  readonly command: string;
  readonly specs: readonly OptionSpec[];
  readonly args: readonly string[];
  readonly env: (name: string) => string | undefined;
  readonly readFile: (path: string) => string;
  /** Number of positional arguments accepted (default 0). */
  readonly positionalsMax?: number;
}

export function resolveOptions(input: ResolveInput): Resolved {
  const specs = [...input.specs, CONFIG_OPTION];
  const parseOptions: Record<string, { type: "string" | "boolean"; short?: string }> = {
    help: { type: "boolean", short: "h" },
  };
  for (const spec of specs) {
    parseOptions[spec.name] = { type: spec.type === "boolean" ? "boolean" : "string" };
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: joinNegativeValues(input.args, specs),
      options: parseOptions,
      strict: true,
      allowPositionals: true,
      allowNegative: true,
    });
  } catch (error) {
    throw new UsageError(`${input.command}: ${cleanParseError(errorMessage(error))}`);
  }
  const flags = parsed.values as Record<string, string | boolean | undefined>;
  const positionalsMax = input.positionalsMax ?? 0;
  if (parsed.positionals.length > positionalsMax) {
    const extra = parsed.positionals.slice(positionalsMax).map((p) => JSON.stringify(p));
    throw new UsageError(
      `${input.command}: unexpected argument ${
        extra.join(" ")
      } (see 'lakehouse ${input.command} --help')`,
    );
  }

  const configPath = (flags.config as string | undefined) ?? input.env(envName("config"));
  let file: Record<string, unknown> = {};
  if (configPath !== undefined && !flags.help) file = readConfigFile(configPath, input.readFile);
  const known = new Set(specs.map((s) => s.name));
  for (const key of Object.keys(file)) {
    if (!known.has(key)) {
      throw new UsageError(
        `config file ${configPath}: unknown option "${key}" for '${input.command}'`,
      );
    }
  }

  const values: Record<string, OptionValue | undefined> = {};
  const sources: Record<string, string> = {};
  for (const spec of input.specs) {
    const flag = flags[spec.name];
    const env = input.env(envName(spec.name));
    if (flag !== undefined) {
      values[spec.name] = coerceOption(spec, flag, "flag");
      sources[spec.name] = "flag";
    } else if (env !== undefined && env !== "") {
      values[spec.name] = coerceOption(spec, env, envName(spec.name));
      sources[spec.name] = envName(spec.name);
    } else if (file[spec.name] !== undefined) {
      values[spec.name] = coerceOption(spec, file[spec.name], `config file ${configPath}`);
      sources[spec.name] = configPath as string;
    } else if (spec.default !== undefined) {
      values[spec.name] = coerceOption(spec, spec.default, "default");
      sources[spec.name] = "default";
    }
  }
  return {
    values: Object.freeze(values),
    sources: Object.freeze(sources),
    positionals: Object.freeze([...parsed.positionals]),
    help: flags.help === true,
  };
}

/**
 * node:util treats `--rate -5` as a missing value; a negative number after a
 * valued flag is meant as its value, so join it (`--rate=-5`) and let range
 * checks report it.
 */
function joinNegativeValues(args: readonly string[], specs: readonly OptionSpec[]): string[] {
  const valued = new Set(specs.filter((s) => s.type !== "boolean").map((s) => `--${s.name}`));
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (valued.has(args[i]) && i + 1 < args.length && /^-\d/.test(args[i + 1])) {
      out.push(`${args[i]}=${args[++i]}`);
    } else {
      out.push(args[i]);
    }
  }
  return out;
}

function readConfigFile(path: string, readFile: (path: string) => string): Record<string, unknown> {
  let text: string;
  try {
    text = readFile(path);
  } catch (error) {
    throw new UsageError(`cannot read config file ${path}: ${errorMessage(error)}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`config file ${path} is not valid JSON: ${errorMessage(error)}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new UsageError(`config file ${path} must hold a JSON object of option values`);
  }
  return value as Record<string, unknown>;
}

/** node:util's messages mention internals ("To specify a positional argument..."); keep the first sentence. */
function cleanParseError(message: string): string {
  const first = message.split(". ")[0];
  return first.endsWith(".") ? first : `${first} (see --help)`;
}

/** Renders the options block of a command's --help. */
export function formatOptionsHelp(specs: readonly OptionSpec[]): string {
  const rows = [...specs, CONFIG_OPTION].map((spec) => {
    const placeholder = spec.type === "boolean"
      ? ""
      : ` ${spec.placeholder ?? placeholderFor(spec)}`;
    const left = `  --${spec.name}${placeholder}`;
    let right = spec.description;
    if (spec.choices) right += ` (${spec.choices.join(" | ")})`;
    if (spec.default !== undefined && !spec.secret) right += ` [default: ${spec.default}]`;
    right += ` [env: ${envName(spec.name)}]`;
    return [left, right] as const;
  });
  rows.push(["  -h, --help", "show this help"]);
  const width = Math.min(34, Math.max(...rows.map(([left]) => left.length)) + 2);
  return rows.map(([left, right]) =>
    left.length >= width ? `${left}\n${" ".repeat(width)}${right}` : left.padEnd(width) + right
  ).join("\n");
}

function placeholderFor(spec: OptionSpec): string {
  switch (spec.type) {
    case "integer":
      return "N";
    case "number":
      return "X";
    case "duration":
      return "DURATION";
    case "timestamp":
      return "TIME";
    case "choice":
      return "NAME";
    default:
      return "VALUE";
  }
}
