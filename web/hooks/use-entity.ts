"use client";

import { useCallback, useEffect, useState } from "react";

import { ApiError } from "@/lib/api";

/** Loads one thing by id; `error` is the API's message (a 404 for someone else's id, too). */
export function useEntity<T>(id: string | null, load: (id: string) => Promise<T>) {
  const [value, setValue] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    if (!id) return;
    let current = true;
    setError(null);
    load(id)
      .then((loaded) => current && setValue(loaded))
      .catch((caught: unknown) => {
        if (!current) return;
        const notFound = caught instanceof ApiError && (caught.status === 404 || caught.status === 422);
        setError(notFound ? "Not found: it may have been deleted." : (caught as Error).message);
      });
    return () => {
      current = false;
    };
    // `load` is one of the stable api.* functions
  }, [id, attempt]);

  const retry = useCallback(() => setAttempt((n) => n + 1), []);
  return { value, error, retry };
}
