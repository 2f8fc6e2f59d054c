/** idp_params as relying parties send them to a code-display broker: what is asked, or why not. */
import t from 'tap';
import { parseIdpParams } from '../src/domain/approval.js';

const asked = (mitid: unknown) => parseIdpParams(JSON.stringify({ mitid }));
const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

t.test('what is asked', async (t) => {
  t.same(parseIdpParams(undefined), { action: 'LOG_ON' }, 'nothing: a login');
  t.same(parseIdpParams(''), { action: 'LOG_ON' });
  t.same(asked({}), { action: 'LOG_ON' });
  t.same(asked({ action_text: 'SIGN' }), { action: 'SIGN' });
  t.same(asked({ reference_text: b64('Pay 10 DKK'), action_text: 'APPROVE' }), { action: 'APPROVE', referenceText: 'Pay 10 DKK' });
  const danish = 'Overfør 1.250,00 kr. til Ærø Færger 😀';
  t.same(asked({ reference_text: b64(danish) }), { action: 'LOG_ON', referenceText: danish }, 'UTF-8, standard base64');
  t.same(asked({ reference_text: Buffer.from(danish).toString('base64url') }), { action: 'LOG_ON', referenceText: danish }, 'or base64url');
  t.same(
    asked({ reference_text: b64('å'.repeat(130)) }),
    { action: 'LOG_ON', referenceText: 'å'.repeat(130) },
    '130 characters (260 bytes)',
  );
});

t.test('why not', async (t) => {
  const refused: Array<[unknown, RegExp]> = [
    [['a', 'b'], /given once/],
    ['{', /JSON object/],
    ['null', /"mitid" object/],
    [JSON.stringify({ mitid: 'x' }), /"mitid" object/],
    [JSON.stringify({ mitid: [] }), /"mitid" object/],
  ];
  for (const [value, why] of refused) t.match(parseIdpParams(value), { error: why }, JSON.stringify(value));
  t.match(asked({ action_text: 'TRANSFER' }), { error: /one of LOG_ON, APPROVE, CONFIRM, ACCEPT, SIGN/ });
  t.match(asked({ action_text: 7 }), { error: /action_text/ });
  t.match(asked({ reference_text: b64('x'.repeat(131)) }), { error: /1 to 130 characters once decoded/ });
  t.match(asked({ reference_text: '' }), { error: /base64/ });
  t.match(asked({ reference_text: 'not base64!' }), { error: /base64/ });
  t.match(asked({ reference_text: Buffer.from([0xff, 0xfe]).toString('base64') }), { error: /UTF-8/ }, 'bytes that are no UTF-8');
  t.match(asked({ reference_text: 12 }), { error: /base64/ });
});
