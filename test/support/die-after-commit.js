/**
 * A `--require` preload that kills this process (SIGKILL, so nothing after it runs: no handler, no shutdown hook) the
 * moment PostgreSQL answers a statement whose name starts with DIE_AFTER_STATEMENT and changed a row: a single
 * statement outside a transaction has committed by then. test/crash-recovery.e2e-spec.ts loads it into the built
 * service through NODE_OPTIONS, to die between a final transition's commit and its delivery.
 */
const pg = require('pg');

const prefix = process.env.DIE_AFTER_STATEMENT;
if (!prefix) throw new Error('DIE_AFTER_STATEMENT must name the statement (a prefix of its name) to die after');

const query = pg.Client.prototype.query;
const dieIfChanged = (result) => {
  if (result && result.rowCount > 0) process.kill(process.pid, 'SIGKILL');
};

pg.Client.prototype.query = function (config, ...rest) {
  const named = config !== null && typeof config === 'object' && typeof config.name === 'string' && config.name.startsWith(prefix);
  if (!named) return query.call(this, config, ...rest);
  // The pool passes a callback; this one dies before handing the answer on, so the caller never resumes.
  const callback = rest.findIndex((arg) => typeof arg === 'function');
  if (callback >= 0) {
    const answer = rest[callback];
    rest[callback] = (error, result) => {
      if (!error) dieIfChanged(result);
      answer(error, result);
    };
    return query.call(this, config, ...rest);
  }
  // Without one, the statement's own promise: this handler is attached first, so it runs before the caller's await.
  const result = query.call(this, config, ...rest);
  result.then(dieIfChanged, () => undefined);
  return result;
};
