// sha1-compress.ts is generated (scripts/generate-sha1-compress.ts): the file in the tree must be
// exactly what the script writes, so nobody edits the output by hand and no edit of the script
// is left ungenerated.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { SHA1_COMPRESS_FILE, sha1CompressSource } from '../../scripts/generate-sha1-compress.js';

t.test('shared/src/sha1-compress.ts is what scripts/generate-sha1-compress.ts writes (npm run generate)', async (t) => {
  t.equal(readFileSync(SHA1_COMPRESS_FILE, 'utf8'), sha1CompressSource());
});
