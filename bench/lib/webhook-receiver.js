'use strict';
// A client's webhook receiver for bench/deliveries.js, as a process of its own: a bare node:http(s) server that
// answers every POST 200 as soon as its body has arrived and records, per request, when its head arrived (ms on the
// Unix clock, fractional), its path, its Standard Webhooks headers and its body. A gate holds answers back (so that
// a relay's places stay busy while a backlog builds up) until released. Control routes, on a plain-http port of
// their own (never recorded):
//   POST /_control/hold      answers wait until release (at most HOLD_LIMIT_MS, then they go anyway)
//   POST /_control/release   answers everything held; { released, at }
//   GET  /_control/records   { records, autoReleases } since the last reset (bodies and headers with ?full=1)
//   GET  /_control/count     { count, distinct } (distinct webhook-ids)
//   POST /_control/reset     forgets the records
//
//   node bench/lib/webhook-receiver.js [--cert file --key file]     prints "listening on <url> control <url>"
const { spawn } = require('node:child_process');
const { once } = require('node:events');
const { closeSync, openSync, readFileSync } = require('node:fs');
const { join } = require('node:path');

/** The relay's time limit is 15 s: a hold never outlasts it, so no held request turns into a retry. */
const HOLD_LIMIT_MS = 10000;

const now = () => performance.timeOrigin + performance.now();

function serve({ cert, key }) {
  const records = [];
  let held = null; // while holding: the answers waiting, as functions
  let holdTimer;
  let autoReleases = 0;

  const release = () => {
    clearTimeout(holdTimer);
    const waiting = held ?? [];
    held = null;
    const at = now();
    waiting.forEach((answer) => answer());
    return { released: waiting.length, at };
  };

  const json = (res, status, value) => {
    const body = JSON.stringify(value);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };

  const controlHandler = (req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/_control/hold') {
        held ??= [];
        clearTimeout(holdTimer);
        holdTimer = setTimeout(() => {
          autoReleases++;
          release();
        }, HOLD_LIMIT_MS);
        return json(res, 200, { holding: true });
      }
      if (req.method === 'POST' && req.url === '/_control/release') return json(res, 200, release());
      if (req.method === 'POST' && req.url === '/_control/reset') {
        records.length = 0;
        return json(res, 200, { reset: true });
      }
      if (req.method === 'GET' && req.url === '/_control/count') {
        return json(res, 200, { count: records.length, distinct: new Set(records.map((r) => r.id)).size });
      }
      if (req.method === 'GET' && req.url.startsWith('/_control/records')) {
        const full = req.url.includes('full=1');
        return json(res, 200, {
          autoReleases,
          records: full ? records : records.map((r) => ({ arrivedAt: r.arrivedAt, path: r.path, id: r.id, heldMs: r.heldMs })),
        });
      }
      json(res, 404, { error: 'no such control route' });
    });
  };

  const handler = (req, res) => {
    const arrivedAt = now();
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const record = {
        arrivedAt,
        path: req.url,
        id: req.headers['webhook-id'] ?? null,
        headers: {
          'webhook-id': req.headers['webhook-id'],
          'webhook-timestamp': req.headers['webhook-timestamp'],
          'webhook-signature': req.headers['webhook-signature'],
        },
        body: Buffer.concat(chunks).toString('utf8'),
        heldMs: 0,
      };
      records.push(record);
      const answer = () => {
        record.heldMs = now() - arrivedAt;
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 2 });
        res.end('ok');
      };
      if (held) held.push(answer);
      else answer();
    });
  };

  const server = cert
    ? require('node:https').createServer({ cert: readFileSync(cert), key: readFileSync(key) }, handler)
    : require('node:http').createServer(handler);
  // Longer than any pause between two runs: a keep-alive socket the server closed just as a client reused it would
  // fail that request (and make the relay retry it seconds later).
  server.keepAliveTimeout = 300000;
  server.headersTimeout = 301000;
  server.requestTimeout = 0;
  const control = require('node:http').createServer(controlHandler);
  server.listen(0, '127.0.0.1', () =>
    control.listen(0, '127.0.0.1', () => {
      console.log(
        `webhook receiver listening on ${cert ? 'https' : 'http'}://127.0.0.1:${server.address().port} control http://127.0.0.1:${control.address().port}`,
      );
    }),
  );
  const stop = () => {
    control.close();
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

/** The receiver as a child process of the bench, stopped with the rest of its stack. */
class Receiver {
  constructor(child, logFile, secure) {
    this.name = 'receiver';
    this.child = child;
    this.logFile = logFile;
    this.port = 0;
    this.controlUrl = '';
    this.secure = secure;
    this.exited = once(child, 'exit');
  }

  get pid() {
    return this.child.pid;
  }

  get running() {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The receiver's base URL under `host` (a name makes the relay resolve it on every send, as a real one would). */
  url(host = '127.0.0.1') {
    return `${this.secure ? 'https' : 'http'}://${host}:${this.port}`;
  }

  logs() {
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  tail(lines = 30) {
    return this.logs().trimEnd().split('\n').slice(-lines).join('\n');
  }

  cpuSeconds() {
    const { cpuSeconds } = require('./stack');
    return cpuSeconds(this.pid);
  }

  async control(method, route) {
    const response = await fetch(`${this.controlUrl}/_control/${route}`, { method });
    if (!response.ok) throw new Error(`receiver ${route}: HTTP ${response.status}`);
    return response.json();
  }

  hold() {
    return this.control('POST', 'hold');
  }

  release() {
    return this.control('POST', 'release');
  }

  reset() {
    return this.control('POST', 'reset');
  }

  count() {
    return this.control('GET', 'count');
  }

  records({ full = false } = {}) {
    return this.control('GET', `records${full ? '?full=1' : ''}`);
  }

  async stop(signal = 'SIGTERM', timeoutMs = 10000) {
    if (!this.running) return;
    this.child.kill(signal);
    const timer = setTimeout(() => this.running && this.child.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/**
 * Starts the receiver (https with `tls` = { cert, key } files) as a child of `stack`, which stops it at shutdown.
 * Its control routes listen on a port of their own, over plain http, and are never recorded.
 */
async function startReceiver(stack, { tls } = {}) {
  const { waitUntil } = require('./stack');
  const logFile = join(stack.tmp, 'receiver.log');
  const fd = openSync(logFile, 'a');
  const args = [__filename, ...(tls ? ['--cert', tls.cert, '--key', tls.key] : [])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const receiver = new Receiver(child, logFile, Boolean(tls));
  stack.children.push(receiver);
  const [, url, controlUrl] = await waitUntil(
    'the webhook receiver to listen',
    () => {
      if (!receiver.running) throw new Error(`receiver exited: ${receiver.tail()}`);
      return /listening on (https?:\/\/\S+) control (http:\/\/\S+)/.exec(receiver.logs()) ?? undefined;
    },
    { timeoutMs: 10000, intervalMs: 50 },
  );
  receiver.port = Number(new URL(url).port);
  receiver.controlUrl = controlUrl;
  return receiver;
}

module.exports = { startReceiver, HOLD_LIMIT_MS };

if (require.main === module) {
  const arg = (name) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  serve({ cert: arg('cert'), key: arg('key') });
}
