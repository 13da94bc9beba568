// A job posting as extracted, rendered as text.
import type { JobPosting } from "@/types/background-job";

function List({ title, items }: { title: string; items: string[] | undefined }) {
  if (!items?.length) return null;
  return (
    <section className="flex flex-col gap-1">
      <h3 className="text-sm font-semibold tracking-wide text-muted-foreground uppercase">{title}</h3>
      <ul className="list-disc pl-5 text-sm">
        {items.map((item, i) => (
          <li key={i}>{item}</li>
        ))}
      </ul>
    </section>
  );
}

function amount(value: number, currency: string | null | undefined): string {
  try {
    return currency
      ? value.toLocaleString("en", { style: "currency", currency, maximumFractionDigits: 0 })
      : value.toLocaleString("en");
  } catch {
    return `${value.toLocaleString("en")} ${currency}`; // not an ISO currency code
  }
}

function pay(salary: JobPosting["salary"]): string | null {
  if (!salary || (salary.min == null && salary.max == null)) return null;
  const range = [salary.min, salary.max]
    .filter((value): value is number => value != null)
    .map((value) => amount(value, salary.currency))
    .join(" – ");
  return [range, salary.period && `per ${salary.period}`].filter(Boolean).join(" ");
}

export function PostingView({ posting }: { posting: JobPosting }) {
  const facts = [
    posting.company,
    posting.location,
    posting.remote ? "Remote" : null,
    posting.employmentType,
    pay(posting.salary),
  ].filter(Boolean);
  return (
    <div className="flex flex-col gap-4" data-testid="posting-view">
      <div>
        <p className="text-xl font-semibold" data-testid="posting-title">
          {posting.title ?? "Untitled posting"}
        </p>
        <p className="text-sm text-muted-foreground">{facts.join(" · ")}</p>
        {posting.url && (
          <a
            href={posting.url}
            rel="noopener noreferrer nofollow"
            target="_blank"
            className="text-sm break-all text-primary underline-offset-4 hover:underline"
          >
            {posting.url}
          </a>
        )}
      </div>
      {posting.description && <p className="text-sm whitespace-pre-line">{posting.description}</p>}
      <List title="Responsibilities" items={posting.responsibilities} />
      <List title="Requirements" items={posting.requirements} />
      {(posting.skills?.length ?? 0) > 0 && (
        <section className="flex flex-col gap-1">
          <h3 className="text-sm font-semibold tracking-wide text-muted-foreground uppercase">
            Skills
          </h3>
          <ul className="flex flex-wrap gap-1.5">
            {posting.skills?.map((skill) => (
              <li key={skill} className="rounded bg-muted px-2 py-0.5 text-xs">
                {skill}
              </li>
            ))}
          </ul>
        </section>
      )}
    </div>
  );
}
