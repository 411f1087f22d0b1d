import { drawFromMix, MarkerError, MIX_KEYS, mixRandom, parseMarkers, SandboxMix } from './sandbox-behaviours';
import { seededRandom } from './sandbox-random';

describe('parseMarkers', () => {
  it('finds no behaviours in a prompt without markers', () => {
    expect(parseMarkers('A calm song about the sea')).toBeUndefined();
  });

  it('reads every block anywhere in the prompt, flags and values, with spaces', () => {
    const behaviours = parseMarkers(
      '[sandbox:camel, duplicate=3] A song [sandbox:delay=50,null-polls=1,pending-polls=2,throttle=1,throttle-http=2,lyricsData]' +
        ' [sandbox:throttle-polls=3,retry-after=7]',
    );
    expect(behaviours).toEqual({
      source: 'markers',
      outcome: 'success',
      drop: false,
      copies: 3,
      spelling: 'camel',
      lyricsData: true,
      forge: false,
      early: false,
      delayMs: 50,
      throttlePolls: 3,
      retryAfterSeconds: 7,
      nullPolls: 1,
      pendingPolls: 2,
      throttle: 1,
      throttleHttp: 2,
      hang: false,
      acceptedAnswer: { body: 'envelope', status: 200 },
      answerDelayMs: 0,
    });
  });

  it('reads the create-answer markers, the last answer marker winning', () => {
    expect(parseMarkers('[sandbox:gateway=502]')).toMatchObject({ acceptedAnswer: { body: 'html', status: 502 }, answerDelayMs: 0 });
    expect(parseMarkers('[sandbox:empty-answer=200]')?.acceptedAnswer).toEqual({ body: 'empty', status: 200 });
    expect(parseMarkers('[sandbox:answer-status=500]')?.acceptedAnswer).toEqual({ body: 'envelope', status: 500 });
    expect(parseMarkers('[sandbox:gateway=599,empty-answer=500]')?.acceptedAnswer).toEqual({ body: 'empty', status: 500 });
    expect(parseMarkers('[sandbox:answer-delay=250, gateway=504]')).toMatchObject({
      acceptedAnswer: { body: 'html', status: 504 },
      answerDelayMs: 250,
    });
  });

  it('maps the outcome markers, the last one winning', () => {
    expect(parseMarkers('[sandbox:fail]')?.outcome).toBe('GENERATE_LYRICS_FAILED');
    expect(parseMarkers('[sandbox:status=SENSITIVE_WORD_ERROR]')?.outcome).toBe('SENSITIVE_WORD_ERROR');
    expect(parseMarkers('[sandbox:fail,never]')?.outcome).toBe('never');
    expect(parseMarkers('[sandbox:duplicate]')?.copies).toBe(2);
    expect(parseMarkers('[sandbox:reject=455,http-status=503,hang,drop,forge,early]')).toMatchObject({
      reject: 455,
      httpStatus: 503,
      hang: true,
      drop: true,
      forge: true,
      early: true,
    });
  });

  it('an empty block asks for a plain task', () => {
    expect(parseMarkers('A song [sandbox:]')).toMatchObject({ source: 'markers', outcome: 'success', copies: 1, drop: false });
  });

  it.each([
    ['[sandbox:explode]', 'unknown sandbox marker "explode"'],
    ['[sandbox:drop=1]', 'sandbox marker drop takes no value'],
    ['[sandbox:delay]', 'sandbox marker delay needs a value'],
    ['[sandbox:delay=-5]', 'sandbox marker delay needs an integer from 0 to 9007199254740991, got "-5"'],
    ['[sandbox:duplicate=0]', 'sandbox marker duplicate needs an integer from 1 to 100, got "0"'],
    ['[sandbox:http-status=200]', 'sandbox marker http-status needs an integer from 400 to 599, got "200"'],
    ['[sandbox:gateway]', 'sandbox marker gateway needs a value'],
    ['[sandbox:gateway=499]', 'sandbox marker gateway needs an integer from 500 to 599, got "499"'],
    ['[sandbox:gateway=600]', 'sandbox marker gateway needs an integer from 500 to 599, got "600"'],
    ['[sandbox:empty-answer=199]', 'sandbox marker empty-answer needs an integer from 200 to 599, got "199"'],
    ['[sandbox:answer-status=5xx]', 'sandbox marker answer-status needs an integer from 200 to 599, got "5xx"'],
    ['[sandbox:answer-delay=-1]', 'sandbox marker answer-delay needs an integer from 0 to 9007199254740991, got "-1"'],
    ['[sandbox:status=DONE]', expect.stringContaining('sandbox marker status must be one of GENERATE_LYRICS_FAILED')],
    ['[sandbox:reject=418]', expect.stringContaining('sandbox marker reject knows the codes 400, 401')],
    ['[sandbox:constructor]', 'unknown sandbox marker "constructor"'],
  ])('refuses %s', (prompt, message) => {
    expect(() => parseMarkers(prompt)).toThrow(MarkerError);
    expect(() => parseMarkers(prompt)).toThrow(expect.objectContaining({ message }));
  });
});

