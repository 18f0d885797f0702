/**
 * Resolves a command's options from, in order of precedence: command-line
 * flags, `LAKEHOUSE_*` environment variables, a JSON config file
 * (`--config FILE` or `LAKEHOUSE_CONFIG`), then the defaults in the table.
 */
import { parseArgs } from "node:util";
import { describeJsonSyntaxError } from "../core/json_syntax.ts";
import { osErrorText } from "../core/os_errors.ts";
import { errorMessage, UsageError } from "../core/errors.ts";
import {
  coerceOption,
  envName,
  optionError,
  type OptionName,
  type OptionSpec,
  type OptionValue,
  type OptionValueOf,
  type OptionValues,
} from "./options.ts";

/** A command's options once resolved; `Specs` is its option table. */
export interface Resolved<Specs extends readonly OptionSpec[] = readonly OptionSpec[]> {
  readonly specs: Specs;
  /** Option name -> typed value (frozen); undefined when unset and without a default. */
  readonly values: OptionValues<Specs>;
  /**
   * Where each value came from, as errors name it: "flag", the env var name,
   * `config file PATH` or "default" (the `source` argument of `coerceOption`
   * and `optionError`).
   */
  readonly origins: Readonly<Record<string, string>>;
  /** Each value as it was given (text of a flag or env var, JSON of the config file), before conversion. */
  readonly raw: Readonly<Record<string, unknown>>;
}

/** The value type of option `N` of the table `Specs`. */
export type OptionValueNamed<Specs extends readonly OptionSpec[], N extends string> = OptionValueOf<
  Extract<Specs[number], { readonly name: N }>
>;

const CONFIG_OPTION: OptionSpec = {
  name: "config",
  type: "string",
  placeholder: "FILE",
  description: 'JSON file of option values ({"rate": 5000, ...}); flags and env vars win over it',
};

export interface ResolveInput<Specs extends readonly OptionSpec[]> {
  readonly command: string;
  readonly specs: Specs;
  readonly args: readonly string[];
  readonly env: (name: string) => string | undefined;
  readonly readFile: (path: string) => string;
}

/** Resolves the options of `input.specs`; a command takes no positional arguments. */
export function resolveOptions<Specs extends readonly OptionSpec[]>(
  input: ResolveInput<Specs>,
): Resolved<Specs> {
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
  if (parsed.positionals.length > 0) {
    const extra = parsed.positionals.map((p) => JSON.stringify(p));
    throw new UsageError(
      `${input.command}: unexpected argument ${
        extra.join(" ")
      } (see 'lakehouse ${input.command} --help')`,
    );
  }

  const configFlag = flags.config as string | undefined;
  const configPath = configFlag ?? input.env(envName("config"));
  let file: Record<string, unknown> = {};
  if (configPath !== undefined && !flags.help) {
    const named = configFlag !== undefined ? configPath : `${configPath} (from LAKEHOUSE_CONFIG)`;
    file = readConfigFile(configPath, named, input.readFile);
  }
  const known = new Set(specs.map((s) => s.name));
  for (const key of Object.keys(file)) {
    if (!known.has(key)) {
      throw new UsageError(
        `config file ${configPath}: unknown option ${JSON.stringify(key)} for '${input.command}'`,
      );
    }
  }

  const values: Record<string, OptionValue | undefined> = {};
  const origins: Record<string, string> = {};
  const raws: Record<string, unknown> = {};
  for (const spec of input.specs) {
    const flag = flags[spec.name];
    const env = input.env(envName(spec.name));
    let raw: unknown;
    if (flag !== undefined) {
      if (spec.noFlag) {
        throw new UsageError(
          `--${spec.name} is not accepted on the command line, where other users can read it ` +
            `in the process list; set ${
              envName(spec.name)
            } or put "${spec.name}" in the --config file`,
        );
      }
      [raw, origins[spec.name]] = [flag, "flag"];
    } else if (env !== undefined && env !== "") {
      [raw, origins[spec.name]] = [env, envName(spec.name)];
    } else if (file[spec.name] !== undefined) {
      [raw, origins[spec.name]] = [file[spec.name], `config file ${configPath}`];
    } else if (spec.default !== undefined) {
      [raw, origins[spec.name]] = [spec.default, "default"];
    } else {
      continue;
    }
    values[spec.name] = coerceOption(spec, raw, origins[spec.name]);
    raws[spec.name] = raw;
  }
  return {
    specs: input.specs,
    // coerceOption returns a value of the option's type (one of its choices
    // for a choice), and only an option without a default can be unset: what
    // OptionValues says of each name.
    values: Object.freeze(values) as OptionValues<Specs>,
    origins: Object.freeze(origins),
    raw: Object.freeze(raws),
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

/**
 * Reads the config file. Errors name the file (`named`: its path, with where
 * the path came from) and, for a syntax error, the line, column and problem in
 * words: never the file's text, which may hold a secret.
 */
function readConfigFile(
  path: string,
  named: string,
  readFile: (path: string) => string,
): Record<string, unknown> {
  let text: string;
  try {
    text = readFile(path);
  } catch (error) {
    throw new UsageError(`cannot read config file ${named}: ${osErrorText(error)}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new UsageError(
      `config file ${named} is not valid JSON: ${describeJsonSyntaxError(text)}`,
    );
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new UsageError(`config file ${named} must hold a JSON object of option values`);
  }
  return value as Record<string, unknown>;
}

/**
 * The usage error for a resolved option whose value fails a check made after
 * resolution (file system, other options): names the option, where its value
 * came from and the value (`<hidden>` for a secret).
 */
export function rejectOption<Specs extends readonly OptionSpec[]>(
  resolved: Resolved<Specs>,
  name: OptionName<Specs>,
  problem: string,
): UsageError {
  const spec = resolved.specs.find((s) => s.name === name);
  if (spec === undefined) throw new Error(`no option --${name} in this command`);
  return optionError(
    spec,
    resolved.raw[name] ?? valueOf(resolved, name),
    resolved.origins[name] ?? "default",
    problem,
  );
}

/** Runs `check` on the option's value when it is set; throws its problem as `rejectOption`. */
export function checkOption<Specs extends readonly OptionSpec[], N extends OptionName<Specs>>(
  resolved: Resolved<Specs>,
  name: N,
  check: (value: NonNullable<OptionValueNamed<Specs, N>>) => string | undefined,
): void {
  const value = valueOf(resolved, name);
  if (value === undefined) return;
  // The value of option `name`, set: of the type OptionValues gives that name.
  const problem = check(value as NonNullable<OptionValueNamed<Specs, N>>);
  if (problem !== undefined) throw rejectOption(resolved, name, problem);
}

function valueOf(resolved: Resolved<readonly OptionSpec[]>, name: string): OptionValue | undefined {
  return (resolved.values as Readonly<Record<string, OptionValue | undefined>>)[name];
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
    if (spec.noFlag) right += " (environment or config file only)";
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
