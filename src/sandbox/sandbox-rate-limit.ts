/**
 * Accepted creates of one bearer key, by arrival time: at most `max` in any `windowMs` (a sliding window, as
 * KIE's "20 per 10 seconds"). Times are kept sorted with a moving head, so a large limit under load stays cheap.
 */
export class SlidingWindow {
  private times: number[] = [];
  private head = 0;

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
  ) {}

  hasRoom(now: number): boolean {
    while (this.head < this.times.length && this.times[this.head] <= now - this.windowMs) this.head++;
    if (this.head > 1024 && this.head * 2 > this.times.length) {
      this.times = this.times.slice(this.head);
      this.head = 0;
    }
    return this.times.length - this.head < this.max;
  }

  add(time: number): void {
    // Arrival order and the order creates finish reading their bodies can differ by a little: insert in place.
    let index = this.times.length;
    while (index > this.head && this.times[index - 1] > time) index--;
    this.times.splice(index, 0, time);
  }
}
