/**
 * The viewer server over HTTP, with its real worker threads: the API, the limits and error
 * answers (the server must survive every one), the defences (Host, Origin, content type,
 * static paths), concurrent requests against sequential ones, and the time limit.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/viewer/server/config.js';
import { startViewer } from '../../src/viewer/server/server.js';
import type { ViewerServer } from '../../src/viewer/server/server.js';
import type { InfoResponse, ViewerLimits } from '../../src/viewer/protocol.js';
import { decode, GRIFFIN, limits, MAMBA2, PROMPT, RWKV } from './helpers.js';

const staticDir = fs.mkdtempSync(path.join(os.tmpdir(), 'iattn-viewer-static-'));
fs.writeFileSync(path.join(staticDir, 'index.html'), '<!doctype html><title>viewer</title>');

function start(overrides: Partial<ViewerLimits> = {}, workers = 2): Promise<ViewerServer> {
  return startViewer(resolveConfig({ port: 0, modelDirs: [MAMBA2, RWKV, GRIFFIN], staticDir, workers, limits: limits(overrides) }));
}

interface Reply {
  status: number;
  json: any;
  headers: Headers;
}

async function post(server: ViewerServer, endpoint: string, body: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const r = await fetch(`${server.url}api/${endpoint}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: r.status, json: await r.json(), headers: r.headers };
}

/** A raw request (the path and Host exactly as given; fetch would normalise them). */
function raw(server: ViewerServer, method: string, rawPath: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: server.port, method, path: rawPath, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The response without its timings. */
function timeless(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(timeless);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).filter(([k]) => k !== 'elapsedMs').map(([k, v]) => [k, timeless(v)]));
  return value;
}

