import { SandboxRequest } from '../../src/sandbox/kie-sandbox';

/** The most creates KIE accepted within any `windowMs`, by their arrival at the sandbox (its own clock). */
export function busiestWindow(requests: SandboxRequest[], windowMs: number): number {
  const arrivals = requests
    .filter((r) => r.endpoint === 'create' && r.code === 200)
    .map((r) => r.startedAt)
    .sort((a, b) => a - b);
  let busiest = 0;
  for (let start = 0, end = 0; end < arrivals.length; end++) {
    while (arrivals[end] - arrivals[start] >= windowMs) start++;
    busiest = Math.max(busiest, end - start + 1);
  }
  return busiest;
}
