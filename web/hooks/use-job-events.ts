"use client";

// useJobEvents(onJob): every change to the caller's jobs, for the dashboard. The stream starts
// with the jobs still active; after a reconnect that could not replay (a fresh stream), `onResync`
// lets the caller reload its list.
import { useEffect, useRef, useState } from "react";

import { api, ApiError } from "@/lib/api";
import { type ConnectionState, JobStream } from "@/lib/job-stream";
import type { BackgroundJob } from "@/types/background-job";

export function useJobEvents(
  onJob: (job: BackgroundJob, eventType: string) => void,
  onResync?: () => void,
): ConnectionState {
  const [connection, setConnection] = useState<ConnectionState>("connecting");
  const handlers = useRef({ onJob, onResync });
  handlers.current = { onJob, onResync };

  useEffect(() => {
    let dropped = false;
    const stream = new JobStream("/api/jobs/events", {
      onMessage: ({ job, eventType }) => handlers.current.onJob(job, eventType),
      onState: (state) => {
        if (state === "reconnecting") dropped = true;
        if (state === "open" && dropped) {
          dropped = false;
          handlers.current.onResync?.();
        }
        setConnection(state);
      },
      // Signed out (or the session ended): reconnecting would only be refused again.
      shouldReconnect: () =>
        api.me().then(
          () => true,
          (caught: unknown) => !(caught instanceof ApiError && caught.status === 401),
        ),
    });
    return () => stream.close();
  }, []);

  return connection;
}
