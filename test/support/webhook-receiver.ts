import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

/**
 * What a receiver answers one delivery: a status (with headers, after `afterMs`), or no answer at all until it is
 * stopped.
 */
export type ReceiverAnswer = number | { status: number; headers?: Record<string, string>; afterMs?: number } | 'hang';

export interface ReceivedDelivery {
  path: string;
  headers: Record<string, string>;
  body: string;
  /** performance.timeOrigin-based time of arrival (ms). */
  at: number;
}

/**
 * A client's webhook endpoint, over real HTTP on 127.0.0.1: it records every POST, and answers each path as scripted
 * (the answers in turn, then the last one again; 200 when unscripted). `verify` checks a delivery as a client would,
 * with the standardwebhooks library.
 */
export class WebhookReceiver {
  private readonly deliveries: ReceivedDelivery[] = [];
  private readonly scripts = new Map<string, ReceiverAnswer[]>();
  private readonly hanging = new Set<ServerResponse>();

  private constructor(private readonly server: Server) {}

  static async start(): Promise<WebhookReceiver> {
    const server = createServer();
    const receiver = new WebhookReceiver(server);
    server.on('request', (request, response) => void receiver.handle(request, response));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  /** Answers the next deliveries to `path` with `answers` in turn, then with the last one. */
  script(path: string, answers: ReceiverAnswer[]): void {
    this.scripts.set(path, [...answers]);
  }

  received(path?: string): ReceivedDelivery[] {
    return this.deliveries.filter((delivery) => path === undefined || delivery.path === path);
  }

  /** The delivery's payload, if its signature verifies with `secret` (standardwebhooks checks the timestamp too). */
  static verify(delivery: ReceivedDelivery, secret: string): { id: string; type: string; createdAt: string; data: any } {
    return new Webhook(secret).verify(delivery.body, delivery.headers) as { id: string; type: string; createdAt: string; data: any };
  }

  async stop(): Promise<void> {
    this.hanging.forEach((response) => response.destroy());
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const path = request.url ?? '/';
    const headers = Object.fromEntries(Object.entries(request.headers).map(([name, value]) => [name, String(value)]));
    this.deliveries.push({ path, headers, body: Buffer.concat(chunks).toString('utf8'), at: performance.now() });
    const script = this.scripts.get(path) ?? [];
    const answer = (script.length > 1 ? script.shift() : script[0]) ?? 200;
    if (answer === 'hang') {
      this.hanging.add(response);
      return;
    }
    const { status, headers: answerHeaders = {}, afterMs = 0 } = typeof answer === 'number' ? { status: answer } : answer;
    if (afterMs > 0) await new Promise((resolve) => setTimeout(resolve, afterMs));
    response.writeHead(status, answerHeaders).end();
  }
}
