/**
 * Owns the ptrace helper process for plan/freeze/repoint/thaw: starts it before anything is frozen, releases
 * threads, and as the last resort ends the helper (the kernel then detaches and resumes every tracee) and
 * starts a fresh one. `exclude` is what a survey must never freeze: livesync itself and its helper.
 */
import { HelperFailure, PtraceHelper } from '../sys/ptrace.ts';

export class HelperHolder implements AsyncDisposable {
  #helper: PtraceHelper;
  #exclude: Set<number>;

  private constructor(helper: PtraceHelper, extra: readonly number[]) {
    this.#helper = helper;
    this.#exclude = new Set([process.pid, helper.pid, ...extra]);
  }

  /** `exclude`: more pids never to freeze (e.g. the mirror daemon when another process runs the cutover) */
  static async start(exclude: readonly number[] = []): Promise<HelperHolder> {
    return new HelperHolder(await PtraceHelper.start(), exclude);
  }

  get helper(): PtraceHelper {
    return this.#helper;
  }

  get exclude(): ReadonlySet<number> {
    return this.#exclude;
  }

  /** Ends the helper (every tracee runs again) and starts a new one. */
  async restart(): Promise<void> {
    await this.#helper.close();
    this.#helper = await PtraceHelper.start();
    this.#exclude.add(this.#helper.pid);
  }

  /** Detaches these threads; if one cannot be detached (never stopped), restarts the helper. */
  async release(tids: number[]): Promise<{ forced: boolean }> {
    try {
      const result = await this.#helper.detach(tids);
      const held = new Set((await this.#helper.wait(0)).filter((t) => t.state !== 'gone').map((t) => t.tid));
      if (![...result.keys()].some((tid) => held.has(tid))) return { forced: false };
    } catch (err) {
      if (!(err instanceof HelperFailure)) throw err;
    }
    await this.restart();
    return { forced: true };
  }

  /** Detaches every thread the helper holds. */
  async releaseAll(): Promise<{ forced: boolean }> {
    try {
      const tids = (await this.#helper.wait(0)).map((t) => t.tid);
      return await this.release(tids);
    } catch (err) {
      if (!(err instanceof HelperFailure)) throw err;
      await this.restart();
      return { forced: true };
    }
  }

  async close(): Promise<void> {
    await this.#helper.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
