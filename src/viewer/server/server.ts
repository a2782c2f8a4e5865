/**
 * The viewer's HTTP server (node:http, no framework): the JSON API of src/viewer/README.md
 * and the built client's static files. It only routes, checks and forwards: every
 * computation runs in the worker pool, so a slow or failing request never blocks or kills
 * the server.
 *
 * Defences: binds 127.0.0.1 unless told otherwise; on a loopback address only Host headers
 * naming this machine are served (DNS rebinding), and cross-origin POSTs are refused (the
 * JSON content type is required, so a foreign page cannot post without a CORS preflight,
 * which is never granted); bodies over the limit get 413; every error is one JSON object
 * {error}; models are named by id from the start-up list; static files come only from the
 * client folder; a Content-Security-Policy allows no inline script.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { METHODS } from '../../explain/registry.js';
import type { InfoResponse, ModelsResponse } from '../protocol.js';
import { VIEWER_AGGREGATIONS, VIEWER_REDUCTIONS, VIEWER_VARIANTS } from '../protocol.js';
import { ModelCatalogue } from './catalogue.js';
import { VISION_METHOD_NAMES, VISION_RECIPES } from '../../vision/explain.js';
import { SHAPE_CLASSES, TEST_SEED, TRAIN_SEED } from '../../vision/data.js';
import { imageBodyBytes, methodCost, VISION_METHOD_COSTS } from './config.js';
import type { ViewerConfig } from './config.js';
import { WorkerPool } from './pool.js';
import type { JobResult } from './pool.js';
import { parseImage } from './image-request.js';
import { resolveStatic } from './static.js';
import { ApiError, parseAnalyze, parseAttention, parsePerturbation } from './validate.js';

export const VIEWER_VERSION = '0.1.0';

export interface ViewerServer {
  /** http://host:port/ */
  url: string;
  port: number;
  catalogue: ModelCatalogue;
  close(): Promise<void>;
}

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

