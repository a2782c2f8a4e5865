/** The JSON API of the viewer server (src/viewer/README.md), typed by src/viewer/protocol.ts. */
import type {
  AnalyzeRequest,
  AnalyzeResponse,
  AttentionJson,
  AttentionRequest,
  AttentionResponse,
  ImageRequest,
  ImageResponse,
  InfoResponse,
  PerturbationRequest,
  PerturbationResponse,
} from '../protocol.ts';

/** A request the server answered with an error (its message is meant for the user). */
export class ApiFailure extends Error {
  override name = 'ApiFailure';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function call<T>(path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const init: RequestInit = body === undefined ? { method: 'GET' } : { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) };
  if (signal !== undefined) init.signal = signal;
  let response: Response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw error;
    throw new ApiFailure(0, 'cannot reach the viewer server (is `iattn serve` still running?)');
  }
  let json: unknown;
  try {
    json = await response.json();
  } catch {
    throw new ApiFailure(response.status, `the server answered ${response.status} without JSON`);
  }
  if (!response.ok) {
    const message = typeof json === 'object' && json !== null && 'error' in json ? String((json as { error: unknown }).error) : `HTTP ${response.status}`;
    throw new ApiFailure(response.status, message);
  }
  return json as T;
}

export const api = {
  info: () => call<InfoResponse>('api/info'),
  analyze: (request: AnalyzeRequest, signal?: AbortSignal) => call<AnalyzeResponse>('api/analyze', request, signal),
  attention: (request: AttentionRequest, signal?: AbortSignal) => call<AttentionResponse>('api/attention', request, signal),
  perturbation: (request: PerturbationRequest, signal?: AbortSignal) => call<PerturbationResponse>('api/perturbation', request, signal),
  image: (request: ImageRequest, signal?: AbortSignal) => call<ImageResponse>('api/image', request, signal),
};

/** The float32 values of an attention response. */
export function attentionValues(a: AttentionJson): Float32Array {
  const binary = atob(a.data);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return new Float32Array(bytes.buffer);
}

export function isAbort(error: unknown): boolean {
  return error instanceof Error && error.name === 'AbortError';
}
