"use client";

// Sign in and sign up share one form; the API's answer (wrong password, weak password, too many
// attempts) is shown as it comes, next to the field it names.
import Link from "next/link";
import { useRouter, useSearchParams } from "next/navigation";
import { type FormEvent, useState } from "react";

import { Alert } from "@/components/ui/alert";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader } from "@/components/ui/card";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { useAccount } from "@/hooks/use-account";
import { api, ApiError } from "@/lib/api";

/** Only a path on this site: `next=https://evil.example` must not become an open redirect. */
export function safeNext(value: string | null): string {
  // Browsers read "/\\host" like "//host": another site.
  return value && value.startsWith("/") && !/^\/[\/\\]/.test(value) ? value : "/";
}

export function AuthForm({ mode }: { mode: "sign-in" | "sign-up" }) {
  const router = useRouter();
  const next = safeNext(useSearchParams().get("next"));
  const { setAccount } = useAccount();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const signingUp = mode === "sign-up";

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const account = signingUp ? await api.signUp(email, password) : await api.signIn(email, password);
      setAccount(account);
      router.replace(next);
    } catch (caught) {
      setError(caught instanceof ApiError ? caught.detail : "Something went wrong. Try again.");
      setBusy(false);
    }
  };

  return (
    <Card className="mx-auto w-full max-w-sm">
      <CardHeader>
        <h1 className="text-lg leading-tight font-semibold">
          {signingUp ? "Create your account" : "Sign in"}
        </h1>
        <CardDescription>
          {signingUp
            ? "Tailor your resume to every job posting."
            : "Welcome back. Sign in to see your jobs."}
        </CardDescription>
      </CardHeader>
      <CardContent>
        <form onSubmit={submit} className="flex flex-col gap-4">
          <div className="flex flex-col gap-1.5">
            <Label htmlFor="email">Email</Label>
            <Input
              id="email"
              type="email"
              autoComplete="email"
              required
              value={email}
              onChange={(event) => setEmail(event.target.value)}
            />
          </div>
          <div className="flex flex-col gap-1.5">
            <Label htmlFor="password">Password</Label>
            <Input
              id="password"
              type="password"
              autoComplete={signingUp ? "new-password" : "current-password"}
              required
              minLength={signingUp ? 8 : undefined}
              value={password}
              onChange={(event) => setPassword(event.target.value)}
            />
            {signingUp && (
              <p className="text-xs text-muted-foreground">At least 8 characters, not a common one.</p>
            )}
          </div>
          {error && <Alert variant="destructive">{error}</Alert>}
          <Button type="submit" disabled={busy}>
            {signingUp ? "Create account" : "Sign in"}
          </Button>
          <p className="text-center text-sm text-muted-foreground">
            {signingUp ? "Have an account? " : "New here? "}
            <Link
              className="text-primary underline-offset-4 hover:underline"
              href={`/${signingUp ? "sign-in" : "sign-up"}/${next !== "/" ? `?next=${encodeURIComponent(next)}` : ""}`}
            >
              {signingUp ? "Sign in" : "Create an account"}
            </Link>
          </p>
        </form>
      </CardContent>
    </Card>
  );
}
