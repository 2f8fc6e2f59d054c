import t from 'tap';
import { bytesToHex, createAes, createCmac, createTdea, hexToBytes, type BlockCipher } from '@kodeviser/shared';
import { loadVectors } from './vectors.js';

interface CmacSet {
  name: string;
  cipher: string;
  key: string;
  subkeys_verified: boolean;
  subkeys?: { L: string; K1: string; K2: string };
  examples: Array<{ example: string; msg: string; tag: string; tlen_bits: number }>;
}
const { sets } = loadVectors<{ sets: CmacSet[] }>('cmac.json');

t.test('SP 800-38B and RFC 4493 examples, AES and TDEA', async (t) => {
  t.equal(sets.length, 11);
  for (const set of sets) {
    const key = hexToBytes(set.key);
    const cmac = createCmac(set.cipher.startsWith('AES') ? createAes(key) : createTdea(key));
    if (set.subkeys_verified && set.subkeys) {
      const { k1, k2 } = cmac.subkeys();
      t.equal(bytesToHex(k1), set.subkeys.K1, `${set.name} K1`);
      t.equal(bytesToHex(k2), set.subkeys.K2, `${set.name} K2`);
    }
    for (const ex of set.examples) {
      const tag = bytesToHex(cmac.mac(hexToBytes(ex.msg))).slice(0, ex.tlen_bits / 4);
      t.equal(tag, ex.tag, `${set.name} ${ex.example} (${ex.msg.length / 2} bytes)`);
    }
  }
});

t.test('rejects a block size CMAC has no R_b for, and a non-byte message', async (t) => {
  const odd: BlockCipher = { blockBytes: 12, encryptBlock: () => {}, decryptBlock: () => {} };
  t.throws(() => createCmac(odd), { code: 'ERR_ARGUMENT', message: /cipher.blockBytes must be 8 or 16/ });
  const cmac = createCmac(createAes(new Uint8Array(16)));
  t.throws(() => cmac.mac('abc' as unknown as Uint8Array), { code: 'ERR_ARGUMENT', message: /message/ });
});
