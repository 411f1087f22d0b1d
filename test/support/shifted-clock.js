/**
 * A `--require` preload that makes this process's wall clock wrong by CLOCK_SHIFT_MS milliseconds (may be negative),
 * as on a machine whose clock is off: Date.now(), `new Date()` and `Date()` read the shifted time. Everything else
 * about Date is the real one (`new Date(x)`, Date.parse, Date.UTC, instanceof, the prototype), and the monotonic
 * clock (performance.now, process.hrtime) and timers are left alone. test/clock-skew.e2e-spec.ts loads it into the
 * built service through NODE_OPTIONS.
 */
const shiftMs = Number(process.env.CLOCK_SHIFT_MS ?? '0');
if (!Number.isInteger(shiftMs)) throw new Error('CLOCK_SHIFT_MS must be a whole number of milliseconds');

const RealDate = globalThis.Date;
const realNow = RealDate.now;
const shiftedNow = () => realNow() + shiftMs;

/** Called with new (or through a subclass's super()): a date, now-shifted when given no argument; called plainly: a string. */
function ShiftedDate(...args) {
  if (new.target === undefined) return new RealDate(shiftedNow()).toString();
  return Reflect.construct(RealDate, args.length === 0 ? [shiftedNow()] : args, new.target);
}

// One prototype for both, so that every date (whichever constructor made it) is an instance of either.
Object.defineProperty(ShiftedDate, 'prototype', { value: RealDate.prototype, writable: false });
Object.defineProperty(ShiftedDate, 'name', { value: RealDate.name });
Object.defineProperty(ShiftedDate, 'length', { value: RealDate.length });
// Date.parse, Date.UTC and whatever else Date has are inherited; only now() is this clock's.
Object.setPrototypeOf(ShiftedDate, RealDate);
Object.defineProperty(ShiftedDate, 'now', { value: shiftedNow, writable: true, configurable: true });
Object.defineProperty(RealDate.prototype, 'constructor', { value: ShiftedDate, writable: true, configurable: true });

globalThis.Date = ShiftedDate;
