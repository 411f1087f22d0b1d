import { UnmatchedCallbackWarnings } from './unmatched-callbacks';

describe('UnmatchedCallbackWarnings', () => {
  function setup() {
    const warnings: { message: string; fields: Record<string, unknown> }[] = [];
    let now = 1_000_000;
    const log = new UnmatchedCallbackWarnings(
      { warn: (message: string, fields: Record<string, unknown>) => warnings.push({ message, fields }) },
      10_000,
      () => now,
    );
    return { log, warnings, advance: (ms: number) => (now += ms) };
  }

  it('warns about the first refusal at once', () => {
    const { log, warnings } = setup();
    log.refused('unknown_task', '10.0.0.1');
    expect(warnings).toEqual([
      {
        message: 'Callback refused (unknown_task): no task matches its id and token; nothing stored',
        fields: { reason: 'unknown_task', remoteAddress: '10.0.0.1', suppressed: 0 },
      },
    ]);
  });

  it('keeps quiet for the rest of the interval, then warns once, saying how many it kept quiet about', () => {
    const { log, warnings, advance } = setup();
    log.refused('unknown_task', null);
    for (let i = 0; i < 500; i++) {
      advance(19);
      log.refused(i % 2 ? 'wrong_token' : 'invalid_task_id', null);
    }
    expect(warnings).toHaveLength(1);
    advance(500);
    log.refused('wrong_token', '10.0.0.2');
    expect(warnings).toHaveLength(2);
    expect(warnings[1].message).toBe(
      'Callback refused (wrong_token): no task matches its id and token; nothing stored ' +
        '(500 more unmatched callbacks refused without a warning since the last one)',
    );
    expect(warnings[1].fields).toEqual({ reason: 'wrong_token', remoteAddress: '10.0.0.2', suppressed: 500 });
    advance(9_999);
    log.refused('wrong_token', null);
    expect(warnings).toHaveLength(2);
    advance(1);
    log.refused('wrong_token', null);
    expect(warnings.map((warning) => warning.fields.suppressed)).toEqual([0, 500, 1]);
  });
});
