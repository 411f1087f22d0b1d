import { writeLyrics } from './sandbox-lyrics';

describe('writeLyrics', () => {
  it('writes 2 or 3 titled variants with a verse and a chorus', () => {
    const counts = new Set<number>();
    for (let i = 0; i < 40; i++) {
      const variants = writeLyrics(`A song number ${i}`);
      counts.add(variants.length);
      for (const { title, text } of variants) {
        expect(title).toMatch(/^[A-Z]\w+ [A-Z]\w+$/);
        expect(text).toMatch(/^\[Verse\]\n(.+\n){4}\n\[Chorus\]\n(.+\n){2}.+$/);
      }
    }
    expect([...counts].sort()).toEqual([2, 3]);
  });

  it('is a function of the prompt', () => {
    expect(writeLyrics('A calm song about the sea')).toEqual(writeLyrics('A calm song about the sea'));
    expect(writeLyrics('A calm song about the sea')).not.toEqual(writeLyrics('A calm song about the sea.'));
  });
});
