import { checkFaultRun, FaultCheck, FaultInstance, FaultObservations, figuresOf, runFaultScenario } from '../bench/lib/fault-scenario';
import { KieSandbox } from '../src/sandbox/kie-sandbox';
import { OwnPostgres } from './support/own-postgres';
import { freePort } from './support/postgres-server';
import { ServiceProcess } from './support/service-process';

const CLIENT_KEY = 'fault-client-key';
const HMAC_KEY = 'fault-hmac-key';
const TASKS = 80;

/**
 * Two instances of the built service (production mode, child processes) share one PostgreSQL of the test's own and a
 * sandbox that drops, duplicates, re-spells and forges callbacks and fails some tasks. Mid-run one instance is
 * killed with SIGKILL and started again on its port, and the database is stopped and started while creates,
 * callbacks and checks are in flight. The run itself is bench/lib/fault-scenario.ts (bench/faults.js runs it with
 * 1,000 tasks); each test below is one of its checks, which name up to 10 offending tasks when they fail.
 */
describe('faults: an instance killed and restarted, the database restarted, a misbehaving KIE', () => {
  let sandbox: KieSandbox;
  let postgres: OwnPostgres;
  const services: ServiceProcess[] = [];
  let observations: FaultObservations;
  let checks: Map<FaultCheck['id'], FaultCheck>;

  beforeAll(async () => {
    sandbox = await KieSandbox.start({
      hmacKey: HMAC_KEY,
      mix: { drop: 0.3, duplicate: 0.2, camelCase: 0.1, forged: 0.05, failure: 0.05, hang: 0.05, gateway: 0.08 },
      // This seed's first 60 draws hold 18 dropped, 16 duplicated, 8 camelCase, 4 forged (and delivered) and 3 failed.
      seed: 20261127,
      // Callbacks usually land before the first check (300 ms); dropped and forged ones are found by polling.
      resultDelayMs: 200,
      createLimit: { max: 200, windowMs: 10000 },
    });
    postgres = await OwnPostgres.start();
    const database = postgres.database;
    const snapshot = <T>(value: T): T => structuredClone(value);
    try {
      observations = await runFaultScenario({
        sandbox: {
          url: sandbox.url,
          requests: async () => snapshot(sandbox.requests),
          callbacks: async () => snapshot(sandbox.callbacks),
          tasks: async () => snapshot(sandbox.tasks()),
        },
        database: { url: database.url, query: database.query, stop: () => postgres.pause(), start: () => postgres.resume() },
        startService: async ({ port }): Promise<FaultInstance> => {
          const url = `http://127.0.0.1:${port}`;
          const service = ServiceProcess.start({
            NODE_ENV: 'production',
            PORT: String(port),
            DATABASE_URL: database.url,
            KIE_API_KEY: 'fault-kie-key',
            KIE_BASE_URL: sandbox.url,
            KIE_WEBHOOK_HMAC_KEY: HMAC_KEY,
            PUBLIC_BASE_URL: url,
            API_KEYS: CLIENT_KEY,
            KIE_TIMEOUT_MS: '1000',
            LYRICS_LEASE_MS: '2000',
            LYRICS_DISPATCH_INTERVAL_MS: '100',
            LYRICS_POLL_INITIAL_DELAY_MS: '300',
            LYRICS_POLL_INTERVAL_MS: '200',
            LYRICS_POLL_MAX_INTERVAL_MS: '1000',
            LYRICS_CREATE_BUDGET: '200',
            LYRICS_CREATE_WINDOW_MS: '10000',
            LYRICS_SHUTDOWN_GRACE_MS: '1000',
          });
          services.push(service);
          await service.waitForHealthy(url);
          return {
            url,
            logs: () => service.logs,
            kill: () => service.stop('SIGKILL'),
            stop: () => service.stop('SIGTERM'),
            running: () => service.child.exitCode === null && service.child.signalCode === null,
          };
        },
        freePort,
        clientKey: CLIENT_KEY,
        tasks: TASKS,
        timeoutMs: 60000,
      });
    } catch (error) {
      const tails = services.map((s, i) => `--- instance ${i} ---\n${s.logs.trimEnd().split('\n').slice(-25).join('\n')}`).join('\n');
      throw new Error(`${error instanceof Error ? error.message : String(error)}\n${tails}`);
    }
    checks = new Map(checkFaultRun(observations).map((check) => [check.id, check]));
  }, 150000);

  afterAll(async () => {
    await Promise.all(services.map((service) => service.stop('SIGTERM').catch(() => service.stop('SIGKILL'))));
    await sandbox?.stop();
    await postgres?.destroy();
  });

  const failuresOf = (id: FaultCheck['id']) => {
    const check = checks.get(id)!;
    return check.failureCount === 0 ? [] : [`${check.name}: ${check.failureCount} failures`, ...check.failures];
  };

  it('really ran the faults: work was in flight at the kill and at the database restart, and KIE misbehaved', () => {
    const figures = figuresOf(observations);
    const { atKill, atDatabaseStop } = observations.timeline;
    expect(atKill.final).toBeLessThan(TASKS / 2);
    expect(atDatabaseStop.final).toBeLessThan(TASKS);
    expect(figures.sandboxMix.drop).toBeGreaterThan(0);
    expect(figures.sandboxMix.duplicate).toBeGreaterThan(0);
    expect(figures.sandboxMix.camel).toBeGreaterThan(0);
    expect(figures.sandboxMix.forged).toBeGreaterThan(0);
    expect(figures.sandboxMix.failure).toBeGreaterThan(0);
    expect(figures.sandboxMix.hang).toBeGreaterThan(0);
    expect(figures.sandboxMix.gateway).toBeGreaterThan(0);
    expect(observations.callbacks.filter((d) => d.forged && d.status === 401).length).toBeGreaterThan(0);
  });

  it('brings every task to a final state', () => {
    expect(failuresOf('final')).toEqual([]);
  });

  it('never sends a create twice; a create whose answer was lost (unanswered, a gateway page, the kill) is not resent', () => {
    expect(failuresOf('creates')).toEqual([]);
  });

  it('never has KIE bill one submission twice', () => {
    expect(failuresOf('billed-once')).toEqual([]);
  });

  it('fails no task KIE never received: a claim orphaned before sending is sent again', () => {
    expect(failuresOf('never-received')).toEqual([]);
  });

  it('leaves no task failed that KIE finished and called back about: a lost answer is revived by the callback', () => {
    expect(failuresOf('kie-finished')).toEqual([]);
  });

  it("stores exactly the sandbox's record of truth: its variants in order, or its failure message", () => {
    expect(failuresOf('truth')).toEqual([]);
  });

  it('never emits an event twice, across both instances and the killed one', () => {
    expect(failuresOf('events-once')).toEqual([]);
  });

  it('emits events that match the final states, for at least 90% of the final tasks', () => {
    // Not 100%: a transition committed by the instance just before SIGKILL, or whose COMMIT reached the database as
    // it shut down, is final without its event (events are published after commit, by design). Never twice is the rule.
    expect(failuresOf('events-present')).toEqual([]);
  });

  it("keeps every final transition in the outbox, the killed instance's and those around the database restart included", () => {
    expect(failuresOf('outbox')).toEqual([]);
  });

  it('applies no forged callback: each is refused with 401 and leaves an unauthorized receipt', () => {
    expect(failuresOf('forged')).toEqual([]);
  });

  it("takes a result by callback only from a genuine callback, as the task's one applied receipt", () => {
    expect(failuresOf('genuine')).toEqual([]);
  });

  it('answers callbacks with a 5xx only while the database is down', () => {
    expect(failuresOf('no-5xx')).toEqual([]);
  });

  it('keeps the other instances running through the database restart', () => {
    expect(failuresOf('alive')).toEqual([]);
  });
});
