/**
 * `livesync status`: asks the running job for its snapshot over the control socket and prints it, as JSON
 * (one object) or as the human view (src/status/render.ts). With --watch it refreshes every interval: in place
 * on a terminal, with the lag sparkline; as successive frames (or JSON lines) otherwise.
 * `status --json` is on the start-up path that must stay near a bare Node start (issue #4: <= 50 ms): the
 * human view's renderer loads only when it is needed.
 */
import { ControlClient } from '../control/client.ts';
import { jobPaths } from '../daemon/paths.ts';
import { ExitCode } from '../errors/exit-codes.ts';
import { ToolError } from '../errors/errors.ts';
import { HISTORY_S } from './history.ts';
import { statusJsonText } from './json-text.ts';

export const DEFAULT_WATCH_INTERVAL_MS = 1_000;
const DEFAULT_COLUMNS = 100;
const MIN_COLUMNS = 40;
/** ANSI: cursor up n lines, then clear to the end of the screen */
const redrawFrom = (lines: number): string => (lines > 0 ? `\x1b[${lines}A\r\x1b[J` : '');
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface Terminal {
  write(text: string): void;
  isTTY: boolean;
  /** undefined when not a terminal */
  columns: number | undefined;
}

export interface StatusOptions {
  name: string | undefined;
  stateDir: string;
  json: boolean;
  watch: boolean;
  intervalMs: number;
  /** stop after this many refreshes (--count); undefined = until interrupted */
  count: number | undefined;
}

/** Prints the status of the addressed job. Throws ToolError exit 7 when it is not running (or stops while watched). */
export async function showStatus(options: StatusOptions, term: Terminal): Promise<void> {
  // A named job needs only its paths (resolveJob's own first step); the registry (lock files, /proc checks)
  // loads only to find the one job when no name is given: ~2 ms less start-up for `status NAME`.
  const paths = options.name !== undefined ? jobPaths(options.stateDir, options.name) : await (await import('../daemon/registry.ts')).resolveJob(undefined, options.stateDir);
  await using client = await ControlClient.connect(paths);
  // A pty may report 0 columns (no size set): fall back to a sane width.
  const columns = term.columns !== undefined && term.columns >= MIN_COLUMNS ? term.columns : DEFAULT_COLUMNS;
  const renderStatus = options.json ? null : (await import('./render.ts')).renderStatus;
  if (!options.watch) {
    const snapshot = await client.request('status', {});
    term.write(renderStatus === null ? statusJsonText(snapshot) : `${renderStatus(snapshot, { columns, sparkline: false }).join('\n')}\n`);
    return;
  }
  const inPlace = term.isTTY && !options.json;
  let shown = 0;
  for (let frame = 0; options.count === undefined || frame < options.count; frame++) {
    if (frame > 0) await sleep(options.intervalMs);
    const snapshot = await client.request('status', options.json ? {} : { historyS: HISTORY_S }).catch((err: unknown) => {
      if (err instanceof ToolError && err.code === 'E_CONTROL_CLOSED') {
        throw new ToolError('E_NOT_RUNNING', `job ${paths.name} stopped while being watched`, {
          hint: 'start it again with livesync start SRC TARGET',
          exitCode: ExitCode.unreachable,
        });
      }
      throw err;
    });
    if (renderStatus === null) {
      term.write(`${JSON.stringify(snapshot)}\n`);
      continue;
    }
    const lines = renderStatus(snapshot, { columns, sparkline: true });
    term.write(inPlace ? `${redrawFrom(shown)}${lines.join('\n')}\n` : `${frame > 0 ? '\n' : ''}${lines.join('\n')}\n`);
    shown = lines.length;
  }
}
