/**
 * `--vcd OUT.vcd` for `step` and `run`: records the machine's trace from now on and writes the
 * dump (atomically, like every file the CLI writes) when the session ends.
 */
import type { Machine } from '../machine.js';
import { VcdRecorder } from '../vcd.js';
import { writeFileAtomic } from './files.js';

export function startVcd(machine: Machine, outPath: string): { finish(): void } {
  const s = machine.state();
  const recorder = new VcdRecorder(machine.now(), {
    button: s.buttonDown,
    segments: machine.lcdSegments(),
    batteryChargeUc: s.batteryTrueCharge / 1000,
    nvmBusy: s.nvmBusy,
  });
  machine.onTrace((r) => recorder.record(r));
  return {
    finish: () => {
      recorder.end(machine.now());
      writeFileAtomic(outPath, recorder.toString());
    },
  };
}
