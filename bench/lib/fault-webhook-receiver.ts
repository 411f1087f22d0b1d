// The client webhook endpoint of the fault scenario (bench/lib/fault-scenario.ts): an https server on 127.0.0.1 in the
// scenario's own process, one path per owner (/<owner>/...), that records every POST and checks its signature at once
// (standardwebhooks also checks that the timestamp is within 5 minutes of now) with every owner's secret, so that a
// run can tell which owner each delivery really came from. It answers 200 to everything.
//
// https, because the scenario's instances run NODE_ENV=production, where a webhookUrl must be https; 127.0.0.1 is let
// through the public-address check with LYRICS_WEBHOOK_ALLOWED_HOSTS=127.0.0.1, and the service trusts the receiver's
// certificate through NODE_EXTRA_CA_CERTS=<caFile>. (test/support/webhook-receiver.ts is the plain-http receiver of
// the webhook tests, which run outside production; bench/lib cannot import from test/.)
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Server } from 'node:https';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';

/**
 * A self-signed certificate for IP 127.0.0.1 (its own CA, valid until 2126), and its key: for this loopback receiver
 * only, trusted by nothing but the service processes the scenario starts. Made with
 *   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 36500 \
 *     -subj "/CN=nestjs-kie-lyrics fault receiver (127.0.0.1, tests only)" -addext "subjectAltName=IP:127.0.0.1" \
 *     -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,digitalSignature,keyCertSign"
 */
const RECEIVER_CERT = `-----BEGIN CERTIFICATE-----
MIIB/jCCAaSgAwIBAgIUbET8DKyc2WL0AAVei79gxORH20YwCgYIKoZIzj0EAwIw
QzFBMD8GA1UEAww4bmVzdGpzLWtpZS1seXJpY3MgZmF1bHQgcmVjZWl2ZXIgKDEy
Ny4wLjAuMSwgdGVzdHMgb25seSkwIBcNMjYxMjAyMDEyODUzWhgPMjEyNjExMDgw
MTI4NTNaMEMxQTA/BgNVBAMMOG5lc3Rqcy1raWUtbHlyaWNzIGZhdWx0IHJlY2Vp
dmVyICgxMjcuMC4wLjEsIHRlc3RzIG9ubHkpMFkwEwYHKoZIzj0CAQYIKoZIzj0D
AQcDQgAEWJmOJYsibBV97nRXltevToEzKTbMc/Yuot+73p5YLgd0T82E+i+O36bx
QOSRaRHHqBRTBMlTa+b3yN7Sxf5dGaN0MHIwHQYDVR0OBBYEFL6hDybFR3nEfYh2
KA8qFsJtgBgaMB8GA1UdIwQYMBaAFL6hDybFR3nEfYh2KA8qFsJtgBgaMA8GA1Ud
EQQIMAaHBH8AAAEwDwYDVR0TAQH/BAUwAwEB/zAOBgNVHQ8BAf8EBAMCAoQwCgYI
KoZIzj0EAwIDSAAwRQIgd+f3sswQxNfyyVibc+bTjh22sBKlUokCmP34V9BJZ68C
IQDvUZnt7ISqztpvufG3uREyzYuq/lM9Ee0MGZI/u7tE3Q==
-----END CERTIFICATE-----
`;
const RECEIVER_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg/FCNxrCGcYup0Smt
IPzyAD++3Gb1XnYr3JlVHaSqrxmhRANCAARYmY4liyJsFX3udFeW169OgTMpNsxz
9i6i37venlguB3RPzYT6L47fpvFA5JFpEceoFFMEyVNr5vfI3tLF/l0Z
-----END PRIVATE KEY-----
`;

/** One POST the receiver got, as far as the checks need it (not the whole body: 1,000 task resources add up). */
export interface ReceivedWebhook {
  /** Date.now() at arrival. */
  at: number;
  path: string;
  /** The path's first segment: the owner whose webhookUrl this is. */
  pathOwner: string;
  webhookId: string | undefined;
  /** The owners whose secret verifies the delivery (standardwebhooks: signature and timestamp); none, ideally one. */
  verifiedBy: string[];
  /** Why it did not verify with the path owner's secret, when it did not. */
  verifyError?: string;
  /** What the body says (parsed whether or not it verified), or why it could not be read. */
  body:
    | {
        id: string;
        type: string;
        createdAt: string;
        taskId: string | undefined;
        status: string | undefined;
        errorCode: string | null;
        webhookUrl: string | null;
      }
    | { unreadable: string };
}

export class FaultWebhookReceiver {
  private readonly received: ReceivedWebhook[] = [];
  private readonly secrets = new Map<string, Webhook>();

  private constructor(
    private readonly server: Server,
    /** The PEM file the service processes get as NODE_EXTRA_CA_CERTS. */
    readonly caFile: string,
    private readonly folder: string,
  ) {}

  static async start(): Promise<FaultWebhookReceiver> {
    const folder = mkdtempSync(join(tmpdir(), 'fault-receiver-'));
    const caFile = join(folder, 'receiver-ca.pem');
    writeFileSync(caFile, RECEIVER_CERT);
    const server = createServer({ cert: RECEIVER_CERT, key: RECEIVER_KEY, keepAliveTimeout: 30000 });
    const receiver = new FaultWebhookReceiver(server, caFile, folder);
    server.on('request', (request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const headers = Object.fromEntries(Object.entries(request.headers).map(([name, value]) => [name, String(value)]));
        receiver.record(request.url ?? '/', headers, Buffer.concat(chunks).toString('utf8'));
        response.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  get url(): string {
    return `https://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** The owner's current webhook secret (GET /lyrics/webhook-secret); deliveries are verified against every owner's. */
  trust(owner: string, secret: string): void {
    this.secrets.set(owner, new Webhook(secret));
  }

  deliveries(): ReceivedWebhook[] {
    return [...this.received];
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    rmSync(this.folder, { recursive: true, force: true });
  }

  private record(path: string, headers: Record<string, string>, text: string): void {
    const pathOwner = decodeURIComponent(path.split('/')[1] ?? '');
    const verifiedBy: string[] = [];
    let verifyError: string | undefined = this.secrets.has(pathOwner) ? undefined : `no secret for owner "${pathOwner}"`;
    for (const [owner, webhook] of this.secrets) {
      try {
        webhook.verify(text, headers);
        verifiedBy.push(owner);
      } catch (error) {
        if (owner === pathOwner) verifyError = error instanceof Error ? error.message : String(error);
      }
    }
    let body: ReceivedWebhook['body'];
    try {
      const event = JSON.parse(text) as { id: string; type: string; createdAt: string; data?: Record<string, any> };
      body = {
        id: event.id,
        type: event.type,
        createdAt: event.createdAt,
        taskId: event.data?.id,
        status: event.data?.status,
        errorCode: event.data?.error?.code ?? null,
        webhookUrl: event.data?.webhookUrl ?? null,
      };
    } catch (error) {
      body = { unreadable: error instanceof Error ? error.message : String(error) };
    }
    this.received.push({ at: Date.now(), path, pathOwner, webhookId: headers['webhook-id'], verifiedBy, verifyError, body });
  }
}
