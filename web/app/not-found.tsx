import Link from "next/link";

export default function NotFound() {
  return (
    <div className="mx-auto max-w-md py-12 text-center">
      <h1 className="text-2xl font-semibold">Page not found</h1>
      <p className="mt-2 text-sm text-muted-foreground">There is nothing at this address.</p>
      <Link href="/" className="mt-4 inline-block text-primary underline-offset-4 hover:underline">
        Back to your jobs
      </Link>
    </div>
  );
}
