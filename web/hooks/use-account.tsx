"use client";

// Who is signed in, for every page: one GET /api/auth/me per page load. Pages that need an
// account wrap themselves in <RequireAccount>, which sends signed-out visitors to sign in.
import { usePathname, useRouter } from "next/navigation";
import { createContext, type ReactNode, useCallback, useContext, useEffect, useState } from "react";

import { api, ApiError } from "@/lib/api";
import type { Account } from "@/types/background-job";

interface AccountState {
  account: Account | null;
  loading: boolean;
  error: string | null;
  refresh: () => Promise<Account | null>;
  setAccount: (account: Account | null) => void;
}

const AccountContext = createContext<AccountState | null>(null);

export function AccountProvider({ children }: { children: ReactNode }) {
  const [account, setAccount] = useState<Account | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);

  const refresh = useCallback(async () => {
    try {
      const me = await api.me();
      setAccount(me);
      setError(null);
      return me;
    } catch (caught) {
      setAccount(null);
      if (!(caught instanceof ApiError && caught.status === 401)) {
        setError(caught instanceof Error ? caught.message : "Could not load your account");
      }
      return null;
    } finally {
      setLoading(false);
    }
  }, []);

  useEffect(() => {
    void refresh();
  }, [refresh]);

  return (
    <AccountContext.Provider value={{ account, loading, error, refresh, setAccount }}>
      {children}
    </AccountContext.Provider>
  );
}

export function useAccount(): AccountState {
  const state = useContext(AccountContext);
  if (!state) throw new Error("useAccount needs an <AccountProvider>");
  return state;
}

/** Renders its children for a signed-in user; sends everyone else to the sign-in page. */
export function RequireAccount({ children }: { children: ReactNode }) {
  const { account, loading, error } = useAccount();
  const router = useRouter();
  const pathname = usePathname();
  useEffect(() => {
    if (!loading && !account && !error) {
      const back = typeof window === "undefined" ? pathname : pathname + window.location.search;
      router.replace(`/sign-in/?next=${encodeURIComponent(back)}`);
    }
  }, [account, loading, error, pathname, router]);
  if (error) {
    return (
      <p role="alert" className="p-6 text-sm text-red-800">
        {error}
      </p>
    );
  }
  if (!account) {
    return <p className="p-6 text-sm text-muted-foreground">Loading…</p>;
  }
  return <>{children}</>;
}
