import { SlidingWindow } from './sandbox-rate-limit';

describe('SlidingWindow', () => {
  it('allows max in any window, and room again as the oldest slides out', () => {
    const window = new SlidingWindow(2, 1000);
    window.add(0);
    expect(window.hasRoom(400)).toBe(true);
    window.add(400);
    expect(window.hasRoom(999)).toBe(false);
    expect(window.hasRoom(1000)).toBe(true); // the create at 0 is out of (0, 1000]
    window.add(1000);
    expect(window.hasRoom(1399)).toBe(false);
    expect(window.hasRoom(1400)).toBe(true);
  });

  it('counts creates by arrival even when they are added out of order', () => {
    const window = new SlidingWindow(2, 1000);
    window.add(10);
    window.add(5);
    expect(window.hasRoom(1004)).toBe(false);
    expect(window.hasRoom(1005)).toBe(true);
  });

  it('stays exact across its compaction under a large limit', () => {
    const window = new SlidingWindow(5000, 100);
    for (let t = 0; t < 10000; t++) {
      expect(window.hasRoom(t)).toBe(true);
      window.add(t);
    }
    // One try per ms against 100 per second: accepted are 0..99, 1000..1099, and so on.
    const full = new SlidingWindow(100, 1000);
    const accepted: number[] = [];
    for (let t = 0; t < 5000; t++) {
      if (full.hasRoom(t)) {
        full.add(t);
        accepted.push(t);
      }
    }
    expect(accepted).toHaveLength(500);
    expect(accepted.filter((t) => t % 1000 >= 100)).toEqual([]);
  });
});
