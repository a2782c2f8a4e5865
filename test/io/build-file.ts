/** Hand-built safetensors files for tests: any header text, any data, any declared length. */

/** 8-byte length + `header` (UTF-8) + `data`; `headerLength` overrides the declared N. */
export function buildFile(header: string | Uint8Array, data: Uint8Array | number = 0, headerLength?: bigint | number): Uint8Array {
  const json = typeof header === 'string' ? new TextEncoder().encode(header) : header;
  const body = typeof data === 'number' ? new Uint8Array(data) : data;
  const file = new Uint8Array(8 + json.length + body.length);
  new DataView(file.buffer).setBigUint64(0, BigInt(headerLength ?? json.length), true);
  file.set(json, 8);
  file.set(body, 8 + json.length);
  return file;
}

/** A file with one entry per tensor: [name, dtype, shape, [start, end]], and `dataBytes` zero bytes. */
export function buildTensors(entries: [string, string, number[], [number, number]][], dataBytes: number): Uint8Array {
  const header = Object.fromEntries(
    entries.map(([name, dtype, shape, offsets]) => [name, { dtype, shape, data_offsets: offsets }]),
  );
  return buildFile(JSON.stringify(header), dataBytes);
}
