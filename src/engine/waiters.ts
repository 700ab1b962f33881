/** A tiny wake-up primitive: `wait(ms)` resolves on the next `wake()` or after ms; `finish()` releases all forever. */
export class Waiters {
  #wakers = new Set<() => void>();
  #done = false;

  get done(): boolean {
    return this.#done;
  }

  wait(ms?: number): Promise<void> {
    if (this.#done) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = ms === undefined ? null : setTimeout(wake, ms);
      timer?.unref();
      function wake(): void {
        if (timer) clearTimeout(timer);
        resolve();
      }
      this.#wakers.add(() => wake());
    });
  }

  wake(): void {
    const all = [...this.#wakers];
    this.#wakers.clear();
    for (const w of all) w();
  }

  finish(): void {
    this.#done = true;
    this.wake();
  }
}
