// hotp counters above 2^53 − 1 over HTTP, on SQLite and on PostgreSQL: a token imported at
// counter 16887061004979670 (as a real multiOTP export carries it, encrypted) as JSON (a decimal
// string), as PSKC and as PSKC with the Counter encrypted; its codes, computed here with
// node:crypto, accepted at exactly that counter and never again; the token, the audit log and its
// hash chain all carrying the exact value. A counter of 2^63 − 1 is the last a token takes;
// anything larger is refused at import with a 400 naming the limit.
import { createCipheriv, createHmac, randomBytes } from 'node:crypto';
import t from 'tap';
import type { FastifyInstance } from 'fastify';
import { MAX_MOVING_FACTOR } from '@kodeviser/shared';
import { writePskc } from '@kodeviser/shared/pskc';
import { verified, verifyLog } from '../src/audit-log.js';
import { checkpointKey } from '../src/security/audit-checkpoint.js';
import { openPostgresStore } from '../src/store/postgres.js';
import { openSqliteStore } from '../src/store/sqlite.js';
import type { TokenStore } from '../src/store/types.js';
import { admin, keyFor, newSerial, post, PSKC_KEY_HEX, testApp } from './http-helpers.js';
import { tempDbPath, type TapLike } from './helpers/db.js';
import { requirePostgres, tempSchema } from './helpers/postgres.js';

const MULTIOTP_COUNTER = 16887061004979670n;
const LIMIT = 'is above the limit 9223372036854775807 (2^63 − 1)';
const pskcHeaders = { ...admin, 'content-type': 'application/pskc+xml', 'x-pskc-key': PSKC_KEY_HEX };

/** RFC 4226 by node:crypto: HMAC-SHA1 of the 8-byte big-endian counter, truncated to 6 digits. */
function code(keyHex: string, counter: bigint): string {
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(counter);
  const mac = createHmac('sha1', Buffer.from(keyHex, 'hex')).update(message).digest();
  const value = mac.readUInt32BE((mac[19] as number) & 0x0f) & 0x7fffffff;
  return String(value % 1_000_000).padStart(6, '0');
}

/**
 * A PSKC document with the Secret and the Counter encrypted (AES-128-CBC, HMAC-SHA1 ValueMACs) by
 * node:crypto, the counter as its unsigned big-endian bytes, as multiOTP and python-pskc write it.
 */
function encryptedCounterPskc(serial: string, keyHex: string, counter: bigint): string {
  const key = Buffer.from(PSKC_KEY_HEX, 'hex');
  const macKey = randomBytes(20);
  const cbc = (plain: Buffer): Buffer => {
    const iv = randomBytes(16);
    const cipher = createCipheriv('aes-128-cbc', key, iv);
    return Buffer.concat([iv, cipher.update(plain), cipher.final()]);
  };
  const cipherData = (cipherValue: Buffer): string =>
    '<xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/>' +
    `<xenc:CipherData><xenc:CipherValue>${cipherValue.toString('base64')}</xenc:CipherValue></xenc:CipherData>`;
  const encrypted = (plain: Buffer): string => {
    const cipherValue = cbc(plain);
    return `<EncryptedValue>${cipherData(cipherValue)}</EncryptedValue><ValueMAC>${createHmac('sha1', macKey).update(cipherValue).digest('base64')}</ValueMAC>`;
  };
  const hex = counter.toString(16);
  const counterBytes = Buffer.from(hex.padStart(hex.length + (hex.length % 2), '0'), 'hex');
  return `<?xml version="1.0" encoding="UTF-8"?>
<KeyContainer Version="1.0" xmlns="urn:ietf:params:xml:ns:keyprov:pskc" xmlns:ds="http://www.w3.org/2000/09/xmldsig#"
    xmlns:xenc="http://www.w3.org/2001/04/xmlenc#">
  <EncryptionKey><ds:KeyName>Pre-shared-key</ds:KeyName></EncryptionKey>
  <MACMethod Algorithm="http://www.w3.org/2000/09/xmldsig#hmac-sha1"><MACKey>${cipherData(cbc(macKey))}</MACKey></MACMethod>
  <KeyPackage>
    <DeviceInfo><Manufacturer>multiOTP</Manufacturer><SerialNo>${serial}</SerialNo></DeviceInfo>
    <Key Id="${serial}" Algorithm="urn:ietf:params:xml:ns:keyprov:pskc:hotp">
      <AlgorithmParameters><ResponseFormat Length="6" Encoding="DECIMAL"/></AlgorithmParameters>
      <Data><Secret>${encrypted(Buffer.from(keyHex, 'hex'))}</Secret><Counter>${encrypted(counterBytes)}</Counter></Data>
    </Key>
  </KeyPackage>
</KeyContainer>`;
}

