/**
 * The NVM layout: three records, each kept in two slots so that a write cut by power loss or an
 * ESD reset at any byte never destroys the last good copy (docs/token.md). A write always goes
 * to the slot that does not hold the newest valid copy, with the next sequence number; at boot
 * the valid slot with the highest sequence number wins. A slot is valid when its tag is right and
 * its CRC-32 (crc32.ts) matches, so an erased slot (all 0xFF or all 0x00) and a half-written one
 * are both simply invalid.
 *
 * Byte layout (NVM_SIZE = 512 bytes, a 24LC04-sized serial EEPROM; all integers big-endian):
 *
 *   slot      = tag u8 | seq u32 | payload | crc32 u32 over tag..payload
 *
 *   0x000  personalisation slot A  (83 bytes, tag 0x50 'P')
 *   0x060  personalisation slot B
 *          payload (74 bytes): profile u8 (index into PROFILES) | digits u8 | step u8 (seconds)
 *                              | sealed u8 (0/1) | key length u8 (1..64) | key [64] zero-padded
 *                              | serial [5] packed BCD, ten digits, first digit in the high nibble
 *   0x0C0  hotp counter slot A  (17 bytes, tag 0x43 'C')
 *   0x0E0  hotp counter slot B
 *          payload (8 bytes):  the next counter u64 (a safe integer): the counter of every code
 *                              ever shown is below it
 *   0x100  usage slot A  (33 bytes, tag 0x42 'B')
 *   0x140  usage slot B
 *          payload (24 bytes): charge spent, nC, float64 | device time it was accounted to, µs,
 *                              float64 | codes shown u64
 *   0x180 … 0x1FF  unused
 */
import { PROFILES, type ProfileName } from '@kodeviser/shared';
import { crc32 } from './crc32.js';

export const NVM_SIZE = 512;
/** The longest key a personalisation record holds (an HMAC-SHA-512 block-size key). */
export const MAX_KEY_BYTES = 64;

export type RecordKind = 'personalisation' | 'counter' | 'usage';

interface RecordLayout {
  tag: number;
  payloadBytes: number;
  slots: readonly [number, number];
}

const HEADER_BYTES = 5; // tag + seq
const CRC_BYTES = 4;

export const NVM_LAYOUT: Readonly<Record<RecordKind, RecordLayout>> = {
  personalisation: { tag: 0x50, payloadBytes: 74, slots: [0x000, 0x060] },
  counter: { tag: 0x43, payloadBytes: 8, slots: [0x0c0, 0x0e0] },
  usage: { tag: 0x42, payloadBytes: 24, slots: [0x100, 0x140] },
};

export const RECORD_KINDS: readonly RecordKind[] = ['personalisation', 'counter', 'usage'];

export function slotBytes(kind: RecordKind): number {
  return HEADER_BYTES + NVM_LAYOUT[kind].payloadBytes + CRC_BYTES;
}

/** Where a record's newest valid copy is: slot index 0/1 and its sequence number. */
export interface SlotCursor {
  slot: 0 | 1;
  seq: number;
}

/** The newest valid copy of a record in an NVM image, or null when neither slot is valid. */
export function readRecord(image: Uint8Array, kind: RecordKind): { cursor: SlotCursor; payload: Uint8Array } | null {
  const layout = NVM_LAYOUT[kind];
  let best: { cursor: SlotCursor; payload: Uint8Array } | null = null;
  for (const slot of [0, 1] as const) {
    const at = layout.slots[slot];
    const end = at + slotBytes(kind);
    if (end > image.length) continue;
    const view = new DataView(image.buffer, image.byteOffset + at, end - at);
    if (view.getUint8(0) !== layout.tag) continue;
    if (crc32(image, at, end - CRC_BYTES) !== view.getUint32(end - at - CRC_BYTES)) continue;
    const seq = view.getUint32(1);
    if (best === null || seq > best.cursor.seq) {
      best = { cursor: { slot, seq }, payload: image.slice(at + HEADER_BYTES, end - CRC_BYTES) };
    }
  }
  return best;
}

