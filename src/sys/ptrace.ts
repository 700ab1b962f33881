/**
 * Glue only: the native ptrace helper (native/ptrace-helper.c), a child process spoken to over a line
 * protocol on its stdin/stdout. It holds every tracee; when it ends (closed, killed, or livesync dies and its
 * stdin hits EOF) the kernel detaches them all and they run again. This module only encodes requests and
 * decodes answers into typed values; which processes, syscalls and arguments is decided in src/proc/.
 * A helper that died or answered nonsense is a HelperFailure (thrown; src/proc turns it into a result).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ToolError } from '../errors/errors.ts';
import { ExitCode } from '../errors/exit-codes.ts';

export const HELPER_PATH = join(resolve(dirname(fileURLToPath(import.meta.url)), '..', '..'), 'native', 'build', 'ptrace-helper');

export class HelperFailure extends Error {
  override name = 'HelperFailure';
}

export type TraceeState = 'stopped' | 'group-stopped' | 'running' | 'gone';
export interface Tracee {
  tid: number;
  tgid: number;
  state: TraceeState;
}
export type SeizeOutcome = { pid: number; ok: true; tids: number[] } | { pid: number; ok: false; errno: string };
export type OpResult = { status: 'ok'; value: number } | { status: 'failed'; errno: string } | { status: 'skipped' };

/** kcmp(2) types. */
export const KCMP = { file: 0, vm: 1, files: 2, fs: 3 } as const;

const errnoNames = new Map<number, string>(Object.entries(constants.errno).map(([name, no]) => [no, name]));
export const errnoName = (no: number): string => errnoNames.get(Math.abs(no)) ?? `errno ${Math.abs(no)}`;

const STATES: Record<string, TraceeState> = { S: 'stopped', G: 'group-stopped', R: 'running', X: 'gone' };

export class PtraceHelper {
  #pid = -1;
  #vdso = -1;
  #child: ChildProcess;
  #lines: string[] = [];
  #waiting: Array<(line: string | null) => void> = [];
  #chain: Promise<unknown> = Promise.resolve();
  #dead = false;

  private constructor(child: ChildProcess) {
    this.#child = child;
    this.#listen();
  }

  static async start(): Promise<PtraceHelper> {
    if (!existsSync(HELPER_PATH)) {
      throw new ToolError('E_NATIVE_MISSING', `the ptrace helper ${HELPER_PATH} is not built`, {
        hint: 'build the native parts: npm run build:native',
        exitCode: ExitCode.config,
      });
    }
    // Own session (detached): a terminal's Ctrl-C reaches livesync, which decides; never the helper directly.
    const helper = new PtraceHelper(spawn(HELPER_PATH, [], { stdio: ['pipe', 'pipe', 'inherit'], detached: true }));
    const [pid, vdso] = await helper.#request('hello');
    helper.#pid = Number(pid);
    helper.#vdso = Number(vdso);
    return helper;
  }

  get pid(): number {
    return this.#pid;
  }

  /** offset of a syscall instruction in the vDSO (the same image in every 64-bit process), -1 if none */
  get vdsoSyscallOffset(): number {
    return this.#vdso;
  }

