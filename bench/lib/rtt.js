'use strict';
// What one request/answer between two processes over loopback TCP costs on this machine (the unit every SQL
// statement and every HTTP request pays): round-trip time, and the CPU the asking side spends per round trip.
const { fork } = require('node:child_process');
const net = require('node:net');

if (process.argv[2] === '--echo-server') {
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    socket.on('data', (data) => socket.write(data));
  });
  server.listen(0, '127.0.0.1', () => process.send(server.address().port));
  process.on('disconnect', () => process.exit(0));
}

/** Ping-pong of `size` bytes, `count` times, with an echo server in another process. */
function loopbackRoundTrip({ count = 5000, size = 100 } = {}) {
  return new Promise((resolve, reject) => {
    const child = fork(__filename, ['--echo-server'], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    child.once('error', reject);
    child.once('message', (port) => {
      const socket = net.connect(port, '127.0.0.1', async () => {
        socket.setNoDelay(true);
        const payload = Buffer.alloc(size, 1);
        const once = () =>
          new Promise((done) => {
            socket.once('data', done);
            socket.write(payload);
          });
        for (let i = 0; i < 500; i++) await once(); // warm-up
        const t0 = process.hrtime.bigint();
        const cpu0 = process.cpuUsage();
        for (let i = 0; i < count; i++) await once();
        const micros = Number(process.hrtime.bigint() - t0) / 1000;
        const cpu = process.cpuUsage(cpu0);
        socket.destroy();
        child.disconnect();
        resolve({
          count,
          size,
          roundTripMicros: micros / count,
          cpuMicrosPerRoundTrip: (cpu.user + cpu.system) / count,
          systemMicrosPerRoundTrip: cpu.system / count,
        });
      });
      socket.once('error', reject);
    });
  });
}

module.exports = { loopbackRoundTrip };
