import { KieSandbox } from './kie-sandbox';
import { parseSandboxArgs } from './sandbox-cli';

/** The sandbox on its own (`npm run sandbox -- --port 4010 ...`); Ctrl-C or SIGTERM stops it. */
async function main(): Promise<void> {
  const sandbox = await KieSandbox.start(parseSandboxArgs(process.argv.slice(2)));
  console.log(`KIE sandbox listening on ${sandbox.url}`);
  // Once: the same signal again during the stop falls back to Node's default and ends the process at once.
  const stop = () => void sandbox.stop();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  console.error(`kie-sandbox: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
