import { drawFromMix, MarkerError, parseMarkers } from './sandbox-behaviours';
import { seededRandom } from './sandbox-random';

describe('parseMarkers', () => {
  it('finds no behaviours in a prompt without markers', () => {
    expect(parseMarkers('A calm song about the sea')).toBeUndefined();
  });

  it('reads every block anywhere in the prompt, flags and values, with spaces', () => {
    const behaviours = parseMarkers(
      '[sandbox:camel, duplicate=3] A song [sandbox:delay=50,null-polls=1,pending-polls=2,throttle=1,throttle-http=2,lyricsData]',
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
      nullPolls: 1,
      pendingPolls: 2,
      throttle: 1,
      throttleHttp: 2,
      hang: false,
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
    ['[sandbox:status=DONE]', expect.stringContaining('sandbox marker status must be one of GENERATE_LYRICS_FAILED')],
    ['[sandbox:reject=418]', expect.stringContaining('sandbox marker reject knows the codes 400, 401')],
    ['[sandbox:constructor]', 'unknown sandbox marker "constructor"'],
  ])('refuses %s', (prompt, message) => {
    expect(() => parseMarkers(prompt)).toThrow(MarkerError);
    expect(() => parseMarkers(prompt)).toThrow(expect.objectContaining({ message }));
  });
});

describe('drawFromMix', () => {
  const mix = { drop: 0.3, duplicate: 0.3, camelCase: 0.3, forged: 0.3, failure: 0.3 };
  const draw = (seed: number) => {
    const random = seededRandom(seed);
    return Array.from({ length: 50 }, () => drawFromMix(mix, random));
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
    expect(draws.every((b) => b.source === 'mix')).toBe(true);
  });

  it('draws nothing with the default mix of zeros', () => {
    const random = seededRandom(1);
    const zero = { drop: 0, duplicate: 0, camelCase: 0, forged: 0, failure: 0 };
    expect(drawFromMix(zero, random)).toMatchObject({ drop: false, copies: 1, spelling: 'snake', forge: false, outcome: 'success' });
  });
});
