// Which refusals are counted rather than each written (domain/repeats.ts): an anonymous refusal
// that changes nothing else, keyed by type, reason and address (never by serial or user ID), and
// the row that stands for those counted.
import t from 'tap';
import { audit, auditEntry, refusal, type Write } from '../src/domain/decide.js';
import { phantomWrites } from '../src/domain/guessing.js';
import { repeatable, repeatKey, summaryEntry } from '../src/domain/repeats.js';
import type { AuditEntry } from '../src/store/types.js';

const AT = Date.UTC(2026, 0, 1, 12);
const anonymous = { at: AT, ip: '203.0.113.7', userId: null };

t.test('an anonymous refusal alone is repeatable', async (t) => {
  const unknownToken = refusal(anonymous, 'unknown-token', '1000000008').writes;
  t.same(repeatable(unknownToken), (unknownToken[0] as Extract<Write, { kind: 'audit' }>).entry);
  const phantom = phantomWrites({ ...anonymous, userId: 'nobody' }, { result: 'reject', reason: 'not-activated' });
  t.match(repeatable(phantom), { type: 'reject', reason: 'not-activated', userId: 'nobody' });
});

t.test('anything else is not', async (t) => {
  const entry = auditEntry(anonymous, 'reject', '1000000008', 'bad-otp', null);
  t.equal(repeatable([]), null, 'no writes');
  t.equal(repeatable([{ kind: 'failures', serial: '1000000008', failures: 1 }, audit(entry)]), null, 'a wrong code counts a failure');
  t.equal(repeatable([audit(entry), audit(entry)]), null, 'two rows');
  t.equal(repeatable([audit({ ...entry, type: 'accept' })]), null, 'not a refusal');
  t.equal(repeatable([audit({ ...entry, actor: 'svc-1' })]), null, 'a caller with a credential is accountable for each');
  t.equal(repeatable(refusal({ ...anonymous, actor: 'svc-1' }, 'unknown-token', '1000000008').writes), null, 'as /v1/validate audits');
});

t.test('the key is the type, reason and address: not the serial or user ID', async (t) => {
  const row = (over: Partial<AuditEntry>): AuditEntry => ({ ...auditEntry(anonymous, 'reject', null, 'not-activated', null), ...over });
  const key = repeatKey(row({ userId: 'alice' }));
  t.equal(repeatKey(row({ userId: 'bob', at: AT + 5 })), key, 'another user ID, later');
  t.equal(repeatKey(row({ serial: '1000000008' })), key, 'a serial');
  t.not(repeatKey(row({ ip: '203.0.113.8' })), key, 'another address');
  t.not(repeatKey(row({ reason: 'blocked' })), key, 'another reason');
  t.not(repeatKey(row({ ip: null })), repeatKey(row({ ip: 'null' })), 'no address is not the address "null"');
});

t.test('the summary: the latest time, what all of them shared, how many', async (t) => {
  const first = auditEntry({ ...anonymous, userId: 'alice' }, 'reject', '1000000008', 'blocked', null);
  const one = summaryEntry(null, first);
  t.same(one, { ...first, actor: null, movingFactor: null, repeats: 1 });
  const same = summaryEntry(one, { ...first, at: AT + 10 });
  t.same(same, { ...one, at: AT + 10, repeats: 2 }, 'the serial and user ID all of them named');
  const sprayed = summaryEntry(same, { ...first, at: AT + 5, userId: 'bob' });
  t.same(sprayed, { ...one, at: AT + 10, userId: null, repeats: 3 }, 'the latest time; user IDs differ: none');
  const again = summaryEntry(sprayed, { ...first, at: AT + 20 });
  t.same(again, { ...one, at: AT + 20, userId: null, repeats: 4 }, 'once they differ, none for good');
  t.equal(summaryEntry(again, { ...first, repeats: 7 }).repeats, 11, 'a row that stood for several counts as that many');
});