/** The write that stores `payload` as the next copy of a record: into the other slot, seq + 1. */
export function recordWrite(
  kind: RecordKind,
  payload: Uint8Array,
  newest: SlotCursor | null,
): {
  address: number;
  data: Uint8Array;
  cursor: SlotCursor;
} {
  const layout = NVM_LAYOUT[kind];
  if (payload.length !== layout.payloadBytes) throw new RangeError(`${kind} payload must be ${layout.payloadBytes} bytes`);
  const cursor: SlotCursor = newest === null ? { slot: 0, seq: 1 } : { slot: newest.slot === 0 ? 1 : 0, seq: newest.seq + 1 };
  const data = new Uint8Array(slotBytes(kind));
  const view = new DataView(data.buffer);
  view.setUint8(0, layout.tag);
  view.setUint32(1, cursor.seq);
  data.set(payload, HEADER_BYTES);
  view.setUint32(data.length - CRC_BYTES, crc32(data, 0, data.length - CRC_BYTES));
  return { address: layout.slots[cursor.slot], data, cursor };
}

// ---- payloads ------------------------------------------------------------------------------

export interface PersonalisationRecord {
  profile: ProfileName;
  digits: number;
  step: number;
  sealed: boolean;
  key: Uint8Array;
  serial: string;
}

export function encodePersonalisation(p: PersonalisationRecord): Uint8Array {
  const out = new Uint8Array(NVM_LAYOUT.personalisation.payloadBytes);
  out[0] = PROFILES.indexOf(p.profile);
  out[1] = p.digits;
  out[2] = p.step;
  out[3] = p.sealed ? 1 : 0;
  out[4] = p.key.length;
  out.set(p.key, 5);
  for (let i = 0; i < 5; i++) {
    out[5 + MAX_KEY_BYTES + i] = (Number(p.serial[2 * i]) << 4) | Number(p.serial[2 * i + 1]);
  }
  return out;
}

/** The record, or null when its fields are out of range (a record this firmware never wrote). */
export function decodePersonalisation(b: Uint8Array): PersonalisationRecord | null {
  const profile = PROFILES[b[0] as number];
  const keyLength = b[4] as number;
  let serial = '';
  for (let i = 0; i < 5; i++) {
    const byte = b[5 + MAX_KEY_BYTES + i] as number;
    serial += `${byte >> 4}${byte & 0x0f}`;
  }
  if (profile === undefined || keyLength < 1 || keyLength > MAX_KEY_BYTES || !/^[0-9]{10}$/.test(serial)) return null;
  return {
    profile,
    digits: b[1] as number,
    step: b[2] as number,
    sealed: b[3] === 1,
    key: b.slice(5, 5 + keyLength),
    serial,
  };
}

export function encodeCounter(next: number): Uint8Array {
  const out = new Uint8Array(NVM_LAYOUT.counter.payloadBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(next));
  return out;
}

export function decodeCounter(b: Uint8Array): number {
  return Number(new DataView(b.buffer, b.byteOffset, b.length).getBigUint64(0));
}

export interface UsageRecord {
  spentNc: number;
  accountedAt: number;
  codesShown: number;
}

export function encodeUsage(u: UsageRecord): Uint8Array {
  const out = new Uint8Array(NVM_LAYOUT.usage.payloadBytes);
  const view = new DataView(out.buffer);
  view.setFloat64(0, u.spentNc);
  view.setFloat64(8, u.accountedAt);
  view.setBigUint64(16, BigInt(u.codesShown));
  return out;
}

export function decodeUsage(b: Uint8Array): UsageRecord {
  const view = new DataView(b.buffer, b.byteOffset, b.length);
  return { spentNc: view.getFloat64(0), accountedAt: view.getFloat64(8), codesShown: Number(view.getBigUint64(16)) };
}