/** A database of the test's own: each call opens a store on it. */
type Database = (t: TapLike) => Promise<() => Promise<TokenStore>>;
const databases: Record<string, Database> = {
  SQLite: async (t) => {
    const path = tempDbPath(t);
    return async () => openSqliteStore(path);
  },
  PostgreSQL: async (t) => {
    const { url } = await tempSchema(t);
    return () => openPostgresStore(url, { poolSize: 4 });
  },
};

const importJson = (app: FastifyInstance, tokens: unknown[]) => post(app, '/v1/tokens', { tokens }, admin);
const importPskc = (app: FastifyInstance, payload: string) =>
  app.inject({ method: 'POST', url: '/v1/tokens', headers: pskcHeaders, payload });
const validate = async (app: FastifyInstance, serial: string, otp: string) => {
  const res = await post(app, '/v1/validate', { serial, otp }, admin);
  if (res.statusCode !== 200) throw new Error(`validate answered ${res.statusCode}: ${res.body}`);
  return { body: res.json() as Record<string, unknown>, text: res.body };
};
const tokenOf = async (app: FastifyInstance, serial: string) =>
  (await app.inject({ url: `/v1/tokens/${serial}`, headers: admin })).json() as Record<string, unknown>;

for (const [name, database] of Object.entries(databases)) {
  t.test(`${name}: a hotp token at counter 16887061004979670, imported three ways, validates exactly`, async (t) => {
    if (name === 'PostgreSQL' && !(await requirePostgres(t))) return;
    const open = await database(t);
    const { app, config } = await testApp(t, { store: await open() });
    const [json, pskc, encrypted] = [newSerial(), newSerial(), newSerial()];

    const byJson = await importJson(app, [{ serial: json, profile: 'hotp-sha1', keyHex: keyFor(json), counter: '16887061004979670' }]);
    t.equal(byJson.statusCode, 201, byJson.body);
    const plainDoc = writePskc(
      [{ id: pskc, serial: pskc, profile: 'hotp-sha1', secret: Buffer.from(keyFor(pskc), 'hex'), counter: MULTIOTP_COUNTER }],
      { preSharedKey: Buffer.from(PSKC_KEY_HEX, 'hex') },
    );
    const byPskc = await importPskc(app, plainDoc);
    t.equal(byPskc.statusCode, 201, byPskc.body);
    const byEncrypted = await importPskc(app, encryptedCounterPskc(encrypted, keyFor(encrypted), MULTIOTP_COUNTER));
    t.equal(byEncrypted.statusCode, 201, byEncrypted.body);

    for (const serial of [json, pskc, encrypted]) {
      const keyHex = keyFor(serial);
      t.equal((await tokenOf(app, serial)).lastMovingFactor, '16887061004979669', `${serial}: imported at counter − 1, exactly`);
      const first = await validate(app, serial, code(keyHex, MULTIOTP_COUNTER));
      t.strictSame(first.body, { result: 'accept', serial, movingFactor: '16887061004979670' }, `${serial}: the next code`);
      t.match(first.text, '"movingFactor":"16887061004979670"', 'a decimal string, not a rounded JSON number');
      t.strictSame(
        (await validate(app, serial, code(keyHex, MULTIOTP_COUNTER))).body,
        { result: 'reject', serial, movingFactor: null },
        'a replay',
      );
      t.equal((await tokenOf(app, serial)).lastMovingFactor, '16887061004979670');
      t.equal((await validate(app, serial, code(keyHex, MULTIOTP_COUNTER + 3n))).body.movingFactor, '16887061004979673', 'a press skipped');
    }

    // The user's wide-window resync and the admin's, both above 2^53.
    const keyHex = keyFor(json);
    t.equal((await validate(app, json, code(keyHex, MULTIOTP_COUNTER + 50n))).body.result, 'resync-started');
    t.equal((await validate(app, json, code(keyHex, MULTIOTP_COUNTER + 51n))).body.movingFactor, '16887061004979721', 'resync completed');
    const resync = await post(
      app,
      `/v1/tokens/${json}/resync`,
      { otp1: code(keyHex, MULTIOTP_COUNTER + 500n), otp2: code(keyHex, MULTIOTP_COUNTER + 501n) },
      admin,
    );
    t.equal(resync.statusCode, 200, resync.body);
    t.strictSame(resync.json(), { result: 'resynced', serial: json, movingFactor: '16887061004980171', drift: 0 });
    t.equal((await tokenOf(app, json)).lastMovingFactor, '16887061004980171');

    const audit = (await app.inject({ url: `/v1/audit?serial=${json}`, headers: admin })).json().events as Array<Record<string, unknown>>;
    t.strictSame(
      audit.filter((e) => e.movingFactor !== null).map((e) => [e.type, e.movingFactor]),
      [
        ['resync', '16887061004980171'],
        ['accept', '16887061004979721'],
        ['resync-started', '16887061004979720'],
        ['accept', '16887061004979673'],
        ['accept', '16887061004979670'],
      ],
      'the audit log holds the exact moving factors',
    );
    t.ok(
      audit.some((e) => e.type === 'reject' && e.reason === 'replay'),
      'the replay is audited',
    );

    // The rows' hash chains hash the exact digits: a read that rounded them would break them.
    await app.close();
    const store = await open();
    try {
      t.equal((await store.getToken(json))?.lastMovingFactor, 16887061004980171n);
      const report = await verifyLog(store.auditArchive, await checkpointKey(config.masterKey));
      t.ok(verified(report), `the audit log verifies: ${JSON.stringify(report.breaks)}`);
      t.equal(report.rows, 15, 'every row checked: 3 imports, 9 validations, the resync started and completed, the admin resync');
    } finally {
      await store.close();
    }
  });

  t.test(`${name}: a counter of 2^63 − 1 is accepted once; after it no code is next`, async (t) => {
    if (name === 'PostgreSQL' && !(await requirePostgres(t))) return;
    const open = await database(t);
    const { app, config } = await testApp(t, { store: await open() });
    const serial = newSerial();
    const keyHex = keyFor(serial);
    const imported = await importJson(app, [{ serial, profile: 'hotp-sha1', keyHex, counter: '9223372036854775807' }]);
    t.equal(imported.statusCode, 201, imported.body);
    t.equal((await tokenOf(app, serial)).lastMovingFactor, '9223372036854775806');

    t.strictSame((await validate(app, serial, code(keyHex, MAX_MOVING_FACTOR))).body, {
      result: 'accept',
      serial,
      movingFactor: '9223372036854775807',
    });
    // The token would show 2^63 next: no store keeps it, so no window reaches it.
    t.strictSame((await validate(app, serial, code(keyHex, MAX_MOVING_FACTOR + 1n))).body, {
      result: 'reject',
      serial,
      movingFactor: null,
    });
    t.strictSame((await validate(app, serial, code(keyHex, MAX_MOVING_FACTOR))).body, { result: 'reject', serial, movingFactor: null });
    t.equal((await tokenOf(app, serial)).lastMovingFactor, '9223372036854775807');
    const audit = (await app.inject({ url: `/v1/audit?serial=${serial}`, headers: admin })).json().events as Array<Record<string, unknown>>;
    t.strictSame(
      audit.map((e) => [e.type, e.reason, e.movingFactor]),
      [
        ['reject', 'replay', null],
        ['reject', 'bad-otp', null],
        ['accept', null, '9223372036854775807'],
        ['import', null, null],
      ],
    );

    await app.close();
    const store = await open();
    try {
      t.ok(verified(await verifyLog(store.auditArchive, await checkpointKey(config.masterKey))), 'the audit log verifies');
    } finally {
      await store.close();
    }
  });
}

