/**
 * The flags of `livesync status`, written once: the commander definition (src/cli/commands/status.ts, which
 * gives --help and every error message) and the start-up fast path of src/cli/main.ts (node:util parseArgs,
 * no commander: `status` answers in about the time of a bare Node start) both read STATUS_FLAGS. The fast path
 * only takes a command line it understands exactly; anything else (--help, an unknown or malformed flag, a
 * second name, `--`) returns null and goes through commander, so help and errors stay commander's.
 *
 * Also the one status action both paths run (validation, then src/status/show.ts, loaded lazily).
 * Must not import commander.
 */

// node:util through getBuiltinModule, not `import`: the ESM facade of node:util evaluates every lazy export
// (AbortController, MIME...), ~3.5 ms of CPU on a path whose whole budget is ~15 ms above a bare Node start.
const { parseArgs } = process.getBuiltinModule('node:util');

export interface StatusFlagValues {
  stateDir?: string;
  json?: boolean;
  watch?: boolean;
  interval: string;
  count?: string;
}

export interface StatusFlag {
  /** the long flag without its dashes */
  long: string;
  /** commander's placeholder for its value; absent for a boolean flag */
  value?: `<${string}>`;
  /** its key in StatusFlagValues (commander's camelCase of `long`) */
  key: keyof StatusFlagValues;
  help: string;
  default?: string;
}

export const STATUS_FLAGS: readonly StatusFlag[] = [
  // where the job's socket and lock are (src/daemon/paths.ts normalizeStateDir applies the env and default)
  { long: 'state-dir', value: '<dir>', key: 'stateDir', help: 'where the job keeps its socket and lock (default $LIVESYNC_STATE_DIR or /run/livesync)' },
  // the scripting view: one object with the documented fields
  { long: 'json', key: 'json', help: 'print one JSON object with the documented fields (docs/status.md)' },
  // refresh until interrupted (or --count frames)
  { long: 'watch', key: 'watch', help: 'refresh every second (in place on a terminal, with a sparkline of the lag of the last minutes)' },
  // --watch period; validated by src/control/options.ts validateMs
  { long: 'interval', value: '<ms>', key: 'interval', help: 'refresh interval for --watch, in milliseconds', default: '1000' },
  // --watch frame count; validated by src/control/options.ts validateCount
  { long: 'count', value: '<n>', key: 'count', help: 'with --watch: stop after n refreshes' },
];

export interface StatusArgs {
  name: string | undefined;
  values: StatusFlagValues;
}

const PARSE_OPTIONS = Object.fromEntries(STATUS_FLAGS.map((f) => [f.long, { type: f.value === undefined ? ('boolean' as const) : ('string' as const) }]));

/**
 * `status`'s arguments (after the verb) when they are plain: known flags, at most one name. null means "let
 * commander handle it" (help, errors, anything parseArgs and commander might read differently).
 */
export function parseStatusArgs(args: readonly string[]): StatusArgs | null {
  if (args.includes('--')) return null;
  let parsed: ReturnType<typeof parseArgs<{ options: typeof PARSE_OPTIONS; allowPositionals: true; strict: true }>>;
  try {
    parsed = parseArgs({ args: [...args], options: PARSE_OPTIONS, allowPositionals: true, strict: true });
  } catch {
    return null; // unknown flag, missing value, value looking like a flag...: commander says what is wrong
  }
  const { positionals, values } = parsed;
  if (positionals.length > 1) return null;
  const out: StatusFlagValues = { interval: '' };
  for (const flag of STATUS_FLAGS) {
    const value = values[flag.long] ?? flag.default;
    if (value !== undefined) Object.assign(out, { [flag.key]: value });
  }
  return { name: positionals[0], values: out };
}

/** The status action: validates the flags (ToolError exit 2), then prints the status to stdout. */
export async function runStatus({ name, values }: StatusArgs): Promise<void> {
  const { validateJobTarget, validateMs, validateCount } = await import('../control/options.ts');
  const target = validateJobTarget(name, values.stateDir, process.env);
  const intervalMs = validateMs('--interval', values.interval, 3_600_000);
  const count = values.count === undefined ? undefined : validateCount('--count', values.count);
  const { showStatus } = await import('./show.ts');
  const out = process.stdout;
  await showStatus(
    { ...target, json: values.json === true, watch: values.watch === true, intervalMs, count },
    { write: (text) => out.write(text), isTTY: out.isTTY === true, columns: out.isTTY ? out.columns : undefined },
  );
}
