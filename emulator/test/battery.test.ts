import t from 'tap';
import { Battery, CR2032_CAPACITY_NC, type BatteryLoadFigures } from '../src/battery.js';
import { YEAR_US } from '../src/crystal.js';
import { Machine } from '../src/machine.js';
import { Scheduler } from '../src/scheduler.js';

const figures: BatteryLoadFigures = {
  sleepCurrentNa: 1_000,
  displayCurrentNa: 20_000,
  activeCurrentNa: 2_000_000,
  nvmWriteNcPerByte: 50,
  selfDischargePerYear: 0.01,
  cpuHz: 8_000_000,
};
const HOUR = 3600e6;

t.test('225 mAh is 810 C', (t) => {
  t.equal(CR2032_CAPACITY_NC, 8.1e11);
  t.end();
});

t.test('continuous draws integrate exactly; discrete draws subtract', (t) => {
  const s = new Scheduler(0);
  const b = new Battery(s, figures, { capacityNc: 1e9, chargeNc: 1e9 });
  const selfNa = (1e9 * 0.01) / (YEAR_US / 1e6);
  t.equal(b.currentNa(), selfNa, 'unpowered: self-discharge only');
  b.setLoad({ powered: true });
  s.runUntil(HOUR);
  t.ok(Math.abs(1e9 - b.chargeNc - (1_000 + selfNa) * 3600) < 1e-3, 'an hour of standby');
  b.setLoad({ displayOn: true });
  s.runUntil(2 * HOUR);
  t.ok(Math.abs(1e9 - b.chargeNc - (1_000 + selfNa) * 7200 - 20_000 * 3600) < 1e-3, 'plus an hour of display');
  const before = b.chargeNc;
  b.drawCycles(8_000_000); // one second active
  t.ok(Math.abs(before - b.chargeNc - 2_000_000) < 1e-6);
  b.drawNvm(10);
  t.ok(Math.abs(before - b.chargeNc - 2_000_500) < 1e-6);
  t.equal(b.capacityNc, 1e9);
  t.notOk(b.dead);
  t.end();
});

t.test('the brown-out comes at the instant the charge runs out, even asleep for days', (t) => {
  const s = new Scheduler(0);
  const traces: Array<Record<string, unknown>> = [];
  const b = new Battery(s, { ...figures, selfDischargePerYear: 0 }, { capacityNc: 1e9, chargeNc: 86_400 * 1_000 * 3 }, (_w, d) =>
    traces.push(d),
  );
  let lostAt = -1;
  b.onBrownOut(() => {
    lostAt = s.now;
  });
  b.setLoad({ powered: true });
  s.runUntil(10 * 86_400e6);
  t.equal(lostAt, 3 * 86_400e6, 'three days of 1 µA standby from 259.2 mC');
  t.ok(b.dead);
  t.equal(b.chargeNc, 0);
  t.equal(b.currentNa(), 0);
  t.match(traces.at(-1), { dead: true, chargeNc: 0 });
  b.drawCycles(100); // nothing happens any more
  t.equal(b.chargeNc, 0);
  t.end();
});

t.test('a discrete draw can empty the cell too, and the save keeps the state', (t) => {
  const s = new Scheduler(5);
  const b = new Battery(s, figures, { capacityNc: 1e6, chargeNc: 1000 });
  let lost = 0;
  b.onBrownOut(() => lost++);
  b.drawNvm(19);
  t.equal(lost, 0);
  b.drawNvm(1);
  t.equal(lost, 1);
  t.match(b.save(), { capacityNc: 1e6, chargeNc: 0, dead: true, atUs: 5 });
  const dead = new Battery(s, figures, { capacityNc: 1e6, chargeNc: 0 });
  t.ok(dead.dead, 'an empty cell starts dead');
  t.end();
});

t.test('rejects bad figures and charges, naming them', (t) => {
  const s = new Scheduler(0);
  t.throws(() => new Battery(s, { ...figures, sleepCurrentNa: -1 }, { capacityNc: 1, chargeNc: 1 }), {
    code: 'ERR_ARGUMENT',
    message: /sleepCurrentNa/,
  });
  t.throws(() => new Battery(s, figures, { capacityNc: 0, chargeNc: 0 }), { code: 'ERR_ARGUMENT', message: /capacityNc/ });
  t.throws(() => new Battery(s, figures, { capacityNc: 1, chargeNc: 2 }), { code: 'ERR_ARGUMENT', message: /chargeNc/ });
  t.end();
});

t.test('self-discharge doubles every 10 °C about 25 °C; the machine passes its temperature on', (t) => {
  const s = new Scheduler(0);
  const b = new Battery(s, figures, { capacityNc: 1e9, chargeNc: 1e9 });
  const at25 = b.currentNa();
  t.equal(at25, (1e9 * 0.01) / (YEAR_US / 1e6), 'at 25 °C, the figure itself');
  b.setTemperature(35);
  t.ok(Math.abs(b.currentNa() / at25 - 2) < 1e-12, '35 °C: twice');
  b.setTemperature(5);
  t.ok(Math.abs(b.currentNa() / at25 - 0.25) < 1e-12, '5 °C: a quarter');
  s.runUntil(HOUR);
  t.ok(Math.abs(1e9 - b.chargeNc - at25 * 0.25 * 3600) < 1e-6, 'an hour at 5 °C');
  t.equal(b.save().temperatureC, 5, 'saved with the state');
  t.throws(() => b.setTemperature(Number.NaN), { code: 'ERR_ARGUMENT', message: /temperature/ });
  const cold = new Battery(
    new Scheduler(0),
    { ...figures, selfDischargePerYear: 1e-12 },
    { capacityNc: 1e9, chargeNc: 1e9, temperatureC: -60 },
  );
  t.equal(cold.dead, false, "a brown-out beyond the scheduler's clock is simply not scheduled");

  const machine = (temperatureC: number) => {
    const m = Machine.manufacture({ profile: 'totp-sha1', manufacturedAt: Date.UTC(2026, 0, 1), temperatureC, seed: 1, traceLimit: 0 });
    m.advance(YEAR_US);
    return m.state().batteryTrueCharge;
  };
  const spent = (c: number) => CR2032_CAPACITY_NC - machine(c);
  t.ok(
    spent(45) > spent(25) && spent(25) > spent(0),
    `a year asleep costs more when warm: ${[0, 25, 45].map((c) => (spent(c) / 3.6e9).toFixed(2)).join(' / ')} mAh at 0 / 25 / 45 °C`,
  );
  t.end();
});
