import { checkFaultRun, FaultCheck, FaultInstance, FaultObservations, figuresOf, runFaultScenario } from '../bench/lib/fault-scenario';
import { KieSandbox } from '../src/sandbox/kie-sandbox';
import { OwnPostgres } from './support/own-postgres';
import { freePort } from './support/postgres-server';
import { ServiceProcess } from './support/service-process';

const HMAC_KEY = 'fault-hmac-key';
const TASKS = 80;

/**
 * Two instances of the built service (production mode, child processes) share one PostgreSQL of the test's own and a
 * sandbox that drops, duplicates, re-spells and forges callbacks and fails some tasks. Mid-run one instance is
 * killed with SIGKILL and started again on its port, and the database is stopped and started while creates,
 * callbacks and checks are in flight. The tasks belong to two owners and each has a webhookUrl on the scenario's own
 * https receiver. The run itself is bench/lib/fault-scenario.ts (bench/faults.js runs it with 1,000 tasks); each test
 * below is one of its checks, which name up to 10 offending tasks when they fail.
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
        startService: async ({ port, env }): Promise<FaultInstance> => {
          const url = `http://127.0.0.1:${port}`;
          const service = ServiceProcess.start({
            NODE_ENV: 'production',
            PORT: String(port),
            DATABASE_URL: database.url,
            KIE_API_KEY: 'fault-kie-key',
            KIE_BASE_URL: sandbox.url,
            KIE_WEBHOOK_HMAC_KEY: HMAC_KEY,
            PUBLIC_BASE_URL: url,
            KIE_TIMEOUT_MS: '1000',
            LYRICS_LEASE_MS: '2000',
            LYRICS_DISPATCH_INTERVAL_MS: '100',
            LYRICS_POLL_INITIAL_DELAY_MS: '300',
            LYRICS_POLL_INTERVAL_MS: '200',
            LYRICS_POLL_MAX_INTERVAL_MS: '1000',
            LYRICS_CREATE_BUDGET: '200',
            LYRICS_CREATE_WINDOW_MS: '10000',
            LYRICS_SHUTDOWN_GRACE_MS: '1000',
            // The scenario's: API_KEYS with its two owners, and the webhook receiver's settings.
            ...env,
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
        tasks: TASKS,
        timeoutMs: 60000,
        // A host delivery the killed instance had claimed, or whose record the database restart lost, is due again
        // only when its 60 s lease ends.
        deliveryTimeoutMs: 120000,
      });
    } catch (error) {
      const tails = services.map((s, i) => `--- instance ${i} ---\n${s.logs.trimEnd().split('\n').slice(-25).join('\n')}`).join('\n');
      throw new Error(`${error instanceof Error ? error.message : String(error)}\n${tails}`);
    }
    checks = new Map(checkFaultRun(observations).map((check) => [check.id, check]));
  }, 300000);

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
    for (const owner of observations.owners) {
      expect(observations.submitted.filter((s) => s.owner === owner).length).toBeGreaterThan(TASKS / 4);
      expect(figures.deliveries.webhookPostsByOwner[owner]).toBeGreaterThan(0);
    }
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

  it('hands host handlers one event per transition: a repeat (at least once) carries the same id and says the same', () => {
    expect(failuresOf('events-once')).toEqual([]);
  });

  it("hands host handlers events that match the final states, every final task's current one included", () => {
    // 100%: the event is written with the transition (the outbox) and relayed by whichever instance is alive, so a
    // SIGKILL right after the commit, or the database restart, delays it (until its claim's lease ends) but loses none.
    expect(failuresOf('events-present')).toEqual([]);
  });

  it("keeps every final transition in the outbox, the killed instance's and those around the database restart included", () => {
    expect(failuresOf('outbox')).toEqual([]);
  });

  it('hands every event to a host handler at least once, with its owner, across both instances and the killed one', () => {
    expect(failuresOf('host-handled')).toEqual([]);
  });

  it("delivers every event to its task's webhook at least once, signed with its owner's secret", () => {
    expect(failuresOf('webhooks-delivered')).toEqual([]);
  });

  it("delivers no webhook to another owner, of another owner's task, or verifiable with another owner's secret", () => {
    expect(failuresOf('webhooks-isolated')).toEqual([]);
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
