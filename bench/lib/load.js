'use strict';
// A closed-loop load generator on autocannon: exactly `requests.length` requests (each its own method, path,
// headers and body) over `connections` keep-alive connections, every response time recorded (not only the 2xx
// ones, and not bucketed), so that p50/p99/max come from the raw samples.
const autocannon = require('autocannon');
const { summarize } = require('./stats');

/**
 * Sends every request in `requests` ({ method, path, headers, body }) to `baseUrl` with `connections` concurrent
 * connections. Resolves with throughput, latency summary, status counts and errors.
 */
function fire({ baseUrl, connections, requests, timeoutS = 30 }) {
  return new Promise((resolve, reject) => {
    let next = 0;
    const latencies = [];
    const statusCodes = {};
    let errors = 0;
    let lastAnswer;
    const errorSamples = [];
    const started = process.hrtime.bigint();
    const cpuBefore = process.cpuUsage();
    const instance = autocannon(
      {
        url: baseUrl,
        connections,
        amount: requests.length,
        timeout: timeoutS,
        requests: [
          {
            setupRequest: (request) => {
              const spec = requests[Math.min(next++, requests.length - 1)];
              return { ...request, method: spec.method ?? 'GET', path: spec.path, headers: spec.headers ?? {}, body: spec.body };
            },
          },
        ],
      },
      (error, result) => {
        if (error) return reject(error);
        // From the start to the last answer: autocannon itself only notices that `amount` is reached on its
        // once-a-second tick, so its own end would round every run up to whole seconds.
        const seconds = Number((lastAnswer ?? process.hrtime.bigint()) - started) / 1e9;
        const cpu = process.cpuUsage(cpuBefore);
        const ok = Object.entries(statusCodes).reduce((n, [code, count]) => n + (code.startsWith('2') ? count : 0), 0);
        resolve({
          requests: requests.length,
          connections,
          completed: latencies.length,
          ok,
          non2xx: latencies.length - ok,
          errors,
          errorSamples,
          timeouts: result.timeouts,
          statusCodes,
          seconds,
          perSecond: latencies.length / seconds,
          okPerSecond: ok / seconds,
          latencyMs: summarize(latencies),
          generatorCpuSeconds: (cpu.user + cpu.system) / 1e6,
          autocannonSeconds: result.duration,
        });
      },
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      lastAnswer = process.hrtime.bigint();
      latencies.push(responseTime);
      statusCodes[statusCode] = (statusCodes[statusCode] ?? 0) + 1;
    });
    instance.on('reqError', (error) => {
      errors++;
      if (errorSamples.length < 5) errorSamples.push(error?.message ?? String(error));
    });
  });
}

/** `count` copies of one request (for the GET baseline). */
const repeat = (count, spec) => Array.from({ length: count }, () => spec);

module.exports = { fire, repeat };

/**
 * Sends all `requests` at the same moment, each on a connection of its own (like `count` independent clients),
 * and records each one's latency from the call to the end of its answer, connecting included.
 */
async function burst({ baseUrl, requests, timeoutMs = 60000 }) {
  const http = require('node:http');
  const url = new URL(baseUrl);
  const started = process.hrtime.bigint();
  const outcomes = await Promise.all(
    requests.map(
      (spec) =>
        new Promise((resolve) => {
          const t0 = process.hrtime.bigint();
          const done = (status, error, body) =>
            resolve({ status, error, body, ms: Number(process.hrtime.bigint() - t0) / 1e6, endedAt: Date.now() });
          const req = http.request(
            {
              host: url.hostname,
              port: url.port,
              method: spec.method ?? 'GET',
              path: spec.path,
              headers: spec.headers,
              agent: false,
              timeout: timeoutMs,
            },
            (res) => {
              const chunks = [];
              res.on('data', (chunk) => chunks.push(chunk));
              res.on('end', () => done(res.statusCode, undefined, Buffer.concat(chunks).toString('utf8')));
              res.on('error', (error) => done(undefined, error.message));
            },
          );
          req.on('timeout', () => req.destroy(new Error('timeout')));
          req.on('error', (error) => done(undefined, error.code ?? error.message));
          req.end(spec.body);
        }),
    ),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const statusCodes = {};
  for (const o of outcomes) if (o.status) statusCodes[o.status] = (statusCodes[o.status] ?? 0) + 1;
  const errors = outcomes.filter((o) => o.error);
  return {
    requests: requests.length,
    seconds,
    statusCodes,
    errors: errors.length,
    errorSamples: [...new Set(errors.map((o) => o.error))].slice(0, 5),
    latencyMs: summarize(outcomes.filter((o) => o.status).map((o) => o.ms)),
    outcomes,
  };
}

module.exports.burst = burst;
