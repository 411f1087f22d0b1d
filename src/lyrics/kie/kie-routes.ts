import { parseJobsRecord, parseRecordInfo } from './kie-payloads';
import { KieApiRoute, KieTaskResult } from './kie.types';

/** What differs between KIE's two APIs for lyrics: the paths, the create's body and the record's shape. */
export interface KieRouteWire {
  createPath: string;
  /** The create's body; `callBackUrl` undefined when KIE cannot call us back. */
  createBody(prompt: string, callBackUrl: string | undefined): object;
  recordInfoPath(kieTaskId: string): string;
  /** Reads the `data` of a record answer whose body code is 200; throws KiePayloadError when it is unreadable. */
  parseRecord(data: unknown): KieTaskResult;
}

/** The legacy create requires a callBackUrl; without a public address it gets one that cannot resolve (RFC 6761). */
export const NO_CALLBACK_URL = 'https://callback.invalid/kie-lyrics-polling-only';

/** The model of KIE's Jobs API that writes lyrics (its only required input is the prompt). */
export const JOBS_LYRICS_MODEL = 'ai-music-api/generate-lyrics';

export const KIE_ROUTE_WIRES: Record<KieApiRoute, KieRouteWire> = {
  legacy: {
    createPath: '/api/v1/lyrics',
    createBody: (prompt, callBackUrl) => ({ prompt, callBackUrl: callBackUrl ?? NO_CALLBACK_URL }),
    recordInfoPath: (kieTaskId) => `/api/v1/lyrics/record-info?taskId=${encodeURIComponent(kieTaskId)}`,
    parseRecord: parseRecordInfo,
  },
  jobs: {
    createPath: '/api/v1/jobs/createTask',
    // callBackUrl is optional on this route: without one, results are read by polling.
    createBody: (prompt, callBackUrl) => ({
      model: JOBS_LYRICS_MODEL,
      ...(callBackUrl === undefined ? {} : { callBackUrl }),
      input: { prompt },
    }),
    recordInfoPath: (kieTaskId) => `/api/v1/jobs/recordInfo?taskId=${encodeURIComponent(kieTaskId)}`,
    parseRecord: parseJobsRecord,
  },
};