  #listen(): void {
    let buf = '';
    this.#child.stdout?.setEncoding('latin1');
    this.#child.stdout?.on('data', (chunk: string) => {
      buf += chunk;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const waiter = this.#waiting.shift();
        if (waiter) waiter(line);
        else this.#lines.push(line);
      }
    });
    this.#child.on('exit', () => {
      this.#dead = true;
      for (const waiter of this.#waiting.splice(0)) waiter(null);
    });
    this.#child.on('error', () => {
      this.#dead = true;
    });
  }

  get alive(): boolean {
    return !this.#dead;
  }

  /** One request, one answer line; requests are serialized. Returns the tokens after "ok". */
  #request(line: string): Promise<string[]> {
    const next = this.#chain.then(
      () =>
        new Promise<string[]>((resolveAnswer, reject) => {
          if (this.#dead) return reject(new HelperFailure('the ptrace helper is not running'));
          const onLine = (answer: string | null): void => {
            if (answer === null) return reject(new HelperFailure(`the ptrace helper died during: ${line.slice(0, 60)}`));
            const tokens = answer.split(' ');
            if (tokens[0] !== 'ok') return reject(new HelperFailure(`the ptrace helper refused: ${answer}`));
            resolveAnswer(tokens.slice(1));
          };
          const queued = this.#lines.shift();
          if (queued !== undefined) onLine(queued);
          else this.#waiting.push(onLine);
          this.#child.stdin?.write(`${line}\n`);
        }),
    );
    this.#chain = next.catch(() => undefined);
    return next;
  }

  /** kcmp(pid1, pid2, type, idx1, idx2) for each row: 0 = same object, else different (or -errno). */
  async kcmp(rows: Array<[number, number, number, number, number]>): Promise<number[]> {
    if (rows.length === 0) return [];
    const answer = await this.#request(`kcmp ${rows.length} ${rows.map((r) => r.join(' ')).join(' ')}`);
    return answer.map(Number);
  }

  /** PTRACE_SEIZE + PTRACE_INTERRUPT every thread of each pid (threads created meanwhile included). */
  async seize(pids: Array<{ pid: number; suspendSeccomp: boolean }>): Promise<SeizeOutcome[]> {
    if (pids.length === 0) return [];
    const answer = await this.#request(`seize ${pids.length} ${pids.map((p) => `${p.pid} ${p.suspendSeccomp ? 1 : 0}`).join(' ')}`);
    return answer.map((token) => {
      const [pid, rest] = token.split('=');
      if (rest?.startsWith('!')) return { pid: Number(pid), ok: false, errno: errnoName(Number(rest.slice(1))) };
      return { pid: Number(pid), ok: true, tids: rest ? rest.split(',').map(Number) : [] };
    });
  }

  /** Waits until every tracee is stopped (or gone), at most `timeoutMs`; lists all tracees. */
  async wait(timeoutMs: number): Promise<Tracee[]> {
    const answer = await this.#request(`wait ${Math.max(0, Math.round(timeoutMs))}`);
    return answer.map((token) => {
      const [tid, tgid, state] = token.split(':');
      return { tid: Number(tid), tgid: Number(tgid), state: STATES[state ?? ''] ?? 'running' };
    });
  }

  /** PTRACE_DETACH each tid (an open injection session is ended first). errno name per tid, or null. */
  async detach(tids: number[]): Promise<Map<number, string | null>> {
    const out = new Map<number, string | null>();
    if (tids.length === 0) return out;
    const answer = await this.#request(`detach ${tids.length} ${tids.join(' ')}`);
    for (const token of answer) {
      const [tid, rc] = token.split(':');
      out.set(Number(tid), Number(rc) === 0 ? null : errnoName(Number(rc)));
    }
    return out;
  }

  /** Runs batch ops (see native/ptrace-helper.c) in order; one result per op. */
  async batch(ops: string[], count: number): Promise<OpResult[]> {
    if (count === 0) return [];
    const answer = await this.#request(`batch ${count} ${ops.join(' ')}`);
    return answer.map((token): OpResult => {
      if (token === 's') return { status: 'skipped' };
      if (token.startsWith('!')) return { status: 'failed', errno: errnoName(Number(token.slice(1))) };
      return { status: 'ok', value: Number(token) };
    });
  }

  /** open_by_handle_at on the filesystem of `dir`, then the path of what it opened (binary strings). */
  async handlePaths(dir: string, handles: Array<{ type: number; hex: string }>): Promise<Array<string | { errno: string }>> {
    if (handles.length === 0) return [];
    const dirHex = Buffer.from(dir, 'latin1').toString('hex');
    const answer = await this.#request(`fh2path ${dirHex} ${handles.length} ${handles.map((h) => `${h.type} ${h.hex}`).join(' ')}`);
    return answer.map((t) => (t.startsWith('!') ? { errno: errnoName(Number(t.slice(1))) } : Buffer.from(t, 'hex').toString('latin1')));
  }

  /** Ends the helper: every tracee it still holds is detached by the kernel and runs again. */
  async close(): Promise<void> {
    if (this.#dead) return;
    const exited = new Promise<void>((r) => this.#child.once('exit', () => r()));
    this.#child.stdin?.end();
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(timer);
  }
}