/** Bodies up to this many times the limit are read and dropped so the 413 reaches the client; larger ones cut the connection. */
const DRAIN_FACTOR = 16;

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/** Starts the server; resolves once it listens (rejects with a one-line reason, e.g. the port is taken). */
export async function startViewer(config: ViewerConfig): Promise<ViewerServer> {
  const catalogue = new ModelCatalogue(config.modelDirs, config.defaultModelDir);
  if (catalogue.ids().length === 0) throw new Error('no model to show: give at least one checkpoint folder');
  const methods = METHODS.map((m) => m.name);
  const info: InfoResponse = {
    version: VIEWER_VERSION,
    models: catalogue.summaries(),
    methods: METHODS.map((m) => ({ name: m.name, description: m.description, recipe: m.recipe, cost: methodCost(m.name) })),
    visionMethods: VISION_METHOD_NAMES.map((name) => ({
      name,
      description: METHODS.find((m) => m.name === name)?.description ?? name,
      recipe: VISION_RECIPES[name],
      cost: VISION_METHOD_COSTS[name] ?? 'matrix',
    })),
    samples: { classes: [...SHAPE_CLASSES], testSeed: TEST_SEED, trainSeed: TRAIN_SEED },
    variants: VIEWER_VARIANTS,
    reductions: VIEWER_REDUCTIONS,
    aggregations: VIEWER_AGGREGATIONS,
    limits: config.limits,
  };
  const pool = new WorkerPool(config.workers, config.limits, config.maxQueue);
  const loopbackOnly = LOOPBACK.has(config.host);

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://viewer.invalid');
    if (loopbackOnly && !hostAllowed(req.headers.host)) {
      return sendJson(res, 403, { error: `refused: the Host header '${String(req.headers.host).slice(0, 100)}' does not name this machine` });
    }
    if (url.pathname.startsWith('/api/')) {
      const route = `${req.method} ${url.pathname}`;
      switch (route) {
        case 'GET /api/info':
          return sendJson(res, 200, info);
        case 'GET /api/models':
          return sendJson(res, 200, { models: info.models } satisfies ModelsResponse);
        case 'POST /api/analyze':
        case 'POST /api/attention':
        case 'POST /api/perturbation': {
          const body = await readJson(req, res, config.limits.maxBodyBytes);
          if (body === undefined) return;
          const gone = new AbortController();
          res.on('close', () => {
            if (!res.writableEnded) gone.abort();
          });
          let result: JobResult;
          if (route === 'POST /api/analyze') result = await pool.run('analyze', parseAnalyze(body, catalogue, config.limits, methods), gone.signal);
          else if (route === 'POST /api/attention') result = await pool.run('attention', parseAttention(body, catalogue, config.limits), gone.signal);
          else result = await pool.run('perturbation', parsePerturbation(body, catalogue, config.limits, methods), gone.signal);
          return sendBytes(res, result.status, result.body);
        }
        case 'POST /api/image': {
          const body = await readJson(req, res, imageBodyBytes(config.limits));
          if (body === undefined) return;
          const gone = new AbortController();
          res.on('close', () => {
            if (!res.writableEnded) gone.abort();
          });
          const result = await pool.run('image', parseImage(body, catalogue, config.limits, VISION_METHOD_NAMES), gone.signal);
          return sendBytes(res, result.status, result.body);
        }
        default: {
          const known = ['/api/info', '/api/models', '/api/analyze', '/api/attention', '/api/perturbation', '/api/image'];
          if (known.includes(url.pathname)) return sendJson(res, 405, { error: `${req.method} is not allowed on ${url.pathname}` });
          return sendJson(res, 404, { error: `no API endpoint ${url.pathname.slice(0, 100)}; endpoints: GET /api/info, GET /api/models, POST /api/analyze, POST /api/attention, POST /api/perturbation, POST /api/image` });
        }
      }
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendJson(res, 405, { error: `${req.method} is not allowed on static files` });
    return sendStatic(req, res, config.staticDir, url.pathname);
  };

  const server = http.createServer((req, res) => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
    handle(req, res).catch((error: unknown) => {
      if (error instanceof ApiError) return sendJson(res, error.status, { error: error.message });
      process.stderr.write(`iattn serve: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      sendJson(res, 500, { error: `internal error: ${error instanceof Error ? error.message : String(error)}` });
    });
  });
  server.on('clientError', (_error, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    else socket.destroy();
  });

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    await pool.close();
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new Error(`port ${config.port} on ${config.host} is already in use; pass --port N (0 picks a free port)`);
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') throw new Error(`cannot listen on ${config.host}: no such local address`);
    if (code === 'EACCES') throw new Error(`not allowed to listen on port ${config.port}; pick a port above 1023`);
    throw error;
  }
  const port = (server.address() as AddressInfo).port;
  const shownHost = config.host.includes(':') ? `[${config.host}]` : config.host;
  return {
    url: `http://${shownHost}:${port}/`,
    port,
    catalogue,
    async close() {
      await pool.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/** Host: localhost / 127.0.0.1 / [::1], with any port. */
function hostAllowed(host: string | undefined): boolean {
  if (host === undefined) return false;
  const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0];
  return LOOPBACK.has(name.toLowerCase());
}

/** The parsed JSON body, or undefined after an error response was sent. */
async function readJson(req: http.IncomingMessage, res: http.ServerResponse, limit: number): Promise<unknown> {
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== `http://${req.headers.host}`) {
    req.resume();
    sendJson(res, 403, { error: `refused: cross-origin request from ${origin.slice(0, 100)}` });
    return undefined;
  }
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/json') {
    req.resume();
    sendJson(res, 415, { error: `send the request as JSON (Content-Type: application/json), got '${type.slice(0, 100) || 'none'}'` });
    return undefined;
  }
  const tooLarge = (size: string) => `the request body is ${size}; the limit is ${limit} bytes`;
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit * DRAIN_FACTOR) {
    res.setHeader('Connection', 'close');
    sendJson(res, 413, { error: tooLarge(`${declared} bytes`) });
    res.on('finish', () => req.destroy());
    return undefined;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  let over = false;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      over = true;
      if (size > limit * DRAIN_FACTOR) break;
      continue;
    }
    chunks.push(chunk);
  }
  if (over) {
    res.setHeader('Connection', 'close');
    sendJson(res, 413, { error: tooLarge(`over ${limit} bytes`) });
    return undefined;
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text);
  } catch (error) {
    sendJson(res, 400, { error: `the request body is not valid JSON: ${(error as Error).message}` });
    return undefined;
  }
}

function sendJson(res: http.ServerResponse, status: number, value: unknown): void {
  sendBytes(res, status, Buffer.from(JSON.stringify(value)));
}

function sendBytes(res: http.ServerResponse, status: number, body: Uint8Array): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': body.byteLength, 'Cache-Control': 'no-store' });
  res.end(body);
}

function sendStatic(req: http.IncomingMessage, res: http.ServerResponse, root: string, pathname: string): void {
  if (!fs.existsSync(root)) {
    res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end('The viewer client is not built. Run: npm run build:viewer\n');
    return;
  }
  const found = resolveStatic(root, pathname);
  if (found === null) {
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end('Not found\n');
    return;
  }
  const stat = fs.statSync(found.file);
  res.writeHead(200, {
    'Content-Type': found.contentType,
    'Content-Length': stat.size,
    'Cache-Control': found.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
  });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  const stream = fs.createReadStream(found.file);
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}
