import { createHash } from 'node:crypto';
import { pick, seededRandom } from './sandbox-random';

export interface LyricsVariant {
  title: string;
  text: string;
}

const ADJECTIVES = [
  'quiet',
  'golden',
  'restless',
  'silver',
  'hollow',
  'burning',
  'gentle',
  'midnight',
  'wild',
  'faded',
  'electric',
  'lonely',
];
const NOUNS = ['harbor', 'river', 'city', 'highway', 'garden', 'window', 'ocean', 'mountain', 'train', 'lantern', 'heart', 'summer'];
const VERBS = ['waiting', 'singing', 'falling', 'dreaming', 'running', 'shining', 'calling', 'drifting'];
const TIMES = ['tonight', 'at dawn', 'in the rain', 'till morning', 'after midnight', 'all summer long'];

const capitalise = (word: string) => word[0].toUpperCase() + word.slice(1);

/**
 * KIE's "typically 2-3 variations", each a title and a text with [Verse] and [Chorus] sections. Everything is
 * drawn from a hash of the whole prompt: the same prompt always gets the same lyrics, another prompt other ones.
 */
export function writeLyrics(prompt: string): LyricsVariant[] {
  const digest = createHash('sha256').update(prompt, 'utf8').digest();
  const count = 2 + (digest[0] % 2);
  return Array.from({ length: count }, (_, index) => writeVariant(seededRandom(digest.readUInt32BE(4 + 4 * index))));
}

function writeVariant(random: () => number): LyricsVariant {
  const adjective = pick(random, ADJECTIVES);
  const noun = pick(random, NOUNS);
  const verse = [
    `${capitalise(pick(random, ADJECTIVES))} ${noun}, ${pick(random, VERBS)} ${pick(random, TIMES)}`,
    `Every ${pick(random, NOUNS)} is ${pick(random, VERBS)} too`,
    `I keep the ${adjective} ${pick(random, NOUNS)} close`,
    `${capitalise(pick(random, VERBS))} back to you`,
  ];
  const chorus = [
    `Oh, ${adjective} ${noun}, ${pick(random, VERBS)} ${pick(random, TIMES)}`,
    `Hold on, don't let the ${pick(random, NOUNS)} go`,
    `Oh, ${adjective} ${noun}, we're ${pick(random, VERBS)} slow`,
  ];
  return {
    title: `${capitalise(adjective)} ${capitalise(noun)}`,
    text: `[Verse]\n${verse.join('\n')}\n\n[Chorus]\n${chorus.join('\n')}`,
  };
}
