// A parsed (or tailored) resume, rendered as text: nothing from a file is ever treated as HTML.
import type { Resume } from "@/types/background-job";

function Section({ title, children }: { title: string; children: React.ReactNode }) {
  return (
    <section className="flex flex-col gap-2">
      <h3 className="text-sm font-semibold tracking-wide text-muted-foreground uppercase">{title}</h3>
      {children}
    </section>
  );
}

function span(start?: string | null, end?: string | null): string {
  return [start, end].filter(Boolean).join(" – ");
}

export function ResumeView({ resume, highlight = [] }: { resume: Resume; highlight?: string[] }) {
  const { contact } = resume;
  const marked = new Set(highlight.map((word) => word.toLowerCase()));
  return (
    <div className="flex flex-col gap-5" data-testid="resume-view">
      <div>
        <p className="text-xl font-semibold">{contact?.name ?? "Unnamed"}</p>
        <p className="text-sm break-words text-muted-foreground">
          {[contact?.email, contact?.phone, contact?.location].filter(Boolean).join(" · ")}
        </p>
      </div>
      {resume.summary && (
        <Section title="Summary">
          <p className="text-sm whitespace-pre-line">{resume.summary}</p>
        </Section>
      )}
      {(resume.skills?.length ?? 0) > 0 && (
        <Section title="Skills">
          <ul className="flex flex-wrap gap-1.5">
            {resume.skills?.map((skill) => (
              <li
                key={skill}
                className={
                  marked.has(skill.toLowerCase())
                    ? "rounded bg-green-100 px-2 py-0.5 text-xs text-green-900"
                    : "rounded bg-muted px-2 py-0.5 text-xs"
                }
              >
                {skill}
              </li>
            ))}
          </ul>
        </Section>
      )}
      {(resume.experience?.length ?? 0) > 0 && (
        <Section title="Experience">
          {resume.experience?.map((job, index) => (
            <div key={index} className="flex flex-col gap-1">
              <p className="text-sm font-medium">
                {[job.title, job.company].filter(Boolean).join(" · ")}
                <span className="ml-2 font-normal text-muted-foreground">
                  {span(job.startDate, job.endDate)}
                </span>
              </p>
              <ul className="list-disc pl-5 text-sm">
                {job.bullets?.map((bullet, i) => <li key={i}>{bullet}</li>)}
              </ul>
            </div>
          ))}
        </Section>
      )}
      {(resume.education?.length ?? 0) > 0 && (
        <Section title="Education">
          {resume.education?.map((school, index) => (
            <p key={index} className="text-sm">
              {[school.degree, school.field, school.institution].filter(Boolean).join(", ")}
              <span className="ml-2 text-muted-foreground">
                {span(school.startDate, school.endDate)}
              </span>
            </p>
          ))}
        </Section>
      )}
      {(resume.certifications?.length ?? 0) > 0 && (
        <Section title="Certifications">
          <ul className="list-disc pl-5 text-sm">
            {resume.certifications?.map((item) => <li key={item}>{item}</li>)}
          </ul>
        </Section>
      )}
    </div>
  );
}