describe('drawFromMix', () => {
  const zero: SandboxMix = { drop: 0, duplicate: 0, camelCase: 0, forged: 0, failure: 0, hang: 0, gateway: 0 };
  const mix: SandboxMix = { drop: 0.3, duplicate: 0.3, camelCase: 0.3, forged: 0.3, failure: 0.3, hang: 0.3, gateway: 0.3 };
  const draw = (seed: number, drawn = mix, count = 50) => {
    const random = mixRandom(seed);
    return Array.from({ length: count }, () => drawFromMix(drawn, random));
  };

  it('is reproducible from the seed, and varies with it', () => {
    expect(draw(42)).toEqual(draw(42));
    expect(draw(42)).not.toEqual(draw(43));
  });

  it('draws each behaviour at about its probability', () => {
    const draws = Array.from({ length: 20 }, (_, seed) => draw(seed)).flat();
    const share = (test: (b: (typeof draws)[number]) => boolean) => draws.filter(test).length / draws.length;
    expect(share((b) => b.drop)).toBeCloseTo(0.3, 1);
    expect(share((b) => b.copies === 2)).toBeCloseTo(0.3, 1);
    expect(share((b) => b.spelling === 'camel')).toBeCloseTo(0.3, 1);
    expect(share((b) => b.forge)).toBeCloseTo(0.3, 1);
    expect(share((b) => b.outcome === 'GENERATE_LYRICS_FAILED')).toBeCloseTo(0.3, 1);
    expect(share((b) => b.hang)).toBeCloseTo(0.3, 1);
    expect(share((b) => b.acceptedAnswer.body === 'html')).toBeCloseTo(0.3, 1);
    expect(share((b) => b.acceptedAnswer.status === 502)).toBeCloseTo(0.15, 1);
    expect(share((b) => b.acceptedAnswer.status === 504)).toBeCloseTo(0.15, 1);
    expect(draws.every((b) => b.source === 'mix' && b.answerDelayMs === 0)).toBe(true);
  });

  it('draws nothing with the default mix of zeros', () => {
    expect(drawFromMix(zero, mixRandom(1))).toMatchObject({
      drop: false,
      copies: 1,
      spelling: 'snake',
      forge: false,
      outcome: 'success',
      hang: false,
      acceptedAnswer: { body: 'envelope', status: 200 },
    });
  });

  it('draws the same for every task whatever the probabilities, each key independent of the others', () => {
    // Each key alone at 0.5 against the full mix: every task gets the same verdict on that key either way.
    const verdict: Record<(typeof MIX_KEYS)[number], (b: ReturnType<typeof drawFromMix>) => unknown> = {
      drop: (b) => b.drop,
      duplicate: (b) => b.copies,
      camelCase: (b) => b.spelling,
      forged: (b) => b.forge,
      failure: (b) => b.outcome,
      hang: (b) => b.hang,
      gateway: (b) => b.acceptedAnswer,
    };
    const full = { drop: 0.5, duplicate: 0.5, camelCase: 0.5, forged: 0.5, failure: 0.5, hang: 0.5, gateway: 0.5 };
    for (const key of MIX_KEYS) {
      const alone = draw(9, { ...zero, [key]: 0.5 }, 200).map(verdict[key]);
      expect(draw(9, full, 200).map(verdict[key])).toEqual(alone);
    }
  });

  it("keeps the callback and outcome draws every seed had before hang and gateway: five per task from the seed's stream", () => {
    const random = seededRandom(20261127);
    const before = Array.from({ length: 60 }, () => {
      const [drop, duplicate, camelCase, forged, failure] = [random(), random(), random(), random(), random()];
      return { drop: drop < 0.3, copies: duplicate < 0.2 ? 2 : 1, camel: camelCase < 0.1, forge: forged < 0.05, failed: failure < 0.05 };
    });
    const now = draw(20261127, { ...mix, drop: 0.3, duplicate: 0.2, camelCase: 0.1, forged: 0.05, failure: 0.05 }, 60);
    expect(
      now.map((b) => ({
        drop: b.drop,
        copies: b.copies,
        camel: b.spelling === 'camel',
        forge: b.forge,
        failed: b.outcome !== 'success',
      })),
    ).toEqual(before);
  });
});
