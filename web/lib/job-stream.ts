// One live connection to /api/jobs/events, shared by useJobStatus and useJobEvents.
//
// EventSource reconnects by itself after a dropped connection and then sends `Last-Event-ID`, so
// the server replays what was missed. It gives up for good when a reconnect is answered with an
// error (a restart's 502/503, say): then this class opens a new one after a backoff, passing the
// last id it saw as `?lastEventId=` (EventSource cannot set headers), so nothing is lost either way.
import type { JobEventMessage } from "@/types/background-job";

export type ConnectionState = "connecting" | "open" | "reconnecting" | "closed";

export interface JobStreamHandlers {
  onMessage: (message: JobEventMessage, eventId: string) => void;
  onState?: (state: ConnectionState) => void;
  /**
   * Asked after the browser gave up (EventSource says nothing about why): resolve false when
   * reconnecting cannot help (signed out, the job is gone or already finished).
   */
  shouldReconnect?: () => Promise<boolean>;
}

export const RECONNECT_DELAYS_MS = [1000, 2000, 4000, 8000, 15000];

export class JobStream {
  private source: EventSource | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private lastEventId: string | null = null;
  private failures = 0;
  private stopped = false;

  constructor(
    private readonly path: string,
    private readonly handlers: JobStreamHandlers,
  ) {
    this.connect();
  }

  /** Ends the stream for good (a terminal event, or the component went away). */
  close(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.source?.close();
    this.source = null;
    this.handlers.onState?.("closed");
  }

  private connect(): void {
    const url = new URL(this.path, window.location.origin);
    if (this.lastEventId !== null) url.searchParams.set("lastEventId", this.lastEventId);
    const source = new EventSource(url.pathname + url.search);
    this.source = source;
    this.handlers.onState?.(this.failures ? "reconnecting" : "connecting");
    source.onopen = () => {
      this.failures = 0;
      this.handlers.onState?.("open");
    };
    source.addEventListener("job", (event) => {
      const message = event as MessageEvent<string>;
      if (message.lastEventId) this.lastEventId = message.lastEventId;
      this.handlers.onMessage(JSON.parse(message.data) as JobEventMessage, message.lastEventId);
    });
    source.onerror = () => {
      if (this.stopped || this.source !== source) return;
      if (source.readyState !== EventSource.CLOSED) {
        this.handlers.onState?.("reconnecting"); // the browser retries, with Last-Event-ID
        return;
      }
      source.close();
      const delay = RECONNECT_DELAYS_MS[Math.min(this.failures, RECONNECT_DELAYS_MS.length - 1)];
      this.failures += 1;
      this.handlers.onState?.("reconnecting");
      this.timer = setTimeout(() => void this.reconnect(), delay);
    };
  }

  private async reconnect(): Promise<void> {
    this.timer = null;
    if (this.stopped) return;
    const worthIt = this.handlers.shouldReconnect
      ? await this.handlers.shouldReconnect().catch(() => true) // offline: keep trying
      : true;
    if (this.stopped) return;
    if (worthIt) this.connect();
    else this.close();
  }
}
