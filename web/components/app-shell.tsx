"use client";

// The frame of every page: the product name, the main navigation, the account menu. Admin links
// live in their own list, shown to admins only; add admin pages by adding entries to ADMIN_LINKS.
import { LogOut, Menu } from "lucide-react";
import Link from "next/link";
import { usePathname, useRouter } from "next/navigation";
import { type ReactNode, useState } from "react";

import { Button } from "@/components/ui/button";
import { useAccount } from "@/hooks/use-account";
import { api } from "@/lib/api";
import { cn } from "@/lib/utils";

const LINKS = [
  { href: "/", label: "Dashboard" },
  { href: "/resumes/", label: "Resumes" },
  { href: "/postings/", label: "Job postings" },
  { href: "/optimize/", label: "Optimize" },
];

// `native`: a server-rendered page outside the Next app, so a plain link (a full page load).
export const ADMIN_LINKS: readonly { href: string; label: string; native?: boolean }[] = [
  { href: "/admin/jobs/", label: "Failed jobs" },
  { href: "/admin/audit/", label: "Audit log" },
  { href: "/admin/analytics/", label: "Usage" },
  { href: "/admin/queues/", label: "Queue monitor", native: true },
];

function isCurrent(pathname: string, href: string): boolean {
  return href === "/" ? pathname === "/" : pathname.startsWith(href);
}

const NAV_LINK_CLASS =
  "rounded-md px-3 py-2 text-sm whitespace-nowrap text-muted-foreground hover:bg-muted hover:text-foreground aria-[current=page]:font-semibold aria-[current=page]:text-foreground";

function NavLink({
  link,
  pathname,
  onNavigate,
}: {
  link: { href: string; label: string; native?: boolean };
  pathname: string;
  onNavigate: () => void;
}) {
  if (link.native) {
    return (
      <a href={link.href} className={NAV_LINK_CLASS}>
        {link.label}
      </a>
    );
  }
  return (
    <Link
      href={link.href}
      onClick={onNavigate}
      aria-current={isCurrent(pathname, link.href) ? "page" : undefined}
      className={NAV_LINK_CLASS}
    >
      {link.label}
    </Link>
  );
}

export function AppShell({ children }: { children: ReactNode }) {
  const { account, setAccount } = useAccount();
  const pathname = usePathname();
  const router = useRouter();
  const [open, setOpen] = useState(false);

  const signOut = async () => {
    try {
      await api.signOut();
    } finally {
      setAccount(null);
      router.replace("/sign-in/");
    }
  };

  return (
    <div className="min-h-dvh">
      <a
        href="#main"
        className="sr-only focus:not-sr-only focus:absolute focus:left-2 focus:top-2 focus:z-50 focus:rounded focus:bg-background focus:p-2"
      >
        Skip to content
      </a>
      <header className="relative border-b border-border bg-background">
        <div className="mx-auto flex max-w-6xl items-center gap-4 px-4 py-3">
          <Link href="/" className="font-semibold tracking-tight">
            ATSPro
          </Link>
          {account && (
            <>
              <Button
                variant="ghost"
                size="icon"
                className="ml-auto sm:hidden"
                aria-expanded={open}
                aria-controls="main-nav"
                aria-label="Menu"
                onClick={() => setOpen(!open)}
              >
                <Menu />
              </Button>
              <nav
                id="main-nav"
                aria-label="Main"
                className={cn(
                  "absolute inset-x-0 top-full z-40 flex-col gap-1 border-b border-border bg-background p-2 sm:static sm:flex sm:flex-1 sm:flex-row sm:flex-wrap sm:items-center sm:border-0 sm:p-0",
                  open ? "flex" : "hidden",
                )}
              >
                {LINKS.map((link) => (
                  <NavLink
                    key={link.href}
                    link={link}
                    pathname={pathname}
                    onNavigate={() => setOpen(false)}
                  />
                ))}
                {account.isAdmin && (
                  <div
                    role="group"
                    aria-label="Admin"
                    className="flex flex-col gap-1 border-t border-border pt-1 sm:flex-row sm:border-t-0 sm:border-l sm:pt-0 sm:pl-2"
                  >
                    <span className="px-3 py-2 text-xs font-semibold uppercase text-muted-foreground sm:py-0">
                      Admin
                    </span>
                    {ADMIN_LINKS.map((link) => (
                      <NavLink
                    key={link.href}
                    link={link}
                    pathname={pathname}
                    onNavigate={() => setOpen(false)}
                  />
                    ))}
                  </div>
                )}
                <div className="flex items-center gap-2 sm:ml-auto">
                  <span className="truncate px-3 text-sm text-muted-foreground" data-testid="account-email">
                    {account.email}
                  </span>
                  <Button variant="outline" size="sm" onClick={signOut}>
                    <LogOut aria-hidden /> Sign out
                  </Button>
                </div>
              </nav>
            </>
          )}
        </div>
      </header>
      <main id="main" className="mx-auto max-w-6xl px-4 py-6">
        {children}
      </main>
    </div>
  );
}
