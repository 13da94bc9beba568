"use client";

// The admin pages' gate. The navigation hides admin links from other users, but an address can
// still be typed or shared: such a visitor gets a friendly explanation, not an error. The API
// refuses them too (403), and a 403 from any admin call shows the same state.
import { ShieldAlert } from "lucide-react";
import Link from "next/link";
import type { ReactNode } from "react";

import { useAccount } from "@/hooks/use-account";

export function AdminsOnly() {
  return (
    <div
      className="mx-auto flex max-w-md flex-col items-center gap-3 rounded-lg border border-border bg-background p-8 text-center"
      data-testid="admins-only"
    >
      <ShieldAlert aria-hidden className="size-8 text-muted-foreground" />
      <h1 className="text-xl font-semibold">Admins only</h1>
      <p className="text-sm text-muted-foreground">
        This page is for the people who run ATSPro. If you need it, ask an administrator to give
        your account admin rights.
      </p>
      <Link className="text-sm text-primary underline-offset-4 hover:underline" href="/">
        Back to your dashboard
      </Link>
    </div>
  );
}

/** Renders its children for admins; everyone else (already signed in) sees `AdminsOnly`. */
export function RequireAdmin({ children }: { children: ReactNode }) {
  const { account } = useAccount();
  return account?.isAdmin ? <>{children}</> : <AdminsOnly />;
}
