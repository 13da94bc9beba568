"use client";

import { useCallback, useEffect, useState } from "react";

import { ApiError } from "@/lib/api";

/**
 * Loads something from the operations API whenever `key` changes. A 403 (the account lost its
 * admin rights since the page loaded) is reported as `forbidden`, so the page can say "admins
 * only" instead of showing an error.
 */
export function useAdminData<T>(key: string, load: () => Promise<T>) {
  const [value, setValue] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [forbidden, setForbidden] = useState(false);
  const [loading, setLoading] = useState(true);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    let current = true;
    setLoading(true);
    setError(null);
    load()
      .then((loaded) => {
        if (current) setValue(loaded);
      })
      .catch((caught: unknown) => {
        if (!current) return;
        if (caught instanceof ApiError && caught.status === 403) setForbidden(true);
        else setError(caught instanceof Error ? caught.message : "The request failed.");
      })
      .finally(() => {
        if (current) setLoading(false);
      });
    return () => {
      current = false;
    };
    // `load` is rebuilt every render; `key` names what it loads.
  }, [key, attempt]);

  const reload = useCallback(() => setAttempt((n) => n + 1), []);
  return { value, setValue, error, forbidden, loading, reload };
}
