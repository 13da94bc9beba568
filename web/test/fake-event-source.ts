// jsdom has no EventSource. This one behaves like the browser's for what the hooks rely on:
// readyState, named events with lastEventId, onopen/onerror, close().
import type { BackgroundJob } from "@/types/background-job";

export class FakeEventSource {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSED = 2;
  static instances: FakeEventSource[] = [];

  readonly url: string;
  readyState = FakeEventSource.CONNECTING;
  closed = false;
  onopen: ((event: Event) => void) | null = null;
  onerror: ((event: Event) => void) | null = null;
  private listeners = new Map<string, ((event: MessageEvent<string>) => void)[]>();

  constructor(url: string) {
    this.url = url;
    FakeEventSource.instances.push(this);
  }

  static install(): void {
    FakeEventSource.instances = [];
    (globalThis as { EventSource?: unknown }).EventSource = FakeEventSource;
  }

  static latest(): FakeEventSource {
    const source = FakeEventSource.instances.at(-1);
    if (!source) throw new Error("no EventSource was opened");
    return source;
  }

  addEventListener(type: string, listener: (event: MessageEvent<string>) => void): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }

  close(): void {
    this.closed = true;
    this.readyState = FakeEventSource.CLOSED;
  }

  open(): void {
    this.readyState = FakeEventSource.OPEN;
    this.onopen?.(new Event("open"));
  }

  /** The server sends `id: <id>`, `event: job`, `data: {"eventType", "job"}`. */
  send(id: number, eventType: string, job: BackgroundJob): void {
    const event = new MessageEvent("job", {
      data: JSON.stringify({ eventType, job }),
      lastEventId: String(id),
    });
    for (const listener of this.listeners.get("job") ?? []) listener(event);
  }

  /** The connection dropped; `giveUp`: the browser will not retry (e.g. a 503 on reconnect). */
  drop(giveUp: boolean): void {
    this.readyState = giveUp ? FakeEventSource.CLOSED : FakeEventSource.CONNECTING;
    this.onerror?.(new Event("error"));
  }
}

export function makeJob(overrides: Partial<BackgroundJob> = {}): BackgroundJob {
  return {
    id: "7d8f2c1e-0000-4000-8000-000000000001",
    userId: "7d8f2c1e-0000-4000-8000-0000000000aa",
    jobType: "resume.parse",
    status: "pending",
    priority: 3,
    progress: 0,
    progressMessage: null,
    inputData: {},
    resultData: null,
    errorMessage: null,
    errorKind: null,
    createdAt: "2026-11-29T10:00:00Z",
    updatedAt: "2026-11-29T10:00:00Z",
    startedAt: null,
    completedAt: null,
    retryCount: 0,
    maxRetries: 3,
    attempt: 0,
    links: {},
    ...overrides,
  };
}

/** A fetch that answers from a table of `METHOD path` → [status, body], recording the calls. */
export function fakeFetch(routes: Record<string, [number, unknown]>) {
  const calls: string[] = [];
  const fetch = async (input: string, init: RequestInit = {}) => {
    const key = `${init.method ?? "GET"} ${input}`;
    calls.push(key);
    const [status, body] = routes[key] ?? [404, { title: "Not Found", detail: "Not Found" }];
    return new Response(status === 204 ? null : JSON.stringify(body), {
      status,
      headers: { "content-type": "application/json" },
    });
  };
  return { fetch, calls };
}
