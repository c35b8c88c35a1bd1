/**
 * How many sessions were last seen before a cut-off, kept up to date
 * instead of counted: the licence check of every launch asks for the live
 * sessions, and counting 500,000 of them took 25 ms of the gateway's one
 * thread each time.
 *
 * The tally counts sessions by their last-seen millisecond, and the
 * sessions before its cut-off. A check-in moves one session from one
 * millisecond to another (O(1)); moving the cut-off adds or takes away the
 * milliseconds it passes (O(milliseconds passed), or O(distinct times) when
 * that is fewer). It knows no session ids: whoever changes a session's
 * last-seen time tells it the time before and after. Pure: no clock.
 *
 * Times count by the whole millisecond (the clocks give whole ones): a
 * session seen at 1000.4 counts as seen at 1000.
 *
 * @module
 */

/** Sessions counted by last-seen time, and those before a moving cut-off. */
export class LiveTally {
  /** Sessions by last-seen time (ms since the epoch). */
  readonly #byTime = new Map<number, number>();
  #total = 0;
  /** Sessions last seen before {@linkcode #since}. */
  #before = 0;
  #since = -Infinity;

  /** How many sessions are counted. */
  get total(): number {
    return this.#total;
  }

  /** A session, last seen at `seen`. */
  add(seen: number): void {
    seen = Math.floor(seen);
    this.#byTime.set(seen, (this.#byTime.get(seen) ?? 0) + 1);
    this.#total++;
    if (seen < this.#since) this.#before++;
  }

  /**
   * A session last seen at `seen` is gone. False (and nothing changed) when
   * no session was counted at that time: the caller lost track.
   */
  remove(seen: number): boolean {
    seen = Math.floor(seen);
    const count = this.#byTime.get(seen);
    if (!count) return false;
    if (count === 1) this.#byTime.delete(seen);
    else this.#byTime.set(seen, count - 1);
    this.#total--;
    if (seen < this.#since) this.#before--;
    return true;
  }

  /**
   * A session's last-seen time moved from `from` to `to`. False (and
   * nothing changed) when no session was counted at `from`.
   */
  move(from: number, to: number): boolean {
    if (Math.floor(from) === Math.floor(to)) return true;
    if (!this.remove(from)) return false;
    this.add(to);
    return true;
  }

  /** Forgets every session. */
  clear(): void {
    this.#byTime.clear();
    this.#total = 0;
    this.#before = 0;
    this.#since = -Infinity;
  }

  /** How many sessions were last seen before `since` (ms). */
  before(since: number): number {
    since = Math.ceil(since);
    if (since === this.#since) return this.#before;
    const from = Math.min(since, this.#since);
    const to = Math.max(since, this.#since);
    // Whichever is fewer: the milliseconds passed, or every distinct time.
    if (to - from <= this.#byTime.size) {
      let passed = 0;
      for (let t = from; t < to; t++) {
        passed += this.#byTime.get(t) ?? 0;
      }
      this.#before += since > this.#since ? passed : -passed;
    } else {
      this.#before = 0;
      for (const [seen, count] of this.#byTime) {
        if (seen < since) this.#before += count;
      }
    }
    this.#since = since;
    return this.#before;
  }
}
