import { signWebhook, verifyWebhook } from './kie-signature';

// Vectors computed locally with the documented algorithm (a made-up key, for tests only).
const KEY = 'kie-sim-test-hmac-key-0001';
const TASK = '3b66882fde0a5d398bd269cab6d9542b';
const TIMESTAMP = '1769670760';
const SIGNATURE = 'i7pEtcogx4zDCUb7OyLNcYCfz7w5yOIZYjkw4AbUvz8=';
const AT_TIMESTAMP = Number(TIMESTAMP) * 1000;

describe('KIE webhook signatures', () => {
  it('signs the documented vectors', () => {
    expect(signWebhook(TASK, TIMESTAMP, KEY)).toBe(SIGNATURE);
    expect(signWebhook('ee9c2715375b7837f8bb51d641ff5863', TIMESTAMP, KEY)).toBe('qZv5n1Hf5yWcLYJpbi/mLoV0eFxVlEQSTfuLZoZ+u5g=');
  });

  const verify = (overrides: Partial<Parameters<typeof verifyWebhook>[0]>) =>
    verifyWebhook({
      taskId: TASK,
      timestamp: TIMESTAMP,
      signature: SIGNATURE,
      hmacKey: KEY,
      toleranceSeconds: 300,
      nowMs: AT_TIMESTAMP,
      ...overrides,
    });

  it('accepts the vector within the window, at both edges', () => {
    expect(verify({})).toEqual({ valid: true });
    expect(verify({ nowMs: AT_TIMESTAMP + 300_000 })).toEqual({ valid: true });
    expect(verify({ nowMs: AT_TIMESTAMP - 300_000 })).toEqual({ valid: true });
  });

  it('refuses a tampered signature, another task id and another key', () => {
    const tampered = `${SIGNATURE[0] === 'A' ? 'B' : 'A'}${SIGNATURE.slice(1)}`;
    expect(verify({ signature: tampered })).toEqual({ valid: false, reason: 'bad_signature' });
    expect(verify({ signature: SIGNATURE.slice(0, -1) })).toEqual({ valid: false, reason: 'bad_signature' });
    expect(verify({ taskId: 'ee9c2715375b7837f8bb51d641ff5863' })).toEqual({ valid: false, reason: 'bad_signature' });
    expect(verify({ hmacKey: 'another-key' })).toEqual({ valid: false, reason: 'bad_signature' });
  });

  it('refuses stale and future timestamps outside the window', () => {
    expect(verify({ nowMs: AT_TIMESTAMP + 301_000 })).toEqual({ valid: false, reason: 'stale_timestamp' });
    expect(verify({ nowMs: AT_TIMESTAMP - 301_000 })).toEqual({ valid: false, reason: 'future_timestamp' });
  });

  it('refuses missing headers and a timestamp that is not Unix seconds', () => {
    expect(verify({ signature: undefined })).toEqual({ valid: false, reason: 'missing_headers' });
    expect(verify({ timestamp: undefined })).toEqual({ valid: false, reason: 'missing_headers' });
    expect(verify({ timestamp: '2026-01-29T06:32:40Z' })).toEqual({ valid: false, reason: 'bad_timestamp' });
  });
});
