// A small reader of pprof profiles (perftools.profiles.Profile, gzip'd
// protobuf) for the tests: sample types, samples with their values and
// frames (root first, through location -> line -> function -> name), and
// the string table. Throws on anything that is not a well-formed profile
// of the fields our encoder writes (src/server/pprof_encode.c), so a test
// that decodes a file knows it is one.
import zlib from 'node:zlib';

function varint(b, p) {
  let v = 0n, shift = 0n, c;
  do {
    if (p.i >= b.length) throw new Error('pprof: truncated varint');
    c = b[p.i++];
    v |= BigInt(c & 0x7f) << shift;
    shift += 7n;
  } while (c & 0x80);
  return Number(v);
}

// [[field, number | Uint8Array]] of one message.
function fields(b) {
  const out = [];
  const p = { i: 0 };
  while (p.i < b.length) {
    const key = varint(b, p), field = key >> 3, wire = key & 7;
    if (wire === 0) out.push([field, varint(b, p)]);
    else if (wire === 2) {
      const len = varint(b, p);
      if (p.i + len > b.length) throw new Error(`pprof: field ${field} runs past its message`);
      out.push([field, b.subarray(p.i, p.i + len)]);
      p.i += len;
    } else throw new Error(`pprof: wire type ${wire}`);
  }
  return out;
}

// Repeated integers: packed (a byte string) or one varint per field.
function ints(list, field) {
  const out = [];
  for (const [f, v] of list) {
    if (f !== field) continue;
    if (typeof v === 'number') out.push(v);
    else { const p = { i: 0 }; while (p.i < v.length) out.push(varint(v, p)); }
  }
  return out;
}

const one = (list, field) => (list.find(([f]) => f === field) || [])[1];

// `buf`: the file's bytes (gzip'd, as the server sends it) or the raw
// protobuf. Returns {strings, sampleTypes: [[type, unit]], samples:
// [{values, frames}]} with frames root first.
export function decodeProfile(buf) {
  const raw = buf[0] === 0x1f && buf[1] === 0x8b ? zlib.gunzipSync(buf) : buf;
  const top = fields(raw);
  const strings = top.filter(([f]) => f === 6).map(([, v]) => Buffer.from(v).toString('utf8'));
  const str = (i) => {
    if (i === undefined) return '';
    if (i >= strings.length) throw new Error(`pprof: string ${i} of ${strings.length}`);
    return strings[i];
  };
  if (strings[0] !== '') throw new Error('pprof: string_table[0] must be ""');
  const sampleTypes = top.filter(([f]) => f === 1).map(([, v]) => {
    const vt = fields(v);
    return [str(one(vt, 1)), str(one(vt, 2))];
  });
  const functions = new Map(top.filter(([f]) => f === 5).map(([, v]) => {
    const fn = fields(v);
    return [one(fn, 1), str(one(fn, 2))];
  }));
  const locations = new Map(top.filter(([f]) => f === 4).map(([, v]) => {
    const loc = fields(v);
    const names = loc.filter(([f]) => f === 4).map(([, line]) => {
      const id = one(fields(line), 1);
      if (!functions.has(id)) throw new Error(`pprof: unknown function ${id}`);
      return functions.get(id);
    });
    return [one(loc, 1), names];
  }));
  const samples = top.filter(([f]) => f === 2).map(([, v]) => {
    const s = fields(v);
    const values = ints(s, 2);
    if (values.length !== sampleTypes.length) throw new Error(`pprof: ${values.length} values for ${sampleTypes.length} types`);
    const frames = ints(s, 1).map((id) => {
      if (!locations.has(id)) throw new Error(`pprof: unknown location ${id}`);
      return locations.get(id);
    }).flat().reverse(); // leaf first in the file
    return { values, frames };
  });
  return { strings, sampleTypes, samples };
}

// Sum of value `i` over the samples whose frames satisfy pred.
export const profileTotal = (prof, i = 0, pred = () => true) =>
  prof.samples.filter((s) => pred(s.frames)).reduce((a, s) => a + s.values[i], 0);
