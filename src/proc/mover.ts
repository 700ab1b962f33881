/**
 * The API of the process mechanism, for the cutover and the CLI. Open it before anything is frozen (it
 * starts the ptrace helper), then:
 *
 *   const mover = await ProcMover.open({ bus });
 *   const planned = await mover.plan('/srv/app');            // who uses the tree, verdicts (slow part)
 *   const f = await mover.freeze(planned.plan);               // everyone movable stops, snapshot inside
 *   ... final sync, remount ...
 *   const r = await mover.repoint(f.frozen, { toRoot: '/srv/app' });   // while still frozen
 *   const t = await mover.thaw(f.frozen);                     // exactly the frozen processes run again
 *   await mover.close();                                      // also releases anything still held
 *
 * Every step returns a typed result; none leaves a process frozen on failure except freeze's success (which
 * the caller must thaw). If livesync dies at any point, the helper's stdin closes, it exits, and the kernel
 * resumes every tracee. One frozen set at a time.
 */
import type { EventBus } from '../events/event.ts';
import { InternalError } from '../errors/errors.ts';
import { freeze, type FreezeOptions } from './freeze.ts';
import { HelperHolder } from './holder.ts';
import { plan, type PlanResult } from './plan.ts';
import { repoint, type RepointOptions } from './repoint.ts';
import { thaw } from './thaw.ts';
import type { FreezeResult, Frozen, Plan, RepointResult, ThawResult } from './types.ts';

export class ProcMover implements AsyncDisposable {
  #holder: HelperHolder;
  #bus: EventBus | undefined;
  #frozen: Frozen | undefined;

  private constructor(holder: HelperHolder, bus: EventBus | undefined) {
    this.#holder = holder;
    this.#bus = bus;
  }

  /** `exclude`: pids never to freeze besides livesync itself and its helper (e.g. the mirror daemon) */
  static async open(options: { bus?: EventBus; exclude?: readonly number[] } = {}): Promise<ProcMover> {
    return new ProcMover(await HelperHolder.start(options.exclude), options.bus);
  }

  /** pids a survey never freezes: livesync and its helper */
  get excluded(): ReadonlySet<number> {
    return this.#holder.exclude;
  }

  plan(path: string): Promise<PlanResult> {
    return plan(this.#holder, path);
  }

  async freeze(planned: Plan, options: FreezeOptions = {}): Promise<FreezeResult> {
    if (this.#frozen) throw new InternalError('freeze called while another frozen set is held; thaw it first');
    const result = await freeze(this.#holder, planned, options);
    if (result.ok) {
      this.#frozen = result.frozen;
      const f = result.frozen;
      const data = { processes: f.processes.length, threads: f.tids.length, rounds: f.rounds, durationMs: result.durationMs };
      this.#bus?.emit({ type: 'info', message: `froze ${data.processes} process(es), ${data.threads} thread(s)`, data });
    } else {
      this.#bus?.emit({ type: 'warning', code: `freeze-${result.reason}`, message: result.message });
    }
    return result;
  }

  async repoint(frozen: Frozen, options: RepointOptions): Promise<RepointResult> {
    if (frozen !== this.#frozen) throw new InternalError('repoint of a frozen set this mover does not hold');
    const result = await repoint(this.#holder, frozen, options);
    const data = { ok: result.ok, ...result.moved, problems: result.problems.length, durationMs: result.durationMs };
    if (result.ok) this.#bus?.emit({ type: 'info', message: `re-pointed ${data.cwd} cwd(s), ${data.fds} fd(s), ${data.watches} inotify fd(s)`, data });
    else this.#bus?.emit({ type: 'warning', code: 'repoint-problems', message: `re-point: ${data.problems} problem(s): ${result.problems[0]?.detail ?? ''}` });
    return result;
  }

  async thaw(frozen: Frozen): Promise<ThawResult> {
    if (frozen !== this.#frozen) throw new InternalError('thaw of a frozen set this mover does not hold');
    this.#frozen = undefined;
    const result = await thaw(this.#holder, frozen);
    const frozenMs = performance.now() - frozen.frozenAt;
    const data = { processes: result.thawed.length, gone: result.gone.length, forced: result.forced, frozenMs };
    this.#bus?.emit({ type: 'info', message: `thawed ${data.processes} process(es) after ${Math.round(frozenMs)} ms frozen`, data });
    return result;
  }

  /** Ends the helper; anything still frozen runs again. */
  async close(): Promise<void> {
    this.#frozen = undefined;
    await this.#holder.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