describe('viewer server', () => {
  let server: ViewerServer;
  beforeAll(async () => {
    server = await start({ maxTokens: 64 });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('binds 127.0.0.1 and lists the models by id, never by path', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const info = (await (await fetch(`${server.url}api/info`)).json()) as InfoResponse;
    expect(info.models.map((m: { id: string }) => m.id)).toEqual(['mamba2', 'rwkv', 'recurrent_gemma']);
    expect(info.methods.map((m: { name: string }) => m.name)).toContain('unified-attr');
    expect(info.limits.maxTokens).toBe(64);
    const models = await (await fetch(`${server.url}api/models`)).text();
    expect(models).not.toContain(path.sep + 'fixtures');
    expect(JSON.stringify(info)).not.toContain('fixtures');
  });

  it('analyzes, returns attention matrices and perturbation curves', async () => {
    const a = await post(server, 'analyze', { model: 'mamba2', text: PROMPT, methods: ['unified-attr', 'raw'], attention: { layers: [0, 5] } });
    expect(a.status).toBe(200);
    expect(a.json.tokens).toHaveLength(14);
    expect(a.json.explanations.map((e: { method: string }) => e.method)).toEqual(['unified-attr', 'raw']);
    expect(a.json.attention.map((x: { layer: number }) => x.layer)).toEqual([0, 5]);
    expect(decode(a.json.attention[0].data)).toHaveLength(14 * 14);
    const one = await post(server, 'attention', { model: 'mamba2', text: PROMPT, layer: 5 });
    expect(one.json.data).toBe(a.json.attention[1].data);
    const p = await post(server, 'perturbation', { model: 'rwkv', text: PROMPT, method: 'grad-input' });
    expect(p.status).toBe(200);
    expect(p.json.morf).toHaveLength(10);
    expect(p.json.morf[0]).toBe(1);
  });

  it('answers every bad request with one JSON error and keeps serving', async () => {
    const huge = JSON.stringify({ model: 'mamba2', text: 'x'.repeat(2 * 1024 * 1024) });
    const cases: Array<[string, () => Promise<{ status: number; json?: any; body?: string }>, number, RegExp]> = [
      ['bad JSON', () => post(server, 'analyze', '{"model": "mamba2", "text": '), 400, /not valid JSON/],
      ['a body over the limit', () => post(server, 'analyze', huge), 413, /the request body is .*the limit is 1048576 bytes/],
      ['no JSON content type', () => post(server, 'analyze', { model: 'mamba2', text: 'x' }, { 'Content-Type': 'text/plain' }), 415, /Content-Type: application\/json/],
      ['an unknown model', () => post(server, 'analyze', { model: 'nope', text: 'x' }), 404, /unknown model 'nope'/],
      ['a path as model', () => post(server, 'analyze', { model: MAMBA2, text: 'x' }), 404, /unknown model/],
      ['too long a text', () => post(server, 'analyze', { model: 'mamba2', text: 'Emma said no. '.repeat(40) }), 400, /the input has \d+ tokens; this server accepts at most 64/],
      ['too many ids', () => post(server, 'attention', { model: 'rwkv', ids: Array(65).fill(3), layer: 0 }), 400, /65 tokens; this server accepts at most 64/],
      ['a layer out of range', () => post(server, 'attention', { model: 'rwkv', text: 'Emma', layer: 17 }), 400, /layer 17 has no sequence mixer/],
      ['a cross-origin post', () => post(server, 'analyze', { model: 'mamba2', text: 'x' }, { Origin: 'http://evil.example' }), 403, /cross-origin/],
      ['an unknown endpoint', () => post(server, 'shell', {}), 404, /no API endpoint \/api\/shell/],
      ['GET on a POST endpoint', async () => { const r = await fetch(`${server.url}api/analyze`); return { status: r.status, json: (await r.json()) as any }; }, 405, /GET is not allowed/],
      ['a foreign Host header (DNS rebinding)', async () => { const r = await raw(server, 'GET', '/api/info', { Host: 'evil.example:80' }); return { status: r.status, json: JSON.parse(r.body) }; }, 403, /does not name this machine/],
    ];
    for (const [name, run, status, message] of cases) {
      const r = await run();
      expect(r.status, name).toBe(status);
      expect(r.json.error, name).toMatch(message);
    }
    // A method that cannot run is reported in its entry; the others still answer.
    const partial = await post(server, 'analyze', { model: 'mamba2', text: PROMPT, methods: ['raw', 'grad-input'], options: { startLayer: 40 } });
    expect(partial.status).toBe(200);
    expect(partial.json.explanations[0].error).toMatch(/start layer 40 is outside the model's layers/);
    expect(partial.json.explanations[1].scores).toHaveLength(14);
    expect((await fetch(`${server.url}api/info`)).status).toBe(200);
  });

  it('serves the client folder with a strict Content-Security-Policy, and nothing outside it', async () => {
    const index = await raw(server, 'GET', '/');
    expect(index.status).toBe(200);
    expect(index.body).toContain('<title>viewer</title>');
    expect(index.headers['content-security-policy']).toMatch(/script-src 'self'/);
    expect(index.headers['x-content-type-options']).toBe('nosniff');
    for (const p of ['/../package.json', '/%2e%2e/package.json', '/..%2f..%2fpackage.json', '/%2e%2e%5cpackage.json', '//etc/passwd', '/assets/../../package.json']) {
      const r = await raw(server, 'GET', p);
      expect(r.status, p).toBe(404);
      expect(r.body, p).not.toContain('"name"');
    }
  });

  it('gives each of several parallel requests exactly its sequential answer', async () => {
    const requests: Array<[string, object]> = [
      ['analyze', { model: 'mamba2', text: PROMPT, methods: ['raw', 'unified-attr', 'grad-input'] }],
      ['analyze', { model: 'rwkv', text: 'Mr. Knightley was a sensible man', methods: ['raw', 'unified-attr', 'grad-input'] }],
      ['attention', { model: 'mamba2', text: 'Harriet Smith was the natural daughter', layer: 3, reduce: 'head', channel: 2 }],
      ['attention', { model: 'rwkv', text: PROMPT, layer: 1, variant: 'exact', reduce: 'mean' }],
      ['analyze', { model: 'recurrent_gemma', ids: [4, 8, 15, 16, 23, 42], methods: ['raw', 'grad-input'], attention: { layers: 'all' } }],
      ['analyze', { model: 'mamba2', text: 'Emma', methods: ['raw', 'recency'] }],
    ];
    const sequential: unknown[] = [];
    for (const [endpoint, body] of requests) sequential.push(timeless((await post(server, endpoint, body)).json));
    const parallel = await Promise.all([...requests, ...requests].map(([endpoint, body]) => post(server, endpoint, body)));
    parallel.forEach((r, i) => {
      expect(r.status).toBe(200);
      expect(timeless(r.json)).toEqual(sequential[i % requests.length]);
    });
  });
});

describe('viewer server time limit', () => {
  it('stops a computation that runs too long and goes on with a fresh worker', async () => {
    const server = await start({ timeoutSeconds: 2 }, 1);
    try {
      // 64 integration steps on 60 tokens take far longer than 2 s.
      const slow = await post(server, 'analyze', { model: 'rwkv', text: 'Emma Woodhouse, handsome, clever, and rich, '.repeat(5), methods: ['integrated-gradients'], options: { steps: 64 } });
      expect(slow.status).toBe(503);
      expect(slow.json.error).toMatch(/took longer than 2 s and was stopped/);
      const next = await post(server, 'analyze', { model: 'recurrent_gemma', ids: [1, 2, 3], methods: ['recency'] });
      expect(next.status).toBe(200);
    } finally {
      await server.close();
    }
  });
});