t.test('a counter above 2^63 − 1 is refused at import with a 400 naming the limit; nothing is imported', async (t) => {
  const { app } = await testApp(t);
  const serial = newSerial();
  const keyHex = keyFor(serial);
  const refused = async (res: Awaited<ReturnType<typeof importJson>>, error: string, message: string | RegExp, what: string) => {
    t.equal(res.statusCode, 400, `${what}: ${res.body}`);
    t.match(res.json(), { error, message }, what);
  };
  await refused(
    await importJson(app, [{ serial, profile: 'hotp-sha1', keyHex, counter: '9223372036854775808' }]),
    'bad-request',
    `tokens[0].counter 9223372036854775808 ${LIMIT}`,
    'JSON, 2^63',
  );
  await refused(
    await importJson(app, [{ serial, profile: 'hotp-sha1', keyHex, counter: '18446744073709551615' }]),
    'bad-request',
    `tokens[0].counter 18446744073709551615 ${LIMIT}`,
    'JSON, 2^64 − 1',
  );
  await refused(
    await importJson(app, [{ serial, profile: 'hotp-sha1', keyHex, counter: 16887061004979670 }]),
    'bad-request',
    'tokens[0].counter 16887061004979670 is above 2^53 − 1 and so not exact as a JSON number: give it as a decimal string',
    'JSON, a number above 2^53 − 1',
  );
  await refused(await importJson(app, [{ serial, profile: 'hotp-sha1', keyHex, counter: '-1' }]), 'bad-request', /counter/, 'JSON, "-1"');
  await refused(await importJson(app, [{ serial, profile: 'hotp-sha1', keyHex, counter: -1 }]), 'bad-request', /counter/, 'JSON, -1');

  const secret = Buffer.from(keyHex, 'hex');
  const plain = writePskc([{ id: serial, serial, profile: 'hotp-sha1', secret, counter: 0 }]).replace(
    '<pskc:Counter><pskc:PlainValue>0</pskc:PlainValue>',
    '<pskc:Counter><pskc:PlainValue>18446744073709551615</pskc:PlainValue>',
  );
  await refused(await importPskc(app, plain), 'bad-pskc', `key "${serial}": Counter 18446744073709551615 ${LIMIT}`, 'PSKC, 2^64 − 1');
  await refused(
    await importPskc(app, encryptedCounterPskc(serial, keyHex, 2n ** 63n)),
    'bad-pskc',
    `key "${serial}": Counter 9223372036854775808 ${LIMIT}`,
    'PSKC, 2^63 encrypted',
  );
  t.equal((await app.inject({ url: `/v1/tokens/${serial}`, headers: admin })).statusCode, 404, 'nothing imported');
  // and the ordinary counter still imports as a JSON number
  const ok = await importJson(app, [{ serial, profile: 'hotp-sha1', keyHex, counter: 7 }]);
  t.equal(ok.statusCode, 201, ok.body);
  t.equal((await tokenOf(app, serial)).lastMovingFactor, 6);
});
